#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Build the Debian packages (debian/) from a copy of the source tree, so
# that dh_auto_clean never touches the work tree, and run lintian on them.
#   scripts/build-deb.sh OUTDIR
# OUTDIR gets the .deb files, the .changes and .buildinfo, build.log and
# lintian.txt (lintian's output). Exit status: 0 iff the packages were
# built and lintian reported no error.
set -eu
out=${1:?usage: scripts/build-deb.sh OUTDIR}
root=$(cd "$(dirname "$0")/.." && pwd)
version=$(cat "$root/VERSION")
for t in dpkg-buildpackage dh lintian; do
	command -v "$t" >/dev/null || {
		echo "build-deb: $t not found: run scripts/install-deps.sh (as root)" >&2
		exit 2
	}
done
rm -rf "$out"
src=$out/src/shmk-$version
mkdir -p "$src"
out=$(cd "$out" && pwd)
src=$out/src/shmk-$version
# The files git knows (tracked, or new and not ignored); without git,
# everything but build output.
cd "$root"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git ls-files -z --cached --others --exclude-standard |
		xargs -0 sh -c 'for f; do [ ! -e "$f" ] || printf "%s\0" "$f"; done' sh |
		tar --null -T - -cf - | tar -xf - -C "$src"
else
	tar --exclude=./build --exclude=.git -cf - . | tar -xf - -C "$src"
fi
echo "build-deb: building in $src" >&2
if ! (cd "$src" && dpkg-buildpackage -us -uc -b) > "$out/build.log" 2>&1; then
	tail -n 40 "$out/build.log" >&2
	echo "build-deb: dpkg-buildpackage failed (log: $out/build.log)" >&2
	exit 1
fi
mv "$out"/src/*.deb "$out"/src/*.changes "$out"/src/*.buildinfo "$out"/ 2>/dev/null || true
ls "$out"/*.deb >&2
changes=$(ls "$out"/*.changes)
# --fail-on error: warnings, info and pedantic tags and overrides are listed
# (and explained in tests/pkg/README.md),
# errors fail.
set +e
lintian --fail-on error --display-info --pedantic --show-overrides "$changes" > "$out/lintian.txt" 2>&1
rc=$?
set -e
cat "$out/lintian.txt" >&2
[ $rc -eq 0 ] || echo "build-deb: lintian reported errors" >&2
exit $rc
