# sable: heapmark's own allocator (allocators/sable).
#
#   build/sable/libsable.so, build/sable/libsable.a   from allocators/sable/src/*.c
#   test-sable-unit     internals: size classes both ways, metadata lookup, free lists
#   test-sable-api      the standard and sable_ API: alignment, zero size, errno, overflow
#   test-sable-stress   threads: pattern-checked blocks, cross-thread free storm
#   test-sable-threads  10,000 short-lived threads (RSS bounded), 200 forks while 2 threads allocate
#   test-sable-rss      RSS drops after freeing 512 MiB
#   test-sable-lean     at a peak, the resident set stays near the live bytes: free RAM that
#                       a new span cannot use goes back before fresh RAM comes in
#   test-sable-orphans  blocks of exited threads freed by the main thread are reclaimed (RSS bounded)
#   test-sable-purge    the purge delay grows when purging too early makes a program fault RAM
#                       back in (empty segments, or free slices of live ones), and shrinks back
#                       when that stops
#   test-sable-populate big blocks on fresh memory are mapped in at once while the program
#                       writes them whole, page by page while it writes a few bytes of each
#   test-sable-ext      sable_resize_in_place (and realloc in place), sable_aligned_alloc_any,
#                       sable_free_range
#   test-sable-oom      out-of-memory handlers under RLIMIT_AS, with threads
#   test-sable-enomem   requests beyond RAM+swap (overcommit policy) and beyond RLIMIT_DATA: NULL, ENOMEM
#   test-sable-secure   SABLE_SECURE=1: misuse reported and aborted, freed memory zeroed
#   test-sable-settings SABLE_STATS, sable_stats, SABLE_LOG, warnings for bad settings
#   test-sable-valgrind memcheck sees sable's blocks (client requests): leaks wherever the block
#                       sits, with requested sizes; overflows past the requested size; a read after free
#   test-sable-preload  python3 and sort under LD_PRELOAD: output identical to glibc's, sable loaded
#   test-sable-pair     callgrind: instructions per malloc(64)+free pair (tests/pair.c) pinned to +-5%,
#                       and per malloc+free of 4 MiB (the kept huge mapping), of 4 KiB
#                       (the medium path) and of 1 MiB with 16 live (the kept large page)
#   test-sable-xpair    callgrind: instructions of free per operation of two threads that free
#                       each other's blocks, and per message from a producer to a consumer
#                       (tests/xpair.c: remote frees, records) pinned to +-5%
#   test-sable-format   sable's C sources and headers are as clang-format formats them
#                       (allocators/sable/.clang-format)
#   test-sable-debug    the debug build (build/sable-debug: -DSABLE_DEBUG -O1, sbl_assert on) runs
#                       the unit, API and stress tests; a corrupted page counter makes it abort
#                       with the assertion's message (tests/debug_assert.c)
#   install-sable       libsable.so.<major> (soname; libsable.so links to it), libsable.a,
#                       sable.h, sable.pc and sable(3) under $(DESTDIR)$(PREFIX)
#   uninstall-sable     removes them
#
# The version is sable.h's (SABLE_VERSION_*): the library is
# build/sable/libsable.so.<version>, with libsable.so.<major> (its soname, what
# programs load) and libsable.so (for -lsable) linking to it.

