// SPDX-License-Identifier: MIT
/*
 * Sessions: one server, many clients, over the queues of queue.c.
 *
 * The server owns a directory block (protocol version, features, who it
 * is, connect tokens) and publishes (incarnation << 40 | offset) at a root
 * slot. Its receive queue is shared with every client (each holds a
 * reference); every client's receive queue is shared with the server.
 * Control messages travel in the same queues as data, told apart by the
 * kind in the descriptor's user flags. Documentation/messaging-design.md
 * gives the protocol and what happens at each death.
 *
 * This file holds what both sides do: the application's inbox and
 * events, the fd watcher, the session object, receive (which hands
 * control messages to server.c or client.c), send and close.
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

/* ---- small helpers ------------------------------------------------------ */

/* Why the last shmk_server_start()/shmk_client_connect() of this thread
 * failed (there is no session to ask then). */
__thread char ms_tl_err[SHMK_REASON_MAX];

/* Why this start/connect fails, before there is a session to say it. */
__attribute__((format(printf, 1, 2)))
void ms_tl_set(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ms_tl_err, sizeof(ms_tl_err), fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 2, 3)))
void ms_serr(struct shmk_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
}

static int ib_push(struct shmk_session *s, const struct shmk_msg *m)
{
	if (s->ib_len == s->ib_cap) {
		unsigned int nc = s->ib_cap ? s->ib_cap * 2 : 64, i;
		struct shmk_msg *n = malloc(nc * sizeof(*n));

		if (!n)
			return -ENOMEM;
		for (i = 0; i < s->ib_len; i++)
			n[i] = s->ib[(s->ib_head + i) % s->ib_cap];
		free(s->ib);
		s->ib = n;
		s->ib_cap = nc;
		s->ib_head = 0;
	}
	s->ib[(s->ib_head + s->ib_len) % s->ib_cap] = *m;
	s->ib_len++;
	return 0;
}

bool ms_ib_pop(struct shmk_session *s, struct shmk_msg *m)
{
	if (!s->ib_len)
		return false;
	*m = s->ib[s->ib_head];
	s->ib_head = (s->ib_head + 1) % s->ib_cap;
	s->ib_len--;
	return true;
}

void ms_push_evf(struct shmk_session *s, uint32_t type, uint32_t peer,
		 uint32_t gen, uint32_t how, int32_t status,
		 uint64_t time_ns, uint64_t tag, uint32_t flags)
{
	struct shmk_msg m;

	memset(&m, 0, sizeof(m));
	m.type = type;
	m.flags = flags;
	m.peer = peer;
	m.peer_gen = gen;
	m.how = how;
	m.status = status;
	m.time_ns = time_ns ? time_ns : shmk_now_ns();
	m.tag = tag;
	ib_push(s, &m);
}

void ms_push_ev(struct shmk_session *s, uint32_t type, uint32_t peer,
		uint32_t gen, uint32_t how, int32_t status,
		uint64_t time_ns, uint64_t tag)
{
	ms_push_evf(s, type, peer, gen, how, status, time_ns, tag, 0);
}

uint32_t ms_ev_flags(const struct shmk_event *e)
{
	return e->flags & SHMK_EVENT_F_GUESSED ? SHMK_MSGF_GUESSED : 0;
}

uint64_t *ms_root_word(struct shmk_session *s)
{
	return (uint64_t *)shmk_arena_ptr(s->a, s->root_off);
}

/* The futex word that changes with the incarnation: the high half. */
static uint32_t *root_hi(struct shmk_session *s)
{
	return (uint32_t *)(void *)((uint8_t *)ms_root_word(s) + 4);
}

uint64_t ms_root_hi_off(struct shmk_session *s)
{
	return s->root_off + 4;
}

void ms_now_abs(struct timespec *ts)
{
	shmk_deadline(ts, 0);
}

/*
 * Read the directory the root names. Its memory belongs to its server: it
 * is valid only if that server was not reclaimed while we read (rule D).
 * 0 (and *d) if a live-looking directory is there, -ENOENT if none, or
 * its server is dead or closed.
 */
