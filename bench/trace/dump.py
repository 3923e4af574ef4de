"""Reads an allocation trace (FORMAT.md): prints a summary, or every event.

usage: dump.py [--events] TRACE[.gz]
"""
import gzip
import sys

OPS = {1: "malloc", 2: "calloc", 3: "aligned", 4: "realloc", 5: "free", 15: "end"}


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
    if data[:8] != b"HMTRACE1":
        raise TraceError(f"{path} is not a heapmark trace (bad magic)")
    pos, thread = 8, 0

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
        op = head & 0x0F
        if op == 15:
            return
        if op not in OPS:
            raise TraceError(f"{path}: unknown op {op} at byte {pos - 1}")
        if head & 0x10:
            thread = varint()
        ident = varint()
        align = varint() if op == 3 else 0
        size = varint() if op != 5 else 0
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
                extra = f" align={align}" if op == 3 else ""
                print(f"{OPS[op]} t={thread} id={ident}{extra} size={size}" if op != 5
                      else f"free t={thread} id={ident}")
            counts[OPS[op]] = counts.get(OPS[op], 0) + 1
            threads.add(thread)
            if op in (1, 2, 3):
                live += 1
                live_bytes += size
                sizes[ident] = size
            elif op == 4:
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
