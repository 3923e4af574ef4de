/* interposition.c: catalogue area IF (which library serves each entry point). */
#define _GNU_SOURCE
#include "conf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

CONF_CHECK(if01_entry_points, "IF-01", "interposition", CONF_STD, 0,
           "malloc, free, calloc, realloc, aligned_alloc, posix_memalign resolve to the allocator "
           "under test (dladdr); memalign, valloc, pvalloc, malloc_usable_size, reallocarray, "
           "cfree listed (glibc manual Replacing malloc; tst-interpose-*.c)")
{
    static const char *const required[] = {"malloc", "free", "calloc", "realloc",
                                           "aligned_alloc", "posix_memalign"};
    static const char *const optional[] = {"memalign", "valloc", "pvalloc", "malloc_usable_size",
                                           "reallocarray", "cfree"};
    char lib[512], other[400] = "", missing[200] = "";
    size_t olen = 0, mlen = 0;
    for (int i = 0; i < 6; i++) {
        int own = conf_symbol_owner(required[i], lib, sizeof lib);
        if (own != 1)
            conf_fail("%s resolves to %s, not to %s", required[i],
                      own < 0 ? "nothing" : base_name(lib), conf_ext()->name);
    }
    for (int i = 0; i < 6; i++) {
        int own = conf_symbol_owner(optional[i], lib, sizeof lib);
        if (own == 0)
            olen += (size_t)snprintf(other + olen, sizeof other - olen, "%s%s -> %s",
                                     olen ? ", " : "", optional[i], base_name(lib));
        else if (own < 0)
            mlen += (size_t)snprintf(missing + mlen, sizeof missing - mlen, "%s%s",
                                     mlen ? ", " : "", optional[i]);
    }
    if (olen || mlen)
        conf_pass("the C/POSIX set is the allocator's own; not its own: %s%s%s",
                  olen ? other : "none", mlen ? "; undefined: " : "", missing);
}

CONF_CHECK(if02_libc_internal, "IF-02", "interposition", CONF_STD, 0,
           "libc-internal allocations work with the allocator: getline growth, strdup, asprintf, "
           "open_memstream, fopen/fclose, and a forked child doing the same (glibc "
           "tst-interpose-skeleton.c)")
{
    for (int child = 0; child < 2; child++) {
        pid_t pid = child ? fork() : 0;
        if (child && pid > 0) {
            int st;
            waitpid(pid, &st, 0);
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                conf_fail("in a forked child, libc-internal allocation failed (%s)",
                          WIFSIGNALED(st) ? conf_signame(WTERMSIG(st)) : "exit status");
            break;
        }
        char *buf = NULL, *mem = NULL;
        size_t cap = 0, memlen = 0;
        FILE *ms = open_memstream(&mem, &memlen);
        for (int i = 0; i < 20000; i++)
            fprintf(ms, "line %d of a growing memory stream\n", i);
        fclose(ms);
        FILE *in = fmemopen(mem, memlen, "r");
        int lines = 0;
        while (getline(&buf, &cap, in) > 0)
            lines++;
        fclose(in);
        conf_free(mem);
        conf_free(buf);
        char *long_line = NULL;
        if (asprintf(&long_line, "%0*d", 100000, 7) < 0 || strlen(long_line) != 100000) {
            if (child)
                _exit(1);
            conf_fail("asprintf of 100000 characters failed");
        }
        char *dup = strdup(long_line);
        int same = strcmp(dup, long_line) == 0;
        conf_free(dup);
        conf_free(long_line);
        FILE *f = fopen("/proc/self/status", "r");
        int opened = f != NULL;
        if (f)
            fclose(f);
        if (lines != 20000 || !same || !opened) {
            if (child)
                _exit(1);
            conf_fail("libc-internal allocation: getline read %d of 20000 lines, strdup %s, "
                      "fopen %s",
                      lines, same ? "ok" : "wrong", opened ? "ok" : "failed");
        }
        if (child)
            _exit(0);
    }
}

CONF_CHECK(if03_stats_functions, "IF-03", "interposition", CONF_REP, 0,
           "which library serves mallinfo2, malloc_stats, malloc_info, mallopt, malloc_trim "
           "(glibc manual: they stay glibc's and mean nothing for a replacement)")
{
    static const char *const names[] = {"mallinfo2", "malloc_stats", "malloc_info", "mallopt",
                                         "malloc_trim"};
    char out[400] = "", lib[512];
    size_t len = 0;
    for (int i = 0; i < 5; i++) {
        int own = conf_symbol_owner(names[i], lib, sizeof lib);
        len += (size_t)snprintf(out + len, sizeof out - len, "%s%s: %s", i ? ", " : "", names[i],
                                own < 0 ? "undefined" : own ? "own" : base_name(lib));
    }
    conf_observe("%s", out);
}
