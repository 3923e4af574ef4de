"""Plots of a heapmark report (matplotlib, Agg). Each function draws one plot
for one run, saves it as PNG and SVG under out_dir and returns the base name
(without extension), or None when the run has no data for it."""

import math
import os
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator  # noqa: E402

import hm_results as hr  # noqa: E402
from heapmark_report.verdict import timer_floor  # noqa: E402,F401  (the report uses it from here too)

plt.rcParams.update({
    "svg.hashsalt": "heapmark",      # stable ids: SVGs diff cleanly
    "font.size": 9,
    "axes.titlesize": 10,
    "figure.dpi": 100,
})

# Colour-blind-safe colours, each contestant its own hue family (Okabe-Ito's
# vermillion, blue, yellow, bluish green, reddish purple and black, with grey,
# brown and violet of similar contrast), and its own hatch: fixed per name, so
# that an allocator looks the same in every plot and every report. Any other
# allocator takes the spare ones in order of first appearance.
FIXED = {"sable": "#D55E00", "glibc": "#0072B2", "jemalloc": "#F0E442", "mimalloc": "#009E73",
         "tcmalloc": "#CC79A7", "tbbmalloc": "#000000", "scudo": "#999999",
         "sable-secure": "#6A3D9A"}
SPARE = ["#8C510A", "#56B4E9", "#E69F00", "#B2DF8A"]
OKABE_ITO = list(FIXED.values()) + SPARE          # every colour a contestant can get
FIXED_HATCH = {"sable": "", "glibc": "//", "jemalloc": "..", "mimalloc": "xx", "tcmalloc": "\\\\",
               "tbbmalloc": "oo", "scudo": "++", "sable-secure": "--"}
HATCHES = ["||", "**", "OO", "//.."]
MARKERS = {"sable": "o", "glibc": "s", "jemalloc": "^", "mimalloc": "D", "tcmalloc": "v",
           "tbbmalloc": "P", "scudo": "X", "sable-secure": "*"}
SPARE_MARKERS = ["h", "<", ">", "p"]


class Palette:
    def __init__(self, names):
        self.colour, self.hatches, self.markers = {}, {}, {}
        spare = 0
        for n in names:
            if n in FIXED:
                self.colour[n], self.hatches[n], self.markers[n] = FIXED[n], FIXED_HATCH[n], MARKERS[n]
            else:
                self.colour[n] = SPARE[spare % len(SPARE)]
                self.hatches[n] = HATCHES[spare % len(HATCHES)]
                self.markers[n] = SPARE_MARKERS[spare % len(SPARE_MARKERS)]
                spare += 1
        self.order = list(names)

    def __call__(self, name):
        return self.colour.get(name, "#777777")

    def hatch(self, name):
        return self.hatches.get(name, "")

    def marker(self, name):
        """A marker shape per allocator too, so that lines differ without colour."""
        return self.markers.get(name, "o")


def text_overlaps(fig):
    """Pairs of visible texts of the figure (tick labels, bar labels, titles,
    legend entries) whose bounding boxes overlap, as (text, text). Empty means
    no label collides."""
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    groups = []
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        for which in (ax.get_xticklabels(which="both"), ax.get_yticklabels(which="both")):
            groups.append([t for t in which if t.get_visible() and t.get_text()])
        groups.append([t for t in ax.texts if t.get_visible() and t.get_text()])
    out = []
    for g in groups:
        boxes = [(t, t.get_window_extent(r)) for t in g]
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                a, b = boxes[i][1], boxes[j][1]
                if a.width and b.width and a.x0 < b.x1 - 0.5 and b.x0 < a.x1 - 0.5 \
                        and a.y0 < b.y1 - 0.5 and b.y0 < a.y1 - 0.5:
                    out.append((boxes[i][0].get_text(), boxes[j][0].get_text()))
    return out


CHECK_OVERLAPS = []        # tests append a list here: each saved figure's overlaps go in it


