// SPDX-License-Identifier: MIT
/*
 * Guide, part 2: a server that publishes a numbered "tick" on topic 1
 * every 10 ms to every subscribed client, one buffer for all of them.
 *
 *   publisher [NAME]
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <shmk_msg.h>

#define TOPIC_TICKS	1

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	const char *name = argc > 1 ? argv[1] : "news";
	struct shmk_session *s;
	struct shmk_arena *a;
	struct shmk_msg m;
	uint64_t tick = 0;
	shmk_ref_t ref;
	size_t len;
	void *p;
	int r;

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	r = shmk_server_start(name, NULL, &s);
	if (r < 0) {
		fprintf(stderr, "publisher: %s: %s\n", name, strerror(-r));
		return 1;
	}
	a = shmk_session_arena(s);
	printf("publishing on %s\n", name);
	fflush(stdout);
	while (!stop) {
		/* {publish} */
		if (shmk_buf_create(a, 32, 0, 0, 0, &ref) == 0) {
			shmk_buf_write(a, &ref, &p, &len);
			snprintf(p, len, "tick %llu", (unsigned long long)tick);
			/* one clone per subscriber; we keep ref */
			shmk_server_publish(s, TOPIC_TICKS, ref, tick, 0);
			shmk_buf_drop(a, ref);
			tick++;
		}
		/* {/publish} */
		/* serve the session for 10 ms: connects, subscriptions */
		while ((r = shmk_session_recv(s, &m, 10000000)) == 1)
			if (m.type == SHMK_MSG_DATA && m.ref)
				shmk_buf_drop(a, m.ref);
	}
	shmk_session_close(s);
	return 0;
}
