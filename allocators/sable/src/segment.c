/* segment.c: segments, the spans of slices they hand out as pages, and the
 * return of free slices to the OS.
 *
 * Invariants: slice 0 of a segment is its header and never free; a free
 * slice has its bit in free_map; dirty_map bits are only meaningful for free
 * slices (set when a span is released, cleared when it is purged or reused).
 * Every segment of a heap is on the heap's list (h->segments); one with a
 * free slice is also in the heap's run bin of its longest run of free slices
 * (s->run), so that a span of k slices is found in one step: the first
 * segment of the lowest non-empty bin >= k (best fit). Bin 63 holds the
 * heap's one empty segment, if any; a heap keeps at most one: the others go
 * to the process-wide pool.
 *
 * The pool: empty segments, newest first. One enters *warm* (its RAM kept,
 * purge_at set) so that a burst of frees followed by allocations, by any
 * thread, reuses it without page faults; once its purge delay has passed,
 * the next slow-path event of any thread purges it (MADV_DONTNEED) and it
 * stays as a *cold* segment (address space only), up to POOL_COLD_MAX of
 * them; more are unmapped. Warm segments always come before cold ones.
 *
 * The purge delay adapts: it starts at SABLE_PURGE_DELAY, doubles (up to
 * PURGE_DELAY_GROWTH times that) whenever a heap needs a fresh segment
 * within four delays of the deadline of a purged one, or a new page takes
 * free slices its heap purged within one delay of their deadline
 * (took_purged) (the program works in rounds a little longer than the
 * delay: purging only made it fault the same RAM in again), once per
 * purge, and halves back when no such miss happened for eight delays.
 * Soon after the deadline, not after the purge itself: purges run lazily,
 * at the next slow-path event, and the burst that ends a long quiet time
 * is what triggers them.
 *
 * A segment's purge_at is the deadline of its oldest dirty free slice, 0
 * when it has none: a segment whose dirty slices were all taken again
 * starts afresh, so that slices freed later get their whole delay. */
#include "internal.h"

#define SEG_ALL_FREE (~(uint64_t)1)
#define SEG_RUN_EMPTY (SBL_SLICES - 1) /* the run of an empty segment: 63 */
#define POOL_COLD_MAX 8
#define PURGE_DELAY_GROWTH 16

static _Atomic uint64_t delay_ms;   /* the current purge delay; 0: not yet set */
static _Atomic uint64_t purged_due; /* deadline (ms) of the last purged empty segment */
static _Atomic uint64_t counted;    /* the purged_due a miss was last counted for */
static _Atomic uint64_t missed_at;  /* ms of the last fresh segment needed soon after */

static sbl_lock_t pool_lock;
static struct sbl_segment *pool_first, *pool_last; /* newest first */
static unsigned pool_cold;                         /* purged ones, at the end */
static _Atomic uint64_t pool_deadline;             /* purge_at of the oldest warm one; 0: none */

/* The purge delay now (ms). */
uint64_t sbl_purge_delay(void)
{
    uint64_t d = atomic_load_explicit(&delay_ms, memory_order_relaxed);
    return d ? d : sbl_opt.purge_delay_ms;
}

/* RAM purged when its delay ran out at `due` is wanted back at `now`: when
   that is within `delays` delays, the purge was too early (counted once per
   purge). */
static void note_miss(uint64_t now, uint64_t due, unsigned delays)
{
    uint64_t d = sbl_purge_delay();
    if (due == 0 || now > due + delays * d ||
        atomic_load_explicit(&counted, memory_order_relaxed) == due)
        return;
    atomic_store_explicit(&counted, due, memory_order_relaxed);
    atomic_store_explicit(&missed_at, now, memory_order_relaxed);
    if (d < sbl_opt.purge_delay_ms * PURGE_DELAY_GROWTH)
        atomic_store_explicit(&delay_ms, d * 2, memory_order_relaxed);
}

/* A heap needs a fresh (or cold) segment, or a huge block a fresh mapping:
   was the last purge of empty segments or kept mappings too early? */
void sbl_purge_note_miss(uint64_t now)
{
    note_miss(now, atomic_load_explicit(&purged_due, memory_order_relaxed), 4);
}

/* A purge ran: after a long while without a miss, the delay halves. */
static void note_purge_any(uint64_t now)
{
    uint64_t d = sbl_purge_delay();
    uint64_t missed = atomic_load_explicit(&missed_at, memory_order_relaxed);
    if (d > sbl_opt.purge_delay_ms && now > missed + 8 * d)
        atomic_store_explicit(&delay_ms, d / 2, memory_order_relaxed);
}

/* Empty segments (or kept huge mappings) were purged, the latest of them due
   at `due`. */
void sbl_purge_note_purge(uint64_t now, uint64_t due)
{
    atomic_store_explicit(&purged_due, due, memory_order_relaxed);
    note_purge_any(now);
}

/* RAM a segment may hold: every slice but the free ones known clean */
static inline int64_t seg_commit(const struct sbl_segment *s)
{
    return (int64_t)(SBL_SLICES - (unsigned)__builtin_popcountll(s->free_map & ~s->dirty_map)) *
           (int64_t)SBL_SLICE_SIZE;
}

/* what taking the free slices m (to a span) adds to seg_commit: the ones
   not dirty (a dirty slice holds RAM already, counted) */
static inline void commit_taking(const struct sbl_segment *s, uint64_t m)
{
    uint64_t fresh = m & ~s->dirty_map;
    if (fresh != 0)
        sbl_stat_committed((int64_t)__builtin_popcountll(fresh) * (int64_t)SBL_SLICE_SIZE);
}

static inline uint64_t span_mask(unsigned idx, unsigned k)
{
    return (k >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << k) - 1)) << idx;
}

