# fwd: a stand-in contestant for scripts/tests/test_contestants.sh, added the
# way README.md's "Adding an allocator" says: libfwd.so, built here, serves
# malloc by handing every call to glibc's own entry points. FWD_MISSING set
# to a reason makes it a contestant whose library is missing.
ALLOC_LIBS_fwd := -L$(BUILD)/fwd -lfwd -Wl,-rpath,'$$ORIGIN'
ALLOC_DEPS_fwd := $(BUILD)/fwd/libfwd.so
ALLOC_MISSING_fwd := $(FWD_MISSING)

$(BUILD)/fwd/libfwd.so: allocators/fwd/fwd.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fPIC -shared -o $@ $<
