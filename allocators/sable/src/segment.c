/* segment.c: segments, the spans of slices they hand out as pages, and the
 * return of free slices to the OS.
 *
 * Invariants: slice 0 of a segment is its header and never free; a free
 * slice has its bit in free_map; dirty_map bits are only meaningful for free
 * slices (set when a span is released, cleared when it is purged or reused);
 * in a heap's segment list every segment with a free slice comes before
 * every segment without one, so the search stops at the first full one. */
#include "internal.h"

#define SEG_ALL_FREE (~(uint64_t)1)
#define SEG_CACHE_MAX 8
#define SEG_WARM_MAX 32 /* empty segments kept until their purge, all heaps together */

/* empty segments still in their heaps' lists (warm), process-wide: a global
   bound, so that memory kept warm by one thread never starves another one
   (e.g. under RLIMIT_AS) */
static _Atomic unsigned warm_segments;

static sbl_lock_t cache_lock;
static struct sbl_segment *cache[SEG_CACHE_MAX];
static unsigned cache_n;

/* RAM a segment may hold: every slice but the free ones known clean */
static inline int64_t seg_commit(const struct sbl_segment *s)
{
    return (int64_t)(SBL_SLICES - (unsigned)__builtin_popcountll(s->free_map & ~s->dirty_map)) *
           (int64_t)SBL_SLICE_SIZE;
}

static inline uint64_t span_mask(unsigned idx, unsigned k)
{
    return (k >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << k) - 1)) << idx;
}

/* ---- the heap's segment list ---- */
static void seg_unlink(struct sbl_heap *h, struct sbl_segment *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        h->segments = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->next = s->prev = NULL;
}

static void seg_push_front(struct sbl_heap *h, struct sbl_segment *s)
{
    s->prev = NULL;
    s->next = h->segments;
    if (h->segments)
        h->segments->prev = s;
    h->segments = s;
}

static void seg_push_back(struct sbl_heap *h, struct sbl_segment *s)
{
    struct sbl_segment *t = h->segments;
    if (t == NULL) {
        seg_push_front(h, s);
        return;
    }
    while (t->next)
        t = t->next;
    t->next = s;
    s->prev = t;
    s->next = NULL;
}

/* ---- purging ---- */
static void segment_purge(struct sbl_segment *s)
{
    uint64_t m = s->free_map & s->dirty_map;
    uint64_t left = m;
    int64_t c0 = seg_commit(s);
    while (left) {
        unsigned i = (unsigned)__builtin_ctzll(left);
        unsigned j = i;
        while (j < 64 && ((left >> j) & 1))
            j++;
        sbl_os_purge((uint8_t *)s + (size_t)i * SBL_SLICE_SIZE, (size_t)(j - i) * SBL_SLICE_SIZE);
        left &= ~span_mask(i, j - i);
    }
    s->dirty_map &= ~m;
    s->purge_at = 0;
    sbl_stat_committed(seg_commit(s) - c0);
}

static void segment_release(struct sbl_heap *h, struct sbl_segment *s);

/* Purges the free slices whose delay has run out (all of them if force);
 * a segment left with no page then leaves the heap, unless it is the
 * heap's only one. */
void sbl_segments_purge(struct sbl_heap *h, bool force)
{
    uint64_t now = force ? 0 : sbl_clock_ms();
    for (struct sbl_segment *s = h->segments, *next; s; s = next) {
        next = s->next;
        if (s->purge_at && (force || now >= s->purge_at)) {
            segment_purge(s);
            if (s->free_map == SEG_ALL_FREE && !(h->segments == s && s->next == NULL))
                segment_release(h, s);
        }
    }
}

/* Every few slow-path events: purge what has waited long enough. This is
 * the "bounded delay": memory freed goes back to the OS at the first of
 * these after SABLE_PURGE_DELAY, or at once on sable_purge(). */
void sbl_segments_maybe_purge(struct sbl_heap *h)
{
    if ((++h->purge_tick & 7) == 0) {
        sbl_segments_purge(h, false);
        sbl_huge_cache_expire();
    }
}

#define maybe_purge sbl_segments_maybe_purge

