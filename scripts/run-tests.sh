#!/bin/bash
# Runs each test target given (make targets collected in TESTS), keeps going
# after a failure, and ends with one line "N passed, N failed".
# A failing target's output is shown in full; a passing one's is kept short.
set -u
passed=0 failed=0 failures=()
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for t in "$@"; do
    start=$(date +%s.%N)
    if make --no-print-directory -s "$t" >"$log" 2>&1; then
        status=PASS; passed=$((passed + 1))
    else
        status=FAIL; failed=$((failed + 1)); failures+=("$t")
    fi
    secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    if [ $status = FAIL ]; then
        sed 's/^/    /' "$log"
    else
        tail -n 3 "$log" | sed 's/^/    /'
    fi
    printf '%s %s (%s s)\n' "$status" "$t" "$secs"
done
if [ $failed -gt 0 ]; then
    printf 'failed: %s\n' "${failures[*]}"
fi
printf '%d passed, %d failed\n' "$passed" "$failed"
[ $failed -eq 0 ]
