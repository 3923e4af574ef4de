// gbench_shim.cc: the C API of gbench.h over Google Benchmark 1.7.1.
// The only C++ in heapmark. A gb_state is the benchmark::State itself.
#include "gbench.h"

#include <benchmark/benchmark.h>
#include <valgrind/callgrind.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

using benchmark::Counter;
using benchmark::State;
using benchmark::internal::Benchmark;

// The C enums mirror Google Benchmark's values.
#define GB_SAME(a, b) static_assert(static_cast<long long>(a) == static_cast<long long>(b), #a)
GB_SAME(GB_COUNTER_DEFAULT, Counter::kDefaults);
GB_SAME(GB_COUNTER_RATE, Counter::kIsRate);
GB_SAME(GB_COUNTER_AVG_THREADS, Counter::kAvgThreads);
GB_SAME(GB_COUNTER_AVG_THREADS_RATE, Counter::kAvgThreadsRate);
GB_SAME(GB_COUNTER_ITERATION_INVARIANT, Counter::kIsIterationInvariant);
GB_SAME(GB_COUNTER_ITERATION_INVARIANT_RATE, Counter::kIsIterationInvariantRate);
GB_SAME(GB_COUNTER_AVG_ITERATIONS, Counter::kAvgIterations);
GB_SAME(GB_COUNTER_AVG_ITERATIONS_RATE, Counter::kAvgIterationsRate);
GB_SAME(GB_COUNTER_INVERT, Counter::kInvert);
GB_SAME(GB_ONE_K_1000, Counter::kIs1000);
GB_SAME(GB_ONE_K_1024, Counter::kIs1024);
GB_SAME(GB_NS, benchmark::kNanosecond);
GB_SAME(GB_US, benchmark::kMicrosecond);
GB_SAME(GB_MS, benchmark::kMillisecond);
GB_SAME(GB_S, benchmark::kSecond);
#undef GB_SAME

struct gb_bench {
    Benchmark *b;
    int max_threads = 1;
    bool manual_time = false;
    bool real_time = false;
};

namespace {

// Families registered through gb_register; they live until the process ends.
std::vector<gb_bench *> &families()
{
    static std::vector<gb_bench *> all;
    return all;
}

inline State &S(gb_state *st) { return *reinterpret_cast<State *>(st); }
inline const State &S(const gb_state *st) { return *reinterpret_cast<const State *>(st); }

// Registration functions added by constructors: a plain pointer, so that it is
// valid before any C++ static initialiser has run.
gb_registration *registrations = nullptr;
bool registrations_done = false;

// Families with more than one thread run on real time (see gbench.h).
void finish_families()
{
    for (gb_bench *g : families()) {
        if (g->max_threads > 1 && !g->manual_time && !g->real_time) {
            g->b->UseRealTime();
            g->real_time = true;
        }
    }
}

// Instruction counting (HEAPMARK_COUNT_OPS=<file>, see gbench.h): callgrind
// collects only inside timed loops, and the operations run there are counted.
bool counting = false;
const char *count_file = nullptr;
std::atomic<int64_t> counted_ops{0};
thread_local bool collecting = false;

int count_batch(State &st, int64_t n)
{
    if (st.threads() != 1) // one thread's toggles only: a global switch
        return st.KeepRunningBatch(static_cast<benchmark::IterationCount>(n));
    if (collecting) { // between batches: Google Benchmark's own code is not counted
        CALLGRIND_TOGGLE_COLLECT;
        collecting = false;
    }
    bool more = st.KeepRunningBatch(static_cast<benchmark::IterationCount>(n));
    if (more) {
        counted_ops.fetch_add(n, std::memory_order_relaxed);
        collecting = true;
        CALLGRIND_TOGGLE_COLLECT;
    }
    return more;
}

void count_start()
{
    const char *f = std::getenv("HEAPMARK_COUNT_OPS");
    if (f != nullptr && *f != '\0') {
        counting = true;
        count_file = f;
    }
}

int count_finish()
{
    if (!counting)
        return 0;
    std::FILE *f = std::fopen(count_file, "w");
    if (f == nullptr) {
        std::fprintf(stderr, "gbench: cannot write HEAPMARK_COUNT_OPS file %s\n", count_file);
        return 1;
    }
    std::fprintf(f, "{\"operations\": %lld, \"under_callgrind\": %s}\n",
                 static_cast<long long>(counted_ops.load()),
                 RUNNING_ON_VALGRIND ? "true" : "false");
    return std::fclose(f) == 0 ? 0 : 1;
}

} // namespace

