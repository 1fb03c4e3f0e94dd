// SPDX-License-Identifier: MIT
/*
 * The client side of sessions (session.c has the overview): waiting for
 * an arena and a server, connect, control messages, the server's death
 * and return, subscribe.
 */
#include "session_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

static void cli_drop_server(struct shmk_session *s)
{
	struct timespec now;

	if (!s->srvq)
		return;
	mq_recall_own(s->srvq);	/* what the server never took (rule G) */
	ms_now_abs(&now);
	mq_close(s->srvq, &now);
	s->srvq = NULL;
}

static void cli_gone(struct shmk_session *s, uint32_t how, int32_t status,
		     uint64_t time_ns, uint32_t flags)
{
	bool was = s->state == ST_CONNECTED;

	cli_drop_server(s);
	s->root_seen = ld_acq(ms_root_word(s));
	s->state = s->cflags & SHMK_CLIENT_NO_RECONNECT ? ST_DOWN : ST_GONE;
	if (was)
		ms_push_evf(s, SHMK_EV_SERVER_GONE, s->srv_id, s->srv_gen, how,
			    status, time_ns, 0, flags);
}

/* Our server ended: gone, or did it hand over to a live one? */
static void client_exit(struct shmk_session *s, const struct shmk_event *e)
{
	uint64_t c;

	if (e->member_id != s->srv_id || e->generation != s->srv_gen)
		return;
	if (s->state == ST_CONNECTED && s->srvq) {
		c = mq_consumer(s->srvq);
		if (c && shmk_mkey_id(c) != s->srv_id &&
		    msg_alive(s->a, shmk_mkey_id(c), shmk_mkey_gen(c))) {
			s->srv_id = shmk_mkey_id(c);
			s->srv_gen = shmk_mkey_gen(c);
			ms_push_ev(s, SHMK_EV_SERVER_MOVED, s->srv_id, s->srv_gen,
				   0, 0, 0, 0);
			return;
		}
	}
	if (s->state == ST_CONNECTED) {
		ms_reclaim_done(s, e->member_id, e->generation);
		cli_gone(s, e->how, e->status, e->time_ns, ms_ev_flags(e));
	} else if (s->state == ST_CONNECTING) {
		cli_drop_server(s);
		s->state = ST_GONE;
	}
}

static void client_scan(struct shmk_session *s)
{
	struct shmk_event e;

	if ((s->state == ST_CONNECTED || s->state == ST_CONNECTING) &&
	    !msg_alive(s->a, s->srv_id, s->srv_gen)) {
		memset(&e, 0, sizeof(e));
		e.member_id = s->srv_id;
		e.generation = s->srv_gen;
		e.status = SHMK_STATUS_UNKNOWN;
		client_exit(s, &e);
	}
}

/* Try to start connecting: a live server, a token, CONNECT posted. */
static int cli_try(struct shmk_session *s, const struct timespec *abs)
{
	struct ms_dir d;
	uint64_t rv, qtok;
	int r, i;

	r = ms_dir_read(s, &d, &rv);
	if (r)
		return r == -EAGAIN ? -ENOENT : r;
	if (!msg_alive(s->a, d.server_id, d.server_gen))
		return -ENOENT;
	if (d.proto != s->proto) {
		ms_serr(s, "incompatible server: it speaks session protocol %u, "
			"this client %u", d.proto, s->proto);
		return -EPROTO;
	}
	if (s->required & ~d.features) {
		ms_serr(s, "the server lacks required features %#llx",
			(unsigned long long)(s->required & ~d.features));
		return -EOPNOTSUPP;
	}
	for (i = 0; i < NCONN; i++)
		if (d.conn_tok[i] &&
		    ms_sq_open(s->a, d.conn_tok[i], &s->srvq) == 0)
			break;
	if (i == NCONN)
		return -EAGAIN;	/* all taken now: wait for new ones */
	if (mq_consumer(s->srvq) != shmk_mkey(d.server_id,
				     d.server_gen)) {
		cli_drop_server(s);
		return -EAGAIN;
	}
	r = shmk_queue_share(s->myq, d.server_id, &qtok);
	if (r) {
		cli_drop_server(s);
		return r;
	}
	r = ms_qsend(s->srvq, K_CONNECT, qtok, s->features,
		     s->proto | ((uint32_t)i << 16), SHMK_QMSG_TOKEN, abs);
	if (r) {
		shmk_buf_recall(s->a, qtok);
		cli_drop_server(s);
		return r == -EPIPE ? -EAGAIN : r;
	}
	s->srv_id = d.server_id;
	s->srv_gen = d.server_gen;
	s->inc = d.incarnation;
	s->state = ST_CONNECTING;
	return 0;
}

