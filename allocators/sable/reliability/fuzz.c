/* fuzz.c: sable's API driven by a byte string, checked against a shadow
 * model.
 *
 * The input is read as a sequence of operations on SLOTS slots: malloc,
 * calloc, realloc, reallocarray, posix_memalign, aligned_alloc, memalign,
 * valloc, pvalloc, sable_aligned_alloc_any, free, free_sized,
 * free_aligned_sized, sable_resize_in_place, sable_free_range,
 * sable_usable_size, sable_purge, and the same calls made by a second
 * thread (a worker that frees, allocates, reallocates, resizes and
 * partially frees blocks of the first thread, and that exits and is
 * replaced on demand, so its heap is abandoned with live blocks). Sizes go
 * from 0 to SIZE_MAX (special values around every boundary of sable's
 * classes, and requests that must fail), alignments from 1 to 2^62, powers
 * of two or not.
 *
 * After each call the model checks: the result's alignment; usable size at
 * least the request (exactly what the model predicts after partial frees);
 * no two live blocks overlapping; contents kept (every block carries a
 * pattern, verified before it is freed, after a realloc up to the smaller
 * size, and after any failed call); calloc's zeros; errno (ENOMEM, EINVAL)
 * and return codes of failing calls, and that a failed call left its block
 * untouched. Any mismatch prints one line and aborts (libFuzzer saves the
 * input).
 *
 * Built two ways (reliability.mk): with clang -fsanitize=fuzzer,undefined
 * as a libFuzzer target, and with -DRELI_STANDALONE as a plain program
 * (any compiler and sanitizer) that runs seeded random inputs on several
 * threads at once, or the files named on its command line. In both, sable's
 * objects are linked in with every standard name (malloc, free, ...) made
 * local, so libFuzzer, the sanitizer runtimes and libc keep glibc's
 * allocator and only the sable_ calls below reach sable. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sable.h"

#define SLOTS 48
#define RANGES 20 /* more than sable's 15 pieces per block */
#define OS_PAGE ((size_t)4096)
#define SAMPLE ((size_t)4096)  /* bytes checked at each end of a block */
#define BIG ((size_t)64 << 20) /* larger requests may fail */
#define MAX_OPS 600

/* ---- the input ------------------------------------------------------------ */
struct input {
    const uint8_t *d;
    size_t n, i;
};

static uint8_t in_u8(struct input *in) { return in->i < in->n ? in->d[in->i++] : 0; }

static uint64_t in_bytes(struct input *in, unsigned k)
{
    uint64_t v = 0;
    for (unsigned j = 0; j < k; j++)
        v = v << 8 | in_u8(in);
    return v;
}

/* sizes: mostly small, every boundary of sable's classes, and requests
   that must fail */
static const size_t special_sizes[] = {
    0,
    1,
    15,
    16,
    17,
    127,
    128,
    129,
    1023,
    1024,
    1025,
    8191,
    8192,
    8193,
    65535,
    65536,
    65537,
    131072,
    262145,
    ((size_t)2 << 20) - 1,
    (size_t)2 << 20,
    ((size_t)2 << 20) + 1,
    ((size_t)4 << 20) - 4096,
    (size_t)4 << 20,
    ((size_t)4 << 20) + 1,
    (size_t)9 << 20,
    (size_t)40 << 20,
    (size_t)PTRDIFF_MAX + 1,
    SIZE_MAX,
    SIZE_MAX - 4095,
    SIZE_MAX / 2,
    (size_t)1 << 40,
    (size_t)PTRDIFF_MAX - 4096,
};
#define NSPECIAL (sizeof special_sizes / sizeof special_sizes[0])

/* Under ThreadSanitizer the application's memory must lie in the ranges of
   the address space it shadows; a reservation of hundreds of GiB (a huge
   block of 2^40 bytes, or aligned to 2^38) lands wherever the kernel finds
   room, outside them when two threads reserve such ranges at once, and
   TSan aborts ("mmap at bad address"). There, requests that sable would
   try to map are kept to 1 GiB and alignments to 2^30 (sizes it refuses
   before mapping anything stay). */
#if defined(__SANITIZE_THREAD__)
#define MAP_FIT_MAX ((size_t)1 << 30)
static size_t map_fit(size_t n) { return n > MAP_FIT_MAX && n <= PTRDIFF_MAX ? MAP_FIT_MAX : n; }
#else
static size_t map_fit(size_t n) { return n; }
#endif

