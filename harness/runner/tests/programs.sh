#!/bin/bash
# programs.sh HEAPMARK SCRATCH: real-program workloads (bench/programs/
# format) on the quick definitions of tests/programs/, under glibc and under
# libfill.so (a malloc that fills new blocks), with prog_target standing in
# for real programs:
#  - a crash, a hang, output without its figure, a server that never comes
#    up, a missing command: each recorded (or skipped) with its reason, and
#    the run goes on
#  - a result that differs from glibc's is a "mismatch", never a figure
#  - a statically linked program cannot map the library: "unproven"
#  - the RSS series of a program that holds 64 MiB from 0.3 s to 1.3 s shows it
#  - a server is stopped after its load, and when heapmark gets SIGTERM
#  - `heapmark run --program 'sort=sort -n FILE'` for two allocators
source "$(dirname "$0")/lib.sh"
HM=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
scratch "$2"
ROOTDIR=$(cd "$(dirname "$HM")/.." && pwd)
TB=$ROOTDIR/build/runner-tests
FILL=$TB/libfill.so
OUT=$T/results
mkdir -p "$OUT"

"$HM" run --allocators "glibc,fill=$FILL" --programs "$HERE/programs" --filter '^program/' \
    --program-runs 1 --out "$OUT" >"$T/out1.txt" 2>"$T/err1.txt" || fail "run: $(cat "$T/err1.txt")"
RUN=$OUT/$(readlink "$OUT/latest")
"$PYTHON" "$HERE/check_run.py" "$RUN" >"$T/table.txt" || fail "run folder inconsistent"
grep -q "program t-missing skipped: heapmark-no-such-command is not installed (Debian package heapmark-no-such-package)" \
    "$T/err1.txt" || fail "no notice for the missing command: $(cat "$T/err1.txt")"
[ "$(meta "$RUN/meta.json" '[s["program"] for s in m["programs_skipped"]]')" = "['t-missing']" ] ||
    fail "meta.json programs_skipped: $(meta "$RUN/meta.json" 'm["programs_skipped"]')"

# "program allocator status" for every line
"$PYTHON" - "$RUN" >"$T/status.txt" <<'PY'
import json, sys
for line in open(sys.argv[1] + "/runs.jsonl"):
    r = json.loads(line)
    print(r["program"], r["allocator"], r["status"])
PY
expect_status() {
    grep -qx "$1 $2 $3" "$T/status.txt" || fail "want $1 under $2: $3, got: $(grep "^$1 $2 " "$T/status.txt")"
}
for a in glibc fill; do
    expect_status t-ok $a ok
    expect_status t-crash $a crash
    expect_status t-hang $a timeout
    expect_status t-garbage $a garbage
    expect_status t-static $a unproven
    expect_status t-noserver $a no-server
    expect_status t-server $a ok
    expect_status t-rss $a ok
done
expect_status t-uninit glibc ok
expect_status t-uninit fill mismatch
[ "$(wc -l <"$T/status.txt")" -eq 18 ] || fail "want 18 lines: $(cat "$T/status.txt")"

# the reasons, and the fields of each kind of line (results/README.md)
"$PYTHON" - "$RUN" <<'PY' || fail "runs.jsonl fields"
import json, os, sys
run = sys.argv[1]
rows = {(r["program"], r["allocator"]): r for r in map(json.loads, open(run + "/runs.jsonl"))}
def want(cond, what):
    if not cond:
        sys.exit("programs.sh: " + what)
for a in ("glibc", "fill"):
    r = rows["t-crash", a]
    want(r["signal"] == "SIGSEGV" and "about to crash" in r["reason"], "crash reason %r" % r["reason"])
    want("after 2 s" in rows["t-hang", a]["reason"], "hang reason")
    want("pattern 'score ([0-9]+)'" in rows["t-garbage", a]["reason"], "garbage reason")
    want(rows["t-garbage", a]["figure"] is None, "garbage has no figure")
    want("not mapped" in rows["t-static", a]["reason"] or "before its maps" in rows["t-static", a]["reason"],
         "static reason %r" % rows["t-static", a]["reason"])
    want(not rows["t-static", a]["library_mapped"], "static: library_mapped")
    want("before it accepted connections" in rows["t-noserver", a]["reason"], "no-server reason")
    for p in ("t-ok", "t-rss", "t-server"):
        r = rows[p, a]
        want(r["library_mapped"] is True and r["preloaded"] is True, "%s %s: no preload proof" % (p, a))
    s = rows["t-server", a]
    want(s["server"] and s["figure"] > 0 and s["better"] == "higher", "server figure %r" % s["figure"])
    want(all(isinstance(s[k], int) and s[k] > 0 for k in
             ("rss_end_load_kb", "rss_after_100ms_kb", "rss_after_1s_kb", "client_max_rss_kb")),
         "server RSS after the load: %r" % s)
    want(os.path.isfile(os.path.join(run, s["client_log"])), "client log")
