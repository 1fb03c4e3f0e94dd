#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# /init of the shmk test VM (busybox sh, PID 1). Installed by run-vm.sh,
# which also writes its inputs under /harness:
#   config   shell assignments: TEST_TIMEOUT MODULE MODULE_NAME MODULE_ARGS
#            HUNG_TASK_SECS
#   env      K=V lines exported to every test program
#   tests    one "suite/t_name" per line, run in that order
#   cmd.sh   with --cmd: run instead of the tests
#   post.sh  with --post-cmd: run after rmmod, before the dmesg scan
#
# Console protocol. The kernel console is ttyS0; everything below writes
# to ttyS1, so test output is never interleaved with kernel messages. The
# host parses lines starting with "@@SHMK-" (see run-vm.sh):
#   @@SHMK-INIT uptime=S
#   @@SHMK-CHECK insmod ok|fail [reason]
#   @@SHMK-BEGIN suite/test
#   @@SHMK-END suite/test rc=N          (N=124: killed by the test timeout)
#   @@SHMK-UNKILLABLE suite/test        (could not kill it: the VM stops)
#   @@SHMK-DIAG-BEGIN name / @@SHMK-DIAG-END name   (diagnostics block)
#   @@SHMK-CHECK stats|rmmod|post|dmesg ok|fail|skip [reason]
#   @@SHMK-DONE uptime=S

# Re-entered as the per-test watchdog: /init --watchdog PID SECS NAME
if [ "$1" = "--watchdog" ]; then
	pid=$2 secs=$3 name=$4
	sleep "$secs"
	[ -d "/proc/$pid" ] || exit 0
	: > /run/harness/timedout
	echo "# harness: $name still running after ${secs}s: killing it"
	kill -TERM -- "-$pid" 2>/dev/null
	i=0
	while [ -d "/proc/$pid" ] && [ $i -lt 20 ]; do
		usleep 100000
		i=$((i + 1))
	done
	kill -KILL -- "-$pid" 2>/dev/null
	i=0
	while [ -d "/proc/$pid" ] && [ $i -lt 10 ]; do
		sleep 1
		i=$((i + 1))
	done
	[ -d "/proc/$pid" ] || exit 0
	# SIGKILL did not work: the task is stuck in the kernel. Show where,
	# then end the VM (PID 1 is blocked waiting for it).
	echo "@@SHMK-UNKILLABLE $name"
	echo "@@SHMK-DIAG-BEGIN unkillable"
	for t in /proc/"$pid"/task/*; do
		echo "task ${t##*/} ($(cat "$t/comm" 2>/dev/null)):" \
			"$(grep '^State' "$t/status" 2>/dev/null)"
		cat "$t/stack" 2>/dev/null
	done
	echo w > /proc/sysrq-trigger 2>/dev/null
	dmesg | sed -n "/shmk-harness: insmod/,\$p" | tail -n 80
	echo "@@SHMK-DIAG-END unkillable"
	echo "@@SHMK-DONE uptime=$(cut -d' ' -f1 /proc/uptime) unkillable"
	sync
	if [ -d /sys/firmware/acpi ]; then poweroff -f; else reboot -f; fi
	exit 1
fi

PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
if [ -c /dev/ttyS1 ]; then
	exec </dev/null >/dev/ttyS1 2>&1
	split_console=1
else
	# A kernel with one serial port: share the console (run-vm.sh then
	# parses the kernel log) and keep kernel messages quiet on it.
	exec </dev/null >/dev/console 2>&1
	split_console=0
fi
echo "@@SHMK-INIT uptime=$(cut -d' ' -f1 /proc/uptime)"

# tmpfs on /tmp, keeping what --extra put there.
mkdir -p /dev/shm /dev/pts /tmp /run/harness /sys/fs/cgroup /sys/fs/bpf \
	/run/newtmp
