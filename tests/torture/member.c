// SPDX-License-Identifier: GPL-2.0
/*
 * The members the torture driver starts, kills and restarts: one server
 * and several clients. Every member loops until it is killed; each turn of
 * the loop it
 *  - updates one of the robust-lock-protected cells (a == b invariant),
 *  - now and then holds a large raw block (allocation with waiting), so
 *    the arena runs out and others wait for memory a dead member held,
 *  - posts buffer tokens to other clients on the board and takes the ones
 *    posted to it (shmk_buf_pass / shmk_buf_accept under a robust lock),
 *  - with sessions: the server echoes every request (after a copy on
 *    write) and publishes to all subscribers; each client keeps a window
 *    of requests in flight and checks every echo and publication.
 * Every message carries (sender, receiver, seq) and a pattern; receivers
 * check per pair that nothing is lost, duplicated or reordered while both
 * ends live, and count what a dead peer had in flight. Failures go to the
 * shared bad[] counters (and stderr); progress to the role's counters.
 */
#include "torture.h"

#include <execinfo.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <unistd.h>

#define WINDOW		4	/* requests in flight per client */
#define DIAG_MAX	10	/* diagnostics of a family one process prints */

struct mem {
	struct tctx c;
	bool msg;
	int nroles;
	int64_t bound;		/* ns: lock timeout, give-up limits */
	uint64_t heap;		/* heap bytes (sizes the hogs) */
#ifdef TORTURE_MSG
	struct shmk_session *s;
#endif
	/* client: requests to the current server and their echoes */
	uint64_t srv, req_seq, echo_next;
	uint64_t pub_srv, pub_next;
	bool pub_any;
	/* board, per peer role */
	struct {
		uint64_t peer, next;
	} tx[NROLE], rx[NROLE];
	/* a large raw block held for a few turns */
	uint64_t hog_off, hog_size;
	int hog_ttl;
	/* server: requests per client member id */
	struct {
		uint64_t from, next;
	} cl[MAXID + 1];
	uint64_t pubseq, pub_skipped;
};

static struct mem M;

