#!/usr/bin/python3
"""alloc_heavy.py ROUNDS: an allocation-heavy Python program of heapmark's own
(the interpreter workload of bench/programs/python.def).

Each round builds and drops what a typical script makes by the million: small
objects and dicts (a parsed record set), strings joined and split, a binary
tree, lists grown and sorted. Deterministic: the checksum on stdout is the
same under every allocator; the rate goes to stderr (the definition's figure).
"""
import sys
import time


class Node:
    __slots__ = ("key", "left", "right")

    def __init__(self, key):
        self.key, self.left, self.right = key, None, None


def tree_insert(root, key):
    if root is None:
        return Node(key)
    node = root
    while True:
        if key < node.key:
            if node.left is None:
                node.left = Node(key)
                return root
            node = node.left
        else:
            if node.right is None:
                node.right = Node(key)
                return root
            node = node.right


def tree_sum(root):
    total, stack = 0, [root]
    while stack:
        n = stack.pop()
        if n is not None:
            total += n.key
            stack.append(n.left)
            stack.append(n.right)
    return total


def one_round(r):
    x = (r * 2654435761) & 0xffffffff
    records = []
    for i in range(20000):
        x = (x * 1103515245 + 12345) & 0x7fffffff
        records.append({"id": i, "name": "user%d" % (x % 5000), "score": x % 1000,
                        "tags": ["t%d" % (x % 7), "t%d" % (x % 11)]})
    by_name = {}
    for rec in records:
        by_name.setdefault(rec["name"], []).append(rec["score"])
    line = ",".join("%s=%d" % (k, sum(v)) for k, v in by_name.items())
    fields = line.split(",")
    root = None
    for i in range(8000):
        x = (x * 1103515245 + 12345) & 0x7fffffff
        root = tree_insert(root, x % 100000)
    grown = []
    for i in range(30000):
        grown.append((i * 7919) % 30011)
    grown.sort()
    return (len(fields) + tree_sum(root) + grown[len(grown) // 2] + len(records)) & 0xffffffff


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    t0 = time.monotonic()
    check = 0
    for r in range(rounds):
        check = (check * 31 + one_round(r)) & 0xffffffffffff
    dt = time.monotonic() - t0
    print("rounds %d checksum %x" % (rounds, check))
    print("rounds/s %.3f" % (rounds / dt), file=sys.stderr)


main()
