// SPDX-License-Identifier: GPL-2.0
/*
 * Queues: bounded and unbounded, many producers, first-come-first-served
 * back-pressure, wake suppression, producers and consumers that die at
 * the wrong moment, and every byte back at the end of each case.
 */
#include "msgt.h"

#define NPROD		4
#define PER_PROD	20000

static char aname[64];

static struct shmk_arena *make_arena(void)
{
	struct shmk_arena_opts o = {
		.size = 8 << 20, .max_members = 32, .refs_per_member = 256,
	};
	struct shmk_arena *a = NULL;
	int r;

	tname(aname, sizeof(aname), "q");
	r = shmk_arena_create(aname, &o, SHMK_OPEN_EXCL, &a);
	if (r)
		diag("arena_create(%s): %d", aname, r);
	return a;
}

static struct shmk_arena *join(void)
{
	struct shmk_arena *a = NULL;

	if (shmk_arena_attach(aname, 0, &a))
		return NULL;
	return a;
}

static struct shmk_queue *mkq(struct shmk_arena *a, uint32_t cap,
			      uint32_t flags, uint32_t bb)
{
	struct shmk_queue_opts o = { .capacity = cap, .flags = flags,
				     .block_bytes = bb };
	struct shmk_queue *q = NULL;
	int r = shmk_queue_create(a, &o, &q);

	if (r)
		diag("queue_create: %d", r);
	return q;
}

/* A producer handle of @q for this same process. */
static struct shmk_queue *self_producer(struct shmk_arena *a,
					struct shmk_queue *q)
{
	struct shmk_queue *p = NULL;
	uint64_t tok;

	if (shmk_queue_share(q, 0, &tok) || shmk_queue_open(a, tok, &p))
		return NULL;
	return p;
}

static int send1(struct shmk_queue *p, uint64_t tag, unsigned int flags,
		 int64_t timeout)
{
	struct shmk_qmsg m = { .val = tag * 3, .tag = tag, .len = 64 };

	return shmk_queue_send(p, &m, flags, timeout);
}

/* Receive exactly one, eating membership events on the way. */
static int recv1(struct shmk_arena *a, struct shmk_queue *q,
		 struct shmk_qmsg *m, int64_t timeout)
{
	int r;

	for (;;) {
		r = shmk_queue_recv(q, m, 1, timeout);
		if (r != 0)
			return r;
		eat_events(a);
	}
}

/* ---- child programs ---------------------------------------------------- */

struct child {
	uint64_t token;
	int idx;
	int count;
	unsigned int flags;
	int64_t timeout;
	int wfd;		/* tells the parent something */
	int rfd;		/* waits for the parent */
	const char *crash;	/* SHMK_MSG_CRASH before the last send */
};

/* Child @idx sending @count messages to @q with @flags, waiting @timeout. */
static void child_init(struct child *c, struct shmk_queue *q, int idx,
		       int count, unsigned int flags, int64_t timeout)
{
	memset(c, 0, sizeof(*c));
	shmk_queue_share(q, 0, &c->token);
	c->idx = idx;
	c->count = count;
	c->flags = flags;
	c->timeout = timeout;
	c->wfd = c->rfd = -1;
}

static int producer_main(void *arg)
{
	struct child *c = arg;
	struct shmk_arena *a = join();
	struct shmk_queue *p = NULL;
	int i, r;

	if (!a || shmk_queue_open(a, c->token, &p))
		return 10;
	for (i = 0; i < c->count; i++) {
		if (c->crash && i == c->count - 1)
			setenv("SHMK_MSG_CRASH", c->crash, 1);
		r = send1(p, ((uint64_t)c->idx << 32) | (uint64_t)i,
			  c->flags, c->timeout);
		if (r) {
			diag("producer %d: send %d: %d", c->idx, i, r);
			return r == -ETIMEDOUT ? 3 : r == -EPIPE ? 4 : 11;
		}
	}
	if (c->wfd >= 0) {
		struct shmk_arena_info ai;

		shmk_arena_info(a, &ai);
		put64(c->wfd, c->crash ? ai.member_id : (uint64_t)c->idx);
	}
	if (c->rfd >= 0) {
		uint64_t v;

		get64(c->rfd, &v, 60000);
	}
	r = shmk_queue_close(p, 30 * SEC);
	if (r)
		return 12;
	return shmk_arena_detach(a) ? 13 : 0;
}

/* ---- cases ----------------------------------------------------------------- */

static void t_basic(void)
{
	struct shmk_arena *a = make_arena();
	struct shmk_arena_info ai;
	struct shmk_queue *q, *p;
	struct shmk_qmsg m[8];
	int r, i;

	if (!ok(a != NULL, "basic: arena"))
		return;
	shmk_arena_info(a, &ai);
	q = mkq(a, 16, 0, 0);
	p = q ? self_producer(a, q) : NULL;
	if (!ok(q && p, "basic: create, share, open"))
		return;
	is(shmk_queue_recv(q, m, 8, 0), -EAGAIN, "basic: empty, timeout 0");
	is(shmk_queue_recv(q, m, 8, 5 * MS), -ETIMEDOUT,
	   "basic: empty, timeout 5 ms");
	is(shmk_queue_recv(p, m, 8, 0), -EPERM, "basic: producer cannot recv");
	for (i = 0; i < 3; i++)
		send1(p, 100 + i, 0, 0);
	r = shmk_queue_recv(q, m, 8, 0);
	is(r, 3, "basic: one batch takes the three");
	ok(r == 3 && m[0].tag == 100 && m[1].tag == 101 && m[2].tag == 102 &&
	   m[1].val == 303 && m[2].len == 64, "basic: in order, fields intact");
	ok(r == 3 && m[0].sender == ai.member_id &&
	   m[0].sender_gen == ai.generation, "basic: sender id and generation");
	is(shmk_queue_close(p, 0), 0, "basic: producer close");
	is(shmk_queue_close(q, 0), 0, "basic: consumer close");
	ok(arena_all_free(a, "basic"), "basic: every byte free");
	shmk_arena_detach(a);
}