int ms_dir_read(struct shmk_session *s, struct ms_dir *d, uint64_t *rv)
{
	struct ms_dir *p;
	uint64_t v, off;
	int i, tries;

	for (tries = 0; tries < 100; tries++) {
		v = ld_acq(ms_root_word(s));
		*rv = v;
		off = v & ROOT_OFF_MASK;
		if (!off)
			return -ENOENT;
		if (!off_ok(s->a, off, sizeof(*d), 8))
			return -EPROTO;
		p = shmk_arena_ptr(s->a, off);
		d->magic = ld_acq(&p->magic);
		d->proto = ld_rlx(&p->proto);
		d->features = ld_rlx(&p->features);
		d->required = ld_rlx(&p->required);
		d->server_id = ld_rlx(&p->server_id);
		d->server_gen = ld_rlx(&p->server_gen);
		d->incarnation = ld_rlx(&p->incarnation);
		d->max_clients = ld_rlx(&p->max_clients);
		d->state = ld_rlx(&p->state);
		d->conn_seq = ld_rlx(&p->conn_seq);
		for (i = 0; i < NCONN; i++)
			d->conn_tok[i] = ld_rlx(&p->conn_tok[i]);
		d->prev_id = ld_rlx(&p->prev_id);
		d->prev_gen = ld_rlx(&p->prev_gen);
		fence_sc();
		if (ld_acq(ms_root_word(s)) != v)
			continue;
		if (!msg_owner_ok(s->a, d->server_id, d->server_gen))
			return -ENOENT;	/* its memory may be anything now */
		if (d->magic != MD_MAGIC)
			return -ENOENT;	/* not a directory: treat as none */
		if (d->state != DIR_RUNNING)
			return -ENOENT;
		return 0;
	}
	return -EAGAIN;
}

/*
 * Wait for the directory to change while no server is usable (a client)
 * or no connect token is free (a client, or a server taking over).
 */
int ms_dir_wait(struct shmk_session *s, const struct timespec *abs)
{
	struct ms_dir d;
	uint64_t rv;
	uint32_t seq;
	int r;

	r = ms_dir_read(s, &d, &rv);
	if (r == 0 && msg_alive(s->a, d.server_id, d.server_gen)) {
		/* a server, but no token free: wait for it to re-arm */
		struct ms_dir *p = shmk_arena_ptr(s->a, rv & ROOT_OFF_MASK);
		struct timespec slice, *w = &slice;

		seq = d.conn_seq;
		shmk_deadline(&slice, 50 * 1000000LL);
		if (abs && shmk_now_ns() + 50000000ULL >
		    (uint64_t)abs->tv_sec * 1000000000ULL + abs->tv_nsec)
			w = (struct timespec *)abs;
		r = msg_wait(s->a, shmk_arena_off(s->a, &p->conn_seq), seq, w,
			     0);
		if (r == -ETIMEDOUT && w == &slice)
			r = 0;
	} else {
		r = msg_wait(s->a, ms_root_hi_off(s), (uint32_t)(rv >> 32), abs,
			     0);
	}
	if (r == SHMK_WAIT_EVENT) {
		ms_sess_events(s);
		r = 0;
	}
	return r == -EAGAIN ? 0 : r;
}

/*
 * Accept buffer tokens of DATA before the slot is released (rule H). With
 * our holdings table full the message stays queued, and recv says -ENOBUFS
 * until the application drops references: a live sender's message is never
 * dropped.
 */
static int take_cb(void *ctx, struct shmk_qmsg *m)
{
	struct shmk_session *s = ctx;
	shmk_ref_t ref;
	int r;

	if (KIND(m->flags) == K_TAKEOVER)
		return MQ_LAST;	/* what follows is the next server's */
	if (KIND(m->flags) != K_DATA || !(m->flags & SHMK_QMSG_TOKEN))
		return MQ_TAKE;
	r = shmk_buf_accept(s->a, m->val, &ref);
	if (r == -ENOBUFS)
		return MQ_KEEP;
	if (r) {
		s->dropped++;	/* its sender died or took it back */
		return MQ_DROP;
	}
	m->val = ref;
	m->flags = (m->flags & ~SHMK_QMSG_TOKEN) | F_REF;
	return MQ_TAKE;
}

