/* oom.h: allocation up to a real out-of-memory condition, in threads, under a
   lowered RLIMIT_AS (shared by CA-04, TH-03 and LI-04). */
#ifndef HEAPMARK_CONF_OOM_H
#define HEAPMARK_CONF_OOM_H

#include <stddef.h>

enum conf_oom_fn {
    CONF_OOM_MALLOC, CONF_OOM_CALLOC, CONF_OOM_REALLOC, CONF_OOM_ALIGNED_ALLOC,
    CONF_OOM_POSIX_MEMALIGN, CONF_OOM_MEMALIGN, CONF_OOM_VALLOC, CONF_OOM_PVALLOC,
    CONF_OOM_NFN
};

/* Lowers RLIMIT_AS to the current address-space size plus headroom bytes;
   the check ends as unsupported if that fails. */
void conf_limit_as(size_t headroom);

/* A loop that has been served this many bytes of blocks under the limit of
   conf_limit_as(headroom) has shown that the limit does not bound the
   allocator (it reserved its address space before the limit was set), and
   ends the check with conf_oom_unbound rather than run on to a timeout. */
#define CONF_OOM_UNBOUND_BYTES(headroom) ((headroom) / 2 * 3)
/* Ends the check as unsupported: RLIMIT_AS cannot make this allocator run
   out of memory (bytes served, and how much the address space grew). */
__attribute__((noreturn)) void conf_oom_unbound(size_t served);

/* `threads` threads allocate blocks of `size` bytes with fn until it fails,
   all at once under RLIMIT_AS; checks alignment, zeroing (calloc), NULL with
   ENOMEM at the end, then frees everything and tries once more (reported in
   the summary: address-space fragmentation may legitimately keep it
   failing). Ends the check as fail on any violation. The
   function must be the allocator's own (unsupported otherwise). */
const char *conf_oom_threads(enum conf_oom_fn fn, int threads, size_t size);
/* `threads` threads, created beforehand, make their first allocation
   (malloc(64)) after the main thread has exhausted RLIMIT_AS: NULL with
   ENOMEM or a block, never a crash. */
const char *conf_oom_first_call(int threads);
const char *conf_oom_fn_name(enum conf_oom_fn fn);

#endif