static void t_bounded_full(void)
{
	struct shmk_arena *a = make_arena();
	struct shmk_queue_stats st;
	struct shmk_queue *q, *p;
	struct shmk_qmsg m[16];
	int i, r, good = 1;

	q = a ? mkq(a, 8, 0, 0) : NULL;
	p = q ? self_producer(a, q) : NULL;
	if (!ok(p != NULL, "full: setup"))
		return;
	for (i = 0; i < 8; i++)
		good &= send1(p, i, 0, 0) == 0;
	ok(good, "full: 8 into capacity 8");
	is(send1(p, 8, 0, 0), -EAGAIN, "full: 9th is -EAGAIN (non-blocking)");
	is(send1(p, 8, SHMK_QSEND_WAIT, 10 * MS), -ETIMEDOUT,
	   "full: waiting 10 ms is -ETIMEDOUT");
	shmk_queue_stats(q, &st);
	is(st.ring_used, 8, "full: stats say 8 queued");
	is(st.waiters, 0, "full: the timed-out sender left the line");
	r = shmk_queue_recv(q, m, 16, 0);
	is(r, 8, "full: drained in one batch");
	for (i = 0; i < r; i++)
		good &= m[i].tag == (uint64_t)i;
	ok(good, "full: FIFO");
	is(send1(p, 9, 0, 0), 0, "full: room again after the drain");
	shmk_queue_close(p, 0);
	shmk_queue_close(q, 0);
	ok(arena_all_free(a, "full"), "full: every byte free");
	shmk_arena_detach(a);
}

static void t_no_syscall_when_busy(void)
{
	struct shmk_arena *a = make_arena();
	struct shmk_queue_stats sp, sc;
	struct shmk_queue *q, *p;
	struct shmk_qmsg m[4];
	int i, good = 1;

	q = a ? mkq(a, 64, 0, 0) : NULL;
	p = q ? self_producer(a, q) : NULL;
	if (!ok(p != NULL, "nowake: setup"))
		return;
	for (i = 0; i < 10000; i++) {
		good &= send1(p, i, 0, 0) == 0;
		good &= shmk_queue_recv(q, m, 4, 0) == 1 &&
			m[0].tag == (uint64_t)i;
	}
	shmk_queue_stats(p, &sp);
	shmk_queue_stats(q, &sc);
	ok(good, "nowake: 10000 messages through a consumer that never sleeps");
	is(sp.wakes, 0, "nowake: the producer made no wake syscall");
	is(sc.sleeps, 0, "nowake: the consumer made no wait syscall");
	shmk_queue_close(p, 0);
	shmk_queue_close(q, 0);
	ok(arena_all_free(a, "nowake"), "nowake: every byte free");
	shmk_arena_detach(a);
}

static void t_mpsc(uint32_t spin)
{
	const char *nm = spin ? "mpsc-spin" : "mpsc";
	struct shmk_queue_opts o = { .capacity = 64, .spin_ns = spin };
	struct shmk_arena *a = make_arena();
	struct child c[NPROD];
	uint32_t next[NPROD] = { 0 };
	struct shmk_queue *q;
	struct shmk_qmsg m[64];
	pid_t pid[NPROD];
	int i, r, k, total = 0, bad = 0, rc_ok = 1;

	q = NULL;
	if (a && shmk_queue_create(a, &o, &q))
		q = NULL;
	if (!ok(q != NULL, "%s: setup", nm))
		return;
	for (i = 0; i < NPROD; i++) {
		child_init(&c[i], q, i, PER_PROD, SHMK_QSEND_WAIT, 30 * SEC);
		pid[i] = spawn(producer_main, &c[i]);
	}
	while (total < NPROD * PER_PROD) {
		r = shmk_queue_recv(q, m, 64, 20 * SEC);
		if (r == 0) {
			eat_events(a);
			continue;
		}
		if (r < 0) {
			diag("%s: recv: %d after %d", nm, r, total);
			break;
		}
		for (k = 0; k < r; k++) {
			uint32_t who = (uint32_t)(m[k].tag >> 32);
			uint32_t seq = (uint32_t)m[k].tag;

			if (who >= NPROD || seq != next[who]) {
				if (bad++ < 5)
					diag("%s: from %u seq %u, want %u",
					     nm, who, seq,
					     who < NPROD ? next[who] : 0);
			} else {
				next[who]++;
			}
		}
		total += r;
	}
	for (i = 0; i < NPROD; i++)
		rc_ok &= reap(pid[i]) == 0;
	is(total, NPROD * PER_PROD, "%s: %d producers x %d: all arrived",
	   nm, NPROD, PER_PROD);
	is(bad, 0, "%s: per-producer order, no loss, no duplicate", nm);
	ok(rc_ok, "%s: producers exited cleanly", nm);
	eat_events(a);
	shmk_queue_close(q, 0);
	ok(arena_all_free(a, nm), "%s: every byte free", nm);
	shmk_arena_detach(a);
}

/*
 * The spin option: off by default (an empty queue puts the consumer to
 * sleep at once: one wait syscall), a bound makes it spin instead, never
 * past the recv timeout (no wait syscall then), and SHMK_SPIN_US set at
 * create time overrides the option either way.
 */
