#!/usr/bin/python3
"""Self-test of the conformance framework (make test-conformance-selftest).

usage: selftest.py BINARY SCRATCH_DIR

Runs the hidden ST-* checks (conformance/selftest.c) and compares each verdict
with conformance/selftest.expected; checks that the hanging grandchild of
ST-14 was killed with its parent, that hidden checks stay hidden without the
environment variable, and that the command line rejects bad input with one
clear line and a non-zero status.
"""
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
failures = []


def expect(cond, what):
    if not cond:
        failures.append(what)


def main(binary, scratch):
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)
    out = os.path.join(scratch, "selftest.json")
    pidfile = os.path.join(scratch, "grandchild.pid")
    env = dict(os.environ, HEAPMARK_CONFORMANCE_SELFTEST="1", HEAPMARK_SELFTEST_PIDFILE=pidfile)
    r = subprocess.run([binary, "--filter", "ST-", "--json", out], env=env,
                       capture_output=True, text=True, timeout=120)
    expect(r.returncode == 0, f"the suite run exited {r.returncode}: {r.stderr.strip()}")
    with open(out) as f:
        got = {c["id"]: c for c in json.load(f)["checks"]}
    with open(os.path.join(HERE, "selftest.expected")) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            cid, status, *rest = line.split(None, 2)
            sub = rest[0] if rest else ""
            c = got.get(cid)
            if c is None:
                failures.append(f"{cid}: no result")
                continue
            expect(c["status"] == status and sub in c["detail"],
                   f"{cid}: expected {status} with '{sub}', got {c['status']}: {c['detail']}")
    for cid, c in got.items():
        if c["kind"] in ("REP", "CAP"):
            expect(c["status"] != "fail", f"{cid}: a {c['kind']} check came out as fail")
    # ST-14's grandchild must have died with its process group
    try:
        with open(pidfile) as f:
            pid = int(f.read())
        try:
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            expect(state == "Z", f"ST-14: the grandchild {pid} is still running (state {state})")
        except FileNotFoundError:
            pass
    except (OSError, ValueError) as e:
        failures.append(f"ST-14: no grandchild pid recorded ({e})")
    # hidden checks stay hidden
    plain = dict(os.environ)
    plain.pop("HEAPMARK_CONFORMANCE_SELFTEST", None)
    r = subprocess.run([binary, "--list"], env=plain, capture_output=True, text=True, timeout=30)
    expect(r.returncode == 0 and "ST-" not in r.stdout and r.stdout.count("\n") >= 75,
           f"--list: exit {r.returncode}, {r.stdout.count(chr(10))} checks, hidden ST- shown: "
           f"{'ST-' in r.stdout}")
    # command-line errors: one line, status 2
    for args, needle in ((["--timeout", "abc"], "--timeout"), (["--bogus"], "unknown argument"),
                         (["--filter", "NO-SUCH-CHECK"], "no check matches"),
                         (["--json", os.path.join(scratch, "no/such/dir/x.json")], "cannot write"),
                         (["--json"], "needs a value")):
        r = subprocess.run([binary] + args, env=plain, capture_output=True, text=True, timeout=60)
        expect(r.returncode == 2 and needle in r.stderr and "Traceback" not in r.stderr,
               f"{' '.join(args)}: exit {r.returncode}, stderr {r.stderr.strip()!r}")
    if failures:
        for f in failures:
            print(f"FAIL {f}")
        return 1
    print(f"selftest: {len(got)} framework checks gave their expected verdicts")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
