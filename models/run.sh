#!/usr/bin/env bash
# Checks models/mempool.pml with spin: safety and liveness under each policy and size, and the
# two negative controls, which must fail. Prints the states each explored.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/mempool.pml" "$work/"
cd "$work"
failed=0

# check NAME EXPECT(pass|fail) SPIN_DEFINES CC_DEFINES PAN_FLAGS
check() {
	local name=$1 expect=$2 out errors states
	spin -a $3 mempool.pml >/dev/null 2>&1 && gcc -O2 -DNFAIR=5 $4 -o pan pan.c 2>/dev/null || {
		echo "models: $name: spin or gcc failed"
		failed=1
		return
	}
	out=$(timeout 600 ./pan $5 -m200000 2>&1)
	errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' <<<"$out")
	states=$(sed -n 's/^ *\([0-9e.+]*\) states, stored.*/\1/p' <<<"$out")
	if [ "$expect" = pass ] && [ "${errors:-1}" = 0 ]; then
		echo "models: $name: holds ($states states)"
	elif [ "$expect" = fail ] && [ "${errors:-0}" != 0 ]; then
		echo "models: $name: fails, as it must ($(grep -m1 -oE 'acceptance cycle|assertion violated|invalid end state' <<<"$out"))"
	else
		echo "models: $name: expected to $expect, got errors=${errors:-?}"
		failed=1
	fi
}

check "upstream, 3 tasks, 2 elements: safety and deadlock freedom" pass "" -DNOCLAIM ""
check "upstream, 3 tasks, 2 elements: every task finishes" pass "" "" "-a -f"
check "2016, 3 tasks, 2 elements: every task finishes" pass "-DPOLICY=1" "" "-a -f"
check "upstream, lost wake-ups with the timed re-poll" pass "-DLOSSY" "" "-a -f"
check "upstream, 4 tasks, 3 elements" pass "-DN=4 -DM=3 -DB=1 -DROUNDS=1" "" "-a -f"
check "2016, 4 tasks, 3 elements" pass "-DN=4 -DM=3 -DB=1 -DROUNDS=1 -DPOLICY=1" "" "-a -f"
check "negative: two elements of a one-element pool" fail "-DHOLD_TWO -DM=1 -DN=2" "" "-a -f"
check "negative: lost wake-ups without the re-poll" fail "-DNO_REPOLL -DLOSSY" "" "-a -f"
exit $failed
