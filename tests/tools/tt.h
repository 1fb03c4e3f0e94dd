/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tests/tools: TAP output, running the tools (copied next to the tests
 * by the Makefile) and reading their output line by line with a bound.
 * Bounds are failure limits, never synchronisation: every wait here ends
 * as soon as the awaited output or exit arrives.
 */
#ifndef SHMK_TT_H
#define SHMK_TT_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- TAP ---------------------------------------------------------------- */

static int tap_n, tap_failed, tap_skipped;

__attribute__((format(printf, 2, 3)))
static inline int tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", cond ? "" : "not ", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!cond)
		tap_failed++;
	return cond;
}

__attribute__((format(printf, 2, 3)))
static inline void tap_skip(const char *what, const char *fmt, ...)
{
	va_list ap;

	printf("ok %d - %s # SKIP ", ++tap_n, what);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	tap_skipped++;
}

#define diag(...) do { fprintf(stderr, "# " __VA_ARGS__); \
		       fprintf(stderr, "\n"); } while (0)

static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	fflush(stdout);
	if (tap_failed)
		return 1;
	return tap_n && tap_skipped == tap_n ? 77 : 0;
}

/* ---- paths ---------------------------------------------------------------- */

/* The test program itself (absolute). */
static inline const char *tt_self(void)
{
	static char self[PATH_MAX];
	ssize_t n;

	if (!self[0]) {
		n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n < 0)
			n = 0;
		self[n] = '\0';
	}
	return self;
}

/* A tool copied into the test's directory (tests/tools/<tool>). */
static inline const char *tt_tool(const char *tool)
{
	static char path[4][PATH_MAX];
	static int k;
	char *p = path[k++ & 3], *slash;

	snprintf(p, PATH_MAX, "%s", tt_self());
	slash = strrchr(p, '/');
	if (slash)
		snprintf(slash + 1, (size_t)(PATH_MAX - (slash + 1 - p)), "%s",
			 tool);
	return p;
}

static inline uint64_t tt_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- running a command to completion -------------------------------------- */

struct tt_run {
	int status;		/* exit code, or 128 + signal, or -1 */
	char *out;		/* stdout, NUL-terminated */
	char *err;		/* stderr */
};

static inline void tt_run_free(struct tt_run *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

static inline int tt_append(char **buf, size_t *len, size_t *cap,
			    const char *p, size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t nc = (*cap ? *cap : 4096);
		char *nb;

		while (nc < *len + n + 1)
			nc *= 2;
		nb = realloc(*buf, nc);
		if (!nb)
			return -1;
		*buf = nb;
		*cap = nc;
	}
	memcpy(*buf + *len, p, n);
	*len += n;
	(*buf)[*len] = '\0';
	return 0;
}

/*
 * Run @argv (NULL-terminated), collect stdout and stderr; give up (kill
 * it, status -1) after @limit_ms. Extra environment in @env ("K=V", NULL
 * terminated) or NULL.
 */
static inline int tt_run(char *const argv[], char *const env[], int limit_ms,
			 struct tt_run *r)
{
	int po[2], pe[2], i, open_fds = 2, st;
	size_t lo = 0, co = 0, le = 0, ce = 0;
	uint64_t end = tt_now_ms() + (uint64_t)limit_ms;
	pid_t pid;
	char buf[4096];

