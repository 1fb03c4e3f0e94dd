/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Unit tests: Check suites, white-box (they see lib/core/shmk_int.h), linked
 * with the library sources built with crash points (SHMK_TEST_HOOKS) and
 * sanitizers. Each test process makes its own arenas, named uniquely.
 */
#ifndef SHMK_UNIT_H
#define SHMK_UNIT_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shmk.h"
#include "core/shmk_int.h"

/* test hooks in the library (util.c) */
extern long shmk__crash_after;
extern const char *shmk__crash_filter;
extern long shmk__crash_seen;

struct shmk_arena *ut_arena(const char *tag, uint64_t size, uint32_t reserve,
			    char *name /* [64] out */);
struct shmk_arena *ut_join(const char *name);
pid_t ut_spawn(int (*fn)(void *), void *arg);
int ut_reap(pid_t pid);
uint64_t ut_now_ms(void);
/* Poll events until the exit of (id, gen); also runs its reclaim. */
int ut_wait_exit(struct shmk_arena *a, uint32_t id, uint32_t gen,
		 struct shmk_event *ev, int timeout_ms);
/* shmk_arena_check with REFS; fails the test with the message. */
void ut_check(struct shmk_arena *a);
int ut_put(int fd, uint64_t v);
int ut_get(int fd, uint64_t *v, int timeout_ms);
/* Run a suite, TAP on stdout; exit code per the test contract. */
int ut_run(Suite *s);
/* SHMK_TEST_QUICK=1 shortens the long randomized runs (TSan builds). */
int ut_scale(int n);

#define ck_ok(expr) do { \
	long long r_ = (long long)(expr); \
	ck_assert_msg(r_ == 0, "%s = %lld (%s)", #expr, r_, \
		      r_ < 0 ? strerror((int)-r_) : "?"); \
} while (0)

#endif
