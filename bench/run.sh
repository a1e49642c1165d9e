#!/usr/bin/env bash
# make bench: every allocator runs bench/allocbench.c in a process of its own, the C heap's
# peers by LD_PRELOAD of Debian's libraries (glibc when none), reservoir through its own API
# (and through its malloc drop-in when that is built). ROUNDS rounds, the allocators taken in
# a different order each round so that this shared machine's noise falls on all of them alike;
# the median of each figure and its spread (min..max) are reported, and every ratio is taken
# against the fastest peer of the same run for that workload, whichever it is. Then one run of
# each under callgrind gives instructions per operation, which repeat exactly.
#
#   bench/run.sh [BUILD_DIR] [ROUNDS=5]
# Writes bench/results/DATE.md and DATE.png and prints the table.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
rounds=${2:-5}
bench=$build/bench/allocbench
out=$root/bench/results
stamp=$(date -u +%Y-%m-%d)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"

libpath() { ldconfig -p | awk -v l="$1" '$1 == l && !found { print $NF; found = 1 }'; }

# name, kind (peer or rsv), how to run it
declare -a names kinds runs
add() { names+=("$1"); kinds+=("$2"); runs+=("$3"); }
add glibc peer "$bench"
for lib in jemalloc:libjemalloc.so.2 mimalloc:libmimalloc.so.2 tcmalloc:libtcmalloc_minimal.so.4; do
	p=$(libpath "${lib#*:}")
	if [ -n "$p" ]; then
		add "${lib%%:*}" peer "env LD_PRELOAD=$p $bench"
	else
		echo "bench: ${lib%%:*} not installed (${lib#*:}); scripts/deps.sh installs it" >&2
	fi
done
for a in kmalloc cache mempool page; do
	add "rsv_$a" rsv "$bench --api $a"
done
if [ -f "$build/lib/libreservoir-malloc.so" ]; then
	add rsv_malloc rsv "env LD_PRELOAD=$build/lib/libreservoir-malloc.so $bench"
fi
n=${#names[@]}

echo "bench: $n allocators, $rounds rounds, interleaved" >&2
for r in $(seq 1 "$rounds"); do
	for k in $(seq 0 $((n - 1))); do
		i=$(((k + r) % n)) # a different order each round
		${runs[$i]} | awk -v a="${names[$i]}" -v r="$r" '$2 != "-" { print a, r, $1, $2 }' \
			>>"$tmp/times"
	done
	# DPDK's rte_mempool, with and without its per-lcore cache, beside reservoir's mempool:
	# one process, workload pool-pair-64 (where Debian's libdpdk-dev is installed).
	if [ -x "$build/bench/bench_rte_mempool" ]; then
		"$build/bench/bench_rte_mempool" 2000000 2>/dev/null |
			awk -v r="$r" '{ a = $1; sub("^pool-pair-64-", "", a); print a, r, "pool-pair-64", $2 }' \
				>>"$tmp/times"
	fi
	echo "bench: round $r done" >&2
done

# Instructions per operation: one run of each, small, under callgrind; each workload dumped
# alone (CALLGRIND_DUMP_STATS_AT) with its operations printed beside it.
for i in $(seq 0 $((n - 1))); do
	mkdir -p "$tmp/cg$i"
	(cd "$tmp/cg$i" && eval "${runs[$i]/$bench/valgrind --tool=callgrind --collect-atstart=no \
		--callgrind-out-file=$tmp/cg$i/cg.out $bench} --callgrind --scale 0.02" \
		>"$tmp/cg$i/ops" 2>/dev/null) || true
	for f in "$tmp/cg$i"/cg.out*; do
		[ -f "$f" ] || continue
		w=$(sed -n 's/^desc: Trigger: Client Request: //p' "$f")
		ir=$(sed -n 's/^summary: //p' "$f")
		ops=$(awk -v w="$w" '$1 == w { print $3 }' "$tmp/cg$i/ops")
		[ -n "$w" ] && [ -n "$ops" ] && [ "$ops" != 0 ] &&
			echo "${names[$i]} $w $(awk -v i="$ir" -v o="$ops" 'BEGIN { printf "%.0f", i / o }')" \
				>>"$tmp/instr"
	done
done

# Medians and spreads; the fastest peer per workload; ratios.
extra=()
[ -x "$build/bench/bench_rte_mempool" ] && extra=(rte_mempool_cache rte_mempool_nocache)
all=("${names[@]}" "${extra[@]}")
awk -v peers="$(for i in $(seq 0 $((n - 1))); do [ "${kinds[$i]}" = peer ] && printf "%s " "${names[$i]}"; done) ${extra[*]}" \
	-v order="${all[*]}" -v instrfile="$tmp/instr" '
function median(a, m,    t, i, j, x) {
	for (i = 1; i <= m; i++) t[i] = a[i]
	for (i = 2; i <= m; i++) { x = t[i]; for (j = i - 1; j >= 1 && t[j] > x; j--) t[j + 1] = t[j]; t[j + 1] = x }
	return m % 2 ? t[(m + 1) / 2] : (t[m / 2] + t[m / 2 + 1]) / 2
}
BEGIN {
	np = split(peers, P, " "); for (i = 1; i <= np; i++) ispeer[P[i]] = 1
	na = split(order, A, " ")
	while ((getline line < instrfile) > 0) { split(line, f, " "); instr[f[1], f[2]] = f[3] }
}
{
	key = $1 SUBSEP $3
	c = ++cnt[key]; v[key, c] = $4
	if (!(key in lo) || $4 < lo[key]) lo[key] = $4
	if (!(key in hi) || $4 > hi[key]) hi[key] = $4
	if (!($3 in seenw)) { seenw[$3] = 1; W[++nw] = $3 }
}
END {
	for (k in cnt) {
		split(k, kk, SUBSEP); m = cnt[k]
		for (i = 1; i <= m; i++) tmpa[i] = v[k, i]
		med[k] = median(tmpa, m)
	}
	for (w = 1; w <= nw; w++) {
		best[W[w]] = -1
		for (i = 1; i <= np; i++) {
			k = P[i] SUBSEP W[w]
			if ((k in med) && (best[W[w]] < 0 || med[k] < best[W[w]])) { best[W[w]] = med[k]; bestname[W[w]] = P[i] }
		}
	}
	# the table: one row per workload and allocator
	for (w = 1; w <= nw; w++) for (a = 1; a <= na; a++) {
		k = A[a] SUBSEP W[w]
		if (!(k in med)) continue
		ratio = best[W[w]] > 0 ? med[k] / best[W[w]] : 0
		ins = ((A[a], W[w]) in instr) ? instr[A[a], W[w]] : "-"
		printf "%s %s %.2f %.2f %.2f %.2f %s %s\n", W[w], A[a], med[k], lo[k], hi[k], ratio, bestname[W[w]], ins
	}
}' "$tmp/times" >"$tmp/table"

# The results file: machine, versions, tables.
{
	echo "# reservoir allocation benchmarks, $stamp"
	echo
	echo "Machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) CPUs, $(free -g | awk '/^Mem:/ { print $2 }') GiB,"
	echo "Linux $(uname -r). reservoir $("$build/bin/reservoir" --version | cut -d' ' -f2);" \
		"$(for p in libc6 libjemalloc2 libmimalloc2.0 libtcmalloc-minimal4; do
			printf "%s %s; " "$p" "$(dpkg-query -W -f='${Version}' "$p" 2>/dev/null || echo none)"
		done)"
	echo
	echo "$rounds rounds, allocators interleaved; median ns per operation (an alloc/free pair, or"
	echo "one object handed over for completion-64, or one pair per thread for threads-N) with its"
	echo "spread; ratio against the fastest peer (glibc, jemalloc, mimalloc, tcmalloc) of this run"
	echo "for that workload; instructions per operation from one run under callgrind."
	echo "pareto-frag is peak resident memory over peak live bytes (lower is better)."
	echo
	echo "| workload | allocator | median | spread | x fastest peer | fastest peer | instructions |"
	echo "|---|---|---|---|---|---|---|"
	awk '{ printf "| %s | %s | %s | %s..%s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8 }' "$tmp/table"
	echo
	echo "![ratios against the fastest peer]($stamp.png)"
} >"$out/$stamp.md"

