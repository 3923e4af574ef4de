/* secure.c: secure mode (SABLE_SECURE=1, read once at start-up).
 *
 *  - freed memory is zeroed: straight 16-byte stores up to 128 bytes,
 *    32-byte (AVX2) stores up to 16 KiB, memset up to 32 KiB, and from
 *    there with the kernel's help, in the way the class's blocks call for
 *    (memset, or memset of the pages that hold RAM, or of the first page
 *    with the rest given back: see SECURE_PROBE_MIN); a huge block the
 *    same, its mapping then kept for reuse as in normal mode (huge.c), or,
 *    where normal mode would unmap it, unmapped but for a quarantined
 *    header;
 *  - a double free, the free of an interior, misaligned or foreign pointer,
 *    and an invalid sable_free_range are reported with one line on stderr
 *    (operation, pointer, what was wrong), then sable aborts;
 *  - free-list links are stored xor-ed with a per-process secret and the
 *    block's address, so a simple overwrite does not steer malloc: a link
 *    that decodes outside its page's segment is reported when popped.
 * A freed block carries a marker (word 1, derived from the secret and its
 * address) that a second free finds; it also tells calloc that the block
 * is zero already (blocks carved fresh have word 1 cleared, so a stale
 * marker of an earlier layout of the same memory does not count).
 *
 * Secure mode is part of "slow mode" (hooks.c): the inline fast paths of
 * normal mode are untouched and never see an encoded link. Secure mode
 * alone (no statistics, log or Valgrind) has lean paths of its own, at
 * the exits of the fast paths: sbl_secure_alloc_small (malloc <= 1 KiB),
 * sbl_secure_free (the owner's free of a block of a plain page: no
 * registry lookup, no division, no stack frame), sbl_secure_calloc and
 * sbl_secure_aligned; any other case takes the general slow path, which
 * checks with sbl_secure_check. */
#define _GNU_SOURCE
#include "internal.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define SBL_HAVE_AVX2 1 /* zero_avx2 exists; it runs where the CPU has AVX2 */
#endif
#include <stdlib.h>
#include <unistd.h>

#include "vg.h"

/* class -> ceil(2^43 / class size): the block index of an offset d < 4 MiB
   in a page of the class is (d * inv) >> 43, exactly (the error of inv is
   below the size, so d * error < 2^22 * 2^21 = 2^43): no division on free */
#define INV_SHIFT 43
static uint64_t class_inv[SBL_NCLASSES];
#ifdef SBL_HAVE_AVX2
static bool zero_avx2_ok; /* the CPU has AVX2: see zero_avx2 */
#endif

void sbl_secure_init(void)
{
    sbl_opt.key = sbl_os_random() | 1;
    sbl_opt.mark = sbl_opt.key * 0x2545f4914f6cdd1dull;
#ifdef SBL_HAVE_AVX2
    __builtin_cpu_init(); /* (the first malloc may come before constructors) */
    zero_avx2_ok = __builtin_cpu_supports("avx2");
#endif
    for (unsigned c = 0; c < SBL_NCLASSES; c++) {
        uint64_t sz = sbl_class_size(c);
        class_inv[c] = (((uint64_t)1 << INV_SHIFT) + sz - 1) / sz;
    }
}

struct sbl_block *sbl_next_get_slow(const struct sbl_block *b)
{
    if (sbl_opt.valgrind)
        VALGRIND_MAKE_MEM_DEFINED(b, sizeof *b);
    uintptr_t v = (uintptr_t)b->next;
    if (sbl_opt.secure)
        v ^= sbl_link_code(b);
    return (struct sbl_block *)v;
}

void sbl_next_set_slow(struct sbl_block *b, struct sbl_block *v)
{
    if (sbl_opt.valgrind)
        VALGRIND_MAKE_MEM_UNDEFINED(b, sizeof *b);
    uintptr_t x = (uintptr_t)v;
    if (sbl_opt.secure)
        x ^= sbl_link_code(b);
    b->next = (struct sbl_block *)x;
}

static inline uintptr_t freed_marker(const void *start) { return sbl_opt.mark ^ (uintptr_t)start; }

