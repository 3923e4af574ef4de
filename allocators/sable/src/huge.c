/* huge.c: blocks above SBL_LARGE_MAX (and alignments the pages cannot
 * give), each in its own mapping laid out like a segment, so that the one
 * mask of free() finds its header:
 *
 *   base (4 MiB aligned) | header | block at base + off | reserve
 *
 * off is in [SBL_HUGE_HDR, 4 MiB]: the block is placed on its alignment
 * first and the base is the 4 MiB boundary below it (for off <= 64 KiB the
 * header is pages[0]; above, pages[off >> 16] points back to pages[0], which
 * carries SBL_PF_HUGE). The header and the block are mapped read-write and
 * charged (os.c), so a request the kernel's overcommit policy or limits
 * refuse fails here; the reserve after the block is address space only
 * (PROT_NONE, not charged), committed with mprotect as the block grows into
 * it (one system call, which may fail cleanly), and a block shrinks in
 * place by handing its tail back with MADV_DONTNEED (after the purge delay
 * when realloc shrinks it: see the held tails below). Beyond the reserve,
 * mremap grows it in place when the address space after it is free, or
 * moves its pages to a new range; the bytes are never copied. */
#include "internal.h"

/* where the block may start at the earliest: after the header's pages,
   every window included (the window depends on the base, which mremap may
   change), so that no byte of a block shares a page with the header: the
   pages secure mode keeps of a freed block (QUARANTINE_KEEP) hold none */
#define SBL_HUGE_HDR ((sizeof(struct sbl_segment) + SBL_OS_PAGE - 1) & ~(SBL_OS_PAGE - 1))
#define RESERVE_MAX ((size_t)1 << 30)

static size_t page_round(size_t n) { return (n + SBL_OS_PAGE - 1) & ~(SBL_OS_PAGE - 1); }

/* the address space kept after a block of `used` bytes: seven times its
   size up to 1 GiB (address space only: PROT_NONE, no RAM, no commit
   charge), so that three doublings in a row stay in place */
static size_t reserve_for(size_t used)
{
    if (sbl_os_as_limited()) /* see os.c */
        return 0;
    return used > RESERVE_MAX / 7 ? RESERVE_MAX : page_round(used * 7);
}

static void huge_init(uint8_t *base, size_t off, size_t n, size_t map_size)
{
    struct sbl_segment *s = (struct sbl_segment *)base;
    s->heap = NULL;
    s->owner_tag = 0;
    s->kind = SBL_SEG_HUGE;
    s->map_size = map_size;
    s->huge_offset = off;
    s->huge_size = page_round(off + (n == 0 ? 1 : n)) - off;
    s->huge_held = off + s->huge_size;
    s->free_map = s->dirty_map = s->purge_at = 0;
    struct sbl_page *pg = sbl_seg_pages(s);
    memset(pg, 0, sizeof *pg);
    sbl_page_flags_init(pg, SBL_PF_HUGE);
    pg->used = 1;
    sbl_page_set_in_use(pg, SBL_PAGE_LIVE);
    pg->start = base + off;
    unsigned idx = (unsigned)(off >> SBL_SLICE_SHIFT);
    if (idx > 0)
        pg[idx].offset = (uint16_t)(idx * sizeof(struct sbl_page));
}

/* Places a block of n bytes on a multiple of `align` (any value >= 16). */
static void *huge_map(size_t n, size_t align, size_t reserve)
{
    /* the block's offset from its base must be in [HDR, SEG]: try the
       multiples of align after a window start until one is; with a
       residue step d = align % SEG the number of tries is bounded */
    size_t d = align % SBL_SEG_SIZE;
    size_t tries = (d == 0 || d >= SBL_HUGE_HDR) ? 3 : SBL_HUGE_HDR / d + 3;
    size_t body = page_round(n == 0 ? 1 : n);
    size_t span;
    if (__builtin_mul_overflow(tries, align, &span) ||
        __builtin_add_overflow(span, 2 * SBL_SEG_SIZE + body + reserve, &span))
        return NULL;
    uint8_t *raw = sbl_os_reserve(span);
    if (raw == NULL)
        return NULL;
    uintptr_t lo = (uintptr_t)raw + SBL_SEG_SIZE;
    uintptr_t b = (lo + align - 1) / align * align;
    if ((align & (align - 1)) == 0 && align <= SBL_SEG_SIZE) {
        /* a power of two up to 4 MiB: base on the first 4 MiB boundary,
           the block right after the header, off = max(align, 64 KiB) */
        uintptr_t base = ((uintptr_t)raw + SBL_SEG_MASK) & ~(uintptr_t)SBL_SEG_MASK;
        b = base + (align < SBL_SLICE_SIZE ? SBL_SLICE_SIZE : align);
    }
    for (size_t i = 0; i < tries; i++, b += align) {
        uintptr_t base = (b - 1) & ~(uintptr_t)SBL_SEG_MASK;
        size_t off = b - base;
        if (off < SBL_HUGE_HDR)
            continue;
        size_t map = page_round(off + body) + reserve;
        if (base + map > (uintptr_t)raw + span)
            break;
        sbl_os_unmap(raw, base - (uintptr_t)raw);
        sbl_os_unmap((uint8_t *)base + map, (uintptr_t)raw + span - (base + map));
        if (!sbl_os_commit((void *)base, page_round(off + body))) {
            sbl_os_unmap((void *)base, map);
            return NULL;
        }
        huge_init((uint8_t *)base, off, n, map);
        sbl_registry_mark((void *)base, map, true);
        sbl_stat_committed((int64_t)(off + ((struct sbl_segment *)base)->huge_size));
        return (void *)b;
    }
    sbl_os_unmap(raw, span);
    return NULL;
}

