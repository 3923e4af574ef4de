# scudo: LLVM's hardened allocator, the standalone runtime of compiler-rt from
# Debian's libclang-rt-14-dev (libclang_rt.scudo_standalone-<arch>.so), linked
# by its path with an rpath to its folder. Found where clang looks for it,
# else in any installed LLVM; the file is per architecture.
SCUDO_ARCH := $(patsubst i%86,i386,$(firstword $(subst -, ,$(shell $(CC) -dumpmachine))))
SCUDO_FILE := libclang_rt.scudo_standalone-$(SCUDO_ARCH).so
SCUDO_LIB  := $(firstword $(wildcard $(shell clang -print-file-name=$(SCUDO_FILE) 2>/dev/null)) \
                $(lastword $(sort $(wildcard /usr/lib/llvm-*/lib/clang/*/lib/linux/$(SCUDO_FILE)))))
ALLOC_LIBS_scudo := $(SCUDO_LIB) -Wl,-rpath,$(patsubst %/,%,$(dir $(SCUDO_LIB)))
ALLOC_DEPS_scudo :=
ALLOC_MISSING_scudo := $(if $(SCUDO_LIB),,$(SCUDO_FILE) not found ($(if $(filter \
    x86_64 aarch64 i386,$(SCUDO_ARCH)),Debian package libclang-rt-14-dev,no Scudo for $(SCUDO_ARCH))))
# the version of its package (1:14.0.6-12), for when the library's path
# holds no LLVM version
SCUDO_PACKAGE := $(if $(SCUDO_LIB),$(firstword $(subst :, ,$(shell dpkg-query -S '$(SCUDO_LIB)' 2>/dev/null))))
ALLOC_CPPFLAGS_scudo := -DSCUDO_PACKAGE_VERSION='"$(or $(if $(SCUDO_PACKAGE),$(shell \
    dpkg-query -W -f='$${Version}' $(SCUDO_PACKAGE) 2>/dev/null)),not-from-a-package)"'
# Under valgrind, Scudo's start-up reservation fails ("Scudo ERROR: internal
# map or unmap failure", SIGABRT): no instruction counts for it.
ALLOC_NO_VALGRIND_scudo := its reserved regions do not fit valgrind's address space
