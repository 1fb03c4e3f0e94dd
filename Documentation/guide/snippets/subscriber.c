// SPDX-License-Identifier: MIT
/*
 * Guide, part 2: subscribe to topic 1 and print COUNT published ticks.
 *
 *   subscriber [NAME [COUNT]]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <shmk_msg.h>

#define TOPIC_TICKS	1
#define SEC		1000000000LL

int main(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : "news";
	long count = argc > 2 ? atol(argv[2]) : 10, got = 0;
	struct shmk_session *s;
	struct shmk_msg m;
	const void *d;
	size_t len;
	struct shmk_client_opts o = { .flags = SHMK_CLIENT_WAIT_SERVER };
	int r;

	r = shmk_client_connect(name, &o, 5 * SEC, &s);
	if (r < 0) {
		fprintf(stderr, "subscriber: %s: %s (%s)\n", name, strerror(-r),
			shmk_session_error(NULL));
		return 1;
	}
	/* {subscribe} */
	shmk_client_subscribe(s, 1ULL << TOPIC_TICKS);
	while (got < count) {
		r = shmk_session_recv(s, &m, 5 * SEC);
		if (r < 0)
			break;
		if (m.type != SHMK_MSG_DATA ||
		    !(m.flags & SHMK_MSGF_PUBLISHED))
			continue;
		/* the publisher's buffer itself: every subscriber reads it */
		if (shmk_buf_data(shmk_session_arena(s), m.ref, &d, &len) == 0)
			printf("%s\n", (const char *)d);
		shmk_buf_drop(shmk_session_arena(s), m.ref);
		got++;
	}
	/* {/subscribe} */
	shmk_session_close(s);
	if (got < count) {
		fprintf(stderr, "subscriber: %ld of %ld ticks: %s\n", got,
			count, strerror(-r));
		return 1;
	}
	return 0;
}
