#!/bin/sh
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
# shellcheck disable=SC2046
exec "$cp" --strict --no-tree --terse --show-types \
	--ignore FILE_PATH_CHANGES \
	-f $(ls "$top"/kmod/*.[ch] "$top"/uapi/linux/shmk.h)