/* The longest run of set bits in map. */
static unsigned longest_run(uint64_t map)
{
    unsigned best = 0;
    while (map) {
        unsigned i = (unsigned)__builtin_ctzll(map);
        uint64_t rest = ~(map >> i);
        unsigned len = rest ? (unsigned)__builtin_ctzll(rest) : 64 - i;
        if (len > best)
            best = len;
        map &= ~span_mask(i, len);
    }
    return best;
}

static inline bool registry_marked(const struct sbl_segment *s);

/* What a heap's segment keeps (see above), checked in debug builds where
   its maps change: the header slice never free, dirty bits only on free
   slices, a purge deadline exactly while some free slice is dirty, and its
   registry byte set. */
static inline void seg_assert(const struct sbl_segment *s)
{
    sbl_assert((s->free_map & 1) == 0);
    sbl_assert((s->dirty_map & ~s->free_map) == 0);
    sbl_assert((s->held_map & s->free_map) == 0);
    sbl_assert((s->purged_map & ~(s->free_map & ~s->dirty_map)) == 0);
    sbl_assert(((s->free_map & s->dirty_map) != 0) == (s->purge_at != 0));
    sbl_assert(registry_marked(s));
}

/* ---- the heap's segment list and run bins ---- */
static void seg_unlink(struct sbl_heap *h, struct sbl_segment *s)
{
    sbl_assert(s->heap == h && (s->prev ? s->prev->next == s : h->segments == s));
    SBL_LIST_UNLINK(h->segments, SBL_LIST_NO_LAST(s), s, next, prev);
}

static void seg_push_front(struct sbl_heap *h, struct sbl_segment *s)
{
    SBL_LIST_PUSH_FRONT(h->segments, SBL_LIST_NO_LAST(s), s, next, prev);
}

static void bin_remove(struct sbl_heap *h, struct sbl_segment *s)
{
    unsigned r = s->run;
    if (r == 0)
        return;
    SBL_LIST_UNLINK(h->runs[r], SBL_LIST_NO_LAST(s), s, bin_next, bin_prev);
    if (h->runs[r] == NULL)
        h->run_mask &= ~((uint64_t)1 << r);
    s->run = 0;
}

/* Puts s in the bin of its longest free run (first there: the segment
   touched last is the first to be reused, while its RAM is warm). */
