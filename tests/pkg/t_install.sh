#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# make install DESTDIR=...: the tree it installs (install-manifest.txt),
# a program built against that tree with pkg-config only (shared, static,
# --define-prefix) runs server + client; the installed examples (C, C++)
# build there with their Makefile, the C++ wrapper's test too, and run;
# the installed Python package loads the installed library and runs its
# example; make uninstall removes it all.
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

# The examples as installed: their Makefile, pkg-config, DESTDIR only.
ex=$WORK/examples
cp -r "$root/usr/local/share/doc/shmk/examples" "$ex"
strict="-O2 -Wall -Wextra -Werror -MD"
check "installed examples build with their Makefile and pkg-config (DESTDIR only)" \
	env PKG_CONFIG_SYSROOT_DIR="$root" PKG_CONFIG_LIBDIR="$pcdir" \
	make -C "$ex" CFLAGS="$strict" CXXFLAGS="$strict"
# every shmk header they read came from DESTDIR (shmk.hpp included)
foreign=$(cat "$ex"/*.d 2>/dev/null | tr ' \\' '\n\n' | grep -E 'shmk[^/]*\.h' |
	grep -v -e "^$root/" -e "^$ex/" -e '^[a-z_]*\.c$' | sort -u | tr '\n' ' ')
check "their shmk headers are DESTDIR's${foreign:+ (not: $foreign)}" test -z "$foreign"
check "shmk.hpp read from DESTDIR" grep -q "$root/usr/local/include/shmk/shmk.hpp" "$ex/pingpong.d"
where=$(LD_LIBRARY_PATH=$libdir ldd "$ex/wait_wake" | awk '/libshmk/ { print $3 }')
check "they load libshmk.so.0 from DESTDIR ($where)" test "$where" = "$libdir/libshmk.so.0"
run_ex() {
	env SHMK_BACKEND=portable LD_LIBRARY_PATH="$libdir" "$@"
}
out=$(run_ex "$ex/wait_wake" "exinst$$" 200 2>&1)
check "installed wait_wake runs (${out:-no output})" test "${out%%;*}" = "200 turns"
out=$(run_ex "$ex/robust_lock" "exlock$$" --rounds 1 2>&1 | tail -n 1)
check "installed robust_lock runs ($out)" test "$out" = "recovered 1 times; counters a=1 b=1"
out=$(run_ex "$ex/raw_queue" "exq$$" 40 4 2>&1 | tail -n 1)
check "installed raw_queue runs ($out)" test "${out%%, in*}" = "consumer: 40 received in order"
# run_pair NAME PROGRAM...: PROGRAM server NAME, then (once it says it
# serves: a FIFO, no sleeping) PROGRAM client NAME 20, then SIGTERM.
run_pair() {
	rp_name=$1
	shift
	rm -f serve.fifo
	mkfifo serve.fifo || return 1
	# not through run_ex: a backgrounded function is a subshell, and
	# $! would be its pid, not the server's
	env SHMK_BACKEND=portable LD_LIBRARY_PATH="$libdir" "$@" server \
		"$rp_name" > serve.fifo 2>&1 &
	rp_pid=$!
	exec 5< serve.fifo
	IFS= read -r rp_line <&5
	echo "server: $rp_line"
	if [ "$rp_line" != "serving arena '$rp_name'" ]; then
		kill -KILL $rp_pid; wait $rp_pid; exec 5<&-
		return 1
	fi
	run_ex "$@" client "$rp_name" 20 || { kill -KILL $rp_pid; wait $rp_pid; exec 5<&-; return 1; }
	kill -TERM $rp_pid
	wait $rp_pid
	rp_s=$?
	exec 5<&-
	return $rp_s
}
check "installed C++ example (shmk.hpp): server + client" run_pair "excpp$$" "$ex/pingpong"
# The C++ wrapper's test, built against DESTDIR with pkg-config.
cx=$(PKG_CONFIG_SYSROOT_DIR=$root PKG_CONFIG_LIBDIR=$pcdir pkg-config --cflags --libs libshmk)
# shellcheck disable=SC2086 # word list from pkg-config
check "tests/cpp/t_cpp.cpp builds with g++ -std=c++17 -Werror and pkg-config (DESTDIR)" \
	g++ -std=c++17 -Wall -Wextra -Werror -o t_cpp "$ROOT/tests/cpp/t_cpp.cpp" $cx -pthread
check "and passes on the installed shared library" run_ex ./t_cpp
# The Python package as installed: it loads the installed library.
pydir=$root/usr/local/lib/python3/dist-packages
run_py() {
	env PYTHONPATH="$pydir" SHMK_BACKEND=portable LD_LIBRARY_PATH="$libdir" python3 "$@"
}
py=$(run_py -c 'import shmk
print(shmk.__file__)
print([l.split()[-1] for l in open("/proc/self/maps") if "libshmk" in l][0])' 2>&1)
check "installed Python package: from DESTDIR, loads DESTDIR's library ($(echo $py))" \
	test "$py" = "$(printf '%s\n%s' "$pydir/shmk/__init__.py" "$(realpath "$libdir/libshmk.so.0")")"
check "installed Python example: server + client" \
	run_pair "expy$$" env PYTHONPATH="$pydir" python3 "$ex/pingpong.py"

if make -C "$ROOT" uninstall DESTDIR="$root" > uninstall.log 2>&1; then
	left=$(cd "$root" && find . \( -type f -o -type l \) | head -n 20)
	check "make uninstall removes every file${left:+ (left: $left)}" test -z "$left"
else
	not_ok "make uninstall failed"
	tail -n 20 uninstall.log | sed 's/^/#   /'
fi
done_testing
