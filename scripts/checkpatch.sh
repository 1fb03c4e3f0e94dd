#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Run the kernel's checkpatch.pl --strict over the module and the uapi header.
# checkpatch comes from Debian's linux-source-6.1, unpacked on first use.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
src=${LINUX_SRC:-$top/build/linux-source-6.1}
cp="$src/scripts/checkpatch.pl"
if [ ! -x "$cp" ]; then
	tarball=/usr/src/linux-source-6.1.tar.xz
	[ -r "$tarball" ] || "$top/scripts/install-deps.sh" --lint
	echo "checkpatch: unpacking scripts from $tarball" >&2
	mkdir -p "$top/build"
	tar -xJf "$tarball" -C "$top/build" \
		linux-source-6.1/scripts linux-source-6.1/.checkpatch.conf 2>/dev/null ||
		tar -xJf "$tarball" -C "$top/build" linux-source-6.1/scripts
fi
common="--strict --no-tree --terse --show-types --ignore FILE_PATH_CHANGES"
# The module: everything checkpatch has. Generated *.mod.c files excluded.
# shellcheck disable=SC2046,SC2086
"$cp" $common -f $(ls "$top"/kmod/*.[ch] | grep -v '\.mod\.c$') || rc=1
# The uapi header cannot use BIT(): it is not visible to userspace.
# shellcheck disable=SC2086
"$cp" $common --ignore BIT_MACRO -f "$top/uapi/linux/shmk.h" || rc=1
exit "${rc:-0}"
