#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The ABI guard of libshmk (abigail-tools).
#   scripts/abi.sh update BASELINE   write the ABI of lib/libshmk.so.VERSION
#   scripts/abi.sh check BASELINE    compare it with BASELINE: exit 0 iff
#                                    nothing changed (an added function is a
#                                    change too: update the baseline, the
#                                    symbols file and NEWS with it)
# Only the types the public headers (lib/include) declare are recorded,
# without source locations, so moving code around changes nothing.
set -eu
cd "$(dirname "$0")/.."
mode=${1:?usage: scripts/abi.sh update|check BASELINE}
base=${2:?usage: scripts/abi.sh update|check BASELINE}
so=lib/libshmk.so.$(cat VERSION)
[ -f "$so" ] || { echo "abi: $so not built (make lib)" >&2; exit 2; }
command -v abidw >/dev/null || {
	echo "abi: abidw not found (abigail-tools): run scripts/install-deps.sh" >&2
	exit 2
}
dump() {
	abidw --headers-dir lib/include --drop-private-types --no-corpus-path \
		--no-comp-dir-path --no-show-locs --type-id-style hash \
		--out-file "$1" "$so"
}
case $mode in
update)
	mkdir -p "$(dirname "$base")"
	dump "$base"
	echo "abi: wrote $base from $so"
	;;
check)
	[ -f "$base" ] || { echo "abi: no baseline $base" >&2; exit 2; }
	tmp=$(mktemp)
	trap 'rm -f "$tmp"' EXIT
	dump "$tmp"
	set +e
	abidiff --no-show-locs "$base" "$tmp"
	rc=$?
	set -e
	if [ $rc -ne 0 ]; then
		echo "abi: libshmk's ABI differs from $base (abidiff status $rc)"
		exit 1
	fi
	echo "abi: $so matches $base"
	;;
*)
	echo "abi: unknown mode $mode" >&2
	exit 2
	;;
esac
