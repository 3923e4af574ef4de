/* internal.h: the inline fast paths and the functions shared between
 * sable's source files (hidden: the library is built with
 * -fvisibility=hidden, only SABLE_EXPORT symbols are visible). */
#ifndef SABLE_INTERNAL_H
#define SABLE_INTERNAL_H

#include "list.h"
#include "types.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#define SBL_LIKELY(x) __builtin_expect(!!(x), 1)
#define SBL_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define SBL_NOINLINE __attribute__((noinline))
#define SABLE_EXPORT __attribute__((visibility("default")))

/* sbl_assert(e): an invariant. In a debug build (-DSABLE_DEBUG) a false e
 * prints "sable: assertion failed: e (file:line)" and aborts; otherwise e
 * is not evaluated but still compiled (type-checked), so that every
 * configuration builds. Slow paths only: the fast paths stay as they are. */
#ifdef SABLE_DEBUG
#define SBL_DEBUG 1
#define sbl_assert(e) (SBL_LIKELY(e) ? (void)0 : sbl_assert_fail(#e, __FILE__, __LINE__))
#else
#define SBL_DEBUG 0
#define sbl_assert(e) ((void)sizeof(!(e)))
#endif
__attribute__((noreturn, cold)) void sbl_assert_fail(const char *expr, const char *file, int line);

void sbl_os_yield(void); /* os.c */

/* A spin lock that yields: the global locks guard only short, rare
 * sections (segment cache, heap list), and never allocate. */
typedef struct {
    _Atomic int v;
} sbl_lock_t;

static inline void sbl_lock(sbl_lock_t *l)
{
    while (atomic_exchange_explicit(&l->v, 1, memory_order_acquire)) {
        while (atomic_load_explicit(&l->v, memory_order_relaxed))
            sbl_os_yield();
    }
}

static inline void sbl_unlock(sbl_lock_t *l)
{
    atomic_store_explicit(&l->v, 0, memory_order_release);
}

/* A global lock after fork (init.c takes every one before it): the parent
   releases it; the child, whose one thread is the one that took it, resets
   it. */
static inline void sbl_lock_after_fork(sbl_lock_t *l, bool child)
{
    if (child)
        atomic_store(&l->v, 0);
    else
        sbl_unlock(l);
}

/* ---- globals ------------------------------------------------------------ */
/* true while the process has one thread (glibc's __libc_single_threaded;
   false where unknown): no other thread can then take part in an atomic
   operation, and a plain load and store may stand for it */
#if __has_include(<sys/single_threaded.h>)
#include <sys/single_threaded.h>
#define sbl_single_threaded() (__libc_single_threaded != 0)
#else
#define sbl_single_threaded() false
#endif

extern __thread struct sbl_heap *sbl_tls_heap __attribute__((tls_model("initial-exec")));
extern struct sbl_heap sbl_empty_heap;
extern struct sbl_page sbl_empty_page;
extern const uint32_t sbl_class_sizes[SBL_NCLASSES];
extern const uint8_t sbl_class_slices[SBL_NCLASSES];

/* The mode, set once at start-up (sbl_hooks_init) from the settings */
enum sbl_mode {
    SBL_MODE_NORMAL,       /* the plain fast paths */
    SBL_MODE_SECURE,       /* SABLE_SECURE=1 alone: the lean secure paths
                              (secure.c) serve malloc and the owner's free */
    SBL_MODE_INSTRUMENTED, /* statistics, log or Valgrind (with secure mode's
                              checks or not): every operation through the
                              hooks (hooks.c) */
};

struct sbl_options {
    enum sbl_mode mode; /* not NORMAL: "slow mode", no fast paths */
    bool secure;        /* SABLE_SECURE=1: checks and zeroing (either slow mode) */
    bool stats;         /* SABLE_STATS=1 (instrumented) */
    bool valgrind;      /* running under memcheck (instrumented) */
    uint64_t purge_delay_ms;
    int log_fd;     /* SABLE_LOG, or -1 */
    int stats_fd;   /* a copy of stderr for the exit summary (programs such
                       as coreutils close stderr before the process ends) */
    uintptr_t key;  /* per-process secret (secure mode) */
    uintptr_t mark; /* derived from key: the freed-marker of a block at p
                       is mark ^ p */
};
extern struct sbl_options sbl_opt;

/* secure or instrumented: every operation leaves the fast paths */
static inline bool sbl_slow_mode(void) { return sbl_opt.mode != SBL_MODE_NORMAL; }
extern uintptr_t sbl_free_limit; /* UINTPTR_MAX; 0 in slow mode */
/* > 0 while an API call runs its internal allocations and frees: the hooks
   then run once, for the call itself */
extern __thread int sbl_hook_depth __attribute__((tls_model("initial-exec")));

