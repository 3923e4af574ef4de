"""Tests of the decision half of the report (scripts/heapmark_report/verdict.py and how
report.py shows it): memory above each process's baseline, uncertainty across
processes and ties, the verdict, the conformance matrix attached only when it
is the contract of exactly that run. Run: make test-report."""

import json
import math
import os
import re
import shutil
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import hm_testutil as tu  # noqa: E402
import make_fixture  # noqa: E402
import hm_results as hr  # noqa: E402
from heapmark_report.analysis import analyse  # noqa: E402
from heapmark_report import verdict as rv  # noqa: E402


def md_of(folder):
    with open(os.path.join(folder, "report.md")) as f:
        return f.read()


class MemoryBaseline(unittest.TestCase):
    def test_peak_above_baseline_is_peak_minus_startup(self):
        run = hr.read_run(tu.FIXTURE)
        key = ("memory_growth", "phases:6", 1)
        for a in ("glibc", "jemalloc", "sable"):
            rec = next(r for r in tu.read_records(tu.FIXTURE)
                       if r["allocator"] == a and r["benchmark"].startswith("memory_growth"))
            want = rec["max_rss_kb"] * 1024.0 - make_fixture.STARTUP[a]
            self.assertEqual(run.cell(a, key).peak_above_baseline(), [want])
        an = analyse(run)
        mem = an["memory"]
        self.assertEqual(mem["big"], [key])          # the only workload of 32 MiB or more
        g = run.cell("glibc", key).peak_above_baseline()[0]
        j = run.cell("jemalloc", key).peak_above_baseline()[0]
        self.assertAlmostEqual(mem["allocators"]["jemalloc"]["peak_vs_ref"], j / g)
        # the raw peaks' ratio differs: the start-up sizes are not in it
        raw = run.cell("jemalloc", key).rss_bytes[0] / run.cell("glibc", key).rss_bytes[0]
        self.assertNotAlmostEqual(raw, j / g, places=3)
        self.assertEqual(mem["baselines"]["jemalloc"], (float(make_fixture.STARTUP["jemalloc"]), True))

    def test_report_shows_it_and_the_startup_sizes_apart(self):
        tmp = tu.scratch()
        try:
            out = os.path.join(tmp, "out")
            rc, _o, err = tu.run_script("report.py", "--quiet", "--no-plots", "--out", out, tu.FIXTURE)
            self.assertEqual(rc, 0, err)
            md = md_of(out)
            self.assertIn("| allocator | peak above baseline vs glibc |", md)
            self.assertIn("Start-up size, shown once and left out above", md)
            self.assertIn("jemalloc 3 MiB", md)
            self.assertNotIn("peak RSS vs glibc", md.split("## Workloads")[0])
            # per workload too: memory_growth's peak above the baseline (87.9 MiB raw for glibc)
            self.assertRegex(md, r"\| memory_growth/phases:6 \| 1 \| 85\.4 MiB \(\+\d+%\) \|")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_without_a_recorded_baseline_the_smallest_peak_stands_in(self):
        tmp = tu.scratch()
        try:
            run = tu.copy_fixture(tmp)
            for rec in tu.read_records(run):
                if rec.get("json"):
                    p = os.path.join(run, rec["json"])
                    with open(p) as f:
                        doc = json.loads(f.read())
                    del doc["context"]["startup_rss_bytes"]
                    with open(p, "w") as f:
                        json.dump(doc, f)
            r = hr.read_run(run)
            base = rv.baselines(r, ["glibc"])
            self.assertEqual(base["glibc"], (min(c.rss_bytes[0] for (a, _k), c in r.cells.items()
                                                 if a == "glibc"), False))
            rc, _o, err = tu.run_script("report.py", "--quiet", "--no-plots", run)
            self.assertEqual(rc, 0, err)
            self.assertIn("glibc at most 3.32 MiB", md_of(run))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


