/* api.c: the exported API (sable.h) and the standard names bound to it.
 * malloc and free are the inline fast paths of internal.h; every other call
 * checks the mode once: in slow mode it runs through the hooks (hooks.c) or
 * secure mode's lean paths (secure.c). The library initialises itself on
 * the first allocation (init.c). */
#define _GNU_SOURCE
#include "internal.h"

#include "sable.h"

#define SABLE_VERSION SABLE_VERSION_STRING /* include/sable.h */

/* (uintptr_t)p - 1 >= this sends free(p) to its slow path: p == NULL, or
   every p in slow mode (0 then; hooks.c). Defined here, beside free, so
   that free reads it directly, not through the GOT. */
uintptr_t sbl_free_limit = UINTPTR_MAX;

/* Each call below other than malloc and free checks the mode: in slow mode
 * (hooks.c) it runs its implementation with the hooks held off, then
 * reports itself as one operation. malloc and free reach their hooks
 * through their slow paths. */
#define HOOKED_ALLOC(op, n, align, call)                                                           \
    do {                                                                                           \
        if (SBL_LIKELY(!sbl_slow_mode()))                                                          \
            return call;                                                                           \
        sbl_hook_depth++;                                                                          \
        void *r_ = call;                                                                           \
        sbl_hook_depth--;                                                                          \
        if (sbl_hook_depth == 0 && sbl_opt.mode == SBL_MODE_INSTRUMENTED)                          \
            sbl_hook_alloc(op, r_, n, align);                                                      \
        return r_;                                                                                 \
    } while (0)

/* the two hottest functions start on a 64-byte line: their place in the
   library otherwise moves with every change elsewhere, and malloc+free pairs
   were measured at 6.3 or 11.7 ns for 256 bytes depending on it */
SABLE_EXPORT __attribute__((aligned(64))) void *sable_malloc(size_t n)
{
    return sbl_malloc_inline(n);
}

SABLE_EXPORT __attribute__((aligned(64))) void sable_free(void *p) { sbl_free_inline(p); }

/* A big block that calloc takes from memory written before is zeroed
 * either by memset or by giving its pages back to the kernel, whose pages
 * read as zero when next touched: one system call instead of writing every
 * page, paid for by a page fault for each page the program then touches. A
 * program that uses its zeroed blocks whole wants memset; one that touches
 * a few pages of each (a sparse table, a buffer tested and freed) wants
 * them given back. Which, per thread: the pages are given back at first;
 * when a later calloc takes the block given back last again (a loop), the
 * pages of it that hold RAM (mincore) are those the program wrote or read
 * in between: a 32nd or more (a page fault costs about what memset of 32
 * pages does, so that faulting in a 32nd of a block costs about what
 * writing all of it does) and the thread uses memset, with a give-back every
 * CALLOC_PROBE_EVERY calls to look again; else it goes on giving pages
 * back, and looks again after CALLOC_LOOK_EVERY more. Blocks from
 * CALLOC_DROP_MIN to SBL_LARGE_MAX (pages of their own; huge blocks are
 * zeroed by memset when they reuse a kept mapping). */
#define CALLOC_DROP_MIN ((size_t)256 << 10)
#define CALLOC_PROBE_EVERY 1024u
#define CALLOC_LOOK_EVERY 8u
#define CALLOC_DENSE_PART 32u

static __thread struct {
    void *dropped; /* the block whose pages were given back last, not looked at since */
    unsigned tick; /* callocs of big blocks in the memset way */
    unsigned wait; /* callocs of `dropped` before the next look */
    bool dense;    /* the memset way */
} cz __attribute__((tls_model("initial-exec")));

