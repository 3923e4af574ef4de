/* bench_util.c: the profile, CPU count and process memory figures of bench.h. */
#define _GNU_SOURCE
#include "bench.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static enum hm_profile current_profile = HM_DEFAULT;

static const char *const profile_names[] = {"quick", "default", "full"};

enum hm_profile hm_profile(void) { return current_profile; }
void hm_profile_set(enum hm_profile p) { current_profile = p; }
const char *hm_profile_name(enum hm_profile p) { return profile_names[p]; }

int hm_profile_parse(const char *s)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(s, profile_names[i]) == 0)
            return i;
    return -1;
}

int hm_ncpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* Reads "<key>:   <n> kB" from /proc/self/status. */
static size_t status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "re");
    if (f == NULL)
        return 0;
    char line[256];
    size_t klen = strlen(key), kb = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
            unsigned long long v;
            if (sscanf(line + klen + 1, "%llu", &v) == 1)
                kb = (size_t)v;
            break;
        }
    }
    fclose(f);
    return kb * 1024;
}

size_t hm_rss_bytes(void) { return status_kb("VmRSS"); }
size_t hm_rss_peak_bytes(void) { return status_kb("VmHWM"); }

int hm_rss_reset_peak(void)
{
    int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, "5", 1);
    close(fd);
    return n == 1 ? 0 : -1;
}

static size_t startup_rss;

void hm_startup_rss_record(void) { startup_rss = hm_rss_bytes(); }
size_t hm_startup_rss_bytes(void) { return startup_rss; }
