/* limits.c: catalogue area LI (impossible sizes, real OOM, errno). */
#define _GNU_SOURCE
#include "conf.h"
#include "oom.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

CONF_CHECK(li01_huge_malloc, "LI-01", "limits", CONF_STD, 0,
           "malloc(SIZE_MAX-i) for i < 4096 and malloc(-512K) return NULL with ENOMEM (glibc "
           "tst-malloc.c, tst-malloc-too-large.c; jemalloc overflow.c; POSIX malloc)")
{
    for (size_t i = 0; i <= 4096; i++) {
        size_t n = i == 4096 ? (size_t)0 - (512u << 10) : SIZE_MAX - i;
        errno = CONF_ERRNO_SENTINEL;
        void *p = conf_malloc(n);
        int e = errno;
        if (p != NULL)
            conf_fail("malloc(%zu) = %p, expected NULL", n, p);
        if (e != ENOMEM)
            conf_fail("malloc(%zu) = NULL with %s, expected ENOMEM", n, conf_errname(e));
    }
}

CONF_CHECK(li02_ptrdiff, "LI-02", "limits", CONF_REP, 0,
           "which of PTRDIFF_MAX, PTRDIFF_MAX+1, 2^62 fail, and with which errno (glibc 2.30+ "
           "PTRDIFF_MAX rule; mimalloc malloc-nomem1)")
{
    size_t sizes[] = {(size_t)PTRDIFF_MAX, (size_t)PTRDIFF_MAX + 1, (size_t)1 << 62};
    const char *names[] = {"PTRDIFF_MAX", "PTRDIFF_MAX+1", "2^62"};
    char out[300] = "";
    size_t len = 0;
    for (int i = 0; i < 3; i++) {
        errno = CONF_ERRNO_SENTINEL;
        void *p = conf_malloc(sizes[i]);
        int e = errno;
        len += (size_t)snprintf(out + len, sizeof out - len, "%s%s -> %s", i ? ", " : "",
                                names[i], p ? "a block" : conf_errname(e));
        conf_free(p);
    }
    conf_observe("malloc(%s)", out);
}

CONF_CHECK(li03_aligned_too_large, "LI-03", "limits", CONF_STD, 0,
           "aligned_alloc and posix_memalign for every power-of-two alignment with sizes SIZE_MAX, "
           "SIZE_MAX-4096, PTRDIFF_MAX+1, PTRDIFF_MAX+4096 fail with ENOMEM; memalign, valloc, "
           "pvalloc (not POSIX: errno checked in AL-09/LI-06) return NULL (glibc "
           "tst-malloc-too-large.c; jemalloc aligned_alloc.c test_oom_errors)")
{
    conf_aligned_alloc_fn aa = CONF_NEED(conf_aligned_alloc_fn, aligned_alloc);
    conf_posix_memalign_fn pm = CONF_NEED(conf_posix_memalign_fn, posix_memalign);
    char lib[256];
    conf_memalign_fn ma = NULL;
    conf_valloc_fn va = NULL, pva = NULL;
    if (conf_symbol_owner("memalign", lib, sizeof lib) == 1)
        ma = CONF_NEED(conf_memalign_fn, memalign);
    if (conf_symbol_owner("valloc", lib, sizeof lib) == 1)
        va = CONF_NEED(conf_valloc_fn, valloc);
    if (conf_symbol_owner("pvalloc", lib, sizeof lib) == 1)
        pva = CONF_NEED(conf_valloc_fn, pvalloc);
    size_t sizes[] = {SIZE_MAX, SIZE_MAX - 4096, (size_t)PTRDIFF_MAX + 1,
                      (size_t)PTRDIFF_MAX + 4096};
    static char marker;
    for (int k = 0; k < 64; k++) {
        size_t a = (size_t)1 << k;
        for (int s = 0; s < 4; s++) {
            size_t n = sizes[s];
            errno = CONF_ERRNO_SENTINEL;
            void *p = aa(a, n);
            int e = errno;
            if (p != NULL)
                conf_fail("aligned_alloc(%zu, %zu) = %p, expected NULL", a, n, p);
            /* an alignment beyond any address space may be refused as invalid */
            if (e != ENOMEM && !(e == EINVAL && a > n))
                conf_fail("aligned_alloc(%zu, %zu) = NULL with %s, expected ENOMEM", a, n,
                          conf_errname(e));
            if (a >= sizeof(void *)) {
                void *q = &marker;
                int r = pm(&q, a, n);
                if (r != ENOMEM)
                    conf_fail("posix_memalign(&p, %zu, %zu) returned %s, expected ENOMEM", a, n,
                              conf_errname(r));
                if (q != &marker && q != NULL)
                    conf_fail("failed posix_memalign(&p, %zu, %zu) set p to %p", a, n, q);
            }
            if (ma != NULL) {
                p = ma(a, n);
                if (p != NULL)
                    conf_fail("memalign(%zu, %zu) = %p, expected NULL", a, n, p);
            }
        }
    }
    conf_valloc_fn vf[2] = {va, pva};
    const char *vn[2] = {"valloc", "pvalloc"};
    for (int i = 0; i < 2; i++) {
        if (vf[i] == NULL)
            continue;
        for (int s = 0; s < 4; s++) {
            void *p = vf[i](sizes[s]);
            if (p != NULL)
                conf_fail("%s(%zu) = %p, expected NULL", vn[i], sizes[s], p);
        }
    }
}