/* ---- size classes (size_class.c) ----------------------------------------- */
/* (n - 1) / 128 -> class, for 1 KiB < n <= SBL_FINE_MAX */
extern const uint8_t sbl_fine_classes[SBL_FINE_MAX / 128];

/* n in [0, SBL_LARGE_MAX] -> class: 16..128 by 16, then 4 per doubling, 8
   from 1 KiB to SBL_FINE_MAX (a table: the medium path's sizes), 4 above */
static inline unsigned sbl_size_class(size_t n)
{
    if (n <= 128)
        return n <= 16 ? 0 : (unsigned)((n - 1) >> 4);
    size_t w = n - 1;
    if (w >= SBL_FINE_MIN && w < SBL_FINE_MAX)
        return sbl_fine_classes[w >> 7];
    unsigned b = 63u - (unsigned)__builtin_clzl(w);
    unsigned c = 8u + (b - 7u) * 4u + (unsigned)((w >> (b - 2u)) & 3u);
    return b < 10 ? c : c + 16u; /* above the fine band: 32 classes where 4 per doubling has 16 */
}

static inline size_t sbl_class_size(unsigned c) { return sbl_class_sizes[c]; }

/* ---- metadata lookup ------------------------------------------------------- */
static inline struct sbl_segment *sbl_segment_of(const void *p)
{
    return (struct sbl_segment *)(((uintptr_t)p - 1) & ~(uintptr_t)SBL_SEG_MASK);
}

/* the window of descriptors a segment at s uses (see struct sbl_segment) */
static inline unsigned sbl_seg_colour(const void *s)
{
    return (unsigned)((uintptr_t)s >> SBL_SEG_SHIFT) & (SBL_SEG_COLOURS - 1);
}

#define SBL_PAGE_DESC_SHIFT 7 /* log2(sizeof(struct sbl_page)) */
_Static_assert(sizeof(struct sbl_page) == (size_t)1 << SBL_PAGE_DESC_SHIFT, "descriptor size");

/* the byte offset in s->desc of the descriptor of p's slice, p in s's
   pages (below s + 4 MiB): the slice's index and, above it in p, the
   segment's colour (as free's fast path reads it) */
static inline uintptr_t sbl_slice_desc(const void *p)
{
    return ((uintptr_t)p >> (SBL_SLICE_SHIFT - SBL_PAGE_DESC_SHIFT)) &
           ((SBL_SEG_COLOURS * SBL_SLICES - 1) << SBL_PAGE_DESC_SHIFT);
}

/* s's descriptors: pages[i] is slice i's (const in, not out: as strchr) */
static inline struct sbl_page *sbl_seg_pages(const struct sbl_segment *s)
{
    return (struct sbl_page *)((const char *)s->desc + sbl_slice_desc(s)); /* slice 0 */
}

/* the page of p, a block of one of s's pages (not a huge block) */
static inline struct sbl_page *sbl_block_page(struct sbl_segment *s, const void *p)
{
    struct sbl_page *pg = (struct sbl_page *)((char *)s->desc + sbl_slice_desc(p));
    return (struct sbl_page *)((char *)pg - pg->offset);
}

/* p's page in s (p in (s, s + 4 MiB]): the descriptor of p's slice,
   desc[64 * colour + slice], is desc[(p >> 16) - (s >> 16 with its colour
   bits cleared)] (s's slice bits are 0), which for p = s + 4 MiB is
   [64] of the window, also for the last colour */
static inline struct sbl_page *sbl_page_of(struct sbl_segment *s, const void *p)
{
    uintptr_t i =
        ((uintptr_t)p >> SBL_SLICE_SHIFT) -
        (((uintptr_t)s >> SBL_SLICE_SHIFT) & ~(uintptr_t)(SBL_SEG_COLOURS * SBL_SLICES - 1));
    struct sbl_page *pg = &s->desc[i];
    return (struct sbl_page *)((char *)pg - pg->offset);
}

/* ---- functions by file ----------------------------------------------------- */
/* os.c: every system call sable makes; none touches errno */
void *sbl_os_map(size_t size);
void *sbl_os_map_aligned(size_t size, size_t align, size_t lead);
void *sbl_os_reserve(size_t size);
void *sbl_os_reserve_aligned(size_t size, size_t align, size_t lead);
bool sbl_os_commit(void *p, size_t size);
void *sbl_os_map_sparse(size_t size);
void sbl_os_unmap(void *p, size_t size);
bool sbl_os_purge(void *p, size_t size);
bool sbl_os_resident(void *p, size_t size, unsigned char *vec);
bool sbl_os_populate(void *p, size_t size);
bool sbl_os_huge_pages(void);       /* transparent huge pages of SBL_HUGE_PAGE to be had */
bool sbl_os_populate_huge(void *p); /* SBL_HUGE_PAGE bytes at p */
void *sbl_os_remap(void *p, size_t old_size, size_t new_size);
void *sbl_os_remap_to(void *p, size_t old_size, size_t new_size, void *to);
uint64_t sbl_clock_ms(void);
bool sbl_os_as_limited(void);
bool sbl_os_as_limited_at(uint64_t now);
extern bool sbl_os_limited;        /* sbl_os_as_limited's last answer */
extern uint64_t sbl_os_clock_last; /* sbl_clock_ms's last answer, any thread's */
/* The last answer of sbl_os_as_limited, without reading the clock (for the
   huge free path, which keeps a mapping only while this says no; the
   answer is read again at every few slow-path events of any thread). */