/* "sable: free(0x...): double free" on stderr, then abort */
void sbl_report(const char *op, const void *p, const char *what)
{
    struct sbl_line l = {.n = 0};
    sbl_line_str(&l, "sable: ");
    sbl_line_str(&l, op);
    sbl_line_str(&l, "(");
    sbl_line_hex(&l, (uintptr_t)p);
    sbl_line_str(&l, "): ");
    sbl_line_str(&l, what);
    sbl_line_write(&l, 2);
    abort();
}

/* p is the start of a live block of a plain page (in use, no flag but
   SBL_PF_SLOW and maybe SBL_PF_FULL or SBL_PF_DETACHED), seen through its
   page descriptor: pg->start .. reserved blocks, a multiple of the block
   size from the start, and no freed-marker in word 1. (A detached page
   holds one block, whose size may differ from its class's: with reserved
   1, only the page's start passes.) */
static inline __attribute__((always_inline)) bool plain_live(const struct sbl_page *pg,
                                                             const void *p)
{
    /* flags SBL_PF_SLOW (the page may be full or detached) and in use */
    unsigned f = sbl_page_flags(pg) & ~(unsigned)(SBL_PF_FULL | SBL_PF_DETACHED);
    size_t d = (size_t)((const uint8_t *)p - pg->start); /* huge when p < start */
    if (f != SBL_PF_SLOW || sbl_page_in_use(pg) != SBL_PAGE_LIVE || d >= SBL_SEG_SIZE)
        return false;
    uint64_t idx = ((uint64_t)d * class_inv[pg->cls]) >> INV_SHIFT;
    return idx < pg->reserved && idx * pg->block_size == d &&
           ((const uintptr_t *)p)[1] != freed_marker(p);
}

/* the common case of sbl_secure_check: a live block of a plain page of a
   segment of sable's (the registry first: p may be anything) */
static inline __attribute__((always_inline)) bool quick_live(const void *p)
{
    uintptr_t c = ((uintptr_t)p - 1) >> SBL_SEG_SHIFT;
    if (c >= SBL_REG_CHUNKS || sbl_registry == NULL ||
        __atomic_load_n(&sbl_registry[c], __ATOMIC_RELAXED) != 1)
        return false;
    struct sbl_segment *seg = sbl_segment_of(p);
    return seg->kind == SBL_SEG_NORMAL && seg->heap != NULL &&
           (const uint8_t *)p >= (const uint8_t *)seg + SBL_SLICE_SIZE &&
           plain_live(sbl_page_of(seg, p), p);
}

static SBL_NOINLINE void secure_check_full(const char *op, const void *p);

/* Checks that p is a live block's pointer as sable handed it out. */
void sbl_secure_check(const char *op, const void *p)
{
    if (SBL_LIKELY(quick_live(p)))
        return;
    secure_check_full(op, p);
}

/* realloc and resize_in_place in secure mode alone: the check, then the
   call (no hooks to run) */
void *sbl_secure_realloc(void *p, size_t n, bool may_move)
{
    if (p != NULL && SBL_UNLIKELY(!quick_live(p))) /* (the registry first) */
        secure_check_full(may_move ? "realloc" : "resize_in_place", p);
    return may_move ? sbl_realloc(p, n) : sbl_resize_in_place(p, n);
}

static SBL_NOINLINE void secure_check_full(const char *op, const void *p)
{
    struct sbl_segment *s = sbl_registry_find(p);
    if (s == NULL)
        sbl_report(op, p, "not a pointer from sable (foreign, or a huge block already freed)");
    if (s->kind == SBL_SEG_FREED || s->kind == SBL_SEG_CACHED)
        sbl_report(op, p, "double free (of a huge block)");
    if (s->kind == SBL_SEG_HUGE) {
        if ((const uint8_t *)p != sbl_seg_pages(s)->start)
            sbl_report(op, p, "interior pointer of a huge block");
        return;
    }
    if (s->heap == NULL || (const uint8_t *)p < (const uint8_t *)s + SBL_SLICE_SIZE)
        sbl_report(op, p, "pointer into memory sable does not hand out");
    struct sbl_page *pg = sbl_page_of(s, p);
    if (sbl_page_in_use(pg) == SBL_PAGE_FREE)
        sbl_report(op, p, "pointer into a free page (double free?)");
    if ((const uint8_t *)p < pg->start ||
        (const uint8_t *)p >= pg->start + (size_t)pg->reserved * pg->block_size)
        sbl_report(op, p, "pointer to no block");
    const uint8_t *start = sbl_block_start(pg, p);
    if (start != (const uint8_t *)p && !(sbl_page_flags(pg) & SBL_PF_ALIGNED))
        sbl_report(op, p, (uintptr_t)p % 16 ? "misaligned pointer" : "interior pointer of a block");
    if (((const uintptr_t *)start)[1] == freed_marker(start))
        sbl_report(op, p, "double free");
}

