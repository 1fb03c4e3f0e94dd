// SPDX-License-Identifier: GPL-2.0
/*
 * Concurrent cases inside one process, built twice: with ASan+UBSan
 * (t_threads) and with TSan (t_threads_tsan). Threads share one member
 * (one handle) or act as two members of the same arena.
 */
#include "unit.h"

#include <poll.h>
#include <pthread.h>

#define MB (1024 * 1024)
#define NT 4

struct targ {
	struct shmk_arena *a, *b;
	int idx;
	int iters;
	uint64_t lock, counter;
	shmk_ref_t ref;
	int fail;
};

static uint64_t xs(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Threads of one member allocate, fill, check and free at random. */
static void *alloc_worker(void *p)
{
	struct targ *t = p;
	uint64_t off[64], tag[64], sz[64], seed = 77 + (uint64_t)t->idx;
	int n = 0, k, i;

	for (k = 0; k < t->iters; k++) {
		if (n < 64 && (n == 0 || xs(&seed) % 2)) {
			uint64_t s = 1 + xs(&seed) % (xs(&seed) % 8 ? 512 : 9000);

			if (shmk_alloc(t->a, s, 0, 0, &off[n]))
				continue;
			tag[n] = xs(&seed);
			sz[n] = s;
			memset(shmk_arena_ptr(t->a, off[n]), (int)(tag[n] & 0xff), s);
			n++;
		} else {
			uint8_t *q;

			i = (int)(xs(&seed) % (uint64_t)n);
			q = shmk_arena_ptr(t->a, off[i]);
			if (q[0] != (tag[i] & 0xff) || q[sz[i] - 1] != (tag[i] & 0xff))
				t->fail = 1;
			if (shmk_free(t->a, off[i]))
				t->fail = 2;
			off[i] = off[--n];
			tag[i] = tag[n];
			sz[i] = sz[n];
		}
	}
	while (n--)
		if (shmk_free(t->a, off[n]))
			t->fail = 3;
	return NULL;
}

static void run_threads(void *(*fn)(void *), struct targ *t)
{
	pthread_t th[NT];
	int i;

	for (i = 0; i < NT; i++)
		ck_assert(pthread_create(&th[i], NULL, fn, &t[i]) == 0);
	for (i = 0; i < NT; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < NT; i++)
		ck_assert_msg(t[i].fail == 0, "thread %d failed: %d", i,
			      t[i].fail);
}

START_TEST(threads_alloc)
{
	char name[64];
	struct shmk_arena *a = ut_arena("thr", 8 * MB, 0, name);
	struct shmk_alloc_stats st;
	struct targ t[NT];
	int i;

	memset(t, 0, sizeof(t));
	for (i = 0; i < NT; i++) {
		t[i].a = a;
		t[i].idx = i;
		t[i].iters = ut_scale(20000);
	}
	run_threads(alloc_worker, t);
	ck_ok(shmk_alloc_stats(a, &st));
	ck_assert_uint_eq(st.used_bytes, 0);
	ut_check(a);
	ck_ok(shmk_arena_detach(a));
}
END_TEST

/* Two members in one process: each frees what the other allocated. */
static void *cross_worker(void *p)
{
	struct targ *t = p;
	uint64_t seed = 5 + (uint64_t)t->idx, off;
	int k;

	for (k = 0; k < t->iters; k++) {
		struct shmk_arena *mine = (k & 1) ? t->a : t->b;
		struct shmk_arena *other = (k & 1) ? t->b : t->a;

		if (shmk_alloc(mine, 1 + xs(&seed) % 3000, 0, 0, &off)) {
			t->fail = 1;
			continue;
		}
		if (shmk_free(other, off))
			t->fail = 2;
	}
	return NULL;
}

START_TEST(threads_two_members)
{
	char name[64];
	struct shmk_arena *a = ut_arena("thr2", 8 * MB, 0, name), *b;
	struct shmk_alloc_stats st;
	struct targ t[NT];
	int i;

	ck_ok(shmk_arena_attach(name, 0, &b));
	memset(t, 0, sizeof(t));
	for (i = 0; i < NT; i++) {
		t[i].a = a;
		t[i].b = b;
		t[i].idx = i;
		t[i].iters = ut_scale(20000);
	}
	run_threads(cross_worker, t);
	ck_ok(shmk_alloc_stats(a, &st));
	ck_assert_uint_eq(st.used_bytes, 0);
	ut_check(a);
	ck_ok(shmk_arena_detach(b));
	ck_ok(shmk_arena_detach(a));
}
END_TEST

/* Clone and drop one buffer from many threads: the count comes back. */
static void *clone_worker(void *p)
{
	struct targ *t = p;
	shmk_ref_t r[16];
	int k, i;

	for (k = 0; k < t->iters; k++) {
		for (i = 0; i < 16; i++)
			if (shmk_buf_clone(t->a, t->ref, &r[i]))
				t->fail = 1;
		for (i = 0; i < 16; i++)
			if (shmk_buf_drop(t->a, r[i]))
				t->fail = 2;
	}
	return NULL;
}

START_TEST(threads_buffers)
{
	char name[64];
	struct shmk_arena *a = ut_arena("thrbuf", 8 * MB, 0, name);
	struct shmk_buf_info bi;
	struct targ t[NT];
	shmk_ref_t r;
	int i;

	ck_ok(shmk_buf_create(a, 1000, 0, 0, 0, &r));
	memset(t, 0, sizeof(t));
	for (i = 0; i < NT; i++) {
		t[i].a = a;
		t[i].ref = r;
		t[i].iters = ut_scale(500);
	}
	run_threads(clone_worker, t);
	ck_ok(shmk_buf_info(a, r, &bi));
	ck_assert_uint_eq(bi.refcount, 1);
	ut_check(a);
	ck_ok(shmk_buf_drop(a, r));
	ck_ok(shmk_arena_detach(a));
}
END_TEST

/* Threads of one member contend for one arena lock. */
static void *lock_worker(void *p)
{
	struct targ *t = p;
	uint64_t *ctr = shmk_arena_ptr(t->a, t->counter), v;
	int k;

	for (k = 0; k < t->iters; k++) {
		if (shmk_lock_acquire(t->a, t->lock, -1)) {
			t->fail = 1;
			return NULL;
		}
		v = __atomic_load_n(ctr, __ATOMIC_RELAXED);
		if (k % 16 == 0)
			sched_yield();
		__atomic_store_n(ctr, v + 1, __ATOMIC_RELAXED);
		if (shmk_lock_release(t->a, t->lock))
			t->fail = 2;
	}
	return NULL;
}

START_TEST(threads_lock)
{
	char name[64];
	struct shmk_arena *a = ut_arena("thrlock", 2 * MB, 0, name);
	struct targ t[NT];
	uint64_t lk, ctr;
	int i;

	ck_ok(shmk_alloc(a, 16, SHMK_ALLOC_ZERO, 0, &lk));
	ck_ok(shmk_alloc(a, 8, SHMK_ALLOC_ZERO, 0, &ctr));
	memset(t, 0, sizeof(t));
	for (i = 0; i < NT; i++) {
		t[i].a = a;
		t[i].lock = lk;
		t[i].counter = ctr;
		t[i].iters = ut_scale(5000);
	}
	run_threads(lock_worker, t);
	ck_assert_uint_eq(*(uint64_t *)shmk_arena_ptr(a, ctr),
			  (uint64_t)NT * (uint64_t)t[0].iters);
	ck_ok(shmk_free(a, lk));
	ck_ok(shmk_free(a, ctr));
	ck_ok(shmk_arena_detach(a));
}
END_TEST

#ifndef __SANITIZE_THREAD__	/* see main() */
/* Events read by one thread (reclaiming a dead member) while others work. */
static int dies(void *p)
{
	struct shmk_arena *a = ut_join(p);
	uint64_t off;
	shmk_ref_t r;
	int i;

	for (i = 0; i < 50; i++)
		shmk_alloc(a, 100 + (uint64_t)i * 10, 0, 0, &off);
	shmk_buf_create(a, 3000, 0, 0, 0, &r);
	raise(SIGKILL);
	return 1;
}

START_TEST(threads_events)
{
	char name[64];
	struct shmk_arena *a = ut_arena("threv", 8 * MB, 0, name);
	struct shmk_alloc_stats st;
	struct shmk_event ev[8];
	struct targ t[NT];
	pthread_t th[NT];
	int i, k, deaths = 0;
	uint64_t end;

	memset(t, 0, sizeof(t));
	for (i = 0; i < NT; i++) {
		t[i].a = a;
		t[i].idx = i;
		t[i].iters = ut_scale(20000);
		ck_assert(pthread_create(&th[i], NULL, alloc_worker, &t[i]) == 0);
	}
	for (k = 0; k < 3; k++)
		ck_assert_int_eq(ut_reap(ut_spawn(dies, name)), 128 + SIGKILL);
	end = ut_now_ms() + 20000;
	while (deaths < 3 && ut_now_ms() < end) {
		int n = shmk_arena_events(a, ev, 8);

		for (i = 0; i < n; i++)
			deaths += ev[i].type == SHMK_EVENT_EXIT;
		if (!n)
			poll(&(struct pollfd){ shmk_arena_event_fd(a), POLLIN, 0 },
			     1, 1000);
	}
	for (i = 0; i < NT; i++)
		pthread_join(th[i], NULL);
	ck_assert_int_eq(deaths, 3);
	for (i = 0; i < NT; i++)
		ck_assert_int_eq(t[i].fail, 0);
	ck_ok(shmk_alloc_stats(a, &st));
	ck_assert_uint_eq(st.used_bytes, 0);
	ut_check(a);
	ck_ok(shmk_arena_detach(a));
}
END_TEST
#endif

int main(void)
{
	Suite *s = suite_create("threads");
	TCase *tc = tcase_create("threads");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, threads_alloc);
	tcase_add_test(tc, threads_two_members);
	tcase_add_test(tc, threads_buffers);
	tcase_add_test(tc, threads_lock);
#ifndef __SANITIZE_THREAD__
	/*
	 * Not in the TSan build: here a block moves from a worker thread to a
	 * forked child (freed, reallocated as the child's buffer) and back to
	 * the reclaiming main thread. The order is set by atomics the child
	 * executes in another process, which TSan cannot see, so it reports
	 * the worker's old memset against the reclaimer's header read. The
	 * ASan/UBSan build runs this case.
	 */
	tcase_add_test(tc, threads_events);
#endif
	suite_add_tcase(s, tc);
	return ut_run(s);
}
