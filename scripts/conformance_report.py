#!/usr/bin/python3
"""Conformance matrix of a heapmark run.

usage: conformance_report.py RUN_DIR [--expected DIR] [--check]

Reads RUN_DIR/conformance/<allocator>.json (written by build/<A>/conformance
--json), prints the matrix (checks as rows, allocators as columns), lists the
failures with their details, and writes RUN_DIR/conformance.csv
(check,area,kind,allocator,status,detail) and RUN_DIR/conformance.md. The
Makefile runs it on the folder that `build/heapmark conformance` made (make
conformance, make bench, make test-conformance).

An allocator whose binary left no verdicts (crashed, hung or wrote no JSON, as
RUN_DIR/meta.json records) is named on stderr and makes the exit status 1;
whatever part of its JSON it wrote is left out of the matrix.

With --check, each allocator's verdicts are compared with DIR/<allocator>.txt
(default: conformance/expected next to this script's folder); the exit status
is 1 when any verdict differs. An expectation file written for another version
of the allocator is not compared: a notice says so instead.

Expectation files: '#' starts a comment; the first non-comment line is
`allocator NAME VERSION`; every other line is `ID STATUS`.
"""
import argparse
import csv
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hm_results  # noqa: E402

STATUSES = {
    "pass": "ok",
    "fail": "FAIL",
    "crash": "CRASH",
    "timeout": "TIME",
    "unsupported": "n/a",
    "observed": "rep",
    "present": "yes",
    "absent": "no",
}
LEGEND = [
    ("ok", "pass"),
    ("FAIL", "fail: the allocator breaks the contract (details below)"),
    ("CRASH", "the check died of a signal"),
    ("TIME", "timeout: no verdict within the time limit"),
    ("n/a", "unsupported: the function or extension is not the allocator's own"),
    ("rep", "observed (REP: implementation-defined behaviour, see conformance.md)"),
    ("yes/no", "CAP: the optional hardening capability is present / absent"),
]
KINDS = {"STD", "EXT", "REP", "CAP", "OWN"}
KIND_STATUSES = {
    "STD": {"pass", "fail", "unsupported", "crash", "timeout"},
    "EXT": {"pass", "fail", "unsupported", "crash", "timeout"},
    "OWN": {"pass", "fail", "unsupported", "crash", "timeout"},
    "REP": {"observed", "unsupported"},
    "CAP": {"present", "absent", "unsupported", "crash", "timeout"},
}
BAD = {"fail", "crash", "timeout"}
PREFERRED_ORDER = ["sable", "glibc", "jemalloc", "mimalloc", "tcmalloc"]


class InputError(Exception):
    pass


def load_dead(run_dir):
    """The allocators that left no verdicts, from RUN_DIR/meta.json when there
    is one: [(allocator, status, detail, log)]."""
    path = os.path.join(run_dir, "meta.json")
    if not os.path.isfile(path):
        return []
    with open(path, encoding="utf-8") as f:
        try:
            meta = json.load(f)
        except ValueError as e:
            raise InputError(f"{path}: not valid JSON ({e})")
    logs = {a.get("name"): a.get("log") for a in meta.get("allocators") or []
            if isinstance(a, dict)} if isinstance(meta, dict) else {}
    return [(name, status, detail, logs.get(name))
            for name, status, detail in hm_results.conformance_dead(meta)]


def dead_message(dead):
    return (f"{len(dead)} allocator(s) left no conformance results: "
            + "; ".join(f"{name} ({detail}" + (f", see {log}" if log else "") + ")"
                        for name, _status, detail, log in dead))


def load_run(run_dir, dead=()):
    folder = os.path.join(run_dir, "conformance")
    if not os.path.isdir(run_dir):
        raise InputError(f"{run_dir}: no such run folder")
    if not os.path.isdir(folder):
        raise InputError(f"{run_dir}: no conformance/ folder (run `make conformance` first)")
    # a binary that was killed may have left half a file: only the others count
    gone = {d[0] for d in dead}
    files = [f for f in hm_results.read_conformance_files(run_dir) if f[0] not in gone]
    if not files:
        raise InputError(dead_message(dead) if dead else f"{folder}: no <allocator>.json files")
    runs = []
    for allocator, path, data, err in files:
        if isinstance(err, json.JSONDecodeError):
            raise InputError(f"{path}: not valid JSON (line {err.lineno}: {err.msg})")
        if err is not None:
            raise InputError(f"{path}: cannot read: {err}")
        r = validate(path, data)
        # named after its file, not after data["allocator"] (hm_results.read_conformance_files)
        r["allocator"] = allocator
        runs.append(r)
    seen = {}
    for r in runs:
        if r["allocator"] in seen:
            raise InputError(f"{r['path']}: allocator '{r['allocator']}' also in {seen[r['allocator']]}")
        seen[r["allocator"]] = r["path"]
    rank = {n: i for i, n in enumerate(PREFERRED_ORDER)}
    runs.sort(key=lambda r: (rank.get(r["allocator"], len(rank)), r["allocator"]))
    return runs