/* ---- the cache of freed huge mappings ----
 * A freed huge block (the usual layout, off = 64 KiB) keeps its mapping,
 * still written but without its reserve, for SABLE_PURGE_DELAY: a program
 * that frees and allocates big buffers in a loop does not map and
 * page-fault them again each time. Each thread keeps the last one it freed
 * (below), when it holds at most HUGE_KEEP_MAX: a block of 64 MiB and its
 * header slice, twice the largest mmap threshold glibc's dynamic one
 * reaches (a bigger block is unmapped at once). The cache holds the
 * others, at most 8 mappings and 32 MiB with the freeing thread's kept one
 * counted in, the oldest goes first. Expired ones are unmapped at the next
 * slow-path events (sbl_segments_maybe_purge), all of them on sable_purge()
 * or when memory runs out. */
#define HCACHE_N 8
#define HCACHE_MAX_BYTES ((size_t)32 << 20)
#define HUGE_KEEP_MAX (((size_t)64 << 20) + SBL_SLICE_SIZE)

static sbl_lock_t hcache_lock;
static struct {
    struct sbl_segment *s;
    uint64_t at; /* ms: freed at */
} hcache[HCACHE_N];
static unsigned hcache_n;
static size_t hcache_bytes;

/* __thread: whether this thread's last sbl_huge_alloc reused a mapping
   (its bytes are not zero) */
__thread bool sbl_huge_reused __attribute__((tls_model("initial-exec")));
/* __thread: set by realloc while it moves a block that grows into a huge
   one (see huge_reuse) */
__thread bool sbl_huge_growing __attribute__((tls_model("initial-exec")));

static void hcache_unmap(struct sbl_segment *s)
{
    sbl_stat_committed(-(int64_t)s->huge_held);
    sbl_registry_mark(s, s->map_size, false);
    sbl_os_unmap(s, s->map_size);
}

/* ---- the held tails of shrunk blocks ----
 * A huge block that realloc shrinks in place keeps its tail's pages held
 * (written, counted as committed) for SABLE_PURGE_DELAY, as a freed
 * mapping is kept: a buffer shrunk step by step and then freed leaves a
 * whole mapping to keep, that the next big malloc reuses without page
 * faults, and one that grows again grows into pages already there. The
 * shrunk blocks are listed here, at most SHRUNK_N with HUGE_KEEP_MAX bytes
 * of tails in all; one that does not fit, or whose mapping could not be
 * kept (huge_keepable), or any in secure mode (freed memory reads as zero),
 * gives its tail back at once. Expired tails go back at the slow-path
 * events of any thread, as the kept mappings do, under the lock: a block's
 * own calls (free, realloc, from any thread) take it off the list under
 * the lock before they touch its header (shrunk_take), so that the two
 * never meet. A listed block's purge_at (unused in a huge header
 * otherwise) is its deadline, 0 when it is not listed. */
#define SHRUNK_N 8

static sbl_lock_t shrunk_lock;
static struct {
    struct sbl_segment *s;
    size_t tail; /* bytes held after the block, as listed */
} shrunk[SHRUNK_N];
static unsigned shrunk_n;
static size_t shrunk_bytes;
static _Atomic uint64_t shrunk_due; /* ms: the earliest deadline; 0: none listed */

/* gives the held pages after s's block back */
static void tail_release(struct sbl_segment *s)
{
    size_t end = s->huge_offset + s->huge_size;
    if (s->huge_held > end) {
        sbl_os_purge((uint8_t *)s + end, s->huge_held - end);
        sbl_stat_committed(-(int64_t)(s->huge_held - end));
        s->huge_held = end;
    }
}

/* gives the expired tails back (all with force) and sets shrunk_due for
   the others; call with the lock held */
