// SPDX-License-Identifier: MIT
/*
 * Receive queues in the arena: multi-producer, single-consumer, lock-free.
 *
 * The ring is a Vyukov-style bounded queue whose per-slot word carries the
 * position, a state (FREE, BUSY, FULL) and who reserved the slot, so a hole
 * left by a producer that died between reserving and publishing can be
 * recognised and skipped by the consumer. Producers that find the ring of
 * an unbounded queue full append to their own chain of blocks (a "lane"),
 * which only they write and the consumer reads optimistically, validating
 * afterwards that the producer's memory was not reclaimed meanwhile.
 * Senders waiting for room take tickets and are admitted in order, as
 * many at once as there is room for.
 * Documentation/messaging-design.md states every rule; the comments below
 * point at them.
 */
#include "msg_int.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>

/*
 * Spin-before-sleep is off unless asked for (spin_ns in the queue or
 * session options): a consumer that finds its queue empty sleeps at once.
 * With a bound, it spins adaptively up to that long first; a bound longer
 * than a cross-CPU wake-up (tens of microseconds) keeps a busy pair out of
 * the kernel. SHMK_SPIN_US, when set, overrides the option (0: no spin);
 * it is read when a handle is created or opened.
 */
#define SPIN_NS_MIN	250

static uint64_t ts_ns(const struct timespec *ts)
{
	return (uint64_t)ts->tv_sec * 1000000000ULL + (uint64_t)ts->tv_nsec;
}

uint64_t mq_spin_ns(uint32_t requested)
{
	const char *e = getenv("SHMK_SPIN_US");

	if (e && *e)
		return strtoull(e, NULL, 10) * 1000;
	return requested;
}
#define MIN_BYTES	2048	/* keep the buffer page-based (64-aligned) */

/* ---- layout ------------------------------------------------------------ */

static uint32_t lane_words(uint32_t lanes)
{
	return (lanes + 63) / 64;
}

static uint64_t q_layout(uint32_t cap, uint32_t lanes, uint32_t *pend_off,
			 uint32_t *lanes_off, uint32_t *ring_off)
{
	uint64_t off = MQ_HDR_BYTES;

	*pend_off = (uint32_t)off;
	off += (uint64_t)lane_words(lanes) * 8;
	off = (off + 63) & ~63ULL;
	*lanes_off = (uint32_t)off;
	off += (uint64_t)lanes * sizeof(struct mq_lane);
	*ring_off = (uint32_t)off;
	off += (uint64_t)cap * sizeof(struct mq_slot);
	return off;
}

static uint64_t woff(const struct shmk_queue *q, const void *p)
{
	return q->off + (uint64_t)((const uint8_t *)p - (const uint8_t *)q->h);
}

static bool is_pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

/* ---- handles ----------------------------------------------------------- */

static struct shmk_queue *q_alloc(struct shmk_arena *a)
{
	struct shmk_queue *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->a = a;
	q->my_lane = -1;
	q->me_gen18 = a->gen & SC_GENMASK;
	pthread_mutex_init(&q->plock, NULL);
	return q;
}

static void q_free(struct shmk_queue *q)
{
	pthread_mutex_destroy(&q->plock);
	free(q->blk);
	free(q->spare);
	free(q);
}

/* Map the header at @off (data of buffer @ref, @len bytes) after checks. */
static int q_bind(struct shmk_queue *q, uint64_t off, uint64_t len)
{
	struct mq_hdr *h;
	uint32_t po, lo, ro;
	uint64_t bytes;

	if (off & 63 || len < MQ_HDR_BYTES)
		return -EPROTO;
	h = shmk_arena_ptr(q->a, off);
	if (!h || ld_acq(&h->magic) != MQ_MAGIC || h->version != MQ_VERSION)
		return -EPROTO;
	if (!is_pow2(h->capacity) || h->capacity < 2 ||
	    h->capacity > MQ_CAP_MAX || h->lanes > MQ_LANES_MAX)
		return -EPROTO;
	if ((h->flags & SHMK_QUEUE_UNBOUNDED) &&
	    (!is_pow2(h->block_bytes) || h->block_bytes < 1024 ||
	     h->block_bytes > (1U << 20) || h->lanes == 0))
		return -EPROTO;
	bytes = q_layout(h->capacity, h->lanes, &po, &lo, &ro);
	if (bytes > len || bytes != h->bytes || po != h->pend_off ||
	    lo != h->lanes_off || ro != h->ring_off)
		return -EPROTO;
	q->off = off;
	q->h = h;
	q->cap = h->capacity;
	q->mask = h->capacity - 1;
	q->nlanes = h->flags & SHMK_QUEUE_UNBOUNDED ? h->lanes : 0;
	q->pend = (uint64_t *)((uint8_t *)h + po);
	q->lane = (struct mq_lane *)((uint8_t *)h + lo);
	q->ring = (struct mq_slot *)((uint8_t *)h + ro);
	q->block_bytes = q->nlanes ? h->block_bytes : 0;
	q->ents_per_blk = q->nlanes ? (q->block_bytes -
				       sizeof(struct mq_blk)) /
		sizeof(struct mq_ent) : 0;
	return 0;
}

SHMK_EXPORT int shmk_queue_create(struct shmk_arena *a,
				  const struct shmk_queue_opts *o,
				  struct shmk_queue **out)
{
	uint32_t cap = 256, flags = 0, lanes = 8, bb = 4096, spare = 4;
	uint32_t po, lo, ro, i;
	struct shmk_buf_info bi;
	struct shmk_queue *q;
	struct mq_hdr *h;
	uint64_t bytes;
	int r;
	ERRNO_SAVE;

	if (!a || !out || !a->lib_ready)
		return -EINVAL;
	*out = NULL;
	if (o) {
		if (o->reserved[0] || o->reserved[1] ||
		    (o->flags & ~SHMK_QUEUE_UNBOUNDED))
			return -EINVAL;
		if (o->capacity)
			cap = o->capacity;
		flags = o->flags;
		if (o->lanes)
			lanes = o->lanes;
		if (o->block_bytes)
			bb = o->block_bytes;
		if (o->spare_blocks)
			spare = o->spare_blocks;
	}
	if (!is_pow2(cap) || cap < 2 || cap > MQ_CAP_MAX ||
	    lanes > MQ_LANES_MAX || !is_pow2(bb) || bb < 1024 ||
	    bb > (1U << 20) || spare > 1024)
		return -EINVAL;
	if (!(flags & SHMK_QUEUE_UNBOUNDED))
		lanes = 0;
	bytes = q_layout(cap, lanes, &po, &lo, &ro);
	q = q_alloc(a);
	if (!q)
		return -ENOMEM;
	q->spin_max = mq_spin_ns(o ? o->spin_ns : 0);
	r = shmk_buf_create(a, bytes < MIN_BYTES ? MIN_BYTES : bytes, 0,
			    SHMK_ALLOC_ZERO | SHMK_ALLOC_LONG, 0, &q->ref);
	if (r)
		goto fail;
	r = shmk_buf_info(a, q->ref, &bi);
	if (r)
		goto fail_drop;
	if (bi.data_offset & 63) {
		r = -EPROTO;
		goto fail_drop;
	}
	h = shmk_arena_ptr(a, bi.data_offset);
	h->version = MQ_VERSION;
	h->capacity = cap;
	h->flags = flags;
	h->lanes = lanes;
	h->block_bytes = bb;
	h->spare_blocks = spare;
	h->pend_off = po;
	h->lanes_off = lo;
	h->ring_off = ro;
	h->bytes = bytes;
	for (i = 0; i < cap; i++)
		((struct mq_slot *)((uint8_t *)h + ro))[i].ctl =
			SC_MAKE(i, SC_FREE, 0, 0);
	st_rel(&h->cons, shmk_self_mkey(a));
	st_rel(&h->magic, MQ_MAGIC);
	r = q_bind(q, bi.data_offset, bi.len);
	if (r)
		goto fail_drop;
	q->buf_off = bi.offset;
	q->consumer = true;
	*out = q;
	ERRNO_RESTORE;
	return 0;
fail_drop:
	shmk_buf_drop(a, q->ref);
fail:
	q_free(q);
	ERRNO_RESTORE;
	return r;
}

