/* lean.c: at a program's peak, sable holds little more than the live
 * bytes. A program keeps every other block of a first phase live (48
 * blocks of 100 KiB, written), so the freed ones leave holes of two slices
 * that still hold RAM (the purge delay is one minute here: nothing is given
 * back by time), then allocates blocks of a bigger size (600 KiB) that do
 * not fit in those holes. Fresh RAM comes in for them; the free RAM of the
 * holes must go back to the OS first, not stay until the delay has passed:
 * the resident set above the baseline over the live bytes, at the peak,
 * must stay under 1.15 (1.29 when the holes stay). Single-threaded and
 * deterministic: no clock, no other thread. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "sable.h"

#define KiB ((size_t)1 << 10)
#define FIRST 48
#define SECOND 10

int main(void)
{
    static char *first[FIRST], *second[SECOND];
    /* warm up: the heap and its first segment exist before the baseline */
    free(malloc(64));
    size_t base = rss_bytes();
    size_t live = 0;
    for (int i = 0; i < FIRST; i++) {
        first[i] = malloc(100 * KiB);
        CHECK(first[i] != NULL);
        memset(first[i], 0x11, 100 * KiB);
        live += 100 * KiB;
    }
    for (int i = 0; i < FIRST; i += 2) {
        free(first[i]);
        first[i] = NULL;
        live -= 100 * KiB;
    }
    for (int i = 0; i < SECOND; i++) {
        second[i] = malloc(600 * KiB);
        CHECK(second[i] != NULL);
        memset(second[i], 0x22, 600 * KiB);
        live += 600 * KiB;
    }
    size_t held = rss_bytes() - base;
    double ratio = (double)held / (double)live;
    printf("sable lean: %zu KiB resident above the baseline for %zu KiB live at the peak: %.3f\n",
           held / KiB, live / KiB, ratio);
    CHECK(ratio < 1.15);
    for (int i = 0; i < FIRST; i++)
        free(first[i]);
    for (int i = 0; i < SECOND; i++)
        free(second[i]);
    return check_failures ? 1 : 0;
}
