/* shim_test.c: uses every feature of the C shim (gbench.h); run by
 * harness/shim.mk with --benchmark_format=json and --benchmark_out, and the
 * JSON is checked by harness/tests/check_shim_json.py, which knows what each
 * benchmark below must produce. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "gbench.h"

/* Records its arguments as counters, so the checker can match them with the
   instance name. */
static void bm_echo_args(gb_state *st, void *user)
{
    int nargs = (int)(intptr_t)user;
    while (gb_keep_running_batch(st, 10))
        gb_clobber_memory();
    for (int i = 0; i < nargs; i++) {
        char name[16];
        snprintf(name, sizeof name, "arg%d", i);
        gb_counter(st, name, (double)gb_get_range(st, (size_t)i), GB_COUNTER_DEFAULT);
    }
}

/* Each thread reports its index and the count: summed and averaged. */
static void bm_threads(gb_state *st, void *user)
{
    (void)user;
    while (gb_keep_running_batch(st, 100))
        gb_clobber_memory();
    gb_counter(st, "index_sum", gb_thread_index(st), GB_COUNTER_DEFAULT);
    gb_counter(st, "count_avg", gb_thread_count(st), GB_COUNTER_AVG_THREADS);
    gb_counter(st, "one_per_thread", 1, GB_COUNTER_DEFAULT);
    gb_counter(st, "iters_sum", (double)gb_get_iterations(st), GB_COUNTER_DEFAULT);
}

/* Every counter flag, plus items and bytes. */
static void bm_counters(gb_state *st, void *user)
{
    (void)user;
    while (gb_keep_running_batch(st, GB_BATCH))
        for (int i = 0; i < GB_BATCH; i++)
            gb_clobber_memory();
    gb_counter(st, "plain", 5, GB_COUNTER_DEFAULT);
    gb_counter(st, "rate", 1000, GB_COUNTER_RATE);
    gb_counter(st, "avg_threads", 6, GB_COUNTER_AVG_THREADS);
    gb_counter(st, "avg_threads_rate", 1000, GB_COUNTER_AVG_THREADS_RATE);
    gb_counter(st, "invariant", 3, GB_COUNTER_ITERATION_INVARIANT);
    gb_counter(st, "invariant_rate", 3, GB_COUNTER_ITERATION_INVARIANT_RATE);
    gb_counter(st, "avg_iters", 1e6, GB_COUNTER_AVG_ITERATIONS);
    gb_counter(st, "avg_iters_rate", 1e6, GB_COUNTER_AVG_ITERATIONS_RATE);
    gb_counter(st, "inverted", 4, GB_COUNTER_INVERT);
    gb_counter(st, "inverted_rate", 4, GB_COUNTER_RATE | GB_COUNTER_INVERT);
    gb_counter_k(st, "kibi", 2048, GB_COUNTER_DEFAULT, GB_ONE_K_1024);
    gb_set_items_processed(st, gb_get_iterations(st) * 2);
    gb_set_bytes_processed(st, gb_get_iterations(st) * 64);
    gb_set_label(st, "a label");
}

static void bm_skip(gb_state *st, void *user)
{
    (void)user;
    gb_skip_with_error(st, "deliberate skip: 42");
    while (gb_keep_running(st))
        abort(); /* never entered after a skip */
}

/* Manual time: every iteration "takes" 2 ms. */
static void bm_manual(gb_state *st, void *user)
{
    (void)user;
    while (gb_keep_running(st))
        gb_set_iteration_time(st, 0.002);
}

/* One-iteration loop with pause/resume around untimed work. */
static void bm_pause(gb_state *st, void *user)
{
    (void)user;
    int64_t paused = 0;
    while (gb_keep_running(st)) {
        gb_pause_timing(st);
        paused++;
        gb_resume_timing(st);
    }
    gb_counter(st, "paused", (double)paused, GB_COUNTER_DEFAULT);
}

/* DoNotOptimize and ClobberMemory keep a 64 MiB write alive; without them gcc
   -O2 deletes the memset before free() and RSS would not grow. Exported as
   the growth of the peak RSS. */
#define BIG (64u << 20)
static void bm_do_not_optimize(gb_state *st, void *user)
{
    (void)user;
    size_t growth = 0;
    while (gb_keep_running(st)) {
        size_t before = hm_rss_bytes();
        hm_rss_reset_peak();
        char *p = malloc(BIG);
        memset(p, 1, BIG);
        gb_do_not_optimize(p);
        free(p);
        size_t peak = hm_rss_peak_bytes();
        growth = peak > before ? peak - before : 0;
    }
    gb_counter(st, "hwm_growth", (double)growth, GB_COUNTER_DEFAULT);
}

static void bm_clobber(gb_state *st, void *user)
{
    (void)user;
    size_t growth = 0;
    while (gb_keep_running(st)) {
        size_t before = hm_rss_bytes();
        hm_rss_reset_peak();
        char *p = malloc(BIG);
        gb_do_not_optimize(p); /* p escapes before the write */
        memset(p, 1, BIG);
        gb_clobber_memory(); /* the write must happen before free */
        free(p);
        size_t peak = hm_rss_peak_bytes();
        growth = peak > before ? peak - before : 0;
    }
    gb_counter(st, "hwm_growth", (double)growth, GB_COUNTER_DEFAULT);
}

