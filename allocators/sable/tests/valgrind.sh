#!/bin/bash
# valgrind.sh PROG OUTDIR: memcheck on a program linked with sable (sable's
# own malloc kept: --soname-synonyms=somalloc=nouserintercepts) reports the
# one leaked block and the one read of a freed block, and nothing else.
set -u
prog=$1
out=$2
rm -rf "$out" && mkdir -p "$out"
if ! command -v valgrind >/dev/null; then
    echo "FAIL: valgrind is not installed (scripts/bootstrap-deps.sh installs it)"
    exit 1
fi
valgrind --tool=memcheck --soname-synonyms=somalloc=nouserintercepts --leak-check=full \
    --error-exitcode=0 "$prog" >"$out/stdout" 2>"$out/memcheck.txt"
rc=$?
fail=0
[ $rc = 0 ] || { echo "FAIL: the program exited with $rc"; fail=1; }
grep -q "Invalid read of size 1" "$out/memcheck.txt" || { echo "FAIL: the read of a freed block was not reported"; fail=1; }
grep -q "48 bytes in 1 blocks are definitely lost" "$out/memcheck.txt" || { echo "FAIL: the leaked block was not reported"; fail=1; }
grep -q "ERROR SUMMARY: 2 errors from 2 contexts" "$out/memcheck.txt" || { echo "FAIL: expected exactly 2 errors"; fail=1; }
if [ $fail != 0 ]; then
    sed 's/^/    /' "$out/memcheck.txt" | head -60
else
    echo "sable valgrind: the leak and the read after free were reported, nothing else"
fi
exit $fail