SHMK_EXPORT int shmk_queue_share(struct shmk_queue *q, uint32_t to,
				 uint64_t *token)
{
	shmk_ref_t c;
	int r;
	ERRNO_SAVE;

	if (!q || !token)
		return -EINVAL;
	r = shmk_buf_clone(q->a, q->ref, &c);
	if (r == 0) {
		r = shmk_buf_pass(q->a, c, to, token);
		if (r)
			shmk_buf_drop(q->a, c);
	}
	ERRNO_RESTORE;
	return r;
}

SHMK_EXPORT int shmk_queue_open(struct shmk_arena *a, uint64_t token,
				struct shmk_queue **out)
{
	struct shmk_buf_info bi;
	struct shmk_queue *q;
	int r;
	ERRNO_SAVE;

	if (!a || !out || !a->lib_ready)
		return -EINVAL;
	*out = NULL;
	q = q_alloc(a);
	if (!q)
		return -ENOMEM;
	q->spin_max = mq_spin_ns(0);	/* if it takes over one day */
	r = shmk_buf_accept(a, token, &q->ref);
	if (r)
		goto fail;
	r = shmk_buf_info(a, q->ref, &bi);
	if (r == 0)
		r = q_bind(q, bi.data_offset, bi.len);
	if (r) {
		shmk_buf_drop(a, q->ref);
		goto fail;
	}
	q->buf_off = bi.offset;
	*out = q;
	ERRNO_RESTORE;
	return 0;
fail:
	q_free(q);
	ERRNO_RESTORE;
	return r;
}

/* ---- waking the consumer (rule W) ---------------------------------------- */

/* After publishing: wake the consumer only if it said it sleeps. */
static inline void wake_consumer(struct shmk_queue *q)
{
	uint32_t *w = &q->h->sleeping;

	fence_sc();
	if (likely(!ld_rlx(w)))
		return;
	if (xchg_sc(w, 0)) {
		msg_wake(q->a, woff(q, w), SHMK_WAKE_ALL);
		q->st_wakes++;
	}
}

/*
 * Wake whoever sleeps on the queue so it looks again. The word must
 * change, like a producer's wake (rule W): a sleeper that already
 * checked its reason to stay would otherwise sleep on.
 */
void mq_kick(struct shmk_queue *q)
{
	xchg_sc(&q->h->sleeping, 0);
	msg_wake(q->a, woff(q, &q->h->sleeping), SHMK_WAKE_ALL);
}

/* ---- the ring (rule R) ----------------------------------------------------- */

/* Reserve, fill, publish one slot. 0, or -EAGAIN when full. */
static int ring_try(struct shmk_queue *q, const struct shmk_qmsg *m)
{
	struct mq_hdr *h = q->h;
	struct shmk_arena *a = q->a;
	struct mq_slot *s;
	uint64_t pos, c, want, t;
	uint32_t odd = 0;

	for (;;) {
		/*
		 * Slots that are neither this lap's nor the last one's are
		 * met only while the tail lags; more than a few laps of them
		 * are a ring that somebody scribbled over.
		 */
		if (odd > 2 * q->cap + 64)
			return -EUCLEAN;
		pos = ld_acq(&h->tail);
		s = &q->ring[pos & q->mask];
		c = ld_acq(&s->ctl);
		if (c == SC_MAKE(pos, SC_FREE, 0, 0)) {
			want = SC_MAKE(pos, SC_BUSY, a->id, q->me_gen18);
			if (!cas_sc(&s->ctl, &c, want))
				continue;
			MSG_CRASH("send:slot");	/* the tail not moved yet */
			t = pos;	/* a failed CAS writes back: keep pos */
			cas_sc(&h->tail, &t, pos + 1);
			MSG_CRASH("send:reserved");
			st_rlx(&s->val, m->val);
			st_rlx(&s->tag, m->tag);
			st_rlx(&s->len, m->len);
			st_rlx(&s->flags, m->flags);
			st_rlx(&s->sender, a->id);
			st_rlx(&s->sender_gen, a->gen);
			MSG_CRASH("send:filled");
			/* before publishing: its shmk:recv comes after */
			PROBE_A(send, a, mq_probe_cons(q), m->tag, m->len,
				pos - ld_rlx(&h->head),
				mq_probe_flags(q, m->flags), q->off, pos);
			st_rel(&s->ctl, SC_MAKE(pos, SC_FULL, a->id,
						q->me_gen18));
			q->last_pos = pos + 1;
			return 0;
		}
		if (SC_POS(c) == (uint32_t)pos && SC_ST(c) != SC_FREE) {
			/* reserved but the tail lags: help it along */
			cas_sc(&h->tail, &pos, pos + 1);
			continue;
		}
		if (SC_POS(c) == (uint32_t)(pos - q->cap) &&
		    SC_ST(c) != SC_FREE) {
			if (ld_acq(&h->tail) == pos)
				return -EAGAIN;	/* previous lap still there */
			continue;
		}
		if ((int32_t)(SC_POS(c) - (uint32_t)pos) > 0) {
			/*
			 * The slot is past this lap: it was reserved at pos
			 * and consumed since, or skipped as the hole of a
			 * producer that died before it moved the tail. The
			 * tail lags (or pos is stale: then the CAS fails).
			 */
			odd++;
			cas_sc(&h->tail, &pos, pos + 1);
			continue;
		}
		odd++;
		cpu_relax();	/* stale tail: reload */
	}
}

/* ---- tickets: first come, first served (rule T) ------------------------------ */

/*
 * Tickets [tk_fin, tk_next) are out. Those from tk_serve on wait for room;
 * those below it were admitted with a slot set aside for each and are
 * sending (tk_fin moves in order over the ones done). Whoever sees room
 * admits as many waiters as it has room for, at once: handing room on one
 * waiter at a time, each to be woken and scheduled before the next may
 * go, makes a convoy as soon as senders outnumber CPUs.
 */

static uint64_t tk_serve_off(struct shmk_queue *q)
{
	return woff(q, &q->h->tk_serve);
}

/* Word @c is ticket @t's, neither cancelled nor released. */
static bool tk_held(uint64_t c, uint32_t t)
{
	return (c & (TK_VALID | TK_CANCEL)) == TK_VALID && TK_T(c) == t;
}

