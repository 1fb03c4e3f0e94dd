// SPDX-License-Identifier: GPL-2.0
/*
 * A static program that uses POSIX message queues (mq_open, mq_send,
 * mq_receive, mq_close: names libshmk once exported from libshmk.a) and
 * libshmk together. tests/pkg/t_symbols links it with libshmk.a and runs
 * it; prints TAP. The queue (argv[1], default /shmk-pkg-PID) is unlinked
 * as soon as it is open, so that nothing is left even if the program dies.
 */
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <shmk.h>

int main(int argc, char **argv)
{
	struct mq_attr attr = { .mq_maxmsg = 4, .mq_msgsize = 64 };
	struct shmk_arena_opts o = { .size = 1 << 20 };
	struct shmk_arena *a;
	char name[64], buf[64];
	unsigned int prio = 0;
	ssize_t n;
	mqd_t q;
	int r, fails = 0;

	printf("1..4\n");
	if (argc > 1)
		snprintf(name, sizeof(name), "%s", argv[1]);
	else
		snprintf(name, sizeof(name), "/shmk-pkg-%d", (int)getpid());
	q = mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, &attr);
	if (q == (mqd_t)-1) {
		printf("not ok 1 - mq_open: %s\n", strerror(errno));
		return 1;
	}
	if (mq_unlink(name)) {
		printf("not ok 1 - mq_unlink: %s\n", strerror(errno));
		return 1;
	}
	printf("ok 1 - mq_open, mq_unlink\n");
	r = mq_send(q, "ping", 5, 3);
	n = mq_receive(q, buf, sizeof(buf), &prio);
	if (r == 0 && n == 5 && prio == 3 && !strcmp(buf, "ping")) {
		printf("ok 2 - mq_send/mq_receive are libc's\n");
	} else {
		printf("not ok 2 - mq_send %d, mq_receive %zd, prio %u\n", r, n, prio);
		fails++;
	}
	if (mq_close(q) == 0) {
		printf("ok 3 - mq_close\n");
	} else {
		printf("not ok 3 - mq_close: %s\n", strerror(errno));
		fails++;
	}
	snprintf(name, sizeof(name), "pkgmq%d", (int)getpid());
	r = shmk_arena_create(name, &o, SHMK_OPEN_EXCL | SHMK_OPEN_PORTABLE, &a);
	if (r == 0)
		r = shmk_arena_detach(a);
	if (r == 0) {
		printf("ok 4 - libshmk %s in the same program\n", shmk_version());
	} else {
		printf("not ok 4 - shmk arena: %s\n", strerror(-r));
		fails++;
	}
	return fails ? 1 : 0;
}
