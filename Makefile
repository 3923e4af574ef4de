# heapmark: which allocator should we use, and does it keep the C/POSIX contract?
#
#   make               build every allocator's bench and conformance binaries and the runner
#   make bench         run the real programs and the workloads for every allocator and write a
#                      report, with the conformance matrix of the same allocators and build
#                      (reused when it matches, else run); ends with the verdict, the report's
#                      paths and the total time (QUICK=1: a smoke run of at most 90 s; FULL=1:
#                      more sizes, threads, repetitions; PROGRAM='name=CMD ARGS': that command only)
#   make conformance   run the conformance matrix for every allocator (variants only
#                      when ALLOCATORS is given)
#   make test          everything that proves heapmark works (the CI entry point)
#   make report        re-render the report of RUN=results/<dir> (default results/latest)
#   make install       install sable (PREFIX=/usr/local, DESTDIR to stage); make uninstall
#   make clean
#
# ALLOCATORS picks the contestants: names of folders under allocators/,
# name=/path/to/lib.so for any malloc replacement, run under LD_PRELOAD, or
# name=base:VAR=VAL[:VAR=VAL...] for a variant of one with those environment
# variables (default: sable glibc jemalloc mimalloc tcmalloc tbbmalloc scudo
# sable-secure=sable:SABLE_SECURE=1). An allocator whose allocator.mk sets
# ALLOC_MISSING_<A> (its library is not installed here) is not built but
# skipped, with that reason, by make and by build/heapmark.

SHELL    := /bin/bash
.DEFAULT_GOAL := all
CC       := gcc
CXX      := g++
PYTHON   := /usr/bin/python3
BUILD    := build
OBJ      := $(BUILD)/obj
PREFIX   ?= /usr/local

WARN     := -Wall -Wextra -Werror
CFLAGS   := -std=gnu11 -O2 -g $(WARN)
CXXFLAGS := -std=c++17 -O2 -g -DNDEBUG $(WARN)
CPPFLAGS := -Iharness -MMD -MP
LDFLAGS  :=

empty :=
space := $(empty) $(empty)
comma := ,

# --- allocators -------------------------------------------------------------
# Test targets are collected from every *.mk fragment (see the tests section).
TESTS :=
include $(sort $(wildcard allocators/*/allocator.mk))

# Every allocator folder is built unless its allocator.mk says its library is
# missing here (ALLOC_MISSING_<A>: not built; build/<A>/skipped tells the
# runner why, and it skips that allocator with a notice).
KNOWN   := $(patsubst allocators/%/ext.c,%,$(wildcard allocators/*/ext.c))
SKIPPED := $(foreach a,$(KNOWN),$(if $(ALLOC_MISSING_$(a)),$(a)))
BUILT   := $(filter-out $(SKIPPED),$(KNOWN))

# The default contestants, and sable's secure mode as a variant of sable (its
# cost shows in the report's Variants section). make conformance leaves the
# variant out unless ALLOCATORS is given (secure mode aborts on the misuse
# checks by design).
DEFAULT_CONFORMANCE := $(strip $(if $(wildcard allocators/sable/allocator.mk),sable) glibc jemalloc \
                       mimalloc tcmalloc tbbmalloc scudo)
DEFAULT_ALLOCATORS  := $(strip $(DEFAULT_CONFORMANCE) \
                       $(if $(wildcard allocators/sable/allocator.mk),sable-secure=sable:SABLE_SECURE=1))
ALLOCATORS_GIVEN := $(filter-out undefined default file,$(origin ALLOCATORS))
ALLOCATORS ?= $(DEFAULT_ALLOCATORS)

# ALLOCATORS goes to build/heapmark's --allocators untouched: the runner alone
# parses and checks it (items NAME, NAME=/path/lib.so or NAME=BASE:VAR=VAL...,
# separated by commas or blanks, backslash escapes). As one shell word in
# single quotes (conformance/conformance.mk uses ALLOC_LIST):
shell_quote = $(subst ','\'',$(1))
BENCH_LIST := $(call shell_quote,$(ALLOCATORS))
ALLOC_LIST := $(call shell_quote,$(if $(ALLOCATORS_GIVEN),$(ALLOCATORS),$(DEFAULT_CONFORMANCE)))

