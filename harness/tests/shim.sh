#!/bin/bash
# shim.sh SHIM_TEST_BIN OUT_DIR: the Google Benchmark C shim through its test
# program (shim_test.c): its JSON on stdout and in --benchmark_out (checked by
# check_shim_json.py), Google Benchmark's flags passed through and an unknown one
# refused with a message, the argument lists, and HEAPMARK_COUNT_OPS counting the
# operations run inside timed loops (1000 here).
set -u
BIN=$1
OUT=$2
PYTHON=${PYTHON:-/usr/bin/python3}
HERE=$(dirname "$0")
fail() { echo "FAIL: $*"; exit 1; }

rm -rf "$OUT" && mkdir -p "$OUT"
"$BIN" --benchmark_format=json --benchmark_out="$OUT/file.json" --benchmark_out_format=json \
    >"$OUT/stdout.json" 2>"$OUT/stderr.txt" || fail "shim_test exited $?: $(cat "$OUT/stderr.txt")"
"$PYTHON" "$HERE/check_shim_json.py" "$OUT/stdout.json" "$OUT/file.json" || exit 1

# Google Benchmark's flags pass through; an unknown one is refused
if "$BIN" --no-such-flag >"$OUT/bad.txt" 2>&1; then
    fail "shim_test accepted --no-such-flag"
fi
grep -q "no-such-flag" "$OUT/bad.txt" || { cat "$OUT/bad.txt"; fail "no message about --no-such-flag"; }

"$BIN" --benchmark_list_tests --benchmark_filter='^args/' >"$OUT/list.txt" || fail "--benchmark_list_tests"
diff <(printf 'args/size:16/live:3/iterations:20\nargs/size:32/live:7/iterations:20\n') "$OUT/list.txt" ||
    fail "the args/ instances"

# HEAPMARK_COUNT_OPS: the operations run inside timed loops (1000 here)
HEAPMARK_COUNT_OPS=$OUT/ops.json "$BIN" --benchmark_filter='^order_first/' >/dev/null 2>&1 ||
    fail "HEAPMARK_COUNT_OPS run"
grep -qx '{"operations": 1000, "under_callgrind": false}' "$OUT/ops.json" ||
    { cat "$OUT/ops.json"; fail "ops file"; }
echo "test-shim: ok"
