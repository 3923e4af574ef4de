/* secure.c: secure mode (SABLE_SECURE=1, read once at start-up).
 *
 *  - freed memory is zeroed: an inline loop up to 256 bytes, memset up to
 *    256 KiB, and from there the block's whole pages go back to the OS
 *    (MADV_DONTNEED: they read back as zero) with memset for the partial
 *    pages at both ends; huge blocks are unmapped;
 *  - a double free, the free of an interior, misaligned or foreign pointer,
 *    and an invalid sable_free_range are reported with one line on stderr
 *    (operation, pointer, what was wrong), then sable aborts;
 *  - free-list links are stored xor-ed with a per-process secret and the
 *    block's address, so a simple overwrite does not steer malloc: a link
 *    that decodes outside its page's segment is reported when popped.
 * A freed block carries a marker (word 1, derived from the secret and its
 * address) that a second free finds.
 *
 * Secure mode is part of "slow mode" (hooks.c): the inline fast paths of
 * normal mode are untouched and never see an encoded link. Secure mode
 * alone (no statistics, log or Valgrind) has lean paths of its own, at
 * the exits of the fast paths: sbl_secure_alloc_small (malloc <= 1 KiB)
 * and sbl_secure_free (the owner's free of a block of a plain page); any
 * other case takes the general slow path, which checks with
 * sbl_secure_check. */
#define _GNU_SOURCE
#include "internal.h"

#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define SBL_HAVE_VALGRIND 1
#endif
#endif
#ifndef SBL_HAVE_VALGRIND
#define VALGRIND_MAKE_MEM_DEFINED(p, n) ((void)(p), (void)(n))
#define VALGRIND_MAKE_MEM_UNDEFINED(p, n) ((void)(p), (void)(n))
#endif

void sbl_secure_init(void)
{
    uintptr_t k = 0;
    long r = syscall(SYS_getrandom, &k, sizeof k, 0x1 /* GRND_NONBLOCK */);
    if (r != (long)sizeof k) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        k = (uintptr_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uintptr_t)&k ^ (uintptr_t)getpid();
    }
    sbl_opt.key = k | 1;
    sbl_opt.mark = sbl_opt.key * 0x2545f4914f6cdd1dull;
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

static inline uintptr_t freed_marker(const void *start)
{
    return sbl_opt.mark ^ (uintptr_t)start;
}

