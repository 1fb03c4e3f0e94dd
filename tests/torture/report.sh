#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Markdown report of torture runs, from t_torture's TAP output.
#
#   tests/torture/report.sh NAME=LOG [NAME=LOG]... > report.md
#
# NAME is a heading (e.g. "portable (host)"), LOG the output of one run
# (tests/run-host.sh keeps it in build/host/torture/t_torture.out,
# tests/vm/run-vm.sh in the console log it names). For each run: kills,
# rounds and wall time, the kill-to-event and kill-to-reclaimed
# distributions (median, p90, p99, max), what the survivors saw, and
# every invariant with its verdict. Exit 1 if a run has a "not ok" line or
# no plan (it did not finish), 2 on bad usage.
set -euo pipefail

if [ $# -eq 0 ] || [ "${1:-}" = -h ] || [ "${1:-}" = --help ]; then
	sed -n '3,12p' "$0" | sed 's/^# \{0,1\}//'
	[ $# -eq 0 ] && exit 2
	exit 0
fi

bad=0
clean=$(mktemp)
trap 'rm -f "$clean"' EXIT
printf '# Torture report\n\n'
printf 'Generated %s by tests/torture/report.sh.\n' "$(date -u +%FT%TZ)"
for arg in "$@"; do
	name=${arg%%=*}
	log=${arg#*=}
	if [ "$name" = "$arg" ] || [ ! -r "$log" ]; then
		echo "report.sh: want NAME=LOG with a readable LOG, got '$arg'" >&2
		exit 2
	fi
	printf '\n## %s\n\n' "$name"
	tr -d '\r' < "$log" > "$clean"	# a serial console's line ends
	log=$clean
	# the measurements: "# key: value" lines of the summary
	sed -n -e 's/^# \(backend .*\)/- \1/p' \
		-e 's/^# \(kills: .*\)/- \1/p' \
		-e 's/^# \(wall time .*\)/- \1/p' \
		-e 's/^# \(seed .* replays .*\)/- \1/p' \
		"$log"
	printf '\n| from the kill to | median | p90 | p99 | max | n |\n'
	printf '| --- | ---: | ---: | ---: | ---: | ---: |\n'
	sed -n 's/^# kill -> \(.*\): median \([0-9.]* ms\), p90 \([0-9.]* ms\), p99 \([0-9.]* ms\), max \([0-9.]* ms\) (n=\([0-9]*\)).*/| \1 | \2 | \3 | \4 | \5 | \6 |/p' \
		"$log"
	printf '\n'
	sed -n -e 's/^# \(recoveries: .*\)/- \1/p' \
		-e 's/^# \(targeted kills: .*\)/- \1/p' \
		-e 's/^# \(leaked bytes: .*\)/- \1/p' \
		-e 's/^# \(failures members reported: .*\)/- \1/p' \
		-e 's/^# \(messages: .*\)/- \1/p' \
		-e 's/^# \(publish: .*\)/- \1/p' \
		-e 's/^# \(memory: .*\)/- \1/p' \
		"$log"
	printf '\nInvariants:\n\n'
	grep -E '^(not )?ok [0-9]+ ' "$log" | sed 's/^/- /' || true
	if grep -qE '^not ok ' "$log"; then
		printf '\n**%s: FAILED**\n' "$name"
		bad=1
	elif ! grep -qE '^1\.\.[0-9]+' "$log"; then
		printf '\n**%s: did not finish (no TAP plan)**\n' "$name"
		bad=1
	fi
done
exit $bad
