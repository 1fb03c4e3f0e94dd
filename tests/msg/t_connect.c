// SPDX-License-Identifier: GPL-2.0
/*
 * Starting and connecting, when it fails: every error of
 * shmk_server_start() and shmk_client_connect() has a reason in
 * shmk_session_error(NULL), those of the arena underneath included; a
 * client that comes before its server gets -ENOENT at once, or with
 * SHMK_CLIENT_WAIT_SERVER waits for the server to appear.
 *
 * On whichever backend SHMK_BACKEND selects: on kmod the wait is the
 * library's backoff, on portable its inotify watch.
 */
#include "msgt.h"

#include <fcntl.h>


static int seq;

static void fresh(char *buf, size_t len, const char *tag)
{
	snprintf(buf, len, "t_connect.%s.%d.%d", tag, (int)getpid(), seq++);
}

static int says(const char *why, const char *sub)
{
	if (strstr(why, sub))
		return 1;
	diag("  the reason \"%s\" lacks \"%s\"", why, sub);
	return 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void t_no_server(void)
{
	struct shmk_client_opts o;
	struct shmk_session *s;
	char n[64];
	uint64_t t0, dt;
	int r;

	fresh(n, sizeof(n), "none");
	r = shmk_client_connect(n, NULL, 5 * SEC, &s);
	diag("  %d: %s", r, shmk_session_error(NULL));
	is(r, -ENOENT, "no arena, NULL options: -ENOENT at once");
	ok(says(shmk_session_error(NULL), n) &&
	   says(shmk_session_error(NULL), "no server has started") &&
	   says(shmk_session_error(NULL), "SHMK_CLIENT_WAIT_SERVER"),
	   "... the reason names the arena and the option to wait");

	memset(&o, 0, sizeof(o));
	o.flags = SHMK_CLIENT_WAIT_SERVER;
	t0 = now_ms();
	r = shmk_client_connect(n, &o, 200 * MS, &s);
	dt = now_ms() - t0;
	diag("  %d after %llu ms: %s", r, (unsigned long long)dt,
	     shmk_session_error(NULL));
	is(r, -ETIMEDOUT, "SHMK_CLIENT_WAIT_SERVER, nobody comes: -ETIMEDOUT");
	ok(dt >= 190 && dt < 5000, "... after the timeout (%llu ms for 200)",
	   (unsigned long long)dt);
	ok(says(shmk_session_error(NULL), "appeared within 200 ms"),
	   "... the reason says how long it waited");
}

struct waiter {
	char name[64];
	int note;		/* write end: the library's note points */
};

/* Connect before the server exists; the parent starts it meanwhile. */
static int waiter_main(void *arg)
{
	struct waiter *w = arg;
	struct shmk_client_opts o;
	struct shmk_session *s;
	char fd[16];
	int r;

	snprintf(fd, sizeof(fd), "%d", w->note);
	setenv("SHMK_MSG_NOTE_FD", fd, 1);
	memset(&o, 0, sizeof(o));
	o.flags = SHMK_CLIENT_WAIT_SERVER;
	r = shmk_client_connect(w->name, &o, 30 * SEC, &s);
	if (r) {
		diag("waiting client: %d: %s", r, shmk_session_error(NULL));
		return 1;
	}
	return shmk_session_close(s) ? 2 : 0;
}

static void t_wait_server(void)
{
	struct shmk_session *srv;
	struct shmk_msg m;
	struct waiter w;
	char note[64];
	int p[2], r, got = 0;
	struct pollfd pf;
	ssize_t n;
	pid_t pid;

	fresh(w.name, sizeof(w.name), "wait");
	if (!ok(pipe2(p, O_CLOEXEC) == 0, "wait: a pipe for the notes"))
		return;
	w.note = p[1];
	pid = spawn(waiter_main, &w);
	close(p[1]);
	/* The client looked, found no arena, and is about to wait. */
	pf.fd = p[0];
	pf.events = POLLIN;
	n = poll(&pf, 1, 20000) == 1 ? read(p[0], note, sizeof(note) - 1) : -1;
	note[n > 0 ? n : 0] = '\0';
	ok(strstr(note, "connect:no-arena") != NULL,
	   "wait: the client found no arena and waits (note '%s')", note);
	r = shmk_server_start(w.name, NULL, &srv);
	if (!ok(r == 0, "wait: server started afterwards (NULL options)")) {
		diag("  %d: %s", r, shmk_session_error(NULL));
		kill(pid, SIGKILL);
		reap(pid);
		close(p[0]);
		return;
	}
	ok(shmk_session_error(NULL)[0] == '\0',
	   "wait: no reason left after a start that succeeded");
	while (!got && shmk_session_recv(srv, &m, 20 * SEC) == 1) {
		if (m.type == SHMK_EV_CONNECTED)
			got = 1;
		else if (m.type == SHMK_MSG_DATA && m.ref)
			shmk_buf_drop(shmk_session_arena(srv), m.ref);
	}
	ok(got, "wait: the waiting client connected");
	is(reap(pid), 0, "wait: its connect returned 0 (it waited for the "
	   "arena, then for the server)");
	close(p[0]);
	is(shmk_session_close(srv), 0, "wait: server closed");
}

static int bogus_env_main(void *arg)
{
	struct shmk_session *s;
	int r;

	setenv("SHMK_BACKEND", "bogus", 1);
	r = shmk_server_start(arg, NULL, &s);
	diag("  %d: %s", r, shmk_session_error(NULL));
	return r == -EINVAL && strstr(shmk_session_error(NULL),
				      "SHMK_BACKEND") ? 0 : 1;
}

static void t_reasons(void)
{
	struct shmk_server_opts so;
	struct shmk_client_opts co;
	struct shmk_session *s, *t;
	char n[64];
	int r;

	memset(&so, 0, sizeof(so));
	so.reserved[1] = 1;
	fresh(n, sizeof(n), "opt");
	r = shmk_server_start(n, &so, &s);
	is(r, -EINVAL, "server: reserved option set: -EINVAL");
	ok(says(shmk_session_error(NULL), "shmk_server_opts.reserved[1]"),
	   "... says which field");
	memset(&so, 0, sizeof(so));
	so.flags = 1U << 7;
	r = shmk_server_start(n, &so, &s);
	ok(r == -EINVAL && says(shmk_session_error(NULL), "0x80"),
	   "server: unknown flag: -EINVAL, shows it");
	r = shmk_server_start(NULL, NULL, &s);
	ok(r == -EINVAL && says(shmk_session_error(NULL), "name is NULL"),
	   "server: NULL name: -EINVAL, says so");

	memset(&co, 0, sizeof(co));
	co.root = 20;
	r = shmk_client_connect(n, &co, 0, &s);
	ok(r == -EINVAL && says(shmk_session_error(NULL), "root slot 20"),
	   "client: root slot 20: -EINVAL, says so");
	memset(&co, 0, sizeof(co));
	co.flags = 1U << 9;
	r = shmk_client_connect(n, &co, 0, &s);
	ok(r == -EINVAL && says(shmk_session_error(NULL), "0x200"),
	   "client: unknown flag: -EINVAL, shows it");

	/* the arena's reasons come through */
	r = shmk_client_connect("a/b", NULL, 0, &s);
	ok(r == -EINVAL && says(shmk_session_error(NULL), "'/'"),
	   "client: bad arena name: the arena's reason");
	is(reap(spawn(bogus_env_main, n)), 0,
	   "server: SHMK_BACKEND=bogus: the arena's reason");

	r = shmk_server_start(n, NULL, &s);
	if (!ok(r == 0, "server started"))
		return;
	r = shmk_server_start(n, NULL, &t);
	diag("  %d: %s", r, shmk_session_error(NULL));
	ok(r == -EBUSY && says(shmk_session_error(NULL), "is running"),
	   "a second server: -EBUSY, says one is running");
	shmk_session_close(s);
}

int main(void)
{
	alarm(120);
	t_no_server();
	t_wait_server();
	t_reasons();
	return done_testing();
}
