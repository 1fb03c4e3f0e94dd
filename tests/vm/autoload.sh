#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The autoload run of make check: boot the VM without loading any module,
# install a shmk.ko (the DKMS build) into the guest's
# /lib/modules/$(uname -r)/updates/dkms/, run the real depmod/modprobe
# (kmod) there, create /dev/shmk as the static node systemd would, and let
# an open() by an unprivileged user load the module; then a library test
# on it and rmmod. The guest half is autoload-guest.sh (TAP).
#
#   tests/vm/autoload.sh --module KO [--result FILE] [--kernel VMLINUZ]
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
module='' result='' kernel=${VMLINUZ:-}
while [ $# -gt 0 ]; do
	case $1 in
	--module) module=${2:?}; shift ;;
	--result) result=${2:?}; shift ;;
	--kernel) kernel=${2:?}; shift ;;
	*) echo "autoload: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done
[ -n "$module" ] || { echo "autoload: --module KO is required" >&2; exit 2; }
[ -f "$module" ] || { echo "autoload: $module not found (make dkms-build)" >&2; exit 2; }
if [ -z "$kernel" ]; then
	kernel=/boot/vmlinuz-$("$ROOT/scripts/kver.sh")
fi
kver=${kernel##*/vmlinuz-}
kmod=$(command -v kmod) || { echo "autoload: kmod not found" >&2; exit 2; }
t_arena=$ROOT/tests/integ/t_arena
[ -x "$t_arena" ] || { echo "autoload: $t_arena not built (make tests)" >&2; exit 2; }
exec "$HERE/run-vm.sh" --kernel "$kernel" --quiet --test-timeout 180 \
	${result:+--result "$result"} \
	--extra "$module:/lib/modules/$kver/updates/dkms/shmk.ko" \
	--extra "$kmod:/usr/local/sbin/kmod" \
	--extra "$t_arena:/usr/local/libexec/shmk/t_arena" \
	--extra "$HERE/autoload-guest.sh:/usr/local/libexec/shmk/autoload-guest.sh" \
	--extra "$ROOT/VERSION:/usr/local/libexec/shmk/VERSION" \
	--cmd "sh /usr/local/libexec/shmk/autoload-guest.sh"
