#!/bin/bash
# conformance.sh HEAPMARK FAKE_BENCH LIBFAULT SCRATCH: `heapmark conformance`
# runs every allocator's conformance binary two at a time with the options
# passed through, then the report script on the run folder, and exits with
# its status; a missing script or a crashing binary is a clear error.
source "$(dirname "$0")/lib.sh"
FAULT=$(cd "$(dirname "$3")" && pwd)/$(basename "$3")
scratch "$4"
make_root "$1" "$2" glibc fake fake2 fake3
export FAKE_MARKER=$T/marker
RES=$ROOT/results

# no report script yet: say so, run nothing
expect_fail 1 "scripts/conformance_report.py is missing" -- "$HM" conformance
[ ! -e "$FAKE_MARKER" ] && [ -z "$(ls -A "$RES")" ] || fail "something ran without the script"

mkdir -p "$ROOT/scripts" "$ROOT/conformance"
cp "$HERE/fake_conformance_report.py" "$ROOT/scripts/conformance_report.py"
expect_fail 1 "--check needs the expected matrix conformance/expected" -- "$HM" conformance --check
mkdir -p "$ROOT/conformance/expected"

FAKE_SLEEP_MS=300 "$HM" conformance --allocators fake,fake2,fake3 --filter AL- --timeout 5 --check \
    >"$T/out.txt" 2>"$T/err.txt" || fail "conformance exited $?: $(cat "$T/err.txt")"
RUN=$RES/$(readlink "$RES/latest-conformance")
[ -d "$RUN" ] || fail "no latest-conformance link"
[ ! -e "$RES/latest" ] || fail "a conformance run must not move results/latest (the benchmark report's)"
"$PYTHON" - "$RUN" "$ROOT" <<'PY' || fail "conformance run folder"
import json, os, sys
run, root = sys.argv[1], sys.argv[2]
meta = json.load(open(os.path.join(run, "meta.json")))
assert meta["kind"] == "conformance" and meta["state"] == "complete", meta
assert meta["report_exit_code"] == 0
assert [a["name"] for a in meta["allocators"]] == ["fake", "fake2", "fake3"]
assert all(a["status"] == "done" and a["exit_code"] == 0 and a["version"] == "0.1"
           for a in meta["allocators"]), meta["allocators"]
spans = []
for a in ("fake", "fake2", "fake3"):
    c = json.load(open(os.path.join(run, "conformance", a + ".json")))
    want = ["--json", os.path.join(run, "conformance", a + ".json"),
            "--filter", "AL-", "--timeout", "5"]
    assert c["args"] == want, (c["args"], want)
    assert os.path.isfile(os.path.join(run, "conformance", a + ".log"))
    spans.append((c["start"], c["end"]))
# two at a time: never three running, and two did run together
most = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
assert most == 2, spans
args = json.load(open(os.path.join(run, "report-args.json")))
assert args["args"] == [run, "--expected", os.path.join(root, "conformance", "expected"),
                        "--check"], args
assert args["allocators"] == ["fake", "fake2", "fake3"]
PY
grep -q 'fake conformance report: 3 allocators' "$T/out.txt" || fail "the script's output is not shown"

# the report script's status is the command's status
FAKE_REPORT_EXIT=3 "$HM" conformance --allocators fake >/dev/null 2>&1
rc=$?
[ $rc -eq 3 ] || fail "report status 3 came back as $rc"

# a crashing binary: recorded, the others still run, non-zero exit
rc=0
FAKE_CONF_CRASH=fake2 "$HM" conformance --allocators fake,fake2 >/dev/null 2>"$T/err.txt" || rc=$?
[ $rc -eq 1 ] || fail "crash: exit $rc"
grep -q 'fake2: crash, killed by SIGSEGV' "$T/err.txt" || fail "crash line: $(cat "$T/err.txt")"
grep -q 'left no conformance results' "$T/err.txt" || fail "crash summary: $(cat "$T/err.txt")"
RUN=$RES/$(readlink "$RES/latest-conformance")
[ "$(meta "$RUN/meta.json" '[(a["name"], a["status"], a["signal"]) for a in m["allocators"]]')" = \
  "[('fake', 'done', None), ('fake2', 'crash', 'SIGSEGV')]" ] || fail "crash: meta.json"
[ "$(meta "$RUN/report-args.json" 'm["allocators"]')" = "['fake']" ] ||
    fail "crash: the report did not get the other allocator's results"

# a binary past --limit is killed and recorded as a timeout
rc=0
FAKE_SLEEP_MS=20000 "$HM" conformance --allocators fake --limit 0.5 >/dev/null 2>"$T/err.txt" || rc=$?
[ $rc -eq 1 ] || fail "limit: exit $rc"
grep -q 'fake: timeout, killed after 0.5 s (--limit)' "$T/err.txt" || fail "limit line: $(cat "$T/err.txt")"
RUN=$RES/$(readlink "$RES/latest-conformance")
[ "$(meta "$RUN/meta.json" 'm["allocators"][0]["status"], m["options"]["limit_s"]')" = "('timeout', 0.5)" ] ||
    fail "limit: meta.json"

# --jobs 1: one at a time
FAKE_SLEEP_MS=200 "$HM" conformance --allocators fake,fake2 --jobs 1 >/dev/null 2>&1 || fail "--jobs 1"
RUN=$RES/$(readlink "$RES/latest-conformance")
"$PYTHON" - "$RUN" <<'PY' || fail "--jobs 1 ran them together"
import json, os, sys
a, b = (json.load(open(os.path.join(sys.argv[1], "conformance", n + ".json"))) for n in ("fake", "fake2"))
assert a["end"] <= b["start"], (a, b)
PY

# a preloaded library runs glibc's conformance binary with HEAPMARK_PRELOAD
"$HM" conformance --allocators "pre=$FAULT" >/dev/null 2>"$T/err.txt" || fail "preload: $(cat "$T/err.txt")"
RUN=$RES/$(readlink "$RES/latest-conformance")
[ "$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["preload"])' "$RUN/conformance/pre.json")" = "$FAULT" ] ||
    fail "preload: the binary did not get HEAPMARK_PRELOAD"
[ "$(meta "$RUN/meta.json" 'm["allocators"][0]["binary"], m["allocators"][0]["preload"]')" = "('build/glibc/conformance', '$FAULT')" ] ||
    fail "preload: meta.json"
echo "conformance: two at a time, options and --check passed through, status, crash and preload handled"
