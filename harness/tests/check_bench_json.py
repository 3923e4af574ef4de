"""Checks one bench binary's JSON: every listed instance ran, none failed,
each has items_per_second, the context names the allocator, and the memory,
latency and replay families export their counters with sane values.

usage: check_bench_json.py JSON LIST ALLOCATOR
"""
import json
import sys

MEMORY = ("fragmentation/", "long_short/", "rss_after_free/")
LATENCY = ("latency_",)


def main():
    if len(sys.argv) != 4:
        print("usage: check_bench_json.py JSON LIST ALLOCATOR")
        return 2
    path, listing, alloc = sys.argv[1:]
    try:
        doc = json.load(open(path))
        want = [l.strip() for l in open(listing) if l.strip()]
    except (OSError, ValueError) as e:
        print(f"FAIL: {alloc}: cannot read the output: {e}")
        return 1
    runs = [b for b in doc["benchmarks"] if b["run_type"] == "iteration"]
    bad = []
    got = [b["name"] for b in runs]
    if sorted(got) != sorted(want):
        bad.append(f"ran {len(got)} instances, listed {len(want)}: "
                   f"missing {sorted(set(want) - set(got))[:5]}")
    if doc["context"].get("allocator") != alloc:
        bad.append(f"context allocator {doc['context'].get('allocator')!r}")
    for b in runs:
        n = b["name"]
        if b.get("error_occurred"):
            bad.append(f"{n}: {b.get('error_message')}")
            continue
        if not b.get("items_per_second", 0) > 0:
            bad.append(f"{n}: no items_per_second")
        if n.startswith(MEMORY):
            for k in ("peak_rss_bytes", "peak_live_bytes", "overhead", "rss_after_free_bytes"):
                if k not in b:
                    bad.append(f"{n}: no {k}")
            series = [b.get(f"rss_t{i}") for i in range(10)]
            if None in series:
                bad.append(f"{n}: memory series incomplete: {series}")
            if b.get("peak_live_bytes", 0) <= 0 or b.get("peak_rss_bytes", 0) <= 0:
                bad.append(f"{n}: empty memory figures")
            elif b.get("overhead", 0) < 0.5:
                bad.append(f"{n}: overhead {b.get('overhead')} below 0.5: RSS not measured")
        if n.startswith("replay/"):
            if not b.get("trace_events", 0) > 0 or b.get("failed_allocs") != 0:
                bad.append(f"{n}: trace_events {b.get('trace_events')}, "
                           f"failed_allocs {b.get('failed_allocs')}")
        if n.startswith(LATENCY):
            for op in ("malloc", "free"):
                q = [b.get(f"lat_{op}_{s}") for s in ("p50_ns", "p99_ns", "p999_ns", "max_ns")]
                if None in q or not b.get(f"lat_{op}_samples", 0) > 0:
                    bad.append(f"{n}: {op} latency counters missing: {q}")
                elif not q[0] <= q[1] <= q[2] <= q[3]:
                    bad.append(f"{n}: {op} percentiles out of order: {q}")
            if "timer_floor_ns" not in b:
                bad.append(f"{n}: no timer_floor_ns")
            if n.startswith("latency_cold/") and b.get("purged") == 1 \
                    and not b.get("kept_after_purge_bytes", -1) >= 0:
                bad.append(f"{n}: purged, but no kept_after_purge_bytes")
    for m in bad:
        print(f"FAIL: {alloc}: {m}")
    print(f"{alloc}: {len(got)} instances ran" + (" with failures" if bad else ", counters ok"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
