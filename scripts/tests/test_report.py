"""Tests of scripts/report.py on the committed fixture run (scripts/tests/fixtures/run-small)
and on damaged copies of it. Run: make test-report."""

import csv
import html.parser
import re
import json
import math
import os
import random
import shutil
import statistics
import struct
import sys
import unittest
import xml.etree.ElementTree as ET
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hm_testutil as tu  # noqa: E402

ALLOCS = ["glibc", "jemalloc", "mimalloc", "sable"]
KEYS = [("malloc_free", "size:16", "1"), ("malloc_free", "size:4096", "1"),
        ("malloc_free", "size:16", "2"), ("latency", "size:64", "1"),
        ("memory_growth", "phases:6", "1")]
FAILED = {("sable", "malloc_free", "size:4096", "1"), ("mimalloc", "memory_growth", "phases:6", "1")}
PLOTS = ["time_normalised", "geomean", "rss_normalised", "thread_scaling", "latency",
         "memory_over_time", "conformance"]


def strict_json(text):
    def no_nan(c):
        raise ValueError("non-standard JSON constant %s" % c)
    return json.loads(text, parse_constant=no_nan)


def check_png(testcase, path):
    with open(path, "rb") as f:
        data = f.read()
    testcase.assertEqual(data[:8], b"\x89PNG\r\n\x1a\n", path)
    length, ctype = struct.unpack(">I4s", data[8:16])
    testcase.assertEqual(ctype, b"IHDR", path)
    testcase.assertEqual(length, 13, path)
    w, h = struct.unpack(">II", data[16:24])
    testcase.assertTrue(w > 50 and h > 50, "%s: %dx%d" % (path, w, h))
    crc = struct.unpack(">I", data[29:33])[0]
    testcase.assertEqual(crc, zlib.crc32(data[12:29]) & 0xffffffff, "%s: IHDR CRC" % path)
    testcase.assertIn(b"IEND", data[-12:], path)


def check_svg(testcase, path):
    root = ET.parse(path).getroot()
    testcase.assertTrue(root.tag.endswith("svg"), path)
    testcase.assertGreater(len(list(root.iter())), 20, path)


class Refs(html.parser.HTMLParser):
    """Collects every attribute that could load something, and the tags."""

    def __init__(self):
        super().__init__()
        self.refs = []
        self.tags = []
        self.imgs = 0

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "img":
            self.imgs += 1
        for k, v in attrs:
            if k in ("src", "href", "srcset", "data", "poster", "action", "background"):
                self.refs.append((tag, k, v or ""))
            if k == "style" and v and "url(" in v:
                self.refs.append((tag, k, v))


def one_line_error(testcase, rc, err, expect):
    testcase.assertNotEqual(rc, 0, err)
    testcase.assertNotIn("Traceback", err)
    lines = [l for l in err.splitlines() if l.strip()]
    testcase.assertEqual(len(lines), 1, "expected one line, got: %r" % err)
    testcase.assertIn(expect, lines[0])


