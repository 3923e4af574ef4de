#!/bin/bash
# conformance.sh HEAPMARK FAKE_BENCH LIBFAULT SCRATCH: `heapmark conformance`
# runs every allocator's conformance binary two at a time with the options
# passed through, into the run folder (verdicts, logs, meta.json), and does
# nothing more: it starts no Python and renders no matrix (the Makefile runs
# scripts/conformance_report.py on the folder). A binary that crashes or runs
# past --limit is recorded and the run still exits 0; --check is gone.
source "$(dirname "$0")/lib.sh"
FAULT=$(cd "$(dirname "$3")" && pwd)/$(basename "$3")
scratch "$4"
make_root "$1" "$2" glibc fake fake2 fake3
export FAKE_MARKER=$T/marker
RES=$ROOT/results
command -v strace >/dev/null || fail "strace is needed (scripts/bootstrap-deps.sh installs it)"

# a report script in the tree is a tripwire: the runner must not start it, nor
# any Python at all (every program it executes is traced)
mkdir -p "$ROOT/scripts" "$ROOT/conformance/expected"
echo "open('$T/report-ran', 'w').write('started by the runner')" >"$ROOT/scripts/conformance_report.py"
FAKE_SLEEP_MS=300 strace -f -qq -e trace=execve -o "$T/execve.txt" \
    "$HM" conformance --allocators fake,fake2,fake3 --filter AL- --timeout 5 \
    >"$T/out.txt" 2>"$T/err.txt" || fail "conformance exited $?: $(cat "$T/err.txt")"
[ "$(grep -c "execve(\"$ROOT/build/fake[23]*/conformance\", .*\"--json\"" "$T/execve.txt")" -eq 3 ] ||
    fail "strace did not see the three binaries start: $(head -5 "$T/execve.txt")"
! grep -i 'execve("[^"]*python' "$T/execve.txt" || fail "the runner started Python"
[ ! -e "$T/report-ran" ] || fail "the runner started scripts/conformance_report.py"
[ ! -s "$T/out.txt" ] || fail "output on stdout (the matrix is not the runner's): $(cat "$T/out.txt")"
grep -q '^conformance results: ' "$T/err.txt" || fail "no closing line: $(cat "$T/err.txt")"
RUN=$RES/$(readlink "$RES/latest-conformance")
[ -d "$RUN" ] || fail "no latest-conformance link"
[ ! -e "$RES/latest" ] || fail "a conformance run must not move results/latest (the benchmark report's)"
"$PYTHON" - "$RUN" <<'PY' || fail "conformance run folder"
import json, os, sys
run = sys.argv[1]
meta = json.load(open(os.path.join(run, "meta.json")))
assert meta["kind"] == "conformance" and meta["state"] == "complete", meta
assert "report_exit_code" not in meta and "check" not in meta["options"], meta
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
# the runner's files and nothing else: the matrix is rendered after it
assert sorted(os.listdir(run)) == ["conformance", "meta.json"], os.listdir(run)
PY

# the comparison with the expected matrix is the report script's, not an option
expect_fail 2 "unknown option '--check'" -- "$HM" conformance --allocators fake --check

# a crashing binary: recorded, the others still run, and the run went through
FAKE_CONF_CRASH=fake2 "$HM" conformance --allocators fake,fake2 >/dev/null 2>"$T/err.txt" ||
    fail "crash: exit $?: $(cat "$T/err.txt")"
grep -q 'fake2: crash, killed by SIGSEGV (.*); see conformance/fake2.log' "$T/err.txt" ||
    fail "crash line: $(cat "$T/err.txt")"
RUN=$RES/$(readlink "$RES/latest-conformance")
[ "$(meta "$RUN/meta.json" '[(a["name"], a["status"], a["signal"]) for a in m["allocators"]]')" = \
  "[('fake', 'done', None), ('fake2', 'crash', 'SIGSEGV')]" ] || fail "crash: meta.json"
[ -s "$RUN/conformance/fake.json" ] && [ ! -e "$RUN/conformance/fake2.json" ] ||
    fail "crash: the other allocator's results"

# a binary past --limit is killed and recorded as a timeout
FAKE_SLEEP_MS=20000 "$HM" conformance --allocators fake --limit 0.5 >/dev/null 2>"$T/err.txt" ||
    fail "limit: exit $?: $(cat "$T/err.txt")"
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
[ ! -e "$T/report-ran" ] || fail "the runner started scripts/conformance_report.py"
echo "conformance: two at a time, options passed through, no Python started, crash, limit and preload recorded"
