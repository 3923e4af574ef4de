#!/usr/bin/python3
"""Self-test of the conformance framework (make test-conformance-selftest).

usage: selftest.py SELFTEST_BINARY SHIPPED_BINARY SCRATCH_DIR

Runs the hidden ST-* checks (conformance/selftest.c, linked only into the test
binary SELFTEST_BINARY, never into a shipped build/<A>/conformance such as
SHIPPED_BINARY) and compares each verdict
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
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
BINARY = SHIPPED = SCRATCH = None     # from the command line


def plain_env():
    env = dict(os.environ)
    env.pop("HEAPMARK_CONFORMANCE_SELFTEST", None)
    return env


class SelfTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        shutil.rmtree(SCRATCH, ignore_errors=True)
        os.makedirs(SCRATCH)
        out = os.path.join(SCRATCH, "selftest.json")
        cls.pidfile = os.path.join(SCRATCH, "grandchild.pid")
        env = dict(os.environ, HEAPMARK_CONFORMANCE_SELFTEST="1", HEAPMARK_SELFTEST_PIDFILE=cls.pidfile)
        cls.suite = subprocess.run([BINARY, "--filter", "ST-", "--json", out], env=env,
                                   capture_output=True, text=True, timeout=120)
        cls.got = {}
        if os.path.exists(out):
            with open(out) as f:
                cls.got = {c["id"]: c for c in json.load(f)["checks"]}

    def test_suite_run_succeeds(self):
        self.assertEqual(self.suite.returncode, 0, self.suite.stderr.strip())

    def test_each_check_gives_its_expected_verdict(self):
        with open(os.path.join(HERE, "selftest.expected")) as f:
            lines = [l.strip() for l in f if l.strip() and not l.strip().startswith("#")]
        self.assertTrue(lines)
        for line in lines:
            cid, status, *rest = line.split(None, 2)
            sub = rest[0] if rest else ""
            with self.subTest(cid):
                c = self.got.get(cid)
                self.assertIsNotNone(c, f"{cid}: no result")
                self.assertTrue(c["status"] == status and sub in c["detail"],
                                f"{cid}: expected {status} with '{sub}', got {c['status']}: {c['detail']}")

    def test_rep_and_cap_checks_never_fail(self):
        for cid, c in self.got.items():
            if c["kind"] in ("REP", "CAP"):
                self.assertNotEqual(c["status"], "fail", f"{cid}: a {c['kind']} check came out as fail")

    def test_hanging_grandchild_died_with_its_group(self):
        try:
            with open(self.pidfile) as f:
                pid = int(f.read())
        except (OSError, ValueError) as e:
            self.fail(f"ST-14: no grandchild pid recorded ({e})")
        try:
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return
        self.assertEqual(state, "Z", f"ST-14: the grandchild {pid} is still running (state {state})")

    def test_hidden_checks_stay_hidden(self):
        r = subprocess.run([BINARY, "--list"], env=plain_env(), capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0)
        self.assertNotIn("ST-", r.stdout)
        self.assertGreaterEqual(r.stdout.count("\n"), 75)

    def test_shipped_binary_has_no_selftest_checks(self):
        env = dict(os.environ, HEAPMARK_CONFORMANCE_SELFTEST="1")
        r = subprocess.run([SHIPPED, "--list"], env=env, capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertGreaterEqual(r.stdout.count("\n"), 75)
        self.assertNotIn("ST-", r.stdout)

    def test_command_line_errors_are_one_line(self):
        for args, needle in ((["--timeout", "abc"], "--timeout"), (["--bogus"], "unknown argument"),
                             (["--filter", "NO-SUCH-CHECK"], "no check matches"),
                             (["--json", os.path.join(SCRATCH, "no/such/dir/x.json")], "cannot write"),
                             (["--json"], "needs a value")):
            with self.subTest(" ".join(args)):
                r = subprocess.run([BINARY] + args, env=plain_env(), capture_output=True, text=True,
                                   timeout=60)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(needle, r.stderr)
                self.assertNotIn("Traceback", r.stderr)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print("usage: selftest.py SELFTEST_BINARY SHIPPED_BINARY SCRATCH_DIR", file=sys.stderr)
        sys.exit(2)
    BINARY, SHIPPED, SCRATCH = sys.argv[1:4]
    unittest.main(argv=sys.argv[:1])