void t_bad(struct tctx *c, enum fam f, const char *fmt, ...)
{
	va_list ap;

	if (c->st)
		add64(&c->st->bad[f], 1);
	if (c->nbad[f]++ >= DIAG_MAX)
		return;
	fprintf(stderr, "# FAIL [%s %d, member %u/%u] ",
		c->role < 0 ? "driver" : c->role == 0 ? "server" : "client",
		c->role, IG_ID(c->me), IG_GEN(c->me));
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

uint64_t state_off(struct tctx *c, const void *p)
{
	return shmk_arena_off(c->a, p);
}

/* ---- the board ------------------------------------------------------------ */

static bool board_consistent(const struct board *b)
{
	uint64_t n = 0;
	int i;

	if (b->seq != b->seq_done)
		return false;
	for (i = 0; i < NBOX; i++) {
		if (b->box[i].state == BOX_POSTED)
			n++;
		else if (b->box[i].state != BOX_FREE)
			return false;
	}
	return n == b->nposted;
}

/*
 * The previous holder died: an update may be half done. A box being filled
 * goes (its token, if any, was the dead poster's and its reclaim recalls
 * it); the count is recomputed; the update is closed.
 */
static void board_repair(struct board *b)
{
	uint64_t n = 0;
	int i;

	for (i = 0; i < NBOX; i++) {
		if (b->box[i].state == BOX_POSTED)
			n++;
		else if (b->box[i].state != BOX_FREE)
			b->box[i].state = BOX_FREE;
	}
	b->nposted = n;
	b->seq_done = b->seq;
}

static int64_t lock_timeout(struct tctx *c)
{
	return c->role < 0 ? 60 * SEC : M.bound;
}

int board_lock(struct tctx *c)
{
	struct board *b = &c->st->board;
	int r;

	do {	/* a signal (the driver's stack probe) ends a wait early */
		r = shmk_lock_acquire(c->a, state_off(c, &b->lock),
				      lock_timeout(c));
	} while (r == -EINTR);
	if (r == -EOWNERDEAD) {
		if (!board_consistent(b)) {
			board_repair(b);
			add64(&c->st->s.board_repairs, 1);
		}
		add64(&c->st->s.lock_recov, 1);
		r = shmk_lock_consistent(c->a, state_off(c, &b->lock));
		if (r)
			t_bad(c, F_LOCK, "board: lock_consistent: %d", r);
		return 0;
	}
	if (r) {
		t_bad(c, r == -ETIMEDOUT ? F_STUCK : F_LOCK,
		      "board: lock_acquire: %d", r);
		return r;
	}
	if (!board_consistent(b)) {
		t_bad(c, F_LOCK, "board torn (seq %" PRIu64 ", done %" PRIu64
		      ") though its lock was taken without EOWNERDEAD",
		      b->seq, b->seq_done);
		board_repair(b);
	}
	return 0;
}

void board_unlock(struct tctx *c)
{
	int r = shmk_lock_release(c->a, state_off(c, &c->st->board.lock));

	if (r)
		t_bad(c, F_LOCK, "board: lock_release: %d", r);
}

void board_clear_all(struct tctx *c)
{
	struct board *b = &c->st->board;
	int i;

	if (board_lock(c))
		return;
	b->seq++;
	for (i = 0; i < NBOX; i++)
		b->box[i].state = BOX_FREE;
	b->nposted = 0;
	b->seq_done = b->seq;
	board_unlock(c);
}

/*
 * Write into a copy of a buffer we hold (clone, then write through the
 * clone: it is shared, so it must copy) and check the original is intact.
 */
static void cow_check(struct mem *m, shmk_ref_t ref, uint32_t kind)
{
	struct tctx *c = &m->c;
	struct shmk_buf_info i0, i1;
	const void *d0;
	size_t l0, lw;
	shmk_ref_t r2;
	void *w;
	int r;

	if (shmk_buf_info(c->a, ref, &i0) || shmk_buf_data(c->a, ref, &d0, &l0)) {
		t_bad(c, F_API, "cow: info/data of a held reference failed");
		return;
	}
	r = shmk_buf_clone(c->a, ref, &r2);
	if (r) {
		t_bad(c, F_API, "cow: clone: %d", r);
		return;
	}
	r = shmk_buf_write(c->a, &r2, &w, &lw);
	if (r == -ENOMEM || r == -ETIMEDOUT || r == -EINTR) {
		add64(&c->st->s.alloc_timeouts, 1);
		shmk_buf_drop(c->a, r2);
		return;
	}
	if (r) {
		t_bad(c, F_API, "cow: write: %d", r);
		shmk_buf_drop(c->a, r2);
		return;
	}
	if (shmk_buf_info(c->a, r2, &i1) || i1.offset == i0.offset)
		t_bad(c, F_CONTENT, "cow: writing a shared buffer did not copy "
		      "it (offset %#" PRIx64 ")", i0.offset);
	else if (lw != l0 || memcmp(w, d0, l0))
		t_bad(c, F_CONTENT, "cow: the copy differs from the original");
	memset((uint8_t *)w + sizeof(struct pay), 0xa5,
	       lw - sizeof(struct pay));
	if (pay_bad(d0, l0, kind))
		t_bad(c, F_CONTENT, "cow: a write to the copy changed the "
		      "original (%s)", pay_bad(d0, l0, kind));
	r = shmk_buf_drop(c->a, r2);
	if (r)
		t_bad(c, F_API, "cow: drop: %d", r);
	add64(&c->st->s.cow_checks, 1);
}

static int board_first(struct mem *m)
{
	return m->msg ? 1 : 0;	/* with sessions the server stays out */
}

/*
 * A buffer of @size bytes (@head of headroom), waiting up to @wait_ns for
 * memory. 0, or nonzero when there is none: a full arena is counted, any
 * other error reported as @what's.
 */
static int new_buf(struct tctx *c, size_t size, size_t head, int64_t wait_ns,
		   const char *what, shmk_ref_t *ref)
{
	int r = shmk_buf_create(c->a, size, head, SHMK_ALLOC_WAIT, wait_ns, ref);

	if (r == -ETIMEDOUT || r == -ENOMEM || r == -EINTR)
		add64(&c->st->s.alloc_timeouts, 1);
	else if (r)
		t_bad(c, F_API, "%s: buf_create: %d", what, r);
	return r;
}

static void board_post(struct mem *m)
{
	struct tctx *c = &m->c;
	struct board *b = &c->st->board;
	int first = board_first(m), n = m->nroles - first, t, i, r;
	uint64_t to, tok;
	shmk_ref_t ref;
	size_t size, len;
	void *d;

	if (n < 2)
		return;
	t = first + (int)rnd_below(&c->rng, (uint64_t)n);
	if (t == c->role)
		return;
	to = ld64(&c->st->r[t].idgen);
	if (!alive(c->a, to))
		return;
	if (m->tx[t].peer != to) {
		m->tx[t].peer = to;
		m->tx[t].next = 0;
	}
	size = sizeof(struct pay) + rnd_below(&c->rng, 4000);
	if (new_buf(c, size, 16, 100 * MS, "board", &ref))
		return;
	r = shmk_buf_write(c->a, &ref, &d, &len);
	if (r || len != size) {
		t_bad(c, F_API, "board: buf_write: %d", r);
		shmk_buf_drop(c->a, ref);
		return;
	}
	pay_fill(d, K_BOARD, c->me, to, m->tx[t].next, (uint32_t)size,
		 (uint32_t)c->role);
	if (board_lock(c)) {
		shmk_buf_drop(c->a, ref);
		return;
	}
	b->seq++;
	for (i = 0; i < NBOX && b->box[i].state != BOX_FREE; i++)
		;
	if (i == NBOX) {
		b->seq_done = b->seq;
		board_unlock(c);
		add64(&c->st->s.board_full, 1);
		shmk_buf_drop(c->a, ref);
		return;
	}
	b->box[i].state = BOX_FILLING;
	b->box[i].from = c->me;
	b->box[i].from_role = (uint32_t)c->role;
	b->box[i].to = to;
	b->box[i].mseq = m->tx[t].next;
	b->box[i].token = 0;
	r = shmk_buf_pass(c->a, ref, IG_ID(to), &tok);
	if (r) {
		b->box[i].state = BOX_FREE;
		b->seq_done = b->seq;
		board_unlock(c);
		t_bad(c, F_API, "board: buf_pass: %d", r);
		shmk_buf_drop(c->a, ref);
		return;
	}
	b->box[i].token = tok;
	b->box[i].order = ++b->order;
	__atomic_store_n(&b->box[i].state, BOX_POSTED, __ATOMIC_RELEASE);
	b->nposted++;
	b->seq_done = b->seq;
	board_unlock(c);
	m->tx[t].next++;
}

static int box_cmp(const void *x, const void *y)
{
	const struct box *a = x, *b = y;

	return a->order < b->order ? -1 : a->order > b->order;
}

/* One message from the board, in posting order. */
static void board_got(struct mem *m, const struct box *g)
{
	struct tctx *c = &m->c;
	const struct pay *p;
	const char *why;
	shmk_ref_t ref;
	size_t len;
	int r, fr = (int)g->from_role;

	r = shmk_buf_accept(c->a, g->token, &ref);
	if (r) {
		if (alive(c->a, g->from))
			t_bad(c, F_MSG, "board: accepting a live sender's "
			      "(%u/%u) token failed: %d", IG_ID(g->from),
			      IG_GEN(g->from), r);
		else
			add64(&c->st->s.board_lost_dead, 1);
		return;
	}
	if (shmk_buf_data(c->a, ref, (const void **)&p, &len)) {
		t_bad(c, F_API, "board: data of an accepted reference");
		shmk_buf_drop(c->a, ref);
		return;
	}
	why = pay_bad(p, len, K_BOARD);
	if (!why && (p->from != g->from || p->to != c->me ||
		     p->seq != g->mseq))
		why = "header does not match its box";
	if (why || fr < 0 || fr >= NROLE) {
		t_bad(c, F_CONTENT, "board: message from %u/%u seq %" PRIu64
		      ": %s", IG_ID(g->from), IG_GEN(g->from), g->mseq,
		      why ? why : "bad role");
		shmk_buf_drop(c->a, ref);
		return;
	}
	if (m->rx[fr].peer != g->from) {
		m->rx[fr].peer = g->from;
		m->rx[fr].next = 0;
	}
	if (p->seq == m->rx[fr].next) {
		add64(&c->st->s.board_ok, 1);
	} else if (p->seq < m->rx[fr].next) {
		t_bad(c, F_MSG, "board: duplicate or reordered: seq %" PRIu64
		      " from %u/%u after %" PRIu64, p->seq, IG_ID(g->from),
		      IG_GEN(g->from), m->rx[fr].next);
	} else if (alive(c->a, g->from)) {
		t_bad(c, F_MSG, "board: lost seq %" PRIu64 "..%" PRIu64
		      " from live %u/%u", m->rx[fr].next, p->seq - 1,
		      IG_ID(g->from), IG_GEN(g->from));
	} else {
		add64(&c->st->s.board_lost_dead, p->seq - m->rx[fr].next);
	}
	if (p->seq >= m->rx[fr].next)
		m->rx[fr].next = p->seq + 1;
	cow_check(m, ref, K_BOARD);
	r = shmk_buf_drop(c->a, ref);
	if (r)
		t_bad(c, F_API, "board: drop: %d", r);
}

static void board_take(struct mem *m)
{
	struct tctx *c = &m->c;
	struct board *b = &c->st->board;
	struct box got[NBOX];
	uint64_t rec[NBOX];
	int i, n = 0, nrec = 0;

	if (board_lock(c))
		return;
	b->seq++;
	for (i = 0; i < NBOX; i++) {
		struct box *x = &b->box[i];

		if (x->state != BOX_POSTED)
			continue;
		if (x->to == c->me) {
			got[n++] = *x;
		} else if (alive(c->a, x->to)) {
			continue;
		} else if (x->from == c->me) {
			/* to an ended member: take it back */
			rec[nrec++] = x->token;
		} else if (alive(c->a, x->from)) {
			continue;	/* its sender takes it back */
		}
		x->state = BOX_FREE;
		b->nposted--;
		if (x->to != c->me)
			add64(&c->st->s.board_cleared, 1);
	}
	b->seq_done = b->seq;
	board_unlock(c);
	for (i = 0; i < nrec; i++)
		shmk_buf_recall(c->a, rec[i]);	/* its reclaim may have */
	qsort(got, (size_t)n, sizeof(got[0]), box_cmp);
	for (i = 0; i < n; i++)
		board_got(m, &got[i]);
}

/* ---- cells, hogs ---------------------------------------------------------- */

static void cell_update(struct mem *m)
{
	struct tctx *c = &m->c;
	struct cell *cl = &c->st->cell[rnd_below(&c->rng, NCELL)];
	uint64_t off = state_off(c, &cl->lock), a, b;
	volatile unsigned int spin, n;
	int r;

	do {
		r = shmk_lock_acquire(c->a, off, m->bound);
	} while (r == -EINTR);
	a = __atomic_load_n(&cl->a, __ATOMIC_RELAXED);
	b = __atomic_load_n(&cl->b, __ATOMIC_RELAXED);
	if (r == -EOWNERDEAD) {
		add64(&c->st->s.lock_recov, 1);
		if (a != b) {
			add64(&c->st->s.torn_repaired, 1);
			__atomic_store_n(&cl->b, a, __ATOMIC_RELAXED);
		}
		r = shmk_lock_consistent(c->a, off);
		if (r)
			t_bad(c, F_LOCK, "cell: lock_consistent: %d", r);
	} else if (r) {
		t_bad(c, r == -ETIMEDOUT ? F_STUCK : F_LOCK,
		      "cell: lock_acquire: %d", r);
		return;
	} else if (a != b) {
		t_bad(c, F_LOCK, "cell torn (a %" PRIu64 " b %" PRIu64
		      ", last %u/%u) though its lock was taken without "
		      "EOWNERDEAD", a, b, IG_ID(cl->last), IG_GEN(cl->last));
		__atomic_store_n(&cl->b, a, __ATOMIC_RELAXED);
	}
	/* a two-step update with work in between: kills land inside */
	__atomic_store_n(&cl->a, a + 1, __ATOMIC_RELEASE);
	__atomic_store_n(&cl->last, c->me, __ATOMIC_RELEASE);
	n = (unsigned int)rnd_below(&c->rng, rnd_below(&c->rng, 8) ? 100000 :
				    1000000);
	for (spin = 0; spin < n; spin++)
		;
	__atomic_store_n(&cl->b, a + 1, __ATOMIC_RELEASE);
	r = shmk_lock_release(c->a, off);
	if (r)
		t_bad(c, F_LOCK, "cell: lock_release: %d", r);
	add64(&c->st->s.cell_ops, 1);
}

static void hog_mark(struct mem *m, uint8_t *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v));
	memcpy(p + m->hog_size - sizeof(v), &v, sizeof(v));
}