mount -t tmpfs -o mode=1777 tmpfs /run/newtmp
cp -a /tmp/. /run/newtmp/
mount --move /run/newtmp /tmp
rmdir /run/newtmp
chmod 1777 /tmp
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t devpts devpts /dev/pts 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug
mount -t tracefs tracefs /sys/kernel/tracing
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
ip link set lo up
hostname shmk-vm
# Every kernel message from now on goes to the kernel console (ttyS0).
[ $split_console = 0 ] || echo 8 > /proc/sys/kernel/printk
# Our markers in the kernel log must not be rate-limited away.
echo on > /proc/sys/kernel/printk_devkmsg

TEST_TIMEOUT=60 MODULE='' MODULE_NAME='' MODULE_ARGS='' HUNG_TASK_SECS=30
# shellcheck disable=SC1091 # written by run-vm.sh
. /harness/config
BASE_PATH=$PATH
if [ -w /proc/sys/kernel/hung_task_timeout_secs ]; then
	echo "$HUNG_TASK_SECS" > /proc/sys/kernel/hung_task_timeout_secs
fi
while IFS= read -r kv; do
	[ -n "$kv" ] && export "${kv?}"
done < /harness/env
export SHMK_VM=1 HOME=/tmp

# Kernel log lines that mean the kernel is not well. Segfaults of test
# programs are not in the list: crash tests cause them on purpose.
DMESG_RE='BUG:|WARNING:|Oops|general protection|KASAN|UBSAN|lockdep'
DMESG_RE="$DMESG_RE|possible circular locking|INFO: task .* blocked"
DMESG_RE="$DMESG_RE|kernel BUG|Call Trace|DEBUG_LOCKS_WARN_ON"
DMESG_RE="$DMESG_RE|detected stalls|soft lockup|hard LOCKUP|Kernel panic"
DMESG_RE="$DMESG_RE|list_(add|del) corruption|refcount_t:|kmemleak:"
DMESG_RE="$DMESG_RE|stack-protector|double fault|Bad page"
# Taint bits that mean the same: M(4) B(5) D(7) W(9) L(14).
TAINT_BAD=$(((1 << 4) | (1 << 5) | (1 << 7) | (1 << 9) | (1 << 14)))
taint0=$(cat /proc/sys/kernel/tainted)

finish() {
	echo "@@SHMK-DONE uptime=$(cut -d' ' -f1 /proc/uptime)"
	sync
	# ACPI power-off ends qemu; without ACPI, reboot does (-no-reboot).
	if [ -d /sys/firmware/acpi ]; then poweroff -f; else reboot -f; fi
	sleep 5
	reboot -f
}

