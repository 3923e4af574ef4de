#!/usr/bin/python3
"""Writes the small run folder the report tests use (scripts/tests/fixtures/run-small),
following results/README.md: 4 allocators x 5 workloads, 5 repetitions each,
with one crash (sable), one timeout (mimalloc), one NaN real_time and one
Infinity counter (jemalloc), and a conformance matrix with failures.

usage: scripts/tests/make_fixture.py OUT_DIR
The output is deterministic (seeded); the committed fixture is its output.
"""

import json
import os
import random
import sys

ALLOCS = [("glibc", "2.36", "/lib/x86_64-linux-gnu/libc.so.6"),
          ("jemalloc", "5.3.0-0-g54eaed1d8b56b1aa528be3bdd1877e59c56fa90c",
           "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"),
          ("mimalloc", "209", "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2.0"),
          ("sable", "0.1.0", "build/sable/libsable.so")]
# benchmark -> per-allocator median ns/op, time unit, peak RSS (KiB)
BENCH = {
    "malloc_free/size:16/threads:1": ({"glibc": 18.0, "jemalloc": 11.0, "mimalloc": 8.5, "sable": 9.5},
                                      "ns", 3400),
    "malloc_free/size:4096/threads:1": ({"glibc": 24.0, "jemalloc": 19.0, "mimalloc": 14.0,
                                         "sable": 16.0}, "ns", 3600),
    "malloc_free/size:16/threads:2": ({"glibc": 12.0, "jemalloc": 6.2, "mimalloc": 4.6, "sable": 5.1},
                                      "ns", 3900),
    "latency/size:64/threads:1": ({"glibc": 30.0, "jemalloc": 26.0, "mimalloc": 22.0, "sable": 25.0},
                                  "ns", 3500),
    "memory_growth/phases:6/threads:1": ({"glibc": 41000.0, "jemalloc": 35000.0, "mimalloc": 30000.0,
                                          "sable": 33000.0}, "us", 90000),
}
REPS = 5
# RSS of each allocator's process before the workload's first allocation
STARTUP = {"glibc": 2621440, "jemalloc": 3145728, "mimalloc": 2883584, "sable": 2490368}
CRASH = ("sable", "malloc_free/size:4096/threads:1")
TIMEOUT = ("mimalloc", "memory_growth/phases:6/threads:1")
NAN = ("jemalloc", "malloc_free/size:16/threads:2")


def gb_name(bench):
    family, rest = bench.split("/", 1)
    parts = rest.split("/")
    threads = [p for p in parts if p.startswith("threads:")]
    params = [p for p in parts if not p.startswith("threads:")]
    return "/".join([family] + params + ["real_time"] + threads)


