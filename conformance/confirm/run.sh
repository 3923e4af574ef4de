#!/bin/bash
# Builds the standalone confirmation programs against glibc, jemalloc,
# mimalloc, tcmalloc, tbbmalloc and scudo (no heapmark code) and runs them:
# the second, independent means by which every fail/crash/timeout recorded in
# conformance/expected/ was confirmed. An allocator whose library is not
# installed is left out with a notice.
# Usage: conformance/confirm/run.sh   (from anywhere; output in build/confirm)
set -u
cd "$(dirname "$0")/../.."
out=build/confirm
mkdir -p "$out"
arch=$(gcc -dumpmachine | cut -d- -f1)
scudo=$(clang -print-file-name="libclang_rt.scudo_standalone-$arch.so" 2>/dev/null)
declare -A libs=([glibc]="" [jemalloc]="-ljemalloc" [mimalloc]="-lmimalloc"
                 [tcmalloc]="-l:libtcmalloc_minimal.so.4" [tbbmalloc]="-l:libtbbmalloc_proxy.so.2"
                 [scudo]="$scudo -Wl,-rpath,${scudo%/*}")
progs="calls first_call_oom oom_loop oom_threads fork_in_handler overcommit fork_new_threads"
run() { # LABEL TIMEOUT PROGRAM [ARGS]: one line with its end when it did not exit 0
    local label=$1 limit=$2
    shift 2
    timeout "$limit" "$@"
    local rc=$?
    if [ $rc = 124 ]; then
        echo "$label: no end within $limit s (killed)"
    elif [ $rc -ge 128 ]; then
        echo "$label: killed by signal $((rc - 128))"
    elif [ $rc != 0 ]; then
        echo "$label: exit status $rc"
    fi
}
for a in glibc jemalloc mimalloc tcmalloc tbbmalloc scudo; do
    ok=1
    for prog in $progs; do
        gcc -std=gnu11 -O2 -fno-builtin -o "$out/$prog-$a" "conformance/confirm/$prog.c" \
            ${libs[$a]} -lpthread 2>"$out/$prog-$a.build" || ok=0
    done
    if [ $ok = 0 ]; then
        echo "== $a: not built, its library is missing ($(head -1 "$out/calls-$a.build"))"
        continue
    fi
    echo "== $a"
    "$out/calls-$a"
    run "requests beyond RAM+swap" 60 "$out/overcommit-$a"
    run "first malloc of new threads at OOM" 20 "$out/first_call_oom-$a" >/dev/null 2>"$out/first_call_oom-$a.err"
    echo "first malloc of new threads at OOM: $(tail -1 "$out/first_call_oom-$a.err")"
    run "oom loop" 30 "$out/oom_loop-$a"
    run "valloc in 9 threads at OOM" 30 "$out/oom_threads-$a" 2>/dev/null | tail -1
    run "fork in a signal handler" 10 "$out/fork_in_handler-$a" 2>/dev/null
    run "fork while new threads allocate" 120 "$out/fork_new_threads-$a"
done
