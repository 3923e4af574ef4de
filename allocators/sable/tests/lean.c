/* lean.c: at a program's peak, sable holds little more than the live
 * bytes. Each case runs in a child of its own (a fresh heap), with a purge
 * delay of one minute (make test-sable-lean): nothing goes back by time,
 * so what is measured is where sable puts new spans and what it gives back
 * before fresh RAM comes in. Single-threaded and deterministic.
 *
 * holes: a program keeps every other block of a first phase live (48
 * blocks of 100 KiB, written), so the freed ones leave holes of two slices
 * that still hold RAM, then allocates blocks of a bigger size (600 KiB)
 * that do not fit in them. The RAM of the holes must go back before fresh
 * RAM comes in for the big blocks: resident above the baseline over live
 * bytes at the peak under 1.15 (1.31 when the holes stay).
 *
 * buffer: a program reads a file into a 1 MiB buffer, frees it, then
 * builds 4 MiB of 64-byte blocks. The empty page of the buffer (kept for
 * the next big block) must serve the new small pages rather than stay
 * beside them: under 1.25 (1.42 when it stays). */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "check.h"
#include "sable.h"

#define KiB ((size_t)1 << 10)

static void report(const char *name, size_t held, size_t live, double bound)
{
    double ratio = (double)held / (double)live;
    printf("sable lean %s: %zu KiB resident above the baseline for %zu KiB live at the peak: "
           "%.3f (bound %.2f)\n",
           name, held / KiB, live / KiB, ratio, bound);
    CHECK(ratio < bound);
}

static void holes(void)
{
    enum { FIRST = 48, SECOND = 10 };
    static char *first[FIRST], *second[SECOND];
    size_t base = rss_bytes(), live = 0;
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
    report("holes", rss_bytes() - base, live, 1.15);
    for (int i = 0; i < FIRST; i++)
        free(first[i]);
    for (int i = 0; i < SECOND; i++)
        free(second[i]);
}

static void buffer(void)
{
    enum { N = 65536 };
    static char *blk[N];
    size_t base = rss_bytes(), live = 0;
    char *buf = malloc(1024 * KiB);
    CHECK(buf != NULL);
    memset(buf, 0x33, 1024 * KiB);
    free(buf);
    for (int i = 0; i < N; i++) {
        blk[i] = malloc(64);
        CHECK(blk[i] != NULL);
        memset(blk[i], 0x44, 64);
        live += 64;
    }
    report("buffer", rss_bytes() - base, live, 1.25);
    for (int i = 0; i < N; i++)
        free(blk[i]);
}

/* runs fn in a child; its failures become the child's exit status */
static void in_child(void (*fn)(void))
{
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        free(malloc(64)); /* the heap and its first segment exist before the baseline */
        fn();
        fflush(stdout);
        _exit(check_failures ? 1 : 0);
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void)
{
    in_child(holes);
    in_child(buffer);
    if (check_failures == 0)
        printf("sable lean: all checks passed\n");
    return check_failures ? 1 : 0;
}