static void drop_qmsg(struct shmk_session *s, struct shmk_qmsg *m)
{
	if (m->flags & F_REF)
		shmk_buf_drop(s->a, (shmk_ref_t)m->val);
	s->dropped++;
}

static void push_data(struct shmk_session *s, struct shmk_qmsg *q,
		      uint32_t peer, uint32_t gen)
{
	struct shmk_msg m;

	memset(&m, 0, sizeof(m));
	m.type = SHMK_MSG_DATA;
	m.flags = q->flags & F_PUB ? SHMK_MSGF_PUBLISHED : 0;
	m.peer = peer;
	m.peer_gen = gen;
	m.ref = q->flags & F_REF ? (shmk_ref_t)q->val : 0;
	m.tag = q->tag;
	m.len = q->len;
	if (ib_push(s, &m)) {
		drop_qmsg(s, q);
		return;
	}
	s->received++;
}

int ms_qsend(struct shmk_queue *q, uint32_t kind, uint64_t val,
	     uint64_t tag, uint32_t len, uint32_t flags,
	     const struct timespec *abs)
{
	struct shmk_qmsg m = {
		.val = val, .tag = tag, .len = len, .flags = MKF(kind) | flags,
	};

	return mq_send(q, &m, abs ? SHMK_QSEND_WAIT : 0, abs);
}

/* A session's queues are marked so: shmk:send/recv tell their kind. */
int ms_sq_create(struct shmk_arena *a, const struct shmk_queue_opts *o,
		 struct shmk_queue **q)
{
	int r = shmk_queue_create(a, o, q);

	if (r == 0)
		(*q)->sess = true;
	return r;
}

int ms_sq_open(struct shmk_arena *a, uint64_t token,
	       struct shmk_queue **q)
{
	int r = shmk_queue_open(a, token, q);

	if (r == 0)
		(*q)->sess = true;
	return r;
}

/* ---- the fd watcher ------------------------------------------------------- */

static void *watcher(void *arg)
{
	struct shmk_session *s = arg;
	uint64_t one = 1;
	uint32_t v;
	int mode, r;

	pthread_mutex_lock(&s->wl);
	for (;;) {
		while (!s->armed && !ld_acq(&s->stop))
			pthread_cond_wait(&s->wc, &s->wl);
		if (ld_acq(&s->stop))
			break;
		mode = s->wmode;
		v = s->wroot;
		pthread_mutex_unlock(&s->wl);
		if (mode == 1) {
			r = mq_watch(s->myq, NULL, &s->stop);
		} else {
			/* a new server, or (every 100 ms) new connect tokens */
			struct timespec slice;

			shmk_deadline(&slice, 100000000LL);
			r = ld_acq(root_hi(s)) != v ? 1 :
				msg_wait(s->a, ms_root_hi_off(s), v, &slice,
					 LM_WAIT_NOLOCALQ);
			r = r == -EINTR ? 0 : 1;
		}
		pthread_mutex_lock(&s->wl);
		if (ld_acq(&s->stop))
			break;
		if (r != 0) {
			s->armed = 0;
			if (write(s->efd, &one, sizeof(one)) < 0) {
				/* saturated: readable anyway */
			}
		}
	}
	pthread_mutex_unlock(&s->wl);
	return NULL;
}

/* Nothing to take now: clear the fd and watch for the next arrival. */
static void fd_arm(struct shmk_session *s)
{
	uint64_t cnt;

	if (!s->thr_on)
		return;
	pthread_mutex_lock(&s->wl);
	if (read(s->efd, &cnt, sizeof(cnt)) < 0) {
		/* was not readable */
	}
	if (!s->server && (s->state == ST_GONE || s->state == ST_DOWN)) {
		s->wmode = 2;
		s->wroot = ld_acq(root_hi(s));
	} else {
		s->wmode = 1;
	}
	s->armed = 1;
	pthread_cond_signal(&s->wc);
	pthread_mutex_unlock(&s->wl);
}