/* Blocks from SECURE_PROBE_MIN up are zeroed with the kernel's help (a
 * page that holds no RAM reads as zero already), in one of two ways per
 * thread and class, chosen by what the class's blocks look like when
 * freed:
 *  - dense (the block's pages nearly all hold RAM: a buffer filled, a
 *    realloc grown): memset of the whole block below SECURE_PURGE_MIN;
 *    from there mincore(2), then memset of the pages that hold RAM (they
 *    stay, as in normal mode: no page fault at the next use);
 *  - sparse (a program wrote a few pages of a big block): memset of the
 *    first page, which programs write most, and MADV_DONTNEED for the
 *    rest, so that no page the program never touched is faulted in.
 * A "probe" (mincore, then memset of what holds RAM) looks at a block of
 * the class every PROBE_EVERY frees in the sparse way, every free in the
 * dense way from SECURE_PURGE_MIN up. Below SECURE_PURGE_MIN a block freed
 * sparse again soon after (one of the last RECENT_N sparse frees of the
 * thread: a block reused in a loop) is written whole, and the class's next
 * free probes: a block reused in a loop is faulted in once and then found
 * dense (memset is cheaper from then on). Costs measured on the development
 * VM: a system call about 2 us, a page fault about 13 us, memset 0.6 us
 * for 64 KiB and 9 us for 1 MiB. */
#define SECURE_PROBE_MIN ((size_t)32 << 10)
#define SECURE_PURGE_MIN ((size_t)256 << 10)
/* Blocks up to this size are zeroed by inline 16-byte stores (no call, so
   the lean free needs no stack frame); larger ones by 32-byte stores or
   memset. */
#define SECURE_INLINE_MAX 128

#define PROBE_EVERY 64   /* < ZMODE_DENSE */
#define ZMODE_DENSE 0x80 /* zmode: the class's blocks are dense */
#define RECENT_N 16
#define ZMODE_HUGE SBL_NCLASSES /* zmode's slot for huge blocks */
/* [class, or ZMODE_HUGE]: ZMODE_DENSE or not, | frees left before the next probe */
static __thread uint8_t zmode[SBL_NCLASSES + 1] __attribute__((tls_model("initial-exec")));
/* the thread's last blocks below SECURE_PURGE_MIN freed the sparse way */
static __thread uintptr_t recent[RECENT_N] __attribute__((tls_model("initial-exec")));
static __thread unsigned recent_next __attribute__((tls_model("initial-exec")));

/* pages asked about per mincore call (the vector is on the stack) */
#define ZERO_CHUNK_PAGES 1024
/* a chunk whose pages that hold no RAM form more runs than this is given
   back whole (one system call) instead of one call per run */
#define ZERO_RUNS_MAX 4

/* [p, p + n) reads as zero: its pages given back, or written where the
   kernel refuses (locked memory) */
static void drop(uint8_t *p, size_t n)
{
    if (!sbl_os_purge(p, n))
        memset(p, 0, n);
}

/* Zeroes [p, p + len), page-aligned, len at most ZERO_CHUNK_PAGES pages;
   returns how many of its pages held RAM. The pages that hold RAM are
   written with zeros (they stay resident); the runs of pages that hold
   none read as zero already, unless the kernel swapped them out (mincore
   does not tell those apart), so they are given back (MADV_DONTNEED:
   nothing to free, no page fault later). Where the kernel does not answer,
   or the runs are many, the whole range goes back. */
