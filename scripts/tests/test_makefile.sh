#!/bin/bash
# test_makefile.sh: how the top Makefile hands ALLOCATORS over (`make -n`,
# nothing runs): the default list has sable-secure=sable:SABLE_SECURE=1 for
# make bench and not for make conformance; a variant given by the user goes to
# both; make conformance (and make bench, when it runs the suite) renders the
# matrix itself after the runner; the list reaches build/heapmark untouched (the runner alone parses it:
# escapes, blanks, quotes); every allocator folder is built unless its library
# is missing; an unknown allocator is refused by the runner in one line.
set -u
cd "$(dirname "$0")/../.."
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
# a clean make: nothing inherited from a calling make or the environment
mk() { env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS -u ALLOCATORS make --no-print-directory "$@"; }
line() { # TARGET ARGS...: the build/heapmark command make would run
    mk -n "$@" 2>&1 | grep '^build/heapmark ' | head -1 ||
        fail "no build/heapmark line from make -n $*: $(mk -n "$@" 2>&1 | tail -3)"
}
built() { mk --eval 'print-built: ; @echo $(BUILT)' print-built "$@"; }
skipped() { mk --eval 'print-skipped: ; @echo $(SKIPPED)' print-skipped "$@"; }
folders=$(ls allocators/*/ext.c | cut -d/ -f2 | sort | tr '\n' ' ')

if [ -e allocators/sable/allocator.mk ]; then
    [ "$(line bench)" = "build/heapmark run --allocators 'sable glibc jemalloc mimalloc tcmalloc tbbmalloc scudo sable-secure=sable:SABLE_SECURE=1' --profile default " ] ||
        fail "default make bench: $(line bench)"
    [ "$(line conformance)" = "build/heapmark conformance --allocators 'sable glibc jemalloc mimalloc tcmalloc tbbmalloc scudo' " ] ||
        fail "default make conformance runs a variant: $(line conformance)"
fi
# every allocator folder is built, or skipped when its library is missing here,
# whatever ALLOCATORS names
[ "$(echo $(built) $(skipped) | tr ' ' '\n' | sort | tr '\n' ' ')" = "$folders" ] ||
    fail "builds: $(built), skips: $(skipped), folders: $folders"
[ "$(built ALLOCATORS=glibc)" = "$(built)" ] || fail "ALLOCATORS changed what is built: $(built ALLOCATORS=glibc)"
# a contestant whose library is missing is skipped, not built, and still in the list
[ "$(built ALLOC_MISSING_tbbmalloc=gone | tr ' ' '\n' | grep -c '^tbbmalloc$')" = 0 ] ||
    fail "a missing library is built: $(built ALLOC_MISSING_tbbmalloc=gone)"
[ "$(skipped ALLOC_MISSING_tbbmalloc=gone)" = "tbbmalloc" ] ||
    fail "a missing library is not skipped: $(skipped ALLOC_MISSING_tbbmalloc=gone)"
[ "$(line conformance ALLOCATORS='glibc tbbmalloc' ALLOC_MISSING_tbbmalloc=gone)" = \
  "build/heapmark conformance --allocators 'glibc tbbmalloc' " ] ||
    fail "a skipped allocator left the list: $(line conformance ALLOCATORS='glibc tbbmalloc' ALLOC_MISSING_tbbmalloc=gone)"
# given by the user, a variant runs in conformance too
[ "$(line conformance ALLOCATORS='glibc sable-secure=sable:SABLE_SECURE=1')" = \
  "build/heapmark conformance --allocators 'glibc sable-secure=sable:SABLE_SECURE=1' " ] ||
    fail "a variant named by the user: $(line conformance ALLOCATORS='glibc sable-secure=sable:SABLE_SECURE=1')"
# the runner starts no Python: make renders the matrix from the runner's run
# folder right after it, in make conformance and where make bench runs the suite
# (test-make-conformance runs it)
render='/usr/bin/python3 scripts/conformance_report.py results/latest-conformance'
[ "$(mk -n conformance ALLOCATORS=glibc 2>&1 | grep -A1 '^build/heapmark conformance ' | tail -1)" = "$render" ] ||
    fail "make conformance does not render the matrix after the runner: $(mk -n conformance ALLOCATORS=glibc 2>&1 | tail -3)"
mk -n bench ALLOCATORS=glibc 2>&1 | grep -A1 '^/usr/bin/python3 scripts/hm_results.py conformance-match ' |
    grep -qxF "  { build/heapmark conformance --allocators 'glibc' && $render; }" ||
    fail "make bench does not render the matrix it runs: $(mk -n bench ALLOCATORS=glibc 2>&1 | grep conformance)"
mk -n bench ALLOCATORS=glibc QUICK=1 2>&1 | grep -q 'conformance_report\|heapmark conformance' &&
    fail "make bench QUICK=1 runs the conformance suite"
# the list comes through exactly: escapes, a %, a quote, commas and blanks as given
list='jn=jemalloc:MALLOC_CONF=dirty_decay_ms\:0\,muzzy_decay_ms\:0 sv=sable:A=%25\ x\=y\\:B=1,lib=/x/liby.so it'"'"'s=mimalloc:Q=1'
want="build/heapmark run --allocators 'jn=jemalloc:MALLOC_CONF=dirty_decay_ms\\:0\\,muzzy_decay_ms\\:0 sv=sable:A=%25\\ x\\=y\\\\:B=1,lib=/x/liby.so it'\\''s=mimalloc:Q=1' --profile quick "
[ "$(line bench ALLOCATORS="$list" QUICK=1)" = "$want" ] ||
    fail "escaped list: got
$(line bench ALLOCATORS="$list" QUICK=1)
want
$want"
# PROGRAM='name=CMD ARGS' reaches --program as one word, quotes and all
[ "$(line bench ALLOCATORS=glibc PROGRAM="s=sort -n 'a b'")" = \
  "build/heapmark run --allocators 'glibc' --profile default  --program 's=sort -n '\''a b'\'''" ] ||
    fail "PROGRAM: $(line bench ALLOCATORS=glibc PROGRAM="s=sort -n 'a b'")"
# an unknown base is the runner's to refuse, in one line, before anything runs
if [ -x build/heapmark ]; then
    out=$(build/heapmark run --allocators 'glibc v=nope:A=1' --out build/makefile-test-runs 2>&1) &&
        fail "an unknown base was accepted"
    echo "$out" | grep -q "its base 'nope' is not a built allocator" || fail "unknown base: $out"
    if [ -n "$(ls -A build/makefile-test-runs 2>/dev/null)" ]; then
        fail "a run folder was made for a refused list"
    fi
    rm -rf build/makefile-test-runs
fi
echo "test-makefile: default variants, conformance without them and rendered by make, every folder built, missing ones skipped, the list passed untouched"
