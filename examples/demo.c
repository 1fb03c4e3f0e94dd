// SPDX-License-Identifier: MIT
/*
 * demo: one server and a few clients exchanging buffers through a shmk
 * arena. One client is killed with SIGKILL in the middle of its traffic;
 * the server is told at once, everything the client owned goes back to
 * the allocator, the client is started again and carries on.
 *
 *   demo [--clients N] [--messages N]
 *
 * Runs on whichever backend SHMK_BACKEND selects (kmod when /dev/shmk
 * exists, else portable). Every process here is a fork of this one; the
 * parent also joins the arena, to read the allocator's books.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shmk_msg.h"

#define WORKSET		16	/* buffers of 4 KiB each client keeps */
#define SEC		1000000000LL

/* What children tell the parent (one write each, atomic on a pipe). */
enum { R_UP = 1, R_CONNECTED, R_TALKED, R_CRASHED, R_LEFT, R_FAILED };
struct report {
	int kind;
	int idx;		/* client number */
	uint32_t member, gen;
	int32_t how, status;
	uint64_t t_ns;		/* when the reporter saw it */
	uint64_t death_ns;	/* R_CRASHED: when the kernel saw it */
	long count;
};

static const char usage[] =
	"usage: demo [--clients N] [--messages N]\n"
	"A server and N clients (2..16, default 3) exchange buffers through\n"
	"a shmk arena; after N messages each (default 2000) one client is\n"
	"killed with SIGKILL, the server is told at once, everything the\n"
	"client owned returns to the allocator, and it is started again.\n"
	"Backend: SHMK_BACKEND (kmod or portable), else kmod when\n"
	"/dev/shmk exists.\n";

static char arena[64];
static int rep[2];		/* children -> parent */
static uint64_t t_start;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

__attribute__((format(printf, 1, 2)))
static void say(const char *fmt, ...)
{
	va_list ap;

	printf("[%7.3f s] ", (double)(now_ns() - t_start) / 1e9);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void tell(struct report r)
{
	r.t_ns = r.t_ns ? r.t_ns : now_ns();
	if (write(rep[1], &r, sizeof(r)) != sizeof(r))
		_exit(3);
}

/* ---- the server: echoes every buffer back, reports every event ---- */

static int server(int cmd)
{
	struct shmk_arena_info ai;
	struct shmk_session *s;
	struct pollfd pf[2];
	struct shmk_msg m;
	int r;

	r = shmk_server_start(arena, NULL, &s);
	if (r) {
		fprintf(stderr, "demo: server: %s: %s\n", strerror(-r),
			shmk_session_error(NULL));
		tell((struct report){ .kind = R_FAILED });
		return 1;
	}
	shmk_arena_info(shmk_session_arena(s), &ai);
	tell((struct report){ .kind = R_UP, .member = ai.member_id });
	pf[0] = (struct pollfd){ .fd = shmk_session_fd(s), .events = POLLIN };
	pf[1] = (struct pollfd){ .fd = cmd, .events = POLLIN };
	for (;;) {
		poll(pf, 2, -1);	/* sleeps: no spinning here */
		if (pf[1].revents)
			break;		/* the parent says: done */
		while (shmk_session_recv(s, &m, 0) == 1) {
			struct report e = { .member = m.peer, .gen = m.peer_gen,
					    .how = (int32_t)m.how,
					    .status = m.status };

			switch (m.type) {
			case SHMK_MSG_DATA:	/* the same buffer goes back */
				shmk_session_send(s, m.peer, m.ref, m.tag, 0, 0);
				continue;
			case SHMK_EV_CONNECTED:
				e.kind = R_CONNECTED;
				break;
			case SHMK_EV_PEER_CRASHED:
				e.kind = R_CRASHED;
				e.death_ns = m.time_ns;
				break;
			case SHMK_EV_DISCONNECTED:
				e.kind = R_LEFT;
				break;
			default:
				continue;
			}
			tell(e);
		}
	}
	return shmk_session_close(s) ? 1 : 0;
}

/* ---- a client: keeps a working set, pings until told to stop ---- */

static int client(int idx, long messages, int cmd)
{
	struct shmk_arena_info ai;
	struct shmk_session *s;
	struct shmk_arena *a;
	shmk_ref_t ws[WORKSET], ping;
	struct shmk_msg m;
	uint64_t *p, one;
	long n;
	int r, i;

	r = shmk_client_connect(arena, NULL, 10 * SEC, &s);
	if (r) {
		fprintf(stderr, "demo: client %d: %s: %s\n", idx,
			strerror(-r), shmk_session_error(NULL));
		tell((struct report){ .kind = R_FAILED, .idx = idx });
		return 1;
	}
	a = shmk_session_arena(s);
	shmk_arena_info(a, &ai);
	for (i = 0; i < WORKSET; i++)	/* state of its own, in the arena */
		shmk_buf_create(a, 4000, 0, 0, 0, &ws[i]);
	shmk_buf_create(a, 64, 0, 0, 0, &ping);
	for (n = 0;; n++) {
		if (n == messages)
			tell((struct report){ .kind = R_TALKED, .idx = idx,
					      .member = ai.member_id,
					      .gen = ai.generation,
					      .count = n });
		if (n >= messages && read(cmd, &one, sizeof(one)) > 0)
			break;		/* stop (cmd is non-blocking) */
		shmk_buf_write(a, &ping, (void **)&p, NULL);
		*p = (uint64_t)n;
		r = shmk_session_send(s, SHMK_PEER_SERVER, ping, (uint64_t)n,
				      SHMK_SEND_WAIT, 5 * SEC);
		while (r == 0 && (r = shmk_session_recv(s, &m, 5 * SEC)) == 1 &&
		       m.type != SHMK_MSG_DATA)
			r = 0;
		if (r != 1 || m.tag != (uint64_t)n) {
			tell((struct report){ .kind = R_FAILED, .idx = idx });
			return 1;
		}
		ping = m.ref;		/* our buffer, back from the server */
	}
	shmk_buf_drop(a, ping);
	for (i = 0; i < WORKSET; i++)
		shmk_buf_drop(a, ws[i]);
	return shmk_session_close(s) ? 1 : 0;
}

/* ---- the parent: starts everyone, kills one, tells the story ---- */

static int cmdp[2];		/* parent -> clients (non-blocking reads) */

static pid_t start_client(int idx, long messages)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(client(idx, messages, cmdp[0]));
	return pid;
}

