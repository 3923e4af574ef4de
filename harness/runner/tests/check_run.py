#!/usr/bin/python3
"""check_run.py RUN_DIR: checks a run folder against results/README.md and
prints one line per runs.jsonl entry: "id allocator benchmark status signal
exit_code json", so that a test can compare it with what it expects.
Exits 1 with the reason on the first violation."""
import json
import os
import sys

STATUSES = {"ok", "error", "crash", "timeout", "garbage", "mismatch", "unproven", "no-server"}
RUN_KEYS = ["id", "allocator", "benchmark", "status", "reason", "exit_code", "signal",
            "wall_s", "user_s", "sys_s", "max_rss_kb", "minflt", "majflt", "json", "log",
            "process"]
# a real program's line ("kind": "program")
PROGRAM_KEYS = ["id", "kind", "allocator", "program", "process", "status", "reason",
                "exit_code", "signal", "wall_s", "user_s", "sys_s", "max_rss_kb", "minflt",
                "majflt", "rss", "rss_samples", "rss_peak_sampled_kb", "server", "port",
                "client_wall_s", "client_user_s", "client_sys_s", "client_max_rss_kb",
                "rss_end_load_kb", "rss_after_100ms_kb", "rss_after_1s_kb", "figure", "better",
                "unit", "library", "preloaded", "library_mapped", "check", "digest",
                "digest_reference", "log", "client_log", "output"]
# added to every line of a `heapmark run --instructions` folder
COUNT_KEYS = ["instructions_per_op", "instructions", "operations", "process_threads",
              "callgrind", "note"]


def fail(msg):
    print("check_run: " + msg, file=sys.stderr)
    sys.exit(1)


def check_counts(n, r, run):
    """The instruction fields of one runs.jsonl line (results/README.md)."""
    per_op, ir, ops = r["instructions_per_op"], r["instructions"], r["operations"]
    if r["status"] != "ok" and per_op is not None:
        fail(f"runs.jsonl line {n}: {r['status']} with instructions_per_op")
    if r["status"] == "ok":
        for key in ("instructions", "operations", "process_threads"):
            if not isinstance(r[key], int) or r[key] <= 0:
                fail(f"runs.jsonl line {n}: ok with {key} = {r[key]!r}")
        if (per_op is None) != (r["note"] is not None):
            fail(f"runs.jsonl line {n}: needs exactly one of instructions_per_op and note")
        if (per_op is None) != (r["process_threads"] > 1):
            fail(f"runs.jsonl line {n}: instructions_per_op {per_op} with "
                 f"{r['process_threads']} threads")
        if per_op is not None and abs(per_op - ir / ops) > 0.006:
            fail(f"runs.jsonl line {n}: instructions_per_op {per_op} != {ir} / {ops}")
        if r["callgrind"] is None or not os.path.isfile(os.path.join(run, r["callgrind"])):
            fail(f"runs.jsonl line {n}: callgrind summary {r['callgrind']} missing")
        with open(os.path.join(run, r["callgrind"])) as f:
            totals = [l for l in f if l.startswith("totals:")]
        if totals != [f"totals: {ir}\n"]:
            fail(f"runs.jsonl line {n}: the callgrind summary's totals {totals} != {ir}")
    leftovers = [f for f in os.listdir(os.path.join(run, "raw", r["allocator"]))
                 if f.startswith(r["id"] + ".cg")]
    if leftovers:
        fail(f"runs.jsonl line {n}: callgrind's own files left: {leftovers}")


def check_program(n, r, run, meta):
    """A real program's line (results/README.md, "Real programs")."""
    if r["program"] not in [p["name"] for p in meta["programs"]]:
        fail(f"runs.jsonl line {n}: program {r['program']} not in meta.json")
    for key in ("log", "rss"):
        if not os.path.isfile(os.path.join(run, r[key])):
            fail(f"runs.jsonl line {n}: {key} {r[key]} missing")
    if (r["status"] == "ok") != (r["reason"] is None):
        fail(f"runs.jsonl line {n}: {r['status']} with reason {r['reason']!r}")
    if r["status"] == "ok" and not r["library_mapped"]:
        fail(f"runs.jsonl line {n}: ok without the preload proof")
    if r["status"] == "mismatch" and r["digest"] == r["digest_reference"]:
        fail(f"runs.jsonl line {n}: mismatch with equal digests")
    if r["status"] == "ok" and r["digest_reference"] and r["digest"] != r["digest_reference"]:
        fail(f"runs.jsonl line {n}: ok with a differing digest")
    if r["server"] != (r["port"] is not None):
        fail(f"runs.jsonl line {n}: server {r['server']} with port {r['port']}")
    if (r["signal"] is None) == (r["exit_code"] is None) and r["status"] != "timeout":
        fail(f"runs.jsonl line {n}: needs exactly one of signal and exit_code")
    for key in ("wall_s", "user_s", "sys_s"):
        if not isinstance(r[key], (int, float)) or r[key] < 0:
            fail(f"runs.jsonl line {n}: {key} = {r[key]!r}")


