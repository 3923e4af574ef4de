#!/bin/bash
# preload.sh LIBSABLE OUTDIR: real programs under LD_PRELOAD=libsable.so give
# byte-identical output to the same runs on glibc, and each preloaded run
# proves that sable was loaded (ld.so's LD_DEBUG=libs trace of that very
# process names libsable.so as initialised).
#   1. python3 running a dict-, list-, set- and string-heavy script
#   2. sort of a generated 50 MB file
set -u
lib=$(readlink -f "$1")
out=$2
here=$(dirname "$0")
rm -rf "$out" && mkdir -p "$out"
fail=0

# runs "$@" with sable preloaded; stdout to $1, fails unless sable was loaded
run_sable() {
    local dest=$1; shift
    LD_DEBUG=libs LD_DEBUG_OUTPUT="$out/ld" LD_PRELOAD="$lib" "$@" >"$dest"
    local rc=$?
    if ! cat "$out"/ld.* 2>/dev/null | grep -q "calling init: $lib"; then
        echo "FAIL: $* did not load $lib"; fail=1
    fi
    rm -f "$out"/ld.*
    return $rc
}

compare() {
    if cmp -s "$1" "$2"; then
        echo "ok: $3 ($(wc -c <"$1") bytes, identical)"
    else
        echo "FAIL: $3: outputs differ"; fail=1
    fi
}

py=/usr/bin/python3
$py "$here/workload.py" >"$out/py.glibc" || { echo "FAIL: python3 on glibc"; fail=1; }
run_sable "$out/py.sable" $py "$here/workload.py" || { echo "FAIL: python3 on sable"; fail=1; }
compare "$out/py.glibc" "$out/py.sable" "python3 workload.py"

$py -c '
import random, sys
r = random.Random(42)
w = sys.stdout.write
words = ["".join(r.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(r.randint(3, 12))) for _ in range(5000)]
size = 0
while size < 50_000_000:
    line = "%s %d %s\n" % (r.choice(words), r.randint(0, 10**9), r.choice(words))
    w(line); size += len(line)
' >"$out/input.txt"
LC_ALL=C sort -S 64M "$out/input.txt" >"$out/sort.glibc" || { echo "FAIL: sort on glibc"; fail=1; }
LC_ALL=C run_sable "$out/sort.sable" sort -S 64M "$out/input.txt" || { echo "FAIL: sort on sable"; fail=1; }
compare "$out/sort.glibc" "$out/sort.sable" "sort of a $(( $(wc -c <"$out/input.txt") / 1000000 )) MB file"
rm -f "$out/input.txt"
exit $fail
