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

/* *head: the producer's private copy of q->head */
static inline void spsc_push(struct spsc *q, size_t *head, void *p)
{
    unsigned spins = 0;
    while (*head - atomic_load_explicit(&q->tail, memory_order_acquire) == SPSC_CAP)
        spsc_backoff(&spins);
    q->item[*head % SPSC_CAP] = p;
    atomic_store_explicit(&q->head, ++*head, memory_order_release);
}

/* *tail: the consumer's private copy of q->tail */
static inline void *spsc_pop(struct spsc *q, size_t *tail)
{
    unsigned spins = 0;
    while (atomic_load_explicit(&q->head, memory_order_acquire) == *tail)
        spsc_backoff(&spins);
    void *p = q->item[*tail % SPSC_CAP];
    atomic_store_explicit(&q->tail, ++*tail, memory_order_release);
    return p;
}

#endif