static inline bool sbl_os_as_limited_last(void)
{
    return __atomic_load_n(&sbl_os_limited, __ATOMIC_RELAXED);
}
/* The clock as some thread read it last (slow paths read it every few
   events): no system call, no vDSO; may lag. */
static inline uint64_t sbl_clock_ms_last(void)
{
    return __atomic_load_n(&sbl_os_clock_last, __ATOMIC_RELAXED);
}
void sbl_os_write(int fd, const char *s, size_t n);
int sbl_os_dup_stderr(void);
int sbl_os_open_append(const char *path);
long sbl_os_tid(void);
uintptr_t sbl_os_random(void);

/* segment.c: segments, spans of slices, page descriptors, purging */
struct sbl_page *sbl_page_new(struct sbl_heap *h, unsigned cls);
struct sbl_page *sbl_page_new_room(struct sbl_heap *h, unsigned cls, unsigned room);
void *sbl_page_alone(struct sbl_heap *h, unsigned cls, unsigned room);
extern __thread bool sbl_page_zero __attribute__((tls_model("initial-exec")));
/* set by calloc while it allocates a block above a slice: a fresh big block
   is not mapped in at once (sbl_page_new_room), as calloc needs no writes */
extern __thread bool sbl_calloc_lazy __attribute__((tls_model("initial-exec")));
void sbl_page_extend(struct sbl_page *pg);
void sbl_page_release(struct sbl_heap *h, struct sbl_page *pg);
void sbl_page_release_idle(struct sbl_heap *h, struct sbl_page *pg);
void sbl_page_set_state(struct sbl_page *pg, enum sbl_xfree_state state);
void sbl_segments_purge(struct sbl_heap *h, bool force);
void sbl_segments_trim(struct sbl_heap *h);
void sbl_segments_maybe_purge(struct sbl_heap *h);
bool sbl_span_resize(struct sbl_heap *h, struct sbl_page *pg, unsigned slices);
const char *sbl_segments_check(const struct sbl_heap *h);
uint64_t sbl_purge_delay(void);
void sbl_purge_note_miss(uint64_t now);
void sbl_purge_note_purge(uint64_t now, uint64_t due);
#define SBL_REG_CHUNKS ((size_t)1 << (47 - SBL_SEG_SHIFT))
extern uint8_t *sbl_registry; /* one byte per 4 MiB chunk: 1 at a segment's base */
void sbl_registry_init(void);
void sbl_registry_mark(const void *base, size_t size, bool on);
struct sbl_segment *sbl_registry_find(const void *p);
void sbl_segment_cache_flush(void);
void sbl_segment_lock_prefork(void);
void sbl_segment_unlock_postfork(bool child);

/* heap.c: thread heaps */
struct sbl_heap *sbl_heap_acquire(void);
void sbl_heap_thread_done(void *heap);
void sbl_heap_collect(struct sbl_heap *h, bool force);
void sbl_heap_collect_delayed(struct sbl_heap *h);
struct sbl_heap *sbl_heap_first(void);
void sbl_free_local(struct sbl_heap *h, struct sbl_page *pg, struct sbl_block *b);
/* frees the chain b..tail (all in pg) into the heap of an exited thread, claimed */
void sbl_heap_free_orphan(struct sbl_heap *h, struct sbl_page *pg, struct sbl_block *b,
                          struct sbl_block *tail);
struct sbl_page *sbl_heap_find_page(struct sbl_heap *h, unsigned cls);
void sbl_heap_retire(struct sbl_heap *h, struct sbl_page *pg);
bool sbl_heap_drop_large_kept(struct sbl_heap *h); /* heap.c */
/* releases the retained pages whose delay has passed, their RAM given
   back (all the empty ones with all, the others' RAM held for a purge
   delay); true when some page went back to its segment */
