#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The shmk debug kernel: Debian's linux-source-6.1 built with lockdep,
# KASAN, kmemleak, the atomic-sleep checks and friends
# (tests/vm/debug-kernel.config), shmk.ko built against it, and the VM
# suites run on it. --help for the commands.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
CACHE=${SHMK_DEBUG_KERNEL_CACHE:-/var/cache/shmk/debug-kernel}
TARBALL=${SHMK_LINUX_SOURCE:-/usr/src/linux-source-6.1.tar.xz}
FRAGMENT=$ROOT/tests/vm/debug-kernel.config
JOBS=${SHMK_DEBUG_JOBS:-2}
# Bump when the build steps below change in a way that changes the result.
RECIPE=1
# Kernel command line of the debug VM: every KASAN report (not only the
# first), real pointers in reports.
KARGS="kasan_multi_shot no_hash_pointers"

usage() {
	cat <<'EOF'
Usage: scripts/debug-kernel.sh COMMAND [ARGS]

Commands:
  kernel        build the debug kernel unless it is already in the cache
                (same config fragment, source and compiler); print the
                path of its bzImage
  module        kernel, then build shmk.ko against it (in a scratch copy
                of kmod/, uapi/, Kbuild and VERSION: the repo's objects stay
                untouched); print the path of the .ko
  check [RUN-VM OPTIONS] SUITE_DIR...
                kernel, module, then tests/vm/run-vm.sh with that kernel
                and module on the suites, followed by a last suite,
                debug/t_debug_checks (the checkers are there, lockdep is
                still on), and a kmemleak scan: after rmmod if run-vm.sh
                has --post-cmd (check vm/post), else in that last suite.
                Any lockdep, KASAN, UBSAN, atomic-sleep, WARN, BUG report
                fails vm/dmesg. Default --result: build/check-debug.result
  paths         print the cache paths (nothing is built)
  --help        this text

Environment:
  SHMK_DEBUG_KERNEL_CACHE  cache directory (/var/cache/shmk/debug-kernel)
  SHMK_LINUX_SOURCE        kernel source tarball
                           (/usr/src/linux-source-6.1.tar.xz, Debian's
                           linux-source-6.1 package)
  SHMK_DEBUG_JOBS          make -j (2); the build runs under nice -n 10
  SHMK_RUN_VM              the VM runner (tests/vm/run-vm.sh)

The cache holds the unpacked source (src-*), one build tree per config
hash (kernel-*; after a successful build all but it and the newest
other one are removed) and the module scratch trees (module-*). Building takes 10-20 minutes on 2 cores.
EOF
}

say() {
	echo "debug-kernel: $*" >&2
}

die() {
	say "$*"
	exit 2
}

hash_of() {
	sha256sum | cut -c1-12
}

[ -r "$FRAGMENT" ] || die "config fragment $FRAGMENT missing"

# Identity of the inputs: the tarball (package version, size, mtime),
# the fragment, the compiler, the recipe.
src_id() {
	[ -r "$TARBALL" ] ||
		die "$TARBALL not found: apt-get install linux-source-6.1"
	{
		dpkg-query -W -f='${Version}\n' linux-source-6.1 2>/dev/null || true
		stat -L -c '%s %Y' "$TARBALL"
		basename "$TARBALL"
	} | hash_of
}

config_id() {
	{
		echo "recipe $RECIPE"
		src_id
		${CC:-gcc} --version | head -n 1
		cat "$FRAGMENT"
	} | hash_of
}

set_paths() {
	SRCKEY=$(src_id)
	KEY=$(config_id)
	SRCDIR=$CACHE/src-$SRCKEY
	KDIR=$CACHE/kernel-$KEY
	MODDIR=$CACHE/module-$KEY
	BZIMAGE=$KDIR/arch/x86/boot/bzImage
	MODULE_KO=$MODDIR/kmod/shmk.ko
}

# One builder at a time per cache; a second caller waits for the first
# and then finds its result.
lock_cache() {
	mkdir -p "$CACHE"
	exec 9>"$CACHE/.lock"
	if ! flock -n 9; then
		say "another build holds $CACHE/.lock: waiting"
		flock 9
	fi
}

unpack_source() {
	local top tmp
	if [ -f "$SRCDIR/.shmk-unpacked" ]; then
		return 0
	fi
	say "unpacking $TARBALL into $SRCDIR"
	rm -rf "$SRCDIR" "$SRCDIR.tmp"
	tmp=$SRCDIR.tmp
	mkdir -p "$tmp"
	nice -n 10 tar -C "$tmp" -xJf "$TARBALL"
	top=$(find "$tmp" -mindepth 1 -maxdepth 1 -type d | head -n 1)
	if [ -z "$top" ] || [ ! -f "$top/Makefile" ]; then
		die "$TARBALL does not hold a kernel tree"
	fi
	mv "$top" "$SRCDIR"
	rmdir "$tmp"
	: > "$SRCDIR/.shmk-unpacked"
}

