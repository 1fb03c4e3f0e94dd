/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of the messaging tests: TAP output, child processes, pipes,
 * the end-of-test accounting check. Header-only, no libcheck (the tests
 * run in the VM's busybox initramfs too).
 */
#ifndef MSGT_H
#define MSGT_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shmk.h"
#include "../common/tproc.h"
#include "shmk_msg.h"

static int t_num, t_fail, t_skip;

__attribute__((format(printf, 2, 3)))
static inline int ok(int cond, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", cond ? "" : "not ", ++t_num);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	if (!cond)
		t_fail++;
	return cond;
}

__attribute__((format(printf, 1, 2)))
static inline void skip(const char *fmt, ...)
{
	va_list ap;

	printf("ok %d - # SKIP ", ++t_num);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	t_skip++;
}

#define diag(...) do { fprintf(stderr, "# " __VA_ARGS__); \
		       fputc('\n', stderr); } while (0)

/* Equality of two integers, both printed when they differ. */
#define is(got, want, ...) do { \
	long long g_ = (long long)(got), w_ = (long long)(want); \
	if (!ok(g_ == w_, __VA_ARGS__)) \
		diag("  got %lld, want %lld", g_, w_); \
} while (0)

static inline int done_testing(void)
{
	printf("1..%d\n", t_num);
	fflush(stdout);
	if (t_fail)
		return 1;
	return t_num && t_skip == t_num ? 77 : 0;
}

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

#define MS	1000000LL
#define SEC	1000000000LL

/* A name no other test (or run) uses at the same time. */
static inline void tname(char *buf, size_t len, const char *tag)
{
	static unsigned int n;

	snprintf(buf, len, "m%s.%d.%u.%u", tag, (int)getpid(), n++,
		 (unsigned int)(now_ns() / 1000 % 1000000));
}

/* Busy-wait (yielding) for a condition, up to @ms. */
#define wait_for(cond, ms) ({ \
	uint64_t end_ = now_ns() + (uint64_t)(ms) * 1000000ULL; \
	bool ok_ = false; \
	for (;;) { \
		if (cond) { ok_ = true; break; } \
		if (now_ns() > end_) \
			break; \
		sched_yield(); \
	} \
	ok_; })

/* Read and discard pending membership events; returns how many. */
static inline int eat_events(struct shmk_arena *a)
{
	struct shmk_event ev[16];
	int n, total = 0;

	while ((n = shmk_arena_events(a, ev, 16)) > 0)
		total += n;
	return total;
}

/* Wait for an EXIT event about member @id; fills *out. */
static inline int wait_exit(struct shmk_arena *a, uint32_t id,
			    struct shmk_event *out, int timeout_ms)
{
	struct pollfd pf = { .fd = shmk_arena_event_fd(a), .events = POLLIN };
	uint64_t end = now_ns() + (uint64_t)timeout_ms * 1000000ULL;
	struct shmk_event ev[16];
	int n, i;

	for (;;) {
		n = shmk_arena_events(a, ev, 16);
		for (i = 0; i < n; i++) {
			if (ev[i].type == SHMK_EVENT_EXIT &&
			    ev[i].member_id == id) {
				if (out)
					*out = ev[i];
				return 0;
			}
		}
		if (n > 0)
			continue;
		if (now_ns() > end)
			return -ETIMEDOUT;
		poll(&pf, 1, 50);
	}
}

/*
 * Every byte free again: no allocated block, metadata consistent,
 * reference counts equal to the references held.
 */
static inline int arena_all_free(struct shmk_arena *a, const char *what)
{
	struct shmk_alloc_stats st;
	char msg[256] = "";
	int r;

	r = shmk_alloc_stats(a, &st);
	if (r) {
		diag("%s: alloc_stats: %d", what, r);
		return 0;
	}
	if (st.used_bytes || st.blocks) {
		diag("%s: %" PRIu64 " bytes in %u blocks still allocated "
		     "(%u buffers)", what, st.used_bytes, st.blocks,
		     st.buffers);
		return 0;
	}
	r = shmk_arena_check(a, SHMK_CHECK_REFS, msg, sizeof(msg));
	if (r) {
		diag("%s: arena_check: %d %s", what, r, msg);
		return 0;
	}
	return 1;
}

#endif /* MSGT_H */
