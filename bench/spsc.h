/* spsc.h: a single-producer single-consumer queue of pointers for workloads
 * that hand blocks from one thread to another. Waiting spins briefly, then
 * yields: the machine may have fewer free cores than threads. */
#ifndef HEAPMARK_BENCH_SPSC_H
#define HEAPMARK_BENCH_SPSC_H

#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>

#define SPSC_CAP 1024

struct spsc {
    alignas(64) atomic_size_t head; /* written by the producer */
    alignas(64) atomic_size_t tail; /* written by the consumer */
    alignas(64) void *item[SPSC_CAP];
};

static inline void spsc_backoff(unsigned *spins)
{
    if (++*spins < 64)
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        __asm__ volatile("yield");
#else
        __asm__ volatile("" : : : "memory");
#endif
    else
        sched_yield();
}

/* Only while neither side is running. */
static inline void spsc_reset(struct spsc *q)
{
    atomic_store(&q->head, 0);
    atomic_store(&q->tail, 0);
}

/* One side's private state: its own position, and the other side's
   position as it last read it. A side reads the other's index only when
   what it last read shows the queue full (producer) or empty (consumer):
   while the queue has room and items, the two sides share no cache line
   but the items' (a line of pointers at a time). */
struct spsc_end {
    size_t pos;
    size_t seen;
};

static inline void spsc_push(struct spsc *q, struct spsc_end *e, void *p)
{
    unsigned spins = 0;
    while (e->pos - e->seen == SPSC_CAP) {
        e->seen = atomic_load_explicit(&q->tail, memory_order_acquire);
        if (e->pos - e->seen == SPSC_CAP)
            spsc_backoff(&spins);
    }
    q->item[e->pos % SPSC_CAP] = p;
    atomic_store_explicit(&q->head, ++e->pos, memory_order_release);
}

static inline void *spsc_pop(struct spsc *q, struct spsc_end *e)
{
    unsigned spins = 0;
    while (e->seen == e->pos) {
        e->seen = atomic_load_explicit(&q->head, memory_order_acquire);
        if (e->seen == e->pos)
            spsc_backoff(&spins);
    }
    void *p = q->item[e->pos % SPSC_CAP];
    atomic_store_explicit(&q->tail, ++e->pos, memory_order_release);
    return p;
}

/* Takes n (<= SPSC_CAP) items into out, waiting until that many are
   there: a consumer that drains in batches reads the producer's index
   about once a batch, not once an item. */
static inline void spsc_pop_many(struct spsc *q, struct spsc_end *e, void **out, size_t n)
{
    unsigned spins = 0;
    while (e->seen - e->pos < n) {
        e->seen = atomic_load_explicit(&q->head, memory_order_acquire);
        if (e->seen - e->pos < n)
            spsc_backoff(&spins);
    }
    for (size_t i = 0; i < n; i++)
        out[i] = q->item[(e->pos + i) % SPSC_CAP];
    e->pos += n;
    atomic_store_explicit(&q->tail, e->pos, memory_order_release);
}

#endif
