// SPDX-License-Identifier: MIT
/*
 * sub: subscribe to topic 0 of the pub server on NAME and print N ticks,
 * with the time each took from the publisher and the arena offset of its
 * buffer (the same in every subscriber: nothing was copied).
 *
 *   sub [NAME] [N]
 */
#include <errno.h>
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

static const char usage[] =
	"usage: sub [NAME] [N]\n"
	"Subscribe to the pub server of arena NAME (default 'pubsub') and\n"
	"print N ticks (default 10): how long each took and the arena\n"
	"offset of its buffer, the same in every subscriber. Start pub\n"
	"first.\n";

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	const char *name = "pubsub";
	long n = 10, got = 0;
	struct shmk_buf_info bi;
	struct shmk_session *s;
	struct shmk_arena *a;
	const struct tick *t;
	struct shmk_msg m;
	char *end;
	int r;

	if (argc > 1 && (!strcmp(argv[1], "--help") ||
			 !strcmp(argv[1], "-h"))) {
		fputs(usage, stdout);
		return 0;
	}
	if (argc > 3 || (argc > 1 && argv[1][0] == '-')) {
		fprintf(stderr, "sub: unexpected argument '%s'\n%s",
			argv[argc > 3 ? 3 : 1], usage);
		return 2;
	}
	if (argc > 1)
		name = argv[1];
	if (argc > 2) {
		errno = 0;
		n = strtol(argv[2], &end, 10);
		if (errno || end == argv[2] || *end || n < 1) {
			fprintf(stderr, "sub: N must be a positive number, "
				"not '%s'\n%s", argv[2], usage);
			return 2;
		}
	}
	r = shmk_client_connect(name, NULL, 5000000000LL, &s);
	if (r) {
		fprintf(stderr, "sub: %s: %s: %s\n", name, strerror(-r),
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
