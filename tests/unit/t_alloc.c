// SPDX-License-Identifier: GPL-2.0
/*
 * Allocator: classes, basics, placement and coalescing, a randomized run
 * checked against a model, reserve, waiting allocation, several processes
 * at once, reclaim of a dead member, corruption detection.
 */
#include "unit.h"

#include <fcntl.h>
#include <poll.h>

#define MB (1024 * 1024)

/* ---- size classes ------------------------------------------------------ */

START_TEST(classes)
{
	uint32_t c, rel, prev = 0;

	for (c = 0; c < LM_NCLASS; c++) {
		const struct lm_class *k = &lm_classes[c];

		ck_assert_uint_gt(k->size, prev);
		ck_assert_uint_eq(k->size % 16, 0);
		ck_assert_uint_le(k->nslots, 256);
		ck_assert_uint_ge(k->nslots, 2);
		ck_assert_uint_le(k->nslots * k->size, k->pages * LM_PAGE);
		/* the reciprocal gives exact slot numbers over the chunk */
		for (rel = 0; rel < k->pages * LM_PAGE; rel++)
			ck_assert_uint_eq((uint32_t)(((uint64_t)rel * k->recip) >> 32),
					  rel / k->size);
		prev = k->size;
	}
}
END_TEST

/* Every size gets the smallest class that fits. */
START_TEST(size_to_class)
{
	char name[64];
	struct shmk_arena *a = ut_arena("cls", 4 * MB, 0, name);
	uint64_t off, usable;
	size_t s;
	uint32_t c;

	for (s = 1; s <= SHMK_ALLOC_SMALL_MAX; s++) {
		ck_ok(shmk_alloc(a, s, 0, 0, &off));
		ck_ok(shmk_alloc_usable(a, off, &usable));
		ck_assert_uint_ge(usable, s);
		for (c = 0; c < LM_NCLASS; c++)
			if (lm_classes[c].size >= s)
				break;
		ck_assert_uint_eq(usable, lm_classes[c].size);
		ck_assert_uint_eq(off % 16, 0);
		ck_ok(shmk_free(a, off));
	}
	ck_ok(shmk_alloc(a, SHMK_ALLOC_SMALL_MAX + 1, 0, 0, &off));
	ck_ok(shmk_alloc_usable(a, off, &usable));
	ck_assert_uint_eq(usable, LM_PAGE);
	ck_assert_uint_eq(off % LM_PAGE, 0);
	ck_ok(shmk_free(a, off));
	ut_check(a);
	ck_ok(shmk_arena_detach(a));
}
END_TEST

START_TEST(basics)
{
	char name[64];
	struct shmk_arena *a = ut_arena("basic", 2 * MB, 0, name);
	struct shmk_arena_info info;
	uint64_t off, big, usable;
	unsigned char *p;
	size_t i;

	shmk_arena_info(a, &info);
	ck_ok(shmk_alloc(a, 100, SHMK_ALLOC_ZERO, 0, &off));
	p = shmk_arena_ptr(a, off);
	for (i = 0; i < 112; i++)
		ck_assert_uint_eq(p[i], 0);
	memset(p, 0xab, 100);
	ck_assert_uint_ge(off, info.heap_offset);
	ck_assert_int_eq(shmk_free(a, off + 16), -EINVAL);	/* not a start */
	ck_assert_int_eq(shmk_free(a, off + 1), -EINVAL);	/* misaligned */
	ck_assert_int_eq(shmk_free(a, 0), -EINVAL);		/* metadata */
	ck_assert_int_eq(shmk_free(a, info.size + 4096), -EINVAL);
	ck_ok(shmk_free(a, off));
	ck_assert_int_eq(shmk_free(a, off), -EINVAL);		/* double */
	ck_assert_int_eq(shmk_alloc_usable(a, off, &usable), -EINVAL);

	ck_ok(shmk_alloc(a, 3 * LM_PAGE + 1, 0, 0, &big));
	ck_assert_int_eq(shmk_free(a, big + LM_PAGE), -EINVAL);	/* interior */
	ck_ok(shmk_alloc_usable(a, big, &usable));
	ck_assert_uint_eq(usable, 4 * LM_PAGE);
	ck_ok(shmk_free(a, big));
	ck_assert_int_eq(shmk_free(a, big), -EINVAL);

	ck_assert_int_eq(shmk_alloc(a, 1ULL << 40, 0, 0, &off), -ENOMEM);
	ck_assert_int_eq(shmk_alloc(a, 10, 1U << 20, 0, &off), -EINVAL);
	ck_assert_int_eq(shmk_alloc(a, 10, 0, 0, NULL), -EINVAL);
	ut_check(a);
	ck_ok(shmk_arena_detach(a));
}
END_TEST

