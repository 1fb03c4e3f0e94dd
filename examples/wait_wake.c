// SPDX-License-Identifier: MIT
/*
 * wait_wake: two processes take turns through two 32-bit words of an
 * arena, with shmk_arena_wait() and shmk_arena_wake() (futex-like).
 *
 *   wait_wake [NAME] [ROUNDS]
 *
 * The parent writes round i into the "ask" word and wakes its waiter;
 * the child, asleep on that word, wakes, writes i into the "answer" word
 * and wakes the parent, asleep on that one. A wait only sleeps while the
 * word still holds the value the caller saw, so no wake is ever lost. A
 * wait also returns (SHMK_WAIT_EVENT) when a member of the arena ended:
 * if the other process dies, the survivor learns it at once instead of
 * sleeping for ever.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shmk.h"

static const char usage[] =
	"usage: wait_wake [NAME] [ROUNDS]\n"
	"Create arena NAME (default 'wait-wake'); this process and a child\n"
	"take ROUNDS turns (default 1000) through two words of the arena,\n"
	"each sleeping in shmk_arena_wait() until the other wakes it.\n";

static int fail(const char *what, int r, const struct shmk_arena *a)
{
	const char *why = shmk_arena_error(a);

	fprintf(stderr, "wait_wake: %s: %s%s%s\n", what, strerror(-r),
		*why ? ": " : "", why);
	return 1;
}

/*
 * Sleep until the word at @off holds @want. 0, or -EPIPE if a member
 * ended (the other side) without writing it, or the wait's error. The
 * exit is checked after the word: the other side may well have written
 * its last answer and left before we woke up.
 */
static int wait_for(struct shmk_arena *a, uint64_t off, uint32_t want,
		    uint64_t *sleeps)
{
	uint32_t *w = shmk_arena_ptr(a, off);
	int r, gone = 0, gone_status = 0;
	uint32_t v, gone_how = 0;

	while ((v = __atomic_load_n(w, __ATOMIC_ACQUIRE)) != want) {
		/* the other side ended and did not write it: it never will */
		if (gone) {
			fprintf(stderr, "wait_wake: the other side ended "
				"(how %u, status %d) before writing %u\n",
				gone_how, gone_status, want);
			return -EPIPE;
		}
		r = shmk_arena_wait(a, off, v, 10000000000LL, 0);
		(*sleeps)++;
		if (r == SHMK_WAIT_EVENT) {
			struct shmk_event ev[8];
			int i, n = shmk_arena_events(a, ev, 8);

			for (i = 0; i < n; i++)
				if (ev[i].type == SHMK_EVENT_EXIT) {
					gone = 1;
					gone_how = ev[i].how;
					gone_status = ev[i].status;
				}
		} else if (r < 0 && r != -EAGAIN && r != -EINTR) {
			return r;
		}
	}
	return 0;
}

static void post(struct shmk_arena *a, uint64_t off, uint32_t v)
{
	__atomic_store_n((uint32_t *)shmk_arena_ptr(a, off), v,
			 __ATOMIC_RELEASE);
	shmk_arena_wake(a, off, 1);
}

static int child(const char *name, uint64_t ask, long rounds)
{
	struct shmk_arena *a;
	uint64_t sleeps = 0;
	long i;
	int r;

	r = shmk_arena_attach(name, 0, &a);
	if (r)
		return fail("child: attach", r, NULL);
	for (i = 1; i <= rounds; i++) {
		r = wait_for(a, ask, (uint32_t)i, &sleeps);
		if (r)
			return fail("child: wait", r, a);
		post(a, ask + 4, (uint32_t)i);
	}
	return shmk_arena_detach(a) ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *name = "wait-wake";
	struct shmk_arena *a;
	uint64_t off, sleeps = 0;
	long rounds = 1000, i;
	int r, st;
	pid_t pid;

	for (i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(usage, stdout);
			return 0;
		}
	if (argc > 3 || (argc > 1 && argv[1][0] == '-')) {
		fprintf(stderr, "wait_wake: unexpected argument '%s'\n%s",
			argv[argc > 3 ? 3 : 1], usage);
		return 2;
	}
	if (argc > 1)
		name = argv[1];
	if (argc > 2) {
		char *end;

		errno = 0;
		rounds = strtol(argv[2], &end, 10);
		if (errno || end == argv[2] || *end || rounds < 1 ||
		    rounds > 100000000) {
			fprintf(stderr, "wait_wake: ROUNDS must be from 1 to "
				"100000000, not '%s'\n%s", argv[2], usage);
			return 2;
		}
	}
	r = shmk_arena_create(name, NULL, SHMK_OPEN_EXCL, &a);
	if (r)
		return fail(name, r, NULL);
	/* two words: ask at off, answer at off + 4; zero to start */
	r = shmk_alloc(a, 8, SHMK_ALLOC_ZERO, 0, &off);
	if (r)
		return fail("alloc", r, a);
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(child(name, off, rounds));
	if (pid < 0)
		return fail("fork", -errno, a);
	for (i = 1; i <= rounds; i++) {
		post(a, off, (uint32_t)i);
		r = wait_for(a, off + 4, (uint32_t)i, &sleeps);
		if (r)
			return fail("wait", r, a);
	}
	waitpid(pid, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "wait_wake: the child failed\n");
		return 1;
	}
	printf("%ld turns; this side slept %llu time(s)\n", rounds,
	       (unsigned long long)sleeps);
	/* the child's clean exit is an event too: read it before leaving */
	{
		struct shmk_event ev[4];

		shmk_arena_events(a, ev, 4);
	}
	return shmk_arena_detach(a) ? 1 : 0;
}