# Every line of the fragment must hold in the final .config: a value that
# olddefconfig dropped means a missing dependency.
verify_config() {
	local cfg=$1 line sym bad=0
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*)
			grep -qxF -- "$line" "$cfg" && continue
			say "config: wanted $line, got: $(grep -E "^(# )?${line%%=*}[= ]" "$cfg" || echo 'not there')"
			bad=1
			;;
		'# CONFIG_'*' is not set')
			sym=${line#\# }
			sym=${sym%% *}
			grep -qE "^$sym=" "$cfg" || continue
			say "config: wanted $sym off, got: $(grep -E "^$sym=" "$cfg")"
			bad=1
			;;
		esac
	done < "$FRAGMENT"
	[ $bad = 0 ] || die "the config fragment does not hold (missing dependencies?): fix $FRAGMENT"
}

build_kernel() {
	local t0 t1 old kmake
	set_paths
	if [ -f "$KDIR/.shmk-built" ] && [ -f "$BZIMAGE" ] &&
		[ -f "$KDIR/Module.symvers" ]; then
		return 0
	fi
	lock_cache
	if [ -f "$KDIR/.shmk-built" ] && [ -f "$BZIMAGE" ] &&
		[ -f "$KDIR/Module.symvers" ]; then
		return 0
	fi
	for tool in make gcc flex bison bc tar xz nice flock; do
		command -v "$tool" >/dev/null ||
			die "$tool not found: apt-get install build-essential flex bison bc xz-utils libelf-dev"
	done
	t0=$(date +%s)
	unpack_source
	say "building the debug kernel in $KDIR (-j$JOBS, nice 10; log $KDIR/build.log)"
	rm -rf "$KDIR"
	mkdir -p "$KDIR"
	# Reproducible: the same inputs give the same kernel.
	kmake=(nice -n 10 make -C "$SRCDIR" O="$KDIR" -j"$JOBS"
		KBUILD_BUILD_USER=shmk KBUILD_BUILD_HOST=debug
		KBUILD_BUILD_TIMESTAMP="$(date -u -d @"$(stat -L -c %Y "$TARBALL")")")
	if ! {
		"${kmake[@]}" tinyconfig &&
			"$SRCDIR/scripts/kconfig/merge_config.sh" -m -O "$KDIR" \
				"$KDIR/.config" "$FRAGMENT" &&
			"${kmake[@]}" olddefconfig
	} > "$KDIR/build.log" 2>&1; then
		tail -n 30 "$KDIR/build.log" >&2
		die "configuring failed (log: $KDIR/build.log)"
	fi
	verify_config "$KDIR/.config"
	if ! "${kmake[@]}" all >> "$KDIR/build.log" 2>&1; then
		grep -E 'error|Error' "$KDIR/build.log" | tail -n 20 >&2
		die "kernel build failed (log: $KDIR/build.log)"
	fi
	if [ ! -f "$BZIMAGE" ] || [ ! -f "$KDIR/Module.symvers" ]; then
		die "build ended without bzImage or Module.symvers"
	fi
	t1=$(date +%s)
	printf 'key %s\nbuilt %s\nseconds %s\n' "$KEY" "$(date -u +%FT%TZ)" \
		$((t1 - t0)) > "$KDIR/.shmk-built"
	say "kernel built in $((t1 - t0)) s: $BZIMAGE"
	# Older configurations and sources: 1-2 GB each. The newest other
	# configuration stays, so that two trees (worktrees, branches) with
	# different fragments do not rebuild each other's kernel in turn.
	keep='' newest=0
	for old in "$CACHE"/kernel-*; do
		if [ ! -d "$old" ] || [ "$old" = "$KDIR" ]; then
			continue
		fi
		t=$(stat -c %Y "$old")
		if [ "$t" -gt "$newest" ]; then
			newest=$t keep=${old##*/kernel-}
		fi
	done
	for old in "$CACHE"/kernel-* "$CACHE"/module-* "$CACHE"/src-*; do
		[ -e "$old" ] || continue
		case $old in
		"$KDIR" | "$MODDIR" | "$SRCDIR") continue ;;
		"$CACHE/kernel-$keep" | "$CACHE/module-$keep") continue ;;
		esac
		say "removing stale $old"
		rm -rf "$old"
	done
}