bool sbl_heap_retained_expire(struct sbl_heap *h, bool all);
struct sbl_page *sbl_heap_retained_take(struct sbl_heap *h, unsigned cls);
void sbl_heap_detach(struct sbl_heap *h, struct sbl_page *pg);
bool sbl_heap_try_claim(struct sbl_heap *h);
/* unclaims h; a record pushed meanwhile is then freed by this thread */
void sbl_heap_unclaim(struct sbl_heap *h);
/* a record of remote frees (free.c) goes to its heap h */
void sbl_heap_xrec_give(struct sbl_heap *h, struct sbl_xrec *r);
void sbl_heap_init_key(void);
size_t sbl_heap_count(void);
void sbl_heap_lock_prefork(void);
void sbl_heap_unlock_postfork(bool child);

/* alloc.c */
void *sbl_alloc_generic(size_t n, struct sbl_heap *h);
void *sbl_alloc_medium(size_t n, struct sbl_heap *h); /* SBL_DIRECT_MAX < n <= SBL_LARGE_MAX */

void *sbl_alloc_class(struct sbl_heap *h, unsigned cls);
void *sbl_alloc_small_slow(size_t n, struct sbl_heap *h);

/* free.c */
/* slice: p's slice's descriptor */
void sbl_free_slow(void *p, struct sbl_segment *s, struct sbl_page *slice);
void sbl_free_slow_mode(void *p);
void sbl_free_checked(struct sbl_segment *s, struct sbl_page *pg, void *p);
extern __thread unsigned sbl_xb_pending __attribute__((tls_model("initial-exec")));
void sbl_xb_flush(void); /* the calling thread's batched remote frees go to their owners */
/* allocation slow paths since the thread's open records were last flushed
   together (or since the first of them opened) */
extern __thread unsigned sbl_xb_age __attribute__((tls_model("initial-exec")));
#define SBL_XB_AGE_MAX 64

/* the allocation slow path's look at the thread's open records: they go to
   their owners when they have waited SBL_XB_AGE_MAX slow paths (a full
   record goes at once, free.c), so that blocks freed by a thread that
   stops freeing still go home, and a thread whose every malloc takes the
   slow path (sizes above SBL_DIRECT_MAX) hands over full records, not one
   pointer at a time */
static inline void sbl_xb_age_tick(void)
{
    if (SBL_UNLIKELY(sbl_xb_pending != 0) && ++sbl_xb_age >= SBL_XB_AGE_MAX)
        sbl_xb_flush();
}
void sbl_xb_init_key(void);
void sbl_xrec_put(struct sbl_xrec *r); /* an emptied record back to the pool */
/* emptied records r..tail (n of them) back: the owner's spares or the pool */
void sbl_xrecs_put(struct sbl_xrec *r, struct sbl_xrec *tail, unsigned n);
extern _Atomic size_t sbl_xrec_chunks; /* chunks of records mapped so far */

/* huge.c */
void *sbl_huge_alloc(size_t n, size_t align);
void *sbl_huge_kept_alloc(struct sbl_heap *h, size_t n);
void sbl_huge_free(struct sbl_segment *s);
void *sbl_huge_realloc(void *p, struct sbl_segment *s, size_t n);
void *sbl_huge_resize(void *p, struct sbl_segment *s, size_t n);
void sbl_huge_lock_prefork(void);
void sbl_huge_cache_flush(void);
bool sbl_huge_idle(const struct sbl_heap *h);
void sbl_huge_release_idle(struct sbl_heap *h);
void sbl_huge_cache_expire(void);
void sbl_huge_kept_drop(struct sbl_heap *h);
void *sbl_huge_take_kept(size_t n);
extern __thread bool sbl_huge_reused __attribute__((tls_model("initial-exec")));
extern __thread bool sbl_huge_growing __attribute__((tls_model("initial-exec")));
void sbl_huge_unlock_postfork(bool child);

/* aligned.c */
void *sbl_alloc_aligned(size_t align, size_t n);
void *sbl_alloc_aligned_any(size_t align, size_t n);

/* realloc.c */
void *sbl_realloc(void *p, size_t n);
void *sbl_resize_in_place(void *p, size_t n);

/* partial.c */
int sbl_free_range(void *p, size_t n);
void sbl_range_forget(const void *start);
size_t sbl_range_usable(const void *start, const void *p, size_t usable);
void sbl_range_lock_prefork(void);
void sbl_range_unlock_postfork(bool child);

