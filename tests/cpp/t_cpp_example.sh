#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# bindings/cpp/examples/pingpong.cpp (built here as cpp_pingpong): --help,
# bad arguments, a client started before its server (it waits for it),
# a client holding memory killed with SIGKILL (the server reports the
# crash, 0 bytes owned, and goes on), a clean SIGTERM end. The server's
# output is read line by line through a FIFO: no sleeping. POSIX sh (and
# busybox, for the VM).
set -u
DIR=${SHMK_TEST_DIR:-$(cd "$(dirname "$0")" && pwd)}
P=$DIR/cpp_pingpong
N=0 FAIL=0
ok() { N=$((N + 1)); echo "ok $N - $*"; }
not_ok() { N=$((N + 1)); FAIL=$((FAIL + 1)); echo "not ok $N - $*"; }
check() { d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }
# expect REGEX: read server lines (fd 3) until one matches (the runner's
# timeout bounds it; every program here ends or is killed).
expect() {
	while IFS= read -r line <&3; do
		echo "# server: $line"
		printf '%s\n' "$line" | grep -qE -- "$1" && return 0
	done
	return 1
}
[ -x "$P" ] || { echo "not ok 1 - cpp_pingpong built"; echo "1..1"; exit 1; }

"$P" --help > out 2> err; rc=$?
check "--help: usage on stdout, exit 0" \
	sh -c "[ $rc = 0 ] && head -n 1 out | grep -q '^usage: pingpong' && [ ! -s err ]"
"$P" client x 0 > out 2> err; rc=$?
check "client x 0: exit 2, says N must be positive" \
	sh -c "[ $rc = 2 ] && grep -q 'positive number' err && grep -q usage err && [ ! -s out ]"
"$P" frob > out 2> err; rc=$?
check "an unknown mode: exit 2" sh -c "[ $rc = 2 ] && grep -q \"'frob'\" err"

name=t_cpp_ex.$$
# The client first: SHMK_CLIENT_WAIT_SERVER makes it wait for the server.
mkfifo c.fifo s.fifo
"$P" client "$name" 50 > c.fifo 2>&1 &
cpid=$!
exec 4< c.fifo
"$P" server "$name" > s.fifo 2>&1 &
spid=$!
exec 3< s.fifo
check "server: serving" expect "^serving arena '$name'"
cat <&4 > c.out
wait $cpid; rc=$?
check "a client started before the server waited for it, made 50 round trips" \
	sh -c "[ $rc = 0 ] && grep -q '^50 round trips' c.out"
exec 4<&-
check "server: that client left" expect "left$"

mkfifo h.fifo
"$P" client "$name" --hold > h.fifo 2>&1 &
hpid=$!
exec 4< h.fifo
IFS= read -r l1 <&4; IFS= read -r l2 <&4
check "a client holding memory" test "$l1 $l2" = "connected holding"
kill -KILL $hpid
check "it was killed: the server reports the crash, 0 bytes left owned" \
	expect "crashed \(how [0-9]+, status -?[0-9]+\), owns 0 bytes$"
"$P" client "$name" 10 > out 2>&1
check "the server still serves: 10 round trips" grep -q '10 round trips' out
kill -TERM $spid
wait $spid
check "SIGTERM: the server ends cleanly (exit 0)" test $? -eq 0
check "nothing left in /dev/shm" sh -c "! ls /dev/shm 2>/dev/null | grep -q '$name'"
echo "1..$N"
[ $FAIL = 0 ]
