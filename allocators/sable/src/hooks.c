/* hooks.c: statistics, the operation log and Valgrind client requests.
 *
 * They run only in instrumented mode (SABLE_STATS=1, SABLE_LOG, or under
 * memcheck; SBL_MODE_INSTRUMENTED, decided once at start-up). In it, as in
 * secure mode (together "slow mode"), every heap's direct
 * table points to the empty page and every page carries SBL_PF_SLOW, so
 * each malloc and free takes its slow path, which calls these hooks. In
 * normal mode the fast paths do not know the hooks exist; only the address
 * space counters (reserved, committed, segments), kept on the rare paths,
 * are always up to date.
 *
 * Each hook does only what is switched on: secure mode alone pays for its
 * checks, not for the statistics' shared counters; it does not even come
 * here for the common malloc and free (the lean paths in secure.c).
 *
 * Statistics count usable bytes (block sizes), per operation of the API:
 * an API call that allocates or frees internally (realloc, calloc) is one
 * operation (sbl_hook_depth). */
#define _GNU_SOURCE
#include "internal.h"

#include "sable.h"

#include <unistd.h>

#include "vg.h"

__thread int sbl_hook_depth __attribute__((tls_model("initial-exec")));

static _Atomic size_t live, peak, reserved, segments;
static _Atomic int64_t committed;
static _Atomic size_t n_small, n_large, n_huge, n_frees, n_reallocs, n_ranges;

void sbl_stat_committed(int64_t delta)
{
    atomic_fetch_add_explicit(&committed, delta, memory_order_relaxed);
}

void sbl_stat_reserved(int64_t delta)
{
    atomic_fetch_add_explicit(&reserved, (size_t)delta, memory_order_relaxed);
}

void sbl_stat_segments(int delta)
{
    atomic_fetch_add_explicit(&segments, (size_t)(ssize_t)delta, memory_order_relaxed);
}

extern char **environ;

/* Memcheck (not Callgrind or another tool, where the plain fast paths are
   what should be measured): Valgrind preloads vgpreload_<tool>-*.so. */
static bool under_memcheck(void)
{
    if (RUNNING_ON_VALGRIND == 0 || environ == NULL)
        return false;
    for (char **e = environ; *e; e++)
        if (strncmp(*e, "LD_PRELOAD=", 11) == 0 && strstr(*e, "vgpreload_memcheck") != NULL)
            return true;
    return false;
}

void sbl_hooks_init(void)
{
    sbl_opt.valgrind = under_memcheck();
    if (sbl_opt.stats || sbl_opt.valgrind || sbl_opt.log_fd >= 0)
        sbl_opt.mode = SBL_MODE_INSTRUMENTED;
    else if (sbl_opt.secure)
        sbl_opt.mode = SBL_MODE_SECURE;
    else
        sbl_opt.mode = SBL_MODE_NORMAL;
    sbl_free_limit = sbl_slow_mode() ? 0 : UINTPTR_MAX;
}

/* ---- the log: one line per operation, written with one write(2) ---- */
static __thread long log_tid __attribute__((tls_model("initial-exec")));

static const char *const op_names[] = {"malloc", "calloc",          "realloc",   "aligned_alloc",
                                       "free",   "resize_in_place", "free_range"};

/* "sable <op> tid=<tid> size=<n> align=<a> ptr=<old> -> <result>" */
static void log_line(enum sbl_op op, const void *old, size_t n, size_t align, const void *result)
{
    if (sbl_opt.log_fd < 0)
        return;
    if (log_tid == 0)
        log_tid = sbl_os_tid();
    struct sbl_line l = {.n = 0};
    sbl_line_str(&l, "sable ");
    sbl_line_str(&l, op_names[op]);
    sbl_line_str(&l, " tid=");
    sbl_line_dec(&l, (uintptr_t)log_tid);
    sbl_line_str(&l, " size=");
    sbl_line_dec(&l, n);
    sbl_line_str(&l, " align=");
    sbl_line_dec(&l, align);
    if (old != NULL || op == SBL_OP_FREE || op == SBL_OP_REALLOC || op == SBL_OP_RESIZE ||
        op == SBL_OP_FREE_RANGE) {
        sbl_line_str(&l, " ptr=");
        sbl_line_hex(&l, (uintptr_t)old);
    }
    if (op != SBL_OP_FREE) {
        sbl_line_str(&l, " -> ");
        if (op == SBL_OP_FREE_RANGE)
            sbl_line_dec(&l, (uintptr_t)result);
        else
            sbl_line_hex(&l, (uintptr_t)result);
    }
    sbl_line_write(&l, sbl_opt.log_fd);
}

/* ---- hooks ---- */
static void live_add(size_t n)
{
    size_t now = atomic_fetch_add_explicit(&live, n, memory_order_relaxed) + n;
    size_t pk = atomic_load_explicit(&peak, memory_order_relaxed);
    while (now > pk && !atomic_compare_exchange_weak_explicit(&peak, &pk, now, memory_order_relaxed,
                                                              memory_order_relaxed)) {
    }
}