static void hog_step(struct mem *m)
{
	struct tctx *c = &m->c;
	uint64_t v, w, sz, lo;
	uint8_t *p;
	int r;

	if (m->hog_off) {
		if (--m->hog_ttl > 0)
			return;
		p = shmk_arena_ptr(c->a, m->hog_off);
		v = m->hog_off ^ c->me;
		memcpy(&w, p, sizeof(w));
		if (w != v || memcmp(p + m->hog_size - sizeof(v), &v,
				     sizeof(v)))
			t_bad(c, F_CONTENT, "a raw block changed under its "
			      "owner (offset %#" PRIx64 ")", m->hog_off);
		r = shmk_free(c->a, m->hog_off);
		if (r)
			t_bad(c, F_API, "free of own block: %d", r);
		m->hog_off = 0;
		add64(&c->st->s.hog_ok, 1);
		return;
	}
	if (rnd_below(&c->rng, 12))
		return;
	lo = m->heap / 8;
	sz = lo + rnd_below(&c->rng, m->heap / 3);
	r = shmk_alloc(c->a, sz, 0, 0, &m->hog_off);
	if (r == -ENOMEM) {
		/* full: wait for somebody's free (or a dead member's reclaim) */
		add64(&c->st->s.alloc_waits, 1);
		r = shmk_alloc(c->a, sz, SHMK_ALLOC_WAIT, 300 * MS,
			       &m->hog_off);
		if (r == 0)
			add64(&c->st->s.alloc_waited_ok, 1);
	}
	if (r == -ETIMEDOUT || r == -ENOMEM || r == -EINTR) {
		add64(&c->st->s.alloc_timeouts, 1);
		m->hog_off = 0;
		return;
	}
	if (r) {
		t_bad(c, F_API, "alloc %" PRIu64 " bytes: %d", sz, r);
		m->hog_off = 0;
		return;
	}
	m->hog_size = sz;
	m->hog_ttl = 1 + (int)rnd_below(&c->rng, 6);
	hog_mark(m, shmk_arena_ptr(c->a, m->hog_off), m->hog_off ^ c->me);
}

