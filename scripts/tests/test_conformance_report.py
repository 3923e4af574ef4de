#!/usr/bin/python3
"""Tests of scripts/conformance_report.py (make test-conformance-report).

Builds small run folders by hand and checks the matrix, the CSV and Markdown
files, the --check comparison (difference named with check, allocator and
both verdicts; exit 1), the version notice, the allocators meta.json records
as having left no verdicts (named; exit 1), and one-line errors for malformed
input. Scratch folders go under build/.
"""
import csv
import json
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hm_testutil as tu  # noqa: E402

SCRIPT = os.path.join(tu.SCRIPTS, "conformance_report.py")


def check(cid, kind, status, detail="", area="alignment"):
    return {"id": cid, "area": area, "kind": kind, "intent": f"intent of {cid}",
            "status": status, "detail": detail}


def write_run(root, name, runs):
    d = os.path.join(root, name)
    os.makedirs(os.path.join(d, "conformance"))
    for alloc, (version, checks) in runs.items():
        with open(os.path.join(d, "conformance", f"{alloc}.json"), "w") as f:
            json.dump({"allocator": alloc, "version": version, "library": f"/lib/lib{alloc}.so",
                       "checks": checks}, f)
    return d


def run(*args):
    return subprocess.run([tu.PYTHON, SCRIPT, *args], capture_output=True, text=True, timeout=60)


GOOD = {
    "glibc": ("2.36", [check("AL-01", "STD", "pass"),
                       check("AL-06", "STD", "fail", "aligned_alloc(3, 64) = 0x10"),
                       check("ZR-04", "REP", "observed", "realloc(p,0) -> NULL"),
                       check("HD-01", "CAP", "present", "SIGABRT", "hardening")]),
    "jemalloc": ("5.3.0", [check("AL-01", "STD", "pass"),
                           check("AL-06", "STD", "pass"),
                           check("ZR-04", "REP", "observed", "realloc(p,0) -> NULL"),
                           check("HD-01", "CAP", "absent", "", "hardening")]),
}


