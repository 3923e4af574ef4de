#!/bin/bash
# xpair.sh PROG EXPECTED [LO HI [pc]]: the cost of frees between threads, pinned.
# callgrind counts the instructions of free (local and remote), of the
# owner's collection of records of remote frees and of their hand-over on the
# allocation slow path, in PROG (tests/xpair.c: two threads in fixed turns
# replacing blocks of LO..HI bytes, default 16..4096, in a shared table; with
# pc, one thread allocating messages and the other freeing them) for N and
# 2N operations per thread (N: 102,400); the difference over the 2N
# operations of both threads is the count per operation (about half of
# larson's frees are remote; all of pc's, and there an operation is a
# message: a malloc and its remote free), start-up and exit left out. Fails when it is more than 5% away
# from EXPECTED (a longer path; or a shorter one: then lower EXPECTED in
# allocator.mk). Instruction counts do not depend on the load of the
# machine, so this is not a timed test.
set -u
prog=$1
expected=$2
lo=${3:-16}
hi=${4:-4096}
mode=${5:-}
n=102400
ops=$((2 * n))
what="operation of two threads exchanging blocks of $lo..$hi bytes"
if [ "$mode" = pc ]; then
    ops=$n
    what="message of $lo..$hi bytes from one thread to another"
fi
if ! command -v valgrind >/dev/null; then
    echo "FAIL: valgrind is not installed (scripts/bootstrap-deps.sh installs it)"
    exit 1
fi
count() {
    env -u SABLE_SECURE -u SABLE_STATS -u SABLE_LOG valgrind --tool=callgrind \
        --callgrind-out-file=/dev/null --toggle-collect=free \
        --toggle-collect=heap_collect_xrecs --toggle-collect=sbl_xb_flush \
        "$prog" "$1" "$lo" "$hi" $mode 2>&1 | sed -n 's/.*I *refs: *//p' | tr -d ,
}
a=$(count "$n")
b=$(count $((2 * n)))
if [ -z "$a" ] || [ -z "$b" ] || [ "$a" = 0 ]; then
    echo "FAIL: no instruction count from callgrind"
    exit 1
fi
awk -v a="$a" -v b="$b" -v e="$expected" -v ops="$ops" -v what="$what" 'BEGIN {
    per = (b - a) / ops
    l = e * 0.95; h = e * 1.05
    if (per < l || per > h) {
        printf "FAIL: %.2f instructions of free per %s, expected %s (+-5%%: %.2f..%.2f)\n", per, what, e, l, h
        exit 1
    }
    printf "sable xpair: %.2f instructions of free per %s (pinned: %s +-5%%)\n", per, what, e
}'
