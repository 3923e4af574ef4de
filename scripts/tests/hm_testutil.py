"""Helpers shared by the report/compare tests: paths, scratch folders, running
the scripts, and editing copies of the fixture run."""

import json
import os
import shutil
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SCRIPTS = os.path.join(ROOT, "scripts")
FIXTURE = os.path.join(HERE, "fixtures", "run-small")
PYTHON = "/usr/bin/python3"


def scratch():
    """A fresh folder under build/ (git-ignored); removed by the caller's cleanup."""
    base = os.path.join(ROOT, "build", "test-scratch")
    os.makedirs(base, exist_ok=True)
    return tempfile.mkdtemp(dir=base)


def copy_fixture(dest_parent, name="run"):
    dest = os.path.join(dest_parent, name)
    shutil.copytree(FIXTURE, dest)
    return dest


def run_script(name, *args):
    env = dict(os.environ, MPLBACKEND="Agg")
    env.pop("HEAPMARK_DEBUG", None)
    p = subprocess.run([PYTHON, os.path.join(SCRIPTS, name)] + list(args), env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                       timeout=300)
    return p.returncode, p.stdout, p.stderr


def read_records(run):
    with open(os.path.join(run, "runs.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


def write_records(run, recs):
    with open(os.path.join(run, "runs.jsonl"), "w") as f:
        f.write("".join(json.dumps(r) + "\n" for r in recs))


def raw_path(run, allocator, benchmark):
    for r in read_records(run):
        if r["allocator"] == allocator and r["benchmark"] == benchmark:
            return os.path.join(run, r["json"]) if r.get("json") else None
    raise KeyError((allocator, benchmark))


def edit_times(run, allocator, benchmark, fn):
    """Replaces each repetition's real_time t by fn(index, t) in one raw JSON."""
    p = raw_path(run, allocator, benchmark)
    with open(p) as f:
        doc = json.load(f)
    i = 0
    for e in doc["benchmarks"]:
        if e.get("run_type") == "iteration":
            e["real_time"] = fn(i, e["real_time"])
            i += 1
    with open(p, "w") as f:
        json.dump(doc, f)


def iteration_times(path):
    with open(path) as f:
        doc = json.load(f)
    return [e["real_time"] for e in doc["benchmarks"] if e.get("run_type") == "iteration"]


def edit_meta(run, fn):
    """Rewrites run/meta.json with fn(meta) applied (fn edits the dict in place)."""
    path = os.path.join(run, "meta.json")
    with open(path) as f:
        meta = json.load(f)
    fn(meta)
    with open(path, "w") as f:
        json.dump(meta, f)


def split_conformance(tmp, **meta):
    """The fixture as make bench and make conformance leave it: a bench run
    folder and, beside it, a conformance run folder holding the fixture's
    conformance/ and a copy of its meta.json with kind "conformance" (and
    `meta` on top). Returns (bench folder, conformance folder)."""
    bench = copy_fixture(tmp, "20261121T050000Z-fixture-vm")
    conf = os.path.join(tmp, "20261121T051000Z-fixture-vm")
    os.makedirs(conf)
    shutil.move(os.path.join(bench, "conformance"), os.path.join(conf, "conformance"))
    with open(os.path.join(bench, "meta.json")) as f:
        m = json.load(f)
    m.update(kind="conformance", benchmarks=[], planned=0, done=0, **meta)
    with open(os.path.join(conf, "meta.json"), "w") as f:
        json.dump(m, f)
    return bench, conf


def to_instructions(run, factor=10.0):
    """Makes a copy of the fixture look like a `heapmark run --instructions` folder:
    instructions_per_op in runs.jsonl (factor x the median real_time, so that the
    figures differ per allocator), one ok process without a count (a note)."""
    edit_meta(run, lambda meta: meta["options"].update(instructions=True, repetitions=1))
    recs = read_records(run)
    for r in recs:
        if r["status"] != "ok":
            continue
        times = sorted(t for t in iteration_times(os.path.join(run, r["json"])) if t == t)
        r.update(instructions_per_op=round(times[len(times) // 2] * factor, 2),
                 instructions=1000, operations=100, process_threads=1,
                 callgrind="raw/%s/%s.callgrind" % (r["allocator"], r["id"]), note=None)
        if r["allocator"] == "jemalloc" and r["benchmark"].startswith("latency/"):
            r.update(instructions_per_op=None, process_threads=2,
                     note="the process started threads: their instructions are not counted")
    write_records(run, recs)


def add_variant(run, name, base, env, time_factor, rss_factor, crash=()):
    """Adds to a copy of the fixture the allocator `name`, a variant of `base`
    (meta.json base/env, as `heapmark run --allocators name=base:VAR=VAL`
    writes them): a copy of each of base's processes with every repetition's
    real_time multiplied by time_factor[benchmark] and max_rss_kb by
    rss_factor[benchmark] (rounded to a whole KiB); the benchmarks in `crash`
    crash instead. Base's failures are copied as they are."""
    with open(os.path.join(run, "meta.json")) as f:
        meta = json.load(f)
    for a in meta["allocators"]:
        a.setdefault("base", a["name"])
        a.setdefault("env", {})
    entry = dict([a for a in meta["allocators"] if a["name"] == base][0], name=name, env=env)
    meta["allocators"].append(entry)
    recs = read_records(run)
    n = max(int(r["id"]) for r in recs)
    os.makedirs(os.path.join(run, "raw", name), exist_ok=True)
    added = []
    for r in recs:
        if r["allocator"] != base:
            continue
        n += 1
        rid = "%04d" % n
        bench = r["benchmark"]
        nr = dict(r, id=rid, allocator=name, log="raw/%s/%s.log" % (name, rid))
        with open(os.path.join(run, nr["log"]), "w") as f:
            f.write("running %s\n" % bench)
        if bench in crash:
            nr.update(status="crash", signal="SIGSEGV", exit_code=None, json=None,
                      reason="killed by SIGSEGV")
        elif r["status"] == "ok":
            with open(os.path.join(run, r["json"])) as f:
                doc = json.load(f)
            for e in doc["benchmarks"]:
                if e.get("run_type") == "iteration":
                    e["real_time"] *= time_factor[bench]
            nr["json"] = "raw/%s/%s.json" % (name, rid)
            with open(os.path.join(run, nr["json"]), "w") as f:
                json.dump(doc, f)
            nr["max_rss_kb"] = int(round(r["max_rss_kb"] * rss_factor[bench]))
        added.append(nr)
    meta["planned"] += len(added)
    meta["done"] += len(added)
    with open(os.path.join(run, "meta.json"), "w") as f:
        json.dump(meta, f)
    write_records(run, recs + added)
    return added