static void shrunk_expire_locked(uint64_t now, bool force)
{
    uint64_t next = 0;
    for (unsigned i = 0; i < shrunk_n;) {
        struct sbl_segment *s = shrunk[i].s;
        uint64_t due = s->purge_at;
        if (force || now >= due) {
            if (!force)
                sbl_purge_note_purge(now, due);
            tail_release(s);
            __atomic_store_n(&s->purge_at, 0, __ATOMIC_RELEASE); /* see shrunk_take */
            shrunk_bytes -= shrunk[i].tail;
            shrunk[i] = shrunk[--shrunk_n];
        } else {
            if (next == 0 || due < next)
                next = due;
            i++;
        }
    }
    atomic_store_explicit(&shrunk_due, next, memory_order_relaxed);
}

/* Takes s off the list when it is listed (its tail stays held); whether it
   was. Called by whoever is about to touch s's header. */
static inline bool shrunk_take(struct sbl_segment *s)
{
    /* 0 read here: s is not listed, and an expiry that gave its tail back
       did so before (release/acquire); only s's own calls list it */
    if (SBL_LIKELY(__atomic_load_n(&s->purge_at, __ATOMIC_ACQUIRE) == 0))
        return false;
    bool was = false;
    sbl_lock(&shrunk_lock);
    for (unsigned i = 0; i < shrunk_n; i++) {
        if (shrunk[i].s == s) {
            shrunk_bytes -= shrunk[i].tail;
            shrunk[i] = shrunk[--shrunk_n];
            was = true;
            break;
        }
    }
    __atomic_store_n(&s->purge_at, 0, __ATOMIC_RELAXED);
    sbl_unlock(&shrunk_lock);
    return was;
}

static inline __attribute__((always_inline)) bool huge_keepable(const struct sbl_segment *s);

/* s's block has just shrunk (s not listed): its held tail is listed with a
   deadline, or given back now (see above). */
static void shrunk_put(struct sbl_segment *s)
{
    size_t tail = s->huge_held - (s->huge_offset + s->huge_size);
    if (tail == 0)
        return;
    if (sbl_opt.secure || !huge_keepable(s)) {
        tail_release(s);
        return;
    }
    uint64_t now = sbl_clock_ms();
    bool listed = false;
    sbl_lock(&shrunk_lock);
    if (shrunk_n > 0 && now >= atomic_load_explicit(&shrunk_due, memory_order_relaxed))
        shrunk_expire_locked(now, false);
    if (shrunk_n < SHRUNK_N && shrunk_bytes + tail <= HUGE_KEEP_MAX) {
        uint64_t due = now + sbl_purge_delay();
        shrunk[shrunk_n].s = s;
        shrunk[shrunk_n].tail = tail;
        shrunk_n++;
        shrunk_bytes += tail;
        __atomic_store_n(&s->purge_at, due, __ATOMIC_RELAXED);
        uint64_t cur = atomic_load_explicit(&shrunk_due, memory_order_relaxed);
        if (cur == 0 || due < cur)
            atomic_store_explicit(&shrunk_due, due, memory_order_relaxed);
        listed = true;
    }
    sbl_unlock(&shrunk_lock);
    if (!listed)
        tail_release(s);
}

/* ---- the mapping each thread keeps ----
 * The huge block a thread freed last stays in its heap (huge_kept) for its
 * next huge malloc: no lock, no clock read and no shared cache line
 * written, so that threads freeing and allocating big buffers in loops do
 * not wait on each other (nor, in a process of one thread, on an atomic
 * exchange). The one it displaces goes to the
 * process-wide cache. It expires like the cache's entries, the delay after
 * its free (as sbl_clock_ms_last tells it: the clock as last read by any
 * thread, at most a few slow-path events old): any thread's slow-path
 * events walk the heaps once `kept_due`, the earliest deadline a kept
 * mapping may have, has passed. Whoever exchanges a heap's huge_kept out
 * owns what it got. */
static _Atomic uint64_t kept_due; /* ms; 0: nothing to look at */

/* Sets h's kept mapping to s, returning the previous one; the atomic
   exchange only while another thread may take it (kept_expire). */
static inline struct sbl_segment *kept_exchange(struct sbl_heap *h, struct sbl_segment *s)
{
    if (sbl_single_threaded()) {
        struct sbl_segment *old = atomic_load_explicit(&h->huge_kept, memory_order_relaxed);
        atomic_store_explicit(&h->huge_kept, s, memory_order_relaxed);
        return old;
    }
    return atomic_exchange(&h->huge_kept, s);
}

/* Unmaps the kept mappings whose delay has passed (all with force) and
   sets kept_due for the others. */
static void kept_expire(uint64_t now, bool force)
{
    /* kept_due is cleared before the heaps are read: a mapping kept
       meanwhile is either seen below or sets kept_due again (sbl_huge_free) */
    atomic_store(&kept_due, 0);
    uint64_t next = 0;
    for (struct sbl_heap *h = sbl_heap_first(); h != NULL; h = h->next_all) {
        if (atomic_load(&h->huge_kept) == NULL)
            continue;
        uint64_t due =
            atomic_load_explicit(&h->huge_kept_at, memory_order_relaxed) + sbl_purge_delay();
        if (force || now >= due) {
            struct sbl_segment *s = atomic_exchange(&h->huge_kept, NULL);
            if (s != NULL)
                hcache_unmap(s);
            if (!force)
                sbl_purge_note_purge(now, due);
        } else if (next == 0 || due < next) {
            next = due;
        }
    }
    uint64_t cur = atomic_load(&kept_due);
    while (next != 0 && (cur == 0 || next < cur) &&
           !atomic_compare_exchange_weak(&kept_due, &cur, next))
        ;
}