static void cli_handle(struct shmk_session *s, struct shmk_qmsg *m)
{
	bool from_srv = m->sender == s->srv_id && m->sender_gen == s->srv_gen;

	switch (KIND(m->flags)) {
	case K_CONNECTED:
		if (s->state != ST_CONNECTING || !from_srv)
			return;
		s->agreed = m->tag;
		if (s->required & ~m->tag) {
			ms_serr(s, "the server does not agree to required "
				"features %#llx",
				(unsigned long long)(s->required & ~m->tag));
			ms_qsend(s->srvq, K_DISCONNECT, 0, 0, 0, 0, NULL);
			cli_drop_server(s);
			s->state = ST_DOWN;
			return;
		}
		s->state = ST_CONNECTED;
		if (s->topics)
			ms_qsend(s->srvq, K_SUBSCRIBE, 0, s->topics, 0, 0, NULL);
		if (s->ever_connected)
			ms_push_ev(s, SHMK_EV_SERVER_BACK, s->srv_id, s->srv_gen,
				   0, 0, 0, m->val);
		s->ever_connected = true;
		return;
	case K_REFUSED:
		if (s->state != ST_CONNECTING || !from_srv)
			return;
		switch (m->len) {
		case EPROTO:
			ms_serr(s, "incompatible server: it speaks session "
				"protocol %llu, this client %u",
				(unsigned long long)m->val, s->proto);
			break;
		case EOPNOTSUPP:
			ms_serr(s, "the server requires features %#llx this "
				"client does not offer",
				(unsigned long long)m->tag);
			break;
		case EUSERS:
			ms_serr(s, "the server has no room for more clients");
			break;
		default:
			ms_serr(s, "refused by the server (%u)", m->len);
		}
		cli_drop_server(s);
		s->state = ST_DOWN;
		s->refused = (int)m->len;
		return;
	case K_MOVED:
		if (s->state == ST_CONNECTED &&
		    (m->len != s->srv_id || m->tag != s->srv_gen)) {
			s->srv_id = m->len;
			s->srv_gen = (uint32_t)m->tag;
			s->inc = (uint32_t)m->val;
			ms_push_ev(s, SHMK_EV_SERVER_MOVED, s->srv_id, s->srv_gen,
				   0, 0, 0, m->val);
		}
		return;
	case K_SHUTDOWN:
		if (s->state == ST_CONNECTED && from_srv)
			cli_gone(s, SHMK_END_DETACH, 0, 0, 0);
		return;
	case K_DISCONNECT:
		if (s->state == ST_CONNECTED && from_srv) {
			cli_drop_server(s);
			s->state = ST_DOWN;
			ms_push_ev(s, SHMK_EV_DISCONNECTED, SHMK_PEER_SERVER,
				   s->srv_gen, SHMK_END_DETACH, 0, 0, 0);
		}
		return;
	default:
		return;
	}
}

/*
 * Wait until @abs (NULL: for ever) for an arena to appear: on the
 * backend's watch fd @wfd if it has one, else (kmod: the module announces
 * no creations) by sleeping @backoff, doubled each time up to 100 ms. 0:
 * try again; -ETIMEDOUT; -EINTR.
 */
static int cli_wait_arena(int wfd, const struct timespec *abs,
			  int64_t *backoff)
{
	struct timespec until;
	char buf[4096];
	int64_t left = -1;
	int n;

	if (abs) {
		left = (int64_t)abs->tv_sec * 1000000000LL + abs->tv_nsec -
			(int64_t)shmk_now_ns();
		if (left <= 0)
			return -ETIMEDOUT;
	}
	if (wfd >= 0) {
		struct pollfd pf = { .fd = wfd, .events = POLLIN };

		n = poll(&pf, 1, left < 0 ? -1 : (int)((left + 999999) /
						       1000000));
		if (n < 0)
			return errno == EINTR ? -EINTR : -errno;
		while (read(wfd, buf, sizeof(buf)) > 0)
			;	/* which name does not matter: try again */
		return 0;
	}
	if (left >= 0 && left < *backoff)
		*backoff = left;
	shmk_deadline(&until, *backoff);
	n = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL);
	if (n == EINTR)
		return -EINTR;
	*backoff = *backoff * 2 > 100000000 ? 100000000 : *backoff * 2;
	return 0;
}

