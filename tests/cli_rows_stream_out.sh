#!/bin/sh
# cli_rows_stream_out.sh STREAMIX OUTPUT: feeds 100 readings through a pipe that stays open
# for 6 s more, and checks at 3 s that all 101 lines (header and rows) are already in OUTPUT
# (with 64 KiB blocks none would be before the input ends).
set -u
streamix=$1 out=$2
rm -f "$out"
( echo value; seq 1 100; sleep 6 ) | "$streamix" detect --quiet --line-buffered --output "$out" - &
sleep 3
lines=$(wc -l < "$out" 2>/dev/null || echo 0)
wait
if [ "$lines" -ne 101 ]; then
  echo "after 3 s: $lines lines of 101 in $out"
  exit 1
fi
echo "after 3 s: 101 of 101 lines"