static void seg_rebin(struct sbl_heap *h, struct sbl_segment *s)
{
    unsigned r = longest_run(s->free_map);
    if (r == s->run && (r == 0 || h->runs[r] == s))
        return;
    bin_remove(h, s);
    if (r == 0)
        return;
    s->run = (uint8_t)r;
    SBL_LIST_PUSH_FRONT(h->runs[r], SBL_LIST_NO_LAST(s), s, bin_next, bin_prev);
    h->run_mask |= (uint64_t)1 << r;
    sbl_assert(s->run == longest_run(s->free_map));
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

/* Gives s a purge deadline (if it has none) and tells the heap. */
static void schedule_purge(struct sbl_heap *h, struct sbl_segment *s)
{
    if (s->purge_at == 0)
        s->purge_at = sbl_clock_ms() + sbl_purge_delay();
    if (h->purge_check_at == 0 || s->purge_at < h->purge_check_at)
        h->purge_check_at = s->purge_at;
}

static void segment_unmap(struct sbl_segment *s)
{
    sbl_registry_mark(s, SBL_SEG_SIZE, false);
    sbl_stat_segments(-1);
    sbl_stat_committed(-(int64_t)SBL_SLICE_SIZE);
    sbl_os_unmap(s, SBL_SEG_SIZE);
}

/* ---- the pool of empty segments ---- */
static void pool_unlink(struct sbl_segment *s)
{
    sbl_assert(s->heap == NULL && (s->prev ? s->prev->next == s : pool_first == s) &&
               (s->next ? s->next->prev == s : pool_last == s));
    SBL_LIST_UNLINK(pool_first, &pool_last, s, next, prev);
}

/* Appends a purged segment at the end (pool_lock held); false when the pool
   holds enough cold ones already (the caller unmaps it). */
static bool pool_append_cold(struct sbl_segment *s)
{
    if (pool_cold >= POOL_COLD_MAX)
        return false;
    SBL_LIST_PUSH_BACK(pool_first, &pool_last, s, next, prev);
    pool_cold++;
    return true;
}

/* Purges s (not in the pool, pool_lock not held) and appends it cold, or
   unmaps it when the pool holds enough cold ones. */
static void pool_put_cold(struct sbl_segment *s)
{
    segment_purge(s);
    sbl_lock(&pool_lock);
    bool kept = pool_append_cold(s);
    sbl_unlock(&pool_lock);
    if (!kept)
        segment_unmap(s);
}

/* The deadline of the oldest warm segment (pool_lock held). */
static void pool_update_deadline(void)
{
    struct sbl_segment *s = pool_last;
    while (s && s->purge_at == 0)
        s = s->prev;
    atomic_store_explicit(&pool_deadline, s ? s->purge_at : 0, memory_order_relaxed);
}

/* Purges the warm segments whose delay has passed (all with force); with
   force, unmaps every cold one too. Any thread may call it. */
static void pool_purge(uint64_t now, bool force)
{
    struct sbl_segment *due = NULL;
    uint64_t latest = 0;
    sbl_lock(&pool_lock);
    for (struct sbl_segment *s = pool_last, *prev; s; s = prev) {
        prev = s->prev;
        if (s->purge_at == 0)
            continue;
        if (!force && s->purge_at > now)
            break; /* the newer ones are due later */
        latest = s->purge_at;
        pool_unlink(s);
        s->next = due;
        due = s;
    }
    pool_update_deadline();
    sbl_unlock(&pool_lock);
    if (due && !force)
        sbl_purge_note_purge(now, latest);
    /* the system calls out of the lock; then the purged ones go back cold */
    while (due) {
        struct sbl_segment *s = due;
        due = s->next;
        pool_put_cold(s);
    }
    if (!force)
        return;
    for (;;) {
        sbl_lock(&pool_lock);
        struct sbl_segment *s = pool_last;
        if (s && s->purge_at == 0) {
            pool_unlink(s);
            pool_cold--;
        } else {
            s = NULL;
        }
        sbl_unlock(&pool_lock);
        if (s == NULL)
            break;
        segment_unmap(s);
    }
}

/* An empty segment leaves its heap for the pool: warm, or (under an
 * address-space limit, where every byte of address space counts) purged
 * and cold. */
static void segment_release(struct sbl_heap *h, struct sbl_segment *s)
{
    bin_remove(h, s);
    seg_unlink(h, s);
    s->heap = NULL;
    __atomic_store_n(&s->owner_tag, 0, __ATOMIC_RELAXED);
    bool limited = sbl_os_as_limited();
    if (limited || (s->dirty_map & s->free_map) == 0) {
        pool_put_cold(s);
        return;
    }
    s->purge_at = sbl_clock_ms() + sbl_purge_delay();
    sbl_lock(&pool_lock);
    SBL_LIST_PUSH_FRONT(pool_first, &pool_last, s, next, prev);
    if (atomic_load_explicit(&pool_deadline, memory_order_relaxed) == 0)
        atomic_store_explicit(&pool_deadline, s->purge_at, memory_order_relaxed);
    sbl_unlock(&pool_lock);
}

/* Purges h's free slices whose delay has run out (all of them if force);
 * an empty segment then leaves the heap, unless it is the heap's only one. */
void sbl_segments_purge(struct sbl_heap *h, bool force)
{
    if (!force && h->purge_check_at == 0)
        return; /* (without reading the clock) */
    uint64_t now = force ? 0 : sbl_clock_ms();
    if (!force && now < h->purge_check_at)
        return;
    uint64_t next_at = 0;
    for (struct sbl_segment *s = h->segments, *next; s; s = next) {
        next = s->next;
        if (s->purge_at == 0)
            continue;
        if (force || now >= s->purge_at) {
            if (!force && s->free_map == SEG_ALL_FREE) {
                sbl_purge_note_purge(now, s->purge_at);
            } else if (!force) { /* (see took_purged) */
                note_purge_any(now);
                s->purged_map |= s->free_map & s->dirty_map;
                s->purged_due = s->purge_at;
            }
            segment_purge(s);
            if (s->free_map == SEG_ALL_FREE && !(h->segments == s && s->next == NULL))
                segment_release(h, s);
        } else if (next_at == 0 || s->purge_at < next_at) {
            next_at = s->purge_at;
        }
    }
    h->purge_check_at = next_at;
}

/* Every few slow-path events: purge what has waited long enough, in this
 * heap and in the pool. This is the "bounded delay": memory freed goes back
 * to the OS at the first of these after SABLE_PURGE_DELAY, or at once on
 * sable_purge(). */
void sbl_segments_maybe_purge(struct sbl_heap *h)
{
    if ((++h->purge_tick & 7) == 0) {
        sbl_segments_purge(h, false);
        uint64_t due = atomic_load_explicit(&pool_deadline, memory_order_relaxed);
        uint64_t now;
        if (due != 0 && (now = sbl_clock_ms()) >= due)
            pool_purge(now, false);
        sbl_huge_cache_expire();
    }
}

#define maybe_purge sbl_segments_maybe_purge

/* ---- whole segments ---- */
static struct sbl_segment *segment_alloc(struct sbl_heap *h)
{
    sbl_lock(&pool_lock);
    struct sbl_segment *s = pool_first;
    bool warm = s && s->purge_at != 0;
    if (s) {
        pool_unlink(s);
        if (!warm)
            pool_cold--;
        else if (pool_first == NULL || pool_first->purge_at == 0)
            pool_update_deadline();
    }
    sbl_unlock(&pool_lock);
    if (!warm)
        sbl_purge_note_miss(sbl_clock_ms());
    if (s == NULL) {
        s = sbl_os_map_aligned(SBL_SEG_SIZE, SBL_SEG_SIZE, 0);
        if (s == NULL)
            return NULL;
        sbl_registry_mark(s, SBL_SEG_SIZE, true);
        if (sbl_slow_mode()) /* a stray free into an unused slice takes the slow path */
            for (unsigned i = 0; i <= SBL_SLICES; i++)
                sbl_page_flags_init(&sbl_seg_pages(s)[i], SBL_PF_SLOW);
        sbl_stat_segments(1);
        sbl_stat_committed((int64_t)SBL_SLICE_SIZE); /* the header slice */
        s->free_map = SEG_ALL_FREE;
        s->dirty_map = 0;
        s->held_map = 0;
        s->purge_at = 0;
    }
    /* a pooled segment keeps free_map (all free), dirty_map and purge_at */
    s->purged_map = 0; /* (the pool counts its own misses) */
    s->heap = h;
    __atomic_store_n(&s->owner_tag, h->owner_tag, __ATOMIC_RELAXED);
    s->kind = SBL_SEG_NORMAL;
    s->map_size = SBL_SEG_SIZE;
    s->huge_size = 0;
    s->huge_offset = 0;
    s->huge_held = 0;
    s->run = 0;
    s->bin_next = s->bin_prev = NULL;
    if (s->purge_at)
        schedule_purge(h, s); /* (keeps its deadline; tells the heap) */
    seg_push_front(h, s);
    seg_rebin(h, s);
    seg_assert(s);
    return s;
}

/* Unmaps every segment of the pool. */
void sbl_segment_cache_flush(void) { pool_purge(0, true); }

void sbl_segment_lock_prefork(void) { sbl_lock(&pool_lock); }

void sbl_segment_unlock_postfork(bool child) { sbl_lock_after_fork(&pool_lock, child); }

/* A page takes the slices m of s: those its purge delay gave back are
 * faulted in again; when that comes within a delay of the purge's deadline
 * (the RAM lay idle less than two delays), the delay was too short for this
 * program (one that works in rounds a little longer than the delay purges
 * and faults back its RAM every round), and it grows (note_miss). Purges
 * run lazily, at the first slow-path event after the deadline, so a
 * program that resumes after a pause takes purged slices at once: after a
 * pause of two delays or more, that is no miss. */
static inline void took_purged(struct sbl_segment *s, uint64_t m)
{
    if (SBL_LIKELY((s->purged_map & m) == 0))
        return;
    s->purged_map &= ~m;
    note_miss(sbl_clock_ms(), s->purged_due, 1);
}

/* ---- pages ---- */

/* Bit j of the result is set when bits j..j+k-1 of map all are (k >= 1):
   runs of 1, 2, 4, ... bits, then the last step overlapping the one before. */
static inline uint64_t span_starts(uint64_t map, unsigned k)
{
    uint64_t t = map;
    unsigned len = 1;
    for (; t != 0 && 2 * len <= k; len *= 2)
        t &= t >> len;
    if (t != 0 && len < k)
        t &= t >> (k - len);
    return t;
}

/* The first slice of a new span of `room` free slices of s that holds no
 * RAM: the lowest, except in an empty segment for pages of 16 slices or
 * more without room to grow (blocks of 1 MiB and up, a few to a segment).
 * There the first span starts 0..slack slices in, by the segment's
 * address, and those placed after it follow it: their descriptors, which
 * every free reads, then do not all sit at the same offsets from 4 MiB
 * boundaries, where a program with many such blocks live would have them
 * compete for a few cache sets. A block that realloc places to grow keeps
 * the lowest run, where the runs after its room are longest. */
static unsigned span_colour(const struct sbl_segment *s, unsigned room, unsigned k)
{
    uint64_t starts = span_starts(s->free_map, room);
    if (k < 16 || room != k || s->free_map != SEG_ALL_FREE)
        return (unsigned)__builtin_ctzll(starts);
    unsigned slack = (SBL_SLICES - 1) % room;
    return 1 + (unsigned)(((uintptr_t)s >> SBL_SEG_SHIFT) % (slack + 1));
}

/* A new, empty page of class cls from one of h's segments (or a new one). */
/* __thread: whether this thread's last sbl_page_new took slices that hold no
   RAM (never written since mapped, or purged): all zero */
__thread bool sbl_page_zero __attribute__((tls_model("initial-exec")));

struct sbl_page *sbl_page_new(struct sbl_heap *h, unsigned cls)
{
    return sbl_page_new_room(h, cls, sbl_class_slices[cls]);
}

/* The starts of the runs of `room` free slices of s (a page of k slices,
 * room >= k, the rest for the page to grow into) that reuse the most RAM s
 * still holds, and how well (*tier): 3 where all `room` slices hold RAM,
 * 2 where the page's own k slices do (a big block is written from the
 * start; its room only as it grows), 1 where the first one does; 0 and no
 * starts when no run starts on RAM. For a page of one slice and no room,
 * any run starting on RAM is of tier 3. */
static uint64_t held_starts(const struct sbl_segment *s, unsigned room, unsigned k, unsigned *tier)
{
    uint64_t held = s->free_map & s->dirty_map, r, t;
    *tier = 0;
    if (held == 0)
        return 0;
    *tier = 3;
    if ((r = span_starts(held, room)) != 0) /* (a run of held slices is a free one) */
        return r;
    t = span_starts(s->free_map, room);
    *tier = 2;
    if (k > 1 && (r = t & span_starts(held, k)) != 0)
        return r;
    *tier = (t & held) != 0;
    return t & held;
}

/* The segment of h whose runs of `room` free slices reuse the most RAM
 * (held_starts; the best fit first among equals) and how well (*best_tier),
 * or NULL (tier 0) when none starts on RAM. A bounded number of segments
 * looked at, from the best fit up. */
#define DIRTY_SCAN_MAX 32

static struct sbl_segment *dirty_fit(struct sbl_heap *h, unsigned room, unsigned k,
                                     unsigned *best_tier)
{
    unsigned seen = 0, tier;
    struct sbl_segment *best = NULL;
    *best_tier = 0;
    for (uint64_t bins = h->run_mask & ~(((uint64_t)1 << room) - 1); bins; bins &= bins - 1)
        for (struct sbl_segment *s = h->runs[__builtin_ctzll(bins)]; s; s = s->bin_next) {
            if (s->purge_at != 0 && held_starts(s, room, k, &tier) != 0 && tier > *best_tier) {
                best = s;
                *best_tier = tier;
                if (tier == 3)
                    return s;
            }
            if (++seen == DIRTY_SCAN_MAX)
                return best;
        }
    return best;
}

/* The bytes of page pg (at slice idx of s) past its carved blocks: RAM it
 * took while still held (held_map) that no block uses yet. */
static void held_tail(const struct sbl_segment *s, unsigned idx, uintptr_t *a, uintptr_t *e)
{
    const struct sbl_page *pg = &sbl_seg_pages(s)[idx];
    *a = ((uintptr_t)pg->start + (size_t)pg->reserved * pg->block_size + SBL_OS_PAGE - 1) &
         ~(uintptr_t)(SBL_OS_PAGE - 1);
    *e = (uintptr_t)s + (size_t)(idx + pg->slices) * SBL_SLICE_SIZE;
}

/* Before a new span faults fresh RAM in: the RAM h holds that nobody uses
 * (its free slices that still hold RAM, and the uncarved parts of pages
 * that took such slices), when it is RECLAIM_MIN bytes or more, goes back
 * to the OS now rather than after the purge delay, so that the peak does
 * not hold both. Segments and pages stay where they are. */
#define RECLAIM_MIN ((size_t)256 << 10)

static void reclaim_before_growth(struct sbl_heap *h)
{
    size_t idle = 0;
    uintptr_t a, e;
    for (struct sbl_segment *s = h->segments; s; s = s->next) {
        idle += (size_t)__builtin_popcountll(s->free_map & s->dirty_map) * SBL_SLICE_SIZE;
        for (uint64_t m = s->held_map; m; m &= m - 1) {
            held_tail(s, (unsigned)__builtin_ctzll(m), &a, &e);
            idle += a < e ? e - a : 0;
        }
    }
    if (idle < RECLAIM_MIN)
        return;
    for (struct sbl_segment *s = h->segments; s; s = s->next) {
        if (s->purge_at != 0)
            segment_purge(s);
        for (uint64_t m = s->held_map; m; m &= m - 1) {
            held_tail(s, (unsigned)__builtin_ctzll(m), &a, &e);
            if (a < e)
                sbl_os_purge((void *)a, e - a);
        }
        s->held_map = 0;
    }
    h->purge_check_at = 0;
}

/* The segment a new span of `room` slices (a page of k) goes in: the best
 * fit when the whole span can go on RAM the process still holds; else,
 * before fresh RAM is faulted in (which raises the peak), RAM already held
 * that nobody uses: first the slices of the empty pages h retains (heap.c)
 * unless some segment holds the whole span on such RAM already, then the
 * segment of h whose span would reuse the most of it (dirty_fit), or a
 * warm segment of the pool; failing those, the free RAM h holds goes back
 * to the OS (reclaim_before_growth). NULL when the OS refuses memory. */
static struct sbl_segment *span_segment(struct sbl_heap *h, unsigned room, unsigned k)
{
    uint64_t fit = h->run_mask & ~(((uint64_t)1 << room) - 1); /* bins >= room */
    struct sbl_segment *s = fit ? h->runs[__builtin_ctzll(fit)] : NULL;
    unsigned tier;
    if (s != NULL && held_starts(s, room, k, &tier) != 0 && tier == 3)
        return s;
    unsigned d_tier;
    struct sbl_segment *d = dirty_fit(h, room, k, &d_tier);
    if (d_tier < 3 && sbl_heap_retained_expire(h, true)) /* their slices first (heap.c) */
        return span_segment(h, room, k);                 /* (once: none is left empty) */
    if (d == NULL && atomic_load_explicit(&pool_deadline, memory_order_relaxed) != 0)
        return segment_alloc(h); /* (takes the newest warm one) */
    if (d == NULL && sbl_heap_drop_large_kept(h)) {
        /* the release may have sent a segment of h to the pool (s among
           them): the best fit is looked up again */
        fit = h->run_mask & ~(((uint64_t)1 << room) - 1);
        s = fit ? h->runs[__builtin_ctzll(fit)] : NULL;
        d = dirty_fit(h, room, k, &d_tier);
    }
    if (d != NULL)
        return d;
    reclaim_before_growth(h);
    return s != NULL ? s : segment_alloc(h);
}

#define RELEASE_SLICES 16 /* 1 MiB: see sbl_huge_release_idle */

/* ---- big blocks mapped in at once ----
 * A block of POPULATE_MIN or more that a new page places on slices holding
 * no RAM faults its pages in one by one as the program writes them: a page
 * fault each, costly on virtual machines. While the heap's big blocks are
 * written whole, the new page's block is mapped in with one system call
 * instead (sbl_os_populate). Whether they are is sampled: one fresh big
 * page in SAMPLE_EVERY (the first one while the answer is no) is left to
 * fault in as it is used, and when it is released, mincore tells whether
 * the program wrote at least 7/8 of its block. A program that writes a
 * few bytes of its big blocks keeps the page-by-page way, and pays nothing
 * for the samples but one mincore per SAMPLE_EVERY fresh big pages.
 * calloc's blocks are left to fault in: a program may calloc a big table
 * and write little of it, and calloc has nothing to write there. */
#define POPULATE_MIN ((size_t)256 << 10)
#define SAMPLE_EVERY 8

__thread bool sbl_calloc_lazy __attribute__((tls_model("initial-exec")));

/* what becomes of a fresh big page: left to fault in as it is used (the
   sample, or while the answer is no), or mapped in at once */
enum populate_plan { POP_NONE, POP_SAMPLE, POP_NOW, POP_DONE };

static enum populate_plan populate_plan(struct sbl_heap *h)
{
    if (h->populate_sample == NULL && (!h->populate || ++h->populate_tick % SAMPLE_EVERY == 0))
        return POP_SAMPLE;
    return h->populate ? POP_NOW : POP_NONE;
}

static void populate_fresh(struct sbl_heap *h, struct sbl_page *pg, enum populate_plan plan)
{
    if (plan == POP_SAMPLE)
        h->populate_sample = pg; /* faults in as it is used */
    else if (plan == POP_NOW)
        sbl_os_populate(sbl_page_first(pg), pg->block_size + sbl_page_colour(pg) % SBL_OS_PAGE);
}

/* ---- big blocks on huge pages ----
 * Mapped in at once, a block of 1 MiB still costs 256 page faults' work
 * in the kernel (allocating, clearing and mapping each 4 KiB page); one
 * transparent huge page costs about a third of that for 2 MiB. So while
 * the heap maps its big blocks in at once (above), a fresh page of a class
 * of THP_MIN or more has a span of exactly its block (no slice of slack
 * for a colour) and goes, when it would take slices that hold no RAM, to
 * the second half of a segment whose second half is all free and holds no
 * RAM (the first half holds the segment's header): that half, aligned to
 * SBL_HUGE_PAGE, is mapped in whole as one huge page
 * (sbl_os_populate_huge). The slices of the half that the page does not
 * take stay free, holding RAM: the next big page takes them (a second
 * block of 1 MiB fits there whole), or their purge delay gives them back
 * like any others. Where the kernel has no huge page to give, the page is
 * mapped in as before. */
#define THP_MIN ((size_t)1 << 20)
#define THP_FIRST (SBL_SLICES / 2)           /* the first slice of the second half */
#define THP_HALF (~(uint64_t)0 << THP_FIRST) /* its slices */
_Static_assert(THP_FIRST *SBL_SLICE_SIZE == SBL_HUGE_PAGE, "a segment's half is a huge page");

static inline bool thp_half_fresh(const struct sbl_segment *s)
{
    return ((s->free_map & ~s->dirty_map) & THP_HALF) == THP_HALF;
}

/* s when its second half is free and holds no RAM, else the first such
   segment of h (a bounded look), else NULL */
static struct sbl_segment *thp_segment(struct sbl_heap *h, struct sbl_segment *s)
{
    if (thp_half_fresh(s))
        return s;
    unsigned seen = 0;
    for (struct sbl_segment *t = h->segments; t != NULL && seen < DIRTY_SCAN_MAX;
         t = t->next, seen++)
        if (thp_half_fresh(t))
            return t;
    return NULL;
}

/* Maps the second half of s in as one huge page, page pg's span among its
   slices; the half's other slices then hold RAM, free. false when the
   kernel did not map it (pg's block then faults in as before). */
static bool thp_populate(struct sbl_heap *h, struct sbl_segment *s)
{
    if (!sbl_os_populate_huge((uint8_t *)s + SBL_HUGE_PAGE))
        return false;
    uint64_t rest = THP_HALF & s->free_map;
    int64_t c0 = seg_commit(s);
    s->purged_map &= ~rest;
    s->dirty_map |= rest;
    h->fresh_since_kept += (uint32_t)__builtin_popcountll(rest); /* fresh RAM, as the page's own */
    sbl_stat_committed(seg_commit(s) - c0);
    if (rest != 0)
        schedule_purge(h, s);
    return true;
}

static void populate_learn(struct sbl_heap *h, struct sbl_page *pg)
{
    h->populate_sample = NULL;
    size_t pages = pg->block_size / SBL_OS_PAGE, in = 0;
    unsigned char vec[512]; /* the block's pages, 2 MiB at most */
    if (pages > sizeof vec || !sbl_os_resident(sbl_page_first(pg), pages * SBL_OS_PAGE, vec))
        return;
    for (size_t i = 0; i < pages; i++)
        in += vec[i] & 1;
    h->populate = in * 8 >= pages * 7;
}

/* ---- colour ----
 * Spans start on 64 KiB boundaries, so the first bytes of every big block
 * would fall in the same few sets of each cache (a 512 KiB 8-way L2 has
 * one set for all the lines 64 KiB apart): a program that reads the
 * headers of many big blocks would hold 8 of them at a time. The pages of
 * the big classes (sbl_class_coloured: a slice of slack, size_class.c)
 * start their block 0 to 63 cache lines into their first OS page, the
 * next colour at each new page, so that those lines spread over 64 sets of
 * each cache rather than one. Within the first page: the page a program
 * touches first stays the one that held RAM before. Not in slow mode
 * (secure mode zeroes a big block and gives its pages back from its start
 * on: secure.c). Blocks that realloc places to grow are not coloured
 * (realloc.c), nor those of alignments above 64 bytes (aligned.c). */
#define COLOUR_ALIGN 64u                 /* a cache line; blocks stay 64-byte aligned */
#define COLOUR_STEP (37u * COLOUR_ALIGN) /* coprime with the 64 colours: all of them in turn */

/* The same, at the start of a run of at least `room` free slices (room >=
 * the class's span, < SBL_SLICES): a block that is likely to grow (realloc)
 * then grows in place into the rest of the run. */
struct sbl_page *sbl_page_new_room(struct sbl_heap *h, unsigned cls, unsigned room)
{
    unsigned k = sbl_class_slices[cls];
    size_t bs = sbl_class_size(cls);
    bool big = bs >= POPULATE_MIN && !sbl_calloc_lazy && !sbl_opt.valgrind;
    bool thp =
        big && room == k && bs >= THP_MIN && h->populate && !sbl_slow_mode() && sbl_os_huge_pages();
    if (thp)
        room = k = (unsigned)(bs >> SBL_SLICE_SHIFT); /* (no colour) */
    maybe_purge(h);
    struct sbl_segment *s = span_segment(h, room, k);
    if (s == NULL)
        return NULL;
    unsigned tier;
    uint64_t d = held_starts(s, room, k, &tier); /* reuse RAM we still hold */
    unsigned idx = d ? (unsigned)__builtin_ctzll(d) : span_colour(s, room, k);
    enum populate_plan plan = POP_NONE;
    bool huge = false;
    if (thp && tier < 2) { /* its slices would fault in */
        struct sbl_segment *t = thp_segment(h, s);
        if (t != NULL && (plan = populate_plan(h)) == POP_NOW) {
            s = t;
            idx = THP_FIRST;
            huge = true;
        }
    }
    uint64_t m = span_mask(idx, k);
    sbl_assert(idx >= 1 && idx + k <= SBL_SLICES && (s->free_map & m) == m);
    sbl_page_zero = (s->dirty_map & m) == 0; /* fresh or purged: reads as zero */
    if (sbl_page_zero && (h->fresh_since_kept += k) >= RELEASE_SLICES &&
        SBL_UNLIKELY(sbl_huge_idle(h)))
        sbl_huge_release_idle(h); /* RAM nobody uses goes as fresh RAM comes (huge.c) */
    if (!sbl_page_zero)
        s->held_map |= (uint64_t)1 << idx;
    took_purged(s, m);
    commit_taking(s, m);
    s->free_map &= ~m;
    s->dirty_map &= ~m;
    if ((s->free_map & s->dirty_map) == 0)
        s->purge_at = 0; /* nothing left to purge */
    seg_rebin(h, s);
    if (huge && thp_populate(h, s))
        plan = POP_DONE;

    struct sbl_page *pg = &sbl_seg_pages(s)[idx];
    pg->free = NULL;
    pg->offset = 0;
    sbl_page_flags_init(pg, sbl_slow_mode() ? SBL_PF_SLOW : 0);
    pg->cls = (uint8_t)cls;
    pg->slices = (uint8_t)k;
    pg->retained = 0;
    pg->turned = 0;
    sbl_page_set_in_use(pg, SBL_PAGE_LIVE);
    pg->used = 0; /* after in_use: see sbl_page_set_in_use */
    pg->block_size = (uint32_t)bs;
    pg->capacity = (uint16_t)(((size_t)k * SBL_SLICE_SIZE) / bs);
    pg->xbytes = pg->capacity <= 1 ? SBL_XBYTES_NONE : k == 1 ? 0 : (uint32_t)bs;
    pg->reserved = 0;
    pg->start = (uint8_t *)s + (size_t)idx * SBL_SLICE_SIZE;
    if (sbl_class_coloured(cls) && k == sbl_class_slices[cls] && !sbl_slow_mode())
        pg->start += (h->colour_next += COLOUR_STEP) & (SBL_OS_PAGE - COLOUR_ALIGN);
    atomic_store_explicit(&pg->xthread_free, SBL_TF_NORMAL, memory_order_relaxed);
    pg->next = pg->prev = NULL;
    sbl_page_tag_set(pg, s->owner_tag); /* now free's fast path may take its blocks */
    for (unsigned i = 1; i < k; i++) {
        pg[i].offset = (uint16_t)(i * sizeof(struct sbl_page));
        sbl_page_flags_init(&pg[i], SBL_PF_INTERIOR);
    }
    if (sbl_page_zero && big)
        populate_fresh(h, pg, plan != POP_NONE ? plan : populate_plan(h));
    seg_assert(s);
    return pg;
}

/* A block of class cls (a one-block class) on a page of its own, at the
 * start of a run of at least `room` free slices: the page is in no queue
 * ("detached"), so the block's free releases it. Its block starts on the
 * span, not coloured. NULL when out of memory. */
void *sbl_page_alone(struct sbl_heap *h, unsigned cls, unsigned room)
{
    struct sbl_page *pg = sbl_page_new_room(h, cls, room);
    if (pg == NULL)
        return NULL;
    pg->start = sbl_span_start(pg); /* (within the page populated, if it was) */
    pg->reserved = 1;
    pg->used = 1;
    sbl_page_flag_set(pg, SBL_PF_DETACHED);
    sbl_page_set_state(pg, SBL_TF_USE_DELAYED);
    return pg->start;
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
    if (SBL_LIKELY(!sbl_slow_mode())) { /* the mode tested once, not per block */
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
void sbl_page_set_state(struct sbl_page *pg, enum sbl_xfree_state state)
{
    uintptr_t tf = atomic_load_explicit(&pg->xthread_free, memory_order_relaxed);
    if (sbl_single_threaded()) { /* no remote free can race: no CAS */
        atomic_store_explicit(&pg->xthread_free, (tf & ~(uintptr_t)SBL_TF_MASK) | state,
                              memory_order_relaxed);
        return;
    }
    for (;;) {
        if ((tf & SBL_TF_MASK) == SBL_TF_FREEING) {
            sbl_os_yield();
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

/* Gives an empty page (already out of every queue) back to its segment;
   its slices hold RAM (held) until their purge delay, or none (the caller
   gave it back). */
static void page_release(struct sbl_heap *h, struct sbl_page *pg, bool held)
{
    struct sbl_segment *s = sbl_segment_of(pg);
    sbl_assert(s->heap == h && pg->offset == 0 && pg->next == NULL && pg->prev == NULL);
    sbl_assert(pg->used == (sbl_page_in_use(pg) == SBL_PAGE_KEPT));
    if (h->large_kept == pg)
        h->large_kept = NULL;
    if (SBL_UNLIKELY(h->populate_sample == pg))
        populate_learn(h, pg);
    sbl_page_set_state(pg, SBL_TF_NEVER);
    unsigned idx = (unsigned)(pg - sbl_seg_pages(s));
    unsigned k = pg->slices;
    sbl_page_set_in_use(pg, SBL_PAGE_FREE);
    pg->free = NULL;
    /* a stray free still takes the slow path */
    sbl_page_flags_init(pg, sbl_slow_mode() ? SBL_PF_SLOW : 0);
    uint64_t m = span_mask(idx, k);
    sbl_assert((s->free_map & m) == 0);
    s->held_map &= ~((uint64_t)1 << idx);
    s->purged_map &= ~m;
    s->free_map |= m;
    if (held) {
        s->dirty_map |= m;
        schedule_purge(h, s);
    } else {
        sbl_stat_committed(-(int64_t)k * (int64_t)SBL_SLICE_SIZE);
    }
    seg_assert(s);
    /* an empty segment stays warm in the heap (a burst of frees followed by
       allocations reuses it) if the heap has no other; else it goes to the
       pool, warm until its purge */
    if (s->free_map == SEG_ALL_FREE && (h->runs[SEG_RUN_EMPTY] != NULL || sbl_os_as_limited()))
        segment_release(h, s);
    else
        seg_rebin(h, s);
    maybe_purge(h);
}

void sbl_page_release(struct sbl_heap *h, struct sbl_page *pg) { page_release(h, pg, true); }

/* The same for an empty page whose RAM has lain idle for a purge delay
   already (heap.c: a retained page that expired): it goes back to the OS
   now, not a delay after the release. */
void sbl_page_release_idle(struct sbl_heap *h, struct sbl_page *pg)
{
    sbl_os_purge(sbl_span_start(pg), (size_t)pg->slices * SBL_SLICE_SIZE);
    page_release(h, pg, false);
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
    unsigned idx = (unsigned)(pg - sbl_seg_pages(s));
    unsigned k = pg->slices;
    if (slices == k)
        return true;
    if (slices > k) {
        if (idx + slices > SBL_SLICES)
            return false;
        uint64_t m = span_mask(idx + k, slices - k);
        if ((s->free_map & m) != m)
            return false;
        if (s->dirty_map & m)
            s->held_map |= (uint64_t)1 << idx;
        took_purged(s, m);
        commit_taking(s, m);
        s->free_map &= ~m;
        s->dirty_map &= ~m;
        if ((s->free_map & s->dirty_map) == 0)
            s->purge_at = 0;
        for (unsigned i = k; i < slices; i++) {
            pg[i].offset = (uint16_t)(i * sizeof(struct sbl_page));
            sbl_page_flags_init(&pg[i], SBL_PF_INTERIOR);
        }
    } else {
        uint64_t m = span_mask(idx + slices, k - slices);
        s->purged_map &= ~m;
        s->free_map |= m;
        s->dirty_map |= m; /* its RAM goes back after the purge delay (still committed) */
        schedule_purge(h, s);
    }
    seg_rebin(h, s);
    pg->slices = (uint8_t)slices;
    seg_assert(s);
    return true;
}

/* ---- the registry: which 4 MiB chunks of the address space are sable's ----
 * One byte per chunk of the 47-bit user address space (32 MiB of address
 * space, MAP_NORESERVE: RAM only where segments are): 1 at a segment's
 * base, 2 on the further chunks of a huge mapping. It lets sable_free_range
 * tell its own pointers from foreign ones without touching them. */
#define REG_CHUNKS SBL_REG_CHUNKS

uint8_t *sbl_registry;

void sbl_registry_init(void) { sbl_registry = sbl_os_map_sparse(REG_CHUNKS); }

void sbl_registry_mark(const void *base, size_t size, bool on)
{
    if (SBL_UNLIKELY(sbl_opt.valgrind)) /* every header is mapped and unmapped here */
        sbl_vg_header((void *)base, on);
    uintptr_t c = (uintptr_t)base >> SBL_SEG_SHIFT;
    size_t k = (size + SBL_SEG_SIZE - 1) >> SBL_SEG_SHIFT;
    if (sbl_registry == NULL || c + k > REG_CHUNKS)
        return;
    __atomic_store_n(&sbl_registry[c], (uint8_t)(on ? 1 : 0), __ATOMIC_RELEASE);
    for (size_t i = 1; i < k; i++)
        __atomic_store_n(&sbl_registry[c + i], (uint8_t)(on ? 2 : 0), __ATOMIC_RELEASE);
}

/* whether s's chunk is marked as a segment's base (always, once the
   registry is mapped: mark and unmark go with map and unmap) */
static inline bool registry_marked(const struct sbl_segment *s)
{
    uintptr_t c = (uintptr_t)s >> SBL_SEG_SHIFT;
    return sbl_registry == NULL || c >= REG_CHUNKS ||
           __atomic_load_n(&sbl_registry[c], __ATOMIC_RELAXED) == 1;
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

/* ---- checking (tests) ---- */

/* NULL when h's segment list and run bins keep their invariants, else what
   is wrong. */
const char *sbl_segments_check(const struct sbl_heap *h)
{
    uint64_t seen = 0;
    unsigned with_free = 0, binned = 0, empty = 0;
    for (const struct sbl_segment *s = h->segments; s; s = s->next) {
        if (s->heap != h || s->kind != SBL_SEG_NORMAL)
            return "a segment on the heap's list is not the heap's";
        if (s->free_map & 1)
            return "slice 0 (the header) is marked free";
        if (s->dirty_map & ~s->free_map)
            return "a slice in use is marked dirty";
        if (s->held_map & s->free_map)
            return "a free slice is marked as a page that took held RAM";
        if (((s->free_map & s->dirty_map) != 0) != (s->purge_at != 0))
            return "a segment's purge deadline does not match its dirty free slices";
        if (!registry_marked(s))
            return "a segment's registry byte is not set";
        if (s->run != longest_run(s->free_map))
            return "a segment's run is not its longest run of free slices";
        if ((s->run == 0) != (s->free_map == 0))
            return "a segment with free slices is in no bin";
        with_free += s->run != 0;
        empty += s->free_map == SEG_ALL_FREE;
        if (s->run)
            seen |= (uint64_t)1 << s->run;
    }
    if (empty > 1)
        return "the heap keeps more than one empty segment";
    for (unsigned r = 0; r < SBL_SLICES; r++) {
        const struct sbl_segment *prev = NULL;
        for (const struct sbl_segment *s = h->runs[r]; s; prev = s, s = s->bin_next) {
            if (r == 0 || s->run != r || s->bin_prev != prev)
                return "a segment is in the wrong run bin, or the bin's links are broken";
            binned++;
        }
    }
    if (seen != h->run_mask)
        return "run_mask does not match the non-empty bins";
    if (binned != with_free)
        return "a bin holds a segment that is not on the heap's list, or one twice";
    return NULL;
}
