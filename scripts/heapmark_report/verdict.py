"""The decision half of a heapmark report: uncertainty across processes,
memory above each process's own baseline, and the verdict that opens the
report. Standard library only; part of the report (scripts/report.py).

Every figure here is computed from what ran:
  - a cell's value is the median of its processes' medians (Cell.center);
  - a geometric mean's confidence interval is a bootstrap that resamples the
    workloads (within each family) and, inside each workload, the processes;
  - two allocators are a "tie" when the interval of their ratio holds 1.
"""

import math
import random

import hm_results as hr

OWN = "sable"              # heapmark's own contestant, marked wherever a verdict names it
BOOT = 400                 # bootstrap replicates
BIG_BYTES = 32 * 2 ** 20   # the memory verdict ranks on workloads that allocate at least this
LEVEL = 0.95


def mark(a):
    return "%s (heapmark's own)" % a if a == OWN else a


def fmt_x(v):
    """A ratio as users read it: 0.412x, 1.27x, 2777x (never +277655%)."""
    if v is None or not hr.finite(v):
        return "-"
    if v >= 100:
        return "%.0fx" % v
    if v >= 10:
        return "%.1fx" % v
    return "%.3gx" % v


# --- time ratios --------------------------------------------------------------

def _weights(keys, by_family):
    """Each workload's weight: 1/(workloads of its family) with family
    weighting (each family counts once), else 1."""
    if not by_family:
        return {k: 1.0 for k in keys}
    n = {}
    for k in keys:
        n[k[0]] = n.get(k[0], 0) + 1
    return {k: 1.0 / n[k[0]] for k in keys}


def weighted_geomean(ratios, weights):
    """ratios: {key: ratio}; the weighted geometric mean, or None."""
    num = den = 0.0
    for k, r in ratios.items():
        if r is not None and r > 0 and hr.finite(r):
            num += weights[k] * math.log(r)
            den += weights[k]
    return math.exp(num / den) if den > 0 else None


def time_ratios(run, a, ref, keys):
    out = {}
    for k in keys:
        c, r = run.cell(a, k), run.cell(ref, k)
        if c is not None and r is not None and r.center():
            out[k] = c.center() / r.center()
    return out


def _resample(vals, rng):
    return hr.median([vals[rng.randrange(len(vals))] for _ in vals])


def bootstrap(run, allocs, ref, keys, by_family=True, boot=BOOT, seed=20261204):
    """Bootstrap of the (family-)weighted geometric mean of time ratios to ref.
    Returns {"ci": {a: (lo, hi)}, "pair": {(a, b): (lo, hi)}} where pair is
    the interval of gm(a)/gm(b). Workloads are resampled within their family
    (so each family keeps its weight), processes within each cell."""
    rng = random.Random(seed)
    fams = {}
    for k in keys:
        fams.setdefault(k[0], []).append(k)
    pm = {}
    for k in keys:
        for a in set(allocs) | {ref}:
            c = run.cell(a, k)
            if c is not None:
                pm[(a, k)] = c.process_medians() or [c.center()]
    if len(keys) < 2 and all(len(v) < 2 for v in pm.values()):
        return {"ci": {}, "pair": {}}      # one workload, one process: nothing to resample
    logs = {a: [] for a in allocs}
    for _ in range(boot):
        sample = []
        for fk in fams.values():
            sample += [fk[rng.randrange(len(fk))] for _ in fk]
        acc = {a: [0.0, 0.0] for a in allocs}
        for k in sample:
            if (ref, k) not in pm:
                continue
            rv = _resample(pm[(ref, k)], rng)
            wk = (1.0 / len(fams[k[0]])) if by_family else 1.0
            for a in allocs:
                if (a, k) not in pm or rv <= 0:
                    continue
                av = rv if a == ref else _resample(pm[(a, k)], rng)
                if av > 0:
                    acc[a][0] += wk * math.log(av / rv)
                    acc[a][1] += wk
        for a in allocs:
            if acc[a][1] > 0:
                logs[a].append(acc[a][0] / acc[a][1])
    ci = {}
    for a in allocs:
        if logs[a]:
            ci[a] = (math.exp(_pct(logs[a], (1 - LEVEL) / 2)), math.exp(_pct(logs[a], 1 - (1 - LEVEL) / 2)))
    pair = {}
    for a in allocs:
        for b in allocs:
            if a != b and len(logs[a]) == len(logs[b]) and logs[a]:
                d = [x - y for x, y in zip(logs[a], logs[b])]
                pair[(a, b)] = (math.exp(_pct(d, (1 - LEVEL) / 2)), math.exp(_pct(d, 1 - (1 - LEVEL) / 2)))
    return {"ci": ci, "pair": pair}


