// SPDX-License-Identifier: GPL-2.0
/*
 * Copying baselines: Unix stream socket, pipe pair, TCP loopback.
 *
 * Used the way a real user uses them: the message is produced in a private
 * buffer, write() copies it into the kernel, read() copies it out into the
 * receiver's private buffer. Stream sockets may split or merge messages, so
 * every read loops until the whole message is there.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

/* fd[0]: A reads, fd[1]: A writes, fd[2]: B reads, fd[3]: B writes. */
static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void pp_fd_reset(struct pp_ctx *c)
{
	int i;

	for (i = 0; i < 8; i++)
		c->fd[i] = -1;
}

static int uds_setup(struct pp_ctx *c)
{
	int sv[2];

	pp_fd_reset(c);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	c->fd[0] = sv[0];
	c->fd[1] = dup(sv[0]);
	c->fd[2] = sv[1];
	c->fd[3] = dup(sv[1]);
	return (c->fd[1] < 0 || c->fd[3] < 0) ? -EMFILE : 0;
}

static int pipe_setup(struct pp_ctx *c)
{
	int ab[2], ba[2];

	pp_fd_reset(c);
	if (pipe2(ab, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(ba, O_CLOEXEC) < 0) {
		close(ab[0]);
		close(ab[1]);
		return -errno;
	}
	c->fd[0] = ba[0];
	c->fd[1] = ab[1];
	c->fd[2] = ab[0];
	c->fd[3] = ba[1];
	return 0;
}

static int tcp_pair(int sv[2])
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int one = 1, ls, cs = -1, as = -1, err;

	ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ls < 0)
		return -errno;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(ls, 1) < 0 ||
	    getsockname(ls, (struct sockaddr *)&sa, &len) < 0)
		goto fail;
	cs = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (cs < 0 || connect(cs, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto fail;
	as = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
	if (as < 0)
		goto fail;
	/* Request/response traffic: no Nagle delay, as any RPC user sets. */
	setsockopt(cs, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(as, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	close(ls);
	sv[0] = cs;
	sv[1] = as;
	return 0;
fail:
	err = -errno;
	close(ls);
	if (cs >= 0)
		close(cs);
	return err ? err : -EIO;
}

static int tcp_setup(struct pp_ctx *c)
{
	int sv[2] = { -1, -1 }, err;

	pp_fd_reset(c);
	err = tcp_pair(sv);
	if (err)
		return err;
	c->fd[0] = sv[0];
	c->fd[1] = dup(sv[0]);
	c->fd[2] = sv[1];
	c->fd[3] = dup(sv[1]);
	return 0;
}

static int fd_init(struct pp_ctx *c)
{
	int mine = c->role ? 2 : 0, other = c->role ? 0 : 2;

	close_fd(&c->fd[other]);
	close_fd(&c->fd[other + 1]);
	if (mine != 0) {
		c->fd[0] = c->fd[mine];
		c->fd[1] = c->fd[mine + 1];
		c->fd[mine] = -1;
		c->fd[mine + 1] = -1;
	}
	c->buf = malloc(c->size);
	if (!c->buf)
		return -ENOMEM;
	memset(c->buf, 0xa5, c->size);	/* produced once, faulted in */
	return 0;
}

static int fd_ping(struct pp_ctx *c, uint64_t seq)
{
	int err;

	payload_stamp(c->buf, c->size, seq);
	err = write_full(c->fd[1], c->buf, c->size);
	if (!err)
		err = read_full(c->fd[0], c->buf, c->size);
	if (!err && payload_check(c->buf, c->size, seq))
		err = -EBADMSG;
	return err;
}

static int fd_serve(struct pp_ctx *c, uint64_t *seq)
{
	int err = read_full(c->fd[0], c->buf, c->size);

	if (err)
		return err;
	*seq = payload_seq(c->buf);
	if (payload_check(c->buf, c->size, *seq))
		return -EBADMSG;
	payload_stamp(c->buf, c->size, *seq);	/* the reply, in place */
	return write_full(c->fd[1], c->buf, c->size);
}

static void fd_fini(struct pp_ctx *c)
{
	close_fd(&c->fd[0]);
	close_fd(&c->fd[1]);
	free(c->buf);
	c->buf = NULL;
}

static void fd_teardown(struct pp_ctx *c)
{
	int i;

	for (i = 0; i < 8; i++)
		close_fd(&c->fd[i]);
}

const struct pp_transport tr_uds = {
	.name = "uds", .label = "Unix socket (stream)",
	.modes = 1 << MODE_BLOCK,
	.setup = uds_setup, .init = fd_init, .ping = fd_ping,
	.serve = fd_serve, .fini = fd_fini, .teardown = fd_teardown,
};

const struct pp_transport tr_pipe = {
	.name = "pipe", .label = "pipe pair",
	.modes = 1 << MODE_BLOCK,
	.setup = pipe_setup, .init = fd_init, .ping = fd_ping,
	.serve = fd_serve, .fini = fd_fini, .teardown = fd_teardown,
};

const struct pp_transport tr_tcp = {
	.name = "tcp", .label = "TCP loopback",
	.modes = 1 << MODE_BLOCK,
	.setup = tcp_setup, .init = fd_init, .ping = fd_ping,
	.serve = fd_serve, .fini = fd_fini, .teardown = fd_teardown,
};

/* ------------------------------------------------- streaming / fan-in */
/*
 * fd[2i] is the consumer's end of producer i, fd[2i+1] the producer's.
 * The consumer reads big chunks (one read() may carry many messages, as
 * any buffered reader does) and splits them into messages.
 */
#define ST_RDBUF	(64 * 1024)

struct st_fd_priv {
	int ep;
	size_t have[STREAM_MAX_PROD];	/* bytes buffered per producer */
	unsigned char *in[STREAM_MAX_PROD];
	size_t in_len;
};

static void st_fd_reset(struct st_ctx *c)
{
	size_t i;

	for (i = 0; i < sizeof(c->fd) / sizeof(c->fd[0]); i++)
		c->fd[i] = -1;
}

static int st_uds_setup(struct st_ctx *c)
{
	int i, sv[2];

	st_fd_reset(c);
	for (i = 0; i < c->nprod; i++) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
			return -errno;
		c->fd[2 * i] = sv[0];
		c->fd[2 * i + 1] = sv[1];
	}
	return 0;
}

static int st_pipe_setup(struct st_ctx *c)
{
	int i, p[2];

	st_fd_reset(c);
	for (i = 0; i < c->nprod; i++) {
		if (pipe2(p, O_CLOEXEC) < 0)
			return -errno;
		c->fd[2 * i] = p[0];
		c->fd[2 * i + 1] = p[1];
	}
	return 0;
}

static int st_fd_init(struct st_ctx *c)
{
	struct st_fd_priv *p;
	int i;

	for (i = 0; i < c->nprod; i++) {
		if (c->idx < 0)
			close_fd(&c->fd[2 * i + 1]);
		else
			close_fd(&c->fd[2 * i]);
		if (c->idx >= 0 && i != c->idx)
			close_fd(&c->fd[2 * i + 1]);
	}
	if (c->idx >= 0) {
		c->buf = malloc(c->size);
		if (!c->buf)
			return -ENOMEM;
		memset(c->buf, 0xa5, c->size);
		return 0;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	c->priv = p;
	p->ep = -1;
	p->in_len = ST_RDBUF + c->size;
	for (i = 0; i < c->nprod; i++) {
		p->in[i] = malloc(p->in_len);
		if (!p->in[i])
			return -ENOMEM;
	}
	if (c->nprod > 1) {
		p->ep = epoll_create1(EPOLL_CLOEXEC);
		if (p->ep < 0)
			return -errno;
		for (i = 0; i < c->nprod; i++) {
			struct epoll_event ev = {
				.events = EPOLLIN, .data.u32 = (uint32_t)i,
			};

			if (epoll_ctl(p->ep, EPOLL_CTL_ADD, c->fd[2 * i],
				      &ev) < 0)
				return -errno;
		}
	}
	return 0;
}

static int st_fd_send(struct st_ctx *c, uint64_t seq)
{
	payload_stamp(c->buf, c->size, seq);
	return write_full(c->fd[2 * c->idx + 1], c->buf, c->size);
}

/* Read what producer @i has and deliver every complete message. */
static int st_fd_drain(struct st_ctx *c, struct st_fd_priv *p, int i,
		       void (*cb)(void *, int, uint64_t), void *arg)
{
	size_t off = 0;
	ssize_t n;
	int got = 0;

	n = read(c->fd[2 * i], p->in[i] + p->have[i], ST_RDBUF);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -errno;
	if (n == 0)
		return -EPIPE;
	p->have[i] += (size_t)n;
	while (p->have[i] - off >= c->size) {
		const unsigned char *m = p->in[i] + off;
		uint64_t seq = payload_seq(m);

		if (payload_check(m, c->size, seq))
			return -EBADMSG;
		cb(arg, i, seq);
		off += c->size;
		got++;
	}
	if (off) {
		memmove(p->in[i], p->in[i] + off, p->have[i] - off);
		p->have[i] -= off;
	}
	return got;
}

static int st_fd_recv(struct st_ctx *c, void (*cb)(void *, int, uint64_t),
		      void *arg)
{
	struct st_fd_priv *p = c->priv;
	struct epoll_event ev[STREAM_MAX_PROD];
	int n, i, r, got = 0;

	if (c->nprod == 1)
		return st_fd_drain(c, p, 0, cb, arg);
	n = epoll_wait(p->ep, ev, STREAM_MAX_PROD, -1);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (i = 0; i < n; i++) {
		r = st_fd_drain(c, p, (int)ev[i].data.u32, cb, arg);
		if (r == -EPIPE) {
			/* That producer is done: stop watching it. */
			epoll_ctl(p->ep, EPOLL_CTL_DEL,
				  c->fd[2 * ev[i].data.u32], NULL);
			continue;
		}
		if (r < 0)
			return r;
		got += r;
	}
	return got;
}

static void st_fd_fini(struct st_ctx *c)
{
	struct st_fd_priv *p = c->priv;
	size_t i;

	for (i = 0; i < sizeof(c->fd) / sizeof(c->fd[0]); i++)
		close_fd(&c->fd[i]);
	if (p) {
		if (p->ep >= 0)
			close(p->ep);
		for (i = 0; i < STREAM_MAX_PROD; i++)
			free(p->in[i]);
		free(p);
		c->priv = NULL;
	}
	free(c->buf);
	c->buf = NULL;
}

static void st_fd_teardown(struct st_ctx *c)
{
	size_t i;

	for (i = 0; i < sizeof(c->fd) / sizeof(c->fd[0]); i++)
		close_fd(&c->fd[i]);
}

const struct st_transport st_uds = {
	.name = "uds", .label = "Unix socket (stream)",
	.setup = st_uds_setup, .init = st_fd_init, .send = st_fd_send,
	.recv = st_fd_recv, .fini = st_fd_fini, .teardown = st_fd_teardown,
};

const struct st_transport st_pipe = {
	.name = "pipe", .label = "pipe",
	.setup = st_pipe_setup, .init = st_fd_init, .send = st_fd_send,
	.recv = st_fd_recv, .fini = st_fd_fini, .teardown = st_fd_teardown,
};