static size_t in_size(struct input *in)
{
    uint8_t b = in_u8(in);
    switch (b >> 6) {
    case 0: return b & 63u ? (size_t)in_u8(in) + (b & 7u) * 256u : 0;
    case 1: return (size_t)in_bytes(in, 2);
    case 2: return (size_t)(in_bytes(in, 3) & 0x3fffff); /* up to 4 MiB */
    default: return map_fit(special_sizes[(b & 63u) % NSPECIAL]);
    }
}

static size_t in_align(struct input *in)
{
    uint8_t b = in_u8(in);
    if (b & 0x80)
        return map_fit((size_t)1 << (b & 0x7f) % 64); /* power of two, up to 2^63 */
    if (b & 0x40)
        return (size_t)(b & 0x3f) * (1 + in_u8(in)) * 8; /* 0, 8, 24, 1000... */
    return b & 0x3f;                                     /* 0..63 */
}

/* ---- the model ---------------------------------------------------------- */
struct range {
    size_t lo, hi;
};

struct slot {
    uint8_t *p;
    size_t req;   /* bytes requested */
    size_t ext;   /* the block's extent: usable size when allocated */
    size_t align; /* > 0 for the aligned calls */
    uint8_t seed; /* pattern */
    bool lead;    /* may start inside its block (aligned calls) */
    unsigned nr;  /* released ranges, sorted, disjoint, not touching */
    struct range r[RANGES];
};

enum wop { W_NONE, W_FREE, W_MALLOC, W_REALLOC, W_RESIZE, W_RANGE, W_EXIT };

struct worker {
    pthread_t t;
    bool running, sems;
    sem_t go, done;
    enum wop op;
    void *p;
    size_t n;
    void *res;
    int rc, err;
};

struct ctx {
    struct slot s[SLOTS];
    struct worker w;
    uint8_t seed;
    unsigned long ops;
    const uint8_t *input; /* the input being run, saved when a check fails */
    size_t input_size;
};

static bool trace; /* RELI_TRACE=1: one line per operation on stderr */
/* one model only (libFuzzer, or RELI_THREADS=1): with SABLE_STATS=1, each
   input must leave sable's live_bytes where it found it */
static bool single;
/* SABLE_SECURE=1: sable aborts on an invalid sable_free_range, by design,
   so the model makes none */
static bool secure;

static size_t live_bytes(void)
{
    struct sable_stats st;
    return sable_stats(&st) == 0 ? st.live_bytes : SIZE_MAX;
}

static __attribute__((noreturn, format(printf, 2, 3))) void fail(struct ctx *c, const char *fmt,
                                                                 ...)
{
    char msg[400];
    __builtin_va_list ap;
    __builtin_va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    __builtin_va_end(ap);
    fprintf(stderr, "sable fuzz: FAIL after %lu operations: %s\n", c->ops, msg);
#ifdef RELI_STANDALONE
    /* keep the input, for replaying (here or with the libFuzzer build) */
    char name[512];
    const char *dir = getenv("RELI_CRASH_DIR");
    snprintf(name, sizeof name, "%s/sable-fuzz-crash-%d", dir != NULL && *dir ? dir : ".",
             (int)getpid());
    FILE *f = fopen(name, "wb");
    if (f != NULL) {
        fwrite(c->input, 1, c->input_size, f);
        fclose(f);
        fprintf(stderr, "sable fuzz: input saved in %s\n", name);
    }
#endif
    abort();
}

static inline uint8_t pat(uint8_t seed, size_t i)
{
    return (uint8_t)(seed ^ (i * 0x9du) ^ (i >> 9));
}

static bool released(const struct slot *s, size_t i)
{
    for (unsigned k = 0; k < s->nr; k++)
        if (i >= s->r[k].lo && i < s->r[k].hi)
            return true;
    return false;
}

/* The bytes a block's pattern lives in: all of a block up to 3 * SAMPLE,
   else SAMPLE at each end and 16 bytes at each OS page (each 64 KiB above
   1 MiB, so that big blocks cost little). Runs body for each piece [lo, hi)
   of [0, n). */
#define FOR_SAMPLES(n, lo, hi, body)                                                               \
    do {                                                                                           \
        size_t n_ = (n);                                                                           \
        if (n_ <= 3 * SAMPLE) {                                                                    \
            size_t lo = 0, hi = n_;                                                                \
            body;                                                                                  \
        } else {                                                                                   \
            size_t st_ = n_ > ((size_t)1 << 20) ? (size_t)64 << 10 : OS_PAGE;                      \
            for (size_t b_ = 0; b_ < n_; b_ = b_ < SAMPLE ? SAMPLE : b_ + st_) {                   \
                size_t lo = b_, hi = b_ < SAMPLE ? SAMPLE : b_ + 16;                               \
                if (b_ >= n_ - SAMPLE)                                                             \
                    break;                                                                         \
                body;                                                                              \
            }                                                                                      \
            {                                                                                      \
                size_t lo = n_ - SAMPLE, hi = n_;                                                  \
                body;                                                                              \
            }                                                                                      \
        }                                                                                          \
    } while (0)