def _pct(xs, q):
    s = sorted(xs)
    if not s:
        return None
    i = q * (len(s) - 1)
    lo = int(math.floor(i))
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (i - lo)


def is_tie(interval):
    """Two allocators are not separated when the interval of their ratio holds 1."""
    return interval is not None and interval[0] <= 1.0 <= interval[1]


def drift(run, ref):
    """The machine's drift: the spread of the reference allocator's own
    per-process medians, per workload with 2+ processes: the median over
    workloads of (max/min - 1), and the worst workload. None with one process."""
    spreads = []
    for k in run.keys():
        c = run.cell(ref, k)
        if c is None:
            continue
        pm = [v for v in c.process_medians() if v > 0]
        if len(pm) > 1:
            spreads.append((max(pm) / min(pm) - 1.0, k))
    if not spreads:
        return None
    spreads.sort()
    return {"median": hr.median([s for s, _k in spreads]), "worst": spreads[-1][0],
            "worst_key": spreads[-1][1], "workloads": len(spreads),
            "processes": max(run.cell(ref, k).processes() for _s, k in spreads)}


def processes_per_cell(run):
    ns = [c.processes() for c in run.cells.values()]
    return (min(ns), max(ns)) if ns else (0, 0)


def oversubscribed(run):
    """Workloads with more threads than the machine has cores."""
    cores = run.meta.get("cores")
    if not isinstance(cores, int) or cores <= 0:
        return cores, []
    return cores, [k for k in run.keys() if k[2] > cores]


# --- memory above the baseline -----------------------------------------------------

def baselines(run, allocs):
    """{allocator: (median start-up RSS, measured)}: RSS before the workload's
    first allocation as the process recorded it (measured=True), else the
    smallest peak RSS of any of its processes, an upper bound (False)."""
    out = {}
    for a in allocs:
        cells = [c for (x, _k), c in run.cells.items() if x == a]
        rec = [b for c in cells for b in c.baseline.values()]
        if rec:
            out[a] = (hr.median(rec), True)
        else:
            peaks = [r for c in cells for r in c.rss_bytes]
            if peaks:
                out[a] = (min(peaks), False)
    return out


def peak_above(run, a, k, base):
    """Peak RSS above the process's baseline, median over processes."""
    c = run.cell(a, k)
    if c is None:
        return None
    pa = c.peak_above_baseline()
    if pa:
        return hr.median(pa)
    if c.rss_bytes and a in base:
        return max(0.0, hr.median(c.rss_bytes) - base[a][0])
    return None


def big_workloads(run, ref, base):
    """Workloads that allocate at least BIG_BYTES: by their own peak of live
    bytes where they count it, else by the reference's peak above its baseline."""
    out = []
    for k in run.keys():
        live = [run.cell(a, k).counter("peak_live_bytes") for (a, kk) in run.cells if kk == k]
        live = [v for v in live if v]
        if live:
            if max(live) >= BIG_BYTES:
                out.append(k)
            continue
        v = peak_above(run, ref, k, base) if ref else None
        if v is not None and v >= BIG_BYTES:
            out.append(k)
    return out


def memory(run, allocs, ref):
    """Per allocator: the geometric mean over the big workloads of its peak above
    baseline / the reference's, its overhead, the RSS it keeps after free and
    after a purge (medians over the workloads that record them)."""
    base = baselines(run, allocs)
    big = big_workloads(run, ref, base)
    out = {"baselines": base, "big": big, "allocators": {}}
    for a in allocs:
        ratios, over, kept, purged, peaks, idle = {}, [], [], [], [], []
        for k in big:
            pa, pr = peak_above(run, a, k, base), peak_above(run, ref, k, base)
            if pa is not None:
                peaks.append(pa)
            if pa is not None and pr:
                ratios[k] = max(pa, 1.0) / pr
        for k in run.keys():
            c = run.cell(a, k)
            if c is None:
                continue
            for name, lst in (("overhead", over), ("rss_after_free_bytes", kept),
                              ("rss_after_purge_bytes", purged), ("rss_after_idle_bytes", idle)):
                v = c.counter(name)
                if v is not None:
                    lst.append(v)
        out["allocators"][a] = {
            "peak_vs_ref": weighted_geomean(ratios, {k: 1.0 for k in ratios}),
            "workloads": len(ratios),
            "peak_above_median": hr.median(peaks) if peaks else None,
            "overhead": hr.median(over) if over else None,
            "after_free": hr.median(kept) if kept else None,
            "after_free_max": max(kept) if kept else None,
            "after_purge": hr.median(purged) if purged else None,
            "after_idle": hr.median(idle) if idle else None,
        }
    return out


# --- tail latency and threads ----------------------------------------------------------

