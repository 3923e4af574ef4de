/* init.c: initialisation and fork handling (the settings: options.c; the
 * exported API: api.c).
 *
 * Initialisation is lazy and cannot recurse: a thread's first malloc finds
 * the static empty heap, whose pages have no free block, and its slow path
 * calls sbl_init(), which reads settings from `environ` and creates the
 * thread-exit key, neither of which allocates. The constructor then
 * registers the fork handlers (pthread_atfork may allocate: by then malloc
 * works). */
#define _GNU_SOURCE
#include "internal.h"

#include <pthread.h>

static _Atomic int init_done;
static sbl_lock_t init_lock;

void sbl_init(void)
{
    if (atomic_load_explicit(&init_done, memory_order_acquire))
        return;
    sbl_lock(&init_lock);
    if (!atomic_load_explicit(&init_done, memory_order_relaxed)) {
        sbl_options_read();
        sbl_secure_init();
        sbl_hooks_init();
        sbl_registry_init();
        sbl_heap_init_key();
        sbl_xb_init_key();
        atomic_store_explicit(&init_done, 1, memory_order_release);
    }
    sbl_unlock(&init_lock);
}

/* ---- fork: every global lock, in one order (OOM handler, heaps, segment
 * cache, huge quarantine, partial-free table); none is held while another
 * is taken, except here ---- */
static void fork_prepare(void)
{
    sbl_oom_lock_prefork();
    sbl_heap_lock_prefork();
    sbl_segment_lock_prefork();
    sbl_huge_lock_prefork();
    sbl_range_lock_prefork();
}

static void fork_parent(void)
{
    sbl_range_unlock_postfork(false);
    sbl_huge_unlock_postfork(false);
    sbl_segment_unlock_postfork(false);
    sbl_heap_unlock_postfork(false);
    sbl_oom_unlock_postfork(false);
}

static void fork_child(void)
{
    sbl_range_unlock_postfork(true);
    sbl_huge_unlock_postfork(true);
    sbl_segment_unlock_postfork(true);
    sbl_heap_unlock_postfork(true);
    sbl_oom_unlock_postfork(true);
}

__attribute__((constructor)) static void sable_constructor(void)
{
    sbl_init();
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}