static size_t zero_chunk(uint8_t *p, size_t len)
{
    unsigned char vec[ZERO_CHUNK_PAGES];
    size_t np = len / SBL_OS_PAGE;
    if (!sbl_os_resident(p, len, vec)) {
        drop(p, len);
        return np;
    }
    unsigned runs = 0;
    size_t resident = 0;
    for (size_t i = 0; i < np; i++) {
        runs += !(vec[i] & 1) && (i == 0 || (vec[i - 1] & 1));
        resident += vec[i] & 1;
    }
    if (runs > ZERO_RUNS_MAX) {
        drop(p, len);
        return resident;
    }
    for (size_t i = 0; i < np;) {
        size_t j = i + 1;
        while (j < np && (vec[j] & 1) == (vec[i] & 1))
            j++;
        uint8_t *a = p + i * SBL_OS_PAGE;
        size_t n = (j - i) * SBL_OS_PAGE;
        if (vec[i] & 1)
            memset(a, 0, n);
        else
            drop(a, n);
        i = j;
    }
    return resident;
}

/* Zeroes [p, p + n), both multiples of the OS page, writing only the pages
   that hold RAM (the probe); returns how many did. */
static size_t zero_resident(uint8_t *p, size_t n)
{
    const size_t chunk = (size_t)ZERO_CHUNK_PAGES * SBL_OS_PAGE;
    size_t resident = 0;
    for (; n > chunk; p += chunk, n -= chunk)
        resident += zero_chunk(p, chunk);
    if (n > 0)
        resident += zero_chunk(p, n);
    return resident;
}

/* the tail a shrinking realloc gives back (page-aligned) */
void sbl_secure_zero_pages(uint8_t *p, size_t n) { zero_resident(p, n); }

/* whether b is one of the thread's last sparse frees (then forgotten) */
static bool recent_take(uintptr_t b)
{
    for (unsigned i = 0; i < RECENT_N; i++)
        if (recent[i] == b) {
            recent[i] = 0;
            return true;
        }
    return false;
}

static void recent_put(uintptr_t b)
{
    recent[recent_next] = b;
    recent_next = (recent_next + 1) % RECENT_N;
}

/* bytes 16 .. size of a page-aligned block of at least SECURE_PROBE_MIN
   bytes, a multiple of the page, by the way zmode[slot] says (see above) */
static void zero_big(uint8_t *start, size_t size, unsigned slot)
{
    bool mid = size < SECURE_PURGE_MIN;
    unsigned st = zmode[slot];
    uint8_t *rest = start + SBL_OS_PAGE;
    size_t n = size - SBL_OS_PAGE;
    memset(start + 16, 0, SBL_OS_PAGE - 16);
    if (mid && (st & ZMODE_DENSE) && (st & ~ZMODE_DENSE) != 0) {
        zmode[slot] = (uint8_t)(st - 1);
        memset(rest, 0, n);
        return;
    }
    if (mid && recent_take((uintptr_t)start)) { /* reused: written whole, then probed */
        zmode[slot] = ZMODE_DENSE;
        memset(rest, 0, n);
        return;
    }
    if (!(st & ZMODE_DENSE) && st != 0) { /* sparse, no probe due */
        zmode[slot] = (uint8_t)(st - 1);
        if (mid)
            recent_put((uintptr_t)start);
        drop(rest, n);
        return;
    }
    size_t resident = zero_resident(rest, n);
    bool dense = resident * 8 >= (n / SBL_OS_PAGE) * 7;
    zmode[slot] = (uint8_t)((dense ? ZMODE_DENSE : 0) | PROBE_EVERY);
    if (mid && !dense)
        recent_put((uintptr_t)start);
}

/* a freed huge block kept for reuse (huge.c): all of it */
void sbl_secure_zero_huge(uint8_t *start, size_t size)
{
    memset(start, 0, 16);
    zero_big(start, size, ZMODE_HUGE);
}

/* bytes 16 .. size of a block from SECURE_PROBE_MIN up (page-aligned in
   practice: classes from 32 KiB are multiples of 8 KiB and pages start on
   a slice; otherwise memset, and from SECURE_PURGE_MIN the whole pages
   inside by the probe) */
