#!/usr/bin/python3
"""heapmark compare: flags regressions between two run folders.

usage: scripts/compare.py OLD NEW [--threshold 0.10] [--alpha 0.05]
                          [--metric ns_per_op] [--gate self|ratio|both] [--reference glibc]

By default (--gate self) each allocator is compared with itself: for each
allocator and benchmark instance present in both runs, median(NEW) /
median(OLD). With --gate ratio each allocator is judged by its within-run
ratio to the reference allocator (glibc): (median(A)/median(ref)) in NEW over
the same in OLD, which cancels a machine that became faster or slower as a
whole, but reports the reference's own change as every other allocator's;
--gate both flags either.
A change is flagged (regression or improvement) only when it is beyond the
threshold AND significant over the repetitions: a two-sided Mann-Whitney U
test (p < alpha), which needs at least 5 repetitions on each side (with
fewer, even completely separated samples are likely by chance: 1 in 3 for
2 against 2). A change beyond the threshold that cannot be tested is shown as
"untested", never flagged: run with --repetitions 5 or more (the default
profile) for a comparison that can fail.
Repetitions run inside one process and share its conditions, so they do not
show how much one process differs from the next (another job on the machine,
a different CPU). That noise is estimated from the reference allocator itself:
the robust spread sigma of its own change across workloads; a flagged change
must also exceed --noise-k sigmas (x sqrt 2 for ratios). On a quiet machine
the threshold decides; on a noisy one only changes well above the noise are
flagged.
Per allocator, the geometric mean of its changes over all workloads is also
tested (Wilcoxon signed-rank across workloads, >= 6 workloads, noise floor
divided by sqrt(workloads)): a small slowdown everywhere fails too.
Allocators and workloads present in one run only are named, never compared.
Output: Markdown on stdout. Exit status: 0 no regression, 1 regression,
2 bad input (one line on stderr).
"""

import argparse
import math
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import hm_results as hr  # noqa: E402

PROG = "compare.py"
MIN_REPS_FOR_U = 5


# --- Mann-Whitney U ---------------------------------------------------------------

def _norm_sf(z):
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def mann_whitney_p(x, y):
    """Two-sided p-value of the Mann-Whitney U test (normal approximation with
    tie and continuity correction; exact via scipy when it is importable)."""
    try:
        from scipy.stats import mannwhitneyu
        return float(mannwhitneyu(x, y, alternative="two-sided").pvalue)
    except ImportError:
        pass
    return mann_whitney_p_approx(x, y)


def mann_whitney_p_approx(x, y):
    n1, n2 = len(x), len(y)
    allv = sorted([(v, 0) for v in x] + [(v, 1) for v in y])
    ranks = [0.0] * len(allv)
    ties = []
    i = 0
    while i < len(allv):
        j = i
        while j + 1 < len(allv) and allv[j + 1][0] == allv[i][0]:
            j += 1
        r = (i + j) / 2.0 + 1.0
        for k in range(i, j + 1):
            ranks[k] = r
        ties.append(j - i + 1)
        i = j + 1
    r1 = sum(r for r, (_v, g) in zip(ranks, allv) if g == 0)
    u1 = r1 - n1 * (n1 + 1) / 2.0
    mu = n1 * n2 / 2.0
    n = n1 + n2
    tie_term = sum(t ** 3 - t for t in ties) / float(n * (n - 1)) if n > 1 else 0.0
    var = n1 * n2 / 12.0 * ((n + 1) - tie_term)
    if var <= 0:
        return 1.0
    z = (abs(u1 - mu) - 0.5) / math.sqrt(var)
    return min(1.0, 2.0 * _norm_sf(max(z, 0.0)))


def significant(old, new, alpha, deterministic=False):
    """(True, False or None when untestable, how) for two samples. Instruction
    counts are deterministic: there is nothing to test, the threshold decides."""
    if deterministic:
        return bool(old and new), "instruction count (deterministic)"
    if len(old) >= MIN_REPS_FOR_U and len(new) >= MIN_REPS_FOR_U:
        p = mann_whitney_p(old, new)
        return p < alpha, "U p=%.3g (n=%d/%d)" % (p, len(old), len(new))
    return None, "untested (n=%d/%d < %d)" % (len(old), len(new), MIN_REPS_FOR_U)


