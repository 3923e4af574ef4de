/* types.h: sable's data structures and the invariants they keep.
 *
 * Design in one screen
 * --------------------
 * Memory comes from the OS in *segments*: 4 MiB, aligned on 4 MiB, so that
 * the metadata of any block is found by masking its address. A segment is
 * cut into 64 *slices* of 64 KiB; slice 0 holds the segment header, which
 * includes one page descriptor per slice (in one of four windows: the
 * segment's colour, bits 22-23 of its address). A *page* is a span of 1..63
 * contiguous slices holding blocks of one size class; the descriptor of the
 * span's first slice is the page, the others hold the byte offset back to it.
 *
 *   segment_of(p) = (p - 1) & ~(4 MiB - 1)        (p - 1: see huge blocks)
 *   page_of(p)    = pages[(p - seg) >> 16] - offset
 *                   (pages = desc + 64 * colour: desc[(p >> 16) & 255])
 *
 * Size classes: 16..128 by 16, then four per doubling up to 2 MiB, eight
 * from 1 KiB to 16 KiB (80 classes: size_class.c). Blocks of 2 MiB and
 * below live in pages ("small" up to 8 KiB in one-slice pages, "medium" up
 * to 64 KiB in 1-4-slice pages, "large" above in spans sized to the
 * block). Bigger requests are *huge*: their own mapping,
 * with the same header layout so that the same mask finds it; realloc grows
 * and shrinks them with mremap and never copies.
 *
 * Every thread that allocates owns a *heap*: one queue of pages per class and
 * a list of segments. The owner allocates and frees with plain loads and
 * stores: one list per page, page->free, that free pushes onto and malloc
 * pops (LIFO: the block freed last, still in the cache, is the next one
 * handed out); page->used counts the blocks handed out. Another thread
 * keeps its frees of a heap's blocks as
 * pointers in a record (struct sbl_xrec, up to 62) and pushes the record
 * whole onto the heap's xrecs list (free.c); the owner frees them itself on
 * its allocation slow path, and nobody else writes into the blocks. Large
 * blocks, slow mode and a thread's own exit go one by one: a CAS onto the
 * page's xthread_free list, which the owner takes whole when the page runs
 * dry. A page with no free block leaves its queue for the heap's full
 * list; the first such free into it goes to the heap's `delayed`
 * list instead (state kept in the two low bits of xthread_free, as in
 * mimalloc) so that the owner notices the page has room again.
 *
 * Every rare case of free (huge block, page in the full list, and later the
 * extensions: partial free, interior pointers, secure mode) sets a bit in the
 * page's flags, which share one word (`owner`) with the owning thread's tag,
 * so the plain free fast path compares that word of p's own slice (a later
 * slice of a span has SBL_PF_INTERIOR) with its own thread's tag: one test.
 *
 * A thread that exits hands its heap back to an abandoned list; the next new
 * thread adopts it whole (pages, segments and pending remote frees), and a
 * free into an abandoned heap claims it briefly and frees locally (a record
 * pushed as the owner left is freed so by whichever sees it last). Heaps are
 * never unmapped, so a heap pointer read from a segment is always valid.
 *
 * Empty pages go back to their segment; free slices are given back to the
 * OS (MADV_DONTNEED) once they have stayed free for the purge delay. A heap
 * finds a span of k free slices in one step (run bins: segments by their
 * longest free run, best fit). A heap keeps one empty segment; the others go
 * to a process-wide pool, warm (reused by any thread without page faults)
 * until the purge delay has passed, then purged, and a few kept cold (address
 * space only). Huge blocks are unmapped at once or kept: the last one a
 * thread freed in its heap, older ones in a small process-wide cache.
 */
#ifndef SABLE_TYPES_H
#define SABLE_TYPES_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define SBL_SEG_SHIFT 22
#define SBL_SEG_SIZE ((size_t)1 << SBL_SEG_SHIFT)
#define SBL_SEG_MASK (SBL_SEG_SIZE - 1)
#define SBL_SLICE_SHIFT 16
#define SBL_SLICE_SIZE ((size_t)1 << SBL_SLICE_SHIFT)
#define SBL_SLICES (SBL_SEG_SIZE / SBL_SLICE_SIZE) /* 64 */
#define SBL_SEG_COLOURS 4 /* descriptor windows in a header: see struct sbl_segment */
#define SBL_OS_PAGE ((size_t)4096)
#define SBL_HUGE_PAGE                                                                              \
    ((size_t)2 << 20) /* a transparent huge page (x86-64, arm64 with 4 KiB pages) */