# Real programs under each allocator, and mempool_alloc's latency under pressure per policy.
echo "bench: real programs (sqlite3, python3, redis-server)" >&2
"$root/bench/programs.sh" "$build" 3 >"$tmp/programs.md"
echo "bench: mempool_alloc under pressure, every policy pair" >&2
"$build/bench/bench_pressure" 2000 >"$tmp/pressure.md"
{
	echo
	echo "## Real programs"
	echo
	echo "sqlite3 (a scripted workload of 300,000 inserts, two indexes, queries, updates and"
	echo "deletes) and python3 (an allocation-heavy script) in wall seconds; redis-server under"
	echo "redis-benchmark (100,000 requests, 16 clients, 256-byte values) in requests per second;"
	echo "3 rounds interleaved, medians; peak resident memory."
	echo
	cat "$tmp/programs.md"
	echo
	echo "## Under pressure"
	echo
	cat "$tmp/pressure.md"
} >>"$out/$stamp.md"

# The chart: each allocator's ratio to the fastest peer, per workload (1.0 is the fastest peer).
awk '$1 != "pareto-frag" { print }' "$tmp/table" >"$tmp/chart.dat"
workloads=$(awk '{ print $1 }' "$tmp/chart.dat" | awk '!s[$0]++' | tr '\n' ' ')
{
	printf "workload"
	for a in "${all[@]}"; do printf " %s" "$a"; done
	echo
	for w in $workloads; do
		printf "%s" "$w"
		for a in "${all[@]}"; do
			r=$(awk -v w="$w" -v a="$a" '$1 == w && $2 == a { print $6 }' "$tmp/chart.dat")
			printf " %s" "${r:-NaN}"
		done
		echo
	done
} >"$tmp/chart.tsv"
gnuplot <<EOF
set terminal pngcairo size 1400,600 font ",10" noenhanced
set output "$out/$stamp.png"
set title "time per operation against the fastest peer of the run (1 = the fastest of glibc, jemalloc, mimalloc, tcmalloc), $stamp"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set logscale y 2
set yrange [0.25:16]
set ylabel "x fastest peer (log scale)"
set xtics rotate by -30
set key outside right
set grid ytics
plot for [c=2:$((${#all[@]} + 1))] "$tmp/chart.tsv" using c:xtic(1) title columnheader(c)
EOF

echo
cat "$tmp/programs.md"
echo
cat "$tmp/pressure.md"
echo
echo "bench: written $out/$stamp.md and $out/$stamp.png"
echo
printf "%-15s %-12s %9s %20s %9s %-9s %8s\n" workload allocator median spread x-fastest fastest instr
awk '{ printf "%-15s %-12s %9s %9s..%-9s %9s %-9s %8s\n", $1, $2, $3, $4, $5, $6, $7, $8 }' "$tmp/table"
