/* callgrind.c: counting instructions per operation (`heapmark run
 * --instructions`). A single-thread benchmark instance runs once under
 * valgrind --tool=callgrind --collect-atstart=no --separate-threads=yes with
 * HEAPMARK_COUNT_OPS set: the shim (harness/gbench.h) switches collection on
 * only inside its timed loops and writes how many operations ran there
 * (raw/<A>/<id>.ops.json), so instructions per operation = the main thread's
 * total Ir / operations. run.c plans and launches; this file builds the
 * command line and reads what the process left behind.
 */
#define _GNU_SOURCE
#include "runner.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void callgrind_argv(char **out, const char *valgrind, const char *cg_out, char *const *bench_argv)
{
    size_t n = 0;
    out[n++] = (char *)valgrind;
    out[n++] = "--tool=callgrind";
    out[n++] = "-q"; /* the log's last line stays the benchmark's */
    out[n++] = "--collect-atstart=no";
    out[n++] = "--separate-threads=yes";
    out[n++] = (char *)cg_out;
    for (char *const *p = bench_argv; *p; p++)
        out[n++] = *p;
    out[n] = NULL;
}

/* The total Ir of one callgrind output file ("totals:" or "summary:"), or -1. */
static long long callgrind_total(const char *path)
{
    size_t len;
    char *text = read_file(path, &len);
    if (text == NULL)
        return -1;
    long long total = -1;
    for (char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, "totals:", 7) == 0 || (total < 0 && strncmp(line, "summary:", 8) == 0)) {
            char *end;
            long long v = strtoll(strchr(line, ':') + 1, &end, 10);
            if (end != strchr(line, ':') + 1 && v >= 0)
                total = v;
        }
    }
    free(text);
    return total;
}

/* Writes the header lines of a callgrind output file (what ran, the events,
   the totals; not the per-function profile) to dst, with a note. */
static int callgrind_condense(const char *src, const char *dst, long threads)
{
    size_t len;
    char *text = read_file(src, &len);
    if (text == NULL)
        return -1;
    static const char *const keys[] = {"version:", "creator:", "pid:", "cmd:", "part:",
                                       "thread:", "desc:", "positions:", "events:",
                                       "summary:", "totals:", NULL};
    char *buf = NULL;
    size_t blen = 0;
    FILE *f = open_memstream(&buf, &blen);
    if (f == NULL) {
        free(text);
        return -1;
    }
    int first = 1;
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        int keep = first && line[0] == '#';
        for (const char *const *k = keys; *k && !keep; k++)
            keep = strncmp(line, *k, strlen(*k)) == 0;
        if (keep)
            fprintf(f, "%.*s\n", (int)n, line);
        if (first && line[0] == '#') {
            fprintf(f, "# heapmark: the header and totals of callgrind's profile of the main "
                       "thread (%ld thread%s seen); the per-function lines are left out "
                       "(run the command of the .log for them)\n",
                    threads, threads == 1 ? "" : "s");
        }
        first = 0;
        if (nl == NULL)
            break;
        line = nl + 1;
    }
    fclose(f);
    free(text);
    int rc = atomic_write(dst, buf, blen);
    free(buf);
    return rc;
}

/* After a process of an instructions run: reads raw/<A>/<id>.ops.json and
   callgrind's per-thread files raw/<A>/<id>.cg-NN, condenses the main
   thread's into raw/<A>/<id>.callgrind and removes the rest. For a process
   whose status is ok, returns that status or ST_GARBAGE (*reason set) when
   a figure is missing. */
enum status callgrind_collect(const char *adir, const char *id, enum status st, char **reason,
                              struct counts *c)
{
    memset(c, 0, sizeof *c);
    c->ir = c->ops = -1;
    char *prefix = xasprintf("%s.cg-", id);
    char *main_file = NULL;
    DIR *d = opendir(adir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0)
            continue;
        char *path = xasprintf("%s/%s", adir, e->d_name);
        c->threads++;
        if (strcmp(e->d_name + strlen(prefix), "01") == 0)
            main_file = xstrdup(path);
        else
            unlink(path);
        free(path);
    }
    if (d)
        closedir(d);
    char *base = xasprintf("%s/%s.cg", adir, id); /* empty with --separate-threads */
    unlink(base);
    free(base);
    if (main_file) {
        c->ir = callgrind_total(main_file);
        char *dst = xasprintf("%s/%s.callgrind", adir, id);
        c->have_summary = callgrind_condense(main_file, dst, c->threads) == 0;
        free(dst);
        unlink(main_file);
    }
    char *ops_path = xasprintf("%s/%s.ops.json", adir, id);
    size_t len;
    char *text = read_file(ops_path, &len);
    int under_callgrind = 0;
    if (text) {
        char err[160];
        json_t *doc = json_read(text, len, err, sizeof err);
        const json_t *ops = json_object_get(doc, "operations");
        if (json_is_number(ops))
            c->ops = (long long)json_number_value(ops);
        under_callgrind = json_is_true(json_object_get(doc, "under_callgrind"));
        json_decref(doc);
        free(text);
    }
    free(ops_path);
    free(prefix);
    free(main_file);
    if (st != ST_OK)
        return st;
    if (c->ops < 0)
        *reason = xstrdup("exited 0 but wrote no operation count (HEAPMARK_COUNT_OPS file)");
    else if (!under_callgrind)
        *reason = xstrdup("the benchmark did not run under callgrind");
    else if (c->ir < 0)
        *reason = xstrdup("callgrind wrote no totals for the main thread");
    else if (c->ops == 0)
        *reason = xstrdup("no operation ran inside a timed loop");
    if (*reason)
        return ST_GARBAGE;
    if (c->threads > 1) {
        c->note = xasprintf("the process ran %ld threads: callgrind collected only in the "
                            "thread that switched it on, so the count is not per operation",
                            c->threads);
        return ST_OK;
    }
    c->counted = 1;
    c->per_op = round((double)c->ir / (double)c->ops * 100.0) / 100.0;
    return ST_OK;
}
