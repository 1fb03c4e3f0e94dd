// SPDX-License-Identifier: MIT
/*
 * Guide, part 1: a ping-pong client. COUNT round trips of a 64-byte
 * buffer, INTERVAL_MS apart; each echo is checked. It rides out a server
 * restart (the ping in flight is sent again) and a hot restart (nothing
 * to do). With --hold it connects, takes some memory and buffers, and
 * waits to be killed (the crash part of the guide).
 *
 *   pingpong_client [NAME] [COUNT [INTERVAL_MS]]
 *   pingpong_client NAME --hold
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <shmk_msg.h>

#define SEC	1000000000LL

/* {connect} */
static int connect_retry(const char *name, struct shmk_session **s)
{
	/* the server may not have created the arena yet: wait for it too */
	struct shmk_client_opts o = { .flags = SHMK_CLIENT_WAIT_SERVER };
	int r;

	r = shmk_client_connect(name, &o, 5 * SEC, s);
	if (r < 0)
		fprintf(stderr, "client: %s: %s (%s)\n", name, strerror(-r),
			shmk_session_error(NULL));
	return r;
}
/* {/connect} */

/* {ping} */
static int ping(struct shmk_session *s, uint64_t seq)
{
	struct shmk_arena *a = shmk_session_arena(s);
	shmk_ref_t ref;
	size_t len;
	void *p;
	int r;

	r = shmk_buf_create(a, 64, 0, SHMK_ALLOC_WAIT, SEC, &ref);
	if (r < 0)
		return r;
	shmk_buf_write(a, &ref, &p, &len);
	snprintf(p, len, "ping %llu", (unsigned long long)seq);
	/* the reference goes to the server, whatever the result */
	return shmk_session_send(s, SHMK_PEER_SERVER, ref, seq,
				 SHMK_SEND_WAIT, SEC);
}
/* {/ping} */

/* Wait for the echo of @seq; 0, or -EAGAIN when it must be sent again. */
static int pong(struct shmk_session *s, uint64_t seq)
{
	struct shmk_arena *a = shmk_session_arena(s);
	char want[64];
	const void *d;
	struct shmk_msg m;
	size_t len;
	int r;

	snprintf(want, sizeof(want), "ping %llu", (unsigned long long)seq);
	/* {events} */
	for (;;) {
		r = shmk_session_recv(s, &m, 10 * SEC);
		if (r < 0)
			return r;
		switch (m.type) {
		case SHMK_MSG_DATA:
			r = shmk_buf_data(a, m.ref, &d, &len);
			if (r == 0 && (m.tag != seq || strcmp(d, want)))
				r = -EBADMSG;
			shmk_buf_drop(a, m.ref);
			if (m.tag == seq)
				return r;
			break;		/* an old echo: ignore it */
		case SHMK_EV_SERVER_GONE:
			/* its queue went with it: our ping may be lost */
			printf("server gone (how %u)\n", m.how);
			break;
		case SHMK_EV_SERVER_BACK:
			printf("server back: member %u\n", m.peer);
			return -EAGAIN;	/* send the ping again */
		case SHMK_EV_SERVER_MOVED:
			printf("server moved to member %u\n", m.peer);
			break;		/* hot restart: nothing lost */
		}
		fflush(stdout);
	}
	/* {/events} */
}

static int hold(struct shmk_session *s)
{
	struct shmk_arena *a = shmk_session_arena(s);
	shmk_ref_t ref;
	uint64_t off;
	int i;

	for (i = 0; i < 8; i++) {
		if (shmk_alloc(a, 3000, 0, 0, &off) < 0 ||
		    shmk_buf_create(a, 1000, 0, 0, 0, &ref) < 0)
			return 1;
	}
	printf("holding\n");
	fflush(stdout);
	for (;;)
		pause();		/* until kill -9 */
}

int main(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : "pingpong";
	struct timespec gap = { 0, 0 };
	struct shmk_session *s;
	long count = 1000, i;
	int r;

	if (connect_retry(name, &s) < 0)
		return 1;
	printf("connected\n");
	fflush(stdout);
	if (argc > 2 && !strcmp(argv[2], "--hold"))
		return hold(s);
	if (argc > 2)
		count = atol(argv[2]);
	if (argc > 3)
		gap.tv_nsec = atol(argv[3]) * 1000000L;
	for (i = 0; i < count; i++) {
		do {
			r = ping(s, (uint64_t)i);
			/* not connected now: recv() reconnects, then resend */
			if (r == 0 || r == -ENOTCONN || r == -EPIPE)
				r = pong(s, (uint64_t)i);
		} while (r == -EAGAIN);
		if (r < 0) {
			fprintf(stderr, "client: round %ld: %s\n", i,
				strerror(-r));
			shmk_session_close(s);
			return 1;
		}
		if (gap.tv_nsec)
			nanosleep(&gap, NULL);
	}
	printf("%ld round trips\n", count);
	return shmk_session_close(s) < 0;
}