static void fill(struct slot *s)
{
    uint8_t *p = s->p;
    FOR_SAMPLES(s->req, lo, hi, {
        for (size_t i = lo; i < hi; i++)
            if (s->nr == 0 || !released(s, i))
                p[i] = pat(s->seed, i);
    });
}

/* checks the pattern in [0, upto) */
static void verify_upto(struct ctx *c, const struct slot *s, const uint8_t *p, size_t upto,
                        const char *when)
{
    FOR_SAMPLES(s->req, lo, hi, {
        if (hi > upto)
            hi = upto;
        for (size_t i = lo; i < hi; i++)
            if ((s->nr == 0 || !released(s, i)) && p[i] != pat(s->seed, i))
                fail(c, "%s: block %p (%zu bytes requested) byte %zu is 0x%02x, expected 0x%02x",
                     when, (void *)s->p, s->req, i, p[i], pat(s->seed, i));
    });
}

static void verify(struct ctx *c, const struct slot *s, const char *when)
{
    verify_upto(c, s, s->p, s->req, when);
}

static void check_zero(struct ctx *c, const uint8_t *p, size_t n)
{
    FOR_SAMPLES(n, lo, hi, {
        for (size_t i = lo; i < hi; i++)
            if (p[i] != 0)
                fail(c, "calloc: block %p (%zu bytes) byte %zu is 0x%02x, not 0", (void *)p, n, i,
                     p[i]);
    });
}

/* the live part of a block: up to the released tail, which sable may
   have cut off and reused */
static size_t live_end(const struct slot *s)
{
    if (s->nr > 0 && s->r[s->nr - 1].hi == s->ext)
        return s->r[s->nr - 1].lo;
    return s->ext;
}

/* usable size the model predicts: up to the first released range */
static size_t expected_usable(const struct slot *s) { return s->nr > 0 ? s->r[0].lo : s->ext; }

static void check_overlap(struct ctx *c, int self, const uint8_t *p, size_t n)
{
    for (int k = 0; k < SLOTS; k++) {
        const struct slot *o = &c->s[k];
        if (k == self || o->p == NULL)
            continue;
        const uint8_t *a = o->p, *b = o->p + live_end(o);
        if (p < b && a < p + n)
            fail(c, "block %p+%zu overlaps live block %p+%zu (slot %d)", (const void *)p, n,
                 (const void *)a, (size_t)(b - a), k);
    }
}

/* a new block in slot k: checks it, records it, fills it */
static bool pow2(size_t a) { return a != 0 && (a & (a - 1)) == 0; }

/* sable's blocks are 16-byte aligned unless an alignment that is not a
   power of two was asked for */
static bool wants16(size_t align) { return align == 0 || pow2(align); }

static void adopt(struct ctx *c, int k, void *p, size_t req, size_t align, bool lead,
                  const char *op)
{
    struct slot *s = &c->s[k];
    size_t u = sable_usable_size(p);
    if (u < req)
        fail(c, "%s(%zu): usable size %zu is less than the request", op, req, u);
    if ((uintptr_t)p % 16 != 0 && wants16(align))
        fail(c, "%s(%zu) = %p: not 16-byte aligned", op, req, p);
    if (align > 0 && (uintptr_t)p % align != 0)
        fail(c, "%s(align %zu, %zu) = %p: misaligned", op, align, req, p);
    if (trace)
        fprintf(stderr, "  %s(align %zu, %zu) = %p usable %zu\n", op, align, req, p, u);
    check_overlap(c, k, p, u);
    s->p = p;
    s->req = req;
    s->ext = u;
    s->align = align;
    s->lead = lead;
    s->nr = 0;
    s->seed = c->seed++;
    fill(s);
}

/* the same, keeping the pattern of the block it replaces (realloc) */
static void adopt_keep(struct ctx *c, int k, void *p, size_t req, size_t align, bool lead,
                       uint8_t seed)
{
    uint8_t next_seed = c->seed;
    c->seed = seed;
    adopt(c, k, p, req, align, lead, "realloc");
    c->seed = next_seed;
}

static void check_failure(struct ctx *c, void *p, int err, int want, const char *op, size_t n)
{
    if (p != NULL)
        fail(c, "%s(%zu) should fail, returned %p", op, n, p);
    if (err != want)
        fail(c, "%s(%zu) failed with errno %d, expected %d", op, n, err, want);
}