# kbuild writes its objects next to the sources given as M=: build in a
# scratch copy so that the repo's kmod/*.o (for Debian's kernel) stay.
build_module() {
	local f
	build_kernel
	lock_cache
	say "building shmk.ko against the debug kernel in $MODDIR"
	rm -rf "$MODDIR"
	mkdir -p "$MODDIR/kmod"
	cp "$ROOT/Kbuild" "$ROOT/VERSION" "$MODDIR/"
	cp -R "$ROOT/uapi" "$MODDIR/"
	for f in "$ROOT"/kmod/*; do
		case $f in
		*.c | *.h | */Kbuild | */Makefile) cp "$f" "$MODDIR/kmod/" ;;
		esac
	done
	# -g: faddr2line and objdump -S can map report offsets to lines.
	if ! nice -n 10 make -C "$KDIR" M="$MODDIR" -j"$JOBS" KCFLAGS=-g \
		modules > "$MODDIR/build.log" 2>&1; then
		cat "$MODDIR/build.log" >&2
		die "module build failed"
	fi
	# Not fatal: KASAN inflates stack frames, so frame-size warnings can
	# show up here that Debian's kernel build does not give.
	if grep -E 'WARNING|warning:' "$MODDIR/build.log" >&2; then
		say "the module build against the debug kernel has warnings (above)"
	fi
	[ -f "$MODULE_KO" ] || die "no $MODULE_KO after the build"
}

# Guest side of a check run, two shell scripts for busybox sh:
#  - kmemleak.sh: two kmemleak scans 5 s apart, prints what they found,
#    exits 1 if anything. kmemleak reports an object only when it is older
#    than 5 s (its fixed minimum age) and unchanged since the previous scan:
#    the first scan takes the checksums, the wait lets every object of the
#    run reach the age, the second one reports.
#  - t_debug_checks, the last suite: this is the debug kernel; lockdep is
#    still on (it switches itself off for good after its first report, after
#    any KASAN report, or when it runs out of room, and then checks
#    nothing); and, when $SHMK_KMEMLEAK_SCRIPT is set (run-vm.sh has no
#    --post-cmd to run it after rmmod), kmemleak.sh.
write_guest_scripts() {
	local dir=$1
	rm -rf "$dir"
	mkdir -p "$dir/debug"
	cat > "$dir/kmemleak.sh" <<'EOF'
#!/bin/sh
# Generated by scripts/debug-kernel.sh: kmemleak scan of the debug VM.
k=/sys/kernel/debug/kmemleak
t0=$(cut -d' ' -f1 /proc/uptime)
if ! echo scan > $k; then
	echo "kmemleak: scan refused (kmemleak disabled? see the kernel log)"
	exit 1
fi
rest=$(awk -v t0="$t0" -v now="$(cut -d' ' -f1 /proc/uptime)" \
	'BEGIN { r = t0 + 5.5 - now; if (r > 0) printf "%.1f", r; else print 0 }')
sleep "$rest"
echo scan > $k
leaks=$(cat $k)
if [ -n "$leaks" ]; then
	echo "kmemleak: $(echo "$leaks" | grep -c '^unreferenced object') unreferenced object(s)"
	echo "$leaks"
	exit 1
fi
echo "kmemleak: no leak"
EOF
	cat > "$dir/debug/t_debug_checks" <<'EOF'
#!/bin/sh
# Generated by scripts/debug-kernel.sh: the last test of the debug VM.
n=2
[ -z "$SHMK_KMEMLEAK_SCRIPT" ] || n=3
echo "1..$n"
fail=0
missing=
dmesg | grep -q 'KernelAddressSanitizer initialized' || missing="$missing KASAN"
[ -r /proc/lockdep_stats ] || missing="$missing lockdep"
[ -e /sys/kernel/debug/kmemleak ] || missing="$missing kmemleak"
if [ -z "$missing" ]; then
	echo "ok 1 - debug kernel $(uname -r): KASAN, lockdep, kmemleak present"
else
	echo "not ok 1 - not a debug kernel ($(uname -r)): missing$missing"
	fail=1
fi
dl=$(awk '$1 == "debug_locks:" { print $2 }' /proc/lockdep_stats 2>/dev/null)
if [ "$dl" = 1 ]; then
	echo "ok 2 - lockdep still active (debug_locks 1)"
	# What it saw of the module: its lock classes (named after the locks).
	echo "# lockdep classes of the module: $(grep -v '^ ' /proc/lockdep 2>/dev/null |
		grep -E ': &?(shmk|arena->|m->(ev_|read_)|sf->lock)' |
		sed 's/.*: //' | sort -u | tr '\n' ' ')"
