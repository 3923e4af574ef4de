#!/usr/bin/python3
"""conf_compare.py EXPECTED RESULT.json...: the verdicts of conformance runs
(the JSON that `conformance --json` writes, here of a few areas) against an
expected matrix (conformance/expected/<A>.txt: 'ID STATUS' lines). Every
check that ran must be listed there with the same status. Exit 0 when all
agree, 1 otherwise (one line per difference), 2 on unreadable input."""
import json
import sys


def expected_rows(path):
    rows = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            words = line.split("#", 1)[0].split()
            if len(words) == 2 and words[0] != "allocator":
                rows[words[0]] = words[1]
    return rows


def main(argv):
    if len(argv) < 3:
        print("usage: conf_compare.py EXPECTED RESULT.json...", file=sys.stderr)
        return 2
    try:
        want = expected_rows(argv[1])
        checks = []
        for path in argv[2:]:
            with open(path, encoding="utf-8") as f:
                checks += json.load(f)["checks"]
    except (OSError, ValueError, KeyError) as e:
        print(f"conf_compare: {e}", file=sys.stderr)
        return 2
    bad = 0
    for c in checks:
        exp = want.get(c["id"])
        if exp != c["status"]:
            bad += 1
            print(f"{c['id']}: expected {exp or '(no row)'}, got {c['status']}: {c.get('detail', '')}")
    if not checks:
        print("conf_compare: no check ran")
        return 1
    print(f"conf_compare: {len(checks) - bad} of {len(checks)} checks as expected")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