/*
 * Attach to arena @name; with SHMK_CLIENT_WAIT_SERVER wait until @abs for
 * it to be created. The watch is set up before the first try, so that a
 * creation between a try and the wait is not missed.
 */
static int cli_attach(struct shmk_session *s, const char *name,
		      unsigned int oflags, bool wait, int64_t timeout_ns,
		      const struct timespec *abs)
{
	int64_t backoff = 1000000;
	int wfd = -1, r;

	if (wait)
		wfd = shmk_arena_watch(name, oflags);
	for (;;) {
		r = shmk_arena_attach(name, oflags, &s->a);
		if (r != -ENOENT)
			break;
		if (!wait) {
			ms_tl_set("no arena '%s': no server has started there "
				  "(SHMK_CLIENT_WAIT_SERVER waits for one)", name);
			goto out;
		}
		MSG_NOTE("connect:no-arena");
		r = cli_wait_arena(wfd, abs, &backoff);
		if (r == -ETIMEDOUT) {
			ms_tl_set("no arena '%s' appeared within %lld ms: is its "
				  "server running, on the same backend and in "
				  "this IPC namespace?", name,
				  (long long)(timeout_ns / 1000000));
			goto out;
		}
		if (r == -EINTR) {
			ms_tl_set("a signal interrupted the wait for arena '%s'",
				  name);
			goto out;
		}
	}
	if (r)
		ms_tl_set("%s", shmk_arena_error(NULL));
out:
	if (wfd >= 0)
		close(wfd);
	return r;
}

/* shmk_session_close() of a client: DISCONNECT, flushed, queues closed. */
static void cli_close(struct shmk_session *s)
{
	struct timespec ts;

	shmk_deadline(&ts, 1000000000LL);
	if (s->state == ST_CONNECTED &&
	    ms_qsend(s->srvq, K_DISCONNECT, 0, 0, 0, 0, &ts) == 0)
		mq_wait_consumed(s->srvq, &ts);	/* flush */
	if (s->srvq) {
		mq_close(s->srvq, &ts);
		s->srvq = NULL;
	}
	if (s->myq)
		mq_close(s->myq, NULL);
}

/* Before a receive: look for a server while there is none. */
static int cli_step(struct shmk_session *s, const struct timespec *abs)
{
	int r;

	if (s->state == ST_GONE) {
		r = cli_try(s, abs);
		if (r == 0)
			return 0;
		if (r != -ENOENT && r != -EAGAIN) {
			s->state = ST_DOWN;
			return r;
		}
		return ms_dir_wait(s, abs);
	}
	if (s->state == ST_DOWN)
		return -ENOTCONN;
	return 1;
}

static const struct ms_role cli_role = {
	.exit = client_exit,
	.scan = client_scan,
	.handle = cli_handle,
	.step = cli_step,
	.close = cli_close,
};

/* Why @o cannot connect a client (a reason said), else 0. */
static int cli_check_opts(const struct shmk_client_opts *o)
{
	int i;

	for (i = 0; i < 4; i++) {
		if (o->reserved[i]) {
			ms_tl_set("shmk_client_opts.reserved[%d] is not zero "
				  "(zero the struct before filling it in)", i);
			return -EINVAL;
		}
	}
	if (o->root >= SHMK_ROOTS) {
		ms_tl_set("root slot %u: there are %d (0..%d)", o->root,
			  SHMK_ROOTS, SHMK_ROOTS - 1);
		return -EINVAL;
	}
	if (o->flags & ~CLIENT_FLAGS) {
		ms_tl_set("unknown shmk_client_opts.flags %#x",
			  o->flags & ~CLIENT_FLAGS);
		return -EINVAL;
	}
	return 0;
}

/* Our receive queue: unbounded unless SHMK_CLIENT_BOUNDED. */
static int cli_queue(struct shmk_session *s, const struct shmk_client_opts *o)
{
	struct shmk_queue_opts qo;

	memset(&qo, 0, sizeof(qo));
	qo.capacity = o->queue_capacity ? o->queue_capacity : MS_DEF_CLI_QUEUE;
	qo.spin_ns = o->spin_ns;
	if (!(o->flags & SHMK_CLIENT_BOUNDED)) {
		qo.flags = SHMK_QUEUE_UNBOUNDED;
		qo.lanes = 4;
	}
	return ms_sq_create(s->a, &qo, &s->myq);
}

