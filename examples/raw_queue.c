// SPDX-License-Identifier: MIT
/*
 * raw_queue: a bounded queue between two processes, below sessions.
 *
 *   raw_queue [NAME] [N] [CAPACITY]
 *
 * The parent creates arena NAME and a bounded receive queue of CAPACITY
 * slots (default 8) that it consumes, and hands a producer token to a
 * child through a pipe. The child posts N descriptors (default 100): when
 * the queue is full, shmk_queue_send() says -EAGAIN (back-pressure), and
 * the child then waits for room with SHMK_QSEND_WAIT. The parent lets the
 * queue fill before it starts draining it in batches, and checks that
 * every descriptor came, in order.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shmk_msg.h"

static const char usage[] =
	"usage: raw_queue [NAME] [N] [CAPACITY]\n"
	"Create arena NAME (default 'raw-queue') and a bounded queue of\n"
	"CAPACITY slots (a power of two from 2 to 65536, default 8); a child\n"
	"process posts N descriptors (default 100), meeting back-pressure\n"
	"when the queue is full, while this process drains it in batches.\n";

static long number(const char *what, const char *arg, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < min || v > max) {
		fprintf(stderr, "raw_queue: %s must be from %ld to %ld, not "
			"'%s'\n%s", what, min, max, arg, usage);
		exit(2);
	}
	return v;
}

static int fail(const char *what, int r, const struct shmk_arena *a)
{
	const char *why = shmk_arena_error(a);

	fprintf(stderr, "raw_queue: %s: %s%s%s\n", what, strerror(-r),
		*why ? ": " : "", why);
	return 1;
}

/* The child: open the queue from the token, post n descriptors. */
static int producer(const char *name, int in, int out, long n)
{
	struct shmk_qmsg m = { 0 };
	struct shmk_arena *a;
	struct shmk_queue *q;
	uint64_t token;
	long i, full = 0;
	int r;

	if (read(in, &token, sizeof(token)) != sizeof(token))
		return 1;
	r = shmk_arena_attach(name, 0, &a);
	if (r)
		return fail("producer: attach", r, NULL);
	r = shmk_queue_open(a, token, &q);
	if (r)
		return fail("producer: open", r, a);
	for (i = 0; i < n; i++) {
		m.val = (uint64_t)i;
		m.tag = 42;
		r = shmk_queue_send(q, &m, 0, 0);
		if (r == -EAGAIN) {
			/* the first time: tell the consumer it is full */
			if (!full++ && write(out, "F", 1) != 1)
				return 1;
			r = shmk_queue_send(q, &m, SHMK_QSEND_WAIT,
					    10000000000LL);
		}
		if (r)
			return fail("producer: send", r, a);
	}
	printf("producer: %ld sent, the queue was full %ld time(s)\n", n,
	       full);
	fflush(stdout);
	r = shmk_queue_close(q, 5000000000LL);
	if (r)
		return fail("producer: close", r, a);
	return shmk_arena_detach(a) ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct shmk_queue_opts qo = { .capacity = 8 };
	const char *name = "raw-queue";
	struct shmk_qmsg got[16];
	struct shmk_arena *a;
	struct shmk_queue *q;
	int down[2], up[2], r, st, i;
	long n = 100, next = 0, batches = 0;
	uint64_t token;
	pid_t pid;
	char c;

	for (i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(usage, stdout);
			return 0;
		}
	if (argc > 4 || (argc > 1 && argv[1][0] == '-')) {
		fprintf(stderr, "raw_queue: unexpected argument '%s'\n%s",
			argv[argc > 4 ? 4 : 1], usage);
		return 2;
	}
	if (argc > 1)
		name = argv[1];
	if (argc > 2)
		n = number("N", argv[2], 1, 1000000);
	if (argc > 3) {
		qo.capacity = (uint32_t)number("CAPACITY", argv[3], 2, 65536);
		if (qo.capacity & (qo.capacity - 1)) {
			fprintf(stderr, "raw_queue: CAPACITY must be a power "
				"of two, not '%s'\n%s", argv[3], usage);
			return 2;
		}
	}

	r = shmk_arena_create(name, NULL, SHMK_OPEN_EXCL, &a);
	if (r)
		return fail(name, r, NULL);
	r = shmk_queue_create(a, &qo, &q);
	if (r)
		return fail("queue", r, a);
	if (pipe(down) || pipe(up))
		return fail("pipe", -errno, a);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {		/* a new process: it attaches on its own */
		close(down[1]);
		close(up[0]);
		_exit(producer(name, down[0], up[1], n));
	}
	close(down[0]);
	close(up[1]);
	/* any member may take the token: the child's id is not known yet */
	r = shmk_queue_share(q, 0, &token);
	if (r)
		return fail("share", r, a);
	if (pid < 0 || write(down[1], &token, sizeof(token)) != sizeof(token))
		return fail("fork", -EIO, a);
	/* let the producer hit the full queue before draining it */
	if (n > qo.capacity && (read(up[0], &c, 1) != 1 || c != 'F')) {
		fprintf(stderr, "raw_queue: the producer did not fill the "
			"queue\n");
		return 1;
	}
	printf("consumer: the queue is full (%u slots): draining\n",
	       qo.capacity);
	fflush(stdout);
	while (next < n) {
		r = shmk_queue_recv(q, got, 16, 10000000000LL);
		if (r == 0) {	/* a membership event: read it, go on */
			struct shmk_event ev[4];

			shmk_arena_events(a, ev, 4);
			continue;
		}
		if (r < 0)
			return fail("recv", r, a);
		batches++;
		for (i = 0; i < r; i++, next++) {
			if (got[i].val != (uint64_t)next || got[i].tag != 42) {
				fprintf(stderr, "raw_queue: got %llu, want "
					"%ld\n",
					(unsigned long long)got[i].val, next);
				return 1;
			}
		}
	}
	waitpid(pid, &st, 0);
	printf("consumer: %ld received in order, in %ld batches\n", n,
	       batches);
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "raw_queue: the producer failed\n");
		return 1;
	}
	shmk_queue_close(q, 0);
	return shmk_arena_detach(a) ? 1 : 0;
}
