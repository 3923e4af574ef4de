#!/bin/bash
# test_make_conformance.sh: the conformance matrix is rendered by make, not by
# the runner. In a scratch tree that links to this one (its own build/heapmark,
# conformance/ and results/; glibc only):
#   make conformance   runs build/heapmark conformance, then
#                      scripts/conformance_report.py on the run folder: the matrix
#                      printed, conformance.csv and conformance.md written; an
#                      allocator whose binary left no verdicts (killed at --limit)
#                      fails make, named, though the runner itself exits 0
#   conformance/check_suite.sh (what make test-conformance runs) passes when the
#                      verdicts meet conformance/expected and fails, naming the
#                      check, when one differs
set -u
cd "$(dirname "$0")/../.."
root=$PWD
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
mk() { env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS -u ALLOCATORS make --no-print-directory "$@"; }
[ -x build/heapmark ] && [ -x build/glibc/conformance ] ||
    fail "build/heapmark and build/glibc/conformance are needed (make)"
S=$root/build/make-conformance-test
rm -rf "$S"
mkdir -p "$S/tree/build/glibc" "$S/tree/results"
for f in $(ls -A "$root"); do
    case $f in
        .git | build | results | conformance) ;;
        *) ln -s "$root/$f" "$S/tree/$f" ;;
    esac
done
cp -r conformance "$S/tree/conformance"
# the runner finds its root from its own path: a copy, so that it writes here
cp build/heapmark "$S/tree/build/heapmark"
ln -s "$root/build/glibc/conformance" "$S/tree/build/glibc/conformance"
cd "$S/tree"
# make's prerequisites are built in the real tree: -o all keeps make from building here
conf() { mk -o all conformance ALLOCATORS=glibc "$@"; }

conf CONFORMANCE_ARGS='--filter ZR-01' >../out1.txt 2>../err1.txt ||
    fail "make conformance: $(tail -3 ../err1.txt)"
grep -q '^ZR-01  STD  zero-size *ok$' ../out1.txt || fail "no matrix printed: $(cat ../out1.txt)"
run=results/$(readlink results/latest-conformance)
[ -d "$run" ] || fail "no results/latest-conformance"
grep -q '^ZR-01,zero-size,STD,glibc,pass,' "$run/conformance.csv" || fail "conformance.csv: $(cat "$run/conformance.csv" 2>&1)"
grep -q '^| ZR-01 | STD | zero-size | ok |' "$run/conformance.md" || fail "conformance.md: $(head -20 "$run/conformance.md" 2>&1)"
# the order: the runner, then the report script on the folder it made
[ "$(grep -n '^build/heapmark conformance \|^/usr/bin/python3 scripts/conformance_report.py results/latest-conformance$' ../out1.txt |
     cut -d: -f1 | tr '\n' ' ')" = "1 2 " ] || fail "make's commands: $(head -3 ../out1.txt)"

# a binary killed at --limit: the runner records it and exits 0, make fails naming it
rc=0
conf CONFORMANCE_ARGS='--limit 0.01' >../out2.txt 2>../err2.txt || rc=$?
[ $rc -ne 0 ] || fail "make conformance passed though glibc left no verdicts"
grep -q '^\[1/1\] glibc: timeout, killed after 0.01 s (--limit)' ../err2.txt || fail "runner: $(cat ../err2.txt)"
grep -q '^conformance results: ' ../err2.txt || fail "the runner failed: $(cat ../err2.txt)"
grep -qF 'conformance_report: 1 allocator(s) left no conformance results: glibc (ran past the time limit and was killed, see conformance/glibc.log)' \
    ../err2.txt || fail "no allocator named: $(cat ../err2.txt)"

# check_suite.sh: verdicts against conformance/expected (here only ZR-01's, of this glibc)
version=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$run/conformance/glibc.json")
rm -f conformance/expected/*.txt
printf 'allocator glibc %s\nZR-01 pass\n' "$version" >conformance/expected/glibc.txt
conformance/check_suite.sh build/heapmark glibc build/m1 --filter ZR-01 >../out3.txt 2>&1 ||
    fail "check_suite.sh with every expectation met: $(tail -5 ../out3.txt)"
grep -q "^glibc $version: 1 expectations, all met" ../out3.txt || fail "comparison: $(cat ../out3.txt)"
[ -s build/m1/latest-conformance/conformance.md ] || fail "check_suite.sh rendered no matrix"
printf 'allocator glibc %s\nZR-01 fail\n' "$version" >conformance/expected/glibc.txt
rc=0
conformance/check_suite.sh build/heapmark glibc build/m2 --filter ZR-01 >../out4.txt 2>&1 || rc=$?
[ $rc -eq 1 ] || fail "check_suite.sh with a difference: exit $rc: $(tail -5 ../out4.txt)"
grep -q '^DIFF ZR-01 glibc: expected fail, got pass' ../out4.txt || fail "the difference: $(cat ../out4.txt)"
grep -q '^conformance: 1 differences from the expected matrix' ../out4.txt || fail "summary: $(cat ../out4.txt)"
cd "$root" && rm -rf "$S"
echo "test-make-conformance: make renders the matrix from the runner's folder, fails on an allocator without verdicts; check_suite.sh fails on a difference"
