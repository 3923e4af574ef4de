/* replay.c: real programs, replayed. Each allocation trace in bench/traces/
 * (or the folder named by HEAPMARK_TRACES), recorded with
 * `build/heapmark trace` (format: bench/trace/FORMAT.md), becomes one instance
 * `replay/trace:<name>`. A round replays the whole trace, in its recorded
 * order, writing one byte per page of every block allocated (the program
 * used them), then frees what the program never freed; one operation = one
 * event.
 * A trace with several threads is replayed with as many threads (at most
 * 16; more are folded onto 16), each doing its own events, every block's
 * events kept in their recorded order (a free waits for its malloc, even in
 * another thread), so the replay is deterministic in what it asks of the
 * allocator.
 *
 * Each run replays one round untimed first: the timed rounds measure the
 * allocator in its steady state, whatever the number of them (a round that
 * faults the whole trace's memory in takes long enough, on a slow machine,
 * that Google Benchmark would time that round alone).
 *
 * Counters: trace_events, trace_threads, peak_live_bytes (from the trace),
 * peak_rss_bytes (VmHWM during the timed rounds), overhead ((peak RSS -
 * startup RSS - the replay's own arrays) / peak live bytes; a process that
 * loaded other traces before holds their arrays too: the runner runs one
 * instance per process), faults_per_round (minor page faults of the process
 * during the timed rounds, per round), failed_allocs (allocations that
 * returned NULL, in any round; 0 normally).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench.h"
#include "gbench.h"
#include "trace/hmtrace_format.h"

#define MAX_REPLAY_THREADS 16


struct event {
    uint64_t size;
    uint32_t id;
    uint32_t seq;   /* index of this event among its id's events */
    uint32_t align; /* a power of two >= sizeof(void *) for HMT_MEMALIGN */
    uint8_t op;
    uint8_t thread; /* folded onto MAX_REPLAY_THREADS */
};

struct trace {
    char *path;
    int loaded;
    char error[256];
    struct event *ev;
    size_t nev;
    uint32_t nids;
    int nthreads;          /* after folding */
    int recorded_threads;
    uint32_t *at_end;      /* ids still live at the end */
    size_t nat_end;
    uint64_t peak_live;
    uint32_t *thread_ev[MAX_REPLAY_THREADS]; /* event indices per thread */
    size_t thread_nev[MAX_REPLAY_THREADS];
};

/* --- loading ---------------------------------------------------------------- */

static int fail(struct trace *t, const char *why)
{
    snprintf(t->error, sizeof t->error, "trace %s: %s", t->path, why);
    return -1;
}

/* The replay's own arrays (the file, the events, the slots) are mapped
 * directly, not taken from the allocator under test: its figures are then
 * the trace's alone. From malloc, the loader's buffers, freed before the
 * rounds, would stay in whatever each allocator keeps of freed memory and
 * count in the rounds' peak as if the traced program held them. Mapped
 * memory reads as zero. */
