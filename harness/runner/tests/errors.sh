#!/bin/bash
# errors.sh HEAPMARK FAKE_BENCH SCRATCH: every bad input gives one clear line
# on stderr and a non-zero exit before anything runs: no benchmark process
# started (the fake binaries note each one in $FAKE_MARKER) and no run
# folder created.
source "$(dirname "$0")/lib.sh"
scratch "$3"
make_root "$1" "$2" fake fake2 glibc
export FAKE_MARKER=$T/marker
RES=$ROOT/results

nothing_ran() {
    [ ! -e "$FAKE_MARKER" ] || fail "a benchmark ran after: $*"
    [ -z "$(ls -A "$RES")" ] || fail "a run folder was created after: $*"
}

check() { # CODE WORDS -- ARGS...
    local code=$1 words=$2
    shift 3
    expect_fail "$code" "$words" -- "$HM" "$@"
    nothing_ran "$@"
}

# the command line
check 2 "unknown command 'rn'" -- rn
check 2 "unknown option '--bogus'" -- run --bogus
check 2 "unknown option '-x'" -- run -x
check 2 "option '--filter' needs a value" -- run --filter
check 2 "--repetitions must be a whole number from 1 to 1000, not '0'" -- run --repetitions 0
check 2 "--repetitions must be a whole number from 1 to 1000, not '2x'" -- run --repetitions 2x
check 2 "--min-time must be a number of seconds above 0, not '-1'" -- run --min-time -1
check 2 "--min-time must be a number of seconds above 0, not '0.5s'" -- run --min-time 0.5s
check 2 "--timeout must be a number of seconds above 0, not 'nan'" -- run --timeout nan
check 2 "unknown profile 'fast'" -- run --profile fast
check 2 "option '--out' does not apply to this command" -- list --out x
check 2 "option '--jobs' does not apply to this command" -- run --jobs 2
check 2 "unknown option '--check'" -- conformance --check
check 2 "unexpected argument 'extra'" -- run extra
# what to run
check 1 "unknown allocator 'nope': there is no build/nope/bench (built: glibc, fake, fake2;" -- run --allocators fake,nope
check 1 "allocator 'fake' is given twice" -- run --allocators fake,fake
check 1 "bad allocator name '../x'" -- run --allocators ../x
check 1 "allocator 'x': library $T/missing.so: No such file or directory" -- run --allocators "x=$T/missing.so"
check 1 "--filter 'zzz' matches none of the 13 benchmarks of profile default" -- run --filter zzz
check 1 "bad --filter '(':" -- run --filter '('
# variants: NAME=BASE:VAR=VAL[:VAR=VAL...]
check 1 "allocator 'v': its base 'nope' is not a built allocator: there is no build/nope/bench (built: glibc, fake, fake2;" -- \
    run --allocators v=nope:A=1
check 1 "allocator 'w': its base 'v' is not a built allocator" -- run --allocators v=fake:A=1,w=v:B=2
check 1 "allocator 'v': 'A' is not VAR=VALUE (a variant is NAME=BASE:VAR=VALUE[:VAR=VALUE...])" -- \
    run --allocators v=fake:A
