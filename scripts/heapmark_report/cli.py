"""The command line of scripts/report.py: reads the run folders, writes every
output (heapmark_report.exports, plots, report.md, report.html) and, with
--print-summary, the verdict and summary table that end make bench."""

import argparse
import json
import os
import re
import sys

import hm_results as hr
from heapmark_report import programs as rpg
from heapmark_report import verdict as rv
from heapmark_report.analysis import analyse
from heapmark_report.document import build_document, run_name
from heapmark_report.exports import bench_json, bigger_json, json_safe, summary_json, write_csv, write_text
from heapmark_report.fmt import fmt_ci, plain
from heapmark_report.html_page import render_html_page
from heapmark_report.md import render_md


PROG = "report.py"


def make_plots(runs, analyses, out_dir, quiet):
    from heapmark_report import plots as rp
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
    write_text(os.path.join(out_dir, "bench-bigger-is-better.json"),
               json.dumps(bigger_json(runs), indent=1, allow_nan=False) + "\n")
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


def terminal_summary(runs, analyses, out_dir):
    """The end of make bench: per run the verdict, the summary table in rank order,
    then where the report is."""
    out = []
    for run, an in zip(runs, analyses):
        out.append("")
        out.append("heapmark: %s (%s)" % (run_name(run), run.label))
        for prio, text in rv.verdict(an, an.get("programs")):
            out.append("  %-38s %s" % (prio + ":", plain(text)))
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
                         fmt_ci(an["boot"]["ci"].get(a)), rank,
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
