#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# make install DESTDIR=...: the tree it installs (install-manifest.txt),
# a program built against that tree with pkg-config only (shared, static,
# --define-prefix) runs server + client; make uninstall removes it all.
. "${SHMK_TEST_DIR:-$(dirname "$0")}/lib.sh"
root=$WORK/root
if make -C "$ROOT" install DESTDIR="$root" > install.log 2>&1; then
	ok "make install DESTDIR=$root"
else
	not_ok "make install DESTDIR=... failed"
	tail -n 30 install.log | sed 's/^/#   /'
	done_testing
fi
# Installed tree, minus the module sources (their list is kmod/'s).
(cd "$root" && find . \( -type f -o -type l \) | sed 's|^\.||' |
	sed "s/$VERSION/@VERSION@/g" | grep -v '^/usr/src/shmk-@VERSION@/kmod/' |
	LC_ALL=C sort) > tree.txt
grep -v '^#' "$PKG_DIR/install-manifest.txt" > manifest.txt
if diff -u manifest.txt tree.txt > tree.diff; then
	ok "installed tree is install-manifest.txt ($(wc -l < tree.txt) files)"
else
	not_ok "installed tree differs from install-manifest.txt"
	sed 's/^/#   /' tree.diff | head -n 40
fi
src=$root/usr/src/shmk-$VERSION
missing=
for f in "$ROOT"/kmod/*.c "$ROOT"/kmod/*.h "$ROOT"/kmod/Kbuild; do
	case $f in *.mod.c) continue ;; esac	# Kbuild's, when built
	[ -f "$src/kmod/$(basename "$f")" ] || missing="$missing $(basename "$f")"
done
check "DKMS tree has every kmod/ source${missing:+ (missing:$missing)}" test -z "$missing"
extra=$(cd "$src" && find . -name '*.o' -o -name '*.ko' -o -name '*.mod*' -o -name '*.cmd' |
	tr '\n' ' ')
check "DKMS tree has no build output${extra:+ (has: $extra)}" test -z "$extra"
check "dkms.conf says PACKAGE_VERSION=\"$VERSION\"" \
	grep -qx "PACKAGE_VERSION=\"$VERSION\"" "$src/dkms.conf"
pc=$root/usr/local/lib/pkgconfig/libshmk.pc
check "libshmk.pc: paths relative to \${prefix}" \
	sh -c "grep -qx 'libdir=\${prefix}/lib' '$pc' && grep -qx 'includedir=\${prefix}/include' '$pc'"
check "uapi header in the project's include folder, not include/linux" \
	sh -c "test -f '$root/usr/local/include/shmk/linux/shmk.h' && test ! -e '$root/usr/local/include/linux'"
pcdir=$root/usr/local/lib/pkgconfig
libdir=$root/usr/local/lib
check "third-party program builds with pkg-config against DESTDIR only" \
	build_hello "$root" "$pcdir" "$WORK/hello"
where=$(LD_LIBRARY_PATH=$libdir ldd "$WORK/hello" | awk '/libshmk/ { print $3 }')
check "it loads libshmk.so.0 from DESTDIR ($where)" test "$where" = "$libdir/libshmk.so.0"
check "server + client on the portable backend (shared library)" \
	run_hello "$WORK/hello" "pkginst$$" LD_LIBRARY_PATH="$libdir"
check "static build with pkg-config --static (libshmk.a)" \
	build_hello "$root" "$pcdir" "$WORK/hello-static" --static
check "server + client on the portable backend (static)" \
	run_hello "$WORK/hello-static" "pkgstat$$"
c=$(PKG_CONFIG_PATH=$pcdir PKG_CONFIG_LIBDIR= pkg-config --define-prefix --cflags libshmk | sed 's/ *$//')
check "pkg-config --define-prefix finds the relocated tree ($c)" \
	test "$c" = "-I$root/usr/local/include/shmk"
if make -C "$ROOT" uninstall DESTDIR="$root" > uninstall.log 2>&1; then
	left=$(cd "$root" && find . \( -type f -o -type l \) | head -n 20)
	check "make uninstall removes every file${left:+ (left: $left)}" test -z "$left"
else
	not_ok "make uninstall failed"
	tail -n 20 uninstall.log | sed 's/^/#   /'
fi
done_testing
