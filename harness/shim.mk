# shim.mk: tests of the Google Benchmark C shim and of the bench binaries.
#
#   test-shim           a C program using every shim feature; its JSON is checked
#   test-bench-hist     the latency histogram (bench_hist.c)
#   test-bench-identity every build/<A>/bench reports verified: true; a wrong
#                       identity or a bad profile makes the binary refuse to run
#   test-bench-instructions  callgrind counts instructions only inside timed
#                       loops (`heapmark run --instructions`), per allocator
#   test-bench-smoke    every family of the default profile runs briefly for
#                       each allocator, without an error, with its counters
#                       (every instance for sable; see bench_smoke.sh)

SHIM_TEST_DIR := $(BUILD)/harness-tests
SHIM_TEST_BIN := $(SHIM_TEST_DIR)/shim_test

$(SHIM_TEST_BIN): $(OBJ)/harness/tests/shim_test.o $(OBJ)/harness/gbench_shim.o \
                  $(OBJ)/harness/bench_util.o
	@mkdir -p $(@D)
	$(CXX) $(LDFLAGS) -o $@ $^ -lbenchmark -lpthread

HIST_TEST_BIN := $(SHIM_TEST_DIR)/hist_test

$(HIST_TEST_BIN): $(OBJ)/harness/tests/hist_test.o $(OBJ)/harness/bench_hist.o \
                  $(OBJ)/harness/gbench_shim.o
	@mkdir -p $(@D)
	$(CXX) $(LDFLAGS) -o $@ $^ -lbenchmark -lpthread

.PHONY: test-shim test-bench-hist test-bench-identity test-bench-smoke test-bench-instructions
TESTS += test-shim test-bench-hist test-bench-identity test-bench-smoke test-bench-instructions

test-bench-hist: $(HIST_TEST_BIN)
	$(HIST_TEST_BIN)

test-shim: $(SHIM_TEST_BIN)
	PYTHON=$(PYTHON) harness/tests/shim.sh $(SHIM_TEST_BIN) $(SHIM_TEST_DIR)/out

BENCH_BINS := $(foreach a,$(BUILT),$(BUILD)/$(a)/bench)

test-bench-identity: $(BENCH_BINS)
	BUILD=$(BUILD) harness/tests/bench_identity.sh $(BUILT)

test-bench-smoke: $(BENCH_BINS)
	BUILD=$(BUILD) PYTHON=$(PYTHON) harness/tests/bench_smoke.sh $(BUILT)

# callgrind runs every built allocator but those whose allocator.mk says why
# they cannot run under valgrind (ALLOC_NO_VALGRIND_<A>)
VALGRIND_BUILT := $(strip $(foreach a,$(BUILT),$(if $(ALLOC_NO_VALGRIND_$(a)),,$(a))))

test-bench-instructions: $(BENCH_BINS) $(BUILD)/heapmark
	harness/tests/bench_instructions.sh $(BUILD)/heapmark $(VALGRIND_BUILT)
