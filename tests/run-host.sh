#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Run the host test suites (unit tests and integration tests on the
# portable backend): every executable t_* of each suite directory, each
# with a timeout, TAP counted by tests/vm/tap-count.sh (same rules as the
# VM runner).
#
#   tests/run-host.sh [--result FILE] [--test-timeout SECS] [--env K=V]...
#                     [--verbose] [SUITE_DIR...]
#
# Without SUITE_DIR: tests/unit and tests/integ, those that exist. Every
# test runs with SHMK_BACKEND=portable, SHMK_SUITE, SHMK_TEST_DIR (its suite
# directory, absolute), cwd a fresh empty directory, stdin /dev/null, in its
# own process group (what it leaves running is killed). Output of each test
# is kept in build/host/<suite>/<test>.out. Exit 0 iff nothing failed and
# something passed, or if there is no suite at all (then "0 passed, 0
# failed, 0 skipped" is written: the top-level summary decides).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
# shellcheck source=tests/vm/tap-count.sh
. "$HERE/vm/tap-count.sh"

usage() {
	sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e '/SPDX-License-Identifier/d' -e 's/^# \{0,1\}//'
}

result='' test_timeout=60
envs=() suites=()
while [ $# -gt 0 ]; do
	case $1 in
	--result) result=${2:?}; shift ;;
	--test-timeout) test_timeout=${2:?}; shift ;;
	--env) envs+=("${2:?}"); shift ;;
	--verbose) TAP_VERBOSE=1 ;;
	-h | --help) usage; exit 0 ;;
	--) shift; suites+=("$@"); break ;;
	-*) echo "run-host: unknown option $1 (see --help)" >&2; exit 2 ;;
	*) suites+=("$1") ;;
	esac
	shift
done
[[ $test_timeout =~ ^[1-9][0-9]*$ ]] || {
	echo "run-host: not a positive number: $test_timeout" >&2
	exit 2
}
for e in ${envs[@]+"${envs[@]}"}; do
	[[ $e =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || {
		echo "run-host: --env wants K=V, not: $e" >&2
		exit 2
	}
done
if [ ${#suites[@]} -eq 0 ]; then
	for s in unit integ; do
		[ -d "$HERE/$s" ] && suites+=("$HERE/$s")
	done
fi

outdir=$BUILD/host
cur_pid=''
# Interrupted: take the running test (its own process group) with us.
trap 'if [ -n "$cur_pid" ]; then kill -KILL -- "-$cur_pid" 2>/dev/null; fi; exit 130' INT TERM
mkdir -p "$outdir"
ntests=0
for s in ${suites[@]+"${suites[@]}"}; do
	if [ ! -d "$s" ]; then
		echo "run-host: suite directory $s not found" >&2
		exit 2
	fi
	sdir=$(realpath "$s")
	sname=$(basename "$sdir")
	found=0
	rm -rf "${outdir:?}/$sname"
	mkdir -p "$outdir/$sname"
	for t in "$sdir"/t_*; do
		if [ ! -f "$t" ] || [ ! -x "$t" ]; then
			continue
		fi
		found=1
		ntests=$((ntests + 1))
		name=$sname/$(basename "$t")
		out=$outdir/$name.out
		cwd=$(mktemp -d "$outdir/cwd.XXXXXX")
		# timeout(1) puts the test in its own process group and signals
		# the whole group when time is up.
		set +e
		(
			cd "$cwd" || exit 1
			export SHMK_BACKEND=portable SHMK_SUITE=$sname SHMK_TEST_DIR=$sdir
			for e in ${envs[@]+"${envs[@]}"}; do
				export "${e?}"
			done
			exec timeout -k 5 "$test_timeout" "$t" </dev/null >"$out" 2>&1
		) &
		pid=$!
		cur_pid=$pid
		{ wait "$pid"; } 2>/dev/null
		rc=$?
		cur_pid=''
		set -e
		# Whatever it left behind in its group goes too.
		kill -KILL -- "-$pid" 2>/dev/null || true
		rm -rf "$cwd"
		tap_report "$name" "$out" "$rc"
	done
	if [ $found = 0 ]; then
		ntests=$((ntests + 1))
		tap_check "$sname" fail "no executable t_* in $s (not built? make tests)"
	fi
done

[ $ntests -gt 0 ] || echo "run-host: no host test program found"
tap_write_result "$result"
tap_totals
[ $ntests -eq 0 ] && exit 0
[ "$TAP_FAILED" -eq 0 ] && [ "$TAP_PASSED" -gt 0 ]
