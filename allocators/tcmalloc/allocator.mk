# tcmalloc: gperftools' tcmalloc_minimal from Debian's libtcmalloc-minimal4,
# linked; its headers (gperftools/tcmalloc.h, malloc_extension_c.h) come with
# libgoogle-perftools-dev.
ALLOC_LIBS_tcmalloc := -l:libtcmalloc_minimal.so.4
ALLOC_DEPS_tcmalloc :=
# empty when it can be built, else why not (the allocator is then skipped)
ALLOC_MISSING_tcmalloc := $(if $(wildcard /usr/lib/*/libtcmalloc_minimal.so.4),$(if \
    $(wildcard /usr/include/gperftools/malloc_extension_c.h),,gperftools headers missing \
    (Debian package libgoogle-perftools-dev)),libtcmalloc_minimal.so.4 not installed \
    (Debian package libtcmalloc-minimal4))
