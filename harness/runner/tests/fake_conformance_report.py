#!/usr/bin/python3
"""Stand-in for scripts/conformance_report.py in the runner's tests: records
its arguments in RUN/report-args.json, checks that every
conformance/<allocator>.json that exists parses, and exits with
$FAKE_REPORT_EXIT (default 0)."""
import glob
import json
import os
import sys

run = sys.argv[1]
found = {}
for path in sorted(glob.glob(os.path.join(run, "conformance", "*.json"))):
    with open(path) as f:
        found[os.path.basename(path)[:-5]] = json.load(f)
with open(os.path.join(run, "report-args.json"), "w") as f:
    json.dump({"args": sys.argv[1:], "allocators": sorted(found)}, f)
print("fake conformance report: %d allocators" % len(found))
sys.exit(int(os.environ.get("FAKE_REPORT_EXIT", "0")))