static int empty_wait(struct shmk_arena *a, uint32_t spin, const char *env,
		      uint64_t *sleeps)
{
	struct shmk_queue_opts o = { .capacity = 4, .spin_ns = spin };
	struct shmk_queue_stats st;
	struct shmk_queue *q = NULL;
	struct shmk_qmsg m;
	int r;

	if (env)
		setenv("SHMK_SPIN_US", env, 1);
	else
		unsetenv("SHMK_SPIN_US");
	r = shmk_queue_create(a, &o, &q);
	unsetenv("SHMK_SPIN_US");
	if (r)
		return r;
	r = shmk_queue_recv(q, &m, 1, 30 * MS);
	shmk_queue_stats(q, &st);
	*sleeps = st.sleeps;
	shmk_queue_close(q, 0);
	return r;
}

static void t_spin_option(void)
{
	struct shmk_arena *a = make_arena();
	uint64_t sl = 99;
	int r;

	if (!ok(a != NULL, "spinopt: setup"))
		return;
	r = empty_wait(a, 0, NULL, &sl);
	is(r, -ETIMEDOUT, "spinopt: default, empty: -ETIMEDOUT");
	is(sl, 1, "spinopt: default: slept at once (one wait syscall)");
	r = empty_wait(a, 2000000000U, NULL, &sl);
	is(r, -ETIMEDOUT, "spinopt: spin 2 s, timeout 30 ms: -ETIMEDOUT");
	is(sl, 0, "spinopt: spun up to the timeout, no wait syscall");
	r = empty_wait(a, 2000000000U, "0", &sl);
	is(r, -ETIMEDOUT, "spinopt: SHMK_SPIN_US=0 over spin 2 s: -ETIMEDOUT");
	is(sl, 1, "spinopt: SHMK_SPIN_US=0 turns the spin off");
	r = empty_wait(a, 0, "2000000", &sl);
	is(r, -ETIMEDOUT, "spinopt: SHMK_SPIN_US=2000000 over 0: -ETIMEDOUT");
	is(sl, 0, "spinopt: SHMK_SPIN_US turns the spin on");
	ok(arena_all_free(a, "spinopt"), "spinopt: every byte free");
	shmk_arena_detach(a);
}

static int waiters(struct shmk_queue *q)
{
	struct shmk_queue_stats st;

	shmk_queue_stats(q, &st);
	return (int)st.waiters;
}

static int used(struct shmk_queue *q)
{
	struct shmk_queue_stats st;

	shmk_queue_stats(q, &st);
	return (int)st.ring_used;
}

/*
 * Blocked senders are admitted first come, first served: room for one
 * goes to the first in line; room for several admits as many of the first
 * at once, from the receive itself, without waiting for each to run (a
 * line handing room on one sender at a time is a convoy when senders
 * outnumber CPUs). Senders admitted together may land in either order.
 */
static void t_fifo(void)
{
	struct shmk_arena *a = make_arena();
	struct shmk_queue *q, *p;
	struct shmk_qmsg m, two[2];
	struct child c[4];
	pid_t pid[4];
	int i, good = 1, lined = 1, n;
	uint64_t order[4], x, y;

	q = a ? mkq(a, 4, 0, 0) : NULL;
	p = q ? self_producer(a, q) : NULL;
	if (!ok(p != NULL, "fifo: setup"))
		return;
	for (i = 0; i < 4; i++)
		send1(p, 1000 + i, 0, 0);
	for (i = 0; i < 4; i++) {
		child_init(&c[i], q, i, 1, SHMK_QSEND_WAIT, 30 * SEC);
		pid[i] = spawn(producer_main, &c[i]);
		/* the next one starts once this one is in line */
		lined &= wait_for(waiters(q) == i + 1, 20000);
	}
	ok(lined, "fifo: four senders blocked on a full queue, in line");
	for (i = 0; i < 2; i++) {
		good &= recv1(a, q, &m, 20 * SEC) == 1 &&
			m.tag == 1000 + (uint64_t)i;
		/* exactly one got in: the queue is full again */
		good &= wait_for(used(q) == 4 && waiters(q) == 3 - i, 20000);
	}
	ok(good, "fifo: room for one, twice: one sender in each time");
	n = shmk_queue_recv(q, two, 2, 20 * SEC);
	ok(n == 2 && two[0].tag == 1002 && two[1].tag == 1003,
	   "fifo: room for two at once");
	is(waiters(q), 0, "fifo: the receive itself admitted the last two");
	for (i = 0; i < 4; i++) {
		if (recv1(a, q, &m, 20 * SEC) != 1) {
			good = 0;
			break;
		}
		order[i] = m.tag;
	}
	x = 2ULL << 32;
	y = 3ULL << 32;
	ok(good && order[0] == 0 && order[1] == (1ULL << 32) &&
	   ((order[2] == x && order[3] == y) ||
	    (order[2] == y && order[3] == x)),
	   "fifo: blocked senders got in first come, first served");
	good = 1;
	for (i = 0; i < 4; i++)
		good &= reap(pid[i]) == 0;
	ok(good, "fifo: senders exited cleanly");
	eat_events(a);
	shmk_queue_close(p, 0);
	shmk_queue_close(q, 0);
	ok(arena_all_free(a, "fifo"), "fifo: every byte free");
	shmk_arena_detach(a);
}