/* A survivor saw member @idgen end: the driver times it. */
static void saw_end(struct mem *m, uint64_t idgen)
{
	struct tctx *c = &m->c;
	struct seen *s;

	if (!IG_ID(idgen) || IG_ID(idgen) > MAXID)
		return;
	s = &c->st->seen[IG_ID(idgen)];
	if (ld64(&s->idgen) == idgen)
		return;
	st64(&s->t_ns, now_ns());
	st64(&s->idgen, idgen);
	add64(&c->st->s.peer_events, 1);
	ctr_bump(c->a, &c->st->notify);
}

/* Without sessions: read membership events ourselves. */
static void raw_events(struct mem *m)
{
	struct shmk_event ev[16];
	int n, i;

	while ((n = shmk_arena_events(m->c.a, ev, 16)) > 0) {
		for (i = 0; i < n; i++) {
			if (ev[i].type == SHMK_EVENT_OVERFLOW)
				add64(&m->c.st->s.overflow, 1);
			else if (ev[i].type == SHMK_EVENT_EXIT)
				saw_end(m, idgen_of(ev[i].member_id,
						    ev[i].generation));
		}
	}
}

/* ---- sessions ------------------------------------------------------------- */

#ifdef TORTURE_MSG
static bool transient(int r)
{
	return r == -EAGAIN || r == -ETIMEDOUT || r == -ENOMEM ||
		r == -ENOSPC || r == -ENOBUFS || r == -EINTR;
}

/* Between retries of an operation that found the arena full: let the
 * members that will free memory run (2 CPUs, many members). */
static void retry_pause(void)
{
	struct timespec ts = { 0, 200000 };

	nanosleep(&ts, NULL);
}