# Is process $1 alive and not a zombie?
proc_running() {
	{ read -r line < "/proc/$1/stat"; } 2>/dev/null || return 1
	# shellcheck disable=SC2086
	set -- ${line##*) }
	[ "$1" != Z ]
}

# bounded NAME SECS CMD...: run CMD (a post-check step that could hang in
# the kernel) for at most SECS seconds, output in /run/harness/NAME.out.
# Sets RC; 124 if it is still running (it is then left behind, with its
# kernel stack in /run/harness/NAME.out).
bounded() {
	b_name=$1 b_ticks=$(($2 * 10))
	shift 2
	"$@" > "/run/harness/$b_name.out" 2>&1 &
	b_pid=$!
	b_i=0
	while proc_running "$b_pid"; do
		if [ $b_i -ge $b_ticks ]; then
			RC=124
			{
				echo "$* did not return within $((b_ticks / 10))s; its kernel stack:"
				cat "/proc/$b_pid/stack"
			} >> "/run/harness/$b_name.out" 2>&1
			return
		fi
		usleep 100000
		b_i=$((b_i + 1))
	done
	wait "$b_pid"
	RC=$?
}

# Is a process of group $1 still alive (not a zombie)? Sets LEFT to a list.
group_alive() {
	ga_g=$1
	LEFT=
	for st in /proc/[0-9]*/stat; do
		{ read -r line < "$st"; } 2>/dev/null || continue
		# Fields after "(comm) ": state ppid pgrp ...
		# shellcheck disable=SC2086
		set -- ${line##*) }
		if [ "$1" = Z ] || [ "$3" != "$ga_g" ]; then
			continue
		fi
		p=${st#/proc/}
		LEFT="$LEFT ${p%/stat}"
	done
	[ -n "$LEFT" ]
}

# Kill what is left of a test's process group after its leader exited.
reap_group() {
	g=$1
	group_alive "$g" || return 0
	echo "# harness: killing leftover processes of $2:$LEFT"
	kill -KILL -- "-$g" 2>/dev/null
	i=0
	while group_alive "$g" && [ $i -lt 50 ]; do
		usleep 100000
		i=$((i + 1))
	done
}

# run_prog NAME CMD...: run CMD in its own session with the per-test
# timeout; sets RC (124 if the watchdog killed it).
run_prog() {
	name=$1
	shift
	rm -f /run/harness/timedout
	setsid "$@" </dev/null &
	pid=$!
	setsid /bin/sh /init --watchdog "$pid" "$TEST_TIMEOUT" "$name" &
	wpid=$!
	wait "$pid"
	RC=$?
	kill -KILL -- "-$wpid" 2>/dev/null
	wait "$wpid" 2>/dev/null
	[ -e /run/harness/timedout ] && RC=124
	reap_group "$pid" "$name"
}

# 1. The module.
echo "shmk-harness: insmod" > /dev/kmsg
insmod_ok=1
if [ -n "$MODULE" ]; then
	# shellcheck disable=SC2086 # one word per module parameter
	if out=$(insmod "$MODULE" $MODULE_ARGS 2>&1); then
		echo "@@SHMK-CHECK insmod ok"
	else
		rc=$?
		insmod_ok=0
		echo "@@SHMK-DIAG-BEGIN insmod"
		echo "$out"
		dmesg | sed -n "/shmk-harness: insmod/,\$p" | tail -n 20
		echo "@@SHMK-DIAG-END insmod"
		echo "@@SHMK-CHECK insmod fail insmod $MODULE exited $rc: $out"
	fi
fi

# 2. The tests, or the command.
if [ $insmod_ok = 1 ]; then
	cd /tmp || exit 1
	echo "@@SHMK-TIME tests uptime=$(cut -d' ' -f1 /proc/uptime)"
	if [ -f /harness/cmd.sh ]; then
		echo "shmk-harness: BEGIN cmd" > /dev/kmsg
		echo "@@SHMK-BEGIN cmd"
		run_prog cmd /bin/sh /harness/cmd.sh
		echo
		echo "@@SHMK-END cmd rc=$RC"
		echo "shmk-harness: END cmd rc=$RC" > /dev/kmsg
	else
		while IFS= read -r t; do
			[ -n "$t" ] || continue
			suite=${t%%/*}
			cd /tmp || exit 1
			echo "shmk-harness: BEGIN $t" > /dev/kmsg
			echo "@@SHMK-BEGIN $t"
			PATH=/tests/$suite:$BASE_PATH \
				SHMK_SUITE=$suite SHMK_TEST_DIR=/tests/$suite \
				run_prog "$t" "/tests/$t"
			echo
			echo "@@SHMK-END $t rc=$RC"
			echo "shmk-harness: END $t rc=$RC" > /dev/kmsg
		done < /harness/tests
	fi
fi
cd /

# 3. Post-checks: nothing left in the module, it unloads, kernel is clean.
echo "shmk-harness: BEGIN post-checks" > /dev/kmsg
if [ -n "$MODULE" ] && [ $insmod_ok = 1 ]; then
	f=/sys/kernel/debug/shmk/stats
	if [ ! -r "$f" ]; then
		echo "@@SHMK-CHECK stats fail no $f"
	else
		# Freeing may be deferred (RCU, work items): allow it 3 s.
		i=0
		while :; do
			bounded stats 10 cat "$f"
			[ "$RC" = 0 ] || break
			left=$(awk '($1 == "arenas" || $1 == "pages") && $2 != 0' \
				/run/harness/stats.out)
			[ -z "$left" ] || [ $i -ge 30 ] && break
			usleep 100000
			i=$((i + 1))
		done
		if [ "$RC" = 0 ] && [ -z "$left" ]; then
			echo "@@SHMK-CHECK stats ok"
		else
			echo "@@SHMK-DIAG-BEGIN stats"
			cat /run/harness/stats.out
			echo "@@SHMK-DIAG-END stats"
			[ "$RC" = 0 ] || left="reading $f failed or hung"
			echo "@@SHMK-CHECK stats fail $(echo "$left" | tr '\n' ' ')"
		fi
	fi
	bounded rmmod 30 rmmod "$MODULE_NAME"
	if [ "$RC" = 0 ]; then
		echo "@@SHMK-CHECK rmmod ok"
	else
		echo "@@SHMK-DIAG-BEGIN rmmod"
		cat /run/harness/rmmod.out
		grep "^$MODULE_NAME " /proc/modules
		for fd in /proc/[0-9]*/fd/*; do
			case $(readlink "$fd" 2>/dev/null) in
			*shmk*) ;;
			*) continue ;;
			esac
			p=${fd#/proc/}
			p=${p%%/*}
			echo "holder: pid $p fd ${fd##*/}: $(tr '\0' ' ' < "/proc/$p/cmdline")"
		done
		echo "@@SHMK-DIAG-END rmmod"
		if [ "$RC" = 124 ]; then
			echo "@@SHMK-CHECK rmmod fail rmmod hung (stuck in the kernel)"
		else
			echo "@@SHMK-CHECK rmmod fail $(head -n 1 /run/harness/rmmod.out)"
		fi
	fi
fi

# 4. The caller's own post-check (--post-cmd): after rmmod, so that what
# the module freed or failed to free at unload is visible to it.
if [ -f /harness/post.sh ]; then
	echo "shmk-harness: BEGIN post-cmd" > /dev/kmsg
	bounded post 600 /bin/sh /harness/post.sh
	echo "shmk-harness: END post-cmd rc=$RC" > /dev/kmsg
	if [ "$RC" = 0 ]; then
		echo "@@SHMK-CHECK post ok"
	else
		echo "@@SHMK-DIAG-BEGIN post"
		cat /run/harness/post.out
		echo "@@SHMK-DIAG-END post"
		echo "@@SHMK-CHECK post fail --post-cmd exited $RC"
	fi
fi

dmesg > /run/harness/dmesg
# Scan from the last harness start marker on: boot noise is not ours.
awk -v re="$DMESG_RE" '
	{ line[NR] = $0 }
	/shmk-harness: insmod/ { start = NR }
	END {
		for (i = start + 1; i <= NR; i++) {
			if (line[i] ~ /shmk-harness: (BEGIN|END) /) {
				cur = line[i]
				sub(/.*shmk-harness: /, "", cur)
				if (cur ~ /^BEGIN /)
					sub(/^BEGIN /, "", cur)
				else
					sub(/^END /, "after ", cur)
				sub(/ rc=.*/, "", cur)
			}
			if (line[i] ~ re) {
				n++
				if (!first)
					first = i
				if (!(cur in during)) {
					during[cur] = 1
					who = who (who ? ", " : "") (cur ? cur : "module load")
				}
				for (j = i - 3; j <= i + 40; j++)
					show[j] = 1
			}
		}
		if (!n)
			exit 0
		print "@@SHMK-DIAG-BEGIN dmesg"
		last = 0
		for (i = start + 1; i <= NR; i++) {
			if (!show[i])
				continue
			if (last && i != last + 1)
				print "..."
			print line[i]
			last = i
		}
		print "@@SHMK-DIAG-END dmesg"
		print n " suspicious line(s), during: " who > "/run/harness/dmesg.bad"
	}' /run/harness/dmesg
taint=$(cat /proc/sys/kernel/tainted)
new_taint=$(((taint & ~taint0) & TAINT_BAD))
if [ -s /run/harness/dmesg.bad ]; then
	echo "@@SHMK-CHECK dmesg fail $(cat /run/harness/dmesg.bad)"
elif [ "$new_taint" -ne 0 ]; then
	echo "@@SHMK-CHECK dmesg fail kernel tainted $taint (new bad bits $new_taint)"
else
	echo "@@SHMK-CHECK dmesg ok"
fi
finish