/* Slots neither used nor set aside for admitted senders (may be < 0). */
static int64_t tk_room(struct shmk_queue *q)
{
	struct mq_hdr *h = q->h;
	uint64_t head = ld_acq(&h->head);	/* before tail: head <= tail */
	uint64_t used = ld_acq(&h->tail) - head;
	uint32_t fin = ld_acq(&h->tk_fin);	/* before serve: fin <= serve */
	uint32_t pend = ld_acq(&h->tk_serve) - fin;

	return (int64_t)q->cap - (int64_t)used - (int64_t)pend;
}

/* Move tk_fin over admitted tickets whose sender is done with them. */
static void tk_fin_advance(struct shmk_queue *q)
{
	struct mq_hdr *h = q->h;
	uint32_t f, ff, guard;

	for (guard = 0; guard < MQ_TICKETS; guard++) {
		f = ld_acq(&h->tk_fin);
		if (f == ld_acq(&h->tk_serve) ||
		    tk_held(ld_acq(&h->tk[f % MQ_TICKETS]), f))
			return;
		ff = f;
		cas_sc(&h->tk_fin, &ff, f + 1);
	}
}

/*
 * Admit waiting senders in ticket order while there is room, skipping
 * those that gave up. The consumer runs it after making room, a sender
 * before it sleeps: room is never left unused while someone waits.
 */
static void tk_admit(struct shmk_queue *q)
{
	struct mq_hdr *h = q->h;
	uint32_t s, ss, guard;
	bool moved = false;
	uint64_t c;

	fence_sc();	/* our ticket or room, then the line (rule T) */
	tk_fin_advance(q);
	for (guard = 0; guard < 4 * MQ_TICKETS; guard++) {
		s = ld_acq(&h->tk_serve);
		if (s == ld_acq(&h->tk_next))
			break;
		c = ld_acq(&h->tk[s % MQ_TICKETS]);
		if (!(c & TK_VALID) || TK_T(c) != s)
			continue;	/* moved meanwhile: look again */
		if (tk_held(c, s)) {
			if (tk_room(q) <= 0)
				break;
			ss = s;
			moved |= cas_sc(&h->tk_serve, &ss, s + 1);
			continue;
		}
		/* gave up (or died) waiting: skip it, then free its word */
		ss = s;
		if (cas_sc(&h->tk_serve, &ss, s + 1)) {
			cas_sc(&h->tk[s % MQ_TICKETS], &c, 0);
			moved = true;
		}
	}
	/*
	 * tk_fin again: tickets skipped above are below tk_serve now and
	 * would count as room set aside until somebody else moved tk_fin
	 * (a sender that does not wait never does).
	 */
	if (moved) {
		tk_fin_advance(q);
		msg_wake(q->a, tk_serve_off(q), SHMK_WAKE_ALL);
	}
}

/*
 * After a membership event: forget the tickets of senders that died.
 * An admitted one gives its slot back; a waiting one is marked cancelled,
 * so admission skips it wherever it stands in the line.
 */
static void tk_settle(struct shmk_queue *q)
{
	struct mq_hdr *h = q->h;
	uint32_t f, n, t, guard;
	uint64_t c;

	/*
	 * A sender that died at ticket:taken set its word but did not help
	 * tk_next: count its ticket now, or the next taker helps it into the
	 * line after this settle, admits it, and tk_fin stops there for good.
	 */
	for (guard = 0; guard < MQ_TICKETS; guard++) {
		n = ld_acq(&h->tk_next);
		c = ld_acq(&h->tk[n % MQ_TICKETS]);
		if (!(c & TK_VALID) || TK_T(c) != n)
			break;
		cas_sc(&h->tk_next, &n, n + 1);
	}
	f = ld_acq(&h->tk_fin);
	n = ld_acq(&h->tk_next);
	for (t = f; t != n && t - f < MQ_TICKETS; t++) {
		c = ld_acq(&h->tk[t % MQ_TICKETS]);
		if (!tk_held(c, t) || msg_alive18(q->a, TK_ID(c), TK_GEN(c)))
			continue;
		if ((int32_t)(ld_acq(&h->tk_serve) - t) > 0)
			cas_sc(&h->tk[t % MQ_TICKETS], &c, 0);
		else
			cas_sc(&h->tk[t % MQ_TICKETS], &c, c | TK_CANCEL);
	}
	tk_admit(q);
}

/*
 * Tickets are out but nobody waits for room: a sender may take room
 * beyond what admitted senders were promised. Common while an admitted
 * sender is not scheduled, so no line is read the send does not need,
 * and head is reloaded only when the last one seen says no room.
 */
static bool tk_may_pass(struct shmk_queue *q, uint32_t next)
{
	struct mq_hdr *h = q->h;
	uint32_t fin = ld_acq(&h->tk_fin);	/* before serve: fin <= serve */
	uint32_t serve = ld_acq(&h->tk_serve);
	uint64_t tail;

	if (next != serve)
		return false;
	tail = ld_acq(&h->tail);
	if (tail - ld_rlx(&q->head_seen) + (serve - fin) < q->cap)
		return true;
	/* relaxed atomics: threads may share a handle */
	st_rlx(&q->head_seen, ld_acq(&h->head));
	return tail - ld_rlx(&q->head_seen) + (serve - fin) < q->cap;
}

static void tk_pump(struct shmk_queue *q)
{
	shmk_pump_and_reclaim(q->a);
	q->need_repair = true;
}

static bool cons_gone(struct shmk_queue *q)
{
	uint64_t c = ld_acq(&q->h->cons);

	return !c || !msg_alive(q->a, shmk_mkey_id(c), shmk_mkey_gen(c));
}

#define TK_SPIN_NS	(2 * 1000000000ULL)

static int tk_take(struct shmk_queue *q, const struct timespec *abs,
		   uint32_t *out)
{
	struct mq_hdr *h = q->h;
	uint32_t t, tt, s, v, spins = 0;
	uint64_t c, want, t0 = 0;
	int r;

	for (;;) {
		/*
		 * Each turn that does not wait follows another sender's
		 * step, which takes a moment: spinning for TK_SPIN_NS means
		 * counters or words that somebody scribbled over.
		 */
		if (++spins % 256 == 0) {
			if (abs && shmk_deadline_passed(abs))
				return -ETIMEDOUT;
			if (!t0)
				t0 = shmk_now_ns();
			else if (shmk_now_ns() - t0 > TK_SPIN_NS)
				return -EUCLEAN;
		}
		t = ld_acq(&h->tk_next);
		c = ld_acq(&h->tk[t % MQ_TICKETS]);
		if (c == 0) {
			want = TK_MAKE(t, q->a->id, q->me_gen18);
			if (!cas_sc(&h->tk[t % MQ_TICKETS], &c, want))
				continue;
			if ((int32_t)(ld_acq(&h->tk_serve) - t) > 0) {
				/* t was a stale read: served long ago */
				cas_sc(&h->tk[t % MQ_TICKETS], &want, 0);
				tk_fin_advance(q);	/* it may have paused */
				continue;
			}
			MSG_CRASH("ticket:taken");
			tt = t;
			cas_sc(&h->tk_next, &tt, t + 1);
			*out = t;
			return 0;
		}
		if (TK_T(c) == t) {	/* taken, tk_next lags: help */
			tt = t;
			cas_sc(&h->tk_next, &tt, t + 1);
			continue;
		}
		s = ld_acq(&h->tk_serve);
		if ((int32_t)(TK_T(c) - ld_acq(&h->tk_fin)) < 0 ||
		    ((c & TK_CANCEL) && (int32_t)(TK_T(c) - s) < 0)) {
			/* done with, left behind: a stale word */
			cas_sc(&h->tk[t % MQ_TICKETS], &c, 0);
			continue;
		}
		if ((int32_t)(TK_T(c) - t) > 0)
			continue;	/* our tk_next was stale */
		/* MQ_TICKETS tickets are out: wait for that one to go */
		if ((int32_t)(TK_T(c) - s) >= 0) {
			tk_admit(q);
			r = msg_wait(q->a, tk_serve_off(q), s, abs,
				     LM_WAIT_NOLOCALQ);
		} else {
			/* admitted, still sending: tk_done() wakes us */
			fadd_sc(&h->swaiters, 1);
			v = ld_acq(&h->space_seq);
			r = -EAGAIN;	/* not slept */
			if (ld_acq(&h->tk[t % MQ_TICKETS]) == c)
				r = msg_wait(q->a, woff(q, &h->space_seq), v,
					     abs, LM_WAIT_NOLOCALQ);
			fsub_sc(&h->swaiters, 1);
		}
		if (r == SHMK_WAIT_EVENT) {
			tk_pump(q);
			if (cons_gone(q))
				return -EPIPE;
			tk_settle(q);
		} else if (r == -ETIMEDOUT || r == -EINTR) {
			return r;
		}
		if (r != -EAGAIN) {
			spins = 0;	/* it slept */
			t0 = 0;
		}
	}
}

