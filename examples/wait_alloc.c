// SPDX-License-Identifier: MIT
/*
 * wait_alloc: an allocation that waits for memory to be freed.
 *
 *   wait_alloc [NAME] [--kill]
 *
 * A child process ("the hog") attaches to a small arena and allocates
 * blocks until the heap is full. This process then fails to allocate
 * (-ENOMEM, at once, without SHMK_ALLOC_WAIT), and allocates again with
 * SHMK_ALLOC_WAIT and a timeout: the call sleeps until the hog frees a
 * block, and returns it. With --kill the hog is killed with SIGKILL
 * instead: every block it owned goes back to the heap when its death is
 * handled, and the waiting allocation gets one of them.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shmk.h"

#define BLOCK	(64 * 1024)

static const char usage[] =
	"usage: wait_alloc [NAME] [--kill]\n"
	"Create a small arena NAME (default 'wait-alloc'); a child fills its\n"
	"heap; this process waits in shmk_alloc(SHMK_ALLOC_WAIT) until the\n"
	"child frees a block, or with --kill until the child is killed and\n"
	"its blocks are reclaimed.\n";

static int fail(const char *what, int r, const struct shmk_arena *a)
{
	const char *why = shmk_arena_error(a);

	fprintf(stderr, "wait_alloc: %s: %s%s%s\n", what, strerror(-r),
		*why ? ": " : "", why);
	return 1;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The hog: fill the heap, say how many, free one block when asked. */
static int hog(const char *name, int in, int out)
{
	uint64_t offs[512];
	struct shmk_arena *a;
	unsigned int n = 0;
	char c;
	int r;

	r = shmk_arena_attach(name, 0, &a);
	if (r)
		return fail("hog: attach", r, NULL);
	while (n < 512 && !shmk_alloc(a, BLOCK, 0, 0, &offs[n]))
		n++;
	printf("hog: took %u blocks of %u bytes: the heap is full\n", n,
	       BLOCK);
	fflush(stdout);
	if (write(out, "F", 1) != 1 || read(in, &c, 1) != 1)
		return 1;
	r = shmk_free(a, offs[--n]);
	if (r)
		return fail("hog: free", r, a);
	printf("hog: freed one\n");
	fflush(stdout);
	if (read(in, &c, 1) < 0)	/* until the parent is done */
		return 1;
	return 0;
}

int main(int argc, char **argv)
{
	struct shmk_arena_opts o = { .size = 1 << 20 };
	const char *name = NULL;
	int down[2], up[2], kill_it = 0, i, r, st;
	struct shmk_arena *a;
	uint64_t off, t0;
	pid_t pid;
	char c;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(usage, stdout);
			return 0;
		} else if (!strcmp(argv[i], "--kill")) {
			kill_it = 1;
		} else if (argv[i][0] == '-' || name) {
			fprintf(stderr, "wait_alloc: unexpected argument "
				"'%s'\n%s", argv[i], usage);
			return 2;
		} else {
			name = argv[i];
		}
	}
	if (!name)
		name = "wait-alloc";
	r = shmk_arena_create(name, &o, SHMK_OPEN_EXCL, &a);
	if (r)
		return fail(name, r, NULL);
	if (pipe(down) || pipe(up))
		return fail("pipe", -errno, a);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(down[1]);
		close(up[0]);
		_exit(hog(name, down[0], up[1]));
	}
	close(down[0]);
	close(up[1]);
	if (pid < 0 || read(up[0], &c, 1) != 1) {
		fprintf(stderr, "wait_alloc: the hog did not fill the heap\n");
		return 1;
	}
	r = shmk_alloc(a, BLOCK, 0, 0, &off);
	if (r != -ENOMEM) {
		fprintf(stderr, "wait_alloc: expected ENOMEM, got %d\n", r);
		return 1;
	}
	printf("alloc without waiting: %s\n", strerror(-r));
	fflush(stdout);
	/*
	 * Ask for the free (or kill) first, then wait: whichever comes first,
	 * the free or our sleep, the waiting allocation gets the block.
	 */
	if (kill_it)
		kill(pid, SIGKILL);
	else if (write(down[1], "f", 1) != 1)
		return 1;
	t0 = now_ms();
	r = shmk_alloc(a, BLOCK, SHMK_ALLOC_WAIT, 10000000000LL, &off);
	if (r)
		return fail("alloc with SHMK_ALLOC_WAIT", r, a);
	printf("alloc with SHMK_ALLOC_WAIT: got a block after %llu ms, "
	       "once the hog %s\n", (unsigned long long)(now_ms() - t0),
	       kill_it ? "was killed and its blocks reclaimed" :
	       "freed one");
	shmk_free(a, off);
	close(down[1]);		/* the hog may end */
	waitpid(pid, &st, 0);
	{
		struct shmk_event ev[4];

		shmk_arena_events(a, ev, 4);
	}
	return shmk_arena_detach(a) ? 1 : 0;
}
