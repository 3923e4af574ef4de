#!/bin/bash
# real.sh HEAPMARK LIBFAULT SCRATCH: the runner with the real bench binaries
# (build/glibc/bench; jemalloc's library preloaded), a narrow filter and a
# tiny min time.
#  - two runs never overwrite each other and `latest` moves to the newer
#  - name=/path/libjemalloc.so.2 runs glibc's binary under LD_PRELOAD and the
#    binary itself confirms that malloc comes from jemalloc
#  - a preloaded malloc that crashes, hangs or exits in one benchmark is
#    recorded as crash (SIGSEGV), timeout and error; the others are kept
#  - standard input closed does not lose the children's output
#  - a variant's variables reach the real process (libfault switched on by
#    them; sable's SABLE_STATS)
source "$(dirname "$0")/lib.sh"
HM=$1
FAULT=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
scratch "$3"
OUT=$T/results

JEM=$(/sbin/ldconfig -p 2>/dev/null | awk '$1 == "libjemalloc.so.2" { print $NF; exit }')
[ -n "$JEM" ] || JEM=$(ls /usr/lib/*/libjemalloc.so.2 /lib/*/libjemalloc.so.2 2>/dev/null | head -1)
[ -n "$JEM" ] || fail "libjemalloc.so.2 not found (scripts/bootstrap-deps.sh installs libjemalloc-dev)"

# one malloc_free instance at 16 bytes on one thread, and one at 256 bytes
F16='^malloc_free/size:16/(.*/)?threads:1$'
F2='^malloc_free/size:(16|256)/(.*/)?threads:1$'
FAST=(--profile quick --repetitions 1 --min-time 0.001 --out "$OUT")

"$HM" run --processes 1 --allocators "glibc,jem=$JEM" --filter "$F16" "${FAST[@]}" 2>"$T/err1.txt" ||
    fail "run 1: $(cat "$T/err1.txt")"
RUN1=$OUT/$(readlink "$OUT/latest")
"$PYTHON" "$HERE/check_run.py" "$RUN1" >"$T/table1.txt" || fail "run 1 folder"
[ "$(awk '{print $2, $4}' "$T/table1.txt")" = "$(printf 'glibc ok\njem ok')" ] ||
    fail "run 1: want glibc ok, jem ok: $(cat "$T/table1.txt")"
cp "$RUN1/runs.jsonl" "$T/runs1.jsonl"

# started with standard input closed (as CI may start it), the runner still
# reads each binary's identity and runs it
"$HM" run --processes 1 --allocators glibc --filter "$F16" --profile quick --repetitions 1 --min-time 0.001 \
    --out "$T/stdin-closed" <&- 2>"$T/err0.txt" || fail "run with stdin closed: $(cat "$T/err0.txt")"
"$PYTHON" "$HERE/check_run.py" "$T/stdin-closed/$(readlink "$T/stdin-closed/latest")" >"$T/table0.txt" ||
    fail "stdin closed: run folder"
[ "$(awk '{print $2, $4}' "$T/table0.txt")" = "glibc ok" ] || fail "stdin closed: $(cat "$T/table0.txt")"

# the preloaded allocator: its identity, and the env the binary saw
lib=$(meta "$RUN1/meta.json" '[a for a in m["allocators"] if a["name"] == "jem"][0]["library"]')
case $lib in *libjemalloc*) ;; *) fail "jem's malloc comes from $lib" ;; esac
[ "$(meta "$RUN1/meta.json" '[a for a in m["allocators"] if a["name"] == "jem"][0]["preload"]')" = "$JEM" ] ||
    fail "meta.json: jem's preload path"
[ "$(meta "$RUN1/meta.json" '[a for a in m["allocators"] if a["name"] == "glibc"][0]["preload"]')" = None ] ||
    fail "meta.json: glibc is not preloaded"
# the Debian package behind each library (the only version a preloaded one has)
case $(meta "$RUN1/meta.json" '[a for a in m["allocators"] if a["name"] == "jem"][0]["package"]') in
    "libjemalloc2 "*) ;; *) fail "jem's package: $(meta "$RUN1/meta.json" 'm["allocators"]')" ;; esac
case $(meta "$RUN1/meta.json" '[a for a in m["allocators"] if a["name"] == "glibc"][0]["package"]') in
    "libc6 "*) ;; *) fail "glibc's package: $(meta "$RUN1/meta.json" 'm["allocators"]')" ;; esac
git_rev=$(meta "$RUN1/meta.json" 'm["git_revision"]')
[ "$git_rev" != unknown ] || fail "git_revision unknown inside the git tree"
ctx=$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["context"].get("allocator"))' \
    "$RUN1/raw/jem/0002.json")
[ "$ctx" = jem ] || fail "the preloaded binary reports allocator '$ctx', want jem (HEAPMARK_ALLOCATOR)"

