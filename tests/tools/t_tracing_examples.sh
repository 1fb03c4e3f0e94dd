#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The one-liners of tools/man/shmk-tracing.7 (every bpftrace, perf,
# readelf and mount command in its .nf blocks), run as they are written
# there, with S, C, P, A and PID set as its EXAMPLES section says, each
# against a workload of known shape: a fresh examples/pingpong_server and
# 1,000 round trips of pingpong_client, a client killed with SIGKILL, or
# examples/pub publishing 100 buffers to two examples/sub. What each one
# prints is checked (counts where the workload fixes them).
#
# Bounded and clean: every process started here runs in a process group
# of its own under timeout(1) and the whole group is killed on exit,
# failure, SIGINT, SIGTERM or SIGHUP; a tracer that does not stop within
# 300 s of SIGINT fails its test. perf writes only into a temporary
# directory (the cwd of every command); the perf events added are removed.
# It runs in a mount namespace of its own, where tracefs (and debugfs,
# which would bring it back) is unmounted first and the page's own mount
# command mounts it again: the host's mounts are left alone.
#
# About 15 s on an idle 2-CPU machine, over a minute under a load of 20
# (bpftrace compiles each program): check-host allows 300 s a test.
# Under qemu's TCG on a loaded host, ten times longer.
#
# TAP. Exit 77 (skip) without root, the examples, the man page, or both
# bpftrace and perf; the bpftrace ones are skipped without bpftrace or
# bpftool, the perf ones without perf, the module's tracepoints without
# /dev/shmk. On the host (make check-host) all but the tracepoints run;
# in the VM suite it skips (no examples there); make check-vm-tracing
# runs it in a VM of its own with the module, the examples, the page and
# the tracers copied in, where every command runs.
set -u

skip_all() {
	echo "1..0 # SKIP $*"
	exit 77
}

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
man=$top/tools/man/shmk-tracing.7
ex=$top/examples

[ "$(id -u)" = 0 ] || skip_all "needs root"
[ -r "$man" ] || skip_all "no $man"
for p in pingpong_server pingpong_client pub sub; do
	[ -x "$ex/$p" ] || skip_all "no $ex/$p (make examples)"
done
have_bt=1 have_perf=1
command -v bpftrace >/dev/null 2>&1 && command -v bpftool >/dev/null 2>&1 ||
	have_bt=0
command -v perf >/dev/null 2>&1 || have_perf=0
[ $have_bt = 1 ] || [ $have_perf = 1 ] || skip_all "neither bpftrace nor perf"
command -v unshare >/dev/null 2>&1 || skip_all "no unshare"

# A mount namespace of our own (same process: no fork).
if [ -z "${TT_EXAMPLES_NS:-}" ]; then
	TT_EXAMPLES_NS=1 exec unshare -m --propagation private "$0" "$@"
	skip_all "unshare -m failed"
fi

S=$ex/pingpong_server C=$ex/pingpong_client P=$ex/pub SUB=$ex/sub
A='' PID=''
# Bounds, not synchronisation (each wait below polls for what it needs):
# generous enough for bpftrace compiling its program under qemu's TCG.
# A server lives through every example (long_s); a workload, work_s.
ready_s=240 bt_s=600 long_s=3600 work_s=300
export SHMK_BACKEND=${SHMK_BACKEND:-portable}
tmp=$(mktemp -d) || exit 1
groups='' perf_added=0 n=0 failed=0 seq=0

