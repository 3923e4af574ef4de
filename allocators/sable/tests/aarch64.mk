# aarch64: sable and the conformance suite built for arm64 and run there.
#
#   test-sable-aarch64  on an x86-64 host: sable cross-compiled with Debian's
#                       aarch64-linux-gnu-gcc (-Werror), its unit, API, extension,
#                       secure-mode, stress and thread tests run under qemu-aarch64 (Debian's
#                       qemu-user, -L /usr/aarch64-linux-gnu), then the conformance
#                       binary built against it runs a few areas there (alignment,
#                       zero-size, realloc, rust-layout) and must match
#                       conformance/expected/sable.txt on them; the runner's and the
#                       bench's C sources compiled (the runner linked and started
#                       where an aarch64 libjansson is installed). On an aarch64 host
#                       the same binaries are built natively and run directly.
#
# Under qemu-user the thread and secure tests run with --emulated (see
# tests/threads.c: the emulator cannot fork a program whose other threads
# run, and its own memory grows with every thread; tests/secure.c: it adds a
# line of its own to an aborting child's stderr). The bench binary is not built here: the
# Google Benchmark shim needs libbenchmark for arm64 and a C++ cross compiler
# (Debian has g++-aarch64-linux-gnu, but libbenchmark-dev:arm64 needs a
# multiarch setup); natively on arm64, `make` builds it like on x86-64.

A64_HOST   := $(shell uname -m)
ifeq ($(A64_HOST),aarch64)
A64_CC     := $(CC)
A64_RUN    :=
A64_EMU_ARG :=
else
A64_CC     := aarch64-linux-gnu-gcc
A64_RUN    := qemu-aarch64 -L /usr/aarch64-linux-gnu
A64_EMU_ARG := --emulated
endif
A64_BUILD  := $(BUILD)/aarch64
A64_SABLE  := $(A64_BUILD)/sable
A64_OBJS   := $(patsubst $(SABLE_DIR)/src/%.c,$(A64_BUILD)/obj/sable/%.o,$(SABLE_SRCS))
A64_TESTS  := api extensions secure stress threads
A64_CONF_OBJS := $(patsubst %.c,$(A64_BUILD)/obj/%.o,$(CONF_SRCS) $(LIB_SRCS) allocators/sable/ext.c)
A64_CONF_AREAS := alignment zero-size realloc rust-layout
# the runner, linked and started; the bench's C sources compiled (not linked: see above)
A64_RUNNER_OBJS := $(patsubst %.c,$(A64_BUILD)/obj/%.o,$(RUNNER_SRCS))
A64_BENCH_OBJS  := $(patsubst %.c,$(A64_BUILD)/obj/%.o,$(filter %.c,$(BENCH_SRCS)))

# a clear line instead of "command not found" when the tools are missing
a64_need = @command -v $(firstword $(1)) >/dev/null || \
    { echo "test-sable-aarch64: $(firstword $(1)) is missing (scripts/bootstrap-deps.sh installs it)"; exit 1; }

$(A64_BUILD)/obj/sable/%.o: $(SABLE_DIR)/src/%.c | deps
	$(call a64_need,$(A64_CC))
	@mkdir -p $(@D)
	$(A64_CC) -MMD -MP -I$(SABLE_DIR)/include $(SABLE_CFLAGS) -c -o $@ $<

$(A64_SABLE)/libsable.so: $(A64_OBJS)
	@mkdir -p $(@D)
	$(A64_CC) -shared -Wl,-soname,libsable.so.$(SABLE_VERSION_MAJOR) -Wl,-z,now -o $@ $^ -lpthread
	ln -sf libsable.so $(A64_SABLE)/libsable.so.$(SABLE_VERSION_MAJOR)

$(A64_SABLE)/tests/unit: $(SABLE_DIR)/tests/unit.c $(A64_OBJS)
	@mkdir -p $(@D)
	$(A64_CC) $(SABLE_TEST_CFLAGS) -o $@ $^ -lpthread

$(A64_SABLE)/tests/%: $(SABLE_DIR)/tests/%.c $(A64_SABLE)/libsable.so
	@mkdir -p $(@D)
	$(A64_CC) $(SABLE_TEST_CFLAGS) -o $@ $< -L$(A64_SABLE) -lsable -Wl,-rpath,'$$ORIGIN/..' -lpthread

