#!/usr/bin/env bash
# Real programs under every allocator: redis-server driven by redis-benchmark on loopback
# (requests per second, SET and GET, 256-byte values), sqlite3 running a scripted workload
# (inserts, two indexes, queries, updates, deletes) and python3 running an allocation-heavy
# script (wall seconds), each under glibc, jemalloc, mimalloc, tcmalloc (LD_PRELOAD) and
# reservoir's drop-in, ROUNDS rounds interleaved; medians, the ratio to the fastest peer, and
# peak resident memory. A benchmark, not a test: tests/dropin_test.sh checks the answers.
#   bench/programs.sh [BUILD_DIR] [ROUNDS=3]      prints a Markdown table
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
rounds=${2:-3}
tmp=$(mktemp -d)
redis_pid=
trap '[ -n "$redis_pid" ] && kill -KILL $redis_pid 2>/dev/null; rm -rf "$tmp"' EXIT

libpath() { ldconfig -p | awk -v l="$1" '$1 == l && !found { print $NF; found = 1 }'; }
declare -a names preload
names+=(glibc) && preload+=("")
for lib in jemalloc:libjemalloc.so.2 mimalloc:libmimalloc.so.2 tcmalloc:libtcmalloc_minimal.so.4; do
	p=$(libpath "${lib#*:}")
	[ -n "$p" ] && names+=("${lib%%:*}") && preload+=("$p")
done
names+=(rsv_malloc) && preload+=("$build/lib/libreservoir-malloc.so")
n=${#names[@]}

# Peak resident memory of a finished child: VmHWM, read just before it exits, is not at hand
# from the shell; GNU time reports it (maximum resident set size, KiB).
peak_time() { # ALLOC_PRELOAD OUT -- command...: wall seconds and peak KiB into OUT
	local pre=$1 out=$2
	shift 3
	/usr/bin/time -f "%e %M" -o "$out" env ${pre:+LD_PRELOAD=$pre} "$@" >/dev/null 2>&1
}

cat >"$tmp/work.sql" <<'EOF'
CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT, c REAL);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000)
INSERT INTO t SELECT i, printf('row %d %s', i, substr('abcdefghij', i % 10 + 1)), i * 0.5 FROM n;
CREATE INDEX tb ON t(b);
CREATE INDEX tc ON t(c);
SELECT substr(b, -1), count(*) FROM t GROUP BY substr(b, -1) ORDER BY 1;
UPDATE t SET b = b || b WHERE a % 7 = 0;
DELETE FROM t WHERE a % 3 = 0;
SELECT count(*), max(length(b)) FROM t;
EOF
cat >"$tmp/work.py" <<'EOF'
import json
d = {}
for i in range(400000):
    d[i] = bytes(str(i) * (i % 300), 'ascii')
    if i % 3 == 0:
        del d[i // 2]
rows = [list(range(i % 1000)) for i in range(20000)]
s = json.dumps({"rows": rows[:2000]})
print(len(d), len(s))
EOF

for r in $(seq 1 "$rounds"); do
	for k in $(seq 0 $((n - 1))); do
		i=$(((k + r) % n))
		a=${names[$i]}
		pre=${preload[$i]}
		peak_time "$pre" "$tmp/t" -- sqlite3 "$tmp/db$i$r" <"$tmp/work.sql" &&
			echo "sqlite3 $a $(cat "$tmp/t")" >>"$tmp/results"
		rm -f "$tmp/db$i$r"
		peak_time "$pre" "$tmp/t" -- /usr/bin/python3 "$tmp/work.py" &&
			echo "python3 $a $(cat "$tmp/t")" >>"$tmp/results"
		port=$((20000 + RANDOM % 20000))
		env ${pre:+LD_PRELOAD=$pre} redis-server --port "$port" --bind 127.0.0.1 --save "" \
			--appendonly no --daemonize no --logfile /dev/null &
		redis_pid=$!
		for _ in $(seq 100); do
			redis-cli -p "$port" ping >/dev/null 2>&1 && break
			sleep 0.05
		done
		redis-benchmark -p "$port" -q -n 100000 -c 16 -d 256 -t set,get 2>/dev/null |
			tr '\r' '\n' | awk -v a="$a" '/requests per second/ { sub(":", "", $1); print "redis-" $1, a, $2 }' \
			>>"$tmp/rps"
		hwm=$(awk '/VmHWM/ { print $2 }' /proc/$redis_pid/status)
		redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || kill $redis_pid
		wait $redis_pid 2>/dev/null || true
		redis_pid=
		echo "redis-rss $a $hwm" >>"$tmp/rss"
	done
	echo "programs: round $r done" >&2
done

# Medians; time (lower is better) for sqlite3 and python3, requests per second (higher) for
# redis; ratios as time against the fastest peer (a peer's rps ratio inverted to a time).
awk -v peers="glibc jemalloc mimalloc tcmalloc" '
function median(key,    m, i, j, x, t) {
	m = cnt[key]
	for (i = 1; i <= m; i++) t[i] = val[key, i]
	for (i = 2; i <= m; i++) { x = t[i]; for (j = i - 1; j >= 1 && t[j] > x; j--) t[j + 1] = t[j]; t[j + 1] = x }
	return m % 2 ? t[(m + 1) / 2] : (t[m / 2] + t[m / 2 + 1]) / 2
}
FILENAME ~ /results$/ { k = $1 SUBSEP $2; val[k, ++cnt[k]] = $3; rssv[k, cnt[k]] = $4; kind[$1] = "s"; order($1, $2) }
FILENAME ~ /rps$/ { k = $1 SUBSEP $2; val[k, ++cnt[k]] = $3; kind[$1] = "rps"; order($1, $2) }
FILENAME ~ /rss$/ { peakrss[$1 SUBSEP $2] = $3 > peakrss[$1 SUBSEP $2] ? $3 : peakrss[$1 SUBSEP $2] }
function order(w, a) { if (!(w in seenw)) { seenw[w] = 1; W[++nw] = w } if (!(a in seena)) { seena[a] = 1; A[++na] = a } }
END {
	np = split(peers, P, " ")
	print "| program | allocator | median | x fastest peer | peak RSS (MiB) |"
	print "|---|---|---|---|---|"
	for (w = 1; w <= nw; w++) {
		best = -1
		for (i = 1; i <= np; i++) {
			k = W[w] SUBSEP P[i]
			if (!(k in cnt)) continue
			m = median(k); t = kind[W[w]] == "rps" ? 1 / m : m
			if (best < 0 || t < best) best = t
		}
		for (a = 1; a <= na; a++) {
			k = W[w] SUBSEP A[a]
			if (!(k in cnt)) continue
			m = median(k); t = kind[W[w]] == "rps" ? 1 / m : m
			rss = kind[W[w]] == "rps" ? peakrss["redis-rss" SUBSEP A[a]] : rssv[k, 1]
			printf "| %s | %s | %s %s | %.2f | %.1f |\n", W[w], A[a], m, kind[W[w]] == "rps" ? "req/s" : "s", t / best, rss / 1024
		}
	}
}' "$tmp/results" "$tmp/rps" "$tmp/rss"