cleanup() {
	[ -n "${wd:-}" ] && kill -KILL -"$wd" 2>/dev/null
	for g in $groups; do
		kill -KILL -"$g" 2>/dev/null
	done
	wait 2>/dev/null
	[ $perf_added = 1 ] && perf probe -q -d 'sdt_shmk:*' >/dev/null 2>&1
	cd / && rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
cd "$tmp" || exit 1
# Killed by SIGKILL (a runner's timeout), this shell runs no trap: a
# watchdog in a session of its own then kills every group in $tmp/groups
# within a second and removes $tmp.
: >groups
setsid sh -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done
	[ -f "$2/groups" ] || exit 0
	while read -r g; do kill -KILL -"$g" 2>/dev/null; done <"$2/groups"
	rm -rf "$2"' watchdog $$ "$tmp" </dev/null >/dev/null 2>&1 &
wd=$!

ok() {	# STATUS DESCRIPTION
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=$((failed + 1))
	fi
}
skip() {
	n=$((n + 1))
	echo "ok $n - $1 # SKIP $2"
}
diag() {
	sed 's/^/# /' "$@" 2>/dev/null | grep -v RLIMIT_MEMLOCK | head -n 12
}
# ok STATUS DESCRIPTION, and the files' first lines when it failed.
check() {	# STATUS DESCRIPTION FILE...
	st=$1 desc=$2
	shift 2
	ok "$st" "$desc"
	[ "$st" = 0 ] || diag "$@"
}

# Start "$@" in a session (and process group) of its own under timeout;
# $G is its id: that of timeout(1), whose child is the command (coreutils),
# or of the command itself (busybox's timeout execs it, a child watches).
start() {	# OUT SECS CMD...
	out=$1 secs=$2
	shift 2
	setsid timeout -s KILL "$secs" "$@" >"$out" 2>&1 &
	G=$!
	track "$G"
}
track() {	# G
	groups="$groups $1"
	echo "$1" >>"$tmp/groups"
}
# "$@" as start does, waited for (at most SECS); its status.
run() {		# OUT SECS CMD...
	start "$@"
	wait_end "$G" "$2"
}
# The same for a shell command line (a page's, variables expanded).
run_eval() {	# OUT ERR SECS CMD
	(eval "exec setsid timeout -s KILL $3 $4") >"$1" 2>"$2" &
	G=$!
	track "$G"
	wait_end "$G" "$3"
}
# The process called NAME in the session started as G (either timeout).
proc_in() {	# G NAME
	i=0
	while :; do
		p=$(pgrep -s "$1" -x "$2" | head -n 1)
		[ -n "$p" ] && break
		i=$((i + 1))
		[ $i -gt 100 ] && return 1
		sleep 0.05
	done
	echo "$p"
}
# Wait (at most SECS) until FILE holds the pattern.
wait_for() {	# FILE PATTERN SECS
	i=0
	while ! grep -q -e "$2" "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt $(($3 * 20)) ] && return 1
		sleep 0.05
	done
}
# Wait (at most SECS, default 120) until process group leader G has
# ended; its status, 255 if it did not end.
wait_end() {	# G [SECS]
	lim=$((${2:-120} * 20 + 100)) i=0
	while kill -0 "$1" 2>/dev/null; do
		if [ "$(awk '{ print $3 }' /proc/"$1"/stat 2>/dev/null)" = Z ]; then
			break
		fi
		i=$((i + 1))
		[ $i -gt $lim ] && return 255
		sleep 0.05
	done
	wait "$1"
}
# The main thread of PID asleep (in a wait of the library: its shmk:wait
# has fired), at most 10 s.
wait_asleep() {	# PID
	i=0
	while [ "$(awk '{ print $3 }' /proc/"$1"/stat 2>/dev/null)" != S ]; do
		i=$((i + 1))
		[ $i -gt 200 ] && return 1
		sleep 0.05
	done
}

# A fresh pingpong server on a new arena A; $SRV is its pid.
server() {
	seq=$((seq + 1))
	A=ttdoc$$x$seq
	start srv$seq.out $long_s "$S" "$A"
	SRVG=$G
	if ! wait_for srv$seq.out serving 20; then
		echo "# pingpong_server did not start:"
		diag srv$seq.out
		return 1
	fi
	SRV=$(proc_in "$SRVG" pingpong_server) || return 1
	PID=$SRV
}
server_stop() {
	kill -TERM "$SRV" 2>/dev/null
	wait_end "$SRVG" >/dev/null 2>&1
}

# Start a bpftrace command (as written, variables expanded) and wait
# until every probe it announced is attached (one perf event per USDT
# location or tracepoint; BEGIN and END are not among them).
bt_start() {	# CMD
	(eval "exec setsid timeout -s INT $bt_s $1") >bt.out 2>bt.err &
	BTG=$!
	track "$BTG"
	specials=$(printf '%s\n' "$1" | grep -o -e 'BEGIN *{' -e 'END *{' | wc -l)
	i=0
	while :; do
		want=$(sed -n 's/^Attaching \([0-9]*\) probe.*/\1/p' bt.out)
		if [ -n "$want" ]; then
			bt=$(pgrep -s "$BTG" -x bpftrace | head -n 1)
			have=$(bpftool perf show 2>/dev/null | grep -c "^pid ${bt:-none} ")
			[ "$have" -ge $((want - specials)) ] && [ "$have" -gt 0 ] &&
				return 0
		fi
		kill -0 "$BTG" 2>/dev/null || return 1
		i=$((i + 1))
		[ $i -gt $((ready_s * 20)) ] && return 1
		sleep 0.05
	done
}
# SIGINT to bpftrace: it prints its maps and ends (at most 300 s: under
# TCG on a loaded host it took more than 120). The signal is sent again
# every 10 s while it runs (one CI run saw a bpftrace still running 300 s
# after one SIGINT, its output complete, on a host loaded to 4 only); a
# bpftrace that needed more than one, or did not end, is described in the
# test's output.
bt_stop() {
	btp=$(pgrep -s "$BTG" -x bpftrace | head -n 1)
	bt_n=0 bt_st=255
	while [ $bt_n -lt 30 ]; do
		kill -INT "${btp:-none}" 2>/dev/null
		bt_n=$((bt_n + 1))
		wait_end "$BTG" 10
		bt_st=$?
		[ $bt_st = 255 ] && kill -0 "$BTG" 2>/dev/null && continue
		break
	done
	[ $bt_n -gt 1 ] && echo "# bpftrace ${btp:-?} was sent $bt_n SIGINTs"
	if [ $bt_st = 255 ] && kill -0 "$BTG" 2>/dev/null; then
		echo "# bpftrace ${btp:-?} still runs:"
		for t in /proc/"$btp"/task/*; do
			echo "#   task ${t##*/}: $(awk '{ print $2, $3 }' "$t"/stat 2>/dev/null) wchan $(cat "$t"/wchan 2>/dev/null)"
			sed 's/^/#     /' "$t"/stack 2>/dev/null | head -n 12
		done
	fi
	return $bt_st
}

