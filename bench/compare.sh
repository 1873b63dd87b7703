#!/usr/bin/env bash
# Reproduces the README's results table in one run: streamix_bench at K = 16, D = 16 for
# every backend, the textbook baseline, Armadillo and the FMA peak, batch scoring at K = 2
# (the across-samples layout) too, mini-batches and batch scoring at K = D = 64 (for the
# hardware-limit table), then observe and observe_batch at the small sizes beside the
# textbook and Armadillo (medians of 5 repetitions, randomly interleaved: this machine's
# speed drifts by 20-40 % over a minute, and consecutive repetitions would all see one
# regime), then banks of small models beside lone ones, then the scikit-learn peer.
# Usage: bench/compare.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=${1:-build/host}
"$build/bench/streamix_bench" \
  --benchmark_filter='K:16/D:16$|score_batch/.*/K:2/D:16$|far|peak|(observe_batch|score_batch)/highway/K:64/D:64$' \
  --benchmark_repetitions=5 --benchmark_report_aggregates_only=true --benchmark_min_time=0.2 \
  --benchmark_enable_random_interleaving=true
# The small models where sensor and firmware users live, beside the textbook and Armadillo,
# Highway held to AVX2 (xsimd's instruction set) and the step for a shape fixed at compile time.
"$build/bench/streamix_bench" \
  --benchmark_filter='^(observe|observe_batch|em_iteration)/(highway|highway:AVX2|xsimd|scalar|specialized|textbook|armadillo)/K:(2/D:4|4/D:8|8/D:8|16/D:16|64/D:64)$' \
  --benchmark_repetitions=5 --benchmark_report_aggregates_only=true --benchmark_min_time=0.2 \
  --benchmark_enable_random_interleaving=true
# Banks: many small models, one reading each (bank_observe) or for a quarter of them at
# random (bank_observe_some), beside as many lone models (bench/README.md, Banks).
"$build/bench/streamix_bench" \
  --benchmark_filter='^(bank_observe|bank_observe_some|observe)/(highway|xsimd|scalar)/K:[0-9]+/D:[0-9]+/M:' \
  --benchmark_repetitions=5 --benchmark_report_aggregates_only=true --benchmark_min_time=0.2 \
  --benchmark_enable_random_interleaving=true
# Detector banks beside as many lone detectors (bench/README.md, Detector banks).
"$build/bench/streamix_bench" \
  --benchmark_filter='^(detector_bank_detect|detector_bank_detect_some|detect)/(highway|xsimd|scalar)/K:[0-9]+/D:[0-9]+/M:' \
  --benchmark_repetitions=5 --benchmark_report_aggregates_only=true --benchmark_min_time=0.2 \
  --benchmark_enable_random_interleaving=true
OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/sklearn_peer.py
