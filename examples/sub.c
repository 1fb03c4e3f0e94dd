// SPDX-License-Identifier: MIT
/*
 * sub: subscribe to topic 0 of the pub server on NAME and print N ticks,
 * with the time each took from the publisher and the arena offset of its
 * buffer (the same in every subscriber: nothing was copied).
 *
 *   sub [NAME] [N]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shmk_msg.h"

struct tick {
	uint64_t seq;
	uint64_t sent_ns;
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
	long n = argc > 2 ? atol(argv[2]) : 10, got = 0;
	struct shmk_buf_info bi;
	struct shmk_session *s;
	struct shmk_arena *a;
	const struct tick *t;
	struct shmk_msg m;
	int r;

	r = shmk_client_connect(name, NULL, 5000000000LL, &s);
	if (r) {
		fprintf(stderr, "sub: %s: %s %s\n", name, strerror(-r),
			shmk_session_error(NULL));
		return 1;
	}
	a = shmk_session_arena(s);
	shmk_client_subscribe(s, 1ULL << 0);
	/* tell the publisher we are here (a tag-only message) */
	shmk_session_send(s, SHMK_PEER_SERVER, 0, 0, 0, 0);
	while (got < n && shmk_session_recv(s, &m, 10000000000LL) == 1) {
		if (m.type != SHMK_MSG_DATA ||
		    !(m.flags & SHMK_MSGF_PUBLISHED))
			continue;
		shmk_buf_data(a, m.ref, (const void **)&t, NULL);
		shmk_buf_info(a, m.ref, &bi);
		printf("sub %d: %s after %.1f us, buffer at arena offset %#llx "
		       "shared by %u\n", getpid(), t->text,
		       (now_ns() - t->sent_ns) / 1e3,
		       (unsigned long long)bi.offset, bi.refcount);
		shmk_buf_drop(a, m.ref);
		got++;
	}
	return shmk_session_close(s) || got < n ? 1 : 0;
}
