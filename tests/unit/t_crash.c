// SPDX-License-Identifier: GPL-2.0
/*
 * Death at every step. For each operation, a child member performs it with
 * the library's crash points armed: SIGKILL at the k-th one, for k = 1, 2,
 * ... until the operation completes. After each death the parent (a
 * survivor) reads the exit event, which runs the reclaim, then checks:
 * the arena is consistent, every buffer's count equals the references
 * held, the parent's buffers have exactly its own references, and once
 * the parent drops its own, the heap is back where it started.
 */
#include "unit.h"

#include <poll.h>

#define MB (1024 * 1024)
#define MAX_POINTS 200

struct ctx {
	const char *name;
	long k;			/* crash point to die at (0: never) */
	int out;		/* child -> parent */
	int in;			/* parent -> child */
	uint64_t token;		/* a reference passed to the child */
	uint64_t lock;		/* a lock in the arena */
	uint64_t word;		/* arena word for the barrier */
	shmk_ref_t keep;	/* the parent's reference, if any */
	uint32_t peer_id, peer_gen;	/* scenario "reclaimer dies" */
};

static void arm(long k)
{
	shmk__crash_filter = NULL;
	shmk__crash_seen = 0;
	shmk__crash_after = k;
}

struct scen {
	const char *name;
	bool share;		/* parent passes a reference (rc 2 → 1 after) */
	void (*op)(struct shmk_arena *a, struct ctx *c);
};

/* ---- the operations (child side) ------------------------------------------ */

static void op_alloc_small(struct shmk_arena *a, struct ctx *c)
{
	uint64_t off;

	arm(c->k);
	shmk_alloc(a, 100, 0, 0, &off);
}

static void op_alloc_large(struct shmk_arena *a, struct ctx *c)
{
	uint64_t off;

	arm(c->k);
	shmk_alloc(a, 3 * LM_PAGE, 0, 0, &off);
	shmk_alloc(a, 5 * LM_PAGE, SHMK_ALLOC_LONG, 0, &off);
}

static void op_free_large(struct shmk_arena *a, struct ctx *c)
{
	uint64_t off;

	if (shmk_alloc(a, 3 * LM_PAGE, 0, 0, &off))
		_exit(20);
	arm(c->k);
	shmk_free(a, off);
}

/* Empty a chunk that is no longer current: it goes back to the pool. */
static void op_free_chunk(struct shmk_arena *a, struct ctx *c)
{
	uint64_t off[5];
	int i;

	for (i = 0; i < 5; i++)	/* 4 slots per 2048-byte chunk */
		if (shmk_alloc(a, 2000, 0, 0, &off[i]))
			_exit(20);
	for (i = 0; i < 3; i++)
		shmk_free(a, off[i]);
	arm(c->k);
	shmk_free(a, off[3]);
}

static void op_reserve(struct shmk_arena *a, struct ctx *c)
{
	uint64_t off;

	/* the arena is full: only the reserve can serve this */
	arm(c->k);
	shmk_alloc(a, 2000, SHMK_ALLOC_RESERVE, 0, &off);
}

static void op_create(struct shmk_arena *a, struct ctx *c)
{
	shmk_ref_t r;

	arm(c->k);
	shmk_buf_create(a, 500, 16, 0, 0, &r);
	shmk_buf_create(a, 70000, 0, 0, 0, &r);
}

static shmk_ref_t take(struct shmk_arena *a, struct ctx *c)
{
	shmk_ref_t r;

	if (shmk_buf_accept(a, c->token, &r))
		_exit(21);
	return r;
}

static void op_clone(struct shmk_arena *a, struct ctx *c)
{
	shmk_ref_t r = take(a, c), n;

	arm(c->k);
	shmk_buf_clone(a, r, &n);
}

static void op_drop_shared(struct shmk_arena *a, struct ctx *c)
{
	shmk_ref_t r = take(a, c);

	arm(c->k);
	shmk_buf_drop(a, r);
}

static void op_drop_last(struct shmk_arena *a, struct ctx *c)
{
	shmk_ref_t r, s;

	if (shmk_buf_create(a, 300, 0, 0, 0, &r) ||
	    shmk_buf_create(a, 9000, 0, 0, 0, &s))
		_exit(20);
	arm(c->k);
	shmk_buf_drop(a, r);
	shmk_buf_drop(a, s);
}

static void op_accept(struct shmk_arena *a, struct ctx *c)
{
	shmk_ref_t r;

	arm(c->k);
	shmk_buf_accept(a, c->token, &r);
}

