#!/usr/bin/env bash
# The installed tree, as a user gets it: `cmake --install` (what `make install` runs) into a
# temporary prefix, then tests/consumer/ built against it through pkg-config and through
# find_package(reservoir), each against the shared library and against the archive, and run.
# Also: the soname, the installed command's --version, and every man page read by man -l.
#   tests/check_install.sh [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
fail() {
	echo "install: FAIL: $*" >&2
	exit 1
}

cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" || fail "cmake --install: $(tail -3 "$tmp/install.log")"
pcfile=$(find "$prefix" -name reservoir.pc | head -1)
[ -n "$pcfile" ] || fail "no reservoir.pc installed"
libdir=$(cd "$(dirname "$pcfile")/.." && pwd)
version=$(sed -n 's/^#define RSV_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)$/\2/p' \
	"$root/include/reservoir/version.h" | paste -sd.)
export PKG_CONFIG_PATH=$(dirname "$pcfile")

# The command and the library say the same version, the one version.h holds.
[ "$("$prefix/bin/reservoir" --version)" = "reservoir $version" ] ||
	fail "reservoir --version says '$("$prefix/bin/reservoir" --version)', version.h $version"
[ "$(pkg-config --modversion reservoir)" = "$version" ] || fail "reservoir.pc's version"
soname=$(readelf -d "$libdir/libreservoir.so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
case $version in
0.*) want=libreservoir.so.${version%.*} ;;
*) want=libreservoir.so.${version%%.*} ;;
esac
[ "$soname" = "$want" ] || fail "soname '$soname', want '$want'"
[ -e "$libdir/$soname" ] || fail "no $soname link installed"
[ -f "$libdir/libreservoir-malloc.so" ] || fail "the malloc drop-in was not installed"
[ "$(LD_PRELOAD=$libdir/libreservoir-malloc.so /bin/echo preloaded)" = preloaded ] ||
	fail "a program does not run under the installed drop-in"

# pkg-config, shared and static.
cc=${CC:-cc}
"$cc" -std=c11 -Wall -Werror "$root/tests/consumer/consumer.c" -o "$tmp/pc_shared" \
	$(pkg-config --cflags --libs reservoir) || fail "building through pkg-config"
LD_LIBRARY_PATH=$libdir "$tmp/pc_shared" >"$tmp/out" || fail "pkg-config shared: $(cat "$tmp/out")"
"$cc" -std=c11 -Wall -Werror "$root/tests/consumer/consumer.c" -o "$tmp/pc_static" \
	$(pkg-config --cflags reservoir) \
	$(pkg-config --static --libs reservoir | sed 's/-lreservoir\b/-l:libreservoir.a/') ||
	fail "building through pkg-config --static"
if readelf -d "$tmp/pc_static" | grep -q 'libreservoir'; then
	fail "the --static build still needs libreservoir.so"
fi
"$tmp/pc_static" >"$tmp/out" || fail "pkg-config static: $(cat "$tmp/out")"

# find_package(reservoir): reservoir::reservoir and reservoir::reservoir_static.
cmake -S "$root/tests/consumer" -B "$tmp/cmake" -DCMAKE_PREFIX_PATH="$prefix" \
	-DCMAKE_C_FLAGS="-Wall -Werror" >"$tmp/cmake.log" 2>&1 ||
	fail "configuring tests/consumer: $(tail -5 "$tmp/cmake.log")"
cmake --build "$tmp/cmake" >>"$tmp/cmake.log" 2>&1 || fail "building tests/consumer: $(tail -5 "$tmp/cmake.log")"
"$tmp/cmake/consumer_shared" >"$tmp/out" || fail "find_package shared: $(cat "$tmp/out")"
"$tmp/cmake/consumer_static" >"$tmp/out" || fail "find_package static: $(cat "$tmp/out")"

# The man pages: each one installed is read by man without a warning.
nman=0
nlinks=0
for page in $(find "$prefix" -path '*/man/man*' -type f | sort); do
	if head -1 "$page" | grep -q '^\.so '; then # a function's page: its group's must be there
		target=$(dirname "$(dirname "$page")")/$(head -1 "$page" | cut -d' ' -f2)
		[ -f "$target" ] || fail "$(basename "$page") sources $target, which is missing"
		nlinks=$((nlinks + 1))
		continue
	fi
	if ! MANWIDTH=80 man --warnings -l "$page" >/dev/null 2>"$tmp/man.err" || [ -s "$tmp/man.err" ]; then
		fail "man -l $(basename "$page"): $(head -3 "$tmp/man.err")"
	fi
	nman=$((nman + 1))
done
echo "install: reservoir $version ($soname) into a fresh prefix; consumer built and run through pkg-config and CMake, shared and static; $nman man pages read, $nlinks function pages lead to them"
