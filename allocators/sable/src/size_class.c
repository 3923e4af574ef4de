/* size_class.c: the 64 block sizes and the span length of each class.
 *
 * 16..128 in steps of 16, then four classes per doubling (the step is a
 * quarter of the lower power of two), so internal waste stays under 25%;
 * the last class is 2 MiB. Span lengths: one 64 KiB slice up to 16 KiB
 * blocks (at least 4), the fewest slices that hold 4 blocks up to 64 KiB
 * (2 to 4 slices), and above that the fewest slices that hold one block
 * (capacity >= 1). Short spans keep what a class with a few live blocks
 * holds small, and fit in the holes that other classes leave. */
#include "internal.h"

/* the tables, laid out by powers of two: */
/* clang-format off */
#define C8(b) (1u << (b)) + (1u << ((b) - 2)), (1u << (b)) + (2u << ((b) - 2)), \
              (1u << (b)) + (3u << ((b) - 2)), (2u << (b))

const uint32_t sbl_class_sizes[SBL_NCLASSES] = {
    16, 32, 48, 64, 80, 96, 112, 128,
    C8(7), C8(8), C8(9), C8(10), C8(11), C8(12), C8(13),
    C8(14), C8(15), C8(16), C8(17), C8(18), C8(19), C8(20),
};

#define SLC(sz)                                                                                    \
    ((sz) <= 16384u ? 1u : (sz) <= 65536u ? (4u * (sz) + 65535u) / 65536u : ((sz) + 65535u) / 65536u)
#define S8(b) SLC((1u << (b)) + (1u << ((b) - 2))), SLC((1u << (b)) + (2u << ((b) - 2))), \
              SLC((1u << (b)) + (3u << ((b) - 2))), SLC(2u << (b))

const uint8_t sbl_class_slices[SBL_NCLASSES] = {
    1, 1, 1, 1, 1, 1, 1, 1,
    S8(7), S8(8), S8(9), S8(10), S8(11), S8(12), S8(13),
    S8(14), S8(15), S8(16), S8(17), S8(18), S8(19), S8(20),
};
/* clang-format on */

_Static_assert(SBL_NCLASSES == 8 + 14 * 4, "class table size");