def entries(rng, alloc, bench):
    base, unit, _rss = BENCH[bench]
    t_med = base[alloc]
    name = gb_name(bench)
    threads = int(bench.rsplit("threads:", 1)[1])
    out = []
    reps = []
    for i in range(REPS):
        t = t_med * (1.0 + rng.uniform(-0.03, 0.03))
        e = {"name": name, "family_index": 0, "per_family_instance_index": 0, "run_name": name,
             "run_type": "iteration", "repetitions": REPS, "repetition_index": i,
             "threads": threads, "iterations": 1000000, "real_time": t, "cpu_time": t * 0.98,
             "time_unit": unit, "items_per_second": 1e9 / (t * (1e3 if unit == "us" else 1.0))}
        if bench.startswith("latency/"):
            scale = t_med / 30.0
            for op, k in (("malloc", 1.0), ("free", 0.7)):
                e["lat_%s_p50_ns" % op] = round(40 * k * scale * (1 + rng.uniform(-.02, .02)), 1)
                e["lat_%s_p99_ns" % op] = round(95 * k * scale * (1 + rng.uniform(-.05, .05)), 1)
                e["lat_%s_p999_ns" % op] = round(400 * k * scale * (1 + rng.uniform(-.1, .1)), 1)
                e["lat_%s_max_ns" % op] = round(9000 * k * scale * (1 + rng.uniform(-.3, .3)), 1)
                e["lat_%s_samples" % op] = 4096.0
        if bench.startswith("memory_growth/"):
            grow = {"glibc": 1.0, "jemalloc": 0.8, "mimalloc": 0.7, "sable": 0.6}[alloc]
            for p in range(6):
                live = (p + 1) * 8 * 1048576
                e["rss_t%d" % p] = float(int(live * (1 + grow * p / 6.0)))
            e["peak_rss_bytes"] = float(int(6 * 8 * 1048576 * (1 + grow)))
            e["overhead"] = 1.0 + grow
        if (alloc, bench) == NAN and i == 2:
            e["real_time"] = float("nan")
            e["cpu_time"] = float("nan")
            e["items_per_second"] = float("inf")
        reps.append(t)
        out.append(e)
    mean = sum(reps) / len(reps)
    for agg, v in (("mean", mean), ("median", sorted(reps)[2]), ("stddev", 0.01 * mean),
                   ("cv", 0.01)):
        out.append({"name": name + "_" + agg, "run_name": name, "run_type": "aggregate",
                    "repetitions": REPS, "threads": threads, "aggregate_name": agg,
                    "aggregate_unit": "percentage" if agg == "cv" else "time", "iterations": REPS,
                    "real_time": v, "cpu_time": v, "time_unit": unit})
    return out


