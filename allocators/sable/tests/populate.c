/* populate.c: big blocks that land on memory sable holds no RAM for are
 * mapped in at once (one system call instead of a page fault per page)
 * while the program writes its big blocks whole, and fault in page by page
 * while it writes a few bytes of each. Residency is read with mincore right
 * after malloc, before the block is written. Rounds end with sable_purge(),
 * so that each round's blocks land on fresh memory. Where the kernel cannot
 * map pages in that way (MADV_POPULATE_WRITE, Linux 5.14), it says so and
 * checks nothing. calloc's blocks are never mapped in that way. Where the
 * kernel has transparent huge pages of 2 MiB (not "never"), blocks written
 * whole are mapped in as huge pages: the process holds some while they are
 * live (AnonHugePages), unless the kernel had none to give (it then
 * counts a fallback, and the test says so). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "check.h"
#include "sable.h"

#define MIB ((size_t)1 << 20)
#define PAGE ((size_t)4096)
#define BLOCKS 4

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* the share of the pages of [p, p + n) that are resident, in percent */
static int resident_pct(void *p, size_t n)
{
    static unsigned char v[MIB / PAGE];
    uintptr_t a = (uintptr_t)p & ~(uintptr_t)(PAGE - 1);
    size_t pages = n / PAGE, in = 0;
    if (mincore((void *)a, pages * PAGE, v) != 0)
        return -1;
    for (size_t i = 0; i < pages; i++)
        in += v[i] & 1;
    return (int)(in * 100 / pages);
}

/* the first line of a file into buf ("" if none) */
static void read_line(const char *path, char *buf, int size)
{
    FILE *f = fopen(path, "r");
    if (f == NULL || fgets(buf, size, f) == NULL)
        buf[0] = '\0';
    if (f != NULL)
        fclose(f);
}

/* whether the kernel would give a range that asks for them transparent
   huge pages of 2 MiB */
static int thp_on(void)
{
    char on[64], sz[32];
    read_line("/sys/kernel/mm/transparent_hugepage/enabled", on, sizeof on);
    read_line("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", sz, sizeof sz);
    return on[0] != '\0' && strstr(on, "[never]") == NULL && atol(sz) == 2 * (long)MIB;
}

/* one round: BLOCKS blocks of 1 MiB, their residency at malloc into pct[],
   each written whole or at its first byte; the process's huge pages (kB)
   while they are live into *huge_kb; freed, everything purged */
static void round_of(int whole, int *pct, long *huge_kb)
{
    char *b[BLOCKS];
    for (int i = 0; i < BLOCKS; i++) {
        b[i] = malloc(MIB);
        CHECK(b[i] != NULL);
        if (b[i] == NULL)
            return;
        pct[i] = resident_pct(b[i], MIB);
        for (size_t k = 0; k < (whole ? MIB : 1); k += PAGE)
            b[i][k] = 1;
    }
    *huge_kb = proc_field("/proc/self/smaps_rollup", "AnonHugePages");
    for (int i = 0; i < BLOCKS; i++)
        free(b[i]);
    sable_purge();
}

int main(void)
{
    void *probe = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(probe != MAP_FAILED);
    if (madvise(probe, PAGE, MADV_POPULATE_WRITE) != 0 && errno == EINVAL) {
        printf("sable populate: the kernel has no MADV_POPULATE_WRITE; nothing checked\n");
        return 0;
    }
    munmap(probe, PAGE);

    int pct[BLOCKS], mapped = 0;
    long huge = 0, fallbacks = proc_field("/proc/vmstat", "thp_fault_fallback");
    for (int r = 0; r < 12; r++)
        round_of(1, pct, &huge);
    fallbacks = proc_field("/proc/vmstat", "thp_fault_fallback") - fallbacks;
    for (int i = 0; i < BLOCKS; i++)
        mapped += pct[i] >= 99;
    printf("blocks written whole: %d of %d mapped in at malloc (%d%% %d%% %d%% %d%% resident)\n",
           mapped, BLOCKS, pct[0], pct[1], pct[2], pct[3]);
    CHECK(mapped >= BLOCKS - 1); /* one in 8 is a sample, left to fault in */
    if (!thp_on())
        printf("no transparent huge pages of 2 MiB here: huge pages not checked\n");
    else if (huge < 2048 && fallbacks > 0)
        printf("the kernel had no huge page to give (%ld fallbacks): not checked\n", fallbacks);
    else {
        printf("huge pages held while they were live: %ld kB\n", huge);
        CHECK(huge >= 2048);
    }

    int most = 0; /* calloc writes nothing: its blocks fault in as used */
    for (int i = 0; i < BLOCKS; i++) {
        char *c = calloc(1, MIB);
        CHECK(c != NULL);
        if (c == NULL)
            break;
        int pc = resident_pct(c, MIB);
        most = pc > most ? pc : most;
        free(c);
        sable_purge();
    }
    printf("calloc'd blocks meanwhile: at most %d%% resident at calloc\n", most);
    CHECK(most <= 1);

    most = 0;
    for (int r = 0; r < 24; r++)
        round_of(0, pct, &huge);
    for (int i = 0; i < BLOCKS; i++)
        most = pct[i] > most ? pct[i] : most;
    printf("blocks written at one byte: at most %d%% resident at malloc, %ld kB of huge pages\n",
           most, huge);
    CHECK(most <= 1);
    CHECK(huge == 0 || huge == -1);
    return check_done("sable populate");
}
