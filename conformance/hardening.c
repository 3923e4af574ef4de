/* hardening.c: catalogue area HD. Every probe runs in its own process
   (conf_sub_run): the misuse is undefined behaviour, and the verdict is
   whether the allocator noticed. "Detected" means the probe was stopped by
   SIGABRT, SIGILL or SIGTRAP (an allocator's deliberate abort or trap) or
   exited non-zero on its own, inside the misusing call. */
#define _GNU_SOURCE
#include "conf.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int deliberate(const struct conf_sub *s)
{
    return s->signo == SIGABRT || s->signo == SIGILL || s->signo == SIGTRAP ||
           (s->exited && s->code != 0);
}

/* runs each probe variant, lists which ones were detected */
static void probe_set(const char *what, void (*fn)(void *), const char *const *names, int n)
{
    char out[440] = "";
    size_t len = 0;
    int hits = 0;
    for (int i = 0; i < n; i++) {
        struct conf_sub s;
        conf_sub_run(&s, fn, (void *)(uintptr_t)i, 3);
        int d = deliberate(&s);
        hits += d;
        len += (size_t)snprintf(out + len, sizeof out - len, "%s%s: %s", i ? "; " : "", names[i],
                                d ? conf_sub_describe(&s) : s.signo ? conf_sub_describe(&s)
                                                                    : "not detected");
    }
    if (n == 1 && hits)
        conf_present("%s", out);
    if (n == 1)
        conf_absent("%s", out);
    if (hits)
        conf_present("%s %d of %d: %s", what, hits, n, out);
    conf_absent("%s none of %d: %s", what, n, out);
}

static void hd01_probe(void *arg)
{
    int v = (int)(uintptr_t)arg;
    if (v == 0) { /* small */
        void *p = conf_malloc(32);
        conf_free(p);
        conf_free(p);
    } else if (v == 1) { /* after filling the thread cache */
        void *q[20];
        void *p = conf_malloc(48);
        for (int i = 0; i < 20; i++)
            q[i] = conf_malloc(48);
        conf_free(p);
        for (int i = 0; i < 20; i++)
            conf_free(q[i]);
        conf_free(p);
    } else if (v == 2) { /* a - b - a */
        void *a = conf_malloc(64), *b = conf_malloc(64);
        conf_free(a);
        conf_free(b);
        conf_free(a);
    } else { /* large */
        void *p = conf_malloc(1u << 20);
        conf_free(p);
        conf_free(p);
    }
    _exit(0);
}

CONF_CHECK(hd01_double_free, "HD-01", "hardening", CONF_CAP, 0,
           "double free detected: small, after filling the cache, a-b-a, large (glibc "
           "tst-tcfree1..4.c; jemalloc unit/double_free.c; hardened_malloc double_free_*)")
{
    static const char *const n[] = {"small", "after 20 frees", "a-b-a", "1 MiB"};
    probe_set("double free detected in", hd01_probe, n, 4);
}

static void hd02_probe(void *arg)
{
    int v = (int)(uintptr_t)arg;
    char *p = conf_malloc(64);
    memset(p, 0, 64);
    char stack[64];
    if (v == 0)
        conf_free(p + 16);
    else if (v == 1)
        conf_free(p + 1);
    else
        conf_free(stack + 16);
    conf_touch(stack);
    _exit(0);
}

CONF_CHECK(hd02_invalid_free, "HD-02", "hardening", CONF_CAP, 0,
           "invalid free detected: interior p+16, misaligned p+1, a stack address (glibc; "
           "hardened_malloc invalid_free_*, unaligned_free_*; scudo)")
{
    static const char *const n[] = {"p+16", "p+1", "stack"};
    probe_set("invalid free detected in", hd02_probe, n, 3);
}

static void hd03_probe(void *arg)
{
    (void)arg;
    char *p = conf_malloc(64);
    conf_free(p);
    memset(p + 16, 0x41, 48); /* past the first 16 bytes: free-list links live there */
    for (int i = 0; i < 64; i++)
        conf_free(conf_malloc(64));
    _exit(0);
}

CONF_CHECK(hd03_write_after_free, "HD-03", "hardening", CONF_CAP, 0,
           "a write to bytes 16..63 of a freed 64-byte block is detected when the block is "
           "allocated again (hardened_malloc write_after_free_small; jemalloc unit/uaf.c)")
{
    static const char *const n[] = {"write after free"};
    probe_set("", hd03_probe, n, 1);
}

