/* partial.c: sable_free_range, the partial free of a live block.
 *
 * The released ranges of a block are kept in a side table (open addressing
 * keyed by the block's start, in memory of its own, under one lock) and the
 * block's page gets SBL_PF_RANGE, so that only blocks of such pages take
 * the slow path of free: the plain fast path is unchanged. A block's extent
 * is its usable size. When every byte of it is released the block is freed;
 * free() of its start releases whatever remains; realloc makes it whole
 * again. For blocks above 64 KiB the whole OS pages inside a released range
 * go back to the OS at once; a released tail of a one-block page or a huge
 * block is cut off the block (its slices or address space are reusable). */
#include "internal.h"

#define RANGES_MAX 15
#define TABLE_SIZE 8192 /* blocks partially freed at the same time */

struct range {
    size_t lo, hi; /* [lo, hi) from the block's start */
};

struct range_entry {
    uintptr_t block; /* 0: empty slot */
    size_t size;
    uint32_t n;
    uint32_t reserved0;
    struct range r[RANGES_MAX]; /* sorted, disjoint, not touching */
};

static sbl_lock_t table_lock;
static struct range_entry *table;
static size_t table_used;

static size_t slot_of(uintptr_t block)
{
    return (size_t)((block >> 4) * 0x9e3779b97f4a7c15ull >> 51);
}

_Static_assert(TABLE_SIZE == 1 << 13, "slot_of gives 13 bits");

static struct range_entry *entry_find(uintptr_t block)
{
    if (table == NULL)
        return NULL;
    for (size_t i = slot_of(block);; i = (i + 1) & (TABLE_SIZE - 1)) {
        if (table[i].block == block)
            return &table[i];
        if (table[i].block == 0)
            return NULL;
    }
}

static struct range_entry *entry_add(uintptr_t block, size_t size)
{
    if (table == NULL) {
        table = sbl_os_map(TABLE_SIZE * sizeof(struct range_entry));
        if (table == NULL)
            return NULL;
    }
    if (table_used + 1 >= TABLE_SIZE * 3 / 4)
        return NULL;
    size_t i = slot_of(block);
    while (table[i].block != 0)
        i = (i + 1) & (TABLE_SIZE - 1);
    table[i].block = block;
    table[i].size = size;
    table[i].n = 0;
    table_used++;
    return &table[i];
}

/* removal with backward shift, so that probing needs no tombstones */
static void entry_remove(struct range_entry *e)
{
    size_t i = (size_t)(e - table);
    table[i].block = 0;
    table_used--;
    for (size_t j = (i + 1) & (TABLE_SIZE - 1); table[j].block != 0;
         j = (j + 1) & (TABLE_SIZE - 1)) {
        size_t home = slot_of(table[j].block);
        /* move j to the hole i when its home is not in (i, j] cyclically */
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            table[i] = table[j];
            table[j].block = 0;
            i = j;
        }
    }
}

static size_t released_bytes(const struct range_entry *e)
{
    size_t t = 0;
    for (uint32_t i = 0; i < e->n; i++)
        t += e->r[i].hi - e->r[i].lo;
    return t;
}

/* Adds [lo, hi) to e: EINVAL when it overlaps a released range, ENOMEM
 * when it would need more than RANGES_MAX pieces. */
static int ranges_add(struct range_entry *e, size_t lo, size_t hi)
{
    uint32_t i = 0;
    while (i < e->n && e->r[i].hi <= lo)
        i++;
    if (i < e->n && e->r[i].lo < hi)
        return EINVAL;
    bool join_prev = i > 0 && e->r[i - 1].hi == lo;
    bool join_next = i < e->n && e->r[i].lo == hi;
    if (join_prev && join_next) {
        e->r[i - 1].hi = e->r[i].hi;
        memmove(&e->r[i], &e->r[i + 1], (e->n - i - 1) * sizeof e->r[0]);
        e->n--;
    } else if (join_prev) {
        e->r[i - 1].hi = hi;
    } else if (join_next) {
        e->r[i].lo = lo;
    } else {
        if (e->n == RANGES_MAX)
            return ENOMEM;
        memmove(&e->r[i + 1], &e->r[i], (e->n - i) * sizeof e->r[0]);
        e->r[i].lo = lo;
        e->r[i].hi = hi;
        e->n++;
    }
    return 0;
}

/* The block holding p, if p is inside a live sable block (as far as can be
 * told: a block still on its page's own free list is refused). */
static bool block_find(const void *p, struct sbl_segment **sp, struct sbl_page **pgp,
                       uint8_t **startp, size_t *sizep)
{
    struct sbl_segment *s = sbl_registry_find(p);
    if (s == NULL)
        return false;
    struct sbl_page *pg;
    if (s->kind == SBL_SEG_HUGE) {
        pg = sbl_seg_pages(s);
        if ((const uint8_t *)p < pg->start || (const uint8_t *)p >= pg->start + s->huge_size)
            return false;
        *startp = pg->start;
        *sizep = s->huge_size;
    } else {
        if (s->heap == NULL || (const uint8_t *)p < (const uint8_t *)s + SBL_SLICE_SIZE)
            return false;
        pg = sbl_page_of(s, p);
        if (sbl_page_in_use(pg) == SBL_PAGE_FREE || (const uint8_t *)p < pg->start ||
            (const uint8_t *)p >= pg->start + (size_t)pg->capacity * pg->block_size)
            return false;
        uint8_t *start = sbl_block_start(pg, p);
        if (start >= pg->start + (size_t)pg->reserved * pg->block_size)
            return false; /* never handed out */
        if (s->heap == sbl_tls_heap) {
            for (struct sbl_block *b = pg->free; b; b = sbl_next_get(b))
                if ((uint8_t *)b == start)
                    return false;
        }
        *startp = start;
        *sizep = pg->block_size;
    }
    *sp = s;
    *pgp = pg;
    return true;
}