/* allocates blocks of n bytes, linked through their first word, until NULL */
static void *li04_fill(size_t n, size_t *count, int *err, size_t headroom)
{
    void *head = NULL;
    *count = 0;
    for (;;) {
        if (*count * n > CONF_OOM_UNBOUND_BYTES(headroom))
            conf_oom_unbound(*count * n);
        errno = CONF_ERRNO_SENTINEL;
        void **p = conf_malloc(n);
        if (p == NULL) {
            *err = errno;
            return head;
        }
        *p = head;
        head = p;
        (*count)++;
    }
}

static void li04_release(void *head)
{
    while (head != NULL) {
        void *next = *(void **)head;
        conf_free(head);
        head = next;
    }
}

CONF_CHECK(li04_real_oom, "LI-04", "limits", CONF_STD, 20,
           "real OOM under RLIMIT_AS (current + 256 MiB): malloc(1 MiB) and malloc(64) loops end "
           "in NULL with ENOMEM, no abort; allocation works again after freeing (glibc "
           "tst-malloc-thread-fail.c; jemalloc mallocx.c test_oom)")
{
    size_t headroom = (size_t)256 << 20;
    conf_limit_as(headroom);
    size_t sizes[] = {1u << 20, 64};
    size_t counts[2];
    for (int i = 0; i < 2; i++) {
        int e = 0;
        void *head = li04_fill(sizes[i], &counts[i], &e, headroom);
        if (e != ENOMEM)
            conf_fail("malloc(%zu) after %zu blocks = NULL with %s, expected ENOMEM", sizes[i],
                      counts[i], conf_errname(e));
        if (counts[i] == 0)
            conf_fail("malloc(%zu) failed at once under the limit", sizes[i]);
        li04_release(head);
        void *again = conf_malloc(sizes[i]);
        if (again == NULL)
            conf_fail("malloc(%zu) = NULL after all %zu blocks were freed", sizes[i], counts[i]);
        conf_free(again);
    }
    conf_pass("OOM after %zu x 1 MiB and %zu x 64 B", counts[0], counts[1]);
}

CONF_CHECK(li05_free_errno, "LI-05", "limits", CONF_STD, 0,
           "free preserves errno for NULL, small, 5 MB and many large blocks (POSIX.1-2024 free; "
           "glibc tst-free-errno.c; glibc manual Replacing malloc)")
{
    size_t sizes[] = {0, 16, 1000, 100000, 5000000, 64u << 20};
    for (int i = 0; i < 6; i++) {
        for (int rep = 0; rep < 20; rep++) {
            void *p = sizes[i] ? conf_malloc(sizes[i]) : NULL;
            if (p != NULL)
                memset(p, 1, sizes[i] < 4096 ? sizes[i] : 4096);
            errno = CONF_ERRNO_SENTINEL;
            conf_free(p);
            if (errno != CONF_ERRNO_SENTINEL)
                conf_fail("free(%s) (round %d) changed errno to %s",
                          sizes[i] ? "a block" : "NULL", rep, conf_errname(errno));
            if (sizes[i] == 0)
                break;
        }
    }
    /* many large blocks at once: purges and unmaps happen inside free */
    static void *big[200];
    for (int i = 0; i < 200; i++) {
        big[i] = conf_malloc(300000 + (size_t)i * 4096);
        memset(big[i], 1, 300000);
    }
    for (int i = 0; i < 200; i++) {
        errno = CONF_ERRNO_SENTINEL;
        conf_free(big[i]);
        if (errno != CONF_ERRNO_SENTINEL)
            conf_fail("free of large block %d of 200 changed errno to %s", i, conf_errname(errno));
    }
}

