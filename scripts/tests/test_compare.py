"""Tests of scripts/compare.py on copies of the fixture run with planted changes.
Run: make test-compare."""

import json
import math
import os
import random
import shutil
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
import hm_testutil as tu  # noqa: E402
import compare  # noqa: E402

BENCHES = ["malloc_free/size:16/threads:1", "malloc_free/size:4096/threads:1",
           "malloc_free/size:16/threads:2", "latency/size:64/threads:1",
           "memory_growth/phases:6/threads:1"]
ALLOCS = ["glibc", "jemalloc", "mimalloc", "sable"]


def verdict_rows(md):
    """(verdict, allocator, workload) of the rows of the flagged table."""
    out = []
    flagged = md.split("<details>")[0]
    for line in flagged.splitlines():
        if line.startswith("| ") and not line.startswith("| verdict"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if len(cells) == 8:            # the per-workload table, not the overall one
                out.append((cells[0], cells[1], cells[2].strip("`")))
    return out


class Compare(unittest.TestCase):
    def setUp(self):
        self.tmp = tu.scratch()
        self.old = tu.copy_fixture(self.tmp, "old")
        self.new = tu.copy_fixture(self.tmp, "new")
        self.rng = random.Random(7)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def noise(self, run, amplitude=0.03, drift=1.0):
        """Every repetition of every ok cell moves by up to +-amplitude, times drift."""
        for a in ALLOCS:
            for b in BENCHES:
                if tu.raw_path(run, a, b):
                    tu.edit_times(run, a, b, lambda i, t: t * drift *
                                  (1.0 + self.rng.uniform(-amplitude, amplitude)))

    def compare(self, *extra):
        return tu.run_script("compare.py", self.old, self.new, *extra)

    def test_same_run_no_regression(self):
        rc, out, err = tu.run_script("compare.py", self.old, self.old)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("**0 regression(s), 0 improvement(s)** over 18 comparison(s)", out)

    def test_noise_only(self):
        self.noise(self.new)
        rc, out, err = self.compare()
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(verdict_rows(out), [])

    def test_planted_regression(self):
        self.noise(self.new)
        tu.edit_times(self.new, "sable", "malloc_free/size:16/threads:1", lambda i, t: t * 1.3)
        rc, out, err = self.compare()
        self.assertEqual(rc, 1, out + err)
        self.assertEqual(verdict_rows(out),
                         [("REGRESSION", "sable", "malloc_free/size:16/threads:1")])
        self.assertIn("**1 regression(s), 0 improvement(s)**", out)
        self.assertIn("U p=", out)

    def test_planted_improvement_is_no_failure(self):
        self.noise(self.new)
        tu.edit_times(self.new, "mimalloc", "latency/size:64/threads:1", lambda i, t: t * 0.7)
        rc, out, err = self.compare()
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(verdict_rows(out),
                         [("improvement", "mimalloc", "latency/size:64/threads:1")])

    def test_large_but_insignificant_change_is_noise(self):
        # median +15% (beyond the threshold) but the samples straddle the old ones
        factors = [0.7, 0.95, 1.15, 1.4, 1.6]
        tu.edit_times(self.new, "sable", "latency/size:64/threads:1",
                      lambda i, t: t * factors[i])
        rc, out, err = self.compare()
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(verdict_rows(out), [])
        self.assertRegex(out, r"\| noise \| sable \| `latency/size:64/threads:1` .*\| U p=0\.[1-9]")

    def test_machine_drift_cancels_in_ratio_mode(self):
        self.noise(self.new, drift=1.25)      # a machine 25% slower: every allocator alike
        rc, out, err = self.compare("--gate", "ratio")
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(verdict_rows(out), [])
        # ... while each allocator against itself (the default) sees it, and says why
        rc, out, err = self.compare()
        self.assertEqual(rc, 1, out + err)
        self.assertRegex(out.split("<details>")[0], r"Machine drift\? glibc itself changed by "
                                                    r"\+2[3-7]\.\d%")
        # every cell but jemalloc's malloc_free/size:16/threads:2 (4 repetitions: untested)
        self.assertEqual(len(verdict_rows(out)), 17)
        self.assertTrue(all(v == "REGRESSION" for v, _a, _w in verdict_rows(out)))

    def test_few_repetitions_are_never_flagged(self):
        # jemalloc's malloc_free/size:16/threads:2 has 4 usable repetitions (one is NaN): the
        # U test cannot reach significance, so a 30% change is shown but not flagged
        self.noise(self.new)
        tu.edit_times(self.new, "jemalloc", "malloc_free/size:16/threads:2", lambda i, t: t * 1.3)
        rc, out, err = self.compare()
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(verdict_rows(out), [])
        self.assertRegex(out, r"\| untested \| jemalloc \| `malloc_free/size:16/threads:2` .*"
                              r"untested \(n=4/4 < 5\)")
        self.assertIn("1 change(s) beyond the threshold could not be tested", out)

    def process_noise(self, sigma):
        """Each process (cell) of NEW moves by its own factor, lognormal(0, sigma), all its
        repetitions alike: a busy machine, which repetitions cannot show."""
        for r in tu.read_records(self.new):
            a, b = r["allocator"], r["benchmark"]
            if r.get("json"):
                f = math.exp(self.rng.gauss(0.0, sigma))
                tu.edit_times(self.new, a, b, lambda i, t, f=f: t * f *
                              (1.0 + self.rng.uniform(-0.01, 0.01)))

    def test_noise_floor_from_the_reference(self):
        self.process_noise(0.3)
        rc, out, err = self.compare()
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(verdict_rows(out), [])
        self.assertRegex(out, r"Noise floor: glibc's own changes between the runs spread by "
                              r"\d+\.\d% \(robust sigma over 5 workloads\)")
        # without the floor, the same noise passes the U test and the threshold
        rc, out, err = self.compare("--noise-k", "0")
        self.assertEqual(rc, 1, out + err)
        self.assertGreater(len(verdict_rows(out)), 3)

    def test_large_regression_passes_the_noise_floor(self):
        self.process_noise(0.3)
        tu.edit_times(self.new, "sable", "latency/size:64/threads:1", lambda i, t: t * 8.0)
        rc, out, err = self.compare()
        self.assertEqual(rc, 1, out + err)
        self.assertEqual(verdict_rows(out), [("REGRESSION", "sable", "latency/size:64/threads:1")])

    def widen(self, copies):
        """Clones every successful process of both runs under new workload names, so that
        there are enough workloads for the overall test."""
        for run in (self.old, self.new):
            recs = tu.read_records(run)
            n = len(recs)
            extra = []
            for j in range(copies):
                for r in recs:
                    if r["status"] != "ok":
                        continue
                    n += 1
                    c = dict(r, id="%04d" % n, json="raw/%s/%04d.json" % (r["allocator"], n),
                             log="raw/%s/%04d.log" % (r["allocator"], n))
                    fam, rest = r["benchmark"].split("/", 1)
                    c["benchmark"] = "%s_c%d/%s" % (fam, j, rest)
                    with open(os.path.join(run, r["json"])) as f:
                        text = f.read()
                    with open(os.path.join(run, c["json"]), "w") as f:
                        f.write(text.replace('"%s/' % fam, '"%s_c%d/' % (fam, j)))
                    extra.append(c)
            tu.write_records(run, recs + extra)

    def test_overall_regression_below_every_single_noise_floor(self):
        self.widen(6)
        self.process_noise(0.3)
        rc, out, err = self.compare("--gate", "ratio")
        self.assertEqual(rc, 0, out + err)
        self.assertRegex(out, r"\| (same|noise) \| sable \| [-+]\d+\.\d% \| 28 \| ratio to glibc \| "
                              r"signed-rank p=")
        # sable 40% slower everywhere: nearly every workload stays under the noise floor, the
        # whole does not
        for b in BENCHES:
            for j in [None] + list(range(6)):
                name = b if j is None else b.replace("/", "_c%d/" % j, 1)
                try:
                    if tu.raw_path(self.new, "sable", name):
                        tu.edit_times(self.new, "sable", name, lambda i, t: t * 1.4)
                except KeyError:
                    pass
        rc, out, err = self.compare("--gate", "ratio")
        self.assertEqual(rc, 1, out + err)
        single = verdict_rows(out)
        self.assertLessEqual(len(single), 2, single)          # of sable's 28 workloads
        self.assertTrue(all(a == "sable" for _v, a, _w in single), single)
        self.assertIn("overall regression of sable", out)
        self.assertRegex(out, r"\| REGRESSION \| sable \| \+\d+\.\d% \| 28 \| ratio to glibc \| "
                              r"signed-rank p=")

    def test_each_allocator_against_itself_by_default(self):
        # glibc 30% faster in NEW, every other allocator unchanged
        self.noise(self.new)
        for b in BENCHES:
            if tu.raw_path(self.new, "glibc", b):
                tu.edit_times(self.new, "glibc", b, lambda i, t: t * 0.7)
        rc, out, err = self.compare()
        self.assertEqual(rc, 0, out + err)
        rows = verdict_rows(out)
        self.assertTrue(rows)
        self.assertEqual({(v, a) for v, a, _w in rows}, {("improvement", "glibc")})
        self.assertIn("change of each allocator against itself", out)
        # the glibc-ratio mode reports glibc's speed-up as everyone else's regression
        rc, out, err = self.compare("--gate", "ratio")
        self.assertEqual(rc, 1, out + err)
        self.assertIn(("REGRESSION", "sable", "malloc_free/size:16/threads:1"), verdict_rows(out))

    def test_allocators_in_one_run_only_are_named(self):
        recs = [r for r in tu.read_records(self.new) if r["allocator"] != "mimalloc"]
        extra = [dict(r, allocator="tcmalloc") for r in recs if r["allocator"] == "jemalloc"]
        tu.write_records(self.new, recs + extra)
        tu.edit_meta(self.new, lambda m: m.update(allocators=[
            a for a in m["allocators"] if a["name"] != "mimalloc"] + [{"name": "tcmalloc"}]))
        rc, out, err = self.compare()
        self.assertEqual(rc, 0, out + err)
        self.assertIn("Allocators in one run only, not compared: only in OLD: **mimalloc**; "
                      "only in NEW: **tcmalloc**.", out)
        self.assertNotIn("| mimalloc |", out)

    def test_unreadable_input(self):
        bad = tu.copy_fixture(self.tmp, "bad")
        with open(os.path.join(bad, "runs.jsonl"), "w") as f:
            f.write("not json\n")
        with open(os.path.join(bad, "meta.json"), "w") as f:
            f.write("{broken")
        rc, out, err = tu.run_script("compare.py", self.old, bad)
        self.assertEqual(rc, 2)
        self.assertEqual(out, "")
        self.assertIn("compare.py: %s: no benchmark results to compare" % bad,
                      err.strip().splitlines()[-1])
        self.assertNotIn("Traceback", err)
        f = os.path.join(self.tmp, "a-file")
        open(f, "w").close()
        rc, out, err = tu.run_script("compare.py", f, self.new)
        self.assertEqual(rc, 2)
        self.assertIn("not a folder", err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)

    def test_threshold(self):
        self.noise(self.new, amplitude=0.005)
        tu.edit_times(self.new, "sable", "malloc_free/size:16/threads:1", lambda i, t: t * 1.3)
        rc, _out, _err = self.compare("--threshold", "0.5")
        self.assertEqual(rc, 0)
        rc, out, _err = self.compare("--threshold", "0.2")
        self.assertEqual(rc, 1, out)

    def test_instruction_counts(self):
        tu.to_instructions(self.old)
        tu.to_instructions(self.new)
        rc, out, err = self.compare()
        self.assertEqual(rc, 0, out + err)
        self.assertIn("Metric `instructions_per_op`", out)
        # one process, no repetitions: a count is deterministic, the threshold decides
        recs = tu.read_records(self.new)
        for r in recs:
            if r["allocator"] == "sable" and r["benchmark"] == "malloc_free/size:16/threads:1":
                r["instructions_per_op"] *= 1.3
        tu.write_records(self.new, recs)
        rc, out, err = self.compare()
        self.assertEqual(rc, 1, out + err)
        self.assertEqual(verdict_rows(out), [("REGRESSION", "sable", "malloc_free/size:16/threads:1")])
        self.assertIn("instruction count (deterministic)", out)
        # an instruction-count run and a timed one do not compare
        rc, out, err = tu.run_script("compare.py", tu.FIXTURE, self.new)
        self.assertEqual(rc, 2)
        self.assertIn("cannot compare an instruction-count run", err)

    def test_bad_input(self):
        rc, out, err = tu.run_script("compare.py", self.old, os.path.join(self.tmp, "nope"))
        self.assertEqual(rc, 2)
        self.assertEqual(out, "")
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn("no such run folder", err)
        self.assertNotIn("Traceback", err)
        empty = os.path.join(self.tmp, "empty")
        os.makedirs(empty)
        with open(os.path.join(empty, "meta.json"), "w") as f:
            json.dump({"schema": 1, "state": "running"}, f)
        open(os.path.join(empty, "runs.jsonl"), "w").close()
        rc, out, err = tu.run_script("compare.py", self.old, empty)
        self.assertEqual(rc, 2)
        self.assertIn("empty run", err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        rc, out, err = tu.run_script("compare.py", "--threshold", "-1", self.old, self.new)
        self.assertEqual(rc, 2)
        self.assertIn("--threshold must be > 0", err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        rc, out, err = tu.run_script("compare.py", "--metric", "no_such_counter", self.old, self.new)
        self.assertEqual(rc, 2)
        self.assertIn("nothing to compare", err.splitlines()[-1])
        self.assertNotIn("Traceback", err)


class MannWhitney(unittest.TestCase):
    def test_separated_samples_are_significant(self):
        x, y = [1.0, 2.0, 3.0, 4.0, 5.0], [6.0, 7.0, 8.0, 9.0, 10.0]
        self.assertLess(compare.mann_whitney_p(x, y), 0.05)
        self.assertLess(compare.mann_whitney_p_approx(x, y), 0.05)

    def test_identical_samples_are_not(self):
        x = [1.0, 2.0, 3.0, 4.0, 5.0]
        self.assertGreater(compare.mann_whitney_p(x, list(x)), 0.9)
        self.assertGreater(compare.mann_whitney_p_approx(x, list(x)), 0.9)

    def test_approximation_close_to_scipy(self):
        try:
            from scipy.stats import mannwhitneyu
        except ImportError:
            self.skipTest("scipy is not installed")
        rng = random.Random(3)
        for _ in range(20):
            x = [rng.gauss(0, 1) for _ in range(12)]
            y = [rng.gauss(0.7, 1) for _ in range(12)]
            ref = mannwhitneyu(x, y, alternative="two-sided", method="asymptotic").pvalue
            self.assertAlmostEqual(compare.mann_whitney_p_approx(x, y), ref, places=6)

    def test_signed_rank(self):
        rng = random.Random(5)
        shifted = [rng.gauss(0.5, 1) for _ in range(30)]
        centred = [rng.gauss(0.0, 1) for _ in range(30)]
        self.assertLess(compare.signed_rank_p(shifted), 0.05)
        self.assertGreater(compare.signed_rank_p(centred), 0.05)
        self.assertEqual(compare.signed_rank_p([0.0, 0.0]), 1.0)
        try:
            from scipy.stats import wilcoxon
        except ImportError:
            return
        import unittest.mock
        ref = wilcoxon(shifted, alternative="two-sided", correction=True, method="approx").pvalue
        with unittest.mock.patch.dict(sys.modules, {"scipy.stats": None}):
            self.assertAlmostEqual(compare.signed_rank_p(shifted), ref, places=6)

    def test_ties(self):
        x = [1.0, 1.0, 1.0, 2.0, 2.0]
        y = [2.0, 2.0, 3.0, 3.0, 3.0]
        p = compare.mann_whitney_p_approx(x, y)
        self.assertTrue(0.0 < p < 0.05, p)


if __name__ == "__main__":
    unittest.main()