/* Short-lived data from the start, long-lived from the end; coalescing. */
START_TEST(placement)
{
	char name[64];
	struct shmk_arena *a = ut_arena("place", 2 * MB, 4096, name);
	struct shmk_arena_info info;
	struct shmk_alloc_stats st0, st;
	uint64_t s1, s2, l1, x, y, z, end;

	shmk_arena_info(a, &info);
	end = info.heap_offset + info.heap_size;
	ck_ok(shmk_alloc_stats(a, &st0));
	ck_ok(shmk_alloc(a, 8192, 0, 0, &s1));
	ck_ok(shmk_alloc(a, 8192, 0, 0, &s2));
	ck_ok(shmk_alloc(a, 8192, SHMK_ALLOC_LONG, 0, &l1));
	ck_assert_uint_eq(s1, info.heap_offset);
	ck_assert_uint_eq(s2, s1 + 8192);
	/* just below our reserve, which also sits at the end */
	ck_assert_uint_eq(l1 + 8192, end - 4096);

	/* three neighbours freed in any order coalesce back */
	ck_ok(shmk_alloc(a, 5 * LM_PAGE, 0, 0, &x));
	ck_ok(shmk_alloc(a, 7 * LM_PAGE, 0, 0, &y));
	ck_ok(shmk_alloc(a, 3 * LM_PAGE, 0, 0, &z));
	ck_ok(shmk_free(a, x));
	ck_ok(shmk_free(a, z));
	ck_ok(shmk_alloc_stats(a, &st));
	ck_assert(st.fragmentation > 0.0);
	ck_ok(shmk_free(a, y));
	ck_ok(shmk_free(a, s1));
	ck_ok(shmk_free(a, s2));
	ck_ok(shmk_free(a, l1));
	ck_ok(shmk_alloc_stats(a, &st));
	ck_assert_uint_eq(st.largest_free, st0.largest_free);
	ck_assert_uint_eq(st.free_page_bytes, st0.free_page_bytes);
	ck_assert(st.fragmentation == 0.0);
	/* the freed region is one run again: it takes the biggest block */
	ck_ok(shmk_alloc(a, st.largest_free, 0, 0, &x));
	ck_ok(shmk_free(a, x));
	ut_check(a);
	ck_ok(shmk_arena_detach(a));
}
END_TEST

/* ---- randomized sequence against a model ---------------------------------- */

struct live {
	uint64_t off, size, tag;
};

static uint64_t rng;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint64_t rnd_size(void)
{
	uint64_t r = rnd() % 100;

	if (r < 60)
		return 1 + rnd() % 256;
	if (r < 85)
		return 1 + rnd() % SHMK_ALLOC_SMALL_MAX;
	if (r < 97)
		return SHMK_ALLOC_SMALL_MAX + 1 + rnd() % (4 * LM_PAGE);
	return 1 + rnd() % (24 * LM_PAGE);
}

static void fill(struct shmk_arena *a, uint64_t off, uint64_t size,
		 uint64_t tag)
{
	uint64_t *p = shmk_arena_ptr(a, off), i;

	for (i = 0; i < size / 8; i++)
		p[i] = tag ^ i;
}