# --- comparison -------------------------------------------------------------------

def samples(cell, metric):
    if cell is None:
        return []
    if metric in ("ns_per_op", "instructions_per_op"):
        return list(cell.time_ns)
    if metric == "peak_rss_bytes":
        return list(cell.rss_bytes)
    if metric == "minor_faults":
        return list(cell.minflt)
    return list(cell.counters.get(metric, []))


def verdict(change, sig, threshold, floor=0.0):
    """floor: the machine's noise, as a log ratio; a change must pass it too."""
    if change is None:
        return "n/a"
    beyond = change > 1.0 + threshold or change < 1.0 / (1.0 + threshold)
    if sig is None:
        return "untested" if beyond else "same"
    if beyond and sig and abs(math.log(change)) > floor:
        return "REGRESSION" if change > 1.0 else "improvement"
    if beyond:
        return "noise"        # beyond the threshold but not significant or within the noise floor
    return "same"


def noise_sigma(old, new, reference, metric, keys):
    """Robust spread (1.4826 x MAD) of the reference allocator's own log change
    across workloads: how much one process differs from the next on this
    machine, which repetitions inside one process cannot show. None with
    fewer than 5 workloads."""
    logs = []
    for k in keys:
        o, n = samples(old.cell(reference, k), metric), samples(new.cell(reference, k), metric)
        if o and n and hr.median(o) > 0 and hr.median(n) > 0:
            logs.append(math.log(hr.median(n) / hr.median(o)))
    if len(logs) < 5:
        return None, len(logs)
    c = hr.median(logs)
    return 1.4826 * hr.median([abs(x - c) for x in logs]), len(logs)


def compare(old, new, metric, threshold, alpha, reference, gate, noise_k=3.0):
    ref = reference
    rows = []
    det = old.instructions and new.instructions and metric == "instructions_per_op"
    allocs = [a for a in new.allocators() if a in old.allocators()]
    keys = [k for k in new.keys() if k in set(old.keys())]
    sigma, n_sigma = noise_sigma(old, new, ref, metric, keys)
    # with m comparisons, k sigmas are at least the Bonferroni bound, so that the
    # chance of any false flag from the noise stays near alpha
    m = max(1, len(keys) * len(allocs))
    k_eff = max(noise_k, statistics.NormalDist().inv_cdf(1.0 - alpha / (2.0 * m))) if noise_k else 0.0
    floor_abs = k_eff * sigma if sigma else 0.0
    floor_rel = k_eff * math.sqrt(2.0) * sigma if sigma else 0.0   # two allocators' noise
    for k in keys:
        r_old, r_new = samples(old.cell(ref, k), metric), samples(new.cell(ref, k), metric)
        for a in allocs:
            o, n = samples(old.cell(a, k), metric), samples(new.cell(a, k), metric)
            if not o or not n:
                continue
            mo, mn = hr.median(o), hr.median(n)
            absolute = mn / mo if mo > 0 else None
            abs_sig, abs_how = significant(o, n, alpha, det)
            rel = rel_sig = None
            rel_how = ""
            if a != ref and r_old and r_new and hr.median(r_old) > 0 and hr.median(r_new) > 0:
                # per-repetition ratios to the reference's median of the same run
                ro = [v / hr.median(r_old) for v in o]
                rn = [v / hr.median(r_new) for v in n]
                rel = hr.median(rn) / hr.median(ro) if hr.median(ro) > 0 else None
                rel_sig, rel_how = significant(ro, rn, alpha, det)
            v_abs = verdict(absolute, abs_sig, threshold, floor_abs)
            v_rel = verdict(rel, rel_sig, threshold, floor_rel) if rel is not None else "n/a"
            if gate in ("self", "absolute"):
                final = v_abs
            elif gate == "both":
                final = "REGRESSION" if "REGRESSION" in (v_abs, v_rel) else (
                    v_rel if rel is not None else v_abs)
            else:
                final = v_rel if rel is not None else (
                    "same" if a == ref else "n/a")   # the reference: informational only
                if a == ref and v_abs in ("REGRESSION", "improvement"):
                    final = "info: %s (absolute)" % v_abs.lower()
            rows.append({"allocator": a, "key": k, "old": mo, "new": mn, "absolute": absolute,
                         "abs_how": abs_how, "v_abs": v_abs, "rel": rel, "rel_how": rel_how,
                         "v_rel": v_rel, "verdict": final, "n": (len(o), len(n))})
    only_old = sorted({hr.instance_label(k) for k in old.keys()} - {hr.instance_label(k) for k in keys})
    only_new = sorted({hr.instance_label(k) for k in new.keys()} - {hr.instance_label(k) for k in keys})
    noise = {"sigma": sigma, "workloads": n_sigma, "k": k_eff, "floor_abs": floor_abs,
             "floor_rel": floor_rel}
    return rows, only_old, only_new, noise


