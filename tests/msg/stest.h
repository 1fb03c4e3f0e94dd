/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Child programs of the session tests: an echo server driven through a
 * command pipe and a ping client that checks every echo, both reporting
 * to the parent through a pipe (one 64-bit word per report). The parent
 * stays attached to the arena as an observer, so it can check at the end
 * that every byte of the arena is free again.
 */
#ifndef STEST_H
#define STEST_H

#include "msgt.h"

/* Report words: kind (8) | a (8) | b (16) | c (32). */
#define REP(k, a, b, c)	(((uint64_t)(k) << 56) | ((uint64_t)((a) & 0xff) << 48) | \
			 ((uint64_t)((b) & 0xffff) << 32) | (uint32_t)(c))
#define REP_K(w)	((unsigned int)((w) >> 56))
#define REP_A(w)	((unsigned int)(((w) >> 48) & 0xff))
#define REP_B(w)	((unsigned int)(((w) >> 32) & 0xffff))
#define REP_C(w)	((uint32_t)(w))

/* kinds besides the SHMK_EV_* numbers (events are reported as is) */
#define R_STARTED	100	/* c: member id */
#define R_FAILED	101	/* c: -errno */
#define R_DONE		102	/* a: client idx, c: echoes checked */
#define R_BAD		103	/* a: client idx, c: bad echoes */
#define R_PROGRESS	104	/* a: client idx, c: echoes so far */
#define R_USED		105	/* c: KiB a crashed member still owns */
#define R_PUBLISHED	106	/* c: deliveries */
#define R_GOT		107	/* a: client idx, c: published received */
#define R_STATS		108	/* c: connected clients */

/* server commands */
#define C_QUIT		1
#define C_PUBLISH	2	/* | n << 8 */
#define C_STATS		3
#define C_CRASH		4
#define C_SEND		5	/* | peer << 8: send it one buffer */
#define R_SENT		109	/* c: -result of C_SEND */

#define MAGIC		0x5e55104eU

struct payload {
	uint32_t magic;
	uint32_t idx;
	uint64_t seq;
	uint8_t fill[48];
};

/* Events: a = how (| 0x80 when guessed), b = status. */
static inline uint64_t sev(const struct shmk_msg *m)
{
	return REP(m->type, m->how | (m->flags & SHMK_MSGF_GUESSED ? 0x80 : 0),
		   (uint32_t)m->status, m->peer);
}

struct srv {
	char name[64];
	struct shmk_server_opts o;
	int rep;		/* write: reports */
	int cmd;		/* read: commands */
	const char *crash;	/* SHMK_MSG_CRASH for this server */
};

/* Echo server: every DATA goes back to its sender, same buffer. */
static int server_main(void *arg)
{
	struct srv *v = arg;
	struct shmk_session *s = NULL;
	struct shmk_arena_info ai;
	struct pollfd pf[2];
	struct shmk_msg m;
	uint64_t c, used;
	int r, fd;

	if (v->crash)
		setenv("SHMK_MSG_CRASH", v->crash, 1);
	r = shmk_server_start(v->name, &v->o, &s);
	if (r) {
		diag("server_start: %d (%s)", r, shmk_session_error(NULL));
		put64(v->rep, REP(R_FAILED, 0, 0, (uint32_t)-r));
		return 1;
	}
	shmk_arena_info(shmk_session_arena(s), &ai);
	put64(v->rep, REP(R_STARTED, 0, 0, ai.member_id));
	fd = shmk_session_fd(s);
	if (fd < 0)
		return 2;
	for (;;) {
		pf[0].fd = fd;
		pf[0].events = POLLIN;
		pf[1].fd = v->cmd;
		pf[1].events = POLLIN;
		if (poll(pf, 2, -1) < 0 && errno != EINTR)
			return 3;
		if (pf[1].revents) {
			if (read(v->cmd, &c, sizeof(c)) != sizeof(c))
				c = C_QUIT;	/* parent gone */
			if ((c & 0xff) == C_QUIT)
				break;
			if ((c & 0xff) == C_CRASH)
				raise(SIGKILL);
			if ((c & 0xff) == C_SEND) {
				shmk_ref_t ref;

				r = shmk_buf_create(shmk_session_arena(s), 64,
						    0, 0, 0, &ref);
				if (r == 0)
					r = shmk_session_send(s,
							      (uint32_t)(c >> 8),
							      ref, 7, 0, 0);
				put64(v->rep, REP(R_SENT, 0, 0, (uint32_t)-r));
			}
			if ((c & 0xff) == C_STATS) {
				struct shmk_session_info si;

				shmk_session_info(s, &si);
				put64(v->rep, REP(R_STATS, 0, 0, si.clients));
			}
			if ((c & 0xff) == C_PUBLISH) {
				uint32_t i, n = (uint32_t)(c >> 8), tot = 0;
				struct shmk_arena *a = shmk_session_arena(s);
				struct shmk_buf_info bi;
				struct payload *p;
				shmk_ref_t ref;

				for (i = 0; i < n; i++) {
					if (shmk_buf_create(a, sizeof(*p), 0,
							    0, 0, &ref))
						break;
					shmk_buf_write(a, &ref, (void **)&p,
						       NULL);
					p->magic = MAGIC;
					p->seq = i;
					shmk_buf_info(a, ref, &bi);
					r = shmk_server_publish(s, 0, ref,
								bi.offset, 0);
					if (r > 0)
						tot += (uint32_t)r;
					shmk_buf_drop(a, ref);
				}
				put64(v->rep, REP(R_PUBLISHED, 0, 0, tot));
			}
		}
		while ((r = shmk_session_recv(s, &m, 0)) == 1) {
			if (m.type == SHMK_MSG_DATA) {
				r = shmk_session_send(s, m.peer, m.ref, m.tag,
						      SHMK_SEND_WAIT, 5 * SEC);
				if (r)
					diag("server: echo to %u/%u failed: %d",
					     m.peer, m.peer_gen, r);
				continue;
			}
			put64(v->rep, sev(&m));
			if (m.type == SHMK_EV_PEER_CRASHED) {
				used = 0;
				shmk_alloc_member_used(shmk_session_arena(s),
						       m.peer, &used);
				put64(v->rep, REP(R_USED, 0, 0,
						  (uint32_t)(used >> 10)));
			}
			if (m.type == SHMK_EV_HANDED_OVER)
				goto out;
		}
		if (r == -ESHUTDOWN)
			break;
	}
out:
	r = shmk_session_close(s);
	return r ? 4 : 0;
}

