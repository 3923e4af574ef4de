/* size_class.c: the block sizes and the span length of each class.
 *
 * 16..128 in steps of 16, then four classes per doubling (the step is a
 * quarter of the lower power of two), so internal waste stays under 25%,
 * except from 1 KiB to 16 KiB: eight per doubling there (waste under
 * 12.5%). Blocks of those sizes share their slices, so every byte a class
 * rounds up is RAM, and programs keep many of one size live (a database's
 * page cache: 4 KiB pages with a header, buffers a little over 1 KiB).
 * Below 1 KiB more classes would leave more partly used pages in small
 * heaps; above 16 KiB the end of a block that its program does not use is
 * pages it never touches. (A block that realloc grows takes the coarser
 * steps: realloc.c.) The last class is 2 MiB. Span lengths: one 64 KiB
 * slice up to 16 KiB blocks (at least 4), the fewest slices that hold 4
 * blocks up to 64 KiB (2 to 4 slices), and above that the fewest slices
 * that hold one block (capacity >= 1), from SBL_COLOUR_MIN with a slice
 * more: the room to start the block a few cache lines in (its colour,
 * segment.c), which most classes below have already. Short spans keep
 * what a class with a few live blocks holds small, and fit in the holes
 * that other classes leave. */
#include "internal.h"

/* the tables, laid out by powers of two: */
/* clang-format off */
#define C8(b) (1u << (b)) + (1u << ((b) - 2)), (1u << (b)) + (2u << ((b) - 2)), \
              (1u << (b)) + (3u << ((b) - 2)), (2u << (b))
#define F8(b) (1u << (b)) + (1u << ((b) - 3)), (1u << (b)) + (2u << ((b) - 3)), \
              (1u << (b)) + (3u << ((b) - 3)), (1u << (b)) + (4u << ((b) - 3)), \
              (1u << (b)) + (5u << ((b) - 3)), (1u << (b)) + (6u << ((b) - 3)), \
              (1u << (b)) + (7u << ((b) - 3)), (2u << (b))

const uint32_t sbl_class_sizes[SBL_NCLASSES] = {
    16, 32, 48, 64, 80, 96, 112, 128,
    C8(7), C8(8), C8(9), F8(10), F8(11), F8(12), F8(13),
    C8(14), C8(15), C8(16), C8(17), C8(18), C8(19), C8(20),
};

/* (n - 1) / 128 = i -> class for 1 KiB < n <= 16 KiB (the classes there are
   multiples of 128): 20 is the first class above 1 KiB, FL(i) the
   doubling (0 for 1-2 KiB), and the 3 bits below i's top bit the eighth
   (entries 0..7, sizes up to 1 KiB, unused) */
#define FL(i) ((i) >= 64 ? 3 : (i) >= 32 ? 2 : (i) >= 16 ? 1 : 0)
#define FC(i) ((i) < 8 ? 0 : 20 + FL(i) * 8 + (((i) >> FL(i)) & 7))
#define FC8(i) FC(i), FC((i) + 1), FC((i) + 2), FC((i) + 3), FC((i) + 4), FC((i) + 5), \
               FC((i) + 6), FC((i) + 7)

const uint8_t sbl_fine_classes[SBL_FINE_MAX / 128] = {
    FC8(0), FC8(8), FC8(16), FC8(24), FC8(32), FC8(40), FC8(48), FC8(56),
    FC8(64), FC8(72), FC8(80), FC8(88), FC8(96), FC8(104), FC8(112), FC8(120),
};

#define SLC(sz)                                                                                    \
    ((sz) <= 16384u ? 1u                                                                           \
     : (sz) <= 65536u ? (4u * (sz) + 65535u) / 65536u                                              \
     : (sz) >= SBL_COLOUR_MIN ? ((sz) + 2 * 65536u - 1) / 65536u                                   \
                              : ((sz) + 65535u) / 65536u)
#define S8(b) SLC((1u << (b)) + (1u << ((b) - 2))), SLC((1u << (b)) + (2u << ((b) - 2))), \
              SLC((1u << (b)) + (3u << ((b) - 2))), SLC(2u << (b))
#define SF8 1, 1, 1, 1, 1, 1, 1, 1 /* (up to 16 KiB: one slice) */

const uint8_t sbl_class_slices[SBL_NCLASSES] = {
    1, 1, 1, 1, 1, 1, 1, 1,
    S8(7), S8(8), S8(9), SF8, SF8, SF8, SF8,
    S8(14), S8(15), S8(16), S8(17), S8(18), S8(19), S8(20),
};
/* clang-format on */

_Static_assert(SBL_NCLASSES == 8 + 3 * 4 + 4 * 8 + 7 * 4 && SBL_FINE_MIN == 1 << 10 &&
                   SBL_FINE_MAX == 1 << 14,
               "the tables: 16..128, C8 for 128..1 KiB, F8 for 1..16 KiB, C8 up to 2 MiB");