/* Our admitted ticket @t is done with (sent, or gave up). */
static void tk_done(struct shmk_queue *q, uint32_t t)
{
	struct mq_hdr *h = q->h;
	uint64_t c = TK_MAKE(t, q->a->id, q->me_gen18);

	cas_sc(&h->tk[t % MQ_TICKETS], &c, 0);
	tk_fin_advance(q);
	fence_sc();	/* word freed, then: does a taker wait for it? */
	if (ld_rlx(&h->swaiters)) {
		fadd_sc(&h->space_seq, 1);
		msg_wake(q->a, woff(q, &h->space_seq), SHMK_WAKE_ALL);
	}
	if (ld_acq(&h->tk_next) != ld_acq(&h->tk_serve))
		tk_admit(q);
}

/* Give up ticket @t (timeout, signal, dead consumer) while waiting. */
static void tk_cancel(struct shmk_queue *q, uint32_t t)
{
	struct mq_hdr *h = q->h;
	uint64_t c = TK_MAKE(t, q->a->id, q->me_gen18);

	if (!cas_sc(&h->tk[t % MQ_TICKETS], &c, c | TK_CANCEL))
		return;		/* already skipped */
	if ((int32_t)(ld_acq(&h->tk_serve) - t) > 0) {
		/* admitted meanwhile: give the slot back */
		c |= TK_CANCEL;
		cas_sc(&h->tk[t % MQ_TICKETS], &c, 0);
	}
	tk_admit(q);	/* skips us if we are first */
}

/* Bounded and full (or others wait): take a ticket, wait to be admitted. */
static int send_wait(struct shmk_queue *q, const struct shmk_qmsg *m,
		     const struct timespec *abs)
{
	struct mq_hdr *h = q->h;
	uint32_t t, s, v;
	int r;

	r = tk_take(q, abs, &t);
	if (r)
		return r;
	for (;;) {
		tk_admit(q);	/* room the consumer did not see */
		s = ld_acq(&h->tk_serve);
		if ((int32_t)(s - t) > 0)
			break;
		if (!ld_acq(&h->cons)) {
			tk_cancel(q, t);
			return -EPIPE;
		}
		r = msg_wait(q->a, tk_serve_off(q), s, abs, LM_WAIT_NOLOCALQ);
		q->st_sleeps++;
		if (r == SHMK_WAIT_EVENT) {
			tk_pump(q);
			if (cons_gone(q)) {
				tk_cancel(q, t);
				return -EPIPE;
			}
			tk_settle(q);
		} else if (r == -ETIMEDOUT || r == -EINTR) {
			tk_cancel(q, t);
			return r;
		}
	}
	MSG_CRASH("ticket:served");
	/* a slot was set aside, unless a racing sender took it: then wait */
	for (;;) {
		if (!ld_acq(&h->cons)) {
			r = -EPIPE;
			break;
		}
		r = ring_try(q, m);
		if (r != -EAGAIN)
			break;
		fadd_sc(&h->swaiters, 1);
		v = ld_acq(&h->space_seq);
		r = ring_try(q, m);
		if (r != -EAGAIN) {
			fsub_sc(&h->swaiters, 1);
			break;
		}
		if (cons_gone(q)) {	/* nobody would make room */
			fsub_sc(&h->swaiters, 1);
			r = -EPIPE;
			break;
		}
		r = msg_wait(q->a, woff(q, &h->space_seq), v, abs,
			     LM_WAIT_NOLOCALQ);
		q->st_sleeps++;
		fsub_sc(&h->swaiters, 1);
		if (r == SHMK_WAIT_EVENT) {
			tk_pump(q);
			if (cons_gone(q)) {
				r = -EPIPE;
				break;
			}
		} else if (r == -ETIMEDOUT || r == -EINTR) {
			break;
		}
	}
	tk_done(q, t);
	return r;
}

/* ---- lanes: unbounded overflow (rule L) ---------------------------------------- */

static struct mq_blk *BLK(struct shmk_queue *q, uint64_t off)
{
	return (struct mq_blk *)shmk_arena_ptr(q->a, off);
}

static bool blk_ok(struct shmk_queue *q, uint64_t off)
{
	return off && !(off & 63) && off < q->a->size &&
		q->block_bytes <= q->a->size - off;
}

static void pend_set(struct shmk_queue *q, uint32_t i)
{
	uint64_t *w = &q->pend[i / 64], bit = 1ULL << (i % 64);

	fence_sc();
	if (!(ld_rlx(w) & bit))
		for_sc(w, bit);
}

static int push_blk(uint64_t **v, uint32_t *n, uint32_t *cap, uint64_t off)
{
	if (*n == *cap) {
		uint32_t nc = *cap ? *cap * 2 : 8;
		uint64_t *p = realloc(*v, nc * sizeof(**v));

		if (!p)
			return -ENOMEM;
		*v = p;
		*cap = nc;
	}
	(*v)[(*n)++] = off;
	return 0;
}

/* Blocks the consumer has left behind go to the spares (or are freed). */
static void lane_recycle(struct shmk_queue *q)
{
	struct mq_lane *L = &q->lane[q->my_lane];
	uint64_t rb;

	while (q->nblk > 1) {
		rb = ld_acq(&L->rblk);
		if (!rb || rb == q->blk[0])
			break;
		if (q->nspare < q->h->spare_blocks &&
		    push_blk(&q->spare, &q->nspare, &q->spare_cap,
			     q->blk[0]) == 0) {
			/* kept for reuse */
		} else {
			shmk_free(q->a, q->blk[0]);
		}
		memmove(q->blk, q->blk + 1, (q->nblk - 1) * sizeof(*q->blk));
		q->nblk--;
	}
}