def tail_latency(run, allocs, ref, series):
    """Geometric mean over latency series of each allocator's p99 / the reference's,
    with values under the timer floor clamped to it."""
    out = {}
    for a in allocs:
        ratios = {}
        for (key, prefix), per in series.items():
            av, rv = dict(per.get(a, [])).get("p99"), dict(per.get(ref, [])).get("p99")
            if av is None or rv is None:
                continue
            fl = max(timer_floor(run, a, key) or 1.0, timer_floor(run, ref, key) or 1.0)
            ratios[(key, prefix)] = max(av, fl) / max(rv, fl)
        if ratios:
            out[a] = (weighted_geomean(ratios, {k: 1.0 for k in ratios}), len(ratios))
    return out


def timer_floor(run, a, key):
    """The workload's timer floor in ns (timer_floor_ns), or None."""
    c = run.cell(a, key)
    return c.counter("timer_floor_ns") if c is not None else None


# --- the verdict -------------------------------------------------------------------------

def _leader(scores, lower_better=True, intervals=None, pair=None):
    """scores: {a: value}; returns (leader, runner_up, margin, tie) where margin
    is runner_up/leader (>1: the leader's advantage) and tie says whether the
    two are not separated."""
    items = sorted(((v, a) for a, v in scores.items() if v is not None),
                   reverse=not lower_better)
    if not items:
        return None
    lead = items[0][1]
    if len(items) == 1:
        return {"leader": lead, "value": items[0][0], "next": None, "margin": None, "tie": None}
    nxt = items[1][1]
    margin = items[1][0] / items[0][0] if items[0][0] else None
    if not lower_better and margin:
        margin = 1.0 / margin
    tie = None
    if pair is not None and (nxt, lead) in pair:
        tie = is_tie(pair[(nxt, lead)])
    elif intervals is not None and lead in intervals and nxt in intervals:
        (l1, h1), (l2, h2) = intervals[lead], intervals[nxt]
        tie = not (h1 < l2 or h2 < l1)
    return {"leader": lead, "value": items[0][0], "next": nxt, "margin": margin, "tie": tie}


def verdict(an, programs):
    """Rows of the opening verdict, one per priority: (priority, text).
    an: the analysis of one run (heapmark_report.analysis) (with the fields this module adds);
    programs: summary["programs"] as written by the programs section, or None."""
    rows = []
    ref = an["reference"]

    def sure(t, how, why="no interval"):
        if t is None:
            return "certainty not estimated (%s)" % why
        return ("**tie**: not separated (%s)" % how) if t else ("separated (%s)" % how)

    # throughput on programs
    allocs_p = (programs or {}).get("allocators") or {}
    if allocs_p:
        tr = {a: v.get("time_ratio") for a, v in allocs_p.items() if v.get("time_ratio")}
        ci = {a: tuple(v["time_ci"]) for a, v in allocs_p.items()
              if isinstance(v.get("time_ci"), (list, tuple)) and len(v["time_ci"]) == 2}
        ld = _leader(tr, True, intervals=ci)
        if ld:
            rows.append(("throughput on programs", _say(ld, "time", (programs or {}).get("baseline", ref),
                                                        ci, sure(ld["tie"], "95% intervals of the "
                                                                 "geometric means over programs",
                                                                 "the programs' figures carry no "
                                                                 "interval"))))
    else:
        rows.append(("throughput on programs", "no program was run: this report has "
                     "microbenchmarks only (their headline is below)"))
    # microbenchmark headline (each family once)
    h = an.get("headline") or {}
    ld = _leader(h.get("family") or {}, True, pair=(an.get("boot") or {}).get("pair"))
    if ld:
        one = (an.get("processes") or (1, 1))[1] <= 1
        rows.append(("microbenchmarks (each family once)",
                     _say(ld, "time", ref, (an.get("boot") or {}).get("ci"),
                          sure(ld["tie"], "bootstrap over workloads and processes" +
                               ("; one process per figure, so the noise between processes "
                                "is not in it" if one else ""),
                               "one workload and one process: nothing to resample"))))
    # memory
    mem = an.get("memory") or {}
    ma = {a: v["peak_vs_ref"] for a, v in (mem.get("allocators") or {}).items() if v["peak_vs_ref"]}
    if allocs_p and any(v.get("rss_ratio") for v in allocs_p.values()):
        rr = {a: v.get("rss_ratio") for a, v in allocs_p.items() if v.get("rss_ratio")}
        ci = {a: tuple(v["rss_ci"]) for a, v in allocs_p.items()
              if isinstance(v.get("rss_ci"), (list, tuple)) and len(v["rss_ci"]) == 2}
        ld = _leader(rr, True, intervals=ci)
        rows.append(("memory on programs", _say(ld, "peak RSS", ref, ci,
                                                sure(ld["tie"], "95% intervals over programs"))))
    if ma:
        ld = _leader(ma, True)
        rows.append(("memory (workloads of %d MiB or more)" % (BIG_BYTES >> 20),
                     _say(ld, "peak RSS above baseline", ref, None,
                          "over %d workload(s)" % len(mem.get("big") or []))))
    elif mem is not None:
        rows.append(("memory", "no workload allocated %d MiB or more: no memory ranking"
                     % (BIG_BYTES >> 20)))
    # tail latency
    tl = {a: v[0] for a, v in (an.get("tail") or {}).items()}
    if tl:
        ld = _leader(tl, True)
        rows.append(("tail latency (p99)", _say(ld, "p99 latency", ref, None,
                                                "over %d series; values under the timer "
                                                "floor count as the floor"
                                                % max(v[1] for v in an["tail"].values()))))
    # threads
    th = (an.get("headline") or {}).get("threads") or {}
    if th:
        bt = an.get("boot_threads") or {}
        ld = _leader(th, True, pair=bt.get("pair"))
        rows.append(("threads (workloads with 2+ threads)",
                     _say(ld, "time", ref, bt.get("ci"),
                          sure(ld["tie"], "bootstrap over those workloads and processes",
                               "one workload and one process: nothing to resample"))))
    # contract and hardening
    con = an.get("contract")
    if con:
        fails = {a: v["failures"] for a, v in con.items()}
        best = min(fails.values())
        clean = [a for a, f in fails.items() if f == best]
        hard = {a: v["hardening"] for a, v in con.items()}
        top = max(hard.values()) if hard else 0
        strongest = [a for a, n in hard.items() if n == top]
        nh = max(v["hardening_checks"] for v in con.values())
        rows.append(("contract and hardening",
                     "fewest contract failures (%d): %s; %s" % (
                         best, ", ".join(mark(a) for a in clean),
                         "most hardening capabilities present (%d of %d): %s"
                         % (top, nh, ", ".join(mark(a) for a in strongest)) if nh else
                         "the matrix has no hardening checks")))
    else:
        rows.append(("contract and hardening", "no conformance matrix of these allocators "
                     "and this build is attached"))
    return rows


