"""How figures read in the report's text: times, latencies, bytes, ratios,
confidence intervals, and escaping for Markdown tables."""

import re

from heapmark_report import verdict as rv


def fmt_ns(v):
    if v is None:
        return "-"
    if v >= 1e9:
        return "%.3g s" % (v / 1e9)
    if v >= 1e6:
        return "%.3g ms" % (v / 1e6)
    if v >= 1e3:
        return "%.3g us" % (v / 1e3)
    return "%.3g ns" % v


def fmt_latency(v, floor):
    """A latency percentile; under the timer floor (already subtracted from every
    sample, so not resolved) it reads "< floor"."""
    if v is None:
        return "-"
    if floor and v < floor:
        return "< floor (%s)" % fmt_ns(floor)
    return fmt_ns(v)


def fmt_primary(run, v):
    """The run's main figure: a time, or instructions per operation."""
    if run.instructions:
        return "-" if v is None else "%.4g instr" % v
    return fmt_ns(v)


def fmt_bytes(v):
    if v is None:
        return "-"
    for unit, s in (("GiB", 2 ** 30), ("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if v >= s:
            return "%.3g %s" % (v / s, unit)
    return "%d B" % v


def fmt_value(v, unit):
    if unit == "ns":
        return fmt_ns(v)
    if unit == "bytes":
        return fmt_bytes(v)
    return "%.4g" % v


def fmt_ratio(v):
    return "-" if v is None else "%.3fx" % v


def esc_md(s):
    return str(s).replace("|", "\\|").replace("\n", " ")


def fmt_ci(ci):
    return "%s-%s" % (rv.fmt_x(ci[0]), rv.fmt_x(ci[1])) if ci else "-"


def plain(text):
    return re.sub(r"\*\*|`", "", str(text))