check 1 "allocator 'v': 'B' is not VAR=VALUE" -- run --allocators v=fake:A=1:B
check 1 "allocator 'v': no VAR=VALUE after 'fake:'" -- run --allocators v=fake:
check 1 "allocator 'v': bad variable name '1A'" -- run --allocators v=fake:1A=2
check 1 "allocator 'v': bad variable name 'A-B'" -- run --allocators v=fake:A-B=2
check 1 "allocator 'v': bad variable name ''" -- run --allocators v=fake:=2
check 1 "allocator 'v': variable A is given twice" -- run --allocators v=fake:A=1:A=2
check 1 "allocator 'v': LD_PRELOAD is set by heapmark itself" -- run --allocators v=fake:LD_PRELOAD=/x.so
check 1 "allocator 'v': HEAPMARK_PROFILE is set by heapmark itself" -- run --allocators v=fake:HEAPMARK_PROFILE=full
check 1 "allocator 'fake' is given twice" -- run --allocators fake,fake=fake:A=1
check 1 "allocator 'v': library $T/missing.so: No such file or directory" -- run --allocators "v=$T/missing.so:A=1"
check 1 "--allocators ends in a lone '\\'" -- run --allocators 'v=fake:A=1\'
FAKE_UNVERIFIED=1 check 1 "allocator 'fake': malloc in build/fake/bench comes from /fake/libc.so.6, not from libfake" -- run --allocators fake
# a relative library path is resolved against the current folder
(cd "$T" && expect_fail 1 "allocator 'rel': library $T/nothere.so" -- "$HM" run --allocators rel=nothere.so)
# glibc's binary is what a preloaded library runs on
mv "$ROOT/build/glibc" "$T/glibc.away"
check 1 "allocator 'p' runs glibc's bench binary under LD_PRELOAD, but build/glibc/bench is missing" -- \
    run --allocators "p=$2"
mv "$T/glibc.away" "$ROOT/build/glibc"

# where the results go
touch "$T/afile"
check 1 "cannot create the results folder $T/afile/sub: Not a directory" -- run --out "$T/afile/sub"
[ -z "$(ls -A "$RES")" ] || fail "results/ touched"
HEAPMARK_MIN_FREE_MB=lots check 1 "HEAPMARK_MIN_FREE_MB must be a whole number of megabytes, not 'lots'" -- run
HEAPMARK_MIN_FREE_MB=999999999 check 1 "a run needs at least 999999999 MB (HEAPMARK_MIN_FREE_MB)" -- run
if [ "$(id -u)" != 0 ]; then
    mkdir "$T/ro" && chmod 555 "$T/ro"
    check 1 "$T/ro" -- run --out "$T/ro"
    chmod 755 "$T/ro"
fi
# a read-only file system refuses even root: /proc/self is one
expect_fail 1 "cannot" -- "$HM" run --out /proc/self/heapmark-results
nothing_ran "--out /proc/self/heapmark-results"

# help is not an error
for c in list run conformance; do
    "$HM" $c --help >"$T/help.txt" 2>&1 || fail "$c --help exited non-zero"
    grep -q "usage: heapmark $c" "$T/help.txt" || fail "$c --help prints no usage"
done
"$HM" --help | grep -q 'usage: heapmark <command>' || fail "--help"
"$HM" >/dev/null 2>&1 && fail "no command must be an error"

# and the same inputs that are right do run
"$HM" run --allocators fake --filter '^ok/a$' --repetitions 1 >/dev/null 2>"$T/err.txt" ||
    fail "a good run failed: $(cat "$T/err.txt")"
[ -s "$FAKE_MARKER" ] || fail "the good run did not run"
# git_revision: the commit, with -dirty when a tracked file changed
g() { git -C "$ROOT" -c user.name=heapmark -c user.email=heapmark@localhost "$@"; }
echo 'tracked' >"$ROOT/file.txt"
g init -q && g add file.txt && g commit -qm test || fail "git init in the scratch tree"
rev=$(g rev-parse --short=12 HEAD)
"$HM" run --allocators fake --filter '^ok/a$' --out "$T/git" 2>/dev/null || fail "run in a git tree"
[ "$(meta "$T/git/latest/meta.json" 'm["git_revision"]')" = "$rev" ] || fail "git_revision of a clean tree"
echo 'changed' >"$ROOT/file.txt"
"$HM" run --allocators fake --filter '^ok/a$' --out "$T/git" 2>/dev/null || fail "run in a dirty git tree"
[ "$(meta "$T/git/latest/meta.json" 'm["git_revision"]')" = "$rev-dirty" ] || fail "git_revision of a dirty tree"
echo "errors: every bad input refused with one line, nothing run"
