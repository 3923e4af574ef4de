# jemalloc from Debian's libjemalloc-dev.
ALLOC_LIBS_jemalloc := -ljemalloc
ALLOC_DEPS_jemalloc :=