/* removes the expired entries (all with force); call with the lock held,
   unmaps into out[] for after the unlock */
static unsigned hcache_expire(uint64_t now, bool force, struct sbl_segment **out)
{
    unsigned k = 0, j = 0;
    for (unsigned i = 0; i < hcache_n; i++) {
        if (force || now >= hcache[i].at + sbl_purge_delay()) {
            if (!force)
                sbl_purge_note_purge(now, hcache[i].at + sbl_purge_delay());
            out[k++] = hcache[i].s;
            hcache_bytes -= hcache[i].s->map_size;
        } else {
            hcache[j++] = hcache[i];
        }
    }
    __atomic_store_n(&hcache_n, j, __ATOMIC_RELAXED); /* read unlocked */
    return k;
}

/* the expired entries go (every few slow-path events of any thread) */
void sbl_huge_cache_expire(void)
{
    uint64_t due = atomic_load_explicit(&kept_due, memory_order_relaxed);
    bool cached = __atomic_load_n(&hcache_n, __ATOMIC_RELAXED) != 0;
    uint64_t tails = atomic_load_explicit(&shrunk_due, memory_order_relaxed);
    if (due == 0 && !cached && tails == 0)
        return;
    uint64_t now = sbl_clock_ms(); /* once: a clock read is not free */
    if (tails != 0 && now >= tails) {
        sbl_lock(&shrunk_lock);
        shrunk_expire_locked(now, false);
        sbl_unlock(&shrunk_lock);
    }
    if (due != 0) {
        if (now >= due)
            kept_expire(now, false);
        sbl_os_as_limited_at(now); /* refreshes sbl_os_as_limited_last for sbl_huge_free */
    }
    if (!cached)
        return;
    struct sbl_segment *out[HCACHE_N];
    sbl_lock(&hcache_lock);
    unsigned k = hcache_expire(now, false, out);
    sbl_unlock(&hcache_lock);
    for (unsigned i = 0; i < k; i++)
        hcache_unmap(out[i]);
}

/* every cached mapping goes */
static void hcache_flush(void)
{
    struct sbl_segment *out[HCACHE_N];
    sbl_lock(&hcache_lock);
    unsigned k = hcache_expire(0, true, out);
    hcache_bytes = 0;
    sbl_unlock(&hcache_lock);
    for (unsigned i = 0; i < k; i++)
        hcache_unmap(out[i]);
}

void sbl_huge_cache_flush(void)
{
    sbl_lock(&shrunk_lock);
    shrunk_expire_locked(0, true);
    sbl_unlock(&shrunk_lock);
    kept_expire(0, true);
    hcache_flush();
}

/* Once h has taken 1 MiB of slices that hold no RAM since it last kept a
   mapping (segment.c): the mapping the calling thread keeps and the cached
   ones hold RAM nobody uses, as a program that freed a big buffer and now
   builds smaller things holds it; they go back now rather than after the
   delay, so that the peak does not hold both. (A page or two of fresh RAM,
   as a program's bookkeeping between two uses of a big buffer takes, lets
   them stay.) Whether there is any, then the release. */
bool sbl_huge_idle(const struct sbl_heap *h)
{
    return atomic_load_explicit(&h->huge_kept, memory_order_relaxed) != NULL ||
           __atomic_load_n(&hcache_n, __ATOMIC_RELAXED) != 0;
}

void sbl_huge_release_idle(struct sbl_heap *h)
{
    struct sbl_segment *s = kept_exchange(h, NULL); /* now ours */
    if (s != NULL)
        hcache_unmap(s);
    if (__atomic_load_n(&hcache_n, __ATOMIC_RELAXED) != 0)
        hcache_flush();
}

/* whether a freed block's mapping may be kept for reuse: not under
   Valgrind (memcheck must see fresh mappings) nor under an address-space
   limit (as last read: see sbl_huge_cache_expire); in secure mode too, its
   block zeroed first (sbl_huge_free) */
static inline __attribute__((always_inline)) bool huge_keepable(const struct sbl_segment *s)
{
    size_t used = s->huge_held;
    return !sbl_opt.valgrind && s->huge_offset == SBL_SLICE_SIZE && used <= HUGE_KEEP_MAX &&
           !sbl_os_as_limited_last();
}

/* A freed block's mapping about to be kept: its reserve (address space
   only) goes, the header and the held bytes stay. */