/* ---- whole segments ---- */
static struct sbl_segment *segment_alloc(struct sbl_heap *h)
{
    struct sbl_segment *s = NULL;
    sbl_lock(&cache_lock);
    if (cache_n > 0)
        s = cache[--cache_n];
    sbl_unlock(&cache_lock);
    if (s == NULL) {
        s = sbl_os_map_aligned(SBL_SEG_SIZE, SBL_SEG_SIZE, 0);
        if (s == NULL)
            return NULL;
        sbl_registry_mark(s, SBL_SEG_SIZE, true);
        if (sbl_opt.slow) /* a stray free into an unused slice takes the slow path */
            for (unsigned i = 0; i <= SBL_SLICES; i++)
                s->pages[i].flags = SBL_PF_SLOW;
        sbl_stat_segments(1);
        sbl_stat_committed((int64_t)SBL_SLICE_SIZE); /* the header slice */
    }
    s->heap = h;
    s->kind = SBL_SEG_NORMAL;
    s->free_map = SEG_ALL_FREE;
    s->dirty_map = 0;
    s->purge_at = 0;
    s->map_size = SBL_SEG_SIZE;
    s->huge_size = 0;
    s->huge_offset = 0;
    seg_push_front(h, s);
    return s;
}

/* An empty segment leaves its heap: purged, then cached or unmapped. */
static void segment_release(struct sbl_heap *h, struct sbl_segment *s)
{
    atomic_fetch_sub_explicit(&warm_segments, 1, memory_order_relaxed);
    seg_unlink(h, s);
    segment_purge(s);
    s->heap = NULL;
    sbl_lock(&cache_lock);
    if (cache_n < SEG_CACHE_MAX) {
        cache[cache_n++] = s;
        s = NULL;
    }
    sbl_unlock(&cache_lock);
    if (s) {
        sbl_registry_mark(s, SBL_SEG_SIZE, false);
        sbl_stat_segments(-1);
        sbl_stat_committed(-(int64_t)SBL_SLICE_SIZE);
        sbl_os_unmap(s, SBL_SEG_SIZE);
    }
}

/* Unmaps every cached segment. */
void sbl_segment_cache_flush(void)
{
    struct sbl_segment *out[SEG_CACHE_MAX];
    unsigned n;
    sbl_lock(&cache_lock);
    n = cache_n;
    memcpy(out, cache, n * sizeof out[0]);
    cache_n = 0;
    sbl_unlock(&cache_lock);
    for (unsigned i = 0; i < n; i++) {
        sbl_registry_mark(out[i], SBL_SEG_SIZE, false);
        sbl_stat_segments(-1);
        sbl_stat_committed(-(int64_t)SBL_SLICE_SIZE);
        sbl_os_unmap(out[i], SBL_SEG_SIZE);
    }
}

void sbl_segment_lock_prefork(void) { sbl_lock(&cache_lock); }

void sbl_segment_unlock_postfork(bool child)
{
    if (child)
        atomic_store(&cache_lock.v, 0);
    else
        sbl_unlock(&cache_lock);
}

/* ---- pages ---- */

/* Bit j of the result is set when bits j..j+k-1 of map all are. */
static inline uint64_t span_starts(uint64_t map, unsigned k)
{
    uint64_t t = map;
    for (unsigned i = 1; i < k && t; i++)
        t &= map >> i;
    return t;
}

/* A new, empty page of class cls from one of h's segments (or a new one). */
struct sbl_page *sbl_page_new(struct sbl_heap *h, unsigned cls)
{
    unsigned k = sbl_class_slices[cls];
    struct sbl_segment *s;
    unsigned idx = 1;
    maybe_purge(h);
    for (s = h->segments; s && s->free_map; s = s->next) {
        uint64_t t = span_starts(s->free_map, k);
        if (t) {
            uint64_t d = t & s->dirty_map; /* reuse RAM we still hold */
            idx = (unsigned)__builtin_ctzll(d ? d : t);
            break;
        }
    }
    if (s == NULL || s->free_map == 0) {
        s = segment_alloc(h);
        if (s == NULL)
            return NULL;
        idx = 1;
    } else if (s->free_map == SEG_ALL_FREE) { /* a warm empty segment is used again */
        atomic_fetch_sub_explicit(&warm_segments, 1, memory_order_relaxed);
    }
    uint64_t m = span_mask(idx, k);
    int64_t c0 = seg_commit(s);
    s->free_map &= ~m;
    s->dirty_map &= ~m;
    sbl_stat_committed(seg_commit(s) - c0);
    if (s->free_map == 0 && s->next) {
        seg_unlink(h, s);
        seg_push_back(h, s);
    }