static int same(struct shmk_arena *a, uint64_t off, uint64_t size,
		uint64_t tag)
{
	uint64_t *p = shmk_arena_ptr(a, off), i;

	for (i = 0; i < size / 8; i++)
		if (p[i] != (tag ^ i))
			return 0;
	return 1;
}

START_TEST(model_random)
{
	char name[64];
	struct shmk_arena *a = ut_arena("model", 8 * MB, 0, name);
	struct shmk_arena_info info;
	struct shmk_alloc_stats st0, st;
	uint8_t *used;		/* one byte per 16-byte granule */
	struct live *lv;
	uint64_t g, n = 0, cap = 4096, i, k, sum, usable, ops;
	int r;

	rng = 0x9e3779b97f4a7c15ULL ^ (uint64_t)_i;
	shmk_arena_info(a, &info);
	ck_ok(shmk_alloc_stats(a, &st0));
	used = calloc(info.size / 16, 1);
	lv = calloc(cap, sizeof(*lv));
	ck_assert(used && lv);
	ops = (uint64_t)ut_scale(12000);
	for (k = 0; k < ops; k++) {
		if (n < cap && (n == 0 || rnd() % 100 < 55)) {
			uint64_t size = rnd_size();
			unsigned int fl = rnd() % 4 == 0 ? SHMK_ALLOC_LONG : 0;

			r = shmk_alloc(a, size, fl, 0, &lv[n].off);
			if (r == -ENOMEM)
				continue;
			ck_assert_int_eq(r, 0);
			ck_ok(shmk_alloc_usable(a, lv[n].off, &usable));
			ck_assert_uint_ge(usable, size);
			for (g = lv[n].off / 16; g < (lv[n].off + usable) / 16; g++) {
				ck_assert_msg(!used[g], "overlap at %#llx",
					      (unsigned long long)g * 16);
				used[g] = 1;
			}
			lv[n].size = usable;
			lv[n].tag = rnd();
			fill(a, lv[n].off, usable, lv[n].tag);
			n++;
		} else {
			i = rnd() % n;
			ck_assert_msg(same(a, lv[i].off, lv[i].size, lv[i].tag),
				      "block %#llx corrupted",
				      (unsigned long long)lv[i].off);
			ck_ok(shmk_free(a, lv[i].off));
			for (g = lv[i].off / 16; g < (lv[i].off + lv[i].size) / 16; g++)
				used[g] = 0;
			lv[i] = lv[--n];
		}
		if (k % 2000 == 0) {
			ck_ok(shmk_alloc_stats(a, &st));
			for (i = 0, sum = 0; i < n; i++)
				sum += lv[i].size;
			ck_assert_uint_eq(st.used_bytes, sum);
			ck_assert_uint_eq(st.blocks, n);
			ck_ok(shmk_alloc_member_used(a, 1, &usable));
			ck_assert_uint_eq(usable, sum);
			ut_check(a);
		}
	}
	while (n) {
		n--;
		ck_assert(same(a, lv[n].off, lv[n].size, lv[n].tag));
		ck_ok(shmk_free(a, lv[n].off));
	}
	ck_ok(shmk_alloc_stats(a, &st));
	ck_assert_uint_eq(st.used_bytes, 0);
	ck_assert_uint_eq(st.blocks, 0);
	ut_check(a);
	free(used);
	free(lv);
	ck_ok(shmk_arena_detach(a));
}
END_TEST

/* ---- exhaustion, reserve, waiting --------------------------------------- */

static uint64_t fill_arena(struct shmk_arena *a, uint64_t *offs, int max,
			   int *n)
{
	uint64_t total = 0, off;

	*n = 0;
	while (*n < max && shmk_alloc(a, 4 * LM_PAGE, 0, 0, &off) == 0) {
		offs[(*n)++] = off;
		total += 4 * LM_PAGE;
	}
	while (*n < max && shmk_alloc(a, LM_PAGE, 0, 0, &off) == 0) {
		offs[(*n)++] = off;
		total += LM_PAGE;
	}
	return total;
}

