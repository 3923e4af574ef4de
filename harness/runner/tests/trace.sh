#!/bin/bash
# trace.sh HEAPMARK TRACE_TARGET SCRATCH: `heapmark trace`.
#  - a program with known calls (trace_target): the exact event count, by
#    heapmark's summary and by bench/trace/dump.py (an independent reader)
#  - CMD's exit status comes back; CMD keeps its stdout
#  - the default name is new in the current folder, a second run never
#    overwrites the first; --out FILE that exists is refused, untouched
#  - FILE.gz is gzip data with the same events; two threads are counted
#  - the trace, put where the replay workload looks (HEAPMARK_TRACES), is an
#    instance of every bench binary, and the replay's process allocates
#    nothing for its own arrays
#  - --follow records through exec and keeps the busiest process
#  - bad uses: one clear line, their exit status, no file left behind
source "$(dirname "$0")/lib.sh"
HM=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
TARGET=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
scratch "$3"
ROOTDIR=$(cd "$(dirname "$HM")/.." && pwd)
DUMP=$ROOTDIR/bench/trace/dump.py

# summary EVENTS-LINE FIELD: a number from heapmark's summary line
events_of() { sed -n 's/.*: \([0-9]*\) events (.*/\1/p' "$1"; }
threads_of() { sed -n 's/.*), \([0-9]*\) threads\{0,1\}, .*/\1/p' "$1"; }
# dump.py's count of events and threads: "N events, T threads"
dump_counts() { "$PYTHON" "$DUMP" "$1" | sed -n '1s/.*: \([0-9]*\) events, \([0-9]*\) threads.*/\1 \2/p'; }

# 1. known calls: 2N+6 events, one thread, exit status 0; run from a scratch cwd
mkdir -p "$T/cwd"
(cd "$T/cwd" && "$HM" trace -- "$TARGET" 100 >"$T/out1.txt" 2>"$T/err1.txt") ||
    fail "trace of trace_target 100: exit $? $(cat "$T/err1.txt")"
