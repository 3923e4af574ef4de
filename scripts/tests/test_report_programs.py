"""Tests of scripts/heapmark_report/programs.py on a generated run folder of real
programs: glibc; "fast" at half glibc's time on every program (separated);
"same" at glibc's time within noise (a tie), with one mismatch.
Run: make test-report-programs."""

import csv
import json
import os
import random
import shutil
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.dirname(HERE)
ROOT = os.path.dirname(SCRIPTS)
sys.path.insert(0, SCRIPTS)
from heapmark_report import programs as rpg  # noqa: E402

PROGRAMS = ["alpha", "beta", "gamma", "delta"]
ALLOCS = ["glibc", "fast", "same"]
SCRATCH = os.path.join(ROOT, "build", "report-programs-test")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def make_run(path, rounds=3):
    rng = random.Random(7)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    meta = {"schema": 1, "tool": "heapmark", "kind": "bench", "state": "complete",
            "host": "fixture", "allocators": [{"name": a} for a in ALLOCS],
            "benchmarks": [], "programs": [
                {"name": p, "about": "the %s program" % p, "package": "pkg-" + p,
                 "figure": "ops ([0-9]+)" if p == "alpha" else None,
                 "better": "higher" if p == "alpha" else None,
                 "unit": "ops/s" if p == "alpha" else None} for p in PROGRAMS],
            "programs_skipped": [{"program": "omega", "reason": "omega is not installed"}]}
    with open(os.path.join(path, "meta.json"), "w") as f:
        json.dump(meta, f)
    base_t = {"alpha": 2.0, "beta": 3.0, "gamma": 5.0, "delta": 8.0}
    base_m = {"alpha": 40, "beta": 80, "gamma": 20, "delta": 100}  # MiB
    n = 0
    with open(os.path.join(path, "runs.jsonl"), "w") as f:
        for proc in range(rounds):
            for p in PROGRAMS:
                for a in ALLOCS:
                    n += 1
                    t = base_t[p] * (0.5 if a == "fast" else 1.0) * rng.uniform(0.97, 1.03)
                    rss_kb = base_m[p] * 1024 * (1.2 if a == "fast" else 1.0)
                    status = "mismatch" if (a, p, proc) == ("same", "delta", 1) else "ok"
                    rel = "raw/%s/%04d.rss" % (a, n)
                    os.makedirs(os.path.join(path, "raw", a), exist_ok=True)
                    with open(os.path.join(path, rel), "w") as s:
                        s.write("# heapmark rss: pid 1 /bin/x, every 0.010 s\n")
                        for i in range(50):
                            s.write("%.3f %d\n" % (i * t / 50, rss_kb * min(1.0, (i + 1) / 25)))
                    f.write(json.dumps({
                        "id": "%04d" % n, "kind": "program", "allocator": a, "program": p,
                        "process": proc, "status": status,
                        "reason": None if status == "ok" else "its result differs",
                        "exit_code": 0, "signal": None, "wall_s": t, "user_s": t * 0.9,
                        "sys_s": 0.1, "max_rss_kb": int(rss_kb), "minflt": 10, "majflt": 0,
                        "rss": rel, "rss_samples": 50, "rss_peak_sampled_kb": int(rss_kb),
                        "server": False, "port": None, "client_wall_s": None,
                        "client_user_s": None, "client_sys_s": None, "client_max_rss_kb": None,
                        "rss_end_load_kb": None, "rss_after_100ms_kb": None,
                        "rss_after_1s_kb": None,
                        "figure": 1000.0 / t if p == "alpha" else None,
                        "better": "higher" if p == "alpha" else None,
                        "unit": "ops/s" if p == "alpha" else None,
                        "library": "/lib/%s.so" % a, "preloaded": True, "library_mapped": True,
                        "check": "output", "digest": "d", "digest_reference": "d",
                        "log": "raw/%s/%04d.log" % (a, n), "client_log": None,
                        "output": None}) + "\n")
    return path