static void huge_keep(struct sbl_segment *s)
{
    size_t used = s->huge_held;
    if (s->map_size > used) {
        sbl_registry_mark(s, s->map_size, false);
        sbl_os_unmap((uint8_t *)s + used, s->map_size - used);
        s->map_size = used;
        sbl_registry_mark(s, used, true);
    }
    s->kind = SBL_SEG_CACHED;
}

/* Puts a kept mapping (huge_keep), freed at `at`, in the cache; the oldest
   entries make room. `beside`: the bytes the calling thread keeps in its
   heap, counted against the same bound (a mapping that does not fit even
   alone is unmapped). */
static void hcache_put(struct sbl_segment *s, uint64_t at, size_t beside)
{
    size_t used = s->map_size;
    struct sbl_segment *out[2 * HCACHE_N + 2];
    uint64_t now = sbl_clock_ms();
    sbl_lock(&hcache_lock);
    unsigned k = hcache_expire(now, false, out);
    while (hcache_n == HCACHE_N ||
           (hcache_n > 0 && hcache_bytes + used + beside > HCACHE_MAX_BYTES)) {
        out[k++] = hcache[0].s; /* the oldest goes */
        hcache_bytes -= hcache[0].s->map_size;
        memmove(&hcache[0], &hcache[1], (hcache_n - 1) * sizeof hcache[0]);
        __atomic_store_n(&hcache_n, hcache_n - 1, __ATOMIC_RELAXED);
    }
    if (used + beside > HCACHE_MAX_BYTES) {
        out[k++] = s;
    } else {
        hcache[hcache_n].s = s;
        hcache[hcache_n].at = at;
        __atomic_store_n(&hcache_n, hcache_n + 1, __ATOMIC_RELAXED);
        hcache_bytes += used;
    }
    sbl_unlock(&hcache_lock);
    for (unsigned i = 0; i < k; i++)
        hcache_unmap(out[i]);
}

/* A kept mapping becomes a block of n bytes again (it holds n). The
   header is as huge_init left it: a kept block's free changes only kind
   and map_size, a partial free may have set a flag. The written tail beyond
   the new block goes back, unless the block is one that grows
   (sbl_huge_growing): it then grows into those pages without a system call
   or a page fault, as it would into its reserve. They stay held while the
   block lives (at most HUGE_KEEP_MAX: a kept mapping is no larger), and
   go back when it shrinks, or with the mapping it becomes again when it is
   freed. */
static inline void *huge_reuse(struct sbl_segment *s, size_t n)
{
    size_t end = page_round(SBL_SLICE_SIZE + (n == 0 ? 1 : n));
    size_t held = s->huge_held; /* >= end: the mapping holds n */
    if (SBL_UNLIKELY(held > end && !sbl_huge_growing)) {
        sbl_os_purge((uint8_t *)s + end, held - end);
        sbl_stat_committed(-(int64_t)(held - end));
        s->huge_held = end;
    }
    s->huge_size = end - SBL_SLICE_SIZE;
    struct sbl_page *head = sbl_seg_pages(s);
    if (SBL_UNLIKELY(sbl_page_flags(head) != SBL_PF_HUGE))
        sbl_page_flags_init(head, SBL_PF_HUGE);
    s->kind = SBL_SEG_HUGE;
    return (uint8_t *)s + SBL_SLICE_SIZE;
}

/* The calling thread's kept mapping as a block of n bytes, or NULL; one
   too small goes to the cache. */
static void *kept_get(struct sbl_heap *h, size_t n)
{
    if (atomic_load_explicit(&h->huge_kept, memory_order_relaxed) == NULL)
        return NULL;
    struct sbl_segment *s = kept_exchange(h, NULL);
    if (s == NULL)
        return NULL;
    if (s->map_size >= page_round(SBL_SLICE_SIZE + (n == 0 ? 1 : n)))
        return huge_reuse(s, n);
    hcache_put(s, sbl_clock_ms(), 0);
    return NULL;
}

/* For a block that grows (realloc): the calling thread's kept mapping, when
   it holds n bytes, as a block of n with the mapping's written pages after
   it to grow into; NULL when there is none. */
void *sbl_huge_take_kept(size_t n)
{
    struct sbl_heap *h = sbl_tls_heap;
    if (atomic_load_explicit(&h->huge_kept, memory_order_relaxed) == NULL)
        return NULL;
    sbl_huge_growing = true;
    void *p = kept_get(h, n);
    sbl_huge_growing = false;
    return p;
}

/* malloc of n > SBL_LARGE_MAX (sbl_malloc_inline): h's kept mapping as a
   block of n bytes when it holds just the pages of n (nothing in its header
   to change but size, kind and flags, no system call, no statistics), with
   the slow path's purge tick (as sbl_segments_maybe_purge counts) and
   nothing else of it; any other case takes the slow path. */
