#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The guide's first programs, run as the guide runs them (portable
# backend): a ping-pong server and client; a client killed with SIGKILL
# while it holds memory and buffers, which the server survives, reports
# with nothing left owned, and an arena watcher reports as a crash; a new
# client after it; the server's clean end removing the arena.
. "${SHMK_TEST_DIR:-$(dirname "$0")}/lib.sh"

SRV=$(prog pingpong_server)
CLI=$(prog pingpong_client)
WATCH=$(prog exits_watch)
name=guide.$$.pp

start srv.out "$SRV" "$name"
S=$BG
check "server starts" wait_for srv.out '^serving ' 20
"$CLI" "$name" 200 > cli.out 2>&1
rc=$?
[ $rc = 0 ] && grep -q '^200 round trips$' cli.out &&
	ok "client: 200 round trips, every echo checked" ||
	{ not_ok "client: 200 round trips (exit $rc)"; show cli.out; }
check "server: client connected" wait_for srv.out '^client [0-9]+ connected$' 10
check "server: client left (clean close)" wait_for srv.out '^client [0-9]+ left$' 10

# kill -9 of a client that holds blocks and buffers
start watch.out "$WATCH" "$name" 1
W=$BG
check "watcher attached" wait_for watch.out '^watching ' 20
start hold.out "$CLI" "$name" --hold
H=$BG
if wait_for hold.out '^holding$' 20; then
	ok "client holds memory and buffers"
	kill -KILL "$H"
	wait "$H" 2>/dev/null
	if wait_for srv.out 'crashed \(.*\), owns 0 bytes$' 20; then
		ok "server: PEER_CRASHED, the dead client owns 0 bytes"
	else
		not_ok "server: PEER_CRASHED, the dead client owns 0 bytes"
		show srv.out
	fi
	check "watcher: the exit is a crash" wait_for watch.out ' crash( guessed)?$' 20
	wait_exit "$W" 20
	rc=$?
	[ $rc = 0 ] && ok "watcher exits after one exit" ||
		{ not_ok "watcher exits after one exit (status $rc)"; show watch.out; }
else
	not_ok "client holds memory and buffers"
	show hold.out
	kill -KILL "$H" "$W" 2>/dev/null
fi
check "server survived the kill" kill -0 "$S"
"$CLI" "$name" 20 > cli2.out 2>&1
rc=$?
[ $rc = 0 ] && grep -q '^20 round trips$' cli2.out &&
	ok "a new client after the crash: 20 round trips" ||
	{ not_ok "a new client after the crash (exit $rc)"; show cli2.out; }

kill -TERM "$S"
wait_exit "$S" 20
rc=$?
[ $rc = 0 ] && ok "server: SIGTERM, clean close, exit 0" ||
	{ not_ok "server: clean close (status $rc)"; show srv.out; }
check "the arena is gone with its last member" test ! -e "/dev/shm/shmk.$name"
done_testing
