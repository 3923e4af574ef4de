/* enomem.c: sable hands out no memory the kernel would not back.
 *  overcommit: requests of 2^k bytes from twice the machine's RAM plus swap
 *      up to 2^46 (the kernel's heuristic and strict overcommit policies
 *      both refuse them at once) fail with NULL and ENOMEM through malloc,
 *      calloc, posix_memalign and realloc of a huge block, and only after
 *      the OOM handler was asked; a block that fits is still given.
 *      Skipped with a message under overcommit_memory=1, where the kernel
 *      grants any size.
 *  RLIMIT_DATA: under a data limit 64 MiB above the current use, 5 MiB and
 *      1 MiB blocks end in NULL with ENOMEM; after freeing them, the same
 *      sizes work again. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "check.h"
#include "sable.h"

#define MiB ((size_t)1 << 20)

/* a "Name:   N kB" line of a /proc file, in bytes; 0 if absent */
static size_t proc_kb(const char *file, const char *name)
{
    long kb = proc_field(file, name);
    return kb > 0 ? (size_t)kb * 1024 : 0;
}

static atomic_int handler_calls;

static int refuse(size_t n, void *arg)
{
    (void)n;
    (void)arg;
    atomic_fetch_add(&handler_calls, 1);
    return 0;
}

static void test_overcommit(void)
{
    int mode = -1;
    FILE *f = fopen("/proc/sys/vm/overcommit_memory", "r");
    if (f == NULL || fscanf(f, "%d", &mode) != 1)
        mode = -1;
    if (f)
        fclose(f);
    if (mode == 1) {
        printf(
            "enomem: overcommit_memory=1 (the kernel grants any size): overcommit part skipped\n");
        return;
    }
    size_t total = proc_kb("/proc/meminfo", "MemTotal") + proc_kb("/proc/meminfo", "SwapTotal");
    CHECK(total > 0);
    unsigned k0 = 64u - (unsigned)__builtin_clzll(2 * total); /* 2^k0 > 2 * total */
    if (k0 > 46) {
        printf("enomem: RAM+swap %zu MiB, twice that beyond 2^46: overcommit part skipped\n",
               total >> 20);
        return;
    }
    sable_set_oom_handler(refuse, NULL);
    char *big = malloc(3 * MiB); /* a huge block, to grow with realloc */
    CHECK(big != NULL);
    unsigned tried = 0;
    for (unsigned k = k0; k <= 46; k++, tried++) {
        size_t n = (size_t)1 << k;
        int before = atomic_load(&handler_calls);
        errno = 0;
        void *p = malloc(n);
        CHECK(p == NULL && errno == ENOMEM);
        CHECK(atomic_load(&handler_calls) > before);
        free(p);
        errno = 0;
        p = calloc(1, n);
        CHECK(p == NULL && errno == ENOMEM);
        free(p);
        p = NULL;
        CHECK(posix_memalign(&p, 1 << 16, n) == ENOMEM && p == NULL);
        errno = 0;
        p = realloc(big, n);
        CHECK(p == NULL && errno == ENOMEM);
        if (p != NULL)
            big = p;
    }
    big[3 * MiB - 1] = 1; /* the block is untouched by the failed reallocs */
    free(big);
    void *ok = malloc(64 * MiB);
    CHECK(ok != NULL);
    free(ok);
    sable_set_oom_handler(NULL, NULL);
    printf("enomem: overcommit_memory=%d, RAM+swap %zu MiB: malloc, calloc, posix_memalign "
           "and realloc of 2^%u..2^46 refused, handler called %d times\n",
           mode, total >> 20, k0, atomic_load(&handler_calls));
    CHECK(tried > 0);
}

static void test_rlimit_data(void)
{
    struct rlimit old;
    CHECK(getrlimit(RLIMIT_DATA, &old) == 0);
    size_t data = proc_kb("/proc/self/status", "VmData");
    CHECK(data > 0);
    struct rlimit rl = {data + 64 * MiB, old.rlim_max};
    if (old.rlim_cur != RLIM_INFINITY && old.rlim_cur < rl.rlim_cur)
        rl.rlim_cur = old.rlim_cur;
    CHECK(setrlimit(RLIMIT_DATA, &rl) == 0);
    size_t sizes[] = {5 * MiB, 1 * MiB};
    for (int i = 0; i < 2; i++) {
        void **head = NULL;
        size_t count = 0;
        int err = 0;
        for (;;) {
            errno = 0;
            void **b = malloc(sizes[i]);
            if (b == NULL) {
                err = errno;
                break;
            }
            *b = head;
            head = b;
            count++;
        }
        CHECK(err == ENOMEM);
        CHECK(count > 0);
        printf("enomem: RLIMIT_DATA +64 MiB: %zu blocks of %zu KiB, then ENOMEM\n", count,
               sizes[i] >> 10);
        while (head) {
            void **next = *head;
            free(head);
            head = next;
        }
        void *again = malloc(sizes[i]);
        CHECK(again != NULL);
        free(again);
    }
    CHECK(setrlimit(RLIMIT_DATA, &old) == 0);
}

int main(void)
{
    test_overcommit();
    test_rlimit_data();
    return check_done("sable enomem");
}