START_TEST(reserve)
{
	char name[64];
	struct shmk_arena *a = ut_arena("resv", 1 * MB, 16384, name);
	struct shmk_alloc_stats st;
	uint64_t offs[512], off, ctl[8];
	int n, i;

	ck_ok(shmk_alloc_stats(a, &st));
	ck_assert_uint_eq(st.reserve_bytes, 16384);
	fill_arena(a, offs, 512, &n);
	ck_assert_int_eq(shmk_alloc(a, 2000, 0, 0, &off), -ENOMEM);
	ck_assert_int_eq(shmk_alloc(a, 3 * LM_PAGE, 0, 0, &off), -ENOMEM);
	/* control messages still flow from the reserve */
	for (i = 0; i < 4; i++)
		ck_ok(shmk_alloc(a, 2000, SHMK_ALLOC_RESERVE, 0, &ctl[i]));
	ck_ok(shmk_alloc(a, LM_PAGE * 2, SHMK_ALLOC_RESERVE, 0, &ctl[4]));
	ck_assert_int_eq(shmk_alloc(a, LM_PAGE * 2, SHMK_ALLOC_RESERVE, 0,
				    &ctl[5]), -ENOMEM);
	ck_ok(shmk_alloc_stats(a, &st));
	ck_assert_uint_eq(st.reserve_bytes, 0);
	ut_check(a);
	for (i = 0; i < n; i++)
		ck_ok(shmk_free(a, offs[i]));
	for (i = 0; i < 5; i++)
		ck_ok(shmk_free(a, ctl[i]));
	/* the next slow path refills it */
	ck_ok(shmk_alloc(a, LM_PAGE * 3, 0, 0, &off));
	ck_ok(shmk_free(a, off));
	ck_ok(shmk_alloc_stats(a, &st));
	ck_assert_uint_eq(st.reserve_bytes, 16384);
	ut_check(a);
	ck_ok(shmk_arena_detach(a));
}
END_TEST

struct waiter_args {
	const char *name;
	int fd;
	int64_t timeout;
	uint64_t size;
};

static int waiter(void *p)
{
	struct waiter_args *w = p;
	struct shmk_arena *a = ut_join(w->name);
	uint64_t off;
	int r;

	r = shmk_alloc(a, w->size, SHMK_ALLOC_WAIT, w->timeout, &off);
	ut_put(w->fd, (uint64_t)(int64_t)r);
	if (r == 0)
		shmk_free(a, off);
	shmk_arena_detach(a);
	return 0;
}

/* Wait (bounded) until someone waits for memory in the arena. */
static int waiters_show_up(struct shmk_arena *a, struct lm_hdr *h)
{
	uint64_t end = ut_now_ms() + 10000;

	(void)a;
	while (!__atomic_load_n(&h->waiters, __ATOMIC_ACQUIRE))
		if (ut_now_ms() > end)
			return 0;
		else
			sched_yield();
	return 1;
}

