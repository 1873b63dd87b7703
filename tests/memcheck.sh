#!/bin/sh
# Runs a program under Valgrind memcheck (the arguments after the first are Valgrind's own,
# then the program and its arguments): memcheck.sh VALGRIND ARGS... -- PROGRAM ARGS...
# Valgrind 3.19 (Debian 12) cannot decode rdtscp, which Debian's libhwy executes in its
# initializer on CPUs that have it: the process then dies of SIGILL before main, in a
# library the test does not check. That is reported as a skip (exit 77), naming the reason;
# the host-scalar preset, which loads no libhwy, runs the same memory checks in full.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
"$@" 2>"$log"
status=$?
if grep -q "unhandled instruction bytes" "$log" && grep -q "libhwy" "$log" &&
   ! grep -q "by 0x[0-9A-F]*: main " "$log"; then
  grep -m1 "Unrecognised instruction" "$log" >&2
  echo "memcheck: Valgrind cannot run libhwy's initializer on this CPU (rdtscp): skipping" >&2
  exit 77
fi
cat "$log" >&2
exit $status
