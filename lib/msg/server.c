// SPDX-License-Identifier: MIT
/*
 * The server side of sessions (session.c has the overview): start, the
 * directory and its connect tokens, connects, control messages, client
 * deaths, hot restart (handover and takeover), disconnect and publish.
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
		ms_now_abs(&now);
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

static void server_exit(struct shmk_session *s, const struct shmk_event *e)
{
	struct ms_peer *p = ms_peer_of(s, e->member_id);

	if (s->state == ST_HANDING && e->member_id == s->ho_id &&
	    e->generation == s->ho_gen)
		s->ho_id = 0;	/* the new server died: handover fails */
	if (p && p->on && p->gen == e->generation) {
		peer_drop(s, p);
		ms_reclaim_done(s, e->member_id, e->generation);
		ms_push_evf(s, e->flags & SHMK_EVENT_F_CRASH ?
			    SHMK_EV_PEER_CRASHED : SHMK_EV_DISCONNECTED,
			    e->member_id, e->generation, e->how, e->status,
			    e->time_ns, 0, ms_ev_flags(e));
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
			ms_push_ev(s, SHMK_EV_PEER_CRASHED, p->id, p->gen, 0,
				   SHMK_STATUS_UNKNOWN, 0, 0);
		}
	}
	if (s->state == ST_RUN)
		srv_rearm(s, (1U << NCONN) - 1);
}