MIN_WORKLOADS_OVERALL = 6


def signed_rank_p(xs):
    """Two-sided p of the Wilcoxon signed-rank test that the xs are centred on 0
    (scipy when importable, else the normal approximation with tie correction)."""
    xs = [x for x in xs if x != 0.0]
    if not xs:
        return 1.0
    try:
        from scipy.stats import wilcoxon
        return float(wilcoxon(xs, alternative="two-sided").pvalue)
    except ImportError:
        pass
    a = sorted(xs, key=abs)
    n = len(a)
    ranks = [0.0] * n
    ties = 0.0
    i = 0
    while i < n:
        j = i
        while j + 1 < n and abs(a[j + 1]) == abs(a[i]):
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2.0 + 1.0
        t = j - i + 1
        ties += t ** 3 - t
        i = j + 1
    w = sum(r for r, x in zip(ranks, a) if x > 0)
    mu = n * (n + 1) / 4.0
    var = n * (n + 1) * (2 * n + 1) / 24.0 - ties / 48.0
    if var <= 0:
        return 1.0
    z = (abs(w - mu) - 0.5) / math.sqrt(var)
    return min(1.0, 2.0 * _norm_sf(max(z, 0.0)))


def overall(rows, threshold, alpha, noise, gate):
    """Per allocator: the geometric mean of its changes over every workload,
    tested with the Wilcoxon signed-rank test across workloads. A slowdown
    spread thin over many workloads, each within the noise, shows here."""
    out = []
    for a in sorted({r["allocator"] for r in rows}, key=[r["allocator"] for r in rows].index):
        field = "absolute" if gate in ("self", "absolute") or all(r["rel"] is None for r in rows
                                                         if r["allocator"] == a) else "rel"
        logs = [math.log(r[field]) for r in rows if r["allocator"] == a and r[field]]
        if not logs:
            continue
        gm = math.exp(sum(logs) / len(logs))
        if field == "absolute" and gate == "ratio":
            out.append({"allocator": a, "change": gm, "n": len(logs), "what": "absolute",
                        "how": "reference: informational", "verdict": "info"})
            continue
        if len(logs) < MIN_WORKLOADS_OVERALL:
            out.append({"allocator": a, "change": gm, "n": len(logs), "what": field,
                        "how": "untested (%d < %d workloads)" % (len(logs), MIN_WORKLOADS_OVERALL),
                        "verdict": verdict(gm, None, threshold)})
            continue
        p = signed_rank_p(logs)
        sigma = noise["sigma"] or 0.0
        floor = noise["k"] * sigma * (math.sqrt(2.0) if field == "rel" else 1.0) / math.sqrt(len(logs))
        out.append({"allocator": a, "change": gm, "n": len(logs), "what": field,
                    "how": "signed-rank p=%.3g" % p,
                    "verdict": verdict(gm, p < alpha, threshold, floor)})
    return out


def fmt(v, metric):
    if v is None:
        return "-"
    if metric.endswith("_ns") or metric == "ns_per_op":
        return "%.4g ns" % v
    return "%.4g" % v


def pct(x):
    return "-" if x is None else "%+.1f%%" % ((x - 1.0) * 100.0)


