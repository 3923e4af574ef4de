"""The real programs of a heapmark run (runs.jsonl lines with "kind": "program"):
the report's opening tables, the RSS-over-time plots, and their rows in
results.csv, summary.json, bench-smaller-is-better.json, bench-bigger-is-better.json
and bench-bmf.json.

scripts/report.py calls it; by hand:
  /usr/bin/python3 scripts/heapmark_report/programs.py RUN_DIR   prints the programs table

Statistics (stdlib only, deterministic):
  - per allocator and program, the median over processes of wall time and of
    peak RSS, divided by the baseline's (glibc) median of the same program;
  - per allocator, the geometric mean of those ratios over the programs that
    both ran without failure; its spread is the range of the same geometric
    mean computed per process round (round p against the baseline's round p);
  - a 95% bootstrap confidence interval (2000 resamples, seed 1): programs
    drawn with replacement, and within each, the processes of both allocators;
  - two allocators are "separated" when their intervals do not overlap.
"""

import json
import math
import os
import random
import sys

BASELINE = "glibc"
BOOTSTRAP = 2000


def _median(xs):
    s = sorted(xs)
    n = len(s)
    if n == 0:
        return None
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2.0


def _geomean(xs):
    xs = [x for x in xs if x is not None and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def _load(run_dir):
    """(meta, program lines) of a run folder; lines that do not parse are skipped."""
    meta, rows = {}, []
    try:
        with open(os.path.join(run_dir, "meta.json"), encoding="utf-8") as f:
            meta = json.load(f)
    except (OSError, ValueError):
        meta = {}
    try:
        with open(os.path.join(run_dir, "runs.jsonl"), encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    r = json.loads(line)
                except ValueError:
                    continue
                if isinstance(r, dict) and r.get("kind") == "program" and \
                        isinstance(r.get("allocator"), str) and isinstance(r.get("program"), str):
                    rows.append(r)
    except OSError:
        pass
    return meta if isinstance(meta, dict) else {}, rows


_cache = {}


def analyse(run_dir):
    """Everything the report shows about the programs of one run, or None
    when it ran none (computed once per folder)."""
    key = os.path.abspath(run_dir)
    if key not in _cache:
        _cache[key] = _analyse(run_dir)
    return _cache[key]


def _analyse(run_dir):
    meta, rows = _load(run_dir)
    if not rows:
        return None
    allocs, programs = [], []
    for a in meta.get("allocators") or []:
        if isinstance(a, dict) and isinstance(a.get("name"), str):
            allocs.append(a["name"])
    for r in rows:
        if r["allocator"] not in allocs:
            allocs.append(r["allocator"])
        if r["program"] not in programs:
            programs.append(r["program"])
    defs = {p.get("name"): p for p in meta.get("programs") or [] if isinstance(p, dict)}
    baseline = BASELINE if BASELINE in allocs else allocs[0]
    cells = {}
    for r in rows:
        c = cells.setdefault((r["allocator"], r["program"]),
                             {"runs": [], "ok": [], "failed": []})
        c["runs"].append(r)
        (c["ok"] if r.get("status") == "ok" else c["failed"]).append(r)
    for c in cells.values():
        ok = c["ok"]
        c["wall"] = [r["wall_s"] for r in ok if _pos(r.get("wall_s"))]
        c["rss"] = [r["max_rss_kb"] * 1024 for r in ok if _pos(r.get("max_rss_kb"))]
        c["figure"] = [r["figure"] for r in ok if isinstance(r.get("figure"), (int, float))]
        c["rss_1s"] = [r["rss_after_1s_kb"] * 1024 for r in ok if _pos(r.get("rss_after_1s_kb"))]
        c["client_rss"] = [r["client_max_rss_kb"] * 1024 for r in ok
                           if _pos(r.get("client_max_rss_kb"))]
        c["by_process"] = {}
        for r in ok:
            if _pos(r.get("wall_s")) and _pos(r.get("max_rss_kb")):
                c["by_process"][r.get("process", 0)] = (r["wall_s"], r["max_rss_kb"] * 1024)
        c["mapped"] = sum(1 for r in c["runs"] if r.get("library_mapped"))
    an = {"run_dir": run_dir, "baseline": baseline, "allocators": allocs, "programs": programs,
          "defs": defs, "cells": cells, "rows": rows, "summary": {}}
    for a in allocs:
        an["summary"][a] = _allocator_summary(an, a)
    _separation(an)
    return an


def _pos(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 and v == v


def _usable(an, a, p):
    """The allocator's and the baseline's cells of a program when both ran
    every process without failure."""
    c, b = an["cells"].get((a, p)), an["cells"].get((an["baseline"], p))
    if not c or not b or c["failed"] or b["failed"] or not c["wall"] or not b["wall"] \
            or not c["rss"] or not b["rss"]:
        return None
    return c, b


def _allocator_summary(an, a):
    ok = failed = 0
    time_r, rss_r, pairs = [], [], []
    for p in an["programs"]:
        c = an["cells"].get((a, p))
        if c is None:
            continue
        if c["failed"] or not c["ok"]:
            failed += 1
        else:
            ok += 1
        u = _usable(an, a, p)
        if u is None:
            continue
        c, b = u
        time_r.append(_median(c["wall"]) / _median(b["wall"]))
        rss_r.append(_median(c["rss"]) / _median(b["rss"]))
        pairs.append(u)
    s = {"time_ratio": _geomean(time_r), "rss_ratio": _geomean(rss_r), "programs_ok": ok,
         "programs_failed": failed, "programs_compared": len(pairs)}
    # the spread: the geometric mean per process round
    rounds = sorted({k for c, b in pairs for k in c["by_process"] if k in b["by_process"]})
    per_round_t, per_round_r = [], []
    for k in rounds:
        ts = [t[k] for t in (_round_ratios(c, b, 0) for c, b in pairs) if k in t]
        rs = [r[k] for r in (_round_ratios(c, b, 1) for c, b in pairs) if k in r]
        if len(ts) == len(pairs):
            per_round_t.append(_geomean(ts))
            per_round_r.append(_geomean(rs))
    s["time_spread"] = [min(per_round_t), max(per_round_t)] if len(per_round_t) > 1 else None
    s["rss_spread"] = [min(per_round_r), max(per_round_r)] if len(per_round_r) > 1 else None
    s["time_ci"], s["rss_ci"] = _bootstrap(pairs)
    return s


def _round_ratios(c, b, i):
    """{process round: the allocator's wall time (i 0) or peak RSS (i 1) over
    the baseline's in the same round}, for the rounds both ran without
    failure: processes of one round ran next to each other, under the same
    state of the machine."""
    return {k: v[i] / b["by_process"][k][i] for k, v in c["by_process"].items()
            if k in b["by_process"]}


def time_range(an, a, p):
    """[lowest, highest] time ratio to the baseline over the process rounds of
    one program, or None without two rounds to compare."""
    u = _usable(an, a, p)
    if u is None:
        return None
    t = _round_ratios(u[0], u[1], 0)
    return [min(t.values()), max(t.values())] if len(t) > 1 else None


def _bootstrap(pairs):
    """95% intervals of the two geometric means: programs resampled, and
    within each program the processes of both allocators. None without at
    least two processes of each on every program: one process says nothing
    about the noise."""
    if not pairs or any(len(c["wall"]) < 2 or len(b["wall"]) < 2 for c, b in pairs):
        return None, None
    rng = random.Random(1)
    ts, rs = [], []
    for _ in range(BOOTSTRAP):
        lt = lr = 0.0
        for _ in range(len(pairs)):
            c, b = pairs[rng.randrange(len(pairs))]
            cw = _median([rng.choice(c["wall"]) for _ in c["wall"]])
            bw = _median([rng.choice(b["wall"]) for _ in b["wall"]])
            cr = _median([rng.choice(c["rss"]) for _ in c["rss"]])
            br = _median([rng.choice(b["rss"]) for _ in b["rss"]])
            lt += math.log(cw / bw)
            lr += math.log(cr / br)
        ts.append(math.exp(lt / len(pairs)))
        rs.append(math.exp(lr / len(pairs)))
    ts.sort()
    rs.sort()
    lo, hi = int(0.025 * BOOTSTRAP), int(0.975 * BOOTSTRAP) - 1
    return [ts[lo], ts[hi]], [rs[lo], rs[hi]]


def separated(ci_a, ci_b):
    """Two intervals that do not overlap: the allocators are told apart."""
    return bool(ci_a and ci_b and (ci_a[1] < ci_b[0] or ci_b[1] < ci_a[0]))


def _separation(an):
    for a in an["allocators"]:
        s = an["summary"][a]
        for what in ("time", "rss"):
            s[what + "_separated_from"] = [
                b for b in an["allocators"]
                if b != a and separated(s[what + "_ci"], an["summary"][b][what + "_ci"])]


# --- text ------------------------------------------------------------------------

def _ratio(v):
    return "-" if v is None else "%.3fx" % v


def _ci(ci):
    return "-" if not ci else "%.3f-%.3f" % tuple(ci)


def _mib(b):
    return "-" if b is None else "%.1f MiB" % (b / 1048576.0)


def _secs(v):
    return "-" if v is None else "%.2f s" % v


def _num(v):
    if v is None:
        return "-"
    return "%.4g" % v if abs(v) < 1e6 else "%.0f" % v


def _rank(an):
    def key(a):
        t = an["summary"][a]["time_ratio"]
        return (t is None, t if t is not None else 0, a)
    return sorted(an["allocators"], key=key)


def _short_reason(r):
    reason = r.get("reason") or ""
    return "%s: %s" % (r.get("status"), reason[:120])


def headline_table(an):
    """(headers, rows) of the opening table."""
    b = an["baseline"]
    headers = ["allocator", "time vs %s" % b, "spread over processes", "95% CI",
               "peak RSS vs %s" % b, "spread over processes", "95% CI", "programs ok",
               "failed", "time separated from"]
    rows = []
    for a in _rank(an):
        s = an["summary"][a]
        sep = ", ".join(s["time_separated_from"])
        if not s["time_ci"]:
            sep = "- (one process: no interval)"
        rows.append([a + (" (baseline)" if a == b else ""), _ratio(s["time_ratio"]),
                     _ci(s["time_spread"]), _ci(s["time_ci"]), _ratio(s["rss_ratio"]),
                     _ci(s["rss_spread"]), _ci(s["rss_ci"]), str(s["programs_ok"]),
                     str(s["programs_failed"]), sep or "tie with all"])
    return headers, rows


def program_table(an, p):
    d = an["defs"].get(p, {})
    server = any(r.get("server") for r in an["rows"] if r["program"] == p)
    fig = d.get("figure")
    unit = d.get("unit") or "figure"
    headers = ["allocator", "wall time (median)", "time vs %s" % an["baseline"],
               "range over processes", "peak RSS", "RSS vs %s" % an["baseline"]]
    if fig:
        headers.append("%s (%s is better)" % (unit, d.get("better") or "?"))
    if server:
        headers += ["server RSS 1 s after the load", "client peak RSS"]
    headers += ["runs ok", "library mapped"]
    rows = []
    for a in an["allocators"]:
        c = an["cells"].get((a, p))
        if c is None:
            continue
        u = _usable(an, a, p)
        tr = rr = None
        if u:
            tr = _median(u[0]["wall"]) / _median(u[1]["wall"])
            rr = _median(u[0]["rss"]) / _median(u[1]["rss"])
        row = [a, _secs(_median(c["wall"])), _ratio(tr), _ci(time_range(an, a, p)),
               _mib(_median(c["rss"])), _ratio(rr)]
        if fig:
            row.append(_num(_median(c["figure"])))
        if server:
            row += [_mib(_median(c["rss_1s"])), _mib(_median(c["client_rss"]))]
        okn = "%d of %d" % (len(c["ok"]), len(c["runs"]))
        if c["failed"]:
            okn += " (%s)" % _short_reason(c["failed"][0])
        row += [okn, "%d of %d" % (c["mapped"], len(c["runs"]))]
        rows.append(row)
    return headers, rows


def document_blocks(runs, plots):
    """The report's opening section (blocks of heapmark_report.document)."""
    out = []
    for run in runs:
        an = analyse(run.path)
        if an is None:
            continue
        label = " (%s)" % run.label if len(runs) > 1 else ""
        out.append(("h", 2, "Real programs" + label))
        out.append(("p", "Each program ran in %s separate process(es) per allocator, with the "
                         "allocator's library preloaded (for %s, glibc's malloc itself), "
                         "interleaved across allocators. Times and peak RSS are medians over "
                         "processes, divided by %s's; the first table is their geometric mean "
                         "over the %d programs, with its range over process rounds and a 95%% "
                         "bootstrap interval. Allocators are *separated* when their intervals "
                         "do not overlap; otherwise the difference is within the noise. In "
                         "each program's table, the range over processes runs from the lowest "
                         "to the highest of the allocator's time over %s's in the same round "
                         "(processes of a round run one after the other): a range that spans "
                         "1.000x does not tell the two apart on that program. A program whose "
                         "result differs from %s's is a failure (mismatch), never a figure."
                         % (_rounds(an), an["baseline"], an["baseline"], len(an["programs"]),
                            an["baseline"], an["baseline"])))
        out.append(("table",) + headline_table(an))
        for p in an["programs"]:
            d = an["defs"].get(p, {})
            out.append(("h", 3, "program %s" % p))
            about = d.get("about") or d.get("command") or ""
            if about:
                out.append(("p", "%s%s" % (about, " (Debian: %s)" % d["package"]
                                             if d.get("package") else "")))
            out.append(("table",) + program_table(an, p))
            img = plots.get((run.label, "program_rss:" + p))
            if img:
                out.append(("img", [(img, "RSS over time, %s" % p)]))
        skipped = [s for s in _load(run.path)[0].get("programs_skipped") or []
                   if isinstance(s, dict)]
        if skipped:
            out.append(("ul", ["skipped: %s: %s" % (s.get("program"), s.get("reason"))
                               for s in skipped]))
    return out


def _rounds(an):
    n = {}
    for r in an["rows"]:
        n[(r["allocator"], r["program"])] = n.get((r["allocator"], r["program"]), 0) + 1
    vals = sorted(set(n.values()))
    return str(vals[0]) if len(vals) == 1 else "%d-%d" % (vals[0], vals[-1])


# --- plots -----------------------------------------------------------------------

def _series(run_dir, rel):
    pts = []
    try:
        with open(os.path.join(run_dir, rel), encoding="utf-8") as f:
            for line in f:
                if line.startswith("#"):
                    continue
                t, kb = line.split()
                pts.append((float(t), float(kb) / 1024.0))
    except (OSError, ValueError):
        return []
    return pts


def make_plots(runs, palette, out_dir, suffix_of):
    """One RSS-over-time plot per program (the first ok process of each
    allocator, all on one axis); {(run label, "program_rss:P"): "plots/..."}."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plots = {}
    for run in runs:
        an = analyse(run.path)
        if an is None:
            continue
        for p in an["programs"]:
            fig, ax = plt.subplots(figsize=(6.4, 3.2))
            drawn = 0
            for a in an["allocators"]:
                c = an["cells"].get((a, p))
                if not c or not c["ok"]:
                    continue
                first = min(c["ok"], key=lambda r: r.get("process", 0))
                pts = _series(run.path, first.get("rss") or "")
                if not pts:
                    continue
                ax.plot([t for t, _ in pts], [m for _, m in pts], color=palette(a),
                        label=a, linewidth=1.2, marker=palette.marker(a), markevery=max(1, len(pts) // 8),
                        markersize=4)
                drawn += 1
            if not drawn:
                plt.close(fig)
                continue
            ax.set_xlabel("seconds since the start")
            ax.set_ylabel("RSS (MiB)")
            ax.set_title("%s: resident memory over time" % p)
            ax.set_ylim(bottom=0)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7, ncol=min(4, drawn), loc="best")
            base = "program_rss_%s%s" % (p, suffix_of(run))
            os.makedirs(out_dir, exist_ok=True)
            fig.savefig(os.path.join(out_dir, base + ".png"), dpi=100, bbox_inches="tight",
                        metadata={"Software": None})
            fig.savefig(os.path.join(out_dir, base + ".svg"), bbox_inches="tight",
                        metadata={"Date": None})
            plt.close(fig)
            plots[(run.label, "program_rss:" + p)] = "plots/" + base
    return plots


# --- exports ---------------------------------------------------------------------

def csv_rows(run_dir):
    """results.csv rows (allocator, benchmark, params, threads, metric, value,
    unit, stddev, n): medians over the processes that ran without failure."""
    an = analyse(run_dir)
    if an is None:
        return []
    out = []
    for (a, p), c in an["cells"].items():
        d = an["defs"].get(p, {})
        for metric, vals, unit in (("wall_time", c["wall"], "s"),
                                   ("peak_rss", c["rss"], "bytes"),
                                   ("user_time", [r["user_s"] for r in c["ok"]
                                                  if _pos(r.get("user_s"))], "s"),
                                   ("rss_after_1s", c["rss_1s"], "bytes"),
                                   ("figure", c["figure"], d.get("unit") or "")):
            if vals:
                out.append([a, "program/" + p, "", "", metric, _median(vals), unit,
                            _stdev(vals), len(vals)])
    return out


def _stdev(xs):
    if len(xs) < 2:
        return None
    m = sum(xs) / len(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def summary(run_dir):
    """summary.json["programs"] (results/README.md)."""
    an = analyse(run_dir)
    if an is None:
        return None
    allocs = {}
    for a in an["allocators"]:
        s = an["summary"][a]
        allocs[a] = {"time_ratio": s["time_ratio"], "time_ci": s["time_ci"],
                     "rss_ratio": s["rss_ratio"], "rss_ci": s["rss_ci"],
                     "programs_ok": s["programs_ok"], "programs_failed": s["programs_failed"],
                     "time_spread": s["time_spread"], "rss_spread": s["rss_spread"],
                     "time_separated_from": s["time_separated_from"],
                     "rss_separated_from": s["rss_separated_from"]}
    per = {}
    for p in an["programs"]:
        d = an["defs"].get(p, {})
        e = {"better": d.get("better"), "unit": d.get("unit"), "allocators": {}}
        for a in an["allocators"]:
            c = an["cells"].get((a, p))
            if c is None:
                continue
            u = _usable(an, a, p)
            e["allocators"][a] = {
                "runs": len(c["runs"]), "ok": len(c["ok"]),
                "statuses": sorted({r.get("status") for r in c["runs"]}),
                "wall_s": _median(c["wall"]), "peak_rss_bytes": _median(c["rss"]),
                "figure": _median(c["figure"]),
                "time_ratio": _median(u[0]["wall"]) / _median(u[1]["wall"]) if u else None,
                "time_range": time_range(an, a, p),
                "rss_ratio": _median(u[0]["rss"]) / _median(u[1]["rss"]) if u else None,
                "rss_after_1s_bytes": _median(c["rss_1s"])}
        per[p] = e
    return {"baseline": an["baseline"], "allocators": allocs, "per_program": per}


def _figure_entry(prefix, a, p, d, c):
    return {"name": "%s%s program/%s %s" % (prefix, a, p, d.get("unit") or "figure"),
            "unit": d.get("unit") or "", "value": _median(c["figure"]),
            "extra": "median of %d process(es)" % len(c["figure"])}


def bigger_entries(run_dir, prefix=""):
    """github-action-benchmark customBiggerIsBetter entries: the programs'
    own figures where higher is better (requests/s, rounds/s)."""
    an = analyse(run_dir)
    if an is None:
        return []
    return [_figure_entry(prefix, a, p, an["defs"].get(p, {}), c)
            for (a, p), c in sorted(an["cells"].items())
            if c["figure"] and an["defs"].get(p, {}).get("better") == "higher"]


def bench_entries(run_dir, prefix=""):
    """github-action-benchmark customSmallerIsBetter entries: wall time and
    peak RSS per allocator and program, and figures where lower is better."""
    an = analyse(run_dir)
    out = []
    if an is None:
        return out
    for (a, p), c in sorted(an["cells"].items()):
        d = an["defs"].get(p, {})
        if c["wall"]:
            out.append({"name": "%s%s program/%s wall_time" % (prefix, a, p), "unit": "s",
                        "value": round(_median(c["wall"]), 4),
                        "extra": "median of %d process(es)" % len(c["wall"])})
        if c["rss"]:
            out.append({"name": "%s%s program/%s peak_rss_bytes" % (prefix, a, p),
                        "unit": "bytes", "value": _median(c["rss"])})
        if c["figure"] and d.get("better") == "lower":
            out.append(_figure_entry(prefix, a, p, d, c))
    return out


def bmf(run_dir):
    """Bencher Metric Format: {"program/P/A": {measure: {value, lower_value,
    upper_value}}} with wall_time (s), peak_rss (bytes) and the program's own
    figure (its unit in the measure's name) per allocator and program."""
    an = analyse(run_dir)
    out = {}
    if an is None:
        return out
    for (a, p), c in sorted(an["cells"].items()):
        d = an["defs"].get(p, {})
        e = {}
        for measure, vals in (("wall_time", c["wall"]), ("peak_rss", c["rss"]),
                              ("figure" if not d.get("unit") else
                               "figure_" + "".join(ch if ch.isalnum() else "_"
                                                   for ch in d["unit"]).lower(), c["figure"])):
            if vals:
                e[measure] = {"value": _median(vals), "lower_value": min(vals),
                              "upper_value": max(vals)}
        if e:
            out["program/%s/%s" % (p, a)] = e
    return out


def main(argv):
    if len(argv) != 1:
        print("usage: programs.py RUN_DIR", file=sys.stderr)
        return 2
    an = analyse(argv[0])
    if an is None:
        print("programs.py: %s: no program ran" % argv[0], file=sys.stderr)
        return 1
    headers, rows = headline_table(an)
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    for r in [headers] + rows:
        print("  ".join(str(x).ljust(w) for x, w in zip(r, widths)).rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