static void hd04_probe(void *arg)
{
    (void)arg;
    for (int i = 0; i < 32; i++) {
        char *p = conf_malloc(24);
        size_t u = conf_ext()->usable_size ? conf_ext()->usable_size(p) : 24;
        p[u] = 0x41; /* one byte past the usable size */
        conf_free(p);
    }
    for (int i = 0; i < 64; i++)
        conf_free(conf_malloc(24));
    _exit(0);
}

CONF_CHECK(hd04_overflow_one_byte, "HD-04", "hardening", CONF_CAP, 0,
           "a 1-byte write past the usable size is detected at free or reuse (hardened_malloc "
           "overflow_small_1_byte; mimalloc padding)")
{
    static const char *const n[] = {"1-byte overflow"};
    probe_set("", hd04_probe, n, 1);
}

/* exits 0 when the freed block still holds its data, 7 when it does not */
static void hd05_probe(void *arg)
{
    size_t n = (size_t)(uintptr_t)arg;
    char *p = conf_malloc(n);
    memset(p, 0x3c, n);
    void *hold = conf_malloc(n); /* keeps p from merging into free space */
    conf_free(p);
    size_t same = 0;
    for (size_t j = 16; j < n; j++)
        same += ((volatile char *)p)[j] == 0x3c;
    conf_touch(hold);
    _exit(same > (n - 16) / 2 ? 0 : 7);
}

CONF_CHECK(hd05_scrub_on_free, "HD-05", "hardening", CONF_CAP, 0,
           "freed memory is scrubbed: bytes 16.. of a freed 256 B and 4 KiB block no longer hold "
           "the data (jemalloc opt.junk; glibc M_PERTURB; hardened_malloc zero-on-free)")
{
    size_t sizes[] = {256, 4096};
    int kept = 0;
    char out[200] = "";
    size_t len = 0;
    for (int i = 0; i < 2; i++) {
        struct conf_sub s;
        conf_sub_run(&s, hd05_probe, (void *)(uintptr_t)sizes[i], 3);
        const char *what = s.exited && s.code == 0   ? "data kept"
                           : s.exited && s.code == 7 ? "scrubbed"
                                                     : conf_sub_describe(&s);
        kept += s.exited && s.code == 0;
        len += (size_t)snprintf(out + len, sizeof out - len, "%s%zu B: %s", i ? ", " : "",
                                sizes[i], what);
    }
    if (kept == 0)
        conf_present("%s", out);
    conf_absent("%s", out);
}

CONF_CHECK(hd06_no_immediate_reuse, "HD-06", "hardening", CONF_CAP, 0,
           "a freed address is not handed back by the next request of the same size "
           "(hardened_malloc malloc_noreuse, *_delayed; scudo quarantine)")
{
    int reused = 0;
    size_t sizes[] = {16, 64, 200, 1000, 5000};
    for (int i = 0; i < 5; i++) {
        void *p = conf_malloc(sizes[i]);
        conf_free(p);
        void *q = conf_malloc(sizes[i]);
        reused += p == q;
        conf_free(q);
    }
    if (reused == 0)
        conf_present("no immediate reuse for 5 sizes");
    conf_absent("freed address handed back at once for %d of 5 sizes", reused);
}

CONF_CHECK(hd07_random_order, "HD-07", "hardening", CONF_CAP, 0,
           "allocation order is randomised: share of equal strides between 1000 successive "
           "64-byte blocks (mimalloc secure mode; hardened_malloc)")
{
    static char *p[1000];
    for (int i = 0; i < 1000; i++)
        p[i] = conf_malloc(64);
    int equal = 0;
    for (int i = 2; i < 1000; i++)
        equal += p[i] - p[i - 1] == p[i - 1] - p[i - 2];
    for (int i = 0; i < 1000; i++)
        conf_free(p[i]);
    if (equal < 500)
        conf_present("%d of 998 strides repeat", equal);
    conf_absent("%d of 998 strides repeat: sequential", equal);
}

/* protection of the page at addr, from /proc/self/maps: 'r','w','-' string
   in prot (4 chars), or "unmapped" */
static void page_prot(uintptr_t addr, char *prot, size_t size)
{
    snprintf(prot, size, "unmapped");
    FILE *f = fopen("/proc/self/maps", "r");
    if (f == NULL)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        char perms[8];
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 && addr >= lo && addr < hi) {
            snprintf(prot, size, "%.4s", perms);
            break;
        }
    }
    fclose(f);
}

