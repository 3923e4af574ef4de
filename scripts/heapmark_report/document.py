"""The report as a document: a list of blocks that heapmark_report.md and
heapmark_report.html_page render to Markdown and to HTML:
  ("h", level, text)  ("p", text)  ("ul", [text])  ("table", headers, rows)
  ("img", [(path, alt)])  ("details", summary, [blocks])
Text may hold **bold** and `code`."""

import os

import hm_results as hr
from heapmark_report import programs as rpg
from heapmark_report import verdict as rv
from heapmark_report.fmt import fmt_ci, fmt_bytes, fmt_latency, fmt_primary, fmt_ratio


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


KEPT_WARM = 1 << 20  # bytes: more than a purge's own bookkeeping


def kept_warm_blocks(run, an, keys, label=None):
    """A note under a workload that purges between rounds to start each one cold
    (counter kept_after_purge_bytes), naming the allocators whose purge left
    memory resident: their later rounds were partly warm. With several runs
    side by side, `label` names the run."""
    found = []
    for k in keys:
        for a in an["allocators"]:
            c = run.cell(a, k)
            v = c.counter("kept_after_purge_bytes") if c is not None else None
            if v is not None and v >= KEPT_WARM:
                found.append("%s kept %s on %s" % (a, fmt_bytes(v), k[0] + "/" + k[1]))
    if not found:
        return []
    return [("p", "Not a cold start for every allocator" + (" (%s)" % label if label else "")
                  + ": after the purge between rounds, "
                  + "; ".join(found) + " (`kept_after_purge_bytes`, the most RSS above the "
                  "process's RSS when its benchmarks started). Such an allocator's rounds after the "
                  "first partly reuse memory still resident, so its time there is partly warm.")]


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
    from heapmark_report import plots as rp
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
                    t += " [%s]" % fmt_ci(boot["ci"][a])
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
        # past 100%, as a ratio between the processes (1424x, not +142347%)
        worst = ("%.0f%%" % (d["worst"] * 100) if d["worst"] < 1
                 else "%s between its processes" % rv.fmt_x(1 + d["worst"]))
        s += "; the machine's own drift, %s's per-process medians of one workload, is %.1f%% " \
             "(median over %d workloads; worst %s on `%s`)" % (
                 an["reference"], d["median"] * 100, d["workloads"], worst,
                 hr.instance_label(d["worst_key"]))
    else:
        s += "; with one process per figure the drift between processes is not measured " \
             "(`--processes 2` or more measures it)"
    return s + "."


def programs_blocks(runs, analyses, plots):
    """The programs section (heapmark_report.programs); analyses are not needed there."""
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
            row += [rv.fmt_x(an["headline"]["family"].get(a)), fmt_ci(an["boot"]["ci"].get(a)), rank,
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

        def time_and_rss(table):  # table(metric) -> (header, rows)
            doc.append(("table",) + tuple(table("ns_per_op")))
            h2, r2 = table("peak_rss_bytes")
            if r2:
                doc.append(("details", "peak RSS of %s, above each process's baseline where "
                                        "it recorded one" % fam, [("table", h2, r2)]))

        if multi:
            keys = sorted({k for run in runs for k in run.keys() if k[0] == fam}, key=hr._key_sort)
            time_and_rss(lambda m: vs_best_hosts(runs, analyses, keys, m))
            for run, an in zip(runs, analyses):
                doc += kept_warm_blocks(run, an, [k for k in run.keys() if k[0] == fam],
                                        run.label)
            continue
        for run, an in zip(runs, analyses):
            keys = [k for k in run.keys() if k[0] == fam]
            if keys:
                time_and_rss(lambda m: vs_best_table(run, an, keys, m))
                doc += kept_warm_blocks(run, an, keys)
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
    from heapmark_report import plots as rp
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