def _save(fig, out_dir, base):
    os.makedirs(out_dir, exist_ok=True)
    for sink in CHECK_OVERLAPS:
        sink.append((base, text_overlaps(fig)))
    fig.savefig(os.path.join(out_dir, base + ".png"), dpi=100, bbox_inches="tight",
                metadata={"Software": None})
    fig.savefig(os.path.join(out_dir, base + ".svg"), bbox_inches="tight",
                metadata={"Date": None})
    plt.close(fig)
    return base


def _short(key):
    family, params, threads = key
    s = family + ("\n" + params if params else "")
    return s + ("\n%d thr" % threads)


def _grouped(ax, keys, allocs, values, spreads, palette, run=None, rotate=None):
    """values[a][i], spreads[a][i] = (lo, hi) or None; bars grouped by key.
    A missing bar is labelled with the failure of its process."""
    n = max(1, len(allocs))
    width = 0.8 / n
    for j, a in enumerate(allocs):
        xs, ys, lo, hi = [], [], [], []
        for i in range(len(keys)):
            v = values[a][i]
            if v is None:
                ax.text(i - 0.4 + width * (j + 0.5), 0.02, status_of(run, a, keys[i]),
                        rotation=90, ha="center", va="bottom", fontsize=6, color="#555555",
                        transform=ax.get_xaxis_transform())
                continue
            xs.append(i - 0.4 + width * (j + 0.5))
            ys.append(v)
            s = spreads[a][i] if spreads else None
            lo.append(v - s[0] if s else 0.0)
            hi.append(s[1] - v if s else 0.0)
        if not xs:
            continue
        ax.bar(xs, ys, width=width, color=palette(a), label=a, edgecolor="black",
               linewidth=0.4, hatch=palette.hatch(a),
               yerr=[lo, hi] if spreads else None, capsize=2,
               error_kw={"elinewidth": 0.8, "ecolor": "#333333"})
    ax.set_xticks(range(len(keys)))
    if rotate or (rotate is None and len(keys) > 8):
        ax.set_xticklabels([hr.instance_label(k) for k in keys], fontsize=7, rotation=35,
                           ha="right", rotation_mode="anchor")
    else:
        ax.set_xticklabels([_short(k) for k in keys], fontsize=7)
    ax.set_xlim(-0.6, len(keys) - 0.4)


def status_of(run, alloc, key):
    """CRASH / TIMEOUT / ERROR / GARBAGE / missing, for a cell without a result."""
    for f in (run.failed if run is not None else []):
        if f["allocator"] == alloc and isinstance(f["benchmark"], str) \
                and hr.split_name(f["benchmark"]) == key:
            return f["status"].upper()
    return "missing"


def _ratio_axis(ax):
    """x-labelled log ticks; the minor ones (2, 5) labelled only when the axis
    spans under two decades, so that labels never crowd."""
    fmt = FuncFormatter(lambda v, _pos: _x_label(v))
    ax.yaxis.set_major_locator(LogLocator(base=10.0))
    ax.yaxis.set_major_formatter(fmt)
    ax.yaxis.set_minor_locator(LogLocator(base=10.0, subs=(2.0, 5.0)))
    lo, hi = ax.get_ylim()
    if lo > 0 and hi / lo < 100:
        ax.yaxis.set_minor_formatter(fmt)
    else:
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _pos: ""))
    ax.tick_params(axis="y", which="minor", labelsize=7)


def _log_limits(ax, vals):
    vals = [v for v in vals if v and v > 0 and math.isfinite(v)]
    if not vals:
        return
    lo, hi = min(vals + [1.0]), max(vals + [1.0])
    ax.set_ylim(lo / 1.5, hi * 1.5)


def _width(nkeys):
    return max(6.0, min(28.0, 1.2 + 0.75 * nkeys))


ROW_MAX = 24   # benchmark instances per row of a grouped bar plot


