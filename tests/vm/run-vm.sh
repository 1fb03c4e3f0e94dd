#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Run test programs (or one command) in a throwaway VM: Debian's kernel
# under qemu (TCG), a busybox initramfs, the shmk module loaded, then
# post-checks (nothing left in the module, rmmod works, dmesg is clean).
# See tests/vm/README.md; --help for the options.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-$ROOT/build}
# shellcheck source=tests/vm/tap-count.sh
. "$HERE/tap-count.sh"

usage() {
	cat <<'EOF'
Usage: tests/vm/run-vm.sh [OPTIONS] SUITE_DIR...
       tests/vm/run-vm.sh [OPTIONS] --cmd 'shell command'

Boot Debian's kernel in qemu (TCG) with a busybox initramfs, insmod the
module, run every executable t_* of each SUITE_DIR (or the --cmd command),
then check that the module holds no arena or page, that rmmod works and
that dmesg shows no BUG/WARNING/Oops/lockdep/... report. Each test program
prints TAP; the results are counted like tests/run-host.sh does.

Options:
  --kernel VMLINUZ     kernel image (default: $VMLINUZ, else
                       /boot/vmlinuz-$(scripts/kver.sh))
  --module KO          module to insmod (without it: no insmod, no module
                       checks; the dmesg check still runs)
  --module-args ARGS   module parameters for insmod ("a=1 b=2")
  --result FILE        write "<passed> <failed> <skipped>" there; the logs
                       go next to it (FILE minus .result, plus .log and
                       .kernel.log) instead of build/vm/last{,.kernel}.log
  --timeout SECS       whole-VM limit (default 60 + tests * (test-timeout+30))
  --test-timeout SECS  per test program, or for --cmd (default 60)
  --env K=V            environment for the tests (repeatable)
  --extra PATH[:DEST]  copy a file or directory into the VM at DEST (default:
                       the same absolute path); dynamic executables bring
                       their libraries; directories holding executables go
                       on PATH (repeatable)
  --cmd 'COMMAND'      run this shell command instead of the suites (cwd
                       /tmp); its output is passed through; TAP lines in it
                       are counted, otherwise its exit status is the result
  --post-cmd 'COMMAND' one more check, vm/post: this shell command runs after
                       rmmod and before the dmesg scan (e.g. a kmemleak
                       scan); it passes if it exits 0 within 600 s
  --kernel-args ARGS   append to the kernel command line
  --mem MB             guest memory (default 1024)
  --smp N              guest CPUs (default 2)
  --quiet              do not stream the guest console (summary only)
  --verbose            also print every test's output in the summary
  --keep               keep the work directory (initramfs, per-test output)
  --help               this text

Guest environment of every test: cwd /tmp (tmpfs), PATH starting with
/tests/<suite>, SHMK_VM=1, SHMK_SUITE, SHMK_TEST_DIR=/tests/<suite>, the
--env variables; stdin /dev/null; its own session (leftover processes are
killed when it exits). Exit status: 0 iff nothing failed and something
passed.
EOF
}

die() {
	echo "run-vm: $*" >&2
	exit 2
}

kernel=${VMLINUZ:-}
module='' module_args='' result='' vm_timeout='' test_timeout=60 cmd=''
have_cmd=0 post_cmd='' kernel_args='' mem=1024 smp=2 quiet=0 keep=0
envs=() extras=() suites=()
while [ $# -gt 0 ]; do
	case $1 in
	--kernel) kernel=${2:?}; shift ;;
	--module) module=${2:?}; shift ;;
	--module-args) module_args=${2?}; shift ;;
	--result) result=${2:?}; shift ;;
	--timeout) vm_timeout=${2:?}; vm_timeout_set=1; shift ;;
	--test-timeout) test_timeout=${2:?}; shift ;;
	--env) envs+=("${2:?}"); shift ;;
	--extra) extras+=("${2:?}"); shift ;;
	--cmd) cmd=${2?}; have_cmd=1; shift ;;
	--post-cmd) post_cmd=${2:?}; shift ;;
	--kernel-args) kernel_args=${2?}; shift ;;
	--mem) mem=${2:?}; shift ;;
	--smp) smp=${2:?}; shift ;;
	--quiet) quiet=1 ;;
	--verbose) TAP_VERBOSE=1 ;;
	--keep) keep=1 ;;
	-h | --help) usage; exit 0 ;;
	--) shift; suites+=("$@"); break ;;
	-*) die "unknown option $1 (see --help)" ;;
	*) suites+=("$1") ;;
	esac
	shift
done