/* size classes (size_class.c): 16..128 in steps of 16, then four per
   doubling, eight per doubling above SBL_FINE_MIN up to SBL_FINE_MAX, four
   above */
#define SBL_FINE_MIN 1024
#define SBL_FINE_MAX 16384
#define SBL_NCLASSES (8 + 3 * 4 + 4 * 8 + 7 * 4) /* 80 */
#define SBL_LARGE_MAX ((size_t)2 << 20)          /* the largest class: 2 MiB */
/* the classes from there have a slice more, the room to colour their block (segment.c) */
#define SBL_COLOUR_MIN (256u << 10)
#define SBL_DIRECT_MAX 1024 /* sizes served by heap->direct */
#define SBL_DIRECT_BINS (SBL_DIRECT_MAX / 16 + 1)
/* an empty page of a class up to this size stays as the class's last page */
#define SBL_KEEP_MAX ((size_t)128 << 10)
/* and a few more such pages stay in their queues for a purge delay when they
   empty (heap.c): at most this many per heap, of this many slices in all
   (1 MiB), or of the second many where the page is of a class above
   SBL_KEEP_MAX (12 MiB: eleven blocks of 1 MiB, five of 2 MiB) */
#define SBL_RETAIN_MAX 16
#define SBL_RETAIN_SLICES 16
#define SBL_RETAIN_BIG_SLICES 192
#define SBL_MAX_REQUEST ((size_t)PTRDIFF_MAX) /* larger requests fail */

/* page->flags: any bit set sends free to its slow path */
#define SBL_PF_FULL 0x01u     /* page is in the heap's full list */
#define SBL_PF_HUGE 0x02u     /* the segment's one huge block */
#define SBL_PF_DETACHED 0x04u /* a one-block page resized in place: its free releases it */
#define SBL_PF_ALIGNED 0x08u  /* may hold interior pointers (any alignment) */
#define SBL_PF_RANGE 0x10u    /* some block was partially freed (partial.c) */
#define SBL_PF_SLOW 0x20u     /* slow mode: every free takes the slow path (hooks.c) */
/* SBL_PF_INTERIOR: not a page but a later slice of a span (its offset leads
   back to the page). Free's fast path reads the descriptor of p's own
   slice, and this sends it to the slow path, which finds the page */
#define SBL_PF_INTERIOR 0x40u

/* page->in_use: what the span is to its heap */
enum sbl_page_use {
    SBL_PAGE_FREE = 0, /* a free span (or no page at all) */
    SBL_PAGE_LIVE = 1, /* a live page */
    SBL_PAGE_KEPT = 2, /* a live page that stays when it empties (heap.c):
                          it holds one count of its own in `used` */
};

/* the low bits of page->xthread_free: where remote frees go */
enum sbl_xfree_state {
    SBL_TF_NORMAL = 0,      /* remote frees go to the page's list */
    SBL_TF_USE_DELAYED = 1, /* page is full: next remote free goes to heap->delayed */
    SBL_TF_FREEING = 2,     /* a remote thread is pushing to heap->delayed */
    SBL_TF_NEVER = 3,       /* page is being released */
};
#define SBL_TF_MASK 3u

#define SBL_XBYTES_NONE UINT32_MAX /* page->xbytes: no batched remote frees */

/* segment->kind */
enum sbl_seg_kind {
    SBL_SEG_NORMAL = 1,
    SBL_SEG_HUGE = 2,
    SBL_SEG_FREED = 3,  /* secure mode: the kept header of a freed huge block */
    SBL_SEG_CACHED = 4, /* a freed huge mapping kept for reuse (huge.c) */
};

struct sbl_block {
    struct sbl_block *next;
};

struct sbl_heap;

/* One span of slices holding blocks of one size. 128 bytes, on a cache line
   boundary: the first line holds what the owner writes on its fast paths
   (the lists and the used count), the second what every free reads (the
   owner word, written seldom) and the remote-free list: a thread that frees
   another's blocks reads the owner word without pulling the line the owner
   writes on every malloc and free across cores. */