CONF_CHECK(hd08_guard_pages, "HD-08", "hardening", CONF_CAP, 0,
           "the page after each of 16 live 1 MiB blocks is an inaccessible guard (PROT_NONE) "
           "(hardened_malloc overflow_large_*; jemalloc san_guard_large; mimalloc secure)")
{
    static char *p[16];
    size_t page = conf_page();
    int guarded = 0;
    char first[16] = "";
    for (int i = 0; i < 16; i++)
        p[i] = conf_malloc((1u << 20) + (size_t)i * 100);
    for (int i = 0; i < 16; i++) {
        size_t u = conf_ext()->usable_size ? conf_ext()->usable_size(p[i])
                                           : (1u << 20) + (size_t)i * 100;
        uintptr_t after = ((uintptr_t)p[i] + u + page - 1) & ~(uintptr_t)(page - 1);
        char prot[16];
        page_prot(after, prot, sizeof prot);
        if (i == 0)
            snprintf(first, sizeof first, "%s", prot);
        guarded += strncmp(prot, "---", 3) == 0;
    }
    for (int i = 0; i < 16; i++)
        conf_free(p[i]);
    if (guarded == 16)
        conf_present("all 16 blocks end at a PROT_NONE page");
    conf_absent("%d of 16 blocks end at a PROT_NONE page (first: %s)", guarded, first);
}

static void hd09_probe(void *arg)
{
    (void)arg;
    char *p = conf_malloc(0);
    if (p == NULL)
        _exit(0);
    char c = ((volatile char *)p)[0];
    conf_touch((void *)(uintptr_t)c);
    _exit(0);
}

CONF_CHECK(hd09_zero_size_read, "HD-09", "hardening", CONF_CAP, 0,
           "reading the block of malloc(0) traps (hardened_malloc read_zero_size)")
{
    struct conf_sub s;
    conf_sub_run(&s, hd09_probe, NULL, 3);
    if (s.signo == SIGSEGV || s.signo == SIGBUS)
        conf_present("read of malloc(0): %s", conf_sub_describe(&s));
    conf_absent("read of malloc(0): %s", conf_sub_describe(&s));
}

static char hd10_target[4096] __attribute__((aligned(4096)));

static void hd10_probe(void *arg)
{
    (void)arg;
    void **a = conf_malloc(64), **b = conf_malloc(64);
    conf_free(b);
    conf_free(a);
    a[0] = hd10_target + 1024; /* forge the free-list link of the freed block */
    for (int i = 0; i < 2000; i++) {
        char *q = conf_malloc(64);
        if (q == hd10_target + 1024)
            _exit(0); /* the forged pointer was followed */
    }
    _exit(7); /* never followed */
}

CONF_CHECK(hd10_freelist_protection, "HD-10", "hardening", CONF_CAP, 0,
           "a forged free-list pointer written into a freed block is not followed (glibc "
           "tst-safe-linking.c; mimalloc secure encoded free lists)")
{
    struct conf_sub s;
    conf_sub_run(&s, hd10_probe, NULL, 3);
    if (s.exited && s.code == 0)
        conf_absent("malloc returned the forged address");
    if (s.exited && s.code == 7)
        conf_present("forged address never returned (links encoded or kept outside blocks)");
    conf_present("forged link detected: %s", conf_sub_describe(&s));
}

static void hd11_probe(void *arg)
{
    (void)arg;
    char *p = conf_malloc(200);
    char *q = conf_malloc(200);
    memset(p - 16, 0xff, 16); /* smash whatever header precedes the block */
    conf_free(p);
    conf_free(q);
    for (int i = 0; i < 16; i++)
        conf_free(conf_malloc(200));
    _exit(0);
}

CONF_CHECK(hd11_report_no_deadlock, "HD-11", "hardening", CONF_CAP, 0,
           "a corrupted block header is reported and the process ends without deadlocking "
           "(glibc tst-malloc-backtrace.c)")
{
    struct conf_sub s;
    conf_sub_run(&s, hd11_probe, NULL, 3);
    if (s.timed_out)
        conf_absent("corruption led to a hang");
    if (deliberate(&s))
        conf_present("%s", conf_sub_describe(&s));
    conf_absent("no report (%s)", conf_sub_describe(&s));
}