def _rows(keys, limit=ROW_MAX):
    """Splits the instances into rows of at most `limit`, keeping a family
    together where it fits."""
    fams = []
    for k in keys:
        if not fams or fams[-1][0] != k[0]:
            fams.append((k[0], []))
        fams[-1][1].append(k)
    rows, cur = [], []
    for _f, ks in fams:
        while len(ks) > limit:
            if cur:
                rows.append(cur)
                cur = []
            rows.append(ks[:limit])
            ks = ks[limit:]
        if len(cur) + len(ks) > limit:
            rows.append(cur)
            cur = []
        cur = cur + ks
    if cur:
        rows.append(cur)
    return rows


ROW_INCHES = 20.0     # the widest row of panels
PANEL_EXTRA = 1.0     # inches of a panel besides its bars: its own y labels
PANEL_MIN = 2.3       # the narrowest panel, so that its title and labels fit


def _panel_width(nkeys, slot):
    return max(PANEL_MIN, slot * nkeys + PANEL_EXTRA)


def _panels(keys, slot=0.75):
    """One panel per family (a family wider than a row in several panels),
    packed into rows of at most ROW_INCHES: [[(title, keys)]]."""
    limit = max(1, int((ROW_INCHES - PANEL_EXTRA) / slot))
    fams = []
    for k in keys:
        if not fams or fams[-1][0] != k[0]:
            fams.append((k[0], []))
        fams[-1][1].append(k)
    panels = []
    for f, ks in fams:
        parts = [ks[i:i + limit] for i in range(0, len(ks), limit)]
        for i, part in enumerate(parts):
            panels.append(("%s (%d/%d)" % (f, i + 1, len(parts)) if len(parts) > 1 else f, part))
    rows, cur, used = [], [], 0.0
    for title, ks in panels:
        w = _panel_width(len(ks), slot)
        if cur and used + w > ROW_INCHES:
            rows.append(cur)
            cur, used = [], 0.0
        cur.append((title, ks))
        used += w
    if cur:
        rows.append(cur)
    return rows


def _param_label(k):
    return (k[1].replace("/", "\n") + "\n" if k[1] else "") + "%d thr" % k[2]


def _normalised_bars(run, an, palette, keys, values, spreads, ylabel, title):
    """Small multiples: one panel per family, each with its own log axis,
    grouped bars per workload in numeric order."""
    nallocs = max(1, len(an["allocators"]))
    slot = max(0.45, 0.1 * nallocs + 0.15)           # inches per workload
    rows = _panels(keys, slot)
    widest = max(sum(_panel_width(len(ks), slot) for _t, ks in r) for r in rows)
    width = max(6.0, widest + 0.5)
    fig = plt.figure(figsize=(width, 3.6 * len(rows) + 0.9))
    outer = fig.add_gridspec(len(rows), 1, hspace=0.75)
    index = {k: i for i, k in enumerate(keys)}
    for r, row in enumerate(rows):
        ws = [_panel_width(len(ks), slot) for _t, ks in row]
        ratios = [w - PANEL_EXTRA for w in ws] + [max(0.01, widest - sum(ws))]
        inner = outer[r].subgridspec(1, len(ratios), width_ratios=ratios,
                                     wspace=PANEL_EXTRA * len(ratios) / max(sum(ratios), 0.1))
        for p, (ptitle, rk) in enumerate(row):
            ax = fig.add_subplot(inner[0, p])
            sub_v = {a: [values[a][index[k]] for k in rk] for a in an["allocators"]}
            sub_s = {a: [spreads[a][index[k]] for k in rk] for a in an["allocators"]} \
                if spreads else None
            _grouped(ax, rk, an["allocators"], sub_v, sub_s, palette, run, rotate=False)
            ax.set_xticklabels([_param_label(k) for k in rk], fontsize=7, rotation=90)
            ax.set_yscale("log")
            pv = [v for a in sub_v for v in sub_v[a] if v]
            pv += [x for a in (sub_s or {}) for sp in sub_s[a] if sp for x in sp]
            _log_limits(ax, pv)
            _ratio_axis(ax)
            ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
            ax.set_title(ptitle, fontsize=9)
            ax.grid(axis="y", which="both", alpha=0.3)
            if p == 0:
                ax.set_ylabel(ylabel, fontsize=7)
    handles = [Patch(facecolor=palette(a), edgecolor="black", hatch=palette.hatch(a), label=a)
               for a in an["allocators"]]
    fig.legend(handles=handles, loc="upper center", ncol=min(len(handles), 9), fontsize=8,
               bbox_to_anchor=(0.5, 1.0), frameon=False)
    fig.suptitle(title, y=1.0 + 0.3 / fig.get_figheight(), fontsize=10)
    return fig


