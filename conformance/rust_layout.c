/* rust_layout.c: area RL, what a Rust global allocator built on the C API
 * needs (Rust's core::alloc::GlobalAlloc: a Layout of size and power-of-two
 * alignment; alloc maps to malloc or aligned_alloc, realloc must return a
 * block with the layout's alignment, a zero-size layout may come with any
 * alignment). */
#define _GNU_SOURCE
#include "conf.h"

#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ALIGN 16 /* alignof(max_align_t) on x86-64 and aarch64 */
#define ZERO_LIVE 8  /* zero-size blocks live at once per alignment */

CONF_CHECK(rl01_zero_size_any_alignment, "RL-01", "rust-layout", CONF_STD, 20,
           "zero size at every alignment 32..2^22: aligned_alloc(A, 0) and posix_memalign(&p, "
           "A, 0) give NULL or a unique A-aligned pointer (8 live at once) that free accepts "
           "(C17 7.22.3p1, 7.22.3.1; POSIX.1-2024 posix_memalign; Rust Layout::from_size_align"
           "(0, A))")
{
    conf_aligned_alloc_fn aa = CONF_NEED(conf_aligned_alloc_fn, aligned_alloc);
    conf_posix_memalign_fn pm = CONF_NEED(conf_posix_memalign_fn, posix_memalign);
    for (int k = 5; k <= 22; k++) {
        size_t a = (size_t)1 << k;
        void *p[2 * ZERO_LIVE];
        for (int i = 0; i < 2 * ZERO_LIVE; i++) {
            const char *fn = i < ZERO_LIVE ? "aligned_alloc" : "posix_memalign";
            if (i < ZERO_LIVE) {
                p[i] = aa(a, 0);
            } else {
                p[i] = NULL;
                int r = pm(&p[i], a, 0);
                if (r != 0)
                    conf_fail("posix_memalign(&p, %zu, 0) returned %s", a, conf_errname(r));
            }
            if (p[i] != NULL && !conf_aligned(p[i], a))
                conf_fail("%s(%zu, 0) = %p: only %zu-aligned", fn, a, p[i],
                          conf_alignment_of(p[i]));
            for (int j = 0; j < i; j++)
                if (p[i] != NULL && p[i] == p[j])
                    conf_fail("%s(%zu, 0) returned %p while it is live", fn, a, p[i]);
        }
        for (int i = 0; i < 2 * ZERO_LIVE; i++)
            conf_free(p[i]);
    }
}

CONF_CHECK(rl02_zero_size_result, "RL-02", "rust-layout", CONF_REP, 20,
           "Layout(0, A) for A = 16..2^22: does aligned_alloc(A, 0) (posix_memalign) give a "
           "pointer, or NULL, which a Rust GlobalAlloc would take for out-of-memory and must "
           "turn into a request of 1 byte? (C17 7.22.3p1 implementation-defined; Rust "
           "GlobalAlloc::alloc: null means failure)")
{
    conf_aligned_alloc_fn aa = CONF_NEED(conf_aligned_alloc_fn, aligned_alloc);
    conf_posix_memalign_fn pm = CONF_NEED(conf_posix_memalign_fn, posix_memalign);
    int aa_null = 0, pm_null = 0, n = 0;
    size_t aa_first = 0, pm_first = 0;
    for (int k = 4; k <= 22; k++, n++) {
        size_t a = (size_t)1 << k;
        void *p = aa(a, 0), *q = NULL;
        int r = pm(&q, a, 0);
        if (p == NULL && aa_null++ == 0)
            aa_first = a;
        if ((r != 0 || q == NULL) && pm_null++ == 0)
            pm_first = a;
        conf_free(p);
        conf_free(r == 0 ? q : NULL);
    }
    char a_txt[64], p_txt[64];
    if (aa_null)
        snprintf(a_txt, sizeof a_txt, "NULL for %d of %d (first at %zu)", aa_null, n, aa_first);
    else
        snprintf(a_txt, sizeof a_txt, "a pointer for all %d", n);
    if (pm_null)
        snprintf(p_txt, sizeof p_txt, "NULL for %d of %d (first at %zu)", pm_null, n, pm_first);
    else
        snprintf(p_txt, sizeof p_txt, "a pointer for all %d", n);
    conf_observe("aligned_alloc(A, 0): %s; posix_memalign: %s", a_txt, p_txt);
}

/* sizes across the small, medium, page-sized and huge (mmap) ranges, growing
   then shrinking */
static const size_t rl_steps[] = {1,       24,      100,     1000,  5000, 9000, 70000, 300000,
                                   3 << 20, 9 << 20, 1 << 20, 65536, 4000, 200,  17};
#define RL_NSTEPS (sizeof rl_steps / sizeof rl_steps[0])

static void rl_fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(i * 31 + seed);
}

static size_t rl_bad_byte(const unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(i * 31 + seed))
            return i;
    return SIZE_MAX;
}

