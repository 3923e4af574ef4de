/* purge.c: the purge delay adapts (run with SABLE_PURGE_DELAY=10). A
 * program that frees 48 segments' worth of 1 MiB blocks and allocates them
 * again a little later than the delay makes sable purge and then fault the
 * same RAM back in: the delay must grow (and these rounds stop faulting);
 * once the rounds stop, and a long quiet time has passed, it must shrink
 * back towards SABLE_PURGE_DELAY. A round writes the first and last page of
 * each block only, so that it takes a few milliseconds even when it faults
 * (writing every page would take longer than the delay on a slow VM).
 * `purge slices` (run with SABLE_PURGE_DELAY=40): rounds 50 ms apart, but
 * one block of each segment stays live, so that no segment empties: the
 * free slices the heap purges in its own segments, faulted back in soon
 * after their deadline, must make the delay grow too (and the rounds stop
 * faulting). */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "check.h"
#include "sable.h"

#define N 144 /* 1 MiB blocks, three per segment */

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0)
        ;
}

static size_t delay_now(void)
{
    struct sable_stats st;
    CHECK(sable_stats(&st) == 0);
    return st.purge_delay_ms;
}

static long minor_faults(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

/* n blocks of 1 MiB, their first and last page written, then freed; the
   page faults it took */
static long round_of(int n)
{
    static void *v[N];
    long f0 = minor_faults();
    for (int i = 0; i < n; i++) {
        v[i] = malloc((size_t)1 << 20);
        CHECK(v[i] != NULL);
        ((volatile char *)v[i])[0] = 1;
        ((volatile char *)v[i])[((size_t)1 << 20) - 1] = 1;
    }
    long f = minor_faults() - f0;
    for (int i = 0; i < n; i++)
        free(v[i]);
    return f;
}

/* Rounds of 1 MiB blocks in segments that each keep one live block: the
   rounds reuse (and the purges give back) free slices of the heap's own
   segments, never a whole segment. */
static void slices(void)
{
    size_t base = delay_now();
    CHECK(base == 40);
    static void *v[N], *pin[N];
    int pins = 0;
    for (int i = 0; i < N; i++) {
        v[i] = malloc((size_t)1 << 20);
        CHECK(v[i] != NULL);
    }
    for (int i = 0; i < N; i++) /* the first block of each segment stays */
        if (i == 0 || ((uintptr_t)v[i] ^ (uintptr_t)v[i - 1]) >> 22 != 0)
            pin[pins++] = v[i];
        else
            free(v[i]);
    CHECK(pins >= N / 4);
    long faults[8];
    for (int r = 0; r < 8; r++) {
        faults[r] = round_of(N - pins);
        sleep_ms(50);
    }
    size_t grown = delay_now();
    printf("slices: purge delay %zu ms at start, %zu ms after 8 rounds 50 ms apart; page "
           "faults per round: %ld %ld ... %ld %ld\n",
           base, grown, faults[0], faults[1], faults[6], faults[7]);
    CHECK(grown >= 2 * base);
    CHECK(faults[7] * 10 < faults[1]); /* (round 0 faults fresh slices in) */
    for (int i = 0; i < pins; i++)
        free(pin[i]);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "slices") == 0) {
        slices();
        return check_done("sable purge slices");
    }
    size_t base = delay_now();
    CHECK(base == 10);
    long faults[8];
    for (int r = 0; r < 8; r++) {
        faults[r] = round_of(N);
        sleep_ms(25); /* longer than the delay at first */
    }
    size_t grown = delay_now();
    printf("purge delay %zu ms at start, %zu ms after 8 rounds 25 ms apart; page faults per "
           "round: %ld %ld ... %ld %ld\n",
           base, grown, faults[0], faults[1], faults[6], faults[7]);
    CHECK(grown >= 4 * base);
    CHECK(faults[7] * 10 < faults[0]); /* the last rounds reuse warm memory */

    /* quiet: rounds of 4 segments (so the pool has warm ones to purge and
       the heap needs none from the OS) spaced far apart */
    size_t later = grown;
    for (int r = 0; r < 12 && later > base; r++) {
        sleep_ms((long)(later * 9));
        round_of(12);
        sleep_ms((long)later + 5);
        for (int i = 0; i < 64; i++) /* slow-path events: the pool's purge runs */
            free(malloc(((size_t)256 << 10) + (size_t)i * 4096));
        later = delay_now();
    }
    printf("purge delay %zu ms after quiet rounds\n", later);
    CHECK(later < grown);
    return check_done("sable purge");
}