START_TEST(waiting_alloc)
{
	char name[64];
	struct shmk_arena *a = ut_arena("wait", 1 * MB, 4096, name);
	struct lm_hdr *h = shmk_arena_ptr(a, 0);
	struct waiter_args w;
	uint64_t offs[512], off, v;
	int n, p[2];
	pid_t pid;

	fill_arena(a, offs, 512, &n);
	ck_assert_int_eq(shmk_alloc(a, 3 * LM_PAGE, 0, 0, &off), -ENOMEM);
	ck_assert_int_eq(shmk_alloc(a, 3 * LM_PAGE, SHMK_ALLOC_WAIT,
				    30 * 1000000LL, &off), -ETIMEDOUT);
	ck_assert_int_eq(shmk_alloc(a, 3 * LM_PAGE, SHMK_ALLOC_WAIT, 0, &off),
			 -ETIMEDOUT);

	/* another member waits; our free of a large block wakes it */
	ck_assert(pipe(p) == 0);
	w.name = name;
	w.fd = p[1];
	w.timeout = 20 * 1000000000LL;
	w.size = 3 * LM_PAGE;
	pid = ut_spawn(waiter, &w);
	ck_assert(waiters_show_up(a, h));
	ck_assert_int_eq(ut_get(p[0], &v, 0), -ETIMEDOUT);	/* still asleep */
	ck_ok(shmk_free(a, offs[0]));
	ck_ok(ut_get(p[0], &v, 20000));
	ck_assert_int_eq((int64_t)v, 0);
	ck_assert_int_eq(ut_reap(pid), 0);
	/* what the waiter took went back when it left: take it again */
	while (n < 512 && shmk_alloc(a, LM_PAGE, 0, 0, &offs[n]) == 0)
		n++;
	ck_assert_int_eq(shmk_alloc(a, LM_PAGE, 0, 0, &off), -ENOMEM);

	/* a small free into a chunk the waiter cannot use still wakes it up
	 * to re-check; a page that comes back satisfies it */
	w.size = 1000;
	pid = ut_spawn(waiter, &w);
	ck_assert(waiters_show_up(a, h));
	ck_ok(shmk_free(a, offs[n - 1]));
	ck_ok(ut_get(p[0], &v, 20000));
	ck_assert_int_eq((int64_t)v, 0);
	ck_assert_int_eq(ut_reap(pid), 0);
	for (n--; n > 1; n--)
		ck_ok(shmk_free(a, offs[n - 1]));
	ut_check(a);
	close(p[0]);
	close(p[1]);
	ck_ok(shmk_arena_detach(a));
}
END_TEST

/* ---- many processes at once --------------------------------------------- */

struct mp_args {
	uint64_t barrier;	/* arena word: workers done draining */
	const char *name;
	int seed;
	int ops;
	int to_fd;	/* hand some blocks to the next process */
	int from_fd;
};

static int mp_worker(void *p)
{
	struct mp_args *m = p;
	struct shmk_arena *a = ut_join(m->name);
	struct live lv[256];
	uint64_t v, tag;
	int n = 0, k, i, r, prev_done = m->from_fd < 0;

	rng = 0x1234567ULL * (uint64_t)(m->seed + 1);
	for (k = 0; k < m->ops; k++) {
		if (n < 256 && (n == 0 || rnd() % 100 < 50)) {
			uint64_t size = rnd_size() % (3 * LM_PAGE) + 1;

			r = shmk_alloc(a, size, 0, 0, &lv[n].off);
			if (r == -ENOMEM)
				continue;
			if (r)
				return 10;
			shmk_alloc_usable(a, lv[n].off, &lv[n].size);
			lv[n].tag = rnd();
			fill(a, lv[n].off, lv[n].size, lv[n].tag);
			n++;
		} else {
			i = (int)(rnd() % (uint64_t)n);
			if (!same(a, lv[i].off, lv[i].size, lv[i].tag))
				return 11;
			if (k % 5 == 0 && m->to_fd >= 0) {
				/* pass it on: the other process frees it */
				ut_put(m->to_fd, lv[i].off);
				ut_put(m->to_fd, lv[i].size);
				ut_put(m->to_fd, lv[i].tag);
			} else if (shmk_free(a, lv[i].off)) {
				return 12;
			}
			lv[i] = lv[--n];
		}
		/* free what the previous process handed us */
		while (!prev_done && ut_get(m->from_fd, &v, 0) == 0) {
			uint64_t size;

			if (v == ~0ULL) {
				prev_done = 1;
				break;
			}
			ut_get(m->from_fd, &size, 1000);
			ut_get(m->from_fd, &tag, 1000);
			if (!same(a, v, size, tag))
				return 13;
			if (shmk_free(a, v))
				return 14;
		}
	}
	while (n--)
		if (shmk_free(a, lv[n].off))
			return 15;
	if (m->to_fd >= 0)
		ut_put(m->to_fd, ~0ULL);
	/* drain until the previous one says it is done */
	while (!prev_done) {
		uint64_t size;

		if (ut_get(m->from_fd, &v, 20000))
			return 16;
		if (v == ~0ULL)
			break;
		ut_get(m->from_fd, &size, 1000);
		ut_get(m->from_fd, &tag, 1000);
		if (!same(a, v, size, tag) || shmk_free(a, v))
			return 17;
	}
	/*
	 * Raw blocks belong to their allocator and go when it leaves: stay
	 * until everybody has freed what it was handed.
	 */
	{
		uint32_t *b = shmk_arena_ptr(a, m->barrier), x;

		__atomic_fetch_add(b, 1, __ATOMIC_SEQ_CST);
		shmk_arena_wake(a, m->barrier, SHMK_WAKE_ALL);
		while ((x = __atomic_load_n(b, __ATOMIC_SEQ_CST)) < 4)
			if (shmk_arena_wait(a, m->barrier, x, 20000000000LL,
					    SHMK_WAIT_NO_EVENTS) == -ETIMEDOUT)
				return 19;
	}
	return shmk_arena_detach(a) ? 18 : 0;
}