/* An empty batched loop: the shim's overhead per operation. */
static void bm_empty_loop(gb_state *st, void *user)
{
    (void)user;
    while (gb_keep_running_batch(st, GB_BATCH))
        for (int i = 0; i < GB_BATCH; i++)
            gb_clobber_memory();
}

/* Only the batched loop's own cost: one call per GB_BATCH operations. */
static void bm_empty_batch(gb_state *st, void *user)
{
    (void)user;
    while (gb_keep_running_batch(st, GB_BATCH))
        gb_clobber_memory();
}

/* Registration order: registrations run sorted by name, so the families of
   reg_a come before those of reg_b even though reg_b is defined first. */
GB_REGISTRATION(reg_b)
{
    gb_bench *b;
    b = gb_register("order_second", bm_empty_loop, NULL);
    gb_iterations(b, 1000);

    b = gb_register("empty_loop", bm_empty_loop, NULL);
    gb_min_time(b, 0.05);
    b = gb_register("empty_batch", bm_empty_batch, NULL);
    gb_min_time(b, 0.05);

    b = gb_register("manual", bm_manual, NULL);
    gb_use_manual_time(b);
    gb_iterations(b, 7);
    gb_unit(b, GB_MS);

    b = gb_register("pause", bm_pause, NULL);
    gb_iterations(b, 5);
    gb_unit(b, GB_US);

    b = gb_register("repeated", bm_counters, NULL);
    gb_repetitions(b, 3);
    gb_min_time(b, 0.01);

    b = gb_register("warmup", bm_empty_loop, NULL);
    gb_min_warmup_time(b, 0.01);
    gb_min_time(b, 0.01);

    b = gb_register("skip", bm_skip, NULL);
    b = gb_register("do_not_optimize", bm_do_not_optimize, NULL);
    gb_iterations(b, 1);
    b = gb_register("clobber", bm_clobber, NULL);
    gb_iterations(b, 1);
}

GB_REGISTRATION(reg_a)
{
    gb_bench *b;
    b = gb_register("order_first", bm_empty_loop, NULL);
    gb_iterations(b, 1000);

    b = gb_register("args", bm_echo_args, (void *)2);
    GB_ARGS(b, 16, 3);
    GB_ARGS(b, 32, 7);
    GB_ARG_NAMES(b, "size", "live");
    gb_iterations(b, 20);

    b = gb_register("range", bm_echo_args, (void *)1);
    gb_range_multiplier(b, 4);
    gb_range(b, 1, 64); /* 1 4 16 64 */
    gb_arg_name(b, "n");
    gb_iterations(b, 10);

    b = gb_register("dense", bm_echo_args, (void *)1);
    gb_dense_range(b, 5, 11, 3); /* 5 8 11 */
    gb_arg_name(b, "d");
    gb_iterations(b, 10);

    static const int64_t lohi[2][2] = {{1, 2}, {10, 20}};
    b = gb_register("ranges", bm_echo_args, (void *)2);
    gb_range_multiplier(b, 2);
    gb_ranges(b, lohi, 2); /* {1,2} x {10,20} */
    GB_ARG_NAMES(b, "x", "y");
    gb_iterations(b, 10);

    static const int64_t l0[] = {3, 4}, l1[] = {100, 200, 300};
    const int64_t *lists[] = {l0, l1};
    size_t lens[] = {2, 3};
    b = gb_register("product", bm_echo_args, (void *)2);
    gb_args_product(b, lists, lens, 2);
    GB_ARG_NAMES(b, "p", "q");
    gb_iterations(b, 10);

    b = gb_register("arg_single", bm_echo_args, (void *)1);
    gb_arg(b, 99);
    gb_iterations(b, 10);

    b = gb_register("threads", bm_threads, NULL);
    gb_threads(b, 2);
    gb_iterations(b, 500);

    b = gb_register("thread_range", bm_threads, NULL);
    gb_thread_range(b, 1, 4); /* 1 2 4 */
    gb_iterations(b, 300);

    b = gb_register("dense_threads", bm_threads, NULL);
    gb_dense_thread_range(b, 1, 3, 2); /* 1 3 */
    gb_iterations(b, 300);

    b = gb_register("one_thread", bm_threads, NULL);
    gb_threads(b, 1);
    gb_iterations(b, 300);

    b = gb_register("counters", bm_counters, NULL);
    gb_min_time(b, 0.01);

    b = gb_register("counters_threads", bm_counters, NULL);
    gb_threads(b, 2);
    gb_min_time(b, 0.01);
}

/* gb_main does the rest: Google Benchmark's flags, the (already done)
   registrations, the run, the shutdown. */
int main(int argc, char **argv)
{
    int n = gb_run_registrations();
    if (n != 2 || gb_run_registrations() != 2) {
        fprintf(stderr, "shim_test: %d registration functions, expected 2\n", n);
        return 1;
    }
    gb_add_context("shim_test_key", "value 42");
    gb_add_context("second_key", "x\"y");
    return gb_main(argc, argv);
}
