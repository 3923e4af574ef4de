#!/bin/bash
# faults.sh HEAPMARK FAKE_BENCH SCRATCH: every way a benchmark process can
# fail is recorded with its reason, and the run goes on with the others.
source "$(dirname "$0")/lib.sh"
scratch "$3"
make_root "$1" "$2" fake fake2

MALLOC_ARENA_MAX=2 UNRELATED_VAR=1 "$HM" run --processes 1 --profile quick --repetitions 3 --min-time 0.01 --timeout 1 \
    >"$T/stdout.txt" 2>"$T/stderr.txt" || fail "run exited $?: $(cat "$T/stderr.txt")"
RUN=$(only_run "$ROOT/results")
[ "$(readlink "$ROOT/results/latest")" = "$(basename "$RUN")" ] || fail "latest does not point at the run"
"$PYTHON" "$HERE/check_run.py" "$RUN" >"$T/table.txt" || fail "run folder does not match the schema"

# interleaved A B A B ..., each failure with its status and signal
cat >"$T/want.txt" <<'WANT'
0001 fake ok/a ok - 0 json
0002 fake2 ok/a ok - 0 json
0003 fake ok/b ok - 0 json
0004 fake2 ok/b ok - 0 json
0005 fake ok/profile:quick ok - 0 json
0006 fake2 ok/profile:quick ok - 0 json
0007 fake crash/segv crash SIGSEGV - nojson
0008 fake2 crash/segv crash SIGSEGV - nojson
0009 fake crash/abort crash SIGABRT - nojson
0010 fake2 crash/abort crash SIGABRT - nojson
0011 fake hang/x timeout - - nojson
0012 fake2 hang/x timeout - - nojson
0013 fake garbage/text garbage - 0 json
0014 fake2 garbage/text garbage - 0 json
0015 fake garbage/empty garbage - 0 json
0016 fake2 garbage/empty garbage - 0 json
0017 fake nojson/x garbage - 0 nojson
0018 fake2 nojson/x garbage - 0 nojson
0019 fake exit/3 error - 3 nojson
0020 fake2 exit/3 error - 3 nojson
0021 fake error/x error - 0 json
0022 fake2 error/x error - 0 json
0023 fake wrongname/x garbage - 0 json
0024 fake2 wrongname/x garbage - 0 json
0025 fake ok/x.y+(z)|w[1]^$ ok - 0 json
0026 fake2 ok/x.y+(z)|w[1]^$ ok - 0 json
WANT
diff -u "$T/want.txt" "$T/table.txt" || fail "runs.jsonl differs from what the fake benchmarks did"

# the reasons say what happened
reason() { "$PYTHON" -c 'import json,sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["id"] == sys.argv[2]: print(r["reason"])' "$RUN/runs.jsonl" "$1"; }
reason 0007 | grep -q 'killed by SIGSEGV' || fail "crash reason: $(reason 0007)"
reason 0011 | grep -q 'no result after 1 s' || fail "timeout reason: $(reason 0011)"
reason 0013 | grep -q 'JSON does not parse' || fail "garbage reason: $(reason 0013)"
reason 0017 | grep -q 'wrote no JSON' || fail "nojson reason: $(reason 0017)"
reason 0019 | grep -q 'exit status 3: fake bench: failing on purpose' || fail "exit reason: $(reason 0019)"
reason 0021 | grep -q 'out of fake memory' || fail "error reason: $(reason 0021)"
reason 0023 | grep -q 'no result for wrongname/x' || fail "wrong-name reason: $(reason 0023)"

# meta.json: complete, with the options in force and the allocators' identity
[ "$(meta "$RUN/meta.json" 'm["state"], m["planned"], m["done"]')" = "('complete', 26, 26)" ] ||
    fail "meta.json state/planned/done"
[ "$(meta "$RUN/meta.json" 'm["options"]["repetitions"], m["options"]["min_time_s"], m["options"]["timeout_s"], m["options"]["profile"]')" = "(3, 0.01, 1, 'quick')" ] ||
    fail "meta.json options: $(meta "$RUN/meta.json" 'm["options"]')"