START_TEST(multiprocess)
{
	char name[64];
	struct shmk_arena *a = ut_arena("mp", 8 * MB, 0, name);
	struct shmk_alloc_stats st0, st;
	struct mp_args m[4];
	int pipes[4][2], i;
	pid_t pid[4];

	ck_ok(shmk_alloc_stats(a, &st0));
	for (i = 0; i < 4; i++) {
		ck_assert(pipe(pipes[i]) == 0);
		fcntl(pipes[i][0], F_SETPIPE_SZ, 1 << 20);
	}
	for (i = 0; i < 4; i++) {
		shmk_arena_root(a, 0, &m[i].barrier);
		m[i].name = name;
		m[i].seed = i;
		m[i].ops = ut_scale(20000);
		m[i].to_fd = pipes[i][1];
		m[i].from_fd = pipes[(i + 3) % 4][0];
		pid[i] = ut_spawn(mp_worker, &m[i]);
	}
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(ut_reap(pid[i]), 0);
	ck_ok(shmk_arena_events(a, NULL, 0));
	ck_ok(shmk_alloc_stats(a, &st));
	ck_assert_uint_eq(st.used_bytes, 0);
	ck_assert_uint_eq(st.free_page_bytes, st0.free_page_bytes);
	ck_assert_uint_eq(st.largest_free, st0.largest_free);
	ut_check(a);
	ck_ok(shmk_arena_detach(a));
}
END_TEST

/* ---- reclaim of a dead member --------------------------------------------- */

struct dead_args {
	const char *name;
	int fd;
};

static int die_holding(void *p)
{
	struct dead_args *d = p;
	struct shmk_arena *a = ut_join(d->name);
	struct shmk_arena_info info;
	uint64_t off;
	int i;

	for (i = 0; i < 300; i++)
		if (shmk_alloc(a, 16 + (uint64_t)(i * 37) % 3000,
			       i % 3 ? 0 : SHMK_ALLOC_LONG, 0, &off))
			return 10;
	shmk_arena_info(a, &info);
	ut_put(d->fd, ((uint64_t)info.member_id << 32) | info.generation);
	for (;;)
		pause();
}