static void op_pass(struct shmk_arena *a, struct ctx *c)
{
	shmk_ref_t r = take(a, c);
	uint64_t t;

	arm(c->k);
	shmk_buf_pass(a, r, 1, &t);
}

static void op_recall(struct shmk_arena *a, struct ctx *c)
{
	shmk_ref_t r = take(a, c);
	uint64_t t;

	if (shmk_buf_pass(a, r, 0, &t))
		_exit(20);
	arm(c->k);
	shmk_buf_recall(a, t);
}

static void op_cow(struct shmk_arena *a, struct ctx *c)
{
	shmk_ref_t r = take(a, c);
	void *p;
	size_t len;

	arm(c->k);
	shmk_buf_write(a, &r, &p, &len);
}

static void op_grow(struct shmk_arena *a, struct ctx *c)
{
	struct shmk_buf_info bi;
	shmk_ref_t r;
	void *p;

	if (shmk_buf_create(a, 100, 0, 0, 0, &r) || shmk_buf_info(a, r, &bi))
		_exit(20);
	if (bi.tailroom && shmk_buf_put(a, &r, bi.tailroom, &p))
		_exit(22);
	arm(c->k);
	shmk_buf_put(a, &r, 200, &p);
}

static void op_lock(struct shmk_arena *a, struct ctx *c)
{
	arm(c->k);
	if (shmk_lock_acquire(a, c->lock, -1) == 0)
		shmk_lock_release(a, c->lock);
	if (shmk_lock_acquire(a, c->lock, -1) == 0)
		shmk_lock_release(a, c->lock);
}

/* Another member died; we die while reclaiming after it. */
static void op_reclaim(struct shmk_arena *a, struct ctx *c)
{
	struct shmk_event ev[8];
	uint64_t v;

	ut_put(c->out, 1);
	if (ut_get(c->in, &v, 20000))	/* the other one is dead now */
		_exit(23);
	arm(c->k);
	for (;;) {
		struct pollfd pf = { shmk_arena_event_fd(a), POLLIN, 0 };
		int n = shmk_arena_events(a, ev, 8), i;

		for (i = 0; i < n; i++)
			if (ev[i].type == SHMK_EVENT_EXIT &&
			    ev[i].member_id == c->peer_id &&
			    ev[i].generation == c->peer_gen)
				return;
		poll(&pf, 1, 1000);
	}
}

/* The member the reclaimer cleans up after. */
static int victim(void *p)
{
	struct ctx *c = p;
	struct shmk_arena *a = ut_join(c->name);
	struct shmk_arena_info info;
	shmk_ref_t r, n, o;
	uint64_t off, t;

	shmk_arena_info(a, &info);
	ut_put(c->out, ((uint64_t)info.member_id << 32) | info.generation);
	if (ut_get(c->in, &c->token, 20000))
		return 19;
	r = take(a, c);
	if (shmk_buf_clone(a, r, &n) || shmk_buf_create(a, 800, 0, 0, 0, &o) ||
	    shmk_buf_pass(a, o, 0, &t) || shmk_alloc(a, 3000, 0, 0, &off) ||
	    shmk_alloc(a, 2 * LM_PAGE, 0, 0, &off))
		return 20;
	ut_put(c->out, 1);
	for (;;)
		pause();
}

static int child_main(void *p)
{
	struct ctx *c = p;
	struct shmk_arena *a = ut_join(c->name);
	struct shmk_arena_info info;
	const struct scen *s = (const void *)(uintptr_t)c->word;

	shmk_arena_info(a, &info);
	ut_put(c->out, ((uint64_t)info.member_id << 32) | info.generation);
	if (s->share && s->op != op_reclaim && ut_get(c->in, &c->token, 20000))
		_exit(24);
	s->op(a, c);
	/* completed without hitting point k: leave without detaching */
	_exit(shmk__crash_after > 0 ? 0 : 30);
}

/* ---- the driver (parent side) ------------------------------------------------ */

static void fill_up(struct shmk_arena *a, uint64_t *offs, int *n, int max)
{
	uint64_t off;

	while (*n < max && shmk_alloc(a, LM_PAGE, 0, 0, &off) == 0)
		offs[(*n)++] = off;
}