static void fd_stop(struct shmk_session *s)
{
	if (!s->thr_on)
		return;
	pthread_mutex_lock(&s->wl);
	st_sc(&s->stop, 1);
	pthread_cond_signal(&s->wc);
	pthread_mutex_unlock(&s->wl);
	mq_kick(s->myq);
	msg_wake(s->a, ms_root_hi_off(s), SHMK_WAKE_ALL);
	pthread_join(s->thr, NULL);
	s->thr_on = false;
}

SHMK_EXPORT int shmk_session_fd(struct shmk_session *s)
{
	struct epoll_event e = { .events = EPOLLIN };
	int r;

	if (!s)
		return -EINVAL;
	if (s->thr_on)
		return s->epfd;
	if (s->epfd < 0) {
		s->epfd = epoll_create1(EPOLL_CLOEXEC);
		s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (s->epfd < 0 || s->efd < 0)
			return -errno;
		if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->efd, &e) < 0 ||
		    epoll_ctl(s->epfd, EPOLL_CTL_ADD,
			      shmk_arena_event_fd(s->a), &e) < 0)
			return -errno;
	}
	st_sc(&s->stop, 0);
	r = pthread_create(&s->thr, NULL, watcher, s);
	if (r)
		return -r;
	s->thr_on = true;
	/* readable at once if something is already there */
	if (s->ib_len || mq_pending(s->myq)) {
		uint64_t one = 1;

		if (write(s->efd, &one, sizeof(one)) < 0) {
			/* saturated */
		}
	} else {
		fd_arm(s);
	}
	return s->epfd;
}

/* ---- session objects ------------------------------------------------------ */

struct shmk_session *ms_sess_new(void)
{
	struct shmk_session *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->epfd = s->efd = -1;
	pthread_mutex_init(&s->wl, NULL);
	pthread_cond_init(&s->wc, NULL);
	return s;
}

void ms_sess_free(struct shmk_session *s)
{
	struct timespec now;
	uint32_t i;

	if (s->peer) {
		shmk_deadline(&now, 0);
		for (i = 0; i < s->npeer; i++) {
			if (s->peer[i].q)
				mq_close(s->peer[i].q, &now);
			free(s->peer[i].pub);
		}
		free(s->peer);
	}
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->efd >= 0)
		close(s->efd);
	pthread_mutex_destroy(&s->wl);
	pthread_cond_destroy(&s->wc);
	free(s->ib);
	free(s);
}

void ms_sess_events(struct shmk_session *s)
{
	struct shmk_event ev[16];
	int n, i;
	bool any = false;

	s->last_ev = shmk_now_ns();
	s->ev_steps = 0;
	while ((n = shmk_arena_events(s->a, ev, 16)) > 0) {
		for (i = 0; i < n; i++) {
			if (ev[i].type == SHMK_EVENT_OVERFLOW) {
				ms_push_ev(s, SHMK_EV_OVERFLOW, 0, 0, 0,
					   (int32_t)ev[i].lost, 0, 0);
				s->role->scan(s);
				continue;
			}
			if (ev[i].type != SHMK_EVENT_EXIT)
				continue;
			any = true;
			s->role->exit(s, &ev[i]);
		}
	}
	if (any && s->myq && mq_consumer(s->myq) == shmk_self_mkey(s->a))
		mq_repair(s->myq);
}

static void maybe_events(struct shmk_session *s)
{
	if (++s->ev_steps >= EV_CHECK_STEPS ||
	    __atomic_load_n(&s->a->evq_len, __ATOMIC_ACQUIRE) ||
	    shmk_now_ns() - s->last_ev > EV_CHECK_NS)
		ms_sess_events(s);
}

/*
 * Make sure member @id/@gen was reclaimed before its death is reported.
 * shmk_arena_events() reclaims before it hands an exit out, so this is
 * normally one look at the member's slot; the core runs (or waits for)
 * the reclaim again, for at most 2 s, only if that was cut short.
 */
