"""Reading heapmark run folders (schema: results/README.md) into tidy results.

Shared by scripts/report.py and scripts/compare.py. Standard library only.

A run folder is read leniently: every problem found (a missing file, a line of
runs.jsonl that does not parse, NaN in Google Benchmark's JSON, a crashed
child) becomes one line in `Run.problems` and the rest is still read. Only
InputError, raised when nothing at all can be read, stops the caller.
"""

import json
import math
import os
import re
import statistics

# Components of a Google Benchmark instance name that are run options, not
# workload parameters.
_OPTION_RE = re.compile(r"^(repeats|min_time|min_warmup_time|iterations|threads):|"
                        r"^(real_time|manual_time|process_time)$")
_TIME_TO_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
# Metrics taken from the child's rusage (runs.jsonl); counters with the same
# name are renamed "<name>_counter" so that neither hides the other.
RUSAGE_METRICS = ("peak_rss_bytes", "minor_faults")
# Keys of a benchmark entry that are not user counters.
_ENTRY_KEYS = {
    "name", "family_index", "per_family_instance_index", "run_name", "run_type",
    "repetitions", "repetition_index", "threads", "iterations", "real_time",
    "cpu_time", "time_unit", "aggregate_name", "aggregate_unit", "label",
    "error_occurred", "error_message", "big_o", "rms", "complexity_n",
}
OK = "ok"


class InputError(Exception):
    """Nothing can be read: the message is one line naming the problem."""


def split_name(name):
    """'malloc_free/size:16/repeats:5/real_time/threads:2' ->
    ('malloc_free', 'size:16', 2). Threads default to 1."""
    parts = [p for p in str(name).split("/") if p != ""]
    if not parts:
        return ("?", "", 1)
    family, params, threads = parts[0], [], 1
    for p in parts[1:]:
        if p.startswith("threads:"):
            try:
                threads = int(p.split(":", 1)[1])
            except ValueError:
                pass
        elif not _OPTION_RE.match(p):
            params.append(p)
    return (family, "/".join(params), threads)


def instance_label(key):
    family, params, threads = key
    s = family + ("/" + params if params else "")
    return s + "/threads:%d" % threads


def counter_unit(name):
    """Best guess of a counter's unit from its name (Google Benchmark's JSON
    does not carry one)."""
    n = name.lower()
    if n.endswith("_ns") or n.endswith("_nsec"):
        return "ns"
    if n.endswith("_us"):
        return "us"
    if n == "bytes_per_second" or n.endswith("_bytes_per_second"):
        return "B/s"
    if n == "items_per_second" or n.endswith("_per_second"):
        return "1/s"
    if n.endswith("_bytes") or n.endswith("bytes") or n.endswith("_b"):
        return "bytes"
    if n.endswith("_kb") or n.endswith("_kib"):
        return "KiB"
    if n.endswith("_pct") or n.endswith("_percent"):
        return "%"
    if n.endswith("_ratio") or n == "overhead":
        return "ratio"
    if re.match(r"^rss_t\d+$", n) or n.startswith("rss_"):
        return "bytes"
    return "count"