CONF_CHECK(li06_errno_everywhere, "LI-06", "limits", CONF_STD, 0,
           "errno is ENOMEM on every failing POSIX allocation path: malloc, calloc, realloc, "
           "realloc(NULL), aligned_alloc, reallocarray; memalign, valloc, pvalloc listed "
           "(POSIX malloc/calloc/realloc; man malloc(3))")
{
    char lib[256];
    char *blk = conf_malloc(64);
    struct { const char *name; int kind; } paths[] = {
        {"malloc(SIZE_MAX)", 0}, {"calloc(SIZE_MAX, 2)", 1}, {"realloc(p, SIZE_MAX)", 2},
        {"realloc(NULL, SIZE_MAX)", 3}, {"aligned_alloc(16, SIZE_MAX)", 4},
        {"memalign(16, SIZE_MAX)", 5}, {"valloc(SIZE_MAX)", 6}, {"pvalloc(SIZE_MAX)", 7},
        {"reallocarray(p, SIZE_MAX, 2)", 8},
    };
    const char *syms[] = {NULL, NULL, NULL, NULL, "aligned_alloc", "memalign", "valloc",
                          "pvalloc", "reallocarray"};
    const int posix[] = {1, 1, 1, 1, 1, 0, 0, 0, 1};
    char wrong[400] = "", other[200] = "";
    size_t len = 0, olen = 0;
    int tested = 0;
    for (int i = 0; i < 9; i++) {
        void *fn = NULL;
        if (syms[i] != NULL) {
            if (conf_symbol_owner(syms[i], lib, sizeof lib) != 1)
                continue;
            fn = conf_need(syms[i]);
        }
        void *p = NULL;
        errno = CONF_ERRNO_SENTINEL;
        switch (paths[i].kind) {
        case 0: p = conf_malloc(SIZE_MAX); break;
        case 1: p = conf_calloc(SIZE_MAX, 2); break;
        case 2: p = conf_realloc(blk, SIZE_MAX); break;
        case 3: p = conf_realloc(NULL, SIZE_MAX); break;
        case 4: case 5: p = ((void *(*)(size_t, size_t))fn)(16, SIZE_MAX); break;
        case 6: case 7: p = ((void *(*)(size_t))fn)(SIZE_MAX); break;
        case 8: p = ((void *(*)(void *, size_t, size_t))fn)(blk, SIZE_MAX, 2); break;
        }
        int e = errno;
        tested++;
        if (p != NULL)
            conf_fail("%s = %p, expected NULL", paths[i].name, p);
        if (e != ENOMEM && posix[i])
            len += (size_t)snprintf(wrong + len, sizeof wrong - len, "%s%s: %s", len ? ", " : "",
                                    paths[i].name, conf_errname(e));
        else if (e != ENOMEM)
            olen += (size_t)snprintf(other + olen, sizeof other - olen, "%s%s: %s",
                                     olen ? ", " : "", paths[i].name, conf_errname(e));
    }
    conf_free(blk);
    if (len)
        conf_fail("NULL without ENOMEM from %s%s%s", wrong, olen ? "; also (not POSIX) " : "",
                  other);
    if (olen)
        conf_pass("ENOMEM on every POSIX path; not from (not POSIX) %s", other);
    conf_pass("ENOMEM on all %d paths the allocator provides", tested);
}

/* a "Name:   N kB" line of /proc/meminfo, in bytes (0 if absent) */
static size_t li_meminfo(const char *name)
{
    char line[256];
    size_t v = 0, len = strlen(name);
    FILE *f = fopen("/proc/meminfo", "r");
    if (f == NULL)
        return 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, name, len) == 0 && line[len] == ':')
            v = strtoull(line + len + 1, NULL, 10) * 1024;
    fclose(f);
    return v;
}