def markdown(rows, only_old, only_new, noise, old, new, args):
    out = ["# heapmark compare: `%s` -> `%s`" % (os.path.basename(os.path.normpath(old.path)),
                                                  os.path.basename(os.path.normpath(new.path))), ""]
    regs = [r for r in rows if r["verdict"] == "REGRESSION"]
    imps = [r for r in rows if r["verdict"] == "improvement"]
    ov_regs = [o for o in overall(rows, args.threshold, args.alpha, noise, args.gate)
               if o["verdict"] == "REGRESSION"]
    out.append("Metric `%s`; threshold %.0f%%; significance: Mann-Whitney U p < %g, which needs "
               ">= %d repetitions a side (changes that cannot be tested are `untested`, never "
               "flagged); verdicts use the %s."
               % (args.metric, args.threshold * 100, args.alpha, MIN_REPS_FOR_U,
                  {"ratio": "within-run ratio to %s (drift cancels)" % args.reference,
                   "self": "change of each allocator against itself",
                   "both": "within-run ratio and the absolute change"}[args.gate]))
    if noise["sigma"] is None:
        out.append("")
        out.append("Noise floor: not estimated (%s has %d workload(s) in both runs; 5 needed)."
                   % (args.reference, noise["workloads"]))
    elif noise["k"] > 0:
        out.append("")
        out.append("Noise floor: %s's own changes between the runs spread by %.1f%% (robust "
                   "sigma over %d workloads); a change must also exceed %.1f%% (ratio) / %.1f%% "
                   "(absolute), %.2f sigma (at least --noise-k, at least the Bonferroni bound for "
                   "%d comparisons), to be flagged."
                   % (args.reference, (math.exp(noise["sigma"]) - 1) * 100, noise["workloads"],
                      (math.exp(noise["floor_rel"]) - 1) * 100,
                      (math.exp(noise["floor_abs"]) - 1) * 100, noise["k"], len(rows)))
    if args.gate == "self":
        ref_rows = [r for r in rows if r["allocator"] == args.reference and r["absolute"]]
        if len(ref_rows) >= 3:
            drift = math.exp(hr.median([math.log(r["absolute"]) for r in ref_rows]))
            if abs(drift - 1.0) > args.threshold:
                out.append("")
                out.append("Machine drift? %s itself changed by %s (median over %d workloads): "
                           "when every allocator moved alike, the machine changed, not the "
                           "allocators; `--gate ratio` cancels a change that hits all alike."
                           % (args.reference, pct(drift), len(ref_rows)))
    out.append("")
    out.append("**%d regression(s), %d improvement(s)** over %d comparison(s)%s."
               % (len(regs), len(imps), len(rows),
                  "; **overall regression of %s**" % ", ".join(o["allocator"] for o in ov_regs)
                  if ov_regs else ""))
    untested = [r for r in rows if r["verdict"] == "untested"]
    if untested:
        out.append("")
        out.append("%d change(s) beyond the threshold could not be tested for significance (fewer "
                   "than %d repetitions on a side): rerun with more repetitions to decide."
                   % (len(untested), MIN_REPS_FOR_U))
    out.append("")
    hdr = ("| verdict | allocator | workload | old | new | absolute | ratio to %s | test |"
           % args.reference)
    sep = "|---|---|---|---:|---:|---:|---:|---|"

    def line(r):
        return "| %s | %s | `%s` | %s | %s | %s | %s | %s |" % (
            r["verdict"], r["allocator"], hr.instance_label(r["key"]), fmt(r["old"], args.metric),
            fmt(r["new"], args.metric), pct(r["absolute"]), pct(r["rel"]),
            r["rel_how"] if r["rel"] is not None and args.gate == "ratio" else r["abs_how"])
    ov = overall(rows, args.threshold, args.alpha, noise, args.gate)
    if ov:
        out.append("Overall, per allocator (geometric mean of its changes over the workloads; "
                   "Wilcoxon signed-rank test across them):")
        out.append("")
        out.append("| verdict | allocator | change | workloads | of | test |")
        out.append("|---|---|---:|---:|---|---|")
        for o in ov:
            out.append("| %s | %s | %s | %d | %s | %s |" % (
                o["verdict"], o["allocator"], pct(o["change"]), o["n"],
                "ratio to %s" % args.reference if o["what"] == "rel" else "absolute", o["how"]))
        out.append("")
    flagged = regs + imps
    if flagged:
        out += [hdr, sep] + [line(r) for r in flagged] + [""]
    out.append("<details><summary>all comparisons</summary>\n")
    out += [hdr, sep] + [line(r) for r in rows]
    out.append("\n</details>\n")
    a_old, a_new = old.allocators(), new.allocators()
    gone = [a for a in a_old if a not in a_new]
    came = [a for a in a_new if a not in a_old]
    if gone or came:
        out.insert(3, "")
        out.insert(4, "Allocators in one run only, not compared: %s."
                   % "; ".join(x for x in ("only in OLD: " + ", ".join("**%s**" % a for a in gone)
                                           if gone else "",
                                           "only in NEW: " + ", ".join("**%s**" % a for a in came)
                                           if came else "") if x))
    if only_old:
        out.append("Only in OLD: %s" % ", ".join("`%s`" % s for s in only_old))
    if only_new:
        out.append("Only in NEW: %s" % ", ".join("`%s`" % s for s in only_new))
    return "\n".join(out) + "\n"


