#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# One version, VERSION, everywhere it shows: library file name, SONAME,
# shmk_version(), the .pc, the tools' --version, the module's modinfo,
# the Debian changelog, NEWS and the DKMS configuration.
. "${SHMK_TEST_DIR:-$(dirname "$0")}/lib.sh"
cd "$ROOT" || exit 1
major=${VERSION%%.*}
if echo "$VERSION" | grep -Eq '^[0-9]+\.[0-9]+\.[0-9]+$'; then
	ok "VERSION is $VERSION (MAJOR.MINOR.MICRO)"
else
	not_ok "VERSION '$VERSION' is not MAJOR.MINOR.MICRO"
fi
check "library real name lib/libshmk.so.$VERSION" test -f "lib/libshmk.so.$VERSION"
soname=$(readelf -d "lib/libshmk.so.$VERSION" 2>/dev/null | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
check "SONAME libshmk.so.$major (is $soname)" test "$soname" = "libshmk.so.$major"
v=$("$PKG_DIR/mq_static" "/shmk-pkg-version-$$" | sed -n 's/.*libshmk \([^ ]*\) in the same program/\1/p')
check "shmk_version() says $VERSION (says '$v')" test "$v" = "$VERSION"
v=$(PKG_CONFIG_LIBDIR=lib pkg-config --modversion libshmk)
check "pkg-config --modversion libshmk: $VERSION (says '$v')" test "$v" = "$VERSION"
for t in shmkctl shmkexits shmkwaitlat shmksnoop shmktop; do
	v=$("tools/$t" --version 2>&1)
	check "$t --version: '$t (shmk) $VERSION' (says '$v')" test "$v" = "$t (shmk) $VERSION"
done
if [ -f kmod/shmk.ko ]; then
	v=$(modinfo -F version kmod/shmk.ko)
	check "modinfo -F version kmod/shmk.ko: $VERSION (says '$v')" test "$v" = "$VERSION"
else
	not_ok "kmod/shmk.ko not built (make module)"
fi
v=$(dpkg-parsechangelog -l debian/changelog -S Version 2>/dev/null)
check "debian/changelog's last entry: $VERSION (says '$v')" test "$v" = "$VERSION"
check "NEWS has an entry 'shmk $VERSION'" grep -q "^shmk $VERSION " NEWS
v=$(sed 's/@VERSION@/'"$VERSION"'/' dkms.conf.in | sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p')
check "dkms.conf PACKAGE_VERSION: $VERSION (says '$v')" test "$v" = "$VERSION"
check "the symbols file knows shmk_version from $VERSION at most" \
	grep -q "^ shmk_version@SHMK_1 " debian/libshmk0.symbols
done_testing