void *sbl_huge_kept_alloc(struct sbl_heap *h, size_t n)
{
    if (SBL_LIKELY(atomic_load_explicit(&h->huge_kept, memory_order_relaxed) != NULL &&
                   n <= SBL_MAX_REQUEST && sbl_opt.mode == SBL_MODE_NORMAL &&
                   sbl_xb_pending == 0)) {
        size_t end = page_round(SBL_SLICE_SIZE + n);
        struct sbl_segment *s = kept_exchange(h, NULL); /* now ours */
        if (SBL_LIKELY(s != NULL && s->huge_held == end && (h->purge_tick & 7) != 7)) {
            h->purge_tick++;
            s->huge_size = end - SBL_SLICE_SIZE; /* (it may have held pages after it) */
            struct sbl_page *head = sbl_seg_pages(s);
            if (SBL_UNLIKELY(sbl_page_flags(head) != SBL_PF_HUGE))
                sbl_page_flags_init(head, SBL_PF_HUGE); /* a partial free's flag */
            s->kind = SBL_SEG_HUGE;
            sbl_huge_reused = true;
            return (uint8_t *)s + SBL_SLICE_SIZE;
        }
        if (s != NULL) /* back in its slot (only this thread fills it) */
            kept_exchange(h, s);
    }
    return sbl_alloc_generic(n, h);
}

/* A thread that exits hands its kept mapping to the cache. */
void sbl_huge_kept_drop(struct sbl_heap *h)
{
    struct sbl_segment *s = atomic_exchange(&h->huge_kept, NULL);
    if (s != NULL)
        hcache_put(s, sbl_clock_ms(), 0);
}

/* a cached mapping that holds n bytes, the most recently freed first */
static void *hcache_get(size_t n)
{
    size_t end = page_round(SBL_SLICE_SIZE + (n == 0 ? 1 : n));
    struct sbl_segment *s = NULL;
    sbl_lock(&hcache_lock);
    for (unsigned i = hcache_n; i-- > 0;) {
        if (hcache[i].s->map_size >= end) {
            s = hcache[i].s;
            hcache_bytes -= s->map_size;
            memmove(&hcache[i], &hcache[i + 1], (hcache_n - i - 1) * sizeof hcache[0]);
            __atomic_store_n(&hcache_n, hcache_n - 1, __ATOMIC_RELAXED);
            break;
        }
    }
    sbl_unlock(&hcache_lock);
    return s == NULL ? NULL : huge_reuse(s, n);
}

void *sbl_huge_alloc(size_t n, size_t align)
{
    if (n > SBL_MAX_REQUEST) {
        errno = ENOMEM;
        return NULL;
    }
    if (align < SBL_SLICE_SIZE && (align & (align - 1)) == 0)
        align = SBL_SLICE_SIZE; /* the usual case: one slice of header */
    sbl_huge_reused = false;
    if (align == SBL_SLICE_SIZE) {
        void *c = kept_get(sbl_tls_heap, n);
        if (c == NULL && __atomic_load_n(&hcache_n, __ATOMIC_RELAXED) > 0)
            c = hcache_get(n);
        if (c != NULL) {
            sbl_huge_reused = true;
            return c;
        }
        sbl_purge_note_miss(sbl_clock_ms()); /* was a mapping unmapped too soon? */
    }
    void *p = huge_map(n, align, reserve_for(n));
    unsigned attempt = 0;
    while (p == NULL) { /* without the reserve, after giving memory back */
        if (!sbl_oom_retry(n, &attempt)) {
            errno = ENOMEM;
            return NULL;
        }
        p = huge_map(n, align, 0);
    }
    return p;
}

/* Secure mode keeps the header pages of the last freed huge blocks that
 * are unmapped (those the cache does not keep: see huge_keepable), so that
 * a second free of one finds it (instead of faulting on an unmapped
 * header) and is reported. */
#define QUARANTINE 64
#define QUARANTINE_KEEP SBL_HUGE_HDR /* the header's pages, all windows */

static sbl_lock_t quarantine_lock;
static struct sbl_segment *quarantine[QUARANTINE];
static unsigned quarantine_next;

static void huge_quarantine(struct sbl_segment *s)
{
    sbl_registry_mark(s, s->map_size, false);
    sbl_os_unmap((uint8_t *)s + QUARANTINE_KEEP, s->map_size - QUARANTINE_KEEP);
    s->kind = SBL_SEG_FREED;
    s->map_size = QUARANTINE_KEEP;
    sbl_registry_mark(s, QUARANTINE_KEEP, true);
    sbl_lock(&quarantine_lock);
    struct sbl_segment *old = quarantine[quarantine_next];
    quarantine[quarantine_next] = s;
    quarantine_next = (quarantine_next + 1) % QUARANTINE;
    sbl_unlock(&quarantine_lock);
    if (old != NULL) {
        sbl_registry_mark(old, QUARANTINE_KEEP, false);
        sbl_os_unmap(old, QUARANTINE_KEEP);
    }
}

