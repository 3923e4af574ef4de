/* check.h: the tests' one assertion macro and three helpers. */
#ifndef SABLE_TEST_CHECK_H
#define SABLE_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int check_failures;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            if (++check_failures > 20)                                                             \
                exit(1);                                                                           \
        }                                                                                          \
    } while (0)

/* resident set size in bytes, from /proc/self/statm */
static inline size_t rss_bytes(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return 0;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
        resident = 0;
    fclose(f);
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

/* the number after `name` in a "name: value" or "name value" line of a
   file (/proc/meminfo, /proc/vmstat, ...); -1 if there is none */
static inline long proc_field(const char *file, const char *name)
{
    char line[256];
    long v = -1;
    size_t len = strlen(name);
    FILE *f = fopen(file, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, name, len) == 0 && (line[len] == ':' || line[len] == ' '))
            v = strtol(line + len + 1, NULL, 10);
    fclose(f);
    return v;
}

/* the byte at offset i of a block at p of size n */
static inline unsigned char pattern(const void *p, size_t n, size_t i)
{
    uintptr_t x = (uintptr_t)p ^ (n * 0x9e3779b97f4a7c15ull) ^ (i * 0x2545f4914f6cdd1dull);
    return (unsigned char)(x ^ (x >> 17) ^ (x >> 31));
}

static inline void fill(void *p, size_t n)
{
    unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        c[i] = pattern(p, n, i);
}

static inline int intact(const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        if (c[i] != pattern(p, n, i))
            return 0;
    return 1;
}

static inline int check_done(const char *name)
{
    if (check_failures) {
        fprintf(stderr, "%s: %d check(s) failed\n", name, check_failures);
        return 1;
    }
    printf("%s: all checks passed\n", name);
    return 0;
}

#endif
