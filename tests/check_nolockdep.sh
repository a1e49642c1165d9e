#!/usr/bin/env bash
# A build without the lock-dependency checker (RSV_LOCKDEP=OFF, as a kernel without
# CONFIG_LOCKDEP): it builds warning-free, every scenario still runs (those that read the
# checker for their notes go without it), and a run that asks for it is refused with the
# reason instead of running unchecked.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$root/build-nolockdep}
cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=Release -DRSV_LOCKDEP=OFF -DRSV_WERROR=ON \
	>/dev/null
cmake --build "$dir" -j "${JOBS:-2}" --target reservoir_cli >/dev/null
bin=$dir/bin/reservoir
for s in $("$bin" list | awk '{print $1}'); do
	"$bin" run "$s" >/dev/null || { echo "nolockdep: $s did not run" >&2; exit 1; }
done
if out=$("$bin" run s5-nofs-bufio-loop --lockdep 2>&1); then
	echo "nolockdep: --lockdep ran without a checker" >&2
	exit 1
fi
[[ $out == *"compiled out"* ]] || { echo "nolockdep: refused without saying why: $out" >&2; exit 1; }
echo "nolockdep: the library builds without the checker; runs that need it are refused"