    struct sbl_page *pg = &s->pages[idx];
    size_t bs = sbl_class_size(cls);
    pg->free = NULL;
    pg->local_free = NULL;
    pg->used = 0;
    pg->offset = 0;
    pg->flags = sbl_opt.slow ? SBL_PF_SLOW : 0;
    pg->cls = (uint8_t)cls;
    pg->slices = (uint8_t)k;
    pg->in_use = 1;
    pg->block_size = (uint32_t)bs;
    pg->capacity = (uint16_t)(((size_t)k * SBL_SLICE_SIZE) / bs);
    pg->reserved = 0;
    pg->start = (uint8_t *)s + (size_t)idx * SBL_SLICE_SIZE;
    atomic_store_explicit(&pg->xthread_free, SBL_TF_NORMAL, memory_order_relaxed);
    pg->next = pg->prev = NULL;
    for (unsigned i = 1; i < k; i++)
        s->pages[idx + i].offset = (uint16_t)(i * sizeof(struct sbl_page));
    return pg;
}

/* Carves the next few untouched blocks into the free list: about 4 KiB, at
 * least 4 blocks, so a fresh page costs RAM only as it is used. */
void sbl_page_extend(struct sbl_page *pg)
{
    uint32_t avail = pg->capacity - pg->reserved;
    if (avail == 0)
        return;
    size_t bs = pg->block_size;
    uint32_t n = (uint32_t)(4096 / bs);
    if (n < 4)
        n = 4;
    if (n > avail)
        n = avail;
    uint8_t *p = pg->start + (size_t)pg->reserved * bs;
    if (SBL_LIKELY(!sbl_opt.slow)) { /* the mode tested once, not per block */
        for (uint32_t i = 0; i + 1 < n; i++)
            ((struct sbl_block *)(p + i * bs))->next = (struct sbl_block *)(p + (i + 1) * bs);
        ((struct sbl_block *)(p + (size_t)(n - 1) * bs))->next = pg->free;
    } else {
        sbl_slow_carve(p, n, bs, pg->free); /* secure.c */
    }
    pg->free = (struct sbl_block *)p;
    pg->reserved += n;
}

/* Moves the remote-free state to `state`, waiting out a remote thread that
 * is between its two steps of a delayed free (a few instructions). */
void sbl_page_set_state(struct sbl_page *pg, uintptr_t state)
{
    uintptr_t tf = atomic_load_explicit(&pg->xthread_free, memory_order_relaxed);
    for (;;) {
        if ((tf & SBL_TF_MASK) == SBL_TF_FREEING) {
            sched_yield();
            tf = atomic_load_explicit(&pg->xthread_free, memory_order_relaxed);
            continue;
        }
        if ((tf & SBL_TF_MASK) == state)
            return;
        if (atomic_compare_exchange_weak_explicit(&pg->xthread_free, &tf,
                                                  (tf & ~(uintptr_t)SBL_TF_MASK) | state,
                                                  memory_order_acq_rel, memory_order_relaxed))
            return;
    }
}

/* Gives an empty page (already out of every queue) back to its segment. */
void sbl_page_release(struct sbl_heap *h, struct sbl_page *pg)
{
    struct sbl_segment *s = sbl_segment_of(pg);
    if (h->large_kept == pg)
        h->large_kept = NULL;
    sbl_page_set_state(pg, SBL_TF_NEVER);
    unsigned idx = (unsigned)(pg - s->pages);
    unsigned k = pg->slices;
    pg->in_use = 0;
    pg->free = NULL;
    pg->local_free = NULL;
    pg->flags = sbl_opt.slow ? SBL_PF_SLOW : 0; /* a stray free still takes the slow path */
    uint64_t m = span_mask(idx, k);
    bool was_full = s->free_map == 0;
    s->free_map |= m;
    s->dirty_map |= m;
    if (s->purge_at == 0)
        s->purge_at = sbl_clock_ms() + sbl_opt.purge_delay_ms;
    if (was_full) {
        seg_unlink(h, s);
        seg_push_front(h, s);
    }
    /* an empty segment stays until its purge (a burst of frees followed by
       allocations reuses it warm), up to SEG_WARM_MAX of them */
    if (s->free_map == SEG_ALL_FREE) {
        atomic_fetch_add_explicit(&warm_segments, 1, memory_order_relaxed);
        if (atomic_load_explicit(&warm_segments, memory_order_relaxed) > SEG_WARM_MAX ||
            sbl_os_as_limited())
            segment_release(h, s);
    }
    maybe_purge(h);
}

