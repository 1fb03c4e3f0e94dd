// SPDX-License-Identifier: MIT
/*
 * Guide, part 1: a ping-pong server. Every message goes back to its
 * sender in the buffer it came in (no copy). Events are printed: clients
 * connecting, leaving, crashing; a new server taking over.
 *
 *   pingpong_server [NAME] [--takeover]
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <shmk_msg.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static const char *how_name(uint32_t how)
{
	switch (how) {
	case SHMK_END_DETACH:	return "detach";
	case SHMK_END_EXIT:	return "exit";
	case SHMK_END_SIGNAL:	return "signal";
	case SHMK_END_CLOSE:	return "close";
	}
	return "unknown";
}

int main(int argc, char **argv)
{
	/* no SA_RESTART: a signal ends a wait in shmk_session_recv() */
	struct sigaction sa = { .sa_handler = on_signal };
	const char *name = argc > 1 ? argv[1] : "pingpong";
	struct shmk_server_opts o = { 0 };
	struct shmk_session *s;
	struct shmk_msg m;
	uint64_t used;
	int r;

	if (argc > 2 && !strcmp(argv[2], "--takeover"))
		o.flags |= SHMK_SERVER_TAKEOVER;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	/* {start} */
	r = shmk_server_start(name, &o, &s);
	if (r < 0) {
		fprintf(stderr, "server: %s: %s (%s)\n", name, strerror(-r),
			shmk_session_error(NULL));
		return 1;
	}
	/* {/start} */
	printf("serving %s\n", name);
	fflush(stdout);

	/* {loop} */
	while (!stop) {
		/*
		 * A signal that comes while we are not asleep in recv (while
		 * printing, say) ends no wait: sleep a second at most, then
		 * look at stop again.
		 */
		r = shmk_session_recv(s, &m, 1000000000LL);
		if (r == -EINTR || r == -ETIMEDOUT)
			continue;
		if (r < 0) {
			fprintf(stderr, "server: recv: %s\n", strerror(-r));
			break;
		}
		switch (m.type) {
		case SHMK_MSG_DATA:
			/* the buffer we received goes back: nothing is copied */
			shmk_session_send(s, m.peer, m.ref, m.tag, 0, 0);
			break;
		case SHMK_EV_CONNECTED:
			printf("client %u connected\n", m.peer);
			break;
		case SHMK_EV_DISCONNECTED:
			printf("client %u left\n", m.peer);
			break;
		case SHMK_EV_PEER_CRASHED:
			/* everything it held is back already */
			used = 1;
			shmk_alloc_member_used(shmk_session_arena(s), m.peer,
					       &used);
			printf("client %u crashed (%s %d%s), owns %llu bytes\n",
			       m.peer, how_name(m.how), m.status,
			       m.flags & SHMK_MSGF_GUESSED ? ", guessed" : "",
			       (unsigned long long)used);
			break;
		case SHMK_EV_HANDED_OVER:
			printf("handed over to member %u\n", m.peer);
			stop = 1;
			break;
		}
		fflush(stdout);
	}
	/* {/loop} */
	shmk_session_close(s);
	return 0;
}
