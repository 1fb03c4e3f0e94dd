#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# make check's short run of the library fuzzers (README.md): each harness
# runs over its committed corpus (every crash found so far is kept there:
# the regression tests), then fuzzes for SHMK_FUZZ_LIB_SECS seconds more
# (default 5), new inputs going to a scratch directory. One TAP line each.
set -u
DIR=${SHMK_TEST_DIR:-$(cd "$(dirname "$0")" && pwd)}
SECS=${SHMK_FUZZ_LIB_SECS:-5}
FLAGS="-timeout=25 -rss_limit_mb=2048 -max_len=512 -len_control=0"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-lib.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
n=0 bad=0

set -- "$DIR"/fz_*
if [ ! -x "$1" ]; then
	echo "1..0 # SKIP no fz_* built (clang's libFuzzer runtime: make deps)"
	exit 0
fi
for f in "$DIR"/fz_*; do
	case $f in *.c) continue ;; esac
	[ -x "$f" ] || continue
	h=${f##*/fz_}
	n=$((n + 1))
	mkdir -p "$WORK/$h"
	# 1. every corpus file, once (crashes found before must stay fixed)
	if ! nice -n 10 "$f" $FLAGS -runs=0 "$DIR/corpus/$h" \
			>"$WORK/$h.replay" 2>&1; then
		echo "not ok $n - $h: corpus replay"
		tail -n 40 "$WORK/$h.replay" | sed 's/^/#   /'
		bad=$((bad + 1))
		continue
	fi
	# 2. a short run from it
	if nice -n 10 "$f" $FLAGS -max_total_time="$SECS" -print_final_stats=1 \
			-artifact_prefix="$WORK/" "$WORK/$h" "$DIR/corpus/$h" \
			>"$WORK/$h.log" 2>&1; then
		stats=$(sed -n 's/^stat::number_of_executed_units: */execs /p' \
			"$WORK/$h.log")
		cov=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$WORK/$h.log" |
			sed 's/.*\(cov: [0-9]* ft: [0-9]*\).*/\1/')
		echo "ok $n - $h: corpus and ${SECS} s ($stats, $cov)"
	else
		echo "not ok $n - $h: ${SECS} s of fuzzing found a problem"
		grep -E -A30 '==[0-9]+==ERROR|fuzz-lib:|ALARM|deadly signal' \
			"$WORK/$h.log" | head -n 60 | sed 's/^/#   /'
		for c in "$WORK"/crash-* "$WORK"/timeout-* "$WORK"/leak-* "$WORK"/oom-*; do
			[ -f "$c" ] && echo "#   input: $(od -An -tx1 "$c" | tr -d '\n' | cut -c1-600)"
		done
		bad=$((bad + 1))
	fi
done
echo "1..$n"
[ "$bad" -eq 0 ]