def validate(path, data):
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object")
    for key in ("allocator", "version", "library"):
        if not isinstance(data.get(key), str) or (key == "allocator" and not data[key]):
            raise InputError(f"{path}: missing or invalid '{key}'")
    checks = data.get("checks")
    if not isinstance(checks, list):
        raise InputError(f"{path}: missing 'checks' list")
    ids = set()
    for i, c in enumerate(checks):
        where = f"{path}: checks[{i}]"
        if not isinstance(c, dict):
            raise InputError(f"{where}: expected an object")
        for key in ("id", "area", "kind", "intent", "status", "detail"):
            if not isinstance(c.get(key), str):
                raise InputError(f"{where}: missing or invalid '{key}'")
        if c["kind"] not in KINDS:
            raise InputError(f"{where} ({c['id']}): unknown kind '{c['kind']}'")
        if c["status"] not in KIND_STATUSES[c["kind"]]:
            raise InputError(f"{where} ({c['id']}): status '{c['status']}' is not valid for a "
                             f"{c['kind']} check")
        if c["id"] in ids:
            raise InputError(f"{where}: check '{c['id']}' appears twice")
        ids.add(c["id"])
    return {"path": path, "allocator": data["allocator"], "version": data["version"],
            "library": data["library"], "checks": {c["id"]: c for c in checks},
            "order": [c["id"] for c in checks]}


def check_rows(runs):
    rows, meta = [], {}
    for r in runs:
        for cid in r["order"]:
            if cid not in meta:
                meta[cid] = r["checks"][cid]
                rows.append(cid)
    return rows, meta


def cell(run, cid):
    c = run["checks"].get(cid)
    return STATUSES[c["status"]] if c else "-"


def print_matrix(runs, rows, meta, out):
    names = [r["allocator"] for r in runs]
    widths = [max(len(n), 5) for n in names]
    head = f"{'check':<7}{'kind':<5}{'area':<14}" + " ".join(
        f"{n:>{w}}" for n, w in zip(names, widths))
    print(head, file=out)
    print("-" * len(head), file=out)
    for cid in rows:
        m = meta[cid]
        line = f"{cid:<7}{m['kind']:<5}{m['area']:<14}" + " ".join(
            f"{cell(r, cid):>{w}}" for r, w in zip(runs, widths))
        print(line, file=out)
    print("", file=out)
    print("legend: " + "; ".join(f"{s} = {t}" for s, t in LEGEND), file=out)
    for r in runs:
        print(f"  {r['allocator']} {r['version']} ({r['library']})", file=out)
    bad = [(cid, r) for cid in rows for r in runs
           if cid in r["checks"] and r["checks"][cid]["status"] in BAD]
    print("", file=out)
    if bad:
        print(f"failures ({len(bad)}):", file=out)
        for cid, r in bad:
            c = r["checks"][cid]
            print(f"  {cid} {r['allocator']}: {c['status']}: {c['detail']}", file=out)
    else:
        print("failures: none", file=out)


def write_csv(path, runs, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["check", "area", "kind", "allocator", "status", "detail"])
        for cid in rows:
            for r in runs:
                c = r["checks"].get(cid)
                if c:
                    w.writerow([cid, c["area"], c["kind"], r["allocator"], c["status"], c["detail"]])


def md_escape(s):
    return s.replace("|", "\\|").replace("\n", " ")


def write_md(path, runs, rows, meta):
    L = ["# Conformance", ""]
    L.append("| allocator | version | library |")
    L.append("|---|---|---|")
    for r in runs:
        L.append(f"| {r['allocator']} | {md_escape(r['version'])} | {md_escape(r['library'])} |")
    L += ["", "Legend: " + "; ".join(f"`{s}` = {t}" for s, t in LEGEND), ""]
    L.append("| check | kind | area | " + " | ".join(r["allocator"] for r in runs) + " |")
    L.append("|---|---|---|" + "---|" * len(runs))
    for cid in rows:
        m = meta[cid]
        L.append(f"| {cid} | {m['kind']} | {m['area']} | " +
                 " | ".join(cell(r, cid) for r in runs) + " |")
    bad = [(cid, r) for cid in rows for r in runs
           if cid in r["checks"] and r["checks"][cid]["status"] in BAD]
    L += ["", "## Failures", ""]
    if not bad:
        L.append("None.")
    for cid, r in bad:
        c = r["checks"][cid]
        L.append(f"- **{cid}** {r['allocator']}: {c['status']}: {md_escape(c['detail'])}")
    for title, kinds in (("Observed behaviour (REP)", {"REP"}),
                         ("Hardening capabilities (CAP)", {"CAP"})):
        L += ["", f"## {title}", ""]
        for cid in rows:
            if meta[cid]["kind"] not in kinds:
                continue
            L.append(f"- **{cid}** {md_escape(meta[cid]['intent'])}")
            for r in runs:
                c = r["checks"].get(cid)
                if c:
                    L.append(f"  - {r['allocator']}: {c['status']}"
                             + (f": {md_escape(c['detail'])}" if c["detail"] else ""))
    L += ["", "## Checks", ""]
    for cid in rows:
        L.append(f"- **{cid}** ({meta[cid]['kind']}, {meta[cid]['area']}): "
                 f"{md_escape(meta[cid]['intent'])}")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(L) + "\n")


