#!/usr/bin/env bash
# Installs the Debian packages reservoir needs to build, test and run its demo,
# and only those missing. Says what it installs; silent when all are present.
set -euo pipefail

need=(cmake make gcc pkg-config libcriterion-dev binutils gnuplot-nox spin clang libclang-rt-14-dev
      python3 libjemalloc2 libmimalloc2.0 libtcmalloc-minimal4 clang-format git
      libjansson-dev parallel nbdkit nbdkit-plugin-dev libnbd-bin libssl-dev man-db valgrind
      sqlite3 redis-server redis-tools time libdpdk-dev)
      # python3: cli_test.sh reads JSON; the allocators: the peers bench/run.sh preloads; clang-format and
      # git: scripts/format-check.sh; libjansson-dev: the JSON reservoir merge reads;
      # parallel: cli_test.sh runs matrix shards under GNU parallel; nbdkit, its plugin
      # headers, libnbd-bin (nbdcopy, nbdinfo) and libssl-dev: examples/nbd-crypt and its
      # test; man-db: check_install.sh reads the man pages; valgrind: bench/run.sh's
      # instruction counts (callgrind); sqlite3, redis-server and redis-tools: real programs
      # tests/dropin_test.sh runs under the malloc drop-in; time: GNU time's peak RSS;
      # libdpdk-dev: rte_mempool, bench_rte_mempool's peer

missing=()
for pkg in "${need[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$pkg")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps.sh: installing missing Debian packages: ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: not root; install them with: sudo apt-get install ${missing[*]}" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
echo "deps.sh: installed ${missing[*]}" >&2
