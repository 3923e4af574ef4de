/* settings_prog.c: a fixed sequence of operations for settings.sh.
 *   settings_prog stats  checks sable_stats against its own bookkeeping
 *                        (run with SABLE_STATS=1)
 *   settings_prog plain  checks that per-operation figures are unknown
 *                        (SIZE_MAX) without SABLE_STATS, address space known
 *   settings_prog log    prints the pointers it got, for the log check */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "sable.h"

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "plain";
    void *keep[10];
    size_t live = 0;
    for (int i = 0; i < 10; i++) {
        keep[i] = malloc(100);
        live += malloc_usable_size(keep[i]);
    }
    void *c = calloc(3, 40);
    live += malloc_usable_size(c);
    void *r = malloc(1000);
    r = realloc(r, 100000);
    live += malloc_usable_size(r);
    void *a = aligned_alloc(64, 100);
    live += malloc_usable_size(a);
    void *h = malloc(5 << 20); /* huge */
    live += malloc_usable_size(h);
    void *gone = malloc(300);
    free(gone);
    char *pf = malloc(256);
    live += malloc_usable_size(pf);
    CHECK(sable_free_range(pf + 128, 64) == 0);

    struct sable_stats st;
    CHECK(sable_stats(&st) == 0);
    CHECK(sable_stats(NULL) == EINVAL);
    CHECK(st.reserved_bytes >= (5u << 20) && st.committed_bytes >= (5u << 20));
    CHECK(st.committed_bytes <= st.reserved_bytes);
    CHECK(st.segments >= 1 && st.heaps >= 1);
    if (strcmp(mode, "stats") == 0) {
        CHECK(st.live_bytes == live);
        CHECK(st.peak_live_bytes >= live);
        CHECK(st.allocs_huge == 1 && st.allocs_small >= 14 && st.allocs_large >= 1);
        CHECK(st.frees == 1 && st.reallocs == 1 && st.partial_frees == 1);
    } else if (strcmp(mode, "plain") == 0) {
        CHECK(st.live_bytes == SIZE_MAX && st.peak_live_bytes == SIZE_MAX);
        CHECK(st.allocs_small == SIZE_MAX && st.frees == SIZE_MAX);
    } else {
        printf("keep0 %p\ncalloc %p\naligned %p\nhuge %p\ngone %p\n", keep[0], c, a, h, gone);
    }
    for (int i = 0; i < 10; i++)
        free(keep[i]);
    free(c);
    free(r);
    free(a);
    free(h);
    free(pf);
    if (strcmp(mode, "stats") == 0) {
        CHECK(sable_stats(&st) == 0 && st.live_bytes == 0);
    }
    return check_done("sable settings");
}
