/* Standalone check of LI-04's method: under RLIMIT_AS (current + 256 MiB), a
   loop of malloc(1 MiB), then one of malloc(64), should each end in NULL
   with ENOMEM, and malloc work again once everything is freed. A loop that
   is served more than 384 MiB shows that the limit does not bound the
   allocator (its address space was reserved before the limit): it stops
   there and says so, with how much the address space grew. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

static unsigned long vm_pages(void)
{
    unsigned long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL || fscanf(f, "%lu", &pages) != 1)
        pages = 0;
    if (f)
        fclose(f);
    return pages;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(void)
{
    unsigned long pages = vm_pages();
    struct rlimit rl = {pages * 4096 + (256ul << 20), RLIM_INFINITY};
    setrlimit(RLIMIT_AS, &rl);
    size_t sizes[] = {1 << 20, 64};
    for (int i = 0; i < 2; i++) {
        void **head = NULL;
        size_t n = 0;
        double t0 = now(), last = t0;
        for (;;) {
            errno = 0;
            void **p = malloc(sizes[i]);
            if (p == NULL)
                break;
            *p = head;
            head = p;
            n++;
            if (n * sizes[i] > (384ul << 20)) {
                printf("malloc(%zu): %zu MiB served under the limit, address space grew %lu MiB: "
                       "the limit does not bind\n",
                       sizes[i], n * sizes[i] >> 20, (vm_pages() - pages) * 4096 >> 20);
                break;
            }
            if (now() - last > 1.0) {
                last = now();
                printf("  malloc(%zu): %zu blocks after %.0f s, still going\n", sizes[i], n,
                       last - t0);
                fflush(stdout);
            }
        }
        int e = errno;
        if (n * sizes[i] <= (384ul << 20))
            printf("malloc(%zu) = NULL after %zu blocks (%.1f s), errno %s\n", sizes[i], n,
                   now() - t0, e == ENOMEM ? "ENOMEM" : "other");
        fflush(stdout);
        while (head) {
            void **next = *head;
            free(head);
            head = next;
        }
        void *again = malloc(sizes[i]);
        printf("malloc(%zu) after freeing all = %s\n", sizes[i], again ? "a block" : "NULL");
        free(again);
    }
    return 0;
}
