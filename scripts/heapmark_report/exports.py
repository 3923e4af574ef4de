"""The machine-readable outputs of the report: results.csv (tidy rows),
summary.json (geometric means, ranks, winners), bench-smaller-is-better.json and
bench-bigger-is-better.json (github-action-benchmark), and the atomic text writer
they share. bench-bmf.json comes from heapmark_report.programs."""

import csv
import os
import re

import hm_results as hr
from heapmark_report import programs as rpg
from heapmark_report import verdict as rv


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


def bigger_json(runs):
    """github-action-benchmark customBiggerIsBetter entries: the programs'
    own figures where higher is better."""
    out = []
    for run in runs:
        out += rpg.bigger_entries(run.path, run.label + ": " if len(runs) > 1 else "")
    return [e for e in out if hr.finite(e["value"])]


def write_text(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
