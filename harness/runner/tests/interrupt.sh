#!/bin/bash
# interrupt.sh HEAPMARK FAKE_BENCH SCRATCH: SIGTERM (and SIGINT) in the
# middle of a run kill the running child, keep every finished result, leave
# meta.json saying "interrupted", and exit 143 (130).
source "$(dirname "$0")/lib.sh"
scratch "$3"
make_root "$1" "$2" fake fake2

# waits until FILE has at least N lines (at most 60 s)
wait_lines() {
    local i
    for i in $(seq 600); do
        [ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ] && return 0
        sleep 0.1
    done
    fail "$1 never reached $2 lines"
}

for case in TERM:143 INT:130; do
    sig=${case%:*} code=${case#*:}
    out=$T/out-$sig
    mkdir -p "$out"
    # ok/a ok/b for both allocators, then hang/x, which never ends by itself
    # (a script's background job starts with SIGINT ignored: undo that)
    env --default-signal=INT "$HM" run --processes 1 --filter '^(ok/a|ok/b|hang/x)$' --timeout 30 --out "$out" \
        >"$T/stdout-$sig.txt" 2>"$T/stderr-$sig.txt" &
    pid=$!
    # the four ok processes are recorded, then the first hang/x is running
    run=
    for i in $(seq 600); do
        run=$(find "$out" -mindepth 1 -maxdepth 1 -type d | head -1)
        [ -n "$run" ] && break
        sleep 0.1
    done
    [ -n "$run" ] || fail "no run folder appeared"
    wait_lines "$run/runs.jsonl" 4
    for i in $(seq 600); do
        grep -qs '^grandchild' "$run/raw/fake/0005.log" && break
        sleep 0.1
    done
    gc=$(sed -n 's/^grandchild //p' "$run/raw/fake/0005.log")
    [ -n "$gc" ] || fail "hang/x never started"
    kill -"$sig" "$pid"
    rc=0
    wait "$pid" || rc=$?
    [ "$rc" -eq "$code" ] || fail "SIG$sig: exit $rc, want $code"
    grep -q "interrupted by SIG$sig" "$T/stderr-$sig.txt" || fail "no interruption message: $(cat "$T/stderr-$sig.txt")"

    "$PYTHON" "$HERE/check_run.py" "$run" >"$T/table-$sig.txt" || fail "SIG$sig: run folder inconsistent"
    [ "$(meta "$run/meta.json" 'm["state"], m["planned"], m["done"], m["finished"] is not None')" = \
      "('interrupted', 6, 4, True)" ] || fail "SIG$sig: meta.json $(meta "$run/meta.json" '(m["state"], m["planned"], m["done"])')"
    [ "$(awk '{print $4}' "$T/table-$sig.txt" | sort | uniq -c | awk '{print $1, $2}')" = "4 ok" ] ||
        fail "SIG$sig: want the 4 finished results: $(cat "$T/table-$sig.txt")"
    [ ! -e "$run/raw/fake/0005.json" ] || fail "SIG$sig: the killed child's partial JSON is left"
    [ "$(readlink "$out/latest")" = "$(basename "$run")" ] || fail "SIG$sig: latest does not point at the run"
    # the running child and what it started are gone
    for i in $(seq 50); do process_gone "$gc" && break; sleep 0.1; done
    process_gone "$gc" || fail "SIG$sig: the running benchmark's process group survived"
done
# while the runner is still asking the binaries for their benchmarks: it
# stops at once, runs nothing and leaves no folder
out=$T/out-plan
mkdir -p "$out"
FAKE_MARKER=$T/marker FAKE_LIST_SLEEP_MS=20000 FAKE_LIST_STARTED=$T/listing \
    "$HM" run --processes 1 --out "$out" >/dev/null 2>"$T/stderr-plan.txt" &
pid=$!
for i in $(seq 600); do
    [ -e "$T/listing" ] && break
    sleep 0.1
done
[ -e "$T/listing" ] || fail "the runner never started listing"
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
[ $rc -eq 143 ] || fail "SIGTERM while planning: exit $rc"
grep -q 'interrupted by SIGTERM before anything ran' "$T/stderr-plan.txt" || fail "planning: $(cat "$T/stderr-plan.txt")"
[ -z "$(ls -A "$out")" ] && [ ! -e "$T/marker" ] || fail "something ran or a folder was made"

echo "interrupt: SIGTERM -> 143, SIGINT -> 130; 4 of 6 results kept, meta.json interrupted; SIGTERM while planning: nothing made"