class TestReportPrograms(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.run_dir = make_run(os.path.join(SCRATCH, "run"))

    def test_summary_contract(self):
        s = rpg.summary(self.run_dir)
        self.assertEqual(sorted(s), ["allocators", "baseline", "per_program"])
        self.assertEqual(s["baseline"], "glibc")
        for a in ALLOCS:
            e = s["allocators"][a]
            for k in ("time_ratio", "time_ci", "rss_ratio", "rss_ci", "programs_ok",
                      "programs_failed"):
                self.assertIn(k, e)
            self.assertEqual(len(e["time_ci"]), 2)
        fast, same = s["allocators"]["fast"], s["allocators"]["same"]
        self.assertAlmostEqual(fast["time_ratio"], 0.5, delta=0.03)
        self.assertAlmostEqual(fast["rss_ratio"], 1.2, delta=0.01)
        self.assertTrue(fast["time_ci"][0] <= fast["time_ratio"] <= fast["time_ci"][1])
        self.assertAlmostEqual(same["time_ratio"], 1.0, delta=0.05)
        # the mismatch: a failed program, left out of the geometric mean
        self.assertEqual((same["programs_ok"], same["programs_failed"]), (3, 1))
        self.assertEqual((fast["programs_ok"], fast["programs_failed"]), (4, 0))
        self.assertIsNone(s["per_program"]["delta"]["allocators"]["same"]["time_ratio"])
        self.assertEqual(s["per_program"]["delta"]["allocators"]["same"]["statuses"],
                         ["mismatch", "ok"])
        self.assertAlmostEqual(s["per_program"]["alpha"]["allocators"]["fast"]["figure"],
                               1000.0, delta=40)

    def test_time_range_per_program(self):
        """The range pairs each process with the baseline's of the same round."""
        walls = {}
        with open(os.path.join(self.run_dir, "runs.jsonl")) as f:
            for line in f:
                r = json.loads(line)
                if r["status"] == "ok":
                    walls[(r["allocator"], r["program"], r["process"])] = r["wall_s"]
        per = rpg.summary(self.run_dir)["per_program"]
        for p in PROGRAMS:
            ratios = [walls[("fast", p, k)] / walls[("glibc", p, k)] for k in range(3)]
            self.assertEqual(per[p]["allocators"]["fast"]["time_range"],
                             [min(ratios), max(ratios)])
            lo, hi = per[p]["allocators"]["fast"]["time_range"]
            self.assertTrue(0.45 < lo <= per[p]["allocators"]["fast"]["time_ratio"] <= hi < 0.55)
        # a program with a failed process has no ratio and no range
        self.assertIsNone(per["delta"]["allocators"]["same"]["time_range"])
        one = make_run(os.path.join(SCRATCH, "run-range-one"), rounds=1)
        self.assertIsNone(rpg.summary(one)["per_program"]["alpha"]["allocators"]["fast"]
                          ["time_range"])
        headers, rows = rpg.program_table(rpg.analyse(self.run_dir), "beta")
        col = headers.index("range over processes")
        fast = [r for r in rows if r[0] == "fast"][0]
        lo, hi = per["beta"]["allocators"]["fast"]["time_range"]
        self.assertEqual(fast[col], "%.3f-%.3f" % (lo, hi))

    def test_separation(self):
        s = rpg.summary(self.run_dir)["allocators"]
        self.assertEqual(sorted(s["fast"]["time_separated_from"]), ["glibc", "same"])
        self.assertNotIn("glibc", s["same"]["time_separated_from"])
        self.assertTrue(rpg.separated([0.4, 0.6], [0.7, 1.1]))
        self.assertFalse(rpg.separated([0.4, 0.8], [0.7, 1.1]))

    def test_one_process_has_no_interval(self):
        one = make_run(os.path.join(SCRATCH, "run-one"), rounds=1)
        s = rpg.summary(one)["allocators"]
        self.assertAlmostEqual(s["fast"]["time_ratio"], 0.5, delta=0.03)
        for a in ALLOCS:
            self.assertIsNone(s[a]["time_ci"])
            self.assertIsNone(s[a]["time_spread"])
            self.assertEqual(s[a]["time_separated_from"], [])

    def test_exports(self):
        rows = rpg.csv_rows(self.run_dir)
        metrics = {(r[0], r[1], r[4]) for r in rows}
        self.assertIn(("fast", "program/alpha", "figure"), metrics)
        self.assertIn(("glibc", "program/delta", "peak_rss"), metrics)
        bmf = rpg.bmf(self.run_dir)
        self.assertEqual(sorted(bmf["program/alpha/fast"]), ["figure_ops_s", "peak_rss",
                                                             "wall_time"])
        w = bmf["program/beta/glibc"]["wall_time"]
        self.assertTrue(w["lower_value"] <= w["value"] <= w["upper_value"])
        names = [e["name"] for e in rpg.bench_entries(self.run_dir)]
        self.assertIn("fast program/gamma wall_time", names)
        self.assertNotIn("fast program/alpha ops/s", names)  # higher is better: not here
        bigger = {e["name"]: e["value"] for e in rpg.bigger_entries(self.run_dir)}
        self.assertEqual(sorted(bigger), ["fast program/alpha ops/s", "glibc program/alpha ops/s",
                                          "same program/alpha ops/s"])
        self.assertGreater(bigger["fast program/alpha ops/s"], bigger["glibc program/alpha ops/s"])

    def test_report_opens_with_programs(self):
        out = os.path.join(SCRATCH, "report")
        shutil.rmtree(out, ignore_errors=True)
        r = subprocess.run([sys.executable, os.path.join(SCRIPTS, "report.py"), "--out", out,
                            "--quiet", self.run_dir], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        md = read(os.path.join(out, "report.md"))
        first_h2 = [l for l in md.splitlines() if l.startswith("## ")][0]
        self.assertEqual(first_h2, "## Real programs")
        table = md.split("## Real programs")[1].split("###")[0]
        lines = [l for l in table.splitlines() if l.startswith("| ")]
        self.assertTrue(lines[1].startswith("| fast |"), lines)
        self.assertIn("glibc, same", lines[1])
        self.assertIn("skipped: omega: omega is not installed", md)
        for p in PROGRAMS:
            self.assertTrue(os.path.isfile(os.path.join(out, "plots", "program_rss_%s.png" % p)))
        summary = json.loads(read(os.path.join(out, "summary.json")))
        self.assertEqual(summary["programs"]["baseline"], "glibc")
        with open(os.path.join(out, "results.csv")) as f:
            self.assertTrue(any(r["benchmark"] == "program/beta" for r in csv.DictReader(f)))
        self.assertIn("program/alpha/same", json.loads(read(os.path.join(out, "bench-bmf.json"))))
        bigger = json.loads(read(os.path.join(out, "bench-bigger-is-better.json")))
        self.assertIn("fast program/alpha ops/s", [e["name"] for e in bigger])


if __name__ == "__main__":
    unittest.main(verbosity=1)
