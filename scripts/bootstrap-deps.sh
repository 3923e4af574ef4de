#!/bin/sh
# Makes sure the Debian packages heapmark needs are installed.
# Usage: scripts/bootstrap-deps.sh [extra-package ...]
# Installs what is missing with apt-get when run as root; otherwise prints the
# exact command to run and exits 1. When everything is present it only runs
# one dpkg-query (well under a second).
# The contestants' libraries: libtcmalloc-minimal4 + libgoogle-perftools-dev
# (tcmalloc and its headers), libtbbmalloc2 + libtbb-dev (tbbmalloc, its proxy
# and headers), libclang-rt-14-dev (Scudo's standalone runtime).
set -eu

required="libbenchmark-dev libjemalloc-dev libmimalloc-dev python3-matplotlib python3-yaml valgrind g++ make sqlite3 git clang libclang-rt-14-dev libtcmalloc-minimal4 libgoogle-perftools-dev libtbbmalloc2 libtbb-dev"
# the real programs of bench/programs/ (a missing one is skipped with a notice)
required="$required redis-server redis-tools xz-utils zstd gawk perl"
# sable's install test (pkg-config, the manual page), its Rust crate (Debian's
# cargo and rustc) and, on x86-64, its aarch64 cross build run under qemu-user
required="$required pkg-config groff-base cargo rustc"
# the runner reads and writes JSON with jansson
required="$required libjansson-dev"
# the runner's conformance test traces what it executes (no Python)
required="$required strace"
if [ "$(dpkg --print-architecture 2>/dev/null)" = amd64 ]; then
    required="$required gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user"
fi
# CPython's own regression tests for make reliability and test-sable-cpython
required="$required libpython3.11-testsuite"
# test-sable-format: sable's sources checked against allocators/sable/.clang-format
required="$required clang-format"
extra="$*"

installed() {
    # prints the names (without arch) of the given packages that are installed
    dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "$@" 2>/dev/null |
        awk '$2 ~ /^ii/ { print $1 }'
}

missing=""
have=$(installed $required $extra)
for p in $required $extra; do
    case " $(echo $have) " in
        *" $p "*) ;;
        *) missing="$missing $p" ;;
    esac
done
missing=${missing# }

if [ -z "$missing" ]; then
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    echo "heapmark: missing Debian packages: $missing" >&2
    echo "heapmark: install them with:  sudo apt-get update && sudo apt-get install -y $missing" >&2
    exit 1
fi

echo "heapmark: installing missing Debian packages: $missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends $missing >&2
exit 0
