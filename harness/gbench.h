/* gbench.h: a C API over Google Benchmark 1.7.1 (implemented in gbench_shim.cc).
 *
 * A benchmark is a C function `void fn(gb_state *st, void *user)`. Its timed
 * part is a batched loop; one iteration is one operation:
 *
 *     static void bm_pairs(gb_state *st, void *user)
 *     {
 *         size_t n = (size_t)gb_get_range(st, 0);
 *         while (gb_keep_running_batch(st, GB_BATCH))
 *             for (int i = 0; i < GB_BATCH; i++) {
 *                 void *p = malloc(n);
 *                 gb_do_not_optimize(p);
 *                 free(p);
 *             }
 *         gb_set_items_processed(st, gb_get_iterations(st));
 *     }
 *
 *     GB_REGISTRATION(register_pairs)
 *     {
 *         gb_bench *b = gb_register("malloc_free", bm_pairs, NULL);
 *         GB_ARGS(b, 16);
 *         GB_ARG_NAMES(b, "size");
 *         gb_thread_range(b, 1, 2);
 *     }
 *
 * Every builder call returns its gb_bench so that calls can be nested.
 * Registration functions (GB_REGISTRATION) run when gb_run_registrations() is
 * called, in the order of their names, not at load time: the program decides
 * first (e.g. which profile), then registers. Setup that must happen once per
 * run goes at the top of the body under `if (gb_thread_index(st) == 0)`;
 * Google Benchmark starts all threads together at the loop.
 *
 * A family whose thread counts include more than one thread is switched to real
 * time (unless it uses manual time) when the benchmarks run: iterations are
 * then the total over all threads, real_time is wall time per operation and
 * rates (items/bytes per second, GB_COUNTER_RATE) are per wall second. The
 * instance name then contains "real_time".
 *
 * Instruction counts: with HEAPMARK_COUNT_OPS=<file> in the environment,
 * gb_run() (a) switches callgrind's collection on inside every timed loop of
 * a single-thread benchmark, between batches, and off outside, and (b) writes
 * {"operations": N, "under_callgrind": true|false} to <file>: the operations
 * run inside those loops. Run under `valgrind --tool=callgrind
 * --collect-atstart=no`, the total Ir of the profile divided by N is the
 * instructions per operation (`build/heapmark run --instructions` does this).
 */
#ifndef HEAPMARK_GBENCH_H
#define HEAPMARK_GBENCH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gb_state gb_state; /* benchmark::State */
typedef struct gb_bench gb_bench; /* a registered family */
typedef void (*gb_fn)(gb_state *st, void *user);

/* A batch size whose loop overhead is negligible for operations of ~10 ns. */
#define GB_BATCH 1000

/* --- registration ---------------------------------------------------------- */

/* Registers `fn` under `name` (copied); `user` is passed to every call. */
gb_bench *gb_register(const char *name, gb_fn fn, void *user);

gb_bench *gb_arg(gb_bench *b, int64_t x);
/* one instance with n arguments */
gb_bench *gb_args(gb_bench *b, const int64_t *xs, size_t n);
/* lo, lo*m, lo*m^2 ... hi (m = range multiplier, default 8) */
gb_bench *gb_range(gb_bench *b, int64_t lo, int64_t hi);
gb_bench *gb_range_multiplier(gb_bench *b, int m);
gb_bench *gb_dense_range(gb_bench *b, int64_t lo, int64_t hi, int step);
/* cartesian product of n ranges, lohi[i] = {lo, hi} */
gb_bench *gb_ranges(gb_bench *b, const int64_t (*lohi)[2], size_t n);
/* cartesian product of n explicit lists */
gb_bench *gb_args_product(gb_bench *b, const int64_t *const *lists, const size_t *lens, size_t n);
gb_bench *gb_arg_name(gb_bench *b, const char *name);
gb_bench *gb_arg_names(gb_bench *b, const char *const *names, size_t n);

gb_bench *gb_threads(gb_bench *b, int n);
gb_bench *gb_thread_range(gb_bench *b, int lo, int hi); /* lo, 2lo, 4lo ... hi */
gb_bench *gb_dense_thread_range(gb_bench *b, int lo, int hi, int stride);

gb_bench *gb_min_time(gb_bench *b, double seconds);
gb_bench *gb_min_warmup_time(gb_bench *b, double seconds);
gb_bench *gb_iterations(gb_bench *b, int64_t n); /* per thread; excludes min_time */
gb_bench *gb_repetitions(gb_bench *b, int n);
gb_bench *gb_use_real_time(gb_bench *b);
gb_bench *gb_use_manual_time(gb_bench *b); /* the body calls gb_set_iteration_time */