void ms_reclaim_done(struct shmk_session *s, uint32_t id, uint32_t gen)
{
	shmk_reclaim_settle(s->a, id, gen, 2000000000LL);
}

/*
 * A data message taken from our queue: to the inbox if it comes from a
 * connected client (server) or while connected (client), else dropped.
 */
static void take_data(struct shmk_session *s, struct shmk_qmsg *m)
{
	struct ms_peer *p;

	if (s->server) {
		p = ms_peer_of(s, m->sender);
		if (!p || !p->on || p->gen != m->sender_gen ||
		    s->state != ST_RUN) {
			drop_qmsg(s, m);
			return;
		}
		push_data(s, m, m->sender, m->sender_gen);
	} else {
		if (s->state != ST_CONNECTED) {
			drop_qmsg(s, m);
			return;
		}
		push_data(s, m, SHMK_PEER_SERVER, 0);
	}
}

/* One step of work, waiting up to @abs. 1: the inbox has something. */
int ms_sess_step(struct shmk_session *s, const struct timespec *abs)
{
	struct shmk_qmsg m[BATCH];
	int n, i, r;

	if (s->ib_len)
		return 1;
	maybe_events(s);
	if (s->ib_len)
		return 1;
	/* a side's own work first, in the states that have some */
	if (s->pend_to.val || s->state == ST_GONE || s->state == ST_DOWN ||
	    s->state == ST_HANDED) {
		r = s->role->step(s, abs);
		if (r != 1)
			return r;
	}
	n = mq_recv(s->myq, m, BATCH, abs, take_cb, s);
	if (n == 0) {
		ms_sess_events(s);
		return 0;
	}
	if (n < 0)
		return n;
	for (i = 0; i < n; i++) {
		if (KIND(m[i].flags) == K_DATA)
			take_data(s, &m[i]);
		else
			s->role->handle(s, &m[i]);
	}
	return 0;
}

SHMK_EXPORT int shmk_session_recv(struct shmk_session *s, struct shmk_msg *m,
				  int64_t timeout_ns)
{
	struct timespec ts, *abs;
	int r;
	ERRNO_SAVE;

	if (!s || !m)
		return -EINVAL;
	msg_deadline(&ts, timeout_ns, &abs);
	for (;;) {
		if (ms_ib_pop(s, m)) {
			ERRNO_RESTORE;
			return 1;
		}
		r = ms_sess_step(s, abs);
		if (r < 0 && !s->ib_len)
			break;
	}
	if (r == -ETIMEDOUT && timeout_ns == 0)
		r = -EAGAIN;
	if (r == -EAGAIN || r == -ETIMEDOUT)
		fd_arm(s);
	ERRNO_RESTORE;
	return r;
}