sleep 1.1 # a new second: the second run gets a new stamp; same second: a suffix
"$HM" run --processes 1 --allocators glibc --filter "$F16" "${FAST[@]}" 2>"$T/err2.txt" || fail "run 2: $(cat "$T/err2.txt")"
"$HM" run --processes 1 --allocators glibc --filter "$F16" "${FAST[@]}" 2>"$T/err3.txt" || fail "run 3: $(cat "$T/err3.txt")"
RUN3=$OUT/$(readlink "$OUT/latest")
[ "$(find "$OUT" -mindepth 1 -maxdepth 1 -type d | wc -l)" -eq 3 ] || fail "want 3 run folders: $(ls "$OUT")"
[ "$RUN3" != "$RUN1" ] || fail "latest did not move"
cmp -s "$T/runs1.jsonl" "$RUN1/runs.jsonl" || fail "run 1 was overwritten"
"$PYTHON" "$HERE/check_run.py" "$RUN3" >/dev/null || fail "run 3 folder"

# a faulty malloc, preloaded, only in the size:16 process, at its 800th malloc: inside
# the first batch of 1000 (a loaded machine may run only one: real time)
for f in crash:SIGSEGV-crash hang:--timeout exit:7-error; do
    mode=${f%%:*}
    HEAPMARK_FAULT=$mode:800 HEAPMARK_FAULT_MATCH='size:16/' \
        "$HM" run --processes 1 --allocators "glibc,fault=$FAULT" --filter "$F2" --timeout 3 "${FAST[@]}" \
        2>"$T/err-$mode.txt" || fail "fault $mode: $(cat "$T/err-$mode.txt")"
    RUN=$OUT/$(readlink "$OUT/latest")
    "$PYTHON" "$HERE/check_run.py" "$RUN" >"$T/table-$mode.txt" || fail "fault $mode: run folder"
    case $mode in
        crash) want='fault size:16 crash SIGSEGV -' ;;
        hang) want='fault size:16 timeout - -' ;;
        exit) want='fault size:16 error - 7' ;;
    esac
    got=$(awk '{ sub(/^malloc_free\//, "", $3); sub(/\/.*/, "", $3);
                 print $2, $3, $4, $5, $6 }' "$T/table-$mode.txt")
    printf -v expect 'glibc size:16 ok - 0\n%s\nglibc size:256 ok - 0\nfault size:256 ok - 0' "$want"
    [ "$got" = "$expect" ] || fail "fault $mode: got
$got
want
$expect"
done
# a variant's variables reach the real benchmark process: the same library,
# with the fault switched on by the variant's variables only, crashes there only
"$HM" run --processes 1 --allocators "fault=$FAULT,fault-crash=$FAULT:HEAPMARK_FAULT=crash\:800:HEAPMARK_FAULT_MATCH=size\:16/" \
    --filter "$F16" "${FAST[@]}" 2>"$T/err-variant.txt" || fail "fault variant: $(cat "$T/err-variant.txt")"
RUN=$OUT/$(readlink "$OUT/latest")
"$PYTHON" "$HERE/check_run.py" "$RUN" >"$T/table-variant.txt" || fail "fault variant: run folder"
[ "$(awk '{print $2, $4, $5}' "$T/table-variant.txt")" = "$(printf 'fault ok -\nfault-crash crash SIGSEGV')" ] ||
    fail "fault variant: want fault ok, fault-crash crash: $(cat "$T/table-variant.txt")"
# and those of a variant of a built allocator: SABLE_STATS=1 prints sable's statistics at exit
"$HM" run --processes 1 --allocators "sable,sable-stats=sable:SABLE_STATS=1" --filter "$F16" "${FAST[@]}" \
    2>"$T/err-sable.txt" || fail "sable variant: $(cat "$T/err-sable.txt")"
RUN=$OUT/$(readlink "$OUT/latest")
grep -qi 'stats' "$RUN/raw/sable-stats/0002.log" || fail "sable-stats printed no statistics: $(cat "$RUN/raw/sable-stats/0002.log")"
grep -qi 'stats' "$RUN/raw/sable/0001.log" && fail "plain sable printed statistics: $(cat "$RUN/raw/sable/0001.log")"
[ "$(meta "$RUN/meta.json" '[(a["name"], a["base"], a["env"], a["binary"]) for a in m["allocators"]]')" = \
  "[('sable', 'sable', {}, 'build/sable/bench'), ('sable-stats', 'sable', {'SABLE_STATS': '1'}, 'build/sable/bench')]" ] ||
    fail "sable variant: meta.json: $(meta "$RUN/meta.json" 'm["allocators"]')"
echo "real: 3 runs kept apart, latest moved; jemalloc preloaded ($JEM); libfault crash/hang/exit recorded; variants"
