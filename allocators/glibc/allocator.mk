# glibc: the C library's own malloc; nothing extra to link.
ALLOC_LIBS_glibc :=
ALLOC_DEPS_glibc :=