static SBL_NOINLINE void scrub_big(uint8_t *start, size_t size)
{
    if ((((uintptr_t)start | size) & (SBL_OS_PAGE - 1)) == 0) {
        zero_big(start, size, sbl_size_class(size));
        return;
    }
    if (size < SECURE_PURGE_MIN) {
        memset(start + 16, 0, size - 16);
        return;
    }
    uintptr_t lo = ((uintptr_t)start + 16 + SBL_OS_PAGE - 1) & ~(SBL_OS_PAGE - 1);
    uintptr_t hi = ((uintptr_t)start + size) & ~(SBL_OS_PAGE - 1);
    memset(start + 16, 0, lo - (uintptr_t)start - 16);
    zero_resident((uint8_t *)lo, hi - lo);
    memset((void *)hi, 0, (uintptr_t)start + size - hi);
}

typedef uint64_t sbl_v16 __attribute__((vector_size(16)));

/* bytes 16 .. size of a block of at most SECURE_INLINE_MAX bytes (size a
   multiple of 16): one jump to the right number of straight 16-byte stores
   (straight-line code: the compiler does not turn it into a memset call) */
_Static_assert(SECURE_INLINE_MAX == 128, "zero_inline has a case per 16 bytes up to 128");
static inline void zero_inline(uint8_t *start, size_t size)
{
    sbl_v16 z = {0, 0};
    __asm__("" : "+x"(z)); /* zeroed once, before the jump */
#define Z(off) (*(sbl_v16 *)(void *)(start + (off)) = z)
    switch (size >> 4) {
    case 8: Z(112); /* fall through */
    case 7: Z(96);  /* fall through */
    case 6: Z(80);  /* fall through */
    case 5: Z(64);  /* fall through */
    case 4: Z(48);  /* fall through */
    case 3: Z(32);  /* fall through */
    case 2: Z(16);  /* fall through */
    case 1: break;
    default: __builtin_unreachable();
    }
#undef Z
}

/* bytes 16 .. size of a block above SECURE_INLINE_MAX, up to
 * SECURE_AVX2_MAX, with 32-byte stores where the CPU has them (AVX2): as
 * fast as memset at these sizes (it also stores 32 bytes at a time, then
 * uses `rep stosb` from 2 KiB) or faster (no call, no size dispatch), and
 * 32 bytes per instruction where callgrind counts `rep stosb` one
 * instruction per byte. Blocks above 128 bytes are multiples of 32 bytes
 * and 32-byte aligned (pages start on 64 KiB, the classes are 160, 192 ...),
 * so after one 16-byte store every store is aligned. Other architectures
 * (and x86-64 CPUs without AVX2) use memset. */
#ifdef SBL_HAVE_AVX2
__attribute__((target("avx2"))) static void zero_avx2(uint8_t *start, size_t size)
{
    __m256i z = _mm256_setzero_si256();
    _mm_store_si128((__m128i *)(void *)(start + 16), _mm256_castsi256_si128(z));
    uint8_t *q = start + 32, *e = start + size;
    for (; e - q >= 128; q += 128) {
        _mm256_store_si256((__m256i *)(void *)q, z);
        _mm256_store_si256((__m256i *)(void *)(q + 32), z);
        _mm256_store_si256((__m256i *)(void *)(q + 64), z);
        _mm256_store_si256((__m256i *)(void *)(q + 96), z);
    }
    size_t r = (size_t)(e - q); /* 0, 32, 64 or 96 (no loop: it would become a memset call) */
    if (r >= 32)
        _mm256_store_si256((__m256i *)(void *)q, z);
    if (r >= 64)
        _mm256_store_si256((__m256i *)(void *)(q + 32), z);
    if (r >= 96)
        _mm256_store_si256((__m256i *)(void *)(q + 64), z);
}
#endif

/* up to this size the 32-byte store loop; above, memset's `rep stosb`
   (measured: equal at 16 KiB, 5-10% faster at 64 KiB) */
#define SECURE_AVX2_MAX ((size_t)16 << 10)

static inline void zero_mid(uint8_t *start, size_t size)
{
#ifdef SBL_HAVE_AVX2
    if (zero_avx2_ok && size <= SECURE_AVX2_MAX) {
        zero_avx2(start, size);
        return;
    }
#endif
    memset(start + 16, 0, size - 16);
}

/* zeroes a block but its first 16 bytes (the link and the freed-marker,
   which the caller writes); blocks are 16-byte aligned */