static int next_report(struct report *r, int timeout_s)
{
	struct pollfd pf = { .fd = rep[0], .events = POLLIN };

	if (poll(&pf, 1, timeout_s * 1000) != 1 ||
	    read(rep[0], r, sizeof(*r)) != sizeof(*r))
		return -1;
	if (r->kind == R_FAILED) {
		say("a %s failed: see above", r->idx ? "client" : "process");
		return -1;
	}
	return 0;
}

/* Wait for a report of @kind (others are narrated as they come). */
static int await(int kind, struct report *out)
{
	struct report r;

	for (;;) {
		if (next_report(&r, 30)) {
			say("no news for 30 s: giving up");
			return -1;
		}
		if (r.kind == R_CONNECTED)
			say("server: client connected (member %u, generation "
			    "%u)", r.member, r.gen);
		else if (r.kind == R_LEFT)
			say("server: member %u left cleanly", r.member);
		if (r.kind == kind) {
			if (out)
				*out = r;
			return 0;
		}
	}
}

/* The value of option @opt, a number in [@min, @max], else exit 2. */
static long opt_num(int argc, char **argv, int i, long min, long max)
{
	char *end;
	long v;

	if (i + 1 >= argc) {
		fprintf(stderr, "demo: %s needs a value\n%s", argv[i], usage);
		exit(2);
	}
	errno = 0;
	v = strtol(argv[i + 1], &end, 10);
	if (errno || end == argv[i + 1] || *end || v < min || v > max) {
		fprintf(stderr, "demo: %s wants a number from %ld to %ld, not "
			"'%s'\n%s", argv[i], min, max, argv[i + 1], usage);
		exit(2);
	}
	return v;
}

static uint64_t owned(struct shmk_arena *a, uint32_t id)
{
	uint64_t b = 0;

	shmk_alloc_member_used(a, id, &b);
	return b;
}

