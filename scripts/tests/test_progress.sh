#!/bin/bash
# make test-progress: every finished benchmark process prints its median time per
# operation and the time left (build/heapmark run, not on a terminal: one line each);
# a variant named after a built allocator is refused.
set -u
cd "$(dirname "$0")/../.."
out=$(mktemp -d build/test-progress.XXXXXX)
trap 'rm -rf "$out"' EXIT
log=$(build/heapmark run --allocators glibc --filter '^latency_warm/size:64/threads:1$' \
      --profile quick --repetitions 2 --out "$out" 2>&1)
line='^\[1/1\] glibc latency_warm/size:64/threads:1: ok \([0-9.]+ s\), median [0-9.]+ (ns|us|ms)/op, ~[0-9:]+ left$'
if ! grep -Eq "$line" <<<"$log"; then
    echo "test-progress: FAIL: no line matching $line in:"
    echo "$log"
    exit 1
fi
echo "test-progress: ok ($(grep -E "$line" <<<"$log"))"
# a variant may not take a built allocator's name: refused before anything runs
err=$(build/heapmark run --allocators 'glibc,jemalloc=glibc:MALLOC_ARENA_MAX=1' --out "$out" 2>&1) &&
    { echo "test-progress: FAIL: a variant named jemalloc was accepted"; exit 1; }
grep -q "allocator 'jemalloc': a variant may not take the name of a built allocator" <<<"$err" ||
    { echo "test-progress: FAIL: refusal of a variant named jemalloc: $err"; exit 1; }
echo "test-progress: a variant named after a built allocator is refused"