static inline void scrub(uint8_t *start, size_t size)
{
    if (size <= SECURE_INLINE_MAX)
        zero_inline(start, size);
    else if (size < SECURE_PROBE_MIN)
        zero_mid(start, size);
    else
        scrub_big(start, size);
}

void sbl_secure_freed(uint8_t *start, size_t size)
{
    ((uintptr_t *)start)[0] = 0;
    scrub(start, size);
    ((uintptr_t *)start)[1] = freed_marker(start);
}

/* A block leaves its free list (slow mode): addressable again for memcheck
 * (the API call's hook then describes it), its freed-marker cleared. */
void sbl_slow_handout(void *p, size_t size)
{
    if (sbl_opt.valgrind)
        VALGRIND_MAKE_MEM_UNDEFINED(p, size);
    if (sbl_opt.secure)
        ((uintptr_t *)p)[1] = 0;
}

/* ---- the lean paths of secure mode alone (no statistics, log or
 * Valgrind): the plain fast paths plus the encoded link, the checks and the
 * zeroing, without the general slow paths' detours. Every case they do not
 * recognise as plain (a foreign, interior, misaligned or double free among
 * them) goes to the general path, which checks again and reports. */

/* Pops b, the first block of pg->free: decodes and checks its link, clears
   its freed-marker. *zeroed (when asked): whether the block is known to
   hold zeros from byte 16 on (it was freed in secure mode, which zeroed
   it, and never handed out since). */
static inline __attribute__((always_inline)) struct sbl_block *secure_pop(struct sbl_page *pg,
                                                                          struct sbl_block *b,
                                                                          bool *zeroed)
{
    struct sbl_block *nx = (struct sbl_block *)((uintptr_t)b->next ^ sbl_link_code(b));
    sbl_secure_link_check(b, nx);
    pg->free = nx;
    pg->used++;
    uintptr_t *w = (uintptr_t *)b;
    if (zeroed != NULL)
        *zeroed = w[1] == freed_marker(b);
    w[1] = 0; /* the freed-marker */
    return b;
}

/* malloc of n <= SBL_DIRECT_MAX (the heap's direct table points to the
   empty page in slow mode): pop the first page's first block, or the
   general path when there is none (or on a thread's first call). */
void *sbl_secure_alloc_small(struct sbl_heap *h, size_t n)
{
    struct sbl_page *pg = h->sdirect[(n + 15) >> 4];
    struct sbl_block *b;
    if (SBL_UNLIKELY(pg == NULL || (b = pg->free) == NULL))
        return sbl_alloc_generic(n, h);
    return secure_pop(pg, b, NULL);
}

/* aligned_alloc and the like: as sbl_alloc_aligned (aligned.c), a block of
   the smallest class that holds n and is a multiple of the alignment,
   popped from the class's first page; the general path when that page has
   no free block */
void *sbl_secure_aligned(size_t align, size_t n)
{
    if (align > 16 && align <= SBL_SLICE_SIZE && n <= SBL_LARGE_MAX) {
        unsigned c = sbl_size_class(n);
        while (c < SBL_NCLASSES && (sbl_class_size(c) & (align - 1)) != 0)
            c++;
        struct sbl_page *pg = c < SBL_NCLASSES ? sbl_tls_heap->queues[c].first : NULL;
        struct sbl_block *b;
        if (pg != NULL && (b = pg->free) != NULL) /* (no page in the empty heap) */
            return secure_pop(pg, b, NULL);
    }
    return sbl_alloc_aligned(align, n);
}

/* calloc: a block freed in secure mode is zero already (but for its link
   and freed-marker): only a block that is not (carved fresh, or reached
   through the general path) is written with zeros. */
void *sbl_secure_calloc(size_t total)
{
    struct sbl_heap *h = sbl_tls_heap;
    if (total <= SBL_LARGE_MAX && h != &sbl_empty_heap) {
        unsigned cls = sbl_size_class(total);
        struct sbl_page *pg = h->queues[cls].first;
        struct sbl_block *b;
        if (pg != NULL && (b = pg->free) != NULL) {
            bool zeroed;
            secure_pop(pg, b, &zeroed);
            if (zeroed)
                b->next = NULL; /* word 1 was cleared by the pop */
            else
                memset(b, 0, total);
            return b;
        }
    }
    void *p = sbl_malloc_inline(total);
    /* a huge block is zero: mapped fresh, or a kept mapping, zeroed when
       it was freed (sbl_huge_free) */
    if (p != NULL && total <= SBL_LARGE_MAX)
        memset(p, 0, total);
    return p;
}

