#!/bin/bash
# test_contestants.sh: adding a contestant, and leaving out one that cannot
# run. In a scratch copy of the tree (build/contestant-test/tree, with this
# tree's objects so that little is compiled), a contestant "fwd" is added the
# way README.md says (allocators/fwd/ with allocator.mk, ext.c and its own
# library, from scripts/tests/contestant/), built with make and run by
# build/heapmark; then it is left out:
#   - its library missing at build time (allocator.mk sets ALLOC_MISSING_fwd):
#     make writes build/fwd/skipped and says so; heapmark skips it, and a
#     variant of it, with that reason on one line and in meta.json;
#   - its library gone after the build: the dynamic loader cannot start it,
#     heapmark skips it with the loader's message;
#   - every named allocator skipped: a clear error, exit 1;
#   - the report lists a skipped allocator with its reason.
set -u
cd "$(dirname "$0")/../.."
root=$PWD
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
mk() { env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS -u ALLOCATORS make --no-print-directory -j2 "$@"; }
scratch=build/contestant-test
rm -rf "$scratch"
mkdir -p "$scratch/tree/build"
git ls-files -z -co --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$scratch/tree" ||
    fail "cannot copy the tree"
[ -d build/obj ] && cp -a build/obj "$scratch/tree/build/obj"
cd "$scratch/tree"
mkdir -p allocators/fwd
cp "$root"/scripts/tests/contestant/{allocator.mk,ext.c,fwd.c} allocators/fwd/

# added: make builds it, it serves malloc, heapmark runs it and records it
mk ALLOCATORS="glibc fwd" >../make1.log 2>&1 || fail "make ALLOCATORS='glibc fwd': $(tail -3 ../make1.log)"
info=$(build/fwd/conformance --heapmark-info) || fail "fwd not verified: $info"
echo "$info" | grep -q '"version": "1.0".*"verified": true' || fail "fwd's identity: $info"
build/heapmark conformance --allocators glibc,fwd --filter ZR-01 --out ../conf1 >../conf1.log 2>&1 ||
    fail "heapmark conformance with fwd: $(tail -3 ../conf1.log)"
/usr/bin/python3 scripts/conformance_report.py ../conf1/latest-conformance >>../conf1.log 2>&1 ||
    fail "the matrix with fwd: $(tail -3 ../conf1.log)"
grep -q '^ZR-01 .* ok *ok' ../conf1.log || fail "fwd's ZR-01: $(grep ZR-01 ../conf1.log)"
build/heapmark run --allocators fwd --filter 'latency_warm/size:64/' --profile quick --repetitions 1 \
    --out ../run1 >../run1.log 2>&1 || fail "heapmark run with fwd: $(tail -3 ../run1.log)"
meta() { # FOLDER EXPR: a Python expression on meta.json's m
    /usr/bin/python3 -c 'import json,sys; m=json.load(open(sys.argv[1]+"/meta.json")); print(eval(sys.argv[2]))' \
        "$(ls -d "$1"/*Z-*/ | tail -1)" "$2"
}
[ "$(meta ../run1 '[(a["name"], a["version"]) for a in m["allocators"]]')" = "[('fwd', '1.0')]" ] ||
    fail "run meta.json allocators: $(meta ../run1 'm["allocators"]')"
[ "$(meta ../run1 'm["skipped_allocators"]')" = "[]" ] || fail "nothing skipped, yet: $(meta ../run1 'm["skipped_allocators"]')"

# library missing at build time: make says so and leaves a reason, no binaries
reason="libfwd is not installed (test)"
mk ALLOCATORS="glibc fwd" FWD_MISSING="$reason" >../make2.log 2>&1 || fail "make with fwd missing failed: $(tail -3 ../make2.log)"
grep -qx "heapmark: skipping allocator 'fwd': $reason" ../make2.log || fail "make's notice: $(cat ../make2.log)"
[ "$(cat build/fwd/skipped)" = "$reason" ] || fail "build/fwd/skipped: $(cat build/fwd/skipped 2>&1)"
[ -e build/fwd/bench ] || [ -e build/fwd/conformance ] && fail "stale fwd binaries left"
build/heapmark conformance --allocators 'glibc fwd fv=fwd:X=1' --filter ZR-01 --out ../conf2 >../conf2.out 2>../conf2.err ||
    fail "a skipped allocator failed the run: $(cat ../conf2.err)"
grep -qx "heapmark conformance: skipping allocator 'fwd': $reason" ../conf2.err || fail "notice: $(cat ../conf2.err)"
grep -qx "heapmark conformance: skipping allocator 'fv': its base fwd is skipped: $reason" ../conf2.err ||
    fail "variant notice: $(cat ../conf2.err)"
[ "$(meta ../conf2 '[a["name"] for a in m["allocators"]]')" = "['glibc']" ] || fail "conformance allocators: $(meta ../conf2 'm["allocators"]')"
[ "$(meta ../conf2 'm["skipped_allocators"][0]')" = "{'name': 'fwd', 'reason': '$reason'}" ] ||
    fail "meta.json skipped_allocators: $(meta ../conf2 'm["skipped_allocators"]')"
# with no list, every built allocator runs and the marked one is listed as skipped
build/heapmark run --filter 'latency_warm/size:64/' --profile quick --repetitions 1 --out ../run2 >../run2.out 2>../run2.err ||
    fail "default list with a skipped allocator: $(cat ../run2.err)"
[ "$(meta ../run2 '[s["name"] for s in m["skipped_allocators"]]')" = "['fwd']" ] ||
    fail "default list: $(meta ../run2 'm["skipped_allocators"]')"
# the report names it with its reason
MPLBACKEND=Agg /usr/bin/python3 scripts/report.py "$(ls -d ../run2/*Z-*/ | tail -1)" >../report2.log 2>&1 ||
    fail "report of a run with a skipped allocator: $(tail -3 ../report2.log)"
grep -q "skipped allocator fwd.*$reason" "$(ls -d ../run2/*Z-*/ | tail -1)/report.md" ||
    fail "the report does not name the skipped allocator"
out=$(build/heapmark conformance --allocators fwd --out ../conf3 2>&1) && fail "only skipped allocators: exit 0"
echo "$out" | grep -q "every allocator in --allocators was skipped" || fail "only skipped: $out"

# library gone after the build: the loader cannot start it
mk ALLOCATORS="glibc fwd" >../make3.log 2>&1 || fail "rebuilding fwd: $(tail -3 ../make3.log)"
[ -e build/fwd/skipped ] && fail "build/fwd/skipped left after fwd was built again"
rm build/fwd/libfwd.so
build/heapmark conformance --allocators glibc,fwd --filter ZR-01 --out ../conf4 >../conf4.out 2>../conf4.err ||
    fail "an unloadable allocator failed the run: $(cat ../conf4.err)"
grep -q "skipping allocator 'fwd': error while loading shared libraries: libfwd.so" ../conf4.err ||
    fail "unloadable notice: $(cat ../conf4.err)"
[ "$(meta ../conf4 '[s["name"] for s in m["skipped_allocators"]]')" = "['fwd']" ] ||
    fail "unloadable in meta.json: $(meta ../conf4 'm["skipped_allocators"]')"
[ "$(grep -c skipping ../conf4.err)" = 1 ] || fail "more than one notice: $(cat ../conf4.err)"
cd "$root" && rm -rf "$scratch"
echo "test-contestants: fwd added, built, run and recorded; skipped when its library is missing at build or run time"
