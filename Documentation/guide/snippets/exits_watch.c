// SPDX-License-Identifier: MIT
/*
 * Guide, part 4: watch an arena's membership from outside a session.
 * Attaches read-only (an observer: it reads events, it does not reclaim)
 * and prints every member that ends, until SIGTERM or COUNT exits.
 *
 *   exits_watch NAME [COUNT]
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shmk.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct shmk_event ev[16];
	struct shmk_arena *a;
	struct pollfd pf;
	long count = argc > 2 ? atol(argv[2]) : -1, seen = 0;
	int i, n, r;

	if (argc < 2) {
		fprintf(stderr, "usage: exits_watch NAME [COUNT]\n");
		return 2;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	r = shmk_arena_attach(argv[1], SHMK_OPEN_RDONLY, &a);
	if (r < 0) {
		fprintf(stderr, "exits_watch: %s: %s\n", argv[1], strerror(-r));
		return 1;
	}
	printf("watching %s\n", argv[1]);
	fflush(stdout);
	/* {watch} */
	pf.fd = shmk_arena_event_fd(a);
	pf.events = POLLIN;
	while (!stop && seen != count) {
		if (poll(&pf, 1, -1) < 0)
			continue;	/* EINTR */
		n = shmk_arena_events(a, ev, 16);	/* never blocks */
		for (i = 0; i < n; i++) {
			if (ev[i].type == SHMK_EVENT_OVERFLOW) {
				printf("%llu events lost\n",
				       (unsigned long long)ev[i].lost);
				continue;
			}
			printf("member %u gen %u pid %d ended: how %u status %d%s%s\n",
			       ev[i].member_id, ev[i].generation, ev[i].pid,
			       ev[i].how, ev[i].status,
			       ev[i].flags & SHMK_EVENT_F_CRASH ? " crash" : "",
			       ev[i].flags & SHMK_EVENT_F_GUESSED ? " guessed" : "");
			seen++;
		}
		fflush(stdout);
	}
	/* {/watch} */
	shmk_arena_detach(a);
	return 0;
}
