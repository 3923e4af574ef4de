/* threads.c: catalogue area TH (thread safety). */
#define _GNU_SOURCE
#include "conf.h"
#include "oom.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TH01_SLOTS 256
#define TH01_THREADS 4
#define TH01_OPS 100000

struct th01_block {
    uint32_t size, seed;
    unsigned char data[];
};

static struct th01_block *_Atomic th01_slots[TH01_SLOTS];
static char th01_problem[200];
static int _Atomic th01_failed;

static void *th01_worker(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg * 2654435761u + 1;
    for (int i = 0; i < TH01_OPS && !th01_failed; i++) {
        seed = seed * 1103515245u + 12345u;
        uint32_t size = 1 + (seed >> 8) % (i % 64 == 0 ? 65536 : 512);
        struct th01_block *b = conf_malloc(sizeof *b + size);
        if (b == NULL) {
            if (!atomic_exchange(&th01_failed, 1))
                snprintf(th01_problem, sizeof th01_problem, "malloc(%u) = NULL", size);
            break;
        }
        b->size = size;
        b->seed = seed;
        conf_fill(b->data, size, seed);
        struct th01_block *old = atomic_exchange(&th01_slots[(seed >> 4) % TH01_SLOTS], b);
        if (old != NULL) {
            long bad = conf_check_fill(old->data, old->size, old->seed);
            if (bad >= 0 && !atomic_exchange(&th01_failed, 1))
                snprintf(th01_problem, sizeof th01_problem,
                         "a %u-byte block handed across threads: byte %ld changed", old->size, bad);
            conf_free(old); /* usually allocated by another thread */
        }
    }
    return NULL;
}

CONF_CHECK(th01_cross_thread_free, "TH-01", "threads", CONF_STD, 15,
           "4 threads swap blocks of random size through shared slots and free each other's "
           "blocks, payload checked (glibc tst-aligned-alloc-random-thread-cross.c; jemalloc "
           "mallocx.c test_remote_free)")
{
    pthread_t t[TH01_THREADS];
    for (int i = 0; i < TH01_THREADS; i++)
        pthread_create(&t[i], NULL, th01_worker, (void *)(uintptr_t)(i + 1));
    for (int i = 0; i < TH01_THREADS; i++)
        pthread_join(t[i], NULL);
    if (th01_failed)
        conf_fail("%s", th01_problem);
    for (int i = 0; i < TH01_SLOTS; i++)
        conf_free(th01_slots[i]);
}

static void *th02_thread(void *arg)
{
    (void)arg;
    void *p = conf_malloc(32);
    memset(p, 1, 32);
    return p;
}

CONF_CHECK(th02_thread_exit, "TH-02", "threads", CONF_REP, 15,
           "RSS growth over 10000 thread create/join cycles, each thread handing one 32-byte "
           "block to main (glibc tst-malloc-tcache-leak.c, tst-malloc-thread-exit.c)")
{
    static void *kept[10000];
    long base = conf_rss_kb();
    for (int i = 0; i < 10000; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, th02_thread, NULL) != 0)
            conf_observe("pthread_create failed after %d threads", i);
        pthread_join(t, &kept[i]);
    }
    long grown = conf_rss_kb() - base;
    conf_observe("RSS %+ld KiB after 10000 threads (%.1f KiB per 1000; the kept blocks are 312 KiB)",
                 grown, (double)grown / 10.0);
}

static void th03_run(void *arg)
{
    enum conf_oom_fn f = *(enum conf_oom_fn *)arg;
    size_t size = f == CONF_OOM_VALLOC || f == CONF_OOM_PVALLOC ? 17 * conf_page() : 128 << 10;
    conf_oom_threads(f, 9, size);
}

static void th03_first(void *arg)
{
    (void)arg;
    conf_oom_first_call(4);
}

CONF_CHECK(th03_threads_oom_all, "TH-03", "threads", CONF_STD, 30,
           "9 threads reach OOM together with each allocation function the allocator provides: "
           "NULL with ENOMEM, alignment and zeroing hold, recovery after free (glibc "
           "tst-malloc-thread-fail.c)")
{
    static const char *syms[CONF_OOM_NFN] = {NULL, NULL, NULL, "aligned_alloc", "posix_memalign",
                                             "memalign", "valloc", "pvalloc"};
    char done[300] = "";
    size_t len = 0;
    char lib[256];
    struct conf_sub s;
    /* deterministic part: a thread's very first call happens at OOM */
    conf_sub_run(&s, th03_first, NULL, 8);
    if (s.exited && s.code == CONF_SUB_VERDICT + CONF_UNSUPPORTED) /* the limit does not bind */
        len += (size_t)snprintf(done, sizeof done, "(%s: a first call at OOM cannot be made: "
                                "the limit does not bind)", conf_ext()->name);
    else
        conf_sub_verdict(&s, "first malloc(64) of 4 new threads after the main thread "
                             "exhausted RLIMIT_AS");
    for (int f = 0; f < CONF_OOM_NFN; f++) {
        if (syms[f] != NULL && conf_symbol_owner(syms[f], lib, sizeof lib) != 1)
            continue;
        /* each function in a fresh process: RLIMIT_AS cannot be raised back */
        enum conf_oom_fn arg = (enum conf_oom_fn)f;
        conf_sub_run(&s, th03_run, &arg, 8);
        /* the function is the allocator's own: unsupported means that the
           limit did not bind (its first stderr line may be the allocator's) */
        if (s.exited && s.code == CONF_SUB_VERDICT + CONF_UNSUPPORTED) {
            len += (size_t)snprintf(done + len, sizeof done - len, "%s(%s: not at OOM)",
                                        len ? " " : "",
                                        conf_oom_fn_name((enum conf_oom_fn)f));
            continue;
        }
        char what[80];
        snprintf(what, sizeof what, "%s at OOM in 9 threads", conf_oom_fn_name(arg));
        conf_sub_verdict(&s, what);
        len += (size_t)snprintf(done + len, sizeof done - len, "%s%s", len ? " " : "",
                                conf_oom_fn_name((enum conf_oom_fn)f));
    }
    conf_pass("%s", done);
}

static void *th04_thread(void *arg)
{
    char **p = arg;
    char *q = conf_realloc(*p, 5000);
    if (q == NULL || conf_check_fill(q, 100, 42) >= 0)
        return (void *)1;
    conf_free(q);
    conf_free(p[1]);
    return NULL;
}

CONF_CHECK(th04_first_alloc_in_thread, "TH-04", "threads", CONF_STD, 0,
           "a new thread's first allocator call is realloc/free of blocks from the main thread "
           "(hardened_malloc realloc_init.c)")
{
    char *p[2] = {conf_malloc(100), conf_malloc(70000)};
    conf_fill(p[0], 100, 42);
    pthread_t t;
    void *r;
    pthread_create(&t, NULL, th04_thread, p);
    pthread_join(t, &r);
    if (r != NULL)
        conf_fail("realloc in a new thread lost the contents of the main thread's block");
}