static int run(const struct scen *s, bool full)
{
	char name[64];
	struct shmk_arena *a = ut_arena("crash", 2 * MB, 8192, name);
	struct shmk_alloc_stats st0, st;
	struct ctx c;
	struct shmk_buf_info bi;
	uint64_t idgen, v, offs[600];
	int out[2], in[2], st_child, nfull = 0;
	long k;
	pid_t pid, vpid = 0;
	shmk_ref_t x = 0, cl;
	bool done = false;

	memset(&c, 0, sizeof(c));
	c.name = name;
	c.word = (uint64_t)(uintptr_t)s;
	ck_ok(shmk_alloc(a, sizeof(struct shmk_lock), SHMK_ALLOC_ZERO, 0,
			 &c.lock));
	/* our own small-class chunk exists before the baseline */
	ck_ok(shmk_alloc(a, 100, 0, 0, &v));
	ck_ok(shmk_free(a, v));
	ck_ok(shmk_buf_create(a, 700, 0, 0, 0, &x));	/* and this class */
	ck_ok(shmk_buf_drop(a, x));
	x = 0;
	if (full) {
		/* full, but for two pages: the child's reserve */
		fill_up(a, offs, &nfull, 600);
		ck_assert_int_ge(nfull, 2);
		ck_ok(shmk_free(a, offs[--nfull]));
		ck_ok(shmk_free(a, offs[--nfull]));
	}
	ck_ok(shmk_alloc_stats(a, &st0));
	for (k = 1; k <= MAX_POINTS && !done; k++) {
		ck_assert(pipe(out) == 0 && pipe(in) == 0);
		c.out = out[1];
		c.in = in[0];
		c.k = k;
		if (s->share) {
			ck_ok(shmk_buf_create(a, 700, 0, 0, 0, &x));
			ck_ok(shmk_buf_clone(a, x, &cl));
		}
		if (s->op == op_reclaim) {
			uint64_t vg;

			vpid = ut_spawn(victim, &c);
			ck_ok(ut_get(out[0], &vg, 20000));
			c.peer_id = (uint32_t)(vg >> 32);
			c.peer_gen = (uint32_t)vg;
			ck_ok(shmk_buf_pass(a, cl, c.peer_id, &c.token));
			ut_put(in[1], c.token);
			ck_ok(ut_get(out[0], &v, 20000));	/* ready */
		}
		pid = ut_spawn(child_main, &c);
		ck_ok(ut_get(out[0], &idgen, 20000));
		if (s->share && s->op != op_reclaim) {
			/* addressed to it: its reclaim must take it back */
			ck_ok(shmk_buf_pass(a, cl, (uint32_t)(idgen >> 32),
					    &c.token));
			ut_put(in[1], c.token);
		}
		if (s->op == op_reclaim) {
			ck_ok(ut_get(out[0], &v, 20000));
			kill(vpid, SIGKILL);
			ck_assert_int_eq(ut_reap(vpid), 128 + SIGKILL);
			ut_put(in[1], 1);
		}
		st_child = ut_reap(pid);
		ck_assert_msg(st_child == 0 || st_child == 128 + SIGKILL,
			      "%s k=%ld: child ended with %d", s->name, k,
			      st_child);
		done = st_child == 0;
		/* the survivor's part (in the order they died) */
		if (s->op == op_reclaim)
			ck_ok(ut_wait_exit(a, c.peer_id, c.peer_gen, NULL,
					   20000));
		ck_ok(ut_wait_exit(a, (uint32_t)(idgen >> 32), (uint32_t)idgen,
				   NULL, 20000));
		ut_check(a);
		if (x) {
			ck_ok(shmk_buf_info(a, x, &bi));
			ck_assert_msg(bi.refcount == 1,
				      "%s k=%ld: our buffer has count %u",
				      s->name, k, bi.refcount);
			ck_ok(shmk_buf_drop(a, x));
			x = 0;
			/* whatever was passed is gone for good */
			ck_assert_int_eq(shmk_buf_accept(a, c.token, &cl),
					 -ESTALE);
		}
		if (s->op == op_lock) {
			int r = shmk_lock_acquire(a, c.lock, 5000000000LL);

			ck_assert_msg(r == 0 || r == -EOWNERDEAD,
				      "%s k=%ld: lock %d", s->name, k, r);
			if (r == -EOWNERDEAD)
				ck_ok(shmk_lock_consistent(a, c.lock));
			ck_ok(shmk_lock_release(a, c.lock));
		}
		ck_ok(shmk_alloc_stats(a, &st));
		ck_assert_msg(st.used_bytes == st0.used_bytes &&
			      st.free_page_bytes == st0.free_page_bytes &&
			      st.buffers == st0.buffers,
			      "%s k=%ld: used %llu/%llu free %llu/%llu bufs %u/%u",
			      s->name, k, (unsigned long long)st.used_bytes,
			      (unsigned long long)st0.used_bytes,
			      (unsigned long long)st.free_page_bytes,
			      (unsigned long long)st0.free_page_bytes,
			      st.buffers, st0.buffers);
		ut_check(a);
		close(out[0]);
		close(out[1]);
		close(in[0]);
		close(in[1]);
	}
	ck_assert_msg(done, "%s: still crashing after %d points", s->name,
		      MAX_POINTS);
	while (nfull)
		ck_ok(shmk_free(a, offs[--nfull]));
	ck_ok(shmk_free(a, c.lock));
	ck_ok(shmk_arena_detach(a));
	fprintf(stderr, "# %s: %ld crash points\n", s->name, k - 2);
	return (int)(k - 2);
}