#define CF_RESTART	(1U << 0)	/* survive server gone / back */
#define CF_SUBSCRIBE	(1U << 1)	/* subscribe to topic 0, count */
#define CF_WAIT_QUIT	(1U << 2)	/* after the work, wait for a word */
#define CF_STOPPABLE	(1U << 3)	/* a word on cmd: finish what is in
					 * flight and stop */

struct cli {
	char name[64];
	int idx;
	int count;		/* echoes to check */
	int window;		/* messages in flight */
	unsigned int flags;
	int rep, cmd;
	int progress;		/* report every this many echoes (0: no) */
	struct shmk_client_opts o;
};

static int client_send(struct shmk_session *s, struct cli *c, uint64_t seq)
{
	struct shmk_arena *a = shmk_session_arena(s);
	struct payload *p;
	shmk_ref_t ref;
	int r;

	r = shmk_buf_create(a, sizeof(*p), 0, SHMK_ALLOC_WAIT, SEC, &ref);
	if (r)
		return r;
	shmk_buf_write(a, &ref, (void **)&p, NULL);
	p->magic = MAGIC;
	p->idx = (uint32_t)c->idx;
	p->seq = seq;
	return shmk_session_send(s, SHMK_PEER_SERVER, ref, seq,
				 SHMK_SEND_WAIT, 5 * SEC);
}

