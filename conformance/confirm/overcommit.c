/* Standalone confirmation of LI-08 (requests beyond RAM+swap): plain
   malloc(2^36) .. malloc(2^46), never touched, and the smaps VmFlags of the
   mapping holding each block that came back ("nr": MAP_NORESERVE). No
   heapmark code; built and run by conformance/confirm/run.sh. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *(*volatile v_malloc)(size_t) = malloc;

static void print_flags(const void *p)
{
    char line[512];
    int inside = 0;
    FILE *f = fopen("/proc/self/smaps", "r");
    if (f == NULL)
        return;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
            inside = (uintptr_t)p >= lo && (uintptr_t)p < hi;
        else if (inside && strncmp(line, "VmFlags:", 8) == 0)
            printf("    its mapping's %s", line);
    }
    fclose(f);
}

int main(void)
{
    for (int k = 36; k <= 46; k += 2) {
        errno = 0;
        void *p = v_malloc((size_t)1 << k);
        printf("malloc(2^%d) = %s%s\n", k, p ? "a block" : "NULL, ",
               p ? "" : (errno == ENOMEM ? "ENOMEM" : "other errno"));
        if (p) {
            print_flags(p);
            free(p);
        }
    }
    return 0;
}