files=("$T"/cwd/trace_target-*.hmt)
[ ${#files[@]} -eq 1 ] && [ -s "${files[0]}" ] || fail "want one trace_target-<stamp>.hmt: $(ls "$T/cwd")"
F1=${files[0]}
[ "$(events_of "$T/err1.txt")" = 206 ] || fail "want 206 events: $(cat "$T/err1.txt")"
[ "$(threads_of "$T/err1.txt")" = 1 ] || fail "want 1 thread: $(cat "$T/err1.txt")"
grep -q "malloc 100, calloc 1, aligned 1, realloc 2, free 102" "$T/err1.txt" ||
    fail "per-op counts: $(cat "$T/err1.txt")"
grep -q "$(stat -c %s "$F1") bytes" "$T/err1.txt" || fail "the size: $(cat "$T/err1.txt")"
[ "$(dump_counts "$F1")" = "206 1" ] || fail "dump.py reads $(dump_counts "$F1"), want 206 1"
[ ! -s "$T/out1.txt" ] || fail "heapmark wrote on stdout: $(cat "$T/out1.txt")"

# 2. a second run: a new file, the first untouched; CMD's exit status; N=7
cp "$F1" "$T/first.hmt"
(cd "$T/cwd" && "$HM" trace "$TARGET" 7 5 2>"$T/err2.txt")
rc=$?
[ $rc -eq 5 ] || fail "want CMD's exit status 5, got $rc: $(cat "$T/err2.txt")"
[ "$(ls "$T"/cwd/trace_target-*.hmt | wc -l)" -eq 2 ] || fail "second run: $(ls "$T/cwd")"
cmp -s "$F1" "$T/first.hmt" || fail "the first trace was overwritten"
[ "$(events_of "$T/err2.txt")" = 20 ] || fail "N=7: want 20 events: $(cat "$T/err2.txt")"
grep -q "exited with status 5" "$T/err2.txt" || fail "no word on the exit status: $(cat "$T/err2.txt")"

# 3. --out FILE.gz, two threads (one extra calloc: the new thread's TLS)
"$HM" trace --out "$T/two.hmt.gz" -- "$TARGET" 10 0 thread 2>"$T/err3.txt" ||
    fail "trace into .gz: $(cat "$T/err3.txt")"
gzip -t "$T/two.hmt.gz" || fail "two.hmt.gz is not gzip data"
[ "$(threads_of "$T/err3.txt")" = 2 ] || fail "want 2 threads: $(cat "$T/err3.txt")"
n=$(events_of "$T/err3.txt")
[ -n "$n" ] && [ "$n" -ge 32 ] && [ "$n" -le 34 ] || fail "want 32..34 events: $(cat "$T/err3.txt")"
[ "$(dump_counts "$T/two.hmt.gz")" = "$n 2" ] || fail "dump.py reads $(dump_counts "$T/two.hmt.gz")"
grep -q "uncompressed" "$T/err3.txt" || fail "no uncompressed size: $(cat "$T/err3.txt")"
[ -z "$(ls -A "$T" | grep heapmark-trace)" ] || fail "temporary file left: $(ls -A "$T")"

# 4. the replay workload finds it (HEAPMARK_TRACES) as replay/trace:NAME
mkdir -p "$T/traces"
cp "$T/two.hmt.gz" "$T/traces/two.hmt.gz"
cp "$F1" "$T/traces/known.hmt"
HEAPMARK_TRACES=$T/traces "$HM" list --allocators glibc --filter '^replay/' >"$T/list.txt" 2>&1 ||
    fail "list with HEAPMARK_TRACES: $(cat "$T/list.txt")"
grep -qx '  replay/trace:known/threads:1' "$T/list.txt" && grep -qx '  replay/trace:two/threads:1' "$T/list.txt" ||
    fail "the traces are not replay instances: $(cat "$T/list.txt")"

# 4a. the replay's own arrays do not come from the allocator under test: the
# bench process, itself traced, allocates nothing of 1 MiB or more (the
# loader read the file into a buffer of 1 MiB from malloc)
HEAPMARK_PRELOAD=libhmtrace.so HEAPMARK_TRACES=$T/traces "$HM" trace --out "$T/bench.hmt" -- \
    "$ROOTDIR/build/glibc/bench" --benchmark_filter='^replay/trace:known/' --benchmark_min_time=0.01 \
    >"$T/bench.txt" 2>&1 || fail "trace of the replay: $(cat "$T/bench.txt")"
grep -q 'replay/trace:known' "$T/bench.txt" || fail "the replay did not run: $(cat "$T/bench.txt")"
big=$("$PYTHON" "$DUMP" --events "$T/bench.hmt" | sed -n 's/.* size=\([0-9]*\).*/\1/p' | sort -n | tail -1)
[ -n "$big" ] && [ "$big" -lt 1048576 ] || fail "the replay's process allocated $big bytes at once"

# 4b. --follow: the program behind an exec, and the busiest of several processes
"$HM" trace --follow --out "$T/exec-f.hmt" -- /bin/sh -c "exec $TARGET 50" 2>"$T/err-f1.txt" ||
    fail "--follow through exec: $(cat "$T/err-f1.txt")"
[ "$(events_of "$T/err-f1.txt")" = 106 ] || fail "--follow through exec: want 106 events: $(cat "$T/err-f1.txt")"
"$HM" trace --follow --out "$T/many.hmt" -- /bin/sh -c "$TARGET 20; $TARGET 60; $TARGET 30" 2>"$T/err-f2.txt" ||
    fail "--follow, several: $(cat "$T/err-f2.txt")"
[ "$(events_of "$T/err-f2.txt")" = 126 ] || fail "--follow, several: want the 126 events of N=60: $(cat "$T/err-f2.txt")"
grep -q "the busiest of 4 recorded processes" "$T/err-f2.txt" || fail "--follow: process count: $(cat "$T/err-f2.txt")"
[ "$(dump_counts "$T/many.hmt")" = "126 1" ] || fail "--follow: dump.py reads $(dump_counts "$T/many.hmt")"
[ -z "$(ls -A "$T" | grep heapmark-trace)" ] || fail "temporary folder left: $(ls -A "$T")"

# 5. refusals: one line on stderr, the exit status, nothing written
cp "$T/first.hmt" "$T/exists.hmt"
expect_fail 1 "already exists; not overwriting" -- "$HM" trace --out "$T/exists.hmt" -- "$TARGET" 3
cmp -s "$T/exists.hmt" "$T/first.hmt" || fail "an existing --out file was changed"
expect_fail 127 "cannot run 'no-such-command-xyz': command not found" -- \
    "$HM" trace --out "$T/nf.hmt" -- no-such-command-xyz
[ ! -e "$T/nf.hmt" ] || fail "a file was left for a command that was not found"
expect_fail 126 "cannot run '$T/first.hmt': Permission denied" -- "$HM" trace --out "$T/np.hmt" "$T/first.hmt"
expect_fail 2 "no command given" -- "$HM" trace --out "$T/x.hmt"
expect_fail 2 "no command given" -- "$HM" trace
expect_fail 2 "--out needs a file" -- "$HM" trace --out= -- "$TARGET" 1
expect_fail 2 "does not apply" -- "$HM" trace --filter x -- "$TARGET" 1
expect_fail 1 "cannot create $T/no/dir/x.hmt" -- "$HM" trace --out "$T/no/dir/x.hmt" -- "$TARGET" 1
# a program that leaves by exec before anything is written: no trace, no file
expect_fail 1 "wrote no trace" -- "$HM" trace --out "$T/exec.hmt" -- /bin/sh -c "exec $TARGET 1"
[ ! -e "$T/exec.hmt" ] || fail "an empty trace was left behind"
# SIGTERM to heapmark alone reaches CMD; CMD's status comes back
"$HM" trace --out "$T/term.hmt" -- /bin/sh -c 'echo $$ >"$0"; exec sleep 30' "$T/child.pid" \
    >"$T/out.txt" 2>"$T/err.txt" &
hm_pid=$!
child=
for _ in $(seq 100); do
    [ -s "$T/child.pid" ] && child=$(cat "$T/child.pid") && break
    sleep 0.1
done
[ -n "$child" ] || fail "no child of heapmark trace to signal"
kill -TERM $hm_pid
wait $hm_pid
rc=$?
[ $rc -eq 143 ] || fail "SIGTERM: want exit 143, got $rc: $(cat "$T/err.txt")"
process_gone "$child" || fail "SIGTERM: CMD $child still runs"
grep -q "killed by SIGTERM before its trace was written" "$T/err.txt" || fail "SIGTERM: $(cat "$T/err.txt")"
[ ! -e "$T/term.hmt" ] || fail "SIGTERM: an empty trace was left"
# CMD's options are its own (not heapmark's)
"$HM" trace --out "$T/opt.hmt" "$TARGET" 3 4 --help >"$T/opt.txt" 2>&1
rc=$?
[ $rc -eq 4 ] && [ "$(events_of "$T/opt.txt")" = 12 ] || fail "CMD's --help: exit $rc, $(cat "$T/opt.txt")"
"$HM" trace --help | grep -q "replay/trace:NAME" || fail "--help does not say how to replay"
# no recorder: a copy of heapmark in a tree without build/lib/libhmtrace.so
mkdir -p "$T/bare/build"
cp "$HM" "$T/bare/build/heapmark"
expect_fail 1 "the recorder $T/bare/build/lib/libhmtrace.so is missing" -- \
    "$T/bare/build/heapmark" trace --out "$T/bare.hmt" -- "$TARGET" 1
[ ! -e "$T/bare.hmt" ] || fail "a file was left without a recorder"

echo "trace: 206 events as made, exit status passed on, never overwrites, .gz, 2 threads, replayable (the replay allocating for the trace alone), --follow; refusals and SIGTERM clear"
