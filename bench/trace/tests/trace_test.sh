#!/bin/bash
# trace_test.sh: the recorder writes exactly the calls trace_prog makes (with
# ids, thread indices, realloc keeping ids, id reuse, fork children left
# out); a python3 trace is recorded and replayed by the bench binary.
set -u
BUILD=${BUILD:-build}
BENCH=${BENCH:-$BUILD/glibc/bench} # a bench binary, to replay with
PYTHON=${PYTHON:-/usr/bin/python3}
here=$(dirname "$0")
fail=0
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
lib=$(readlink -f "$BUILD/lib/libhmtrace.so")

HEAPMARK_TRACE_OUT=$out/prog.hmt LD_PRELOAD=$lib "$BUILD/trace-tests/trace_prog" ||
    { echo "FAIL: trace_prog exited non-zero"; exit 1; }
"$PYTHON" "$here/../dump.py" --events "$out/prog.hmt" >"$out/events" || exit 1
# only our calls: sizes 1001..1128 and the frees of their ids
"$PYTHON" - "$out/events" <<'PY' || fail=1
import re, sys
ev = [l.split() for l in open(sys.argv[1])]
def field(e, k):
    for f in e[1:]:
        if f.startswith(k + "="):
            return int(f.split("=")[1])
mine = {}          # id -> size of our blocks
seq = []
for e in ev:
    op, t, i = e[0], field(e, "t"), field(e, "id")
    size = field(e, "size")
    if op in ("malloc", "calloc", "aligned") and size is not None and (1001 <= size <= 1008 or size in (1128, 1999)):
        mine[i] = size
        seq.append((op, t, size, field(e, "align")))
    elif op == "realloc" and i in mine:
        mine[i] = size
        seq.append((op, t, size, None))
    elif op == "free" and i in mine:
        seq.append((op, t, mine.pop(i), None))
want = [("malloc", 0, 1001, None), ("calloc", 0, 1001, None), ("realloc", 0, 1002, None),
        ("aligned", 0, 1003, 64), ("free", 0, 1001, None), ("malloc", 0, 1004, None),
        ("malloc", 0, 1007, None), ("aligned", 0, 1128, 128), ("malloc", 1, 1006, None),
        ("free", 1, 1128, None), ("free", 1, 1006, None), ("free", 0, 1007, None),
        ("free", 0, 1002, None), ("free", 0, 1003, None), ("free", 0, 1004, None),
        ("malloc", 0, 1008, None)]
bad = False
if seq != want:
    print("FAIL: recorded events differ")
    for g, w in zip(seq + [None] * (len(want) - len(seq)), want + [None] * (len(seq) - len(want))):
        print(f"   got {g}   want {w}" + ("" if g == w else "   <--"))
    bad = True
ids = {}
for e in ev:
    if field(e, "size") in (1001,) and e[0] == "calloc":
        ids["b"] = field(e, "id")
    if field(e, "size") == 1004:
        ids["d"] = field(e, "id")
if ids.get("b") != ids.get("d"):
    print(f"FAIL: the id of a freed block was not reused: {ids}")
    bad = True
sys.exit(1 if bad else 0)
PY
grep -q "size=1999" "$out/events" && { echo "FAIL: a forked child was recorded"; fail=1; }

# errors: no output variable means no file and no message; a bad path, a message
HEAPMARK_TRACE_OUT=/nonexistent/dir/x.hmt LD_PRELOAD=$lib /bin/true 2>"$out/err"
grep -q "cannot create /nonexistent/dir/x.hmt" "$out/err" || { echo "FAIL: no message for a bad path"; fail=1; }
printf 'HMTRACE0' >"$out/bad.hmt"
"$PYTHON" "$here/../dump.py" "$out/bad.hmt" 2>"$out/err" && { echo "FAIL: bad magic accepted"; fail=1; }
grep -q "bad magic" "$out/err" || { echo "FAIL: no message for a bad magic"; fail=1; }

# a real program, replayed by the bench binary (the replay workload)
mkdir -p "$out/traces"
PYTHONMALLOC=malloc HEAPMARK_TRACE_OUT=$out/traces/pytest.hmt LD_PRELOAD=$lib \
    /usr/bin/python3 -c 'import json; d = {str(i): [i] * (i % 7) for i in range(3000)}; json.dumps(d)' ||
    { echo "FAIL: python3 under the recorder"; fail=1; }