/* A waiter that times out, and one that is killed, do not block the line. */
static void t_fifo_cancel(void)
{
	struct shmk_arena *a = make_arena();
	struct shmk_queue *q, *p;
	struct shmk_qmsg m;
	struct child c[3];
	pid_t pid[3];
	int i, lined = 1, rc0, rc1, rc2, got = 0, order_ok = 1;

	q = a ? mkq(a, 2, 0, 0) : NULL;
	p = q ? self_producer(a, q) : NULL;
	if (!ok(p != NULL, "cancel: setup"))
		return;
	send1(p, 1, 0, 0);
	send1(p, 2, 0, 0);
	for (i = 0; i < 3; i++) {
		child_init(&c[i], q, i, 1, SHMK_QSEND_WAIT,
			   i == 1 ? 300 * MS : 30 * SEC);
		pid[i] = spawn(producer_main, &c[i]);
		lined &= wait_for(waiters(q) == i + 1, 20000);
	}
	ok(lined, "cancel: three senders in line");
	rc1 = reap(pid[1]);
	is(rc1, 3, "cancel: second sender timed out (-ETIMEDOUT)");
	kill(pid[0], SIGKILL);
	rc0 = reap(pid[0]);
	is(rc0, 128 + SIGKILL, "cancel: first sender killed first in line");
	for (i = 0; i < 3; i++) {
		if (recv1(a, q, &m, 20 * SEC) != 1)
			break;
		got++;
		if (i < 2)
			order_ok &= m.tag == (uint64_t)i + 1;
		else
			order_ok &= m.tag == (2ULL << 32);
	}
	is(got, 3, "cancel: the third sender still got in");
	ok(order_ok, "cancel: in order");
	rc2 = reap(pid[2]);
	is(rc2, 0, "cancel: third sender exited cleanly");
	eat_events(a);
	is(waiters(q), 0, "cancel: nobody left in line");
	shmk_queue_close(p, 0);
	shmk_queue_close(q, 0);
	ok(arena_all_free(a, "cancel"), "cancel: every byte free");
	shmk_arena_detach(a);
}

/*
 * A sender dies holding a ticket: just after taking it, or once admitted
 * (a slot set aside for it). The next sender still gets in and, once the
 * consumer has seen the exit, the whole ring is usable again.
 */
static void t_ticket_dead(const char *point)
{
	struct shmk_arena *a = make_arena();
	struct shmk_queue *q, *p;
	struct shmk_qmsg m, two[2];
	struct child c[2];
	pid_t pid[2];
	int i, r, lined;

	q = a ? mkq(a, 2, 0, 0) : NULL;
	p = q ? self_producer(a, q) : NULL;
	if (!ok(p != NULL, "tkdead(%s): setup", point))
		return;
	send1(p, 1, 0, 0);
	send1(p, 2, 0, 0);
	for (i = 0; i < 2; i++) {
		child_init(&c[i], q, i, 1, SHMK_QSEND_WAIT, 30 * SEC);
	}
	c[0].crash = point;
	pid[0] = spawn(producer_main, &c[0]);
	if (!strcmp(point, "ticket:taken")) {
		/* dies before the line counts it: the next one helps */
		is(reap(pid[0]), 128 + SIGKILL, "tkdead(%s): first sender "
		   "killed", point);
		pid[1] = spawn(producer_main, &c[1]);
		lined = wait_for(waiters(q) == 2, 20000);
	} else {
		lined = wait_for(waiters(q) == 1, 20000);
		pid[1] = spawn(producer_main, &c[1]);
		lined &= wait_for(waiters(q) == 2, 20000);
	}
	ok(lined, "tkdead(%s): two tickets out", point);
	/* room for both: the dead one is admitted too, the other gets in */
	r = shmk_queue_recv(q, two, 2, 20 * SEC);
	is(r, 2, "tkdead(%s): room for two", point);
	is(reap(pid[1]), 0, "tkdead(%s): second sender got in", point);
	if (strcmp(point, "ticket:taken"))
		is(reap(pid[0]), 128 + SIGKILL, "tkdead(%s): first sender "
		   "killed", point);
	ok(recv1(a, q, &m, 20 * SEC) == 1 && m.tag == (1ULL << 32),
	   "tkdead(%s): its message arrived", point);
	/* the exit is pending: the receive says so, the next one repairs */
	r = shmk_queue_recv(q, &m, 1, 20 * SEC);
	is(r, 0, "tkdead(%s): empty queue reports the exit", point);
	eat_events(a);
	is(shmk_queue_recv(q, &m, 1, 0), -EAGAIN, "tkdead(%s): empty", point);
	is(waiters(q), 0, "tkdead(%s): nobody left in line", point);
	r = send1(p, 3, 0, 0);
	if (r == 0)
		r = send1(p, 4, 0, 0);
	is(r, 0, "tkdead(%s): the dead sender's slot was given back", point);
	is(send1(p, 5, 0, 0), -EAGAIN, "tkdead(%s): then full", point);
	while (shmk_queue_recv(q, &m, 1, 0) > 0)
		;
	shmk_queue_close(p, 0);
	shmk_queue_close(q, 0);
	ok(arena_all_free(a, "tkdead"), "tkdead(%s): every byte free", point);
	shmk_arena_detach(a);
}

/*
 * The only sender in line gives up (times out): admission skips its
 * cancelled ticket. tk_fin must follow tk_serve past it, or the skipped
 * ticket counts as room set aside for an admitted sender: before the fix
 * tk_admit() moved tk_fin only before its loop, and a sender that does not
 * wait (nobody calls tk_admit() again) could fill only half of this ring.
 */
