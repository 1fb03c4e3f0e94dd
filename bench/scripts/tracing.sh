#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# What tracing costs: the 64 B round trip of shmk's queue API (blocking
# and spinning, pinned-2cpu and same-cpu) in four variants, run in turns
# so that the machine's drift falls on all of them alike:
#
#   none    shmkbench-nosdt: libshmk built with -DSHMK_NO_SDT (no probes)
#   idle    shmkbench: the probes are there, nobody traces them
#   snoop   shmkbench with tools/shmksnoop -l shmkbench attached, its
#           lines going to a file
#   top     shmkbench with tools/shmktop -l shmkbench -j attached
#
#   scripts/tracing.sh [--quick] --out DIR
#
# Writes DIR/tracing.csv (one line per variant, placement, mode and
# round) and DIR/tracing.md (the tables report.sh appends to latest.md).
# The attached variants need root and the tools (make tools); without
# them their rows say "unavailable" and why. Every process started here
# runs under timeout(1) in a session of its own and is killed on exit.
set -eu

cd "$(dirname "$0")/.."
quick= out=
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1 ;;
	--out) out=${2:?--out needs a directory}; shift ;;
	*) echo "usage: tracing.sh [--quick] --out DIR" >&2; exit 2 ;;
	esac
	shift
done
[ -n "$out" ] || { echo "tracing.sh: --out DIR" >&2; exit 2; }
mkdir -p "$out"
if [ -n "$quick" ]; then rounds=1 ms=50; else rounds=5 ms=150; fi
placements=pinned-2cpu,same-cpu
snoop=../tools/shmksnoop top=../tools/shmktop
bin=$(realpath shmkbench)

tmp=$(mktemp -d)
groups=
cleanup() {
	for g in $groups; do
		kill -KILL -"$g" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# Why a variant cannot run ("" when it can).
why_not() {	# VARIANT
	case $1 in
	none) [ -x shmkbench-nosdt ] || echo "no bench/shmkbench-nosdt (libshmk not built)" ;;
	idle) [ -x shmkbench ] || echo "no bench/shmkbench" ;;
	snoop | top)
		t=$snoop
		[ "$1" = top ] && t=$top
		if [ "$(id -u)" != 0 ]; then
			echo "needs root (BPF)"
		elif [ ! -x "$t" ]; then
			echo "no tools/$(basename "$t") (make tools)"
		elif ! readelf -n "$bin" 2>/dev/null | grep -q 'Provider: shmk'; then
			echo "bench/shmkbench has no shmk probes"
		fi ;;
	esac
}

# Start a tracer on shmkbench; wait (at most 30 s) for its "Tracing" line.
tracer_start() {	# VARIANT LOG
	case $1 in
	snoop) setsid timeout -s KILL 600 "$snoop" -l "$bin" >"$2" 2>"$2.err" & ;;
	top) setsid timeout -s KILL 600 "$top" -l "$bin" -j -i 1 >"$2" 2>"$2.err" & ;;
	esac
	TG=$!
	groups="$groups $TG"
	i=0
	while ! grep -q '^Tracing' "$2" "$2.err" 2>/dev/null; do
		kill -0 "$TG" 2>/dev/null || return 1
		i=$((i + 1))
		[ $i -gt 600 ] && return 1
		sleep 0.05
	done
}
# SIGINT, then at most 10 s for it to end.
tracer_stop() {
	p=$(pgrep -s "$TG" -x "shmk$1" | head -n 1)
	[ -n "$p" ] && kill -INT "$p" 2>/dev/null
	i=0
	while kill -0 "$TG" 2>/dev/null && [ $i -lt 200 ]; do
		i=$((i + 1))
		sleep 0.05
	done
	kill -KILL -"$TG" 2>/dev/null || true
	wait "$TG" 2>/dev/null || true
}

