# workload.py: a dict-, list-, set- and string-heavy Python run whose output
# depends only on its computation (used by preload.sh, glibc vs sable).
import collections
import json
import random

r = random.Random(7)
d = {}
for i in range(300_000):
    k = "k%d" % r.randint(0, 200_000)
    d.setdefault(k, []).append(i)
lists = [list(range(n % 100)) for n in range(50_000)]
counts = collections.Counter(len(v) for v in d.values())
s = set()
for i in range(200_000):
    s.add((i * 7919) % 100_003)
    if i % 3 == 0:
        s.discard((i * 31) % 100_003)
text = " ".join(str(x) for x in range(100_000))
words = text.split()
joined = json.dumps({k: v[:3] for k, v in list(d.items())[:20_000]}, sort_keys=True)
big = [bytearray(r.randint(1, 70_000)) for _ in range(2_000)]
print(len(d), sum(len(v) for v in d.values()), sorted(counts.items())[:10])
print(sum(map(sum, lists)), len(s), sum(s) % 1_000_003, len(words), len(joined))
print(sum(len(b) for b in big), sum(sorted(s)[:1000]))
