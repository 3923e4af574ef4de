# sable's reliability tests (allocators/sable/reliability): fuzzing,
# sanitizer builds, soak, exhaustion, real programs.
#
#   make fuzz [FUZZ_SECONDS=300]  libFuzzer on sable's API (fuzz.c), UBSan on, corpus
#                                 kept in build/sable/reliability/corpus
#   make soak [DURATION=600]      threads, random operations, cross-thread frees, forks
#   test-sable-fuzz      the committed corpus replayed, then a short fuzzing run
#   test-sable-asan      sable's code and the model under ASan+UBSan (gcc), 3 threads; then
#                        1 thread with SABLE_STATS=1 (slow paths, live_bytes checked);
#                        2 threads with SABLE_SECURE=1
#   test-sable-tsan      sable's code and the model under ThreadSanitizer (gcc), 4 threads;
#                        then 4 threads with SABLE_SECURE=1
#   test-sable-ubsan     libsable.so built with UBSan: the soak (8 s) and the exhaustion
#                        test against it
#   test-sable-soak      the soak for 20 s
#   test-sable-exhaust   RLIMIT_AS: every entry point fails with ENOMEM and recovers;
#                        thread churn and a fork storm near the limit finish
#   test-sable-realprog  sqlite3 and git preloaded with sable: same output as on glibc
#   test-sable-regress   one minimal test per sable bug found here (regress.c)
#   make reliability     CPython's regression tests (RELI_CPYTHON_MODULES) under glibc, sable
#                        and sable-secure, with and without PYTHONMALLOC=malloc, compared per
#                        test case (cpython.py)
#   test-sable-cpython   the same for RELI_CPYTHON_QUICK (4 modules, under a minute)
#
# The sanitizer builds are debug builds too (-DSABLE_DEBUG: sable's
# sbl_assert invariants checked). The fuzzer and the sanitizer builds link sable's objects into the test
# program with every standard name (malloc, free, ...) made local (ld -r,
# then objcopy --keep-global-symbol='sable_*'): the sanitizer runtimes,
# libFuzzer and libc keep glibc's malloc, and only the sable_ calls reach
# sable.

