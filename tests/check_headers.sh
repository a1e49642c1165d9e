#!/usr/bin/env bash
# Every public header compiles on its own, and the core umbrella (reservoir.h) stays free of
# the harness: a program that only allocates does not see scenarios, I/O models or checkers.
set -euo pipefail
cc=${CC:-cc}
root=$(cd "$(dirname "$0")/.." && pwd)
fail=0
for h in "$root"/include/reservoir.h "$root"/include/reservoir/*.h; do
	rel=${h#"$root"/include/}
	if ! echo "#include <$rel>" | "$cc" -std=c11 -Wall -Wextra -Werror -fsyntax-only \
		-I"$root/include" -x c - 2>/tmp/rsv_header_err.$$; then
		echo "headers: <$rel> does not compile on its own:" >&2
		cat /tmp/rsv_header_err.$$ >&2
		fail=1
	fi
done
rm -f /tmp/rsv_header_err.$$
core=$(echo '#include <reservoir.h>' | "$cc" -std=c11 -E -I"$root/include" -x c -)
for sym in rsv_scenario_run rsv_platform_create rsv_crypt_create rsv_bufio_create \
	rsv_lockdep_enable rsv_watchdog_start rsv_fault_set; do
	if grep -qw "$sym" <<<"$core"; then
		echo "headers: the core header <reservoir.h> declares $sym, a harness function" >&2
		fail=1
	fi
done
[ "$fail" -eq 0 ] && echo "headers: $(ls "$root"/include/reservoir/*.h | wc -l) headers and the umbrella compile alone; the core holds no harness"
exit "$fail"
