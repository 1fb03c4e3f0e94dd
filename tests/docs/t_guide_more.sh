#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The rest of the guide, run (portable backend): publish to two
# subscribers; the epoll server under a ping-pong client; the backend
# choice; the shmkctl commands of the debugging section.
. "${SHMK_TEST_DIR:-$(dirname "$0")}/lib.sh"

PUB=$(prog publisher)
SUB=$(prog subscriber)
EPS=$(prog epoll_server)
CLI=$(prog pingpong_client)
BE=$(prog backend)

# publish to subscribers: both get the ticks, from one buffer each time
name=guide.$$.pub
start pub.out "$PUB" "$name"
P=$BG
check "publisher starts" wait_for pub.out '^publishing ' 20
start s1.out "$SUB" "$name" 5
S1=$BG
"$SUB" "$name" 5 > s2.out 2>&1
r2=$?
wait_exit "$S1" 30
r1=$?
for i in 1 2; do
	eval "r=\$r$i"
	[ "$r" = 0 ] && [ "$(grep -c '^tick [0-9]*$' "s$i.out")" = 5 ] &&
		ok "subscriber $i: 5 published ticks" ||
		{ not_ok "subscriber $i: 5 published ticks (status $r)"; show "s$i.out"; }
done
kill -TERM "$P"
wait_exit "$P" 20
check "publisher: clean exit" test $? = 0

# the epoll server
name=guide.$$.ep
start ep.out "$EPS" "$name"
E=$BG
check "epoll server starts" wait_for ep.out '^serving ' 20
"$CLI" "$name" 100 > cli.out 2>&1
rc=$?
[ $rc = 0 ] && grep -q '^100 round trips$' cli.out &&
	ok "client against the epoll server: 100 round trips" ||
	{ not_ok "client against the epoll server (exit $rc)"; show cli.out; }
check "epoll server: client connected" grep -q '^client [0-9]* connected$' ep.out

# the debugging section's shmkctl commands, on the live arena
CTL=$ROOT/tools/shmkctl
if [ -x "$CTL" ]; then
	check "shmkctl -b portable arenas lists the arena" \
		sh -c "'$CTL' -b portable arenas 2>/dev/null | grep -q ' $name '"
	check "shmkctl -b portable show NAME" \
		sh -c "'$CTL' -b portable show '$name' | grep -q '^arena $name backend portable'"
	check "shmkctl -b portable -w show NAME" \
		sh -c "'$CTL' -b portable -w show '$name' | grep -q '^arena $name '"
else
	not_ok "tools/shmkctl built (make tools)"
fi
kill -TERM "$E"
wait_exit "$E" 20
check "epoll server: SIGTERM through its signalfd, exit 0" test $? = 0

# choosing a backend
check "backend portable: the portable backend" \
	sh -c "'$BE' portable | grep -q ': backend portable, member 1 of 64, heap '"
check "SHMK_BACKEND=portable: the portable backend" \
	sh -c "SHMK_BACKEND=portable '$BE' | grep -q ': backend portable,'"
out=$(SHMK_BACKEND=bogus "$BE" 2>&1)
rc=$?
[ $rc = 1 ] && [ "$out" = "backend: Invalid argument" ] &&
	ok "SHMK_BACKEND=bogus: EINVAL" ||
	not_ok "SHMK_BACKEND=bogus: EINVAL (status $rc: $out)"
done_testing
