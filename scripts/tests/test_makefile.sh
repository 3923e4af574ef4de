#!/bin/bash
# test_makefile.sh: how the top Makefile reads ALLOCATORS (`make -n`, nothing
# runs): the default list has sable-secure=sable:SABLE_SECURE=1 for make bench
# and not for make conformance; a variant given by the user goes to both; the
# bases of variants are what gets built (glibc for a library); escaped values
# reach build/heapmark exactly; an unknown base stops make with one line.
set -u
cd "$(dirname "$0")/../.."
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
# a clean make: nothing inherited from a calling make or the environment
mk() { env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS -u ALLOCATORS make --no-print-directory "$@"; }
line() { # TARGET ARGS...: the build/heapmark command make would run
    mk -n "$@" 2>&1 | grep '^build/heapmark ' || fail "no build/heapmark line from make -n $*: $(mk -n "$@" 2>&1 | tail -3)"
}
built() { mk --eval 'print-built: ; @echo $(BUILT)' print-built "$@"; }
skipped() { mk --eval 'print-skipped: ; @echo $(SKIPPED)' print-skipped "$@"; }

if [ -e allocators/sable/allocator.mk ]; then
    [ "$(line bench)" = "build/heapmark run --allocators 'sable,glibc,jemalloc,mimalloc,tcmalloc,tbbmalloc,scudo,sable-secure=sable:SABLE_SECURE=1' --profile default " ] ||
        fail "default make bench: $(line bench)"
    [ "$(line conformance)" = "build/heapmark conformance --allocators 'sable,glibc,jemalloc,mimalloc,tcmalloc,tbbmalloc,scudo' " ] ||
        fail "default make conformance runs a variant: $(line conformance)"
    # every default contestant is built, or skipped when its library is missing here
    [ "$(echo $(built) $(skipped) | tr ' ' '\n' | sort | tr '\n' ' ')" = "glibc jemalloc mimalloc sable scudo tbbmalloc tcmalloc " ] ||
        fail "default builds: $(built), skips: $(skipped)"
fi
# a contestant whose library is missing is skipped, not built, and still in the list
[ "$(built ALLOCATORS='glibc tbbmalloc' ALLOC_MISSING_tbbmalloc=gone)" = "glibc" ] ||
    fail "a missing library is built: $(built ALLOCATORS='glibc tbbmalloc' ALLOC_MISSING_tbbmalloc=gone)"
[ "$(skipped ALLOCATORS='glibc tbbmalloc' ALLOC_MISSING_tbbmalloc=gone)" = "tbbmalloc" ] ||
    fail "a missing library is not skipped: $(skipped ALLOCATORS='glibc tbbmalloc' ALLOC_MISSING_tbbmalloc=gone)"
[ "$(line conformance ALLOCATORS='glibc tbbmalloc' ALLOC_MISSING_tbbmalloc=gone)" = \
  "build/heapmark conformance --allocators 'glibc,tbbmalloc' " ] ||
    fail "a skipped allocator left the list: $(line conformance ALLOCATORS='glibc tbbmalloc' ALLOC_MISSING_tbbmalloc=gone)"
# given by the user, a variant runs in conformance too
[ "$(line conformance ALLOCATORS='glibc sable-secure=sable:SABLE_SECURE=1')" = \
  "build/heapmark conformance --allocators 'glibc,sable-secure=sable:SABLE_SECURE=1' " ] ||
    fail "a variant named by the user: $(line conformance ALLOCATORS='glibc sable-secure=sable:SABLE_SECURE=1')"
# escapes (and a % and a quote) come through exactly; the list's commas and blanks separate items
list='jn=jemalloc:MALLOC_CONF=dirty_decay_ms\:0\,muzzy_decay_ms\:0 sv=sable:A=%25\ x\=y\\:B=1,lib=/x/liby.so it'"'"'s=mimalloc:Q=1'
want="build/heapmark run --allocators 'jn=jemalloc:MALLOC_CONF=dirty_decay_ms\\:0\\,muzzy_decay_ms\\:0,sv=sable:A=%25\\ x\\=y\\\\:B=1,lib=/x/liby.so,it'\\''s=mimalloc:Q=1' --profile quick "
[ "$(line bench ALLOCATORS="$list" QUICK=1)" = "$want" ] ||
    fail "escaped list: got
$(line bench ALLOCATORS="$list" QUICK=1)
want
$want"
# PROGRAM='name=CMD ARGS' reaches --program as one word, quotes and all
[ "$(line bench ALLOCATORS=glibc PROGRAM="s=sort -n 'a b'")" = \
  "build/heapmark run --allocators 'glibc' --profile default  --program 's=sort -n '\''a b'\'''" ] ||
    fail "PROGRAM: $(line bench ALLOCATORS=glibc PROGRAM="s=sort -n 'a b'")"
# the bases are built, glibc for the library; no variant name is taken for an allocator
[ "$(built ALLOCATORS="$list")" = "glibc jemalloc mimalloc sable" ] || fail "built for the list: $(built ALLOCATORS="$list")"
[ "$(built ALLOCATORS='lv=/x/lib.so:A=1')" = "glibc" ] || fail "a library variant builds: $(built ALLOCATORS='lv=/x/lib.so:A=1')"
# an unknown base: make stops at once with one line
out=$(mk -n bench ALLOCATORS='glibc v=nope:A=1' 2>&1) && fail "an unknown base was accepted"
echo "$out" | grep -q "unknown allocator 'nope' in ALLOCATORS: there is no allocators/nope/" ||
    fail "unknown base: $out"
echo "test-makefile: default variants, conformance without them, bases built, missing ones skipped, escapes exact"