class Uncertainty(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tu.scratch()
        cls.run_dir = os.path.join(cls.tmp, "20261204T050000Z-noisy-vm")
        make_fixture.noisy_run(cls.run_dir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_process_medians(self):
        run = hr.read_run(self.run_dir)
        c = run.cell("twin-a", ("fam_a", "size:8", 1))
        self.assertEqual(c.processes(), 3)
        pm = c.process_medians()
        self.assertEqual(len(pm), 3)
        self.assertAlmostEqual(c.center(), sorted(pm)[1])

    def test_planted_tie_and_planted_gap(self):
        run = hr.read_run(self.run_dir)
        an = analyse(run)
        pair = an["boot"]["pair"]
        self.assertTrue(rv.is_tie(pair[("twin-a", "twin-b")]), pair[("twin-a", "twin-b")])
        self.assertFalse(rv.is_tie(pair[("fast", "twin-a")]))
        self.assertFalse(rv.is_tie(pair[("twin-b", "glibc")]))
        lo, hi = an["boot"]["ci"]["fast"]
        self.assertTrue(lo < 0.5 < hi or abs(math.log(lo * hi) / 2 - math.log(0.5)) < 0.1,
                        (lo, hi))
        self.assertLess(hi / lo, 1.5)

    def test_one_process_per_cell_gives_no_drift(self):
        an = analyse(hr.read_run(tu.FIXTURE))
        self.assertIsNone(an["drift"])
        self.assertEqual(an["processes"], (1, 1))

    def test_report_marks_ties_drift_cores_and_debug_note(self):
        rc, _o, err = tu.run_script("report.py", "--quiet", "--no-plots", self.run_dir)
        self.assertEqual(rc, 0, err)
        md = md_of(self.run_dir)
        self.assertRegex(md, r"\| twin-[ab] \| [0-9.]+x \| [0-9.x-]+ \| [23] \(tie\) \|")
        self.assertIn("median over 3 separate process(es)", md)
        self.assertRegex(md, r"the machine's own drift, glibc's per-process medians of one "
                             r"workload, is \d+\.\d%")
        self.assertIn("**Warning**: this machine has 2 cores; 4 workload(s) run more threads", md)
        self.assertIn("Library was built as DEBUG", md)
        with open(os.path.join(self.run_dir, "summary.json")) as f:
            summ = json.load(f)["runs"][0]
        self.assertEqual([sorted(t) for t in summ["headline"]["ties"]], [["twin-a", "twin-b"]])
        self.assertEqual(summ["processes_per_figure"], [3, 3])
        self.assertEqual(summ["drift"]["allocator"], "glibc")
        self.assertGreater(summ["drift"]["median"], 0.0)
        # the archived report names its own run, also through a `latest` link
        link = os.path.join(self.tmp, "latest")
        os.symlink(os.path.basename(self.run_dir), link)
        rc, _o, err = tu.run_script("report.py", "--quiet", "--no-plots", link)
        self.assertEqual(rc, 0, err)
        self.assertIn("run `20261204T050000Z-noisy-vm`", md_of(self.run_dir))
        self.assertNotIn("run `latest`", md_of(self.run_dir))


PROGRAMS = {"baseline": "glibc", "allocators": {
    "glibc": {"time_ratio": 1.0, "time_ci": [1.0, 1.0], "rss_ratio": 1.0, "rss_ci": [1.0, 1.0],
              "programs_ok": 8, "programs_failed": 0},
    "mimalloc": {"time_ratio": 0.90, "time_ci": [0.86, 0.94], "rss_ratio": 1.2,
                 "rss_ci": [1.1, 1.3], "programs_ok": 8, "programs_failed": 0},
    "sable": {"time_ratio": 0.92, "time_ci": [0.88, 0.97], "rss_ratio": 1.05,
              "rss_ci": [1.0, 1.1], "programs_ok": 8, "programs_failed": 0},
    "jemalloc": {"time_ratio": 0.97, "time_ci": [0.95, 0.99], "rss_ratio": 0.95,
                 "rss_ci": [0.93, 0.97], "programs_ok": 8, "programs_failed": 0}},
    "per_program": {}}


class Verdict(unittest.TestCase):
    def setUp(self):
        self.an = analyse(hr.read_run(tu.FIXTURE))

    def test_without_programs_it_says_so(self):
        rows = dict(rv.verdict(self.an, None))
        self.assertIn("no program was run", rows["throughput on programs"])
        self.assertIn("**mimalloc** leads", rows["microbenchmarks (each family once)"])
        self.assertIn("**sable (heapmark's own)** leads", rows["memory (workloads of 32 MiB or more)"])
        self.assertIn("most hardening capabilities present (1 of 1): glibc",
                      rows["contract and hardening"])

    def test_programs_lead_with_their_uncertainty(self):
        rows = dict(rv.verdict(self.an, PROGRAMS))
        t = rows["throughput on programs"]
        self.assertIn("**mimalloc** leads: time 0.9x glibc's (95% CI 0.86x-0.94x)", t)
        self.assertIn("next sable (heapmark's own), +2.2%", t)
        self.assertIn("**tie**", t)                       # 0.86-0.94 overlaps 0.88-0.97
        m = rows["memory on programs"]
        self.assertIn("**jemalloc** leads", m)
        self.assertIn("separated", m)                     # 0.93-0.97 against glibc's 1.0
        sens = dict(rv.sensitivity(self.an, PROGRAMS))
        self.assertEqual(sens["programs only"], ["mimalloc", "sable", "jemalloc", "glibc"])
        self.assertEqual(sens["each family once"][0], "mimalloc")

    def test_family_weighting_counts_each_family_once(self):
        run = hr.read_run(tu.FIXTURE)
        an = analyse(run)
        r = rv.time_ratios(run, "sable", "glibc", an["basis"])
        fams = {}
        for k, v in r.items():
            fams.setdefault(k[0], []).append(math.log(v))
        want = math.exp(sum(sum(v) / len(v) for v in fams.values()) / len(fams))
        self.assertAlmostEqual(an["headline"]["family"]["sable"], want)
        self.assertNotAlmostEqual(an["headline"]["workload"]["sable"], want, places=3)

    def test_far_behind_reads_as_a_ratio(self):
        tmp = tu.scratch()
        try:
            run = tu.copy_fixture(tmp)
            tu.edit_times(run, "glibc", "latency/size:64/threads:1", lambda i, t: t * 3000.0)
            rc, _o, err = tu.run_script("report.py", "--quiet", "--no-plots", run)
            self.assertEqual(rc, 0, err)
            md = md_of(run)
            self.assertRegex(md, r"\| latency/size:64 \| 1 \| [0-9.]+ us ±\d+% \(\d{4}x\) \|")
            self.assertNotRegex(md, r"\(\+\d{4,}%\)")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_ratio_format(self):
        self.assertEqual(rv.fmt_x(2777.55), "2778x")
        self.assertEqual(rv.fmt_x(0.39712), "0.397x")
        self.assertEqual(rv.fmt_x(12.34), "12.3x")


class Terminal(unittest.TestCase):
    def test_make_bench_ends_with_the_verdict_the_table_and_the_paths(self):
        tmp = tu.scratch()
        try:
            out = os.path.join(tmp, "out")
            rc, text, err = tu.run_script("report.py", "--quiet", "--no-plots", "--print-summary",
                                          "--out", out, tu.FIXTURE)
            self.assertEqual(rc, 0, err)
            lines = text.splitlines()
            self.assertIn("  microbenchmarks (each family once):    mimalloc leads: time 0.55x", text)
            table = [l.split()[0] for l in lines if re.match(r"^  (glibc|jemalloc|mimalloc|sable) ",
                                                             l)]
            self.assertEqual(table, ["mimalloc", "sable", "jemalloc", "glibc"])   # rank order
            self.assertEqual(lines[-2], "report: %s" % os.path.join(out, "report.md"))
            self.assertEqual(lines[-1].strip(), os.path.join(out, "report.html"))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


class LatencyFloor(unittest.TestCase):
    def test_under_the_timer_floor_reads_less_than_floor(self):
        tmp = tu.scratch()
        try:
            run = os.path.join(tmp, "nine")
            make_fixture.noisy_run(run, processes=1, allocs=make_fixture.NINE)
            rc, _o, err = tu.run_script("report.py", "--quiet", "--no-plots", run)
            self.assertEqual(rc, 0, err)
            md = md_of(run)
            row = next(line for line in md.split("\n")
                       if line.startswith("| fam_a/size:8/threads:1 | lat_malloc p50 |"))
            cells = [c.strip() for c in row.strip("|").split("|")][2:]
            # sable's p50 (1.6 ns) and glibc's (8 ns) are under the 20 ns floor; scudo's is not
            self.assertEqual(cells[0], "< floor (20 ns)")
            self.assertEqual(cells[1], "< floor (20 ns)")
            self.assertNotIn("floor", cells[6])
            self.assertNotIn("| 0 ns", md)
            # the memory table: kept after free and after an idle second (the fixture's
            # 1 MiB and 512 KiB per unit of time ratio)
            mem = md.split("| allocator | peak above baseline vs glibc |", 1)[1]
            row = next(line for line in mem.split("\n") if line.startswith("| glibc | 1x |"))
            self.assertIn("| 1 MiB | 1 MiB | 512 KiB | - |", row)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


class ConformanceMatch(unittest.TestCase):
    """A conformance run is attached only when it is exactly the bench run's contract."""

    def setUp(self):
        self.tmp = tu.scratch()
        self.bench, self.conf = tu.split_conformance(self.tmp, started="2026-11-21T05:10:00Z")
        os.symlink(os.path.basename(self.conf), os.path.join(self.tmp, "latest-conformance"))

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def render(self):
        rc, _o, err = tu.run_script("report.py", "--quiet", "--no-plots", self.bench)
        self.assertEqual(rc, 0, err)
        return md_of(self.bench)

    def test_matching_matrix_is_attached_with_the_hardening_table(self):
        md = self.render()
        self.assertIn("From the conformance run `20261121T051000Z-fixture-vm`", md)
        self.assertIn("| hardening check | glibc | jemalloc | mimalloc | sable |", md)
        self.assertIn("| `HD-01` fixture check HD-01 | yes | no | no | no |", md)

    def check_refused(self, edit, why):
        tu.edit_meta(self.conf, edit)
        md = self.render()
        self.assertNotIn("From the conformance run", md)
        self.assertNotIn("| hardening check |", md)
        self.assertIn("the conformance run `20261121T051000Z-fixture-vm` is not attached, as "
                      + why, md)
        # and given on the command line together: not attached either
        out = os.path.join(self.tmp, "out")
        rc, _o, err = tu.run_script("report.py", "--quiet", "--no-plots", "--out", out,
                                    self.bench, self.conf)
        self.assertEqual(rc, 0, err)
        self.assertNotIn("From the conformance run", md_of(out))

    def test_make_bench_reuses_only_a_matching_matrix(self):
        link = os.path.join(self.tmp, "latest-conformance")
        rc, out, err = tu.run_script("hm_results.py", "conformance-match", self.bench, link)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("conformance: reusing 20261121T051000Z-fixture-vm", out)
        tu.edit_meta(self.conf, lambda m: m["options"].update(filter="HD-*"))
        rc, out, err = tu.run_script("hm_results.py", "conformance-match", self.bench, link)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("is not reusable: it was filtered", out)
        rc, out, err = tu.run_script("hm_results.py", "conformance-match", self.bench,
                                     os.path.join(self.tmp, "none"))
        self.assertEqual(rc, 1, out + err)
        self.assertIn("conformance: no matrix to reuse", out)

    def test_a_variant_keeps_its_own_column(self):
        # a variant's binary is its base's: its JSON names the base; the file is the variant's
        shutil.copy(os.path.join(self.conf, "conformance", "sable.json"),
                    os.path.join(self.conf, "conformance", "sable-secure.json"))
        run = hr.read_run(self.conf)
        self.assertIn("sable-secure", run.conformance)
        self.assertIn("sable", run.conformance)
        rc, out, err = tu.run_script("conformance_report.py", self.conf)
        self.assertEqual(rc, 0, out + err)
        self.assertRegex(out, r"check +kind +area +sable +glibc +jemalloc +mimalloc +sable-secure\n")

    def test_filtered_matrix_is_refused(self):
        self.check_refused(lambda m: m["options"].update(filter="AL-*"), "it was filtered")

    def test_other_build_is_refused(self):
        self.check_refused(lambda m: m.update(git_revision="0000000"), "another build")

    def test_other_allocators_are_refused(self):
        def drop(m):
            m["allocators"] = [a for a in m["allocators"] if a["name"] != "sable"]
        os.remove(os.path.join(self.conf, "conformance", "sable.json"))
        self.check_refused(drop, "other allocators (without sable)")

    def test_other_host_is_refused(self):
        self.check_refused(lambda m: m.update(host="elsewhere"), "it ran on another host")


if __name__ == "__main__":
    unittest.main()
