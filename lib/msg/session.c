// SPDX-License-Identifier: MIT
/*
 * Sessions: one server, many clients, over the queues of queue.c.
 *
 * The server owns a directory block (protocol version, features, who it
 * is, connect tokens) and publishes (incarnation << 40 | offset) at a root
 * slot. Its receive queue is shared with every client (each holds a
 * reference); every client's receive queue is shared with the server.
 * Control messages travel in the same queues as data, told apart by the
 * kind in the descriptor's user flags. MSG_DESIGN.md gives the protocol
 * and what happens at each death.
 */
#include "msg_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define MD_MAGIC	0x5249444dU	/* "MDIR" */
#define NCONN		4		/* connect tokens out at once */
#define ROOT_OFF_MASK	((1ULL << 40) - 1)
#define ROOT_INC(v)	((uint32_t)((v) >> 40))
#define ROOT_MAKE(i, o)	(((uint64_t)((i) & 0xffffff) << 40) | (o))
#define BATCH		32
#define CLIENT_FLAGS	(SHMK_CLIENT_BOUNDED | SHMK_CLIENT_NO_RECONNECT | \
			 SHMK_CLIENT_WAIT_SERVER)
/*
 * Under steady traffic a consumer never waits, so the wait cannot tell it
 * about a death: it also looks at the events every EV_CHECK_STEPS receive
 * steps or EV_CHECK_NS, whichever comes first (that look is a syscall).
 */
#define EV_CHECK_NS	50000000
#define EV_CHECK_STEPS	4096

/* Kinds of session descriptors (bits 8..15 of the queue flags). */
enum {
	K_DATA = 1, K_CONNECT, K_CONNECTED, K_REFUSED, K_DISCONNECT,
	K_SUBSCRIBE, K_TAKEOVER, K_HO_CLIENT, K_HO_DONE, K_MOVED, K_SHUTDOWN,
};
#define KIND(f)		(((f) >> 8) & 0xffU)
#define MKF(k)		((uint32_t)(k) << 8)
#define F_PUB		(1U << 16)	/* published */
#define F_REF		(1U << 17)	/* local: val is an accepted ref */
#define FEAT_SHIFT	24
#define FEATS(f)	((uint64_t)((f) >> FEAT_SHIFT) & 0xffU)

enum {
	ST_NONE, ST_CONNECTING, ST_CONNECTED, ST_GONE, ST_DOWN,
	ST_RUN, ST_HANDING, ST_HANDED,
};

#define DIR_RUNNING	1
#define DIR_CLOSED	2

/* The server's directory: server-owned, read by clients with validation. */
struct ms_dir {
	uint32_t magic;
	uint32_t proto;
	uint64_t features;
	uint64_t required;
	uint32_t server_id;
	uint32_t server_gen;
	uint32_t incarnation;
	uint32_t max_clients;
	uint32_t state;
	uint32_t conn_seq;	/* futex word: bumped when tokens change */
	uint64_t conn_tok[NCONN];
	uint32_t prev_id;	/* hot restart: the server taken over */
	uint32_t prev_gen;
	uint32_t clients;
	uint32_t pad;
};

struct ms_peer {
	uint32_t id, gen;
	struct shmk_queue *q;	/* its receive queue (we produce) */
	uint64_t topics;
	uint64_t features;
	bool on;
	/* publish tokens not yet accepted, oldest first (see pub_room()) */
	uint64_t *pub;
	uint32_t pub_head, pub_n;
};

struct shmk_session {
	struct shmk_arena *a;
	bool server;
	int state;
	uint32_t proto;
	uint64_t features, required, agreed;
	uint64_t root_off;
	uint32_t inc;			/* incarnation we know */
	struct shmk_queue *myq;		/* our receive queue */
	uint32_t spin_ns;		/* its spin bound (options) */
	/* client */
	struct shmk_queue *srvq;	/* the server's queue (we produce) */
	uint32_t srv_id, srv_gen;	/* server now / being connected to */
	uint64_t root_seen;		/* root value when we saw it gone */
	uint64_t topics;
	unsigned int cflags;
	bool ever_connected;
	/* server */
	struct ms_peer *peer;		/* by member id */
	uint32_t npeer, nclients, max_clients;
	uint32_t pub_budget;		/* holdings for publishes: 3/4 */
	uint64_t dir_off;
	struct ms_dir *dir;
	uint64_t conn_tok[NCONN];
	int64_t handover_ns;
	struct shmk_queue *hoq;		/* hot restart: the other side's */
	struct shmk_qmsg pend_to;	/* a TAKEOVER waiting for the inbox
					 * to be empty */
	uint32_t ho_id, ho_gen;
	uint32_t prev_id, prev_gen;
	/* messages and events for the application */
	struct shmk_msg *ib;
	unsigned int ib_head, ib_len, ib_cap;
	uint64_t last_ev;
	uint32_t ev_steps;
	/* stats */
	uint64_t sent, received, dropped, pub_skipped;
	char err[SHMK_REASON_MAX];
	/* fd for epoll: an epoll set of the arena's event fd and efd */
	int epfd, efd;
	pthread_t thr;
	bool thr_on;
	pthread_mutex_t wl;		/* protects armed, wmode, wroot */
	pthread_cond_t wc;
	int armed;
	int refused;			/* errno of a REFUSED */
	int wmode;			/* 1: our queue, 2: the root word */
	uint32_t wroot;
	uint32_t stop;			/* atomic: watcher must end */
};

/* ---- small helpers ------------------------------------------------------ */

/* Why the last shmk_server_start()/shmk_client_connect() of this thread
 * failed (there is no session to ask then). */
static __thread char tl_err[SHMK_REASON_MAX];

/* Why this start/connect fails, before there is a session to say it. */
__attribute__((format(printf, 1, 2)))
static void tl_set(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tl_err, sizeof(tl_err), fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 2, 3)))
static void serr(struct shmk_session *s, const char *fmt, ...)
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

static bool ib_pop(struct shmk_session *s, struct shmk_msg *m)
{
	if (!s->ib_len)
		return false;
	*m = s->ib[s->ib_head];
	s->ib_head = (s->ib_head + 1) % s->ib_cap;
	s->ib_len--;
	return true;
}