static void srv_connect(struct shmk_session *s, struct shmk_qmsg *m)
{
	uint32_t ver = m->len & 0xffff, slot = (m->len >> 16) & 0xff;
	struct ms_peer *p = ms_peer_of(s, m->sender);
	struct shmk_queue *q = NULL;
	struct timespec now;
	uint64_t agreed;
	int why = 0;

	if (slot < NCONN)
		srv_rearm(s, 1U << slot);
	if (!p || ms_sq_open(s->a, m->val, &q)) {
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
		ms_qsend(q, K_REFUSED, s->proto, why == EOPNOTSUPP ?
			 s->required & ~m->tag : s->features, (uint32_t)why, 0,
			 NULL);
		ms_now_abs(&now);
		mq_close(q, &now);
		return;
	}
	if (p->on) {		/* an earlier incarnation, or again */
		uint32_t og = p->gen;

		peer_drop(s, p);
		if (og != m->sender_gen)
			ms_push_ev(s, SHMK_EV_PEER_CRASHED, m->sender, og, 0,
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
	ms_qsend(q, K_CONNECTED, s->inc, agreed, s->proto, 0, NULL);
	ms_push_ev(s, SHMK_EV_CONNECTED, p->id, p->gen, 0, 0, 0, agreed);
}

/* One descriptor from our queue (server side). */
static void srv_handle(struct shmk_session *s, struct shmk_qmsg *m)
{
	struct ms_peer *p = ms_peer_of(s, m->sender);
	bool known = p && p->on && p->gen == m->sender_gen;

	switch (KIND(m->flags)) {
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
			ms_push_ev(s, SHMK_EV_DISCONNECTED, m->sender,
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
		ms_now_abs(&now);
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

	if (s->state != ST_RUN || ms_sq_open(s->a, m->val, &hq)) {
		s->dropped++;
		return -EINVAL;
	}
	if ((m->len & 0xffff) != s->proto) {
		ms_qsend(hq, K_REFUSED, s->proto, s->features, EPROTO, 0, NULL);
		ms_now_abs(&ts);
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
		r = ms_qsend(hq, K_HO_CLIENT, tok, p->topics, p->id,
			     SHMK_QMSG_TOKEN |
			     (uint32_t)(p->features << FEAT_SHIFT), abs);
		if (r)
			shmk_buf_recall(s->a, tok);
	}
	MSG_CRASH("handover:clients");
	srv_unarm(s);
	r = mq_hand_over(s->myq, nid, ngen);
	if (r == 0)
		r = ms_qsend(hq, K_HO_DONE, 0, 0, s->inc, 0, abs);
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
		if (ms_dir_read(s, &d, &rv) == 0 && d.server_id == nid &&
		    d.server_gen == ngen) {
			s->state = ST_HANDED;
			ms_push_ev(s, SHMK_EV_HANDED_OVER, nid, ngen, 0, 0, 0,
				   d.incarnation);
			return 0;
		}
		if (!s->ho_id || !msg_alive(s->a, nid, ngen)) {
			srv_take_back(s);
			return -ECONNRESET;
		}
		hi = (uint32_t)(rv >> 32);
		r = msg_wait(s->a, ms_root_hi_off(s), hi, abs, 0);
		if (r == SHMK_WAIT_EVENT)
			ms_sess_events(s);
		else if (r == -ETIMEDOUT)
			break;
	}
	/* it lives but did not publish in time: it consumes our queue */
	s->state = ST_HANDED;
	ms_push_ev(s, SHMK_EV_HANDED_OVER, nid, ngen, 0, 0, 0, 0);
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
	if (!cas_sc(ms_root_word(s), &old_root, nv)) {
		srv_unarm(s);
		s->dir = NULL;
		s->state = ST_NONE;
		shmk_free(s->a, off);
		return -EBUSY;	/* another server got there first */
	}
	msg_wake(s->a, ms_root_hi_off(s), SHMK_WAKE_ALL);
	return 0;
}

/* Takeover: the exits read while we wait for the old server. */
static int tko_events(struct shmk_session *s, const struct ms_dir *d)
{
	struct shmk_event ev[16];
	int k, e, r = 0;

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
	return r;
}

/* Takeover: a client the old server hands us (HO_CLIENT: its queue). */
static void tko_adopt(struct shmk_session *s, const struct shmk_qmsg *m)
{
	struct shmk_queue *cq = NULL;
	struct timespec now;
	struct ms_peer *p;
	uint64_t c;

	if (ms_sq_open(s->a, m->val, &cq))
		return;
	c = mq_consumer(cq);
	p = ms_peer_of(s, m->len);
	if (!p || shmk_mkey_id(c) != m->len || p->on) {
		ms_now_abs(&now);
		mq_close(cq, &now);
		return;
	}
	p->id = m->len;
	p->gen = shmk_mkey_gen(c);
	p->q = cq;
	p->topics = m->tag;
	p->features = FEATS(m->flags);
	p->on = true;
	s->nclients++;
}

/*
 * Takeover: what the old server sends on our handover queue until
 * HO_DONE (its clients), or a refusal, its death, the deadline.
 */
static int tko_receive(struct shmk_session *s, const struct ms_dir *d,
		       const struct timespec *abs)
{
	struct shmk_qmsg m[BATCH];
	bool done = false;
	int r = 0, n, i;

	while (r == 0 && !done) {
		n = mq_recv(s->hoq, m, BATCH, abs, NULL, NULL);
		if (n == 0) {
			r = tko_events(s, d);
			continue;
		}
		if (n < 0)
			return n;
		for (i = 0; i < n; i++) {
			if (m[i].sender != d->server_id)
				continue;
			if (KIND(m[i].flags) == K_REFUSED) {
				ms_serr(s, "the running server refused the "
					"takeover (protocol %llu, ours %u)",
					(unsigned long long)m[i].val, s->proto);
				r = -(int)m[i].len;
				break;
			}
			if (KIND(m[i].flags) == K_HO_DONE)
				done = true;
			else if (KIND(m[i].flags) == K_HO_CLIENT)
				tko_adopt(s, &m[i]);
		}
	}
	return r;
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
	struct timespec now;
	uint64_t tok;
	int r, i;

	r = ms_sq_create(s->a, &qo, &s->hoq);
	if (r)
		return r;
	for (i = 0; i < NCONN && !sq; i++)
		if (d->conn_tok[i] && ms_sq_open(s->a, d->conn_tok[i], &sq))
			sq = NULL;
	if (!sq) {
		r = -EAGAIN;
		goto fail;
	}
	r = shmk_queue_share(s->hoq, d->server_id, &tok);
	if (r == 0) {
		r = ms_qsend(sq, K_TAKEOVER, tok, s->features, s->proto,
			     SHMK_QMSG_TOKEN, abs);
		if (r)
			shmk_buf_recall(s->a, tok);
	}
	MSG_CRASH("takeover:asked");
	if (r == 0)
		r = tko_receive(s, d, abs);
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
	ms_now_abs(&now);
	mq_close(s->hoq, &now);
	s->hoq = NULL;
	server_scan(s);	/* clients that died before we could hear it */
	for (i = 1; i < (int)s->npeer; i++)
		if (s->peer[i].on)
			ms_qsend(s->peer[i].q, K_MOVED, s->inc, s->a->gen,
				 s->a->id, 0, NULL);
	return 0;
fail:
	for (i = 1; i < (int)s->npeer; i++)
		peer_drop(s, &s->peer[i]);
	ms_now_abs(&now);
	if (sq)
		mq_close(sq, &now);
	if (s->hoq)
		mq_close(s->hoq, &now);
	s->hoq = NULL;
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

/* shmk_session_close() of a server: the clients told, the root cleared. */
static void srv_close(struct shmk_session *s)
{
	struct timespec ts;
	uint32_t i;
	uint64_t v;

	if (s->state == ST_HANDED)
		srv_leave_handed(s);
	srv_unarm(s);
	shmk_deadline(&ts, 1000000000LL);
	for (i = 1; i < s->npeer && s->state == ST_RUN; i++)
		if (s->peer[i].on)
			ms_qsend(s->peer[i].q, K_SHUTDOWN, 0, 0, 0, 0,
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
		cas_sc(ms_root_word(s), &v, ROOT_MAKE(s->inc, 0));
	}
	if (s->hoq) {
		ms_now_abs(&ts);
		mq_close(s->hoq, &ts);
	}
	if (s->myq)
		mq_close(s->myq, NULL);
	if (s->dir)
		shmk_free(s->a, s->dir_off);
}


/* Before a receive: a pending takeover, or the end after a handover. */
static int srv_step(struct shmk_session *s, const struct timespec *abs)
{
	(void)abs;
	if (s->pend_to.val) {
		struct shmk_qmsg t = s->pend_to;

		memset(&s->pend_to, 0, sizeof(s->pend_to));
		srv_handover(s, &t);
		return 0;
	}
	if (s->state == ST_HANDED && !s->ib_len)
		return -ESHUTDOWN;
	return 1;
}

static const struct ms_role srv_role = {
	.exit = server_exit,
	.scan = server_scan,
	.handle = srv_handle,
	.step = srv_step,
	.close = srv_close,
};

/* Why @o cannot start a server (a reason said), else 0. */
static int srv_check_opts(const struct shmk_server_opts *o)
{
	int i;

	for (i = 0; i < 3; i++) {
		if (o->reserved[i]) {
			ms_tl_set("shmk_server_opts.reserved[%d] is not zero "
				  "(zero the struct before filling it in)", i);
			return -EINVAL;
		}
	}
	if (o->pad) {
		ms_tl_set("shmk_server_opts.pad is not zero");
		return -EINVAL;
	}
	if (o->flags & ~(SHMK_SERVER_TAKEOVER | SHMK_SERVER_UNBOUNDED)) {
		ms_tl_set("unknown shmk_server_opts.flags %#x", o->flags &
			  ~(SHMK_SERVER_TAKEOVER | SHMK_SERVER_UNBOUNDED));
		return -EINVAL;
	}
	if (o->root >= SHMK_ROOTS) {
		ms_tl_set("root slot %u: there are %d (0..%d)", o->root,
			  SHMK_ROOTS, SHMK_ROOTS - 1);
		return -EINVAL;
	}
	if (o->max_clients > LM_MEMBERS_MAX - 2) {
		ms_tl_set("max_clients %u is above %u", o->max_clients,
			  LM_MEMBERS_MAX - 2);
		return -EINVAL;
	}
	return 0;
}

/* The server's arena (created if missing) and its table of peers. */
static int srv_open_arena(struct shmk_session *s, const char *name,
			  const struct shmk_server_opts *o)
{
	struct shmk_arena_opts ao;
	struct shmk_arena_info ai;
	int r;

	memset(&ao, 0, sizeof(ao));
	ao.size = o->arena_size ? o->arena_size : MS_DEF_ARENA_SIZE;
	ao.mode = o->mode;
	ao.max_members = s->max_clients + 3;
	ao.refs_per_member = o->refs_per_member ? o->refs_per_member :
		MS_DEF_REFS(s->max_clients);
	if (ao.refs_per_member > LM_REFS_MAX)
		ao.refs_per_member = LM_REFS_MAX;
	r = shmk_arena_create(name, &ao, o->open_flags &
			      (SHMK_OPEN_KMOD | SHMK_OPEN_PORTABLE), &s->a);
	if (r) {
		ms_tl_set("%s", shmk_arena_error(NULL));
		return r;
	}
	shmk_arena_info(s->a, &ai);
	s->pub_budget = ai.refs_per_member / 4 * 3;
	s->npeer = ai.member_max + 1;
	s->peer = calloc(s->npeer, sizeof(*s->peer));
	if (!s->peer)
		return -ENOMEM;
	shmk_arena_root(s->a, o->root, &s->root_off);
	return 0;
}

/*
 * Become the arena's server: take a live one over (SHMK_SERVER_TAKEOVER,
 * else -EBUSY), or publish a new directory, with our queue, at the root.
 */
static int srv_claim(struct shmk_session *s, const struct shmk_server_opts *o)
{
	struct timespec ts, *abs;
	struct shmk_queue_opts qo;
	struct ms_dir d;
	uint64_t rv;
	int r = 0, tries;

	msg_deadline(&ts, s->handover_ns, &abs);
	for (tries = 0; tries < 8; tries++) {
		r = ms_dir_read(s, &d, &rv);
		if (r == 0 && msg_alive(s->a, d.server_id, d.server_gen)) {
			if (!(o->flags & SHMK_SERVER_TAKEOVER)) {
				ms_serr(s, "a server (member %u) is running",
					d.server_id);
				return -EBUSY;
			}
			r = srv_takeover(s, &d, rv, abs);
			if (r == 0)
				return 0;
			if (r == -EAGAIN) {	/* no token free now */
				r = ms_dir_wait(s, abs);
				if (r == -ETIMEDOUT || r == -EINTR)
					return r;
				tries--;
				continue;
			}
			if (r != -ECONNRESET)
				return r;
			continue;	/* it died meanwhile: start fresh */
		}
		if (r == -EPROTO)
			return r;
		memset(&qo, 0, sizeof(qo));
		qo.capacity = o->queue_capacity ? o->queue_capacity :
			MS_DEF_SRV_QUEUE;
		qo.spin_ns = o->spin_ns;
		if (o->flags & SHMK_SERVER_UNBOUNDED) {
			qo.flags = SHMK_QUEUE_UNBOUNDED;
			qo.lanes = s->max_clients + 2;
		}
		if (!s->myq) {
			r = ms_sq_create(s->a, &qo, &s->myq);
			if (r)
				return r;
		}
		r = srv_publish_dir(s, rv);
		if (r == 0)
			return 0;
		if (r != -EBUSY)
			return r;
	}
	return r;
}

SHMK_EXPORT int shmk_server_start(const char *name,
				  const struct shmk_server_opts *o,
				  struct shmk_session **out)
{
	struct shmk_server_opts def;
	struct shmk_session *s;
	int r;
	ERRNO_SAVE;

	ms_tl_err[0] = '\0';
	if (!name || !out) {
		ms_tl_set("shmk_server_start(): %s is NULL", name ? "out" : "name");
		return -EINVAL;
	}
	*out = NULL;
	memset(&def, 0, sizeof(def));
	if (!o)
		o = &def;
	r = srv_check_opts(o);
	if (r)
		return r;
	s = ms_sess_new();
	if (!s) {
		ms_tl_set("no memory for a session");
		return -ENOMEM;
	}
	s->server = true;
	s->role = &srv_role;
	s->spin_ns = o->spin_ns;
	s->proto = o->proto_version ? o->proto_version : SHMK_MSG_PROTO_VERSION;
	s->features = o->features ? o->features : SHMK_FEAT_ALL;
	s->required = o->required;
	s->max_clients = o->max_clients ? o->max_clients : MS_DEF_CLIENTS;
	s->handover_ns = o->handover_timeout_ns ? o->handover_timeout_ns :
		MS_DEF_HANDOVER_NS;
	r = srv_open_arena(s, name, o);
	if (r && !s->a) {
		ms_sess_free(s);
		ERRNO_RESTORE;
		return r;
	}
	if (r == 0)
		r = srv_claim(s, o);
	if (r)
		goto fail;
	s->last_ev = shmk_now_ns();
	*out = s;
	ERRNO_RESTORE;
	return 0;
fail:
	if (!s->err[0])
		ms_serr(s, "starting a server on arena '%s': %s", name,
			r == -ETIMEDOUT ? "the running server did not hand over "
			"in time" : strerror(-r));
	memcpy(ms_tl_err, s->err, sizeof(ms_tl_err));
	if (s->myq)
		mq_close(s->myq, NULL);
	s->myq = NULL;
	shmk_arena_detach(s->a);
	ms_sess_free(s);
	ERRNO_RESTORE;
	return r;
}

SHMK_EXPORT int shmk_server_disconnect(struct shmk_session *s, uint32_t peer)
{
	struct ms_peer *p;

	if (!s || !s->server)
		return -EINVAL;
	p = ms_peer_of(s, peer);
	if (!p || !p->on)
		return -ENOTCONN;
	ms_qsend(p->q, K_DISCONNECT, 0, 0, 0, 0, NULL);
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