SABLE_DIR   := allocators/sable
SABLE_BUILD := $(BUILD)/sable
# api.c first: malloc and free then sit at the start of the library's code,
# where changes to the other files do not move them (their place alone
# changes the time of small malloc+free loops markedly: CHANGES.md)
SABLE_SRCS  := $(SABLE_DIR)/src/api.c $(filter-out %/api.c,$(sort $(wildcard $(SABLE_DIR)/src/*.c)))
SABLE_OBJS  := $(patsubst $(SABLE_DIR)/src/%.c,$(OBJ)/sable/%.o,$(SABLE_SRCS))
SABLE_CFLAGS := $(CFLAGS) -fPIC -fvisibility=hidden -ftls-model=initial-exec

SABLE_VERSION       := $(shell sed -n 's/^\#define SABLE_VERSION_STRING "\(.*\)"$$/\1/p' $(SABLE_DIR)/include/sable.h)
SABLE_VERSION_MAJOR := $(firstword $(subst ., ,$(SABLE_VERSION)))
SABLE_SONAME        := libsable.so.$(SABLE_VERSION_MAJOR)

ALLOC_LIBS_sable     := -L$(SABLE_BUILD) -lsable -Wl,-rpath,'$$ORIGIN'
ALLOC_DEPS_sable     := $(SABLE_BUILD)/libsable.so
ALLOC_CPPFLAGS_sable := -I$(SABLE_DIR)/include

$(OBJ)/sable/%.o: $(SABLE_DIR)/src/%.c | deps
	@mkdir -p $(@D)
	$(CC) -MMD -MP -I$(SABLE_DIR)/include $(SABLE_CFLAGS) -c -o $@ $<

$(SABLE_BUILD)/libsable.so: $(SABLE_OBJS)
	@mkdir -p $(@D)
	$(CC) -shared -Wl,-soname,$(SABLE_SONAME) -Wl,-z,now -o $@.$(SABLE_VERSION) $^ -lpthread
	ln -sf libsable.so.$(SABLE_VERSION) $(SABLE_BUILD)/$(SABLE_SONAME)
	ln -sf $(SABLE_SONAME) $@

$(SABLE_BUILD)/libsable.a: $(SABLE_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

all: $(SABLE_BUILD)/libsable.a

-include $(SABLE_OBJS:.o=.d)

# ---- the debug build: the same sources with their sbl_assert checks on ----
SABLE_DEBUG_BUILD  := $(BUILD)/sable-debug
SABLE_DEBUG_OBJS   := $(patsubst $(SABLE_DIR)/src/%.c,$(OBJ)/sable-debug/%.o,$(SABLE_SRCS))
SABLE_DEBUG_CFLAGS := $(filter-out -O2,$(SABLE_CFLAGS)) -O1 -DSABLE_DEBUG

$(OBJ)/sable-debug/%.o: $(SABLE_DIR)/src/%.c | deps
	@mkdir -p $(@D)
	$(CC) -MMD -MP -I$(SABLE_DIR)/include $(SABLE_DEBUG_CFLAGS) -c -o $@ $<

$(SABLE_DEBUG_BUILD)/libsable.so: $(SABLE_DEBUG_OBJS)
	@mkdir -p $(@D)
	$(CC) -shared -Wl,-soname,$(SABLE_SONAME) -Wl,-z,now -o $@.$(SABLE_VERSION) $^ -lpthread
	ln -sf libsable.so.$(SABLE_VERSION) $(SABLE_DEBUG_BUILD)/$(SABLE_SONAME)
	ln -sf $(SABLE_SONAME) $@

-include $(SABLE_DEBUG_OBJS:.o=.d)

# ---- tests ----------------------------------------------------------------
SABLE_TDIR := $(SABLE_BUILD)/tests
SABLE_TEST_CFLAGS := $(CFLAGS) -fno-builtin -Wno-alloc-size-larger-than -Wno-use-after-free \
                     -I$(SABLE_DIR)/include -I$(SABLE_DIR)/src

# unit tests see the internals: linked with the objects, not the .so
$(SABLE_TDIR)/unit: $(SABLE_DIR)/tests/unit.c $(SABLE_OBJS)
	@mkdir -p $(@D)
	$(CC) $(SABLE_TEST_CFLAGS) -o $@ $^ -lpthread

# the debug build's: the unit test and the assertion test with its objects,
# the others with its libsable.so
SABLE_DEBUG_TDIR := $(SABLE_DEBUG_BUILD)/tests
$(SABLE_DEBUG_TDIR)/unit $(SABLE_DEBUG_TDIR)/debug_assert: $(SABLE_DEBUG_TDIR)/%: $(SABLE_DIR)/tests/%.c $(SABLE_DEBUG_OBJS)
	@mkdir -p $(@D)
	$(CC) $(SABLE_TEST_CFLAGS) -DSABLE_DEBUG -o $@ $^ -lpthread

$(SABLE_DEBUG_TDIR)/%: $(SABLE_DIR)/tests/%.c $(SABLE_DEBUG_BUILD)/libsable.so
	@mkdir -p $(@D)
	$(CC) $(SABLE_TEST_CFLAGS) -o $@ $< -L$(SABLE_DEBUG_BUILD) -lsable -Wl,-rpath,'$$ORIGIN/..' -lpthread

# every other test binary: linked with libsable.so
$(SABLE_TDIR)/%: $(SABLE_DIR)/tests/%.c $(SABLE_BUILD)/libsable.so
	@mkdir -p $(@D)
	$(CC) $(SABLE_TEST_CFLAGS) -o $@ $< -L$(SABLE_BUILD) -lsable -Wl,-rpath,'$$ORIGIN/..' -lpthread

.PHONY: test-sable-lean
.PHONY: test-sable-enomem test-sable-valgrind test-sable-settings test-sable-secure test-sable-oom test-sable-ext test-sable-unit test-sable-api test-sable-stress test-sable-threads test-sable-rss \
        test-sable-orphans test-sable-purge test-sable-preload test-sable-placement install-sable
TESTS += test-sable-unit test-sable-api test-sable-ext test-sable-oom test-sable-enomem test-sable-secure \
         test-sable-settings test-sable-valgrind \
         test-sable-stress test-sable-threads test-sable-rss test-sable-orphans test-sable-purge \
         test-sable-preload test-sable-pair test-sable-placement test-sable-debug test-sable-format
TESTS += test-sable-lean
TESTS += test-sable-xpair

test-sable-unit: $(SABLE_TDIR)/unit
	SABLE_PURGE_DELAY=60000 $(SABLE_TDIR)/unit

test-sable-api: $(SABLE_TDIR)/api
	$(SABLE_TDIR)/api

test-sable-stress: $(SABLE_TDIR)/stress
	nice $(SABLE_TDIR)/stress

test-sable-threads: $(SABLE_TDIR)/threads
	nice $(SABLE_TDIR)/threads

test-sable-ext: $(SABLE_TDIR)/extensions
	$(SABLE_TDIR)/extensions

test-sable-oom: $(SABLE_TDIR)/oom
	$(SABLE_TDIR)/oom

test-sable-enomem: $(SABLE_TDIR)/enomem
	$(SABLE_TDIR)/enomem

test-sable-secure: $(SABLE_TDIR)/secure
	SABLE_SECURE=1 $(SABLE_TDIR)/secure

test-sable-settings: $(SABLE_TDIR)/settings_prog
	$(SABLE_DIR)/tests/settings.sh $(SABLE_TDIR)/settings_prog $(SABLE_TDIR)/settings

SABLE_FORMAT_FILES := $(wildcard $(SABLE_DIR)/src/*.[ch] $(SABLE_DIR)/include/*.h $(SABLE_DIR)/ext.c \
                        $(SABLE_DIR)/tests/*.[ch] $(SABLE_DIR)/reliability/*.[ch])
.PHONY: test-sable-format
test-sable-format:
	clang-format --dry-run --Werror $(SABLE_FORMAT_FILES)
	@echo "sable format: $(words $(SABLE_FORMAT_FILES)) files as .clang-format formats them"

.PHONY: test-sable-debug
test-sable-debug: $(SABLE_DEBUG_TDIR)/unit $(SABLE_DEBUG_TDIR)/api $(SABLE_DEBUG_TDIR)/stress \
                  $(SABLE_DEBUG_TDIR)/debug_assert
	SABLE_PURGE_DELAY=60000 $(SABLE_DEBUG_TDIR)/unit
	$(SABLE_DEBUG_TDIR)/api
	nice $(SABLE_DEBUG_TDIR)/stress
	$(SABLE_DEBUG_TDIR)/debug_assert

# the fast paths' length with the loop of tests/pair.c (9 instructions):
# malloc 12, free 16
SABLE_PAIR_INSNS := 37
# and a 4 MiB block's, the thread's kept huge mapping reused (huge.c)
SABLE_PAIR_HUGE_INSNS := 189
# and a 4 KiB block's: malloc's medium path (sbl_alloc_medium), free's fast path
SABLE_PAIR_MEDIUM_INSNS := 57
# and a 1 MiB block's with 16 live (the oldest freed): free keeps the emptied
# page (heap_retire_slow), malloc takes it back (alloc_large_kept)
SABLE_PAIR_LARGE_INSNS := 124.4
# and a 1 MiB block's in rounds of 8 mallocs and 8 frees, newest first: the
# emptied pages are retained (heap.c), malloc takes them back (alloc.c)
SABLE_PAIR_LIFO_INSNS := 146
.PHONY: test-sable-pair
test-sable-pair: $(SABLE_TDIR)/pair
	nice $(SABLE_DIR)/tests/pair.sh $(SABLE_TDIR)/pair $(SABLE_PAIR_INSNS)
	nice $(SABLE_DIR)/tests/pair.sh $(SABLE_TDIR)/pair $(SABLE_PAIR_HUGE_INSNS) 4194304 100000
	nice $(SABLE_DIR)/tests/pair.sh $(SABLE_TDIR)/pair $(SABLE_PAIR_MEDIUM_INSNS) 4096 100000
	nice $(SABLE_DIR)/tests/pair.sh $(SABLE_TDIR)/pair $(SABLE_PAIR_LARGE_INSNS) 1048576 100000 16
	nice $(SABLE_DIR)/tests/pair.sh $(SABLE_TDIR)/pair $(SABLE_PAIR_LIFO_INSNS) 1048576 100000 8 lifo

# free's instructions per operation of tests/xpair.c (two threads freeing
# each other's blocks, 16..4096 bytes: most mallocs take the slow path), and
# per message of 64 bytes from a producer to a consumer
SABLE_XPAIR_INSNS := 44.3
SABLE_XPAIR_PC_INSNS := 73.7
.PHONY: test-sable-xpair
test-sable-xpair: $(SABLE_TDIR)/xpair
	nice $(SABLE_DIR)/tests/xpair.sh $(SABLE_TDIR)/xpair $(SABLE_XPAIR_INSNS)
	nice $(SABLE_DIR)/tests/xpair.sh $(SABLE_TDIR)/xpair $(SABLE_XPAIR_PC_INSNS) 64 64 pc

test-sable-valgrind: $(SABLE_TDIR)/vg_prog
	nice $(SABLE_DIR)/tests/valgrind.sh $(SABLE_TDIR)/vg_prog $(SABLE_TDIR)/valgrind

test-sable-rss: $(SABLE_TDIR)/rss
	$(SABLE_TDIR)/rss

test-sable-lean: $(SABLE_TDIR)/lean
	SABLE_PURGE_DELAY=60000 $(SABLE_TDIR)/lean

test-sable-orphans: $(SABLE_TDIR)/orphans
	SABLE_PURGE_DELAY=0 nice $(SABLE_TDIR)/orphans

test-sable-placement: $(SABLE_TDIR)/placement
	$(SABLE_TDIR)/placement

test-sable-purge: $(SABLE_TDIR)/purge
	SABLE_PURGE_DELAY=10 $(SABLE_TDIR)/purge
	SABLE_PURGE_DELAY=40 $(SABLE_TDIR)/purge slices

.PHONY: test-sable-populate
TESTS += test-sable-populate
test-sable-populate: $(SABLE_TDIR)/populate
	$(SABLE_TDIR)/populate

.PHONY: test-sable-huge-keep
TESTS += test-sable-huge-keep
test-sable-huge-keep: $(SABLE_TDIR)/huge_keep
	SABLE_PURGE_DELAY=20 $(SABLE_TDIR)/huge_keep
	SABLE_PURGE_DELAY=20 SABLE_SECURE=1 $(SABLE_TDIR)/huge_keep
	SABLE_PURGE_DELAY=5000 $(SABLE_TDIR)/huge_keep idle

test-sable-preload: $(SABLE_BUILD)/libsable.so
	nice $(SABLE_DIR)/tests/preload.sh $(SABLE_BUILD)/libsable.so $(SABLE_TDIR)/preload

# GNU's installation directories; DESTDIR stages the whole tree elsewhere
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR     ?= $(PREFIX)/share/man
SABLE_INSTALLED := $(LIBDIR)/libsable.so.$(SABLE_VERSION) $(LIBDIR)/$(SABLE_SONAME) \
                   $(LIBDIR)/libsable.so $(LIBDIR)/libsable.a $(INCLUDEDIR)/sable.h \
                   $(LIBDIR)/pkgconfig/sable.pc $(MANDIR)/man3/sable.3

.PHONY: uninstall-sable
install-sable: $(SABLE_BUILD)/libsable.so $(SABLE_BUILD)/libsable.a
	@case "$(PREFIX)" in /*) ;; *) echo "install-sable: PREFIX must be an absolute path, not '$(PREFIX)'"; exit 1;; esac
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(MANDIR)/man3
	install -m 755 $(SABLE_BUILD)/libsable.so.$(SABLE_VERSION) $(DESTDIR)$(LIBDIR)/
	ln -sf libsable.so.$(SABLE_VERSION) $(DESTDIR)$(LIBDIR)/$(SABLE_SONAME)
	ln -sf $(SABLE_SONAME) $(DESTDIR)$(LIBDIR)/libsable.so
	install -m 644 $(SABLE_BUILD)/libsable.a $(DESTDIR)$(LIBDIR)/libsable.a
	install -m 644 $(SABLE_DIR)/include/sable.h $(DESTDIR)$(INCLUDEDIR)/sable.h
	install -m 644 $(SABLE_DIR)/sable.3 $(DESTDIR)$(MANDIR)/man3/sable.3
	sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(LIBDIR)|; s|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	    -e 's|@VERSION@|$(SABLE_VERSION)|' $(SABLE_DIR)/sable.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/sable.pc
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && command -v ldconfig >/dev/null; then ldconfig; fi

uninstall-sable:
	rm -f $(addprefix $(DESTDIR),$(SABLE_INSTALLED))
