/* sable.h: heapmark's allocator.
 *
 * libsable replaces the whole C allocation API (malloc, free, calloc,
 * realloc, reallocarray, posix_memalign, aligned_alloc, memalign, valloc,
 * pvalloc, malloc_usable_size, free_sized, free_aligned_sized, cfree and
 * glibc's __libc_* names): link it first (-lsable) or LD_PRELOAD it. The
 * sable_* names below are the same functions under sable's own names, plus
 * the calls only sable has.
 *
 * Behaviour worth knowing:
 *  - every block is at least 16-byte aligned; malloc(0) returns a unique
 *    16-byte block; realloc(p, 0) returns a minimum-size block (not NULL);
 *  - requests above PTRDIFF_MAX fail with ENOMEM; failures set errno to
 *    ENOMEM (EINVAL for a bad alignment); free never changes errno;
 *  - settings come from the environment (read once, at start-up):
 *      SABLE_PURGE_DELAY=<ms>  how long free memory stays committed before
 *                              it goes back to the OS (default 50).
 *    An unknown SABLE_* variable or a malformed value gets one warning line
 *    on stderr.
 */
#ifndef SABLE_H
#define SABLE_H

#include <stddef.h>

/* The version of this header; sable_version() returns the library's, which
 * a program can compare with it. The shared library's soname carries the
 * major version (libsable.so.0): the ABI changes only with it. */
#define SABLE_VERSION_MAJOR 0
#define SABLE_VERSION_MINOR 1
#define SABLE_VERSION_PATCH 0
#define SABLE_VERSION_STRING "0.1.0"
/* one number that grows with every release: 10000 * major + 100 * minor + patch */
#define SABLE_VERSION_NUMBER                                                                       \
    (SABLE_VERSION_MAJOR * 10000 + SABLE_VERSION_MINOR * 100 + SABLE_VERSION_PATCH)

#ifdef __cplusplus
extern "C" {
#endif

void *sable_malloc(size_t n);
void sable_free(void *p);
void *sable_calloc(size_t count, size_t n);
void *sable_realloc(void *p, size_t n);
void *sable_reallocarray(void *p, size_t count, size_t n);
int sable_posix_memalign(void **out, size_t align, size_t n);
void *sable_aligned_alloc(size_t align, size_t n);
void *sable_memalign(size_t align, size_t n);
void *sable_valloc(size_t n);
void *sable_pvalloc(size_t n);
size_t sable_usable_size(const void *p);
void sable_free_sized(void *p, size_t n);
void sable_free_aligned_sized(void *p, size_t align, size_t n);

/* Grows or shrinks p's block to n bytes without moving it: returns p, or
 * NULL and leaves the block, its contents and its usable size untouched.
 * Small blocks: within their block. Blocks above 64 KiB: into the free
 * address space after them (shrinking gives their tail back to the OS).
 * Huge blocks (above 2 MiB): into the address space reserved after them.
 * realloc tries this first. */
void *sable_resize_in_place(void *p, size_t n);

/* Any alignment > 0, not only powers of two (3, 24, 1000, 12288...): the
 * result is a multiple of align, free() and realloc() accept it, and a zero
 * size gives a unique pointer. align == 0: NULL with EINVAL. */
void *sable_aligned_alloc_any(size_t align, size_t n);

/* Partial free: releases [p, p+n) inside one live block (a prefix, a
 * suffix, a middle, several pieces in any order; the block's extent is its
 * usable size). The bytes not released stay valid. The block is freed when
 * every byte is released, or by free() of its start, which releases what
 * remains; realloc() makes it whole again. Blocks above 64 KiB give the
 * whole OS pages of a released range back at once, and a released tail is
 * cut off the block for reuse. Returns 0; EINVAL (nothing changed) for a
 * range outside a live block, overlapping a released range, or NULL with
 * n > 0; ENOMEM when a block would have more than 15 released pieces or
 * more than 6000 blocks are partially freed at once. Only blocks that were
 * partially freed leave the plain free fast path. */
int sable_free_range(void *p, size_t n);

/* Out of memory: when a request cannot be met, sable first gives back its
 * own cached memory and retries, then calls the handler: the calling
 * thread's if it has one, else the process-wide one. The handler gets the
 * requested size and its argument; it may free memory and return non-zero
 * for one more try (at most 64 in a row), or return 0 to let the call fail
 * with NULL and ENOMEM. NULL removes a handler. Each returns the previous
 * handler. */
typedef int (*sable_oom_handler)(size_t size, void *arg);
sable_oom_handler sable_set_oom_handler(sable_oom_handler fn, void *arg);
sable_oom_handler sable_set_thread_oom_handler(sable_oom_handler fn, void *arg);

/* Statistics. Address-space figures are always kept; the per-operation
 * ones (live and peak bytes, counts) only with SABLE_STATS=1 (or in secure
 * mode, with SABLE_LOG, or under Valgrind), else they read SIZE_MAX.
 * Bytes are usable bytes of blocks. */
struct sable_stats {
    size_t live_bytes;      /* in blocks handed out and not freed */
    size_t peak_live_bytes; /* high-water mark of live_bytes */
    size_t committed_bytes; /* RAM sable may be holding: mapped memory minus
                               what went back to the OS (an upper bound) */
    size_t reserved_bytes;  /* address space mapped */
    size_t allocs_small;    /* allocations of blocks up to 8 KiB */
    size_t allocs_large;    /* ... up to 2 MiB */
    size_t allocs_huge;     /* ... above (own mappings) */
    size_t frees;
    size_t reallocs;
    size_t partial_frees;  /* successful sable_free_range calls */
    size_t segments;       /* 4 MiB segments mapped (incl. cached) */
    size_t heaps;          /* thread heaps ever made (reused after exit) */
    size_t purge_delay_ms; /* how long free memory stays warm now: starts
                              at SABLE_PURGE_DELAY, grows while purging too
                              early makes the program fault memory back in */
};
int sable_stats(struct sable_stats *st); /* 0, or EINVAL for NULL */

/* C23 memalignment: the largest power of two dividing p's address, 0 for
 * NULL (also exported as memalignment) */
size_t sable_memalignment(const void *p);

/* "major.minor.patch": the library's SABLE_VERSION_STRING */
const char *sable_version(void);

/* Collects the calling thread's pending remote frees and gives every free
 * page of its heap, and every cached segment, back to the OS now. 0. */
int sable_purge(void);

#ifdef __cplusplus
}
#endif

#endif