SHMK_EXPORT int shmk_session_send(struct shmk_session *s, uint32_t peer,
				  shmk_ref_t ref, uint64_t tag,
				  unsigned int flags, int64_t timeout_ns)
{
	struct timespec ts, *abs = NULL;
	struct shmk_queue *q;
	struct ms_peer *p = NULL;
	struct shmk_qmsg m;
	shmk_ref_t r2 = ref;
	uint64_t x = 0, len = 0;
	uint32_t to;
	int r;
	ERRNO_SAVE;

	if (!s || (flags & ~(SHMK_SEND_WAIT | SHMK_SEND_KEEP)))
		return -EINVAL;
	/* the one check of @ref: lm_buf_pass_checked() below trusts it */
	if (ref && lm_buf_peek(s->a, ref, &x, &len))
		return -EINVAL;
	if (s->server) {
		p = ms_peer_of(s, peer);
		if (s->state < ST_RUN || !p || !p->on) {
			r = -ENOTCONN;
			goto drop;
		}
		q = p->q;
		to = p->id;
	} else {
		if (peer != SHMK_PEER_SERVER) {
			r = -EINVAL;
			goto drop;
		}
		if (s->state != ST_CONNECTED) {
			r = -ENOTCONN;
			goto drop;
		}
		q = s->srvq;
		to = 0;	/* whoever consumes the server queue (rule G) */
	}
	memset(&m, 0, sizeof(m));
	m.tag = tag;
	m.len = (uint32_t)len;
	m.flags = MKF(K_DATA);
	if (ref) {
		if (flags & SHMK_SEND_KEEP) {
			r = shmk_buf_clone(s->a, ref, &r2);
			if (r) {
				ERRNO_RESTORE;
				return r;
			}
		}
		r = lm_buf_pass_checked(s->a, r2, x, to, &m.val);
		if (r) {
			shmk_buf_drop(s->a, r2);
			ERRNO_RESTORE;
			return r;
		}
		m.flags |= SHMK_QMSG_TOKEN;
	}
	if (flags & SHMK_SEND_WAIT)
		msg_deadline(&ts, timeout_ns, &abs);
	r = mq_send(q, &m, flags & SHMK_SEND_WAIT ? SHMK_QSEND_WAIT : 0, abs);
	if (r) {
		if (ref)
			shmk_buf_recall(s->a, m.val);
		ERRNO_RESTORE;
		return r;
	}
	if (ref && p && !msg_owner_ok(s->a, p->id, p->gen) &&
	    shmk_buf_recall(s->a, m.val) == 0) {
		/* rule P: it died and its reclaim may have missed this */
		ERRNO_RESTORE;
		return -EPIPE;
	}
	s->sent++;
	ERRNO_RESTORE;
	return 0;
drop:
	if (ref && !(flags & SHMK_SEND_KEEP))
		shmk_buf_drop(s->a, ref);
	ERRNO_RESTORE;
	return r;
}

SHMK_EXPORT int shmk_session_close(struct shmk_session *s)
{
	int r;
	ERRNO_SAVE;

	if (!s)
		return -EINVAL;
	fd_stop(s);
	while (s->ib_len) {
		struct shmk_msg m;

		ms_ib_pop(s, &m);
		if (m.type == SHMK_MSG_DATA && m.ref)
			shmk_buf_drop(s->a, m.ref);
	}
	s->role->close(s);
	s->myq = NULL;
	r = shmk_arena_detach(s->a);
	ms_sess_free(s);
	ERRNO_RESTORE;
	return r;
}

SHMK_EXPORT struct shmk_arena *shmk_session_arena(struct shmk_session *s)
{
	return s ? s->a : NULL;
}

SHMK_EXPORT struct shmk_queue *shmk_session_queue(struct shmk_session *s)
{
	return s ? s->myq : NULL;
}

SHMK_EXPORT const char *shmk_session_error(const struct shmk_session *s)
{
	return s ? s->err : ms_tl_err;
}

SHMK_EXPORT int shmk_session_info(struct shmk_session *s,
				  struct shmk_session_info *info)
{
	uint32_t i;

	if (!s || !info)
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	info->is_server = s->server;
	info->connected = s->server ? s->state == ST_RUN :
		s->state == ST_CONNECTED;
	info->server_id = s->server ? s->a->id : s->srv_id;
	info->server_gen = s->server ? s->a->gen : s->srv_gen;
	info->clients = s->nclients;
	info->max_clients = s->max_clients;
	info->features = s->server ? s->features : s->agreed;
	info->proto_version = s->proto;
	info->incarnation = s->inc;
	info->sent = s->sent;
	info->received = s->received;
	info->dropped = s->dropped;
	info->publish_skipped = s->pub_skipped;
	if (s->myq) {
		info->wakes += s->myq->st_wakes;
		info->sleeps += s->myq->st_sleeps;
	}
	if (s->srvq) {
		info->wakes += s->srvq->st_wakes;
		info->sleeps += s->srvq->st_sleeps;
	}
	for (i = 1; s->peer && i < s->npeer; i++) {
		if (s->peer[i].q) {
			info->wakes += s->peer[i].q->st_wakes;
			info->sleeps += s->peer[i].q->st_sleeps;
		}
	}
	return 0;
}
