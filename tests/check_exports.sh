#!/usr/bin/env bash
# Only rsv_* symbols may leave libreservoir.so.
set -euo pipefail
lib=${1:?usage: check_exports.sh path/to/libreservoir.so}
bad=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | grep -v '^rsv_' || true)
count=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/' | grep -c ' rsv_' || true)
if [ -n "$bad" ]; then
	echo "exports: FAIL, symbols outside rsv_*:" >&2
	echo "$bad" >&2
	exit 1
fi
echo "exports: ok, $count rsv_* symbols and nothing else"
