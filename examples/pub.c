// SPDX-License-Identifier: MIT
/*
 * pub: a server that publishes one buffer to every subscriber of topic 0,
 * N times. Each buffer is written once; subscribers receive references to
 * that very buffer (a reference count of N, no copy).
 *
 *   pub [NAME] [N] [SUBSCRIBERS]     waits for SUBSCRIBERS (default 1)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shmk_msg.h"

struct tick {
	uint64_t seq;
	uint64_t sent_ns;	/* CLOCK_MONOTONIC */
	char text[48];
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : "pubsub";
	long n = argc > 2 ? atol(argv[2]) : 10;
	long want = argc > 3 ? atol(argv[3]) : 1, subs = 0, i;
	struct shmk_session *s;
	struct shmk_arena *a;
	struct shmk_msg m;
	struct tick *t;
	shmk_ref_t ref;
	int r;

	r = shmk_server_start(name, NULL, &s);
	if (r) {
		fprintf(stderr, "pub: %s: %s %s\n", name, strerror(-r),
			shmk_session_error(NULL));
		return 1;
	}
	a = shmk_session_arena(s);
	printf("pub: waiting for %ld subscriber(s) on '%s'\n", want, name);
	fflush(stdout);
	/* a subscriber says so with its first message */
	while (subs < want && shmk_session_recv(s, &m, -1) == 1) {
		if (m.type == SHMK_MSG_DATA) {
			subs++;
			shmk_buf_drop(a, m.ref);
		}
	}
	for (i = 0; i < n; i++) {
		r = shmk_buf_create(a, sizeof(*t), 0, 0, 0, &ref);
		if (r)
			break;
		shmk_buf_write(a, &ref, (void **)&t, NULL);
		t->seq = (uint64_t)i;
		snprintf(t->text, sizeof(t->text), "tick %ld", i);
		t->sent_ns = now_ns();
		r = shmk_server_publish(s, 0, ref, (uint64_t)i, 0);
		printf("pub: tick %ld to %d subscriber(s)\n", i, r);
		shmk_buf_drop(a, ref);	/* the subscribers hold it now */
	}
	fflush(stdout);
	/* wait for every subscriber to leave before closing */
	while (subs > 0 && shmk_session_recv(s, &m, 5000000000LL) == 1) {
		if (m.type == SHMK_EV_DISCONNECTED ||
		    m.type == SHMK_EV_PEER_CRASHED)
			subs--;
		else if (m.type == SHMK_MSG_DATA && m.ref)
			shmk_buf_drop(a, m.ref);
	}
	return shmk_session_close(s) ? 1 : 0;
}
