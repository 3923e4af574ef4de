"""Checks the JSON written by harness/tests/shim_test.c (see that file for
what each benchmark does).

usage: check_shim_json.py STDOUT_JSON OUT_FILE_JSON
Exits 0 when every check holds; otherwise prints each failure and exits 1.
"""
import json
import math
import sys

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)


def close(a, b, rel=1e-6):
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        print(f"check_shim_json: cannot read {path}: {e}")
        sys.exit(1)


def seconds(b):
    """The duration rates are divided by: real time when the name says so."""
    unit = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[b["time_unit"]]
    t = b["real_time"] if ("/real_time" in b["name"] or "/manual_time" in b["name"]) \
        else b["cpu_time"]
    return t * unit * b["iterations"]


def main():
    if len(sys.argv) != 3:
        print("usage: check_shim_json.py STDOUT_JSON OUT_FILE_JSON")
        sys.exit(2)
    doc = load(sys.argv[1])
    doc_file = load(sys.argv[2])

    # --benchmark_out writes the same runs as --benchmark_format=json
    names = [b["name"] for b in doc["benchmarks"]]
    check(names == [b["name"] for b in doc_file["benchmarks"]],
          "stdout JSON and --benchmark_out file list different benchmarks")

    ctx = doc["context"]
    check(ctx.get("shim_test_key") == "value 42", f"context shim_test_key: {ctx.get('shim_test_key')!r}")
    check(ctx.get("second_key") == 'x"y', f"context second_key: {ctx.get('second_key')!r}")
    check(doc_file["context"].get("shim_test_key") == "value 42", "context missing from the out file")

    runs = {}
    for b in doc["benchmarks"]:
        if b["run_type"] == "iteration":
            runs.setdefault(b["name"], []).append(b)

    def one(name):
        r = runs.get(name)
        if not r:
            failures.append(f"missing benchmark {name}")
            return None
        return r[0]

    # registration order: reg_a's families before reg_b's
    check("order_first/iterations:1000" in names and "order_second/iterations:1000" in names
          and names.index("order_first/iterations:1000") < names.index("order_second/iterations:1000"),
          "registration functions did not run sorted by name")

    # arguments with names: the instance name and the values the body saw agree
    expected_args = {
        "args/size:16/live:3/iterations:20": [16, 3],
        "args/size:32/live:7/iterations:20": [32, 7],
        "arg_single/99/iterations:10": [99],
    }
    for n in (1, 4, 16, 64):
        expected_args[f"range/n:{n}/iterations:10"] = [n]
    for d in (5, 8, 11):
        expected_args[f"dense/d:{d}/iterations:10"] = [d]
    for y in (10, 16, 20):
        for x in (1, 2):
            expected_args[f"ranges/x:{x}/y:{y}/iterations:10"] = [x, y]
    for q in (100, 200, 300):
        for p in (3, 4):
            expected_args[f"product/p:{p}/q:{q}/iterations:10"] = [p, q]
    for name, vals in expected_args.items():
        b = one(name)
        if b is None:
            continue
        got = [b.get(f"arg{i}") for i in range(len(vals))]
        check(got == vals, f"{name}: body saw arguments {got}, expected {vals}")
    for fam in ("args/", "range/", "dense/", "ranges/", "product/", "arg_single/"):
        extra = [n for n in runs if n.startswith(fam) and n not in expected_args]
        check(not extra, f"unexpected instances {extra}")

    # iterations fixed per thread; threads; real time forced on multi-thread families
    thread_cases = {
        "threads/iterations:500/real_time/threads:2": (2, 500),
        "thread_range/iterations:300/real_time/threads:1": (1, 300),
        "thread_range/iterations:300/real_time/threads:2": (2, 300),
        "thread_range/iterations:300/real_time/threads:4": (4, 300),
        "dense_threads/iterations:300/real_time/threads:1": (1, 300),
        "dense_threads/iterations:300/real_time/threads:3": (3, 300),
        "one_thread/iterations:300/threads:1": (1, 300),
    }
    for name, (t, per) in thread_cases.items():
        b = one(name)
        if b is None:
            continue
        check(b["threads"] == t, f"{name}: threads {b['threads']}")
        check(b["iterations"] == t * per, f"{name}: iterations {b['iterations']} != {t * per}")
        check(b.get("index_sum") == t * (t - 1) / 2, f"{name}: thread indices sum to {b.get('index_sum')}")
        check(b.get("count_avg") == t, f"{name}: thread count (averaged) {b.get('count_avg')}")
        check(b.get("one_per_thread") == t, f"{name}: counters not summed over threads")
        check(b.get("iters_sum") == t * per, f"{name}: per-thread iteration counts sum to {b.get('iters_sum')}")
    for fam in ("threads/", "thread_range/", "dense_threads/", "one_thread/"):
        extra = [n for n in runs if n.startswith(fam) and n not in thread_cases]
        check(not extra, f"unexpected instances {extra}")

    # counters with their flags applied, items and bytes per second
    for name, t in (("counters/min_time:0.010", 1),
                    ("counters_threads/min_time:0.010/real_time/threads:2", 2)):
        b = one(name)
        if b is None:
            continue
        it, s = b["iterations"], seconds(b)
        check(it > 1000, f"{name}: only {it} iterations")
        exp = {
            "plain": 5 * t,
            "rate": 1000 * t / s,
            "avg_threads": 6,
            "avg_threads_rate": 1000 / s,
            "invariant": 3 * t * it,
            "invariant_rate": 3 * t * it / s,
            "avg_iters": 1e6 * t / it,
            "avg_iters_rate": 1e6 * t / it / s,
            "inverted": 1 / (4 * t),
            "inverted_rate": s / (4 * t),
            "kibi": 2048 * t,
            "items_per_second": 2 * it / s,
            "bytes_per_second": 64 * it / s,
        }
        for k, v in exp.items():
            got = b.get(k)
            check(got is not None and close(got, v, 1e-4), f"{name}: counter {k} = {got}, expected {v}")
        check(b.get("label") == "a label", f"{name}: label {b.get('label')!r}")

    # repetitions: three runs plus the aggregates
    reps = runs.get("repeated/min_time:0.010/repeats:3", [])
    check(len(reps) == 3 and sorted(r["repetition_index"] for r in reps) == [0, 1, 2],
          f"repeated: {len(reps)} repetitions")
    aggs = {b.get("aggregate_name") for b in doc["benchmarks"]
            if b["run_type"] == "aggregate" and b["name"].startswith("repeated/")}
    check({"mean", "median", "stddev", "cv"} <= aggs, f"repeated: aggregates {aggs}")
    check(all(r.get("plain") == 5 for r in reps), "repeated: counters missing in repetitions")

    # skip with an error message
    b = one("skip")
    if b is not None:
        check(b.get("error_occurred") is True, "skip: error_occurred not set")
        check(b.get("error_message") == "deliberate skip: 42", f"skip: message {b.get('error_message')!r}")

    # manual time: 2 ms per iteration, in ms
    b = one("manual/iterations:7/manual_time")
    if b is not None:
        check(b["time_unit"] == "ms" and close(b["real_time"], 2.0, 1e-6),
              f"manual: real_time {b['real_time']} {b['time_unit']}, expected 2 ms")
        check(b["iterations"] == 7, f"manual: iterations {b['iterations']}")

    b = one("pause/iterations:5")
    if b is not None:
        check(b["time_unit"] == "us" and b.get("paused") == 5, "pause: unit or pause count wrong")

    b = one("warmup/min_time:0.010/min_warmup_time:0.010")
    check(b is not None and b["iterations"] > 0, "warmup: did not run")

    # DoNotOptimize / ClobberMemory keep a 64 MiB write: the peak RSS grows
    for name in ("do_not_optimize/iterations:1", "clobber/iterations:1"):
        b = one(name)
        if b is not None:
            check(b.get("hwm_growth", 0) >= 60 * 2**20,
                  f"{name}: peak RSS grew by {b.get('hwm_growth')} B; the write was optimised away")

    # loop overhead: informational figures, printed for the record
    for name in ("empty_batch/min_time:0.050", "empty_loop/min_time:0.050"):
        b = one(name)
        if b is not None:
            print(f"{name}: {b['real_time']:.4f} {b['time_unit']} per operation")

    if failures:
        for f in failures:
            print("FAIL:", f)
        print(f"check_shim_json: {len(failures)} failure(s)")
        sys.exit(1)
    print(f"check_shim_json: ok ({len(names)} entries)")


if __name__ == "__main__":
    main()