/* A new block for entries from @base on, linked at the end of the chain. */
static int lane_grow(struct shmk_queue *q, uint64_t base)
{
	struct mq_lane *L = &q->lane[q->my_lane];
	struct mq_blk *b;
	uint64_t off;
	int r;

	lane_recycle(q);
	if (q->nblk == q->blk_cap) {
		r = push_blk(&q->blk, &q->nblk, &q->blk_cap, 0);
		if (r)
			return r;
		q->nblk--;
	}
	if (q->nspare) {
		off = q->spare[--q->nspare];
		q->st_reuse++;
	} else {
		r = shmk_alloc(q->a, q->block_bytes, 0, 0, &off);
		if (r)
			return r;
		q->st_alloc++;
	}
	b = BLK(q, off);
	st_rlx(&b->next, 0);
	st_rlx(&b->base, base);
	st_rlx(&b->magic, MB_MAGIC);
	st_rlx(&b->n, q->ents_per_blk);
	if (q->nblk)
		st_rel(&BLK(q, q->blk[q->nblk - 1])->next, off);
	else
		st_rel(&L->first, off);
	q->blk[q->nblk++] = off;
	return 0;
}

static int lane_claim(struct shmk_queue *q)
{
	uint64_t c, want = LN_OWNED | shmk_self_mkey(q->a);
	uint32_t i;

	for (i = 0; i < q->nlanes; i++) {
		c = ld_acq(&q->lane[i].ctl);
		if (c)
			continue;
		/*
		 * Counted before the claim: a producer that dies between the
		 * two leaves the hint one too high (harmless), never a claimed
		 * lane uncounted, whose reset would then take another lane's
		 * count and make the consumer stop reading lanes.
		 */
		fadd_sc(&q->h->lanes_used, 1);
		if (!cas_sc(&q->lane[i].ctl, &c, want)) {
			fsub_sc(&q->h->lanes_used, 1);
			continue;
		}
		MSG_CRASH("lane:claimed");
		st_rlx(&q->lane[i].wcount, 0);
		st_rlx(&q->lane[i].first, 0);
		st_rlx(&q->lane[i].ring_pos, 0);
		q->my_lane = (int)i;
		q->my_ctl = want;
		q->wcount = 0;
		q->nblk = 0;
		return 0;
	}
	return -ENOSPC;
}

static int lane_send(struct shmk_queue *q, const struct shmk_qmsg *m)
{
	struct mq_lane *L;
	struct mq_blk *b;
	struct mq_ent *e;
	uint64_t base;
	int r;

	if (q->my_lane < 0) {
		r = lane_claim(q);
		if (r)
			return r;
	}
	L = &q->lane[q->my_lane];
	if (!q->in_lane) {
		/* read only after everything we put in the ring */
		st_rlx(&L->ring_pos, q->last_pos);
		q->in_lane = true;
	}
	b = q->nblk ? BLK(q, q->blk[q->nblk - 1]) : NULL;
	if (!b || q->wcount >= b->base + q->ents_per_blk) {
		base = b ? b->base + q->ents_per_blk : q->wcount;
		r = lane_grow(q, base);
		if (r)
			return r;
		b = BLK(q, q->blk[q->nblk - 1]);
	}
	e = (struct mq_ent *)(b + 1) + (q->wcount - b->base);
	e->val = m->val;
	e->tag = m->tag;
	e->len = m->len;
	e->flags = m->flags;
	e->sender_gen = q->a->gen;
	PROBE_A(send, q->a, mq_probe_cons(q), m->tag, m->len,
		ld_rlx(&q->h->tail) - ld_rlx(&q->h->head) +
		q->wcount - ld_rlx(&L->rcount),
		mq_probe_flags(q, m->flags), q->off,
		MQ_LANE_SEQ(q->my_lane, q->wcount));
	st_rel(&L->wcount, ++q->wcount);
	pend_set(q, (uint32_t)q->my_lane);
	return 0;
}

/* Give the lane back: free our blocks; the consumer resets it. */
static void lane_release(struct shmk_queue *q)
{
	struct mq_lane *L;
	uint64_t c;
	uint32_t i;

	if (q->my_lane < 0)
		return;
	L = &q->lane[q->my_lane];
	c = q->my_ctl;
	if (cas_sc(&L->ctl, &c, (q->my_ctl & ~LN_OWNED) | LN_RELEASED))
		pend_set(q, (uint32_t)q->my_lane);
	for (i = 0; i < q->nblk; i++)
		shmk_free(q->a, q->blk[i]);
	for (i = 0; i < q->nspare; i++)
		shmk_free(q->a, q->spare[i]);
	q->nblk = q->nspare = 0;
	q->my_lane = -1;
	q->in_lane = false;
	wake_consumer(q);
}

/* ---- send ------------------------------------------------------------------- */

int mq_send(struct shmk_queue *q, const struct shmk_qmsg *m,
	    unsigned int flags, const struct timespec *abs)
{
	struct mq_hdr *h = q->h;
	uint32_t n;
	int r;

	if (unlikely(!ld_acq(&h->cons)))
		return -EPIPE;
	if (unlikely(q->nlanes)) {
		pthread_mutex_lock(&q->plock);
		if (q->in_lane &&
		    ld_acq(&q->lane[q->my_lane].rcount) == q->wcount) {
			q->in_lane = false;	/* drained: back to the ring */
			lane_recycle(q);
		}
		r = q->in_lane ? -EAGAIN : ring_try(q, m);
		if (r == -EAGAIN)
			r = lane_send(q, m);
		pthread_mutex_unlock(&q->plock);
		if (r == 0) {
			q->st_sent++;
			wake_consumer(q);
		}
		return r;
	}
	/* bounded: do not overtake senders waiting, nor take promised room */
	n = ld_rlx(&h->tk_next);
	if (likely(n == ld_rlx(&h->tk_fin)) || tk_may_pass(q, n)) {
		r = ring_try(q, m);
		if (likely(r == 0)) {
			q->st_sent++;
			wake_consumer(q);
			return 0;
		}
	} else {
		r = -EAGAIN;
	}
	if (!(flags & SHMK_QSEND_WAIT) || (abs && shmk_deadline_passed(abs))) {
		if (cons_gone(q))
			return -EPIPE;
		PROBE_A(queue_full, q->a, mq_probe_cons(q), 0, q->off);
		if (ld_rlx(&h->tk_next) != ld_rlx(&h->tk_serve))
			tk_admit(q);	/* the line moves on */
		return -EAGAIN;
	}
	PROBE_A(queue_full, q->a, mq_probe_cons(q), 1, q->off);
	r = send_wait(q, m, abs);
	if (r == 0) {
		q->st_sent++;
		wake_consumer(q);
	}
	return r;
}

SHMK_EXPORT int shmk_queue_send(struct shmk_queue *q,
				const struct shmk_qmsg *m, unsigned int flags,
				int64_t timeout_ns)
{
	struct timespec ts, *abs;
	int r;
	ERRNO_SAVE;

	if (!q || !m || (flags & ~SHMK_QSEND_WAIT))
		return -EINVAL;
	msg_deadline(&ts, timeout_ns, &abs);
	r = mq_send(q, m, flags, abs);
	ERRNO_RESTORE;
	return r;
}

/* ---- receive ------------------------------------------------------------------ */

