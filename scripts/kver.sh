#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Print the Debian cloud kernel version shmk targets: the newest one whose
# headers and image are both installed. Never the host's uname -r.
for d in $(ls -d /lib/modules/*-cloud-amd64/build 2>/dev/null | sort -V -r); do
	v=${d#/lib/modules/}
	v=${v%/build}
	if [ -f "/boot/vmlinuz-$v" ]; then
		echo "$v"
		exit 0
	fi
done
echo "kver: no Debian cloud kernel with headers and image (run scripts/install-deps.sh)" >&2
exit 1