/* Server: one request. Check it, copy on write, stamp, echo it. */
static void srv_req(struct mem *m, struct shmk_msg *g)
{
	struct tctx *c = &m->c;
	uint64_t from = idgen_of(g->peer, g->peer_gen), end;
	const struct pay *p;
	struct pay *w;
	const char *why;
	size_t len, lw;
	int r;

	if (!g->ref || shmk_buf_data(c->a, g->ref, (const void **)&p, &len)) {
		t_bad(c, F_MSG, "request from %u/%u without a buffer",
		      g->peer, g->peer_gen);
		goto out;
	}
	why = pay_bad(p, len, K_REQ);
	if (!why && p->from != from)
		why = "sender is not who the session says";
	if (!why && p->seq != g->tag)
		why = "tag differs from seq";
	if (why) {
		t_bad(c, F_CONTENT, "request from %u/%u tag %" PRIu64 ": %s",
		      g->peer, g->peer_gen, g->tag, why);
		goto out;
	}
	if (p->to != c->me) {
		if (alive(c->a, p->to))
			t_bad(c, F_MSG, "request for live server %u/%u "
			      "delivered here", IG_ID(p->to), IG_GEN(p->to));
		else
			add64(&c->st->s.req_stale, 1);
		goto out;
	}
	if (g->peer > MAXID) {
		t_bad(c, F_API, "client id %u out of range", g->peer);
		goto out;
	}
	if (m->cl[g->peer].from != from) {
		m->cl[g->peer].from = from;
		m->cl[g->peer].next = 0;
	}
	if (p->seq == m->cl[g->peer].next) {
		add64(&c->st->s.req_ok, 1);
	} else if (p->seq < m->cl[g->peer].next) {
		t_bad(c, F_MSG, "request duplicated or reordered: seq %" PRIu64
		      " from %u/%u after %" PRIu64, p->seq, g->peer,
		      g->peer_gen, m->cl[g->peer].next);
	} else if (alive(c->a, from)) {
		t_bad(c, F_MSG, "requests %" PRIu64 "..%" PRIu64 " of live "
		      "client %u/%u lost", m->cl[g->peer].next, p->seq - 1,
		      g->peer, g->peer_gen);
	} else {
		add64(&c->st->s.req_lost_dead, p->seq - m->cl[g->peer].next);
	}
	if (p->seq >= m->cl[g->peer].next)
		m->cl[g->peer].next = p->seq + 1;
	cow_check(m, g->ref, K_REQ);
	/*
	 * Stamp it. A client that sent with KEEP still holds the buffer, so
	 * this may copy, and the arena may be full for a while: retry, as a
	 * dropped request would be a loss between live peers.
	 */
	end = now_ns() + (uint64_t)m->bound / 3;
	while ((r = shmk_buf_write(c->a, &g->ref, (void **)&w, &lw)) != 0) {
		if (!transient(r)) {
			t_bad(c, F_API, "stamp: buf_write: %d", r);
			goto out;
		}
		add64(&c->st->s.alloc_timeouts, 1);
		if (!alive(c->a, from))
			goto out;
		if (now_ns() > end) {
			t_bad(c, F_STUCK, "could not stamp a request of live "
			      "client %u/%u for %" PRId64 " ms: %d", g->peer,
			      g->peer_gen, m->bound / 3 / MS, r);
			goto out;
		}
		retry_pause();
	}
	w->stamp = c->me;
	for (;;) {
		r = shmk_session_send(M.s, g->peer, g->ref, g->tag,
				      SHMK_SEND_WAIT | SHMK_SEND_KEEP,
				      200 * MS);
		if (r == 0)
			break;
		if (r == -ENOTCONN || r == -EPIPE) {
			if (alive(c->a, from))
				t_bad(c, F_MSG, "echo to live client %u/%u: "
				      "%d", g->peer, g->peer_gen, r);
			break;
		}
		if (!transient(r)) {
			t_bad(c, F_API, "echo: session_send: %d", r);
			break;
		}
		add64(&c->st->s.send_retries, 1);
		if (!alive(c->a, from))
			break;
		if (now_ns() > end) {
			t_bad(c, F_STUCK, "could not echo to live client "
			      "%u/%u for %" PRId64 " ms: %d", g->peer,
			      g->peer_gen, m->bound / 3 / MS, r);
			break;
		}
		if (r == -ENOBUFS || r == -ENOMEM)
			retry_pause();	/* the send did not wait */
	}
out:
	if (g->ref)
		shmk_buf_drop(c->a, g->ref);
}

static void srv_publish(struct mem *m)
{
	struct tctx *c = &m->c;
	struct shmk_session_info si;
	struct shmk_buf_info bi;
	struct pay *p;
	shmk_ref_t ref;
	size_t size, len;
	int r;

	size = sizeof(struct pay) + rnd_below(&c->rng, 1000);
	if (new_buf(c, size, 0, 100 * MS, "publish", &ref))
		return;
	if (shmk_buf_write(c->a, &ref, (void **)&p, &len) ||
	    shmk_buf_info(c->a, ref, &bi)) {
		t_bad(c, F_API, "publish: buf_write/info");
		shmk_buf_drop(c->a, ref);
		return;
	}
	pay_fill(p, K_PUB, c->me, 0, m->pubseq, (uint32_t)size, 0);
	p->boff = bi.offset;
	r = shmk_server_publish(M.s, 0, ref, m->pubseq, 0);
	if (r >= 0) {
		m->pubseq++;
		add64(&c->st->s.pub_sent, 1);
		add64(&c->st->s.pub_deliv, (uint64_t)r);
	} else {
		t_bad(c, F_API, "publish: %d", r);
	}
	if (shmk_session_info(M.s, &si) == 0 &&
	    si.publish_skipped > m->pub_skipped) {
		add64(&c->st->s.pub_skipped, si.publish_skipped -
		      m->pub_skipped);
		m->pub_skipped = si.publish_skipped;
	}
	shmk_buf_drop(c->a, ref);
}

