#!/usr/bin/env bash
# Throughput of examples/nbd-crypt with its I/O path's memory from reservoir's mempools against
# the same plugin taking it from malloc (alloc=malloc): nbdcopy writes SIZE in and reads it back
# over a Unix socket, ROUNDS rounds, the two servers interleaved (this machine is shared and
# noisy), and the median of each is printed with the ratio. A benchmark, not a test.
#   bench/nbd_crypt.sh [BUILD_DIR] [SIZE=256M] [ROUNDS=5]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
size=${2:-256M}
rounds=${3:-5}
plugin=$build/examples/nbd-crypt/nbdkit-rsvcrypt-plugin.so
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

one() { # one round of ALLOC: "write_s read_s"
	local t0 t1 t2
	rm -f "$tmp/disk" "$tmp/sock"
	nbdkit --unix "$tmp/sock" --foreground "$plugin" file="$tmp/disk" size="$size" \
		alloc="$1" >/dev/null 2>&1 &
	local pid=$!
	while [ ! -S "$tmp/sock" ]; do sleep 0.02; done
	t0=$(date +%s.%N)
	nbdcopy -- [ nbdkit pattern size="$size" ] "nbd+unix:///?socket=$tmp/sock"
	t1=$(date +%s.%N)
	nbdcopy "nbd+unix:///?socket=$tmp/sock" null:
	t2=$(date +%s.%N)
	kill -TERM $pid
	wait $pid
	awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN { printf "%.4f %.4f\n", b - a, c - b }'
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

for r in $(seq "$rounds"); do
	for alloc in reservoir malloc; do
		one $alloc >>"$tmp/$alloc"
	done
done
bytes=$(numfmt --from=iec "$size")
printf "nbd-crypt, %s written then read, %d rounds interleaved (median MiB/s)\n" "$size" "$rounds"
printf "%-10s %10s %10s\n" alloc write read
for alloc in reservoir malloc; do
	w=$(cut -d' ' -f1 "$tmp/$alloc" | median)
	r=$(cut -d' ' -f2 "$tmp/$alloc" | median)
	awk -v n="$bytes" -v w="$w" -v r="$r" -v a=$alloc \
		'BEGIN { printf "%-10s %10.0f %10.0f\n", a, n / 1048576 / w, n / 1048576 / r }'
	echo "$w $r" >"$tmp/$alloc.med"
done
read -r rw rr <"$tmp/reservoir.med"
read -r mw mr <"$tmp/malloc.med"
awk -v rw="$rw" -v mw="$mw" -v rr="$rr" -v mr="$mr" \
	'BEGIN { printf "reservoir / malloc time: write %.3f, read %.3f\n", rw / mw, rr / mr }'
