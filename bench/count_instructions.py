"""Instructions per operation of the single-thread workloads, counted by
callgrind: the repeatable figure for noisy machines (CI).

Each instance runs in its own process,
    valgrind --tool=callgrind --collect-atstart=no build/<A>/bench
             --benchmark_filter=^NAME$ --benchmark_min_time=T
with HEAPMARK_COUNT_OPS set, so that the shim collects only inside the timed
loops and reports how many operations ran there (harness/gbench.h). The
result is the profile's total Ir divided by that count: malloc, free and the
loop, nothing of the harness.

usage: count_instructions.py [--allocators A,B] [--filter REGEX]
                             [--profile P] [--min-time S] [--out FILE.csv]
Writes CSV rows allocator,benchmark,instructions_per_op,operations,instructions
(to stdout without --out). Run from the repository root after `make`.
"""
import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile


def die(msg):
    print(f"count_instructions: {msg}", file=sys.stderr)
    sys.exit(2)


def built_allocators():
    if not os.path.isdir("build"):
        return []
    return sorted(d for d in os.listdir("build") if os.path.isfile(os.path.join("build", d, "bench")))


def list_instances(binary, profile):
    env = dict(os.environ, HEAPMARK_PROFILE=profile)
    r = subprocess.run([binary, "--benchmark_list_tests"], env=env, capture_output=True, text=True)
    if r.returncode != 0:
        die(f"{binary} --benchmark_list_tests failed: {r.stderr.strip()}")
    return [l.strip() for l in r.stdout.splitlines() if l.strip()]


def total_ir(path):
    """The Ir total of a callgrind output file ('summary:' or 'totals:')."""
    total = None
    with open(path) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                total = int(line.split()[1])
    if total is None:
        raise ValueError(f"no summary line in {path}")
    return total


def count(binary, name, profile, min_time, tmp):
    out = os.path.join(tmp, "callgrind.out")
    ops_file = os.path.join(tmp, "ops.json")
    for p in (out, ops_file):
        if os.path.exists(p):
            os.remove(p)
    env = dict(os.environ, HEAPMARK_PROFILE=profile, HEAPMARK_COUNT_OPS=ops_file)
    cmd = ["valgrind", "--tool=callgrind", "--collect-atstart=no",
           f"--callgrind-out-file={out}", binary, f"--benchmark_filter=^{re.escape(name)}$",
           f"--benchmark_min_time={min_time}", "--benchmark_format=json"]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"exit {r.returncode}: {r.stderr.strip().splitlines()[-1:]}")
    with open(ops_file) as f:
        ops = json.load(f)
    if not ops.get("under_callgrind"):
        raise RuntimeError("the binary did not run under callgrind")
    if ops["operations"] <= 0:
        raise RuntimeError("no operations were counted")
    ir = total_ir(out)
    return ir / ops["operations"], ops["operations"], ir


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--allocators", help="comma-separated (default: every build/<A>/bench)")
    ap.add_argument("--filter", default="", help="regex searched in the instance names")
    ap.add_argument("--profile", default="default", choices=["quick", "default", "full"])
    ap.add_argument("--min-time", type=float, default=0.05)
    ap.add_argument("--out", help="CSV file (default: stdout)")
    args = ap.parse_args()

    if shutil.which("valgrind") is None:
        die("valgrind is not installed (scripts/bootstrap-deps.sh installs it)")
    allocs = args.allocators.split(",") if args.allocators else built_allocators()
    if not allocs:
        die("no bench binaries under build/: run make first")
    try:
        pattern = re.compile(args.filter)
    except re.error as e:
        die(f"bad --filter: {e}")

    rows, failed = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        for a in allocs:
            binary = os.path.join("build", a, "bench")
            if not os.path.isfile(binary):
                die(f"unknown allocator '{a}': there is no {binary}")
            names = [n for n in list_instances(binary, args.profile)
                     if n.endswith("/threads:1") and pattern.search(n)]
            if not names:
                die(f"no single-thread instance matches '{args.filter}'")
            for n in names:
                try:
                    per_op, ops, ir = count(binary, n, args.profile, args.min_time, tmp)
                except (RuntimeError, ValueError, OSError) as e:
                    print(f"count_instructions: {a} {n}: {e}", file=sys.stderr)
                    failed += 1
                    continue
                rows.append([a, n, f"{per_op:.1f}", ops, ir])
                print(f"{a:10} {n:55} {per_op:10.1f} instructions/op", file=sys.stderr)

    f = open(args.out, "w", newline="") if args.out else sys.stdout
    w = csv.writer(f)
    w.writerow(["allocator", "benchmark", "instructions_per_op", "operations", "instructions"])
    w.writerows(rows)
    if args.out:
        f.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
