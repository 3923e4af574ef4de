#!/bin/bash
# xpair.sh PROG EXPECTED [LO HI]: the cost of frees between threads, pinned.
# callgrind counts the instructions of free (local and remote), of the
# owner's collection of records of remote frees and of their hand-over on the
# allocation slow path, in PROG (tests/xpair.c: two threads in fixed turns
# replacing blocks of LO..HI bytes, default 16..4096, in a shared table) for
# N and 2N operations per thread (N: 100,000); the difference over 2N
# operations is the count per operation (about half of the frees are
# remote), start-up and exit left out. Fails when it is more than 5% away
# from EXPECTED (a longer path; or a shorter one: then lower EXPECTED in
# allocator.mk). Instruction counts do not depend on the load of the
# machine, so this is not a timed test.
set -u
prog=$1
expected=$2
lo=${3:-16}
hi=${4:-4096}
n=100000
if ! command -v valgrind >/dev/null; then
    echo "FAIL: valgrind is not installed (scripts/bootstrap-deps.sh installs it)"
    exit 1
fi
count() {
    env -u SABLE_SECURE -u SABLE_STATS -u SABLE_LOG valgrind --tool=callgrind \
        --callgrind-out-file=/dev/null --toggle-collect=free \
        --toggle-collect=heap_collect_xrecs --toggle-collect=sbl_xb_flush \
        "$prog" "$1" "$lo" "$hi" 2>&1 | sed -n 's/.*I *refs: *//p' | tr -d ,
}
a=$(count "$n")
b=$(count $((2 * n)))
if [ -z "$a" ] || [ -z "$b" ] || [ "$a" = 0 ]; then
    echo "FAIL: no instruction count from callgrind"
    exit 1
fi
awk -v a="$a" -v b="$b" -v e="$expected" -v n="$n" -v lo="$lo" -v hi="$hi" 'BEGIN {
    per = (b - a) / (2 * n)
    l = e * 0.95; h = e * 1.05
    if (per < l || per > h) {
        printf "FAIL: %.2f instructions of free per operation of two threads exchanging blocks of %s..%s bytes, expected %s (+-5%%: %.2f..%.2f)\n", per, lo, hi, e, l, h
        exit 1
    }
    printf "sable xpair: %.2f instructions of free per operation of two threads exchanging blocks of %s..%s bytes (pinned: %s +-5%%)\n", per, lo, hi, e
}'
