#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Self-test of the test harness (not part of make check): proves that
# tap-count.sh counts TAP by the contract and that run-vm.sh catches what it
# must, with a fake "shmk" module and fake tests built in a temp directory.
# Prints TAP.
#   tests/vm/selftest.sh [--tap-only]   (--tap-only: the counting rules, no VM)
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-$ROOT/build}
n=0 failed=0

report() { # report OK NAME
	n=$((n + 1))
	if [ "$1" = 1 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=1
	fi
}

# --- 1. TAP counting rules --------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/shmk-selftest.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

tap_case() { # NAME RC "P F S" TEXT
	local out
	printf '%b' "$4" > "$tmp/tap"
	out=$(
		# shellcheck source=tests/vm/tap-count.sh
		. "$HERE/tap-count.sh"
		tap_report "$1" "$tmp/tap" "$2" > /dev/null
		echo "$TAP_PASSED $TAP_FAILED $TAP_SKIPPED"
	)
	[ "$out" = "$3" ] || echo "# $1: counted $out, want $3"
	report "$([ "$out" = "$3" ] && echo 1)" "tap: $1 -> $3"
}
tap_case pass 0 "2 0 0" '1..2\nok 1 - a\nok 2 - b\n'
tap_case crlf 0 "2 0 0" '1..2\r\nok 1 - a\r\nok 2 - b\r\n'
tap_case plan-last 0 "2 0 0" 'ok 1 - a\nok 2 - b\n1..2\n'
tap_case no-plan 0 "2 1 0" 'ok 1 - a\nok 2 - b\n'
tap_case not-ok 1 "1 1 0" '1..2\nok 1\n# why\nnot ok 2 - b\n'
tap_case not-ok-exit0 0 "1 1 0" '1..2\nok 1\nnot ok 2 - b\n'
tap_case skip-all-77 77 "0 0 1" '1..0 # SKIP no module\n'
tap_case exit77-no-tap 77 "0 0 1" 'nothing\n'
tap_case no-tap 0 "0 1 0" 'nothing\n'
tap_case empty 0 "0 1 0" ''
tap_case timeout 124 "1 1 0" '1..3\nok 1\n'
tap_case timeout-not-ok 124 "0 2 0" '1..3\nnot ok 1\n'
tap_case signal 139 "1 1 0" '1..3\nok 1\n'
tap_case exit2-not-ok 2 "0 1 0" '1..1\nnot ok 1\n'
tap_case bail-out 0 "1 1 0" '1..3\nok 1\nBail out! no device\n'
tap_case todo 0 "1 0 1" '1..2\nok 1 # TODO x\nnot ok 2 # TODO later\n'
tap_case skip-spellings 0 "1 0 2" '1..3\nok 1\nok 2 # skip x\nok 3 #SKIPPED y\n'
tap_case subtests-ignored 0 "1 0 0" '1..1\n    ok 1 - sub\n    not ok 2 - sub\nok 1 - parent\n'
tap_case no-numbers 0 "2 0 0" '1..2\nok\nok - x\n'
tap_case not-tap-words 0 "1 0 0" '1..1\nokay\nok 1\nnot okay\n'
tap_case plan-short 0 "2 1 0" '1..3\nok 1\nok 2\n'
tap_case plan-long 0 "2 1 0" '1..1\nok 1\nok 2\n'

if [ "${1:-}" = --tap-only ]; then
	echo "1..$n"
	exit $failed
fi

# --- 2. The VM harness, against a fake module ---------------------------
kver=$("$ROOT/scripts/kver.sh") || exit 1
kdir=${KDIR:-/lib/modules/$kver/build}
mod=$tmp/mod
mkdir -p "$mod" "$tmp/good" "$tmp/bad" "$tmp/hang" "$tmp/stuck" "$tmp/panic"
cat > "$mod/shmk.c" <<'EOF'
// SPDX-License-Identifier: GPL-2.0
/* Fake shmk for the harness self-test: debugfs shmk/stats and shmk/ctl. */
#include <linux/module.h>
#include <linux/debugfs.h>
#include <linux/seq_file.h>
#include <linux/miscdevice.h>
#include <linux/fs.h>
#include <linux/delay.h>
#include <linux/uaccess.h>

static struct dentry *fake_dir;
static atomic_t fake_arenas = ATOMIC_INIT(0);

static int stats_show(struct seq_file *m, void *v)
{
	int a = atomic_read(&fake_arenas);

	seq_printf(m, "arenas %d\nmembers 0\npages %d\nwaiters 0\n", a, 4 * a);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(stats);

static ssize_t ctl_write(struct file *f, const char __user *ubuf, size_t n,
			 loff_t *pos)
{
	char buf[8] = {};

	if (copy_from_user(buf, ubuf, min(n, sizeof(buf) - 1)))
		return -EFAULT;
	if (!strncmp(buf, "warn", 4))
		WARN_ON(1);
	else if (!strncmp(buf, "leak", 4))
		atomic_inc(&fake_arenas);
	else if (!strncmp(buf, "stuck", 5))
		ssleep(100000);
	else if (!strncmp(buf, "panic", 5))
		panic("shmk selftest panic");
	else
		return -EINVAL;
	return n;
}

static const struct file_operations ctl_fops = {
	.owner = THIS_MODULE,
	.write = ctl_write,
};

static const struct file_operations dev_fops = {
	.owner = THIS_MODULE,
};

static struct miscdevice fake_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "shmk",
	.fops = &dev_fops,
};

static int __init fake_init(void)
{
	int ret = misc_register(&fake_dev);

	if (ret)
		return ret;
	fake_dir = debugfs_create_dir("shmk", NULL);
	debugfs_create_file("stats", 0444, fake_dir, NULL, &stats_fops);
	debugfs_create_file("ctl", 0200, fake_dir, NULL, &ctl_fops);
	return 0;
}

static void __exit fake_exit(void)
{
	debugfs_remove_recursive(fake_dir);
	misc_deregister(&fake_dev);
}
module_init(fake_init);
module_exit(fake_exit);
MODULE_LICENSE("GPL");
EOF
echo 'obj-m := shmk.o' > "$mod/Kbuild"
if ! make -C "$kdir" M="$mod" modules > "$tmp/mod.log" 2>&1; then
	sed 's/^/# /' "$tmp/mod.log"
	report 0 "build the fake module"
	echo "1..$n"
	exit 1
fi

mk() { # DIR/NAME BODY: a /bin/sh test program
	printf '#!/bin/sh\n%s\n' "$2" > "$tmp/$1"
	chmod +x "$tmp/$1"
}
mk good/t_pass 'echo 1..2; echo ok 1 - a; [ -c /dev/shmk ] && echo ok 2 - dev'
mk good/t_skip 'echo "1..0 # SKIP nothing to do"; exit 77'
mk bad/t_fail 'echo 1..2; echo ok 1; echo "not ok 2 - b"; exit 1'
mk bad/t_hang 'echo 1..2; echo ok 1; sleep 100000 & while :; do :; done'
mk bad/t_notap 'echo hello'
mk bad/t_crash 'echo 1..2; echo ok 1; kill -SEGV $$'
mk bad/t_warn 'echo 1..1; echo warn > /sys/kernel/debug/shmk/ctl && echo ok 1'
mk bad/t_leak 'echo 1..1; echo leak > /sys/kernel/debug/shmk/ctl && echo ok 1'
mk bad/t_hold 'setsid sh -c "exec sleep 100000 < /dev/shmk" & echo 1..1; echo ok 1'
mk hang/t_sleep 'echo 1..1; sleep 100000; echo ok 1'
mk stuck/t_stuck 'echo 1..1; echo stuck > /sys/kernel/debug/shmk/ctl; echo ok 1'
mk panic/t_panic 'echo 1..1; echo panic > /sys/kernel/debug/shmk/ctl; echo ok 1'

vm_case() { # NAME "P F S" EXPECTED-EXIT PATTERN... -- run-vm.sh ARGS...
	local name=$1 want=$2 wantrc=$3 pats=() got rc ok=1 p
	shift 3
	while [ "$1" != -- ]; do
		pats+=("$1")
		shift
	done
	shift
	"$HERE/run-vm.sh" --quiet --module "$mod/shmk.ko" \
		--result "$tmp/$name.result" "$@" > "$tmp/$name.out" 2>&1
	rc=$?
	got=$(cat "$tmp/$name.result" 2>/dev/null)
	[ "$got" = "$want" ] || { echo "# $name: result '$got', want '$want'"; ok=0; }
	[ "$rc" = "$wantrc" ] || { echo "# $name: exit $rc, want $wantrc"; ok=0; }
	for p in ${pats[@]+"${pats[@]}"}; do
		grep -q -e "$p" "$tmp/$name.out" || { echo "# $name: no line '$p'"; ok=0; }
	done
	[ $ok = 1 ] || sed -n '/=== VM results/,$p' "$tmp/$name.out" | sed 's/^/# /'
	report $ok "vm: $name"
}
vm_case good "6 0 1" 0 '^PASS good/t_pass (2 ok)' '^SKIP good/t_skip' \
	'^PASS vm/stats' '^PASS vm/rmmod' '^PASS vm/dmesg' -- "$tmp/good"
vm_case bad "7 7 0" 1 'FAIL bad/t_fail: 1 failed' \
	'FAIL bad/t_hang: 1 failed, 1 ok; timed out' \
	'FAIL bad/t_notap: 1 failed, 0 ok; no TAP output' \
	'FAIL bad/t_crash: .*signal 11' \
	'FAIL vm/stats: arenas 1' 'FAIL vm/rmmod' \
	'FAIL vm/dmesg: .*during: bad/t_warn' -- --test-timeout 5 "$tmp/bad"
vm_case vm-timeout "1 2 0" 1 'FAIL vm/run: whole-VM timeout' -- \
	--timeout 15 --test-timeout 1000 "$tmp/hang"
vm_case unkillable "1 2 0" 1 'could not be killed' 'ssleep\|msleep' -- \
	--test-timeout 3 "$tmp/stuck"
vm_case panic "1 2 0" 1 'FAIL vm/run: kernel panic' -- "$tmp/panic"
head -c 4096 /dev/zero > "$tmp/bogus.ko"
vm_case insmod-fails "1 1 0" 1 'FAIL vm/insmod: .*invalid module format' -- \
	--module "$tmp/bogus.ko" "$tmp/good"

echo "1..$n"
exit $failed
