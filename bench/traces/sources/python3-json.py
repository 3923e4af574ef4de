import json, re, collections, textwrap
words = re.findall(r"[a-z]+", textwrap.dedent(json.__doc__ + re.__doc__ + collections.__doc__).lower())
docs = []
for i in range(4000):
    d = {"id": i, "name": f"item-{i}", "tags": [words[(i * k) % len(words)] for k in range(i % 9)],
         "score": (i * 7919) % 1000 / 10.0, "nested": {"a": list(range(i % 13)), "b": str(i) * (i % 5)}}
    docs.append(d)
text = json.dumps(docs)
back = json.loads(text)
counts = collections.Counter(t for d in back for t in d["tags"])
index = collections.defaultdict(list)
for d in back:
    for t in d["tags"]:
        index[t].append(d["id"])
ranked = sorted(back, key=lambda d: (-d["score"], d["name"]))[:100]
report = "\n".join(f"{d['name']:>12} {d['score']:6.1f} {','.join(d['tags'])}" for d in ranked)
print(len(text), len(counts), len(index), len(report))
