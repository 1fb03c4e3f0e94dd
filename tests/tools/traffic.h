/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tests/tools: a workload of known shape for the traffic tools (shmksnoop,
 * shmktop), and what their --json output is read with.
 *
 * One server and NCLI clients in arena @name, all forked from the test
 * program (so that -l <test program> traces them), each with a command
 * name of its own. Client k sends NMSG messages of LEN(k) bytes with tag
 * TAG(k, i), each in a new buffer, and waits for the server to send the
 * same buffer back with the same tag; once all of them have made their
 * round trips, the server publishes NPUB buffers of PUB_LEN bytes with tag
 * PUB_TAG(j) to topic PUB_TOPIC, to which every client subscribed. Then
 * clients 0 and 1 close their sessions, client 2 is killed (SIGKILL), and
 * the server leaves when it has seen the three ends.
 *
 * Every process connects and reports before the parent says "go" to the
 * clients, so that a tracer started between the two sees only the traffic
 * (no attach; the sessions' connect messages are not data).
 */
#ifndef SHMK_TT_TRAFFIC_H
#define SHMK_TT_TRAFFIC_H

#include "tt.h"

#include <sys/prctl.h>

#include <linux/shmk.h>
#include <shmk.h>
#include <shmk_msg.h>

#define NCLI		3
#define NMSG		1000
#define NPUB		10
#define LEN(k)		(64U << (k))		/* 64, 128, 256 */
#define TAG(k, i)	(((uint64_t)((k) + 1) << 32) | (uint64_t)(i))
#define PUB_LEN		32U
#define PUB_TAG(j)	(0x50000ULL + (uint64_t)(j))
#define PUB_TOPIC	1
#define KILLED		2			/* the client killed */
#define WL_LIMIT_MS	120000
#define WL_TIMEOUT_NS	(60 * 1000000000LL)

/* What a workload process reports once connected. */
struct wl_who {
	uint32_t member;
	int32_t pid;
};

struct wl {
	const char *name;
	unsigned int flags;		/* SHMK_OPEN_PORTABLE / SHMK_OPEN_KMOD */
	struct tt_child srv, cli[NCLI];
	struct wl_who srv_who, cli_who[NCLI];
	bool started;
};

/* Command names, so that the tools' comm fields can be checked. */
static inline const char *wl_comm(int k)
{
	static const char *const names[] = { "tt_cli0", "tt_cli1", "tt_cli2" };

	return k < 0 ? "tt_srv" : names[k];
}

static inline int wl_report(int ready, struct shmk_session *s)
{
	struct shmk_arena_info info;
	struct wl_who w;

	shmk_arena_info(shmk_session_arena(s), &info);
	w.member = info.member_id;
	w.pid = (int32_t)getpid();
	return write(ready, &w, sizeof(w)) == sizeof(w) ? 0 : -1;
}

static inline int wl_server(void *arg, int cmd, int ready)
{
	struct wl *w = arg;
	struct shmk_server_opts o;
	struct shmk_session *s;
	struct shmk_arena *a;
	struct shmk_msg m;
	int data = 0, ends = 0, j, r;
	shmk_ref_t ref;

	prctl(PR_SET_NAME, wl_comm(-1));
	memset(&o, 0, sizeof(o));
	o.arena_size = 4 << 20;
	o.max_clients = 8;
	o.open_flags = w->flags;
	r = shmk_server_start(w->name, &o, &s);
	if (r) {
		fprintf(stderr, "# server: start: %s\n", strerror(-r));
		return 1;
	}
	a = shmk_session_arena(s);
	(void)cmd;	/* it serves at once: the clients connect to it */
	if (wl_report(ready, s))
		return 1;
	while (ends < NCLI) {
		r = shmk_session_recv(s, &m, WL_TIMEOUT_NS);
		if (r < 0) {
			fprintf(stderr, "# server: recv: %s\n", strerror(-r));
			return 1;
		}
		if (m.type == SHMK_EV_DISCONNECTED ||
		    m.type == SHMK_EV_PEER_CRASHED)
			ends++;
		if (m.type != SHMK_MSG_DATA)
			continue;
		r = shmk_session_send(s, m.peer, m.ref, m.tag, SHMK_SEND_WAIT,
				      WL_TIMEOUT_NS);
		if (r) {
			fprintf(stderr, "# server: send: %s\n", strerror(-r));
			return 1;
		}
		if (++data < NCLI * NMSG)
			continue;
		for (j = 0; j < NPUB; j++) {
			r = shmk_buf_create(a, PUB_LEN, 0, 0, 0, &ref);
			if (r == 0) {
				r = shmk_server_publish(s, PUB_TOPIC, ref,
							PUB_TAG(j), 0);
				shmk_buf_drop(a, ref);
			}
			if (r != NCLI) {
				fprintf(stderr, "# server: publish: %d\n", r);
				return 1;
			}
		}
	}
	return shmk_session_close(s) ? 1 : 0;
}

static inline int wl_client(struct wl *w, int k, int cmd, int ready)
{
	struct shmk_client_opts o;
	struct shmk_session *s;
	struct shmk_arena *a;
	struct shmk_msg m;
	int i, got = 0, r;
	shmk_ref_t ref;
	char b;

	prctl(PR_SET_NAME, wl_comm(k));
	memset(&o, 0, sizeof(o));
	o.open_flags = w->flags;
	r = shmk_client_connect(w->name, &o, WL_TIMEOUT_NS, &s);
	if (r) {
		fprintf(stderr, "# client %d: connect: %s\n", k, strerror(-r));
		return 1;
	}
	a = shmk_session_arena(s);
	if (shmk_client_subscribe(s, 1ULL << PUB_TOPIC) ||
	    wl_report(ready, s) || read(cmd, &b, 1) != 1)
		return 1;
	for (i = 0; i < NMSG; i++) {
		r = shmk_buf_create(a, LEN(k), 0, 0, 0, &ref);
		if (!r)
			r = shmk_session_send(s, SHMK_PEER_SERVER, ref,
					      TAG(k, i), SHMK_SEND_WAIT,
					      WL_TIMEOUT_NS);
		while (!r) {
			r = shmk_session_recv(s, &m, WL_TIMEOUT_NS);
			if (r < 0)
				break;
			r = 0;
			if (m.type != SHMK_MSG_DATA)
				continue;
			if (m.tag != TAG(k, i) || m.len != LEN(k) ||
			    (m.flags & SHMK_MSGF_PUBLISHED)) {
				fprintf(stderr, "# client %d: got tag %llx len %u\n",
					k, (unsigned long long)m.tag, m.len);
				return 1;
			}
			shmk_buf_drop(a, m.ref);
			break;
		}
		if (r) {
			fprintf(stderr, "# client %d: message %d: %s\n", k, i,
				strerror(-r));
			return 1;
		}
	}
	while (got < NPUB) {
		r = shmk_session_recv(s, &m, WL_TIMEOUT_NS);
		if (r < 0) {
			fprintf(stderr, "# client %d: publish: %s\n", k,
				strerror(-r));
			return 1;
		}
		if (m.type != SHMK_MSG_DATA)
			continue;
		if (!(m.flags & SHMK_MSGF_PUBLISHED) || m.tag != PUB_TAG(got) ||
		    m.len != PUB_LEN)
			return 1;
		shmk_buf_drop(a, m.ref);
		got++;
	}
	if (write(ready, "d", 1) != 1)	/* done: close when told */
		return 1;
	if (read(cmd, &b, 1) != 1)
		return 1;
	return shmk_session_close(s) ? 1 : 0;
}

static inline int wl_client0(void *arg, int cmd, int ready)
{
	return wl_client(arg, 0, cmd, ready);
}

static inline int wl_client1(void *arg, int cmd, int ready)
{
	return wl_client(arg, 1, cmd, ready);
}

static inline int wl_client2(void *arg, int cmd, int ready)
{
	return wl_client(arg, 2, cmd, ready);
}

static inline int wl_read_who(struct tt_child *c, struct wl_who *w)
{
	struct pollfd pf = { c->ready, POLLIN, 0 };

	if (poll(&pf, 1, WL_LIMIT_MS) != 1)
		return -1;
	return read(c->ready, w, sizeof(*w)) == sizeof(*w) ? 0 : -1;
}

static inline int wl_reap(struct tt_child *c)
{
	int st;

	if (c->pid <= 0 || waitpid(c->pid, &st, 0) != c->pid)
		return -1;
	c->pid = 0;
	close(c->cmd);
	close(c->ready);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Fork the server and the clients; every one connected and reported. */
static inline bool wl_start(struct wl *w)
{
	static int (*const fns[NCLI])(void *, int, int) = {
		wl_client0, wl_client1, wl_client2,
	};
	int k;

	if (tt_child_start(&w->srv, wl_server, w) ||
	    wl_read_who(&w->srv, &w->srv_who))
		return false;
	w->started = true;
	for (k = 0; k < NCLI; k++)
		if (tt_child_start(&w->cli[k], fns[k], w) ||
		    wl_read_who(&w->cli[k], &w->cli_who[k]))
			return false;
	return true;
}

/*
 * "go": the traffic, then the ends. True when every process did its part
 * (the killed client excepted, which is checked to have died by SIGKILL).
 */
static inline bool wl_run(struct wl *w)
{
	bool ok = true;
	int k, rc;

	for (k = 0; k < NCLI; k++)
		tt_child_order(&w->cli[k], 'g');
	for (k = 0; k < NCLI; k++)
		if (tt_child_wait(&w->cli[k], WL_LIMIT_MS) != 'd') {
			diag("client %d did not finish", k);
			ok = false;
		}
	for (k = 0; k < NCLI; k++) {
		if (k == KILLED)
			continue;
		tt_child_order(&w->cli[k], 'c');
		rc = wl_reap(&w->cli[k]);
		if (rc != 0) {
			diag("client %d exit %d", k, rc);
			ok = false;
		}
	}
	kill(w->cli[KILLED].pid, SIGKILL);
	rc = wl_reap(&w->cli[KILLED]);
	if (rc != 128 + SIGKILL) {
		diag("killed client: %d", rc);
		ok = false;
	}
	rc = wl_reap(&w->srv);
	if (rc != 0) {
		diag("server exit %d", rc);
		ok = false;
	}
	return ok;
}

/* After a failure: nobody left behind. */
static inline void wl_kill(struct wl *w)
{
	int k;

	for (k = 0; k < NCLI; k++)
		if (w->cli[k].pid > 0) {
			kill(w->cli[k].pid, SIGKILL);
			wl_reap(&w->cli[k]);
		}
	if (w->srv.pid > 0) {
		kill(w->srv.pid, SIGKILL);
		wl_reap(&w->srv);
	}
	shmk_arena_remove(w->name, w->flags);
}

/* ---- a tracer and its output ----------------------------------------------- */

struct tracer {
	struct tt_proc p;
	char **lines;
	int n, cap;
	bool ready;
};

/*
 * Start it and wait (bounded) for its "Tracing" line: on stdout, or on
 * stderr for --json.
 */
static inline bool tracer_start(struct tracer *t, char *const argv[],
				bool json)
{
	uint64_t end = tt_now_ms() + WL_LIMIT_MS;
	char line[4096];
	int r;

	memset(t, 0, sizeof(*t));
	if (tt_spawn(argv, &t->p))
		return false;
	while (!json && (r = tt_line(&t->p, line, sizeof(line), end)) == 1) {
		if (!strncmp(line, "Tracing ", 8)) {
			t->ready = true;
			return true;
		}
	}
	while (json && tt_now_ms() < end) {
		struct pollfd pf[2] = { { t->p.err, POLLIN, 0 },
					{ t->p.out, POLLHUP, 0 } };

		tt_drain_err(&t->p);
		if (strstr(t->p.errbuf, "Tracing ")) {
			t->ready = true;
			return true;
		}
		if (poll(pf, 2, (int)(end - tt_now_ms())) > 0 &&
		    (pf[1].revents & POLLHUP) && !(pf[0].revents & POLLIN))
			break;	/* it exited */
	}
	tt_stop(&t->p, SIGKILL);
	diag("tracer did not get ready");
	tt_diag_text("tracer stderr", t->p.errbuf);
	return false;
}

/* SIGINT it, read everything it printed, reap it: its exit status. */
static inline int tracer_finish(struct tracer *t)
{
	uint64_t end = tt_now_ms() + WL_LIMIT_MS;
	char line[1 << 16];

	if (!t->ready)
		return -1;
	kill(t->p.pid, SIGINT);
	while (tt_line(&t->p, line, sizeof(line), end) == 1) {
		if (t->n == t->cap) {
			int nc = t->cap ? t->cap * 2 : 1024;
			char **nl = realloc(t->lines, (size_t)nc * sizeof(*nl));

			if (!nl)
				break;
			t->lines = nl;
			t->cap = nc;
		}
		t->lines[t->n++] = strdup(line);
	}
	t->ready = false;
	return tt_stop(&t->p, SIGINT);
}

/* Read until it exits by itself (-c): its exit status. */
static inline int tracer_wait(struct tracer *t)
{
	uint64_t end = tt_now_ms() + WL_LIMIT_MS;
	char line[1 << 16];
	int st = -1;

	while (tt_line(&t->p, line, sizeof(line), end) == 1) {
		if (t->n == t->cap) {
			int nc = t->cap ? t->cap * 2 : 1024;
			char **nl = realloc(t->lines, (size_t)nc * sizeof(*nl));

			if (!nl)
				break;
			t->lines = nl;
			t->cap = nc;
		}
		t->lines[t->n++] = strdup(line);
	}
	if (waitpid(t->p.pid, &st, 0) == t->p.pid)
		st = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	tt_drain_err(&t->p);
	close(t->p.out);
	close(t->p.err);
	t->p.pid = 0;
	t->ready = false;
	return st;
}

static inline void tracer_free(struct tracer *t)
{
	int i;

	if (t->ready)
		tt_stop(&t->p, SIGKILL);
	for (i = 0; i < t->n; i++)
		free(t->lines[i]);
	free(t->lines);
	memset(t, 0, sizeof(*t));
}

static inline void tracer_dump(const struct tracer *t, int max)
{
	int i;

	for (i = 0; i < t->n && i < max; i++)
		diag("tracer: %s", t->lines[i]);
	tt_diag_text("tracer stderr", t->p.errbuf);
}

/* ---- JSON, the little the tests need ------------------------------------------ */

/*
 * The value of "key" in @obj (up to @end, or the end of the string): a
 * number into *v (1), null (0), or absent (-1).
 */
static inline int js_num(const char *obj, const char *end, const char *key,
			 long long *v)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(obj, pat);
	if (!p || (end && p >= end))
		return -1;
	p += strlen(pat);
	if (!strncmp(p, "null", 4))
		return 0;
	*v = strtoll(p, NULL, 10);
	return 1;
}

/* The string value of "key" into @buf (1), null (0), absent (-1). */
static inline int js_str(const char *obj, const char *end, const char *key,
			 char *buf, size_t len)
{
	char pat[64];
	const char *p, *q;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(obj, pat);
	if (!p || (end && p >= end))
		return -1;
	p += strlen(pat);
	if (!strncmp(p, "null", 4))
		return 0;
	if (*p != '"')
		return -1;
	q = strchr(++p, '"');
	if (!q)
		return -1;
	snprintf(buf, len, "%.*s", (int)(q - p), p);
	return 1;
}

static inline bool js_is(const char *obj, const char *key, long long want)
{
	long long v;

	return js_num(obj, NULL, key, &v) == 1 && v == want;
}

static inline bool js_str_is(const char *obj, const char *key,
			     const char *want)
{
	char buf[256];

	return js_str(obj, NULL, key, buf, sizeof(buf)) == 1 &&
		!strcmp(buf, want);
}

#endif /* SHMK_TT_TRAFFIC_H */
