#!/usr/bin/python3
"""corpus.py: writes the seed inputs of the fuzzer's committed corpus
(corpus/seed-*): for each operation of fuzz.c, a random input in which that
operation is frequent (fixed seeds, so the files are reproducible). The
corpus/found-* files come from libFuzzer runs and corpus/regress-* files
are inputs that found a bug, written by hand from fuzz.c's input format;
this script leaves both as they are."""
import os
import random
import sys

KINDS = 24  # operations in fuzz.c: code % 24


def seed_input(kind, rng):
    out = bytearray()
    while len(out) < 400:
        k = kind if rng.random() < 0.5 else rng.randrange(KINDS)
        out += bytes([k + KINDS * rng.randrange(256 // KINDS), rng.randrange(12)])
        # the operation's arguments: mostly small sizes, some special ones
        for _ in range(rng.randrange(2, 8)):
            b = rng.randrange(256)
            if b >> 6 == 2 and rng.random() < 0.8:
                b &= 0x3F
            out.append(b)
    return bytes(out)


def main():
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
    os.makedirs(here, exist_ok=True)
    for kind in range(KINDS):
        rng = random.Random(1000 + kind)
        with open(os.path.join(here, "seed-%02d" % kind), "wb") as f:
            f.write(seed_input(kind, rng))
    return 0


if __name__ == "__main__":
    sys.exit(main())
