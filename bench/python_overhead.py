"""What the Python layer costs per row, against the C API in a C loop (Google Benchmark's
observe/<backend>/K:2/D:4, the same operation, same backend). One run; times differ ~20 %
between machines, so read the ratios.
    PYTHONPATH=build/host/python /usr/bin/python3 bench/python_overhead.py build/host
"""
import json
import os
import subprocess
import sys
import time

import numpy as np

import streamix


def per_row(call, rows, repeats):
    best = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        best.append((time.perf_counter() - start) / rows)
    return sorted(best)[len(best) // 2]  # the median


def main(build):
    D = 4
    X = np.random.default_rng(0).normal(size=(10000, D)).astype(np.float32)
    model = streamix.OnlineGaussianMixture(2, D).partial_fit(X[:1000])
    fit = per_row(lambda: model.partial_fit(X), len(X), 21)
    det = streamix.Detector(D)
    det.detect(X[:1000])
    dicts = [dict(zip("abcd", row)) for row in X[:2000].tolist()]
    learn = per_row(lambda: [det.learn_one(x) for x in dicts], len(dicts), 5)
    detect = per_row(lambda: det.detect(X), len(X), 5)
    bench = os.path.join(build, "bench", "streamix_bench")
    out = subprocess.run([bench, "--benchmark_filter=^observe/highway/K:2/D:4$",
                          "--benchmark_format=json", "--benchmark_repetitions=5",
                          "--benchmark_report_aggregates_only=true"],
                         capture_output=True, text=True, check=True).stdout
    c_loop = next(b["real_time"] for b in json.loads(out)["benchmarks"]
                  if b.get("aggregate_name") == "median") * 1e-9
    print(f"backend {streamix.backend()}, K = 2, D = 4, medians")
    print(f"  C loop, smx_observe:                 {c_loop * 1e9:8.1f} ns per row")
    print(f"  partial_fit, 10,000 x 4 array:       {fit * 1e9:8.1f} ns per row"
          f"  ({fit / c_loop:.2f} x the C loop, {(fit - c_loop) * 1e9:+.1f} ns)")
    print(f"  Detector.detect, 10,000 x 4 array:   {detect * 1e9:8.1f} ns per row")
    print(f"  Detector.learn_one, one dict:        {learn * 1e9:8.1f} ns per row"
          f"  ({learn / detect:.0f} x detect's)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "build/host")