# Sum of the counts of the histogram of map line PATTERN in bt.out.
# A histogram line is "[LO, HI)   COUNT |@@@..." (or "[N]   COUNT |..."):
# its count is the last word before the bar (plain POSIX awk: busybox too).
hist_sum() {	# PATTERN
	awk -v pat="$1" '
		function count(l) { sub(/ *[|].*$/, "", l); sub(/.* /, "", l); return l + 0 }
		index($0, pat) == 1 { on = 1; next }
		on && /^[[]/ { s += count($0); next }
		on { on = 0 }
		END { print s + 0 }' bt.out
}
hist_bucket() {	# PATTERN BUCKET
	awk -v pat="$1" -v b="$2" '
		function count(l) { sub(/ *[|].*$/, "", l); sub(/.* /, "", l); return l + 0 }
		index($0, pat) == 1 { on = 1; next }
		on && index($0, b) == 1 { print count($0); exit }
		on && !/^[[]/ { on = 0 }' bt.out
}
map_val() {	# KEY (e.g. "@msgs[name, 2, 1]")
	awk -v k="$1: " 'index($0, k) == 1 { print substr($0, length(k) + 1) }' bt.out
}

# A bpftrace -e example: run it against the workload its map asks for,
# then check what it printed.
run_bt_usdt() {	# CMD FIRST-LINE
	cmd=$1 what=$2
	case $cmd in
	*"@fanout["*) kind=pub ;;
	*"ended, how"*) kind=crash ;;
	*) kind=pingpong ;;
	esac
	if [ $kind = pub ]; then
		seq=$((seq + 1))
		A=ttdoc$$x$seq
	elif ! server; then
		ok 1 "$what: pingpong_server"
		return
	fi
	if ! bt_start "$cmd"; then
		ok 1 "$what: bpftrace got ready"
		diag bt.err
		bt_stop >/dev/null 2>&1
		return
	fi
	wl=0
	case $kind in
	pingpong)
		run cli.out $work_s "$C" "$A" 1000 || wl=1
		wait_asleep "$SRV" || wl=1 ;;
	crash)
		start cli.out $work_s "$C" "$A" 1000000
		cg=$G
		wait_for srv$seq.out "client 2 connected" 20 || wl=1
		kill -KILL -"$cg" 2>/dev/null
		wait_for srv$seq.out "client 2 crashed" 20 || wl=1
		wait_for bt.out "member 2 ended" 20 || wl=1 ;;
	pub)
		start pub.out $work_s "$P" "$A" 100 2
		pg=$G
		wait_for pub.out waiting 20 || wl=1
		start sub1.out $work_s "$SUB" "$A" 100
		s1=$G
		start sub2.out $work_s "$SUB" "$A" 100
		s2=$G
		for g in $s1 $s2 $pg; do
			wait_end "$g" || wl=1
		done ;;
	esac
	bt_stop
	rc=$?
	[ $rc = 255 ] && echo "# bpftrace did not end within 300 s of SIGINT"
	[ $kind = pub ] || server_stop
	if [ $wl != 0 ]; then
		ok 1 "$what: the $kind workload ran"
		diag srv$seq.out cli.out 2>/dev/null
		return
	fi
	if [ $rc != 0 ]; then
		ok 1 "$what: bpftrace exit status $rc"
		diag bt.err bt.out
		return
	fi
	if grep -v RLIMIT_MEMLOCK bt.err | grep -q ERROR; then
		ok 1 "$what: bpftrace reported an error"
		diag bt.err
		return
	fi
	good=1
	case $cmd in
	*"@msgs["*)
		v1=$(map_val "@msgs[$A, 2, 1]") v2=$(map_val "@msgs[$A, 1, 2]")
		[ "$v1" = 1002 ] && [ "$v2" = 1001 ] && good=0
		desc="client to server 1002 (is ${v1:-none}), server to client 1001 (is ${v2:-none})" ;;
	*"@bytes["*)
		v=$(hist_bucket "@bytes[$A]:" "[64, 128)")
		[ "$v" = 2000 ] && good=0
		desc="2000 messages of 64 bytes (is ${v:-none})" ;;
	*"@us["*)
		v=$(hist_sum "@us[$A]:")
		[ "$v" -ge 2000 ] && [ "$v" -le 2003 ] && good=0
		desc="a latency for each of the 2000 data messages, and the session's 3 at most (is $v)" ;;
	*"@sleeps["*)
		v1=$(map_val "@sleeps[$A, 1, pingpong_server]")
		v2=$(map_val "@sleeps[$A, 2, pingpong_client]")
		[ "${v1:-0}" -ge 1 ] && [ "${v2:-0}" -ge 1 ] && good=0
		desc="the server (${v1:-none}) and the client (${v2:-none}) slept" ;;
	*"@full["*)
		grep -q '^@full' bt.out || good=0
		desc="no queue full in a ping-pong (an empty map)" ;;
	*"ended, how"*)
		line="$A: member 2 ended, how 3 status 9 (seen by 1)"
		grep -qxF "$line" bt.out && good=0
		desc="'$line'" ;;
	*"@fanout["*)
		v1=$(hist_sum "@fanout[$A, 0]:") v2=$(hist_sum "@size[$A]:")
		v3=$(hist_bucket "@fanout[$A, 0]:" "[2, 3)")
		[ "$v1" = 100 ] && [ "$v2" -ge 100 ] && good=0
		desc="100 publishes ($v1, ${v3:-0} of them to both subscribers), an allocation each at least ($v2)" ;;
	*)
		desc="no check for this example in $0" ;;
	esac
	check $good "$what: $desc" bt.out
}

