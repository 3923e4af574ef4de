#!/bin/bash
# realprog.sh LIBSABLE OUTDIR: sqlite3 and git, each run twice (on glibc, then
# with LD_PRELOAD=libsable.so), must give byte-identical output; every process
# of a preloaded run (git starts others) must have initialised libsable.so,
# as ld.so's LD_DEBUG=libs trace of that process says.
#   sqlite3: a 100,000-row table: insert, index, queries, delete, vacuum,
#            integrity check; the queries' output and the dump compared
#   git:     init, a commit of 1,000 files, 3 more commits, gc; log, fsck,
#            trees, the object list, count-objects and an archive compared
# (python3 and sort are in allocators/sable/tests/preload.sh)
set -u
if [ $# -ne 2 ] || [ ! -f "$1" ]; then
    echo "usage: realprog.sh LIBSABLE OUTDIR" >&2
    exit 2
fi
lib=$(readlink -f "$1")
out=$2
rm -rf "$out" && mkdir -p "$out" && out=$(readlink -f "$out")
fail=0
for p in sqlite3 git; do
    if ! command -v $p >/dev/null; then
        echo "FAIL: $p is not installed (scripts/bootstrap-deps.sh installs it)"
        exit 1
    fi
done

# The programs run through "on": plainly, or, when mode=sable, preloaded
# with ld.so tracing each process (git starts others) into $out/ld-trace.
mode=glibc
on() {
    if [ $mode = sable ]; then
        LD_DEBUG=libs LD_DEBUG_OUTPUT="$out/ld-trace/ld" LD_PRELOAD="$lib" "$@"
    else
        "$@"
    fi
}
start_sable() { mode=sable; rm -rf "$out/ld-trace" && mkdir -p "$out/ld-trace"; }
# every traced process initialised libsable.so; $procs: how many there were
end_sable() {
    mode=glibc
    local n=0 bad=0 f
    for f in "$out"/ld-trace/ld.*; do
        [ -e "$f" ] || continue
        n=$((n + 1))
        grep -q "calling init: $lib" "$f" || bad=$((bad + 1))
    done
    if [ $n -eq 0 ] || [ $bad -ne 0 ]; then
        echo "FAIL: $bad of $n processes did not load $lib"
        fail=1
    fi
    procs=$n
}

compare() { # NAME FILE-GLIBC FILE-SABLE
    if cmp -s "$2" "$3"; then
        echo "ok: $1 ($(wc -c <"$2") bytes of output identical)"
    else
        echo "FAIL: $1: outputs differ (diff $2 $3)"
        fail=1
    fi
}

# ---- sqlite3 ------------------------------------------------------------------
cat >"$out/test.sql" <<'EOF'
PRAGMA journal_mode=DELETE;
CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, grp INTEGER, val REAL, pad TEXT);
BEGIN;
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000)
INSERT INTO t SELECT x, printf('n%08x', (x * 2654435761) % 4294967296), x % 97, (x * 7) % 1000 / 10.0,
                     substr(printf('%0300d', 0), 1, (x * 31) % 300)
FROM c;
COMMIT;
CREATE INDEX t_name ON t(name);
CREATE INDEX t_grp ON t(grp, val);
SELECT count(*), sum(grp), sum(length(pad)), min(name), max(name) FROM t;
SELECT grp, count(*), round(avg(val), 3), max(length(pad)) FROM t GROUP BY grp ORDER BY grp LIMIT 20;
SELECT id, name FROM t WHERE name BETWEEN 'n10000000' AND 'n1000ffff' ORDER BY name;
SELECT a.grp, count(*) FROM t a JOIN t b ON a.id = b.id + 1 AND a.grp = b.grp + 1 GROUP BY a.grp ORDER BY 2 DESC, 1 LIMIT 5;
SELECT group_concat(name, ',') FROM (SELECT name FROM t ORDER BY val DESC, id LIMIT 50);
DELETE FROM t WHERE id % 3 = 0;
UPDATE t SET pad = pad || pad WHERE grp < 10;
VACUUM;
PRAGMA integrity_check;
SELECT count(*), sum(length(pad)), total(val) FROM t;
SELECT page_count * page_size > 0 FROM pragma_page_count(), pragma_page_size();
EOF
run_sqlite() { # DB OUTPUT
    on sqlite3 -batch "$1" <"$out/test.sql" >"$2" 2>&1 && on sqlite3 -batch "$1" .dump | sha256sum >>"$2"
}
run_sqlite "$out/glibc.db" "$out/sqlite.glibc" || { echo "FAIL: sqlite3 on glibc"; fail=1; }
start_sable
run_sqlite "$out/sable.db" "$out/sqlite.sable" || { echo "FAIL: sqlite3 on sable"; fail=1; }
end_sable
compare "sqlite3 (100,000 rows; $procs processes traced)" "$out/sqlite.glibc" "$out/sqlite.sable"
if ! grep -qx ok "$out/sqlite.sable"; then
    echo "FAIL: sqlite3's integrity check did not say ok"; fail=1