static size_t fmt_hex(char *out, uintptr_t v)
{
    char tmp[16];
    size_t n = 0;
    do {
        tmp[n++] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    out[0] = '0';
    out[1] = 'x';
    for (size_t i = 0; i < n; i++)
        out[2 + i] = tmp[n - 1 - i];
    return n + 2;
}

/* "sable: free(0x...): double free" on stderr, then abort */
void sbl_report(const char *op, const void *p, const char *what)
{
    char line[256];
    size_t n = 0;
    const char *head = "sable: ";
    while (*head)
        line[n++] = *head++;
    while (*op && n < 40)
        line[n++] = *op++;
    line[n++] = '(';
    n += fmt_hex(line + n, (uintptr_t)p);
    line[n++] = ')';
    line[n++] = ':';
    line[n++] = ' ';
    while (*what && n < sizeof line - 1)
        line[n++] = *what++;
    line[n++] = '\n';
    sbl_os_write(2, line, n);
    abort();
}

/* Checks that p is a live block's pointer as sable handed it out. */
void sbl_secure_check(const char *op, const void *p)
{
    struct sbl_segment *s = sbl_registry_find(p);
    if (s == NULL)
        sbl_report(op, p, "not a pointer from sable (foreign, or a huge block already freed)");
    if (s->kind == SBL_SEG_FREED)
        sbl_report(op, p, "double free (of a huge block)");
    if (s->kind == SBL_SEG_HUGE) {
        if ((const uint8_t *)p != s->pages[0].start)
            sbl_report(op, p, "interior pointer of a huge block");
        return;
    }
    if (s->heap == NULL || (const uint8_t *)p < (const uint8_t *)s + SBL_SLICE_SIZE)
        sbl_report(op, p, "pointer into memory sable does not hand out");
    struct sbl_page *pg = sbl_page_of(s, p);
    if (!pg->in_use)
        sbl_report(op, p, "pointer into a free page (double free?)");
    if ((const uint8_t *)p < pg->start ||
        (const uint8_t *)p >= pg->start + (size_t)pg->reserved * pg->block_size)
        sbl_report(op, p, "pointer to no block");
    const uint8_t *start = sbl_block_start(pg, p);
    if (start != (const uint8_t *)p && !(pg->flags & SBL_PF_ALIGNED))
        sbl_report(op, p, (uintptr_t)p % 16 ? "misaligned pointer" : "interior pointer of a block");
    if (((const uintptr_t *)start)[1] == freed_marker(start))
        sbl_report(op, p, "double free");
}

/* Blocks from this size up give their whole pages back to the OS when
   freed (read back as zero) instead of being written with zeros. */
#define SECURE_PURGE_MIN ((size_t)256 << 10)

/* blocks from SECURE_PURGE_MIN up: whole pages go back to the OS */
static SBL_NOINLINE void scrub_large(uint8_t *start, size_t size)
{
    uintptr_t lo = ((uintptr_t)start + 16 + SBL_OS_PAGE - 1) & ~(SBL_OS_PAGE - 1);
    uintptr_t hi = ((uintptr_t)start + size) & ~(SBL_OS_PAGE - 1);
    memset(start + 16, 0, lo - (uintptr_t)start - 16);
    sbl_os_purge((void *)lo, hi - lo);
    memset((void *)hi, 0, (uintptr_t)start + size - hi);
}

typedef uint64_t sbl_v16 __attribute__((vector_size(16)));

/* zeroes a block but its first 16 bytes (the link and the freed-marker,
   which the caller writes); blocks are 16-byte aligned */
static inline void scrub(uint8_t *start, size_t size)
{
    if (size <= 256) {
        /* an inline loop: cheaper than a call for the small classes */
        sbl_v16 z = {0, 0};
        for (size_t i = 16; i < size; i += 16) {
            *(volatile sbl_v16 *)(start + i) = z;
        }
    } else if (size < SECURE_PURGE_MIN) {
        memset(start + 16, 0, size - 16);
    } else {
        scrub_large(start, size);
    }
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
 * scrubbing, without the general slow paths' detours. Every case they do
 * not recognise as plain goes to the general path, which reports misuse. */

/* malloc of n <= SBL_DIRECT_MAX (the heap's direct table points to the
   empty page in slow mode): pop the first page's first block, or the
   general path when there is none (or on a thread's first call). */
void *sbl_secure_alloc_small(struct sbl_heap *h, size_t n)
{
    struct sbl_page *pg = h->sdirect[(n + 15) >> 4];
    struct sbl_block *b;
    if (SBL_UNLIKELY(pg == NULL || (b = pg->free) == NULL))
        return sbl_alloc_generic(h, n);
    struct sbl_block *nx = (struct sbl_block *)((uintptr_t)b->next ^ sbl_link_code(b));
    sbl_secure_link_check(b, nx);
    pg->free = nx;
    pg->used++;
    ((uintptr_t *)b)[1] = 0; /* the freed-marker */
    return b;
}

/* free by the owning thread of a block of a plain page: checks (a double
 * free is seen through the freed-marker, word 1), scrubs, pushes with an
 * encoded link. Any other case goes to the general path (which reports
 * misuse). */
_Static_assert(offsetof(struct sbl_page, in_use) == offsetof(struct sbl_page, flags) + 3 &&
                   __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "flags .. in_use: one little-endian word");

void sbl_secure_free(struct sbl_segment *s, struct sbl_page *pg, void *p)
{
    uintptr_t c = (uintptr_t)s >> SBL_SEG_SHIFT;
    if (SBL_UNLIKELY(c >= SBL_REG_CHUNKS || sbl_registry == NULL || sbl_registry[c] != 1))
        goto general;
    struct sbl_heap *h = s->heap;
    /* flags exactly SBL_PF_SLOW and in_use (bytes 0 and 3 of the word);
       slice 0, the header, is never in use */
    uint32_t fw;
    memcpy(&fw, &pg->flags, sizeof fw);
    if (SBL_UNLIKELY(h != sbl_tls_heap || (fw & 0xff0000ffu) != (SBL_PF_SLOW | (1u << 24))))
        goto general;
    size_t d = (size_t)((uint8_t *)p - pg->start); /* huge when p < start */
    uint32_t bs = pg->block_size;
    if (SBL_UNLIKELY(d >= (size_t)pg->reserved * bs || (uint32_t)d % bs != 0))
        goto general;
    uintptr_t *w = p;
    if (SBL_UNLIKELY(w[1] == freed_marker(p)))
        sbl_report("free", p, "double free");
    scrub(p, bs);
    w[1] = freed_marker(p);
    struct sbl_block *b = p;
    b->next = (struct sbl_block *)((uintptr_t)pg->free ^ sbl_link_code(b));
    pg->free = b;
    if (SBL_UNLIKELY(--pg->used == 0))
        sbl_heap_retire(h, pg);
    return;
general:
    sbl_free_general(s, pg, p);
}
