#!/bin/bash
# Runs build/<A>/conformance for each allocator given, two at a time, into
# OUT/conformance/<A>.json, then scripts/conformance_report.py OUT --check
# against conformance/expected/. Exit 1 on any difference from the expected
# matrix (or when a binary could not run the suite).
# Usage: conformance/run-matrix.sh OUT ALLOCATOR...
set -u
out=$1
shift
rm -rf "$out"
mkdir -p "$out/conformance"
start=$(date +%s.%N)
status=0
pids=()
names=()
run_one() {
    nice build/"$1"/conformance --json "$out/conformance/$1.json" 2>"$out/$1.log"
}
for a in "$@"; do
    run_one "$a" &
    pids+=($!)
    names+=("$a")
    if [ ${#pids[@]} -ge 2 ]; then
        wait "${pids[0]}" || { echo "conformance: build/${names[0]}/conformance failed: $(tail -1 "$out/${names[0]}.log")"; status=1; }
        pids=("${pids[@]:1}")
        names=("${names[@]:1}")
    fi
done
for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || { echo "conformance: build/${names[$i]}/conformance failed: $(tail -1 "$out/${names[$i]}.log")"; status=1; }
done
secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
/usr/bin/python3 scripts/conformance_report.py "$out" --check || status=1
echo "suite time for $*: $secs s"
exit $status