def main():
    if len(sys.argv) != 2:
        fail("usage: check_run.py RUN_DIR")
    run = sys.argv[1]
    try:
        with open(os.path.join(run, "meta.json")) as f:
            meta = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"meta.json: {e}")
    for key, typ in [("schema", int), ("tool", str), ("kind", str), ("started", str),
                     ("state", str), ("command_line", str), ("host", str),
                     ("cpu_model", str), ("cores", int), ("kernel", str), ("thp", str),
                     ("compiler", str), ("git_revision", str), ("options", dict),
                     ("allocators", list), ("benchmarks", list), ("planned", int),
                     ("done", int), ("counts", dict)]:
        if not isinstance(meta.get(key), typ):
            fail(f"meta.json: {key} missing or not {typ.__name__}: {meta.get(key)!r}")
    la = meta.get("load_avg", "missing")
    if not (la is None or (isinstance(la, list) and len(la) == 3
                           and all(isinstance(x, (int, float)) and x >= 0 for x in la))):
        fail(f"meta.json: load_avg {la!r}")
    if meta["schema"] != 1 or meta["tool"] != "heapmark" or meta["kind"] != "bench":
        fail("meta.json: wrong schema/tool/kind")
    if meta["state"] not in ("running", "complete", "interrupted"):
        fail(f"meta.json: bad state {meta['state']}")
    if meta["state"] != "running" and not isinstance(meta.get("finished"), str):
        fail("meta.json: a finished run has no 'finished' time")
    for key in ("profile", "repetitions", "min_time_s", "timeout_s", "filter", "instructions"):
        if key not in meta["options"]:
            fail(f"meta.json: options.{key} missing")
    for a in meta["allocators"]:
        for key in ("name", "version", "library", "package", "binary", "preload"):
            if key not in a:
                fail(f"meta.json: allocator without {key}: {a}")
    names = {a["name"] for a in meta["allocators"]}
    counting = meta["options"]["instructions"]
    if not isinstance(counting, bool):
        fail(f"meta.json: options.instructions = {counting!r}")
    skipped = meta.get("skipped")
    if not isinstance(skipped, list) or any(
            sorted(s) != ["benchmark", "reason"] or s["benchmark"] in meta["benchmarks"]
            for s in skipped):
        fail(f"meta.json: skipped = {skipped!r}")
    if skipped and not counting:
        fail("meta.json: instances skipped in a timing run")
    keys = RUN_KEYS + (COUNT_KEYS if counting else [])

    rows = []
    with open(os.path.join(run, "runs.jsonl")) as f:
        for n, line in enumerate(f, 1):
            try:
                r = json.loads(line)
            except ValueError as e:
                fail(f"runs.jsonl line {n}: {e}")
            program = r.get("kind") == "program"
            if list(r.keys()) != (PROGRAM_KEYS if program else keys):
                fail(f"runs.jsonl line {n}: keys {list(r.keys())}")
            if r["status"] not in STATUSES:
                fail(f"runs.jsonl line {n}: status {r['status']}")
            if r["allocator"] not in names:
                fail(f"runs.jsonl line {n}: allocator {r['allocator']} not in meta.json")
            if not isinstance(r["process"], int) or r["process"] < 0:
                fail(f"runs.jsonl line {n}: process {r['process']!r}")
            if program:
                check_program(n, r, run, meta)
                rows.append(r)
                continue
            if r["benchmark"] not in meta["benchmarks"]:
                fail(f"runs.jsonl line {n}: benchmark {r['benchmark']} not in meta.json")
            if not os.path.isfile(os.path.join(run, r["log"])):
                fail(f"runs.jsonl line {n}: log {r['log']} missing")
            if r["json"] is not None and not os.path.isfile(os.path.join(run, r["json"])):
                fail(f"runs.jsonl line {n}: json {r['json']} missing")
            if r["status"] == "ok":
                with open(os.path.join(run, r["json"])) as j:
                    json.load(j)  # Python accepts the bare NaN of Google Benchmark
                if r["reason"] is not None or r["exit_code"] != 0:
                    fail(f"runs.jsonl line {n}: ok with a reason or a non-zero exit")
            else:
                if not r["reason"]:
                    fail(f"runs.jsonl line {n}: {r['status']} without a reason")
            if r["status"] == "crash" and not (r["signal"] or "").startswith("SIG"):
                fail(f"runs.jsonl line {n}: crash without a signal name")
            if (r["signal"] is None) == (r["exit_code"] is None) and r["status"] != "timeout":
                fail(f"runs.jsonl line {n}: needs exactly one of signal and exit_code")
            for key in ("wall_s", "user_s", "sys_s"):
                if not isinstance(r[key], (int, float)) or r[key] < 0:
                    fail(f"runs.jsonl line {n}: {key} = {r[key]!r}")
            for key in ("max_rss_kb", "minflt", "majflt"):
                if not isinstance(r[key], int) or r[key] < 0:
                    fail(f"runs.jsonl line {n}: {key} = {r[key]!r}")
            if counting:
                check_counts(n, r, run)
            rows.append(r)
    if meta["done"] != len(rows):
        fail(f"meta.json: done = {meta['done']} but runs.jsonl has {len(rows)} lines")
    counts = {s: sum(1 for r in rows if r["status"] == s) for s in STATUSES}
    if counts != meta["counts"]:
        fail(f"meta.json: counts {meta['counts']} but runs.jsonl says {counts}")
    if meta["state"] == "complete" and meta["done"] != meta["planned"]:
        fail("meta.json: complete but done != planned")
    ids = [r["id"] for r in rows]
    if len(set(ids)) != len(ids):
        fail("runs.jsonl: duplicate ids")
    leftovers = [f for f in os.listdir(run) if f.endswith(".tmp")]
    if leftovers:
        fail(f"leftover temporary files: {leftovers}")
    for r in rows:
        if r.get("kind") == "program":
            print(r["id"], r["allocator"], "program/" + r["program"], r["status"],
                  r["signal"] or "-", "-" if r["exit_code"] is None else r["exit_code"], "nojson")
            continue
        print(r["id"], r["allocator"], r["benchmark"], r["status"], r["signal"] or "-",
              "-" if r["exit_code"] is None else r["exit_code"],
              "json" if r["json"] else "nojson")


main()
