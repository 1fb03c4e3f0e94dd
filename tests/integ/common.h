/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers shared by the integration tests: names, children, pipes, events. */
#ifndef SHMK_TEST_COMMON_H
#define SHMK_TEST_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>

#include "shmk.h"
#include "../common/tproc.h"
#include "tap.h"

static inline uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static inline void mkname(char *buf, size_t len, const char *tag)
{
	snprintf(buf, len, "%s.%d.%u", tag, (int)getpid(),
		 (unsigned int)(now_ms() % 100000));
}

static inline const char *backend_env(void)
{
	const char *b = getenv("SHMK_BACKEND");

	return b && *b ? b : NULL;
}

/*
 * Poll the arena's event fd until an exit event of member @id/@gen arrives
 * (other events are dropped). 0, or -ETIMEDOUT.
 */
static inline int wait_exit(struct shmk_arena *a, uint32_t id, uint32_t gen,
			    struct shmk_event *out, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;
	struct shmk_event ev[16];
	int n, i;

	for (;;) {
		struct pollfd pf = { .fd = shmk_arena_event_fd(a),
				     .events = POLLIN };
		uint64_t now = now_ms();

		n = shmk_arena_events(a, ev, 16);
		for (i = 0; i < n; i++) {
			if (ev[i].type == SHMK_EVENT_EXIT &&
			    ev[i].member_id == id && ev[i].generation == gen) {
				if (out)
					*out = ev[i];
				return 0;
			}
		}
		if (now >= end)
			return -ETIMEDOUT;
		poll(&pf, 1, (int)(end - now));
	}
}

static inline void watchdog(unsigned int secs)
{
	alarm(secs);	/* a hung test dies and counts as a failure */
}

#endif
