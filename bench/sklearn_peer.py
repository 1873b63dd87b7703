#!/usr/bin/python3
"""scikit-learn's GaussianMixture(covariance_type='diag') as a peer of streamix_bench: the
time of one EM iteration per sample, on the benchmark's K = 16, D = 16 setup (4,096 samples
around 16 unit-variance components), from the same starting parameters.

fit(max_iter=1) with given weights, means and precisions runs one E-step and one M-step,
plus the final E-step fit() always does; it computes in float64 (scikit-learn's choice).
Run it on one core (the compare script sets OMP_NUM_THREADS=1 and OPENBLAS_NUM_THREADS=1).
"""
import time
import warnings

import numpy as np
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

K, D, N, REPEATS = 16, 16, 4096, 7
rng = np.random.default_rng(42)
means = 3.0 * rng.standard_normal((K, D))
x = means[np.arange(N) % K] + rng.standard_normal((N, D))

times = []
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    for _ in range(REPEATS):
        gmm = GaussianMixture(K, covariance_type="diag", max_iter=1, n_init=1, tol=0.0,
                              weights_init=np.full(K, 1.0 / K), means_init=means,
                              precisions_init=np.ones((K, D)))
        start = time.perf_counter()
        gmm.fit(x)
        times.append(time.perf_counter() - start)
median = sorted(times)[REPEATS // 2]
print(f"em_iteration/sklearn/K:{K}/D:{D}  {median / N * 1e9:.1f} ns per sample "
      f"(median of {REPEATS} fits, max_iter=1, {N} samples, float64, scikit-learn {sklearn.__version__})")