static void t_ticket_cancel_room(void)
{
	struct shmk_arena *a = make_arena();
	struct shmk_queue *q, *p;
	struct shmk_qmsg m;
	struct child c;
	pid_t pid;
	int r, good;

	q = a ? mkq(a, 2, 0, 0) : NULL;
	p = q ? self_producer(a, q) : NULL;
	if (!ok(p != NULL, "tkroom: setup"))
		return;
	send1(p, 1, 0, 0);
	send1(p, 2, 0, 0);
	child_init(&c, q, 0, 1, SHMK_QSEND_WAIT, 200 * MS);
	pid = spawn(producer_main, &c);
	is(reap(pid), 3, "tkroom: the sender in line timed out");
	is(waiters(q), 0, "tkroom: its ticket was skipped");
	good = recv1(a, q, &m, 20 * SEC) == 1 && m.tag == 1;
	good &= recv1(a, q, &m, 20 * SEC) == 1 && m.tag == 2;
	ok(good, "tkroom: the ring drained");
	r = send1(p, 3, 0, 0);
	if (r == 0)
		r = send1(p, 4, 0, 0);
	is(r, 0, "tkroom: the whole ring takes sends again");
	is(send1(p, 5, 0, 0), -EAGAIN, "tkroom: then full");
	while (shmk_queue_recv(q, &m, 1, 0) > 0)
		;
	eat_events(a);
	shmk_queue_close(p, 0);
	shmk_queue_close(q, 0);
	ok(arena_all_free(a, "tkroom"), "tkroom: every byte free");
	shmk_arena_detach(a);
}

/*
 * A sender dies at ticket:taken (word set, tk_next not helped) and the
 * consumer settles the line after its exit before anyone helps tk_next:
 * the ticket must still be counted. A sender that attached after the exit
 * (no event for it) helps tk_next and is admitted with the dead ticket;
 * before the fix that ticket was never settled, tk_fin stayed behind it
 * and its slot was lost for good: an empty ring refused every send.
 */
static void t_ticket_dead_settled(void)
{
	struct shmk_arena *a = make_arena();
	struct shmk_queue *q, *p;
	struct shmk_qmsg m, two[2];
	int in[2], out[2], r, good;
	struct child c[2];
	pid_t pid[2];
	uint64_t v;

	q = a ? mkq(a, 2, 0, 0) : NULL;
	p = q ? self_producer(a, q) : NULL;
	if (!ok(p && pipe(in) == 0 && pipe(out) == 0, "tksettle: setup"))
		return;
	send1(p, 1, 0, 0);
	send1(p, 2, 0, 0);
	child_init(&c[0], q, 0, 1, SHMK_QSEND_WAIT, 30 * SEC);
	c[0].crash = "ticket:taken";
	pid[0] = spawn(producer_main, &c[0]);
	is(reap(pid[0]), 128 + SIGKILL, "tksettle: first sender killed at "
	   "ticket:taken");
	good = recv1(a, q, &m, 20 * SEC) == 1 && m.tag == 1;
	good &= recv1(a, q, &m, 20 * SEC) == 1 && m.tag == 2;
	ok(good, "tksettle: the ring drained");
	/* the exit is reported, then the next receive settles the line */
	is(shmk_queue_recv(q, &m, 1, 20 * SEC), 0, "tksettle: exit reported");
	eat_events(a);
	is(shmk_queue_recv(q, &m, 1, 0), -EAGAIN, "tksettle: settled, empty");
	/* full again; a sender that attaches now sees no exit event */
	r = send1(p, 3, 0, 0);
	if (r == 0)
		r = send1(p, 4, 0, 0);
	is(r, 0, "tksettle: full again");
	child_init(&c[1], q, 1, 1, SHMK_QSEND_WAIT, 30 * SEC);
	c[1].wfd = in[1];
	c[1].rfd = out[0];
	pid[1] = spawn(producer_main, &c[1]);
	/* in line (before the fix, with the dead ticket it helped on) */
	ok(wait_for(waiters(q) >= 1, 20000), "tksettle: second sender in "
	   "line");
	r = shmk_queue_recv(q, two, 2, 20 * SEC);
	ok(r == 2 && two[0].tag == 3 && two[1].tag == 4,
	   "tksettle: room for two");
	ok(recv1(a, q, &m, 20 * SEC) == 1 && m.tag == (1ULL << 32),
	   "tksettle: the second sender got in");
	ok(get64(in[0], &v, 30000) == 0, "tksettle: its send returned");
	/* nothing queued, nobody waits: the whole ring must take sends */
	r = send1(p, 5, 0, 0);
	if (r == 0)
		r = send1(p, 6, 0, 0);
	is(r, 0, "tksettle: the dead ticket's slot was given back");
	is(send1(p, 7, 0, 0), -EAGAIN, "tksettle: then full");
	put64(out[1], 1);
	is(reap(pid[1]), 0, "tksettle: second sender exited cleanly");
	while (shmk_queue_recv(q, &m, 1, 0) > 0)
		;
	eat_events(a);
	shmk_queue_close(p, 0);
	shmk_queue_close(q, 0);
	ok(arena_all_free(a, "tksettle"), "tksettle: every byte free");
	shmk_arena_detach(a);
	close(in[0]);
	close(in[1]);
	close(out[0]);
	close(out[1]);
}

/*
 * A producer dies at lane:claimed (its lane claimed, ring full) and a
 * second one overflows into a lane of its own. Resetting the dead lane
 * must not make lanes_used say no lane is in use while the second still
 * has entries: before the fix the count was taken after the claim, the
 * dead producer's lane was never counted, its reset took the second
 * one's count, and the consumer stopped reading lanes (the rest of the
 * second producer's lane never arrived).
 */
