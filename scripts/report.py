#!/usr/bin/python3
"""heapmark report: turns run folders into tables, plots and a report.

usage: scripts/report.py [--out DIR] [--quiet] [--no-plots] RUN_DIR [RUN_DIR ...]

Reads meta.json, runs.jsonl, raw/*/*.json and conformance/*.json of each run
folder (schema: results/README.md) and writes, into the first run folder or
--out DIR:
  results.csv                   tidy table (a leading "host" column with several runs)
  summary.json                  geometric means, ranks, winner per family, per run
  bench-smaller-is-better.json  github-action-benchmark customSmallerIsBetter, from medians
  plots/*.png, plots/*.svg      the plots
  report.md, report.html        the report (report.html is self-contained)

Several run folders (e.g. one per machine) are shown side by side per host.
Problems in the input are reported as one line each on stderr and the rest is
rendered; the exit status is non-zero only when nothing can be rendered.
Set HEAPMARK_DEBUG=1 to see a traceback on an internal error.
"""

import argparse
import base64
import csv
import html
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("MPLBACKEND", "Agg")

import hm_results as hr  # noqa: E402
import report_programs as rpg  # noqa: E402
import report_verdict as rv  # noqa: E402

PROG = "report.py"


# --- analysis -----------------------------------------------------------------

def analyse(run):
    """Per-run figures: reference, normalised geometric means, ranks, family winners."""
    allocs = [a for a in run.allocators() if any(c.allocator == a for c in run.cells.values())]
    all_allocs = run.allocators()
    ref = "glibc" if "glibc" in allocs else (allocs[0] if allocs else None)
    keys = run.keys()
    keys_with_ref = [k for k in keys if ref and run.cell(ref, k) is not None]
    common = [k for k in keys_with_ref if all(run.cell(a, k) is not None for a in allocs)]
    basis = common
    partial = False
    if not common and keys_with_ref:
        basis, partial = keys_with_ref, True

    def ratios(a, ks, metric):
        out = []
        for k in ks:
            c, r = run.cell(a, k), run.cell(ref, k)
            if c is None or r is None:
                continue
            if metric == "time":
                out.append(c.center() / r.center())
            elif c.rss_bytes and r.rss_bytes and hr.median(r.rss_bytes) > 0:
                out.append(hr.median(c.rss_bytes) / hr.median(r.rss_bytes))
        return out

    gm_time = {a: hr.geomean(ratios(a, basis, "time")) for a in allocs}
    gm_rss = {a: hr.geomean(ratios(a, basis, "rss")) for a in allocs}
    ranked = sorted([a for a in allocs if gm_time[a]], key=lambda a: gm_time[a])
    ranks = {a: i + 1 for i, a in enumerate(ranked)}

    families = {}
    for fam in sorted({k[0] for k in keys}):
        fk = [k for k in basis if k[0] == fam]
        entry = {"workloads": len(fk), "geomean_time": {}, "winner": None, "without": []}
        contenders = allocs
        if not fk:
            # no workload of the family was completed by every allocator: compare those
            # that completed every one the reference did
            fk = [k for k in keys_with_ref if k[0] == fam]
            contenders = [a for a in allocs if all(run.cell(a, k) is not None for k in fk)]
            entry["workloads"] = len(fk)
            entry["without"] = [a for a in allocs if a not in contenders]
        if fk:
            for a in contenders:
                g = hr.geomean(ratios(a, fk, "time"))
                if g:
                    entry["geomean_time"][a] = g
            if entry["geomean_time"]:
                entry["winner"] = min(entry["geomean_time"], key=entry["geomean_time"].get)
        families[fam] = entry

    wins = {a: 0 for a in allocs}
    for k in keys:
        cs = {a: run.cell(a, k).center() for a in allocs if run.cell(a, k) is not None}
        if len(cs) > 1:
            wins[min(cs, key=cs.get)] += 1
    excluded = [k for k in keys if k not in basis]
    import report_plots as rp
    fam_w = rv._weights(basis, True)
    headline = {"family": {}, "workload": {}, "threads": {}}
    thr = [k for k in basis if k[2] > 1]
    for a in allocs:
        r = rv.time_ratios(run, a, ref, basis)
        headline["family"][a] = rv.weighted_geomean(r, fam_w)
        headline["workload"][a] = rv.weighted_geomean(r, {k: 1.0 for k in r})
        if thr:
            headline["threads"][a] = rv.weighted_geomean({k: r[k] for k in thr if k in r},
                                                         rv._weights(thr, True))
    boot = rv.bootstrap(run, allocs, ref, basis) if ref and basis else {"ci": {}, "pair": {}}
    boot_thr = rv.bootstrap(run, allocs, ref, thr, boot=200) if ref and thr else {"ci": {}, "pair": {}}
    ranked_h = sorted([a for a in allocs if headline["family"].get(a)],
                      key=lambda a: headline["family"][a])
    return {
        "headline": headline, "boot": boot, "boot_threads": boot_thr, "rank_headline": ranked_h,
        "drift": rv.drift(run, ref) if ref else None,
        "processes": rv.processes_per_cell(run),
        "oversubscribed": rv.oversubscribed(run),
        "memory": rv.memory(run, allocs, ref) if not run.instructions else None,
        "tail": rv.tail_latency(run, allocs, ref, rp.latency_series(run)) if ref else {},
        "contract": rv.contract(run, all_allocs),
        "programs": programs_of(run),
        "family_weights": fam_w,
        
        "variants": analyse_variants(run),
        "wins": wins,
        "reference": ref, "allocators": allocs, "all_allocators": all_allocs,
        "keys": keys, "keys_with_ref": keys_with_ref, "basis": basis, "partial": partial,
        "geomean_n": len(basis), "geomean_time": gm_time, "geomean_rss": gm_rss,
        "ranks": ranks, "families": families, "excluded": excluded,
    }


def programs_of(run):
    """summary["programs"] of a run with program workloads (report_programs.py), or None."""
    return rpg.summary(run.path)


def analyse_variants(run):
    """Each variant against its base in the same run: per workload both completed,
    median time (or instructions) of the variant / of the base, and peak RSS
    likewise; their geometric means."""
    out = []
    for name, base, env, partner in run.variants():
        v = {"name": name, "base": base, "base_allocator": partner, "env": env,
             "keys": [], "time": {}, "rss": {}, "geomean_time": None, "geomean_rss": None}
        if partner is not None:
            for k in run.keys():
                c, b = run.cell(name, k), run.cell(partner, k)
                if c is None or b is None:
                    continue
                v["keys"].append(k)
                v["time"][k] = c.center() / b.center()
                if c.rss_bytes and b.rss_bytes and hr.median(b.rss_bytes) > 0:
                    v["rss"][k] = hr.median(c.rss_bytes) / hr.median(b.rss_bytes)
            v["geomean_time"] = hr.geomean(list(v["time"].values()))
            v["geomean_rss"] = hr.geomean(list(v["rss"].values()))
        out.append(v)
    return out


def _round(v):
    return round(v, 6) if v is not None else None