else
	why=$(dmesg | grep -m1 -E 'Disabling lock debugging|turning off the locking|possible circular|possible recursive|inconsistent lock|BUG: MAX_|DEBUG_LOCKS_WARN_ON|lockdep is turned off' |
		sed 's/^\[[ 0-9.]*\] //')
	echo "not ok 2 - lockdep switched off (debug_locks '${dl:-?}'): ${why:-see the kernel log}"
	fail=1
fi
if [ -n "$SHMK_KMEMLEAK_SCRIPT" ]; then
	if out=$(sh "$SHMK_KMEMLEAK_SCRIPT" 2>&1); then
		echo "ok 3 - $out"
	else
		echo "not ok 3 - $(echo "$out" | head -n 1)"
		echo "$out" | tail -n +2 | sed 's/^/# /'
		fail=1
	fi
fi
exit $fail
EOF
	chmod 755 "$dir/kmemleak.sh" "$dir/debug/t_debug_checks"
}

# MiB a build still needs here: the unpacked source (1.5 GiB) unless it is
# there, the build tree (0.5 GiB), and room to spare.
space_needed() {
	set_paths
	if [ -f "$KDIR/.shmk-built" ] && [ -f "$BZIMAGE" ]; then
		echo 0
	elif [ -f "$SRCDIR/.shmk-unpacked" ]; then
		echo 1024
	else
		echo 3072
	fi
}

cmd_check() {
	local result=$BUILD/check-debug.result args=() have_result=0 a gdir
	local run_vm=${SHMK_RUN_VM:-$ROOT/tests/vm/run-vm.sh} post=0 where
	local need avail prev=''
	for a in "$@"; do
		[ "$prev" = --result ] && result=$a
		[ "$a" = --result ] && have_result=1
		prev=$a
	done
	# A machine without the room for a kernel build skips the suite (one
	# skipped test in the result), saying why; it does not fail it.
	need=$(space_needed)
	mkdir -p "$CACHE"
	avail=$(df -Pm "$CACHE" | awk 'NR == 2 { print $4 }')
	if [ "$need" -gt 0 ] && [ "${avail:-0}" -lt "$need" ]; then
		say "SKIP: $CACHE has ${avail:-?} MiB free, building the debug kernel needs $need MiB (set SHMK_DEBUG_KERNEL_CACHE to a roomier place)"
		mkdir -p "$(dirname "$result")"
		echo "0 0 1" > "$result"
		exit 0
	fi
	build_module
	[ $have_result = 1 ] || args+=(--result "$result")
	gdir=$BUILD/debug-kernel
	write_guest_scripts "$gdir"
	# The leak scan belongs after rmmod (what the module's exit path left
	# behind counts too): there if run-vm.sh has --post-cmd, else at the
	# end of the last suite, before rmmod.
	if "$run_vm" --help | grep -q -- '--post-cmd'; then
		post=1
	fi
	args+=(--extra "$gdir/kmemleak.sh:/usr/libexec/shmk/kmemleak.sh")
	if [ $post = 1 ]; then
		args+=(--post-cmd 'sh /usr/libexec/shmk/kmemleak.sh')
		where="after rmmod (vm/post)"
	else
		args+=(--env SHMK_KMEMLEAK_SCRIPT=/usr/libexec/shmk/kmemleak.sh)
		where="before rmmod (debug/t_debug_checks)"
	fi
	# Under KASAN and lockdep in TCG everything is several times slower
	# than in Debian's kernel: longer per-test and per-case limits.
	args+=(--kernel "$BZIMAGE" --module "$MODULE_KO" --kernel-args "$KARGS"
		--test-timeout 300 --env KT_CASE_TIMEOUT=120)
	say "kernel $BZIMAGE"
	say "module $MODULE_KO; kmemleak scan $where"
	exec "$run_vm" "${args[@]}" "$@" "$gdir/debug"
}

case ${1:-} in
kernel)
	build_kernel
	echo "$BZIMAGE"
	;;
module)
	build_module
	echo "$MODULE_KO"
	;;
check)
	shift
	cmd_check "$@"
	;;
paths)
	set_paths
	printf 'cache %s\nsource %s\nkernel-tree %s\nbzImage %s\nmodule %s\n' \
		"$CACHE" "$SRCDIR" "$KDIR" "$BZIMAGE" "$MODULE_KO"
	;;
-h | --help) usage ;;
*)
	usage >&2
	exit 2
	;;
esac
