#!/usr/bin/env bash
# examples/nbd-crypt driven by real NBD clients (libnbd-bin): nbdcopy writes 256 MiB in and reads
# it back bit for bit, nbdinfo sees the disk, the file holds ciphertext, and the statistics the
# server writes when SIGTERM stops it say that no allocation failed and the books balanced.
# Then the arena made too small for the requests in flight: the copy still completes, the pools
# having waited. And bad parameters are refused before the server starts.
#   tests/nbd_crypt_test.sh [BUILD_DIR]
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
plugin=$build/examples/nbd-crypt/nbdkit-rsvcrypt-plugin.so
tmp=$(mktemp -d)
pid=
passes=0
cleanup() {
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
	echo "nbd-crypt: FAIL: $*" >&2
	[ -f "$tmp/log" ] && tail -5 "$tmp/log" >&2
	exit 1
}
pass() { passes=$((passes + 1)); }
stat_of() { sed -n "s/^$1 //p" "$tmp/stats"; }

for tool in nbdkit nbdcopy nbdinfo; do
	command -v "$tool" >/dev/null || fail "$tool is missing (scripts/deps.sh installs it)"
done
[ -f "$plugin" ] || fail "$plugin was not built (nbdkit-plugin-dev and libssl-dev are needed)"

# start ARGS...: the server on a Unix socket, in the foreground of a background job.
start() {
	rm -f "$tmp/sock" "$tmp/stats"
	nbdkit --unix "$tmp/sock" --foreground "$plugin" file="$tmp/disk" stats="$tmp/stats" \
		"$@" >"$tmp/log" 2>&1 &
	pid=$!
	for _ in $(seq 100); do
		[ -S "$tmp/sock" ] && return 0
		kill -0 "$pid" 2>/dev/null || fail "the server did not start"
		sleep 0.05
	done
	fail "no socket after 5 s"
}

# stop: SIGTERM, and the server must exit 0 having written its statistics.
stop() {
	kill -TERM "$pid"
	wait "$pid"
	local rc=$?
	pid=
	[ $rc -eq 0 ] || fail "the server exited $rc on SIGTERM"
	[ -f "$tmp/stats" ] || fail "no statistics written at exit"
}

uri="nbd+unix:///?socket=$tmp/sock"
size=256M

# ---- 256 MiB through the default arena (4 MiB, pools of 16) ----
start size=$size
nbdinfo "$uri" >"$tmp/info" 2>&1 || fail "nbdinfo: $(head -3 "$tmp/info")"
grep -q "export-size: 268435456" "$tmp/info" && pass || fail "nbdinfo's size: $(grep size "$tmp/info")"
nbdcopy -- [ nbdkit pattern size=$size ] "$uri" || fail "nbdcopy in"
want=$(nbdcopy -- [ nbdkit pattern size=$size ] - | sha256sum)
got=$(nbdcopy "$uri" - | sha256sum)
[ "$got" = "$want" ] && pass || fail "the data read back differs from the data written"
stop
# The file holds ciphertext: the pattern (each 8-byte word its own offset) is nowhere in it,
# and nearly every byte of the first MiB differs from the plaintext's.
[ "$(sha256sum <"$tmp/disk")" != "$want" ] || fail "the file holds the plaintext"
nbdcopy -- [ nbdkit pattern size=1M ] "$tmp/plain" 2>/dev/null || fail "the pattern"
differ=$(cmp -l -n 1048576 "$tmp/disk" "$tmp/plain" | wc -l)
[ "$differ" -gt 1040000 ] && pass || fail "only $differ of 1,048,576 bytes differ from the plaintext"
[ "$(stat_of failed_allocations)" = 0 ] && [ "$(stat_of check)" = ok ] &&
	[ "$(stat_of misuse)" = 0 ] && pass || fail "statistics: $(tr '\n' ' ' <"$tmp/stats")"
used=$(($(stat_of bounce_from_backing) + $(stat_of bounce_from_pool)))
[ "$used" -ge 131072 ] && [ "$(stat_of mlocked)" = 1 ] && pass ||
	fail "$used bounce pages for 2 x 256 MiB (want 131072), mlocked $(stat_of mlocked)"
echo "nbd-crypt: 256 MiB round trip; bounce pages $(stat_of bounce_from_backing) from the arena," \
	"$(stat_of bounce_from_pool) from the pool, $(stat_of bounce_waits) waits; PR_SET_IO_FLUSHER:" \
	"$(stat_of io_flusher_kernel)"

# ---- an arena too small for the requests in flight: pools of 1, 64 requests at once ----
# Whether two workers want the one bounce page at once is up to the scheduler (a run on a
# quiet machine sometimes serves every bounce from the pool, or from the arena, without one
# wait): up to three servers, each copy checked whole, until one has waited.
waited=
for round in 1 2 3; do
	rm -f "$tmp/disk"
	start size=32M arena=144K pool=1
	nbdcopy --requests=64 -- [ nbdkit pattern size=32M ] "$uri" ||
		fail "nbdcopy in (small arena, round $round)"
	want=$(nbdcopy -- [ nbdkit pattern size=32M ] - | sha256sum)
	got=$(nbdcopy --requests=64 "$uri" - | sha256sum)
	[ "$got" = "$want" ] || fail "small arena, round $round: the data read back differs"
	stop
	[ "$(stat_of failed_allocations)" = 0 ] && [ "$(stat_of check)" = ok ] ||
		fail "small arena, round $round: $(tr '\n' ' ' <"$tmp/stats")"
	if [ "$(stat_of bounce_waits)" -gt 0 ] && [ "$(stat_of bounce_from_pool)" -gt 0 ]; then
		waited=$round
		break
	fi
done
pass # the data, every round
pass # no allocation failed, every round
[ -n "$waited" ] && pass ||
	fail "small arena: the pools were never waited on in 3 rounds: $(tr '\n' ' ' <"$tmp/stats")"
echo "nbd-crypt: 144 KiB arena, pools of 1 (round $waited): $(stat_of bounce_from_pool) bounce" \
	"pages from the pool, $(stat_of bounce_waits) waits ($(stat_of bounce_wait_ms) ms), no" \
	"allocation failed"

# ---- bad parameters: refused, named, before anything is served ----
bad() {
	local want=$1
	shift
	if nbdkit --unix "$tmp/sock2" --foreground "$plugin" "$@" --run true >"$tmp/bad" 2>&1; then
		fail "accepted: $*"
	fi
	grep -q -- "$want" "$tmp/bad" && pass || fail "'$*' did not say '$want': $(head -2 "$tmp/bad")"
}
bad "file= is required" size=1M
bad "is not hex" file="$tmp/d2" key="$(printf 'zz%.0s' $(seq 64))"
bad "pool=0 is not in 1..4096" file="$tmp/d2" pool=0
bad "not a multiple of 512" file="$tmp/d2" size=1000
bad "valid are reservoir, malloc" file="$tmp/d2" alloc=tcmalloc

echo "nbd-crypt: $passes checks passed, 0 failed"