/* Ping client: @count echoes, in order, contents intact. */
static int client_main(void *arg)
{
	struct cli *c = arg;
	struct shmk_session *s = NULL;
	struct shmk_arena_info ai;
	uint64_t next_send = 0, next_echo = 0, bad = 0, got_pub = 0;
	const struct payload *p;
	struct shmk_msg m;
	bool up = true;
	size_t len;
	int r;

	r = shmk_client_connect(c->name, &c->o, 20 * SEC, &s);
	if (r) {
		put64(c->rep, REP(R_FAILED, c->idx, 0, (uint32_t)-r));
		diag("client %d: connect: %d (%s)", c->idx, r,
		     shmk_session_error(NULL));
		return 1;
	}
	shmk_arena_info(shmk_session_arena(s), &ai);
	put64(c->rep, REP(R_STARTED, c->idx, 0, ai.member_id));
	if (c->flags & CF_SUBSCRIBE)
		shmk_client_subscribe(s, 1);
	while (next_echo < (uint64_t)c->count) {
		if ((c->flags & CF_STOPPABLE) &&
		    next_send < (uint64_t)c->count) {
			uint64_t w;

			if (get64(c->cmd, &w, 0) == 0)
				c->count = (int)next_send;
		}
		while (up && next_send < (uint64_t)c->count &&
		       next_send - next_echo < (uint64_t)(c->window ?
							  c->window : 1)) {
			r = client_send(s, c, next_send);
			if (r == -ENOTCONN && (c->flags & CF_RESTART))
				break;	/* its event is on the way */
			if (r) {
				diag("client %d: send %" PRIu64 ": %d",
				     c->idx, next_send, r);
				put64(c->rep, REP(R_FAILED, c->idx, 1,
						  (uint32_t)-r));
				return 2;
			}
			next_send++;
		}
		r = shmk_session_recv(s, &m, 20 * SEC);
		if (r != 1) {
			diag("client %d: recv: %d at echo %" PRIu64, c->idx, r,
			     next_echo);
			put64(c->rep, REP(R_FAILED, c->idx, 2, (uint32_t)-r));
			return 3;
		}
		if (m.type != SHMK_MSG_DATA) {
			put64(c->rep, REP(m.type, c->idx, m.how, m.peer));
			if (m.type == SHMK_EV_SERVER_GONE) {
				up = false;	/* in flight: lost with it */
				next_send = next_echo;
			} else if (m.type == SHMK_EV_SERVER_BACK) {
				up = true;
			}
			continue;
		}
		if (m.flags & SHMK_MSGF_PUBLISHED) {
			struct shmk_buf_info bi;

			shmk_buf_info(shmk_session_arena(s), m.ref, &bi);
			if (bi.offset != m.tag)
				bad++;	/* a copy, not the same buffer */
			got_pub++;
			shmk_buf_drop(shmk_session_arena(s), m.ref);
			continue;
		}
		if (!m.ref ||
		    shmk_buf_data(shmk_session_arena(s), m.ref,
				  (const void **)&p, &len) ||
		    len != sizeof(*p) || p->magic != MAGIC ||
		    p->idx != (uint32_t)c->idx || p->seq != next_echo ||
		    m.tag != next_echo) {
			if (bad++ < 3)
				diag("client %d: echo tag %" PRIu64
				     ", want %" PRIu64, c->idx, m.tag,
				     next_echo);
			put64(c->rep, REP(R_BAD, c->idx, 1, (uint32_t)bad));
		} else {
			next_echo++;
			if (c->progress && next_echo % c->progress == 0)
				put64(c->rep, REP(R_PROGRESS, c->idx, 0,
						  (uint32_t)next_echo));
		}
		if (m.ref)
			shmk_buf_drop(shmk_session_arena(s), m.ref);
	}
	put64(c->rep, REP(R_BAD, c->idx, 0, (uint32_t)bad));
	put64(c->rep, REP(R_DONE, c->idx, 0, (uint32_t)next_echo));
	if (c->flags & CF_WAIT_QUIT) {
		uint64_t w;

		get64(c->cmd, &w, 60000);
	}
	if (c->flags & CF_SUBSCRIBE) {
		/* what was published meanwhile is in our queue now */
		while (shmk_session_recv(s, &m, 0) == 1) {
			if (m.type == SHMK_MSG_DATA &&
			    (m.flags & SHMK_MSGF_PUBLISHED)) {
				struct shmk_buf_info bi;

				shmk_buf_info(shmk_session_arena(s), m.ref,
					      &bi);
				if (bi.offset != m.tag)
					bad++;
				got_pub++;
			}
			if (m.ref)
				shmk_buf_drop(shmk_session_arena(s), m.ref);
		}
		put64(c->rep, REP(R_GOT, c->idx, (uint32_t)bad,
				  (uint32_t)got_pub));
	}
	r = shmk_session_close(s);
	return r ? 5 : 0;
}

/* Every report read from one pipe: counts and last value per kind and
 * client, plus the first words in order. */
#define BOOK_IDX	64
struct book {
	int fd;
	int n;
	uint64_t w[4096];
	uint32_t cnt[256][BOOK_IDX + 2];	/* [BOOK_IDX]: all */
	uint64_t last[256][BOOK_IDX + 2];	/* [BOOK_IDX + 1]: a >= 64 */
};

static inline void book_add(struct book *b, uint64_t w)
{
	unsigned int k = REP_K(w), a = REP_A(w) < BOOK_IDX ? REP_A(w) :
		BOOK_IDX + 1;

	if (b->n < (int)(sizeof(b->w) / sizeof(b->w[0])))
		b->w[b->n++] = w;
	b->cnt[k][a]++;
	b->last[k][a] = w;
	b->cnt[k][BOOK_IDX]++;
	b->last[k][BOOK_IDX] = w;
}

/* Reports of kind @k from client @idx (< 0: from anyone). Events from
 * servers carry "how" where clients put their index: count them with -1. */
static inline int book_count(const struct book *b, unsigned int k, int idx)
{
	return (int)b->cnt[k & 0xff][idx < 0 || idx >= BOOK_IDX ? BOOK_IDX :
				     idx];
}

static inline uint64_t book_last(const struct book *b, unsigned int k, int idx)
{
	return b->last[k & 0xff][idx < 0 || idx >= BOOK_IDX ? BOOK_IDX : idx];
}

/* Read until @n reports of kind @k (client @idx) are in the book. */
static inline int book_wait(struct book *b, unsigned int k, int idx, int n,
			    int timeout_ms)
{
	uint64_t end = now_ns() + (uint64_t)timeout_ms * 1000000ULL, w;

	while (book_count(b, k, idx) < n) {
		int64_t left = (int64_t)(end - now_ns()) / 1000000;

		if (left <= 0 || get64(b->fd, &w, (int)left))
			return -ETIMEDOUT;
		book_add(b, w);
	}
	return 0;
}

/* Read whatever is already there (no waiting). */
static inline void book_slurp(struct book *b)
{
	uint64_t w;

	while (get64(b->fd, &w, 0) == 0)
		book_add(b, w);
}

#endif /* STEST_H */
