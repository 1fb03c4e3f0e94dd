// SPDX-License-Identifier: MIT
/*
 * pub: a server that publishes one buffer to every subscriber of topic 0,
 * N times. Each buffer is written once; subscribers receive references to
 * that very buffer (a reference count of N, no copy).
 *
 *   pub [NAME] [N] [SUBSCRIBERS]     waits for SUBSCRIBERS (default 1)
 */
#include <errno.h>
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

static const char usage[] =
	"usage: pub [NAME] [N] [SUBSCRIBERS]\n"
	"Serve arena NAME (default 'pubsub'), wait for SUBSCRIBERS sub\n"
	"programs (default 1), then publish N ticks (default 10) to them\n"
	"all: one buffer each, shared by every subscriber, never copied.\n";

/* A count of at least @min, else exit 2 (a bad argument). */
static long count(const char *what, const char *arg, long min)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < min) {
		fprintf(stderr, "pub: %s must be a number >= %ld, not '%s'\n%s",
			what, min, arg, usage);
		exit(2);
	}
	return v;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	const char *name = "pubsub";
	long n = 10, want = 1, subs = 0, i;
	struct shmk_session *s;
	struct shmk_arena *a;
	struct shmk_msg m;
	struct tick *t;
	shmk_ref_t ref;
	int r;

	if (argc > 1 && (!strcmp(argv[1], "--help") ||
			 !strcmp(argv[1], "-h"))) {
		fputs(usage, stdout);
		return 0;
	}
	if (argc > 4 || (argc > 1 && argv[1][0] == '-')) {
		fprintf(stderr, "pub: unexpected argument '%s'\n%s",
			argv[argc > 4 ? 4 : 1], usage);
		return 2;
	}
	if (argc > 1)
		name = argv[1];
	if (argc > 2)
		n = count("N", argv[2], 1);
	if (argc > 3)
		want = count("SUBSCRIBERS", argv[3], 1);
	r = shmk_server_start(name, NULL, &s);
	if (r) {
		fprintf(stderr, "pub: %s: %s: %s\n", name, strerror(-r),
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
		if (r) {
			fprintf(stderr, "pub: buffer: %s%s%s\n", strerror(-r),
				*shmk_arena_error(a) ? ": " : "",
				shmk_arena_error(a));
			break;
		}
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