/* Reset a lane whose producer released it or died (consumer only). */
static void lane_reset(struct shmk_queue *q, uint32_t i, uint64_t c)
{
	struct mq_lane *L = &q->lane[i];

	st_rlx(&L->rcount, 0);
	st_rlx(&L->rblk, 0);
	fand_sc(&q->pend[i / 64], ~(1ULL << (i % 64)));
	if (cas_sc(&L->ctl, &c, 0))
		fsub_sc(&q->h->lanes_used, 1);
}

/*
 * The block holding entry @idx, walking from where the consumer reads
 * (entry @r). Only after the batch was validated, so the blocks are live.
 */
static uint64_t lane_blk_of(struct shmk_queue *q, struct mq_lane *L,
			    uint64_t r, uint64_t idx)
{
	uint64_t blk = ld_rlx(&L->rblk), nx;
	struct mq_blk *b;

	(void)r;
	if (!blk)
		blk = ld_rlx(&L->first);
	while (blk_ok(q, blk)) {
		b = BLK(q, blk);
		if (idx < ld_rlx(&b->base) + q->ents_per_blk)
			return blk;
		nx = ld_acq(&b->next);
		if (!nx)
			return blk;
		blk = nx;
	}
	return blk;
}

/* Read up to @n entries of lane @i into @m (rule L: read, then validate). */
static unsigned int lane_take(struct shmk_queue *q, uint32_t i, uint64_t head,
			      struct shmk_qmsg *m, unsigned int n,
			      mq_take_fn fn, void *ctx, bool *moved,
			      bool *stop, bool *kept)
{
	struct mq_lane *L = &q->lane[i];
	uint64_t c, wc, r, blk, nx, base, idx;
	uint32_t id, gen, k = 0, j, out = 0;
	struct mq_blk *b;
	struct mq_ent *e;

	c = ld_acq(&L->ctl);
	if (!(c & LN_OWNED)) {
		if (c)
			lane_reset(q, i, c);
		return 0;
	}
	id = LN_ID(c);
	gen = LN_GEN(c);
	r = ld_rlx(&L->rcount);
	wc = ld_acq(&L->wcount);
	if (wc == r) {
		fand_sc(&q->pend[i / 64], ~(1ULL << (i % 64)));
		wc = ld_acq(&L->wcount);	/* pairs with pend_set() */
		if (wc == r) {
			if (!msg_owner_ok(q->a, id, gen))
				lane_reset(q, i, c);
			return 0;
		}
		pend_set(q, i);
	}
	if (head < ld_rlx(&L->ring_pos))
		return 0;	/* its ring entries come first */
	blk = ld_rlx(&L->rblk);
	if (!blk)
		blk = ld_rlx(&L->first);
	while (r + k < wc && k < n) {
		if (!blk_ok(q, blk))
			break;
		b = BLK(q, blk);
		base = ld_rlx(&b->base);
		idx = r + k;
		if (idx >= base + q->ents_per_blk) {
			nx = ld_acq(&b->next);
			if (!nx)
				break;
			blk = nx;
			continue;
		}
		if (idx < base)
			break;
		e = (struct mq_ent *)(b + 1) + (idx - base);
		m[k].val = ld_rlx(&e->val);
		m[k].tag = ld_rlx(&e->tag);
		m[k].len = ld_rlx(&e->len);
		m[k].flags = ld_rlx(&e->flags);
		m[k].sender = id;
		m[k].sender_gen = gen;
		k++;
	}
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (ld_acq(&L->ctl) != c || !msg_owner_ok(q->a, id, gen)) {
		/* its blocks may have been freed while we read: discard */
		c = ld_acq(&L->ctl);
		if (!(c & LN_OWNED) || !msg_owner_ok(q->a, id, gen))
			lane_reset(q, i, c);
		return 0;
	}
	if (k == 0)
		return 0;
	for (j = 0; j < k; j++) {
		uint32_t f = m[j].flags;
		int v = fn ? fn(ctx, &m[j]) : MQ_TAKE;

		if (v == MQ_KEEP) {
			*stop = true;
			*kept = true;
			blk = lane_blk_of(q, L, r, r + j);
			k = j;
			break;
		}
		if (v == MQ_DROP)
			continue;
		PROBE_A(recv, q->a, id, m[j].tag, m[j].len,
			mq_probe_flags(q, f), q->off, MQ_LANE_SEQ(i, r + j));
		if (out != j)
			m[out] = m[j];
		out++;
		if (v == MQ_LAST) {
			*stop = true;
			if (j + 1 < k)
				blk = lane_blk_of(q, L, r, r + j + 1);
			k = j + 1;
			break;
		}
	}
	if (k == 0)
		return 0;
	st_rlx(&L->rblk, blk);
	st_rel(&L->rcount, r + k);
	*moved = true;
	return out;
}

static unsigned int lanes_drain(struct shmk_queue *q, uint64_t head,
				struct shmk_qmsg *m, unsigned int n,
				mq_take_fn fn, void *ctx, bool *moved,
				bool *kept)
{
	uint32_t nw = lane_words(q->nlanes), w, i, start, k;
	unsigned int got = 0;
	bool stop = false;
	uint64_t bits;

	start = q->lane_rr++;
	for (k = 0; k < nw && got < n && !stop; k++) {
		w = (start + k) % nw;
		bits = ld_acq(&q->pend[w]);
		while (bits && got < n && !stop) {
			i = w * 64 + (uint32_t)__builtin_ctzll(bits);
			bits &= bits - 1;
			if (i < q->nlanes)
				got += lane_take(q, i, head, m + got, n - got,
						 fn, ctx, moved, &stop, kept);
		}
	}
	return got;
}

/*
 * Take up to @n descriptors. The callback sees each one before its slot is
 * released (rule H); *@kept says it refused one, which stays queued.
 */
static unsigned int drain(struct shmk_queue *q, struct shmk_qmsg *m,
			  unsigned int n, mq_take_fn fn, void *ctx, bool *kept)
{
	struct mq_hdr *h = q->h;
	uint64_t head = q->head, c;
	unsigned int got = 0;
	struct mq_slot *s;
	bool moved = false, stop = false;
	uint32_t f;
	int v;

	while (got < n) {
		s = &q->ring[head & q->mask];
		c = ld_acq(&s->ctl);
		if (SC_POS(c) != (uint32_t)head || SC_ST(c) != SC_FULL)
			break;
		m[got].val = ld_rlx(&s->val);
		m[got].tag = ld_rlx(&s->tag);
		m[got].len = ld_rlx(&s->len);
		m[got].flags = ld_rlx(&s->flags);
		m[got].sender = ld_rlx(&s->sender);
		m[got].sender_gen = ld_rlx(&s->sender_gen);
		f = m[got].flags;
		v = fn ? fn(ctx, &m[got]) : MQ_TAKE;
		if (v == MQ_KEEP) {
			stop = true;
			*kept = true;
			break;
		}
		st_rel(&s->ctl, SC_MAKE(head + q->cap, SC_FREE, 0, 0));
		head++;
		if (v == MQ_DROP)
			continue;
		PROBE_A(recv, q->a, m[got].sender, m[got].tag, m[got].len,
			mq_probe_flags(q, f), q->off, head - 1);
		got++;
		if (v == MQ_LAST) {
			stop = true;
			break;
		}
	}
	if (!stop && got < n && q->nlanes && ld_acq(&h->lanes_used))
		got += lanes_drain(q, head, m + got, n - got, fn, ctx, &moved,
				   kept);
	if (head != q->head) {
		q->head = head;
		st_rel(&h->head, head);
		moved = true;
	}
	if (moved) {
		/* room appeared: tell waiting senders (and drain waiters) */
		fence_sc();
		if (ld_rlx(&h->swaiters)) {
			fadd_sc(&h->space_seq, 1);
			msg_wake(q->a, woff(q, &h->space_seq), SHMK_WAKE_ALL);
		}
		/* and admit the line, all it has room for (rule T) */
		if (ld_rlx(&h->tk_next) != ld_rlx(&h->tk_serve))
			tk_admit(q);
	}
	q->st_recv += got;
	return got;
}