static void t_unbounded_claim_dead(void)
{
	struct shmk_arena *a = make_arena();
	struct shmk_queue *q;
	struct shmk_qmsg m[8];
	int in[2], out[2], r, got, good = 1;
	struct child c[2];
	uint64_t v;
	pid_t pid[2];

	q = a ? mkq(a, 4, SHMK_QUEUE_UNBOUNDED, 1024) : NULL;
	if (!ok(q && pipe(in) == 0 && pipe(out) == 0, "uclaim: setup"))
		return;
	child_init(&c[0], q, 0, 5, 0, 0);	/* the 5th overflows */
	c[0].crash = "lane:claimed";
	pid[0] = spawn(producer_main, &c[0]);
	is(reap(pid[0]), 128 + SIGKILL, "uclaim: producer killed at "
	   "lane:claimed");
	for (got = 0; got < 4; got++)
		if (recv1(a, q, m, 20 * SEC) != 1 || m[0].tag != (uint64_t)got)
			break;
	is(got, 4, "uclaim: its 4 ring entries arrive");
	/* the exit, then the repair that marks its lane for a reset */
	is(shmk_queue_recv(q, m, 1, 20 * SEC), 0, "uclaim: exit reported");
	eat_events(a);
	is(shmk_queue_recv(q, m, 1, 0), -EAGAIN, "uclaim: still empty");
	child_init(&c[1], q, 1, 7, 0, 0);	/* 4 in the ring, 3 in a lane */
	c[1].wfd = in[1];
	c[1].rfd = out[0];
	pid[1] = spawn(producer_main, &c[1]);
	ok(get64(in[0], &v, 30000) == 0, "uclaim: second producer sent 7");
	/* 4 from the ring, then the dead lane is reset, then 1 of 3 */
	r = shmk_queue_recv(q, m, 5, 20 * SEC);
	is(r, 5, "uclaim: ring and the first lane entry");
	for (got = 0; got < r; got++)
		good &= m[got].tag == ((1ULL << 32) | (uint64_t)got);
	while (got < 7 && shmk_queue_recv(q, m, 1, 2 * SEC) == 1) {
		good &= m[0].tag == ((1ULL << 32) | (uint64_t)got);
		got++;
	}
	is(got, 7, "uclaim: the rest of the live producer's lane arrives");
	ok(good, "uclaim: in order");
	put64(out[1], 1);
	is(reap(pid[1]), 0, "uclaim: second producer exited cleanly");
	while (shmk_queue_recv(q, m, 8, 0) > 0)
		;
	eat_events(a);
	shmk_queue_close(q, 0);
	ok(arena_all_free(a, "uclaim"), "uclaim: every byte free");
	shmk_arena_detach(a);
	close(in[0]);
	close(in[1]);
	close(out[0]);
	close(out[1]);
}

/* A producer dies between reserving a slot and publishing it. */
static void t_hole(const char *point)
{
	struct shmk_arena *a = make_arena();
	struct shmk_queue_stats st;
	struct shmk_queue *q;
	struct shmk_qmsg m;
	struct child c[2];
	pid_t pid;
	int i, rc, got = 0, good = 1;

	q = a ? mkq(a, 16, 0, 0) : NULL;
	if (!ok(q != NULL, "hole(%s): setup", point))
		return;
	for (i = 0; i < 2; i++) {
		child_init(&c[i], q, i, 5, 0, 0);
	}
	c[0].crash = point;	/* dies inside its 5th send */
	pid = spawn(producer_main, &c[0]);
	rc = reap(pid);
	is(rc, 128 + SIGKILL, "hole(%s): producer killed inside send", point);
	pid = spawn(producer_main, &c[1]);
	is(reap(pid), 0, "hole(%s): second producer sent 5", point);
	for (i = 0; i < 9; i++) {
		if (recv1(a, q, &m, 10 * SEC) != 1)
			break;
		if (i < 4)
			good &= m.tag == (uint64_t)i;
		else
			good &= m.tag == ((1ULL << 32) | (uint64_t)(i - 4));
		got++;
	}
	is(got, 9, "hole(%s): the 4 + 5 published messages arrive", point);
	ok(good, "hole(%s): in order, the hole skipped", point);
	shmk_queue_stats(q, &st);
	is(st.skipped, 1, "hole(%s): one hole repaired", point);
	is(shmk_queue_recv(q, &m, 1, 0), -EAGAIN, "hole(%s): then empty",
	   point);
	eat_events(a);
	shmk_queue_close(q, 0);
	ok(arena_all_free(a, "hole"), "hole(%s): every byte free", point);
	shmk_arena_detach(a);
}

/*
 * A producer dies after it reserved its slot but before it moved the tail,
 * and the consumer skips that hole before any producer helped the tail
 * along: the slot is then free for the next lap while the tail still
 * names it. The next send must move the tail on, not spin for ever (a
 * server was found spinning so in ring_try() after 8,283 torture kills).
 */
static void t_hole_tail(void)
{
	struct shmk_arena *a = make_arena();
	struct shmk_queue_stats st;
	struct shmk_queue *q;
	struct shmk_qmsg m;
	struct child c[2];
	int i, got = 0, good = 1;

	q = a ? mkq(a, 16, 0, 0) : NULL;
	if (!ok(q != NULL, "hole-tail: setup"))
		return;
	child_init(&c[0], q, 0, 5, 0, 0);
	child_init(&c[1], q, 1, 5, 0, 0);
	c[0].crash = "send:slot";	/* dies inside its 5th send */
	is(reap(spawn(producer_main, &c[0])), 128 + SIGKILL,
	   "hole-tail: producer killed between its slot and the tail");
	for (i = 0; i < 4; i++) {
		if (recv1(a, q, &m, 10 * SEC) != 1)
			break;
		good &= m.tag == (uint64_t)i;
		got++;
	}
	is(got, 4, "hole-tail: its 4 published messages arrive");
	is(shmk_queue_recv(q, &m, 1, 0), -EAGAIN,
	   "hole-tail: the hole is skipped, the queue is empty");
	shmk_queue_stats(q, &st);
	is(st.skipped, 1, "hole-tail: one hole repaired");
	is(reap_within(spawn(producer_main, &c[1]), 30000), 0,
	   "hole-tail: the next producer sends 5 (no spin at the old tail)");
	for (i = 0; i < 5; i++) {
		if (recv1(a, q, &m, 10 * SEC) != 1)
			break;
		good &= m.tag == ((1ULL << 32) | (uint64_t)i);
		got++;
	}
	is(got, 9, "hole-tail: then its 5 arrive");
	ok(good, "hole-tail: in order");
	eat_events(a);
	shmk_queue_close(q, 0);
	ok(arena_all_free(a, "hole-tail"), "hole-tail: every byte free");
	shmk_arena_detach(a);
}

