#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# How many library functions and source files one message and one death
# go through (the figures of Documentation/library-design.md, "Paths"):
#
#   scripts/trace-paths.sh [-v] [TREE]
#
# Builds TREE's lib/ sources (default: this tree) at -O0 with
# -finstrument-functions and links them with scripts/trace-paths.c, a
# server and a client on the portable backend; then, for each path (the
# client's send of a buffer to a sleeping server, the server's receive of
# a queued message, the server's receive of the client's death), prints
# the calls into library functions, the distinct functions (and those
# of them defined in .c files), the .c files, how many times lm_reclaim()
# ran, the source files in the order the code runs through them, and the
# count of file crossings (a change of file from one function to the next on the call
# stack, a return included). Functions defined in headers count as the
# file that calls them. -v lists every call, indented by depth. Needs no
# module and no root; a scratch directory is removed at the end.
set -eu
verbose=0
[ "${1:-}" = -v ] && { verbose=1; shift; }
HERE=$(cd "$(dirname "$0")" && pwd)
TREE=$(cd "${1:-$HERE/..}" && pwd)
CC=${CC:-cc}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

srcs=$(cd "$TREE/lib" && find . -name '*.c' ! -path './include/*' | sort)
inc="-I$TREE/lib -I$TREE/lib/include -I$TREE/uapi"
for d in "$TREE"/lib/*/; do inc="$inc -I$d"; done
objs=
for s in $srcs; do
	o=$W/$(echo "${s#./}" | tr / _).o
	$CC -std=c11 -D_GNU_SOURCE $inc -pthread -DSHMK_VERSION='"trace"' \
		-DSHMK_NO_SDT -O0 -g -finstrument-functions -fno-inline \
		-c -o "$o" "$TREE/lib/$s"
	objs="$objs $o"
done
$CC -std=c11 -D_GNU_SOURCE $inc -Wall -Wextra -Werror -O0 -g -no-pie -o "$W/trace-paths" \
	"$HERE/trace-paths.c" $objs -pthread -no-pie
(cd "$W" && SHMK_BACKEND=portable ./trace-paths)

for path in send recv death; do
	[ -s "$W/$path.raw" ] || { echo "trace-paths: no $path trace" >&2; exit 1; }
	# address -> file that defines the function (debug info), function
	nm -l --defined-only "$W/trace-paths" |
		awk -F '\t' 'NF == 2 { split($1, a, " "); f = $2; sub(/:.*/, "", f)
			n = split(f, p, "/"); x = a[1]; sub(/^0+/, "", x)
			print "0x" x, p[n], a[3] }' >"$W/$path.map"
	awk -v verbose=$verbose -v path="$path" '
	FNR == NR { fn[$1] = $3; file[$1] = $2; next }
	{
		f = file[$2]
		if (f ~ /\.h$/) f = ""	# a header function: its caller s file
		if ($1 == ">") {
			calls++
			seen[fn[$2]] = 1
			if (f != "") { cfn[fn[$2]] = 1; files[f] = 1 }
			if (fn[$2] == "lm_reclaim") reclaims++
			cur = f != "" ? f : (depth ? stk[depth] : "")
			stk[++depth] = cur
			if (verbose) printf "  %*s%s (%s)\n", 2 * depth, "", fn[$2], file[$2]
		} else {
			depth--
			cur = depth ? stk[depth] : cur
		}
		if (cur != "" && cur != last) {
			if (last != "") cross++
			seq = seq (seq == "" ? "" : " > ") cur
			last = cur
		}
	}
	END {
		n = 0; for (k in seen) n++
		nc = 0; for (k in cfn) nc++
		nf = 0; for (k in files) nf++
		printf "%s: %d calls, %d functions (%d of them in .c files), %d files, %d file crossings, lm_reclaim %d times\n", path, calls, n, nc, nf, cross, reclaims
		printf "  %s\n", seq
	}' "$W/$path.map" "$W/$path.raw"
done