/* secure.c */
void sbl_secure_init(void);
void sbl_secure_check(const char *op, const void *p);
void sbl_secure_freed(uint8_t *start, size_t size);
void sbl_secure_zero_pages(uint8_t *p, size_t n);
void sbl_secure_zero_huge(uint8_t *start, size_t size);
void sbl_slow_handout(void *p, size_t size);
void *sbl_secure_alloc_small(struct sbl_heap *h, size_t n);
void *sbl_secure_aligned(size_t align, size_t n);
void *sbl_secure_realloc(void *p, size_t n, bool may_move);
void *sbl_secure_calloc(size_t total);
void sbl_slow_carve(uint8_t *p, uint32_t n, size_t bs, struct sbl_block *tail);
void sbl_secure_free(struct sbl_segment *s, struct sbl_page *pg, void *p);
/* hooks.c: statistics, log and Valgrind requests (slow mode only) */
enum sbl_op {
    SBL_OP_MALLOC,
    SBL_OP_CALLOC,
    SBL_OP_REALLOC,
    SBL_OP_ALIGNED,
    SBL_OP_FREE,
    SBL_OP_RESIZE,
    SBL_OP_FREE_RANGE,
};
void sbl_hook_alloc(enum sbl_op op, void *p, size_t n, size_t align);
void sbl_hook_free(const void *p, size_t size);
void sbl_hook_realloc(enum sbl_op op, const void *old, size_t old_size, size_t old_extent, void *q,
                      size_t n);
void sbl_hook_resized(size_t old_extent, size_t new_extent);
void sbl_hook_range(const void *p, size_t n, int rc);
void sbl_hooks_init(void);
void sbl_stat_committed(int64_t delta);
void sbl_stat_reserved(int64_t delta);
void sbl_stat_segments(int delta);
bool sbl_free_hooked(struct sbl_segment *s, struct sbl_page *pg, void *p);
void *sbl_vg_alloc(enum sbl_op op, size_t n, size_t align, bool any);
void *sbl_vg_realloc(void *p, size_t n);
size_t sbl_vg_size(const void *p);
void sbl_vg_header(void *base, bool on);

/* oom.c */
bool sbl_oom_retry(size_t n, unsigned *attempt);
void sbl_oom_lock_prefork(void);
void sbl_oom_unlock_postfork(bool child);

/* init.c */
void sbl_init(void);

/* options.c */
void sbl_options_read(void);

/* line.c: one line of output, built without allocating:
   struct sbl_line l = {.n = 0}; sbl_line_str(&l, ...); ...; sbl_line_write(&l, fd) */
struct sbl_line {
    size_t n;
    char buf[512];
};
void sbl_line_str(struct sbl_line *l, const char *s);
void sbl_line_dec(struct sbl_line *l, uintptr_t v);
void sbl_line_hex(struct sbl_line *l, uintptr_t v); /* 0x... */
void sbl_line_write(struct sbl_line *l, int fd);    /* with its newline */

/* page->owner: the owner's tag in the low 56 bits, the flags in the high
   byte, which the flag functions below read and write alone, atomically
   (relaxed: plain moves on x86-64), since sable_free_range may set
   SBL_PF_RANGE from any thread */
#define SBL_OWNER_FLAGS_SHIFT 56
#define SBL_OWNER_FLAGS ((uint64_t)0xff << SBL_OWNER_FLAGS_SHIFT)
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SBL_OWNER_FLAGS_BYTE 7
#else
#define SBL_OWNER_FLAGS_BYTE 0
#endif

static inline uint8_t *sbl_page_flags_byte(struct sbl_page *pg)
{
    return (uint8_t *)&pg->owner + SBL_OWNER_FLAGS_BYTE;
}

static inline unsigned sbl_page_flags(const struct sbl_page *pg)
{
    return __atomic_load_n((const uint8_t *)&pg->owner + SBL_OWNER_FLAGS_BYTE, __ATOMIC_RELAXED);
}

/* page->in_use: written by the owner, read by sable_free_range from any
   thread (which only tells SBL_PAGE_FREE from the others): relaxed atomics
   as well */
static inline enum sbl_page_use sbl_page_in_use(const struct sbl_page *pg)
{
    return __atomic_load_n(&pg->in_use, __ATOMIC_RELAXED);
}

/* a kept page holds one count in pg->used (see types.h), taken and given back here */
static inline void sbl_page_set_in_use(struct sbl_page *pg, enum sbl_page_use v)
{
    pg->used = (uint16_t)(pg->used - (sbl_page_in_use(pg) == SBL_PAGE_KEPT) + (v == SBL_PAGE_KEPT));
    __atomic_store_n(&pg->in_use, (uint8_t)v, __ATOMIC_RELAXED);
}

/* sets the flags to f and the tag to 0: a descriptor gets its owner's tag
   only once it is a live page (sbl_page_tag_set) */
static inline void sbl_page_flags_init(struct sbl_page *pg, unsigned f)
{
    __atomic_store_n(&pg->owner, (uint64_t)(uint8_t)f << SBL_OWNER_FLAGS_SHIFT, __ATOMIC_RELAXED);
}

static inline void sbl_page_flag_set(struct sbl_page *pg, unsigned f)
{
    __atomic_fetch_or(sbl_page_flags_byte(pg), (uint8_t)f, __ATOMIC_RELAXED);
}

