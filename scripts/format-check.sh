#!/usr/bin/env bash
# The style check `make check` runs on the lines a change touched, never on the whole tree:
# they must be as .clang-format lays them out, and no line may pass 100 columns (tabs at 8).
#
# usage: scripts/format-check.sh [BASE]
# BASE defaults to HEAD when the working tree has uncommitted changes to C files, else to
# the last commit's parent: on a clean clone it checks the last commit.
set -euo pipefail

if ! git rev-parse --git-dir >/dev/null 2>&1; then
	echo "format: not a git checkout; nothing to compare with, skipped"
	exit 0
fi
fmt_diff=$(command -v clang-format-diff || command -v clang-format-diff-14 || true)
if [ -z "$fmt_diff" ]; then
	echo "format: clang-format-diff not found (scripts/deps.sh installs clang-format)" >&2
	exit 1
fi
base=${1:-}
if [ -z "$base" ]; then
	if ! git diff --quiet HEAD -- '*.c' '*.h'; then
		base=HEAD
	elif git rev-parse -q --verify HEAD~1 >/dev/null; then
		base=HEAD~1
	else
		echo "format: a single commit; nothing to compare with, skipped"
		exit 0
	fi
fi
if ! git rev-parse -q --verify "$base^{commit}" >/dev/null; then
	echo "format: '$base' is not a commit" >&2
	exit 2
fi

diff=$(git diff -U0 --no-color "$base" -- '*.c' '*.h')
bad=0
layout=$(printf '%s\n' "$diff" | "$fmt_diff" -p1 2>&1 || true)
if [ -n "$layout" ]; then
	echo "format: lines changed since $base are not laid out as .clang-format says:" >&2
	printf '%s\n' "$layout" >&2
	bad=1
fi
long=$(printf '%s\n' "$diff" | awk '
	/^\+\+\+ / { file = substr($2, 3); next }
	/^@@ / { split($3, a, ","); line = substr(a[1], 2); next }
	/^\+/ {
		text = substr($0, 2); col = 0
		for (i = 1; i <= length(text); i++)
			col = substr(text, i, 1) == "\t" ? col + 8 - col % 8 : col + 1
		if (col > 100)
			printf "%s:%d: %d columns\n", file, line, col
		line++
	}')
if [ -n "$long" ]; then
	echo "format: lines changed since $base pass 100 columns:" >&2
	printf '%s\n' "$long" >&2
	bad=1
fi
if [ "$bad" -eq 0 ]; then
	echo "format: the lines changed since $(git rev-parse --short "$base") keep the house style"
fi
exit "$bad"