# --- sources ----------------------------------------------------------------
# LIB: linked into every allocator-specific binary; harness/bench_*.c only into bench
LIB_SRCS    := $(filter-out harness/bench_%,$(wildcard harness/*.c))
BENCH_SRCS  := $(wildcard harness/bench_*.c bench/*.c)
SHIM_SRCS   := $(wildcard harness/*.cc)
CONF_SRCS   := $(filter-out conformance/selftest.c,$(wildcard conformance/*.c))
RUNNER_SRCS := $(wildcard harness/runner/*.c)

obj = $(patsubst %,$(OBJ)/%.o,$(basename $(1)))
LIB_OBJS    := $(call obj,$(LIB_SRCS))
BENCH_OBJS  := $(call obj,$(BENCH_SRCS) $(SHIM_SRCS))
CONF_OBJS   := $(call obj,$(CONF_SRCS))
RUNNER_OBJS := $(call obj,$(RUNNER_SRCS))

# the calls under test must reach the allocator: no builtin folding
$(CONF_OBJS): CFLAGS += -fno-builtin
$(RUNNER_OBJS): CPPFLAGS += -Iharness/runner -Ibench/trace

BINARIES := $(foreach a,$(BUILT),$(BUILD)/$(a)/bench $(BUILD)/$(a)/conformance) $(BUILD)/heapmark \
            $(foreach a,$(SKIPPED),$(BUILD)/$(a)/skipped)

.PHONY: all deps bench conformance test report install uninstall clean
all: $(BINARIES)

# Installs missing Debian packages (or says how); costs a few ms when all are there.
deps:
	@scripts/bootstrap-deps.sh

$(OBJ)/%.o: %.c | deps
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(OBJ)/%.o: %.cc | deps
	@mkdir -p $(@D)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -c -o $@ $<

# One bench and one conformance binary per allocator, from the same objects.
# The allocator comes first on the link line so that it is the first library
# in the search order: libstdc++, libbenchmark and the harness use it too.
define allocator_rules
$(OBJ)/allocators/$(1)/ext.o: CPPFLAGS += $$(ALLOC_CPPFLAGS_$(1))

$(BUILD)/$(1)/bench: $(OBJ)/allocators/$(1)/ext.o $$(BENCH_OBJS) $$(LIB_OBJS) $$(ALLOC_DEPS_$(1))
	@mkdir -p $$(@D) && rm -f $$(@D)/skipped
	$$(CXX) $$(LDFLAGS) -o $$@ -Wl,--no-as-needed $$(ALLOC_LIBS_$(1)) -Wl,--as-needed \
	    $$(filter %.o,$$^) -lbenchmark -lpthread -ldl

$(BUILD)/$(1)/conformance: $(OBJ)/allocators/$(1)/ext.o $$(CONF_OBJS) $$(LIB_OBJS) $$(ALLOC_DEPS_$(1))
	@mkdir -p $$(@D) && rm -f $$(@D)/skipped
	$$(CC) $$(LDFLAGS) -o $$@ -Wl,--no-as-needed $$(ALLOC_LIBS_$(1)) -Wl,--as-needed \
	    $$(filter %.o,$$^) -lpthread -ldl
endef
$(foreach a,$(BUILT),$(eval $(call allocator_rules,$(a))))

# An allocator that cannot be built here: its reason, and no stale binaries.
define skipped_rule
.PHONY: $(BUILD)/$(1)/skipped
$(BUILD)/$(1)/skipped:
	@mkdir -p $$(@D) && rm -f $$(@D)/bench $$(@D)/conformance
	@echo '$$(subst ','\'',$$(ALLOC_MISSING_$(1)))' > $$@
	@echo "heapmark: skipping allocator '$(1)': $$(ALLOC_MISSING_$(1))"
endef
$(foreach a,$(SKIPPED),$(eval $(call skipped_rule,$(a))))

$(BUILD)/heapmark: $(RUNNER_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ -ljansson -lm

# --- running ------------------------------------------------------------------
PROFILE    := $(if $(QUICK),quick,$(if $(FULL),full,default))

# PROGRAM='name=CMD ARGS': run that command under every allocator instead
PROGRAM_ARG := $(if $(PROGRAM), --program '$(subst ','\'',$(PROGRAM))')

# The report shows the contract of exactly these allocators and this build:
# the conformance matrix is reused only when it matches (scripts/hm_results.py
# conformance-match), else run and rendered (QUICK=1 never runs it: the report
# says none is attached).
bench: all
	@date +%s >$(BUILD)/.bench-start
	$(BUILD)/heapmark run --allocators '$(BENCH_LIST)' --profile $(PROFILE) $(BENCH_ARGS)$(PROGRAM_ARG)
	@$(PYTHON) scripts/hm_results.py conformance-match results/latest results/latest-conformance || \
	  $(if $(QUICK),echo "conformance: not run with QUICK=1",{ $(BUILD)/heapmark conformance --allocators '$(BENCH_LIST)' && \
	  $(PYTHON) scripts/conformance_report.py results/latest-conformance; })
	MPLBACKEND=Agg $(PYTHON) scripts/report.py --print-summary results/latest
	@s=$$(( $$(date +%s) - $$(cat $(BUILD)/.bench-start) )); \
	    printf 'make bench: total %d:%02d\n' $$((s / 60)) $$((s % 60))

# The runner runs the binaries into results/<run>/ and moves latest-conformance;
# the matrix is rendered from that folder, as the bench report is from its own.
conformance: all
	$(BUILD)/heapmark conformance --allocators '$(ALLOC_LIST)' $(CONFORMANCE_ARGS)
	$(PYTHON) scripts/conformance_report.py results/latest-conformance

RUN ?= results/latest
report: deps
	MPLBACKEND=Agg $(PYTHON) scripts/report.py $(RUN)

# --- tests ------------------------------------------------------------------
# Each area's *.mk adds the names of its test targets to TESTS; scripts/run-tests.sh
# runs each one, keeps going after a failure, and ends with "N passed, N failed".
include $(sort $(wildcard harness/*.mk harness/*/*.mk bench/*.mk conformance/*.mk scripts/*.mk allocators/*/*/*.mk))

test: all
	@scripts/run-tests.sh $(TESTS)

install: install-sable
uninstall: uninstall-sable

clean:
	rm -rf $(BUILD)

-include $(shell find $(OBJ) -name '*.d' 2>/dev/null)