want(rows["t-ok", "glibc"]["library"].endswith("/libhmlibc.so"), "glibc's library %r" % rows["t-ok", "glibc"]["library"])
want(rows["t-ok", "fill"]["library"].endswith("/libfill.so"), "fill's library")
u = rows["t-uninit", "fill"]
want(u["digest"] != u["digest_reference"] and "differs" in u["reason"] and u["output"], "mismatch %r" % u)
want(os.path.isfile(os.path.join(run, u["output"])), "the differing output is kept")
want(rows["t-ok", "fill"]["digest"] == rows["t-ok", "glibc"]["digest"], "t-ok digests")
PY

# the RSS series: the start's size until 0.25 s, 64 MiB more from the moment
# the program says it touched them to the moment it freed them, then the start's
for id in $("$PYTHON" -c 'import json,sys; [print(r["id"], r["rss"], r["log"]) for r in map(json.loads, open(sys.argv[1])) if r["program"] == "t-rss"]' "$RUN/runs.jsonl" | tr ' ' ','); do
    IFS=, read -r _ rss log <<<"$id"
    "$PYTHON" - "$RUN/$rss" "$RUN/$log" <<'PY' || fail "RSS series $rss"
import sys
lines = open(sys.argv[1]).read().splitlines()
assert lines[0].startswith("# heapmark rss: pid "), lines[0]
s = [tuple(map(float, l.split())) for l in lines[1:]]
words = open(sys.argv[2]).read().split()
touched, freed = float(words[words.index("touched") + 1]), float(words[words.index("freed") + 1])
if len(s) < 60:
    sys.exit("only %d samples" % len(s))
base = min(kb for t, kb in s if t < 0.25)
high = [kb - base for t, kb in s if touched + 0.1 <= t <= freed - 0.1]
low = [kb - base for t, kb in s if freed + 0.2 <= t <= freed + 0.9]
if len(high) < 20 or min(high) < 60 * 1024 or max(high) > 72 * 1024:
    sys.exit("while held (%.2f-%.2f s): %s KiB above the start" % (touched, freed, high[:5]))
if len(low) < 20 or max(low) > 8 * 1024:
    sys.exit("after free at %.2f s: %s KiB above the start" % (freed, low[:5]))
PY
done

# every server started was stopped
for pid in $(cat "$RUN"/raw/*/*.log | sed -n 's/^server pid //p'); do
    process_gone "$pid" || fail "server $pid still running"
done

# SIGTERM while a server is under load: the server is stopped, exit 143
OUT2=$T/results-term
mkdir -p "$OUT2"
"$HM" run --allocators glibc --programs "$HERE/programs-slow" --filter '^program/' --program-runs 1 \
    --out "$OUT2" >"$T/out2.txt" 2>"$T/err2.txt" &
hm=$!
spid=
for i in $(seq 300); do
    spid=$(cat "$OUT2"/2*/raw/glibc/0001.log 2>/dev/null | sed -n 's/^server pid //p')
    [ -n "$spid" ] && break
    sleep 0.1
done
[ -n "$spid" ] || fail "the slow server never started: $(cat "$T/err2.txt")"
sleep 0.3
kill -TERM "$hm"
rc=0
wait "$hm" || rc=$?
[ "$rc" -eq 143 ] || fail "SIGTERM: exit $rc, want 143: $(cat "$T/err2.txt")"
for i in $(seq 50); do process_gone "$spid" && break; sleep 0.1; done
process_gone "$spid" || fail "SIGTERM left the server $spid running"
[ "$(meta "$OUT2/$(readlink "$OUT2/latest")/meta.json" 'm["state"]')" = interrupted ] || fail "meta.json not interrupted"

# a user's own command under two allocators, in the current folder
JEM=$(/sbin/ldconfig -p 2>/dev/null | awk '$1 == "libjemalloc.so.2" { print $NF; exit }')
[ -n "$JEM" ] || fail "libjemalloc.so.2 not found (scripts/bootstrap-deps.sh installs libjemalloc-dev)"
mkdir -p "$T/mine"
seq 300000 -1 1 >"$T/mine/nums.txt"
(cd "$T/mine" && "$HM" run --allocators "glibc,jem=$JEM" --program 'sort=sort -n nums.txt' \
    --program-runs 2 --out "$T/results-mine") >"$T/out3.txt" 2>"$T/err3.txt" || fail "--program: $(cat "$T/err3.txt")"