void sbl_huge_lock_prefork(void)
{
    sbl_lock(&quarantine_lock);
    sbl_lock(&hcache_lock);
    sbl_lock(&shrunk_lock);
}

void sbl_huge_unlock_postfork(bool child)
{
    sbl_lock_after_fork(&shrunk_lock, child);
    sbl_lock_after_fork(&hcache_lock, child);
    sbl_lock_after_fork(&quarantine_lock, child);
}

/* every huge free but the short way below */
static SBL_NOINLINE void huge_free_general(struct sbl_segment *s)
{
    if (s->kind != SBL_SEG_HUGE) /* a second free of a cached block: nothing to do */
        return;
    shrunk_take(s); /* a held tail goes with the mapping */
    if (huge_keepable(s)) {
        if (sbl_opt.secure) /* freed memory reads as zero (secure.c), held pages too */
            sbl_secure_zero_huge(sbl_seg_pages(s)->start, s->huge_held - s->huge_offset);
        huge_keep(s);
        struct sbl_heap *h = sbl_tls_heap;
        size_t beside = 0;
        if (h != &sbl_empty_heap) {
            beside = s->map_size;
            /* read now: the clock as last read may be as old as the block
               (a block that grows in its reserve reads none), and the
               mapping would go at the next slow-path event */
            uint64_t at = sbl_clock_ms();
            atomic_store_explicit(&h->huge_kept_at, at, memory_order_relaxed);
            h->fresh_since_kept = 0;
            s = kept_exchange(h, s);
            if (atomic_load(&kept_due) == 0) /* see kept_expire */
                atomic_store(&kept_due, at + sbl_purge_delay());
        }
        if (s != NULL) /* (the displaced one counts as freed now) */
            hcache_put(s, sbl_clock_ms(), beside);
        else if (__atomic_load_n(&hcache_n, __ATOMIC_RELAXED) != 0)
            sbl_huge_cache_expire(); /* as hcache_put does: a program that
                                        frees one block after a long pause
                                        gets the cache's old ones back */
        return;
    }
    sbl_stat_committed(-(int64_t)s->huge_held);
    if (sbl_opt.secure && s->map_size > QUARANTINE_KEEP) {
        huge_quarantine(s);
        return;
    }
    sbl_registry_mark(s, s->map_size, false);
    sbl_os_unmap(s, s->map_size);
}

/* The short way: a mapping kept before (its reserve already gone), of
 * SHORT_WAY_MAX bytes or less, freed by a thread that keeps none now while
 * the cache is empty, becomes the thread's kept one again: no lock, no
 * clock read, no call (not in secure mode, which zeroes it first). Only
 * this thread fills its slot (kept_expire only empties it), so nothing is
 * displaced. Its delay runs from the clock as last read; a bigger block
 * may have taken the program longer than the delay to write, and kept
 * from a read before that it would go at the next slow-path event: it
 * takes the general way, which reads the clock. */
#define SHORT_WAY_MAX ((size_t)8 << 20)
void sbl_huge_free(struct sbl_segment *s)
{
    struct sbl_heap *th = sbl_tls_heap;
    /* not listed (shrunk_take) before its held bytes are read */
    if (SBL_LIKELY(s->kind == SBL_SEG_HUGE &&
                   __atomic_load_n(&s->purge_at, __ATOMIC_ACQUIRE) == 0 &&
                   s->map_size == s->huge_held && s->map_size <= SHORT_WAY_MAX && !sbl_opt.secure &&
                   th != &sbl_empty_heap &&
                   atomic_load_explicit(&th->huge_kept, memory_order_relaxed) == NULL &&
                   __atomic_load_n(&hcache_n, __ATOMIC_RELAXED) == 0 && huge_keepable(s))) {
        s->kind = SBL_SEG_CACHED;
        uint64_t at = sbl_clock_ms_last();
        atomic_store_explicit(&th->huge_kept_at, at, memory_order_relaxed);
        th->fresh_since_kept = 0;
        kept_exchange(th, s);
        if (SBL_UNLIKELY(atomic_load(&kept_due) == 0)) /* see kept_expire */
            atomic_store(&kept_due, at + sbl_purge_delay());
        return;
    }
    huge_free_general(s);
}

/* Resizes s (not listed: see shrunk_take) without moving: within the
 * mapping, or by growing the mapping in place. NULL (block untouched) when
 * it cannot. A shrink gives the tail back at once, or lists it (`hold`:
 * shrunk_put); `listed`: s was listed, a tail it keeps is listed again. */
