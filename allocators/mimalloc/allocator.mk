# mimalloc from Debian's libmimalloc-dev.
ALLOC_LIBS_mimalloc := -lmimalloc
ALLOC_DEPS_mimalloc :=
