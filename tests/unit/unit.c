// SPDX-License-Identifier: GPL-2.0
/* Shared helpers of the unit tests. */
#include "unit.h"

#include <poll.h>
#include <sys/mman.h>
#include <time.h>

static char made[16][64];
static int nmade;

/* A test that fails half-way must not leave its object in /dev/shm. */
static void cleanup(void)
{
	char path[128];
	int i;

	for (i = 0; i < nmade; i++) {
		snprintf(path, sizeof(path), "/shmk.%.63s", made[i]);
		shm_unlink(path);
	}
}

uint64_t ut_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct shmk_arena *ut_arena(const char *tag, uint64_t size, uint32_t reserve,
			    char *name)
{
	static unsigned int seq;
	struct shmk_arena_opts o;
	struct shmk_arena *a = NULL;
	int r;

	memset(&o, 0, sizeof(o));
	o.size = size;
	o.reserve_bytes = reserve;
	o.max_members = 16;
	o.refs_per_member = 128;
	snprintf(name, 64, "u.%s.%d.%u", tag, (int)getpid(), seq++);
	r = shmk_arena_create(name, &o, SHMK_OPEN_EXCL, &a);
	ck_assert_msg(r == 0, "create %s: %s", name, strerror(-r));
	if (nmade == 0)
		atexit(cleanup);
	if (nmade < 16)
		strcpy(made[nmade++], name);
	return a;
}

struct shmk_arena *ut_join(const char *name)
{
	struct shmk_arena *a;

	if (shmk_arena_attach(name, 0, &a))
		_exit(99);
	return a;
}

pid_t ut_spawn(int (*fn)(void *), void *arg)
{
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	ck_assert(pid >= 0);
	if (pid == 0)
		_exit(fn(arg));
	return pid;
}

int ut_reap(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid)
		return -1;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return -1;
}

/* Events read while looking for another one, kept for the next call. */
static struct shmk_event backlog[64];
static int nbacklog;

static int take_backlog(uint32_t id, uint32_t gen, struct shmk_event *out)
{
	int i;

	for (i = 0; i < nbacklog; i++)
		if (backlog[i].member_id == id && backlog[i].generation == gen) {
			if (out)
				*out = backlog[i];
			backlog[i] = backlog[--nbacklog];
			return 1;
		}
	return 0;
}

int ut_wait_exit(struct shmk_arena *a, uint32_t id, uint32_t gen,
		 struct shmk_event *out, int timeout_ms)
{
	uint64_t end = ut_now_ms() + (uint64_t)timeout_ms, now;
	struct shmk_event ev[16];
	int n, i;

	for (;;) {
		struct pollfd pf = { .fd = shmk_arena_event_fd(a),
				     .events = POLLIN };

		if (take_backlog(id, gen, out))
			return 0;
		n = shmk_arena_events(a, ev, 16);
		for (i = 0; i < n; i++)
			if (ev[i].type == SHMK_EVENT_EXIT && nbacklog < 64)
				backlog[nbacklog++] = ev[i];
		if (n)
			continue;
		now = ut_now_ms();
		if (now >= end)
			return -ETIMEDOUT;
		poll(&pf, 1, (int)(end - now));
	}
}

void ut_check(struct shmk_arena *a)
{
	char msg[256];
	int r = shmk_arena_check(a, SHMK_CHECK_REFS, msg, sizeof(msg));

	ck_assert_msg(r == 0, "arena check: %d: %s", r, msg);
}

int ut_put(int fd, uint64_t v)
{
	return write(fd, &v, sizeof(v)) == (ssize_t)sizeof(v) ? 0 : -1;
}

int ut_get(int fd, uint64_t *v, int timeout_ms)
{
	struct pollfd pf = { .fd = fd, .events = POLLIN };

	if (poll(&pf, 1, timeout_ms) != 1)
		return -ETIMEDOUT;
	return read(fd, v, sizeof(*v)) == (ssize_t)sizeof(*v) ? 0 : -EPIPE;
}

int ut_scale(int n)
{
	const char *q = getenv("SHMK_TEST_QUICK");

	return q && *q == '1' ? (n / 10 ? n / 10 : 1) : n;
}

int ut_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed, run;

	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	run = srunner_ntests_run(sr);
	srunner_free(sr);
	if (failed)
		return 1;
	return run ? 0 : 77;
}
