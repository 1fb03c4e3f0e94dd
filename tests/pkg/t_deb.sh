#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The Debian packages: built from a copy of the tree (scripts/build-deb.sh,
# what "make deb" runs), lintian without errors, unpacked with dpkg -x; a
# third-party program built with pkg-config against the unpacked files
# only runs server + client; DKMS builds the module from the unpacked
# shmk-dkms sources.
. "${SHMK_TEST_DIR:-$(dirname "$0")}/lib.sh"
out=$BUILD/pkg-deb
if "$ROOT/scripts/build-deb.sh" "$out" > build-deb.log 2>&1; then
	ok "packages built (dpkg-buildpackage -us -uc -b), lintian: no error"
else
	not_ok "package build or lintian failed (log: $out/build.log)"
	tail -n 30 build-deb.log | sed 's/^/#   /'
fi
# What lintian said (errors fail the line above; the rest is listed).
[ -f "$out/lintian.txt" ] && grep -E '^[EWIPO]:' "$out/lintian.txt" | sed 's/^/# lintian: /'
check "lintian output has no E: line" sh -c "! grep -q '^E:' '$out/lintian.txt'"
u=$WORK/unpacked
mkdir -p "$u"
for p in shmk-dkms libshmk0 libshmk-dev shmk-tools; do
	deb=$(ls "$out/${p}_${VERSION}_"*.deb 2>/dev/null | head -n 1)
	if [ -n "$deb" ] && dpkg -x "$deb" "$u"; then
		ok "$p $VERSION: $(basename "$deb") unpacked"
	else
		not_ok "$p: no ${p}_${VERSION}_*.deb in $out"
	fi
done
ld=$u/usr/lib/$MULTIARCH
for f in "$ld/libshmk.so.$VERSION" "$ld/libshmk.so.0" "$ld/libshmk.so" \
	"$ld/libshmk.a" "$ld/pkgconfig/libshmk.pc" "$u/usr/include/shmk/shmk.h" \
	"$u/usr/include/shmk/linux/shmk.h" "$u/usr/src/shmk-$VERSION/dkms.conf" \
	"$u/lib/udev/rules.d/60-shmk.rules" "$u/usr/share/shmk/70-shmk-group.rules" \
	"$u/usr/sbin/shmkctl" "$u/usr/share/man/man4/shmk.4.gz"; do
	check "unpacked: ${f#"$u"}" test -e "$f"
done
# Each man page in the package of what it documents (both have man7).
has() {	# PACKAGE PATH: the .deb holds PATH
	dpkg-deb -c "$out/${1}_${VERSION}_"*.deb | awk '{ print $6 }' |
		grep -qx "\.$2"
}
for f in man7/shmk-tracing.7.gz man8/shmkctl.8.gz man8/shmkexits.8.gz \
	man8/shmkwaitlat.8.gz man8/shmksnoop.8.gz man8/shmktop.8.gz; do
	check "shmk-tools has /usr/share/man/$f" has shmk-tools "/usr/share/man/$f"
done
for f in man7/libshmk.7.gz man7/shmk.7.gz; do
	check "libshmk-dev has /usr/share/man/$f" has libshmk-dev "/usr/share/man/$f"
done
check "shmk-tracing(7) is in shmk-tools only" sh -c \
	"! dpkg-deb -c '$out/libshmk-dev_${VERSION}_'*.deb | grep -q shmk-tracing"
check "shmk-dkms's postinst registers the module with DKMS" \
	sh -c "dpkg-deb -I '$out/shmk-dkms_${VERSION}_all.deb' postinst | grep -q 'common.postinst'"
check "third-party program builds with pkg-config against the unpacked files only" \
	build_hello "$u" "$ld/pkgconfig" "$WORK/hello"
where=$(LD_LIBRARY_PATH=$ld ldd "$WORK/hello" | awk '/libshmk/ { print $3 }')
check "it loads the unpacked libshmk.so.0 ($where)" test "$where" = "$ld/libshmk.so.0"
v=$(LD_LIBRARY_PATH=$ld "$WORK/hello" version)
check "the unpacked library says shmk_version() $VERSION (says '$v')" test "$v" = "$VERSION"
check "server + client on the portable backend, unpacked libshmk0" \
	run_hello "$WORK/hello" "pkgdeb$$" LD_LIBRARY_PATH="$ld"
check "static build against the unpacked libshmk.a" \
	build_hello "$u" "$ld/pkgconfig" "$WORK/hello-static" --static
check "server + client on the portable backend, static" \
	run_hello "$WORK/hello-static" "pkgdebs$$"
for t in shmkctl shmkexits shmkwaitlat shmksnoop shmktop; do
	v=$("$u/usr/sbin/$t" --version 2>&1)
	check "unpacked $t --version: $v" test "$v" = "$t (shmk) $VERSION"
done
kver=$("$ROOT/scripts/kver.sh" 2>/dev/null)
if [ -n "$kver" ] && command -v dkms >/dev/null; then
	mkdir -p "$WORK/dkms"
	if dkms build -m shmk -v "$VERSION" -k "$kver" --sourcetree "$u/usr/src" \
		--dkmstree "$WORK/dkms" > dkms.log 2>&1; then
		ko=$WORK/dkms/shmk/$VERSION/$kver/$(uname -m)/module/shmk.ko
		check "dkms build of the unpacked shmk-dkms for $kver: devname:shmk" \
			sh -c "modinfo -F alias '$ko' | grep -qx devname:shmk"
	else
		not_ok "dkms build of the unpacked shmk-dkms sources failed"
		tail -n 20 dkms.log | sed 's/^/#   /'
	fi
else
	not_ok "no target kernel headers or no dkms (scripts/install-deps.sh)"
fi
done_testing
