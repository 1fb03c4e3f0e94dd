// SPDX-License-Identifier: MIT
/*
 * robust_lock: a robust lock in an arena whose holder is killed.
 *
 *   robust_lock [NAME] [--rounds N]
 *
 * A child process takes the lock that guards a pair of counters, updates
 * the first one, and is killed with SIGKILL before it updates the second:
 * the protected state is half done. The parent's next shmk_lock_acquire()
 * returns -EOWNERDEAD: it holds the lock, repairs the state, marks the
 * lock consistent and releases it. Then it is an ordinary lock again.
 * N rounds (default 3), a new holder killed in each.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shmk.h"

static const char usage[] =
	"usage: robust_lock [NAME] [--rounds N]\n"
	"Create arena NAME (default 'robust-lock'), with a robust lock that\n"
	"guards two counters which must stay equal. In each of N rounds\n"
	"(default 3) a child takes the lock, updates one counter and is\n"
	"killed with SIGKILL; the parent's next acquire says the owner died\n"
	"(EOWNERDEAD), repairs the counters and makes the lock consistent.\n";

/* What the lock protects: @a and @b are always equal outside the lock. */
struct guarded {
	struct shmk_lock lock;
	uint64_t a, b;
};

static int bad(const char *fmt, const char *arg)
{
	fprintf(stderr, "robust_lock: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n%s", usage);
	return 2;
}

static int fail(const char *what, int r, const struct shmk_arena *a)
{
	const char *why = shmk_arena_error(a);

	fprintf(stderr, "robust_lock: %s: %s%s%s\n", what, strerror(-r),
		*why ? ": " : "", why);
	return 1;
}

/* The child: its own membership, the lock, half an update, then stop. */
static void holder(const char *name, uint64_t off, int ready)
{
	struct shmk_arena *a;
	struct guarded *g;
	int r;

	r = shmk_arena_attach(name, 0, &a);
	if (r)
		_exit(fail("child: attach", r, NULL));
	g = shmk_arena_ptr(a, off);
	r = shmk_lock_acquire(a, off, 5000000000LL);
	if (r && r != -EOWNERDEAD)
		_exit(fail("child: lock", r, a));
	g->a++;			/* ... and killed before g->b++ */
	if (write(ready, "L", 1) != 1)
		_exit(1);
	pause();
	_exit(0);
}

int main(int argc, char **argv)
{
	const char *name = NULL;
	struct shmk_arena *a;
	struct guarded *g;
	long rounds = 3, i;
	uint64_t off;
	int r, st;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(usage, stdout);
			return 0;
		} else if (!strcmp(argv[i], "--rounds")) {
			char *end;

			if (++i == argc)
				return bad("--rounds needs a value", "");
			errno = 0;
			rounds = strtol(argv[i], &end, 10);
			if (errno || end == argv[i] || *end || rounds < 1 ||
			    rounds > 1000)
				return bad("--rounds must be from 1 to 1000, "
					   "not '%s'", argv[i]);
		} else if (argv[i][0] == '-' || name) {
			return bad("unexpected argument '%s'", argv[i]);
		} else {
			name = argv[i];
		}
	}
	if (!name)
		name = "robust-lock";
	r = shmk_arena_create(name, NULL, SHMK_OPEN_EXCL, &a);
	if (r)
		return fail(name, r, NULL);
	/* zeroed memory is an unlocked lock */
	r = shmk_alloc(a, sizeof(*g), SHMK_ALLOC_ZERO | SHMK_ALLOC_LONG, 0, &off);
	if (r)
		return fail("alloc", r, a);
	g = shmk_arena_ptr(a, off);

	for (i = 0; i < rounds; i++) {
		int ready[2];
		char c;
		pid_t pid;

		if (pipe(ready))
			return fail("pipe", -errno, a);
		fflush(stdout);
		pid = fork();
		if (pid == 0) {
			close(ready[0]);
			holder(name, off, ready[1]);
		}
		close(ready[1]);
		if (pid < 0 || read(ready[0], &c, 1) != 1) {
			fprintf(stderr, "robust_lock: the child did not take "
				"the lock\n");
			return 1;
		}
		close(ready[0]);
		printf("round %ld: child %d holds the lock (a=%llu b=%llu)\n",
		       i, (int)pid, (unsigned long long)g->a,
		       (unsigned long long)g->b);
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);

		r = shmk_lock_acquire(a, off, 10000000000LL);
		if (r == -EOWNERDEAD) {
			printf("round %ld: the holder died (EOWNERDEAD): "
			       "repairing a=%llu b=%llu\n", i,
			       (unsigned long long)g->a,
			       (unsigned long long)g->b);
			g->b = g->a;	/* finish its update */
			r = shmk_lock_consistent(a, off);
			if (r)
				return fail("consistent", r, a);
		} else if (r) {
			return fail("lock", r, a);
		} else {
			fprintf(stderr, "robust_lock: the lock was free: the "
				"owner-died state got lost\n");
			return 1;
		}
		r = shmk_lock_release(a, off);
		if (r)
			return fail("release", r, a);
	}
	/* an ordinary lock again */
	r = shmk_lock_try(a, off);
	if (r)
		return fail("try", r, a);
	printf("recovered %ld times; counters a=%llu b=%llu\n", rounds,
	       (unsigned long long)g->a, (unsigned long long)g->b);
	shmk_lock_release(a, off);
	r = shmk_arena_detach(a);
	return r ? fail("detach", r, NULL) : 0;
}
