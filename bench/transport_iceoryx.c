// SPDX-License-Identifier: GPL-2.0
/*
 * Peer: Eclipse iceoryx 2.x (Debian's packages), our own small ping-pong
 * on its C binding. Zero copy on both sides: the payload is produced in a
 * loaned chunk and read in the received chunk. Blocking mode waits in a
 * WaitSet; spinning mode polls iox_sub_take_chunk() (yielding every 64
 * polls, like our other spinning rows).
 *
 * RouDi, iceoryx's broker daemon, is started by the bench before the first
 * iceoryx case and stopped after the last one; its output goes to
 * roudi.log in the output directory.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#ifndef HAVE_ICEORYX

static const char *iox_unavailable(void)
{
	return "not installed: Debian packages iceoryx and "
	       "libiceoryx-binding-c-dev are needed (scripts/install-deps.sh)";
}

const char *iceoryx_roudi_start(const char *config, const char *log)
{
	(void)config;
	(void)log;
	return iox_unavailable();
}

void iceoryx_roudi_stop(void)
{
}

static int iox_none(struct pp_ctx *c)
{
	(void)c;
	return -ENOSYS;
}

static int iox_none_ping(struct pp_ctx *c, uint64_t seq)
{
	(void)c;
	(void)seq;
	return -ENOSYS;
}

static int iox_none_serve(struct pp_ctx *c, uint64_t *seq)
{
	(void)c;
	(void)seq;
	return -ENOSYS;
}

static void iox_none_fini(struct pp_ctx *c)
{
	(void)c;
}

const struct pp_transport tr_iceoryx = {
	.name = "iceoryx", .label = "iceoryx 2.x (C binding)",
	.modes = (1 << MODE_BLOCK) | (1 << MODE_SPIN),
	.unavailable = iox_unavailable,
	.setup = iox_none, .init = iox_none, .ping = iox_none_ping,
	.serve = iox_none_serve, .fini = iox_none_fini,
	.teardown = iox_none_fini,
};

#else

#include <iceoryx_binding_c/chunk.h>
#include <iceoryx_binding_c/enums.h>
#include <iceoryx_binding_c/log.h>
#include <iceoryx_binding_c/publisher.h>
#include <iceoryx_binding_c/runtime.h>
#include <iceoryx_binding_c/subscriber.h>
#include <iceoryx_binding_c/types.h>
#include <iceoryx_binding_c/wait_set.h>

static char roudi_error[256];
static pid_t roudi_pid = -1, collector_pid = -1;

static const char *iox_unavailable(void)
{
	return roudi_error[0] ? roudi_error : NULL;
}

/*
 * Copy RouDi's output to the log; tell the driver (one byte on @ready)
 * when RouDi says it is ready.
 */
static void collector(int in, int ready, const char *log)
{
	FILE *f = fdopen(in, "r"), *out = fopen(log, "w");
	char line[1024];
	int told = 0;

	while (f && fgets(line, sizeof(line), f)) {
		if (out) {
			fputs(line, out);
			fflush(out);
		}
		if (!told && strstr(line, "RouDi is ready")) {
			told = 1;
			if (write(ready, "r", 1) != 1)
				break;
			close(ready);
		}
	}
	_exit(0);
}

const char *iceoryx_roudi_start(const char *config, const char *log)
{
	int out[2], rdy[2], r;
	struct pollfd p;
	char b;

	if (roudi_pid > 0)
		return NULL;
	if (pipe(out) < 0 || pipe(rdy) < 0) {
		snprintf(roudi_error, sizeof(roudi_error), "RouDi: pipe: %s",
			 strerror(errno));
		return roudi_error;
	}
	fflush(NULL);
	roudi_pid = fork();
	if (roudi_pid == 0) {
		char *argv[8];
		int n = 0;

		dup2(out[1], 1);
		dup2(out[1], 2);
		close(out[0]);
		close(out[1]);
		close(rdy[0]);
		close(rdy[1]);
		argv[n++] = "iox-roudi";
		argv[n++] = "-l";
		argv[n++] = "info";
		if (config && !access(config, R_OK)) {
			argv[n++] = "-c";
			argv[n++] = (char *)config;
		}
		argv[n] = NULL;
		execvp("iox-roudi", argv);
		printf("exec iox-roudi: %s\n", strerror(errno));
		_exit(127);
	}
	collector_pid = fork();
	if (collector_pid == 0) {
		close(out[1]);
		close(rdy[0]);
		collector(out[0], rdy[1], log);
	}
	close(out[0]);
	close(out[1]);
	close(rdy[1]);
	p.fd = rdy[0];
	p.events = POLLIN;
	r = poll(&p, 1, 20000);
	if (r != 1 || read(rdy[0], &b, 1) != 1) {
		snprintf(roudi_error, sizeof(roudi_error),
			 "RouDi did not become ready within 20 s (see %s)",
			 log);
		close(rdy[0]);
		iceoryx_roudi_stop();
		return roudi_error;
	}
	close(rdy[0]);
	roudi_error[0] = 0;
	return NULL;
}

static void stop_child(pid_t *pid, int sig, int ms)
{
	int pfd;

	if (*pid <= 0)
		return;
	kill(*pid, sig);
	pfd = (int)syscall(SYS_pidfd_open, *pid, 0);
	if (pfd >= 0) {
		struct pollfd p = { .fd = pfd, .events = POLLIN };

		if (poll(&p, 1, ms) != 1)
			kill(*pid, SIGKILL);
		close(pfd);
	}
	waitpid(*pid, NULL, 0);
	*pid = -1;
}

