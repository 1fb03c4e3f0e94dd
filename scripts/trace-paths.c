// SPDX-License-Identifier: GPL-2.0
/*
 * The driver of scripts/trace-paths.sh: one server and one client on the
 * portable backend, with the library built with -finstrument-functions.
 * It records the library functions entered and left during
 *   send   the client's shmk_session_send() of a buffer to the server,
 *          which sleeps in shmk_session_recv() meanwhile;
 *   recv   the server's shmk_session_recv() that returns that message
 *          (already queued: no sleep in the trace);
 *   death  the server's shmk_session_recv() that reports the client's
 *          death (SIGKILL while it holds a buffer and a block).
 * and writes them to send.raw, recv.raw and death.raw in the current
 * directory: one "> address" or "< address" a line.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shmk_msg.h"

#define NOTRACE __attribute__((no_instrument_function))
#define MAXREC	(1 << 20)

static void *rec_fn[MAXREC];
static char rec_dir[MAXREC];
static unsigned int nrec;
static volatile int tracing;

NOTRACE void __cyg_profile_func_enter(void *fn, void *site);
NOTRACE void __cyg_profile_func_exit(void *fn, void *site);

void __cyg_profile_func_enter(void *fn, void *site)
{
	(void)site;
	if (tracing && nrec < MAXREC) {
		rec_fn[nrec] = fn;
		rec_dir[nrec++] = '>';
	}
}

void __cyg_profile_func_exit(void *fn, void *site)
{
	(void)site;
	if (tracing && nrec < MAXREC) {
		rec_fn[nrec] = fn;
		rec_dir[nrec++] = '<';
	}
}

static NOTRACE void start(void)
{
	nrec = 0;
	tracing = 1;
}

static NOTRACE void stop(const char *file)
{
	unsigned int i;
	FILE *f;

	tracing = 0;
	if (!file)
		return;
	f = fopen(file, "w");
	if (!f) {
		perror(file);
		exit(1);
	}
	for (i = 0; i < nrec; i++)
		fprintf(f, "%c %p\n", rec_dir[i], rec_fn[i]);
	fclose(f);
}

static NOTRACE void die(const char *what, int r)
{
	fprintf(stderr, "trace-paths: %s: %s\n", what, strerror(-r));
	exit(1);
}

static NOTRACE void nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static NOTRACE int server(const char *name, int ready)
{
	struct shmk_session *s;
	struct shmk_msg m;
	int r, phase = 0;

	r = shmk_server_start(name, NULL, &s);
	if (r)
		die("shmk_server_start", r);
	if (write(ready, "x", 1) != 1)
		return 1;
	close(ready);
	for (;;) {
		if (phase == 0) {
			/* asleep in recv while the client sends tag 1 */
			r = shmk_session_recv(s, &m, 10000000000LL);
			if (r < 0)
				die("shmk_session_recv", r);
			if (m.type == SHMK_MSG_DATA && m.tag == 1)
				phase = 1;
			if (m.type == SHMK_MSG_DATA && m.ref)
				shmk_buf_drop(shmk_session_arena(s), m.ref);
			continue;
		}
		/* polling: each traced call finds its message queued */
		start();
		r = shmk_session_recv(s, &m, 0);
		tracing = 0;
		if (r == -EAGAIN) {
			nap_ms(1);
			continue;
		}
		if (r < 0)
			die("shmk_session_recv", r);
		if (m.type == SHMK_MSG_DATA && m.tag == 2) {
			stop("recv.raw");
			shmk_buf_drop(shmk_session_arena(s), m.ref);
		} else if (m.type == SHMK_EV_PEER_CRASHED) {
			stop("death.raw");
			break;
		} else if (m.type == SHMK_MSG_DATA && m.ref) {
			shmk_buf_drop(shmk_session_arena(s), m.ref);
		}
	}
	shmk_session_close(s);
	return 0;
}

static NOTRACE int client(const char *name)
{
	struct shmk_session *s;
	struct shmk_arena *a;
	shmk_ref_t ref, held;
	uint64_t off;
	int r;

	r = shmk_client_connect(name, NULL, 10000000000LL, &s);
	if (r)
		die("shmk_client_connect", r);
	a = shmk_session_arena(s);
	/* what the death leaves behind: a buffer and a block */
	if (shmk_buf_create(a, 4096, 0, 0, 0, &held) ||
	    shmk_alloc(a, 100, 0, 0, &off))
		die("setup", -ENOMEM);
	r = shmk_buf_create(a, 64, 0, 0, 0, &ref);
	if (r)
		die("shmk_buf_create", r);
	nap_ms(200);	/* the server is asleep in recv */
	start();
	r = shmk_session_send(s, SHMK_PEER_SERVER, ref, 1, 0, 0);
	stop("send.raw");
	if (r)
		die("shmk_session_send", r);
	nap_ms(200);	/* the server polls now */
	r = shmk_buf_create(a, 64, 0, 0, 0, &ref);
	if (r == 0)
		r = shmk_session_send(s, SHMK_PEER_SERVER, ref, 2, 0, 0);
	if (r)
		die("shmk_session_send", r);
	nap_ms(200);
	raise(SIGKILL);
	return 1;
}

int main(void)
{
	char name[64];
	int p[2], st, cst;
	pid_t srv, cli;
	char c;

	snprintf(name, sizeof(name), "tracepaths%d", (int)getpid());
	if (pipe(p))
		return 1;
	srv = fork();
	if (srv == 0) {
		close(p[0]);
		_exit(server(name, p[1]));
	}
	close(p[1]);
	if (read(p[0], &c, 1) != 1)
		return 1;
	cli = fork();
	if (cli == 0)
		_exit(client(name));
	waitpid(cli, &cst, 0);
	waitpid(srv, &st, 0);
	shmk_arena_remove(name, 0);
	return !(WIFEXITED(st) && WEXITSTATUS(st) == 0 && WIFSIGNALED(cst));
}