/* ---- the worker thread: the same calls from another heap ----------------- */
static void *worker_main(void *arg)
{
    struct worker *w = arg;
    for (;;) {
        while (sem_wait(&w->go) != 0)
            ;
        errno = 0;
        switch (w->op) {
        case W_FREE: sable_free(w->p); break;
        case W_MALLOC: w->res = sable_malloc(w->n); break;
        case W_REALLOC: w->res = sable_realloc(w->p, w->n); break;
        case W_RESIZE: w->res = sable_resize_in_place(w->p, w->n); break;
        case W_RANGE: w->rc = sable_free_range(w->p, w->n); break;
        case W_NONE:
        case W_EXIT: break;
        }
        w->err = errno;
        enum wop op = w->op;
        sem_post(&w->done);
        if (op == W_EXIT)
            return NULL;
    }
}

static void worker_call(struct ctx *c, enum wop op, void *p, size_t n)
{
    struct worker *w = &c->w;
    if (!w->sems) {
        sem_init(&w->go, 0, 0);
        sem_init(&w->done, 0, 0);
        w->sems = true;
    }
    if (!w->running) {
        if (pthread_create(&w->t, NULL, worker_main, w) != 0)
            fail(c, "pthread_create failed");
        w->running = true;
    }
    w->op = op;
    w->p = p;
    w->n = n;
    w->res = NULL;
    w->rc = -1;
    sem_post(&w->go);
    while (sem_wait(&w->done) != 0)
        ;
    if (op == W_EXIT) {
        pthread_join(w->t, NULL);
        w->running = false;
    }
}

/* ---- operations ----------------------------------------------------------- */
static void release_slot(struct ctx *c, int k, int how)
{
    struct slot *s = &c->s[k];
    verify(c, s, "before free");
    if (sable_usable_size(s->p) != expected_usable(s))
        fail(c, "usable size of %p is %zu, expected %zu (%u released ranges)", (void *)s->p,
             sable_usable_size(s->p), expected_usable(s), s->nr);
    errno = 4242;
    switch (how) {
    case 0: sable_free(s->p); break;
    case 1: sable_free_sized(s->p, s->req); break;
    case 2:
        if (s->align > 0)
            sable_free_aligned_sized(s->p, s->align, s->req);
        else
            sable_free_sized(s->p, s->req);
        break;
    default:
        worker_call(c, W_FREE, s->p, 0);
        errno = c->w.err == 0 ? 4242 : c->w.err;
        break;
    }
    if (errno != 4242)
        fail(c, "free changed errno to %d", errno);
    s->p = NULL;
}

/* an allocation whose size may legitimately fail: NULL with ENOMEM, or a
   block; requests above PTRDIFF_MAX must fail */
static void take_alloc(struct ctx *c, int k, void *p, int err, size_t n, size_t align, bool lead,
                       const char *op)
{
    if (p == NULL) {
        if (n > PTRDIFF_MAX || n > BIG || align > BIG) {
            if (err != ENOMEM && !(err == EINVAL && align > PTRDIFF_MAX))
                fail(c, "%s(align %zu, %zu) failed with errno %d, not ENOMEM", op, align, n, err);
            return;
        }
        fail(c, "%s(align %zu, %zu) failed (errno %d)", op, align, n, err);
    }
    if (n > PTRDIFF_MAX)
        fail(c, "%s(%zu): a request above PTRDIFF_MAX succeeded", op, n);
    if (n > BIG) { /* it worked: touch both ends and let it go */
        ((volatile uint8_t *)p)[0] = 1;
        ((volatile uint8_t *)p)[n - 1] = 1;
        sable_free(p);
        return;
    }
    adopt(c, k, p, n, align, lead, op);
}