class ReportOnFixture(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tu.scratch()
        cls.rundir = tu.copy_fixture(cls.tmp)
        cls.rc, cls.out, cls.err = tu.run_script("report.py", cls.rundir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def path(self, *p):
        return os.path.join(self.rundir, *p)

    def test_every_output_produced(self):
        self.assertEqual(self.rc, 0, self.err)
        self.assertNotIn("Traceback", self.err)
        for f in ("results.csv", "summary.json", "bench-smaller-is-better.json", "report.md",
                  "report.html"):
            self.assertTrue(os.path.getsize(self.path(f)) > 0, f)
        for p in PLOTS:
            for ext in ("png", "svg"):
                self.assertTrue(os.path.exists(self.path("plots", p + "." + ext)), p + "." + ext)

    def test_problems_reported_one_line_each(self):
        lines = self.err.splitlines()
        for l in lines:
            self.assertTrue(l.startswith("report.py: "), l)
        text = "\n".join(lines)
        self.assertIn("raw/jemalloc/0010.json: real_time is NaN/Infinity", text)
        self.assertIn("counter(s) items_per_second are NaN/Infinity", text)
        self.assertIn("crash sable malloc_free/size:4096/threads:1: killed by SIGSEGV", text)
        self.assertIn("timeout mimalloc memory_growth/phases:6/threads:1", text)

    def rows(self):
        with open(self.path("results.csv"), newline="") as f:
            return list(csv.DictReader(f))

    def test_csv_rows(self):
        rows = self.rows()
        with open(self.path("results.csv")) as f:
            header = f.readline().strip()
        self.assertEqual(header, "allocator,benchmark,params,threads,metric,value,unit,stddev,n")
        cells = {(r["allocator"], r["benchmark"], r["params"], r["threads"])
                 for r in rows if r["metric"] == "ns_per_op"}
        expected = {(a,) + k for a in ALLOCS for k in KEYS} - FAILED
        self.assertEqual(cells, expected)
        by = {(r["allocator"], r["benchmark"], r["params"], r["threads"], r["metric"]): r for r in rows}
        # every ok cell has the rusage metrics
        for c in expected:
            for m in ("ns_per_op", "peak_rss_bytes", "minor_faults"):
                self.assertIn(c + (m,), by)
        # ns_per_op is the median of the repetitions' real_time, from the raw file
        raw = tu.iteration_times(tu.raw_path(self.rundir, "glibc", "malloc_free/size:16/threads:1"))
        r = by[("glibc", "malloc_free", "size:16", "1", "ns_per_op")]
        self.assertAlmostEqual(float(r["value"]), statistics.median(raw), places=3)
        self.assertAlmostEqual(float(r["stddev"]), statistics.stdev(raw), places=3)
        self.assertEqual(r["n"], "5")
        self.assertEqual(r["unit"], "ns")
        # microseconds are converted to ns
        raw = tu.iteration_times(tu.raw_path(self.rundir, "glibc", "memory_growth/phases:6/threads:1"))
        r = by[("glibc", "memory_growth", "phases:6", "1", "ns_per_op")]
        self.assertAlmostEqual(float(r["value"]) / (statistics.median(raw) * 1e3), 1.0, places=4)
        # the NaN repetition is left out
        self.assertEqual(by[("jemalloc", "malloc_free", "size:16", "2", "ns_per_op")]["n"], "4")
        # peak RSS from runs.jsonl, in bytes
        rec = [x for x in tu.read_records(self.rundir) if x["allocator"] == "sable"
               and x["benchmark"] == "latency/size:64/threads:1"][0]
        self.assertEqual(float(by[("sable", "latency", "size:64", "1", "peak_rss_bytes")]["value"]),
                         rec["max_rss_kb"] * 1024.0)
        # workload counters: median over repetitions, unit from the name
        r = by[("mimalloc", "latency", "size:64", "1", "lat_malloc_p99_ns")]
        self.assertEqual(r["unit"], "ns")
        self.assertEqual(r["n"], "5")
        self.assertEqual(by[("glibc", "memory_growth", "phases:6", "1", "rss_t5")]["unit"], "bytes")
        # a counter named like an rusage metric keeps its value under another name
        self.assertEqual(by[("glibc", "memory_growth", "phases:6", "1", "peak_rss_bytes_counter")]
                         ["value"], str(6 * 8 * 1048576 * 2))
        self.assertEqual(by[("glibc", "memory_growth", "phases:6", "1", "overhead")]["unit"], "ratio")
        # no NaN or Infinity anywhere
        for r in rows:
            self.assertTrue(math.isfinite(float(r["value"])), r)

    def test_plots_valid(self):
        for p in PLOTS:
            check_png(self, self.path("plots", p + ".png"))
            check_svg(self, self.path("plots", p + ".svg"))

    def test_summary_json(self):
        with open(self.path("summary.json")) as f:
            s = strict_json(f.read())
        run = s["runs"][0]
        self.assertEqual(run["reference"], "glibc")
        self.assertEqual(run["host"], "fixture-vm")
        gm = run["geomean_time_vs_reference"]
        self.assertAlmostEqual(gm["glibc"], 1.0)
        self.assertEqual(sorted(run["rank"], key=run["rank"].get),
                         sorted(gm, key=gm.get))
        self.assertEqual(run["rank"]["mimalloc"], 1)
        # the geometric mean covers only the workloads every allocator completed
        self.assertEqual(sorted(run["workloads_in_geomean"]),
                         ["latency/size:64/threads:1", "malloc_free/size:16/threads:1",
                          "malloc_free/size:16/threads:2"])
        # recomputed from results.csv
        by = {(r["allocator"], r["benchmark"], r["params"], r["threads"]): float(r["value"])
              for r in self.rows() if r["metric"] == "ns_per_op"}
        basis = [("latency", "size:64", "1"), ("malloc_free", "size:16", "1"),
                 ("malloc_free", "size:16", "2")]
        exp = math.exp(sum(math.log(by[("sable",) + k] / by[("glibc",) + k]) for k in basis) / 3)
        self.assertAlmostEqual(gm["sable"], exp, places=5)
        self.assertEqual(run["families"]["malloc_free"]["winner"], "mimalloc")
        self.assertEqual(run["families"]["memory_growth"]["winner"], "sable")
        self.assertEqual(run["families"]["memory_growth"]["without_result"], ["mimalloc"])
        self.assertEqual({(f["allocator"], f["status"]) for f in run["failed"]},
                         {("sable", "crash"), ("mimalloc", "timeout")})

    def test_benchmark_action_export(self):
        with open(self.path("bench-smaller-is-better.json")) as f:
            data = strict_json(f.read())
        self.assertIsInstance(data, list)
        names = set()
        for e in data:
            self.assertTrue(isinstance(e["name"], str) and isinstance(e["unit"], str))
            self.assertTrue(math.isfinite(e["value"]))
            self.assertFalse(set(e) - {"name", "unit", "value", "range", "extra"})
            names.add(e["name"])
        self.assertEqual(len(names), len(data), "names must be unique")
        self.assertIn("glibc malloc_free/size:16/threads:1 ns_per_op", names)
        self.assertIn("sable/glibc malloc_free/size:16/threads:1 time ratio", names)
        e = [x for x in data if x["name"] == "glibc malloc_free/size:16/threads:1 ns_per_op"][0]
        raw = tu.iteration_times(tu.raw_path(self.rundir, "glibc", "malloc_free/size:16/threads:1"))
        self.assertAlmostEqual(e["value"], statistics.median(raw), places=3)
        self.assertNotIn("sable malloc_free/size:4096/threads:1 ns_per_op", names)

    def test_report_md(self):
        with open(self.path("report.md")) as f:
            md = f.read()
        self.assertIn("### Summary", md)
        hdr = "| allocator | time vs glibc | 95% CI | rank | each workload once | fastest in |"
        self.assertIn(hdr, md)
        table = md.split(hdr, 1)[1].split("\n\n", 1)[0]
        ranks = re.findall(r"^\| ([a-z]+)[^|]* \| [0-9.]+x \| [0-9.x-]+ \| (\d) ", table, re.M)
        # sorted by rank: the rows come in rank order, 1 first
        self.assertEqual([int(r) for _a, r in ranks], [1, 2, 3, 4], table)
        self.assertEqual(sorted(a for a, _r in ranks), ALLOCS)
        self.assertRegex(md, r"\| mimalloc \| 0\.55x \| [0-9.]+x-[0-9.]+x \| 1 \| 0\.505x \| 4 of 5 \|")
        self.assertIn("| sable (heapmark's own) |", md)
        self.assertIn("| malloc_free | **mimalloc**", md)          # winner per family
        self.assertRegex(md, r"\| memory_growth \| \*\*sable\*\* \(0\.\d+x glibc over 1 workload\(s\), "
                             r"next jemalloc [0-9.]+x\); no result from mimalloc \|")
        self.assertIn("(best)", md)
        self.assertRegex(md, r"\(\+\d+%\)")                        # % vs the best
        self.assertIn("CRASH: **sable** `malloc_free/size:4096/threads:1`: killed by SIGSEGV", md)
        self.assertIn("TIMEOUT: **mimalloc** `memory_growth/phases:6/threads:1`", md)
        self.assertIn("NaN/Infinity", md)
        # conformance: every failure listed
        self.assertIn("**mimalloc** `AL-02` (alignment, STD): FAIL", md)
        self.assertIn("**sable** `RE-01` (realloc, STD): CRASH", md)
        self.assertIn("**sable** `EX-02` (free_sized, EXT): TIMEOUT", md)
        self.assertNotIn("**glibc** `EX-01`", md)                  # unsupported is no failure
        # environment
        for s in ("AMD EPYC 7B13", "| kernel | 6.18.0 |", "| transparent huge pages | madvise |",
                  "| compiler | gcc 12.2.0 |", "| git revision | abc1234-dirty |",
                  "5.3.0-0-g54eaed1d", "| allocator mimalloc | 209"):
            self.assertIn(s, md)
        # every figure traces back to its raw file
        rec = [x for x in tu.read_records(self.rundir) if x["allocator"] == "mimalloc"
               and x["benchmark"] == "latency/size:64/threads:1"][0]
        self.assertRegex(md, r"\| latency/size:64/threads:1 \| `raw/glibc/\d+\.json` \| "
                             r"`raw/jemalloc/\d+\.json` \| `%s` \|" % rec["json"])
        for p in PLOTS:
            self.assertIn("](plots/%s.png)" % p, md)
            self.assertTrue(os.path.exists(self.path("plots", p + ".png")))

    def test_html_self_contained(self):
        with open(self.path("report.html")) as f:
            text = f.read()
        p = Refs()
        p.feed(text)
        p.close()
        self.assertIn("html", p.tags)
        self.assertIn("table", p.tags)
        self.assertEqual(p.imgs, len(PLOTS))
        for tag, attr, v in p.refs:
            if attr == "href" and v.startswith("plots/"):
                # a link (nothing loads it): the full-size PNG or the SVG beside the page
                self.assertTrue(os.path.exists(self.path(v)), v)
                continue
            self.assertTrue(v.startswith("data:image/png;base64,") or v.startswith("#"),
                            "external reference %s %s=%s" % (tag, attr, v[:80]))
        for pl in PLOTS:
            self.assertIn('href="plots/%s.svg"' % pl, text)
        self.assertNotIn("link", p.tags)
        self.assertNotRegex(text, r"(?i)(src|href)\s*=\s*[\"']?(https?:|//|file:)")
        self.assertNotIn("@import", text)
        self.assertNotRegex(text, r"url\((?!data:)")
        # the same content as report.md
        for s in ("Summary", "mimalloc", "AL-02", "AMD EPYC 7B13", "Failed and missing results"):
            self.assertIn(s, text)
        # the contents links land on headings of the page
        ids = set(re.findall(r'\sid="([^"]+)"', text))
        links = [v[1:] for _t, a, v in p.refs if a == "href" and v.startswith("#")]
        self.assertIn("s-verdict", links)
        self.assertIn("s-conformance", links)
        self.assertTrue(set(links) <= ids, set(links) - ids)
        # every inlined image is a PNG
        import base64
        for m in re.finditer(r"data:image/png;base64,([A-Za-z0-9+/=]+)", text):
            self.assertEqual(base64.b64decode(m.group(1))[:8], b"\x89PNG\r\n\x1a\n")


class PlotLayout(unittest.TestCase):
    def test_rows_keep_families_together(self):
        sys.path.insert(0, tu.SCRIPTS)
        from heapmark_report import plots as rp
        keys = [(f, "n:%d" % i, 1) for f, n in (("a", 10), ("b", 10), ("c", 10), ("d", 30))
                for i in range(n)]
        rows = rp._rows(keys, limit=24)
        self.assertEqual([len(r) for r in rows], [20, 10, 24, 6])
        self.assertEqual([k for r in rows for k in r], keys)
        self.assertEqual({k[0] for k in rows[0]}, {"a", "b"})
        self.assertEqual(rp._rows(keys[:5], limit=24), [keys[:5]])

    def test_fixed_colours(self):
        sys.path.insert(0, tu.SCRIPTS)
        from heapmark_report import plots as rp
        p1 = rp.Palette(["glibc", "jemalloc", "mimalloc", "sable", "mine", "other"])
        p2 = rp.Palette(["sable", "mine", "glibc"])
        for a in ("glibc", "sable"):
            self.assertEqual(p1(a), p2(a))
        cols = [p1(a) for a in ["glibc", "jemalloc", "mimalloc", "sable", "mine", "other"]]
        self.assertEqual(len(set(cols)), len(cols))
        self.assertTrue(set(cols) <= set(rp.OKABE_ITO))

    def test_nine_contestants_each_its_own_hue_family_and_hatch(self):
        import colorsys
        sys.path.insert(0, tu.SCRIPTS)
        from heapmark_report import plots as rp
        import make_fixture
        p = rp.Palette(make_fixture.NINE)
        self.assertEqual(len({p.hatch(a) for a in make_fixture.NINE}), 9)
        self.assertEqual(len({p.marker(a) for a in make_fixture.NINE}), 9)

        def family(c):
            r, g, b = (int(c[i:i + 2], 16) / 255.0 for i in (1, 3, 5))
            h, light, sat = colorsys.rgb_to_hls(r, g, b)
            if sat < 0.15 or light < 0.08:
                return "grey %d" % round(light * 2)        # black and grey apart
            if light < 0.35 and 20 / 360 < h < 50 / 360:
                return "brown"
            return "hue %d" % (round(h * 12) % 12)          # 30-degree hue families
        fams = [family(p(a)) for a in make_fixture.NINE]
        self.assertEqual(len(set(fams)), 9, dict(zip(make_fixture.NINE, fams)))
        # and the same colour in any company
        self.assertEqual(p("sable-secure"), rp.Palette(["sable-secure"])("sable-secure"))

    def test_nine_contestants_no_label_collides(self):
        sys.path.insert(0, tu.SCRIPTS)
        from heapmark_report import plots as rp
        import make_fixture
        tmp = tu.scratch()
        try:
            run = os.path.join(tmp, "nine")
            make_fixture.noisy_run(run, processes=2, allocs=make_fixture.NINE)
            seen = []
            rp.CHECK_OVERLAPS.append(seen)
            try:
                import report
                self.assertEqual(report.main(["--quiet", run]), 0)
            finally:
                rp.CHECK_OVERLAPS.remove(seen)
            kinds = {b for b, _o in seen}
            for k in ("time_normalised", "geomean", "thread_scaling", "latency",
                      "memory_over_time", "rss_normalised"):
                self.assertIn(k, kinds)
            for base, overlaps in seen:
                self.assertEqual(overlaps, [], base)
            with open(os.path.join(run, "report.md")) as f:
                md = f.read()
            self.assertNotIn("the first 12", md)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_overlap_check_can_fail(self):
        sys.path.insert(0, tu.SCRIPTS)
        from heapmark_report import plots as rp
        fig, ax = rp.plt.subplots(figsize=(2, 2))
        ax.set_xticks(range(9))
        ax.set_xticklabels(["a-long-allocator-name"] * 9)
        self.assertTrue(rp.text_overlaps(fig))
        rp.plt.close(fig)


class MultipleRuns(unittest.TestCase):
    def test_side_by_side_per_host(self):
        tmp = tu.scratch()
        try:
            a = tu.copy_fixture(tmp, "20261121T050000Z-hostA")
            b = tu.copy_fixture(tmp, "20261121T060000Z-hostB")
            for run, host in ((a, "hostA"), (b, "hostB")):
                tu.edit_meta(run, lambda meta, h=host: meta.update(host=h))
            tu.edit_times(b, "sable", "malloc_free/size:16/threads:1", lambda i, t: t * 2.0)
            out = os.path.join(tmp, "out")
            rc, _o, err = tu.run_script("report.py", "--quiet", "--out", out, a, b)
            self.assertEqual(rc, 0, err)
            self.assertFalse(os.path.exists(os.path.join(a, "report.md")))
            with open(os.path.join(out, "results.csv")) as f:
                rows = list(csv.DictReader(f))
            self.assertEqual({r["host"] for r in rows}, {"hostA", "hostB"})
            va = [float(r["value"]) for r in rows if r["host"] == "hostA" and r["allocator"] == "sable"
                  and r["params"] == "size:16" and r["threads"] == "1" and r["metric"] == "ns_per_op"]
            vb = [float(r["value"]) for r in rows if r["host"] == "hostB" and r["allocator"] == "sable"
                  and r["params"] == "size:16" and r["threads"] == "1" and r["metric"] == "ns_per_op"]
            self.assertAlmostEqual(vb[0] / va[0], 2.0, places=4)
            with open(os.path.join(out, "report.md")) as f:
                md = f.read()
            self.assertIn("time vs glibc (hostA)", md)
            self.assertIn("time vs glibc (hostB)", md)
            self.assertIn("plots/time_normalised-hostA.png", md)
            # per-workload tables: the hosts side by side, one row per allocator
            self.assertIn("| workload | threads | allocator | hostA | hostB |", md)
            row = re.search(r"\| malloc_free/size:16 \| 1 \| glibc \| [^|]+ \| [^|]+ \|\n"
                            r"\| +\| +\| jemalloc \| [^|]+ \| [^|]+ \|\n"
                            r"\| +\| +\| mimalloc \| [^|]+ \| [^|]+ \|\n"
                            r"\| +\| +\| sable \| ([^|]+) \| ([^|]+) \|", md)
            self.assertIsNotNone(row, md)
            self.assertRegex(row.group(1), r"^9\.\d+ ns ±\d+% \(\+\d+%\)$")
            self.assertRegex(row.group(2), r"^18\.\d+ ns ±\d+% \(\+\d+%\)$")  # twice as slow
            self.assertIn("| CRASH | CRASH |", md)
            self.assertIn("plots/time_normalised-hostB.png", md)
            with open(os.path.join(out, "summary.json")) as f:
                s = strict_json(f.read())
            self.assertEqual([r["label"] for r in s["runs"]], ["hostA", "hostB"])
            check_png(self, os.path.join(out, "plots", "time_normalised-hostB.png"))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


class InstructionCounts(unittest.TestCase):
    """A `heapmark run --instructions` folder: instructions per operation replace times."""

    def test_instruction_run(self):
        tmp = tu.scratch()
        try:
            run = tu.copy_fixture(tmp)
            tu.to_instructions(run)
            rc, _o, err = tu.run_script("report.py", run)
            self.assertEqual(rc, 0, err)
            self.assertIn("uncounted jemalloc latency/size:64/threads:1: the process started "
                          "threads", err)
            with open(os.path.join(run, "results.csv")) as f:
                rows = list(csv.DictReader(f))
            self.assertEqual({r["metric"] for r in rows}, {"instructions_per_op"})
            self.assertEqual({r["unit"] for r in rows}, {"instructions"})
            r = [x for x in rows if x["allocator"] == "glibc" and x["params"] == "size:16"
                 and x["threads"] == "1"][0]
            raw = tu.iteration_times(tu.raw_path(run, "glibc", "malloc_free/size:16/threads:1"))
            self.assertAlmostEqual(float(r["value"]), round(statistics.median(raw) * 10, 2))
            self.assertEqual(r["n"], "1")
            with open(os.path.join(run, "report.md")) as f:
                md = f.read()
            self.assertIn("| allocator | instructions vs glibc | 95% CI | rank | each workload once "
                          "| fastest in |\n", md)
            self.assertIn("Instruction counts (`heapmark run --instructions`)", md)
            self.assertIn("UNCOUNTED: **jemalloc** `latency/size:64/threads:1`", md)
            self.assertNotIn(" ns ", md.split("## Conformance")[0])
            self.assertIn("`raw/glibc/0001.callgrind`", md)
            with open(os.path.join(run, "bench-smaller-is-better.json")) as f:
                names = [e["name"] for e in json.load(f)]
            self.assertIn("glibc malloc_free/size:16/threads:1 instructions_per_op", names)
            self.assertFalse([n for n in names if n.endswith(" ns_per_op") or "rss" in n])
            check_png(self, os.path.join(run, "plots", "time_normalised.png"))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


class Variants(unittest.TestCase):
    """A variant (`NAME=BASE:VAR=VAL`) against its base: known factors planted
    into a copy of the fixture, the ratios recomputed here by hand."""
    TIME = {"malloc_free/size:16/threads:1": 1.10, "malloc_free/size:16/threads:2": 1.25,
            "latency/size:64/threads:1": 1.04, "memory_growth/phases:6/threads:1": 3.0,
            "malloc_free/size:4096/threads:1": 1.0}
    RSS = {"malloc_free/size:16/threads:1": 1.0, "malloc_free/size:16/threads:2": 1.2,
           "latency/size:64/threads:1": 0.9, "memory_growth/phases:6/threads:1": 2.0,
           "malloc_free/size:4096/threads:1": 1.0}

    @classmethod
    def setUpClass(cls):
        cls.tmp = tu.scratch()
        cls.rundir = tu.copy_fixture(cls.tmp)
        # the variant crashes in memory_growth (which sable completed); sable crashed in
        # malloc_free/size:4096: three workloads in common
        cls.added = tu.add_variant(cls.rundir, "sable-secure", "sable", {"SABLE_SECURE": "1"},
                                   cls.TIME, cls.RSS, crash=("memory_growth/phases:6/threads:1",))
        # a variant whose base did not run
        tu.add_variant(cls.rundir, "orphan", "jemalloc", {"MALLOC_CONF": "narenas:1,tcache:false"},
                       cls.TIME, cls.RSS)
        def orphan_base(meta):
            for a in meta["allocators"]:
                if a["name"] == "orphan":
                    a["base"] = "tcmalloc"
        tu.edit_meta(cls.rundir, orphan_base)
        cls.rc, cls.out, cls.err = tu.run_script("report.py", "--no-plots", cls.rundir)
        with open(os.path.join(cls.rundir, "summary.json")) as f:
            cls.summary = strict_json(f.read())
        with open(os.path.join(cls.rundir, "report.md")) as f:
            cls.md = f.read()
        with open(os.path.join(cls.rundir, "report.html")) as f:
            cls.html = f.read()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def expected(self):
        common = ["latency/size:64/threads:1", "malloc_free/size:16/threads:1",
                  "malloc_free/size:16/threads:2"]
        recs = tu.read_records(self.rundir)
        kb = {(r["allocator"], r["benchmark"]): r["max_rss_kb"] for r in recs}
        rss = {b: kb[("sable-secure", b)] / kb[("sable", b)] for b in common}
        gm_t = math.exp(sum(math.log(self.TIME[b]) for b in common) / 3)
        gm_r = math.exp(sum(math.log(rss[b]) for b in common) / 3)
        return common, rss, gm_t, gm_r

    def test_summary_json(self):
        self.assertEqual(self.rc, 0, self.err)
        common, rss, gm_t, gm_r = self.expected()
        vs = {v["name"]: v for v in self.summary["runs"][0]["variants"]}
        self.assertEqual(sorted(vs), ["orphan", "sable-secure"])
        v = vs["sable-secure"]
        self.assertEqual((v["base"], v["base_allocator"], v["env"], v["workloads"]),
                         ("sable", "sable", {"SABLE_SECURE": "1"}, 3))
        self.assertAlmostEqual(v["geomean_time_vs_base"], gm_t, places=5)
        self.assertAlmostEqual(v["geomean_peak_rss_vs_base"], gm_r, places=5)
        per = {p["workload"]: p for p in v["per_workload"]}
        self.assertEqual(sorted(per), common)
        for b in common:
            self.assertAlmostEqual(per[b]["time_vs_base"], self.TIME[b], places=5)
            self.assertAlmostEqual(per[b]["peak_rss_vs_base"], rss[b], places=5)
        o = vs["orphan"]
        self.assertEqual((o["base"], o["base_allocator"], o["workloads"], o["geomean_time_vs_base"]),
                         ("tcmalloc", None, 0, None))

    def test_report_section(self):
        common, rss, gm_t, gm_r = self.expected()
        self.assertIn("## Variants\n", self.md)
        section = self.md.split("## Variants\n", 1)[1].split("\n## ", 1)[0]
        self.assertIn("| sable-secure | sable | `SABLE_SECURE=1` | 3 | %.3fx | %.3fx |" % (gm_t, gm_r),
                      section)
        self.assertIn("| orphan | tcmalloc (not in this run) | `MALLOC_CONF=narenas:1,tcache:false` "
                      "| 0 | - | - |", section)
        self.assertIn("| malloc_free/size:16 | 2 | 1.250x | %.3fx |" % rss["malloc_free/size:16/threads:2"],
                      section)
        self.assertIn("| latency/size:64 | 1 | 1.040x | %.3fx |" % rss["latency/size:64/threads:1"],
                      section)
        self.assertNotIn("memory_growth", section)
        self.assertIn('<h2 id="s-variants">Variants</h2>', self.html)
        self.assertIn("<td>sable-secure</td><td>sable</td><td><code>SABLE_SECURE=1</code></td>"
                      '<td class="num">3</td><td class="num">%.3fx</td>' % gm_t, self.html)
        # the Environment section says what each variant is
        self.assertIn("variant of sable with `SABLE_SECURE=1`", self.md)

    def test_no_section_without_variants(self):
        tmp = tu.scratch()
        try:
            run = tu.copy_fixture(tmp)
            rc, _out, err = tu.run_script("report.py", "--no-plots", run)
            self.assertEqual(rc, 0, err)
            with open(os.path.join(run, "report.md")) as f:
                self.assertNotIn("Variants", f.read())
            with open(os.path.join(run, "summary.json")) as f:
                self.assertEqual(strict_json(f.read())["runs"][0]["variants"], [])
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


class ConformanceRunApart(unittest.TestCase):
    """make bench and make conformance write two run folders: the report shows them as one."""

    def setUp(self):
        self.tmp = tu.scratch()
        self.bench, self.conf = tu.split_conformance(self.tmp)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def md(self, folder):
        with open(os.path.join(folder, "report.md")) as f:
            return f.read()

    def test_two_folders_given(self):
        out = os.path.join(self.tmp, "out")
        rc, _o, err = tu.run_script("report.py", "--no-plots", "--out", out, self.bench, self.conf)
        self.assertEqual(rc, 0, err)
        md = self.md(out)
        self.assertIn("From the conformance run `20261121T051000Z-fixture-vm`", md)
        self.assertIn("**mimalloc** `AL-02` (alignment, STD): FAIL", md)
        self.assertIn("| allocator | time vs glibc | 95% CI | rank |", md)
        with open(os.path.join(out, "results.csv")) as f:
            self.assertTrue(f.readline().startswith("allocator,"))

    def test_latest_conformance_link(self):
        rc, _o, err = tu.run_script("report.py", "--quiet", self.bench)
        self.assertEqual(rc, 0, err)
        self.assertNotIn("## Conformance", self.md(self.bench))
        os.symlink(os.path.basename(self.conf), os.path.join(self.tmp, "latest-conformance"))
        rc, _o, err = tu.run_script("report.py", "--quiet", self.bench)
        self.assertEqual(rc, 0, err)
        self.assertIn("## Conformance", self.md(self.bench))
        check_png(self, os.path.join(self.bench, "plots", "conformance.png"))

    def test_conformance_binary_died(self):
        def sable_died(meta):
            for a in meta["allocators"]:
                a["status"] = "done"
                if a["name"] == "sable":
                    a.update(status="crash", signal="SIGSEGV", exit_code=None)
        tu.edit_meta(self.conf, sable_died)
        os.remove(os.path.join(self.conf, "conformance", "sable.json"))
        rc, _o, err = tu.run_script("report.py", "--no-plots", self.conf)
        self.assertEqual(rc, 0, err)
        md = self.md(self.conf)
        self.assertIn("**sable**: the conformance binary has no verdicts: CRASH (killed by SIGSEGV)", md)
        self.assertIn("**mimalloc** `AL-02` (alignment, STD): FAIL", md)

    def test_conformance_only(self):
        rc, out, err = tu.run_script("report.py", self.conf)
        self.assertEqual(rc, 0, err)
        self.assertEqual(err, "")          # a conformance run has no runs.jsonl, and that is fine
        self.assertEqual(out.strip(), "report.py: wrote %s" % os.path.join(self.conf, "report.md"))
        md = self.md(self.conf)
        self.assertIn("No benchmark results in this run: conformance only.", md)
        self.assertIn("**sable** `RE-01` (realloc, STD): CRASH", md)
        self.assertNotIn("## Summary", md)


class Fuzz(unittest.TestCase):
    """Random damage to the fixture's JSON (a value of the wrong type, NaN, huge,
    negative, empty): report.py and compare.py never raise, whatever the damage."""
    WEIRD = [None, "x", -1, 0, 1e308, -1e308, float("nan"), float("inf"), [], {}, True, "NaN",
             10 ** 30]

    def mutate(self, obj, rng, depth=0):
        if isinstance(obj, (dict, list)) and obj:
            k = rng.choice(list(obj)) if isinstance(obj, dict) else rng.randrange(len(obj))
            if rng.random() < 0.5 or depth > 3:
                obj[k] = rng.choice(self.WEIRD)
            else:
                self.mutate(obj[k], rng, depth + 1)

    def damaged_copy(self, tmp, seed):
        rng = random.Random(seed)
        run = tu.copy_fixture(tmp, "run%d" % seed)
        files = sorted(os.path.join(r, f) for r, _d, fs in os.walk(run) for f in fs
                       if f.endswith((".json", ".jsonl")))
        # the files every run has, more often than any one raw file
        files += [os.path.join(run, "meta.json"), os.path.join(run, "runs.jsonl")] * 6
        for _ in range(rng.randint(1, 4)):
            p = rng.choice(files)
            with open(p) as f:
                text = f.read()
            if p.endswith(".jsonl"):
                lines = text.splitlines()
                i = rng.randrange(len(lines))
                rec = json.loads(lines[i])
                self.mutate(rec, rng)
                lines[i] = json.dumps(rec)
                text = "\n".join(lines) + "\n"
            else:
                obj = json.loads(text)
                self.mutate(obj, rng)
                text = json.dumps(obj)
            with open(p, "w") as f:
                f.write(text)
        return run

    def test_random_damage(self):
        import contextlib
        import io
        sys.path.insert(0, tu.SCRIPTS)
        import compare
        import report
        tmp = tu.scratch()
        try:
            for seed in range(60):
                run = self.damaged_copy(tmp, seed)
                args = ["--quiet", run] if seed < 2 else ["--quiet", "--no-plots", run]
                for fn, argv in ((report.main, args), (compare.main, [tu.FIXTURE, run]),
                                 (compare.main, [run, tu.FIXTURE])):
                    with contextlib.redirect_stderr(io.StringIO()), \
                            contextlib.redirect_stdout(io.StringIO()):
                        try:
                            rc = fn(argv)
                        except Exception as e:  # the failure this test looks for
                            self.fail("seed %d: %s raised %s: %s" % (seed, fn.__module__,
                                                                     type(e).__name__, e))
                    self.assertIn(rc, (0, 1, 2), "seed %d" % seed)
                shutil.rmtree(run)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


class ProcessMedians(unittest.TestCase):
    def test_csv_time_is_the_median_of_the_process_medians(self):
        sys.path.insert(0, tu.SCRIPTS)
        import make_fixture
        tmp = tu.scratch()
        try:
            run = os.path.join(tmp, "noisy")
            make_fixture.noisy_run(run, processes=2)
            rc, _o, err = tu.run_script("report.py", "--no-plots", run)
            self.assertEqual(rc, 0, err)
            times = {}  # (allocator, benchmark) -> [repetition times of each process]
            for rec in tu.read_records(run):
                times.setdefault((rec["allocator"], rec["benchmark"]), []).append(
                    tu.iteration_times(os.path.join(run, rec["json"])))
            with open(os.path.join(run, "results.csv")) as f:
                rows = [r for r in csv.DictReader(f) if r["metric"] == "ns_per_op"]
            self.assertEqual(len(rows), len(times))
            differ = 0
            for r in rows:
                procs = times[(r["allocator"], "%s/%s/threads:%s" % (r["benchmark"], r["params"],
                                                                     r["threads"]))]
                self.assertEqual(len(procs), 2)
                want = statistics.median([statistics.median(p) for p in procs])
                pooled = statistics.median([t for p in procs for t in p])
                self.assertAlmostEqual(float(r["value"]) / want, 1.0, places=4)
                self.assertEqual(r["n"], "6")
                differ += abs(pooled / want - 1.0) > 1e-3
            self.assertGreater(differ, 0)  # the fixture tells the two apart
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


class KeptWarm(unittest.TestCase):
    """A workload that purges to start cold says which allocators' purge kept memory."""

    def setUp(self):
        self.tmp = tu.scratch()

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def add_kept(self, run, kept):  # allocator -> kept_after_purge_bytes
        for a, v in kept.items():
            p = tu.raw_path(run, a, "latency/size:64/threads:1")
            with open(p) as f:
                doc = json.load(f)
            for e in doc["benchmarks"]:
                e["kept_after_purge_bytes"] = v
            with open(p, "w") as f:
                json.dump(doc, f)

    def with_kept(self, kept):
        run = tu.copy_fixture(self.tmp)
        self.add_kept(run, kept)
        rc, _o, err = tu.run_script("report.py", "--no-plots", run)
        self.assertEqual(rc, 0, err)
        with open(os.path.join(run, "report.md")) as f:
            return f.read()

    def test_named_when_the_purge_kept_memory(self):
        md = self.with_kept({"mimalloc": 32 << 20, "glibc": 4096, "sable": 0})
        self.assertIn("Not a cold start for every allocator", md)
        self.assertIn("mimalloc kept 32 MiB on latency/size:64", md)
        self.assertNotIn("glibc kept", md)
        self.assertNotIn("sable kept", md)

    def test_silent_when_every_purge_returned_it(self):
        md = self.with_kept({"mimalloc": 8192, "glibc": 0})
        self.assertNotIn("Not a cold start", md)

    def test_named_per_run_side_by_side(self):
        a = tu.copy_fixture(self.tmp, "20261121T050000Z-hostA")
        b = tu.copy_fixture(self.tmp, "20261121T060000Z-hostB")
        for run, host in ((a, "hostA"), (b, "hostB")):
            tu.edit_meta(run, lambda meta, h=host: meta.update(host=h))
        self.add_kept(b, {"mimalloc": 32 << 20})
        out = os.path.join(self.tmp, "out")
        rc, _o, err = tu.run_script("report.py", "--no-plots", "--out", out, a, b)
        self.assertEqual(rc, 0, err)
        with open(os.path.join(out, "report.md")) as f:
            md = f.read()
        self.assertIn("Not a cold start for every allocator (hostB)", md)
        self.assertNotIn("(hostA): after the purge", md)


class BadInput(unittest.TestCase):
    def setUp(self):
        self.tmp = tu.scratch()

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_missing_folder(self):
        rc, _o, err = tu.run_script("report.py", os.path.join(self.tmp, "nope"))
        one_line_error(self, rc, err, "no such run folder")

    def test_not_a_run_folder(self):
        d = os.path.join(self.tmp, "empty")
        os.makedirs(d)
        rc, _o, err = tu.run_script("report.py", d)
        one_line_error(self, rc, err, "not a heapmark run folder")

    def test_empty_run(self):
        run = tu.copy_fixture(self.tmp)
        shutil.rmtree(os.path.join(run, "raw"))
        shutil.rmtree(os.path.join(run, "conformance"))
        open(os.path.join(run, "runs.jsonl"), "w").close()
        tu.edit_meta(run, lambda meta: meta.update(state="running", done=0))
        rc, _o, err = tu.run_script("report.py", run)
        one_line_error(self, rc, err, "empty run")

    def test_everything_crashed(self):
        run = tu.copy_fixture(self.tmp)
        shutil.rmtree(os.path.join(run, "conformance"))
        recs = tu.read_records(run)
        for r in recs:
            r.update(status="crash", signal="SIGABRT", json=None)
        tu.write_records(run, recs)
        rc, _o, err = tu.run_script("report.py", "--quiet", run)
        one_line_error(self, rc, err, "all 20 benchmark process(es) failed")
        self.assertIn("SIGABRT", err)

    def test_directory_is_a_file(self):
        p = os.path.join(self.tmp, "file")
        open(p, "w").close()
        rc, _o, err = tu.run_script("report.py", p)
        one_line_error(self, rc, err, "not a folder")

    def test_damaged_run_renders_the_rest(self):
        run = tu.copy_fixture(self.tmp)
        # malformed JSON in one raw file
        p = tu.raw_path(run, "glibc", "latency/size:64/threads:1")
        with open(p) as f:
            text = f.read()
        with open(p, "w") as f:
            f.write(text[: len(text) // 2])
        # a missing raw file
        os.remove(tu.raw_path(run, "jemalloc", "latency/size:64/threads:1"))
        # every repetition NaN, and Infinity in a counter
        tu.edit_times(run, "mimalloc", "malloc_free/size:16/threads:1", lambda i, t: float("nan"))
        tu.edit_times(run, "sable", "latency/size:64/threads:1",
                      lambda i, t: float("inf") if i == 0 else t)
        # valid JSON that is not Google Benchmark's
        with open(tu.raw_path(run, "sable", "malloc_free/size:16/threads:2"), "w") as f:
            f.write('{"context": {}}')
        # a garbage line in runs.jsonl, and a malformed meta.json
        with open(os.path.join(run, "runs.jsonl"), "a") as f:
            f.write("{\"allocator\": \"glibc\", \"benchm\n")
        with open(os.path.join(run, "meta.json"), "w") as f:
            f.write("{\"schema\": 1, \"host\": ")
        # a broken conformance file
        with open(os.path.join(run, "conformance", "sable.json"), "w") as f:
            f.write("[1, 2")
        rc, _o, err = tu.run_script("report.py", "--no-plots", run)
        self.assertEqual(rc, 0, err)
        self.assertNotIn("Traceback", err)
        for line in err.splitlines():
            self.assertTrue(line.startswith("report.py: "), line)
        for s in ("raw/glibc/0013.json: malformed JSON", "raw/jemalloc/0014.json: cannot read",
                  "raw/mimalloc/0003.json: real_time is NaN/Infinity, not positive or has an unknown unit in 5",
                  "raw/sable/0016.json: real_time is NaN/Infinity, not positive or has an unknown unit in 1",
                  "runs.jsonl: line(s) 21 malformed", "meta.json: malformed JSON",
                  "conformance/sable.json: malformed JSON",
                  'raw/sable/0012.json: no "benchmarks" list'):
            self.assertIn(s, err)
        with open(os.path.join(run, "report.md")) as f:
            md = f.read()
        self.assertIn("GARBAGE: **glibc** `latency/size:64/threads:1`", md)
        self.assertIn("GARBAGE: **jemalloc** `latency/size:64/threads:1`", md)
        self.assertIn("ERROR: **mimalloc** `malloc_free/size:16/threads:1`: no usable repetition", md)
        self.assertIn("| CPU | unknown |", md)
        self.assertIn("ERROR: **sable** `malloc_free/size:16/threads:2`: no usable repetition", md)
        with open(os.path.join(run, "results.csv")) as f:
            rows = list(csv.DictReader(f))
        self.assertEqual([r["n"] for r in rows if r["allocator"] == "sable"
                          and r["benchmark"] == "latency" and r["metric"] == "ns_per_op"], ["4"])
        self.assertFalse([r for r in rows if r["allocator"] == "mimalloc" and r["params"] == "size:16"
                          and r["threads"] == "1"])

    def test_interrupted_run(self):
        run = tu.copy_fixture(self.tmp)
        recs = tu.read_records(run)
        keep = recs[:7]
        tu.write_records(run, keep)
        for r in recs[7:]:
            if r.get("json"):
                os.remove(os.path.join(run, r["json"]))
        tu.edit_meta(run, lambda meta: meta.update(state="interrupted", done=7))
        rc, _o, err = tu.run_script("report.py", "--no-plots", run)
        self.assertEqual(rc, 0, err)
        self.assertIn("incomplete run (interrupted): 13 planned result(s) missing", err)
        with open(os.path.join(run, "report.md")) as f:
            md = f.read()
        self.assertIn("**Incomplete run fixture-vm** (state: interrupted): 13 planned result(s)", md)
        self.assertIn("MISSING: **sable** `malloc_free/size:16/threads:2`", md)
        self.assertIn("MISSING: **glibc** `memory_growth/phases:6/threads:1`", md)

    def test_complete_run_planning_some_instances_for_some_allocators(self):
        run = tu.copy_fixture(self.tmp)
        tu.edit_meta(run, lambda meta: meta["benchmarks"].append("sable_only/threads:1"))
        rc, _o, err = tu.run_script("report.py", "--no-plots", run)
        self.assertEqual(rc, 0, err)
        self.assertNotIn("incomplete", err)
        with open(os.path.join(run, "report.md")) as f:
            self.assertNotIn("MISSING", f.read())

    def test_without_runs_jsonl(self):
        run = tu.copy_fixture(self.tmp)
        os.remove(os.path.join(run, "runs.jsonl"))
        rc, _o, err = tu.run_script("report.py", "--no-plots", run)
        self.assertEqual(rc, 0, err)
        self.assertIn("runs.jsonl: missing; read 18 raw JSON file(s) directly", err)
        with open(os.path.join(run, "results.csv")) as f:
            rows = list(csv.DictReader(f))
        self.assertEqual(len({(r["allocator"], r["benchmark"], r["params"], r["threads"])
                              for r in rows if r["metric"] == "ns_per_op"}), 18)

    def test_no_plots(self):
        run = tu.copy_fixture(self.tmp)
        rc, _o, err = tu.run_script("report.py", "--quiet", "--no-plots", run)
        self.assertEqual(rc, 0, err)
        self.assertFalse(os.path.exists(os.path.join(run, "plots")))
        with open(os.path.join(run, "report.md")) as f:
            md = f.read()
        self.assertIn("Rendered with --no-plots", md)
        self.assertNotIn("](plots/", md)
        self.assertIn("### Summary", md)

    def test_bad_flag(self):
        rc, _o, err = tu.run_script("report.py", "--bogus", tu.FIXTURE)
        self.assertEqual(rc, 2)
        self.assertNotIn("Traceback", err)


if __name__ == "__main__":
    unittest.main()
