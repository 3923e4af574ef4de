/* oom.c: see oom.h. */
#define _GNU_SOURCE
#include "conf.h"
#include "oom.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define OOM_MAX_THREADS 9
#define OOM_MAX_BLOCKS 8192

static const char *const oom_names[] = {"malloc", "calloc", "realloc", "aligned_alloc",
                                        "posix_memalign", "memalign", "valloc", "pvalloc"};

const char *conf_oom_fn_name(enum conf_oom_fn fn) { return oom_names[fn]; }

static unsigned long limit_pages; /* address space when the limit was set */
static size_t limit_headroom;

static unsigned long vm_pages(void)
{
    unsigned long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f != NULL && fscanf(f, "%lu", &pages) != 1)
        pages = 0;
    if (f != NULL)
        fclose(f);
    return pages;
}

void conf_oom_unbound(size_t served)
{
    long grown = ((long)vm_pages() - (long)limit_pages) * (long)conf_page();
    conf_unsupported("RLIMIT_AS does not bound %s: %zu MiB of blocks served under a limit of "
                     "current + %zu MiB, the address space grew %ld MiB (reserved before the "
                     "limit)",
                     conf_ext()->name, served >> 20, limit_headroom >> 20, grown >> 20);
}

void conf_limit_as(size_t headroom)
{
    unsigned long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL || fscanf(f, "%lu", &pages) != 1)
        conf_unsupported("cannot read /proc/self/statm");
    fclose(f);
    struct rlimit rl = {.rlim_cur = pages * conf_page() + headroom,
                        .rlim_max = RLIM_INFINITY};
    struct rlimit old;
    getrlimit(RLIMIT_AS, &old);
    rl.rlim_max = old.rlim_max;
    if (old.rlim_cur != RLIM_INFINITY && old.rlim_cur < rl.rlim_cur)
        rl.rlim_cur = old.rlim_cur;
    if (setrlimit(RLIMIT_AS, &rl) != 0)
        conf_unsupported("setrlimit(RLIMIT_AS) failed: %s", strerror(errno));
    limit_pages = pages;
    limit_headroom = headroom;
}

/* --- a thread's first allocation at OOM ------------------------------------ */
static pthread_barrier_t first_barrier;
struct first_result { void *p; int err; };

static void *first_thread(void *arg)
{
    struct first_result *r = arg;
    pthread_barrier_wait(&first_barrier);
    errno = CONF_ERRNO_SENTINEL;
    r->p = conf_malloc(64);
    r->err = errno;
    return NULL;
}

const char *conf_oom_first_call(int threads)
{
    static struct first_result res[OOM_MAX_THREADS];
    static char summary[160];
    pthread_t tid[OOM_MAX_THREADS];
    if (threads > OOM_MAX_THREADS)
        threads = OOM_MAX_THREADS;
    pthread_barrier_init(&first_barrier, NULL, (unsigned)threads + 1);
    for (int i = 0; i < threads; i++)
        if (pthread_create(&tid[i], NULL, first_thread, &res[i]) != 0)
            conf_unsupported("pthread_create failed");
    size_t headroom = (size_t)256 << 20, served = 0;
    conf_limit_as(headroom);
    void *head = NULL;
    for (size_t sz = 1u << 20; sz >= 64; sz /= 4) {
        for (;;) {
            void **p = conf_malloc(sz);
            if (p == NULL)
                break;
            *p = head;
            head = p;
            if ((served += sz) > CONF_OOM_UNBOUND_BYTES(headroom))
                conf_oom_unbound(served);
        }
    }
    pthread_barrier_wait(&first_barrier);
    for (int i = 0; i < threads; i++)
        pthread_join(tid[i], NULL);
    int got = 0;
    for (int i = 0; i < threads; i++) {
        if (res[i].p == NULL && res[i].err != ENOMEM)
            conf_fail("a new thread's first malloc(64) at OOM = NULL with %s, expected ENOMEM",
                      conf_errname(res[i].err));
        got += res[i].p != NULL;
    }
    snprintf(summary, sizeof summary, "first malloc of %d new threads at OOM: %d blocks, %d NULL",
             threads, got, threads - got);
    return summary;
}

struct oom_worker {
    pthread_t tid;
    enum conf_oom_fn fn;
    size_t size, align;
    void *fnptr;
    pthread_barrier_t *start, *freed;
    size_t count;
    int fail_errno;  /* errno at the failing call */
    int capped;      /* stopped at OOM_MAX_BLOCKS without a failure */
    int again_ok;    /* allocation after freeing worked */
    char problem[200];
    void *blocks[OOM_MAX_BLOCKS];
};