static void op_realloc(struct ctx *c, int k, size_t n, bool remote, bool array, size_t count)
{
    struct slot *s = &c->s[k];
    size_t total = n;
    bool overflow = array && __builtin_mul_overflow(count, n, &total);
    errno = 0;
    void *q;
    if (remote) {
        worker_call(c, W_REALLOC, s->p, total);
        q = c->w.res;
        errno = c->w.err;
    } else {
        q = array ? sable_reallocarray(s->p, count, n) : sable_realloc(s->p, n);
    }
    int err = errno;
    if (trace)
        fprintf(stderr, "  realloc%s(%p, %zu) = %p\n", remote ? " (worker)" : "", (void *)s->p,
                total, q);
    if (overflow || total > PTRDIFF_MAX || (q == NULL && total > BIG)) {
        if (q != NULL)
            fail(c, "realloc(%zu) should fail, returned %p", total, q);
        if (err != ENOMEM)
            fail(c, "realloc(%zu) failed with errno %d, expected ENOMEM", total, err);
        if (s->p != NULL) /* the block is untouched */
            verify(c, s, "after a failed realloc");
        return;
    }
    if (q == NULL)
        fail(c, "realloc(%p, %zu) failed (errno %d)", (void *)s->p, total, err);
    if (s->p == NULL) {
        take_alloc(c, k, q, 0, total, 0, false, "realloc(NULL)");
        return;
    }
    if (total > BIG) {
        verify_upto(c, s, q, s->req, "after realloc");
        s->p = NULL;
        take_alloc(c, k, q, 0, total, 0, false, "realloc");
        return;
    }
    /* contents up to the smaller size kept, released ranges excepted */
    verify_upto(c, s, q, total < s->req ? total : s->req, "after realloc");
    struct slot old = *s;
    s->p = NULL;
    bool lead = old.lead && q == old.p;
    /* the old pattern goes on, so that later checks cover the copied bytes */
    adopt_keep(c, k, q, total, q == old.p ? old.align : 0, lead, old.seed);
}

static void op_resize(struct ctx *c, int k, size_t n, bool remote)
{
    struct slot *s = &c->s[k];
    if (s->nr > 0) /* not defined for partially freed blocks */
        return;
    size_t before = sable_usable_size(s->p);
    void *q;
    if (remote) {
        worker_call(c, W_RESIZE, s->p, n);
        q = c->w.res;
    } else {
        q = sable_resize_in_place(s->p, n);
    }
    if (trace)
        fprintf(stderr, "  resize_in_place%s(%p, %zu) = %p, usable %zu -> %zu\n",
                remote ? " (worker)" : "", (void *)s->p, n, q, before, sable_usable_size(s->p));
    if (q == NULL) {
        if (sable_usable_size(s->p) != before)
            fail(c, "failed resize_in_place(%p, %zu) changed the usable size from %zu to %zu",
                 (void *)s->p, n, before, sable_usable_size(s->p));
        verify(c, s, "after a failed resize_in_place");
        return;
    }
    if (q != s->p)
        fail(c, "resize_in_place(%p, %zu) moved the block to %p", (void *)s->p, n, q);
    if (n > PTRDIFF_MAX)
        fail(c, "resize_in_place(%p, %zu) above PTRDIFF_MAX succeeded", q, n);
    size_t u = sable_usable_size(q);
    if (u < n)
        fail(c, "resize_in_place(%p, %zu): usable size %zu", q, n, u);
    verify_upto(c, s, q, n < s->req ? n : s->req, "after resize_in_place");
    if (n > BIG) { /* keep the model small: let it go */
        ((volatile uint8_t *)q)[n - 1] = 1;
        sable_free(q);
        s->p = NULL;
        return;
    }
    check_overlap(c, k, q, u);
    s->req = n;
    s->ext = u;
    fill(s);
}

