/* hmtrace_format.h: the allocation-trace format (bench/trace/FORMAT.md) in
 * one place, for the recorder (bench/trace/hmtrace.c), the replay workload
 * (bench/replay.c) and the runner's summary (harness/runner/trace.c);
 * bench/trace/dump.py reads its constants from this file.
 *
 *   file   := HMT_MAGIC event* [END]
 *   event  := head id [align] [size]
 *   head   := op (low 4 bits) | HMT_THREAD_FLAG when a varint thread index follows
 *   varint := unsigned LEB128 (7 bits per byte, low first)
 */
#ifndef HEAPMARK_HMTRACE_FORMAT_H
#define HEAPMARK_HMTRACE_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#define HMT_MAGIC "HMTRACE1"
#define HMT_MAGIC_LEN 8
#define HMT_THREAD_FLAG 0x10
#define HMT_OP_MASK 0x0f

enum hmt_op {
    HMT_MALLOC = 1,   /* id size */
    HMT_CALLOC = 2,   /* id total-size */
    HMT_MEMALIGN = 3, /* id align size (posix_memalign, aligned_alloc, memalign, valloc, pvalloc) */
    HMT_REALLOC = 4,  /* id size (the id's block, which may move) */
    HMT_FREE = 5,     /* id */
    HMT_END = 15      /* written at a normal exit */
};

/* Reads one varint of b[*pos..len) into *v and advances *pos; -1 when the
   buffer ends inside it or it is longer than 64 bits. */
static inline int hmt_varint(const unsigned char *b, size_t len, size_t *pos, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*pos >= len)
            return -1;
        unsigned char c = b[(*pos)++];
        x |= (uint64_t)(c & 0x7f) << shift;
        if (c < 0x80) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

/* Writes v as a varint into out (at least 10 bytes); returns the bytes used. */
static inline size_t hmt_put_varint(unsigned char *out, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (unsigned char)v;
    return n;
}

#endif