struct sbl_page {
    struct sbl_block *free; /* owner's list: free pushes, malloc pops */
    uint16_t used;          /* blocks not on `free` (incl. remote-freed ones
                               not yet collected), plus 1 while in_use is
                               SBL_PAGE_KEPT (so that the fast path's free of
                               the last block of a page that stays does not
                               reach 0); 0 => page is empty and may go */
    uint16_t offset;        /* bytes back to the span's head descriptor; 0 on
                               the head (the page itself) */
    uint16_t capacity;      /* blocks that fit in the span (<= 4096: the
                               16-byte class in one slice) */
    uint16_t reserved;      /* blocks carved so far (the rest untouched) */
    uint8_t cls;            /* size class */
    uint8_t slices;         /* span length in slices */
    uint8_t in_use;         /* enum sbl_page_use */
    uint8_t retained;       /* 1: an emptied page its heap keeps in its
                               queue for a while (heap.c), SBL_PAGE_KEPT
                               meanwhile */
    uint32_t block_size;
    uint8_t *start;               /* first block */
    struct sbl_page *next, *prev; /* class queue or full list */
    uint8_t turned;               /* 1: found without a free block and sent to
                                     the back of its queue (heap.c); the next
                                     time it is found so, it goes to the full list */
    /* second line: the owner word (read by every free) and the remote-free
       list (written by other threads) */
    _Alignas(64) _Atomic uintptr_t xthread_free; /* remote frees | SBL_TF_* state */
    uint64_t owner;                              /* the owner's tag (bits 0..55) and the flags
                                     (SBL_PF_*, bits 56..63: the byte
                                     sbl_page_flags reads): equal to the owning
                                     thread's tag exactly when free's fast path
                                     may take a block of this slice (a live
                                     page's head, no flag, in a segment of that
                                     thread's heap). The tag is 0 on every other
                                     descriptor and while the heap has no
                                     thread. Written by the owner (tag: at page
                                     creation and when the heap changes owner),
                                     flags with relaxed atomics (sable_free_range
                                     may set SBL_PF_RANGE from any thread) */
    uint32_t xbytes;                             /* what a batched remote free of one of
                                     its blocks adds to the record's count of
                                     medium bytes (free.c): 0 on a one-slice
                                     page, block_size on a longer one,
                                     SBL_XBYTES_NONE where its blocks are
                                     freed one by one (one block a page).
                                     Set with the page, here so that a
                                     remote free reads nothing from the
                                     first line */
    uint8_t pad1[64 - 2 * sizeof(uintptr_t) - sizeof(uint32_t)];
};

struct sbl_segment {
    struct sbl_heap *heap;                   /* owner; NULL for huge segments */
    uintptr_t owner_tag;                     /* the owning thread's tag (sbl_owner_tag:
                                                its thread pointer on x86-64), 0 when the
                                                heap has no thread or for huge segments;
                                                the live pages carry it in their `owner`
                                                word. Equal tags imply heap == the
                                                thread's heap */
    uint64_t free_map;                       /* bit i: slice i is free (bit 0 never) */
    uint64_t dirty_map;                      /* bit i: free slice i may still hold RAM */
    uint64_t held_map;                       /* bit i: the page at slice i took RAM that was
                                                still held: its uncarved part may hold some */
    uint64_t purge_at;                       /* ms deadline for the dirty free slices; 0: none */
    uint64_t purged_map;                     /* bit i: free slice i was purged when its delay
                                                ran out, and not taken since (segment.c) */
    uint64_t purged_due;                     /* the deadline of that purge */
    struct sbl_segment *next, *prev;         /* heap's list of its segments, or
                                                the pool of empty ones (segment.c) */
    struct sbl_segment *bin_next, *bin_prev; /* the heap's run bin */
    size_t map_size;                         /* huge: bytes mapped from the segment base */
    size_t huge_size;                        /* huge: usable bytes */
    size_t huge_offset;                      /* huge: block address - segment base */
    size_t huge_held;                        /* huge: bytes from the base counted as committed:
                                                the block, and after it the written pages a
                                                growing block took over from a kept mapping
                                                (read-write: it grows into them at no cost) */
    uint32_t kind;                           /* enum sbl_seg_kind */
    uint8_t run;                             /* longest run of free slices: the heap's run
                                                bin it is in; 0: in none */
    uint8_t reserved0[3];
    /* the descriptors: SBL_SEG_COLOURS windows of SBL_SLICES, of which a
       segment uses the one its address picks (sbl_seg_pages): one window
       in each 8 KiB of the header's 32, so that the descriptors of
       segments next to each other do not share the cache's sets (the
       segments' 4 MiB alignment puts the same slice of every segment on
       the same set). Window entry [64] only for huge blocks placed one
       segment in */
    struct sbl_page desc[SBL_SEG_COLOURS * SBL_SLICES + 1];
};