def summary_json(runs, analyses):
    out = {"schema": 1, "tool": "heapmark-report", "runs": []}
    for run, an in zip(runs, analyses):
        out["runs"].append({
            "label": run.label, "run_dir": os.path.basename(os.path.normpath(run.path)),
            "host": run.host, "state": run.state,
            "git_revision": run.meta.get("git_revision"),
            "reference": an["reference"],
            "allocators": an["allocators"],
            "workloads_in_geomean": [hr.instance_label(k) for k in an["basis"]],
            "geomean_basis": "workloads every allocator completed" if not an["partial"]
                             else "workloads the reference completed (no workload was completed "
                                  "by every allocator)",
            "geomean_time_vs_reference": _clean(an["geomean_time"]),
            "geomean_peak_rss_vs_reference": _clean(an["geomean_rss"]),
            "rank": an["ranks"],
            "fastest_in_workloads": an["wins"],
            "families": {f: {"workloads": e["workloads"], "winner": e["winner"],
                             "without_result": e["without"],
                             "geomean_time_vs_reference": _clean(e["geomean_time"])}
                         for f, e in an["families"].items()},
            "failed": [{k: f[k] for k in ("allocator", "benchmark", "status", "reason", "log")}
                       for f in run.failed],
            "missing": [{"allocator": a, "benchmark": b} for a, b in run.missing],
            "variants": [{
                "name": v["name"], "base": v["base"], "base_allocator": v["base_allocator"],
                "env": v["env"], "workloads": len(v["keys"]),
                "geomean_time_vs_base": _round(v["geomean_time"]),
                "geomean_peak_rss_vs_base": _round(v["geomean_rss"]),
                "per_workload": [{"workload": hr.instance_label(k),
                                  "time_vs_base": _round(v["time"][k]),
                                  "peak_rss_vs_base": _round(v["rss"].get(k))}
                                 for k in v["keys"]]} for v in an["variants"]],
            "headline": {
                "weighting": "each workload family once",
                "time_vs_reference": _clean(an["headline"]["family"]),
                "ci95": {a: [_round(lo), _round(hi)] for a, (lo, hi) in an["boot"]["ci"].items()},
                "rank": an["rank_headline"],
                "ties": [[a, b] for i, a in enumerate(an["rank_headline"][1:], 1)
                         for b in [an["rank_headline"][i - 1]]
                         if rv.is_tie(an["boot"]["pair"].get((a, b)))],
                "time_vs_reference_each_workload_once": _clean(an["headline"]["workload"]),
            },
            "processes_per_figure": list(an["processes"]),
            "drift": None if not an["drift"] else {
                "allocator": an["reference"], "median": _round(an["drift"]["median"]),
                "worst": _round(an["drift"]["worst"]),
                "worst_workload": hr.instance_label(an["drift"]["worst_key"]),
                "workloads": an["drift"]["workloads"]},
            "memory": None if not an["memory"] else {
                "big_workloads": [hr.instance_label(k) for k in an["memory"]["big"]],
                "startup_rss_bytes": {a: v[0] for a, v in an["memory"]["baselines"].items()},
                "startup_measured": {a: v[1] for a, v in an["memory"]["baselines"].items()},
                "allocators": {a: {k: _round(v) if isinstance(v, float) else v
                                   for k, v in m.items()}
                               for a, m in an["memory"]["allocators"].items()}},
            "verdict": [{"priority": p, "answer": t} for p, t in rv.verdict(an, an.get("programs"))],
            "conformance_not_attached": run.conformance_refused,
            "problems": run.problems,
        })
    progs = [an.get("programs") for an in analyses if an.get("programs")]
    out["programs"] = progs[0] if progs else None
    return out


def json_safe(obj):
    """NaN and Infinity (which strict JSON parsers reject) become null."""
    if isinstance(obj, float) and not (obj == obj and abs(obj) != float("inf")):
        return None
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def _clean(d):
    return {k: (round(v, 6) if v is not None else None) for k, v in d.items()}


# --- exports -------------------------------------------------------------------

CSV_FIELDS = ["allocator", "benchmark", "params", "threads", "metric", "value", "unit", "stddev", "n"]


def _num(v):
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return "%.6g" % v if isinstance(v, float) else str(v)


def write_csv(path, runs):
    multi = len(runs) > 1
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow((["host"] if multi else []) + CSV_FIELDS)
        for run in runs:
            for r in hr.tidy_rows(run):
                row = [r["allocator"], r["benchmark"], r["params"], r["threads"], r["metric"],
                       _num(r["value"]), r["unit"], _num(r["stddev"]), r["n"]]
                w.writerow(([run.label] if multi else []) + row)
            for row in rpg.csv_rows(run.path):
                w.writerow(([run.label] if multi else []) + [_num(v) for v in row])


# counters worth tracking in CI besides time and RSS (smaller is better)
_TRACKED_COUNTER = re.compile(r"_(p99|p999|max)_ns$")


def bench_json(runs, analyses):
    """github-action-benchmark customSmallerIsBetter entries, from medians."""
    out = []
    multi = len(runs) > 1
    for run, an in zip(runs, analyses):
        prefix = run.label + ": " if multi else ""
        for k in run.keys():
            lab = hr.instance_label(k)
            for a in an["allocators"]:
                c = run.cell(a, k)
                if c is None:
                    continue
                n = len(c.time_ns)
                med = c.center()
                sd = hr.stddev(c.time_ns)
                metric, unit, _what = run.primary
                e = {"name": "%s%s %s %s" % (prefix, a, lab, metric), "unit": unit + "/op"
                     if unit != "ns" else "ns/op",
                     "value": round(med, 4), "extra": "median of %d repetition(s); %s" % (n, run.host)}
                if sd is not None:
                    e["range"] = "± %.4g" % sd
                out.append(e)
                r = run.cell(an["reference"], k)
                if r is not None and a != an["reference"]:
                    out.append({"name": "%s%s/%s %s %s ratio" % (
                                    prefix, a, an["reference"], lab,
                                    "instructions" if run.instructions else "time"),
                                "unit": "x", "value": round(med / r.center(), 5),
                                "extra": "within-run ratio of medians; drift cancels"})
                if c.rss_bytes:
                    out.append({"name": "%s%s %s peak_rss_bytes" % (prefix, a, lab),
                                "unit": "bytes", "value": hr.median(c.rss_bytes)})
                for cname in sorted(c.counters):
                    if _TRACKED_COUNTER.search(cname):
                        out.append({"name": "%s%s %s %s" % (prefix, a, lab, cname), "unit": "ns",
                                    "value": round(hr.median(c.counters[cname]), 4)})
        out += rpg.bench_entries(run.path, prefix)
    return [e for e in out if hr.finite(e["value"])]


# --- document model ----------------------------------------------------------------
# A report is a list of blocks rendered to Markdown and to HTML:
#   ("h", level, text)  ("p", text)  ("ul", [text])  ("table", headers, rows)
#   ("img", [(path, alt)])  ("details", summary, [blocks])
# Text may hold **bold** and `code`.

def fmt_ns(v):
    if v is None:
        return "-"
    if v >= 1e9:
        return "%.3g s" % (v / 1e9)
    if v >= 1e6:
        return "%.3g ms" % (v / 1e6)
    if v >= 1e3:
        return "%.3g us" % (v / 1e3)
    return "%.3g ns" % v


def fmt_latency(v, floor):
    """A latency percentile; under the timer floor (already subtracted from every
    sample, so not resolved) it reads "< floor"."""
    if v is None:
        return "-"
    if floor and v < floor:
        return "< floor (%s)" % fmt_ns(floor)
    return fmt_ns(v)


def fmt_primary(run, v):
    """The run's main figure: a time, or instructions per operation."""
    if run.instructions:
        return "-" if v is None else "%.4g instr" % v
    return fmt_ns(v)