static void calloc_zero(uint8_t *p, size_t n)
{
    if (n < CALLOC_DROP_MIN || n > SBL_LARGE_MAX || sbl_opt.valgrind) {
        memset(p, 0, n);
        return;
    }
    uint8_t *a = (uint8_t *)(((uintptr_t)p + SBL_OS_PAGE - 1) & ~(uintptr_t)(SBL_OS_PAGE - 1));
    uint8_t *e = (uint8_t *)((uintptr_t)(p + n) & ~(uintptr_t)(SBL_OS_PAGE - 1));
    size_t len = (size_t)(e - a), pages = len / SBL_OS_PAGE;
    memset(p, 0, (size_t)(a - p));
    memset(e, 0, (size_t)(p + n - e));
    if (p == cz.dropped && cz.wait-- == 0) { /* what did the program touch? */
        unsigned char vec[SBL_LARGE_MAX / SBL_OS_PAGE];
        size_t touched = 0;
        if (sbl_os_resident(a, len, vec))
            for (size_t i = 0; i < pages; i++)
                touched += vec[i] & 1;
        cz.dense = touched * CALLOC_DENSE_PART >= pages;
        cz.wait = CALLOC_LOOK_EVERY;
    }
    cz.dropped = NULL;
    bool probe = cz.dense && ++cz.tick % CALLOC_PROBE_EVERY == 0;
    if ((cz.dense && !probe) || !sbl_os_purge(a, len)) {
        memset(a, 0, len);
        return;
    }
    if (probe)
        cz.wait = 0; /* (the next calloc of it looks) */
    cz.dropped = p;
}