def time_normalised(run, an, palette, out_dir, suffix):
    keys, allocs, ref = an["keys_with_ref"], an["allocators"], an["reference"]
    if not keys:
        return None
    values = {a: [] for a in allocs}
    spreads = {a: [] for a in allocs}
    for a in allocs:
        for k in keys:
            c, r = run.cell(a, k), run.cell(ref, k)
            if c is None or r is None:
                values[a].append(None)
                spreads[a].append(None)
                continue
            base = r.center()
            rs = [t / base for t in c.time_ns]
            values[a].append(c.center() / base)
            spreads[a].append((min(rs), max(rs)))
    what = run.primary[2]
    fig = _normalised_bars(
        run, an, palette, keys, values, spreads,
        "%s / %s's (log scale; lower is better)" % (what, ref),
        "%s: %s normalised to %s (median; whiskers: min-max over repetitions)"
        % (run.label, what, ref))
    return _save(fig, out_dir, "time_normalised" + suffix)


def _x_label(v):
    if v >= 100:
        return "%.0fx" % v
    return "%.3gx" % v


def geomean_summary(run, an, palette, out_dir, suffix):
    """The headline (each family once, with its 95% interval) and the memory
    ranking (peak above baseline on the big workloads), in rank order."""
    head = an.get("headline", {}).get("family") or an["geomean_time"]
    allocs = [a for a in (an.get("rank_headline") or an["allocators"]) if head.get(a)]
    if not allocs:
        return None
    mem = (an.get("memory") or {}).get("allocators") or {}
    memv = {a: m["peak_vs_ref"] for a, m in mem.items() if m.get("peak_vs_ref")}
    ci = (an.get("boot") or {}).get("ci") or {}
    fig, axes = plt.subplots(1, 2 if memv else 1, figsize=(10 if memv else 5.5, 4.2),
                             squeeze=False)
    panels = [(axes[0][0], head, ci, "%s, each family once" % run.primary[2], allocs)]
    if memv:
        panels.append((axes[0][1], memv, {}, "peak RSS above baseline (%d workloads)"
                        % len(an["memory"]["big"]), sorted(memv, key=memv.get)))
    for ax, vals_of, cis, what, names in panels:
        vals = [vals_of[a] for a in names]
        err = None
        if cis and all(a in cis for a in names):
            err = [[v - cis[a][0] for a, v in zip(names, vals)],
                   [cis[a][1] - v for a, v in zip(names, vals)]]
        bars = ax.bar(range(len(names)), vals, color=[palette(a) for a in names],
                      edgecolor="black", linewidth=0.4, yerr=err, capsize=3,
                      error_kw={"elinewidth": 0.8})
        for bar, a in zip(bars, names):
            bar.set_hatch(palette.hatch(a))
        ax.bar_label(bars, labels=[_x_label(v) for v in vals], fontsize=7, rotation=90,
                     padding=3)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=90)
        ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
        ax.set_ylabel("/ %s's (lower is better)" % an["reference"])
        ax.set_title(what, fontsize=9)
        hi = max(vals + [1.0] + ([cis[a][1] for a in names if a in cis] if cis else []))
        lo = min(vals + [1.0])
        if hi / lo > 20:
            ax.set_yscale("log")
            ax.set_ylim(lo / 2.0, hi * 8.0)
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: _x_label(v)))
        else:
            ax.set_ylim(0, hi * 1.45)
    fig.suptitle("%s: summary, normalised to %s (whiskers: 95%% bootstrap interval)"
                 % (run.label, an["reference"]), fontsize=10)
    fig.tight_layout()
    return _save(fig, out_dir, "geomean" + suffix)


