# runner.mk: tests of the runner build/heapmark (harness/runner/).
#
#   test-runner-json         the JSON layer over jansson (NaN/Infinity, errors, the
#                            exact text written)
#   test-runner-faults       crash, hang, garbage, missing JSON, non-zero exit and
#                            error_occurred are each recorded; the run goes on
#   test-runner-interrupt    SIGTERM/SIGINT mid-run: finished results kept, meta.json
#                            "interrupted", exit 143/130, the running child killed
#   test-runner-errors       bad flags, unknown allocator, filter matching nothing,
#                            unverified allocator, unwritable or full results folder:
#                            one clear line, non-zero exit, nothing run
#   test-runner-real         the real bench binaries: two runs never overwrite each
#                            other and `latest` moves; name=/path.so preload (jemalloc);
#                            a preloaded faulty malloc (libfault.so) crashes, hangs,
#                            exits and is recorded as such; a variant's variables
#                            reach the real process (libfault, SABLE_STATS)
#   test-runner-variants     allocator variants NAME=BASE:VAR=VAL...: the variables
#                            reach --heapmark-info, the listing, each benchmark, a
#                            callgrind run and the conformance binary, and no other
#                            allocator's; escapes; meta.json base/env; the refusals
#                            are in test-runner-errors
#   test-runner-conformance  `heapmark conformance`: two at a time, options passed
#                            through, no Python started (strace), crash and
#                            --limit recorded with exit 0, preload
#   test-runner-valgrind     the runner itself under memcheck: no memory errors
#                            (list, run, run --instructions, trace, refusals)
#   test-runner-trace        `heapmark trace`: the exact events of a known program,
#                            its exit status, never overwriting, .gz, threads, the
#                            replay workload finds the trace; clear refusals
#   test-runner-programs     real-program workloads on quick definitions: crash, hang,
#                            missing figure, server never up, missing command each
#                            recorded or skipped; a differing result is a mismatch; a
#                            static program is unproven; the RSS series of a known
#                            program; servers stopped, also on SIGTERM; --program
#   test-runner-instructions `heapmark run --instructions` (callgrind): plausible
#                            instructions_per_op for glibc and sable, the same in two
#                            runs; threads:2 skipped; a threaded process not counted;
#                            refusals
#
# The failure cases use fake_bench (a stand-in bench/conformance binary that
# misbehaves on request) in a throw-away tree under build/runner-tests/.

RUNNER_TEST_DIR := $(BUILD)/runner-tests
RUNNER_TEST_SRC := harness/runner/tests

$(RUNNER_TEST_DIR)/json_test: $(RUNNER_TEST_SRC)/json_test.c harness/runner/json.c \
                              harness/runner/json.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Iharness/runner -o $@ $(RUNNER_TEST_SRC)/json_test.c harness/runner/json.c -ljansson -lm

$(RUNNER_TEST_DIR)/fake_bench: $(RUNNER_TEST_SRC)/fake_bench.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $<

$(RUNNER_TEST_DIR)/libfault.so: $(RUNNER_TEST_SRC)/libfault.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fPIC -shared -o $@ $<

# a program whose allocation calls are known (no builtin folding of malloc/free)
$(RUNNER_TEST_DIR)/trace_target: $(RUNNER_TEST_SRC)/trace_target.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fno-builtin -o $@ $< -lpthread

# stand-ins for real programs (test-runner-programs), one statically linked
$(RUNNER_TEST_DIR)/prog_target: $(RUNNER_TEST_SRC)/prog_target.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fno-builtin -o $@ $<

$(RUNNER_TEST_DIR)/prog_target_static: $(RUNNER_TEST_SRC)/prog_target.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fno-builtin -static -o $@ $<

$(RUNNER_TEST_DIR)/libfill.so: $(RUNNER_TEST_SRC)/libfill.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fPIC -shared -o $@ $<

RUNNER_FAKE := $(BUILD)/heapmark $(RUNNER_TEST_DIR)/fake_bench

# `heapmark trace` needs the recorder (its rule: bench/trace.mk): built by `make`
all: $(BUILD)/lib/libhmtrace.so $(BUILD)/lib/libhmlibc.so

