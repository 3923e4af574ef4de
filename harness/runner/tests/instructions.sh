#!/bin/bash
# instructions.sh HEAPMARK FAKE_BENCH TRACE_TARGET SCRATCH: `heapmark run --instructions`.
#  - the real bench binaries of glibc and sable, malloc_free/size:64: each
#    single-thread instance runs once under callgrind and records a plausible
#    instructions_per_op (= instructions / operations, with the callgrind
#    summary kept); the threads:2 instance is skipped and listed in meta.json
#  - a second run gives the same instructions_per_op for each allocator:
#    the figure is repeatable, which times are not
#  - a threads:1 instance whose process starts threads (the replay of a
#    two-thread trace) is ok but not counted, with a note
#  - a binary that writes no operation count is recorded as garbage, an
#    exit status as error (fake_bench)
#  - refusals: --repetitions, no single-thread instance, no valgrind
source "$(dirname "$0")/lib.sh"
HM=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
FAKE=$2
TARGET=$(cd "$(dirname "$3")" && pwd)/$(basename "$3")
scratch "$4"
command -v valgrind >/dev/null || fail "valgrind is not installed (scripts/bootstrap-deps.sh installs it)"
ROOTDIR=$(cd "$(dirname "$HM")/.." && pwd)
for a in glibc sable; do
    [ -x "$ROOTDIR/build/$a/bench" ] || fail "build/$a/bench is not built"
done

FILTER='^malloc_free/size:64/'
ARGS=(--instructions --allocators glibc,sable --filter "$FILTER")

# per_op RUN: "allocator benchmark instructions_per_op operations" per line
per_op() {
    "$PYTHON" -c '
import json, sys
for line in open(sys.argv[1] + "/runs.jsonl"):
    r = json.loads(line)
    print(r["allocator"], r["benchmark"], r["instructions_per_op"], r["operations"])' "$1"
}

for k in 1 2; do
    nice "$HM" run "${ARGS[@]}" --out "$T/r$k" >"$T/out$k.txt" 2>"$T/err$k.txt" ||
        fail "run $k: $(cat "$T/err$k.txt")"
    RUN=$(only_run "$T/r$k")
    "$PYTHON" "$HERE/check_run.py" "$RUN" >"$T/table$k.txt" || fail "run $k: the run folder"
    [ "$(awk '{print $2, $3, $4}' "$T/table$k.txt")" = "$(printf '%s\n%s' \
        'glibc malloc_free/size:64/real_time/threads:1 ok' 'sable malloc_free/size:64/real_time/threads:1 ok')" ] ||
        fail "run $k: want one ok process per allocator: $(cat "$T/table$k.txt")"
    [ "$(meta "$RUN/meta.json" 'm["options"]["instructions"], m["options"]["repetitions"], m["options"]["min_time_s"]')" = "(True, 1, 1e-09)" ] ||
        fail "run $k: meta.json options: $(meta "$RUN/meta.json" 'm["options"]')"
    [ "$(meta "$RUN/meta.json" '[s["benchmark"] for s in m["skipped"]]')" = \
        "['malloc_free/size:64/real_time/threads:2']" ] ||
        fail "run $k: the threads:2 instance is not listed as skipped: $(meta "$RUN/meta.json" 'm["skipped"]')"
    grep -q "skips 1 instance with more than one thread" "$T/err$k.txt" || fail "run $k: no note of the skip"
    per_op "$RUN" >"$T/perop$k.txt"
    while read -r a b v _; do
        "$PYTHON" -c 'import sys; v = float(sys.argv[1]); sys.exit(0 if 5 <= v <= 5000 else 1)' "$v" ||
            fail "run $k: $a $b: instructions_per_op $v is not plausible"
    done <"$T/perop$k.txt"
    grep -q "instructions/op" "$T/err$k.txt" || fail "run $k: the progress lines show no count"
    # the table on stdout: the same figures, glibc then sable
    want=$(awk '{ v[$1] = $3 } END { printf "malloc_free/size:64/real_time/threads:1 %.2f %.2f", v["glibc"], v["sable"] }' \
        "$T/perop$k.txt")
    [ "$(sed -n 2p "$T/out$k.txt" | awk '{print $1, $2, $3}')" = "benchmark glibc sable" ] &&
        [ "$(sed -n 3p "$T/out$k.txt" | awk '{print $1, $2, $3}')" = "$want" ] ||
        fail "run $k: the table on stdout, want '$want':
$(cat "$T/out$k.txt")"
done
cmp -s "$T/perop1.txt" "$T/perop2.txt" || fail "instructions_per_op or operations differ between two runs:
$(paste "$T/perop1.txt" "$T/perop2.txt")"

# a process that starts threads: ok, not counted, a note
mkdir -p "$T/traces"
"$HM" trace --out "$T/traces/two.hmt" -- "$TARGET" 10 0 thread 2>"$T/trace.txt" ||
    fail "trace: $(cat "$T/trace.txt")"