def rss_normalised(run, an, palette, out_dir, suffix):
    """Peak RSS above each process's baseline over the reference's, on the
    workloads that allocate enough for memory to be the allocator's doing."""
    from heapmark_report import verdict as rv
    ref, allocs, mem = an["reference"], an["allocators"], an.get("memory")
    if not mem or not mem["big"]:
        return None
    keys = [k for k in mem["big"] if rv.peak_above(run, ref, k, mem["baselines"])]
    if not keys:
        return None
    values = {a: [] for a in allocs}
    for a in allocs:
        for k in keys:
            v = rv.peak_above(run, a, k, mem["baselines"])
            values[a].append(max(v, 1.0) / rv.peak_above(run, ref, k, mem["baselines"])
                             if v is not None else None)
    fig = _normalised_bars(
        run, an, palette, keys, values, None,
        "peak RSS above baseline / %s's (log; lower is better)" % ref,
        "%s: peak RSS above the process's own start-up size, normalised to %s (workloads of "
        "%d MiB or more)" % (run.label, ref, rv.BIG_BYTES >> 20))
    return _save(fig, out_dir, "rss_normalised" + suffix)


def _line_legend(fig, an, palette):
    """One legend above the panels, in the allocators' one order."""
    from matplotlib.lines import Line2D
    handles = [Line2D([], [], color=palette(a), marker=palette.marker(a), label=a)
               for a in an["allocators"]]
    ncol = max(1, min(len(handles), int(fig.get_figwidth() / 1.3)))
    nrows = int(math.ceil(len(handles) / float(ncol)))
    h = fig.get_figheight()
    fig.set_figheight(h + 0.22 * nrows)
    h = fig.get_figheight()
    fig.tight_layout(rect=(0, 0, 1, 1.0 - (0.4 + 0.22 * nrows) / h))
    fig.legend(handles=handles, loc="upper center", ncol=ncol, fontsize=8,
               bbox_to_anchor=(0.5, 1.0 - 0.3 / h), frameon=False)