static void push_evf(struct shmk_session *s, uint32_t type, uint32_t peer,
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

static void push_ev(struct shmk_session *s, uint32_t type, uint32_t peer,
		    uint32_t gen, uint32_t how, int32_t status,
		    uint64_t time_ns, uint64_t tag)
{
	push_evf(s, type, peer, gen, how, status, time_ns, tag, 0);
}

static uint32_t ev_flags(const struct shmk_event *e)
{
	return e->flags & SHMK_EVENT_F_GUESSED ? SHMK_MSGF_GUESSED : 0;
}

static uint64_t *root_word(struct shmk_session *s)
{
	return (uint64_t *)shmk_arena_ptr(s->a, s->root_off);
}

/* The futex word that changes with the incarnation: the high half. */
static uint32_t *root_hi(struct shmk_session *s)
{
	return (uint32_t *)(void *)((uint8_t *)root_word(s) + 4);
}

static uint64_t root_hi_off(struct shmk_session *s)
{
	return s->root_off + 4;
}

static void now_abs(struct timespec *ts)
{
	shmk_deadline(ts, 0);
}

/*
 * Read the directory the root names. Its memory belongs to its server: it
 * is valid only if that server was not reclaimed while we read (rule D).
 * 0 (and *d) if a live-looking directory is there, -ENOENT if none, or
 * its server is dead or closed.
 */
static int dir_read(struct shmk_session *s, struct ms_dir *d, uint64_t *rv)
{
	struct ms_dir *p;
	uint64_t v, off;
	int i, tries;

	for (tries = 0; tries < 100; tries++) {
		v = ld_acq(root_word(s));
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
		if (ld_acq(root_word(s)) != v)
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

static int qsend(struct shmk_queue *q, uint32_t kind, uint64_t val,
		 uint64_t tag, uint32_t len, uint32_t flags,
		 const struct timespec *abs)
{
	struct shmk_qmsg m = {
		.val = val, .tag = tag, .len = len, .flags = MKF(kind) | flags,
	};

	return mq_send(q, &m, abs ? SHMK_QSEND_WAIT : 0, abs);
}

/* A session's queues are marked so: shmk:send/recv tell their kind. */
static int sq_create(struct shmk_arena *a, const struct shmk_queue_opts *o,
		     struct shmk_queue **q)
{
	int r = shmk_queue_create(a, o, q);

	if (r == 0)
		(*q)->sess = true;
	return r;
}

static int sq_open(struct shmk_arena *a, uint64_t token,
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
				msg_wait(s->a, root_hi_off(s), v, &slice,
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
	msg_wake(s->a, root_hi_off(s), SHMK_WAKE_ALL);
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

static struct shmk_session *sess_new(void)
{
	struct shmk_session *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->epfd = s->efd = -1;
	pthread_mutex_init(&s->wl, NULL);
	pthread_cond_init(&s->wc, NULL);
	return s;
}

static void sess_free(struct shmk_session *s)
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

/* Membership events: the session consumes the arena's events. */
static void server_exit(struct shmk_session *s, const struct shmk_event *e);
static void client_exit(struct shmk_session *s, const struct shmk_event *e);
static void server_scan(struct shmk_session *s);
static void client_scan(struct shmk_session *s);
static int cli_wait_server(struct shmk_session *s, const struct timespec *abs);

static void sess_events(struct shmk_session *s)
{
	struct shmk_event ev[16];
	int n, i;
	bool any = false;

	s->last_ev = shmk_now_ns();
	s->ev_steps = 0;
	while ((n = shmk_arena_events(s->a, ev, 16)) > 0) {
		for (i = 0; i < n; i++) {
			if (ev[i].type == SHMK_EVENT_OVERFLOW) {
				push_ev(s, SHMK_EV_OVERFLOW, 0, 0, 0,
					(int32_t)ev[i].lost, 0, 0);
				if (s->server)
					server_scan(s);
				else
					client_scan(s);
				continue;
			}
			if (ev[i].type != SHMK_EVENT_EXIT)
				continue;
			any = true;
			if (s->server)
				server_exit(s, &ev[i]);
			else
				client_exit(s, &ev[i]);
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
		sess_events(s);
}

/* ======================================================================
 * Server.
 * ====================================================================== */

static struct ms_peer *peer_of(struct shmk_session *s, uint32_t id)
{
	return id && id < s->npeer ? &s->peer[id] : NULL;
}

/*
 * Publishing to a subscriber that does not consume leaves one token per
 * publish in our holdings table; a stuck subscriber would fill it and
 * take every other send, clone and publish down with it (-ENOBUFS). So a
 * subscriber gets at most its share of 3/4 of the table in flight, and is
 * skipped (counted) past it. Tokens are checked oldest first.
 */
static bool pub_room(struct shmk_session *s, struct ms_peer *p)
{
	uint32_t cap;

	if (!p->pub)
		return true;
	cap = s->pub_budget / (s->nclients ? s->nclients : 1);
	if (cap < 4)
		cap = 4;
	while (p->pub_n && !lm_token_pending(s->a, p->pub[p->pub_head])) {
		p->pub_head = (p->pub_head + 1) % s->pub_budget;
		p->pub_n--;
	}
	return p->pub_n < cap && p->pub_n < s->pub_budget;
}

static void pub_note(struct shmk_session *s, struct ms_peer *p, uint64_t tok)
{
	if (!p->pub && s->pub_budget)
		p->pub = calloc(s->pub_budget, sizeof(*p->pub));
	if (p->pub && p->pub_n < s->pub_budget) {
		p->pub[(p->pub_head + p->pub_n) % s->pub_budget] = tok;
		p->pub_n++;
	}
}

static void peer_drop(struct shmk_session *s, struct ms_peer *p)
{
	struct timespec now;

	p->pub_head = 0;
	p->pub_n = 0;
	if (p->q) {
		now_abs(&now);
		mq_close(p->q, &now);
		p->q = NULL;
	}
	if (p->on) {
		p->on = false;
		s->nclients--;
		if (s->dir)
			st_rel(&s->dir->clients, s->nclients);
	}
}

/* Put a fresh connect token in slot @i (rule C). */
static void srv_arm(struct shmk_session *s, unsigned int i)
{
	uint64_t tok = 0;

	if (s->conn_tok[i])
		shmk_buf_recall(s->a, s->conn_tok[i]);
	s->conn_tok[i] = 0;
	st_rel(&s->dir->conn_tok[i], 0);
	if (s->state != ST_RUN || shmk_queue_share(s->myq, 0, &tok))
		return;
	s->conn_tok[i] = tok;
	st_rel(&s->dir->conn_tok[i], tok);
}

static void srv_rearm(struct shmk_session *s, unsigned int mask)
{
	unsigned int i;

	if (!s->dir)
		return;
	for (i = 0; i < NCONN; i++)
		if (mask & (1U << i))
			srv_arm(s, i);
	fadd_sc(&s->dir->conn_seq, 1);
	msg_wake(s->a, s->dir_off + offsetof(struct ms_dir, conn_seq),
		 SHMK_WAKE_ALL);
}

static void srv_unarm(struct shmk_session *s)
{
	unsigned int i;

	for (i = 0; i < NCONN; i++) {
		if (s->conn_tok[i])
			shmk_buf_recall(s->a, s->conn_tok[i]);
		s->conn_tok[i] = 0;
		if (s->dir)
			st_rel(&s->dir->conn_tok[i], 0);
	}
}

/*
 * Make sure member @id/@gen was reclaimed before its death is reported.
 * shmk_arena_events() reclaims before it hands an exit out, so this is
 * normally one look at the member's slot; the core runs (or waits for)
 * the reclaim again, for at most 2 s, only if that was cut short.
 */
static void reclaim_done(struct shmk_session *s, uint32_t id, uint32_t gen)
{
	shmk_reclaim_settle(s->a, id, gen, 2000000000LL);
}

static void server_exit(struct shmk_session *s, const struct shmk_event *e)
{
	struct ms_peer *p = peer_of(s, e->member_id);

	if (s->state == ST_HANDING && e->member_id == s->ho_id &&
	    e->generation == s->ho_gen)
		s->ho_id = 0;	/* the new server died: handover fails */
	if (p && p->on && p->gen == e->generation) {
		peer_drop(s, p);
		reclaim_done(s, e->member_id, e->generation);
		push_evf(s, e->flags & SHMK_EVENT_F_CRASH ?
			 SHMK_EV_PEER_CRASHED : SHMK_EV_DISCONNECTED,
			 e->member_id, e->generation, e->how, e->status,
			 e->time_ns, 0, ev_flags(e));
	}
	/* a connecting client may have died holding a token */
	if (s->state == ST_RUN)
		srv_rearm(s, (1U << NCONN) - 1);
}

/* After lost events: whoever is not alive any more has crashed. */
static void server_scan(struct shmk_session *s)
{
	uint32_t i;

	for (i = 1; i < s->npeer; i++) {
		struct ms_peer *p = &s->peer[i];

		if (p->on && !msg_alive(s->a, p->id, p->gen)) {
			peer_drop(s, p);
			push_ev(s, SHMK_EV_PEER_CRASHED, p->id, p->gen, 0,
				SHMK_STATUS_UNKNOWN, 0, 0);
		}
	}
	if (s->state == ST_RUN)
		srv_rearm(s, (1U << NCONN) - 1);
}

static void srv_connect(struct shmk_session *s, struct shmk_qmsg *m)
{
	uint32_t ver = m->len & 0xffff, slot = (m->len >> 16) & 0xff;
	struct ms_peer *p = peer_of(s, m->sender);
	struct shmk_queue *q = NULL;
	struct timespec now;
	uint64_t agreed;
	int why = 0;

	if (slot < NCONN)
		srv_rearm(s, 1U << slot);
	if (!p || sq_open(s->a, m->val, &q)) {
		s->dropped++;
		return;
	}
	if (mq_consumer(q) != shmk_mkey(m->sender, m->sender_gen))
		why = EPROTO;	/* not the sender's own queue */
	else if (ver != s->proto)
		why = EPROTO;
	else if (s->required & ~m->tag)
		why = EOPNOTSUPP;
	else if (s->nclients >= s->max_clients &&
		 !(p->on && p->gen == m->sender_gen))
		why = EUSERS;
	if (why) {
		qsend(q, K_REFUSED, s->proto, why == EOPNOTSUPP ?
		      s->required & ~m->tag : s->features, (uint32_t)why, 0,
		      NULL);
		now_abs(&now);
		mq_close(q, &now);
		return;
	}
	if (p->on) {		/* an earlier incarnation, or again */
		uint32_t og = p->gen;

		peer_drop(s, p);
		if (og != m->sender_gen)
			push_ev(s, SHMK_EV_PEER_CRASHED, m->sender, og, 0,
				SHMK_STATUS_UNKNOWN, 0, 0);
	}
	agreed = m->tag & s->features;
	p->id = m->sender;
	p->gen = m->sender_gen;
	p->q = q;
	p->topics = 0;
	p->features = agreed;
	p->on = true;
	s->nclients++;
	st_rel(&s->dir->clients, s->nclients);
	qsend(q, K_CONNECTED, s->inc, agreed, s->proto, 0, NULL);
	push_ev(s, SHMK_EV_CONNECTED, p->id, p->gen, 0, 0, 0, agreed);
}

static int srv_handover(struct shmk_session *s, struct shmk_qmsg *m);

/* One descriptor from our queue (server side). */
static void srv_handle(struct shmk_session *s, struct shmk_qmsg *m)
{
	struct ms_peer *p = peer_of(s, m->sender);
	bool known = p && p->on && p->gen == m->sender_gen;

	switch (KIND(m->flags)) {
	case K_DATA:
		if (!known || s->state != ST_RUN) {
			drop_qmsg(s, m);
			return;
		}
		push_data(s, m, m->sender, m->sender_gen);
		return;
	case K_CONNECT:
		if (s->state != ST_RUN) {
			s->dropped++;
			return;
		}
		srv_connect(s, m);
		return;
	case K_DISCONNECT:
		if (known) {
			peer_drop(s, p);
			push_ev(s, SHMK_EV_DISCONNECTED, m->sender,
				m->sender_gen, SHMK_END_DETACH, 0, 0, 0);
		}
		return;
	case K_SUBSCRIBE:
		if (known)
			p->topics = m->tag;
		return;
	case K_TAKEOVER:
		/* once the application has handled all it got before */
		if (s->state == ST_RUN && !s->pend_to.val)
			s->pend_to = *m;
		else
			s->dropped++;
		return;
	default:
		s->dropped++;
		return;
	}
}

/* Take the queue back after a failed handover (the new server died). */
static void srv_take_back(struct shmk_session *s)
{
	struct timespec now;

	if (shmk_queue_take_over(s->myq) == 0)
		s->state = ST_RUN;
	else
		s->state = ST_HANDED;	/* it lives and consumes: it won */
	if (s->hoq) {
		now_abs(&now);
		mq_close(s->hoq, &now);
		s->hoq = NULL;
	}
	if (s->state == ST_RUN)
		srv_rearm(s, (1U << NCONN) - 1);
}

/*
 * Old server's side of a hot restart (rule X): send the new server every
 * client's queue and subscriptions, hand it our queue, then wait until it
 * publishes itself (or dies: then we take everything back).
 */
static int srv_handover(struct shmk_session *s, struct shmk_qmsg *m)
{
	uint32_t nid = m->sender, ngen = m->sender_gen, i, hi;
	struct timespec ts, *abs;
	struct shmk_queue *hq = NULL;
	struct ms_dir d;
	uint64_t tok, rv;
	int r;

	if (s->state != ST_RUN || sq_open(s->a, m->val, &hq)) {
		s->dropped++;
		return -EINVAL;
	}
	if ((m->len & 0xffff) != s->proto) {
		qsend(hq, K_REFUSED, s->proto, s->features, EPROTO, 0, NULL);
		now_abs(&ts);
		mq_close(hq, &ts);
		return -EPROTO;
	}
	msg_deadline(&ts, s->handover_ns, &abs);
	for (i = 1; i < s->npeer; i++) {
		struct ms_peer *p = &s->peer[i];

		if (!p->on)
			continue;
		if (shmk_queue_share(p->q, nid, &tok))
			continue;
		r = qsend(hq, K_HO_CLIENT, tok, p->topics, p->id,
			  SHMK_QMSG_TOKEN |
			  (uint32_t)(p->features << FEAT_SHIFT), abs);
		if (r)
			shmk_buf_recall(s->a, tok);
	}
	MSG_CRASH("handover:clients");
	srv_unarm(s);
	r = mq_hand_over(s->myq, nid, ngen);
	if (r == 0)
		r = qsend(hq, K_HO_DONE, 0, 0, s->inc, 0, abs);
	s->hoq = hq;
	s->ho_id = nid;
	s->ho_gen = ngen;
	s->state = ST_HANDING;
	if (r) {
		srv_take_back(s);
		return r;
	}
	/* wait for the new server to publish itself */
	for (;;) {
		if (dir_read(s, &d, &rv) == 0 && d.server_id == nid &&
		    d.server_gen == ngen) {
			s->state = ST_HANDED;
			push_ev(s, SHMK_EV_HANDED_OVER, nid, ngen, 0, 0, 0,
				d.incarnation);
			return 0;
		}
		if (!s->ho_id || !msg_alive(s->a, nid, ngen)) {
			srv_take_back(s);
			return -ECONNRESET;
		}
		hi = (uint32_t)(rv >> 32);
		r = msg_wait(s->a, root_hi_off(s), hi, abs, 0);
		if (r == SHMK_WAIT_EVENT)
			sess_events(s);
		else if (r == -ETIMEDOUT)
			break;
	}
	/* it lives but did not publish in time: it consumes our queue */
	s->state = ST_HANDED;
	push_ev(s, SHMK_EV_HANDED_OVER, nid, ngen, 0, 0, 0, 0);
	return 0;
}

static int srv_publish_dir(struct shmk_session *s, uint64_t old_root)
{
	struct ms_dir *d;
	uint64_t off, nv;
	uint32_t inc = ROOT_INC(old_root) + 1;
	int r;

	if (!(inc & 0xffffff))
		inc = 1;
	r = shmk_alloc(s->a, sizeof(*d), SHMK_ALLOC_LONG | SHMK_ALLOC_ZERO, 0,
		       &off);
	if (r)
		return r;
	d = shmk_arena_ptr(s->a, off);
	d->proto = s->proto;
	d->features = s->features;
	d->required = s->required;
	d->server_id = s->a->id;
	d->server_gen = s->a->gen;
	d->incarnation = inc;
	d->max_clients = s->max_clients;
	d->state = DIR_RUNNING;
	d->prev_id = s->prev_id;
	d->prev_gen = s->prev_gen;
	d->clients = s->nclients;
	st_rel(&d->magic, MD_MAGIC);
	s->dir = d;
	s->dir_off = off;
	s->inc = inc;
	s->state = ST_RUN;
	srv_rearm(s, (1U << NCONN) - 1);
	nv = ROOT_MAKE(inc, off);
	if (!cas_sc(root_word(s), &old_root, nv)) {
		srv_unarm(s);
		s->dir = NULL;
		s->state = ST_NONE;
		shmk_free(s->a, off);
		return -EBUSY;	/* another server got there first */
	}
	msg_wake(s->a, root_hi_off(s), SHMK_WAKE_ALL);
	return 0;
}

/*
 * New server's side of a hot restart: connect to the live server like a
 * client would, ask it to hand over, receive its clients, take its queue.
 */
static int srv_takeover(struct shmk_session *s, const struct ms_dir *d,
			uint64_t rv, const struct timespec *abs)
{
	struct shmk_queue_opts qo = { .capacity = 64,
				      .flags = SHMK_QUEUE_UNBOUNDED,
				      .lanes = 2 };
	struct shmk_queue *sq = NULL;
	struct shmk_qmsg m[BATCH];
	struct timespec now;
	uint64_t tok;
	int r, n, i;
	bool done = false;

	r = sq_create(s->a, &qo, &s->hoq);
	if (r)
		return r;
	for (i = 0; i < NCONN && !sq; i++)
		if (d->conn_tok[i] && sq_open(s->a, d->conn_tok[i], &sq))
			sq = NULL;
	if (!sq) {
		r = -EAGAIN;
		goto fail;
	}
	r = shmk_queue_share(s->hoq, d->server_id, &tok);
	if (r == 0) {
		r = qsend(sq, K_TAKEOVER, tok, s->features, s->proto,
			  SHMK_QMSG_TOKEN, abs);
		if (r)
			shmk_buf_recall(s->a, tok);
	}
	MSG_CRASH("takeover:asked");
	while (r == 0 && !done) {
		n = mq_recv(s->hoq, m, BATCH, abs, NULL, NULL);
		if (n == 0) {
			struct shmk_event ev[16];
			int k, e;

			while ((e = shmk_arena_events(s->a, ev, 16)) > 0) {
				for (k = 0; k < e; k++) {
					if (ev[k].type != SHMK_EVENT_EXIT)
						continue;
					if (ev[k].member_id == d->server_id &&
					    ev[k].generation == d->server_gen)
						r = -ECONNRESET;
					else
						server_exit(s, &ev[k]);
				}
			}
			continue;
		}
		if (n < 0) {
			r = n;
			break;
		}
		for (i = 0; i < n; i++) {
			struct shmk_queue *cq = NULL;
			struct ms_peer *p;
			uint64_t c;

			if (m[i].sender != d->server_id)
				continue;
			if (KIND(m[i].flags) == K_REFUSED) {
				serr(s, "the running server refused the "
				     "takeover (protocol %llu, ours %u)",
				     (unsigned long long)m[i].val, s->proto);
				r = -(int)m[i].len;
				break;
			}
			if (KIND(m[i].flags) == K_HO_DONE) {
				done = true;
				continue;
			}
			if (KIND(m[i].flags) != K_HO_CLIENT ||
			    sq_open(s->a, m[i].val, &cq))
				continue;
			c = mq_consumer(cq);
			p = peer_of(s, m[i].len);
			if (!p || shmk_mkey_id(c) != m[i].len || p->on) {
				now_abs(&now);
				mq_close(cq, &now);
				continue;
			}
			p->id = m[i].len;
			p->gen = shmk_mkey_gen(c);
			p->q = cq;
			p->topics = m[i].tag;
			p->features = FEATS(m[i].flags);
			p->on = true;
			s->nclients++;
		}
	}
	MSG_CRASH("takeover:received");
	if (r == 0 && mq_consumer(sq) != shmk_self_mkey(s->a))
		r = -EPROTO;
	if (r == 0)
		r = shmk_queue_take_over(sq);
	if (r)
		goto fail;
	sq->spin_max = mq_spin_ns(s->spin_ns);	/* ours, not the old one's */
	s->myq = sq;
	s->prev_id = d->server_id;
	s->prev_gen = d->server_gen;
	r = srv_publish_dir(s, rv);
	if (r) {
		s->myq = NULL;
		goto fail;
	}
	now_abs(&now);
	mq_close(s->hoq, &now);
	s->hoq = NULL;
	server_scan(s);	/* clients that died before we could hear it */
	for (i = 1; i < (int)s->npeer; i++)
		if (s->peer[i].on)
			qsend(s->peer[i].q, K_MOVED, s->inc, s->a->gen,
			      s->a->id, 0, NULL);
	return 0;
fail:
	for (i = 1; i < (int)s->npeer; i++)
		peer_drop(s, &s->peer[i]);
	now_abs(&now);
	if (sq)
		mq_close(sq, &now);
	if (s->hoq)
		mq_close(s->hoq, &now);
	s->hoq = NULL;
	return r;
}

SHMK_EXPORT int shmk_server_start(const char *name,
				  const struct shmk_server_opts *o,
				  struct shmk_session **out)
{
	struct shmk_server_opts def;
	struct shmk_arena_opts ao;
	struct shmk_arena_info ai;
	struct shmk_queue_opts qo;
	struct shmk_session *s;
	struct timespec ts, *abs;
	struct ms_dir d;
	uint64_t rv;
	int r, i, tries;
	ERRNO_SAVE;

	tl_err[0] = '\0';
	if (!name || !out) {
		tl_set("shmk_server_start(): %s is NULL", name ? "out" : "name");
		return -EINVAL;
	}
	*out = NULL;
	memset(&def, 0, sizeof(def));
	if (!o)
		o = &def;
	for (i = 0; i < 3; i++) {
		if (o->reserved[i]) {
			tl_set("shmk_server_opts.reserved[%d] is not zero "
			       "(zero the struct before filling it in)", i);
			return -EINVAL;
		}
	}
	if (o->pad) {
		tl_set("shmk_server_opts.pad is not zero");
		return -EINVAL;
	}
	if (o->flags & ~(SHMK_SERVER_TAKEOVER | SHMK_SERVER_UNBOUNDED)) {
		tl_set("unknown shmk_server_opts.flags %#x", o->flags &
		       ~(SHMK_SERVER_TAKEOVER | SHMK_SERVER_UNBOUNDED));
		return -EINVAL;
	}
	if (o->root >= SHMK_ROOTS) {
		tl_set("root slot %u: there are %d (0..%d)", o->root,
		       SHMK_ROOTS, SHMK_ROOTS - 1);
		return -EINVAL;
	}
	if (o->max_clients > LM_MEMBERS_MAX - 2) {
		tl_set("max_clients %u is above %u", o->max_clients,
		       LM_MEMBERS_MAX - 2);
		return -EINVAL;
	}
	s = sess_new();
	if (!s) {
		tl_set("no memory for a session");
		return -ENOMEM;
	}
	s->server = true;
	s->spin_ns = o->spin_ns;
	s->proto = o->proto_version ? o->proto_version : SHMK_MSG_PROTO_VERSION;
	s->features = o->features ? o->features : SHMK_FEAT_ALL;
	s->required = o->required;
	s->max_clients = o->max_clients ? o->max_clients : 32;
	s->handover_ns = o->handover_timeout_ns ? o->handover_timeout_ns :
		5 * 1000000000LL;
	memset(&ao, 0, sizeof(ao));
	ao.size = o->arena_size ? o->arena_size : 16ULL << 20;
	ao.mode = o->mode;
	ao.max_members = s->max_clients + 3;
	ao.refs_per_member = o->refs_per_member ? o->refs_per_member :
		256 + 16 * s->max_clients;
	if (ao.refs_per_member > LM_REFS_MAX)
		ao.refs_per_member = LM_REFS_MAX;
	r = shmk_arena_create(name, &ao, o->open_flags &
			      (SHMK_OPEN_KMOD | SHMK_OPEN_PORTABLE), &s->a);
	if (r) {
		tl_set("%s", shmk_arena_error(NULL));
		sess_free(s);
		ERRNO_RESTORE;
		return r;
	}
	shmk_arena_info(s->a, &ai);
	s->pub_budget = ai.refs_per_member / 4 * 3;
	s->npeer = ai.member_max + 1;
	s->peer = calloc(s->npeer, sizeof(*s->peer));
	if (!s->peer) {
		r = -ENOMEM;
		goto fail;
	}
	shmk_arena_root(s->a, o->root, &s->root_off);
	msg_deadline(&ts, s->handover_ns, &abs);
	for (tries = 0; tries < 8; tries++) {
		r = dir_read(s, &d, &rv);
		if (r == 0 && msg_alive(s->a, d.server_id, d.server_gen)) {
			if (!(o->flags & SHMK_SERVER_TAKEOVER)) {
				serr(s, "a server (member %u) is running",
				     d.server_id);
				r = -EBUSY;
				goto fail;
			}
			r = srv_takeover(s, &d, rv, abs);
			if (r == 0)
				break;
			if (r == -EAGAIN) {	/* no token free now */
				r = cli_wait_server(s, abs);
				if (r == -ETIMEDOUT || r == -EINTR)
					goto fail;
				tries--;
				continue;
			}
			if (r != -ECONNRESET)
				goto fail;
			continue;	/* it died meanwhile: start fresh */
		}
		if (r == -EPROTO)
			goto fail;
		memset(&qo, 0, sizeof(qo));
		qo.capacity = o->queue_capacity ? o->queue_capacity : 1024;
		qo.spin_ns = o->spin_ns;
		if (o->flags & SHMK_SERVER_UNBOUNDED) {
			qo.flags = SHMK_QUEUE_UNBOUNDED;
			qo.lanes = s->max_clients + 2;
		}
		if (!s->myq) {
			r = sq_create(s->a, &qo, &s->myq);
			if (r)
				goto fail;
		}
		r = srv_publish_dir(s, rv);
		if (r == 0)
			break;
		if (r != -EBUSY)
			goto fail;
	}
	if (r)
		goto fail;
	s->last_ev = shmk_now_ns();
	*out = s;
	ERRNO_RESTORE;
	return 0;
fail:
	if (!s->err[0])
		serr(s, "starting a server on arena '%s': %s", name,
		     r == -ETIMEDOUT ? "the running server did not hand over "
		     "in time" : strerror(-r));
	memcpy(tl_err, s->err, sizeof(tl_err));
	if (s->myq)
		mq_close(s->myq, NULL);
	s->myq = NULL;
	shmk_arena_detach(s->a);
	sess_free(s);
	ERRNO_RESTORE;
	return r;
}

SHMK_EXPORT int shmk_server_disconnect(struct shmk_session *s, uint32_t peer)
{
	struct ms_peer *p;

	if (!s || !s->server)
		return -EINVAL;
	p = peer_of(s, peer);
	if (!p || !p->on)
		return -ENOTCONN;
	qsend(p->q, K_DISCONNECT, 0, 0, 0, 0, NULL);
	peer_drop(s, p);
	return 0;
}

SHMK_EXPORT int shmk_server_publish(struct shmk_session *s, unsigned int topic,
				   shmk_ref_t ref, uint64_t tag,
				   unsigned int flags)
{
	struct shmk_qmsg m;
	shmk_ref_t c;
	uint64_t tok, skipped = s ? s->pub_skipped : 0;
	size_t len = 0;
	uint32_t i;
	int n = 0, r;
	ERRNO_SAVE;

	if (!s || !s->server || topic > 63 || flags)
		return -EINVAL;
	if (s->state != ST_RUN)
		return -ENOTCONN;
	if (ref && shmk_buf_data(s->a, ref, NULL, &len))
		return -EINVAL;
	for (i = 1; i < s->npeer; i++) {
		struct ms_peer *p = &s->peer[i];

		if (!p->on || !(p->topics & (1ULL << topic)))
			continue;
		if (ref && !pub_room(s, p)) {
			s->pub_skipped++;
			continue;
		}
		memset(&m, 0, sizeof(m));
		m.tag = tag;
		m.len = (uint32_t)len;
		m.flags = MKF(K_DATA) | F_PUB;
		if (ref) {
			r = shmk_buf_clone(s->a, ref, &c);
			if (r == 0) {
				r = shmk_buf_pass(s->a, c, p->id, &tok);
				if (r)
					shmk_buf_drop(s->a, c);
			}
			if (r) {
				s->pub_skipped++;
				continue;
			}
			m.val = tok;
			m.flags |= SHMK_QMSG_TOKEN;
		}
		r = mq_send(p->q, &m, 0, NULL);
		if (r) {
			if (ref)
				shmk_buf_recall(s->a, tok);
			s->pub_skipped++;
			continue;
		}
		if (ref && !msg_owner_ok(s->a, p->id, p->gen))
			shmk_buf_recall(s->a, tok);	/* rule P */
		else if (ref)
			pub_note(s, p, tok);
		n++;
		s->sent++;
	}
	PROBE_A(publish, s->a, topic, (uint32_t)n, (uint32_t)len, tag,
		(uint32_t)(s->pub_skipped - skipped));
	ERRNO_RESTORE;
	return n;
}

/* ======================================================================
 * Client.
 * ====================================================================== */

static void cli_drop_server(struct shmk_session *s)
{
	struct timespec now;

	if (!s->srvq)
		return;
	mq_recall_own(s->srvq);	/* what the server never took (rule G) */
	now_abs(&now);
	mq_close(s->srvq, &now);
	s->srvq = NULL;
}

static void cli_gone(struct shmk_session *s, uint32_t how, int32_t status,
		     uint64_t time_ns, uint32_t flags)
{
	bool was = s->state == ST_CONNECTED;

	cli_drop_server(s);
	s->root_seen = ld_acq(root_word(s));
	s->state = s->cflags & SHMK_CLIENT_NO_RECONNECT ? ST_DOWN : ST_GONE;
	if (was)
		push_evf(s, SHMK_EV_SERVER_GONE, s->srv_id, s->srv_gen, how,
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
			push_ev(s, SHMK_EV_SERVER_MOVED, s->srv_id, s->srv_gen,
				0, 0, 0, 0);
			return;
		}
	}
	if (s->state == ST_CONNECTED) {
		reclaim_done(s, e->member_id, e->generation);
		cli_gone(s, e->how, e->status, e->time_ns, ev_flags(e));
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

	r = dir_read(s, &d, &rv);
	if (r)
		return r == -EAGAIN ? -ENOENT : r;
	if (!msg_alive(s->a, d.server_id, d.server_gen))
		return -ENOENT;
	if (d.proto != s->proto) {
		serr(s, "incompatible server: it speaks session protocol %u, "
		     "this client %u", d.proto, s->proto);
		return -EPROTO;
	}
	if (s->required & ~d.features) {
		serr(s, "the server lacks required features %#llx",
		     (unsigned long long)(s->required & ~d.features));
		return -EOPNOTSUPP;
	}
	for (i = 0; i < NCONN; i++)
		if (d.conn_tok[i] &&
		    sq_open(s->a, d.conn_tok[i], &s->srvq) == 0)
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
	r = qsend(s->srvq, K_CONNECT, qtok, s->features,
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

/* Wait for something to change while no server is usable. */
static int cli_wait_server(struct shmk_session *s, const struct timespec *abs)
{
	struct ms_dir d;
	uint64_t rv;
	uint32_t seq;
	int r;

	r = dir_read(s, &d, &rv);
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
		r = msg_wait(s->a, root_hi_off(s), (uint32_t)(rv >> 32), abs,
			     0);
	}
	if (r == SHMK_WAIT_EVENT) {
		sess_events(s);
		r = 0;
	}
	return r == -EAGAIN ? 0 : r;
}

static void cli_handle(struct shmk_session *s, struct shmk_qmsg *m)
{
	bool from_srv = m->sender == s->srv_id && m->sender_gen == s->srv_gen;

	switch (KIND(m->flags)) {
	case K_DATA:
		if (s->state != ST_CONNECTED) {
			drop_qmsg(s, m);
			return;
		}
		push_data(s, m, SHMK_PEER_SERVER, 0);
		return;
	case K_CONNECTED:
		if (s->state != ST_CONNECTING || !from_srv)
			return;
		s->agreed = m->tag;
		if (s->required & ~m->tag) {
			serr(s, "the server does not agree to required "
			     "features %#llx",
			     (unsigned long long)(s->required & ~m->tag));
			qsend(s->srvq, K_DISCONNECT, 0, 0, 0, 0, NULL);
			cli_drop_server(s);
			s->state = ST_DOWN;
			return;
		}
		s->state = ST_CONNECTED;
		if (s->topics)
			qsend(s->srvq, K_SUBSCRIBE, 0, s->topics, 0, 0, NULL);
		if (s->ever_connected)
			push_ev(s, SHMK_EV_SERVER_BACK, s->srv_id, s->srv_gen,
				0, 0, 0, m->val);
		s->ever_connected = true;
		return;
	case K_REFUSED:
		if (s->state != ST_CONNECTING || !from_srv)
			return;
		switch (m->len) {
		case EPROTO:
			serr(s, "incompatible server: it speaks session "
			     "protocol %llu, this client %u",
			     (unsigned long long)m->val, s->proto);
			break;
		case EOPNOTSUPP:
			serr(s, "the server requires features %#llx this "
			     "client does not offer",
			     (unsigned long long)m->tag);
			break;
		case EUSERS:
			serr(s, "the server has no room for more clients");
			break;
		default:
			serr(s, "refused by the server (%u)", m->len);
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
			push_ev(s, SHMK_EV_SERVER_MOVED, s->srv_id, s->srv_gen,
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
			push_ev(s, SHMK_EV_DISCONNECTED, SHMK_PEER_SERVER,
				s->srv_gen, SHMK_END_DETACH, 0, 0, 0);
		}
		return;
	default:
		return;
	}
}

/* ======================================================================
 * Both sides.
 * ====================================================================== */

/* One step of work, waiting up to @abs. 1: the inbox has something. */
static int sess_step(struct shmk_session *s, const struct timespec *abs)
{
	struct shmk_qmsg m[BATCH];
	int n, i, r;

	if (s->ib_len)
		return 1;
	maybe_events(s);
	if (s->ib_len)
		return 1;
	if (!s->server && s->state == ST_GONE) {
		r = cli_try(s, abs);
		if (r == 0)
			return 0;
		if (r != -ENOENT && r != -EAGAIN) {
			s->state = ST_DOWN;
			return r;
		}
		return cli_wait_server(s, abs);
	}
	if (!s->server && s->state == ST_DOWN)
		return -ENOTCONN;
	if (s->server && s->pend_to.val) {
		struct shmk_qmsg t = s->pend_to;

		memset(&s->pend_to, 0, sizeof(s->pend_to));
		srv_handover(s, &t);
		return 0;
	}
	if (s->server && s->state == ST_HANDED && !s->ib_len)
		return -ESHUTDOWN;
	n = mq_recv(s->myq, m, BATCH, abs, take_cb, s);
	if (n == 0) {
		sess_events(s);
		return 0;
	}
	if (n < 0)
		return n;
	for (i = 0; i < n; i++) {
		if (s->server)
			srv_handle(s, &m[i]);
		else
			cli_handle(s, &m[i]);
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
		if (ib_pop(s, m)) {
			ERRNO_RESTORE;
			return 1;
		}
		r = sess_step(s, abs);
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
			tl_set("no arena '%s': no server has started there "
			       "(SHMK_CLIENT_WAIT_SERVER waits for one)", name);
			goto out;
		}
		MSG_NOTE("connect:no-arena");
		r = cli_wait_arena(wfd, abs, &backoff);
		if (r == -ETIMEDOUT) {
			tl_set("no arena '%s' appeared within %lld ms: is its "
			       "server running, on the same backend and in "
			       "this IPC namespace?", name,
			       (long long)(timeout_ns / 1000000));
			goto out;
		}
		if (r == -EINTR) {
			tl_set("a signal interrupted the wait for arena '%s'",
			       name);
			goto out;
		}
	}
	if (r)
		tl_set("%s", shmk_arena_error(NULL));
out:
	if (wfd >= 0)
		close(wfd);
	return r;
}

SHMK_EXPORT int shmk_client_connect(const char *name,
				   const struct shmk_client_opts *o,
				   int64_t timeout_ns,
				   struct shmk_session **out)
{
	struct shmk_client_opts def;
	struct shmk_queue_opts qo;
	struct shmk_session *s;
	struct timespec ts, *abs;
	int r, i;
	ERRNO_SAVE;

	tl_err[0] = '\0';
	if (!name || !out) {
		tl_set("shmk_client_connect(): %s is NULL",
		       name ? "out" : "name");
		return -EINVAL;
	}
	*out = NULL;
	memset(&def, 0, sizeof(def));
	if (!o)
		o = &def;
	for (i = 0; i < 4; i++) {
		if (o->reserved[i]) {
			tl_set("shmk_client_opts.reserved[%d] is not zero "
			       "(zero the struct before filling it in)", i);
			return -EINVAL;
		}
	}
	if (o->root >= SHMK_ROOTS) {
		tl_set("root slot %u: there are %d (0..%d)", o->root,
		       SHMK_ROOTS, SHMK_ROOTS - 1);
		return -EINVAL;
	}
	if (o->flags & ~CLIENT_FLAGS) {
		tl_set("unknown shmk_client_opts.flags %#x",
		       o->flags & ~CLIENT_FLAGS);
		return -EINVAL;
	}
	s = sess_new();
	if (!s) {
		tl_set("no memory for a session");
		return -ENOMEM;
	}
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
		sess_free(s);
		ERRNO_RESTORE;
		return r;
	}
	shmk_arena_root(s->a, o->root, &s->root_off);
	memset(&qo, 0, sizeof(qo));
	qo.capacity = o->queue_capacity ? o->queue_capacity : 256;
	qo.spin_ns = o->spin_ns;
	if (!(o->flags & SHMK_CLIENT_BOUNDED)) {
		qo.flags = SHMK_QUEUE_UNBOUNDED;
		qo.lanes = 4;
	}
	r = sq_create(s->a, &qo, &s->myq);
	if (r)
		goto fail;
	s->state = ST_GONE;
	s->last_ev = shmk_now_ns();
	while (s->state != ST_CONNECTED) {
		if (s->state == ST_DOWN) {
			r = -s->refused;
			if (r != -EOPNOTSUPP && r != -EPROTO && r != -EUSERS)
				r = -ECONNREFUSED;
			goto fail;
		}
		if (s->state == ST_GONE) {
			r = cli_try(s, abs);
			if (r == 0)
				continue;
			if (r != -ENOENT && r != -EAGAIN)
				goto fail;
			r = cli_wait_server(s, abs);
		} else {
			r = sess_step(s, abs);
		}
		if (r == -ETIMEDOUT || r == -EINTR || r == -EPROTO ||
		    r == -EOPNOTSUPP) {
			if (r == -ETIMEDOUT && !s->err[0])
				serr(s, "no server answered in time");
			goto fail;
		}
	}
	/* events before the connection are not the application's */
	while (s->ib_len) {
		struct shmk_msg m;

		ib_pop(s, &m);
		if (m.type == SHMK_MSG_DATA && m.ref)
			shmk_buf_drop(s->a, m.ref);
	}
	*out = s;
	ERRNO_RESTORE;
	return 0;
fail:
	if (!s->err[0])
		serr(s, "connecting to arena '%s': %s", name, r == -EINTR ?
		     "a signal interrupted the wait for the server" :
		     strerror(-r));
	memcpy(tl_err, s->err, sizeof(tl_err));
	cli_drop_server(s);
	if (s->myq)
		mq_close(s->myq, NULL);
	shmk_arena_detach(s->a);
	sess_free(s);
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
	return qsend(s->srvq, K_SUBSCRIBE, 0, topics, 0, 0, NULL);
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
		p = peer_of(s, peer);
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

/* Old server after a handover: let the clients take what we sent. */
static void srv_leave_handed(struct shmk_session *s)
{
	struct timespec ts, *abs;
	uint32_t i;

	msg_deadline(&ts, s->handover_ns, &abs);
	for (i = 1; i < s->npeer; i++) {
		struct ms_peer *p = &s->peer[i];

		if (p->on && p->q)
			mq_wait_consumed(p->q, abs);
	}
}

SHMK_EXPORT int shmk_session_close(struct shmk_session *s)
{
	struct timespec ts;
	uint32_t i;
	uint64_t v;
	int r;
	ERRNO_SAVE;

	if (!s)
		return -EINVAL;
	fd_stop(s);
	while (s->ib_len) {
		struct shmk_msg m;

		ib_pop(s, &m);
		if (m.type == SHMK_MSG_DATA && m.ref)
			shmk_buf_drop(s->a, m.ref);
	}
	if (s->server) {
		if (s->state == ST_HANDED)
			srv_leave_handed(s);
		srv_unarm(s);
		shmk_deadline(&ts, 1000000000LL);
		for (i = 1; i < s->npeer && s->state == ST_RUN; i++)
			if (s->peer[i].on)
				qsend(s->peer[i].q, K_SHUTDOWN, 0, 0, 0, 0,
				      NULL);
		for (i = 1; i < s->npeer; i++) {
			struct ms_peer *p = &s->peer[i];

			if (!p->on)
				continue;
			if (s->state == ST_RUN)
				mq_wait_consumed(p->q, &ts);	/* flush */
			peer_drop(s, p);
		}
		if (s->dir && s->state == ST_RUN) {
			st_rel(&s->dir->state, DIR_CLOSED);
			v = ROOT_MAKE(s->inc, s->dir_off);
			cas_sc(root_word(s), &v, ROOT_MAKE(s->inc, 0));
		}
		if (s->hoq) {
			now_abs(&ts);
			mq_close(s->hoq, &ts);
		}
		if (s->myq)
			mq_close(s->myq, NULL);
		if (s->dir)
			shmk_free(s->a, s->dir_off);
	} else {
		shmk_deadline(&ts, 1000000000LL);
		if (s->state == ST_CONNECTED &&
		    qsend(s->srvq, K_DISCONNECT, 0, 0, 0, 0, &ts) == 0)
			mq_wait_consumed(s->srvq, &ts);	/* flush */
		if (s->srvq) {
			mq_close(s->srvq, &ts);
			s->srvq = NULL;
		}
		if (s->myq)
			mq_close(s->myq, NULL);
	}
	s->myq = NULL;
	r = shmk_arena_detach(s->a);
	sess_free(s);
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
	return s ? s->err : tl_err;
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
