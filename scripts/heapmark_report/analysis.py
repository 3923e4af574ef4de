"""Per-run analysis of a heapmark run: the reference allocator, normalised
geometric means, ranks, family winners, memory above baseline, uncertainty
across processes (heapmark_report.verdict), and each variant against its base."""

import hm_results as hr
from heapmark_report import programs as rpg
from heapmark_report import verdict as rv


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
    from heapmark_report import plots as rp
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
    """summary["programs"] of a run with program workloads (heapmark_report.programs), or None."""
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