static bool lanes_pending(struct shmk_queue *q)
{
	uint32_t w, nw = lane_words(q->nlanes);

	if (!q->nlanes || !ld_acq(&q->h->lanes_used))
		return false;
	for (w = 0; w < nw; w++)
		if (ld_acq(&q->pend[w]))
			return true;
	return false;
}

int mq_pending(struct shmk_queue *q)
{
	uint64_t head = q->consumer ? q->head : ld_acq(&q->h->head);
	uint64_t c = ld_acq(&q->ring[head & q->mask].ctl);

	if (SC_POS(c) == (uint32_t)head && SC_ST(c) == SC_FULL)
		return 1;
	return lanes_pending(q);
}

/* The slot at the head is a hole if its producer is dead: skip it. */
static bool repair_head(struct shmk_queue *q)
{
	struct mq_slot *s = &q->ring[q->head & q->mask];
	uint64_t c = ld_acq(&s->ctl);

	if (SC_POS(c) != (uint32_t)q->head || SC_ST(c) != SC_BUSY)
		return false;
	if (msg_alive18(q->a, SC_ID(c), SC_GEN(c)))
		return false;
	/* dead producers write nothing more: the slot is ours */
	if (!cas_sc(&s->ctl, &c, SC_MAKE(q->head + q->cap, SC_FREE, 0, 0)))
		return false;
	/* it may have died before moving the tail past its slot */
	c = q->head;
	cas_sc(&q->h->tail, &c, q->head + 1);
	q->head++;
	st_rel(&q->h->head, q->head);
	fadd_sc(&q->h->skipped, 1);
	q->st_skipped++;
	if (ld_acq(&q->h->tk_next) != ld_acq(&q->h->tk_serve))
		tk_admit(q);
	return true;
}

void mq_repair(struct shmk_queue *q)
{
	uint32_t i;
	uint64_t c;

	if (q->consumer) {
		while (repair_head(q))
			;
		for (i = 0; i < q->nlanes; i++) {
			c = ld_acq(&q->lane[i].ctl);
			if (!c)
				continue;
			if (!(c & LN_OWNED) ||
			    !msg_alive(q->a, LN_ID(c), LN_GEN(c)))
				pend_set(q, i);	/* next drain resets it */
		}
	}
	tk_settle(q);
}

int mq_recv(struct shmk_queue *q, struct shmk_qmsg *m, unsigned int n,
	    const struct timespec *abs, mq_take_fn fn, void *ctx)
{
	uint32_t *sl = &q->h->sleeping;
	uint64_t spin_end;
	unsigned int got;
	bool kept = false;
	int r;

	if (!q->consumer)
		return -EPERM;
	if (n == 0)
		return -EINVAL;
	if (q->need_repair) {
		q->need_repair = false;
		mq_repair(q);
	}
	for (;;) {
		got = drain(q, m, n, fn, ctx, &kept);
		if (got)
			return (int)got;
		if (kept)
			return -ENOBUFS;
		if (abs && shmk_deadline_passed(abs)) {
			if (repair_head(q))
				continue;
			return -ETIMEDOUT;
		}
		/*
		 * Optional spin (spin_max > 0): a busy peer answers within
		 * microseconds, no syscall then. Adaptive (rule W): a spin
		 * that ends with a message doubles the budget, one that ends
		 * empty halves it, so a peer on the same CPU (which cannot
		 * answer while we spin) is not starved. Never past the
		 * caller's deadline.
		 */
		if (q->spin_max) {
			if (!q->spin_budget)
				q->spin_budget = q->spin_max;
			spin_end = shmk_now_ns() + q->spin_budget;
			if (abs && spin_end > ts_ns(abs))
				spin_end = ts_ns(abs);
			while (!mq_pending(q) && shmk_now_ns() < spin_end)
				cpu_relax();
			if (mq_pending(q)) {
				if (q->spin_budget < q->spin_max)
					q->spin_budget *= 2;
				continue;
			}
			if (q->spin_budget > SPIN_NS_MIN)
				q->spin_budget /= 2;
			if (abs && shmk_deadline_passed(abs))
				continue;	/* the check at the top */
		}
		/* rule W: say we sleep, look again, then sleep */
		for_sc(sl, 1U);
		if (mq_pending(q) || repair_head(q)) {
			fand_sc(sl, ~1U);
			continue;
		}
		q->st_sleeps++;
		r = msg_wait(q->a, woff(q, sl), ld_acq(sl) | 1U, abs, 0);
		fand_sc(sl, ~1U);
		if (r == SHMK_WAIT_EVENT) {
			q->need_repair = true;
			return 0;
		}
		if (r == -ETIMEDOUT || r == -EINTR)
			return r;
	}
}

SHMK_EXPORT int shmk_queue_recv(struct shmk_queue *q, struct shmk_qmsg *m,
				unsigned int n, int64_t timeout_ns)
{
	struct timespec ts, *abs;
	bool kept = false;
	int r;
	ERRNO_SAVE;

	if (!q || !m)
		return -EINVAL;
	if (timeout_ns == 0) {
		if (!q->consumer)
			return -EPERM;
		if (q->need_repair) {
			q->need_repair = false;
			mq_repair(q);
		}
		r = (int)drain(q, m, n, NULL, NULL, &kept);
		if (r == 0 && repair_head(q))
			r = (int)drain(q, m, n, NULL, NULL, &kept);
		ERRNO_RESTORE;
		return r ? r : -EAGAIN;
	}
	msg_deadline(&ts, timeout_ns, &abs);
	r = mq_recv(q, m, n, abs, NULL, NULL);
	ERRNO_RESTORE;
	return r;
}

int mq_watch(struct shmk_queue *q, const struct timespec *abs,
	     const uint32_t *stop)
{
	uint32_t *sl = &q->h->sleeping;
	int r;

	for (;;) {
		if (ld_acq(stop))
			return 0;
		if (mq_pending(q))
			return 1;
		for_sc(sl, 2U);
		if (mq_pending(q) || ld_acq(stop)) {
			fand_sc(sl, ~2U);
			continue;
		}
		r = msg_wait(q->a, woff(q, sl), ld_acq(sl) | 2U, abs,
			     LM_WAIT_NOLOCALQ);
		fand_sc(sl, ~2U);
		if (r == SHMK_WAIT_EVENT)
			return 2;
		if (r == -ETIMEDOUT || r == -EINTR)
			return r;
	}
}

/* ---- producers: drained? recall ------------------------------------------------- */

static bool consumed(struct shmk_queue *q)
{
	if (ld_acq(&q->h->head) < q->last_pos)
		return false;
	if (q->my_lane >= 0 &&
	    ld_acq(&q->lane[q->my_lane].rcount) != q->wcount)
		return false;
	return true;
}