def fmt_bytes(v):
    if v is None:
        return "-"
    for unit, s in (("GiB", 2 ** 30), ("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if v >= s:
            return "%.3g %s" % (v / s, unit)
    return "%d B" % v


def fmt_value(v, unit):
    if unit == "ns":
        return fmt_ns(v)
    if unit == "bytes":
        return fmt_bytes(v)
    return "%.4g" % v


def fmt_ratio(v):
    return "-" if v is None else "%.3fx" % v


def esc_md(s):
    return str(s).replace("|", "\\|").replace("\n", " ")


def _cell_texts(run, allocs, k, metric):
    """{allocator: text} for one instance of one run: median (CV), % vs the row's best,
    or the failure of its process. None when no allocator has a value."""
    vals, cvs = {}, {}
    for a in allocs:
        c = run.cell(a, k)
        if c is None:
            continue
        s = c.time_ns if metric == "ns_per_op" else (c.peak_above_baseline() or c.rss_bytes)
        if s:
            vals[a] = c.center() if metric == "ns_per_op" else hr.median(s)
            sd = hr.stddev(s)
            cvs[a] = (sd / hr.mean(s) * 100.0) if sd is not None and hr.mean(s) > 0 else None
    if not vals:
        return None
    best = min(vals.values())
    out = {}
    for a in allocs:
        if a not in vals:
            out[a] = _status_of(run, a, k)
            continue
        v = vals[a]
        txt = fmt_primary(run, v) if metric == "ns_per_op" else fmt_bytes(v)
        if cvs.get(a) is not None and metric == "ns_per_op":
            txt += " ±%.0f%%" % cvs[a]
        if v == best:
            txt = "**%s** (best)" % txt
        elif best > 0:
            # +N% while it reads well, a ratio beyond 10x ("2777x", not "+277655%")
            txt += " (%s)" % ("+%.0f%%" % ((v / best - 1.0) * 100.0) if v / best < 10
                              else rv.fmt_x(v / best))
        out[a] = txt
    return out


def vs_best_table(run, an, keys, metric):
    """Rows: one per instance; one column per allocator: median (CV) and % vs the best."""
    headers = ["workload", "threads"] + an["allocators"]
    rows = []
    for k in keys:
        texts = _cell_texts(run, an["allocators"], k, metric)
        if texts is None:
            continue
        rows.append([(k[0] + ("/" + k[1] if k[1] else "")), str(k[2])]
                    + [texts[a] for a in an["allocators"]])
    return headers, rows


def vs_best_hosts(runs, analyses, keys, metric):
    """Several runs side by side: one row per instance and allocator, one column per
    host; the % is against the best allocator of that instance on that host."""
    allocs = []
    for an in analyses:
        allocs += [a for a in an["allocators"] if a not in allocs]
    headers = ["workload", "threads", "allocator"] + [r.label for r in runs]
    rows = []
    for k in keys:
        per_run = [_cell_texts(run, allocs, k, metric) for run in runs]
        if not any(per_run):
            continue
        first = True
        for a in allocs:
            cells = [(t or {}).get(a, "-") if t is not None else "-" for t in per_run]
            if all(c in ("-", "missing") for c in cells):
                continue
            rows.append([(k[0] + ("/" + k[1] if k[1] else "")) if first else "",
                         str(k[2]) if first else "", a] + cells)
            first = False
    return headers, rows


def _status_of(run, alloc, key):
    import report_plots as rp
    return rp.status_of(run, alloc, key)


def env_rows(run):
    m = run.meta
    rows = []
    for label, key in (("host", "host"), ("CPU", "cpu_model"), ("cores", "cores"),
                       ("kernel", "kernel"), ("transparent huge pages", "thp"),
                       ("compiler", "compiler"), ("git revision", "git_revision"),
                       ("command line", "command_line"), ("started", "started"),
                       ("finished", "finished"), ("state", "state")):
        v = m.get(key)
        rows.append([label, "`%s`" % v if key == "command_line" and v else
                     (str(v) if v not in (None, "") else "unknown")])
    shown = {"host", "cpu_model", "cores", "kernel", "thp", "compiler", "git_revision",
             "command_line", "started", "finished", "state", "options", "allocators",
             "benchmarks", "planned", "done", "schema", "tool", "skipped_allocators"}
    for key in sorted(k for k in m if k not in shown):
        v = m[key]
        if isinstance(v, dict):
            v = ", ".join("%s=%s" % kv for kv in sorted(v.items())) or "(none)"
        elif isinstance(v, list):
            v = ", ".join(map(str, v))
        rows.append([key.replace("_", " "), str(v)])
    opts = m.get("options")
    if isinstance(opts, dict):
        rows.append(["options", ", ".join("%s=%s" % (k, v) for k, v in sorted(opts.items()))])
    for a in m.get("allocators") or []:
        if isinstance(a, dict):
            desc = str(a.get("version") or "unknown version")
            if a.get("library"):
                desc += " (`%s`)" % a["library"]
            if a.get("package"):
                desc += ", Debian package %s" % a["package"]
            if a.get("preload"):
                desc += ", LD_PRELOAD `%s`" % a["preload"]
            if isinstance(a.get("env"), dict) and a["env"]:
                desc += ", variant of %s with %s" % (a.get("base"), _settings(a["env"]))
            rows.append(["allocator %s" % a.get("name", "?"), desc])
    for a in m.get("skipped_allocators") or []:
        if isinstance(a, dict):
            rows.append(["skipped allocator %s" % a.get("name", "?"), str(a.get("reason"))])
    return rows


def hardening_table(run, allocs):
    """The hardening rows (area "hardening") as a capability table: one row per
    check, one column per allocator, yes/no."""
    checks = []
    for a in allocs:
        for c in run.conformance[a]["checks"]:
            if c.get("area") == "hardening" and c["id"] not in [x[0] for x in checks]:
                checks.append((c["id"], str(c.get("intent") or "")))
    rows = []
    word = {"present": "yes", "absent": "no", "crash": "CRASH", "timeout": "TIMEOUT"}
    for cid, intent in sorted(checks):
        row = ["`%s` %s" % (cid, intent)]
        for a in allocs:
            st = next((str(c.get("status")) for c in run.conformance[a]["checks"] if c["id"] == cid),
                      "-")
            row.append(word.get(st, st))
        rows.append(row)
    return rows


def conformance_blocks(runs, plots):
    blocks = []
    with_conf = [r for r in runs if r.conformance or r.conformance_dead]
    refused = [r for r in runs if r.conformance_refused and not r.conformance]
    if not with_conf:
        if refused:
            blocks.append(("h", 2, "Conformance"))
            for r in refused:
                blocks.append(("p", "No conformance matrix of exactly these allocators and this "
                                    "build: the conformance run %s is not attached, as %s "
                                    "(`make bench` runs the matching one)."
                               % tuple(r.conformance_refused.split(": ", 1))))
        return blocks
    blocks.append(("h", 2, "Conformance"))
    for run in with_conf:
        if len(runs) > 1:
            blocks.append(("h", 3, "Conformance on %s" % run.label))
        allocs = [a for a in run.allocators() if a in run.conformance] + \
                 sorted(a for a in run.conformance if a not in run.allocators())
        statuses = ["pass", "fail", "crash", "timeout", "unsupported", "observed", "present",
                    "absent"]
        rows = []
        failures = []
        for a in allocs:
            counts = {s: 0 for s in statuses}
            other = 0
            for c in run.conformance[a]["checks"]:
                st = str(c.get("status"))
                if st in counts:
                    counts[st] += 1
                else:
                    other += 1
                if st in ("fail", "crash", "timeout") or st not in counts:
                    failures.append("**%s** `%s` (%s, %s): %s%s" % (
                        a, c.get("id"), c.get("area", "?"), c.get("kind", "?"), st.upper(),
                        (" - " + str(c.get("detail"))) if c.get("detail") else ""))
            ver = run.conformance[a].get("version")
            rows.append([a + (" %s" % ver if ver else "")] + [str(counts[s]) for s in statuses]
                        + [str(other)])
        if run.conformance_from:
            blocks.append(("p", "From the conformance run `%s` of the same host, build and "
                                "allocators."
                           % os.path.basename(os.path.normpath(run.conformance_from))))
        blocks.append(("table", ["allocator"] + statuses + ["other"], rows))
        hard = hardening_table(run, allocs)
        if hard:
            blocks.append(("p", "Hardening: what each allocator catches or prevents when a program "
                                "misuses memory (a capability, never a failure):"))
            blocks.append(("table", ["hardening check"] + allocs, hard))
        blocks.append(("p", "`fail`, `crash` and `timeout` are failures of STD/EXT/OWN checks; "
                            "`unsupported` means the allocator has no such extension (never a "
                            "failure); REP checks are `observed` behaviour and CAP checks are "
                            "`present`/`absent` capabilities."))
        for a, status, detail in run.conformance_dead:
            failures.append("**%s**: the conformance binary has no verdicts: %s (%s)"
                            % (a, status.upper(), detail))
        if failures:
            blocks.append(("p", "Every failure (%d):" % len(failures)))
            blocks.append(("ul", failures))
        else:
            blocks.append(("p", "No check failed."))
        if plots.get((run.label, "conformance")):
            blocks.append(("img", [(plots[(run.label, "conformance")],
                                    "conformance matrix of %s" % run.label)]))
    return blocks


def run_name(run):
    """The run folder's own name, also when it was given through the `latest` link."""
    return os.path.basename(os.path.realpath(run.path))


def machine_line(run):
    """Machine and versions in one line, for the top of the report."""
    m = run.meta
    cpu = m.get("cpu_model") or "unknown CPU"
    extra = cpu_details(run)
    parts = ["%s%s" % (cpu, " (%s)" % extra if extra else "")]
    if m.get("cores"):
        parts.append("%s cores" % m["cores"])
    for key, lab in (("os", ""), ("kernel", "kernel "), ("compiler", "")):
        if m.get(key):
            parts.append(lab + str(m[key]))
    vers = []
    for a in m.get("allocators") or []:
        if isinstance(a, dict) and a.get("name"):
            vers.append("%s %s" % (a["name"], a.get("version") or "?"))
    return "Machine: %s. Allocators: %s." % (", ".join(parts), ", ".join(vers) or "unknown")


def cpu_details(run):
    """Frequency and caches: from meta.json when it has them, else read from this
    machine (/proc/cpuinfo, sysfs) when the report is rendered on the run's host."""
    m = run.meta
    if m.get("cpu_mhz") or m.get("caches"):
        return ", ".join(x for x in ("%s MHz" % m["cpu_mhz"] if m.get("cpu_mhz") else "",
                                     str(m.get("caches") or "")) if x)
    import socket
    mhz = None
    cpuinfo_cache = None
    if m.get("host") != socket.gethostname():
        return "%.0f MHz" % run.cpu_mhz if run.cpu_mhz else ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                low = line.lower()
                if low.startswith("cpu mhz") and mhz is None:
                    mhz = float(line.split(":", 1)[1])
                elif low.startswith("cache size") and cpuinfo_cache is None:
                    cpuinfo_cache = line.split(":", 1)[1].strip()
                elif not line.strip() and mhz is not None:
                    break
    except (OSError, ValueError):
        pass
    caches = []
    base = "/sys/devices/system/cpu/cpu0/cache"
    try:
        for idx in sorted(os.listdir(base)):
            d = os.path.join(base, idx)
            try:
                with open(os.path.join(d, "level")) as f:
                    lvl = f.read().strip()
                with open(os.path.join(d, "type")) as f:
                    typ = f.read().strip()
                with open(os.path.join(d, "size")) as f:
                    size = f.read().strip()
            except OSError:
                continue
            caches.append("L%s%s %s" % (lvl, {"Data": "d", "Instruction": "i"}.get(typ, ""), size))
    except OSError:
        pass
    out = []
    mhz = run.cpu_mhz or mhz
    if mhz:
        out.append("%.0f MHz" % mhz)
    if caches:
        out.append("caches " + " ".join(caches))
    elif cpuinfo_cache:
        out.append("cache %s (/proc/cpuinfo)" % cpuinfo_cache)
    return ", ".join(out)


def _ci(ci):
    return "%s-%s" % (rv.fmt_x(ci[0]), rv.fmt_x(ci[1])) if ci else "-"


def verdict_blocks(runs, analyses, plots):
    """The opening answer: per priority, who leads, by how much, how sure."""
    doc = [("h", 2, "Verdict")]
    for run, an in zip(runs, analyses):
        if len(runs) > 1:
            doc.append(("h", 3, "Verdict on %s" % run.label))
        rows = rv.verdict(an, an.get("programs"))
        doc.append(("table", ["priority", "answer"], [[p, t] for p, t in rows]))
        fam = an["headline"]["family"]
        boot = an["boot"]
        order = an["rank_headline"]
        if order:
            items = []
            for i, a in enumerate(order):
                t = "%s %s" % (rv.mark(a), rv.fmt_x(fam[a]))
                if boot["ci"].get(a):
                    t += " [%s]" % _ci(boot["ci"][a])
                if i > 0 and rv.is_tie(boot["pair"].get((a, order[i - 1]))):
                    t += " (tie with %s)" % order[i - 1]
                items.append(t)
            nfam = len({k[0] for k in an["basis"]})
            doc.append(("p", "**Headline** (microbenchmarks, time per operation vs %s, each of "
                             "the %d families counted once, %d workloads; 95%% bootstrap "
                             "interval over workloads and processes): %s."
                        % (an["reference"], nfam, len(an["basis"]), "; ".join(items))))
        sens = []
        for name, ranking in rv.sensitivity(an, an.get("programs")):
            sens.append("%s: %s" % (name, " < ".join(ranking) if ranking else "no data"))
        doc.append(("p", "**Sensitivity** (ranking, fastest first): " + "; ".join(sens) + "."))
        doc.append(("p", uncertainty_line(run, an)))
        cores, over = an["oversubscribed"]
        if over:
            doc.append(("p", "**Warning**: this machine has %s cores; %d workload(s) run more "
                             "threads than that (e.g. `%s`): they measure the scheduler as much "
                             "as the allocator." % (cores, len(over), hr.instance_label(over[0]))))
    doc.append(("p", "*%s* is heapmark's own allocator, a contestant written by this project; "
                     "the others are as Debian ships them." % rv.OWN))
    return doc


def uncertainty_line(run, an):
    lo, hi = an["processes"]
    d = an["drift"]
    s = "**Uncertainty**: each figure is the median over %s separate process(es) per "\
        "allocator and workload (of each process's median over its repetitions)" % (
            str(lo) if lo == hi else "%d-%d" % (lo, hi))
    if d:
        s += "; the machine's own drift, %s's per-process medians of one workload, is %.1f%% " \
             "(median over %d workloads; worst %.0f%% on `%s`)" % (
                 an["reference"], d["median"] * 100, d["workloads"], d["worst"] * 100,
                 hr.instance_label(d["worst_key"]))
    else:
        s += "; with one process per figure the drift between processes is not measured " \
             "(`--processes 2` or more measures it)"
    return s + "."


def programs_blocks(runs, analyses, plots):
    """The programs section (report_programs.py); analyses are not needed there."""
    del analyses
    return rpg.document_blocks(runs, plots)


def summary_blocks(runs, analyses, plots):
    multi = len(runs) > 1
    doc = [("h", 3, "Summary")]
    all_allocs = []
    for an in analyses:
        for a in an["rank_headline"] + an["allocators"]:
            if a not in all_allocs:
                all_allocs.append(a)
    headers = ["allocator"]
    for run, an in zip(runs, analyses):
        sfx = " (%s)" % run.label if multi else ""
        what = "instructions" if run.instructions else "time"
        headers += ["%s vs %s%s" % (what, an["reference"], sfx), "95% CI" + sfx, "rank" + sfx,
                    "each workload once" + sfx, "fastest in" + sfx]
    rows = []
    for a in all_allocs:
        row = [rv.mark(a)]
        for run, an in zip(runs, analyses):
            order = an["rank_headline"]
            rank = "-"
            if a in order:
                i = order.index(a)
                rank = str(i + 1)
                if i > 0 and rv.is_tie(an["boot"]["pair"].get((a, order[i - 1]))):
                    rank += " (tie)"
            row += [rv.fmt_x(an["headline"]["family"].get(a)), _ci(an["boot"]["ci"].get(a)), rank,
                    rv.fmt_x(an["headline"]["workload"].get(a)),
                    "%d of %d" % (an["wins"].get(a, 0), len(an["keys"])) if a in an["wins"] else "-"]
        rows.append(row)
    doc.append(("table", headers, rows))
    notes = []
    for run, an in zip(runs, analyses):
        basis = "every allocator completed" if not an["partial"] else \
            "the reference completed (no workload was completed by every allocator)"
        left = (" Left out: %s." % ", ".join("`%s`" % hr.instance_label(k)
                                             for k in an["excluded"][:20])) if an["excluded"] else ""
        notes.append("%sGeometric means of per-workload ratios of %s to **%s** over the %d "
                     "workload(s) %s, each family weighted once (*each workload once*: every "
                     "workload weighted alike); lower is better; sorted by rank; *(tie)*: the "
                     "95%% interval of its ratio to the one above holds 1; *fastest in*: "
                     "workloads where it has the lowest median.%s"
                     % ("%s: " % run.label if multi else "", run.primary[2], an["reference"],
                        an["geomean_n"], basis, left))
    doc.append(("ul", notes))
    fam_headers = ["family"] + ["winner" + (" (%s)" % r.label if multi else "") for r in runs]
    fams = sorted({f for an in analyses for f in an["families"]})
    fam_rows = []
    for f in fams:
        row = [f]
        for run, an in zip(runs, analyses):
            e = an["families"].get(f)
            if not e or not e["winner"]:
                row.append("n/a")
                continue
            w = e["winner"]
            others = sorted(((g, a) for a, g in e["geomean_time"].items() if a != w))
            nxt = ""
            tie = False
            if others:
                nxt = ", next %s %.2fx" % (others[0][1], others[0][0] / e["geomean_time"][w])
                fk = [k for k in an["basis"] if k[0] == f]
                if fk:
                    b = rv.bootstrap(run, [w, others[0][1]], an["reference"], fk, boot=200)
                    tie = rv.is_tie(b["pair"].get((others[0][1], w)))
            row.append("%s (%s %s over %d workload(s)%s)%s" % (
                "tie: **%s**, **%s**" % (w, others[0][1]) if tie else "**%s**" % w,
                rv.fmt_x(e["geomean_time"][w]), an["reference"], e["workloads"], nxt,
                "; no result from %s" % ", ".join(e["without"]) if e["without"] else ""))
        fam_rows.append(row)
    if fam_rows:
        doc.append(("p", "Winner per workload family (lowest geometric mean of time; *tie* "
                         "where the two best are not separated):"))
        doc.append(("table", fam_headers, fam_rows))
    for kind in ("geomean", "time_normalised"):
        imgs = [(plots[(r.label, kind)], "%s %s" % (kind, r.label)) for r in runs
                if plots.get((r.label, kind))]
        if imgs:
            doc.append(("img", imgs))
    return doc


def memory_blocks(runs, analyses):
    """Memory above each process's own baseline; start-up sizes apart."""
    doc = []
    for run, an in zip(runs, analyses):
        mem = an.get("memory")
        if not mem or not mem["baselines"]:
            continue
        if not doc:
            doc.append(("h", 3, "Memory"))
        if len(runs) > 1:
            doc.append(("p", "**%s**" % run.label))
        allocs = sorted(an["allocators"], key=lambda a: (mem["allocators"][a]["peak_vs_ref"] is None,
                                                          mem["allocators"][a]["peak_vs_ref"] or 0))
        rows = []
        for a in allocs:
            m = mem["allocators"][a]
            rows.append([rv.mark(a), rv.fmt_x(m["peak_vs_ref"]), fmt_bytes(m["peak_above_median"]),
                         "%.2f" % m["overhead"] if m["overhead"] is not None else "-",
                         fmt_bytes(m["after_free"]), fmt_bytes(m["after_free_max"]),
                         fmt_bytes(m["after_idle"]), fmt_bytes(m["after_purge"])])
        doc.append(("table", ["allocator", "peak above baseline vs %s" % an["reference"],
                              "peak above baseline (median)", "overhead (median)",
                              "kept after free (median)", "kept after free (worst)",
                              "kept after an idle second (median)",
                              "kept after purge (median)"], rows))
        doc.append(("p", "Memory as a program sees it: each process's peak RSS minus its own RSS "
                         "before the workload's first allocation (its baseline), over the %d "
                         "workload(s) that allocate %d MiB or more (%s); *overhead*: peak RSS "
                         "above baseline over the workload's peak of live bytes (1.00 = no "
                         "waste); *kept after free*: RSS above the baseline once every block is "
                         "freed; *after an idle second*: the same a second later (time-based "
                         "release has had its chance); *after purge*: the same after the "
                         "allocator's own release call where it has one."
                    % (len(mem["big"]), rv.BIG_BYTES >> 20,
                       ", ".join("`%s`" % hr.instance_label(k) for k in mem["big"][:8])
                       + (" ..." if len(mem["big"]) > 8 else "") if mem["big"] else "none")))
        base = mem["baselines"]
        doc.append(("p", "Start-up size, shown once and left out above (RSS before the first "
                         "allocation of a workload, median over processes%s): %s."
                    % ("" if all(m for _v, m in base.values()) else
                       "; *at most*: not recorded by this run, the smallest peak of its "
                       "processes instead",
                       ", ".join("%s %s%s" % (a, "" if base[a][1] else "at most ",
                                             fmt_bytes(base[a][0]))
                                 for a in an["allocators"] if a in base))))
    return doc


def build_document(runs, analyses, plots):
    multi = len(runs) > 1
    doc = [("h", 1, "heapmark report")]
    intro = []
    for run in runs:
        m = run.meta
        line = "**%s**: run `%s`, %s" % (run.label, run_name(run), run.state)
        if m.get("git_revision"):
            line += ", git `%s`" % m["git_revision"]
        if isinstance(m.get("planned"), int):
            line += ", %s of %d benchmark processes done" % (m.get("done", "?"), m["planned"])
        intro.append(line)
        intro.append(machine_line(run))
    doc.append(("ul", intro))
    if any(run.gbench_debug for run in runs):
        intro.append("Google Benchmark printed *\"Library was built as DEBUG. Timings may be "
                     "affected.\"*: that is Debian's libbenchmark package describing its own "
                     "build; heapmark's workloads, the allocators and the timed loops are built "
                     "with -O2, and the library's own code runs only between batches of operations "
                     "(the loop control and the clock), so its build type does not enter the time "
                     "per operation.")
    for run in runs:
        if run.state in ("interrupted", "running") or run.missing:
            doc.append(("p", "**Incomplete run %s** (state: %s): %d planned result(s) are missing; "
                             "this report shows what is there. The missing ones are listed under "
                             "*Failed and missing results*." % (run.label, run.state, len(run.missing))))
    if not any(run.cells for run in runs):
        progs = programs_blocks(runs, analyses, plots)
        doc += progs
        doc.append(("p", "No %s results in %s%s."
                         % ("microbenchmark" if progs else "benchmark",
                            "these runs" if multi else "this run",
                            "" if progs else ": conformance only")))
        doc += conformance_blocks(runs, plots)
        doc += failure_blocks(runs, multi)
        doc += environment_blocks(runs, multi)
        return doc

    doc += verdict_blocks(runs, analyses, plots)
    doc += programs_blocks(runs, analyses, plots)
    doc.append(("h", 2, "Diagnostics: why (microbenchmarks)"))
    doc.append(("p", "Synthetic workloads, each isolating one allocation pattern: they explain "
                     "*why* an allocator wins or loses; whether it wins for a program is the "
                     "programs' answer."))
    doc += summary_blocks(runs, analyses, plots)
    doc += memory_blocks(runs, analyses)
    doc += variant_blocks(runs, analyses)

    # per-workload tables
    doc.append(("h", 2, "Workloads"))
    if any(r.instructions for r in runs):
        doc.append(("p", "Instruction counts (`heapmark run --instructions`): instructions per "
                         "operation counted by callgrind inside the timed loops, one process per "
                         "allocator and workload; times, rates, latency and memory figures of such "
                         "a run are not the allocator's and are not shown."))
    doc.append(("p", "Median " + ("instructions" if all(r.instructions for r in runs) else "time")
                + " per operation over the repetitions (± coefficient of variation), "
                     "and how much slower than the best allocator of the row. A status in capitals "
                     "(CRASH, TIMEOUT, ERROR, GARBAGE) means that process failed."))
    for fam in sorted({k[0] for run in runs for k in run.keys()}):
        doc.append(("h", 3, fam))
        if multi:
            keys = sorted({k for run in runs for k in run.keys() if k[0] == fam}, key=hr._key_sort)
            h, r = vs_best_hosts(runs, analyses, keys, "ns_per_op")
            doc.append(("table", h, r))
            h2, r2 = vs_best_hosts(runs, analyses, keys, "peak_rss_bytes")
            if r2:
                doc.append(("details", "peak RSS of %s, above each process's baseline where "
                                        "it recorded one" % fam, [("table", h2, r2)]))
            continue
        for run, an in zip(runs, analyses):
            keys = [k for k in run.keys() if k[0] == fam]
            if not keys:
                continue
            h, r = vs_best_table(run, an, keys, "ns_per_op")
            doc.append(("table", h, r))
            h2, r2 = vs_best_table(run, an, keys, "peak_rss_bytes")
            if r2:
                doc.append(("details", "peak RSS of %s, above each process's baseline where "
                                        "it recorded one" % fam, [("table", h2, r2)]))
    for kind in ("rss_normalised", "thread_scaling", "latency", "memory_over_time"):
        imgs = [(plots[(r.label, kind)], "%s %s" % (kind, r.label)) for r in runs
                if plots.get((r.label, kind))]
        tables = latency_tables(runs, analyses) if kind == "latency" else []
        if imgs or tables:
            title = {"rss_normalised": "Peak memory above the baseline",
                     "thread_scaling": "Thread scaling",
                     "latency": "Latency percentiles", "memory_over_time": "Memory over time"}[kind]
            doc.append(("h", 3, title))
            if imgs:
                doc.append(("img", imgs))
            doc += tables

    doc += conformance_blocks(runs, plots)

    doc += failure_blocks(runs, multi)
    doc += environment_blocks(runs, multi)
    doc += sources_blocks(runs, analyses)
    return doc


def _settings(env):
    return " ".join("`%s=%s`" % kv for kv in sorted(env.items()))


def variant_blocks(runs, analyses):
    """The Variants section: each variant (an allocator run with extra environment
    variables) against its base in the same run."""
    if not any(an["variants"] for an in analyses):
        return []
    multi = len(runs) > 1
    doc = [("h", 2, "Variants")]
    for run, an in zip(runs, analyses):
        if not an["variants"]:
            continue
        what = "instructions" if run.instructions else "time"
        if multi:
            doc.append(("h", 3, "Variants on %s" % run.label))
        headers = ["variant", "base", "settings", "workloads", "%s vs base" % what]
        if not run.instructions:
            headers.append("peak RSS vs base")
        rows = []
        for v in an["variants"]:
            row = [v["name"], v["base_allocator"] or "%s (not in this run)" % v["base"],
                   _settings(v["env"]), str(len(v["keys"])), fmt_ratio(v["geomean_time"])]
            if not run.instructions:
                row.append(fmt_ratio(v["geomean_rss"]))
            rows.append(row)
        doc.append(("table", headers, rows))
        doc.append(("p", "A variant is an allocator run with extra environment variables "
                         "(`--allocators NAME=BASE:VAR=VAL`), in the same run as its base, "
                         "interleaved with it. Each figure is the geometric mean, over the "
                         "workloads both completed, of the variant's median %s per operation "
                         "divided by its base's%s; above 1.000x the variant costs more."
                    % ("instructions" if run.instructions else "time",
                       "" if run.instructions else " (peak RSS: the same with each process's "
                                                   "peak RSS)")))
        for v in an["variants"]:
            if not v["keys"]:
                continue
            h = ["workload", "threads", "%s vs %s" % (what, v["base_allocator"])]
            if not run.instructions:
                h.append("peak RSS vs %s" % v["base_allocator"])
            r = []
            for k in v["keys"]:
                row = [k[0] + ("/" + k[1] if k[1] else ""), str(k[2]), fmt_ratio(v["time"][k])]
                if not run.instructions:
                    row.append(fmt_ratio(v["rss"].get(k)))
                r.append(row)
            doc.append(("details", "per workload: %s / %s (median of repetitions)"
                        % (v["name"], v["base_allocator"]), [("table", h, r)]))
    return doc


def sources_blocks(runs, analyses):
    """Where every figure comes from: the raw file(s) of each allocator x instance."""
    out = []
    for run, an in zip(runs, analyses):
        rows = []
        for k in run.keys():
            row = [hr.instance_label(k)]
            for a in an["allocators"]:
                c = run.cell(a, k)
                key = "callgrind" if run.instructions else "json"
                files = [r.get(key) for r in (c.records if c else []) if r.get(key)]
                row.append(", ".join("`%s`" % f for f in files) if files else _status_of(run, a, k))
            rows.append(row)
        if rows:
            out.append(("details", "raw files behind every figure%s" %
                        (" of " + run.label if len(runs) > 1 else ""),
                        [("table", ["workload"] + an["allocators"], rows)]))
    return out


def failure_blocks(runs, multi):
    doc = []
    doc.append(("h", 2, "Failed and missing results"))
    any_fail = False
    for run in runs:
        items = []
        for f in run.failed:
            items.append("%s: **%s** `%s`: %s%s" % (f["status"].upper(), f["allocator"],
                                                   f["benchmark"], f["reason"],
                                                   " (log: `%s`)" % f["log"] if f["log"] else ""))
        for a, b in run.missing:
            items.append("MISSING: **%s** `%s`: planned, never run (the run stopped first)" % (a, b))
        if items:
            any_fail = True
            if multi:
                doc.append(("p", "**%s**" % run.label))
            doc.append(("ul", items))
    if not any_fail and any(run.records for run in runs):
        doc.append(("p", "None: every planned benchmark process finished and wrote valid results."))
    probs = [(run.label, p) for run in runs for p in run.problems]
    if probs:
        doc.append(("p", "Problems found while reading the raw files:"))
        doc.append(("ul", ["%s`%s`" % ("%s: " % l if multi else "", p) for l, p in probs]))

    return doc


def environment_blocks(runs, multi):
    doc = [("h", 2, "Environment")]
    if multi:
        tabs = [env_rows(r) for r in runs]
        labels = []
        for t in tabs:
            for lab, _v in t:
                if lab not in labels:
                    labels.append(lab)
        rows = []
        for lab in labels:
            rows.append([lab] + [dict(t).get(lab, "-") for t in tabs])
        doc.append(("table", ["" ] + [r.label for r in runs], rows))
    else:
        doc.append(("table", ["", "value"], env_rows(runs[0])))
    doc.append(("p", "Every figure comes from `results.csv`, which `scripts/report.py` derives from "
                     "`raw/<allocator>/<id>.json` and `runs.jsonl`; `summary.json` holds the "
                     "geometric means and ranks."))
    return doc


def latency_tables(runs, analyses):
    import report_plots as rp
    out = []
    for run, an in zip(runs, analyses):
        series = rp.latency_series(run)
        if not series:
            continue
        headers = ["workload", "series"] + an["allocators"]
        rows = []
        for (key, prefix), per in series.items():
            pcts = sorted({p for s in per.values() for p, _v in s}, key=rp._pct_order)
            for p in pcts:
                row = [hr.instance_label(key), "%s %s" % (prefix, p)]
                for a in an["allocators"]:
                    v = dict(per.get(a, [])).get(p)
                    row.append(fmt_latency(v, rp.timer_floor(run, a, key)))
                rows.append(row)
        out.append(("details", "latency percentiles%s (ns, median over repetitions; "
                               "\"< floor\": under the clock's own cost, not resolved)"
                    % (" on " + run.label if len(runs) > 1 else ""), [("table", headers, rows)]))
    return out


# --- renderers -------------------------------------------------------------------

def render_md(doc):
    out = []
    for b in doc:
        kind = b[0]
        if kind == "h":
            out.append("#" * b[1] + " " + b[2] + "\n")
        elif kind == "p":
            out.append(b[1] + "\n")
        elif kind == "ul":
            out.append("\n".join("- " + esc_md(i) for i in b[1]) + "\n")
        elif kind == "table":
            headers, rows = b[1], b[2]
            lines = ["| " + " | ".join(esc_md(h) for h in headers) + " |",
                     "|" + "|".join("---" if i < 1 else "---:" if _numeric_col(rows, i) else "---"
                                    for i in range(len(headers))) + "|"]
            for r in rows:
                lines.append("| " + " | ".join(esc_md(c) for c in r) + " |")
            out.append("\n".join(lines) + "\n")
        elif kind == "img":
            out.append("\n\n".join("[![%s](%s.png)](%s.png) ([full size](%s.png), [SVG](%s.svg))"
                                   % (alt, path, path, path, path) for path, alt in b[1]) + "\n")
        elif kind == "details":
            out.append("<details><summary>%s</summary>\n\n%s\n</details>\n"
                       % (html.escape(b[1]), render_md(b[2])))
    return "\n".join(out)


def _numeric_col(rows, i):
    return bool(rows) and all(re.match(r"^([-0-9.]|\*\*[-0-9.]|[A-Z]+$|missing$)", str(r[i]) or "x")
                              for r in rows if i < len(r))


def _inline(s):
    s = html.escape(str(s), quote=False)
    s = re.sub(r"`([^`]*)`", r"<code>\1</code>", s)
    s = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", s)
    s = re.sub(r"(?<![\w*])\*([^*]+)\*(?![\w*])", r"<em>\1</em>", s)
    return s


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;max-width:1400px;
padding:0 1em;color:#1a1a1a;background:#fff;line-height:1.45}
h1,h2,h3{line-height:1.2}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border:1px solid #bbb;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#eef2f6}td.num{text-align:right;font-variant-numeric:tabular-nums}
code{background:#f3f3f3;padding:0 .2em;border-radius:3px}
.imgrow{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}
.imgrow figure{margin:0;flex:1 1 100%;min-width:320px}
.imgrow img{max-width:100%;height:auto;border:1px solid #ddd}
figcaption{font-size:.8em;color:#555}
details{margin:.4em 0}summary{cursor:pointer}
fieldset#hm-allocs{margin:.8em 0;border:1px solid #dde3ea}fieldset#hm-allocs label{margin-right:.8em}
nav{font-size:.9em;background:#f7f9fb;border:1px solid #dde3ea;padding:.4em 1em;display:inline-block}
nav ul{margin:.2em 0;padding-left:1.2em;columns:3}nav li.l3{margin-left:1em;font-size:.95em}
"""

# Marks the page once every image has decoded: data-images="ok N" or
# "broken K of N" on <html>. make test-browser reads it back from the DOM.
CHECK_SCRIPT = """
(function(){
  function mark(bad,n){
    document.documentElement.setAttribute('data-images',
      bad?('broken '+bad+' of '+n):('ok '+n));
  }
  function check(){
    var imgs=Array.prototype.slice.call(document.images), bad=0;
    // at load every inlined image has been fetched: one that failed has no size
    imgs.forEach(function(img){if(!img.complete||img.naturalWidth===0){bad++;}});
    mark(bad,imgs.length);
    // then the decoder's own verdict, where the browser has img.decode()
    Promise.all(imgs.map(function(img){
      return img.decode?img.decode().then(function(){return 0;},function(){return 1;}):0;
    })).then(function(r){
      var b=r.reduce(function(x,y){return x+y;},0);
      if(b>bad){mark(b,imgs.length);}
    });
  }
  if(document.readyState==='complete'){check();}else{window.addEventListener('load',check);}
})();
"""


def render_html(doc, out_dir, title):
    parts = []
    for b in doc:
        kind = b[0]
        if kind == "h":
            parts.append('<h%d id="%s">%s</h%d>' % (b[1], _anchor(b[2]), _inline(b[2]), b[1]))
        elif kind == "p":
            parts.append("<p>%s</p>" % _inline(b[1]))
        elif kind == "ul":
            parts.append("<ul>%s</ul>" % "".join("<li>%s</li>" % _inline(i) for i in b[1]))
        elif kind == "table":
            headers, rows = b[1], b[2]
            num = [i > 0 and _numeric_col(rows, i) for i in range(len(headers))]
            # columns and rows that belong to one allocator carry data-alloc, so that
            # the reader's allocator switches can hide them
            col_alloc = [_alloc_of(h) if i > 0 else None for i, h in enumerate(headers)]
            t = ["<table><thead><tr>%s</tr></thead><tbody>"
                 % "".join("<th%s>%s</th>" % (_data_alloc(col_alloc[i]), _inline(h))
                           for i, h in enumerate(headers))]
            for r in rows:
                ra = next((x for x in (_alloc_of(c) for c in r[:3]) if x), None)
                t.append("<tr%s>%s</tr>" % (_data_alloc(ra), "".join(
                    "<td%s%s>%s</td>" % (' class="num"' if i < len(num) and num[i] else "",
                                         _data_alloc(col_alloc[i] if i < len(col_alloc) else None),
                                         _inline(c))
                    for i, c in enumerate(r))))
            t.append("</tbody></table>")
            parts.append("".join(t))
        elif kind == "img":
            figs = []
            for path, alt in b[1]:
                with open(os.path.join(out_dir, path + ".png"), "rb") as f:
                    data = base64.b64encode(f.read()).decode("ascii")
                # inlined, so that the page stands alone; a click opens the image at full
                # size (the PNG beside the page, with the SVG linked)
                figs.append('<figure><a href="%s.png" target="_blank"><img alt="%s" '
                            'src="data:image/png;base64,%s"></a><figcaption>%s: '
                            '<a href="%s.png">full size</a>, <a href="%s.svg">SVG</a>'
                            '</figcaption></figure>'
                            % (html.escape(path), html.escape(alt), data, html.escape(alt),
                               html.escape(path), html.escape(path)))
            parts.append('<div class="imgrow">%s</div>' % "".join(figs))
        elif kind == "details":
            parts.append("<details><summary>%s</summary>%s</details>"
                         % (_inline(b[1]), render_html_body(b[2], out_dir)))
    return parts


ALLOC_NAMES = []      # the allocators of the report being rendered (render_html_page sets it)


def _alloc_of(text):
    """The allocator a table header or cell names: exactly its name, with the
    own-allocator mark, a version or a run label after it."""
    t = re.sub(r"\*\*", "", str(text)).strip()
    for a in ALLOC_NAMES:
        if t == a or t == rv.mark(a) or re.match(r"^%s( \([^() ]+\)| [^ ()]+)$" % re.escape(a), t):
            return a
    return None


def _data_alloc(a):
    return ' data-alloc="%s"' % html.escape(a) if a else ""


def allocator_switches():
    """A checkbox per allocator: unticked hides its columns and rows."""
    if len(ALLOC_NAMES) < 2:
        return ""
    boxes = "".join('<label><input type="checkbox" class="hm-alloc" value="%s" checked> %s</label> '
                    % (html.escape(a), html.escape(a)) for a in ALLOC_NAMES)
    return ('<fieldset id="hm-allocs"><legend>Show allocators in the tables</legend>%s'
            '<small>(the images show every allocator; <code>#hide=a,b</code> at the end of the '
            'address starts with those hidden)</small></fieldset>' % boxes)


# Hides the columns and rows of unticked allocators; #hide=a,b in the address
# unticks those at load. <html data-hidden="a,b"> says what is hidden.
TOGGLE_SCRIPT = """
(function(){
  var boxes=Array.prototype.slice.call(document.querySelectorAll('input.hm-alloc'));
  if(!boxes.length){return;}
  function apply(){
    var off={},names=[];
    boxes.forEach(function(b){b.defaultChecked=b.checked;
      if(!b.checked){off[b.value]=1;names.push(b.value);}});
    Array.prototype.forEach.call(document.querySelectorAll('[data-alloc]'),function(el){
      el.style.display=off[el.getAttribute('data-alloc')]?'none':'';
    });
    document.documentElement.setAttribute('data-hidden',names.join(','));
  }
  var m=/[#&]hide=([^&]*)/.exec(location.hash);
  if(m){var hide=decodeURIComponent(m[1]).split(',');
    boxes.forEach(function(b){if(hide.indexOf(b.value)>=0){b.checked=false;}});}
  boxes.forEach(function(b){b.addEventListener('change',apply);});
  apply();
})();
"""


def _anchor(text):
    return "s-" + (re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x")


def toc(doc):
    """A contents list of the h2/h3 headings, linking inside the page."""
    items = []
    for b in doc:
        if b[0] == "h" and b[1] in (2, 3):
            items.append('<li class="l%d"><a href="#%s">%s</a></li>'
                         % (b[1], _anchor(b[2]), _inline(b[2])))
    return '<nav><strong>Contents</strong><ul>%s</ul></nav>' % "".join(items) if items else ""


def render_html_body(doc, out_dir):
    return "\n".join(render_html(doc, out_dir, ""))


def render_html_page(doc, out_dir, title, allocators=()):
    ALLOC_NAMES[:] = list(allocators)
    body = render_html_body(doc[:1], out_dir) + "\n" + toc(doc) + "\n" + allocator_switches() + \
        "\n" + render_html_body(doc[1:], out_dir)
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            "<title>%s</title>\n<style>%s</style>\n</head>\n<body>\n%s\n<script>%s%s</script>\n"
            "</body>\n</html>\n" % (html.escape(title), CSS, body, CHECK_SCRIPT, TOGGLE_SCRIPT))


# --- main -------------------------------------------------------------------------

def make_plots(runs, analyses, out_dir, quiet):
    import report_plots as rp
    names = []
    for an in analyses:
        for a in an["all_allocators"]:
            if a not in names:
                names.append(a)
    for run in runs:
        for a in run.conformance:
            if a not in names:
                names.append(a)
    palette = rp.Palette(names)
    plots = {}
    pdir = os.path.join(out_dir, "plots")
    os.makedirs(pdir, exist_ok=True)
    multi = len(runs) > 1
    for run, an in zip(runs, analyses):
        sfx = "-" + re.sub(r"[^A-Za-z0-9_.-]+", "_", run.label) if multi else ""
        for kind, fn in (("time_normalised", rp.time_normalised), ("geomean", rp.geomean_summary),
                         ("rss_normalised", rp.rss_normalised), ("thread_scaling", rp.thread_scaling),
                         ("latency", rp.latency), ("memory_over_time", rp.memory_over_time)):
            base = fn(run, an, palette, pdir, sfx)
            if base:
                plots[(run.label, kind)] = "plots/" + base
        base = rp.conformance_matrix(run, an["all_allocators"], pdir, sfx)
        if base:
            plots[(run.label, "conformance")] = "plots/" + base
    plots.update(rpg.make_plots(runs, palette, pdir, lambda r: "-" + re.sub(
        r"[^A-Za-z0-9_.-]+", "_", r.label) if multi else ""))
    return plots


def write_text(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def main(argv):
    ap = argparse.ArgumentParser(prog=PROG, description="Render heapmark run folders into a report.")
    ap.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run folder(s), results/<stamp>-<host>")
    ap.add_argument("--out", metavar="DIR", help="output folder (default: the first RUN_DIR)")
    ap.add_argument("--quiet", action="store_true", help="do not print the problems found")
    ap.add_argument("--no-plots", action="store_true",
                    help="tables only: no plots (faster; the report says so)")
    ap.add_argument("--print-summary", action="store_true",
                    help="end with the verdict and the summary table on stdout, and the "
                         "paths of report.md and report.html (what make bench prints)")
    args = ap.parse_args(argv)

    runs = []
    for p in args.runs:
        try:
            runs.append(hr.read_run(p))
        except hr.InputError as e:
            print("%s: %s" % (PROG, e), file=sys.stderr)
    if not runs:
        if len(args.runs) > 1:
            print("%s: nothing to render: no run folder could be read" % PROG, file=sys.stderr)
        return 1
    runs = hr.attach_conformance(runs)
    hr.label_runs(runs)
    for run in runs:
        if not args.quiet:
            for p in run.problems:
                print("%s: %s: %s" % (PROG, run.path.rstrip("/"), p), file=sys.stderr)
            for f in run.failed:
                print("%s: %s: %s %s %s: %s" % (PROG, run.path.rstrip("/"), f["status"],
                                                f["allocator"], f["benchmark"], f["reason"]),
                      file=sys.stderr)
            if run.missing:
                print("%s: %s: incomplete run (%s): %d planned result(s) missing"
                      % (PROG, run.path.rstrip("/"), run.state, len(run.missing)), file=sys.stderr)

    out_dir = args.out or runs[0].path
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as e:
        print("%s: %s: cannot create the output folder: %s" % (PROG, out_dir, e.strerror or e),
              file=sys.stderr)
        return 1
    if not os.access(out_dir, os.W_OK):
        print("%s: %s: output folder is not writable" % (PROG, out_dir), file=sys.stderr)
        return 1

    analyses = [analyse(r) for r in runs]
    write_csv(os.path.join(out_dir, "results.csv"), runs)
    write_text(os.path.join(out_dir, "summary.json"),
               json.dumps(json_safe(summary_json(runs, analyses)), indent=1, allow_nan=False) + "\n")
    write_text(os.path.join(out_dir, "bench-smaller-is-better.json"),
               json.dumps(bench_json(runs, analyses), indent=1, allow_nan=False) + "\n")
    write_text(os.path.join(out_dir, "bench-bmf.json"),
               json.dumps(json_safe(rpg.bmf(runs[0].path)), indent=1, allow_nan=False) + "\n")
    plots = {} if args.no_plots else make_plots(runs, analyses, out_dir, args.quiet)
    doc = build_document(runs, analyses, plots)
    if args.no_plots:
        doc.insert(1, ("p", "*Rendered with --no-plots: tables only.*"))
    write_text(os.path.join(out_dir, "report.md"), render_md(doc))
    title = "heapmark report: " + ", ".join(r.label for r in runs)
    names = []
    for an in analyses:
        names += [a for a in an["all_allocators"] if a not in names]
    write_text(os.path.join(out_dir, "report.html"), render_html_page(doc, out_dir, title, names))
    if args.print_summary:
        sys.stdout.write(terminal_summary(runs, analyses, out_dir))
    elif not args.quiet:
        print("%s: wrote %s" % (PROG, os.path.join(out_dir, "report.md")))
    return 0


def _plain(text):
    return re.sub(r"\*\*|`", "", str(text))


def terminal_summary(runs, analyses, out_dir):
    """The end of make bench: per run the verdict, the summary table in rank order,
    then where the report is."""
    out = []
    for run, an in zip(runs, analyses):
        out.append("")
        out.append("heapmark: %s (%s)" % (run_name(run), run.label))
        for prio, text in rv.verdict(an, an.get("programs")):
            out.append("  %-38s %s" % (prio + ":", _plain(text)))
        mem = (an.get("memory") or {}).get("allocators") or {}
        rows = [("allocator", "time vs %s" % an["reference"], "95% CI", "rank",
                 "peak above baseline vs %s" % an["reference"])]
        order = an["rank_headline"] + [a for a in an["allocators"] if a not in an["rank_headline"]]
        for i, a in enumerate(order):
            rank = str(i + 1) if a in an["rank_headline"] else "-"
            if 0 < i < len(an["rank_headline"]) and rv.is_tie(
                    an["boot"]["pair"].get((a, an["rank_headline"][i - 1]))):
                rank += " (tie)"
            rows.append((a, rv.fmt_x(an["headline"]["family"].get(a)),
                         _ci(an["boot"]["ci"].get(a)), rank,
                         rv.fmt_x((mem.get(a) or {}).get("peak_vs_ref"))))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        out.append("")
        for j, r in enumerate(rows):
            out.append("  " + "  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i])
                                        for i, c in enumerate(r)))
            if j == 0:
                out.append("  " + "  ".join("-" * w for w in widths))
    out.append("")
    out.append("report: %s" % os.path.abspath(os.path.join(out_dir, "report.md")))
    out.append("        %s" % os.path.abspath(os.path.join(out_dir, "report.html")))
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        print("%s: interrupted" % PROG, file=sys.stderr)
        sys.exit(130)
    except Exception as e:  # one line, never a traceback (HEAPMARK_DEBUG=1 shows it)
        if os.environ.get("HEAPMARK_DEBUG"):
            raise
        print("%s: internal error: %s: %s" % (PROG, type(e).__name__, str(e).split("\n")[0]),
              file=sys.stderr)
        sys.exit(2)