/* Gives the RAM of the whole OS pages inside [lo, hi) of a block back. */
static void purge_inside(uint8_t *start, size_t lo, size_t hi)
{
    uintptr_t a = ((uintptr_t)start + lo + SBL_OS_PAGE - 1) & ~(uintptr_t)(SBL_OS_PAGE - 1);
    uintptr_t b = ((uintptr_t)start + hi) & ~(uintptr_t)(SBL_OS_PAGE - 1);
    if (b > a)
        sbl_os_purge((void *)a, b - a);
}

/* Secure mode: zeroes [lo, hi) of a block, but for the whole OS pages
   inside it when those are purged. */
static void zero_outside_pages(uint8_t *start, size_t lo, size_t hi, bool pages_purged)
{
    uintptr_t a = (uintptr_t)start + lo, b = (uintptr_t)start + hi;
    uintptr_t pa = (a + SBL_OS_PAGE - 1) & ~(uintptr_t)(SBL_OS_PAGE - 1);
    uintptr_t pb = b & ~(uintptr_t)(SBL_OS_PAGE - 1);
    if (!pages_purged || pb <= pa) {
        memset((void *)a, 0, b - a);
        return;
    }
    memset((void *)a, 0, pa - a);
    memset((void *)pb, 0, b - pb);
}

int sbl_free_range(void *p, size_t n)
{
    if (p == NULL)
        return n == 0 ? 0 : EINVAL;
    struct sbl_segment *s;
    struct sbl_page *pg;
    uint8_t *start;
    size_t size;
    if (!block_find(p, &s, &pg, &start, &size))
        return EINVAL;
    size_t lo = (size_t)((uint8_t *)p - start);
    if (n > size - lo)
        return EINVAL;
    if (n == 0)
        return 0;
    size_t hi = lo + n;

    sbl_lock(&table_lock);
    struct range_entry *e = entry_find((uintptr_t)start);
    bool fresh = e == NULL;
    if (fresh && (e = entry_add((uintptr_t)start, size)) == NULL) {
        sbl_unlock(&table_lock);
        return ENOMEM;
    }
    int rc = ranges_add(e, lo, hi);
    if (rc != 0) {
        if (fresh)
            entry_remove(e);
        sbl_unlock(&table_lock);
        return rc;
    }
    if (released_bytes(e) == e->size) { /* nothing left: the block goes */
        entry_remove(e);
        sbl_unlock(&table_lock);
        sbl_free_inline(start);
        return 0;
    }
    sbl_page_flag_set(pg, SBL_PF_RANGE);
    size_t cut = 0; /* a released tail to cut off the block */
    if (e->r[e->n - 1].hi == e->size)
        cut = e->r[e->n - 1].lo;
    sbl_unlock(&table_lock);

    bool purge = size > SBL_SLICE_SIZE || s->kind == SBL_SEG_HUGE;
    if (sbl_opt.secure) /* freed memory is zeroed (purged pages read as zero) */
        zero_outside_pages(start, lo, hi, purge);
    if (purge)
        purge_inside(start, lo, hi);
    if (cut > 0 && s->kind == SBL_SEG_HUGE) {
        sbl_huge_resize(start, s, cut);
    } else if (cut > 0 && pg->capacity == 1 && s->heap == sbl_tls_heap) {
        size_t colour = sbl_page_colour(pg);
        unsigned slices = (unsigned)((colour + cut + SBL_SLICE_SIZE - 1) >> SBL_SLICE_SHIFT);
        if (slices < pg->slices) {
            sbl_heap_detach(s->heap, pg);
            sbl_span_resize(s->heap, pg, slices);
            pg->block_size = (uint32_t)((size_t)slices * SBL_SLICE_SIZE - colour);
        }
    }
    if (cut > 0) { /* the block is now shorter: its table entry follows */
        size_t now = s->kind == SBL_SEG_HUGE ? s->huge_size : pg->block_size;
        if (sbl_slow_mode() && sbl_hook_depth == 0)
            sbl_hook_resized(size, now);
        sbl_lock(&table_lock);
        e = entry_find((uintptr_t)start);
        if (e != NULL && now < e->size) {
            e->size = now;
            struct range *last = &e->r[e->n - 1];
            if (last->lo >= now)
                e->n--;
            else
                last->hi = now;
        }
        sbl_unlock(&table_lock);
    }
    return 0;
}

/* Called by free (and realloc) for a block of a page flagged SBL_PF_RANGE:
 * forgets its released ranges. */
void sbl_range_forget(const void *start)
{
    sbl_lock(&table_lock);
    struct range_entry *e = entry_find((uintptr_t)start);
    if (e != NULL)
        entry_remove(e);
    sbl_unlock(&table_lock);
}

/* usable size at p inside a partially freed block: the live bytes from p to
 * the next released range (or the end of the block) */
size_t sbl_range_usable(const void *start, const void *p, size_t usable)
{
    size_t lo = (size_t)((const uint8_t *)p - (const uint8_t *)start);
    size_t end = lo + usable;
    sbl_lock(&table_lock);
    struct range_entry *e = entry_find((uintptr_t)start);
    if (e != NULL)
        for (uint32_t i = 0; i < e->n; i++)
            if (e->r[i].hi > lo) {
                end = e->r[i].lo > lo ? e->r[i].lo : lo;
                break;
            }
    sbl_unlock(&table_lock);
    return end - lo;
}

void sbl_range_lock_prefork(void) { sbl_lock(&table_lock); }

void sbl_range_unlock_postfork(bool child) { sbl_lock_after_fork(&table_lock, child); }