fi
rm -f "$out"/*.db

# ---- git ------------------------------------------------------------------------
export GIT_AUTHOR_NAME=heapmark GIT_AUTHOR_EMAIL=heapmark@example.org \
       GIT_COMMITTER_NAME=heapmark GIT_COMMITTER_EMAIL=heapmark@example.org \
       GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null LC_ALL=C TZ=UTC
unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE
run_git() { # REPO OUTPUT
    local repo=$1 o=$2 i
    rm -rf "$repo" && mkdir -p "$repo" && cd "$repo" || return 1
    {
        on git init -q -b main . &&
        on git config gc.auto 0 && on git config pack.threads 1 && on git config core.fsync none
    } || return 1
    mkdir d{0..19} &&
    awk 'BEGIN { for (i = 1; i <= 1000; i++) { f = sprintf("d%d/f%d.txt", i % 20, i)
                 printf "file %d\n", i > f; for (j = i; j <= i + i % 50; j++) print j > f; close(f) } }' || return 1
    export GIT_AUTHOR_DATE='2024-01-01T00:00:00Z' GIT_COMMITTER_DATE='2024-01-01T00:00:00Z'
    on git add -A && on git commit -q -m "1000 files" || return 1
    for c in 1 2 3; do
        for ((i = c; i <= 1000; i += 7)); do echo "change $c" >>"d$((i % 20))/f$i.txt"; done
        on git rm -q "d$c/f$((c * 20 + c)).txt" >/dev/null || return 1
        export GIT_AUTHOR_DATE="2024-01-0$((c + 1))T00:00:00Z" GIT_COMMITTER_DATE="2024-01-0$((c + 1))T00:00:00Z"
        on git commit -q -a -m "change $c" || return 1
    done
    on git gc -q --prune=now || return 1
    {
        on git log --format='%H %T %an %ad %s' --date=iso
        on git fsck --full --strict 2>&1; echo "fsck: $?"
        on git ls-tree -r HEAD | sha256sum
        on git rev-list --objects --all | sort | sha256sum
        on git cat-file --batch-all-objects --batch-check
        on git count-objects -v | grep -v '^size'
        on git diff --stat HEAD~3 HEAD | tail -n 1
        on git archive --format=tar HEAD | sha256sum
    } >"$o" 2>&1
    cd - >/dev/null
}
run_git "$out/repo-glibc" "$out/git.glibc" || { echo "FAIL: git on glibc"; fail=1; }
start_sable
run_git "$out/repo-sable" "$out/git.sable" || { echo "FAIL: git on sable"; fail=1; }
end_sable
compare "git (1,000 files, 4 commits, gc; $procs processes traced)" "$out/git.glibc" "$out/git.sable"
if [ "$(grep -c '^[0-9a-f]\{40\} [0-9a-f]\{40\} heapmark ' "$out/git.sable")" -ne 4 ] || ! grep -qx 'fsck: 0' "$out/git.sable"; then
    echo "FAIL: git's log or fsck is not what it should be (see $out/git.sable)"; fail=1
fi
rm -rf "$out"/repo-* "$out/ld-trace"
exit $fail
