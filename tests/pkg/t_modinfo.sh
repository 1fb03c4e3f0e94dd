#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The module as built in the tree and as DKMS built it (make dkms-build):
# the aliases that make /dev/shmk autoload, the version, the signature.
. "${SHMK_TEST_DIR:-$(dirname "$0")}/lib.sh"
cd "$ROOT" || exit 1
minor=$(sed -n 's/^#define SHMK_MINOR[[:space:]]*\([0-9]*\).*/\1/p' kmod/main.c)
check "fixed misc minor ($minor) in 243-254, devices.txt's local range" \
	test "${minor:-0}" -ge 243 -a "${minor:-0}" -le 254
kver=$(scripts/kver.sh 2>/dev/null)
dkms_ko=$BUILD/dkms/tree/shmk/$VERSION/$kver/$(uname -m)/module/shmk.ko
for ko in kmod/shmk.ko "$dkms_ko"; do
	if [ ! -f "$ko" ]; then
		not_ok "$ko not built (make module / make dkms-build)"
		continue
	fi
	aliases=$(modinfo -F alias "$ko" | tr '\n' ' ')
	check "$ko: alias devname:shmk ($aliases)" sh -c "modinfo -F alias '$ko' | grep -qx devname:shmk"
	check "$ko: alias char-major-10-$minor" sh -c "modinfo -F alias '$ko' | grep -qx char-major-10-$minor"
	v=$(modinfo -F version "$ko")
	check "$ko: version $VERSION (says '$v')" test "$v" = "$VERSION"
	v=$(modinfo -F vermagic "$ko" | cut -d' ' -f1)
	check "$ko: built for $kver (vermagic $v)" test "$v" = "$kver"
done
if [ -f "$dkms_ko" ]; then
	s=$(modinfo -F signer "$dkms_ko")
	check "DKMS signed its build (signer: '$s')" test -n "$s"
fi
done_testing
