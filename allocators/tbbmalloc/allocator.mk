# tbbmalloc: oneTBB's scalable allocator from Debian's libtbbmalloc2. Its
# libtbbmalloc_proxy.so.2 replaces malloc, free, ..., operator new/delete,
# linked first; ext.c calls libtbbmalloc.so.2 itself (scalable_*, header
# oneapi/tbb/scalable_allocator.h from libtbb-dev).
ALLOC_LIBS_tbbmalloc := -l:libtbbmalloc_proxy.so.2 -l:libtbbmalloc.so.2
ALLOC_DEPS_tbbmalloc :=
ALLOC_MISSING_tbbmalloc := $(if $(wildcard /usr/lib/*/libtbbmalloc_proxy.so.2),$(if \
    $(wildcard /usr/include/oneapi/tbb/scalable_allocator.h),,oneTBB headers missing \
    (Debian package libtbb-dev)),libtbbmalloc_proxy.so.2 not installed \
    (Debian package libtbbmalloc2))
# the package's version (2021.8.0-2+deb12u1), for when the library's own
# version string cannot be read
ALLOC_CPPFLAGS_tbbmalloc := -DTBBMALLOC_PACKAGE_VERSION='"$(or $(shell \
    dpkg-query -W -f='$${Version}' libtbbmalloc2 2>/dev/null),not-from-a-package)"'
