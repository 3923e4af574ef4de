#!/bin/bash
# bench_smoke.sh A...: every instance of the quick profile runs once for each
# allocator, briefly, without an error, and writes its counters.
set -u
BUILD=${BUILD:-build}
PYTHON=${PYTHON:-/usr/bin/python3}
fail=0
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for a in "$@"; do
    bin=$BUILD/$a/bench
    if ! HEAPMARK_PROFILE=quick nice "$bin" --benchmark_min_time=0.001 \
            --benchmark_out="$out/$a.json" --benchmark_out_format=json >"$out/$a.log" 2>&1; then
        echo "FAIL: $bin exited non-zero"; tail -5 "$out/$a.log"; fail=1; continue
    fi
    HEAPMARK_PROFILE=quick "$bin" --benchmark_list_tests >"$out/$a.list" 2>/dev/null
    "$PYTHON" - "$out/$a.json" "$out/$a.list" "$a" <<'PY' || fail=1
import json, sys
doc = json.load(open(sys.argv[1]))
want = [l.strip() for l in open(sys.argv[2]) if l.strip()]
got = [b["name"] for b in doc["benchmarks"] if b["run_type"] == "iteration"]
bad = [f"{b['name']}: {b.get('error_message')}" for b in doc["benchmarks"] if b.get("error_occurred")]
bad += [f"{b['name']}: no items_per_second" for b in doc["benchmarks"]
        if not b.get("error_occurred") and "items_per_second" not in b]
if sorted(got) != sorted(want):
    bad.append(f"ran {len(got)} instances, listed {len(want)}")
if doc["context"].get("allocator") != sys.argv[3]:
    bad.append(f"context allocator {doc['context'].get('allocator')!r}")
for b in bad:
    print(f"FAIL: {sys.argv[3]}: {b}")
print(f"{sys.argv[3]}: {len(got)} instances ran" + (" with failures" if bad else ""))
sys.exit(1 if bad else 0)
PY
done
exit $fail