csv=$out/tracing.csv
echo "variant,placement,mode,round,n,median_ns,p99_ns,tool_lines,foreign_cpu_pct,status,note" >"$csv"
variants="none idle snoop top"
t0=$(date +%s)
load0=$(cut -d' ' -f1 /proc/loadavg)
for r in $(seq 1 $rounds); do
	# Each round starts one variant later: none idle snoop top, idle
	# snoop top none, ...
	set -- $variants
	k=$(((r - 1) % 4))
	while [ $k -gt 0 ]; do
		v=$1
		shift
		set -- "$@" "$v"
		k=$((k - 1))
	done
	for v in "$@"; do
		why=$(why_not "$v")
		if [ -n "$why" ]; then
			for pl in ${placements//,/ }; do
				for m in block spin; do
					echo "$v,$pl,$m,$r,0,,,,,unavailable,$why" >>"$csv"
				done
			done
			continue
		fi
		prog=./shmkbench
		[ "$v" = none ] && prog=./shmkbench-nosdt
		log=$tmp/$v.$r.log lines=
		if [ "$v" = snoop ] || [ "$v" = top ]; then
			if ! tracer_start "$v" "$log"; then
				why="shmk$v did not start: $(head -c 200 "$log.err" | tr '\n,' '; ')"
				tracer_stop "$v"
				for pl in ${placements//,/ }; do
					for m in block spin; do
						echo "$v,$pl,$m,$r,0,,,,,error,$why" >>"$csv"
					done
				done
				continue
			fi
		fi
		st=0
		timeout -s KILL 300 "$prog" --only rtt --transports shmk --sizes 64 \
			--placements "$placements" --reps 1 --ms "$ms" \
			--out "$tmp/$v.$r" >"$tmp/$v.$r.out" 2>&1 || st=$?
		note=
		if [ "$v" = snoop ] || [ "$v" = top ]; then
			tracer_stop "$v"
			lines=$(grep -vc -e '^Tracing' -e '^TIME' "$log" || true)
			lost=$(sed -n 's/.*: \([0-9]*\) messages not shown.*/\1/p' "$log.err")
			note="shmk$v wrote $lines lines${lost:+; $lost messages lost (ring buffer full)}"
			[ "${lines:-0}" -gt 0 ] || st=1
		fi
		if [ $st != 0 ] || [ ! -s "$tmp/$v.$r/results.csv" ]; then
			for pl in ${placements//,/ }; do
				for m in block spin; do
					echo "$v,$pl,$m,$r,0,,,${lines},,error,exit $st; $note" >>"$csv"
				done
			done
			continue
		fi
		awk -F, -v v="$v" -v r="$r" -v lines="$lines" -v note="$note" '
			$1 == "rtt" && $2 == "shmk" && $7 == 64 {
				printf "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n", v, $6, $5, r,
					$10, $12, $13, lines, $19, $20, note
			}' "$tmp/$v.$r/results.csv" >>"$csv"
	done
done
t1=$(date +%s)
load1=$(cut -d' ' -f1 /proc/loadavg)

# --------------------------------------------------------------- report
awk -F, -v rounds="$rounds" -v ms="$ms" -v secs=$((t1 - t0)) \
	-v load0="$load0" -v load1="$load1" -v date="$(date -u '+%Y-%m-%d %H:%M UTC')" '
function median(list,   a, n, i, j, t) {
	n = split(list, a, " ")
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) {
			t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
		}
	if (n == 0)
		return ""
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function us(ns) {
	if (ns == "")
		return "-"
	ns /= 1000
	return ns < 10 ? sprintf("%.2f", ns) : ns < 100 ? sprintf("%.1f", ns) : sprintf("%.0f", ns)
}
function ratio(a, b) {
	if (a == "" || b == "" || b == 0)
		return "-"
	a /= b
	return a < 10 ? sprintf("%.2fx", a) : sprintf("%.0fx", a)
}
NR == 1 { next }
{
	k = $1 SUBSEP $2 SUBSEP $3
	if ($10 == "ok") {
		med[k] = med[k] " " $6
		p99[k] = p99[k] " " $7
		if ($9 != "") {
			if (fmin == "" || $9 + 0 < fmin) fmin = $9 + 0
			if (fmax == "" || $9 + 0 > fmax) fmax = $9 + 0
		}
	} else if (!(k in why))
		why[k] = $10 ": " $11
	if ($1 == "snoop" || $1 == "top")
		if ($3 == "block" && $2 == "pinned-2cpu" && $11 != "")
			notes[$1] = notes[$1] (notes[$1] ? " / " : "") $11
}
END {
	nv = split("none idle snoop top", vs, " ")
	name["none"] = "no probes (libshmk built with -DSHMK_NO_SDT)"
	name["idle"] = "probes present, nobody tracing"
	name["snoop"] = "shmksnoop attached (every message printed)"
	name["top"] = "shmktop attached (counted in the kernel, 1 s snapshots)"
	nc = split("pinned-2cpu block,pinned-2cpu spin,same-cpu block,same-cpu spin", cs, ",")
	print ""
	print "## Tracing cost"
	print ""
	printf "64 B round trip of the queue API, median in microseconds (p99 in brackets): "
	printf "the median of %d round%s of %d ms per case, the variants taking turns; ", rounds, rounds == 1 ? "" : "s", ms
	printf "%s, %d s, load average %s at start, %s at end", date, secs, load0, load1
	if (fmin != "")
		printf "; other processes used %s-%s %% of the CPUs while a case ran", fmin, fmax
	printf " (`bench/scripts/tracing.sh`).\n\n"
	printf "| variant |"
	for (c = 1; c <= nc; c++)
		printf " %s |", cs[c]
	printf "\n|---|"
	for (c = 1; c <= nc; c++)
		printf "---|"
	printf "\n"
	for (i = 1; i <= nv; i++) {
		v = vs[i]
		printf "| %s |", name[v]
		for (c = 1; c <= nc; c++) {
			split(cs[c], pm, " ")
			k = v SUBSEP pm[1] SUBSEP pm[2]
			m[v, c] = median(med[k])
			if (m[v, c] == "")
				printf " %s |", (k in why) ? why[k] : "-"
			else
				printf " %s (%s) |", us(m[v, c]), us(median(p99[k]))
		}
		printf "\n"
	}
	print ""
	printf "| ratio of medians |"
	for (c = 1; c <= nc; c++)
		printf " %s |", cs[c]
	printf "\n|---|"
	for (c = 1; c <= nc; c++)
		printf "---|"
	printf "\n"
	split("idle none,snoop idle,top idle", rs, ",")
	rn[1] = "probes not traced / no probes (what the probes cost untraced)"
	rn[2] = "shmksnoop attached / not traced"
	rn[3] = "shmktop attached / not traced"
	for (i = 1; i <= 3; i++) {
		split(rs[i], ab, " ")
		printf "| %s |", rn[i]
		for (c = 1; c <= nc; c++)
			printf " %s |", ratio(m[ab[1], c], m[ab[2], c])
		printf "\n"
	}
	print ""
	if ("snoop" in notes)
		print "shmksnoop per round (pinned-2cpu): " notes["snoop"] "."
	if ("top" in notes)
		print "shmktop per round (pinned-2cpu): " notes["top"] "."
	print ""
	print "Spinning across two CPUs falls back to sleeping (50 us of spin, then a wake-up) whenever something else takes one of the two, a tracer or any other process: on a busy machine the pinned-2cpu spin column swings between its two modes, traced or not. The same-cpu columns show what the probes themselves cost per round trip (two sends and two receives)."
	print ""
	print "An attached probe is a uprobe: a trap into the kernel and a BPF program in the traced thread, at every send and every receive, and the tool takes CPU time of its own (on two CPUs, from one of the pair). Unattached, a probe is a load of its semaphore and a branch; its arguments are not computed."
}' "$csv" >"$out/tracing.md"
echo "tracing.sh: $csv, $out/tracing.md ($((t1 - t0)) s)" >&2
