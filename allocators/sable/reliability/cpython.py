#!/usr/bin/python3
"""cpython.py: CPython's own regression tests under glibc and under sable.

Usage: cpython.py LIBSABLE OUTDIR MODULE... [--jobs N] [--timeout SECONDS]

Runs `python3 -m test -j N --junit-xml` on the given test modules (Debian's
libpython3.11-testsuite) in six configurations: glibc, sable (LD_PRELOAD)
and sable in secure mode (SABLE_SECURE=1), each with Python's own small-
object allocator and with PYTHONMALLOC=malloc (every object from malloc).
Every test case's outcome (pass, skip, fail, error) is compared with
glibc's under the same PYTHONMALLOC: a case that passes or is skipped under
glibc but fails, errs or is missing under sable fails the run. Every
python3 process records through sitecustomize.py (cpython_site/) whether
libsable.so is mapped in it: every test worker of a sable run must have it,
none of a glibc run. One summary line per configuration on stdout and in
OUTDIR/summary.txt; exit status 0 when all agree, 1 otherwise, 2 on bad
usage."""
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
PYMALLOCS = [("pymalloc", None), ("malloc", "malloc")]
ALLOCATORS = ["glibc", "sable", "sable-secure"]


def usage(msg):
    print("cpython.py: %s (usage: cpython.py LIBSABLE OUTDIR MODULE... [--jobs N] "
          "[--timeout SECONDS])" % msg, file=sys.stderr)
    sys.exit(2)


def parse_args(argv):
    jobs, timeout, rest = 2, 1800, []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("--jobs", "--timeout"):
            if i + 1 >= len(argv) or not argv[i + 1].isdigit() or int(argv[i + 1]) <= 0:
                usage("%s wants a positive integer" % a)
            if a == "--jobs":
                jobs = int(argv[i + 1])
            else:
                timeout = int(argv[i + 1])
            i += 2
            continue
        rest.append(a)
        i += 1
    if len(rest) < 3:
        usage("a library, an output folder and at least one module are needed")
    lib, out, modules = rest[0], rest[1], rest[2:]
    if not os.path.isfile(lib):
        usage("no such library: %s" % lib)
    for m in modules:
        if not m.startswith("test_"):
            usage("not a test module name: %s" % m)
    return os.path.abspath(lib), os.path.abspath(out), modules, jobs, timeout


def outcomes(xml_path):
    """test case name -> pass/skip/fail/error, from regrtest's JUnit XML"""
    result = {}
    root = ET.parse(xml_path).getroot()
    for case in root.iter("testcase"):
        kids = {k.tag for k in case}
        if "error" in kids:
            status = "error"
        elif "failure" in kids:
            status = "fail"
        elif "skipped" in kids or case.get("status") == "skipped":
            status = "skip"
        else:
            status = "pass"
        result[case.get("name")] = status
    return result


def run_config(name, pymalloc, lib, out, modules, jobs, timeout):
    d = os.path.join(out, name)
    maps = os.path.join(d, "maps")
    os.makedirs(maps, exist_ok=True)
    for f in os.listdir(maps):
        os.unlink(os.path.join(maps, f))
    env = dict(os.environ)
    for k in ("LD_PRELOAD", "SABLE_SECURE", "PYTHONMALLOC", "SABLE_STATS", "SABLE_LOG"):
        env.pop(k, None)
    env["PYTHONPATH"] = os.path.join(HERE, "cpython_site")
    env["HEAPMARK_RELI_MAPS"] = maps
    env["HEAPMARK_RELI_LIB"] = os.path.realpath(lib)  # what /proc/<pid>/maps shows
    if name.startswith("sable"):
        env["LD_PRELOAD"] = lib
    if name.startswith("sable-secure"):
        env["SABLE_SECURE"] = "1"
    if pymalloc:
        env["PYTHONMALLOC"] = pymalloc
    xml = os.path.join(d, "junit.xml")
    if os.path.exists(xml):
        os.unlink(xml)
    cmd = ["/usr/bin/python3", "-m", "test", "-j", str(jobs), "--timeout", "600",
           "--junit-xml", xml] + modules
    with open(os.path.join(d, "output.txt"), "w") as log:
        try:
            rc = subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                timeout=timeout, cwd=d).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
    cases = outcomes(xml) if os.path.exists(xml) else {}
    procs = []
    for f in os.listdir(maps):
        with open(os.path.join(maps, f)) as fh:
            procs.append(fh.read().split())
    return {"rc": rc, "cases": cases, "procs": procs}


def main():
    lib, out, modules, jobs, timeout = parse_args(sys.argv[1:])
    os.makedirs(out, exist_ok=True)
    results = {}
    lines = []
    fail = False
    for pm_name, pm in PYMALLOCS:
        for alloc in ALLOCATORS:
            name = "%s-%s" % (alloc, pm_name)
            r = run_config(name, pm, lib, out, modules, jobs, timeout)
            results[name] = r
            c = r["cases"]
            count = {s: sum(1 for v in c.values() if v == s)
                     for s in ("pass", "skip", "fail", "error")}
            workers = [p for p in r["procs"] if p and p[0] == "worker"]
            with_sable = sum(1 for p in workers if p[1] == "sable")
            line = ("%-22s %d modules, %d test cases: %d passed, %d skipped, %d failed, "
                    "%d errors; exit %s; %d test workers, %d with libsable.so mapped"
                    % (name, len(modules), len(c), count["pass"], count["skip"], count["fail"],
                       count["error"], r["rc"], len(workers), with_sable))
            print(line, flush=True)
            lines.append(line)
            problems = []
            if not c:
                problems.append("no test case results (see %s/output.txt)" % name)
            if alloc == "glibc" and with_sable:
                problems.append("libsable.so mapped in a glibc run")
            if alloc != "glibc" and (not workers or with_sable != len(workers)):
                problems.append("libsable.so not mapped in %d of %d test workers"
                                % (len(workers) - with_sable, len(workers)))
            if alloc != "glibc":
                base = results["glibc-%s" % pm_name]["cases"]
                for case, st in sorted(base.items()):
                    got = c.get(case, "missing")
                    if st in ("pass", "skip") and got in ("fail", "error", "missing"):
                        problems.append("%s: %s under glibc, %s here" % (case, st, got))
            for p in problems:
                msg = "FAIL %s: %s" % (name, p)
                print(msg)
                lines.append(msg)
                fail = True
    with open(os.path.join(out, "summary.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    if not fail:
        print("cpython: every test case that passes or is skipped under glibc does the same "
              "under sable, normal and secure, with and without PYTHONMALLOC=malloc")
    return 1 if fail else 0


if __name__ == "__main__":
    sys.exit(main())