/* Releases every segment of h that has no page left. */
void sbl_segments_trim(struct sbl_heap *h)
{
    for (struct sbl_segment *s = h->segments, *next; s; s = next) {
        next = s->next;
        if (s->free_map == SEG_ALL_FREE)
            segment_release(h, s);
    }
}

/* Grows (into the free slices right after it) or shrinks (giving back its
 * tail) the span of a page; false when the slices after it are not free. */
bool sbl_span_resize(struct sbl_heap *h, struct sbl_page *pg, unsigned slices)
{
    struct sbl_segment *s = sbl_segment_of(pg);
    unsigned idx = (unsigned)(pg - s->pages);
    unsigned k = pg->slices;
    if (slices == k)
        return true;
    int64_t c0 = seg_commit(s);
    if (slices > k) {
        if (idx + slices > SBL_SLICES)
            return false;
        uint64_t m = span_mask(idx + k, slices - k);
        if ((s->free_map & m) != m)
            return false;
        s->free_map &= ~m;
        s->dirty_map &= ~m;
        for (unsigned i = k; i < slices; i++)
            s->pages[idx + i].offset = (uint16_t)(i * sizeof(struct sbl_page));
        if (s->free_map == 0 && s->next) {
            seg_unlink(h, s);
            seg_push_back(h, s);
        }
    } else {
        uint64_t m = span_mask(idx + slices, k - slices);
        bool was_full = s->free_map == 0;
        s->free_map |= m;
        s->dirty_map |= m; /* its RAM goes back after the purge delay */
        if (s->purge_at == 0)
            s->purge_at = sbl_clock_ms() + sbl_opt.purge_delay_ms;
        if (was_full) {
            seg_unlink(h, s);
            seg_push_front(h, s);
        }
    }
    pg->slices = (uint8_t)slices;
    sbl_stat_committed(seg_commit(s) - c0);
    return true;
}

/* ---- the registry: which 4 MiB chunks of the address space are sable's ----
 * One byte per chunk of the 47-bit user address space (32 MiB of address
 * space, MAP_NORESERVE: RAM only where segments are): 1 at a segment's
 * base, 2 on the further chunks of a huge mapping. It lets sable_free_range
 * tell its own pointers from foreign ones without touching them. */
#define REG_CHUNKS SBL_REG_CHUNKS

uint8_t *sbl_registry;

void sbl_registry_init(void) { sbl_registry = sbl_os_map(REG_CHUNKS); }

void sbl_registry_mark(const void *base, size_t size, bool on)
{
    uintptr_t c = (uintptr_t)base >> SBL_SEG_SHIFT;
    size_t k = (size + SBL_SEG_SIZE - 1) >> SBL_SEG_SHIFT;
    if (sbl_registry == NULL || c + k > REG_CHUNKS)
        return;
    __atomic_store_n(&sbl_registry[c], (uint8_t)(on ? 1 : 0), __ATOMIC_RELEASE);
    for (size_t i = 1; i < k; i++)
        __atomic_store_n(&sbl_registry[c + i], (uint8_t)(on ? 2 : 0), __ATOMIC_RELEASE);
}

/* The segment (normal or huge) whose mapping holds p, or NULL. */
struct sbl_segment *sbl_registry_find(const void *p)
{
    uintptr_t c = (uintptr_t)p >> SBL_SEG_SHIFT;
    if (sbl_registry == NULL || c >= REG_CHUNKS)
        return NULL;
    while (c > 0 && __atomic_load_n(&sbl_registry[c], __ATOMIC_ACQUIRE) == 2)
        c--;
    if (__atomic_load_n(&sbl_registry[c], __ATOMIC_ACQUIRE) != 1)
        return NULL;
    struct sbl_segment *s = (struct sbl_segment *)(c << SBL_SEG_SHIFT);
    if (s->kind == SBL_SEG_HUGE && (const uint8_t *)p >= (const uint8_t *)s + s->map_size)
        return NULL; /* (a freed huge block's kept header answers for its chunk) */
    return s;
}
