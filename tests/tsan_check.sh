#!/usr/bin/env bash
# The os-backend workloads under ThreadSanitizer, beside the os-backend tests (which run
# through tests/tsan/, as Criterion cannot start under TSan: Snaipe/Criterion#274): the
# stress program (every allocator, cross-task frees, fault injection, world-stopping checks),
# each scenario's fixed policy on the os backend through the command, and the demo's
# real-thread runs. Any report fails the check.
set -euo pipefail
bin=${1:?usage: tsan_check.sh path/to/tsan/reservoir [stress seconds]}
seconds=${2:-10}
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 ${TSAN_OPTIONS:-}"

"$bin" stress --seconds "$seconds" --tasks 3
while read -r scenario policy; do
	out=$("$bin" run "$scenario" --policy "$policy" --backend os)
	echo "${out%%$'\n'*}"
done <<'RUNS'
s1-crypt-swap-reserves mempool=upstream
s2-writeout-throttle throttle=reclaim-throttle
s3-oom-mutex-livelock mempool=upstream,oom=reaper
s4-global-reserve-pool reservation=global-pool
s4-global-reserve-pool reservation=per-thread
s5-nofs-bufio-loop bufio=workqueue,loop=noio
RUNS
"$bin" demo >/dev/null
echo "tsan: clean"