START_TEST(reclaim_dead)
{
	char name[64];
	struct shmk_arena *a = ut_arena("dead", 4 * MB, 8192, name);
	struct shmk_alloc_stats st0, st;
	struct dead_args d;
	uint64_t idgen, used, mine;
	int p[2];
	pid_t pid;

	ck_ok(shmk_alloc(a, 5000, 0, 0, &mine));
	ck_ok(shmk_alloc_stats(a, &st0));
	ck_assert(pipe(p) == 0);
	d.name = name;
	d.fd = p[1];
	pid = ut_spawn(die_holding, &d);
	ck_ok(ut_get(p[0], &idgen, 20000));
	ck_ok(shmk_alloc_member_used(a, (uint32_t)(idgen >> 32), &used));
	ck_assert_uint_gt(used, 300 * 16);
	ck_assert_int_eq(shmk_alloc_reclaim(a, (uint32_t)(idgen >> 32),
					    (uint32_t)idgen), -EBUSY);
	kill(pid, SIGKILL);
	ck_assert_int_eq(ut_reap(pid), 128 + SIGKILL);
	ck_ok(ut_wait_exit(a, (uint32_t)(idgen >> 32), (uint32_t)idgen, NULL,
			   20000));
	ck_ok(shmk_alloc_member_used(a, (uint32_t)(idgen >> 32), &used));
	ck_assert_uint_eq(used, 0);
	ck_ok(shmk_alloc_stats(a, &st));
	ck_assert_uint_eq(st.used_bytes, st0.used_bytes);
	ck_assert_uint_eq(st.free_page_bytes, st0.free_page_bytes);
	ck_assert_uint_eq(st.reserve_bytes, st0.reserve_bytes);
	/* exactly once: asking again does nothing */
	ck_ok(shmk_alloc_reclaim(a, (uint32_t)(idgen >> 32), (uint32_t)idgen));
	ck_ok(shmk_alloc_stats(a, &st));
	ck_assert_uint_eq(st.used_bytes, st0.used_bytes);
	ck_ok(shmk_free(a, mine));
	ut_check(a);
	close(p[0]);
	close(p[1]);
	ck_ok(shmk_arena_detach(a));
}
END_TEST

/* A member that leaves gives back what it owns. */
START_TEST(detach_frees)
{
	char name[64];
	struct shmk_arena *a = ut_arena("det", 2 * MB, 4096, name);
	struct shmk_arena *b;
	struct shmk_alloc_stats st0, st;
	uint64_t off;
	int i;

	ck_ok(shmk_alloc_stats(a, &st0));
	ck_ok(shmk_arena_attach(name, 0, &b));	/* a second member, same process */
	for (i = 0; i < 100; i++)
		ck_ok(shmk_alloc(b, 100 + (uint64_t)i * 50, 0, 0, &off));
	ck_ok(shmk_arena_detach(b));
	ck_ok(shmk_alloc_stats(a, &st));
	ck_assert_uint_eq(st.used_bytes, st0.used_bytes);
	ck_assert_uint_eq(st.free_page_bytes, st0.free_page_bytes);
	ut_check(a);
	ck_ok(shmk_arena_detach(a));
}
END_TEST

/* ---- corruption ----------------------------------------------------------- */

START_TEST(corruption)
{
	char name[64], msg[256];
	struct shmk_arena *a = ut_arena("corrupt", 2 * MB, 0, name);
	struct shmk_arena_info info;
	struct lm_page *d;
	uint64_t off, big, x, *bits;
	uint32_t p, saved;
	int i, r;

	shmk_arena_info(a, &info);
	ck_ok(shmk_alloc(a, 64, 0, 0, &off));
	ck_ok(shmk_alloc(a, 3 * LM_PAGE, 0, 0, &big));

	/* random offsets never crash, never free anything */
	rng = 42;
	for (i = 0; i < 200000; i++) {
		x = rnd() % (info.size + 8192);
		if (x == off || x == big)
			continue;
		r = shmk_free(a, x);
		ck_assert_msg(r == -EINVAL || r == -EUCLEAN,
			      "free(%#llx) = %d", (unsigned long long)x, r);
	}
	ut_check(a);

	/* a scribbled page-map entry: detected, not followed */
	p = (uint32_t)((big - info.heap_offset) >> LM_PAGE_SHIFT);
	d = (struct lm_page *)((char *)shmk_arena_ptr(a, 0) +
			       ((struct lm_hdr *)shmk_arena_ptr(a, 0))->desc_off) + p;
	saved = d->tag;
	d->tag = 0xdead0000U | (saved & 0xffff);
	ck_assert_int_eq(shmk_free(a, big), -EUCLEAN);
	ck_assert_int_eq(shmk_arena_check(a, 0, msg, sizeof(msg)), -EUCLEAN);
	ck_assert(strlen(msg) > 0);
	d->tag = saved;
	ut_check(a);

	/* chunk bits past the last slot */
	p = (uint32_t)((off - info.heap_offset) >> LM_PAGE_SHIFT);
	bits = (uint64_t *)((char *)shmk_arena_ptr(a, 0) +
			    ((struct lm_hdr *)shmk_arena_ptr(a, 0))->bits_off) +
		(uint64_t)p * LM_BITS_WORDS;
	bits[3] |= 1ULL << 63;		/* class 64 has 64 slots: word 0 only */
	ck_assert_int_eq(shmk_arena_check(a, 0, msg, sizeof(msg)), -EUCLEAN);
	bits[3] &= ~(1ULL << 63);
	/* a buffer bit on a raw block: a raw free is refused */
	bits[4] |= 1;
	ck_assert_int_eq(shmk_free(a, off), -EINVAL);
	bits[4] &= ~1ULL;
	ck_ok(shmk_free(a, off));
	ck_ok(shmk_free(a, big));
	ut_check(a);
	ck_ok(shmk_arena_detach(a));
}
END_TEST