/* A batch of one thread's frees of blocks owned by another thread's heap,
   on its way to that heap (free.c fills it, heap.c empties it): the
   pointers as freed, so that neither the freeing thread nor the hand-over
   writes into the blocks. 512 bytes. */
#define SBL_XREC_CAP 62
struct sbl_xrec {
    struct sbl_xrec *next; /* the heap's xrecs list, or the pool of empty records */
    uint32_t n;            /* pointers in p */
    uint32_t reserved;
    void *p[SBL_XREC_CAP];
};

struct sbl_page_queue {
    struct sbl_page *first, *last;
};

struct sbl_heap {
    struct sbl_page *direct[SBL_DIRECT_MAX + 1]; /* n -> first page of n's
                                                    class, or the empty page
                                                    (indexed by n itself: no
                                                    rounding in malloc) */
    struct sbl_page_queue queues[SBL_NCLASSES];
    struct sbl_page_queue full;
    struct sbl_page *sdirect[SBL_DIRECT_BINS]; /* slow mode only: as direct,
                                                  but the class's first page
                                                  itself, or NULL */
    _Atomic(struct sbl_block *) delayed;       /* remote frees into full pages */
    /* records of other threads' frees of this heap's blocks (free.c), on a
       line of their own: other threads push, the owner takes them all */
    _Alignas(64) _Atomic(struct sbl_xrec *) xrecs;
    uint8_t xrecs_pad[64 - sizeof(void *)];
    struct sbl_segment *segments;            /* all of them */
    struct sbl_segment *runs[SBL_SLICES];    /* [r]: segments whose longest run
                                                  of free slices is r (63: empty) */
    uint64_t run_mask;                       /* bit r: runs[r] is not empty */
    struct sbl_page *large_kept;             /* the one empty page above SBL_KEEP_MAX kept */
    _Atomic(struct sbl_segment *) huge_kept; /* the huge mapping this thread
                                                  freed last, kept for its next huge
                                                  malloc (huge.c); whoever exchanges it
                                                  out owns it */
    _Atomic uint64_t huge_kept_at;           /* ms: when huge_kept was freed */
    uint32_t fresh_since_kept;               /* slices holding no RAM that its pages took
                                                since it last kept a mapping (segment.c) */
    _Atomic int claimed;                     /* 1 while a thread owns or borrows the heap */
    uintptr_t owner_tag;                     /* the owning thread's tag; 0 while abandoned
                                                  (copied to every segment of the heap) */
    uint32_t purge_tick;
    uint64_t purge_check_at; /* earliest purge_at of its segments; 0: none */
    struct sbl_heap *next_all;
    struct sbl_heap *next_abandoned;
    /* the emptied pages kept in their queues (page->retained), and when
       each emptied (ms) */
    struct sbl_page *retained[SBL_RETAIN_MAX];
    uint64_t retained_at[SBL_RETAIN_MAX];
    uint32_t nretained;
    uint32_t retained_slices; /* their slices, at most SBL_RETAIN_SLICES */
    /* big blocks on fresh spans are mapped in at once while the program
       uses them whole (segment.c): the last sample's answer, a count of
       fresh big pages, and the page left to fault in as it is used, to
       sample it */
    uint8_t populate;
    uint32_t populate_tick;
    struct sbl_page *populate_sample;
    uint32_t colour_next; /* the last colour a big block's page took (segment.c) */
};

_Static_assert(sizeof(struct sbl_page) == 128 && _Alignof(struct sbl_page) == 64,
               "a page descriptor is two cache lines");
_Static_assert(sizeof(struct sbl_xrec) == 512, "a record of remote frees is 512 bytes");
_Static_assert(SBL_SLICE_SIZE / 16 <= UINT16_MAX &&
                   (SBL_SLICES + 1) * sizeof(struct sbl_page) <= UINT16_MAX,
               "capacity, used and offset fit in 16 bits");
_Static_assert(sizeof(struct sbl_segment) <= SBL_SLICE_SIZE,
               "a segment's header, every window of descriptors, fits in slice 0");

#endif
