#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Run the SPIN models; one TAP line per run with states, depth, memory and
# time. "check": the models as the code is now, each must pass. "seeds":
# each model with a bug put back (-DSEED_...), each must fail.
#   model/run.sh [--memlim MB] [--time S] check|seeds
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
memlim=1024 tlim=300
while [ $# -gt 1 ]; do
	case $1 in
	--memlim) memlim=$2; shift 2 ;;
	--time) tlim=$2; shift 2 ;;
	*) break ;;
	esac
done
what=${1:-check}
command -v spin >/dev/null || { echo "1..0 # SKIP spin not installed (make deps)"; exit 0; }
B=${MODEL_BUILD:-$HERE/build}
n=0 fail=0
# run NAME EXPECT(pass|fail) MODEL FLAGS...
run() {
	name=$1 expect=$2 m=$3; shift 3
	d=$B/$name
	rm -rf "$d"; mkdir -p "$d"
	cp "$HERE"/*.pml "$d"/
	n=$((n + 1))
	if ! (cd "$d" && spin -a "$@" "$m" >spin.out 2>&1 &&
	      cc -O2 -w -DMEMLIM="$memlim" -DSAFETY -DCOLLAPSE -o pan pan.c) ; then
		echo "not ok $n - $name: spin/cc failed"; fail=$((fail + 1)); return
	fi
	t0=$(date +%s)
	(cd "$d" && timeout "$tlim" nice -n 10 ./pan -m200000 > pan.out 2>&1) || true
	t1=$(date +%s)
	o=$d/pan.out
	st=$(sed -n 's/^ *\([0-9][0-9.e+]*\) states, stored.*/\1/p' "$o" | head -n 1)
	dp=$(sed -n 's/.*depth reached \([0-9]*\).*/\1/p' "$o" | head -n 1)
	mem=$(sed -n 's/^ *\([0-9.]*\).*total actual memory usage.*/\1/p' "$o" | head -n 1)
	errs=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$o" | head -n 1)
	info="states $st, depth $dp, $mem MB, $((t1 - t0)) s"
	if grep -q "reached -DMEMLIM\|Search not completed" "$o" && [ "${errs:-0}" = 0 ]; then
		res=incomplete
	elif [ "${errs:-x}" = 0 ]; then
		res=pass
	elif [ -n "${errs:-}" ]; then
		res=fail
	else
		res=incomplete
	fi
	if [ "$res" = "$expect" ]; then
		echo "ok $n - $name: $res as expected ($info)"
	else
		echo "not ok $n - $name: $res, expected $expect ($info)"
		grep -E "pan:|assert" "$o" | head -n 5 | sed 's/^/#   /'
		fail=$((fail + 1))
	fi
}
SMALL="-DNS=1 -DNMSG_LAST=3 -DMAXDEAD=1 -DTMO=1"
case $what in
check)
	run bounded-1sender pass queue_bounded.pml $SMALL
	;;
full)
	# two senders: does not complete within 1 GB (see README.md)
	run bounded-2senders-taken pass queue_bounded.pml -DNS=2 -DNMSG_LAST=3 \
		-DTMO=0 -DMAXDEAD=0 -DCRASH_AT=CP_TAKEN
	;;
seeds)
	run seed-no-hole fail queue_bounded.pml $SMALL -DSEED_NO_HOLE
	run seed-fin-in-admit fail queue_bounded.pml $SMALL -DSEED_FIN_IN_ADMIT
	;;
*) echo "run.sh: check or seeds" >&2; exit 2 ;;
esac
echo "1..$n"
[ "$fail" = 0 ]
