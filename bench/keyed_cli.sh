#!/usr/bin/env bash
# The keyed CLI's throughput (issue 16): `streamix detect` on 300,000 rows of one stream,
# and on the same rows spread over 1,000 keys in long format (`--key sensor`, one detector
# per key), each run three times in turn; prints each run's rows per second (the tool's own
# summary: scoring and learning, CSV reading and writing included) and the ratio of the
# medians. Both runs warm up on 50 readings per detector and calibrate on 20, so most rows
# are scored. Usage: bench/keyed_cli.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cli=${1:-build/host}/platforms/host/streamix
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 - "$work" <<'PY'
import random, sys
random.seed(1)
work = sys.argv[1]
with open(f"{work}/keyed.csv", "w") as keyed, open(f"{work}/single.csv", "w") as single:
    keyed.write("sensor,time,a,b\n")
    single.write("time,a,b\n")
    for i in range(300000):
        k = random.randrange(1000)
        a, b = random.gauss(k % 10, 1), random.gauss(-(k % 7), 0.5)
        keyed.write(f"sensor{k},{i},{a:.4f},{b:.4f}\n")
        single.write(f"{i},{a:.4f},{b:.4f}\n")
PY
rate() { "$cli" detect --time time --init-samples 50 --calibration 20 --output /dev/null "$@" 2>&1 |
           sed -n 's/.* \([0-9]*\) rows\/s$/\1/p'; }
single=() keyed=()
for run in 1 2 3; do
  single+=("$(rate "$work/single.csv")")
  keyed+=("$(rate --key sensor "$work/keyed.csv")")
done
median() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
echo "single stream, rows/s: ${single[*]} (median $(median "${single[@]}"))"
echo "1,000 keys, rows/s:    ${keyed[*]} (median $(median "${keyed[@]}"))"
/usr/bin/python3 -c "print('keyed / single: %.2f' % ($(median "${keyed[@]}") / $(median "${single[@]}")))"