/* How a peer ended, when known (how 0: not known, shmk_msg.h). */
static void check_end(struct mem *m, const struct shmk_msg *g)
{
	if ((g->flags & SHMK_MSGF_GUESSED) || g->how == 0)
		return;
	if (!(g->how == SHMK_END_SIGNAL && g->status == SIGKILL))
		t_bad(&m->c, F_API, "event for %u/%u: how %u status %d, "
		      "want SIGKILL", g->peer, g->peer_gen, g->how,
		      g->status);
}

static void server_turn(struct mem *m)
{
	struct tctx *c = &m->c;
	struct shmk_msg g;
	int r, k;

	if (rnd_below(&c->rng, 4) == 0)
		srv_publish(m);
	for (k = 0; k < 64; k++) {
		r = shmk_session_recv(M.s, &g, k ? 0 : 10 * MS);
		if (r != 1)
			break;
		switch (g.type) {
		case SHMK_MSG_DATA:
			srv_req(m, &g);
			break;
		case SHMK_EV_PEER_CRASHED:
			check_end(m, &g);
			saw_end(m, idgen_of(g.peer, g.peer_gen));
			break;
		case SHMK_EV_DISCONNECTED:
			t_bad(c, F_API, "client %u/%u disconnected, but "
			      "clients never leave cleanly", g.peer,
			      g.peer_gen);
			break;
		case SHMK_EV_OVERFLOW:
			add64(&c->st->s.overflow, 1);
			break;
		default:
			break;
		}
	}
	if (r == -ENOBUFS)
		add64(&c->st->s.recv_full, 1);	/* we hold too many: later */
	else if (r < 0 && r != -EAGAIN && r != -ETIMEDOUT && r != -EINTR)
		t_bad(c, F_API, "server: session_recv: %d", r);
}

static void cli_new_server(struct mem *m)
{
	struct shmk_session_info si;

	if (shmk_session_info(M.s, &si) || !si.connected) {
		m->srv = 0;
		return;
	}
	m->srv = idgen_of(si.server_id, si.server_gen);
	m->req_seq = 0;
	m->echo_next = 0;
	st64(&m->c.st->r[m->c.role].conn_srv, m->srv);
}

static void cli_send(struct mem *m)
{
	struct tctx *c = &m->c;
	bool keep = rnd_below(&c->rng, 4) == 0;
	shmk_ref_t ref;
	size_t size, len;
	void *d;
	int r;

	size = sizeof(struct pay) + rnd_below(&c->rng,
					       rnd_below(&c->rng, 8) ? 2000 :
					       16000);
	if (new_buf(c, size, 32, 200 * MS, "request", &ref))
		return;
	if (shmk_buf_write(c->a, &ref, &d, &len) || len != size) {
		t_bad(c, F_API, "request: buf_write");
		shmk_buf_drop(c->a, ref);
		return;
	}
	pay_fill(d, K_REQ, c->me, m->srv, m->req_seq, (uint32_t)size,
		 (uint32_t)c->role);
	r = shmk_session_send(M.s, SHMK_PEER_SERVER, ref, m->req_seq,
			      SHMK_SEND_WAIT | (keep ? SHMK_SEND_KEEP : 0),
			      200 * MS);
	if (r == 0) {
		m->req_seq++;
	} else if (r == -ENOTCONN || r == -EPIPE) {
		/* the server ended: its event is on the way */
	} else if (transient(r)) {
		add64(&c->st->s.send_fail, 1);
	} else {
		t_bad(c, F_API, "request: session_send: %d", r);
	}
	if (!keep)
		return;
	/* we still hold the buffer the server may be reading: copy on write */
	if (r == 0) {
		r = shmk_buf_write(c->a, &ref, &d, &len);
		if (r == 0)
			memset((uint8_t *)d + sizeof(struct pay), 0x5a,
			       len - sizeof(struct pay));
		else if (!transient(r))
			t_bad(c, F_API, "request: write after send: %d", r);
	}
	shmk_buf_drop(c->a, ref);
}