CONF_CHECK(rl03_realloc_aligned_block, "RL-03", "rust-layout", CONF_STD, 20,
           "realloc of an aligned_alloc(A, A) block, A = 32..65536, resized across size classes "
           "(1 B .. 9 MiB, up and down): contents kept, every result max_align_t-aligned, or as "
           "C23 allows for a small size (C17 7.22.3.5, 7.22.3p1; C23 7.24.3p1)")
{
    conf_aligned_alloc_fn aa = CONF_NEED(conf_aligned_alloc_fn, aligned_alloc);
    size_t weak = 0, weak_n = 0;
    for (int k = 5; k <= 16; k++) {
        size_t a = (size_t)1 << k;
        unsigned char *p = aa(a, a); /* a multiple of the alignment: C11 and C17 agree */
        if (p == NULL)
            conf_fail("aligned_alloc(%zu, %zu) = NULL", a, a);
        rl_fill(p, a, (unsigned)k);
        size_t old = a;
        for (size_t s = 0; s < RL_NSTEPS; s++) {
            size_t n = rl_steps[s];
            unsigned char *q = conf_realloc(p, n);
            if (q == NULL)
                conf_fail("realloc(aligned_alloc(%zu, ..) grown to %zu, %zu) = NULL", a, old, n);
            if (!conf_aligned(q, conf_weak_alignment(n)))
                conf_fail("realloc(%zu -> %zu) of a %zu-aligned block = %p: only %zu-aligned", old,
                          n, a, q, conf_alignment_of(q));
            if (!conf_aligned(q, MAX_ALIGN) && weak++ == 0)
                weak_n = n;
            size_t keep = old < n ? old : n, bad = rl_bad_byte(q, keep, (unsigned)k);
            if (bad != SIZE_MAX)
                conf_fail("realloc(%zu -> %zu) of a %zu-aligned block: byte %zu changed", old, n,
                          a, bad);
            rl_fill(q, n, (unsigned)k);
            p = q;
            old = n;
        }
        conf_free(p);
    }
    if (weak)
        conf_pass("weak (C23) alignment only: %zu results below 16-alignment, first for n = %zu",
                  weak, weak_n);
}

CONF_CHECK(rl04_realloc_keeps_alignment, "RL-04", "rust-layout", CONF_REP, 20,
           "realloc keeping an alignment above 16: for aligned_alloc(A, ..) blocks, A = "
           "32..2^21, resized across size classes, how many results are still A-aligned? Rust's "
           "GlobalAlloc::realloc must keep the layout's alignment: where C's realloc does not, "
           "it allocates anew and copies (C17 7.22.3p1 promises 16 only; Rust "
           "core::alloc::GlobalAlloc::realloc; mimalloc mi_realloc_aligned)")
{
    conf_aligned_alloc_fn aa = CONF_NEED(conf_aligned_alloc_fn, aligned_alloc);
    int kept = 0, total = 0;
    size_t lost_a = 0, lost_from = 0, lost_to = 0;
    for (int k = 5; k <= 21; k++) {
        size_t a = (size_t)1 << k;
        unsigned char *p = aa(a, a);
        if (p == NULL)
            conf_observe("aligned_alloc(%zu, %zu) = NULL", a, a);
        size_t old = a;
        for (size_t s = 0; s < RL_NSTEPS; s++) {
            unsigned char *q = conf_realloc(p, rl_steps[s]);
            if (q == NULL)
                conf_observe("realloc(%zu -> %zu) of a %zu-aligned block = NULL", old,
                             rl_steps[s], a);
            total++;
            if (conf_aligned(q, a)) {
                kept++;
            } else if (lost_a == 0) {
                lost_a = a;
                lost_from = old;
                lost_to = rl_steps[s];
            }
            p = q;
            old = rl_steps[s];
        }
        conf_free(p);
    }
    if (kept == total)
        conf_observe("alignment kept by all %d reallocs", total);
    conf_observe("alignment kept by %d of %d reallocs (first lost: %zu-aligned, %zu -> %zu)", kept,
                 total, lost_a, lost_from, lost_to);
}

CONF_CHECK(rl05_aligned_alloc_any_size, "RL-05", "rust-layout", CONF_STD, 20,
           "aligned_alloc(A, n) with n not a multiple of A, as a Layout asks: A = 2..2^22, n = 1, "
           "A/2+1, A+1, 3A/2, 5A/2+7 and calloc-like use (written whole): a block, A-aligned, "
           "usable >= n (C17 7.22.3.1 after DR 460; POSIX.1-2024 aligned_alloc; Rust "
           "Layout::from_size_align allows any size)")
{
    conf_aligned_alloc_fn aa = CONF_NEED(conf_aligned_alloc_fn, aligned_alloc);
    for (int k = 1; k <= 22; k++) {
        size_t a = (size_t)1 << k;
        size_t sizes[] = {1, a / 2 + 1, a + 1, a + a / 2, 2 * a + a / 2 + 7};
        void *live[5];
        for (int s = 0; s < 5; s++) {
            size_t n = sizes[s];
            errno = CONF_ERRNO_SENTINEL;
            unsigned char *p = aa(a, n);
            if (p == NULL)
                conf_fail("aligned_alloc(%zu, %zu) = NULL (%s), expected a block", a, n,
                          conf_errname(errno));
            if (!conf_aligned(p, a))
                conf_fail("aligned_alloc(%zu, %zu) = %p: only %zu-aligned", a, n, p,
                          conf_alignment_of(p));
            if (conf_ext()->usable_size != NULL && conf_ext()->usable_size(p) < n)
                conf_fail("aligned_alloc(%zu, %zu): usable size %zu", a, n,
                          conf_ext()->usable_size(p));
            memset(p, 0x5a, n);
            live[s] = p;
        }
        for (int s = 0; s < 5; s++)
            conf_free(live[s]);
    }
}