# glibc's malloc, preloaded for the glibc contestant of the program workloads
$(BUILD)/lib/libhmlibc.so: harness/runner/preload/libc_malloc.c | deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fPIC -shared -o $@ $< -ldl

.PHONY: test-runner-json test-runner-faults test-runner-interrupt test-runner-errors \
        test-runner-real test-runner-conformance test-runner-valgrind test-runner-trace \
        test-runner-instructions test-runner-variants test-runner-programs
TESTS += test-runner-json test-runner-faults test-runner-interrupt test-runner-errors \
         test-runner-real test-runner-conformance test-runner-valgrind test-runner-trace \
         test-runner-instructions test-runner-variants test-runner-programs

test-runner-json: $(RUNNER_TEST_DIR)/json_test
	$(RUNNER_TEST_DIR)/json_test

test-runner-faults: $(RUNNER_FAKE)
	$(RUNNER_TEST_SRC)/faults.sh $(RUNNER_FAKE) $(RUNNER_TEST_DIR)/faults

test-runner-interrupt: $(RUNNER_FAKE)
	$(RUNNER_TEST_SRC)/interrupt.sh $(RUNNER_FAKE) $(RUNNER_TEST_DIR)/interrupt

test-runner-errors: $(RUNNER_FAKE) $(RUNNER_TEST_DIR)/libfault.so
	$(RUNNER_TEST_SRC)/errors.sh $(RUNNER_FAKE) $(RUNNER_TEST_DIR)/errors

test-runner-real: $(BUILD)/heapmark $(BUILD)/glibc/bench $(BUILD)/sable/bench \
                  $(RUNNER_TEST_DIR)/libfault.so
	$(RUNNER_TEST_SRC)/real.sh $(BUILD)/heapmark $(RUNNER_TEST_DIR)/libfault.so \
	    $(RUNNER_TEST_DIR)/real

test-runner-variants: $(RUNNER_FAKE) $(RUNNER_TEST_DIR)/libfault.so
	$(RUNNER_TEST_SRC)/variants.sh $(RUNNER_FAKE) $(RUNNER_TEST_DIR)/libfault.so \
	    $(RUNNER_TEST_DIR)/variants

test-runner-conformance: $(RUNNER_FAKE) $(RUNNER_TEST_DIR)/libfault.so
	$(RUNNER_TEST_SRC)/conformance.sh $(RUNNER_FAKE) $(RUNNER_TEST_DIR)/libfault.so \
	    $(RUNNER_TEST_DIR)/conformance

test-runner-valgrind: $(RUNNER_FAKE) $(BUILD)/lib/libhmtrace.so $(RUNNER_TEST_DIR)/prog_target
	$(RUNNER_TEST_SRC)/valgrind.sh $(RUNNER_FAKE) $(RUNNER_TEST_DIR)/valgrind

test-runner-trace: $(BUILD)/heapmark $(BUILD)/lib/libhmtrace.so $(RUNNER_TEST_DIR)/trace_target \
                   $(BUILD)/glibc/bench
	$(RUNNER_TEST_SRC)/trace.sh $(BUILD)/heapmark $(RUNNER_TEST_DIR)/trace_target \
	    $(RUNNER_TEST_DIR)/trace

test-runner-instructions: $(RUNNER_FAKE) $(BUILD)/lib/libhmtrace.so $(RUNNER_TEST_DIR)/trace_target \
                          $(BUILD)/glibc/bench $(BUILD)/sable/bench
	$(RUNNER_TEST_SRC)/instructions.sh $(BUILD)/heapmark $(RUNNER_TEST_DIR)/fake_bench \
	    $(RUNNER_TEST_DIR)/trace_target $(RUNNER_TEST_DIR)/instructions

test-runner-programs: $(BUILD)/heapmark $(BUILD)/glibc/bench $(BUILD)/sable/bench $(BUILD)/lib/libhmlibc.so \
                      $(RUNNER_TEST_DIR)/prog_target $(RUNNER_TEST_DIR)/prog_target_static \
                      $(RUNNER_TEST_DIR)/libfill.so
	$(RUNNER_TEST_SRC)/programs.sh $(BUILD)/heapmark $(RUNNER_TEST_DIR)/programs