def load_expected(path):
    header, verdicts = None, {}
    with open(path, encoding="utf-8") as f:
        for n, raw in enumerate(f, 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split()
            if header is None:
                if len(parts) != 3 or parts[0] != "allocator":
                    raise InputError(f"{path}:{n}: expected the header 'allocator NAME VERSION'")
                header = (parts[1], parts[2])
                continue
            if len(parts) != 2 or parts[1] not in STATUSES:
                raise InputError(f"{path}:{n}: expected 'ID STATUS' with STATUS one of "
                                 f"{', '.join(STATUSES)}")
            if parts[0] in verdicts:
                raise InputError(f"{path}:{n}: {parts[0]} listed twice")
            verdicts[parts[0]] = parts[1]
    if header is None:
        raise InputError(f"{path}: no 'allocator NAME VERSION' header")
    return header, verdicts


def compare(runs, expected_dir, out):
    """Returns the number of differences."""
    diffs = 0
    for r in runs:
        name = r["allocator"]
        path = os.path.join(expected_dir, f"{name}.txt")
        if not os.path.isfile(path):
            print(f"notice: no expectations for {name} ({path}): not compared", file=out)
            continue
        (ename, eversion), want = load_expected(path)
        if ename != name:
            raise InputError(f"{path}: written for allocator '{ename}', not '{name}'")
        if eversion != r["version"]:
            print(f"notice: expectations were written for {name} {eversion}, this is "
                  f"{r['version']}: {name} not compared", file=out)
            continue
        got = r["checks"]
        mine = 0
        for cid, status in want.items():
            if cid not in got:
                print(f"DIFF {cid} {name}: expected {status}, got no result", file=out)
                mine += 1
            elif got[cid]["status"] != status:
                detail = got[cid]["detail"]
                print(f"DIFF {cid} {name}: expected {status}, got {got[cid]['status']}"
                      + (f" ({detail})" if detail else ""), file=out)
                mine += 1
        for cid in r["order"]:
            if cid not in want:
                print(f"DIFF {cid} {name}: no expectation, got {got[cid]['status']}", file=out)
                mine += 1
        print(f"{name} {r['version']}: {len(want)} expectations, "
              f"{'all met' if mine == 0 else f'{mine} differences'}", file=out)
        diffs += mine
    return diffs


def main(argv):
    ap = argparse.ArgumentParser(description="heapmark conformance matrix")
    ap.add_argument("run_dir")
    ap.add_argument("--expected", metavar="DIR")
    ap.add_argument("--check", action="store_true",
                    help="compare with the expectations; exit 1 on any difference")
    args = ap.parse_args(argv)
    rc = 0
    expected = args.expected or os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "conformance", "expected")
    try:
        dead = load_dead(args.run_dir) if os.path.isdir(args.run_dir) else []
        runs = load_run(args.run_dir, dead)
        rows, meta = check_rows(runs)
        print_matrix(runs, rows, meta, sys.stdout)
        write_csv(os.path.join(args.run_dir, "conformance.csv"), runs, rows)
        write_md(os.path.join(args.run_dir, "conformance.md"), runs, rows, meta)
        if args.check or args.expected:
            if not os.path.isdir(expected):
                raise InputError(f"{expected}: no such expectations folder")
            print("")
            diffs = compare(runs, expected, sys.stdout)
            if args.check and diffs:
                print(f"conformance: {diffs} differences from the expected matrix")
                rc = 1
        if dead:
            sys.stdout.flush()
            print(f"conformance_report: {dead_message(dead)}", file=sys.stderr)
            rc = 1
    except InputError as e:
        print(f"conformance_report: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"conformance_report: {e.filename or ''}: {e.strerror}", file=sys.stderr)
        return 2
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
