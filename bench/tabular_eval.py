#!/usr/bin/python3
"""Tabular anomaly detection on scikit-learn's bundled data sets (Debian's python3-sklearn).

Rows are independent records, shuffled with a fixed seed; one class is the anomaly, cut to
5 % of the rows. Each set is scored by `streamix detect` with the defaults (rows taken as a
time series), with --rows independent, and, as a batch reference, by scikit-learn's
GaussianMixture (2 diagonal components, fitted on all rows). ROC-AUC over the rows
streamix scores (after its warm-up), for all three.

usage: bench/tabular_eval.py STREAMIX_BINARY [--check]
  --check: exit 1 unless --rows independent is within 0.02 of the best setting on average
"""
import csv
import os
import subprocess
import sys
import tempfile

import numpy as np
from sklearn import datasets
from sklearn.metrics import roc_auc_score
from sklearn.mixture import GaussianMixture

ANOMALY_SHARE = 0.05
SEED = 1


def variants():
    """(name, X, y) with y = 1 for the anomaly class."""
    bc = datasets.load_breast_cancer()
    yield "breast_cancer (malignant)", bc.data, (bc.target == 0).astype(int)
    digits = datasets.load_digits()
    for c in range(10):
        yield f"digits ({c})", digits.data, (digits.target == c).astype(int)


def subsample(X, y, rng):
    normal = np.flatnonzero(y == 0)
    anomalous = np.flatnonzero(y == 1)
    keep = int(round(ANOMALY_SHARE / (1 - ANOMALY_SHARE) * len(normal)))
    chosen = np.concatenate([normal, rng.choice(anomalous, min(keep, len(anomalous)), replace=False)])
    rng.shuffle(chosen)
    return X[chosen], y[chosen]


def streamix_scores(binary, X, y, options, workdir):
    path = os.path.join(workdir, "data.csv")
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([f"f{j}" for j in range(X.shape[1])] + ["label"])
        for row, label in zip(X, y):
            w.writerow([f"{v:.9g}" for v in row] + [label])
    out = subprocess.run([binary, "detect", "--quiet", "--label", "label", *options, path],
                         check=True, capture_output=True, text=True).stdout
    rows = list(csv.DictReader(out.splitlines()))
    return np.array([float(r["score"]) if r["score"] else np.nan for r in rows])


def main():
    binary = sys.argv[1]
    check = "--check" in sys.argv[2:]
    rng = np.random.default_rng(SEED)
    settings = {"default": [], "--rows independent": ["--rows", "independent"]}
    totals = {name: [] for name in list(settings) + ["sklearn GMM (batch)"]}
    print(f"| data set | rows | {' | '.join(totals)} |")
    print("| --- | --- |" + " --- |" * len(totals))
    with tempfile.TemporaryDirectory() as workdir:
        for name, X, y in variants():
            X, y = subsample(X, y, rng)
            aucs = {}
            scored = None
            for setting, options in settings.items():
                s = streamix_scores(binary, X, y, options, workdir)
                scored = ~np.isnan(s)
                aucs[setting] = roc_auc_score(y[scored], s[scored])
            gmm = GaussianMixture(2, covariance_type="diag", random_state=SEED, reg_covar=1e-3).fit(X)
            aucs["sklearn GMM (batch)"] = roc_auc_score(y[scored], -gmm.score_samples(X)[scored])
            for k, v in aucs.items():
                totals[k].append(v)
            print(f"| {name} | {len(y)} | " + " | ".join(f"{aucs[k]:.3f}" for k in totals) + " |")
    means = {k: float(np.mean(v)) for k, v in totals.items()}
    print("| mean | | " + " | ".join(f"{means[k]:.3f}" for k in totals) + " |")
    if check:
        best = max(means["default"], means["--rows independent"])
        ok = means["--rows independent"] >= best - 0.02
        print("check:", "ok" if ok else "FAILED", f"(--rows independent {means['--rows independent']:.3f}, best {best:.3f})")
        sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
