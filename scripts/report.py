#!/usr/bin/python3
"""heapmark report: turns run folders into tables, plots and a report.

usage: scripts/report.py [--out DIR] [--quiet] [--no-plots] RUN_DIR [RUN_DIR ...]

Reads meta.json, runs.jsonl, raw/*/*.json and conformance/*.json of each run
folder (schema: results/README.md) and writes, into the first run folder or
--out DIR:
  results.csv                   tidy table (a leading "host" column with several runs)
  summary.json                  geometric means, ranks, winner per family, per run
  bench-smaller-is-better.json  github-action-benchmark customSmallerIsBetter, from medians
  bench-bigger-is-better.json   github-action-benchmark customBiggerIsBetter: programs' figures
  bench-bmf.json                the programs in Bencher Metric Format
  plots/*.png, plots/*.svg      the plots
  report.md, report.html        the report (report.html is self-contained)

Several run folders (e.g. one per machine) are shown side by side per host.
Problems in the input are reported as one line each on stderr and the rest is
rendered; the exit status is non-zero only when nothing can be rendered.
Set HEAPMARK_DEBUG=1 to see a traceback on an internal error.

The work is done by the package scripts/heapmark_report (one module per concern).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("MPLBACKEND", "Agg")

from heapmark_report.cli import PROG, main  # noqa: E402


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        print("%s: interrupted" % PROG, file=sys.stderr)
        sys.exit(130)
    except Exception as e:  # one line, never a traceback (HEAPMARK_DEBUG=1 shows it)
        if os.environ.get("HEAPMARK_DEBUG"):
            raise
        print("%s: internal error: %s: %s" % (PROG, type(e).__name__, str(e).split("\n")[0]),
              file=sys.stderr)
        sys.exit(2)