static void cli_echo(struct mem *m, struct shmk_msg *g)
{
	struct tctx *c = &m->c;
	const struct pay *p;
	const char *why;
	size_t len;

	if (!g->ref || shmk_buf_data(c->a, g->ref, (const void **)&p, &len)) {
		t_bad(c, F_MSG, "echo without a buffer (tag %" PRIu64 ")",
		      g->tag);
		goto out;
	}
	why = pay_bad(p, len, K_REQ);
	if (!why && (p->from != c->me || p->seq != g->tag ||
		     p->to != p->stamp))
		why = "header is not ours";
	if (why) {
		t_bad(c, F_CONTENT, "echo tag %" PRIu64 ": %s", g->tag, why);
		goto out;
	}
	if (p->stamp != m->srv) {
		if (alive(c->a, p->stamp))
			t_bad(c, F_MSG, "echo from live server %u/%u, ours is "
			      "%u/%u", IG_ID(p->stamp), IG_GEN(p->stamp),
			      IG_ID(m->srv), IG_GEN(m->srv));
		else
			add64(&c->st->s.echo_stale, 1);
		goto out;
	}
	if (p->seq == m->echo_next) {
		add64(&c->st->s.echo_ok, 1);
		ctr_bump(c->a, &c->st->r[c->role].echoes);
	} else if (p->seq < m->echo_next) {
		t_bad(c, F_MSG, "echo duplicated or reordered: seq %" PRIu64
		      " after %" PRIu64, p->seq, m->echo_next);
	} else if (alive(c->a, m->srv)) {
		t_bad(c, F_MSG, "echoes %" PRIu64 "..%" PRIu64 " lost with "
		      "server %u/%u alive", m->echo_next, p->seq - 1,
		      IG_ID(m->srv), IG_GEN(m->srv));
	} else {
		add64(&c->st->s.echo_lost_dead, p->seq - m->echo_next);
	}
	if (p->seq >= m->echo_next)
		m->echo_next = p->seq + 1;
out:
	if (g->ref)
		shmk_buf_drop(c->a, g->ref);
}

static void cli_pub(struct mem *m, struct shmk_msg *g)
{
	struct tctx *c = &m->c;
	struct shmk_buf_info bi;
	const struct pay *p;
	const char *why;
	size_t len;

	if (!g->ref || shmk_buf_data(c->a, g->ref, (const void **)&p, &len) ||
	    shmk_buf_info(c->a, g->ref, &bi)) {
		t_bad(c, F_MSG, "publication without a buffer");
		goto out;
	}
	why = pay_bad(p, len, K_PUB);
	if (!why && p->seq != g->tag)
		why = "tag differs from seq";
	if (!why && p->boff != bi.offset)
		why = "not the publisher's buffer (copied?)";
	if (why) {
		t_bad(c, F_CONTENT, "publication %" PRIu64 ": %s", g->tag, why);
		goto out;
	}
	if (!m->pub_any || p->from != m->pub_srv) {
		/* first one from this server: the base */
		m->pub_any = true;
		m->pub_srv = p->from;
		m->pub_next = p->seq + 1;
		add64(&c->st->s.pub_ok, 1);
		goto out;
	}
	if (p->seq == m->pub_next) {
		add64(&c->st->s.pub_ok, 1);
	} else if (p->seq < m->pub_next) {
		t_bad(c, F_MSG, "publication duplicated or reordered: seq %"
		      PRIu64 " after %" PRIu64, p->seq, m->pub_next);
	} else if (alive(c->a, p->from)) {
		/* allowed only as many as the server counted skipped */
		add64(&c->st->s.pub_gap, p->seq - m->pub_next);
	} else {
		add64(&c->st->s.pub_gap_dead, p->seq - m->pub_next);
	}
	if (p->seq >= m->pub_next)
		m->pub_next = p->seq + 1;
out:
	if (g->ref)
		shmk_buf_drop(c->a, g->ref);
}

static void client_turn(struct mem *m)
{
	struct tctx *c = &m->c;
	struct role *me = &c->st->r[c->role];
	struct shmk_msg g;
	int r, k;

	if (m->srv) {
		for (k = 0; k < 2 && m->req_seq - m->echo_next < WINDOW; k++)
			cli_send(m);
	}
	for (k = 0; k < 64; k++) {
		r = shmk_session_recv(M.s, &g, k ? 0 : 10 * MS);
		if (r != 1)
			break;
		switch (g.type) {
		case SHMK_MSG_DATA:
			if (g.flags & SHMK_MSGF_PUBLISHED)
				cli_pub(m, &g);
			else
				cli_echo(m, &g);
			break;
		case SHMK_EV_SERVER_GONE:
			st64(&me->conn_srv, 0);
			st64(&me->gone_ns, now_ns());
			st64(&me->gone_srv, idgen_of(g.peer, g.peer_gen));
			ctr_bump(c->a, &c->st->notify);
			check_end(m, &g);
			m->srv = 0;
			break;
		case SHMK_EV_SERVER_BACK:
		case SHMK_EV_SERVER_MOVED:
			cli_new_server(m);
			break;
		case SHMK_EV_DISCONNECTED:
			t_bad(c, F_API, "disconnected by the server");
			break;
		case SHMK_EV_OVERFLOW:
			add64(&c->st->s.overflow, 1);
			break;
		default:
			break;
		}
	}
	if (r == -ENOBUFS)
		add64(&c->st->s.recv_full, 1);
	else if (r < 0 && r != -EAGAIN && r != -ETIMEDOUT && r != -EINTR)
		t_bad(c, F_API, "client: session_recv: %d", r);
}
#endif /* TORTURE_MSG */

/* ---- main ----------------------------------------------------------------- */

#ifdef TORTURE_MSG
/*
 * A server start or a client connect found the arena full (clients hold
 * big blocks; one of each in ~10,000 kills): wait for somebody's free, as
 * the clients' allocations do, before trying again.
 */
