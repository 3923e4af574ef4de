CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT, category INTEGER, price REAL, note TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40000)
INSERT INTO item SELECT i, 'item-' || i, i % 37, (i * 7919) % 1000 / 10.0,
       substr('lorem ipsum dolor sit amet consectetur adipiscing elit', 1 + i % 20, 5 + i % 30) FROM n;
CREATE INDEX item_cat ON item(category, price);
CREATE TABLE summary AS SELECT category, count(*) AS n, avg(price) AS p, group_concat(name, ',') AS names
  FROM item GROUP BY category;
SELECT category, n, round(p, 2), length(names) FROM summary ORDER BY p DESC LIMIT 5;
UPDATE item SET note = note || ' (updated)' WHERE id % 3 = 0;
DELETE FROM item WHERE id % 5 = 0;
SELECT count(*), sum(length(note)) FROM item;
SELECT a.category, count(*) FROM item a JOIN item b ON a.category = b.category AND b.id = a.id + 37
  GROUP BY a.category ORDER BY 2 DESC LIMIT 3;