int mq_wait_consumed(struct shmk_queue *q, const struct timespec *abs)
{
	struct mq_hdr *h = q->h;
	uint32_t v;
	int r = 0;

	fadd_sc(&h->swaiters, 1);
	for (;;) {
		v = ld_acq(&h->space_seq);
		if (consumed(q)) {
			r = 0;
			break;
		}
		if (cons_gone(q)) {
			r = -EPIPE;
			break;
		}
		r = msg_wait(q->a, woff(q, &h->space_seq), v, abs,
			     LM_WAIT_NOLOCALQ);
		if (r == SHMK_WAIT_EVENT) {
			tk_pump(q);
			if (cons_gone(q)) {
				r = -EPIPE;
				break;
			}
		} else if (r == -ETIMEDOUT || r == -EINTR) {
			break;
		}
	}
	fsub_sc(&h->swaiters, 1);
	return r;
}

int mq_recall_own(struct shmk_queue *q)
{
	struct shmk_arena *a = q->a;
	struct mq_slot *s;
	struct mq_blk *b;
	struct mq_ent *e;
	uint64_t c, idx;
	uint32_t i, k;
	int n = 0;

	for (i = 0; i < q->cap; i++) {
		s = &q->ring[i];
		c = ld_acq(&s->ctl);
		if (SC_ST(c) != SC_FULL || SC_ID(c) != a->id ||
		    ld_rlx(&s->sender_gen) != a->gen ||
		    !(ld_rlx(&s->flags) & SHMK_QMSG_TOKEN))
			continue;
		if (shmk_buf_recall(a, ld_rlx(&s->val)) == 0)
			n++;
	}
	if (q->my_lane < 0)
		return n;
	idx = ld_acq(&q->lane[q->my_lane].rcount);
	for (k = 0; k < q->nblk; k++) {
		b = BLK(q, q->blk[k]);
		for (; idx < q->wcount && idx < b->base + q->ents_per_blk;
		     idx++) {
			if (idx < b->base)
				continue;
			e = (struct mq_ent *)(b + 1) + (idx - b->base);
			if ((e->flags & SHMK_QMSG_TOKEN) &&
			    shmk_buf_recall(a, e->val) == 0)
				n++;
		}
	}
	return n;
}

/* ---- consumer role ---------------------------------------------------------------- */

void mq_stop_consuming(struct shmk_queue *q)
{
	uint64_t c = shmk_self_mkey(q->a);

	if (!q->consumer)
		return;
	st_rel(&q->h->head, q->head);
	cas_sc(&q->h->cons, &c, 0);
	q->consumer = false;
	/* senders waiting for room learn it at once */
	fadd_sc(&q->h->space_seq, 1);
	msg_wake(q->a, woff(q, &q->h->space_seq), SHMK_WAKE_ALL);
	msg_wake(q->a, tk_serve_off(q), SHMK_WAKE_ALL);
	mq_kick(q);
}

/* Consumer: make member @id/@gen the consumer (hot restart). */
int mq_hand_over(struct shmk_queue *q, uint32_t id, uint32_t gen)
{
	uint64_t c = shmk_self_mkey(q->a);

	if (!q->consumer)
		return -EPERM;
	st_rel(&q->h->head, q->head);
	if (!cas_sc(&q->h->cons, &c, shmk_mkey(id, gen)))
		return -EBUSY;
	q->consumer = false;
	mq_kick(q);
	return 0;
}

/* The consumer of @q as a member key (shmk_mkey()), 0 if closed. */
uint64_t mq_consumer(struct shmk_queue *q)
{
	return ld_acq(&q->h->cons);
}

SHMK_EXPORT int shmk_queue_take_over(struct shmk_queue *q)
{
	uint64_t c;

	if (!q)
		return -EINVAL;
	c = ld_acq(&q->h->cons);
	if (c && c != shmk_self_mkey(q->a) &&
	    msg_alive(q->a, shmk_mkey_id(c), shmk_mkey_gen(c)))
		return -EBUSY;
	q->head = ld_acq(&q->h->head);
	st_sc(&q->h->cons, shmk_self_mkey(q->a));
	q->consumer = true;
	q->need_repair = true;
	return 0;
}

/* Tokens queued to us are ours to drop when we stop consuming for good. */
static int drop_token(void *ctx, struct shmk_qmsg *m)
{
	struct shmk_queue *q = ctx;
	shmk_ref_t r;

	if ((m->flags & SHMK_QMSG_TOKEN) &&
	    shmk_buf_accept(q->a, m->val, &r) == 0)
		shmk_buf_drop(q->a, r);
	return 1;
}

int mq_close(struct shmk_queue *q, const struct timespec *abs)
{
	struct shmk_qmsg m[32];
	bool kept = false;
	uint32_t i;
	int r;

	if (q->consumer) {
		for (i = 0; i < 4 * (q->cap + 64); i++) {
			if (!mq_pending(q) && !repair_head(q))
				break;
			drain(q, m, 32, drop_token, q, &kept);
		}
		mq_stop_consuming(q);
	} else {
		pthread_mutex_lock(&q->plock);
		if (q->my_lane >= 0) {
			if (q->in_lane)
				mq_wait_consumed(q, abs);
			mq_recall_own(q);
			lane_release(q);
		}
		pthread_mutex_unlock(&q->plock);
	}
	r = shmk_buf_drop(q->a, q->ref);
	q_free(q);
	return r;
}

SHMK_EXPORT int shmk_queue_close(struct shmk_queue *q, int64_t timeout_ns)
{
	struct timespec ts, *abs;
	int r;
	ERRNO_SAVE;

	if (!q)
		return -EINVAL;
	msg_deadline(&ts, timeout_ns, &abs);
	r = mq_close(q, abs);
	ERRNO_RESTORE;
	return r;
}

SHMK_EXPORT int shmk_queue_stats(struct shmk_queue *q,
				 struct shmk_queue_stats *st)
{
	struct mq_hdr *h;
	uint64_t c, head, tail, lu = 0;
	uint32_t i;

	if (!q || !st)
		return -EINVAL;
	h = q->h;
	memset(st, 0, sizeof(*st));
	st->offset = q->buf_off;
	st->capacity = q->cap;
	st->flags = h->flags;
	c = ld_acq(&h->cons);
	st->consumer = shmk_mkey_id(c);
	st->consumer_gen = (uint32_t)c;
	head = q->consumer ? q->head : ld_acq(&h->head);
	tail = ld_acq(&h->tail);
	st->ring_used = tail >= head ? tail - head : 0;
	for (i = 0; i < q->nlanes; i++) {
		c = ld_acq(&q->lane[i].ctl);
		if (!(c & LN_OWNED))
			continue;
		st->lanes_active++;
		lu += ld_acq(&q->lane[i].wcount) - ld_acq(&q->lane[i].rcount);
	}
	st->lane_used = lu;
	st->waiters = ld_acq(&h->tk_next) - ld_acq(&h->tk_serve);
	st->sent = q->st_sent;
	st->received = q->st_recv;
	st->wakes = q->st_wakes;
	st->sleeps = q->st_sleeps;
	st->skipped = ld_acq(&h->skipped);
	st->blocks_allocated = q->st_alloc;
	st->blocks_reused = q->st_reuse;
	st->blocks_held = q->nblk + q->nspare;
	return 0;
}