int main(int argc, char **argv)
{
	int nclients = 3, i, srvcmd[2], bad = 0;
	struct shmk_alloc_stats st0, st1, st2;
	long messages = 2000;
	struct shmk_arena_info ai;
	struct report r, talked[16];
	struct shmk_arena *obs;
	pid_t spid, cpid[16];
	uint64_t t_kill, before, one = 1;
	int victim;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(usage, stdout);
			return 0;
		} else if (!strcmp(argv[i], "--clients")) {
			nclients = (int)opt_num(argc, argv, i++, 2, 16);
		} else if (!strcmp(argv[i], "--messages")) {
			messages = opt_num(argc, argv, i++, 1, 1000000000L);
		} else {
			fprintf(stderr, "demo: unexpected argument '%s'\n%s",
				argv[i], usage);
			return 2;
		}
	}
	victim = nclients / 2;
	snprintf(arena, sizeof(arena), "demo.%d", (int)getpid());
	if (pipe(rep) || pipe(srvcmd) || pipe2(cmdp, O_NONBLOCK))
		return 1;
	t_start = now_ns();

	fflush(stdout);
	spid = fork();
	if (spid == 0)
		_exit(server(srvcmd[0]));
	if (await(R_UP, &r))
		return 1;
	i = shmk_arena_attach(arena, 0, &obs);
	if (i) {
		fprintf(stderr, "demo: attach to '%s': %s: %s\n", arena,
			strerror(-i), shmk_arena_error(NULL));
		return 1;
	}
	shmk_arena_info(obs, &ai);
	say("server up on arena '%s' (%s backend, member %u, pid %d)",
	    arena, ai.backend, r.member, (int)spid);

	for (i = 1; i <= nclients; i++)
		cpid[i] = start_client(i, messages);
	for (i = 1; i <= nclients; i++) {
		if (await(R_TALKED, &r))
			return 1;
		talked[r.idx] = r;
		say("client %d (member %u, pid %d) exchanged %ld messages "
		    "(64-byte buffers, passed by reference)", r.idx, r.member,
		    (int)cpid[r.idx], r.count);
	}

	shmk_alloc_stats(obs, &st0);
	before = owned(obs, talked[victim].member);
	say("allocator: %" PRIu64 " bytes in use; client %d (member %u) "
	    "owns %" PRIu64 " of them", st0.used_bytes, victim,
	    talked[victim].member, before);

	say("kill -9 client %d (pid %d) while it is talking",
	    victim, (int)cpid[victim]);
	t_kill = now_ns();
	kill(cpid[victim], SIGKILL);
	if (await(R_CRASHED, &r))
		return 1;
	say("server: member %u crashed (%s %d), told %.3f ms after the kill",
	    r.member, r.how == SHMK_END_SIGNAL ? "signal" :
	    r.how == SHMK_END_EXIT ? "exit, status" : "how", r.status,
	    (double)(r.t_ns - t_kill) / 1e6);
	if (r.death_ns > t_kill)
		say("        (the death itself was recorded %.3f ms after "
		    "the kill)", (double)(r.death_ns - t_kill) / 1e6);
	waitpid(cpid[victim], NULL, 0);

	shmk_alloc_stats(obs, &st1);
	say("allocator: client %d (member %u) now owns %" PRIu64 " bytes "
	    "(was %" PRIu64 "); %" PRIu64 " bytes in use (%+" PRId64 ")",
	    victim, r.member, owned(obs, r.member), before, st1.used_bytes,
	    (int64_t)st1.used_bytes - (int64_t)st0.used_bytes);
	bad |= owned(obs, r.member) != 0;

	cpid[victim] = start_client(victim, messages);
	if (await(R_TALKED, &r))
		return 1;
	say("client %d restarted (member %u, generation %u), exchanged %ld "
	    "more messages", r.idx, r.member, r.gen, r.count);

	for (i = 1; i <= nclients; i++)
		if (write(cmdp[1], &one, sizeof(one)) != sizeof(one))
			return 1;
	for (i = 1; i <= nclients; i++) {
		int st;

		if (await(R_LEFT, NULL))
			return 1;
		waitpid(cpid[i], &st, 0);
		bad |= !WIFEXITED(st) || WEXITSTATUS(st);
	}
	if (write(srvcmd[1], &one, sizeof(one)) != sizeof(one))
		return 1;
	waitpid(spid, &i, 0);
	bad |= !WIFEXITED(i) || WEXITSTATUS(i);
	while (shmk_arena_events(obs, (struct shmk_event[8]){ 0 }, 8) > 0)
		;
	shmk_alloc_stats(obs, &st2);
	say("everyone left: %" PRIu64 " bytes in %u blocks still allocated%s",
	    st2.used_bytes, st2.blocks,
	    st2.used_bytes ? "" : ": every byte is back");
	bad |= st2.used_bytes != 0;
	shmk_arena_detach(obs);
	say("%s", bad ? "FAILED" : "done: the crash cost nothing but the "
	    "messages in flight");
	return bad;
}