for n in "$test_timeout" ${vm_timeout:+"$vm_timeout"} "$mem" "$smp"; do
	[[ $n =~ ^[1-9][0-9]*$ ]] || die "not a positive number: $n"
done
for e in ${envs[@]+"${envs[@]}"}; do
	[[ $e =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || die "--env wants K=V, not: $e"
done
[ $have_cmd = 1 ] || [ ${#suites[@]} -gt 0 ] ||
	die "nothing to run: give SUITE_DIR... or --cmd (see --help)"

deps_hint="run scripts/install-deps.sh (as root) first"
if [ -z "$kernel" ]; then
	kver=$("$ROOT/scripts/kver.sh") ||
		die "no Debian cloud kernel installed: $deps_hint"
	kernel=/boot/vmlinuz-$kver
fi
[ -r "$kernel" ] || die "kernel image $kernel not found or unreadable: $deps_hint"
for tool in qemu-system-x86_64 cpio gzip timeout ldd; do
	command -v "$tool" >/dev/null || die "$tool not found: $deps_hint"
done
busybox=
for b in /bin/busybox /usr/bin/busybox; do
	[ -x "$b" ] && busybox=$b && break
done
[ -n "$busybox" ] || die "busybox not found (busybox-static): $deps_hint"
if [ -n "$module" ]; then
	[ -r "$module" ] || die "module $module not found (build it: make module)"
	module=$(realpath "$module")
fi

# Work directory (one per run: runs may go on in parallel) and logs.
mkdir -p "$BUILD/vm"
if [ -n "$result" ]; then
	log=${result%.result}.log
	klog=${result%.result}.kernel.log
	mkdir -p "$(dirname "$log")"
else
	log=$BUILD/vm/last.log
	klog=$BUILD/vm/last.kernel.log
fi
work=$(mktemp -d "$BUILD/vm/run.XXXXXX")
cleanup() {
	if [ $keep = 1 ]; then
		echo "run-vm: kept $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
# Ctrl-C reaches qemu directly (timeout --foreground keeps it in our
# process group); clean up here too.
trap 'exit 130' INT TERM
# The guest writes into the work directory; the logs are published (by
# rename, so parallel runs never mix) when it is done.
wlog=$work/console.log
wklog=$work/kernel.log
publish() {
	local src=$1 dst=$2
	cp "$src" "$dst.$$.tmp" && mv -f "$dst.$$.tmp" "$dst"
}
rootfs=$work/root
mkdir -p "$rootfs"/{usr/bin,usr/sbin,usr/lib,usr/lib64,dev,proc,sys,tmp,run,etc,harness,tests,root}
chmod 1777 "$rootfs/tmp"
for d in bin sbin lib lib64; do
	ln -s "usr/$d" "$rootfs/$d"
done

# --- initramfs ----------------------------------------------------------
declare -A copied=() libdirs=()
missing_libs=()

# Copy a file into the rootfs at the same path, following symlinks.
put() {
	local src=$1 dst=$2
	mkdir -p "$rootfs$(dirname "$dst")"
	cp -L --preserve=mode "$src" "$rootfs$dst"
}

is_elf() {
	[ "$(head -c 4 "$1" 2>/dev/null | od -An -c | tr -d ' ')" = '177ELF' ]
}

# Bring the shared libraries (and ELF interpreter) a dynamic executable needs.
add_libs() {
	local f=$1 line lib
	is_elf "$f" || return 0
	while IFS= read -r line; do
		case $line in
		*"=> not found"*)
			missing_libs+=("$(basename "$f"): ${line%%=>*}")
			continue
			;;
		esac
		lib=$(awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\//) { print $i; exit } }' <<<"$line")
		[ -n "$lib" ] || continue
		[ -n "${copied[$lib]:-}" ] && continue
		copied[$lib]=1
		put "$lib" "$lib"
		case $(dirname "$lib") in
		/lib | /lib64 | /usr/lib | /usr/lib64 | /lib/x86_64-linux-gnu | \
			/usr/lib/x86_64-linux-gnu) ;;
		*) libdirs[$(dirname "$lib")]=1 ;;
		esac
	done < <(ldd "$f" 2>/dev/null || true)
}

put "$busybox" /usr/bin/busybox
add_libs "$busybox"
while IFS= read -r applet; do
	[ -e "$rootfs/$applet" ] || [ -L "$rootfs/$applet" ] ||
		ln -s /usr/bin/busybox "$rootfs/$applet"
done < <("$busybox" --list-full)
# glibc loads libgcc_s at run time for thread cancellation and unwinding.
l=/lib/x86_64-linux-gnu/libgcc_s.so.1
if [ -e "$l" ] && [ -z "${copied[$l]:-}" ]; then
	copied[$l]=1
	put "$l" "$l"
fi
if [ "$(id -u)" = 0 ]; then
	mknod -m 600 "$rootfs/dev/console" c 5 1
	mknod -m 666 "$rootfs/dev/null" c 1 3
fi
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' \
	> "$rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$rootfs/etc/group"
install -m 755 "$HERE/init.sh" "$rootfs/init"

module_name=
if [ -n "$module" ]; then
	put "$module" /lib/modules/"$(basename "$module")"
	module_name=$(basename "$module" .ko)
	module_name=${module_name//-/_}
fi

# Tests: every executable t_* is run; every other executable regular file
# of the suite directory comes along as a helper.
tests=() empty_suites=()
declare -A suite_seen=()
for s in ${suites[@]+"${suites[@]}"}; do
	[ -d "$s" ] || die "suite directory $s not found"
	sname=$(basename "$(realpath "$s")")
	[ -z "${suite_seen[$sname]:-}" ] || die "two suites named $sname"
	suite_seen[$sname]=1
	mkdir -p "$rootfs/tests/$sname"
	n=0
	for f in "$s"/*; do
		if [ ! -f "$f" ] || [ ! -x "$f" ]; then
			continue
		fi
		case $f in *.o | *.a | *.ko | *.so | *.so.*) continue ;; esac
		put "$f" "/tests/$sname/$(basename "$f")"
		add_libs "$f"
		case $(basename "$f") in
		t_*) tests+=("$sname/$(basename "$f")"); n=$((n + 1)) ;;
		esac
	done
	[ $n -gt 0 ] || empty_suites+=("$s")
done

guest_path=
for x in ${extras[@]+"${extras[@]}"}; do
	src=${x%%:*}
	dst=${x#*:}
	[ "$dst" != "$x" ] || dst=
	[ -e "$src" ] || die "--extra $src not found"
	src=$(realpath "$src")
	[ -n "$dst" ] || dst=$src
	case $dst in
	/proc | /proc/* | /sys | /sys/* | /dev | /dev/*)
		die "--extra $x: cannot go under /proc, /sys or /dev (give :DEST)" ;;
	/*) ;;
	*) die "--extra destination must be absolute: $dst" ;;
	esac
	if [ -d "$src" ]; then
		mkdir -p "$rootfs$dst"
		cp -a "$src/." "$rootfs$dst/"
		declare -A xdirs=()
		while IFS= read -r -d '' f; do
			add_libs "$f"
			xdirs[$dst${f#"$src"}]=1
		done < <(find "$src" -type f -perm -u+x -print0)
		for f in "${!xdirs[@]}"; do
			guest_path=$guest_path:$(dirname "$f")
		done
		unset xdirs
	else
		put "$src" "$dst"
		if [ -x "$src" ]; then
			add_libs "$src"
			guest_path=$guest_path:$(dirname "$dst")
		fi
	fi
done
if [ ${#missing_libs[@]} -gt 0 ]; then
	printf 'run-vm: warning: library not found by ldd: %s\n' "${missing_libs[@]}" >&2
fi

ldpath=
for d in "${!libdirs[@]}"; do
	ldpath=${ldpath:+$ldpath:}$d
done
{
	printf 'TEST_TIMEOUT=%s\n' "$test_timeout"
	printf 'MODULE=%q\n' "${module:+/lib/modules/$(basename "$module")}"
	printf 'MODULE_NAME=%q\n' "$module_name"
	printf 'MODULE_ARGS=%q\n' "$module_args"
	printf 'HUNG_TASK_SECS=%s\n' 30
	# shellcheck disable=SC2016 # $PATH expands in the guest
	[ -z "$guest_path" ] || printf 'PATH=$PATH%q\n' "$guest_path"
} > "$rootfs/harness/config"
{
	[ -z "$ldpath" ] || echo "LD_LIBRARY_PATH=$ldpath"
	for e in ${envs[@]+"${envs[@]}"}; do
		echo "$e"
	done
} > "$rootfs/harness/env"
printf '%s\n' ${tests[@]+"${tests[@]}"} > "$rootfs/harness/tests"
if [ $have_cmd = 1 ]; then
	printf '%s\n' "$cmd" > "$rootfs/harness/cmd.sh"
	ntests=1
else
	ntests=${#tests[@]}
fi
[ -z "$post_cmd" ] || printf '%s\n' "$post_cmd" > "$rootfs/harness/post.sh"
[ -n "$vm_timeout" ] || vm_timeout=$((60 + ntests * (test_timeout + 30)))
[ -z "$post_cmd" ] || [ -n "${vm_timeout_set:-}" ] || vm_timeout=$((vm_timeout + 600))

initrd=$work/initrd.gz
(cd "$rootfs" && find . -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc --quiet -R 0:0) | gzip -1 > "$initrd"

# --- run ----------------------------------------------------------------
# ttyS0 (first serial port; firmware and kernel console) -> kernel log file
# ttyS1 (second) -> the harness and tests: stdout, the log, the parser.
append="console=ttyS0 quiet panic=-1 log_buf_len=4M $kernel_args"
# shellcheck disable=SC2054 # commas inside option values
qemu=(qemu-system-x86_64 -accel tcg,thread=multi -cpu max -m "$mem"
	-smp "$smp" -nographic -monitor none -no-reboot -nic none
	-kernel "$kernel" -initrd "$initrd" -append "$append"
	-serial "file:$wklog" -serial stdio)
if [ $have_cmd = 1 ]; then
	what="command"
else
	what="$ntests test program(s) from ${#suites[@]} suite(s)"
fi
echo "run-vm: $(basename "$kernel"), $what, VM timeout ${vm_timeout}s, log $wlog" >&2
: > "$wlog"
: > "$wklog"
t0=$(date +%s.%N)
set +e
if [ $quiet = 1 ]; then
	timeout --foreground -k 10 "$vm_timeout" "${qemu[@]}" </dev/null >"$wlog" 2>"$work/qemu.err"
	qrc=$?
else
	timeout --foreground -k 10 "$vm_timeout" "${qemu[@]}" </dev/null 2>"$work/qemu.err" |
		tee "$wlog" | tr -d '\r'
	qrc=${PIPESTATUS[0]}
fi
set -e
t1=$(date +%s.%N)
publish "$wlog" "$log"
publish "$wklog" "$klog"
if [ "$log" != "$BUILD/vm/last.log" ]; then
	publish "$wlog" "$BUILD/vm/last.log"
	publish "$wklog" "$BUILD/vm/last.kernel.log"
fi

# --- parse --------------------------------------------------------------
# A kernel with a single serial port gets everything on the kernel console.
src=$wlog
if ! grep -q '@@SHMK-INIT' "$wlog" && grep -q '@@SHMK-INIT' "$wklog"; then
	src=$wklog
fi
# Split the console log into per-test output files and a list of events.
out=$work/out
mkdir -p "$out" "$work/diag"
awk -v out="$out" -v diag="$work/diag" '
	function fname(n) { gsub(/\//, "__", n); return n }
	{ sub(/\r$/, "") }
	{
		i = index($0, "@@SHMK-")
		if (!i) {
			if (cur != "") print > (out "/" fname(cur))
			if (dcur != "") print > (diag "/" dcur)
			next
		}
		m = substr($0, i + 7)
		split(m, w, " ")
		if (w[1] == "BEGIN") {
			if (cur != "") close(out "/" fname(cur))
			cur = w[2]
			printf "" > (out "/" fname(cur))
		} else if (w[1] == "END") {
			if (cur != "") close(out "/" fname(cur))
			cur = ""
		} else if (w[1] == "DIAG-BEGIN") {
			dcur = w[2]
			next
		} else if (w[1] == "DIAG-END") {
			if (dcur != "") close(diag "/" dcur)
			dcur = ""
			next
		}
		print m > (out "/events")
	}' "$src"
touch "$out/events"

declare -A began=() ended=() rcs=() checks=() check_why=()
init_up='' done_up='' tests_up='' unkillable=''
while IFS= read -r ev; do
	read -r kind a b rest <<<"$ev"
	case $kind in
	INIT) init_up=${a#uptime=} ;;
	TIME) [ "$a" = tests ] && tests_up=${b#uptime=} ;;
	BEGIN) began[$a]=1 ;;
	END) ended[$a]=1; rcs[$a]=${b#rc=} ;;
	UNKILLABLE) unkillable=$a ;;
	CHECK)
		checks[$a]=$b
		check_why[$a]=$rest
		;;
	DONE) done_up=${a#uptime=} ;;
	esac
done < "$out/events"

# Printable text: no CR, no terminal escapes (the firmware sends some).
clean_log() {
	sed -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\x1b.//g' |
		tr -d '\000-\010\013-\037' |
		sed -e 's/^.*Booting from ROM\.*//' -e '/^SeaBIOS/d' -e '/^$/d'
}

show_diag() {
	[ -s "$work/diag/$1" ] || return 0
	sed 's/^/    | /' "$work/diag/$1"
}

echo
echo "=== VM results ==="
vm_fail=
if [ -z "$init_up" ]; then
	vm_fail="the VM never reached /init"
fi
if [ -n "$module" ]; then
	case ${checks[insmod]:-} in
	ok) tap_check vm/insmod ok ;;
	fail)
		tap_check vm/insmod fail "${check_why[insmod]}"
		show_diag insmod
		;;
	*) [ -n "$vm_fail" ] || vm_fail="the VM stopped before insmod" ;;
	esac
