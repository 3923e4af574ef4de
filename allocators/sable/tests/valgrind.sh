#!/bin/bash
# valgrind.sh PROG OUTDIR: memcheck on a program linked with sable (sable's
# own malloc kept: --soname-synonyms=somalloc=nouserintercepts) reports each
# of vg_prog's seven mistakes (leaks wherever the block sits, with requested
# sizes; overflows past the requested size; a read after free), and nothing else.
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
want() { # want PATTERN WHAT: one line of memcheck's report must match
    grep -qE "$1" "$out/memcheck.txt" || { echo "FAIL: $2 was not reported"; fail=1; }
}
want "Invalid read of size 1" "the read of a freed block"
# a leak is "definitely" or "possibly" lost: memcheck takes any number that
# falls inside a block for an interior pointer, and ld.so's relocate_time (a
# count of CPU cycles, about 1.2e8 under memcheck) sometimes falls inside
# the 5 MiB block, which memcheck's address space manager places at 0x7010000
want "48 bytes in 1 blocks are (definitely|possibly) lost" "the leaked 48-byte block"
want "60,000 bytes in 1 blocks are (definitely|possibly) lost" "the leaked first block of a page"
want "5,242,880 bytes in 1 blocks are (definitely|possibly) lost" "the leaked 5 MiB block"
want "9,000 bytes in 9 blocks are (definitely|possibly) lost" "the nine leaked 1,000-byte blocks (requested sizes)"
want "0 bytes after a block of size 48 alloc" "the write one byte past a 48-byte block"
[ "$(grep -c "Invalid write of size 1" "$out/memcheck.txt")" = 2 ] ||
    { echo "FAIL: the write into a block's slack was not reported (2 invalid writes expected)"; fail=1; }
want "ERROR SUMMARY: 7 errors from 7 contexts" "exactly 7 errors (no more)"
if [ $fail != 0 ]; then
    sed 's/^/    /' "$out/memcheck.txt" | head -60
else
    echo "sable valgrind: the 4 leaks, 2 overflows and the read after free were reported, nothing else"
fi
exit $fail