# ---- the commands of the page --------------------------------------------

# One file per command: a line starting with bpftrace, perf, readelf or
# mount starts one, the lines after it in the same .nf block continue it
# (roff escapes undone).
awk -v dir="$tmp" '
	/^\.nf/ { inblk = 1; f = ""; next }
	/^\.fi/ { inblk = 0; next }
	!inblk { next }
	{
		gsub(/\\-/, "-"); gsub(/\\\\/, "\\")
		if ($0 ~ /^(bpftrace|perf|readelf|mount) /) {
			k++
			f = sprintf("%s/cmd%02d", dir, k)
		}
		if (f)
			print > f
	}' "$man"
ncmd=$(ls "$tmp"/cmd* 2>/dev/null | wc -l)
if [ "$ncmd" -ge 20 ]; then
	ok 0 "the page has $ncmd commands"
else
	ok 1 "the page has $ncmd commands (20 or more expected)"
fi

# The mount command first: tracefs gone from this mount namespace, then
# mounted by the page's command.
is_tracefs() {	# (busybox's stat -f does not know tracefs)
	awk -v d="$1" '$2 == d && $3 == "tracefs" { f = 1 } END { exit !f }' \
		/proc/self/mounts
}
i=0
while is_tracefs /sys/kernel/tracing && [ $i -lt 8 ]; do
	umount -l /sys/kernel/tracing 2>/dev/null
	i=$((i + 1))