def main(out):
    rng = random.Random(20261121)
    os.makedirs(out, exist_ok=True)
    benches = list(BENCH)
    meta = {
        "schema": 1, "tool": "heapmark", "kind": "bench", "started": "2026-11-21T05:00:00Z",
        "finished": "2026-11-21T05:03:10Z", "state": "complete",
        "command_line": "build/heapmark run --profile quick --repetitions 5",
        "host": "fixture-vm", "cpu_model": "AMD EPYC 7B13 64-Core Processor", "cores": 2,
        "kernel": "6.18.0", "arch": "x86_64", "os": "Debian GNU/Linux 12 (bookworm)",
        "thp": "madvise", "thp_defrag": "madvise", "clocksource": "tsc", "compiler": "gcc 12.2.0",
        "git_revision": "abc1234-dirty",
        "options": {"profile": "quick", "repetitions": REPS, "timeout_s": 60, "filter": None,
                    "min_time_s": 0.05},
        "allocators": [{"name": a, "version": v, "library": lib,
                        "binary": "build/%s/bench" % a, "preload": None} for a, v, lib in ALLOCS],
        "benchmarks": benches, "planned": len(benches) * len(ALLOCS),
        "done": len(benches) * len(ALLOCS),
    }
    lines = []
    n = 0
    for bench in benches:                       # interleaved: A B C D A B C D ...
        for a, ver, lib in ALLOCS:
            n += 1
            rid = "%04d" % n
            d = os.path.join(out, "raw", a)
            os.makedirs(d, exist_ok=True)
            rec = {"id": rid, "allocator": a, "benchmark": bench, "status": "ok", "reason": None,
                   "exit_code": 0, "signal": None, "wall_s": round(0.4 + rng.random(), 2),
                   "user_s": 0.3, "sys_s": 0.02,
                   "max_rss_kb": int(BENCH[bench][2] * {"glibc": 1.0, "jemalloc": 1.15,
                                                          "mimalloc": 1.3, "sable": 0.95}[a]),
                   "minflt": 700 + int(rng.random() * 200), "majflt": 0,
                   "json": "raw/%s/%s.json" % (a, rid), "log": "raw/%s/%s.log" % (a, rid)}
            log = "running %s\n" % bench
            if (a, bench) == CRASH:
                rec.update(status="crash", exit_code=None, signal="SIGSEGV", json=None,
                           reason="killed by SIGSEGV")
                log += "Segmentation fault\n"
            elif (a, bench) == TIMEOUT:
                rec.update(status="timeout", exit_code=None, signal="SIGKILL", json=None,
                           reason="ran past 60 s", wall_s=60.0)
            else:
                doc = {"context": {"date": "2026-11-21T05:00:01+00:00", "host_name": "fixture-vm",
                                   "executable": "build/%s/bench" % a, "num_cpus": 2,
                                   "mhz_per_cpu": 2450, "cpu_scaling_enabled": False,
                                   "library_build_type": "release", "allocator": a,
                                   "allocator_version": ver, "allocator_library": lib,
                                   "heapmark_profile": "quick",
                                   "startup_rss_bytes": str(STARTUP[a])},
                       "benchmarks": entries(rng, a, bench)}
                with open(os.path.join(out, rec["json"]), "w") as f:
                    # Google Benchmark writes bare NaN / Infinity literals
                    f.write(json.dumps(doc, indent=1, allow_nan=True) + "\n")
            with open(os.path.join(out, rec["log"]), "w") as f:
                f.write(log)
            lines.append(json.dumps(rec))
    with open(os.path.join(out, "runs.jsonl"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(out, "meta.json"), "w") as f:
        f.write(json.dumps(meta, indent=1) + "\n")

    checks = [("AL-01", "alignment", "STD"), ("AL-02", "alignment", "STD"),
              ("RE-01", "realloc", "STD"), ("EX-01", "resize_in_place", "EXT"),
              ("EX-02", "free_sized", "EXT"), ("RP-01", "malloc_zero", "REP"),
              ("CP-01", "thread_cache", "CAP"), ("OW-01", "free_range", "OWN"),
              ("HD-01", "hardening", "CAP")]
    verdict = {
        "glibc": ["pass", "pass", "pass", "unsupported", "unsupported", "observed", "absent", "unsupported",
                  "present"],
        "jemalloc": ["pass", "pass", "pass", "pass", "pass", "observed", "present", "unsupported",
                     "absent"],
        "mimalloc": ["pass", "fail", "pass", "pass", "pass", "observed", "present", "unsupported",
                     "absent"],
        "sable": ["pass", "pass", "crash", "pass", "timeout", "observed", "present", "pass",
                  "absent"],
    }
    cdir = os.path.join(out, "conformance")
    os.makedirs(cdir, exist_ok=True)
    for a, ver, lib in ALLOCS:
        cs = []
        for (cid, area, kind), st in zip(checks, verdict[a]):
            detail = ""
            if st == "fail":
                detail = "malloc(24) returned 0x...08, not 16-byte aligned"
            elif st == "observed":
                detail = "malloc(0) returns a unique pointer"
            elif st == "crash":
                detail = "SIGSEGV in the child"
            cs.append({"id": cid, "area": area, "kind": kind, "intent": "fixture check %s" % cid,
                       "status": st, "detail": detail})
        with open(os.path.join(cdir, a + ".json"), "w") as f:
            f.write(json.dumps({"allocator": a, "version": ver, "library": lib, "checks": cs},
                               indent=1) + "\n")


NINE = ["sable", "glibc", "jemalloc", "mimalloc", "tcmalloc", "tbbmalloc", "scudo", "sable-secure",
        "my-own-allocator"]


def noisy_run(out, processes=3, noise=0.25, seed=7, allocs=None):
    """A run with several processes per cell and planted noise between them:
    "twin-a" and "twin-b" have the same true time (each process off by up to
    +-noise), "fast" is twice as fast as glibc, glibc itself drifts by up to
    +-noise/2 between processes. 2 families x 4 workloads.
    allocs: other allocator names instead (times spread from 0.2x to 600x of
    glibc's), with a third family of thread counts, latency percentiles (some
    under the timer floor) and memory series: every plot of a report."""
    rng = random.Random(seed)
    true = {"glibc": 1.0, "fast": 0.5, "twin-a": 0.8, "twin-b": 0.8}
    benches = ["fam_a/size:%d/threads:1" % s for s in (8, 16, 64, 256)] + \
              ["fam_b/size:%d/threads:4" % s for s in (8, 16, 64, 256)]
    if allocs:
        true = {a: (1.0 if a == "glibc" else 0.2 * 3000 ** (i / (len(allocs) - 1.0)))
                for i, a in enumerate(allocs)}
        benches += ["fam_c/size:64/threads:%d" % t for t in (1, 2, 4, 8, 16)] + \
                   ["fam_b/size:%d/threads:4" % s for s in (1024, 4096, 65536, 1048576)]
    os.makedirs(out, exist_ok=True)
    meta = {"schema": 1, "tool": "heapmark", "kind": "bench", "started": "2026-12-04T05:00:00Z",
            "finished": "2026-12-04T05:10:00Z", "state": "complete", "host": "noisy-vm",
            "cpu_model": "Test CPU", "cores": 2, "git_revision": "def5678",
            "options": {"profile": "default", "repetitions": 3, "processes": processes,
                        "filter": None},
            "allocators": [{"name": a, "version": "1"} for a in true],
            "benchmarks": benches, "planned": len(benches) * len(true) * processes,
            "done": len(benches) * len(true) * processes}
    lines, n = [], 0
    for p in range(processes):
        for bench in benches:
            base = 100.0 * (1 + benches.index(bench))
            for a, f in true.items():
                n += 1
                rid = "%04d" % n
                d = os.path.join(out, "raw", a)
                os.makedirs(d, exist_ok=True)
                off = 1.0 + rng.uniform(-noise, noise) * (0.5 if a in ("glibc", "fast") else 1.0)
                name = gb_name(bench)
                ents = []
                for i in range(3):
                    t = base * f * off * (1.0 + rng.uniform(-0.01, 0.01))
                    e = {"name": name, "run_name": name, "run_type": "iteration",
                         "repetitions": 3, "repetition_index": i,
                         "threads": int(bench.rsplit(":", 1)[1]), "iterations": 1000,
                         "real_time": t, "cpu_time": t, "time_unit": "ns"}
                    if allocs and bench.startswith("fam_a/"):
                        e["timer_floor_ns"] = 20.0
                        for pct, v in (("p50", 8.0), ("p99", 60.0), ("p999", 300.0),
                                       ("max", 9000.0)):
                            e["lat_malloc_%s_ns" % pct] = v * f
                    if allocs and bench.startswith("fam_b/"):
                        for j in range(10):
                            e["rss_t%d" % j] = 1048576.0 * (j + 1) * (1 + f / 100.0)
                        e["peak_live_bytes"] = 64 * 1048576.0
                        e["overhead"] = 1.0 + f / 100.0
                        e["rss_after_free_bytes"] = 1048576.0 * f
                        e["rss_after_idle_bytes"] = 524288.0 * f
                    ents.append(e)
                doc = {"context": {"startup_rss_bytes": "2097152",
                                   "library_build_type": "debug"}, "benchmarks": ents}
                with open(os.path.join(out, "raw", a, rid + ".json"), "w") as fh:
                    json.dump(doc, fh)
                lines.append(json.dumps({"id": rid, "allocator": a, "benchmark": bench,
                                         "process": p, "status": "ok", "exit_code": 0,
                                         "max_rss_kb": 4096, "minflt": 10,
                                         "json": "raw/%s/%s.json" % (a, rid),
                                         "log": "raw/%s/%s.log" % (a, rid)}))
    with open(os.path.join(out, "runs.jsonl"), "w") as fh:
        fh.write("\n".join(lines) + "\n")
    with open(os.path.join(out, "meta.json"), "w") as fh:
        json.dump(meta, fh, indent=1)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: make_fixture.py OUT_DIR", file=sys.stderr)
        sys.exit(2)
    main(sys.argv[1])
