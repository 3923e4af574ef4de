#!/bin/bash
# bench_smoke.sh A...: each allocator's bench binary runs workloads briefly
# (one pass each), exits without an error, names its allocator, registers the
# trace replays, and every instance it ran exports the counters its family
# promises (check_bench_json.py; bench/README.md).
#
# What runs, so that the time grows slowly with the number of allocators:
#   - one allocator (BENCH_SMOKE_FULL; default sable, else the first given)
#     runs every instance of the default profile;
#   - every other allocator runs every instance of the quick profile, then,
#     under the default profile, the first listed instance of each family the
#     quick profile leaves out. So every family of the default profile, with
#     its counter checks, runs under every allocator, and the quick profile's
#     own instances are covered too; what the others skip is the default
#     profile's further sizes and thread counts of a family.
#   BENCH_SMOKE_FULL=all runs every default instance for every allocator.
set -u
BUILD=${BUILD:-build}
PYTHON=${PYTHON:-/usr/bin/python3}
CHECK=$(dirname "$0")/check_bench_json.py
full=${BENCH_SMOKE_FULL:-sable}
case " $* " in
*" $full "*) ;;
*) [ "$full" = all ] || full=${1:-} ;;
esac
fail=0
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# run A PROFILE TAG [NAMES-FILE]: runs A's bench under PROFILE (only the
# instances named in NAMES-FILE when given) and checks its JSON against the
# instances listed with the same filter.
run() {
    local a=$1 profile=$2 tag=$3 bin=$BUILD/$1/bench filter=()
    [ $# -ge 4 ] && filter=("--benchmark_filter=^($(paste -sd'|' "$4"))\$")
    local json=$out/$a.$tag.json list=$out/$a.$tag.list log=$out/$a.$tag.log
    if ! HEAPMARK_PROFILE=$profile "$bin" --benchmark_list_tests "${filter[@]}" >"$list" 2>"$log"; then
        echo "FAIL: $bin ($tag) cannot list its instances"; tail -5 "$log"; fail=1; return
    fi
    if ! HEAPMARK_PROFILE=$profile nice "$bin" --benchmark_min_time=0.001 "${filter[@]}" \
            --benchmark_out="$json" --benchmark_out_format=json >"$log" 2>&1; then
        echo "FAIL: $bin ($tag) exited non-zero"; tail -5 "$log"; fail=1; return
    fi
    echo -n "[$tag] "
    "$PYTHON" "$CHECK" "$json" "$list" "$a" || fail=1
}

for a in "$@"; do
    bin=$BUILD/$a/bench
    if ! HEAPMARK_PROFILE=default "$bin" --benchmark_list_tests >"$out/$a.default" 2>&1; then
        echo "FAIL: $bin cannot list its instances"; tail -5 "$out/$a.default"; fail=1; continue
    fi
    grep -q '^replay/trace:' "$out/$a.default" || { echo "FAIL: $a: no trace replay registered"; fail=1; }
    if [ "$full" = all ] || [ "$a" = "$full" ]; then
        run "$a" default default
        continue
    fi
    run "$a" quick quick
    # the first default instance of each family (the name up to its first
    # '/') that has no instance in the quick profile
    awk -F/ 'FILENAME == ARGV[1] { q[$1] = 1; next } !($1 in q) && !($1 in seen) { seen[$1] = 1; print }' \
        "$out/$a.quick.list" "$out/$a.default" >"$out/$a.rest"
    if [ -s "$out/$a.rest" ]; then
        run "$a" default rest "$out/$a.rest"
    fi
done
exit $fail