/*
 * Find the server, ask for a connection and wait for the answer: 0 once
 * CONNECTED, else why not (a refusal, the timeout, a signal...).
 */
static int cli_connect_wait(struct shmk_session *s, const struct timespec *abs)
{
	int r;

	s->state = ST_GONE;
	s->last_ev = shmk_now_ns();
	while (s->state != ST_CONNECTED) {
		if (s->state == ST_DOWN) {
			r = -s->refused;
			if (r != -EOPNOTSUPP && r != -EPROTO && r != -EUSERS)
				r = -ECONNREFUSED;
			return r;
		}
		if (s->state == ST_GONE) {
			r = cli_try(s, abs);
			if (r == 0)
				continue;
			if (r != -ENOENT && r != -EAGAIN)
				return r;
			r = ms_dir_wait(s, abs);
		} else {
			r = ms_sess_step(s, abs);
		}
		if (r == -ETIMEDOUT || r == -EINTR || r == -EPROTO ||
		    r == -EOPNOTSUPP) {
			if (r == -ETIMEDOUT && !s->err[0])
				ms_serr(s, "no server answered in time");
			return r;
		}
	}
	return 0;
}

SHMK_EXPORT int shmk_client_connect(const char *name,
				   const struct shmk_client_opts *o,
				   int64_t timeout_ns,
				   struct shmk_session **out)
{
	struct shmk_client_opts def;
	struct shmk_session *s;
	struct timespec ts, *abs;
	int r;
	ERRNO_SAVE;

	ms_tl_err[0] = '\0';
	if (!name || !out) {
		ms_tl_set("shmk_client_connect(): %s is NULL",
			  name ? "out" : "name");
		return -EINVAL;
	}
	*out = NULL;
	memset(&def, 0, sizeof(def));
	if (!o)
		o = &def;
	r = cli_check_opts(o);
	if (r)
		return r;
	s = ms_sess_new();
	if (!s) {
		ms_tl_set("no memory for a session");
		return -ENOMEM;
	}
	s->role = &cli_role;
	s->proto = o->proto_version ? o->proto_version : SHMK_MSG_PROTO_VERSION;
	s->features = o->features ? o->features : SHMK_FEAT_ALL;
	s->required = o->required;
	s->cflags = o->flags;
	s->spin_ns = o->spin_ns;
	msg_deadline(&ts, timeout_ns, &abs);
	r = cli_attach(s, name, o->open_flags &
		       (SHMK_OPEN_KMOD | SHMK_OPEN_PORTABLE),
		       o->flags & SHMK_CLIENT_WAIT_SERVER, timeout_ns, abs);
	if (r) {
		ms_sess_free(s);
		ERRNO_RESTORE;
		return r;
	}
	shmk_arena_root(s->a, o->root, &s->root_off);
	r = cli_queue(s, o);
	if (r == 0)
		r = cli_connect_wait(s, abs);
	if (r)
		goto fail;
	/* events before the connection are not the application's */
	while (s->ib_len) {
		struct shmk_msg m;

		ms_ib_pop(s, &m);
		if (m.type == SHMK_MSG_DATA && m.ref)
			shmk_buf_drop(s->a, m.ref);
	}
	*out = s;
	ERRNO_RESTORE;
	return 0;
fail:
	if (!s->err[0])
		ms_serr(s, "connecting to arena '%s': %s", name, r == -EINTR ?
			"a signal interrupted the wait for the server" :
			strerror(-r));
	memcpy(ms_tl_err, s->err, sizeof(ms_tl_err));
	cli_drop_server(s);
	if (s->myq)
		mq_close(s->myq, NULL);
	shmk_arena_detach(s->a);
	ms_sess_free(s);
	ERRNO_RESTORE;
	return r;
}

SHMK_EXPORT int shmk_client_subscribe(struct shmk_session *s, uint64_t topics)
{
	if (!s || s->server)
		return -EINVAL;
	s->topics = topics;
	if (s->state != ST_CONNECTED)
		return 0;
	return ms_qsend(s->srvq, K_SUBSCRIBE, 0, topics, 0, 0, NULL);
}