RUN3=$T/results-mine/$(readlink "$T/results-mine/latest")
"$PYTHON" "$HERE/check_run.py" "$RUN3" >/dev/null || fail "--program run folder inconsistent"
"$PYTHON" - "$RUN3" <<'PY' || fail "--program sort"
import json, os, sys
run = sys.argv[1]
rows = [json.loads(l) for l in open(run + "/runs.jsonl")]
assert [(r["allocator"], r["process"]) for r in rows] == [("glibc", 0), ("jem", 0), ("glibc", 1), ("jem", 1)], rows
for r in rows:
    assert r["status"] == "ok" and r["program"] == "sort", r
    assert r["library_mapped"] and r["wall_s"] > 0 and r["max_rss_kb"] > 0, r
    assert r["digest"] == rows[0]["digest"] and r["check"] == "output", r
    assert r["rss_samples"] >= 1 and os.path.getsize(os.path.join(run, r["rss"])) > 0, r
assert rows[1]["library"].endswith("libjemalloc.so.2"), rows[1]["library"]
meta = json.load(open(run + "/meta.json"))
assert meta["benchmarks"] == [] and [p["name"] for p in meta["programs"]] == ["sort"], meta
PY
# bad items: one line, nothing run
expect_fail 1 "command 'heapmark-no-such-command' not found" -- "$HM" run --allocators glibc \
    --program 'x=heapmark-no-such-command a' --out "$T/none"
expect_fail 1 "want NAME=CMD ARGS" -- "$HM" run --allocators glibc --program 'sort -n x' --out "$T/none"
mkdir -p "$T/bad"
printf 'command = sort\nfoo = 1\ncheck = none\n' >"$T/bad/x.def"
expect_fail 1 "x.def:2: unknown key 'foo'" -- "$HM" run --allocators glibc --programs "$T/bad" --out "$T/none"
printf 'command = sort\n' >"$T/bad/x.def"
expect_fail 1 "x.def: needs 'check = output'" -- "$HM" run --allocators glibc --programs "$T/bad" --out "$T/none"
printf 'command = sort {nope}\ncheck = none\n' >"$T/bad/x.def"
expect_fail 1 "unknown placeholder {nope}" -- "$HM" run --allocators glibc --programs "$T/bad" --out "$T/none"
[ ! -e "$T/none" ] || fail "a refused run left a folder"

# inputs are made again when a file of the tree that a set-up line names changes
mkdir -p "$T/stamped"
rm -rf "$ROOTDIR/build/programs/t-stamped"
echo one >"$TB/stamped-src.txt"
printf 'setup = cp {root}/build/runner-tests/stamped-src.txt in.txt\ncommand = cat {dir}/in.txt\ncheck = output\n' \
    >"$T/stamped/t-stamped.def"
stamped_run() { # $1: the tag of the run; prints stderr
    "$HM" run --allocators glibc --programs "$T/stamped" --filter '^program/' --program-runs 1 \
        --out "$T/results-stamped-$1" >/dev/null 2>"$T/err-stamped-$1.txt" ||
        fail "stamped run $1: $(cat "$T/err-stamped-$1.txt")"
}
stamped_run 1
grep -q "program t-stamped: making its inputs" "$T/err-stamped-1.txt" || fail "no set-up on the first run"
stamped_run 2
! grep -q "making its inputs" "$T/err-stamped-2.txt" || fail "set-up again with nothing changed"
echo two-longer >"$TB/stamped-src.txt"
stamped_run 3
grep -q "program t-stamped: making its inputs" "$T/err-stamped-3.txt" ||
    fail "the file the set-up names changed, yet its inputs were not made again"
[ "$(cat "$ROOTDIR/build/programs/t-stamped/in.txt")" = two-longer ] || fail "stale input after the change"

# microbenchmarks in separate processes: --processes 2 runs every instance x
# allocator once per round, the rounds one after the other
"$HM" run --allocators glibc,sable --filter '^malloc_free/size:(16|256)/(.*/)?threads:1$' --processes 2 \
    --profile quick --repetitions 1 --min-time 0.001 --out "$T/results-proc" >/dev/null 2>"$T/err4.txt" ||
    fail "--processes 2: $(cat "$T/err4.txt")"
RUN4=$T/results-proc/$(readlink "$T/results-proc/latest")
"$PYTHON" "$HERE/check_run.py" "$RUN4" >/dev/null || fail "--processes run folder inconsistent"
"$PYTHON" - "$RUN4" <<'PY' || fail "--processes 2"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1] + "/runs.jsonl")]
got = [(r["process"], r["benchmark"].split("/")[1], r["allocator"]) for r in rows]
want = [(p, s, a) for p in (0, 1) for s in ("size:16", "size:256") for a in ("glibc", "sable")]
assert got == want, got
assert json.load(open(sys.argv[1] + "/meta.json"))["options"]["processes"] == 2
PY
echo "programs: ok"
