/* alloc_ext.h: the one door through which heapmark reaches an allocator's
 * extensions. Every allocator folder provides allocators/<A>/ext.c, which
 * defines `alloc_ext_native` with its native calls; NULL means the allocator
 * has no such call ("unsupported"), never a failure.
 *
 * Code in bench/ and conformance/ calls `alloc_ext_get()`, never
 * `alloc_ext_native` directly: under LD_PRELOAD (an allocator given as
 * name=/path/lib.so) the binary is glibc's build and the native table would
 * lie, so alloc_ext_get() then returns a table with only the name filled in.
 */
#ifndef HEAPMARK_ALLOC_EXT_H
#define HEAPMARK_ALLOC_EXT_H

#include <stddef.h>
#include <stdint.h>

/* Allocator-wide statistics; fields an allocator cannot report are SIZE_MAX. */
struct alloc_stats {
    size_t live_bytes;      /* bytes in blocks handed out and not freed */
    size_t committed_bytes; /* memory the allocator holds committed from the OS */
    size_t reserved_bytes;  /* address space reserved */
    size_t peak_live_bytes; /* high-water mark of live_bytes */
};

struct alloc_ext {
    const char *name;    /* short name, as in ALLOCATORS: "glibc", "jemalloc" */
    const char *library; /* substring of the file that must provide malloc:
                            "libc.so", "libjemalloc", ...; checked at start-up */
    /* version string read from the library itself, e.g. "2.36", "5.3.0-0-g...";
       never NULL */
    const char *(*version)(void);

    /* grows or shrinks p's block to n bytes without moving it; returns p, or
       NULL and leaves the block, its contents and its usable size untouched */
    void *(*resize_in_place)(void *p, size_t n);
    /* usable size of a live block */
    size_t (*usable_size)(void *p);
    /* free with the size (and alignment) given at allocation */
    void (*free_sized)(void *p, size_t n);
    void (*free_aligned_sized)(void *p, size_t align, size_t n);
    /* gives cached free memory back to the OS; 0 on success */
    int (*purge)(void);
    /* partial free of [p, p+n) inside one live block; 0, or an errno value */
    int (*free_range)(void *p, size_t n);
    /* any alignment > 0 (not only powers of two) */
    void *(*aligned_any)(size_t align, size_t n);
    /* fills *st; 0 on success */
    int (*stats)(struct alloc_stats *st);
};

/* Defined by allocators/<A>/ext.c. */
extern const struct alloc_ext alloc_ext_native;

/* The table in force for this process (see the top of this file). */
const struct alloc_ext *alloc_ext_get(void);

/* Identity of the allocator actually serving malloc in this process. */
struct alloc_identity {
    const char *name;     /* alloc_ext_get()->name */
    const char *version;  /* alloc_ext_get()->version() or "unknown" */
    char library[512];    /* file that provides the malloc symbol in use */
    const char *expected; /* what `library` must contain */
    int verified;         /* 1 when library contains expected */
};

/* Fills *id. Under LD_PRELOAD (HEAPMARK_PRELOAD set by the runner) the
   expected library is the preloaded file. */
void alloc_identify(struct alloc_identity *id);

/* Prints the identity as one JSON object on stdout, e.g. for
   `build/<A>/bench --heapmark-info`; returns 0 when verified, 1 otherwise
   (with a message on stderr). */
int alloc_identity_print(void);

#endif