	memset(r, 0, sizeof(*r));
	r->status = -1;
	if (pipe2(po, O_CLOEXEC) || pipe2(pe, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		dup2(po[1], 1);
		dup2(pe[1], 2);
		for (i = 0; env && env[i]; i++)
			putenv(env[i]);
		execv(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	tt_append(&r->out, &lo, &co, "", 0);
	tt_append(&r->err, &le, &ce, "", 0);
	while (open_fds) {
		struct pollfd pf[2] = { { po[0], POLLIN, 0 },
					{ pe[0], POLLIN, 0 } };
		int64_t left = (int64_t)(end - tt_now_ms());
		ssize_t n;

		if (left <= 0 || tt_now_ms() > end) {
			kill(pid, SIGKILL);
			break;
		}
		if (poll(pf, 2, (int)left) < 0 && errno != EINTR)
			break;
		for (i = 0; i < 2; i++) {
			if (pf[i].fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP)))
				continue;
			n = read(pf[i].fd, buf, sizeof(buf));
			if (n > 0) {
				if (i == 0)
					tt_append(&r->out, &lo, &co, buf, (size_t)n);
				else
					tt_append(&r->err, &le, &ce, buf, (size_t)n);
			} else if (n == 0) {
				open_fds--;
				if (i == 0)
					po[0] = -po[0] - 1;
				else
					pe[0] = -pe[0] - 1;
			}
		}
		if (po[0] < 0 && pe[0] < 0)
			break;
	}
	close(po[0] < 0 ? -po[0] - 1 : po[0]);
	close(pe[0] < 0 ? -pe[0] - 1 : pe[0]);
	if (waitpid(pid, &st, 0) == pid) {
		if (WIFEXITED(st))
			r->status = WEXITSTATUS(st);
		else if (WIFSIGNALED(st))
			r->status = 128 + WTERMSIG(st);
	}
	if (tt_now_ms() > end)
		r->status = -1;
	return 0;
}

/* ---- a long-running tool, read line by line -------------------------------- */

struct tt_proc {
	pid_t pid;
	int out;		/* its stdout */
	int err;		/* its stderr */
	char buf[65536];
	size_t len;		/* bytes in buf not yet returned */
	char errbuf[8192];
	size_t errlen;
	bool eof;
};

static inline int tt_spawn(char *const argv[], struct tt_proc *p)
{
	int po[2], pe[2];

	memset(p, 0, sizeof(*p));
	if (pipe2(po, O_CLOEXEC) || pipe2(pe, O_CLOEXEC))
		return -errno;
	p->pid = fork();
	if (p->pid < 0)
		return -errno;
	if (p->pid == 0) {
		dup2(po[1], 1);
		dup2(pe[1], 2);
		execv(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	p->out = po[0];
	p->err = pe[0];
	fcntl(p->err, F_SETFL, O_NONBLOCK);
	return 0;
}

static inline void tt_drain_err(struct tt_proc *p)
{
	ssize_t n;

	while (p->errlen + 1 < sizeof(p->errbuf)) {
		n = read(p->err, p->errbuf + p->errlen,
			 sizeof(p->errbuf) - 1 - p->errlen);
		if (n <= 0)
			break;
		p->errlen += (size_t)n;
	}
	p->errbuf[p->errlen] = '\0';
}

/*
 * Next line of its stdout into @line (without the newline): 1, or 0 at
 * end of file, or -ETIMEDOUT once @deadline_ms (tt_now_ms() clock) passed.
 */
static inline int tt_line(struct tt_proc *p, char *line, size_t len,
			  uint64_t deadline_ms)
{
	for (;;) {
		char *nl = memchr(p->buf, '\n', p->len);
		struct pollfd pf[2] = { { p->out, POLLIN, 0 },
					{ p->err, POLLIN, 0 } };
		int64_t left;
		ssize_t n;

		if (nl) {
			size_t k = (size_t)(nl - p->buf);

			snprintf(line, len, "%.*s", (int)k, p->buf);
			memmove(p->buf, nl + 1, p->len - k - 1);
			p->len -= k + 1;
			return 1;
		}
		if (p->eof)
			return 0;
		left = (int64_t)(deadline_ms - tt_now_ms());
		if (left <= 0 || tt_now_ms() > deadline_ms)
			return -ETIMEDOUT;
		if (poll(pf, 2, (int)left) < 0 && errno != EINTR)
			return -errno;
		if (pf[1].revents)
			tt_drain_err(p);
		if (!(pf[0].revents & (POLLIN | POLLHUP)))
			continue;
		if (p->len + 1 >= sizeof(p->buf))
			p->len = 0;	/* a line longer than the buffer */
		n = read(p->out, p->buf + p->len, sizeof(p->buf) - 1 - p->len);
		if (n > 0)
			p->len += (size_t)n;
		else if (n == 0)
			p->eof = true;
	}
}

/* SIGINT it and reap it: its exit code, 128 + signal, or -1. */
static inline int tt_stop(struct tt_proc *p, int sig)
{
	int st, r = -1;

	if (p->pid <= 0)
		return -1;
	kill(p->pid, sig);
	if (waitpid(p->pid, &st, 0) == p->pid) {
		if (WIFEXITED(st))
			r = WEXITSTATUS(st);
		else if (WIFSIGNALED(st))
			r = 128 + WTERMSIG(st);
	}
	tt_drain_err(p);
	close(p->out);
	close(p->err);
	p->pid = 0;
	return r;
}

/* Whitespace-separated fields of @line into @f (at most @max). */
static inline int tt_fields(char *line, char **f, int max)
{
	int n = 0;
	char *save = NULL, *t;

	for (t = strtok_r(line, " \t", &save); t && n < max;
	     t = strtok_r(NULL, " \t", &save))
		f[n++] = t;
	return n;
}

/* Print each line of @text as a "# " diagnostic. */
static inline void tt_diag_text(const char *what, const char *text)
{
	const char *p = text, *nl;

	while (p && *p) {
		nl = strchr(p, '\n');
		fprintf(stderr, "# %s: %.*s\n", what,
			(int)(nl ? nl - p : (ptrdiff_t)strlen(p)), p);
		p = nl ? nl + 1 : NULL;
	}
}

/* ---- a member process driven through pipes --------------------------------- */

/*
 * A forked child that runs @fn(arg, cmd_fd, ready_fd): it writes one byte
 * to ready_fd when it has done its setup, and reads cmd_fd for orders
 * (EOF: finish).
 */
struct tt_child {
	pid_t pid;
	int cmd;		/* parent writes orders here */
	int ready;		/* parent reads reports here */
};

static inline int tt_child_start(struct tt_child *c,
				 int (*fn)(void *, int, int), void *arg)
{
	int pc[2], pr[2];

	if (pipe2(pc, O_CLOEXEC) || pipe2(pr, O_CLOEXEC))
		return -errno;
	fflush(stdout);
	fflush(stderr);
	c->pid = fork();
	if (c->pid < 0)
		return -errno;
	if (c->pid == 0) {
		close(pc[1]);
		close(pr[0]);
		_exit(fn(arg, pc[0], pr[1]));
	}
	close(pc[0]);
	close(pr[1]);
	c->cmd = pc[1];
	c->ready = pr[0];
	return 0;
}

/* Wait (bounded) for one report byte from the child; -1 on EOF/timeout. */
static inline int tt_child_wait(struct tt_child *c, int limit_ms)
{
	struct pollfd pf = { c->ready, POLLIN, 0 };
	char b;

	if (poll(&pf, 1, limit_ms) != 1)
		return -1;
	if (read(c->ready, &b, 1) != 1)
		return -1;
	return (unsigned char)b;
}

static inline int tt_child_order(struct tt_child *c, char b)
{
	return write(c->cmd, &b, 1) == 1 ? 0 : -1;
}

#endif /* SHMK_TT_H */