static int consumer_main(void *arg)
{
	struct child *c = arg;
	struct shmk_arena *a = join();
	struct shmk_queue_opts o = { .capacity = 4 };
	struct shmk_queue *q = NULL;
	uint64_t tok, v;

	if (!a || shmk_queue_create(a, &o, &q) || shmk_queue_share(q, 0, &tok))
		return 10;
	put64(c->wfd, tok);
	get64(c->rfd, &v, 60000);
	if (v == 1)
		raise(SIGKILL);
	shmk_queue_close(q, 0);
	put64(c->wfd, 0);
	get64(c->rfd, &v, 60000);
	return 0;
}

/* Sending to a consumer that is gone: -EPIPE, not a hang. */
static void t_dead_consumer(int how)
{
	const char *name = how ? "killed" : "closed";
	struct shmk_arena *a = make_arena();
	struct shmk_queue *p = NULL;
	int in[2], out[2], i, r = 0;
	struct child c;
	uint64_t tok, v;
	pid_t pid;

	if (!ok(a && pipe(in) == 0 && pipe(out) == 0, "deadcons(%s): setup",
		name))
		return;
	memset(&c, 0, sizeof(c));
	c.wfd = in[1];
	c.rfd = out[0];
	pid = spawn(consumer_main, &c);
	ok(get64(in[0], &tok, 20000) == 0 && shmk_queue_open(a, tok, &p) == 0,
	   "deadcons(%s): producer opened the child's queue", name);
	is(send1(p, 1, 0, 0), 0, "deadcons(%s): send while it lives", name);
	put64(out[1], how);
	if (how) {
		is(reap(pid), 128 + SIGKILL, "deadcons(%s): consumer killed",
		   name);
	} else {
		get64(in[0], &v, 20000);
	}
	for (i = 0; i < 8; i++) {
		r = send1(p, 2 + i, SHMK_QSEND_WAIT, 10 * SEC);
		if (r)
			break;
	}
	is(r, -EPIPE, "deadcons(%s): send says -EPIPE (after %d)", name, i);
	if (!how) {
		put64(out[1], 0);
		is(reap(pid), 0, "deadcons(%s): consumer exited", name);
	}
	shmk_queue_close(p, 0);
	eat_events(a);
	ok(arena_all_free(a, "deadcons"), "deadcons(%s): every byte free",
	   name);
	shmk_arena_detach(a);
	close(in[0]);
	close(in[1]);
	close(out[0]);
	close(out[1]);
}

static void t_unbounded(void)
{
	struct shmk_arena *a = make_arena();
	struct shmk_queue_stats sp, sq;
	struct shmk_queue *q, *p;
	struct shmk_qmsg m[64];
	int i, r, n, good = 1, total;
	uint64_t alloc1;

	q = a ? mkq(a, 4, SHMK_QUEUE_UNBOUNDED, 1024) : NULL;
	p = q ? self_producer(a, q) : NULL;
	if (!ok(p != NULL, "unbounded: setup"))
		return;
	for (i = 0; i < 3000; i++)
		good &= send1(p, i, 0, 0) == 0;
	ok(good, "unbounded: 3000 sends into a 4-slot ring, none refused");
	shmk_queue_stats(p, &sp);
	shmk_queue_stats(q, &sq);
	is(sq.ring_used + sq.lane_used, 3000, "unbounded: 3000 queued");
	ok(sp.blocks_allocated >= 99, "unbounded: grew by %" PRIu64
	   " blocks of 30 entries", sp.blocks_allocated);
	for (total = 0; total < 3000;) {
		r = shmk_queue_recv(q, m, 64, 0);
		if (r <= 0)
			break;
		for (n = 0; n < r; n++)
			good &= m[n].tag == (uint64_t)(total + n);
		total += r;
	}
	is(total, 3000, "unbounded: all drained");
	ok(good, "unbounded: FIFO across ring and blocks");
	/* steady traffic with a lagging consumer reuses drained blocks */
	shmk_queue_stats(p, &sp);
	alloc1 = sp.blocks_allocated;
	for (i = 0; i < 200 && good; i++) {
		for (n = 0; n < 60; n++)
			good &= send1(p, 10000 + n, 0, 0) == 0;
		for (n = 0; n < 60;) {
			r = shmk_queue_recv(q, m, 64, 0);
			if (r <= 0) {
				good = 0;
				break;
			}
			n += r;
		}
	}
	shmk_queue_stats(p, &sp);
	ok(good, "unbounded: 200 rounds of 60 through a lagging consumer");
	ok(sp.blocks_allocated - alloc1 <= 4 && sp.blocks_reused >= 300,
	   "unbounded: drained blocks recycled (%" PRIu64 " new, %" PRIu64
	   " reused)", sp.blocks_allocated - alloc1, sp.blocks_reused);
	is(shmk_queue_close(p, SEC), 0, "unbounded: producer close");
	shmk_queue_close(q, 0);
	ok(arena_all_free(a, "unbounded"), "unbounded: every byte free");
	shmk_arena_detach(a);
}

