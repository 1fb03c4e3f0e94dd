#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The guide's restarts (portable backend): a server killed with SIGKILL
# under a pinging client, and a new one started (the client sees the
# server gone and back, sends its lost ping again and finishes); a hot
# restart with SHMK_SERVER_TAKEOVER (the old server hands over and exits,
# the client sees the server move and loses nothing).
. "${SHMK_TEST_DIR:-$(dirname "$0")}/lib.sh"

SRV=$(prog pingpong_server)
CLI=$(prog pingpong_client)

# server crash, then a new server
name=guide.$$.sr
start a.out "$SRV" "$name"
A=$BG
check "server A starts" wait_for a.out '^serving ' 20
start cli.out "$CLI" "$name" 150 10
C=$BG
check "client connects" wait_for a.out '^client [0-9]+ connected$' 20
sleep 0.3
kill -KILL "$A"
wait "$A" 2>/dev/null
start b.out "$SRV" "$name"
B=$BG
check "server B starts on the dead server's arena" wait_for b.out '^serving ' 20
wait_exit "$C" 60
rc=$?
[ $rc = 0 ] && grep -q '^150 round trips$' cli.out &&
	ok "client finishes its 150 round trips" ||
	{ not_ok "client finishes its 150 round trips (status $rc)"; show cli.out; }
check "client: SERVER_GONE" grep -q '^server gone' cli.out
check "client: SERVER_BACK" grep -q '^server back: member [0-9]*$' cli.out
kill -TERM "$B"
wait_exit "$B" 20
check "server B: clean exit" test $? = 0

# hot restart
name=guide.$$.hot
start a.out "$SRV" "$name"
A=$BG
check "server A starts" wait_for a.out '^serving ' 20
start cli.out "$CLI" "$name" 150 10
C=$BG
check "client connects" wait_for a.out '^client [0-9]+ connected$' 20
sleep 0.3
start b.out "$SRV" "$name" --takeover
B=$BG
check "server B takes over" wait_for b.out '^serving ' 30
wait_exit "$A" 30
rc=$?
[ $rc = 0 ] && grep -q '^handed over to member [0-9]*$' a.out &&
	ok "server A: HANDED_OVER, then a clean exit" ||
	{ not_ok "server A: HANDED_OVER, then a clean exit (status $rc)"; show a.out; }
wait_exit "$C" 60
rc=$?
[ $rc = 0 ] && grep -q '^150 round trips$' cli.out &&
	ok "client finishes its 150 round trips" ||
	{ not_ok "client finishes its 150 round trips (status $rc)"; show cli.out; }
check "client: SERVER_MOVED" grep -q '^server moved to member [0-9]*$' cli.out
if grep -q '^server gone' cli.out; then
	not_ok "client never saw the server go"
else
	ok "client never saw the server go"
fi
kill -TERM "$B"
wait_exit "$B" 20
check "server B: clean exit" test $? = 0
check "the arena is gone with its last member" test ! -e "/dev/shm/shmk.$name"
done_testing
