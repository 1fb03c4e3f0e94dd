#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Every file of the tree names its license (COPYING): an
# SPDX-License-Identifier line within its first 5 lines, with identifiers
# whose texts are in LICENSES/; lib/ (what programs link) is MIT only.
# Files that cannot hold a comment are listed in COPYING and here.
# Prints TAP-style lines of what is wrong; exit 0 iff nothing is.
#   scripts/check-spdx.sh [FILE...]   (default: git ls-files, else find)
cd "$(dirname "$0")/.." || exit 2
exempt='^(VERSION|COPYING|LICENSES/.*|bench/results/.*|lib/abi/.*\.abi|debian/changelog|debian/copyright|debian/source/format|tests/fuzz-lib/corpus/.*)$'
if [ $# -eq 0 ]; then
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		set -- $(git ls-files --cached --others --exclude-standard)
	else
		set -- $(find . -path ./build -prune -o -type f -print | sed 's|^\./||')
	fi
fi
bad=0 n=0
for f in "$@"; do
	[ -f "$f" ] || continue
	echo "$f" | grep -Eq "$exempt" && continue
	n=$((n + 1))
	id=$(head -n 5 "$f" | sed -n 's/.*SPDX-License-Identifier: *//p' | head -n 1 |
		sed -e 's/ *\*\/.*//' -e 's/ *-->.*//' -e 's/[()]//g')
	if [ -z "$id" ]; then
		echo "no SPDX-License-Identifier in the first 5 lines: $f"
		bad=$((bad + 1))
		continue
	fi
	for w in $id; do
		case $w in
		OR | AND | WITH) ;;
		*) [ -f "LICENSES/$w" ] || {
			echo "$f: license $w has no text in LICENSES/"
			bad=$((bad + 1))
		} ;;
		esac
	done
	case $f in
	lib/*) [ "$id" = MIT ] || {
		echo "$f: lib/ must be MIT (programs link it), not $id"
		bad=$((bad + 1))
	} ;;
	esac
done
echo "check-spdx: $n files, $bad problems"
[ "$bad" -eq 0 ] && [ "$n" -gt 0 ]
