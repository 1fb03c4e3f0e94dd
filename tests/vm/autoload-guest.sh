#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest half of tests/vm/autoload.sh (busybox sh in the test VM, root, no
# module loaded). Prints TAP.
d=/usr/local/libexec/shmk
kver=$(uname -r)
version=$(cat "$d/VERSION")
n=0 fail=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n - $*"; }
check() {
	desc=$1
	shift
	if out=$("$@" 2>&1); then ok "$desc"; else
		not_ok "$desc"
		echo "$out" | tail -n 20 | sed 's/^/#   /'
	fi
}
# The real kmod tools (the kernel runs /proc/sys/kernel/modprobe).
for t in modprobe depmod modinfo; do
	ln -sf /usr/local/sbin/kmod "/usr/local/sbin/$t"
done
echo /usr/local/sbin/modprobe > /proc/sys/kernel/modprobe

check "shmk is not loaded at the start" test ! -e /sys/module/shmk
check "depmod -a $kver" /usr/local/sbin/depmod -a "$kver"
line=$(grep '^shmk ' "/lib/modules/$kver/modules.devname" 2>/dev/null)
check "modules.devname: '$line'" test "$line" = "shmk shmk c10:249"
aliases=$(/usr/local/sbin/modinfo -F alias shmk 2>&1 | tr '\n' ' ')
check "modinfo -F alias shmk: devname:shmk ($aliases)" \
	sh -c "/usr/local/sbin/modinfo -F alias shmk | grep -qx devname:shmk"
check "modinfo -F alias shmk: char-major-10-249" \
	sh -c "/usr/local/sbin/modinfo -F alias shmk | grep -qx char-major-10-249"
# What systemd's kmod-static-nodes.service would create at boot.
/usr/local/sbin/kmod static-nodes --format=tmpfiles --output=/tmp/static-nodes.conf
node=$(grep ' /dev/shmk ' /tmp/static-nodes.conf)
check "kmod static-nodes: '$node'" sh -c "echo '$node' | grep -q '^c! /dev/shmk .* 10:249$'"
rm -f /dev/shmk
# Mode 0666, as 60-shmk.rules (static_node=shmk) sets it.
check "static node /dev/shmk c 10 249, mode 0666" mknod -m 0666 /dev/shmk c 10 249
check "opening it as user nobody loads the module" \
	su -s /bin/sh nobody -c 'dd if=/dev/shmk of=/dev/null count=0 2>/dev/null; test -e /sys/module/shmk'
v=$(cat /sys/module/shmk/version 2>/dev/null)
check "the loaded module is version $version (says '$v')" test "$v" = "$version"
src=$(/usr/local/sbin/modinfo -n shmk 2>&1)
check "it is the one in /lib/modules/$kver/updates/dkms ($src)" \
	sh -c "/usr/local/sbin/modinfo -n shmk | grep -q '/updates/dkms/shmk.ko$'"
if out=$(SHMK_BACKEND=kmod SHMK_TEST_DIR=$d "$d/t_arena" 2>&1); then
	ok "integ/t_arena on the autoloaded module (kmod backend)"
	echo "$out" | grep -E '^(not )?ok' | sed 's/^/    /'
else
	not_ok "integ/t_arena on the autoloaded module failed"
	echo "$out" | tail -n 30 | sed 's/^/#   /'
fi
check "rmmod shmk" rmmod shmk
check "nothing left: /sys/module/shmk is gone" test ! -e /sys/module/shmk
echo "1..$n"
[ "$fail" -eq 0 ]