class ConformanceReport(unittest.TestCase):
    def setUp(self):
        self.scratch = tu.scratch()
        self.addCleanup(shutil.rmtree, self.scratch, True)
        self.run_dir = write_run(self.scratch, "good", GOOD)
        self.exp = os.path.join(self.scratch, "expected")
        os.makedirs(self.exp)
        self.write_expected("glibc.txt", "# test\nallocator glibc 2.36\nAL-01 pass\nAL-06 fail  # known\n"
                            "ZR-04 observed\nHD-01 present\n")
        self.write_expected("jemalloc.txt",
                            "allocator jemalloc 5.3.0\nAL-01 pass\nAL-06 fail\nZR-04 observed\nHD-01 absent\n")

    def write_expected(self, name, text):
        with open(os.path.join(self.exp, name), "w") as f:
            f.write(text)

    def test_matrix_csv_and_markdown(self):
        r = run(self.run_dir)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        row = next((l for l in lines if l.startswith("AL-06")), "")
        self.assertTrue("FAIL" in row and "ok" in row, f"matrix row AL-06: {row!r}")
        self.assertTrue(lines and "glibc" in lines[0] and "jemalloc" in lines[0],
                        "header names the allocators")
        self.assertTrue(any(l.startswith("legend:") for l in lines), "no legend")
        self.assertTrue(any("AL-06 glibc: fail: aligned_alloc(3, 64) = 0x10" in l for l in lines),
                        "failure not listed with its detail")
        with open(os.path.join(self.run_dir, "conformance.csv")) as f:
            rows = list(csv.reader(f))
        self.assertEqual(rows[0], ["check", "area", "kind", "allocator", "status", "detail"])
        self.assertEqual(len(rows), 9)
        self.assertIn(["AL-06", "alignment", "STD", "glibc", "fail", "aligned_alloc(3, 64) = 0x10"], rows)
        with open(os.path.join(self.run_dir, "conformance.md")) as f:
            md = f.read()
        self.assertIn("| AL-06 | STD | alignment | FAIL | ok |", md)
        self.assertIn("realloc(p,0) -> NULL", md, "markdown lacks the REP observation")

    def test_check_names_the_difference(self):
        r = run(self.run_dir, "--expected", self.exp, "--check")
        self.assertEqual(r.returncode, 1, "--check with a difference")
        self.assertIn("DIFF AL-06 jemalloc: expected fail, got pass", r.stdout)
        self.assertIn("glibc 2.36: 4 expectations, all met", r.stdout)

    def test_other_version_is_a_notice_not_differences(self):
        self.write_expected("jemalloc.txt", "allocator jemalloc 5.2.1\nAL-01 fail\n")
        r = run(self.run_dir, "--expected", self.exp, "--check")
        self.assertEqual(r.returncode, 0, "--check with another version")
        self.assertIn("expectations were written for jemalloc 5.2.1, this is 5.3.0", r.stdout)
        self.assertNotIn("DIFF", r.stdout, "a version mismatch must not list differences")

    def test_malformed_input_is_one_line(self):
        # one line on stderr, status 2, no traceback
        bad_cases = {
            "notjson": "{not json",
            "nochecks": json.dumps({"allocator": "x", "version": "1", "library": "l"}),
            "badstatus": json.dumps({"allocator": "x", "version": "1", "library": "l",
                                     "checks": [check("ZR-04", "REP", "fail")]}),
            "badkind": json.dumps({"allocator": "x", "version": "1", "library": "l",
                                   "checks": [check("ZR-04", "XYZ", "pass")]}),
        }
        for name, text in bad_cases.items():
            with self.subTest(name):
                dd = os.path.join(self.scratch, name)
                os.makedirs(os.path.join(dd, "conformance"))
                with open(os.path.join(dd, "conformance", "x.json"), "w") as f:
                    f.write(text)
                r = run(dd)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
                self.assertNotIn("Traceback", r.stderr)
                self.assertIn("x.json", r.stderr)
        r = run(os.path.join(self.scratch, "missing"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("no such run folder", r.stderr)

    def write_meta(self, allocators, kind="conformance"):
        with open(os.path.join(self.run_dir, "meta.json"), "w") as f:
            json.dump({"kind": kind, "state": "complete", "allocators": allocators}, f)

    def test_an_allocator_without_verdicts_fails_the_run(self):
        # the runner records how each binary ended; one that left no verdicts is
        # named with its log, after the matrix of the others, and the status is 1
        self.write_meta([{"name": "glibc", "status": "done"}, {"name": "jemalloc", "status": "done"},
                         {"name": "tcmalloc", "status": "crash", "signal": "SIGSEGV",
                          "log": "conformance/tcmalloc.log"},
                         {"name": "scudo", "status": "timeout", "log": "conformance/scudo.log"}])
        with open(os.path.join(self.run_dir, "conformance", "tcmalloc.json"), "w") as f:
            f.write('{"allocator": "tcmalloc", "checks": [')  # killed while writing
        r = run(self.run_dir)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertTrue(r.stdout.startswith("check"), "the matrix of the others is printed")
        self.assertNotIn("tcmalloc", r.stdout.splitlines()[0])
        self.assertEqual(r.stderr.splitlines(), [
            "conformance_report: 2 allocator(s) left no conformance results: tcmalloc (killed by "
            "SIGSEGV, see conformance/tcmalloc.log); scudo (ran past the time limit and was "
            "killed, see conformance/scudo.log)"])
        self.assertTrue(os.path.isfile(os.path.join(self.run_dir, "conformance.md")))
        # with --check, differences and the missing allocator both reported, status 1
        r = run(self.run_dir, "--expected", self.exp, "--check")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("DIFF AL-06 jemalloc", r.stdout)
        self.assertIn("left no conformance results", r.stderr)
        # nobody left verdicts: one line naming them, nothing rendered
        for name in [*GOOD, "tcmalloc"]:
            os.remove(os.path.join(self.run_dir, "conformance", name + ".json"))
        self.write_meta([{"name": "glibc", "status": "no-json", "exit_code": 3}])
        r = run(self.run_dir)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(r.stderr.splitlines(), [
            "conformance_report: 1 allocator(s) left no conformance results: glibc (ended without "
            "writing its verdicts (exit 3))"])

    def test_every_allocator_done_or_a_bench_meta_is_no_failure(self):
        self.write_meta([{"name": "glibc", "status": "done"}, {"name": "jemalloc", "status": "done"}])
        r = run(self.run_dir)
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        self.write_meta([{"name": "glibc"}, {"name": "jemalloc"}], kind="bench")
        r = run(self.run_dir)
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        with open(os.path.join(self.run_dir, "meta.json"), "w") as f:
            f.write("{broken")
        r = run(self.run_dir)
        self.assertEqual(r.returncode, 2)
        self.assertIn("meta.json: not valid JSON", r.stderr)

    def test_malformed_expectations(self):
        self.write_expected("jemalloc.txt", "allocator jemalloc 5.3.0\nAL-01 maybe\n")
        r = run(self.run_dir, "--expected", self.exp, "--check")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("jemalloc.txt:2", r.stderr)
        self.assertNotIn("Traceback", r.stderr)


if __name__ == "__main__":
    unittest.main()
