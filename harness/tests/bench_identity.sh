#!/bin/bash
# bench_identity.sh A...: each $BUILD/<A>/bench says it runs on A's malloc
# (--heapmark-info: "verified": true), and a bench binary refuses to run when
# the identity is wrong or the profile is unknown.
set -u
BUILD=${BUILD:-build}
fail=0
err() { echo "FAIL: $*"; fail=1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

for a in "$@"; do
    bin=$BUILD/$a/bench
    if ! info=$("$bin" --heapmark-info 2>"$out/err"); then
        err "$bin --heapmark-info exited non-zero: $(cat "$out/err")"
        continue
    fi
    grep -q '"verified": true' <<<"$info" || err "$bin: not verified: $info"
    grep -q "\"allocator\": \"$a\"" <<<"$info" || err "$bin: wrong allocator name: $info"
    echo "$bin: $info"
done

# A wrong identity (with the first allocator's binary): the runner's variable names a preloaded library that is
# not the one serving malloc. The binary must refuse, with exit 3.
bin=$BUILD/$1/bench # any built allocator will do
HEAPMARK_PRELOAD=/nonexistent/libfoo.so "$bin" --benchmark_list_tests >"$out/o" 2>"$out/e"
rc=$?
[ $rc -eq 3 ] || err "wrong identity: exit $rc, expected 3"
grep -q "refusing to run" "$out/e" || err "wrong identity: no message: $(cat "$out/e")"
grep -q "libfoo.so" "$out/e" || err "wrong identity: message does not name the library"
[ -s "$out/o" ] && err "wrong identity: it still listed benchmarks"
HEAPMARK_PRELOAD=/nonexistent/libfoo.so "$bin" --heapmark-info >/dev/null 2>&1 &&
    err "wrong identity: --heapmark-info exited 0"

# An unknown profile is an error, not the default.
HEAPMARK_PROFILE=fast "$bin" --benchmark_list_tests >"$out/o" 2>"$out/e"
rc=$?
[ $rc -eq 2 ] || err "HEAPMARK_PROFILE=fast: exit $rc, expected 2"
grep -q "HEAPMARK_PROFILE" "$out/e" || err "HEAPMARK_PROFILE=fast: no message"

# Profiles: quick is a subset of default, default a subset of full.
for p in quick default full; do
    HEAPMARK_PROFILE=$p "$bin" --benchmark_list_tests >"$out/$p" 2>/dev/null || err "profile $p: list failed"
done
"$bin" --benchmark_list_tests >"$out/unset" 2>/dev/null
cmp -s "$out/unset" "$out/default" || err "no HEAPMARK_PROFILE does not mean default"
nq=$(wc -l <"$out/quick") nd=$(wc -l <"$out/default") nf=$(wc -l <"$out/full")
[ "$nq" -gt 0 ] && [ "$nq" -lt "$nd" ] && [ "$nd" -lt "$nf" ] ||
    err "profile sizes quick=$nq default=$nd full=$nf are not increasing"
missing=$(comm -23 <(sort "$out/quick") <(sort "$out/default"))
[ -z "$missing" ] || err "quick instances missing from default: $missing"
echo "profiles: quick=$nq default=$nd full=$nf instances"

# The context keys the runner and the report rely on.
"$bin" --benchmark_filter='^malloc_free/size:16/' --benchmark_min_time=0.001 \
    --benchmark_format=json >"$out/j" 2>/dev/null || err "filtered run failed"
for k in allocator allocator_version allocator_library heapmark_profile; do
    grep -q "\"$k\": " "$out/j" || err "context key $k missing"
done

[ $fail -eq 0 ] && echo "bench identity: ok"
exit $fail