static void op_free_range(struct ctx *c, int k, struct input *in, bool remote)
{
    struct slot *s = &c->s[k];
    size_t end = live_end(s);
    if (end == 0)
        return;
    size_t lo = (size_t)in_bytes(in, 3) % end;
    size_t n;
    uint8_t how = in_u8(in);
    if (how < 64)
        n = end - lo; /* to the end */
    else if (how < 80)
        n = SIZE_MAX - (how & 7u); /* far beyond */
    else
        n = (size_t)in_bytes(in, 3) % (s->ext - lo + 17);
    /* what the model expects */
    int want;
    bool either = false; /* ENOMEM or 0 */
    size_t hi = lo + n;
    struct range nr[RANGES + 1];
    unsigned cnt = 0;
    if (n == 0) {
        want = 0;
    } else if (n > s->ext - lo || hi > end) {
        want = EINVAL; /* beyond the block, or into its released tail */
    } else {
        want = 0;
        for (unsigned i = 0; i < s->nr; i++)
            if (s->r[i].lo < hi && lo < s->r[i].hi)
                want = EINVAL;
        if (want == 0) { /* the merged ranges */
            bool placed = false;
            for (unsigned i = 0; i <= s->nr; i++) {
                if (!placed && (i == s->nr || s->r[i].lo >= hi)) {
                    if (cnt > 0 && nr[cnt - 1].hi == lo)
                        nr[cnt - 1].hi = hi;
                    else
                        nr[cnt++] = (struct range){lo, hi};
                    placed = true;
                }
                if (i == s->nr)
                    break;
                if (cnt > 0 && nr[cnt - 1].hi == s->r[i].lo)
                    nr[cnt - 1].hi = s->r[i].hi;
                else
                    nr[cnt++] = s->r[i];
            }
            bool tail_piece = s->nr > 0 && s->r[s->nr - 1].hi == s->ext;
            if (cnt > 15) {
                want = ENOMEM;
                either = tail_piece && cnt == 16; /* sable may have dropped its cut tail */
            }
            /* a block with a lead may or may not be freed when all of it
               is released: not asked */
            if (want == 0 && s->lead && cnt == 1 && nr[0].lo == 0 && nr[0].hi == s->ext)
                return;
        }
    }
    if (secure && want == EINVAL)
        return;
    verify(c, s, "before free_range");
    int rc;
    if (remote) {
        worker_call(c, W_RANGE, s->p + lo, n);
        rc = c->w.rc;
    } else {
        rc = sable_free_range(s->p + lo, n);
    }
    if (trace)
        fprintf(stderr, "  free_range%s(%p+%zu, %zu) = %d (expected %d)\n",
                remote ? " (worker)" : "", (void *)s->p, lo, n, rc, want);
    if (rc != want && !(either && rc == 0))
        fail(c,
             "free_range(%p+%zu, %zu) of a %zu-byte block (%u released, live to %zu) returned %d, "
             "expected %d",
             (void *)s->p, lo, n, s->ext, s->nr, end, rc, want);
    if (rc != 0 || n == 0) {
        verify(c, s, "after a refused free_range");
        return;
    }
    if (cnt == 1 && nr[0].lo == 0 && nr[0].hi == s->ext) {
        s->p = NULL; /* all of it released: sable freed it */
        return;
    }
    memcpy(s->r, nr, cnt * sizeof nr[0]);
    s->nr = cnt;
    verify(c, s, "after free_range");
    if (sable_usable_size(s->p) != expected_usable(s))
        fail(c, "after free_range(%p+%zu, %zu): usable size %zu, expected %zu", (void *)s->p, lo, n,
             sable_usable_size(s->p), expected_usable(s));
}