static void wait_for_room(const char *name, int64_t bound)
{
	struct shmk_arena *ta;
	uint64_t off;

	if (shmk_arena_attach(name, 0, &ta) == 0) {
		if (shmk_alloc(ta, 256 << 10, SHMK_ALLOC_WAIT, bound,
			       &off) == 0)
			shmk_free(ta, off);
		shmk_arena_detach(ta);
	}
}
#endif

static int member_open(struct mem *m, const char *name)
{
	int r;
#ifdef TORTURE_MSG
	int tries;
#endif

#ifdef TORTURE_MSG
	if (m->msg && m->c.role == 0) {
		struct shmk_server_opts o;

		memset(&o, 0, sizeof(o));
		o.max_clients = MAXCLI * 2;
		r = shmk_server_start(name, &o, &m->s);
		for (tries = 0; r == -ENOMEM && tries < 20; tries++) {
			wait_for_room(name, m->bound);
			r = shmk_server_start(name, &o, &m->s);
		}
		if (r)
			fprintf(stderr, "# server_start: %d (%s)\n", r,
				shmk_session_error(NULL));
		else
			m->c.a = shmk_session_arena(m->s);
		return r;
	}
	if (m->msg) {
		r = shmk_client_connect(name, NULL, m->bound, &m->s);
		for (tries = 0; r == -ENOMEM && tries < 20; tries++) {
			wait_for_room(name, m->bound);
			r = shmk_client_connect(name, NULL, m->bound, &m->s);
		}
		if (r) {
			fprintf(stderr, "# client_connect: %d (%s)\n", r,
				shmk_session_error(NULL));
			return r;
		}
		m->c.a = shmk_session_arena(m->s);
		r = shmk_client_subscribe(m->s, 1);
		if (r)
			fprintf(stderr, "# client_subscribe: %d\n", r);
		return r;
	}
#endif
	r = shmk_arena_attach(name, 0, &m->c.a);
	if (r)
		fprintf(stderr, "# arena_attach: %d\n", r);
	return r;
}

/* The driver asks a member that is late where it is (debugging aid). */
static void on_usr1(int sig)
{
	static const char hdr[] = "# backtrace of a late member:\n";
	void *bt[48];
	int n;

	(void)sig;
	n = backtrace(bt, 48);
	if (write(2, hdr, sizeof(hdr) - 1) < 0)
		return;
	backtrace_symbols_fd(bt, n, 2);
}

/* t_torture --child ROLE NAME SEED MSG NROLES BOUND_MS PARENT */
int child_main(int argc, char **argv)
{
	struct mem *m = &M;
	struct tctx *c = &m->c;
	struct shmk_arena_info ai;
	uint64_t soff, *root;
	struct role *me;
	int r;

	if (argc != 9)
		return 64;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != (pid_t)strtol(argv[8], NULL, 10))
		return 65;	/* the driver is gone already */
	dup2(2, 1);		/* stdout is the driver's TAP */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGUSR1, on_usr1);
	c->role = atoi(argv[2]);
	c->rng = strtoull(argv[4], NULL, 0) | 1;
	m->msg = atoi(argv[5]) != 0;
	m->nroles = atoi(argv[6]);
	m->bound = strtoll(argv[7], NULL, 10) * MS;
	if (c->role < 0 || c->role >= NROLE || m->nroles < 1 ||
	    m->nroles > NROLE || m->bound <= 0)
		return 64;
#ifndef TORTURE_MSG
	m->msg = false;
#endif
	r = member_open(m, argv[3]);
	if (r)
		return 66;
	if (shmk_arena_info(c->a, &ai) || shmk_arena_root(c->a, ROOT_STATE,
							  &soff))
		return 67;
	root = shmk_arena_ptr(c->a, soff);
	soff = root ? ld64(root) : 0;
	c->st = soff ? shmk_arena_ptr(c->a, soff) : NULL;
	if (!c->st || ld32(&c->st->magic) != T_MAGIC)
		return 68;
	c->me = idgen_of(ai.member_id, ai.generation);
	m->heap = ai.heap_size;
	me = &c->st->r[c->role];
#ifdef TORTURE_MSG
	if (m->msg && c->role > 0)
		cli_new_server(m);
#endif
	__atomic_store_n(&me->pid, (int32_t)getpid(), __ATOMIC_RELEASE);
	st64(&me->idgen, c->me);
	ctr_bump(c->a, &me->up);
	for (;;) {
		cell_update(m);
		if (c->role > 0 || !m->msg) {
			hog_step(m);
			if (rnd_below(&c->rng, 3) == 0)
				board_post(m);
			if (rnd_below(&c->rng, 2) == 0)
				board_take(m);
		}
#ifdef TORTURE_MSG
		if (m->msg && c->role == 0)
			server_turn(m);
		else if (m->msg)
			client_turn(m);
#endif
		if (!m->msg) {
			r = shmk_arena_wait(c->a, state_off(c, &me->pad), 0,
					    MS, 0);
			if (r != 0 && r != SHMK_WAIT_EVENT && r != -ETIMEDOUT &&
			    r != -EAGAIN && r != -EINTR)
				t_bad(c, F_API, "arena_wait: %d", r);
			raw_events(m);
		}
		ctr_bump(c->a, &me->prog);
	}
	return 0;
}
