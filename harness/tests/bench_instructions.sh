#!/bin/bash
# bench_instructions.sh HEAPMARK A...: `heapmark run --instructions` counts a
# plausible number of instructions per malloc+free pair (20..2000) for every
# built allocator A, callgrind collecting only inside the timed loops; an
# unknown allocator is refused with a clear line.
set -u
heapmark=$1
shift
fail=0
err() { echo "FAIL: $*"; fail=1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

list=$(IFS=,; echo "$*")
if ! "$heapmark" run --instructions --allocators "$list" --filter '^malloc_free/size:16/' \
        --min-time 0.01 --out "$out/runs" >"$out/stdout" 2>"$out/stderr"; then
    err "heapmark run --instructions failed: $(tail -3 "$out/stderr")"
fi
runs=$(ls -d "$out"/runs/*/ 2>/dev/null | head -1)
/usr/bin/python3 - "$runs/runs.jsonl" "$@" <<'PY' || fail=1
import json, sys
path, allocs = sys.argv[1], sys.argv[2:]
try:
    rows = [json.loads(l) for l in open(path) if l.strip()]
except OSError as e:
    sys.exit(f"FAIL: no runs.jsonl: {e}")
seen = {}
for r in rows:
    print(r["allocator"], r.get("instructions_per_op"), "instructions/op")
    seen[r["allocator"]] = r.get("instructions_per_op")
bad = [a for a in allocs if not isinstance(seen.get(a), (int, float)) or not 20 <= seen[a] <= 2000]
if bad:
    sys.exit(f"FAIL: implausible or missing counts for {bad}: {seen}")
PY

if "$heapmark" run --instructions --allocators nosuch --out "$out/runs" >/dev/null 2>"$out/err"; then
    err "unknown allocator accepted"
fi
grep -q "nosuch" "$out/err" || err "no message naming the unknown allocator: $(cat "$out/err")"

[ $fail -eq 0 ] && echo "test-bench-instructions: ok"
exit $fail