static void run_input(struct ctx *c, const uint8_t *data, size_t size)
{
    struct input in = {data, size, 0};
    c->input = data;
    c->input_size = size;
    size_t live0 = single ? live_bytes() : SIZE_MAX;
    for (unsigned op = 0; in.i < in.n && op < MAX_OPS; op++) {
        uint8_t code = in_u8(&in);
        int k = in_u8(&in) % SLOTS;
        struct slot *s = &c->s[k];
        c->ops++;
        unsigned kind = code % 24;
        if (trace)
            fprintf(stderr, "op %lu: kind %u slot %d (%p), live_bytes %zu\n", c->ops, kind, k,
                    (void *)s->p, live_bytes());
        bool needs_block = kind >= 10 && kind <= 17;
        if (needs_block && s->p == NULL)
            kind = 0; /* nothing to act on: allocate instead */
        if (!needs_block && kind < 10 && s->p != NULL && kind != 2 && kind != 3)
            release_slot(c, k, code >> 6 & 3);
        void *p = NULL;
        int err;
        size_t n, a, cnt;
        switch (kind) {
        case 0:
            n = in_size(&in);
            errno = 0;
            p = sable_malloc(n);
            take_alloc(c, k, p, errno, n, 0, false, "malloc");
            break;
        case 1: {
            cnt = in_size(&in) % 4096;
            n = in_size(&in);
            size_t total;
            bool ovf = __builtin_mul_overflow(cnt, n, &total);
            errno = 0;
            p = sable_calloc(cnt, n);
            err = errno;
            if (ovf || total > PTRDIFF_MAX) {
                check_failure(c, p, err, ENOMEM, "calloc", total);
                break;
            }
            if (p != NULL && total <= BIG)
                check_zero(c, p, total);
            take_alloc(c, k, p, err, total, 0, false, "calloc");
            break;
        }
        case 2:
        case 3:
            n = in_size(&in);
            cnt = kind == 3 ? in_u8(&in) : 1;
            op_realloc(c, k, n, false, kind == 3, cnt);
            break;
        case 4: {
            a = in_align(&in);
            n = in_size(&in);
            void *out = (void *)0x1;
            int rc = sable_posix_memalign(&out, a, n);
            bool ok_align = pow2(a) && a % sizeof(void *) == 0;
            if (!ok_align || n > PTRDIFF_MAX) {
                if (rc != (ok_align ? ENOMEM : EINVAL) || out != (void *)0x1)
                    fail(c, "posix_memalign(%zu, %zu) returned %d, out %p", a, n, rc, out);
                break;
            }
            if (rc != 0) {
                if (rc != ENOMEM || out != (void *)0x1)
                    fail(c, "posix_memalign(%zu, %zu) returned %d, out %p", a, n, rc, out);
                take_alloc(c, k, NULL, ENOMEM, n, a, false, "posix_memalign");
                break;
            }
            take_alloc(c, k, out, 0, n, a, true, "posix_memalign");
            break;
        }
        case 5:
            a = in_align(&in);
            n = in_size(&in);
            errno = 0;
            p = sable_aligned_alloc(a, n);
            err = errno;
            if (!pow2(a))
                check_failure(c, p, err, EINVAL, "aligned_alloc", n);
            else
                take_alloc(c, k, p, err, n, a, true, "aligned_alloc");
            break;
        case 6:
            a = in_align(&in);
            n = in_size(&in);
            errno = 0;
            p = sable_memalign(a, n);
            err = errno;
            if (a > SIZE_MAX / 2 + 1) {
                check_failure(c, p, err, EINVAL, "memalign", n);
                break;
            }
            {
                size_t eff = a <= 16 ? 0 : a;
                while (eff & (eff - 1))
                    eff &= eff - 1;
                if (eff != 0 && eff < a)
                    eff <<= 1;
                take_alloc(c, k, p, err, n, eff, eff != 0, "memalign");
            }
            break;
        case 7:
            n = in_size(&in);
            errno = 0;
            p = sable_valloc(n);
            take_alloc(c, k, p, errno, n, OS_PAGE, true, "valloc");
            break;
        case 8:
            n = in_size(&in);
            errno = 0;
            p = sable_pvalloc(n);
            err = errno;
            if (p != NULL && n <= BIG) {
                size_t r = n == 0 ? OS_PAGE : (n + OS_PAGE - 1) & ~(OS_PAGE - 1);
                if (sable_usable_size(p) < r)
                    fail(c, "pvalloc(%zu): usable size %zu below %zu", n, sable_usable_size(p), r);
            }
            take_alloc(c, k, p, err, n > SIZE_MAX - OS_PAGE ? SIZE_MAX : n, OS_PAGE, true,
                       "pvalloc");
            break;
        case 9:
            a = in_align(&in);
            n = in_size(&in);
            errno = 0;
            p = sable_aligned_alloc_any(a, n);
            err = errno;
            if (a == 0)
                check_failure(c, p, err, EINVAL, "aligned_alloc_any", n);
            else
                take_alloc(c, k, p, err, n, a, true, "aligned_alloc_any");
            break;
        case 10:
        case 11:
        case 12: release_slot(c, k, kind - 10); break;
        case 13:
        case 14: op_resize(c, k, in_size(&in), kind == 14); break;
        case 15:
        case 16: op_free_range(c, k, &in, kind == 16); break;
        case 17:
            verify(c, s, "check");
            if (sable_usable_size(s->p) != expected_usable(s))
                fail(c, "usable size of %p is %zu, expected %zu", (void *)s->p,
                     sable_usable_size(s->p), expected_usable(s));
            if (sable_memalignment(s->p) < 16 && wants16(s->align))
                fail(c, "memalignment(%p) = %zu", (void *)s->p, sable_memalignment(s->p));
            break;
        case 18: /* the worker allocates, this thread owns the block */
            if (s->p != NULL)
                release_slot(c, k, 3);
            n = in_size(&in);
            worker_call(c, W_MALLOC, NULL, n);
            take_alloc(c, k, c->w.res, c->w.err, n, 0, false, "malloc (worker)");
            break;
        case 19: /* the worker reallocates a block of this thread */
            op_realloc(c, k, in_size(&in), true, false, 1);
            break;
        case 20: /* the worker exits: its heap goes with blocks still live */
            if (c->w.running)
                worker_call(c, W_EXIT, NULL, 0);
            break;
        case 21:
            if (sable_purge() != 0)
                fail(c, "sable_purge failed");
            break;
        case 22: /* invalid arguments change nothing */
            if (!secure && sable_free_range(NULL, 1 + in_u8(&in)) != EINVAL)
                fail(c, "free_range(NULL, n > 0) is not EINVAL");
            if (sable_free_range(NULL, 0) != 0)
                fail(c, "free_range(NULL, 0) is not 0");
            if (sable_resize_in_place(NULL, 16) != NULL)
                fail(c, "resize_in_place(NULL) is not NULL");
            if (sable_usable_size(NULL) != 0)
                fail(c, "usable_size(NULL) is not 0");
            errno = 4242;
            sable_free(NULL);
            if (errno != 4242)
                fail(c, "free(NULL) changed errno");
            break;
        default: /* a check of every live block */
            for (int j = 0; j < SLOTS; j++)
                if (c->s[j].p != NULL)
                    verify(c, &c->s[j], "sweep");
            break;
        }
    }
    /* every block checked and freed, in an order the input chooses */
    for (int j = 0; j < SLOTS; j++) {
        int k = (j * 7 + (size > 0 ? data[0] : 0)) % SLOTS;
        if (c->s[k].p != NULL)
            release_slot(c, k, j & 3);
    }
    if (live0 != SIZE_MAX && live_bytes() != live0)
        fail(c, "SABLE_STATS: live_bytes is %zu after the input freed every block, %zu before",
             live_bytes(), live0);
}