static void *oom_alloc(struct oom_worker *w)
{
    void *p = NULL;
    switch (w->fn) {
    case CONF_OOM_MALLOC: return conf_malloc(w->size);
    case CONF_OOM_CALLOC: return conf_calloc(1, w->size);
    case CONF_OOM_REALLOC: return conf_realloc(NULL, w->size);
    case CONF_OOM_ALIGNED_ALLOC:
    case CONF_OOM_MEMALIGN: return ((void *(*)(size_t, size_t))w->fnptr)(w->align, w->size);
    case CONF_OOM_POSIX_MEMALIGN: {
        int r = ((int (*)(void **, size_t, size_t))w->fnptr)(&p, w->align, w->size);
        if (r != 0) {
            errno = r;
            return NULL;
        }
        return p;
    }
    case CONF_OOM_VALLOC:
    case CONF_OOM_PVALLOC: return ((void *(*)(size_t))w->fnptr)(w->size);
    default: return NULL;
    }
}

static void *oom_thread(void *arg)
{
    struct oom_worker *w = arg;
    /* bind the thread to its allocator state before the limit: a first call
       at OOM is TH-03's own deterministic case */
    conf_free(conf_malloc(1));
    pthread_barrier_wait(w->start);
    for (;;) {
        if (w->count == OOM_MAX_BLOCKS) {
            w->capped = 1;
            break;
        }
        errno = CONF_ERRNO_SENTINEL;
        void *p = oom_alloc(w);
        if (p == NULL) {
            w->fail_errno = errno;
            break;
        }
        if (!conf_aligned(p, w->align) && w->problem[0] == '\0')
            snprintf(w->problem, sizeof w->problem, "%s(%zu) = %p: not %zu-aligned",
                     oom_names[w->fn], w->size, p, w->align);
        if (w->fn == CONF_OOM_CALLOC) {
            long nz = conf_first_nonzero(p, w->size);
            if (nz >= 0 && w->problem[0] == '\0')
                snprintf(w->problem, sizeof w->problem,
                         "calloc(1, %zu) block %zu near OOM: byte %ld not zero", w->size,
                         w->count, nz);
        }
        ((volatile char *)p)[0] = 1;
        w->blocks[w->count++] = p;
    }
    pthread_barrier_wait(w->freed);
    for (size_t i = 0; i < w->count; i++)
        conf_free(w->blocks[i]);
    pthread_barrier_wait(w->freed);
    void *p = oom_alloc(w);
    w->again_ok = p != NULL;
    conf_free(p);
    return NULL;
}

const char *conf_oom_threads(enum conf_oom_fn fn, int threads, size_t size)
{
    static struct oom_worker workers[OOM_MAX_THREADS];
    static char summary[200];
    void *fnptr = NULL;
    size_t align = conf_weak_alignment(size), page = conf_page();
    switch (fn) {
    case CONF_OOM_ALIGNED_ALLOC: fnptr = conf_need("aligned_alloc"); align = 128; break;
    case CONF_OOM_POSIX_MEMALIGN: fnptr = conf_need("posix_memalign"); align = 128; break;
    case CONF_OOM_MEMALIGN: fnptr = conf_need("memalign"); align = 128; break;
    case CONF_OOM_VALLOC: fnptr = conf_need("valloc"); align = page; break;
    case CONF_OOM_PVALLOC: fnptr = conf_need("pvalloc"); align = page; break;
    default: break;
    }
    if (threads > OOM_MAX_THREADS)
        threads = OOM_MAX_THREADS;
    pthread_barrier_t start, freed;
    pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
    pthread_barrier_init(&freed, NULL, (unsigned)threads);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 << 10);
    for (int i = 0; i < threads; i++) {
        struct oom_worker *w = &workers[i];
        memset(w, 0, sizeof *w);
        w->fn = fn;
        w->size = size;
        w->align = align;
        w->fnptr = fnptr;
        w->start = &start;
        w->freed = &freed;
        if (pthread_create(&w->tid, &attr, oom_thread, w) != 0)
            conf_unsupported("pthread_create failed");
    }
    size_t headroom = (size_t)256 << 20;
    conf_limit_as(headroom);
    pthread_barrier_wait(&start);
    size_t total = 0, capped = 0;
    int again = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(workers[i].tid, NULL);
        capped += workers[i].capped ? workers[i].count * size : 0;
    }
    if (capped > CONF_OOM_UNBOUND_BYTES(headroom))
        conf_oom_unbound(capped);
    for (int i = 0; i < threads; i++) {
        struct oom_worker *w = &workers[i];
        total += w->count;
        if (w->problem[0])
            conf_fail("thread %d: %s", i, w->problem);
        if (w->capped)
            conf_fail("thread %d: %d blocks of %zu bytes and no failure under RLIMIT_AS = "
                      "current + 256 MiB",
                      i, OOM_MAX_BLOCKS, size);
        if (w->fail_errno != ENOMEM)
            conf_fail("thread %d: %s(%zu) at OOM = NULL with %s, expected ENOMEM", i,
                      oom_names[fn], size, conf_errname(w->fail_errno));
        again += w->again_ok;
    }
    snprintf(summary, sizeof summary,
             "%s: %zu blocks of %zu bytes in %d threads before ENOMEM; after freeing, %d of %d "
             "threads could allocate again",
             oom_names[fn], total, size, threads, again, threads);
    return summary;
}
