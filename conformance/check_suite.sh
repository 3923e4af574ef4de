#!/bin/bash
# check_suite.sh HEAPMARK ALLOCATORS OUT_DIR: the whole suite for every allocator in
# ALLOCATORS through the runner (HEAPMARK conformance --check, two at a time), checked
# against conformance/expected/<A>.txt; prints how long the suite took and exits with
# the runner's status (non-zero on any difference from the expected matrix).
set -u
HM=$1
ALLOCS=$2
OUT=$3
rm -rf "$OUT"
start=$(date +%s)
nice "$HM" conformance --check --allocators "$ALLOCS" --out "$OUT"
status=$?
echo "suite time for $ALLOCS: $(( $(date +%s) - start )) s"
exit $status
