#!/bin/bash
# install.sh OUTDIR: `make install` into a staging tree (DESTDIR, PREFIX), the
# files and the soname checked, then a program built against the installed
# sable through pkg-config only, run linked and preloaded (installed_prog.c);
# `make uninstall` must remove every file it installed. Run from the repo root.
set -euo pipefail
out=$1
prefix=/opt/sable-test
rm -rf "$out" && mkdir -p "$out"
stage=$(cd "$out" && pwd)/stage
lib=$stage$prefix/lib
fail() { echo "test-sable-install: FAIL: $*"; exit 1; }

make --no-print-directory -s install-sable DESTDIR="$stage" PREFIX="$prefix" > "$out/install.log" 2>&1 ||
    { cat "$out/install.log"; fail "make install-sable DESTDIR=$stage PREFIX=$prefix"; }

version=$(sed -n 's/^#define SABLE_VERSION_STRING "\(.*\)"$/\1/p' allocators/sable/include/sable.h)
major=${version%%.*}
for f in lib/libsable.so.$version lib/libsable.so.$major lib/libsable.so lib/libsable.a \
         include/sable.h lib/pkgconfig/sable.pc share/man/man3/sable.3; do
    [ -e "$stage$prefix/$f" ] || fail "$prefix/$f was not installed"
done
[ "$(readlink "$lib/libsable.so")" = "libsable.so.$major" ] || fail "libsable.so does not link to libsable.so.$major"
[ "$(readlink "$lib/libsable.so.$major")" = "libsable.so.$version" ] || fail "libsable.so.$major does not link to libsable.so.$version"
soname=$(readelf -d "$lib/libsable.so.$version" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "libsable.so.$major" ] || fail "soname is '$soname', not libsable.so.$major"
grep -q "^\.TH SABLE 3 .*\"sable $version\"" "$stage$prefix/share/man/man3/sable.3" ||
    fail "sable(3) does not name version $version"
if command -v groff >/dev/null; then
    warn=$(groff -man -Tutf8 -ww -z "$stage$prefix/share/man/man3/sable.3" 2>&1)
    [ -z "$warn" ] || fail "groff warns about sable(3): $warn"
fi

# pkg-config sees the staged tree as installed under $prefix
export PKG_CONFIG_PATH=$lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$stage PKG_CONFIG_LIBDIR=
[ "$(pkg-config --modversion sable)" = "$version" ] || fail "pkg-config --modversion sable is not $version"
grep -qx "prefix=$prefix" "$lib/pkgconfig/sable.pc" || fail "sable.pc's prefix is not $prefix"
flags=$(pkg-config --cflags --libs sable)
case " $flags " in
    *" -I$stage$prefix/include "*"-L$lib "*) ;;
    *) fail "pkg-config --cflags --libs sable gave '$flags'" ;;
esac
cflags=$(pkg-config --cflags sable)
src=allocators/sable/tests/installed_prog.c
cc=${CC:-gcc}
# shellcheck disable=SC2086
$cc -std=gnu11 -O2 -Wall -Wextra -Werror -DLINKED -o "$out/linked" "$src" $flags
# shellcheck disable=SC2086
$cc -std=gnu11 -O2 -Wall -Wextra -Werror -o "$out/plain" "$src" $cflags
readelf -d "$out/linked" | grep -q "NEEDED.*\[libsable.so.$major\]" || fail "the linked program does not need libsable.so.$major"
if readelf -d "$out/plain" | grep -q 'NEEDED.*libsable'; then fail "the preload program links libsable"; fi

SABLE_STATS=1 LD_LIBRARY_PATH=$lib "$out/linked" "$lib" 2>"$out/linked.err"
SABLE_STATS=1 LD_PRELOAD=$lib/libsable.so.$major "$out/plain" "$lib" 2>"$out/plain.err"
# and without sable the preload program must notice
if SABLE_STATS=1 "$out/plain" "$lib" > "$out/glibc.out" 2>&1; then
    fail "installed_prog passed without sable loaded"
fi

make --no-print-directory -s uninstall-sable DESTDIR="$stage" PREFIX="$prefix" > "$out/uninstall.log" 2>&1 ||
    { cat "$out/uninstall.log"; fail "make uninstall-sable"; }
left=$(find "$stage" ! -type d)
[ -z "$left" ] || fail "make uninstall left: $left"
echo "test-sable-install: ok (sable $version: installed, pkg-config, linked, preloaded, uninstalled)"