static void *huge_resize(void *p, struct sbl_segment *s, size_t n, bool hold, bool listed)
{
    if (n > SBL_MAX_REQUEST)
        return NULL;
    size_t off = s->huge_offset;
    size_t end = page_round(off + (n == 0 ? 1 : n)); /* bytes from base */
    size_t held = s->huge_held;
    if (end < off + s->huge_size) { /* shrink */
        s->huge_size = end - off;
        if (hold)
            shrunk_put(s);
        else
            tail_release(s); /* held pages after the old end too */
        return p;
    }
    if (end <= held) { /* grow into held pages (or keep the size) */
        s->huge_size = end - off;
        if (listed)
            shrunk_put(s);
        return p;
    }
    sbl_stat_committed((int64_t)(end - held)); /* undone below on failure */
    if (end <= s->map_size) {                  /* grow into the reserve */
        if (!sbl_os_commit((uint8_t *)s + held, end - held)) {
            sbl_stat_committed(-(int64_t)(end - held));
            return NULL;
        }
        s->huge_size = end - off;
        s->huge_held = end;
        return p;
    }
    /* mremap grows one mapping of one kind: the reserve is committed first */
    if (sbl_os_commit((uint8_t *)s + held, s->map_size - held) &&
        sbl_os_remap(s, s->map_size, end) != NULL) {
        s->map_size = end;
        sbl_registry_mark(s, end, true);
        s->huge_size = end - off;
        s->huge_held = end;
        return p;
    }
    sbl_stat_committed(-(int64_t)(end - held));
    return NULL;
}

/* Resizes without moving (huge_resize); a shrink gives the tail back at
   once (sable_resize_in_place, a partial free's cut). */
void *sbl_huge_resize(void *p, struct sbl_segment *s, size_t n)
{
    bool listed = shrunk_take(s);
    void *q = huge_resize(p, s, n, false, listed);
    if (q == NULL && listed)
        shrunk_put(s);
    return q;
}

/* The header of a huge block moved to s from an address of colour `was`:
   its descriptors (pages[0] and the one of the block's slice, see
   huge_init) into the window of s's address. */
static void huge_recolour(struct sbl_segment *s, unsigned was, size_t off)
{
    const struct sbl_page *from = &s->desc[was * SBL_SLICES];
    struct sbl_page *to = sbl_seg_pages(s);
    if (from == to)
        return;
    unsigned idx = (unsigned)(off >> SBL_SLICE_SHIFT);
    struct sbl_page head, at; /* the windows overlap by one descriptor */
    memcpy(&head, from, sizeof head);
    memcpy(&at, &from[idx], sizeof at);
    memcpy(to, &head, sizeof head);
    if (idx > 0)
        memcpy(&to[idx], &at, sizeof at);
}

/* The new range of a huge block that moves: `map` bytes reserved, the
   `used` first ones to receive the moved pages, the rest up to `end`
   committed (the block's new bytes); NULL when refused. */
static uint8_t *move_target(size_t map, size_t used, size_t end)
{
    uint8_t *to = sbl_os_reserve_aligned(map, SBL_SEG_SIZE, 0);
    if (to != NULL && !sbl_os_commit(to + used, end - used)) {
        sbl_os_unmap(to, map);
        to = NULL;
    }
    return to;
}

/* Resizes a huge block to n bytes, moving its pages (never its bytes) when
 * it cannot grow in place; NULL with ENOMEM and the block untouched on
 * failure. */
void *sbl_huge_realloc(void *p, struct sbl_segment *s, size_t n)
{
    if (n > SBL_MAX_REQUEST) {
        errno = ENOMEM;
        return NULL;
    }
    bool listed = shrunk_take(s);
    void *q = huge_resize(p, s, n, true, listed);
    if (q != NULL)
        return q;
    size_t off = s->huge_offset;
    size_t end = page_round(off + n);
    size_t reserve = reserve_for(n);
    size_t map = end + reserve;
    size_t used = off + s->huge_size;
    size_t held = s->huge_held;
    uint8_t *to = move_target(map, used, end);
    unsigned attempt = 0;
    while (to == NULL) {
        if (!sbl_oom_retry(n, &attempt))
            break;
        map = end;
        to = move_target(map, used, end);
    }
    /* move the written part; the rest of the new range is fresh */
    size_t old_map = s->map_size;
    if (to == NULL || sbl_os_remap_to(s, used, used, to) == NULL) {
        if (to)
            sbl_os_unmap(to, map);
        if (listed)
            shrunk_put(s);
        errno = ENOMEM;
        return NULL;
    }
    sbl_registry_mark(s, old_map, false); /* s is unmapped: only its address is used */
    if (old_map > used)
        sbl_os_unmap((uint8_t *)s + used, old_map - used); /* the old reserve and held pages */
    sbl_stat_committed((int64_t)end - (int64_t)held);
    huge_recolour((struct sbl_segment *)to, sbl_seg_colour(s), off);
    s = (struct sbl_segment *)to;
    s->map_size = map;
    s->huge_size = end - off;
    s->huge_held = end;
    sbl_seg_pages(s)->start = to + off;
    sbl_registry_mark(s, map, true);
    return to + off;
}