enum gb_unit { GB_NS, GB_US, GB_MS, GB_S };
gb_bench *gb_unit(gb_bench *b, enum gb_unit u);

/* C99 conveniences: GB_ARGS(b, 16, 100) and GB_ARG_NAMES(b, "size", "live") */
#define GB_ARGS(b, ...)                                                                   \
    gb_args((b), (const int64_t[]){__VA_ARGS__},                                          \
            sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t))
#define GB_ARG_NAMES(b, ...)                                                              \
    gb_arg_names((b), (const char *const[]){__VA_ARGS__},                                 \
                 sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

/* Registration at start-up, for objects linked into the binary:
 *     GB_REGISTRATION(register_mine) { gb_register(...); ... }
 * The function runs from gb_run_registrations(), sorted by its name. */
struct gb_registration {
    const char *name;
    void (*fn)(void);
    struct gb_registration *next;
};
void gb_registration_add(struct gb_registration *r);
/* Runs every registration function once (later calls do nothing); returns
   how many there are. */
int gb_run_registrations(void);

#define GB_REGISTRATION(fn)                                                               \
    static void fn(void);                                                                 \
    static struct gb_registration gb_registration_##fn = {#fn, fn, NULL};                 \
    __attribute__((constructor)) static void gb_registration_ctor_##fn(void)              \
    {                                                                                     \
        gb_registration_add(&gb_registration_##fn);                                       \
    }                                                                                     \
    static void fn(void)

/* --- inside a benchmark ---------------------------------------------------- */

/* Starts (first call) or continues the timed loop; the caller then runs n
   operations. Returns 0 when enough iterations were run. */
int gb_keep_running_batch(gb_state *st, int64_t n);
int gb_keep_running(gb_state *st); /* batch of 1: for slow bodies only */

int64_t gb_get_range(gb_state *st, size_t i); /* i-th argument of this instance */
int gb_thread_index(const gb_state *st);
int gb_thread_count(const gb_state *st);
int64_t gb_get_iterations(const gb_state *st); /* this thread's, so far */

/* Heavy (two clock reads, one a system call, ~1 us): never per operation. */
void gb_pause_timing(gb_state *st);
void gb_resume_timing(gb_state *st);
void gb_set_iteration_time(gb_state *st, double seconds); /* manual time */

/* Counter flags: the values of benchmark::Counter::Flags (checked in the shim). */
enum gb_counter_flags {
    GB_COUNTER_DEFAULT = 0,
    GB_COUNTER_RATE = 1,                  /* divided by the run's seconds */
    GB_COUNTER_AVG_THREADS = 2,           /* divided by the thread count */
    GB_COUNTER_AVG_THREADS_RATE = 3,
    GB_COUNTER_ITERATION_INVARIANT = 4,   /* multiplied by iterations */
    GB_COUNTER_ITERATION_INVARIANT_RATE = 5,
    GB_COUNTER_AVG_ITERATIONS = 8,        /* divided by iterations */
    GB_COUNTER_AVG_ITERATIONS_RATE = 9,
    GB_COUNTER_INVERT = (int)(1u << 31),  /* inverted last */
};
enum gb_one_k { GB_ONE_K_1000 = 1000, GB_ONE_K_1024 = 1024 };

/* Sets counter `name` of this thread (threads' values are summed, then the
   flags are applied). */
void gb_counter(gb_state *st, const char *name, double value, int flags);
void gb_counter_k(gb_state *st, const char *name, double value, int flags,
                  enum gb_one_k one_k);

void gb_set_items_processed(gb_state *st, int64_t items);
void gb_set_bytes_processed(gb_state *st, int64_t bytes);
void gb_set_label(gb_state *st, const char *label);
/* Marks this run as failed with `msg`; the loop stops (call it before the loop
   or return right after it). */
void gb_skip_with_error(gb_state *st, const char *msg);

/* Keep the compiler from removing a computation or a memory write. */
static inline void gb_do_not_optimize(const void *p)
{
    __asm__ volatile("" : : "r,m"(p) : "memory");
}
static inline void gb_clobber_memory(void)
{
    __asm__ volatile("" : : : "memory");
}

/* --- the process ----------------------------------------------------------- */

/* Adds key=value to the JSON "context" (before gb_main / gb_run). */
void gb_add_context(const char *key, const char *value);

/* Parses and removes Google Benchmark's own flags; returns 0, or 1 after
   printing a message when an argument is not recognised. */
int gb_initialize(int *argc, char **argv);
/* Runs the benchmarks selected by the flags; returns how many ran. */
size_t gb_run(void);
void gb_shutdown(void);
/* gb_initialize, gb_run_registrations, gb_run, gb_shutdown: a whole main. */
int gb_main(int argc, char **argv);

#ifdef __cplusplus
}
#endif

#endif