def main(argv):
    ap = argparse.ArgumentParser(prog=PROG, description="Compare two heapmark run folders.")
    ap.add_argument("old", metavar="OLD")
    ap.add_argument("new", metavar="NEW")
    ap.add_argument("--threshold", type=float, default=0.10,
                    help="relative change that counts (default 0.10 = 10%%)")
    ap.add_argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
    ap.add_argument("--metric", default="ns_per_op",
                    help="ns_per_op (default), peak_rss_bytes, minor_faults or a counter name")
    ap.add_argument("--reference", default="glibc", help="allocator the ratios are taken to")
    ap.add_argument("--gate", choices=("self", "absolute", "ratio", "both"), default="self",
                    help="what decides a regression: each allocator against itself (self, the "
                         "default; 'absolute' is the same), its within-run ratio to --reference "
                         "(ratio), or either (both)")
    ap.add_argument("--noise-k", type=float, default=3.0,
                    help="a change must also exceed K robust sigmas of the reference "
                         "allocator's own run-to-run changes (default 3; 0: off)")
    args = ap.parse_args(argv)
    if args.gate == "absolute":
        args.gate = "self"
    if not (args.threshold > 0) or not (0 < args.alpha < 1) or not (args.noise_k >= 0):
        print("%s: --threshold must be > 0, --alpha in (0, 1) and --noise-k >= 0" % PROG,
              file=sys.stderr)
        return 2
    try:
        old = hr.read_run(args.old)
        new = hr.read_run(args.new)
    except hr.InputError as e:
        print("%s: %s" % (PROG, e), file=sys.stderr)
        return 2
    for run in (old, new):
        if not run.cells:
            print("%s: %s: no benchmark results to compare%s" % (
                PROG, run.path.rstrip("/"), " (%s)" % run.problems[0] if run.problems else ""),
                file=sys.stderr)
            return 2
    if old.instructions != new.instructions:
        print("%s: cannot compare an instruction-count run (--instructions) with a timed run"
              % PROG, file=sys.stderr)
        return 2
    if old.instructions and args.metric == "ns_per_op":
        args.metric = "instructions_per_op"
    for run in (old, new):
        for p in run.problems[:5]:
            print("%s: %s: %s" % (PROG, run.path.rstrip("/"), p), file=sys.stderr)
        if len(run.problems) > 5:
            print("%s: %s: %d more problem(s); scripts/report.py lists them all"
                  % (PROG, run.path.rstrip("/"), len(run.problems) - 5), file=sys.stderr)
    rows, only_old, only_new, noise = compare(old, new, args.metric, args.threshold, args.alpha,
                                              args.reference, args.gate, args.noise_k)
    if not rows:
        print("%s: nothing to compare: no allocator x workload has %s in both runs"
              % (PROG, args.metric), file=sys.stderr)
        return 2
    sys.stdout.write(markdown(rows, only_old, only_new, noise, old, new, args))
    ov = overall(rows, args.threshold, args.alpha, noise, args.gate)
    return 1 if any(r["verdict"] == "REGRESSION" for r in rows + ov) else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(1)
    except Exception as e:  # one line, never a traceback (HEAPMARK_DEBUG=1 shows it)
        if os.environ.get("HEAPMARK_DEBUG"):
            raise
        print("%s: internal error: %s: %s" % (PROG, type(e).__name__, str(e).split("\n")[0]),
              file=sys.stderr)
        sys.exit(2)