static const struct scen scens[] = {
	{ "alloc small", false, op_alloc_small },
	{ "alloc large", false, op_alloc_large },
	{ "free large", false, op_free_large },
	{ "free emptying a chunk", false, op_free_chunk },
	{ "alloc from the reserve", false, op_reserve },
	{ "buffer create", false, op_create },
	{ "buffer clone", true, op_clone },
	{ "buffer drop (shared)", true, op_drop_shared },
	{ "buffer drop (last)", false, op_drop_last },
	{ "buffer accept", true, op_accept },
	{ "buffer pass", true, op_pass },
	{ "buffer recall", true, op_recall },
	{ "copy on write", true, op_cow },
	{ "append with growth", false, op_grow },
	{ "lock and unlock", false, op_lock },
	{ "reclaimer dies", true, op_reclaim },
};

START_TEST(every_point)
{
	const struct scen *s = &scens[_i];
	int n = run(s, s->op == op_reserve);

	ck_assert_msg(n >= 1, "%s: no crash point exercised", s->name);
}
END_TEST

/*
 * Portable backend: a member killed between reserving an event-log record
 * and publishing it, while detaching (its slot already says dead, so no
 * later record comes to unblock readers). The survivor must count that
 * record lost and go back to sleeping, not see an event pending for ever.
 */
static int die_in_log(void *arg)
{
	struct shmk_arena *a = ut_join(arg);

	shmk__crash_filter = "log:reserved";
	shmk__crash_after = 1;
	shmk_arena_detach(a);
	return 0;	/* not reached: killed in the detach */
}

START_TEST(stuck_log_record)
{
	struct shmk_arena_info info;
	struct shmk_event ev[8];
	struct shmk_arena *a;
	char name[64];
	uint64_t off, end;
	bool lost = false;
	int n, i, r;

	a = ut_arena("log", 2 * MB, 0, name);
	ck_ok(shmk_arena_info(a, &info));
	if (strcmp(info.backend, "portable")) {
		shmk_arena_detach(a);
		return;	/* the kernel writes kmod's events */
	}
	ck_ok(shmk_alloc(a, 64, 0, 0, &off));
	*(uint32_t *)shmk_arena_ptr(a, off) = 7;
	ck_assert_int_eq(ut_reap(ut_spawn(die_in_log, name)), 128 + SIGKILL);
	end = ut_now_ms() + 5000;
	while (!lost && ut_now_ms() < end) {
		r = shmk_arena_wait(a, off, 7, 200 * 1000000LL, 0);
		ck_assert_msg(r == SHMK_WAIT_EVENT || r == -ETIMEDOUT,
			      "wait: %d", r);
		while ((n = shmk_arena_events(a, ev, 8)) > 0)
			for (i = 0; i < n; i++)
				if (ev[i].type == SHMK_EVENT_OVERFLOW &&
				    ev[i].lost == 1)
					lost = true;
	}
	ck_assert_msg(lost, "the unpublished record was never skipped");
	/* nothing pending now: the wait sleeps until its timeout */
	r = shmk_arena_wait(a, off, 7, 100 * 1000000LL, 0);
	ck_assert_int_eq(r, -ETIMEDOUT);
	ck_ok(shmk_free(a, off));
	shmk_arena_detach(a);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("crash");
	TCase *tc = tcase_create("crash");

	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, every_point, 0,
			    (int)(sizeof(scens) / sizeof(scens[0])));
	tcase_add_test(tc, stuck_log_record);
	suite_add_tcase(s, tc);
	return ut_run(s);
}
