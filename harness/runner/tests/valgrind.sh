#!/bin/bash
# valgrind.sh HEAPMARK FAKE_BENCH SCRATCH: the runner itself has no memory
# errors (Valgrind memcheck) while it lists, runs and records every kind of
# result (a variant's too), runs the conformance binaries, and while it
# refuses bad input.
source "$(dirname "$0")/lib.sh"
scratch "$3"
make_root "$1" "$2" fake fake2
# `heapmark trace` looks for the recorder in its own tree
mkdir -p "$ROOT/build/lib"
ln -s "$(cd "$(dirname "$1")" && pwd)/lib/libhmtrace.so" "$ROOT/build/lib/libhmtrace.so"
TB=$(cd "$(dirname "$1")" && pwd)/runner-tests
mkdir -p "$T/defs"
command -v valgrind >/dev/null || fail "valgrind is missing (scripts/bootstrap-deps.sh installs it)"
VG=(valgrind -q --error-exitcode=99 --leak-check=no)

"${VG[@]}" "$HM" list >/dev/null 2>"$T/list.txt" || fail "list under valgrind: $(cat "$T/list.txt")"
"${VG[@]}" "$HM" run --processes 1 --filter '^(ok/a|crash/segv|garbage/text|garbage/empty|error/x|exit/3|wrongname/x|ok/x.*)$' \
    --timeout 30 --repetitions 2 >/dev/null 2>"$T/run.txt" || fail "run under valgrind: $(cat "$T/run.txt")"
grep -q '16 processes in .*: 4 ok, 4 error, 2 crash, 6 garbage' "$T/run.txt" || fail "run summary: $(cat "$T/run.txt")"
# a real program (its library /fake/fake is never mapped: unproven) and a server
printf 'server = %s serve {port}\nclient = %s client {port} 20\ncheck = none\n' \
    "$TB/prog_target" "$TB/prog_target" >"$T/defs/srv.def"
"${VG[@]}" "$HM" run --allocators fake --programs "$T/defs" --program 'p=/bin/echo hi' --filter '^program/' \
    --program-runs 1 >/dev/null 2>"$T/prog.txt" || fail "programs under valgrind: $(cat "$T/prog.txt")"
grep -q "2 processes in .*: 1 ok, 1 unproven\|2 processes in .*: 2 unproven" "$T/prog.txt" ||
    fail "programs summary: $(cat "$T/prog.txt")"
"${VG[@]}" "$HM" run --instructions --filter '^(ok/a|exit/3)$' --timeout 30 >/dev/null 2>"$T/instr.txt" ||
    fail "run --instructions under valgrind: $(cat "$T/instr.txt")"
grep -q "4 processes in .*: 2 ok, 2 error" "$T/instr.txt" || fail "instructions summary: $(cat "$T/instr.txt")"
"${VG[@]}" "$HM" trace --out "$T/t.hmt.gz" -- /bin/true 2>"$T/trace.txt" ||
    fail "trace under valgrind: $(cat "$T/trace.txt")"
"${VG[@]}" "$HM" trace --follow --out "$T/f.hmt" -- /bin/sh -c '/bin/true; /bin/true' 2>"$T/trace.txt" ||
    fail "trace --follow under valgrind: $(cat "$T/trace.txt")"
grep -q "busiest of 3 recorded processes" "$T/trace.txt" || fail "trace --follow: $(cat "$T/trace.txt")"
rc=0
"${VG[@]}" "$HM" run --processes 1 --allocators fake,nope >/dev/null 2>"$T/bad.txt" || rc=$?
[ $rc -eq 1 ] || fail "bad allocator under valgrind: exit $rc: $(cat "$T/bad.txt")"
"${VG[@]}" "$HM" run --processes 1 --allocators 'fake,fv=fake:HEAPMARK_TEST_ENV=a\,b\:c:HEAPMARK_TEST_TWO=2' --filter '^ok/a$' \
    --repetitions 1 >/dev/null 2>"$T/variant.txt" || fail "a variant under valgrind: $(cat "$T/variant.txt")"
grep -q '2 processes in .*: 2 ok' "$T/variant.txt" || fail "variant summary: $(cat "$T/variant.txt")"
for bad in 'v=fake:A=1:A=2' 'v=fake:A' 'v=nope:A=1' 'v=fake:A=1\'; do
    rc=0
    "${VG[@]}" "$HM" run --processes 1 --allocators "$bad" >/dev/null 2>"$T/bad.txt" || rc=$?
    [ $rc -eq 1 ] || fail "bad variant $bad under valgrind: exit $rc: $(cat "$T/bad.txt")"
done
# a conformance run: two binaries at a time
"${VG[@]}" "$HM" conformance --allocators fake,fake2 --filter AL- >/dev/null 2>"$T/conf.txt" ||
    fail "conformance under valgrind: $(cat "$T/conf.txt")"
grep -q '^\[2/2\] fake.*: done' "$T/conf.txt" || fail "conformance progress: $(cat "$T/conf.txt")"
rc=0
"${VG[@]}" "$HM" run --processes 1 --filter nothing >/dev/null 2>"$T/bad.txt" || rc=$?
[ $rc -eq 1 ] || fail "empty filter under valgrind: exit $rc: $(cat "$T/bad.txt")"
echo "valgrind: list, a run with every kind of result, real programs and a server, run --instructions, trace, a variant, conformance and refusals are clean"
