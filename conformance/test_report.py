#!/usr/bin/python3
"""Tests of scripts/conformance_report.py (make test-conformance-report).

usage: test_report.py SCRIPT SCRATCH_DIR

Builds small run folders by hand and checks the matrix, the CSV and Markdown
files, the --check comparison (difference named with check, allocator and
both verdicts; exit 1), the version notice, and one-line errors for
malformed input.
"""
import csv
import json
import os
import shutil
import subprocess
import sys

failures = []


def expect(cond, what):
    if not cond:
        failures.append(what)


def check(cid, kind, status, detail="", area="alignment"):
    return {"id": cid, "area": area, "kind": kind, "intent": f"intent of {cid}",
            "status": status, "detail": detail}


def write_run(root, name, runs):
    d = os.path.join(root, name)
    os.makedirs(os.path.join(d, "conformance"))
    for alloc, (version, checks) in runs.items():
        with open(os.path.join(d, "conformance", f"{alloc}.json"), "w") as f:
            json.dump({"allocator": alloc, "version": version, "library": f"/lib/lib{alloc}.so",
                       "checks": checks}, f)
    return d


def run(script, *args):
    return subprocess.run(["/usr/bin/python3", script, *args], capture_output=True, text=True,
                          timeout=60)


def main(script, scratch):
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)
    good = {
        "glibc": ("2.36", [check("AL-01", "STD", "pass"),
                           check("AL-06", "STD", "fail", "aligned_alloc(3, 64) = 0x10"),
                           check("ZR-04", "REP", "observed", "realloc(p,0) -> NULL"),
                           check("HD-01", "CAP", "present", "SIGABRT", "hardening")]),
        "jemalloc": ("5.3.0", [check("AL-01", "STD", "pass"),
                               check("AL-06", "STD", "pass"),
                               check("ZR-04", "REP", "observed", "realloc(p,0) -> NULL"),
                               check("HD-01", "CAP", "absent", "", "hardening")]),
    }
    d = write_run(scratch, "good", good)
    exp = os.path.join(scratch, "expected")
    os.makedirs(exp)
    with open(os.path.join(exp, "glibc.txt"), "w") as f:
        f.write("# test\nallocator glibc 2.36\nAL-01 pass\nAL-06 fail  # known\n"
                "ZR-04 observed\nHD-01 present\n")
    with open(os.path.join(exp, "jemalloc.txt"), "w") as f:
        f.write("allocator jemalloc 5.3.0\nAL-01 pass\nAL-06 fail\nZR-04 observed\nHD-01 absent\n")

    r = run(script, d)
    expect(r.returncode == 0, f"plain report: exit {r.returncode}: {r.stderr}")
    lines = r.stdout.splitlines()
    row = next((l for l in lines if l.startswith("AL-06")), "")
    expect("FAIL" in row and "ok" in row, f"matrix row AL-06: {row!r}")
    expect(lines and "glibc" in lines[0] and "jemalloc" in lines[0], "header names the allocators")
    expect(any(l.startswith("legend:") for l in lines), "no legend")
    expect(any("AL-06 glibc: fail: aligned_alloc(3, 64) = 0x10" in l for l in lines),
           "failure not listed with its detail")
    with open(os.path.join(d, "conformance.csv")) as f:
        rows = list(csv.reader(f))
    expect(rows[0] == ["check", "area", "kind", "allocator", "status", "detail"], f"csv header {rows[0]}")
    expect(len(rows) == 9 and ["AL-06", "alignment", "STD", "glibc", "fail",
                               "aligned_alloc(3, 64) = 0x10"] in rows, "csv rows")
    md = open(os.path.join(d, "conformance.md")).read()
    expect("| AL-06 | STD | alignment | FAIL | ok |" in md, "markdown matrix row")
    expect("realloc(p,0) -> NULL" in md, "markdown lacks the REP observation")

    r = run(script, d, "--expected", exp, "--check")
    expect(r.returncode == 1, f"--check with a difference: exit {r.returncode}")
    expect("DIFF AL-06 jemalloc: expected fail, got pass" in r.stdout,
           f"difference not named: {r.stdout}")
    expect("glibc 2.36: 4 expectations, all met" in r.stdout, "glibc should match")

    with open(os.path.join(exp, "jemalloc.txt"), "w") as f:
        f.write("allocator jemalloc 5.2.1\nAL-01 fail\n")
    r = run(script, d, "--expected", exp, "--check")
    expect(r.returncode == 0, f"--check with another version: exit {r.returncode}")
    expect("expectations were written for jemalloc 5.2.1, this is 5.3.0" in r.stdout,
           f"no version notice: {r.stdout}")
    expect("DIFF" not in r.stdout, "a version mismatch must not list differences")

    # malformed input: one line on stderr, status 2, no traceback
    bad_cases = {
        "notjson": "{not json",
        "nochecks": json.dumps({"allocator": "x", "version": "1", "library": "l"}),
        "badstatus": json.dumps({"allocator": "x", "version": "1", "library": "l",
                                 "checks": [check("ZR-04", "REP", "fail")]}),
        "badkind": json.dumps({"allocator": "x", "version": "1", "library": "l",
                               "checks": [check("ZR-04", "XYZ", "pass")]}),
    }
    for name, text in bad_cases.items():
        dd = os.path.join(scratch, name)
        os.makedirs(os.path.join(dd, "conformance"))
        with open(os.path.join(dd, "conformance", "x.json"), "w") as f:
            f.write(text)
        r = run(script, dd)
        expect(r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
               and "Traceback" not in r.stderr and "x.json" in r.stderr,
               f"malformed {name}: exit {r.returncode}, stderr {r.stderr!r}")
    r = run(script, os.path.join(scratch, "missing"))
    expect(r.returncode == 2 and "no such run folder" in r.stderr, f"missing folder: {r.stderr!r}")
    with open(os.path.join(exp, "jemalloc.txt"), "w") as f:
        f.write("allocator jemalloc 5.3.0\nAL-01 maybe\n")
    r = run(script, d, "--expected", exp, "--check")
    expect(r.returncode == 2 and "jemalloc.txt:2" in r.stderr and "Traceback" not in r.stderr,
           f"malformed expectations: exit {r.returncode}, {r.stderr!r}")

    if failures:
        for f in failures:
            print(f"FAIL {f}")
        return 1
    print("conformance_report.py: matrix, csv, md, --check, version notice and errors as expected")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
