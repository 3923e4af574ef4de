/* bench_main.c: main of build/<A>/bench.
 *
 *   bench --heapmark-info     prints the allocator identity (JSON) and exits
 *                             (0 when verified, 1 otherwise)
 *   bench [--benchmark_...]   runs the workloads through Google Benchmark
 *
 * Refuses to run (exit 3) when the malloc in use is not the expected
 * allocator's. HEAPMARK_PROFILE=quick|default|full picks how many instances
 * the workloads register (default: default). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc_ext.h"
#include "bench.h"
#include "gbench.h"

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--heapmark-info") == 0)
            return alloc_identity_print() == 0 ? 0 : 1;

    const char *prof = getenv("HEAPMARK_PROFILE");
    if (prof != NULL && *prof != '\0') {
        int p = hm_profile_parse(prof);
        if (p < 0) {
            fprintf(stderr, "%s: HEAPMARK_PROFILE='%s' is not one of quick, default, full\n",
                    argv[0], prof);
            return 2;
        }
        hm_profile_set((enum hm_profile)p);
    }

    struct alloc_identity id;
    alloc_identify(&id);
    if (!id.verified) {
        fprintf(stderr,
                "%s: refusing to run: malloc comes from '%s', but allocator '%s' expects "
                "a library matching '%s'\n",
                argv[0], id.library, id.name ? id.name : "?", id.expected ? id.expected : "?");
        return 3;
    }

    if (gb_initialize(&argc, argv) != 0)
        return 2;
    gb_add_context("allocator", id.name);
    gb_add_context("allocator_version", id.version);
    gb_add_context("allocator_library", id.library);
    gb_add_context("heapmark_profile", hm_profile_name(hm_profile()));
    gb_run_registrations();
    hm_startup_rss_record();
    /* the process's own size before the workload's first allocation: the
       report subtracts it from the peak RSS (memory above the baseline) */
    char startup[32];
    snprintf(startup, sizeof startup, "%zu", hm_startup_rss_bytes());
    gb_add_context("startup_rss_bytes", startup);
    gb_run();
    gb_shutdown();
    return 0;
}