[ "$(meta "$RUN/meta.json" '[(a["name"], a["version"], a["library"], a["package"], a["binary"]) for a in m["allocators"]]')" = \
  "[('fake', '0.1', '/fake/libfake.so', None, 'build/fake/bench'), ('fake2', '0.1', '/fake/libfake.so', None, 'build/fake2/bench')]" ] ||
    fail "meta.json allocators: $(meta "$RUN/meta.json" 'm["allocators"]')"
[ "$(meta "$RUN/meta.json" 'm["environment"]')" = "{'MALLOC_ARENA_MAX': '2'}" ] ||
    fail "meta.json environment: $(meta "$RUN/meta.json" 'm["environment"]')"
[ "$(meta "$RUN/meta.json" 'm["git_revision"]')" = unknown ] || fail "git_revision outside a git tree"

# the child got one anchored, escaped instance and the run's options
log=$RUN/raw/fake/0005.log
for want in '--benchmark_filter=^ok/profile:quick$' --benchmark_repetitions=3 \
            --benchmark_min_time=0.01 "--benchmark_out=$RUN/raw/fake/0005.json" \
            --benchmark_out_format=json 'profile quick'; do
    grep -qF -- "$want" "$log" || fail "child log lacks '$want': $(cat "$log")"
done

# regex specials in a name are escaped: the filter matches that name only
grep -qF -- '--benchmark_filter=^ok/x\.y\+\(z\)\|w\[1\]\^\$$' "$RUN/raw/fake/0025.log" ||
    fail "unescaped filter: $(grep filter "$RUN/raw/fake/0025.log")"

# a timeout kills the child's whole process group
for a in fake fake2; do
    n=$(ls "$RUN/raw/$a/" | sort | sed -n 's/\.log$//p' | while read -r id; do
        grep -q 'running hang/x' "$RUN/raw/$a/$id.log" && echo "$id"; done)
    gc=$(sed -n 's/^grandchild //p' "$RUN/raw/$a/$n.log")
    [ -n "$gc" ] || fail "no grandchild pid in the hang log of $a"
    process_gone "$gc" || fail "grandchild $gc of the timed-out $a process still runs"
done

# not a terminal: one plain line per finished process, then the summary
[ "$(grep -c '^\[' "$T/stderr.txt")" -eq 26 ] || fail "want 26 progress lines: $(cat "$T/stderr.txt")"
grep -q '^\[ 7/26\] fake crash/segv: crash: killed by SIGSEGV' "$T/stderr.txt" || fail "progress line of a crash"
grep -q '26 processes in [0-9:]*: 8 ok, 4 error, 4 crash, 2 timeout, 8 garbage$' "$T/stderr.txt" || fail "summary line: $(tail -2 "$T/stderr.txt")"
# on a terminal: one updating line (\r, clear to end of line) with the elapsed
# time and an estimate; a failure gets a line of its own; then the summary
if command -v script >/dev/null; then
    script -qec "'$HM' run --processes 1 --allocators fake --filter '^(ok/a|hang/x)\$' --timeout 1.5 --out '$T/tty'" \
        /dev/null </dev/null >"$T/tty.txt" 2>&1 || fail "run on a terminal: $(cat -v "$T/tty.txt")"
    grep -q $'\r\033\[K\[1/2\] fake hang/x  0:0[0-9] elapsed, ~0:0[0-9] left' "$T/tty.txt" ||
        fail "no progress line on a terminal: $(cat -v "$T/tty.txt")"
    grep -q $'\r\033\[K\[2/2\] fake hang/x: timeout: no result after 1.5 s; killed, ~0:00 left\r$' "$T/tty.txt" ||
        fail "no line for the timeout on a terminal: $(cat -v "$T/tty.txt")"
    grep -q 'fake ok/a: ok' "$T/tty.txt" && fail "an ok process got a line of its own on a terminal"
else
    fail "script (bsdutils) is needed to test the terminal progress line"
fi
echo "faults: 26 processes, every failure recorded as expected"