#ifndef RELI_STANDALONE
static struct ctx fuzz_ctx;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    trace = getenv("RELI_TRACE") != NULL;
    single = true;
    secure = getenv("SABLE_SECURE") != NULL && strcmp(getenv("SABLE_SECURE"), "1") == 0;
    run_input(&fuzz_ctx, data, size);
    return 0;
}
#else
/* Standalone: RELI_THREADS threads, each running random inputs through its
 * own model (and its own worker) at the same time, or the named files. */
#include <stdatomic.h>

struct runner {
    pthread_t t;
    struct ctx c;
    uint64_t rng;
    unsigned inputs;
};

static uint64_t next(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void *runner_main(void *arg)
{
    struct runner *r = arg;
    static __thread uint8_t buf[4096];
    for (unsigned i = 0; i < r->inputs; i++) {
        size_t n = 64 + next(&r->rng) % (sizeof buf - 64);
        for (size_t j = 0; j < n; j++) {
            uint8_t b = (uint8_t)next(&r->rng);
            /* big sizes are rarer than the raw bytes would make them */
            if (j % 3 == 2 && (b >> 6) == 2 && (next(&r->rng) & 7) != 0)
                b &= 0x3f;
            buf[j] = b;
        }
        run_input(&r->c, buf, n);
    }
    if (r->c.w.running)
        worker_call(&r->c, W_EXIT, NULL, 0);
    return NULL;
}

static unsigned long env_num(const char *name, unsigned long dflt)
{
    const char *v = getenv(name);
    if (v == NULL || *v == '\0')
        return dflt;
    char *end;
    unsigned long x = strtoul(v, &end, 10);
    if (*end != '\0') {
        fprintf(stderr, "sable fuzz: %s=%s is not a number\n", name, v);
        exit(2);
    }
    return x;
}

int main(int argc, char **argv)
{
    static struct runner rs[8];
    trace = getenv("RELI_TRACE") != NULL;
    secure = getenv("SABLE_SECURE") != NULL && strcmp(getenv("SABLE_SECURE"), "1") == 0;
    if (argc > 1) { /* replay the given inputs */
        single = true;
        for (int i = 1; i < argc; i++) {
            FILE *f = fopen(argv[i], "rb");
            if (f == NULL) {
                fprintf(stderr, "sable fuzz: cannot open %s\n", argv[i]);
                return 2;
            }
            static uint8_t data[1 << 20];
            size_t n = fread(data, 1, sizeof data, f);
            fclose(f);
            run_input(&rs[0].c, data, n);
        }
        printf("sable fuzz: %d inputs replayed, %lu operations, no failure\n", argc - 1,
               rs[0].c.ops);
        return 0;
    }
    unsigned threads = (unsigned)env_num("RELI_THREADS", 3);
    unsigned inputs = (unsigned)env_num("RELI_INPUTS", 300);
    uint64_t seed = env_num("RELI_SEED", 1);
    if (threads < 1 || threads > 8) {
        fprintf(stderr, "sable fuzz: RELI_THREADS must be 1..8\n");
        return 2;
    }
    single = threads == 1;
    for (unsigned i = 0; i < threads; i++) {
        rs[i].rng = seed * 1000 + i;
        rs[i].inputs = inputs;
        rs[i].c.seed = (uint8_t)(i * 37);
        if (pthread_create(&rs[i].t, NULL, runner_main, &rs[i]) != 0) {
            fprintf(stderr, "sable fuzz: pthread_create failed\n");
            return 1;
        }
    }
    unsigned long ops = 0;
    for (unsigned i = 0; i < threads; i++) {
        pthread_join(rs[i].t, NULL);
        ops += rs[i].c.ops;
    }
    printf("sable fuzz: %u threads x %u random inputs (seed %lu), %lu operations, no failure\n",
           threads, inputs, (unsigned long)seed, ops);
    return 0;
}
#endif