gzip -9 "$out/traces/pytest.hmt"
cp "$out/prog.hmt" "$out/traces/prog.hmt" # two threads, a cross-thread free
"$PYTHON" "$here/../dump.py" "$out/traces/pytest.hmt.gz" || fail=1
HEAPMARK_TRACES=$out/traces "$BENCH" --benchmark_list_tests >"$out/list" 2>&1
grep -qx "replay/trace:pytest/threads:1" "$out/list" || { echo "FAIL: replay not registered:"; cat "$out/list" | grep -i replay; fail=1; }
HEAPMARK_TRACES=$out/traces "$BENCH" --benchmark_filter='^replay/trace:p' \
    --benchmark_min_time=0.01 --benchmark_format=json >"$out/replay.json" 2>"$out/replay.err" ||
    { echo "FAIL: replay exited non-zero"; cat "$out/replay.err"; fail=1; }
"$PYTHON" - "$out/replay.json" <<'PY' || fail=1
import json, sys
runs = {b["name"]: b for b in json.load(open(sys.argv[1]))["benchmarks"] if b["run_type"] == "iteration"}
want = {"replay/trace:prog/threads:1": 2, "replay/trace:pytest/threads:1": 1}
if sorted(runs) != sorted(want):
    sys.exit(f"FAIL: replay runs {sorted(runs)}")
for name, threads in want.items():
    b = runs[name]
    if b.get("error_occurred"):
        sys.exit(f"FAIL: {name}: {b.get('error_message')}")
    for k in ("items_per_second", "peak_rss_bytes", "peak_live_bytes", "trace_events"):
        if not b.get(k, 0) > 0:
            sys.exit(f"FAIL: {name}: counter {k} = {b.get(k)}")
    if b.get("trace_threads") != threads or b.get("failed_allocs") != 0:
        sys.exit(f"FAIL: {name}: threads {b.get('trace_threads')}, failed {b.get('failed_allocs')}")
    print(f"{name}: {b['trace_events']:.0f} events, {b['real_time']:.1f} ns/op")
PY
# one timed round (the shortest run Google Benchmark makes) is a warm one: the
# untimed round before it faulted the trace's memory in. (Every round ends
# by freeing everything; glibc, the first allocator built, then gives back
# the top of its heap and maps its blocks above 128 KiB afresh each round,
# its own policy: it is told to keep both here, since what is checked is
# the untimed round, not that policy.)
GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824 \
HEAPMARK_TRACES=$out/traces "$BENCH" --benchmark_filter='^replay/trace:pytest/' \
    --benchmark_min_time=0.000001 --benchmark_format=json >"$out/warm.json" 2>"$out/warm.err" ||
    { echo "FAIL: replay exited non-zero"; cat "$out/warm.err"; fail=1; }
"$PYTHON" - "$out/warm.json" <<'PY' || fail=1
import json, sys
b = [b for b in json.load(open(sys.argv[1]))["benchmarks"] if b["run_type"] == "iteration"][0]
rounds = b["iterations"] / (b["trace_events"] + 0.0)
pages = b["peak_live_bytes"] / 4096
if not (rounds < 2.5 and b["faults_per_round"] < pages / 4):
    sys.exit(f"FAIL: {rounds:.1f} timed rounds took {b['faults_per_round']:.0f} page faults each "
             f"(the trace's peak is {pages:.0f} pages): the timed round was not warm")
print(f"pytest: {rounds:.1f} timed round(s), {b['faults_per_round']:.0f} page faults each "
      f"(peak {pages:.0f} pages)")
PY
# a corrupt trace: a clear error, not a crash
printf 'HMTRACE1\x01' | gzip >"$out/traces/broken.hmt.gz"
HEAPMARK_TRACES=$out/traces "$BENCH" --benchmark_filter='^replay/trace:broken/' \
    --benchmark_min_time=0.01 --benchmark_format=json >"$out/broken.json" 2>&1
grep -q '"error_message": "trace .*broken.hmt.gz.*truncated' "$out/broken.json" ||
    { echo "FAIL: a corrupt trace gives no clear error"; grep error "$out/broken.json"; fail=1; }

[ $fail -eq 0 ] && echo "trace test: ok"
exit $fail