extern "C" {

gb_bench *gb_register(const char *name, gb_fn fn, void *user)
{
    gb_bench *g = new gb_bench;
    g->b = benchmark::RegisterBenchmark(name, [fn, user](State &st) {
        fn(reinterpret_cast<gb_state *>(&st), user);
    });
    families().push_back(g);
    return g;
}

gb_bench *gb_arg(gb_bench *g, int64_t x) { g->b->Arg(x); return g; }

gb_bench *gb_args(gb_bench *g, const int64_t *xs, size_t n)
{
    g->b->Args(std::vector<int64_t>(xs, xs + n));
    return g;
}

gb_bench *gb_range(gb_bench *g, int64_t lo, int64_t hi) { g->b->Range(lo, hi); return g; }
gb_bench *gb_range_multiplier(gb_bench *g, int m) { g->b->RangeMultiplier(m); return g; }

gb_bench *gb_dense_range(gb_bench *g, int64_t lo, int64_t hi, int step)
{
    g->b->DenseRange(lo, hi, step);
    return g;
}

gb_bench *gb_ranges(gb_bench *g, const int64_t (*lohi)[2], size_t n)
{
    std::vector<std::pair<int64_t, int64_t>> r;
    for (size_t i = 0; i < n; i++)
        r.emplace_back(lohi[i][0], lohi[i][1]);
    g->b->Ranges(r);
    return g;
}

gb_bench *gb_args_product(gb_bench *g, const int64_t *const *lists, const size_t *lens, size_t n)
{
    std::vector<std::vector<int64_t>> l;
    for (size_t i = 0; i < n; i++)
        l.emplace_back(lists[i], lists[i] + lens[i]);
    g->b->ArgsProduct(l);
    return g;
}

gb_bench *gb_arg_name(gb_bench *g, const char *name) { g->b->ArgName(name); return g; }

gb_bench *gb_arg_names(gb_bench *g, const char *const *names, size_t n)
{
    g->b->ArgNames(std::vector<std::string>(names, names + n));
    return g;
}

gb_bench *gb_threads(gb_bench *g, int n)
{
    g->b->Threads(n);
    g->max_threads = std::max(g->max_threads, n);
    return g;
}

gb_bench *gb_thread_range(gb_bench *g, int lo, int hi)
{
    g->b->ThreadRange(lo, hi);
    g->max_threads = std::max(g->max_threads, hi);
    return g;
}

gb_bench *gb_dense_thread_range(gb_bench *g, int lo, int hi, int stride)
{
    g->b->DenseThreadRange(lo, hi, stride);
    g->max_threads = std::max(g->max_threads, hi);
    return g;
}

gb_bench *gb_min_time(gb_bench *g, double s) { g->b->MinTime(s); return g; }
gb_bench *gb_min_warmup_time(gb_bench *g, double s) { g->b->MinWarmUpTime(s); return g; }
gb_bench *gb_iterations(gb_bench *g, int64_t n) { g->b->Iterations(n); return g; }
gb_bench *gb_repetitions(gb_bench *g, int n) { g->b->Repetitions(n); return g; }

gb_bench *gb_use_real_time(gb_bench *g)
{
    if (g->manual_time) {
        std::fprintf(stderr, "gbench: real time and manual time are exclusive\n");
        return g;
    }
    if (!g->real_time)
        g->b->UseRealTime();
    g->real_time = true;
    return g;
}

gb_bench *gb_use_manual_time(gb_bench *g)
{
    if (g->real_time) {
        std::fprintf(stderr, "gbench: real time and manual time are exclusive\n");
        return g;
    }
    if (!g->manual_time)
        g->b->UseManualTime();
    g->manual_time = true;
    return g;
}

gb_bench *gb_unit(gb_bench *g, enum gb_unit u)
{
    g->b->Unit(static_cast<benchmark::TimeUnit>(u));
    return g;
}

void gb_registration_add(struct gb_registration *r)
{
    r->next = registrations;
    registrations = r;
}

int gb_run_registrations(void)
{
    std::vector<gb_registration *> all;
    for (gb_registration *r = registrations; r; r = r->next)
        all.push_back(r);
    if (registrations_done)
        return static_cast<int>(all.size());
    registrations_done = true;
    std::sort(all.begin(), all.end(), [](const gb_registration *a, const gb_registration *b) {
        return std::strcmp(a->name, b->name) < 0;
    });
    for (gb_registration *r : all)
        r->fn();
    return static_cast<int>(all.size());
}

int gb_keep_running_batch(gb_state *st, int64_t n)
{
    if (__builtin_expect(counting, 0))
        return count_batch(S(st), n);
    return S(st).KeepRunningBatch(static_cast<benchmark::IterationCount>(n));
}

int gb_keep_running(gb_state *st) { return gb_keep_running_batch(st, 1); }

int64_t gb_get_range(gb_state *st, size_t i) { return S(st).range(i); }
int gb_thread_index(const gb_state *st) { return S(st).thread_index(); }
int gb_thread_count(const gb_state *st) { return S(st).threads(); }
int64_t gb_get_iterations(const gb_state *st) { return S(st).iterations(); }

void gb_pause_timing(gb_state *st) { S(st).PauseTiming(); }
void gb_resume_timing(gb_state *st) { S(st).ResumeTiming(); }
void gb_set_iteration_time(gb_state *st, double s) { S(st).SetIterationTime(s); }

void gb_counter_k(gb_state *st, const char *name, double value, int flags, enum gb_one_k one_k)
{
    S(st).counters[name] = Counter(value, static_cast<Counter::Flags>(flags),
                                   static_cast<Counter::OneK>(one_k));
}

void gb_counter(gb_state *st, const char *name, double value, int flags)
{
    gb_counter_k(st, name, value, flags, GB_ONE_K_1000);
}

void gb_set_items_processed(gb_state *st, int64_t items) { S(st).SetItemsProcessed(items); }
void gb_set_bytes_processed(gb_state *st, int64_t bytes) { S(st).SetBytesProcessed(bytes); }
void gb_set_label(gb_state *st, const char *label) { S(st).SetLabel(label); }
void gb_skip_with_error(gb_state *st, const char *msg) { S(st).SkipWithError(msg); }

void gb_add_context(const char *key, const char *value) { benchmark::AddCustomContext(key, value); }

int gb_initialize(int *argc, char **argv)
{
    benchmark::Initialize(argc, argv);
    return benchmark::ReportUnrecognizedArguments(*argc, argv) ? 1 : 0;
}

size_t gb_run(void)
{
    finish_families();
    count_start();
    size_t n = benchmark::RunSpecifiedBenchmarks();
    if (count_finish() != 0)
        std::exit(1);
    return n;
}

void gb_shutdown(void) { benchmark::Shutdown(); }

int gb_main(int argc, char **argv)
{
    if (gb_initialize(&argc, argv) != 0)
        return 1;
    gb_run_registrations();
    gb_run();
    gb_shutdown();
    return 0;
}

} // extern "C"