RELI_DIR   := allocators/sable/reliability
RELI_BUILD := $(BUILD)/sable/reliability
RELI_SABLE_SRCS := $(wildcard allocators/sable/src/*.c)
RELI_SAN   := -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_SECONDS ?= 300
FUZZ_SMOKE   ?= 45
DURATION     ?= 600
# inputs up to 1 KiB (about 250 operations); a slow input is a failure
FUZZ_FLAGS   := -max_len=1024 -len_control=20 -timeout=60 -print_final_stats=1

# $(1): variant, $(2): compiler, $(3): flags for sable's objects and the program
define reli_variant
$(RELI_BUILD)/$(1)/obj/%.o: allocators/sable/src/%.c | deps
	@mkdir -p $$(@D)
	$(2) -std=gnu11 -g $(WARN) -fPIC -ftls-model=initial-exec $(3) -Iallocators/sable/include \
	    -MMD -MP -c -o $$@ $$<

# one object, only the sable_ names global
$(RELI_BUILD)/$(1)/sable.o: $(patsubst allocators/sable/src/%.c,$(RELI_BUILD)/$(1)/obj/%.o,$(RELI_SABLE_SRCS))
	ld -r -o $$@.all.o $$^
	objcopy --wildcard --keep-global-symbol='sable_*' $$@.all.o $$@
	rm -f $$@.all.o

-include $(patsubst allocators/sable/src/%.c,$(RELI_BUILD)/$(1)/obj/%.d,$(RELI_SABLE_SRCS))
endef

$(eval $(call reli_variant,fz,clang,-O1 -fsanitize=fuzzer-no-link,undefined $(RELI_SAN)))
$(eval $(call reli_variant,asan,$(CC),-O1 -DSABLE_DEBUG -fsanitize=address,undefined $(RELI_SAN)))
$(eval $(call reli_variant,tsan,$(CC),-O1 -DSABLE_DEBUG -fsanitize=thread $(RELI_SAN)))
# libsable.so itself under UBSan (its runtime needs no malloc of its own, so
# it coexists with sable replacing malloc): the soak and exhaustion programs
# run against it too
$(eval $(call reli_variant,ubsan,$(CC),-O2 -DSABLE_DEBUG -fvisibility=hidden -fsanitize=undefined $(RELI_SAN)))

$(RELI_BUILD)/ubsan/libsable.so: $(patsubst allocators/sable/src/%.c,$(RELI_BUILD)/ubsan/obj/%.o,$(RELI_SABLE_SRCS))
	$(CC) -shared -fsanitize=undefined -Wl,-soname,libsable.so -Wl,-z,now -o $@ $^ -lpthread

$(RELI_BUILD)/ubsan/%: $(RELI_DIR)/%.c $(RELI_DIR)/reli.h $(RELI_BUILD)/ubsan/libsable.so
	$(CC) $(CFLAGS) -fno-builtin -Iallocators/sable/include -o $@ $< \
	    -L$(RELI_BUILD)/ubsan -lsable -Wl,-rpath,'$$ORIGIN' -lpthread

# the model itself is not instrumented for coverage (only sable's code
# guides libFuzzer; the model's byte loops would cost most of the time)
$(RELI_BUILD)/fz/model.o: $(RELI_DIR)/fuzz.c | deps
	@mkdir -p $(@D)
	clang -std=gnu11 -O1 -g $(WARN) -fsanitize=undefined $(RELI_SAN) -Iallocators/sable/include -c -o $@ $<

$(RELI_BUILD)/fuzz: $(RELI_BUILD)/fz/model.o $(RELI_BUILD)/fz/sable.o
	clang -fsanitize=fuzzer,undefined $(RELI_SAN) -o $@ $^ -lpthread

$(RELI_BUILD)/fuzz-asan: $(RELI_DIR)/fuzz.c $(RELI_BUILD)/asan/sable.o
	$(CC) -std=gnu11 -O1 -g $(WARN) -DRELI_STANDALONE -fsanitize=address,undefined $(RELI_SAN) \
	    -Iallocators/sable/include -o $@ $^ -lpthread

$(RELI_BUILD)/fuzz-tsan: $(RELI_DIR)/fuzz.c $(RELI_BUILD)/tsan/sable.o
	$(CC) -std=gnu11 -O1 -g $(WARN) -DRELI_STANDALONE -fsanitize=thread $(RELI_SAN) \
	    -Iallocators/sable/include -o $@ $^ -lpthread

.PHONY: fuzz soak test-sable-fuzz test-sable-asan test-sable-ubsan test-sable-tsan
TESTS += test-sable-fuzz test-sable-asan test-sable-ubsan test-sable-tsan

# the corpus the long runs grow (seeded with the committed one)
fuzz: $(RELI_BUILD)/fuzz
	@mkdir -p $(RELI_BUILD)/corpus $(RELI_BUILD)/artifacts
	cp -n $(RELI_DIR)/corpus/seed-* $(RELI_BUILD)/corpus/
	nice $(RELI_BUILD)/fuzz $(FUZZ_FLAGS) -max_total_time=$(FUZZ_SECONDS) \
	    -artifact_prefix=$(RELI_BUILD)/artifacts/ $(RELI_BUILD)/corpus

# the committed corpus (seeds and regression inputs), then a short run from
# the seeds (into a scratch copy); both run, either failing fails the test.
# libFuzzer's final stats give the number of executions.
test-sable-fuzz: $(RELI_BUILD)/fuzz
	@rm -rf $(RELI_BUILD)/smoke && mkdir -p $(RELI_BUILD)/smoke/corpus $(RELI_BUILD)/smoke/artifacts
	@cp $(RELI_DIR)/corpus/seed-* $(RELI_BUILD)/smoke/corpus/
	@rc=0; \
	echo "replaying $$(ls $(RELI_DIR)/corpus | wc -l) committed inputs"; \
	$(RELI_BUILD)/fuzz -runs=0 -artifact_prefix=$(RELI_BUILD)/smoke/artifacts/ $(RELI_DIR)/corpus 2>&1 | \
	    grep -E 'INITED|FAIL|ERROR|runtime error|SUMMARY'; test $${PIPESTATUS[0]} -eq 0 || rc=1; \
	echo "fuzzing for $(FUZZ_SMOKE) s"; \
	nice $(RELI_BUILD)/fuzz $(FUZZ_FLAGS) -max_total_time=$(FUZZ_SMOKE) \
	    -artifact_prefix=$(RELI_BUILD)/smoke/artifacts/ $(RELI_BUILD)/smoke/corpus 2>&1 | \
	    grep -E 'stat::number_of_executed_units|Done|ERROR|FAIL|runtime error|SUMMARY'; \
	    test $${PIPESTATUS[0]} -eq 0 || rc=1; \
	exit $$rc

test-sable-ubsan: $(RELI_BUILD)/ubsan/soak $(RELI_BUILD)/ubsan/exhaust
	nice $(RELI_BUILD)/ubsan/soak 8 3
	nice $(RELI_BUILD)/ubsan/exhaust

test-sable-asan: $(RELI_BUILD)/fuzz-asan
	@rc=0; \
	RELI_CRASH_DIR=$(RELI_BUILD) $(RELI_BUILD)/fuzz-asan $(RELI_DIR)/corpus/* || rc=1; \
	RELI_CRASH_DIR=$(RELI_BUILD) RELI_THREADS=3 RELI_INPUTS=80 nice $(RELI_BUILD)/fuzz-asan || rc=1; \
	echo "with SABLE_STATS=1 (the slow paths, and live_bytes checked after each input):"; \
	SABLE_STATS=1 RELI_CRASH_DIR=$(RELI_BUILD) $(RELI_BUILD)/fuzz-asan $(RELI_DIR)/corpus/* \
	    2>&1 | grep -v '^sable .* stats:'; test $${PIPESTATUS[0]} -eq 0 || rc=1; \
	SABLE_STATS=1 RELI_CRASH_DIR=$(RELI_BUILD) RELI_THREADS=1 RELI_INPUTS=30 nice $(RELI_BUILD)/fuzz-asan \
	    2>&1 | grep -v '^sable .* stats:'; test $${PIPESTATUS[0]} -eq 0 || rc=1; \
	echo "with SABLE_SECURE=1 (no invalid free_range then: secure mode aborts on those):"; \
	SABLE_SECURE=1 RELI_CRASH_DIR=$(RELI_BUILD) RELI_THREADS=2 RELI_INPUTS=40 nice $(RELI_BUILD)/fuzz-asan || rc=1; \
	exit $$rc

# sable's code under ThreadSanitizer: the model's threads free each other's
# blocks (remote frees, delayed frees, abandoned heaps); any data race fails
test-sable-tsan: $(RELI_BUILD)/fuzz-tsan
	RELI_CRASH_DIR=$(RELI_BUILD) RELI_THREADS=4 RELI_INPUTS=15 TSAN_OPTIONS=halt_on_error=1 \
	    nice $(RELI_BUILD)/fuzz-tsan
	SABLE_SECURE=1 RELI_SEED=2 RELI_CRASH_DIR=$(RELI_BUILD) RELI_THREADS=4 RELI_INPUTS=10 \
	    TSAN_OPTIONS=halt_on_error=1 nice $(RELI_BUILD)/fuzz-tsan

# ---- soak ------------------------------------------------------------------
$(RELI_BUILD)/%: $(RELI_DIR)/%.c $(RELI_DIR)/reli.h $(BUILD)/sable/libsable.so
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fno-builtin -Iallocators/sable/include -o $@ $< \
	    -L$(BUILD)/sable -lsable -Wl,-rpath,'$$ORIGIN/..' -lpthread

.PHONY: test-sable-soak
TESTS += test-sable-soak

soak: $(RELI_BUILD)/soak
	nice $(RELI_BUILD)/soak $(DURATION)

test-sable-soak: $(RELI_BUILD)/soak
	nice $(RELI_BUILD)/soak 20 3

# ---- exhaustion --------------------------------------------------------------
.PHONY: test-sable-exhaust
TESTS += test-sable-exhaust

test-sable-exhaust: $(RELI_BUILD)/exhaust
	nice $(RELI_BUILD)/exhaust

# ---- real programs -------------------------------------------------------------
.PHONY: test-sable-realprog
TESTS += test-sable-realprog

test-sable-realprog: $(BUILD)/sable/libsable.so
	nice $(RELI_DIR)/realprog.sh $(BUILD)/sable/libsable.so $(RELI_BUILD)/realprog

# ---- bugs found, one minimal test each -------------------------------------------
.PHONY: test-sable-regress
TESTS += test-sable-regress

test-sable-regress: $(RELI_BUILD)/regress
	$(RELI_BUILD)/regress

# ---- CPython's own regression tests (Debian's libpython3.11-testsuite) ------------
# allocation-heavy modules: containers, strings and bytes, serialisation,
# compression, the garbage collector, weak references, tracemalloc, threads
RELI_CPYTHON_MODULES := test_array test_ast test_bigmem test_bytes test_bz2 test_codecs \
    test_collections test_compile test_copy test_csv test_decimal test_deque test_dict \
    test_dictviews test_float test_fstring test_functools test_gc test_genexps test_hashlib \
    test_heapq test_itertools test_json test_list test_listcomps test_long test_lzma \
    test_marshal test_memoryview test_mmap test_ordered_dict test_pickle test_re test_set \
    test_sort test_descr test_unicode test_string test_struct test_threading \
    test_tracemalloc test_tuple test_unicodedata test_userdict test_userlist test_userstring \
    test_weakref test_xml_etree test_zlib
RELI_CPYTHON_QUICK := test_list test_dict test_set test_bytes

.PHONY: reliability test-sable-cpython
TESTS += test-sable-cpython

reliability: $(BUILD)/sable/libsable.so
	nice $(PYTHON) $(RELI_DIR)/cpython.py $(BUILD)/sable/libsable.so $(RELI_BUILD)/cpython \
	    $(RELI_CPYTHON_MODULES)

test-sable-cpython: $(BUILD)/sable/libsable.so
	nice $(PYTHON) $(RELI_DIR)/cpython.py $(BUILD)/sable/libsable.so $(RELI_BUILD)/cpython-quick \
	    $(RELI_CPYTHON_QUICK)
