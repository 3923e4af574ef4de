#!/bin/bash
# settings.sh PROG OUTDIR: sable's environment settings.
#   SABLE_STATS=1       exact live/peak/counts in sable_stats, and a summary on stderr at exit
#   (none)              per-operation figures read SIZE_MAX; address space is known
#   SABLE_LOG=<file>    one line per operation, with the pointers the program saw
#   SABLE_LOG=stderr    the same lines on stderr
#   unknown or malformed SABLE_* values: one warning line each, and the run goes on
set -u
prog=$1
out=$2
rm -rf "$out" && mkdir -p "$out"
fail=0
bad() { echo "FAIL: $*"; fail=1; }

SABLE_STATS=1 "$prog" stats >"$out/stats.out" 2>"$out/stats.err" || bad "SABLE_STATS=1 run: $(cat "$out/stats.err")"
grep -Eq '^sable [0-9.]+ stats: live=[0-9]+ peak=[0-9]+ committed=[0-9]+ reserved=[0-9]+ small=[0-9]+ large=[0-9]+ huge=1 frees=[0-9]+ reallocs=1 partial_frees=1 segments=[0-9]+ heaps=[0-9]+ purge_delay_ms=[0-9]+$' "$out/stats.err" \
    || bad "SABLE_STATS=1: no exit summary on stderr: $(cat "$out/stats.err")"
"$prog" plain >"$out/plain.out" 2>"$out/plain.err" || bad "plain run: $(cat "$out/plain.err")"
[ -s "$out/plain.err" ] && bad "plain run wrote to stderr: $(cat "$out/plain.err")"

SABLE_LOG="$out/ops.log" "$prog" log >"$out/log.out" 2>"$out/log.err" || bad "SABLE_LOG run: $(cat "$out/log.err")"
ptr() { awk -v k="$1" '$1 == k { print $2 }' "$out/log.out"; }
tid='tid=[0-9]+'
grep -Eq "^sable malloc $tid size=100 align=0 -> $(ptr keep0)\$" "$out/ops.log" || bad "log: no malloc(100) line for $(ptr keep0)"
grep -Eq "^sable calloc $tid size=120 align=0 -> $(ptr calloc)\$" "$out/ops.log" || bad "log: no calloc line"
grep -Eq "^sable aligned_alloc $tid size=100 align=64 -> $(ptr aligned)\$" "$out/ops.log" || bad "log: no aligned_alloc line"
grep -Eq "^sable malloc $tid size=5242880 align=0 -> $(ptr huge)\$" "$out/ops.log" || bad "log: no huge malloc line"
grep -Eq "^sable free $tid size=[0-9]+ align=0 ptr=$(ptr gone)\$" "$out/ops.log" || bad "log: no free line for $(ptr gone)"
grep -Eq "^sable realloc $tid size=100000 align=0 ptr=0x[0-9a-f]+ -> 0x[0-9a-f]+\$" "$out/ops.log" || bad "log: no realloc line"
grep -Eq "^sable free_range $tid size=64 align=0 ptr=0x[0-9a-f]+ -> 0\$" "$out/ops.log" || bad "log: no free_range line"
bad_lines=$(grep -Evc '^sable [a-z_]+ tid=[0-9]+ size=[0-9]+ align=[0-9]+( ptr=0x[0-9a-f]+)?( -> (0x[0-9a-f]+|[0-9]+))?$' "$out/ops.log")
[ "$bad_lines" = 0 ] || bad "log: $bad_lines malformed lines"
echo "log: $(wc -l <"$out/ops.log") lines"
SABLE_LOG=stderr "$prog" log >/dev/null 2>"$out/log2.err" || bad "SABLE_LOG=stderr run"
grep -q "^sable malloc tid=" "$out/log2.err" || bad "SABLE_LOG=stderr: no lines on stderr"

# unknown and malformed settings: one warning each, never a crash
SABLE_FOO=1 SABLE_SECURE=yes SABLE_PURGE_DELAY=soon SABLE_LOG=/nonexistent/dir/x.log "$prog" plain \
    >"$out/warn.out" 2>"$out/warn.err" || bad "run with bad settings failed: $(cat "$out/warn.err")"
grep -q "^sable: unknown setting: SABLE_FOO=1 (ignored)$" "$out/warn.err" || bad "no warning for SABLE_FOO"
grep -q "^sable: malformed value (want 0 or 1): SABLE_SECURE=yes (ignored)$" "$out/warn.err" || bad "no warning for SABLE_SECURE=yes"
grep -q "^sable: malformed value .*: SABLE_PURGE_DELAY=soon (ignored)$" "$out/warn.err" || bad "no warning for SABLE_PURGE_DELAY=soon"
grep -q "^sable: cannot open the log file: SABLE_LOG=/nonexistent/dir/x.log (ignored)$" "$out/warn.err" || bad "no warning for an unopenable log"
[ "$(grep -c '^sable: ' "$out/warn.err")" = 4 ] || bad "expected exactly 4 warning lines: $(cat "$out/warn.err")"
[ $fail = 0 ] && echo "sable settings: stats, log and warnings as expected"
exit $fail