/* The heap lock's holder died: the next locker rebuilds the derived state. */
static int die_with_heap_lock(void *p)
{
	struct shmk_arena *a = ut_join(p);
	uint64_t off;

	shmk_alloc(a, 3 * LM_PAGE, 0, 0, &off);
	ut_check(a);
	/* die in the middle of a page allocation */
	shmk__crash_filter = "heap:taken";
	shmk__crash_after = 1;
	shmk_alloc(a, 5 * LM_PAGE, 0, 0, &off);
	return 1;
}

START_TEST(heap_lock_owner_died)
{
	char name[64];
	struct shmk_arena *a = ut_arena("hld", 2 * MB, 4096, name);
	struct shmk_alloc_stats st0, st;
	struct lm_hdr *h = shmk_arena_ptr(a, 0);
	uint32_t epoch = h->heap_epoch;
	uint64_t off;
	pid_t pid;

	ck_ok(shmk_alloc(a, 100, 0, 0, &off));	/* our chunk exists already */
	ck_ok(shmk_free(a, off));
	ck_ok(shmk_alloc_stats(a, &st0));
	pid = ut_spawn(die_with_heap_lock, name);
	ck_assert_int_eq(ut_reap(pid), 128 + SIGKILL);
	ck_assert(h->heap_lock.word != 0);	/* held, or marked dead */
	ck_ok(shmk_arena_events(a, NULL, 0));
	ck_ok(shmk_alloc(a, 100, 0, 0, &off));
	ck_assert_uint_gt(h->heap_epoch, epoch);	/* it was rebuilt */
	ck_ok(shmk_free(a, off));
	{
		struct shmk_event ev[8];
		uint64_t end = ut_now_ms() + 10000;

		/* the reclaim runs when we read the exit */
		do {
			shmk_arena_events(a, ev, 8);
			ck_ok(shmk_alloc_stats(a, &st));
		} while (st.used_bytes != st0.used_bytes && ut_now_ms() < end &&
			 poll(&(struct pollfd){ shmk_arena_event_fd(a), POLLIN, 0 },
			      1, 100) >= 0);
	}
	ck_assert_uint_eq(st.used_bytes, st0.used_bytes);
	ck_assert_uint_eq(st.free_page_bytes, st0.free_page_bytes);
	ut_check(a);
	ck_ok(shmk_arena_detach(a));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("alloc");
	TCase *tc = tcase_create("alloc");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, classes);
	tcase_add_test(tc, size_to_class);
	tcase_add_test(tc, basics);
	tcase_add_test(tc, placement);
	tcase_add_loop_test(tc, model_random, 0, 3);
	tcase_add_test(tc, reserve);
	tcase_add_test(tc, waiting_alloc);
	tcase_add_test(tc, multiprocess);
	tcase_add_test(tc, reclaim_dead);
	tcase_add_test(tc, detach_frees);
	tcase_add_test(tc, corruption);
	tcase_add_test(tc, heap_lock_owner_died);
	suite_add_tcase(s, tc);
	return ut_run(s);
}
