#!/bin/bash
# record.sh OUT -- CMD [ARG...]: records the allocation trace of CMD into OUT
# (bench/trace/FORMAT.md; gzip-compressed when OUT ends in .gz). Run from the
# repository root. OUT may contain %p to record every process CMD starts
# (one file per process id); otherwise only CMD's own process is recorded.
set -euo pipefail
if [ $# -lt 3 ] || [ "$2" != "--" ]; then
    echo "usage: bench/trace/record.sh OUT -- CMD [ARG...]" >&2
    exit 2
fi
out=$1
shift 2
BUILD=${BUILD:-build}
make -s "$BUILD/lib/libhmtrace.so" >&2
lib=$(readlink -f "$BUILD/lib/libhmtrace.so")
raw=${out%.gz}
status=0
HEAPMARK_TRACE_OUT=$raw LD_PRELOAD=$lib${LD_PRELOAD:+:$LD_PRELOAD} "$@" || status=$?
if [[ $out == *.gz && $raw != *%p* ]]; then
    [ -s "$raw" ] || { echo "record.sh: no trace was written to $raw" >&2; exit 1; }
    gzip -9 -f "$raw"
fi
exit $status