/* Carves n blocks of bs bytes at p into a list ending in `tail`, in slow
 * mode (segment.c's sbl_page_extend): links as sbl_next_set writes them;
 * in secure mode, encoded in one loop, and each block's word 1 cleared (a
 * stale freed-marker of an earlier layout of the slices must not make a
 * fresh block pass for a zeroed one, see sbl_secure_calloc). */
void sbl_slow_carve(uint8_t *p, uint32_t n, size_t bs, struct sbl_block *tail)
{
    if (sbl_opt.mode == SBL_MODE_SECURE) {
        for (uint32_t i = 0; i < n; i++) {
            uintptr_t *w = (uintptr_t *)(p + (size_t)i * bs);
            uintptr_t next = i + 1 < n ? (uintptr_t)(p + (size_t)(i + 1) * bs) : (uintptr_t)tail;
            w[0] = next ^ sbl_link_code((struct sbl_block *)w);
            w[1] = 0;
        }
        return;
    }
    for (uint32_t i = 0; i + 1 < n; i++)
        sbl_next_set((struct sbl_block *)(p + i * bs), (struct sbl_block *)(p + (i + 1) * bs));
    sbl_next_set((struct sbl_block *)(p + (size_t)(n - 1) * bs), tail);
    if (sbl_opt.secure)
        for (uint32_t i = 0; i < n; i++)
            ((uintptr_t *)(p + (size_t)i * bs))[1] = 0;
}

/* the lean free's page-empty case: the block zeroed, then the page retired
   (which may give its memory back) */
static SBL_NOINLINE void secure_free_last(struct sbl_heap *h, struct sbl_page *pg, uint8_t *p,
                                          size_t bs)
{
    scrub(p, bs);
    sbl_heap_retire(h, pg);
}

/* free by the owning thread of a block of a plain page: the checks (owner,
 * page in use and plain, the pointer a block's start, the block not freed
 * already: its freed-marker, word 1), the push with an encoded link, then
 * the zeroing of the rest of the block (bytes 16 on: the push writes only
 * the first 16). The page and segment come from the fast path (no registry
 * lookup: the fast path has read the same header already). No call but
 * tail calls, so no stack frame. */
void sbl_secure_free(struct sbl_segment *s, struct sbl_page *pg, void *p)
{
    struct sbl_heap *h = s->heap;
    /* flags exactly SBL_PF_SLOW, and in use (slice 0, the header, never is) */
    size_t d = (size_t)((uint8_t *)p - pg->start); /* huge when p < start */
    if (SBL_UNLIKELY(h != sbl_tls_heap || sbl_page_flags(pg) != SBL_PF_SLOW ||
                     sbl_page_in_use(pg) != SBL_PAGE_LIVE || d >= SBL_SEG_SIZE))
        goto general;
    uint64_t idx = ((uint64_t)d * class_inv[pg->cls]) >> INV_SHIFT;
    size_t bs = pg->block_size;
    uintptr_t *w = p;
    uintptr_t mk = freed_marker(p);
    if (SBL_UNLIKELY(idx >= pg->reserved || idx * bs != d || w[1] == mk))
        goto general; /* not a block's start, or a double free */
    w[1] = mk;
    w[0] = (uintptr_t)pg->free ^ sbl_link_code(p);
    pg->free = p;
    if (SBL_LIKELY(bs <= SECURE_INLINE_MAX)) {
        zero_inline(p, bs);
        if (SBL_UNLIKELY(--pg->used == 0))
            sbl_heap_retire(h, pg);
        return;
    }
    if (SBL_UNLIKELY(--pg->used == 0))
        secure_free_last(h, pg, p, bs);
    else if (bs < SECURE_PROBE_MIN)
        zero_mid(p, bs);
    else
        scrub_big(p, bs);
    return;
general:
    sbl_free_checked(s, pg, p);
}