fi

for s in ${empty_suites[@]+"${empty_suites[@]}"}; do
	tap_check "$(basename "$s")" fail "no executable t_* in $s (not built? make tests)"
done
notrun=()
if [ $have_cmd = 1 ]; then
	names=(cmd)
else
	names=(${tests[@]+"${tests[@]}"})
fi
for t in ${names[@]+"${names[@]}"}; do
	f=$out/${t//\//__}
	mode="test"
	[ $have_cmd = 1 ] && mode=cmd
	if [ -n "${ended[$t]:-}" ]; then
		tap_report "$t" "$f" "${rcs[$t]}" "$mode"
	elif [ -n "${began[$t]:-}" ]; then
		if [ "$unkillable" = "$t" ]; then
			tap_report "$t" "$f" 124 "$mode" \
				"timed out and could not be killed (stuck in the kernel)"
			show_diag unkillable
		else
			tap_report "$t" "$f" 1 "$mode" "did not finish: the VM died or hung"
		fi
	else
		notrun+=("$t")
	fi
done
if [ ${#notrun[@]} -gt 0 ] && [ "${checks[insmod]:-}" != fail ]; then
	echo "NOTRUN ${#notrun[@]} test program(s): ${notrun[*]}"
	[ -n "$vm_fail" ] || vm_fail="the VM stopped before running every test"
fi

for c in stats rmmod post dmesg; do
	st=${checks[$c]:-}
	case $st in
	ok) tap_check "vm/$c" ok ;;
	fail)
		tap_check "vm/$c" fail "${check_why[$c]}"
		show_diag "$c"
		;;
	skip) tap_check "vm/$c" skip "${check_why[$c]}" ;;
	esac