static void t_unbounded_mp(void)
{
	struct shmk_arena *a = make_arena();
	struct shmk_queue_stats st;
	uint32_t next[3] = { 0 };
	struct shmk_queue *q;
	struct shmk_qmsg m[64];
	struct child c[3];
	int in[2], out[2], i, r, k, total = 0, bad = 0, rc_ok = 1;
	uint64_t v;
	pid_t pid[3];

	q = a ? mkq(a, 8, SHMK_QUEUE_UNBOUNDED, 4096) : NULL;
	if (!ok(q && pipe(in) == 0 && pipe(out) == 0, "ump: setup"))
		return;
	for (i = 0; i < 3; i++) {
		memset(&c[i], 0, sizeof(c[i]));
		shmk_queue_share(q, 0, &c[i].token);
		c[i].idx = i;
		c[i].count = 5000;
		c[i].wfd = in[1];
		c[i].rfd = out[0];
		pid[i] = spawn(producer_main, &c[i]);
	}
	for (i = 0; i < 3; i++)
		rc_ok &= get64(in[0], &v, 30000) == 0;
	ok(rc_ok, "ump: three producers sent 5000 each without a reader");
	shmk_queue_stats(q, &st);
	is(st.ring_used + st.lane_used, 15000, "ump: 15000 queued");
	is(st.lanes_active, 3, "ump: three overflow lanes");
	for (i = 0; i < 3; i++)
		put64(out[1], 1);	/* close now: waits for the drain */
	while (total < 15000) {
		r = shmk_queue_recv(q, m, 64, 20 * SEC);
		if (r == 0) {
			eat_events(a);
			continue;
		}
		if (r < 0)
			break;
		for (k = 0; k < r; k++) {
			uint32_t who = (uint32_t)(m[k].tag >> 32);

			if (who >= 3 || (uint32_t)m[k].tag != next[who])
				bad++;
			else
				next[who]++;
		}
		total += r;
	}
	is(total, 15000, "ump: all arrived");
	is(bad, 0, "ump: per-producer order, no loss, no duplicate");
	for (i = 0; i < 3; i++)
		rc_ok &= reap(pid[i]) == 0;
	ok(rc_ok, "ump: producers closed (after the drain) and exited");
	eat_events(a);
	r = shmk_queue_recv(q, m, 64, 0);	/* lets lanes be reset */
	shmk_queue_stats(q, &st);
	is(st.lanes_active, 0, "ump: lanes given back");
	shmk_queue_close(q, 0);
	ok(arena_all_free(a, "ump"), "ump: every byte free");
	shmk_arena_detach(a);
	close(in[0]);
	close(in[1]);
	close(out[0]);
	close(out[1]);
}

/* A producer dies with entries in its overflow blocks. */
static void t_unbounded_dead(void)
{
	struct shmk_arena *a = make_arena();
	struct shmk_queue_stats st;
	struct shmk_queue *q;
	struct shmk_qmsg m[64];
	struct shmk_arena_info ai;
	int in[2], out[2], r, total = 0, good = 1;
	struct child c;
	uint64_t v;
	pid_t pid;

	q = a ? mkq(a, 4, SHMK_QUEUE_UNBOUNDED, 1024) : NULL;
	if (!ok(q && pipe(in) == 0 && pipe(out) == 0, "udead: setup"))
		return;
	shmk_arena_info(a, &ai);
	memset(&c, 0, sizeof(c));
	shmk_queue_share(q, 0, &c.token);
	c.count = 100;
	c.crash = "none";	/* report the member id */
	c.wfd = in[1];
	c.rfd = out[0];
	pid = spawn(producer_main, &c);
	ok(get64(in[0], &v, 30000) == 0, "udead: producer sent 100");
	kill(pid, SIGKILL);
	is(reap(pid), 128 + SIGKILL, "udead: producer killed");
	/* its exit event comes after its blocks were reclaimed */
	ok(wait_exit(a, (uint32_t)v, NULL, 20000) == 0,
	   "udead: exit event (blocks reclaimed)");
	while ((r = shmk_queue_recv(q, m, 64, 0)) > 0) {
		for (int k = 0; k < r; k++)
			good &= m[k].tag == (uint64_t)(total + k);
		total += r;
	}
	is(total, 4, "udead: the 4 ring entries arrive, the lost lane does not");
	ok(good, "udead: in order");
	shmk_queue_stats(q, &st);
	is(st.lanes_active, 0, "udead: its lane was reset");
	shmk_queue_close(q, 0);
	eat_events(a);
	ok(arena_all_free(a, "udead"), "udead: every byte free");
	shmk_arena_detach(a);
	close(in[0]);
	close(in[1]);
	close(out[0]);
	close(out[1]);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	t_basic();
	t_bounded_full();
	t_no_syscall_when_busy();
	t_mpsc(0);
	t_mpsc(50000);
	t_spin_option();
	t_fifo();
	t_fifo_cancel();
	t_ticket_dead("ticket:taken");
	t_ticket_dead("ticket:served");
	t_ticket_cancel_room();
	t_ticket_dead_settled();
	t_hole("send:slot");
	t_hole("send:reserved");
	t_hole("send:filled");
	t_hole_tail();
	t_dead_consumer(0);
	t_dead_consumer(1);
	t_unbounded();
	t_unbounded_mp();
	t_unbounded_dead();
	t_unbounded_claim_dead();
	return done_testing();
}