def _say(ld, what, ref, ci, how):
    """'**A** leads: WHAT 0.59x glibc's (95% CI ..); next B, +10.7%; how sure'."""
    if ld is None:
        return "no data"
    if ld["leader"] == ref:
        s = "**%s** (the reference) leads" % mark(ld["leader"])
    else:
        s = "**%s** leads: %s %s %s's" % (mark(ld["leader"]), what, fmt_x(ld["value"]), ref)
    if ci and ld["leader"] in ci and ld["leader"] != ref:
        s += " (95%% CI %s-%s)" % (fmt_x(ci[ld["leader"]][0]), fmt_x(ci[ld["leader"]][1]))
    if ld["next"]:
        s += "; next %s, %s" % (mark(ld["next"]), _more(ld["margin"])) \
            if ld["margin"] else "; next %s" % mark(ld["next"])
    return s + "; " + how


def _more(margin):
    """How far the runner-up is behind: +10.7%, or 2.36x for large gaps."""
    if margin >= 2.0:
        return "%s the leader's" % fmt_x(margin)
    return "+%.1f%%" % ((margin - 1.0) * 100.0)


def sensitivity(an, programs):
    """The ranking under each weighting: family, per workload, programs only."""
    out = []
    h = an.get("headline") or {}
    for name, scores in (("each family once", h.get("family")),
                         ("each workload once", h.get("workload"))):
        if scores:
            out.append((name, sorted((a for a in scores if scores[a]), key=scores.get)))
    allocs_p = (programs or {}).get("allocators") or {}
    tr = {a: v.get("time_ratio") for a, v in allocs_p.items() if v.get("time_ratio")}
    out.append(("programs only", sorted(tr, key=tr.get) if tr else None))
    return out


def contract(run, allocs):
    """Per allocator with a matrix: failures (fail/crash/timeout of STD/EXT/OWN)
    and hardening capabilities present (area "hardening")."""
    out = {}
    for a in allocs:
        d = run.conformance.get(a)
        if not d:
            continue
        checks = d["checks"]
        out[a] = {"failures": sum(1 for c in checks if c.get("status") in ("fail", "crash", "timeout")
                                  and c.get("area") != "hardening"),
                  "hardening": sum(1 for c in checks if c.get("area") == "hardening"
                                   and c.get("status") == "present"),
                  "hardening_checks": sum(1 for c in checks if c.get("area") == "hardening")}
    return out