def finite(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def median(xs):
    return statistics.median(xs)


def mean(xs):
    return statistics.fmean(xs)


def stddev(xs):
    return statistics.stdev(xs) if len(xs) > 1 else None


def geomean(xs):
    xs = [x for x in xs if finite(x) and x > 0]
    if not xs:
        return None
    return math.exp(sum(math.log(x) for x in xs) / len(xs))


class Cell:
    """All samples of one allocator x benchmark instance."""

    def __init__(self, allocator, key, primary=("ns_per_op", "ns")):
        self.allocator = allocator
        self.key = key
        self.primary = primary     # (metric, unit) of time_ns
        self.time_ns = []          # one per repetition: real time per op in ns, or the
                                   # instructions per op of an --instructions run
        self.counters = {}         # name -> [one per repetition]
        self.rss_bytes = []        # one per child process
        self.minflt = []
        self.records = []          # runs.jsonl records that fed this cell
        self.failures = []         # (status, reason, record) of failed children
        self.proc_time = {}        # process -> [time_ns of its repetitions]
        self.baseline = {}         # process -> RSS before the workload's first allocation
        self.proc_rss = {}         # process -> peak RSS (rusage)

    def ok(self):
        return bool(self.time_ns)

    def process_medians(self):
        """Median time of each process, in process order."""
        return [median(v) for _p, v in sorted(self.proc_time.items()) if v]

    def center(self):
        """The cell's figure: the median of its processes' medians (with one
        process, the median of its repetitions)."""
        pm = self.process_medians()
        if len(pm) > 1:
            return median(pm)
        return median(self.time_ns) if self.time_ns else None

    def processes(self):
        return max(1, len([v for v in self.proc_time.values() if v]))

    def peak_above_baseline(self):
        """Per process: peak RSS minus the RSS the process had before the
        workload's first allocation; [] when the baseline was not recorded."""
        return [max(0.0, self.proc_rss[p] - b) for p, b in sorted(self.baseline.items())
                if p in self.proc_rss]

    def counter(self, name):
        vals = self.counters.get(name)
        return median(vals) if vals else None

    def metrics(self):
        """[(metric, unit, samples)] in a stable order."""
        out = []
        if self.time_ns:
            out.append((self.primary[0], self.primary[1], self.time_ns))
        if self.rss_bytes:
            out.append(("peak_rss_bytes", "bytes", self.rss_bytes))
        if self.minflt:
            out.append(("minor_faults", "count", self.minflt))
        for name in sorted(self.counters):
            vals = self.counters[name]
            if vals:
                out.append((name, counter_unit(name), vals))
        return out


class Run:
    """One run folder, read."""

    def __init__(self, path):
        self.path = path
        self.meta = {}
        self.records = []
        self.program_records = []  # runs.jsonl lines of real programs ("kind": "program")
        self.cells = {}            # (allocator, key) -> Cell
        self.problems = []         # one-line strings
        self.failed = []           # dicts: allocator, benchmark, status, reason, log
        self.missing = []          # (allocator, benchmark) planned and never run
        self.conformance = {}      # allocator -> parsed conformance JSON
        self.conformance_from = None  # another run folder the conformance came from
        self.conformance_dead = []    # (allocator, status, detail): binaries that wrote no verdicts
        self.label = None
        self.gbench_debug = False     # Google Benchmark reported a debug build of itself
        self.cpu_mhz = None           # the CPU frequency Google Benchmark read
        self.conformance_refused = None  # why a conformance run was not attached

    # -- helpers ---------------------------------------------------------
    def rel(self, p):
        return os.path.relpath(p, self.path)

    def problem(self, msg):
        self.problems.append(msg)

    @property
    def host(self):
        h = self.meta.get("host")
        if isinstance(h, str) and h:
            return h
        base = os.path.basename(os.path.normpath(self.path))
        m = re.match(r"^\d{8}T\d{6}Z-(.+)$", base)
        return m.group(1) if m else base

    @property
    def instructions(self):
        """An --instructions run: instructions per operation replace the times."""
        opts = self.meta.get("options")
        return isinstance(opts, dict) and opts.get("instructions") is True

    @property
    def primary(self):
        """(metric, unit, what) of the run's main figure."""
        if self.instructions:
            return ("instructions_per_op", "instructions", "instructions per operation")
        return ("ns_per_op", "ns", "time per operation")

    @property
    def state(self):
        s = self.meta.get("state")
        return s if isinstance(s, str) else "unknown"

    def allocators(self):
        """Allocator names: meta order first, then any others seen."""
        names = []
        for a in self.meta.get("allocators") or []:
            n = a.get("name") if isinstance(a, dict) else a
            if isinstance(n, str) and n not in names:
                names.append(n)
        for (a, _k) in self.cells:
            if a not in names:
                names.append(a)
        for f in self.failed:
            if f["allocator"] not in names:
                names.append(f["allocator"])
        return names

    def variants(self):
        """[(name, base, env, base_allocator)] of the allocators meta.json gives
        variables for (`NAME=BASE:VAR=VAL...`): base is a built allocator's
        name or a library path; base_allocator is the allocator of this run
        that is that base without variables (None when the run has none).
        Runs written before variants existed have none."""
        entries = [a for a in self.meta.get("allocators") or [] if isinstance(a, dict)
                   and isinstance(a.get("name"), str)]

        def base_of(a):
            b = a.get("base")
            if isinstance(b, str) and b:
                return b
            return a.get("preload") if isinstance(a.get("preload"), str) else a["name"]

        def env_of(a):
            e = a.get("env")
            return e if isinstance(e, dict) else {}

        out = []
        for a in entries:
            env = env_of(a)
            if not env:
                continue
            base = base_of(a)
            partner = next((b["name"] for b in entries
                            if b is not a and base_of(b) == base and not env_of(b)), None)
            out.append((a["name"], base, {str(k): str(v) for k, v in env.items()}, partner))
        return out

    def keys(self):
        """Benchmark instances, sorted by family, threads, params."""
        ks = {k for (_a, k) in self.cells}
        return sorted(ks, key=_key_sort)

    def cell(self, allocator, key):
        return self.cells.get((allocator, key))


def _param_sort(params):
    out = []
    for p in params.split("/"):
        v = p.split(":", 1)[-1]
        try:
            out.append((0, float(v), p))
        except ValueError:
            out.append((1, 0.0, p))
    return out


def _key_sort(k):
    return (k[0], _param_sort(k[1]), k[2])


def _load_json(path):
    """Parses a JSON file; returns (value, None) or (None, one-line problem)."""
    try:
        with open(path, "r", encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError as e:
        return None, "cannot read: %s" % (e.strerror or e)
    if not text.strip():
        return None, "empty file"
    try:
        return json.loads(text), None
    except ValueError as e:
        return None, "malformed JSON (%s)" % str(e).split("\n")[0]


def read_conformance_files(run_dir):
    """The conformance results of a run folder, the one reader of them (the report
    and scripts/conformance_report.py): for each conformance/<A>.json in name order,
    (allocator, path, data, error): data the parsed JSON, or error the exception
    that reading it raised (OSError, UnicodeDecodeError, or json.JSONDecodeError,
    whose .doc is the text) and data None. The allocator is named after the file:
    the runner names it after the allocator as the run named it (a variant's
    binary calls itself by its base's name). [] when there is no conformance/."""
    d = os.path.join(run_dir, "conformance")
    if not os.path.isdir(d):
        return []
    out = []
    for name in sorted(os.listdir(d)):
        if not name.endswith(".json"):
            continue
        p = os.path.join(d, name)
        try:
            with open(p, encoding="utf-8") as f:
                out.append((name[:-len(".json")], p, json.loads(f.read()), None))
        except (OSError, ValueError) as e:
            out.append((name[:-len(".json")], p, None, e))
    return out


def conformance_dead(meta):
    """The allocators of a conformance run's meta.json (as the runner wrote it)
    whose binary left no verdicts, in the run's order: [(allocator, status,
    detail)], status as recorded (crash, timeout, no-json, not run). [] for a
    bench run's meta.json."""
    dead = []
    if not isinstance(meta, dict) or meta.get("kind") != "conformance":
        return dead
    for a in meta.get("allocators") or []:
        if isinstance(a, dict) and a.get("status") not in (None, "done"):
            detail = {"crash": "killed by %s" % a.get("signal"),
                      "timeout": "ran past the time limit and was killed",
                      "no-json": "ended without writing its verdicts (exit %s)" % a.get("exit_code"),
                      "not run": "never ran (the run was interrupted first)"}.get(
                          a.get("status"), str(a.get("status")))
            dead.append((str(a.get("name")), str(a.get("status")), detail))
    return dead


def _read_conformance(run):
    run.conformance_dead.extend(conformance_dead(run.meta))
    for alloc, p, data, err in read_conformance_files(run.path):
        if isinstance(err, json.JSONDecodeError) and not err.doc.strip():
            run.problem("%s: empty file" % run.rel(p))
            continue
        if isinstance(err, json.JSONDecodeError):
            run.problem("%s: malformed JSON (%s)" % (run.rel(p), str(err).split("\n")[0]))
            continue
        if err is not None:
            run.problem("%s: cannot read: %s" % (run.rel(p), getattr(err, "strerror", None) or err))
            continue
        if not isinstance(data, dict) or not isinstance(data.get("checks"), list):
            run.problem("%s: no \"checks\" list" % run.rel(p))
            continue
        checks = [c for c in data["checks"] if isinstance(c, dict) and "id" in c]
        data["checks"] = checks
        run.conformance[alloc] = data


def _records_from_raw(run):
    """Without runs.jsonl: one synthetic record per raw/<allocator>/<id>.json."""
    recs = []
    raw = os.path.join(run.path, "raw")
    if not os.path.isdir(raw):
        return recs
    for alloc in sorted(os.listdir(raw)):
        d = os.path.join(raw, alloc)
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            if name.endswith(".json"):
                recs.append({"id": name[:-5], "allocator": alloc, "benchmark": None,
                             "status": OK, "json": "raw/%s/%s" % (alloc, name),
                             "log": "raw/%s/%s.log" % (alloc, name[:-5])})
    return recs


def process_of(rec):
    """The process index of a runs.jsonl record: its "process" field (several
    processes per allocator x benchmark), else its place among the records of
    the same allocator and benchmark (older runs: one process each)."""
    p = rec.get("process")
    if isinstance(p, int) and not isinstance(p, bool) and p >= 0:
        return p
    return rec.get("_seq", 0)


STARTUP_KEY = "startup_rss_bytes"


def _entry_time_ns(entry):
    t = entry.get("real_time")
    unit = entry.get("time_unit", "ns")
    if not finite(t) or not isinstance(unit, str) or unit not in _TIME_TO_NS or t <= 0:
        return None
    ns = t * _TIME_TO_NS[unit]
    return ns if finite(ns) else None


def _ingest_json(run, rec, alloc, data, where):
    """Adds the repetitions of one Google Benchmark JSON file; returns the
    number of usable repetitions."""
    benches = data.get("benchmarks") if isinstance(data, dict) else None
    if not isinstance(benches, list):
        run.problem("%s: no \"benchmarks\" list" % where)
        return 0, set()
    used = 0
    touched = set()
    bad_time = 0
    proc = process_of(rec)
    base = None
    ctx = data.get("context") if isinstance(data, dict) else None
    if isinstance(ctx, dict):
        try:
            base = float(ctx.get(STARTUP_KEY))
        except (TypeError, ValueError):
            base = None
        if base is not None and not (finite(base) and base >= 0):
            base = None
        if str(ctx.get("library_build_type", "")).lower() == "debug":
            run.gbench_debug = True
        if finite(ctx.get("mhz_per_cpu")) and ctx["mhz_per_cpu"] > 0:
            run.cpu_mhz = ctx["mhz_per_cpu"]
    bad_counters = set()
    for e in benches:
        if not isinstance(e, dict) or e.get("run_type", "iteration") != "iteration":
            continue
        # the entry's own name: one process normally runs the one instance that
        # runs.jsonl names, but nothing here depends on it
        name = e.get("run_name") or e.get("name") or rec.get("benchmark")
        family, params, threads = split_name(name)
        if "/threads:" not in "/" + str(name) and isinstance(e.get("threads"), int):
            threads = e["threads"]
        key = (family, params, threads)
        cell = run.cells.get((alloc, key))
        if cell is None:
            cell = run.cells[(alloc, key)] = Cell(alloc, key)
        if e.get("error_occurred"):
            cell.failures.append(("error", str(e.get("error_message") or "error_occurred"), rec))
            continue
        t = _entry_time_ns(e)
        if t is None:
            bad_time += 1
        else:
            cell.time_ns.append(t)
            cell.proc_time.setdefault(proc, []).append(t)
            if base is not None:
                cell.baseline[proc] = base
            used += 1
        for k, v in e.items():
            if k in _ENTRY_KEYS or isinstance(v, (str, list, dict, bool)) or v is None:
                continue
            if not finite(v):
                bad_counters.add(k)
                continue
            cname = k + "_counter" if k in RUSAGE_METRICS else k
            cell.counters.setdefault(cname, []).append(float(v))
        if rec not in cell.records:
            cell.records.append(rec)
        touched.add((alloc, key))
    if bad_time:
        run.problem("%s: real_time is NaN/Infinity, not positive or has an unknown unit in %d "
                    "repetition(s); they are left out" % (where, bad_time))
    if bad_counters:
        run.problem("%s: counter(s) %s are NaN/Infinity in some repetitions; those values are "
                    "left out" % (where, ", ".join(sorted(bad_counters))))
    return used, touched


def _ingest_instructions(run, rec, alloc):
    """One process of an --instructions run: its instructions_per_op (runs.jsonl).
    Its Google Benchmark JSON and rusage were measured under callgrind and are
    not the allocator's: they are not read."""
    bench = rec.get("benchmark")
    ipo = rec.get("instructions_per_op")
    if not isinstance(bench, str):
        _fail(run, rec, alloc, "garbage", "runs.jsonl names no benchmark")
        return
    if not finite(ipo) or ipo <= 0:
        _fail(run, rec, alloc, "uncounted",
              str(rec.get("note") or "no instructions_per_op in runs.jsonl"))
        return
    key = split_name(bench)
    cell = run.cells.get((alloc, key))
    if cell is None:
        cell = run.cells[(alloc, key)] = Cell(alloc, key, ("instructions_per_op", "instructions"))
    cell.time_ns.append(float(ipo))
    cell.proc_time.setdefault(process_of(rec), []).append(float(ipo))
    cell.records.append(rec)


def _add_rusage(run, rec, cellkey):
    """The child's rusage, for each cell its process fed."""
    cell = run.cells.get(cellkey)
    if cell is None:
        return
    rss = rec.get("max_rss_kb")
    if finite(rss) and rss > 0 and finite(float(rss) * 1024.0):
        cell.rss_bytes.append(float(rss) * 1024.0)
        cell.proc_rss[process_of(rec)] = float(rss) * 1024.0
    mf = rec.get("minflt")
    if finite(mf) and mf >= 0:
        cell.minflt.append(float(mf))


def _fail(run, rec, alloc, status, reason):
    run.failed.append({
        "allocator": alloc, "benchmark": rec.get("benchmark") or rec.get("json") or "?",
        "status": status, "reason": reason or "", "log": rec.get("log") or "",
        "id": rec.get("id"),
    })


def _describe_failure(rec):
    status = rec.get("status")
    if status == "crash":
        return "killed by %s" % (rec.get("signal") or "a signal")
    if status == "timeout":
        return "ran past the time limit (%.0f s wall)" % rec["wall_s"] if finite(rec.get("wall_s")) \
            else "ran past the time limit"
    if status == "error":
        if rec.get("reason"):
            return str(rec["reason"])
        return "exit code %s" % rec.get("exit_code")
    if status == "garbage":
        return str(rec.get("reason") or "its JSON is missing or does not parse")
    return str(rec.get("reason") or status)


_META_TYPES = {"allocators": list, "benchmarks": list, "options": dict, "environment": dict,
               "planned": int, "done": int, "state": str, "host": str, "kind": str}


def _sane_meta(run, meta):
    """Drops the fields of meta.json that do not have the schema's type (one line each)."""
    for key, typ in _META_TYPES.items():
        if key in meta and meta[key] is not None and (not isinstance(meta[key], typ)
                                                      or isinstance(meta[key], bool)):
            run.problem("meta.json: \"%s\" is not a %s; ignored" % (key, typ.__name__))
            del meta[key]
    return meta


def _sane_record(rec):
    """A runs.jsonl record with the schema's types, or None."""
    if not isinstance(rec, dict) or not isinstance(rec.get("allocator"), str):
        return None
    for key in ("benchmark", "json", "log", "status", "reason", "signal", "id"):
        if key in rec and rec[key] is not None and not isinstance(rec[key], str):
            if key in ("benchmark", "allocator", "status"):
                return None
            rec[key] = str(rec[key]) if key in ("reason", "signal", "id") else None
    return rec


def read_run(path):
    """Reads one run folder. Raises InputError only when the folder cannot be
    used at all (it does not exist, or holds neither results nor conformance)."""
    if not os.path.exists(path):
        raise InputError("%s: no such run folder" % path)
    if not os.path.isdir(path):
        raise InputError("%s: not a folder (expected a run folder results/<stamp>-<host>/)" % path)
    run = Run(path)

    meta_p = os.path.join(path, "meta.json")
    if os.path.exists(meta_p):
        meta, err = _load_json(meta_p)
        if err:
            run.problem("meta.json: %s; the environment is unknown" % err)
        elif not isinstance(meta, dict):
            run.problem("meta.json: not a JSON object; the environment is unknown")
        else:
            run.meta = _sane_meta(run, meta)
    else:
        run.problem("meta.json: missing; the environment is unknown")

    runs_p = os.path.join(path, "runs.jsonl")
    if os.path.exists(runs_p):
        try:
            with open(runs_p, "r", encoding="utf-8", errors="replace") as f:
                lines = f.read().split("\n")
        except OSError as e:
            raise InputError("%s: cannot read: %s" % (runs_p, e.strerror or e))
        bad = []
        for i, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                bad.append(i)
                continue
            rec = _sane_record(rec)
            if rec is None:
                bad.append(i)
                continue
            if rec.get("kind") == "program":  # real programs: scripts/heapmark_report/programs.py
                run.program_records.append(rec)
                continue
            run.records.append(rec)
        if bad:
            run.problem("runs.jsonl: line(s) %s malformed, skipped%s"
                        % (", ".join(map(str, bad[:10])), " (and more)" if len(bad) > 10 else ""))
    else:
        run.records = _records_from_raw(run)
        if run.records or (run.meta.get("kind") != "conformance"
                           and not os.path.isdir(os.path.join(path, "conformance"))):
            run.problem("runs.jsonl: missing; read %d raw JSON file(s) directly, without rusage"
                        % len(run.records))

    seq = {}
    for rec in run.records:
        sk = (rec["allocator"], rec.get("benchmark") or rec.get("json"))
        rec["_seq"] = seq.get(sk, 0)
        seq[sk] = rec["_seq"] + 1
    for rec in run.records:
        alloc = rec["allocator"]
        status = rec.get("status") or OK
        jpath = rec.get("json")
        if status != OK:
            _fail(run, rec, alloc, status, _describe_failure(rec))
            continue
        if run.instructions:
            _ingest_instructions(run, rec, alloc)
            continue
        if not isinstance(jpath, str) or not jpath:
            _fail(run, rec, alloc, "garbage", "runs.jsonl names no JSON file")
            run.problem("runs.jsonl: %s/%s: status ok but no \"json\" path"
                        % (alloc, rec.get("benchmark")))
            continue
        full = os.path.join(path, jpath)
        data, err = _load_json(full)
        if err:
            _fail(run, rec, alloc, "garbage", "%s: %s" % (jpath, err))
            run.problem("%s: %s" % (jpath, err))
            continue
        if rec.get("benchmark") is None and isinstance(data, dict):
            # synthetic record (no runs.jsonl): name the benchmark from its JSON
            for e in data.get("benchmarks") or []:
                if isinstance(e, dict) and e.get("run_type", "iteration") == "iteration":
                    rec["benchmark"] = e.get("run_name") or e.get("name")
                    break
        used, touched = _ingest_json(run, rec, alloc, data, jpath)
        bench = rec.get("benchmark")
        for ck in touched:
            _add_rusage(run, rec, ck)
        if used == 0:
            reason = "no usable repetition"
            if bench:
                c = run.cells.get((alloc, split_name(bench)))
                if c and c.failures:
                    reason = c.failures[-1][1]
            _fail(run, rec, alloc, "error", reason)

    # cells where every repetition failed (error_occurred) leave the cell list
    for k in [k for k, c in run.cells.items() if not c.ok()]:
        del run.cells[k]

    # planned but never run (interrupted run; a complete run may plan an instance
    # for only some allocators)
    planned = [b for b in run.meta.get("benchmarks") or [] if isinstance(b, str)]
    if run.state == "complete" or run.meta.get("kind") == "conformance":
        planned = []
    seen = {(r["allocator"], split_name(r["benchmark"])) for r in run.records
            if isinstance(r.get("benchmark"), str)}
    for a in [x for x in run.allocators()]:
        for b in planned:
            if (a, split_name(b)) not in seen:
                run.missing.append((a, b))

    _read_conformance(run)

    if not run.cells and not run.conformance and not run.conformance_dead and not run.program_records:
        if not run.records and not os.path.exists(meta_p):
            raise InputError("%s: not a heapmark run folder (no meta.json, runs.jsonl or raw/)" % path)
        if not run.records:
            raise InputError("%s: empty run: no benchmark has finished (runs.jsonl has no results)"
                             % path)
        raise InputError("%s: no usable result: all %d benchmark process(es) failed (first: %s %s: %s)"
                         % (path, len(run.failed), run.failed[0]["allocator"],
                            run.failed[0]["benchmark"], run.failed[0]["reason"])
                         if run.failed else "%s: no usable result" % path)
    return run


def tidy_rows(run):
    """results.csv rows (dicts) of one run."""
    rows = []
    for key in run.keys():
        for alloc in run.allocators():
            c = run.cell(alloc, key)
            if c is None:
                continue
            for metric, unit, samples in c.metrics():
                sd = stddev(samples)
                # the time: the report's figure (the median of the processes'
                # medians), not the median of all repetitions pooled, which
                # falls between two processes that ran in different states
                value = c.center() if metric == c.primary[0] else median(samples)
                rows.append({
                    "allocator": alloc, "benchmark": key[0], "params": key[1],
                    "threads": key[2], "metric": metric, "value": value,
                    "unit": unit, "stddev": sd, "n": len(samples),
                })
    return rows


def conformance_mismatch(bench, conf):
    """Why the conformance run `conf` is not the contract of the bench run
    `bench` (a one-line reason), or None when it is: same host, same build
    (git revision), complete, unfiltered, and exactly the bench run's
    allocators."""
    if conf.host != bench.host:
        return "it ran on another host (%s)" % conf.host
    cm = conf.meta
    opts = cm.get("options") if isinstance(cm.get("options"), dict) else {}
    if opts.get("filter"):
        return "it was filtered (--filter %s): not the full matrix" % opts["filter"]
    if cm.get("state") not in (None, "complete"):
        return "it is %s, not complete" % cm.get("state")
    g1, g2 = bench.meta.get("git_revision"), cm.get("git_revision")
    if not g1 or not g2 or g1 != g2 or str(g1).endswith("-dirty") != str(g2).endswith("-dirty"):
        return "another build (git %s, the benchmarks' %s)" % (g2 or "unknown", g1 or "unknown")
    if str(g1).endswith("-dirty"):
        # a dirty tree: the same revision may be another build; the conformance
        # run must come after the bench run started
        if str(cm.get("started") or "") < str(bench.meta.get("started") or ""):
            return "another build (uncommitted changes, and it ran before the benchmarks)"
    want = set(bench.allocators())
    have = set(a.get("name") if isinstance(a, dict) else a for a in cm.get("allocators") or [])
    have |= set(conf.conformance)
    if want != have:
        extra, missing = sorted(have - want), sorted(want - have)
        return "other allocators (%s)" % "; ".join(
            x for x in ("without " + ", ".join(missing) if missing else "",
                        "with " + ", ".join(extra) if extra else "") if x)
    return None


def attach_conformance(runs):
    """A bench run and a conformance run (make bench, make conformance: two run
    folders) are shown as one only when the conformance run is the contract of
    exactly that bench run (conformance_mismatch): given on the command line
    together, or found by the `latest-conformance` link next to the bench run.
    A matrix that does not match is never attached; the bench run records why
    (Run.conformance_refused). Returns the runs left to show."""
    conf_only = [r for r in runs if (r.conformance or r.conformance_dead) and not r.cells]
    for c in conf_only:
        for r in runs:
            if r is c or not r.cells or r.conformance or r.conformance_dead:
                continue
            why = conformance_mismatch(r, c)
            if why is None:
                r.conformance, r.conformance_from = c.conformance, c.path
                r.conformance_dead = c.conformance_dead
                runs = [x for x in runs if x is not c]
                break
            r.conformance_refused = "`%s`: %s" % (os.path.basename(os.path.normpath(c.path)), why)
    for r in runs:
        if r.conformance or r.conformance_dead or not r.cells:
            continue
        link = os.path.join(os.path.dirname(os.path.abspath(r.path)), "latest-conformance")
        if not os.path.isdir(link) or os.path.realpath(link) == os.path.realpath(r.path):
            continue
        try:
            other = read_run(link)
        except InputError:
            continue
        if not (other.conformance or other.conformance_dead):
            continue
        why = conformance_mismatch(r, other)
        if why is not None:
            r.conformance_refused = "`%s`: %s" % (os.path.basename(os.path.realpath(link)), why)
            continue
        r.conformance = other.conformance
        r.conformance_dead = other.conformance_dead
        r.conformance_from = os.path.realpath(link)
        r.problems += ["conformance/%s" % p for p in other.problems
                       if p.startswith("conformance/")]
    return runs


def label_runs(runs):
    """Gives each run a short distinct label: its host, or host + stamp when
    several runs come from one host."""
    hosts = [r.host for r in runs]
    for r in runs:
        if hosts.count(r.host) == 1:
            r.label = r.host
        else:
            base = os.path.basename(os.path.normpath(r.path))
            stamp = base.split("-", 1)[0] if re.match(r"^\d{8}T\d{6}Z-", base) else base
            r.label = "%s@%s" % (r.host, stamp)
    labels = [r.label for r in runs]
    for i, r in enumerate(runs):
        if labels.count(r.label) > 1:
            r.label = "%s#%d" % (r.label, i + 1)


def _main(argv):
    """hm_results.py conformance-match BENCH_RUN CONFORMANCE_RUN: exit 0 when the
    conformance run is the contract of exactly that bench run (so that make
    bench reuses it), 1 with the reason when it is not or cannot be read."""
    if len(argv) != 3 or argv[0] != "conformance-match":
        print("usage: hm_results.py conformance-match BENCH_RUN CONFORMANCE_RUN", file=sys.stderr)
        return 2
    try:
        bench = read_run(argv[1])
        conf = read_run(argv[2])
    except InputError as e:
        print("conformance: no matrix to reuse (%s)" % e)
        return 1
    why = conformance_mismatch(bench, conf) if conf.conformance else "it has no verdicts"
    if why:
        print("conformance: %s is not reusable: %s" % (os.path.basename(os.path.realpath(argv[2])),
                                                      why))
        return 1
    print("conformance: reusing %s (same host, build and allocators, unfiltered)"
          % os.path.basename(os.path.realpath(argv[2])))
    return 0


if __name__ == "__main__":
    import sys
    sys.exit(_main(sys.argv[1:]))
