/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Children and pipes for the tests (integ, msg): fork a function, reap it,
 * pass 64-bit values through pipes. Header-only: the VM's initramfs runs
 * these tests as static binaries.
 */
#ifndef SHMK_TPROC_H
#define SHMK_TPROC_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* fork; the child runs fn(arg) and _exits with its result. */
static inline pid_t spawn(int (*fn)(void *), void *arg)
{
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0)
		_exit(fn(arg));
	return pid;
}

/* Wait for a child: its exit code, 128 + signal, or -1. */
static inline int reap(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return -1;
}

/*
 * reap(), but within @timeout_ms: a child still running then is killed
 * and reaped, and the result is -ETIMEDOUT (a test of a hang must end).
 */
static inline int reap_within(pid_t pid, int timeout_ms)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0), r;
	struct pollfd pf = { .fd = fd, .events = POLLIN };

	if (fd < 0)
		return reap(pid);
	do {
		r = poll(&pf, 1, timeout_ms);
	} while (r < 0 && errno == EINTR);
	close(fd);
	if (r != 1) {
		kill(pid, SIGKILL);
		reap(pid);
		return -ETIMEDOUT;
	}
	return reap(pid);
}

/* Pipe messages: one 64-bit value each. */
static inline int put64(int fd, uint64_t v)
{
	return write(fd, &v, sizeof(v)) == (ssize_t)sizeof(v) ? 0 : -1;
}

/* The next value within @timeout_ms: 0, -ETIMEDOUT or -EPIPE. */
static inline int get64(int fd, uint64_t *v, int timeout_ms)
{
	struct pollfd pf = { .fd = fd, .events = POLLIN };
	int r;

	do {
		r = poll(&pf, 1, timeout_ms);
	} while (r < 0 && errno == EINTR);
	if (r != 1)
		return -ETIMEDOUT;
	return read(fd, v, sizeof(*v)) == (ssize_t)sizeof(*v) ? 0 : -EPIPE;
}

#endif /* SHMK_TPROC_H */
