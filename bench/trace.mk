# trace.mk: the allocation-trace recorder (bench/trace/) and its test.
#
#   build/lib/libhmtrace.so   LD_PRELOAD recorder (bench/trace/hmtrace.c)
#   test-trace                records a small C program whose calls are known
#                             and checks the trace event by event; records
#                             python3 and checks the replay workload runs it

HMTRACE_SO := $(BUILD)/lib/libhmtrace.so

$(HMTRACE_SO): bench/trace/hmtrace.c | deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fPIC -shared -o $@ $< -ldl -lpthread

TRACE_TEST_DIR := $(BUILD)/trace-tests

$(TRACE_TEST_DIR)/trace_prog: bench/trace/tests/trace_prog.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fno-builtin -o $@ $< -lpthread

.PHONY: test-trace
TESTS += test-trace

test-trace: $(HMTRACE_SO) $(TRACE_TEST_DIR)/trace_prog $(BUILD)/$(firstword $(BUILT))/bench
	BUILD=$(BUILD) PYTHON=$(PYTHON) BENCH=$(BUILD)/$(firstword $(BUILT))/bench bench/trace/tests/trace_test.sh
