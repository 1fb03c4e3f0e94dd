# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# Shared by the tests/pkg scripts: TAP output and where things are. The
# runner (tests/run-host.sh) gives every test a fresh empty cwd and
# SHMK_TEST_DIR (this directory).
set -u
PKG_DIR=${SHMK_TEST_DIR:-$(cd "$(dirname "$0")" && pwd)}
ROOT=$(cd "$PKG_DIR/../.." && pwd)
VERSION=$(cat "$ROOT/VERSION")
BUILD=${BUILD:-$ROOT/build}
MULTIARCH=$(cc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
WORK=$(pwd)
T_N=0 T_FAIL=0

ok() {
	T_N=$((T_N + 1))
	echo "ok $T_N - $*"
}

not_ok() {
	T_N=$((T_N + 1))
	T_FAIL=$((T_FAIL + 1))
	echo "not ok $T_N - $*"
}

# check DESCRIPTION COMMAND...: one test line from COMMAND's status; its
# output is shown indented when it fails.
check() {
	c_desc=$1
	shift
	if c_out=$("$@" 2>&1); then
		ok "$c_desc"
	else
		not_ok "$c_desc"
		printf '%s\n' "$c_out" | tail -n 30 | sed 's/^/#   /'
	fi
}

# Indent a command's output (subtest TAP lines do not count).
indent() {
	sed 's/^/    /'
}

done_testing() {
	echo "1..$T_N"
	[ "$T_FAIL" -eq 0 ]
	exit $?
}

# build_hello SYSROOT PCDIR OUT [--static]: compile thirdparty/hello.c
# with pkg-config against the tree at SYSROOT only; every shmk header the
# compiler read must come from SYSROOT.
build_hello() {
	bh_root=$1 bh_pcdir=$2 bh_out=$3 bh_static=${4:-}
	bh_cflags=$(PKG_CONFIG_SYSROOT_DIR=$bh_root PKG_CONFIG_LIBDIR=$bh_pcdir \
		pkg-config --cflags libshmk) || return 1
	if [ -n "$bh_static" ]; then
		bh_libs=$(PKG_CONFIG_SYSROOT_DIR=$bh_root PKG_CONFIG_LIBDIR=$bh_pcdir \
			pkg-config --static --libs libshmk) || return 1
		bh_libs="-static $bh_libs"
	else
		bh_libs=$(PKG_CONFIG_SYSROOT_DIR=$bh_root PKG_CONFIG_LIBDIR=$bh_pcdir \
			pkg-config --libs libshmk) || return 1
	fi
	echo "cc $bh_cflags ... $bh_libs"
	# shellcheck disable=SC2086 # word lists from pkg-config
	cc -std=c11 -Wall -Wextra -Werror -MD -MF "$bh_out.d" $bh_cflags \
		-o "$bh_out" "$PKG_DIR/thirdparty/hello.c" $bh_libs || return 1
	bh_foreign=$(tr ' \\' '\n\n' < "$bh_out.d" | grep -E 'shmk' |
		grep -v -e "^$bh_root/" -e 'thirdparty/hello.c' -e "^$bh_out" -e '^$' || true)
	if [ -n "$bh_foreign" ]; then
		echo "shmk headers from outside $bh_root: $bh_foreign"
		return 1
	fi
}

# run_hello PROGRAM NAME [ENV...]: server and client on the portable
# backend, the client started once the server says it is ready (through a
# FIFO: no sleeping); 0 iff both exit 0.
run_hello() {
	rh_prog=$1 rh_name=$2
	shift 2
	rm -f ready.fifo
	mkfifo ready.fifo || return 1
	env SHMK_BACKEND=portable "$@" "$rh_prog" server "$rh_name" 3 \
		3> ready.fifo > server.out 2>&1 &
	rh_pid=$!
	rh_ready=
	read -r rh_ready < ready.fifo
	if [ "$rh_ready" = ready ]; then
		env SHMK_BACKEND=portable "$@" "$rh_prog" client "$rh_name" > client.out 2>&1
		rh_c=$?
	else
		echo "server did not get ready" > client.out
		rh_c=1
	fi
	wait "$rh_pid"
	rh_s=$?
	cat server.out client.out
	echo "server exit $rh_s, client exit $rh_c"
	[ "$rh_s" -eq 0 ] && [ "$rh_c" -eq 0 ]
}
