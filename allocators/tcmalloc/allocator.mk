# gperftools tcmalloc_minimal (optional; Debian ships only the runtime library).
ALLOC_LIBS_tcmalloc := -l:libtcmalloc_minimal.so.4
ALLOC_DEPS_tcmalloc :=
# present when the runtime library is installed
ALLOC_PRESENT_tcmalloc := $(wildcard /usr/lib/*/libtcmalloc_minimal.so.4)