done
i=0
while umount -l /sys/kernel/debug 2>/dev/null && [ $i -lt 8 ]; do
	i=$((i + 1))
done
mounted=0
for f in "$tmp"/cmd*; do
	case $(head -n 1 "$f") in
	mount*)
		if is_tracefs /sys/kernel/tracing; then
			ok 1 "could not unmount tracefs in a mount namespace of our own"
		else
			eval "$(cat "$f")" >mount.out 2>&1
			is_tracefs /sys/kernel/tracing
			ok $? "$(head -n 1 "$f"): tracefs mounted"
			mounted=1
		fi
		rm -f "$f" ;;
	esac
done
[ $mounted = 1 ] || ok 1 "the page says how to mount tracefs"

server || ok 1 "pingpong_server for the commands that need it running"
for f in "$tmp"/cmd*; do
	cmd=$(cat "$f")
	first=$(head -n 1 "$f")
	case $cmd in
	*"tracepoint:shmk:"* | *" shmk:"* | *"'shmk:"* | *" shmk.data"*)
		if [ ! -c /dev/shmk ]; then
			skip "$first" "the module's tracepoints need /dev/shmk"
			continue
		fi ;;
	esac
	case $first in
	bpftrace*)
		if [ $have_bt = 0 ]; then
			skip "$first" "no bpftrace or bpftool"
			continue
		fi ;;
	perf*)
		if [ $have_perf = 0 ]; then
			skip "$first" "no perf"
			continue
		fi ;;
	esac
	case $cmd in
	"bpftrace -l "* | "bpftrace -p "* | readelf*)
		run_eval out err $work_s "$cmd"
		rc=$?
		case $cmd in
		readelf*)
			grep -q 'Name: send$' out
			check $? "$first: the probes of pingpong_server (rc $rc)" err ;;
		"bpftrace -p "*)
			grep -q ':shmk:send$' out && [ $rc = 0 ]
			check $? "$first: the running pingpong_server's shmk:send (rc $rc)" err ;;
		*)
			names=$(sed -n 's/.*:shmk:\([a-z_]*\)$/\1/p' out | sort -u | tr '\n' ' ')
			want="alloc alloc_wait attach buf_clone buf_create buf_drop cleanup detach end free publish queue_full recv send wait wait_done wake "
			[ "$names" = "$want" ] && [ $rc = 0 ]
			check $? "$first: every probe ($names)" err ;;
		esac ;;
	"bpftrace -e 'usdt:"*)
		srv_keep=$SRV srvg_keep=$SRVG a_keep=$A
		run_bt_usdt "$cmd" "$first"
		SRV=$srv_keep SRVG=$srvg_keep A=$a_keep PID=$srv_keep ;;
	"bpftrace -e 'tracepoint:"*)
		if ! bt_start "$cmd"; then
			ok 1 "$first: bpftrace got ready"
			diag bt.err
			continue
		fi
		run cli.out $work_s "$C" "$A" 1000
		wait_asleep "$SRV"
		bt_stop
		rc=$?
		case $cmd in
		*shmk_end*)
			grep -q "^arena [0-9]* member [0-9]* gen [0-9]* how 1 status 0$" bt.out && [ $rc = 0 ]
			check $? "$first: the client's detach (rc $rc)" bt.out bt.err ;;
		*)
			grep -q '^@\[[0-9]*, 0\]: [0-9]' bt.out && [ $rc = 0 ]
			check $? "$first: waits woken (rc $rc)" bt.out bt.err ;;
		esac ;;
	perf*)
		run_eval out out.err $work_s "$cmd"
		rc=$?
		cat out.err >>out
		case $cmd in
		"perf probe -x"*)
			perf_added=1
			grep -q 'sdt_shmk:send' out && [ $rc = 0 ]
			check $? "$first: events added" out ;;
		"perf probe -d"*)
			perf_added=0
			grep -q 'Removed event: sdt_shmk:send' out && [ $rc = 0 ]
			check $? "$first: events removed" out ;;
		"perf record"*)
			[ $rc = 0 ] && ls ./*.data >/dev/null 2>&1
			check $? "$first: recorded into the current directory" out ;;
		"perf script -i send.data"*)
			v=$(grep -c 'sdt_shmk:send:' out)
			[ "$v" = 1001 ] && [ $rc = 0 ]
			check $? "$first: the server's 1001 sends (connected + 1000) (is $v)" out ;;
		"perf script -i shmk.data"*)
			v1=$(grep -c 'shmk:shmk_attach:' out) v2=$(grep -c 'shmk:shmk_end:' out)
			[ "$v1" = 1 ] && [ "$v2" = 1 ] && [ $rc = 0 ]
			check $? "$first: the client's attach ($v1) and end ($v2)" out ;;
		"perf stat -e sdt_shmk:send"*)
			v=$(awk '$2 == "sdt_shmk:send" { print $1 }' out)
			[ "$v" = 1001 ] && [ $rc = 0 ]
			check $? "$first: 1001 sends counted (is ${v:-none})" out ;;
		"perf stat -e 'shmk:*'"*)
			v1=$(awk '$2 == "shmk:shmk_attach" { print $1 }' out)
			v2=$(awk '$2 == "shmk:shmk_end" { print $1 }' out)
			[ "$v1" = 1 ] && [ "$v2" = 1 ] && [ $rc = 0 ]
			check $? "$first: one attach (${v1:-none}) and one end (${v2:-none})" out ;;
		*)
			check 1 "$first (rc $rc): no check for its output in $0" out ;;
		esac
		;;
	*)
		ok 1 "$first: no way to run this command in $0" ;;
	esac
done
server_stop
ls "$top"/tests/tools/*.data "$top"/tests/tools/perf.data* >/dev/null 2>&1
[ $? != 0 ]
ok $? "nothing written into tests/tools"
echo "1..$n"
[ $failed -eq 0 ]
