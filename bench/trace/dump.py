"""Reads an allocation trace (FORMAT.md): prints a summary, or every event.

usage: dump.py [--events] TRACE[.gz]
"""
import gzip
import os
import re
import sys


def _format_constants():
    """The magic, flags and op codes, read from hmtrace_format.h (their one definition)."""
    header = os.path.join(os.path.dirname(os.path.abspath(__file__)), "hmtrace_format.h")
    with open(header) as f:
        text = f.read()
    magic = re.search(r'#define HMT_MAGIC "([^"]+)"', text).group(1).encode()
    flag = int(re.search(r"#define HMT_THREAD_FLAG (0x[0-9a-fA-F]+)", text).group(1), 16)
    mask = int(re.search(r"#define HMT_OP_MASK (0x[0-9a-fA-F]+)", text).group(1), 16)
    ops = {int(v): n.lower() for n, v in re.findall(r"\bHMT_([A-Z]+) = (\d+)", text)}
    return magic, flag, mask, ops


MAGIC, THREAD_FLAG, OP_MASK, OPS = _format_constants()
# names printed for the op codes (the header says memalign for every aligned call)
OPS = {k: ("aligned" if v == "memalign" else v) for k, v in OPS.items()}
OP_BY_NAME = {v: k for k, v in OPS.items()}


class TraceError(Exception):
    pass


def read_events(path):
    """Yields (op, thread, id, align, size) tuples; raises TraceError."""
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise TraceError(f"cannot read {path}: {e}")
    if data[:len(MAGIC)] != MAGIC:
        raise TraceError(f"{path} is not a heapmark trace (bad magic)")
    pos, thread = len(MAGIC), 0

    def varint():
        nonlocal pos
        v, shift = 0, 0
        while True:
            if pos >= len(data):
                raise TraceError(f"{path}: truncated at byte {pos}")
            b = data[pos]
            pos += 1
            v |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                return v

    while pos < len(data):
        head = data[pos]
        pos += 1
        op = head & OP_MASK
        if op == OP_BY_NAME["end"]:
            return
        if op not in OPS:
            raise TraceError(f"{path}: unknown op {op} at byte {pos - 1}")
        if head & THREAD_FLAG:
            thread = varint()
        ident = varint()
        align = varint() if op == OP_BY_NAME["aligned"] else 0
        size = varint() if op != OP_BY_NAME["free"] else 0
        yield op, thread, ident, align, size


def main():
    args = sys.argv[1:]
    events = "--events" in args
    paths = [a for a in args if a != "--events"]
    if len(paths) != 1:
        print("usage: dump.py [--events] TRACE[.gz]", file=sys.stderr)
        return 2
    counts, threads, live, peak, live_bytes, peak_bytes, sizes = {}, set(), 0, 0, 0, 0, {}
    try:
        for op, thread, ident, align, size in read_events(paths[0]):
            if events:
                extra = f" align={align}" if op == OP_BY_NAME["aligned"] else ""
                print(f"{OPS[op]} t={thread} id={ident}{extra} size={size}" if op != OP_BY_NAME["free"]
                      else f"free t={thread} id={ident}")
            counts[OPS[op]] = counts.get(OPS[op], 0) + 1
            threads.add(thread)
            if OPS[op] in ("malloc", "calloc", "aligned"):
                live += 1
                live_bytes += size
                sizes[ident] = size
            elif OPS[op] == "realloc":
                live_bytes += size - sizes.get(ident, 0)
                sizes[ident] = size
            else:
                live -= 1
                live_bytes -= sizes.pop(ident, 0)
            peak, peak_bytes = max(peak, live), max(peak_bytes, live_bytes)
    except TraceError as e:
        print(f"dump.py: {e}", file=sys.stderr)
        return 1
    if not events:
        total = sum(counts.values())
        print(f"{paths[0]}: {total} events, {len(threads)} threads, "
              f"peak {peak} live blocks, peak {peak_bytes} live bytes, "
              f"{live} blocks never freed")
        print("  " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