# the conformance suite's C sources, as the top-level Makefile builds them
$(A64_BUILD)/obj/%.o: %.c | deps
	$(call a64_need,$(A64_CC))
	@mkdir -p $(@D)
	$(A64_CC) $(CPPFLAGS) $(CFLAGS) -fno-builtin $(ALLOC_CPPFLAGS_sable) -c -o $@ $<

$(A64_SABLE)/conformance: $(A64_CONF_OBJS) $(A64_SABLE)/libsable.so
	$(A64_CC) -o $@ -Wl,--no-as-needed -L$(A64_SABLE) -lsable -Wl,-rpath,'$$ORIGIN' -Wl,--as-needed \
	    $(filter %.o,$^) -lpthread -ldl

$(A64_RUNNER_OBJS): CPPFLAGS += -Iharness/runner -Ibench/trace

$(A64_BUILD)/heapmark: $(A64_RUNNER_OBJS)
	$(A64_CC) -o $@ $^ -ljansson -lm

# The runner links libjansson: cross-compiling, Debian's x86-64 packages have
# no aarch64 libjansson, so there the runner's objects are compiled (every
# source builds for aarch64) and it is linked and started only where the
# compiler finds an aarch64 libjansson (a native aarch64 host).
A64_JANSSON := $(shell f=$$($(A64_CC) -print-file-name=libjansson.so 2>/dev/null); \
                 [ -f "$$f" ] && echo yes)
A64_RUNNER  := $(if $(A64_JANSSON),$(A64_BUILD)/heapmark,$(A64_RUNNER_OBJS))

-include $(A64_OBJS:.o=.d) $(A64_CONF_OBJS:.o=.d) $(A64_RUNNER_OBJS:.o=.d) $(A64_BENCH_OBJS:.o=.d)

.PHONY: test-sable-aarch64
TESTS += test-sable-aarch64

test-sable-aarch64: $(A64_SABLE)/tests/unit $(addprefix $(A64_SABLE)/tests/,$(A64_TESTS)) \
                    $(A64_SABLE)/conformance $(A64_RUNNER) $(A64_BENCH_OBJS)
	$(if $(A64_RUN),$(call a64_need,$(A64_RUN)))
	@readelf -h $(A64_SABLE)/libsable.so | grep -q 'Machine: *AArch64' || \
	    { echo "test-sable-aarch64: $(A64_SABLE)/libsable.so is not an aarch64 library"; exit 1; }
	SABLE_PURGE_DELAY=60000 $(A64_RUN) $(A64_SABLE)/tests/unit
	$(A64_RUN) $(A64_SABLE)/tests/api
	$(A64_RUN) $(A64_SABLE)/tests/extensions
	SABLE_SECURE=1 $(A64_RUN) $(A64_SABLE)/tests/secure $(A64_EMU_ARG)
	nice $(A64_RUN) $(A64_SABLE)/tests/stress
	nice $(A64_RUN) $(A64_SABLE)/tests/threads $(A64_EMU_ARG)
	@rm -rf $(A64_SABLE)/conf && mkdir -p $(A64_SABLE)/conf
	@for area in $(A64_CONF_AREAS); do \
	    $(A64_RUN) $(A64_SABLE)/conformance --filter $$area --timeout 60 \
	        --json $(A64_SABLE)/conf/$$area.json > $(A64_SABLE)/conf/$$area.out 2>&1 || \
	        { echo "test-sable-aarch64: conformance --filter $$area failed"; \
	          tail -5 $(A64_SABLE)/conf/$$area.out; exit 1; }; \
	done
	$(PYTHON) $(SABLE_DIR)/tests/conf_compare.py conformance/expected/sable.txt $(A64_SABLE)/conf/*.json
	$(if $(A64_JANSSON),$(A64_RUN) $(A64_BUILD)/heapmark --help | grep -q '^usage: heapmark',\
	    @echo "test-sable-aarch64: the runner's objects compiled; not linked (no aarch64 libjansson here)")
	@echo "test-sable-aarch64: ok ($(A64_HOST) host$(if $(A64_RUN), via qemu-aarch64))"