def _grid(n, w=4.0, h=3.0):
    cols = min(3, n)
    rows = int(math.ceil(n / float(cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(w * cols, h * rows), squeeze=False)
    flat = [ax for row in axes for ax in row]
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _shown(n, limit):
    return " (the first %d of %d)" % (limit, n) if limit is not None and n > limit else ""


def thread_scaling(run, an, palette, out_dir, suffix, limit=None):
    groups = {}
    for k in run.keys():
        groups.setdefault((k[0], k[1]), set()).add(k[2])
    groups = [(g, sorted(ts)) for g, ts in sorted(groups.items(),
                                                 key=lambda kv: hr._key_sort(kv[0] + (0,)))
              if len(ts) > 1]
    more = _shown(len(groups), limit)
    groups = groups[:limit]
    if not groups:
        return None
    fig, axes = _grid(len(groups))
    for ax, ((family, params), threads) in zip(axes, groups):
        for a in an["allocators"]:
            xs, ys = [], []
            for t in threads:
                c = run.cell(a, (family, params, t))
                if c is not None:
                    xs.append(t)
                    ys.append(1e3 / c.center())   # ops per ns * 1e3 = Mops/s
            if xs:
                ax.plot(xs, ys, marker=palette.marker(a), color=palette(a), label=a)
        ax.set_xticks(threads)
        ax.set_xlabel("threads")
        ax.set_ylabel("throughput (million ops/s, all threads)")
        ax.set_title(family + ("/" + params if params else ""), fontsize=9)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    fig.suptitle("%s: thread scaling (higher is better)%s" % (run.label, more))
    _line_legend(fig, an, palette)
    return _save(fig, out_dir, "thread_scaling" + suffix)


LAT_RE = re.compile(r"^(?P<prefix>.+?)_(?P<pct>p\d+(?:\.\d+)?|max)_ns$")


def _pct_order(p):
    if p == "max":
        return 1e9
    digits = p[1:]
    # p50 -> 50, p99 -> 99, p999 -> 99.9, p9999 -> 99.99
    if "." in digits:
        return float(digits)
    if len(digits) <= 2:
        return float(digits)
    return float(digits[:2] + "." + digits[2:])


def latency_series(run):
    """{(key, prefix): {allocator: [(pct, median ns)]}} from *_pNN_ns/*_max_ns counters."""
    out = {}
    for (a, k), c in run.cells.items():
        for name, vals in c.counters.items():
            m = LAT_RE.match(name)
            if not m or not vals:
                continue
            out.setdefault((k, m.group("prefix")), {}).setdefault(a, []).append(
                (m.group("pct"), hr.median(vals)))
    for series in out.values():
        for a in series:
            series[a].sort(key=lambda pv: _pct_order(pv[0]))
    return dict(sorted(out.items(), key=lambda kv: (hr._key_sort(kv[0][0]), kv[0][1])))


def latency(run, an, palette, out_dir, suffix, limit=None):
    series = latency_series(run)
    if not series:
        return None
    more = _shown(len(series), limit)
    items = list(series.items())[:limit]
    fig, axes = _grid(len(items))
    for ax, ((key, prefix), per_alloc) in zip(axes, items):
        pcts = sorted({p for s in per_alloc.values() for p, _ in s}, key=_pct_order)
        for a in an["allocators"]:
            s = dict(per_alloc.get(a, []))
            fl = timer_floor(run, a, key) or 1.0
            xs = [i for i, p in enumerate(pcts) if p in s]
            if xs:
                # a value under the timer floor is not resolved: drawn at the floor, hollow
                ys = [max(s[pcts[i]], fl) for i in xs]
                ax.plot(xs, ys, color=palette(a), label=a)
                for x, y, i in zip(xs, ys, xs):
                    under = s[pcts[i]] < fl
                    ax.plot([x], [y], marker=palette.marker(a), color=palette(a),
                            markerfacecolor="white" if under else palette(a), linestyle="none")
        ax.set_xticks(range(len(pcts)))
        ax.set_xticklabels(pcts)
        ax.set_yscale("log")
        ax.set_xlabel("percentile")
        ax.set_ylabel("latency (ns, log scale)")
        ax.set_title("%s: %s" % (hr.instance_label(key), prefix), fontsize=8)
        ax.grid(which="both", alpha=0.3)
    fig.suptitle("%s: per-operation latency percentiles (median over repetitions; lower is "
                 "better; hollow: under the timer floor, drawn at it)%s" % (run.label, more))
    _line_legend(fig, an, palette)
    return _save(fig, out_dir, "latency" + suffix)


# Memory over time: a workload exports samples as counters named
# <series>_t<index>[_<unit>] (bench/memory.c: rss_t0 .. rss_t9, bytes of RSS
# over the harness's start-up RSS at each tenth of a round). Several series
# per workload are allowed; the unit defaults to bytes.
MEM_RE = re.compile(r"^(?P<series>[a-z][a-z0-9_]*?)_t(?P<idx>\d+)(?:_(?P<unit>bytes|kb|kib|mb|mib))?$")
_MEM_SCALE = {"bytes": 1.0, "kb": 1024.0, "kib": 1024.0, "mb": 1048576.0, "mib": 1048576.0}


def memory_series(run):
    """{(key, series): {allocator: [(index, bytes)]}} for series of >= 3 points."""
    out = {}
    for (a, k), c in run.cells.items():
        found = {}
        for name, vals in c.counters.items():
            m = MEM_RE.match(name)
            if not m or not vals:
                continue
            found.setdefault(m.group("series"), []).append(
                (int(m.group("idx")), hr.median(vals) * _MEM_SCALE[m.group("unit") or "bytes"]))
        for s, pts in found.items():
            if len(pts) >= 3:
                out.setdefault((k, s), {})[a] = sorted(pts)
    return dict(sorted(out.items(), key=lambda kv: (hr._key_sort(kv[0][0]), kv[0][1])))


def memory_over_time(run, an, palette, out_dir, suffix, limit=None):
    series = memory_series(run)
    if not series:
        return None
    more = _shown(len(series), limit)
    items = list(series.items())[:limit]
    fig, axes = _grid(len(items))
    for ax, ((key, sname), per_alloc) in zip(axes, items):
        for a in an["allocators"]:
            pts = per_alloc.get(a)
            if pts:
                ax.plot([p[0] for p in pts], [p[1] / 1048576.0 for p in pts],
                        marker=palette.marker(a), markersize=4, color=palette(a), label=a)
        ax.set_xlabel("sample (tenths of the workload's last round)")
        ax.set_ylabel("%s (MiB)" % sname)
        ax.set_ylim(bottom=0)
        ax.set_title("%s: %s" % (hr.instance_label(key), sname), fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle("%s: memory over time (median over repetitions; lower is better)%s"
                 % (run.label, more))
    _line_legend(fig, an, palette)
    return _save(fig, out_dir, "memory_over_time" + suffix)


# Verdict classes of the conformance suite, each its own colour and label.
VERDICTS = [("pass", "#009E73"), ("fail", "#D55E00"), ("crash", "#000000"),
            ("timeout", "#CC79A7"), ("unsupported", "#BBBBBB"), ("observed", "#56B4E9"),
            ("present", "#0072B2"), ("absent", "#F0E442"), ("missing", "#FFFFFF"),
            ("other", "#E69F00")]
_VIDX = {v: i for i, (v, _c) in enumerate(VERDICTS)}


def conformance_matrix(run, allocs_order, out_dir, suffix):
    conf = run.conformance
    if not conf:
        return None
    allocs = [a for a in allocs_order if a in conf] + sorted(a for a in conf if a not in allocs_order)
    checks = []
    for a in allocs:
        for c in conf[a]["checks"]:
            if c["id"] not in checks:
                checks.append(c["id"])
    if not checks:
        return None
    grid = []
    texts = []
    for cid in checks:
        row, trow = [], []
        for a in allocs:
            st = "missing"
            for c in conf[a]["checks"]:
                if c["id"] == cid:
                    st = str(c.get("status", "other"))
                    break
            st = st if st in _VIDX else "other"
            row.append(_VIDX[st])
            trow.append(st if st != "missing" else "-")
        grid.append(row)
        texts.append(trow)
    h = max(2.5, 0.22 * len(checks) + 1.2)
    fig, ax = plt.subplots(figsize=(max(4.5, 1.3 * len(allocs) + 2.5), h))
    cmap = ListedColormap([c for _v, c in VERDICTS])
    ax.imshow(grid, cmap=cmap, vmin=-0.5, vmax=len(VERDICTS) - 0.5, aspect="auto",
              interpolation="nearest")
    dark = {"fail", "crash", "present", "pass", "timeout"}
    for i, trow in enumerate(texts):
        for j, t in enumerate(trow):
            ax.text(j, i, t, ha="center", va="center", fontsize=6,
                    color="white" if t in dark else "black")
    ax.set_xticks(range(len(allocs)))
    ax.set_xticklabels(allocs)
    ax.xaxis.tick_top()
    ax.set_yticks(range(len(checks)))
    ax.set_yticklabels(checks, fontsize=6)
    ax.set_xticks([x - 0.5 for x in range(1, len(allocs))], minor=True)
    ax.set_yticks([y - 0.5 for y in range(1, len(checks))], minor=True)
    ax.grid(which="minor", color="white", linewidth=0.6)
    ax.tick_params(which="minor", length=0)
    used = sorted({v for row in grid for v in row})
    ax.legend(handles=[Patch(facecolor=VERDICTS[i][1], edgecolor="black", label=VERDICTS[i][0])
                       for i in used],
              loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, title="verdict")
    ax.set_title("%s: conformance matrix (checks x allocators)" % run.label, pad=18)
    return _save(fig, out_dir, "conformance" + suffix)
