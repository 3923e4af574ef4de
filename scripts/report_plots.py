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

plt.rcParams.update({
    "svg.hashsalt": "heapmark",      # stable ids: SVGs diff cleanly
    "font.size": 9,
    "axes.titlesize": 10,
    "figure.dpi": 100,
})

# Okabe-Ito, colour-blind safe. The well-known contestants have fixed colours;
# any other allocator takes the next free one in order of first appearance.
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9",
             "#F0E442", "#000000"]
FIXED = {"glibc": "#0072B2", "jemalloc": "#E69F00", "mimalloc": "#009E73",
         "sable": "#D55E00", "tcmalloc": "#CC79A7"}
HATCHES = ["", "//", "..", "xx", "\\\\", "oo", "++", "--"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]


class Palette:
    def __init__(self, names):
        self.colour = {}
        free = [c for c in OKABE_ITO if c not in FIXED.values()]
        used = set()
        for n in names:
            if n in FIXED:
                self.colour[n] = FIXED[n]
                used.add(FIXED[n])
        spare = [c for c in free if c not in used] + [c for c in OKABE_ITO if c in used]
        i = 0
        for n in names:
            if n not in self.colour:
                self.colour[n] = spare[i % len(spare)]
                i += 1

        self.order = list(names)

    def __call__(self, name):
        return self.colour.get(name, "#777777")

    def marker(self, name):
        """A marker shape per allocator too, so that lines differ without colour."""
        i = self.order.index(name) if name in self.order else len(self.order)
        return MARKERS[i % len(MARKERS)]


def _save(fig, out_dir, base):
    os.makedirs(out_dir, exist_ok=True)
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
               linewidth=0.4, hatch=HATCHES[j % len(HATCHES)],
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
    fmt = FuncFormatter(lambda v, _pos: "%.3gx" % v)
    ax.yaxis.set_major_formatter(fmt)
    ax.yaxis.set_minor_locator(LogLocator(base=10.0, subs=(2.0, 3.0, 5.0)))
    ax.yaxis.set_minor_formatter(fmt)
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


def _normalised_bars(run, an, palette, keys, values, spreads, ylabel, title):
    """Grouped bars on a log axis, in rows that share the y scale."""
    rows = _rows(keys)
    width = _width(max(len(r) for r in rows))
    fig, axes = plt.subplots(len(rows), 1, figsize=(width, 4.2 * len(rows)), squeeze=False,
                             sharey=True)
    allv = [v for a in values for v in values[a] if v]
    allv += [x for a in (spreads or {}) for sp in spreads[a] if sp for x in sp]
    index = {k: i for i, k in enumerate(keys)}
    for ax, rk in zip([r[0] for r in axes], rows):
        sub_v = {a: [values[a][index[k]] for k in rk] for a in an["allocators"]}
        sub_s = {a: [spreads[a][index[k]] for k in rk] for a in an["allocators"]} if spreads else None
        _grouped(ax, rk, an["allocators"], sub_v, sub_s, palette, run,
                 rotate=len(rows) > 1 or None)
        ax.set_yscale("log")
        _log_limits(ax, allv)
        _ratio_axis(ax)
        ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
        ax.set_ylabel(ylabel)
        ax.grid(axis="y", which="both", alpha=0.3)
    axes[0][0].set_title(title)
    axes[0][0].legend(fontsize=8, ncol=min(len(an["allocators"]), 6))
    fig.tight_layout()
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


def geomean_summary(run, an, palette, out_dir, suffix):
    allocs = [a for a in an["allocators"] if an["geomean_time"].get(a)]
    if not allocs:
        return None
    rss_ok = [a for a in allocs if an["geomean_rss"].get(a)]
    fig, axes = plt.subplots(1, 2 if rss_ok else 1, figsize=(9 if rss_ok else 5, 3.6),
                             squeeze=False)
    for ax, field, what in ((axes[0][0], "geomean_time", run.primary[2]),
                            (axes[0][1] if rss_ok else None, "geomean_rss", "peak RSS")):
        if ax is None:
            continue
        names = [a for a in allocs if an[field].get(a)]
        vals = [an[field][a] for a in names]
        bars = ax.bar(range(len(names)), vals, color=[palette(a) for a in names],
                      edgecolor="black", linewidth=0.4,
                      hatch=None)
        for b, a in zip(bars, names):
            b.set_hatch(HATCHES[an["allocators"].index(a) % len(HATCHES)])
        ax.bar_label(bars, labels=["%.2fx" % v for v in vals], fontsize=8)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names)
        ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
        ax.set_ylabel("geometric mean of %s / %s's" % (what, an["reference"]))
        ax.set_title("%s (%d workloads; lower is better)" % (what, an["geomean_n"]))
        ax.set_ylim(0, max(vals + [1.0]) * 1.25)
    fig.suptitle("%s: geometric-mean summary, normalised to %s" % (run.label, an["reference"]))
    return _save(fig, out_dir, "geomean" + suffix)


def rss_normalised(run, an, palette, out_dir, suffix):
    ref, allocs = an["reference"], an["allocators"]
    keys = [k for k in an["keys_with_ref"]
            if run.cell(ref, k) is not None and run.cell(ref, k).rss_bytes]
    if not keys:
        return None
    values = {a: [] for a in allocs}
    for a in allocs:
        for k in keys:
            c = run.cell(a, k)
            if c is None or not c.rss_bytes:
                values[a].append(None)
                continue
            values[a].append(hr.median(c.rss_bytes) / hr.median(run.cell(ref, k).rss_bytes))
    fig = _normalised_bars(
        run, an, palette, keys, values, None,
        "peak RSS / %s's (log scale; lower is better)" % ref,
        "%s: peak resident memory of the benchmark process, normalised to %s" % (run.label, ref))
    return _save(fig, out_dir, "rss_normalised" + suffix)


def _grid(n, w=4.0, h=3.0):
    cols = min(3, n)
    rows = int(math.ceil(n / float(cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(w * cols, h * rows), squeeze=False)
    flat = [ax for row in axes for ax in row]
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _shown(n, limit):
    return " (the first %d of %d)" % (limit, n) if n > limit else ""


def thread_scaling(run, an, palette, out_dir, suffix, limit=12):
    groups = {}
    for k in run.keys():
        groups.setdefault((k[0], k[1]), set()).add(k[2])
    groups = [(g, sorted(ts)) for g, ts in sorted(groups.items()) if len(ts) > 1]
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
    axes[0].legend(fontsize=7)
    fig.suptitle("%s: thread scaling (higher is better)%s" % (run.label, more))
    fig.tight_layout()
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


def latency(run, an, palette, out_dir, suffix, limit=12):
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
            xs = [i for i, p in enumerate(pcts) if p in s and s[p] > 0]
            if xs:
                ax.plot(xs, [s[pcts[i]] for i in xs], marker=palette.marker(a), color=palette(a),
                        label=a)
        ax.set_xticks(range(len(pcts)))
        ax.set_xticklabels(pcts)
        ax.set_yscale("log")
        ax.set_xlabel("percentile")
        ax.set_ylabel("latency (ns, log scale)")
        ax.set_title("%s: %s" % (hr.instance_label(key), prefix), fontsize=8)
        ax.grid(which="both", alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle("%s: per-operation latency percentiles (median over repetitions; lower is "
                 "better)%s" % (run.label, more))
    fig.tight_layout()
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


def memory_over_time(run, an, palette, out_dir, suffix, limit=12):
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
    axes[0].legend(fontsize=7)
    fig.suptitle("%s: memory over time (median over repetitions; lower is better)%s"
                 % (run.label, more))
    fig.tight_layout()
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