static void count_kind(size_t usable)
{
    _Atomic size_t *c = usable <= 8192 ? &n_small : usable <= SBL_LARGE_MAX ? &n_large : &n_huge;
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* after an allocation of n bytes (align: 0 for the plain calls) */
void sbl_hook_alloc(enum sbl_op op, void *p, size_t n, size_t align)
{
    if (p != NULL && sbl_opt.stats) {
        size_t x = sbl_block_extent(p);
        live_add(x);
        count_kind(x);
    }
    log_line(op, NULL, n, align, p);
}

/* before a block of `size` usable bytes at p is freed */
void sbl_hook_free(const void *p, size_t size)
{
    if (sbl_opt.stats) {
        atomic_fetch_sub_explicit(&live, size, memory_order_relaxed);
        atomic_fetch_add_explicit(&n_frees, 1, memory_order_relaxed);
    }
    log_line(SBL_OP_FREE, p, size, 0, NULL);
}

/* after realloc or resize_in_place of old (old_size usable bytes in a
 * block of old_extent) to n bytes gave q (NULL: failed, old untouched) */
void sbl_hook_realloc(enum sbl_op op, const void *old, size_t old_size, size_t old_extent, void *q,
                      size_t n)
{
    (void)old_size; /* under memcheck, realloc is sbl_vg_realloc */
    if (q != NULL && sbl_opt.stats) {
        size_t x = sbl_block_extent(q);
        atomic_fetch_add_explicit(&n_reallocs, 1, memory_order_relaxed);
        atomic_fetch_sub_explicit(&live, old_extent, memory_order_relaxed);
        live_add(x);
        if (q != old) /* a new block */
            count_kind(x);
    }
    log_line(op, old, n, 0, q);
}

/* a block's size changed under it (a released tail cut off by
   sable_free_range) */
void sbl_hook_resized(size_t old_extent, size_t new_extent)
{
    if (sbl_opt.stats && new_extent != old_extent)
        atomic_fetch_sub_explicit(&live, old_extent - new_extent, memory_order_relaxed);
}

/* after sable_free_range(p, n) returned rc */
void sbl_hook_range(const void *p, size_t n, int rc)
{
    if (rc == 0) {
        if (sbl_opt.stats)
            atomic_fetch_add_explicit(&n_ranges, 1, memory_order_relaxed);
        if (sbl_opt.valgrind)
            VALGRIND_MAKE_MEM_NOACCESS(p, n);
    }
    log_line(SBL_OP_FREE_RANGE, p, n, 0, (const void *)(uintptr_t)rc);
}

/* ---- memcheck ----
 * Under memcheck every allocating call comes here at its top level (the
 * slow paths divert to sbl_vg_alloc / sbl_vg_realloc), so that memcheck
 * sees what the program asked for, not what sable gives:
 *  - a block of n bytes is allocated with n + SBL_VG_REDZONE and described
 *    as n bytes (VALGRIND_MALLOCLIKE_BLOCK); the bytes after n (the red
 *    zone and the size class's slack) are no-access, so that a write one
 *    byte past the block or into its slack is reported, and a leak is
 *    reported with its requested size;
 *  - n itself is kept in the block's last word (inside the red zone) for
 *    malloc_usable_size, which then returns n;
 *  - realloc always moves (a new block, the copy, a free), as memcheck's
 *    own allocator does; sable_resize_in_place returns NULL;
 *  - segment and huge headers, whose page descriptors hold the address of
 *    each page's first block, are no-access with address errors not
 *    reported there (sbl_vg_header): the leak checker does not scan them,
 *    so a leaked block is "definitely lost" wherever it sits, and sable
 *    reads and writes them without reports. */
#define SBL_VG_REDZONE 16

/* memcheck's view of a new block p of n requested bytes */
static void vg_describe(void *p, size_t n, bool zeroed)
{
    size_t usable = sbl_usable_size(p);
    uint8_t *w = (uint8_t *)p + usable - sizeof(size_t);
    VALGRIND_MAKE_MEM_UNDEFINED(w, sizeof(size_t));
    memcpy(w, &n, sizeof n);
    VALGRIND_MALLOCLIKE_BLOCK(p, n, 0, zeroed);
    VALGRIND_MAKE_MEM_NOACCESS((uint8_t *)p + n, usable - n);
}

size_t sbl_vg_size(const void *p)
{
    size_t n;
    const uint8_t *w = (const uint8_t *)p + sbl_usable_size(p) - sizeof(size_t);
    VALGRIND_MAKE_MEM_DEFINED(w, sizeof(size_t));
    memcpy(&n, w, sizeof n);
    VALGRIND_MAKE_MEM_NOACCESS(w, sizeof(size_t));
    return n;
}

/* malloc (align 0), calloc (zero) and the aligned calls (align > 0; any:
   sable_aligned_alloc_any's rules) under memcheck */
void *sbl_vg_alloc(enum sbl_op op, size_t n, size_t align, bool any)
{
    if (n > SBL_MAX_REQUEST - SBL_VG_REDZONE) {
        errno = ENOMEM;
        log_line(op, NULL, n, align, NULL);
        return NULL;
    }
    size_t m = n + SBL_VG_REDZONE;
    sbl_hook_depth++;
    void *p = align == 0 ? sbl_malloc_inline(m)
              : any      ? sbl_alloc_aligned_any(align, m)
                         : sbl_alloc_aligned(align, m);
    if (p != NULL && op == SBL_OP_CALLOC)
        memset(p, 0, n);
    sbl_hook_depth--;
    if (p != NULL)
        vg_describe(p, n, op == SBL_OP_CALLOC);
    sbl_hook_alloc(op, p, n, align);
    return p;
}

void *sbl_vg_realloc(void *p, size_t n)
{
    if (p == NULL)
        return sbl_vg_alloc(SBL_OP_REALLOC, n, 0, false);
    size_t old = sbl_vg_size(p);
    void *q = sbl_vg_alloc(SBL_OP_REALLOC, n, 0, false);
    if (q == NULL)
        return NULL;
    memcpy(q, p, old < n ? old : n);
    sbl_free_slow_mode(p);
    return q;
}

/* a segment's or huge block's header at base, mapped (on) or about to go */
void sbl_vg_header(void *base, bool on)
{
    size_t n = sizeof(struct sbl_segment);
    if (on) {
        VALGRIND_DISABLE_ADDR_ERROR_REPORTING_IN_RANGE(base, n);
        VALGRIND_MAKE_MEM_NOACCESS(base, n);
    } else {
        VALGRIND_MAKE_MEM_DEFINED(base, n);
        VALGRIND_ENABLE_ADDR_ERROR_REPORTING_IN_RANGE(base, n);
    }
}

/* The slow-mode part of free: checks (secure), hooks, scrubbing. Returns
 * false when there is nothing more to do (NULL). */
bool sbl_free_hooked(struct sbl_segment *s, struct sbl_page *pg, void *p)
{
    if (sbl_opt.secure)
        sbl_secure_check("free", p);
    bool huge = sbl_page_flags(pg) & SBL_PF_HUGE;
    uint8_t *start = huge ? pg->start : sbl_block_start(pg, p);
    size_t size = huge ? s->huge_size : pg->block_size;
    if (sbl_hook_depth == 0 && sbl_opt.valgrind)
        VALGRIND_FREELIKE_BLOCK(p, 0); /* p: the pointer memcheck was given */
    if (sbl_hook_depth == 0 && sbl_opt.mode == SBL_MODE_INSTRUMENTED)
        sbl_hook_free(start, size);
    if (sbl_opt.secure && !huge)
        sbl_secure_freed(start, size);
    return true;
}

SABLE_EXPORT int sable_stats(struct sable_stats *st)
{
    if (st == NULL)
        return EINVAL;
    bool exact = sbl_slow_mode();
    st->live_bytes = exact ? atomic_load(&live) : SIZE_MAX;
    st->peak_live_bytes = exact ? atomic_load(&peak) : SIZE_MAX;
    int64_t c = atomic_load(&committed);
    st->committed_bytes = c < 0 ? 0 : (size_t)c;
    st->reserved_bytes = atomic_load(&reserved);
    st->allocs_small = exact ? atomic_load(&n_small) : SIZE_MAX;
    st->allocs_large = exact ? atomic_load(&n_large) : SIZE_MAX;
    st->allocs_huge = exact ? atomic_load(&n_huge) : SIZE_MAX;
    st->frees = exact ? atomic_load(&n_frees) : SIZE_MAX;
    st->reallocs = exact ? atomic_load(&n_reallocs) : SIZE_MAX;
    st->partial_frees = exact ? atomic_load(&n_ranges) : SIZE_MAX;
    st->segments = atomic_load(&segments);
    st->heaps = sbl_heap_count();
    st->purge_delay_ms = (size_t)sbl_purge_delay();
    return 0;
}

static void put_kv(struct sbl_line *l, const char *k, size_t v)
{
    sbl_line_str(l, k);
    sbl_line_dec(l, v);
}

/* SABLE_STATS=1: one summary line on stderr when the process exits */
__attribute__((destructor)) static void stats_at_exit(void)
{
    if (!sbl_opt.stats)
        return;
    struct sable_stats st;
    sable_stats(&st);
    struct sbl_line l = {.n = 0};
    sbl_line_str(&l, "sable ");
    sbl_line_str(&l, sable_version());
    put_kv(&l, " stats: live=", st.live_bytes);
    put_kv(&l, " peak=", st.peak_live_bytes);
    put_kv(&l, " committed=", st.committed_bytes);
    put_kv(&l, " reserved=", st.reserved_bytes);
    put_kv(&l, " small=", st.allocs_small);
    put_kv(&l, " large=", st.allocs_large);
    put_kv(&l, " huge=", st.allocs_huge);
    put_kv(&l, " frees=", st.frees);
    put_kv(&l, " reallocs=", st.reallocs);
    put_kv(&l, " partial_frees=", st.partial_frees);
    put_kv(&l, " segments=", st.segments);
    put_kv(&l, " heaps=", st.heaps);
    put_kv(&l, " purge_delay_ms=", st.purge_delay_ms);
    sbl_line_write(&l, sbl_opt.stats_fd);
}
