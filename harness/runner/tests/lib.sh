# lib.sh: shared by the runner's test scripts (sourced, bash).
#
# Every test works in its own scratch folder $T (under build/), and most in
# a throw-away tree $T/root that looks like a heapmark checkout: a copy of
# build/heapmark (it finds its root from its own path) and fake allocators
# whose bench/conformance binaries are the fake_bench test program.
set -u
PYTHON=/usr/bin/python3
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# scratch DIR: an empty folder
scratch() {
    T=$1
    rm -rf "$T"
    mkdir -p "$T"
    T=$(cd "$T" && pwd)
}

# make_root HEAPMARK FAKE_BENCH NAME...: $T/root with fake allocators NAME...
make_root() {
    local heapmark=$1 fake=$2
    shift 2
    ROOT=$T/root
    mkdir -p "$ROOT/build" "$ROOT/results"
    cp "$heapmark" "$ROOT/build/heapmark"
    local a
    for a in "$@"; do
        mkdir -p "$ROOT/build/$a"
        ln -s "$(cd "$(dirname "$fake")" && pwd)/$(basename "$fake")" "$ROOT/build/$a/bench"
        ln -s "$(cd "$(dirname "$fake")" && pwd)/$(basename "$fake")" "$ROOT/build/$a/conformance"
    done
    HM=$ROOT/build/heapmark
}

# expect_fail CODE WORDS -- COMMAND...: COMMAND exits with CODE (or any
# non-zero when CODE is '!'), prints exactly one line on stderr containing
# WORDS, and nothing on stdout.
expect_fail() {
    local code=$1 words=$2
    shift 3
    local rc=0
    "$@" >"$T/out.txt" 2>"$T/err.txt" || rc=$?
    if [ "$code" = '!' ]; then
        [ $rc -ne 0 ] || fail "exit 0 from: $*"
    else
        [ $rc -eq "$code" ] || fail "exit $rc (want $code) from: $* -- $(cat "$T/err.txt")"
    fi
    [ "$(wc -l <"$T/err.txt")" -eq 1 ] || fail "want one line on stderr from: $*, got: $(cat "$T/err.txt")"
    grep -qF -- "$words" "$T/err.txt" || fail "stderr of: $* lacks '$words': $(cat "$T/err.txt")"
    [ ! -s "$T/out.txt" ] || fail "output on stdout from: $*"
}

# the one run folder under DIR (fails unless there is exactly one)
only_run() {
    local n
    n=$(find "$1" -mindepth 1 -maxdepth 1 -type d | wc -l)
    [ "$n" -eq 1 ] || fail "want one run folder in $1, found $n"
    find "$1" -mindepth 1 -maxdepth 1 -type d
}

# meta FILE EXPR [ARG...]: evaluates a Python expression on the parsed JSON
# file (m); the ARGs are sys.argv[3:]
meta() {
    "$PYTHON" -c 'import json,sys; m=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"
}

# process_gone PID: not running (gone, or a zombie waiting for init)
process_gone() {
    [ ! -e "/proc/$1/stat" ] && return 0
    [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]
}
