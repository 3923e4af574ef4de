#!/bin/bash
# pair.sh PROG EXPECTED [SIZE [N [LIVE [lifo]]]]: the fast paths' length, pinned.
# callgrind counts the instructions of PROG (tests/pair.c) running N and 2N
# (N: 1,000,000) malloc(SIZE)+free pairs (SIZE: 64; with LIVE, that many
# blocks live in a ring, the oldest freed each time; with lifo, in rounds of
# LIVE mallocs and then their frees, newest first); the difference over N is
# the count per pair with its loop, start-up and exit left out. Fails when it
# is more than 5% away from EXPECTED (a longer fast path; or a shorter one:
# then lower EXPECTED in allocator.mk). Instruction counts do not depend on
# the load of the machine, so this is not a timed test.
set -u
prog=$1
expected=$2
size=${3:-64}
n=${4:-1000000}
live=${5:-0}
mode=${6:-}
if ! command -v valgrind >/dev/null; then
    echo "FAIL: valgrind is not installed (scripts/bootstrap-deps.sh installs it)"
    exit 1
fi
count() {
    env -u SABLE_SECURE -u SABLE_STATS -u SABLE_LOG valgrind --tool=callgrind \
        --callgrind-out-file=/dev/null "$prog" "$1" "$size" "$live" $mode 2>&1 | sed -n 's/.*I *refs: *//p' | tr -d ,
}
a=$(count "$n")
b=$(count $((2 * n)))
if [ -z "$a" ] || [ -z "$b" ]; then
    echo "FAIL: no instruction count from callgrind"
    exit 1
fi
what="malloc($size)+free pair"
[ "$live" -gt 0 ] && what="$what ($live live${mode:+, $mode})"
awk -v a="$a" -v b="$b" -v e="$expected" -v n="$n" -v what="$what" 'BEGIN {
    per = (b - a) / n
    lo = e * 0.95; hi = e * 1.05
    if (per < lo || per > hi) {
        printf "FAIL: %.2f instructions per %s with its loop, expected %s (+-5%%: %.2f..%.2f)\n", per, what, e, lo, hi
        exit 1
    }
    printf "sable pair: %.2f instructions per %s with its loop (pinned: %s +-5%%)\n", per, what, e
}'
