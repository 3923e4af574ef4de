#!/bin/bash
# variants.sh HEAPMARK FAKE_BENCH LIBFAULT SCRATCH: allocator variants
# NAME=BASE:VAR=VAL[:VAR=VAL...]: the variables reach every child the runner
# starts for that allocator (--heapmark-info, the listing, each benchmark,
# a callgrind run, the conformance binary) and no other; the user's own
# environment still passes through; backslash escapes; meta.json's base and
# env; a variant of a library.
source "$(dirname "$0")/lib.sh"
FAULT=$(cd "$(dirname "$3")" && pwd)/$(basename "$3")
scratch "$4"
make_root "$1" "$2" fake glibc
RES=$ROOT/results

# the value holds every character that needs its escape: , : blank = and \
SPEC='fake,fv=fake:HEAPMARK_TEST_ENV=a\,b\:c\ d\=e:HEAPMARK_TEST_TWO=2\\3'
VAL='a,b:c d=e'
HEAPMARK_TEST_USER=u "$HM" run --processes 1 --allocators "$SPEC" --filter '^ok/' --profile quick --repetitions 1 \
    >"$T/out.txt" 2>"$T/err.txt" || fail "run: $(cat "$T/err.txt")"
RUN=$RES/$(readlink "$RES/latest")
"$PYTHON" "$HERE/check_run.py" "$RUN" >"$T/table.txt" || fail "run folder does not match the schema"
# the listing ran with the variant's variables: only fv lists ok/env
[ "$(awk '$3 == "ok/env" {print $2, $4}' "$T/table.txt")" = "fv ok" ] ||
    fail "ok/env (listed only under HEAPMARK_TEST_ENV) should run for fv alone: $(cat "$T/table.txt")"
"$PYTHON" - "$RUN" "$VAL" <<'PY' || fail "meta.json or logs of the variant"
import json, os, sys
run, val = sys.argv[1], sys.argv[2]
meta = json.load(open(os.path.join(run, "meta.json")))
al = {a["name"]: a for a in meta["allocators"]}
assert list(al) == ["fake", "fv"], list(al)
# --heapmark-info ran with the variables (the fake puts them into its version)
assert al["fv"]["version"] == "0.1-HEAPMARK_TEST_ENV=" + val, al["fv"]["version"]
assert al["fake"]["version"] == "0.1", al["fake"]["version"]
assert (al["fv"]["base"], al["fv"]["env"], al["fv"]["binary"], al["fv"]["preload"]) == \
    ("fake", {"HEAPMARK_TEST_ENV": val, "HEAPMARK_TEST_TWO": "2\\3"}, "build/fake/bench", None), al["fv"]
assert (al["fake"]["base"], al["fake"]["env"]) == ("fake", {}), al["fake"]
for line in open(os.path.join(run, "runs.jsonl")):
    r = json.loads(line)
    log = open(os.path.join(run, r["log"])).read().splitlines()
    env = sorted(l for l in log if l.startswith("env "))
    if r["allocator"] == "fv":
        want = ["env HEAPMARK_TEST_ENV=" + val, "env HEAPMARK_TEST_TWO=2\\3", "env HEAPMARK_TEST_USER=u"]
    else:
        want = ["env HEAPMARK_TEST_USER=u"]
    assert env == want, (r["allocator"], r["benchmark"], env, want)
PY
[ "$(meta "$RUN/meta.json" 'm["options"]["allocators"]')" = "$SPEC" ] || fail "options.allocators is not the list as given"
"$HM" list --allocators "$SPEC" --filter '^ok/env$' >"$T/list.txt" 2>&1 || fail "list: $(cat "$T/list.txt")"
grep -qF "(variant of fake: HEAPMARK_TEST_ENV=$VAL HEAPMARK_TEST_TWO=2\\3)" "$T/list.txt" ||
    fail "heapmark list does not show the variant: $(cat "$T/list.txt")"
grep -q '^  ok/env  (not for: fake)$' "$T/list.txt" || fail "list: ok/env is the variant's only: $(cat "$T/list.txt")"

# a variant of a preloaded library: glibc's binary, LD_PRELOAD, and the variables;
# the user's own value of the variable reaches the plain one, the variant's wins
HEAPMARK_TEST_ENV=from-user "$HM" run --processes 1 --allocators "lib=$FAULT,libv=$FAULT:HEAPMARK_TEST_ENV=1" --filter '^ok/a$' \
    --repetitions 1 >/dev/null 2>"$T/err.txt" || fail "library variant: $(cat "$T/err.txt")"
RUN=$RES/$(readlink "$RES/latest")
[ "$(meta "$RUN/meta.json" '[(a["name"], a["binary"], a["preload"] == a["base"] == sys.argv[3], a["env"]) for a in m["allocators"]]' "$FAULT")" = \
  "[('lib', 'build/glibc/bench', True, {}), ('libv', 'build/glibc/bench', True, {'HEAPMARK_TEST_ENV': '1'})]" ] ||
    fail "library variant: meta.json: $(meta "$RUN/meta.json" 'm["allocators"]')"
grep -qx 'env HEAPMARK_TEST_ENV=1' "$RUN/raw/libv/0002.log" || fail "library variant: the variable did not reach the child"
grep -qx 'env HEAPMARK_TEST_ENV=from-user' "$RUN/raw/lib/0001.log" ||
    fail "library: the user's own variable did not reach the plain one"

# under callgrind (--instructions) the variables reach the benchmark too
if command -v valgrind >/dev/null; then
    "$HM" run --instructions --allocators 'fv=fake:HEAPMARK_TEST_ENV=cg' --filter '^ok/a$' \
        >/dev/null 2>"$T/err.txt" || fail "--instructions: $(cat "$T/err.txt")"
    RUN=$RES/$(readlink "$RES/latest")
    grep -qx 'env HEAPMARK_TEST_ENV=cg' "$RUN/raw/fv/0001.log" || fail "--instructions: no variable in the child"
else
    fail "valgrind is needed (scripts/bootstrap-deps.sh installs it)"
fi

# the conformance binary gets them as well
"$HM" conformance --allocators 'fake fv=fake:HEAPMARK_TEST_ENV=conf' >/dev/null 2>"$T/err.txt" ||
    fail "conformance: $(cat "$T/err.txt")"
RUN=$RES/$(readlink "$RES/latest-conformance")
[ "$(meta "$RUN/conformance/fv.json" 'm["test_env"]')" = conf ] || fail "conformance: the variant's binary lacks its variable"
[ "$(meta "$RUN/conformance/fake.json" 'm["test_env"]')" = None ] || fail "conformance: the plain binary got the variable"
[ "$(meta "$RUN/meta.json" '[(a["name"], a["base"], a["env"], a["status"]) for a in m["allocators"]]')" = \
  "[('fake', 'fake', {}, 'done'), ('fv', 'fake', {'HEAPMARK_TEST_ENV': 'conf'}, 'done')]" ] ||
    fail "conformance meta.json: $(meta "$RUN/meta.json" 'm["allocators"]')"
echo "variants: variables reach --heapmark-info, the listing, benchmarks, callgrind and conformance; escapes; meta.json base/env"
