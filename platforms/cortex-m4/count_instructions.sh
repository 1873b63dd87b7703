#!/bin/sh
# Executed instructions per call on the Cortex-M4, counted under qemu-system-arm: with
# -singlestep and -d exec,nochain QEMU logs one "Trace" line per executed instruction. Each
# figure is (a run with CALLS calls - a run with none) / CALLS, for the library (smx_observe,
# smx_score) and the textbook loop (bench/textbook.c) built with the same flags. Instructions
# are not cycles (see platforms/cortex-m4/README.md).
#   count_instructions.sh COUNT_ELF [CALLS]     (the `count_instructions` target runs it)
set -eu
elf=$1
calls=${2:-100}

trace_lines() {
  qemu-system-arm -M mps2-an386 -nographic -monitor none -serial none \
    -semihosting-config enable=on,target=native -kernel "$elf" -append "$1" \
    -singlestep -d exec,nochain 2>&1 >/dev/null | grep -c '^Trace'
}

per_call() {  # OP K D
  base=$(trace_lines "$1 $2 $3 0")
  with=$(trace_lines "$1 $2 $3 $calls")
  echo $(( (with - base + calls / 2) / calls ))
}

# observe_batch: one call learns the 64-sample pool in mini-batches of 16; per sample.
per_sample_batched() {  # K D
  base=$(trace_lines "observe_batch $1 $2 0")
  with=$(trace_lines "observe_batch $1 $2 4")
  echo $(( (with - base + 128) / 256 ))
}

# bank_observe: one call steps a bank of 16 models; per model update.
per_model_banked() {  # K D
  base=$(trace_lines "bank_observe $1 $2 0")
  with=$(trace_lines "bank_observe $1 $2 8")
  echo $(( (with - base + 64) / 128 ))
}

echo "| K x D | observe | textbook observe | ratio | score | textbook score | ratio | observe_batch (16), per sample | bank_observe (16 models), per model | specialized observe (K, D fixed at compile time) |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for shape in "2 4" "3 3" "8 8" "16 16"; do
  set -- $shape
  o=$(per_call observe "$1" "$2")
  to=$(per_call textbook_observe "$1" "$2")
  s=$(per_call score "$1" "$2")
  ts=$(per_call textbook_score "$1" "$2")
  b=$(per_sample_batched "$1" "$2")
  m=$(per_model_banked "$1" "$2")
  f=-  # (bench/specialized_floor.cpp compiles these three shapes only)
  case "$1x$2" in 2x4|3x3|8x8) f=$(per_call specialized_observe "$1" "$2") ;; esac
  echo "| $1 x $2 | $o | $to | $(awk "BEGIN{printf \"%.2f\", $o / $to}") | $s | $ts | $(awk "BEGIN{printf \"%.2f\", $s / $ts}") | $b | $m | $f |"
done
