#!/bin/sh
# Makes sure the Debian packages heapmark needs are installed.
# Usage: scripts/bootstrap-deps.sh [extra-package ...]
# Installs what is missing with apt-get when run as root; otherwise prints the
# exact command to run and exits 1. When everything is present it only runs
# one dpkg-query (well under a second).
# libtcmalloc-minimal4 is optional and never installed here: when it is
# installed by hand, the build adds tcmalloc to the default allocators.
set -eu

required="libbenchmark-dev libjemalloc-dev libmimalloc-dev python3-matplotlib python3-yaml valgrind g++ make sqlite3 git clang libclang-rt-14-dev libpython3.11-testsuite"
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