static inline void sbl_page_flag_clear(struct sbl_page *pg, unsigned f)
{
    __atomic_fetch_and(sbl_page_flags_byte(pg), (uint8_t)~f, __ATOMIC_RELAXED);
}

/* sets the tag of pg's owner word (0: none), keeping its flags, which
   another thread may set meanwhile. A tag that does not fit in 56 bits is
   stored as 0: that thread's frees then all take the slow path */
static inline void sbl_page_tag_set(struct sbl_page *pg, uintptr_t tag)
{
    uint64_t t = (uint64_t)tag & SBL_OWNER_FLAGS ? 0 : (uint64_t)tag;
    uint64_t w = __atomic_load_n(&pg->owner, __ATOMIC_RELAXED);
    if (sbl_single_threaded()) {
        __atomic_store_n(&pg->owner, (w & SBL_OWNER_FLAGS) | t, __ATOMIC_RELAXED);
        return;
    }
    while (!__atomic_compare_exchange_n(&pg->owner, &w, (w & SBL_OWNER_FLAGS) | t, true,
                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
}

/* the tag of the owner of s: in the segment and in each of its live pages
   (the segment's owner changes only while its heap is claimed) */
static inline void sbl_segment_tag_set(struct sbl_segment *s, uintptr_t tag)
{
    __atomic_store_n(&s->owner_tag, tag, __ATOMIC_RELAXED);
    struct sbl_page *pages = sbl_seg_pages(s);
    for (unsigned i = 1; i < SBL_SLICES; i++)
        if (sbl_page_in_use(&pages[i]) != SBL_PAGE_FREE && pages[i].offset == 0)
            sbl_page_tag_set(&pages[i], tag);
}

/* free-list links, as the slow paths read and write them: encoded with the
 * process key in secure mode, made addressable for memcheck under
 * Valgrind (secure.c). The fast paths, never taken in those modes, use
 * ->next directly. */
struct sbl_block *sbl_next_get_slow(const struct sbl_block *b);
void sbl_next_set_slow(struct sbl_block *b, struct sbl_block *v);

/* the secure encoding: the link xor the key xor the block's address / 16 */
static inline uintptr_t sbl_link_code(const struct sbl_block *b)
{
    return sbl_opt.key ^ ((uintptr_t)b >> 4);
}

static inline struct sbl_block *sbl_next_get(const struct sbl_block *b)
{
    if (SBL_UNLIKELY(sbl_slow_mode())) {
        if (sbl_opt.mode == SBL_MODE_SECURE)
            return (struct sbl_block *)((uintptr_t)b->next ^ sbl_link_code(b));
        return sbl_next_get_slow(b);
    }
    return b->next;
}

static inline void sbl_next_set(struct sbl_block *b, struct sbl_block *v)
{
    if (SBL_UNLIKELY(sbl_slow_mode())) {
        if (sbl_opt.mode == SBL_MODE_SECURE)
            b->next = (struct sbl_block *)((uintptr_t)v ^ sbl_link_code(b));
        else
            sbl_next_set_slow(b, v);
    } else {
        b->next = v;
    }
}

__attribute__((noreturn)) void sbl_report(const char *op, const void *p, const char *what);

/* a block leaves its free list in slow mode (the allocation's side of
   sbl_next_get): the freed-marker cleared, memcheck told */
static inline void sbl_handout(void *p, size_t size)
{
    if (sbl_opt.mode == SBL_MODE_SECURE)
        ((uintptr_t *)p)[1] = 0;
    else
        sbl_slow_handout(p, size);
}

/* secure mode: a page's free list stays in its segment, so an overwritten
   link that decodes elsewhere is reported, not followed */
static inline void sbl_secure_link_check(const struct sbl_block *b, const struct sbl_block *nx)
{
    if (SBL_UNLIKELY(nx != NULL && (((uintptr_t)nx ^ (uintptr_t)b) >> SBL_SEG_SHIFT) != 0))
        sbl_report("malloc", b, "corrupted free list (a freed block was overwritten)");
}

/* what types.h states of a live page's counters: no more blocks carved than
   the span holds, no more handed out than carved (used holds one count
   more while it is kept) */
static inline bool sbl_page_counts_ok(const struct sbl_page *pg)
{
    return pg->reserved <= pg->capacity &&
           pg->used <= (unsigned)pg->reserved + (sbl_page_in_use(pg) == SBL_PAGE_KEPT);
}

/* whether b is the start of one of pg's carved blocks */
static inline bool sbl_block_in_page(const struct sbl_page *pg, const void *b)
{
    size_t d = (size_t)((const uint8_t *)b - pg->start); /* huge when b < start */
    return d < (size_t)pg->reserved * pg->block_size && d % pg->block_size == 0;
}

/* Pops the first block of pg->free (not NULL), outside the inline fast
   path; slow mode decodes and checks the link and hands the block out. */
static inline struct sbl_block *sbl_page_pop(struct sbl_page *pg)
{
    struct sbl_block *b = pg->free;
    pg->free = sbl_next_get(b);
    pg->used++;
    if (SBL_UNLIKELY(sbl_slow_mode())) {
        if (sbl_opt.secure)
            sbl_secure_link_check(b, pg->free);
        sbl_handout(b, pg->block_size);
    }
    sbl_assert(sbl_block_in_page(pg, b));
    sbl_assert(sbl_page_counts_ok(pg));
    return b;
}

/* ---- fast paths -------------------------------------------------------------- */

/* malloc of n <= SBL_DIRECT_MAX. Cost (x86-64, gcc 12 -O2, callgrind):
 * 12 instructions in malloc() with its return: the TLS load (through the
 * GOT), the size test, the table index and load, the pop (2 loads, 1
 * store), the used count and one test (the slow paths take (n, h), so that
 * n stays where the caller put it). Every other case takes the single
 * `b == NULL` branch: no block on pg->free (a page run dry), a thread's
 * first call (served by the empty page of the static empty heap), slow
 * mode. */
static inline void *sbl_heap_alloc_small(struct sbl_heap *h, size_t n)
{
    struct sbl_page *pg = h->direct[n];
#if defined(__x86_64__)
    /* a register hint, no instruction: b then takes the return register
       (one move fewer) */
    __asm__("" : "+d"(pg));
#endif
    struct sbl_block *b = pg->free;
    if (SBL_UNLIKELY(b == NULL))
        return sbl_alloc_small_slow(n, h);
    pg->free = b->next;
    pg->used++;
    return b;
}

static inline void *sbl_malloc_inline(size_t n)
{
    struct sbl_heap *h = sbl_tls_heap;
    if (SBL_LIKELY(n <= SBL_DIRECT_MAX))
        return sbl_heap_alloc_small(h, n);
    if (SBL_UNLIKELY(n > SBL_LARGE_MAX)) /* the thread's kept mapping, or sbl_alloc_generic */
        return sbl_huge_kept_alloc(h, n);
    return sbl_alloc_medium(n, h);
}

/* a thread's tag, which the segments of its heap h carry (owner_tag): its
   thread pointer on x86-64 (one instruction to read, no TLS lookup through
   the GOT); elsewhere the heap's address */
static inline uintptr_t sbl_owner_tag(const struct sbl_heap *h)
{
#if defined(__x86_64__)
    (void)h;
    return (uintptr_t)__builtin_thread_pointer();
#else
    return (uintptr_t)h;
#endif
}

/* whether p's slice's descriptor pg has the calling thread's tag and no
   flag (see types.h): free's fast-path test (x86-64 has it in asm in
   sbl_free_inline) */
static inline bool sbl_free_is_local(const struct sbl_page *pg)
{
    return __atomic_load_n(&pg->owner, __ATOMIC_RELAXED) == (uint64_t)sbl_owner_tag(sbl_tls_heap);
}

/* the owner's free of p into pg, a page without flags: the local, plain
   corner of free's grid (free.c) */
static inline void sbl_free_local_plain(struct sbl_segment *s, struct sbl_page *pg, void *p)
{
    struct sbl_block *b = (struct sbl_block *)p;
    b->next = pg->free;
    pg->free = b;
    if (SBL_UNLIKELY(--pg->used == 0))
        sbl_heap_retire(s->heap, pg);
}

/* free by the owning thread. Cost (same measure): 16 instructions in free()
 * with its return, the page's last block included (sbl_free_slow takes p
 * first, where the caller put it): one compare of p - 1 with
 * sbl_free_limit (NULL, and every pointer in slow mode, where secure mode
 * checks p before any header is read), the segment mask, the index of p's
 * slice from p's own bits, one compare of the descriptor's owner word with
 * the thread pointer (the owner's tag and the flags together: see types.h),
 * the push (onto pg->free, the list malloc pops: the block freed last is
 * the next one handed out, while it is still in the cache) and the used
 * count (the owner word in the descriptor's second cache line, the
 * push and the count in its first: see types.h). A page that
 * stays when it empties (kept) holds one count of its own, so its last free
 * does not reach 0; other pages call sbl_heap_retire there. The descriptor
 * read is that of p's slice: a block in a later slice of its span
 * (SBL_PF_INTERIOR there), remote frees, frees into a heap without its
 * thread, full pages, huge blocks and the extensions (partial free,
 * interior pointers) are all behind the one test `pg->owner == tag`. (A
 * huge block placed at a 4 MiB boundary has p's slice bits 0 here, and
 * the colour bits of the segment after its own: the entry [64] of its
 * window, or for the last colour desc[0] (not in its window: owner 0),
 * which sbl_free_slow maps back to [64].) */

static inline void sbl_free_inline(void *p)
{
    uintptr_t t = (uintptr_t)p - 1;
    if (SBL_UNLIKELY(t >= sbl_free_limit)) {
        sbl_free_slow_mode(p); /* NULL, or slow mode */
        return;
    }
    struct sbl_segment *s = (struct sbl_segment *)(t & ~(uintptr_t)SBL_SEG_MASK);
    uintptr_t i = sbl_slice_desc(p);
#if defined(__x86_64__)
    /* sbl_free_is_local and sbl_free_local_plain, with the descriptor's
       fields addressed as s + i + displacement: the compiler would give the
       descriptor's address a register (one instruction more) */
#define SBL_PG_FIELD(f) (offsetof(struct sbl_segment, desc) + offsetof(struct sbl_page, f))
    __asm__ goto("cmp %[tag], %c[own](%[s],%[i])\n\t"
                 "jne %l[other]\n\t"
                 "mov %c[fl](%[s],%[i]), %%r11\n\t"
                 "mov %%r11, (%[p])\n\t"
                 "mov %[p], %c[fl](%[s],%[i])\n\t"
                 "subw $1, %c[used](%[s],%[i])\n\t"
                 "je %l[empty]"
                 :
                 : [tag] "r"(sbl_owner_tag(NULL)), [s] "r"(s), [i] "r"(i), [p] "r"(p),
                   [own] "i"(SBL_PG_FIELD(owner)), [fl] "i"(SBL_PG_FIELD(free)),
                   [used] "i"(SBL_PG_FIELD(used))
                 : "cc", "memory", "r11"
                 : other, empty);
#undef SBL_PG_FIELD
    return;
empty:
    sbl_heap_retire(s->heap, (struct sbl_page *)((char *)s->desc + i));
    return;
other:
    sbl_free_slow(p, s, (struct sbl_page *)((char *)s->desc + i));
#else
    struct sbl_page *pg = (struct sbl_page *)((char *)s->desc + i);
    if (SBL_LIKELY(sbl_free_is_local(pg))) {
        sbl_free_local_plain(s, pg, p);
        return;
    }
    sbl_free_slow(p, s, pg);
#endif
}

/* A one-block page of a big class may start its block a few cache lines
   into its span (its colour, segment.c): whether the class's pages do, where
   the span starts, and how far in the block does. Huge pages are not spans. */
static inline bool sbl_class_coloured(unsigned cls)
{
    size_t bs = sbl_class_size(cls);
    return bs > ((size_t)64 << 10) &&
           (size_t)sbl_class_slices[cls] * SBL_SLICE_SIZE - bs >= SBL_OS_PAGE;
}

static inline size_t sbl_page_colour(const struct sbl_page *pg)
{
    return (uintptr_t)pg->start & (SBL_SLICE_SIZE - 1);
}

static inline uint8_t *sbl_span_start(const struct sbl_page *pg)
{
    return pg->start - sbl_page_colour(pg);
}

/* the OS page that holds the page's first block */
static inline uint8_t *sbl_page_first(const struct sbl_page *pg)
{
    return (uint8_t *)((uintptr_t)pg->start & ~(uintptr_t)(SBL_OS_PAGE - 1));
}

/* the start of the block holding p (p itself unless the page holds
   interior pointers) */
static inline uint8_t *sbl_block_start(const struct sbl_page *pg, const void *p)
{
    size_t d = (size_t)((const uint8_t *)p - pg->start);
    return pg->start + d - d % pg->block_size;
}

/* the whole size of the block holding p (what statistics count), whatever
   p's offset in it or its released ranges */
static inline size_t sbl_block_extent(const void *p)
{
    struct sbl_segment *s = sbl_segment_of(p);
    struct sbl_page *pg = sbl_page_of(s, p);
    return (sbl_page_flags(pg) & SBL_PF_HUGE) ? s->huge_size : pg->block_size;
}

static inline size_t sbl_usable_size(const void *p)
{
    struct sbl_segment *s = sbl_segment_of(p);
    struct sbl_page *pg = sbl_page_of(s, p);
    if (SBL_LIKELY(sbl_page_flags(pg) == 0))
        return pg->block_size;
    const uint8_t *start = (sbl_page_flags(pg) & SBL_PF_HUGE) ? pg->start : sbl_block_start(pg, p);
    size_t size = (sbl_page_flags(pg) & SBL_PF_HUGE) ? s->huge_size : pg->block_size;
    size_t u = size - (size_t)((const uint8_t *)p - start);
    if (sbl_page_flags(pg) & SBL_PF_RANGE)
        u = sbl_range_usable(start, p, u);
    return u;
}

#endif
