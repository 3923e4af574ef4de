#!/bin/bash
# check_suite.sh HEAPMARK ALLOCATORS OUT_DIR [RUNNER_ARG...]: the whole suite for
# every allocator in ALLOCATORS through the runner (HEAPMARK conformance, two at a
# time, into OUT_DIR), then its matrix rendered and checked against
# conformance/expected/<A>.txt (scripts/conformance_report.py --check); prints
# how long the suite took and exits non-zero when the runner failed, an
# allocator left no verdicts or any verdict differs from the expected matrix.
set -u
HM=$1
ALLOCS=$2
OUT=$3
shift 3
rm -rf "$OUT"
start=$(date +%s)
nice "$HM" conformance --allocators "$ALLOCS" --out "$OUT" "$@" &&
    /usr/bin/python3 "$(dirname "$0")/../scripts/conformance_report.py" "$OUT/latest-conformance" --check
status=$?
echo "suite time for $ALLOCS: $(( $(date +%s) - start )) s"
exit $status