static void *calloc_impl(size_t count, size_t n)
{
    size_t total;
    if (__builtin_mul_overflow(count, n, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    if (total <= SBL_SLICE_SIZE) {
        void *p = sbl_malloc_inline(total);
        if (p != NULL)
            memset(p, 0, total);
        return p;
    }
    /* a huge block is zero unless it reused a cached mapping; a large one
       (a page of its own) when its page was made of slices that hold no RAM */
    sbl_page_zero = false;
    sbl_calloc_lazy = true;
    void *p = sbl_malloc_inline(total);
    sbl_calloc_lazy = false;
    if (p != NULL && (total <= SBL_LARGE_MAX ? !sbl_page_zero : sbl_huge_reused))
        calloc_zero(p, total);
    return p;
}

/* slow mode: secure mode alone has a calloc of its own (freed blocks are
   zero already: secure.c) */
static SBL_NOINLINE void *calloc_slow(size_t count, size_t n)
{
    size_t total;
    if (sbl_opt.mode == SBL_MODE_SECURE && !__builtin_mul_overflow(count, n, &total))
        return sbl_secure_calloc(total);
    if (sbl_opt.valgrind) {
        if (__builtin_mul_overflow(count, n, &total)) {
            errno = ENOMEM;
            return NULL;
        }
        return sbl_vg_alloc(SBL_OP_CALLOC, total, 0, false);
    }
    sbl_hook_depth++;
    void *r = calloc_impl(count, n);
    sbl_hook_depth--;
    if (sbl_hook_depth == 0 && sbl_opt.mode == SBL_MODE_INSTRUMENTED)
        sbl_hook_alloc(SBL_OP_CALLOC, r, count * n, 0);
    return r;
}

SABLE_EXPORT void *sable_calloc(size_t count, size_t n)
{
    if (SBL_LIKELY(!sbl_slow_mode()))
        return calloc_impl(count, n);
    return calloc_slow(count, n);
}

/* realloc and resize_in_place in slow mode: one operation */
static void *realloc_hooked(enum sbl_op op, void *p, size_t n)
{
    if (p == NULL && op == SBL_OP_REALLOC)
        HOOKED_ALLOC(SBL_OP_REALLOC, n, 0, sbl_realloc(NULL, n));
    if (p != NULL && sbl_opt.secure)
        sbl_secure_check(op == SBL_OP_REALLOC ? "realloc" : "resize_in_place", p);
    size_t old = p == NULL ? 0 : sbl_usable_size(p);
    size_t old_extent = p == NULL ? 0 : sbl_block_extent(p);
    sbl_hook_depth++;
    void *q = op == SBL_OP_REALLOC ? sbl_realloc(p, n) : sbl_resize_in_place(p, n);
    sbl_hook_depth--;
    if (sbl_hook_depth == 0 && p != NULL && sbl_opt.mode == SBL_MODE_INSTRUMENTED)
        sbl_hook_realloc(op, p, old, old_extent, q, n);
    return q;
}

SABLE_EXPORT void *sable_realloc(void *p, size_t n)
{
    if (SBL_LIKELY(!sbl_slow_mode()))
        return sbl_realloc(p, n);
    if (sbl_opt.mode == SBL_MODE_SECURE) /* no hooks: the check, then the call (secure.c) */
        return sbl_secure_realloc(p, n, true);
    if (sbl_opt.valgrind)
        return sbl_vg_realloc(p, n);
    return realloc_hooked(SBL_OP_REALLOC, p, n);
}

SABLE_EXPORT void *sable_reallocarray(void *p, size_t count, size_t n)
{
    size_t total;
    if (__builtin_mul_overflow(count, n, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return sable_realloc(p, total);
}

static inline bool is_pow2(size_t a) { return a != 0 && (a & (a - 1)) == 0; }

/* slow mode: secure mode alone has its lean pop (secure.c) */
static SBL_NOINLINE void *aligned_slow(size_t align, size_t n)
{
    if (sbl_opt.mode == SBL_MODE_SECURE)
        return sbl_secure_aligned(align, n);
    if (sbl_opt.valgrind)
        return sbl_vg_alloc(SBL_OP_ALIGNED, n, align, false);
    HOOKED_ALLOC(SBL_OP_ALIGNED, n, align, sbl_alloc_aligned(align, n));
}

static inline __attribute__((always_inline)) void *aligned_hooked(size_t align, size_t n)
{
    if (SBL_LIKELY(!sbl_slow_mode()))
        return sbl_alloc_aligned(align, n);
    return aligned_slow(align, n);
}

SABLE_EXPORT int sable_posix_memalign(void **out, size_t align, size_t n)
{
    if (!is_pow2(align) || align % sizeof(void *) != 0)
        return EINVAL;
    void *p = aligned_hooked(align, n);
    if (p == NULL)
        return ENOMEM;
    *out = p;
    return 0;
}

SABLE_EXPORT void *sable_aligned_alloc(size_t align, size_t n)
{
    if (!is_pow2(align)) {
        errno = EINVAL;
        return NULL;
    }
    return aligned_hooked(align, n);
}

/* glibc's rules: alignments up to 16 are malloc, others are rounded up to a
 * power of two, and above SIZE_MAX/2+1 fail with EINVAL. */
SABLE_EXPORT void *sable_memalign(size_t align, size_t n)
{
    if (align <= 16)
        return sbl_malloc_inline(n);
    if (align > SIZE_MAX / 2 + 1) {
        errno = EINVAL;
        return NULL;
    }
    if (!is_pow2(align))
        align = (size_t)1 << (64 - __builtin_clzl(align));
    return aligned_hooked(align, n);
}

SABLE_EXPORT void *sable_valloc(size_t n) { return aligned_hooked(SBL_OS_PAGE, n); }

SABLE_EXPORT void *sable_pvalloc(size_t n)
{
    if (n > SIZE_MAX - (SBL_OS_PAGE - 1)) {
        errno = ENOMEM;
        return NULL;
    }
    size_t r = (n + SBL_OS_PAGE - 1) & ~(SBL_OS_PAGE - 1);
    return aligned_hooked(SBL_OS_PAGE, r == 0 ? SBL_OS_PAGE : r);
}

SABLE_EXPORT size_t sable_usable_size(const void *p)
{
    if (SBL_UNLIKELY(sbl_opt.valgrind) && p != NULL)
        return sbl_vg_size(p); /* the requested size (hooks.c) */
    return p == NULL ? 0 : sbl_usable_size(p);
}

SABLE_EXPORT void sable_free_sized(void *p, size_t n)
{
    (void)n;
    sbl_free_inline(p);
}

SABLE_EXPORT void sable_free_aligned_sized(void *p, size_t align, size_t n)
{
    (void)align;
    (void)n;
    sbl_free_inline(p);
}

SABLE_EXPORT void *sable_resize_in_place(void *p, size_t n)
{
    if (SBL_LIKELY(!sbl_slow_mode()))
        return sbl_resize_in_place(p, n);
    if (sbl_opt.mode == SBL_MODE_SECURE)
        return sbl_secure_realloc(p, n, false);
    if (sbl_opt.valgrind)
        return NULL; /* memcheck's blocks never change size in place */
    return realloc_hooked(SBL_OP_RESIZE, p, n);
}

SABLE_EXPORT void *sable_aligned_alloc_any(size_t align, size_t n)
{
    if (SBL_UNLIKELY(sbl_opt.valgrind))
        return sbl_vg_alloc(SBL_OP_ALIGNED, n, align, true);
    HOOKED_ALLOC(SBL_OP_ALIGNED, n, align, sbl_alloc_aligned_any(align, n));
}

SABLE_EXPORT int sable_free_range(void *p, size_t n)
{
    int rc = sbl_free_range(p, n);
    if (SBL_UNLIKELY(sbl_slow_mode())) {
        if (rc == EINVAL && sbl_opt.secure)
            sbl_report("free_range", p, "range outside a live block or already released");
        if (sbl_opt.mode == SBL_MODE_INSTRUMENTED)
            sbl_hook_range(p, n, rc);
    }
    return rc;
}

/* C23: the largest power of two that divides the address; 0 for NULL */
SABLE_EXPORT size_t sable_memalignment(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    return (size_t)(a & (~a + 1));
}

SABLE_EXPORT const char *sable_version(void) { return SABLE_VERSION; }

SABLE_EXPORT int sable_purge(void)
{
    struct sbl_heap *h = sbl_tls_heap;
    sbl_xb_flush();
    if (h != &sbl_empty_heap)
        sbl_heap_collect(h, true);
    sbl_segment_cache_flush();
    sbl_huge_cache_flush();
    return 0;
}

/* ---- the standard names: aliases, so they cost no extra call ---- */
#define SBL_ALIAS(name, target)                                                                    \
    __typeof__(target) name __attribute__((alias(#target), visibility("default")))

SBL_ALIAS(malloc, sable_malloc);
SBL_ALIAS(free, sable_free);
SBL_ALIAS(cfree, sable_free);
SBL_ALIAS(calloc, sable_calloc);
SBL_ALIAS(realloc, sable_realloc);
SBL_ALIAS(reallocarray, sable_reallocarray);
SBL_ALIAS(posix_memalign, sable_posix_memalign);
SBL_ALIAS(aligned_alloc, sable_aligned_alloc);
SBL_ALIAS(memalign, sable_memalign);
SBL_ALIAS(valloc, sable_valloc);
SBL_ALIAS(pvalloc, sable_pvalloc);
SBL_ALIAS(malloc_usable_size, sable_usable_size);
SBL_ALIAS(free_sized, sable_free_sized);
SBL_ALIAS(free_aligned_sized, sable_free_aligned_sized);
SBL_ALIAS(memalignment, sable_memalignment);
SBL_ALIAS(__libc_malloc, sable_malloc);
SBL_ALIAS(__libc_free, sable_free);
SBL_ALIAS(__libc_calloc, sable_calloc);
SBL_ALIAS(__libc_realloc, sable_realloc);
SBL_ALIAS(__libc_memalign, sable_memalign);
SBL_ALIAS(__libc_valloc, sable_valloc);
SBL_ALIAS(__libc_pvalloc, sable_pvalloc);
SBL_ALIAS(__posix_memalign, sable_posix_memalign);
