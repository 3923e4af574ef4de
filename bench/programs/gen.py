#!/usr/bin/python3
"""gen.py KIND OUT [N]: the deterministic inputs of the program definitions
(bench/programs/*.def). The same arguments always write the same bytes.

  text OUT N      N lines of English-like words (a fixed vocabulary, Zipf-ish)
  numbers OUT N   N lines, one integer each (for sort -n)
  csource OUT N   a C file of N functions with loops, switches and structs (for cc1)
  sql OUT N       an SQL script: N orders in 2 tables, indexes, joins, aggregates
"""
import random
import sys

SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "ta", "so", "vi", "de", "pa", "chi", "gro",
             "lun", "bar", "tel", "ost", "ing", "er", "an", "or"]


def vocabulary(rng, n):
    words = set()
    while len(words) < n:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 4))))
    return sorted(words)


def text(out, n):
    rng = random.Random(1)
    vocab = vocabulary(rng, 20000)
    cum, total = [], 0.0
    for i in range(len(vocab)):
        total += 1.0 / (i + 1)
        cum.append(total)
    with open(out, "w") as f:
        for _ in range(n):
            f.write(" ".join(rng.choices(vocab, cum_weights=cum, k=rng.randint(4, 16))) + "\n")


def numbers(out, n):
    rng = random.Random(2)
    with open(out, "w") as f:
        for _ in range(n):
            f.write("%d\n" % rng.randint(-10**9, 10**9))


def csource(out, n):
    rng = random.Random(3)
    with open(out, "w") as f:
        f.write("struct point { long x, y, z; };\n")
        f.write("typedef unsigned long u64;\n")
        for i in range(n):
            f.write("u64 f%d(const struct point *p, int n, u64 seed) {\n" % i)
            f.write("    u64 acc = seed ^ %du;\n" % rng.randint(1, 10**6))
            f.write("    for (int i = 0; i < n; i++) {\n")
            f.write("        switch ((p[i].x + i) & 7) {\n")
            for c in range(8):
                a, b = rng.randint(1, 99), rng.randint(1, 31)
                f.write("        case %d: acc = acc * %d + (u64)p[i].y; acc ^= acc >> %d; break;\n"
                        % (c, a, b))
            f.write("        }\n")
            f.write("        if (acc %% %d == 0) acc += (u64)p[i].z * %d;\n"
                    % (rng.randint(2, 97), rng.randint(1, 1000)))
            f.write("    }\n")
            if i:
                f.write("    if (n > 1) acc += f%d(p + 1, n - 1, acc);\n" % rng.randint(0, i - 1))
            f.write("    return acc;\n}\n")


def sql(out, n):
    rng = random.Random(4)
    with open(out, "w") as f:
        f.write("CREATE TABLE customer (id INTEGER PRIMARY KEY, name TEXT, city TEXT);\n")
        f.write("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer INTEGER, item TEXT, "
                "qty INTEGER, price REAL, note TEXT);\n")
        f.write("BEGIN;\n")
        customers = max(1, n // 20)
        for c in range(customers):
            f.write("INSERT INTO customer VALUES (%d, 'customer %d', 'city%d');\n"
                    % (c, c, rng.randint(0, 99)))
        for o in range(n):
            f.write("INSERT INTO orders VALUES (%d, %d, 'item%d', %d, %d.%02d, '%s');\n"
                    % (o, rng.randint(0, customers - 1), rng.randint(0, 999), rng.randint(1, 50),
                       rng.randint(1, 500), rng.randint(0, 99), "x" * rng.randint(0, 120)))
        f.write("COMMIT;\n")
        f.write("CREATE INDEX orders_customer ON orders(customer);\n")
        f.write("CREATE INDEX orders_item ON orders(item, qty);\n")
        f.write("SELECT city, count(*), round(sum(qty * price), 2) FROM orders JOIN customer "
                "ON customer.id = orders.customer GROUP BY city ORDER BY city;\n")
        f.write("SELECT item, sum(qty) AS s FROM orders GROUP BY item ORDER BY s DESC, item "
                "LIMIT 20;\n")
        f.write("SELECT count(DISTINCT customer), max(length(note)) FROM orders WHERE qty > 25;\n")
        f.write("UPDATE orders SET note = note || note WHERE qty < 10;\n")
        f.write("DELETE FROM orders WHERE price < 50;\n")
        f.write("SELECT count(*), round(avg(length(note)), 3) FROM orders;\n")
        f.write("SELECT c.name, o.n FROM customer c JOIN (SELECT customer, count(*) AS n FROM "
                "orders GROUP BY customer) o ON o.customer = c.id ORDER BY o.n DESC, c.id "
                "LIMIT 10;\n")


def main():
    kinds = {"text": text, "numbers": numbers, "csource": csource, "sql": sql}
    if len(sys.argv) != 4 or sys.argv[1] not in kinds or not sys.argv[3].isdigit():
        sys.exit("usage: gen.py text|numbers|csource|sql OUT N")
    tmp = sys.argv[2] + ".tmp"
    kinds[sys.argv[1]](tmp, int(sys.argv[3]))
    import os
    os.replace(tmp, sys.argv[2])


main()
