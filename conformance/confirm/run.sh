#!/bin/bash
# Builds the standalone confirmation programs against glibc, jemalloc and
# mimalloc (no heapmark code) and runs them: the second, independent means
# by which every fail/crash recorded in conformance/expected/ was confirmed.
# Usage: conformance/confirm/run.sh   (from the repository root; output in build/confirm)
set -u
cd "$(dirname "$0")/../.."
out=build/confirm
mkdir -p "$out"
declare -A libs=([glibc]="" [jemalloc]="-ljemalloc" [mimalloc]="-lmimalloc")
for a in glibc jemalloc mimalloc; do
    for prog in calls first_call_oom overcommit; do
        gcc -std=gnu11 -O2 -fno-builtin -o "$out/$prog-$a" "conformance/confirm/$prog.c" \
            ${libs[$a]} -lpthread || exit 1
    done
done
for a in glibc jemalloc mimalloc; do
    echo "== $a"
    "$out/calls-$a"
    "$out/overcommit-$a"
    "$out/first_call_oom-$a" >/dev/null 2>"$out/first_call_oom-$a.err"
    rc=$?
    echo "first malloc of new threads at OOM: exit status $rc$( [ $rc -ge 128 ] && echo " (signal $((rc - 128)))")"
done
