#!/usr/bin/env bash
# libreservoir-malloc.so under programs that know nothing of reservoir: tests/dropin/
# dropin_check.c (the malloc contract, threads that free each other's blocks and come and go,
# fork with and without exec, malloc before main), the end of a small arena (ENOMEM, never a
# crash), bad frees (aborted with reservoir's message), and real programs, sqlite3, python3 and
# redis-server driven by redis-benchmark, whose output must match the same run under glibc.
#   tests/dropin_test.sh [BUILD_DIR]
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
lib=$build/lib/libreservoir-malloc.so
check=$build/tests/dropin_check
tmp=$(mktemp -d)
redis_pid=
passes=0
cleanup() {
	[ -n "$redis_pid" ] && kill -KILL "$redis_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
	echo "dropin: FAIL: $*" >&2
	exit 1
}
pass() { passes=$((passes + 1)); }
under() { env LD_PRELOAD="$lib" "$@"; }

[ -f "$lib" ] || fail "$lib was not built"

# ---- the contract, under glibc first (the test itself is right), then under reservoir ----
"$check" >"$tmp/out" 2>&1 || fail "dropin_check under glibc: $(tail -2 "$tmp/out")"
under "$check" >"$tmp/out" 2>&1 && pass || fail "dropin_check: $(tail -3 "$tmp/out")"

# ---- the end of the budget: ENOMEM from malloc, memory again once freed ----
RSV_ARENA=8M under "$check" enomem >"$tmp/out" 2>&1 && pass ||
	fail "enomem: $(tail -3 "$tmp/out")"
grep -q "ENOMEM after" "$tmp/out" || fail "enomem said: $(cat "$tmp/out")"
RSV_ARENA=lots under "$check" >"$tmp/out" 2>&1 && grep -q "RSV_ARENA=lots is not a size" "$tmp/out" &&
	pass || fail "a bad RSV_ARENA is not named: $(head -2 "$tmp/out")"

# ---- bad frees: aborted, named by reservoir ----
for bad in "double:double free" "late:double free" "realloc:realloc(.*the object is free" \
	"middle:not the start of an object"; do
	under "$check" "${bad%%:*}" >"$tmp/out" 2>&1
	rc=$?
	[ $rc -eq 134 ] && grep -q "reservoir: misuse: .*${bad#*:}" "$tmp/out" && pass ||
		fail "${bad%%:*} free: exit $rc, $(tail -2 "$tmp/out")"
done

# ---- statistics at exit ----
RSV_STATS=1 under "$check" >"$tmp/out" 2>&1 && grep -q "^reservoir-malloc: arena [0-9]* pages" \
	"$tmp/out" && pass || fail "RSV_STATS=1 printed nothing: $(tail -2 "$tmp/out")"

# ---- sqlite3: a scripted workload, the same answers ----
cat >"$tmp/work.sql" <<'EOF'
CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT, c REAL);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 60000)
INSERT INTO t SELECT i, printf('row %d %s', i, substr('abcdefghij', i % 10 + 1)), i * 0.5 FROM n;
CREATE INDEX tb ON t(b);
CREATE INDEX tc ON t(c);
SELECT count(*), sum(a), round(sum(c), 1) FROM t;
SELECT substr(b, -1), count(*) FROM t GROUP BY substr(b, -1) ORDER BY 1;
SELECT b FROM t WHERE b LIKE 'row 4242%' ORDER BY a LIMIT 3;
UPDATE t SET b = b || b WHERE a % 7 = 0;
DELETE FROM t WHERE a % 3 = 0;
SELECT count(*), max(length(b)) FROM t;
EOF
if command -v sqlite3 >/dev/null; then
	sqlite3 "$tmp/a.db" <"$tmp/work.sql" >"$tmp/glibc.out" 2>&1
	under sqlite3 "$tmp/b.db" <"$tmp/work.sql" >"$tmp/rsv.out" 2>&1
	cmp -s "$tmp/glibc.out" "$tmp/rsv.out" && [ -s "$tmp/rsv.out" ] && pass ||
		fail "sqlite3's answers differ: $(diff "$tmp/glibc.out" "$tmp/rsv.out" | head -4)"
else
	fail "sqlite3 is missing (scripts/deps.sh installs it)"
fi

# ---- python3: objects over pymalloc's 512 bytes go to malloc ----
cat >"$tmp/work.py" <<'EOF'
import hashlib, json
h = hashlib.sha256()
d = {}
for i in range(200000):
    d[i] = bytes(str(i) * (i % 300), 'ascii')
    if i % 3 == 0:
        del d[i // 2]
rows = [list(range(i % 1000)) for i in range(5000)]
s = json.dumps({"rows": rows[:500], "n": len(d)})
for k in sorted(d)[:50000]:
    h.update(d[k])
print(len(d), len(s), sum(len(r) for r in rows), h.hexdigest())
EOF
/usr/bin/python3 "$tmp/work.py" >"$tmp/glibc.out" 2>&1
RSV_STATS=1 under /usr/bin/python3 "$tmp/work.py" >"$tmp/rsv.out" 2>"$tmp/rsv.err"
cmp -s "$tmp/glibc.out" "$tmp/rsv.out" && [ -s "$tmp/rsv.out" ] && pass ||
	fail "python3's output differs: $(diff "$tmp/glibc.out" "$tmp/rsv.out" | head -4) $(tail -2 "$tmp/rsv.err")"
# "reservoir-malloc: arena N pages (M MiB), F free at exit; ...": pages held at exit.
used=$(awk '/^reservoir-malloc: arena/ { print $3 - $7; exit }' "$tmp/rsv.err")
[ "${used:-0}" -gt 0 ] 2>/dev/null && pass ||
	fail "python3 held no arena page at exit: $(head -3 "$tmp/rsv.err")"

# ---- redis-server under reservoir, redis-benchmark against it on loopback ----
if command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null; then
	port=$((20000 + RANDOM % 20000))
	under redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
		--daemonize no --logfile "$tmp/redis.log" &
	redis_pid=$!
	for _ in $(seq 100); do
		redis-cli -p "$port" ping >/dev/null 2>&1 && break
		sleep 0.05
	done
	redis-cli -p "$port" set key "$(head -c 3000 /dev/zero | tr '\0' x)" >/dev/null &&
		[ "$(redis-cli -p "$port" strlen key)" = 3000 ] && pass ||
		fail "redis under reservoir: $(tail -3 "$tmp/redis.log")"
	redis-benchmark -p "$port" -q -n 20000 -c 8 -d 256 -t set,get,lpush,lpop,hset \
		>"$tmp/bench.out" 2>&1 && [ "$(grep -c "requests per second" "$tmp/bench.out")" -ge 5 ] &&
		pass || fail "redis-benchmark: $(tail -3 "$tmp/bench.out")"
	redis-cli -p "$port" shutdown nosave >/dev/null 2>&1
	wait "$redis_pid"
	redis_pid=
	echo "dropin: redis-server under reservoir:" \
		"$(tr '\r' '\n' <"$tmp/bench.out" | grep "requests per second" | cut -d, -f1 |
			tr '\n' ';')"
else
	fail "redis-server or redis-benchmark is missing (scripts/deps.sh installs them)"
fi

echo "dropin: $passes checks passed, 0 failed"