done

if [ "$qrc" -eq 124 ] || [ "$qrc" -eq 137 ]; then
	vm_fail="whole-VM timeout after ${vm_timeout}s: qemu killed (guest hung or too slow)"
elif [ -n "$unkillable" ]; then
	vm_fail="$unkillable could not be killed: run stopped there"
elif [ -z "$done_up" ]; then
	if grep -q 'Kernel panic' "$wklog" 2>/dev/null; then
		vm_fail="${vm_fail:+$vm_fail: }kernel panic"
	elif [ -z "$vm_fail" ]; then
		vm_fail="the VM stopped before the end of the run"
	fi
	[ "$qrc" -eq 0 ] || vm_fail="$vm_fail; qemu exited with status $qrc"
elif [ "$qrc" -ne 0 ]; then
	vm_fail="${vm_fail:+$vm_fail; }qemu exited with status $qrc"
fi
if [ -n "$vm_fail" ]; then
	tap_check vm/run fail "$vm_fail"
	if [ -s "$work/qemu.err" ]; then
		sed 's/^/    qemu: /' "$work/qemu.err" | tail -n 20
	fi
	if [ -z "$done_up" ] && [ -s "$wklog" ]; then
		echo "    last kernel messages ($klog):"
		clean_log < "$wklog" | tail -n 60 | sed 's/^/    | /'
	fi
fi

elapsed=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
timing="VM wall time ${elapsed}s"
[ -z "$init_up" ] || timing="$timing; guest uptime at /init ${init_up}s"
[ -z "$tests_up" ] || timing="$timing, at first test ${tests_up}s"
[ -z "$done_up" ] || timing="$timing, at end ${done_up}s"
if [ -n "$tests_up" ] && [ -n "$done_up" ]; then
	# Host time from qemu start to the first test: wall time minus the
	# guest time spent from there to the end.
	timing="$timing; start to first test ~$(awk -v e="$elapsed" -v a="$tests_up" \
		-v b="$done_up" 'BEGIN { printf "%.1f", e - (b - a) }')s"
fi
echo "# $timing"
echo "# console log: $log; kernel log: $klog"
tap_write_result "$result"
tap_totals
[ "$TAP_FAILED" -eq 0 ] && [ "$TAP_PASSED" -gt 0 ]