HEAPMARK_TRACES=$T/traces nice "$HM" run --instructions --allocators glibc --filter '^replay/trace:two/' \
    --out "$T/mt" >"$T/out-mt.txt" 2>"$T/err-mt.txt" || fail "replay run: $(cat "$T/err-mt.txt")"
[ "$(sed -n 3p "$T/out-mt.txt" | awk '{print $1, $2}')" = "replay/trace:two/threads:1 -" ] ||
    fail "replay run: the table shows a count: $(cat "$T/out-mt.txt")"
RUN=$(only_run "$T/mt")
"$PYTHON" "$HERE/check_run.py" "$RUN" >/dev/null || fail "replay run: the run folder"
[ "$(meta "$RUN/meta.json" 'm["skipped"]')" = "[]" ] || fail "replay run: something skipped"
got=$("$PYTHON" -c 'import json,sys; r = json.loads(open(sys.argv[1]).readline())
print(r["status"], r["instructions_per_op"], r["process_threads"], "threads" in (r["note"] or ""))' \
    "$RUN/runs.jsonl")
[ "$got" = "ok None 2 True" ] || fail "a two-thread replay: want 'ok None 2 True', got '$got'"

# fake_bench under callgrind: counted (1000 operations); no operation count
# -> garbage; exit 3 -> error; not under callgrind -> garbage
REAL=$HM
make_root "$HM" "$FAKE" fake
"$HM" run --instructions --filter '^(ok/a|exit/3)$' --out "$T/f1" 2>"$T/err-fake.txt" ||
    fail "fake run: $(cat "$T/err-fake.txt")"
RUN=$(only_run "$T/f1")
"$PYTHON" "$HERE/check_run.py" "$RUN" >"$T/table-fake.txt" || fail "fake run: the run folder"
[ "$(awk '{print $3, $4}' "$T/table-fake.txt")" = "$(printf 'ok/a ok\nexit/3 error')" ] ||
    fail "fake run: $(cat "$T/table-fake.txt")"
got=$(per_op "$RUN" | awk '{ print $2, ($3 == "None" ? "None" : ($3 > 0 ? "counted" : $3)), $4 }' | tr '\n' ' ')
[ "$got" = "ok/a counted 1000 exit/3 None None " ] || fail "fake run: want ok/a counted over its 1000 operations: $got"
FAKE_NO_COUNT=1 "$HM" run --instructions --filter '^ok/a$' --out "$T/f2" 2>"$T/err-fake.txt" ||
    fail "fake run 2: $(cat "$T/err-fake.txt")"
RUN=$(only_run "$T/f2")
"$PYTHON" "$HERE/check_run.py" "$RUN" >"$T/table-fake.txt" || fail "fake run 2: the run folder"
[ "$(awk '{print $3, $4}' "$T/table-fake.txt")" = "ok/a garbage" ] || fail "fake run 2: $(cat "$T/table-fake.txt")"
grep -q '"reason": "exited 0 but wrote no operation count' "$RUN/runs.jsonl" ||
    fail "fake run 2: the reason of the garbage: $(head -1 "$RUN/runs.jsonl")"
# a "valgrind" that runs the program without callgrind
mkdir -p "$T/fakevg"
printf '#!/bin/sh\nwhile [ "${1#-}" != "$1" ]; do shift; done\nexec "$@"\n' >"$T/fakevg/valgrind"
chmod +x "$T/fakevg/valgrind"
PATH=$T/fakevg:$PATH "$HM" run --instructions --filter '^ok/a$' --out "$T/f3" 2>"$T/err-fake.txt" ||
    fail "fake run 3: $(cat "$T/err-fake.txt")"
RUN=$(only_run "$T/f3")
"$PYTHON" "$HERE/check_run.py" "$RUN" >"$T/table-fake.txt" || fail "fake run 3: the run folder"
[ "$(awk '{print $3, $4}' "$T/table-fake.txt")" = "ok/a garbage" ] || fail "fake run 3: $(cat "$T/table-fake.txt")"
grep -q '"reason": "the benchmark did not run under callgrind"' "$RUN/runs.jsonl" ||
    fail "fake run 3: the reason: $(head -1 "$RUN/runs.jsonl")"

# refusals: one line, nothing run
HM=$REAL
expect_fail 2 "--repetitions does not apply" -- "$HM" run "${ARGS[@]}" --repetitions 3 --out "$T/no"
expect_fail 1 "single-thread instances (threads:1) only" -- \
    "$HM" run --instructions --allocators glibc --filter '/threads:2$' --out "$T/no"
expect_fail 1 "needs valgrind" -- env PATH="$T/empty-path" "$HM" run "${ARGS[@]}" --out "$T/no"
[ ! -e "$T/no" ] || fail "a refused run left $T/no"

echo "instructions (per op, operations): $(tr '\n' ' ' <"$T/perop1.txt")(the same twice); threads:2 skipped; a threaded process not counted; garbage/error recorded; refusals clear"
