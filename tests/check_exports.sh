#!/usr/bin/env bash
# Only rsv_* symbols may leave libreservoir.so.
set -euo pipefail
lib=${1:?usage: check_exports.sh path/to/libreservoir.so}
if [ ! -f "$lib" ]; then
	echo "exports: '$lib' is not a file (want path/to/libreservoir.so)" >&2
	exit 2
fi
bad=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | grep -v '^rsv_' || true)
count=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/' | grep -c ' rsv_' || true)
if [ -n "$bad" ]; then
	echo "exports: FAIL, symbols outside rsv_*:" >&2
	echo "$bad" >&2
	exit 1
fi
if [ "$count" -eq 0 ]; then
	echo "exports: FAIL, $lib exports no rsv_* symbol" >&2
	exit 1
fi
echo "exports: ok, $count rsv_* symbols and nothing else"