static int li_overcommit_mode(void)
{
    int mode = -1;
    FILE *f = fopen("/proc/sys/vm/overcommit_memory", "r");
    if (f == NULL)
        return -1;
    if (fscanf(f, "%d", &mode) != 1)
        mode = -1;
    fclose(f);
    return mode;
}

CONF_CHECK(li08_beyond_ram_swap, "LI-08", "limits", CONF_STD, 0,
           "malloc and calloc of 2^k bytes, from twice RAM+swap up to 2^46, return NULL with "
           "ENOMEM under the machine's overcommit policy (heuristic or strict; not checked under "
           "overcommit_memory=1, which grants any size): the space cannot be allocated (C17 "
           "7.22.3p1 null pointer; POSIX malloc/calloc ENOMEM; Linux proc(5) overcommit_memory)")
{
    int mode = li_overcommit_mode();
    if (mode == 1)
        conf_unsupported("overcommit_memory=1: the kernel grants any size");
    size_t total = li_meminfo("MemTotal") + li_meminfo("SwapTotal");
    if (total == 0)
        conf_unsupported("cannot read MemTotal and SwapTotal from /proc/meminfo");
    unsigned k0 = 64u - (unsigned)__builtin_clzll(2 * total);
    if (k0 > 46)
        conf_unsupported("RAM+swap %zu MiB: twice that is beyond 2^46", total >> 20);
    for (unsigned k = k0; k <= 46; k++) {
        size_t n = (size_t)1 << k;
        for (int fn = 0; fn < 2; fn++) {
            errno = CONF_ERRNO_SENTINEL;
            void *p = fn == 0 ? conf_malloc(n) : conf_calloc(1, n);
            int e = errno;
            if (p != NULL) {
                conf_free(p); /* never touched */
                conf_fail("%s(2^%u) = a block with RAM+swap %zu MiB (overcommit_memory=%d), "
                          "expected NULL", fn ? "calloc" : "malloc", k, total >> 20, mode);
            }
            if (e != ENOMEM)
                conf_fail("%s(2^%u) = NULL with %s, expected ENOMEM", fn ? "calloc" : "malloc", k,
                          conf_errname(e));
        }
    }
    conf_pass("2^%u..2^46 refused (RAM+swap %zu MiB, overcommit_memory=%d)", k0, total >> 20,
              mode);
}

/* the VmFlags of the /proc/self/smaps entry holding p: "ac" (charged
   against the commit limit), "nr" (MAP_NORESERVE) or "-" */
static const char *li_charge_of(const void *p)
{
    char line[512];
    uintptr_t a = (uintptr_t)p, lo = 0, hi = 0;
    int inside = 0;
    const char *verdict = "?";
    FILE *f = fopen("/proc/self/smaps", "r");
    if (f == NULL)
        return "?";
    while (fgets(line, sizeof line, f)) {
        unsigned long l, h;
        if (sscanf(line, "%lx-%lx ", &l, &h) == 2) { /* a mapping's first line */
            lo = l;
            hi = h;
            inside = a >= lo && a < hi;
            continue;
        }
        if (inside && strncmp(line, "VmFlags:", 8) == 0) {
            verdict = strstr(line, " ac") ? "ac" : strstr(line, " nr") ? "nr" : "-";
            break;
        }
    }
    fclose(f);
    return verdict;
}

CONF_CHECK(li09_charged_mappings, "LI-09", "limits", CONF_REP, 0,
           "whether the memory of blocks of 64 KiB, 4 MiB, 64 MiB and 1 GiB (never touched) is "
           "charged against the kernel's commit limit (smaps VmFlags ac) or mapped MAP_NORESERVE "
           "(nr), i.e. handed out as under overcommit_memory=1 whatever the policy (Linux "
           "proc(5) smaps VmFlags, overcommit_memory)")
{
    size_t sizes[] = {64u << 10, 4u << 20, 64u << 20, (size_t)1 << 30};
    const char *names[] = {"64K", "4M", "64M", "1G"};
    char out[200] = "";
    size_t len = 0;
    for (int i = 0; i < 4; i++) {
        void *p = conf_malloc(sizes[i]);
        len += (size_t)snprintf(out + len, sizeof out - len, "%s%s:%s", i ? " " : "", names[i],
                                p ? li_charge_of(p) : "NULL");
        conf_free(p);
    }
    conf_observe("%s", out);
}
