#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Run the whole benchmark and write the report.
#
#   scripts/run.sh [--quick] [--out DIR] [-- extra shmkbench options]
#
# Default output: bench/results (full run; also refreshes the numbers in
# bench/README.md) or bench/results/quick (QUICK=1 smoke run, which never
# touches the committed results or the README).
set -eu

cd "$(dirname "$0")/.."
quick=
out=
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1 ;;
	--out) out=${2:?--out needs a directory}; shift ;;
	--) shift; break ;;
	*) echo "usage: run.sh [--quick] [--out DIR] [-- shmkbench options]" >&2; exit 2 ;;
	esac
	shift
done
if [ -z "$out" ]; then
	if [ -n "$quick" ]; then out=results/quick; else out=results; fi
fi
mkdir -p "$out"

t0=$(date +%s.%N)
set +e
./shmkbench ${quick:+--quick} --out "$out" \
	--roudi-config iceoryx/roudi.toml "$@" 2> >(tee "$out/run.log" >&2)
rc=$?
set -e
wait
if [ $rc -ne 0 ]; then
	echo "run.sh: shmkbench failed (exit $rc); see $out/run.log" >&2
	exit $rc
fi

# What tracing costs (scripts/tracing.sh): its own tables, appended to
# the report.
./scripts/tracing.sh ${quick:+--quick} --out "$out" 2> >(tee -a "$out/run.log" >&2)
wait

ver() { dpkg-query -W -f='${Version}' "$1" 2> /dev/null || true; }
{
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "iceoryx: $(ver iceoryx)"
	echo "boost: $(ver libboost-dev)"
	echo "git: $(git rev-parse --short HEAD 2> /dev/null || echo unknown)"
} >> "$out/machine.txt"

readme=
if [ -z "$quick" ] && [ "$(realpath "$out")" = "$(realpath results)" ]; then
	readme=README.md
fi
scripts/report.sh "$out" ${readme:+--readme "$readme"}
# Again with the wall time of the whole target (the report takes < 1 s).
t1=$(date +%s.%N)
echo "wall_s: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')" >> "$out/machine.txt"
scripts/report.sh "$out" ${readme:+--readme "$readme"} 2> /dev/null
echo "run.sh: report in $out/latest.md ($(grep '^wall_s:' "$out/machine.txt" | cut -d' ' -f2) s)" >&2
