// SPDX-License-Identifier: MIT
/*
 * pingpong_server: serve arena NAME; every message goes straight back to
 * its sender. The buffer is not copied: the reference we received is the
 * one we send back.
 *
 *   pingpong_server [NAME] [--takeover]
 *
 * --takeover replaces a server already running on NAME without dropping
 * its clients (hot restart); the old one is told and exits.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "shmk_msg.h"

static const char usage[] =
	"usage: pingpong_server [NAME] [--takeover]\n"
	"Serve arena NAME (default 'pingpong'): every message goes back to\n"
	"its sender, the same buffer. --takeover replaces a server already\n"
	"running on NAME without dropping its clients (hot restart).\n"
	"Stop it with Ctrl-C.\n";

static volatile sig_atomic_t quit;

static void on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

int main(int argc, char **argv)
{
	struct shmk_server_opts o = { 0 };
	struct sigaction sa = { .sa_handler = on_signal };
	const char *name = NULL;
	struct shmk_session *s;
	struct shmk_msg m;
	int i, r;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(usage, stdout);
			return 0;
		} else if (!strcmp(argv[i], "--takeover")) {
			o.flags |= SHMK_SERVER_TAKEOVER;
		} else if (argv[i][0] == '-' || name) {
			fprintf(stderr, "pingpong_server: unexpected argument "
				"'%s'\n%s", argv[i], usage);
			return 2;
		} else {
			name = argv[i];
		}
	}
	if (!name)
		name = "pingpong";
	sigaction(SIGINT, &sa, NULL);	/* no SA_RESTART: recv returns */
	sigaction(SIGTERM, &sa, NULL);

	r = shmk_server_start(name, &o, &s);
	if (r) {
		fprintf(stderr, "pingpong_server: %s: %s: %s\n", name,
			strerror(-r), shmk_session_error(NULL));
		return 1;
	}
	printf("serving arena '%s'\n", name);
	fflush(stdout);

	while (!quit) {
		/*
		 * A signal that lands while we are not asleep in recv (say,
		 * while printing) interrupts nothing: wait a second at most,
		 * then look at quit again. Busy, recv returns at once anyway.
		 */
		r = shmk_session_recv(s, &m, 1000000000LL);
		if (r < 0) {
			if (r == -EINTR || r == -ETIMEDOUT)
				continue;
			fprintf(stderr, "pingpong_server: recv: %s%s%s\n",
				strerror(-r), *shmk_session_error(s) ? ": " : "",
				shmk_session_error(s));
			break;
		}
		switch (m.type) {
		case SHMK_MSG_DATA:	/* same buffer back, same tag */
			shmk_session_send(s, m.peer, m.ref, m.tag, 0, 0);
			break;
		case SHMK_EV_CONNECTED:
			printf("client %u connected\n", m.peer);
			break;
		case SHMK_EV_DISCONNECTED:
			printf("client %u left\n", m.peer);
			break;
		case SHMK_EV_PEER_CRASHED:
			printf("client %u crashed (how %u, status %d)\n",
			       m.peer, m.how, m.status);
			break;
		case SHMK_EV_HANDED_OVER:
			printf("a new server took over: leaving\n");
			quit = 1;
			break;
		}
		fflush(stdout);
	}
	return shmk_session_close(s) ? 1 : 0;
}
