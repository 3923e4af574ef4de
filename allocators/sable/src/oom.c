/* oom.c: what happens when the OS refuses memory. A failing request first
 * gives back sable's own cached memory (the thread's free pages, the
 * segment cache) and tries again; then it calls the out-of-memory handler
 * (the thread's, else the process-wide one), which may free memory and ask
 * for one more try by returning non-zero, or return 0 to let the call fail
 * with NULL and ENOMEM. Nothing aborts unless the handler does. */
#include "internal.h"

#include "sable.h"

#define OOM_TRIES_MAX 64

static sbl_lock_t oom_lock;
static sable_oom_handler global_fn;
static void *global_arg;
static __thread sable_oom_handler thread_fn __attribute__((tls_model("initial-exec")));
static __thread void *thread_arg __attribute__((tls_model("initial-exec")));

bool sbl_oom_retry(size_t n, unsigned *attempt)
{
    unsigned a = (*attempt)++;
    if (a == 0) {
        struct sbl_heap *h = sbl_tls_heap;
        if (h != &sbl_empty_heap)
            sbl_heap_collect(h, true);
        sbl_segment_cache_flush();
        sbl_huge_cache_flush();
        return true;
    }
    if (a > OOM_TRIES_MAX)
        return false;
    sable_oom_handler fn = thread_fn;
    void *arg = thread_arg;
    if (fn == NULL) {
        sbl_lock(&oom_lock);
        fn = global_fn;
        arg = global_arg;
        sbl_unlock(&oom_lock);
    }
    return fn != NULL && fn(n, arg) != 0;
}

void sbl_oom_lock_prefork(void) { sbl_lock(&oom_lock); }

void sbl_oom_unlock_postfork(bool child) { sbl_lock_after_fork(&oom_lock, child); }

SABLE_EXPORT sable_oom_handler sable_set_oom_handler(sable_oom_handler fn, void *arg)
{
    sbl_lock(&oom_lock);
    sable_oom_handler old = global_fn;
    global_fn = fn;
    global_arg = arg;
    sbl_unlock(&oom_lock);
    return old;
}

SABLE_EXPORT sable_oom_handler sable_set_thread_oom_handler(sable_oom_handler fn, void *arg)
{
    sable_oom_handler old = thread_fn;
    thread_fn = fn;
    thread_arg = arg;
    return old;
}