void iceoryx_roudi_stop(void)
{
	stop_child(&roudi_pid, SIGTERM, 10000);
	stop_child(&collector_pid, SIGTERM, 1000);
	if (!roudi_error[0])
		snprintf(roudi_error, sizeof(roudi_error),
			 "RouDi not running (stopped)");
}

struct iox_priv {
	iox_pub_storage_t pub_st;
	iox_sub_storage_t sub_st;
	iox_ws_storage_t ws_st;
	iox_pub_t pub;
	iox_sub_t sub;
	iox_ws_t ws;
	int connected;
};

static int iox_setup(struct pp_ctx *c)
{
	if (roudi_pid <= 0)
		return -ENOTCONN;
	c->priv = NULL;
	return 0;
}

static int iox_init(struct pp_ctx *c)
{
	struct iox_priv *p = calloc(1, sizeof(*p));
	iox_pub_options_t po;
	iox_sub_options_t so;
	char rt[96];

	if (!p)
		return -ENOMEM;
	c->priv = p;
	iox_set_loglevel(Iceoryx_LogLevel_Warn);
	snprintf(rt, sizeof(rt), "shmkbench-%c-%d", c->role ? 'b' : 'a',
		 (int)getpid());
	iox_runtime_init(rt);
	iox_pub_options_init(&po);
	po.historyCapacity = 0;
	iox_sub_options_init(&so);
	so.queueCapacity = 2;
	so.historyRequest = 0;
	p->pub = iox_pub_init(&p->pub_st, "shmkbench", c->name,
			      c->role ? "pong" : "ping", &po);
	p->sub = iox_sub_init(&p->sub_st, "shmkbench", c->name,
			      c->role ? "ping" : "pong", &so);
	if (!p->pub || !p->sub)
		return -EIO;
	if (c->mode == MODE_BLOCK) {
		p->ws = iox_ws_init(&p->ws_st);
		if (!p->ws ||
		    iox_ws_attach_subscriber_state(p->ws, p->sub,
						   SubscriberState_HAS_DATA, 0,
						   NULL) != WaitSetResult_SUCCESS)
			return -EIO;
	}
	return 0;
}

/* Discovery goes through RouDi asynchronously: poll until matched. */
static int iox_connect(struct iox_priv *p)
{
	uint64_t deadline = now_ns() + 10000000000ull;
	struct timespec ts = { 0, 100000 };

	while (!iox_pub_has_subscribers(p->pub) ||
	       iox_sub_get_subscription_state(p->sub) !=
	       SubscribeState_SUBSCRIBED) {
		if (now_ns() > deadline)
			return -ETIMEDOUT;
		nanosleep(&ts, NULL);
	}
	p->connected = 1;
	return 0;
}

static int iox_take(struct pp_ctx *c, const void **chunk)
{
	struct iox_priv *p = c->priv;
	iox_notification_info_t info[2];
	uint64_t missed;
	unsigned int polls = 0;
	enum iox_ChunkReceiveResult r;

	for (;;) {
		r = iox_sub_take_chunk(p->sub, chunk);
		if (r == ChunkReceiveResult_SUCCESS)
			return 0;
		if (r != ChunkReceiveResult_NO_CHUNK_AVAILABLE)
			return -EIO;
		if (c->mode == MODE_BLOCK) {
			iox_ws_wait(p->ws, info, 2, &missed);
		} else {
			cpu_relax();
			if (++polls % 64 == 0)
				sched_yield();
		}
	}
}

static int iox_send(struct pp_ctx *c, uint64_t seq)
{
	struct iox_priv *p = c->priv;
	void *chunk;

	if (iox_pub_loan_chunk(p->pub, &chunk, (uint32_t)c->size) !=
	    AllocationResult_SUCCESS)
		return -ENOMEM;
	payload_stamp(chunk, c->size, seq);	/* produced in place */
	iox_pub_publish_chunk(p->pub, chunk);
	return 0;
}

static int iox_ping(struct pp_ctx *c, uint64_t seq)
{
	struct iox_priv *p = c->priv;
	const void *chunk;
	int err;

	if (!p->connected) {
		err = iox_connect(p);
		if (err)
			return err;
	}
	err = iox_send(c, seq);
	if (!err)
		err = iox_take(c, &chunk);
	if (err)
		return err;
	err = payload_check(chunk, c->size, seq) ? -EBADMSG : 0;
	iox_sub_release_chunk(p->sub, chunk);
	return err;
}

static int iox_serve(struct pp_ctx *c, uint64_t *seq)
{
	struct iox_priv *p = c->priv;
	const void *chunk;
	int err;

	err = iox_take(c, &chunk);
	if (err)
		return err;
	*seq = payload_seq(chunk);
	err = payload_check(chunk, c->size, *seq) ? -EBADMSG : 0;
	iox_sub_release_chunk(p->sub, chunk);
	return err ? err : iox_send(c, *seq);
}

static void iox_fini(struct pp_ctx *c)
{
	struct iox_priv *p = c->priv;

	if (!p)
		return;
	if (p->ws)
		iox_ws_deinit(p->ws);
	if (p->sub)
		iox_sub_deinit(p->sub);
	if (p->pub)
		iox_pub_deinit(p->pub);
	iox_runtime_shutdown();
	free(p);
	c->priv = NULL;
}

static void iox_teardown(struct pp_ctx *c)
{
	(void)c;
}

const struct pp_transport tr_iceoryx = {
	.name = "iceoryx", .label = "iceoryx 2.x (C binding; zero copy)",
	.modes = (1 << MODE_BLOCK) | (1 << MODE_SPIN),
	.unavailable = iox_unavailable,
	.setup = iox_setup, .init = iox_init, .ping = iox_ping,
	.serve = iox_serve, .fini = iox_fini, .teardown = iox_teardown,
};
#endif
