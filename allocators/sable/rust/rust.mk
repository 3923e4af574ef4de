# sable's Rust crate (allocators/sable/rust): GlobalAlloc over sable, and
# safe wrappers of its extensions, linking the libsable.a built here.
#
#   test-sable-rust   cargo test of the crate, offline, with Debian's cargo and rustc
#                     (no dependency from any registry): the Layout contract (every
#                     alignment 1 .. 2^22, sizes 0, 1, align-1, align, align+1; realloc
#                     across size classes; zero size with alignment 4096), the
#                     extension wrappers, OOM handlers under RLIMIT_AS, and a program
#                     whose #[global_allocator] is sable, checked through sable_stats
#                     (SABLE_STATS=1); then the example program, which must report it
#
# Cargo's files stay under build/: CARGO_TARGET_DIR build/sable/rust, CARGO_HOME
# build/cargo-home (no user configuration, no registry). SABLE_CARGO and
# SABLE_RUSTC pick other toolchains.

SABLE_RUST_DIR := $(SABLE_DIR)/rust
SABLE_CARGO    ?= /usr/bin/cargo
SABLE_RUSTC    ?= /usr/bin/rustc
SABLE_CARGO_ENV := CARGO_HOME=$(abspath $(BUILD))/cargo-home \
                   CARGO_TARGET_DIR=$(abspath $(SABLE_BUILD))/rust \
                   RUSTC=$(SABLE_RUSTC) RUSTDOC=$(dir $(SABLE_RUSTC))rustdoc \
                   LIBSABLE_DIR=$(abspath $(SABLE_BUILD)) RUSTFLAGS=-Dwarnings

.PHONY: test-sable-rust
TESTS += test-sable-rust

test-sable-rust: $(SABLE_BUILD)/libsable.a
	@test -x $(SABLE_CARGO) -a -x $(SABLE_RUSTC) || \
	    { echo "test-sable-rust: $(SABLE_CARGO) or $(SABLE_RUSTC) is missing (Debian's cargo and rustc: scripts/bootstrap-deps.sh)"; exit 1; }
	@mkdir -p $(BUILD)/cargo-home
	cd $(SABLE_RUST_DIR) && $(SABLE_CARGO_ENV) SABLE_STATS=1 nice $(SABLE_CARGO) test --offline
	cd $(SABLE_RUST_DIR) && $(SABLE_CARGO_ENV) SABLE_STATS=1 $(SABLE_CARGO) run --offline --quiet \
	    --example collections > $(abspath $(SABLE_BUILD))/rust/example.out 2>&1
	@grep -Eq '^sable [0-9.]+: 7919 distinct words; [1-9][0-9]* small allocations' \
	    $(SABLE_BUILD)/rust/example.out || \
	    { echo "test-sable-rust: the example did not report sable's counts:"; \
	      cat $(SABLE_BUILD)/rust/example.out; exit 1; }
	@head -1 $(SABLE_BUILD)/rust/example.out
