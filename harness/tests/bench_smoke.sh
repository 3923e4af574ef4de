#!/bin/bash
# bench_smoke.sh A...: every instance of the default profile (a superset of
# quick) runs once for each allocator, briefly, without an error, and
# exports the counters its family promises (bench/README.md).
set -u
BUILD=${BUILD:-build}
PYTHON=${PYTHON:-/usr/bin/python3}
fail=0
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for a in "$@"; do
    bin=$BUILD/$a/bench
    if ! HEAPMARK_PROFILE=default nice "$bin" --benchmark_min_time=0.001 \
            --benchmark_out="$out/$a.json" --benchmark_out_format=json >"$out/$a.log" 2>&1; then
        echo "FAIL: $bin exited non-zero"; tail -5 "$out/$a.log"; fail=1; continue
    fi
    HEAPMARK_PROFILE=default "$bin" --benchmark_list_tests >"$out/$a.list" 2>/dev/null
    grep -q '^replay/trace:' "$out/$a.list" || { echo "FAIL: $a: no trace replay registered"; fail=1; }
    "$PYTHON" "$(dirname "$0")/check_bench_json.py" "$out/$a.json" "$out/$a.list" "$a" || fail=1
done
exit $fail
