/* rss.c: what /proc says about a running process: its resident size, as a
 * series written while it runs, and whether a library is mapped into it.
 *
 * A series file (raw/<A>/<id>.rss) is text: one comment line, then one line
 * per sample, "<seconds since the process started> <RSS in KiB>", e.g.
 *   # heapmark rss: pid 4242 /usr/bin/sort, every 0.010 s
 *   0.001 1536
 *   0.011 18432
 */
#define _GNU_SOURCE
#include "runner.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

long rss_now_kb(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/statm", (int)pid);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return -1;
    long size, resident;
    int n = fscanf(f, "%ld %ld", &size, &resident);
    fclose(f);
    if (n != 2)
        return -1;
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* /proc/<pid>/exe, or NULL */
static char *exe_of(pid_t pid)
{
    char path[64], buf[PATH_MAX];
    snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
    ssize_t n = readlink(path, buf, sizeof buf - 1);
    if (n <= 0)
        return NULL;
    buf[n] = '\0';
    return xstrdup(buf);
}

/* Still heapmark's own image: forked, not yet exec'd. */
static int before_exec(pid_t pid)
{
    char *self = exe_of(getpid()), *it = exe_of(pid);
    int same = self && it && strcmp(self, it) == 0;
    free(self);
    free(it);
    return same;
}

int rss_open(struct rss_series *s, const char *path, pid_t pid, double t0, double period)
{
    memset(s, 0, sizeof *s);
    s->pid = pid;
    s->t0 = t0;
    s->period = period;
    s->f = fopen(path, "we");
    return s->f ? 0 : -1;
}

void rss_sample(struct rss_series *s)
{
    if (s->f == NULL || s->gone)
        return;
    if (!s->execed) {
        if (before_exec(s->pid))
            return;
        s->execed = 1;
        char *exe = exe_of(s->pid);
        fprintf(s->f, "# heapmark rss: pid %d %s, every %.3f s\n", (int)s->pid,
                exe ? exe : "?", s->period);
        free(exe);
    }
    long kb = rss_now_kb(s->pid);
    if (kb < 0) {
        s->gone = 1;
        return;
    }
    /* a zombie has no pages left: its zero is not a sample */
    if (kb == 0)
        return;
    fprintf(s->f, "%.3f %ld\n", mono_now() - s->t0, kb);
    s->n++;
    if (kb > s->peak_kb)
        s->peak_kb = kb;
}

void rss_close(struct rss_series *s)
{
    if (s->f)
        fclose(s->f);
    s->f = NULL;
}

int maps_has_library(pid_t pid, const char *library, int *seen)
{
    *seen = 0;
    if (before_exec(pid))
        return 0;
    char *want = realpath(library, NULL); /* NULL: a missing file, never found */
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        free(want);
        return 0;
    }
    char line[PATH_MAX + 128];
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        *seen = 1;
        line[strcspn(line, "\n")] = '\0';
        char *p = strchr(line, '/'); /* the path is the last field; none for anonymous maps */
        found = want && p && strcmp(p, want) == 0;
    }
    fclose(f);
    free(want);
    return found;
}