static void *own_map(size_t n)
{
    void *p = mmap(NULL, n ? n : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    madvise(p, n ? n : 1, MADV_NOHUGEPAGE); /* resident: the pages written, as `own` counts */
    return p;
}

static void own_unmap(void *p, size_t n)
{
    if (p != NULL)
        munmap(p, n ? n : 1);
}

/* The decompressed bytes of the file (*cap bytes mapped, for own_unmap);
   NULL with t->error set. */
static unsigned char *slurp(struct trace *t, size_t *len, size_t *cap_out)
{
    size_t n = strlen(t->path);
    int gz = n > 3 && strcmp(t->path + n - 3, ".gz") == 0;
    FILE *f;
    if (gz) {
        if (strchr(t->path, '\'') != NULL) {
            fail(t, "a quote in the path");
            return NULL;
        }
        char cmd[4200];
        snprintf(cmd, sizeof cmd, "gzip -dc -- '%s'", t->path);
        f = popen(cmd, "r");
    } else {
        f = fopen(t->path, "rb");
    }
    if (f == NULL) {
        fail(t, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 20, used = 0;
    unsigned char *buf = own_map(cap);
    while (buf != NULL) {
        size_t got = fread(buf + used, 1, cap - used, f);
        used += got;
        if (used < cap)
            break;
        void *b = mremap(buf, cap, cap * 2, MREMAP_MAYMOVE);
        if (b == MAP_FAILED) {
            own_unmap(buf, cap);
            buf = NULL;
            break;
        }
        buf = b, cap *= 2;
    }
    int status = gz ? pclose(f) : fclose(f);
    if (buf == NULL) {
        fail(t, "out of memory");
        return NULL;
    }
    if (status != 0) {
        own_unmap(buf, cap);
        fail(t, gz ? "gzip -dc failed" : "read error");
        return NULL;
    }
    *len = used;
    *cap_out = cap;
    return buf;
}

static int load(struct trace *t)
{
    size_t len, blen = 0;
    unsigned char *b = slurp(t, &len, &blen);
    if (b == NULL)
        return -1;
    int rc = -1;
    uint32_t *seq = NULL;
    uint64_t *size = NULL;
    if (len < HMT_MAGIC_LEN || memcmp(b, HMT_MAGIC, HMT_MAGIC_LEN) != 0) {
        fail(t, "not a heapmark trace (bad magic)");
        goto out;
    }
    /* events take at least 2 bytes each */
    size_t cap = (len - HMT_MAGIC_LEN) / 2 + 1, pos = HMT_MAGIC_LEN;
    t->ev = own_map(cap * sizeof *t->ev);
    if (t->ev == NULL) {
        fail(t, "out of memory");
        goto out;
    }
    uint64_t thread = 0, v;
    while (pos < len) {
        unsigned char head = b[pos++];
        int op = head & HMT_OP_MASK;
        if (op == HMT_END)
            break;
        if (op < HMT_MALLOC || op > HMT_FREE) {
            fail(t, "unknown event");
            goto out;
        }
        struct event *e = &t->ev[t->nev];
        memset(e, 0, sizeof *e);
        e->op = (uint8_t)op;
        if ((head & HMT_THREAD_FLAG) && hmt_varint(b, len, &pos, &thread) != 0)
            goto truncated;
        if (thread + 1 > (uint64_t)t->recorded_threads)
            t->recorded_threads = (int)(thread + 1);
        e->thread = (uint8_t)(thread % MAX_REPLAY_THREADS);
        if (hmt_varint(b, len, &pos, &v) != 0)
            goto truncated;
        if (v >= UINT32_MAX) {
            fail(t, "block id out of range");
            goto out;
        }
        e->id = (uint32_t)v;
        if (op == HMT_MEMALIGN) {
            if (hmt_varint(b, len, &pos, &v) != 0)
                goto truncated;
            uint32_t a = sizeof(void *);
            while (a < v && a < (1u << 30))
                a *= 2;
            e->align = a;
        }
        if (op != HMT_FREE && hmt_varint(b, len, &pos, &e->size) != 0)
            goto truncated;
        if (e->id + 1 > t->nids)
            t->nids = e->id + 1;
        t->nev++;
    }
    if (t->nev == 0) {
        fail(t, "no events");
        goto out;
    }
    t->nthreads = t->recorded_threads < MAX_REPLAY_THREADS ? t->recorded_threads
                                                           : MAX_REPLAY_THREADS;
    if (t->nthreads < 1)
        t->nthreads = 1;

    /* per id: the order of its events, liveness, live bytes */
    seq = own_map(t->nids * sizeof *seq);
    size = own_map(t->nids * sizeof *size);
    uint8_t *live = own_map(t->nids);
    if (seq == NULL || size == NULL || live == NULL) {
        own_unmap(live, t->nids);
        fail(t, "out of memory");
        goto out;
    }
    uint64_t live_bytes = 0;
    for (size_t i = 0; i < t->nev; i++) {
        struct event *e = &t->ev[i];
        e->seq = seq[e->id]++;
        int alloc = e->op == HMT_MALLOC || e->op == HMT_CALLOC || e->op == HMT_MEMALIGN;
        if (alloc == live[e->id] || (e->op == HMT_REALLOC && !live[e->id])) {
            own_unmap(live, t->nids);
            fail(t, "inconsistent events (a block used before its allocation)");
            goto out;
        }
        if (e->op == HMT_FREE) {
            live_bytes -= size[e->id];
            size[e->id] = 0;
            live[e->id] = 0;
        } else {
            live_bytes += e->size - size[e->id];
            size[e->id] = e->size;
            live[e->id] = 1;
        }
        if (live_bytes > t->peak_live)
            t->peak_live = live_bytes;
    }
    for (uint32_t id = 0; id < t->nids; id++)
        t->nat_end += live[id];
    t->at_end = own_map((t->nat_end + 1) * sizeof *t->at_end);
    for (int k = 0; k < t->nthreads && t->at_end; k++) {
        t->thread_ev[k] = own_map((t->nev + 1) * sizeof(uint32_t));
        if (t->thread_ev[k] == NULL)
            t->at_end = NULL;
    }
    if (t->at_end == NULL) {
        own_unmap(live, t->nids);
        fail(t, "out of memory");
        goto out;
    }
    t->nat_end = 0;
    for (uint32_t id = 0; id < t->nids; id++)
        if (live[id])
            t->at_end[t->nat_end++] = id;
    own_unmap(live, t->nids);
    for (size_t i = 0; i < t->nev; i++) {
        int k = t->ev[i].thread % t->nthreads;
        t->thread_ev[k][t->thread_nev[k]++] = (uint32_t)i;
    }
    rc = 0;
    goto out;
truncated:
    fail(t, "truncated (an event is cut short)");
out:
    own_unmap(seq, t->nids * sizeof *seq);
    own_unmap(size, t->nids * sizeof *size);
    own_unmap(b, blen);
    return rc;
}

/* --- replaying ---------------------------------------------------------------- */

struct replay {
    const struct trace *t;
    void **slot;
    _Atomic uint32_t *done; /* per id: events of it done this round */
    atomic_long failed;
};

static inline void apply(struct replay *r, const struct event *e)
{
    void **s = &r->slot[e->id];
    void *p;
    switch (e->op) {
    case HMT_MALLOC:
        p = malloc(e->size);
        break;
    case HMT_CALLOC:
        p = calloc(1, e->size);
        break;
    case HMT_MEMALIGN:
        if (posix_memalign(&p, e->align, e->size) != 0)
            p = NULL;
        break;
    case HMT_REALLOC:
        p = realloc(*s, e->size);
        if (p == NULL && e->size != 0) {
            atomic_fetch_add_explicit(&r->failed, 1, memory_order_relaxed);
            return; /* the old block stays */
        }
        break;
    default:
        free(*s);
        *s = NULL;
        return;
    }
    if (p == NULL && e->size != 0)
        atomic_fetch_add_explicit(&r->failed, 1, memory_order_relaxed);
    else if (p != NULL && e->size != 0)
        hm_touch(p, e->size); /* the program used its block: every page */
    *s = p;
}

struct worker {
    struct replay *r;
    int k;
};

/* Replays thread k's events, each after the events before it on its block. */
static void *replay_thread(void *arg)
{
    struct worker *w = arg;
    struct replay *r = w->r;
    const struct trace *t = r->t;
    for (size_t j = 0; j < t->thread_nev[w->k]; j++) {
        const struct event *e = &t->ev[t->thread_ev[w->k][j]];
        unsigned spins = 0;
        while (atomic_load_explicit(&r->done[e->id], memory_order_acquire) != e->seq) {
            if (++spins < 64)
#if defined(__x86_64__) || defined(__i386__)
                __builtin_ia32_pause();
#elif defined(__aarch64__)
                __asm__ volatile("yield");
#else
                __asm__ volatile("" : : : "memory");
#endif
            else
                sched_yield();
        }
        apply(r, e);
        atomic_store_explicit(&r->done[e->id], e->seq + 1, memory_order_release);
    }
    return NULL;
}

static int replay_round(struct replay *r)
{
    const struct trace *t = r->t;
    if (t->nthreads == 1) {
        for (size_t i = 0; i < t->nev; i++)
            apply(r, &t->ev[i]);
    } else {
        for (uint32_t id = 0; id < t->nids; id++)
            atomic_store_explicit(&r->done[id], 0, memory_order_relaxed);
        pthread_t tid[MAX_REPLAY_THREADS];
        struct worker w[MAX_REPLAY_THREADS];
        int started = 1;
        for (int k = 1; k < t->nthreads; k++, started++) {
            w[k] = (struct worker){r, k};
            if (pthread_create(&tid[k], NULL, replay_thread, &w[k]) != 0)
                break;
        }
        if (started < t->nthreads) { /* cannot happen normally; do not hang */
            for (int k = 1; k < started; k++)
                pthread_cancel(tid[k]), pthread_join(tid[k], NULL);
            return -1;
        }
        w[0] = (struct worker){r, 0};
        replay_thread(&w[0]);
        for (int k = 1; k < t->nthreads; k++)
            pthread_join(tid[k], NULL);
    }
    for (size_t i = 0; i < t->nat_end; i++) { /* what the program never freed */
        free(r->slot[t->at_end[i]]);
        r->slot[t->at_end[i]] = NULL;
    }
    return 0;
}

/* A real program's allocation pattern (see the trace's name and
   bench/traces/README.md). */
static void bm_replay(gb_state *st, void *user)
{
    struct trace *t = user;
    if (!t->loaded) {
        t->loaded = 1;
        load(t);
    }
    if (t->error[0] != '\0') {
        gb_skip_with_error(st, t->error);
        return;
    }
    struct replay r = {.t = t};
    r.slot = own_map(t->nids * sizeof *r.slot);
    r.done = own_map(t->nids * sizeof *r.done);
    if (r.slot == NULL || r.done == NULL) {
        own_unmap(r.slot, t->nids * sizeof *r.slot);
        own_unmap((void *)r.done, t->nids * sizeof *r.done);
        gb_skip_with_error(st, "out of memory for the replay's slots");
        return;
    }
    atomic_init(&r.failed, 0);
    int err = replay_round(&r) != 0; /* the untimed warm-up round */
    hm_rss_reset_peak();
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    int64_t per_round = (int64_t)(t->nev + t->nat_end);
    while (gb_keep_running_batch(st, per_round))
        if (!err && replay_round(&r) != 0)
            err = 1;
    getrusage(RUSAGE_SELF, &ru1);
    own_unmap(r.slot, t->nids * sizeof *r.slot);
    own_unmap((void *)r.done, t->nids * sizeof *r.done);
    if (err) {
        gb_skip_with_error(st, "cannot start the replay threads");
        return;
    }
    size_t peak = hm_rss_peak_bytes(), base = hm_startup_rss_bytes();
    gb_counter(st, "trace_events", (double)t->nev, GB_COUNTER_DEFAULT);
    gb_counter(st, "trace_threads", t->recorded_threads, GB_COUNTER_DEFAULT);
    gb_counter(st, "peak_live_bytes", (double)t->peak_live, GB_COUNTER_DEFAULT);
    gb_counter(st, "peak_rss_bytes", (double)peak, GB_COUNTER_DEFAULT);
    /* the replay's own arrays are resident too; they are not the allocator's */
    double own = (double)(t->nev * (sizeof *t->ev + sizeof(uint32_t)) +
                          t->nids * (sizeof *r.slot + sizeof *r.done));
    double used = (double)(peak > base ? peak - base : 0) - own;
    if (t->peak_live)
        gb_counter(st, "overhead", (used > 0 ? used : 0) / (double)t->peak_live,
                   GB_COUNTER_DEFAULT);
    int64_t rounds = gb_get_iterations(st) / per_round;
    gb_counter(st, "faults_per_round",
               (double)(ru1.ru_minflt - ru0.ru_minflt) / (double)(rounds > 0 ? rounds : 1),
               GB_COUNTER_DEFAULT);
    gb_counter(st, "failed_allocs", (double)atomic_load(&r.failed), GB_COUNTER_DEFAULT);
    gb_set_items_processed(st, gb_get_iterations(st));
}

/* --- registration --------------------------------------------------------------- */

/* HEAPMARK_TRACES, or bench/traces next to build/<A>/bench (../../bench/traces). */
static int trace_dir(char *dir, size_t n)
{
    const char *env = getenv("HEAPMARK_TRACES");
    if (env != NULL && *env != '\0') {
        snprintf(dir, n, "%s", env);
        return 0;
    }
    char exe[2048];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0)
        return -1;
    exe[len] = '\0';
    for (int up = 0; up < 3; up++) { /* strip bench, <A>, build */
        char *slash = strrchr(exe, '/');
        if (slash == NULL)
            return -1;
        *slash = '\0';
    }
    return snprintf(dir, n, "%s/bench/traces", exe) < (int)n ? 0 : -1;
}

static int trace_name(const char *file, char *name, size_t n)
{
    size_t len = strlen(file);
    if (len > 7 && strcmp(file + len - 7, ".hmt.gz") == 0)
        len -= 7;
    else if (len > 4 && strcmp(file + len - 4, ".hmt") == 0)
        len -= 4;
    else
        return -1;
    snprintf(name, n, "%.*s", (int)len, file);
    return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int is_trace(const struct dirent *d)
{
    char name[256];
    return d->d_name[0] != '.' && trace_name(d->d_name, name, sizeof name) == 0;
}

GB_REGISTRATION(register_replay)
{
    char dir[4096];
    if (trace_dir(dir, sizeof dir) != 0)
        return;
    struct dirent **list;
    int n = scandir(dir, &list, is_trace, by_name);
    if (n < 0) {
        if (getenv("HEAPMARK_TRACES") != NULL)
            fprintf(stderr, "heapmark: HEAPMARK_TRACES=%s: %s\n", dir, strerror(errno));
        return;
    }
    for (int i = 0; i < n; i++) {
        char name[256], fam[300];
        trace_name(list[i]->d_name, name, sizeof name);
        struct trace *t = calloc(1, sizeof *t);
        size_t plen = strlen(dir) + strlen(list[i]->d_name) + 2;
        if (t != NULL && (t->path = malloc(plen)) != NULL) {
            snprintf(t->path, plen, "%s/%s", dir, list[i]->d_name);
            snprintf(fam, sizeof fam, "replay/trace:%s", name);
            gb_threads(gb_register(fam, bm_replay, t), 1);
        }
        free(list[i]);
    }
    free(list);
}
