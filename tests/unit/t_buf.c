// SPDX-License-Identifier: GPL-2.0
/*
 * Buffers: create, clone, copy on write, headroom, growth policy, pass /
 * accept / recall, holdings limit, several processes, reclaim of a dead
 * holder's references, corruption.
 */
#include "unit.h"

#include <pthread.h>
#include <sched.h>

#define MB (1024 * 1024)

static void baseline(struct shmk_arena *a, struct shmk_alloc_stats *st)
{
	ck_ok(shmk_alloc_stats(a, st));
}

static void back_to(struct shmk_arena *a, const struct shmk_alloc_stats *st0)
{
	struct shmk_alloc_stats st;

	ck_ok(shmk_alloc_stats(a, &st));
	ck_assert_uint_eq(st.used_bytes, st0->used_bytes);
	ck_assert_uint_eq(st.buffers, st0->buffers);
	ut_check(a);
}

static uint32_t rc_of(struct shmk_arena *a, shmk_ref_t r)
{
	struct shmk_buf_info bi;

	ck_ok(shmk_buf_info(a, r, &bi));
	return bi.refcount;
}

START_TEST(create_drop)
{
	char name[64];
	struct shmk_arena *a = ut_arena("bcreate", 2 * MB, 0, name);
	struct shmk_alloc_stats st0;
	struct shmk_buf_info bi;
	const void *d;
	size_t len, i;
	shmk_ref_t r, r2;

	baseline(a, &st0);
	ck_ok(shmk_buf_create(a, 100, 0, SHMK_ALLOC_ZERO, 0, &r));
	ck_assert_uint_ne(r, 0);
	ck_ok(shmk_buf_data(a, r, &d, &len));
	ck_assert_uint_eq(len, 100);
	for (i = 0; i < len; i++)
		ck_assert_uint_eq(((const uint8_t *)d)[i], 0);
	ck_ok(shmk_buf_info(a, r, &bi));
	ck_assert_uint_eq(bi.refcount, 1);
	ck_assert_uint_eq(bi.headroom, 0);
	ck_assert_uint_eq(bi.len, 100);
	ck_assert_ptr_eq(shmk_arena_ptr(a, bi.data_offset), d);
	ck_assert_int_eq(shmk_free(a, bi.offset), -EINVAL);	/* not raw */
	ck_ok(shmk_buf_create(a, 40, 32, 0, 0, &r2));
	ck_ok(shmk_buf_info(a, r2, &bi));
	ck_assert_uint_eq(bi.headroom, 32);
	ck_ok(shmk_buf_drop(a, r));
	ck_assert_int_eq(shmk_buf_drop(a, r), -EINVAL);
	ck_assert_int_eq(shmk_buf_data(a, r, &d, &len), -EINVAL);
	ck_assert_int_eq(shmk_buf_data(a, 0, &d, &len), -EINVAL);
	ck_assert_int_eq(shmk_buf_data(a, 100000, &d, &len), -EINVAL);
	ck_ok(shmk_buf_drop(a, r2));
	/* a large one */
	ck_ok(shmk_buf_create(a, 100000, 64, 0, 0, &r));
	ck_ok(shmk_buf_info(a, r, &bi));
	ck_assert_uint_eq(bi.offset % LM_PAGE, 0);
	ck_ok(shmk_buf_drop(a, r));
	back_to(a, &st0);
	ck_ok(shmk_arena_detach(a));
}
END_TEST

START_TEST(clone_cow)
{
	char name[64];
	struct shmk_arena *a = ut_arena("bcow", 2 * MB, 0, name);
	struct shmk_alloc_stats st0;
	shmk_ref_t r, c, c0;
	const void *d1, *d2;
	void *w;
	size_t len;

	baseline(a, &st0);
	ck_ok(shmk_buf_create(a, 6, 0, 0, 0, &r));
	ck_ok(shmk_buf_write(a, &r, &w, &len));
	memcpy(w, "hello", 6);
	ck_ok(shmk_buf_clone(a, r, &c));
	ck_assert_uint_ne(c, r);
	ck_ok(shmk_buf_data(a, r, &d1, &len));
	ck_ok(shmk_buf_data(a, c, &d2, &len));
	ck_assert_ptr_eq(d1, d2);		/* no copy */
	ck_assert_uint_eq(rc_of(a, r), 2);
	c0 = c;
	ck_ok(shmk_buf_write(a, &c, &w, &len));	/* shared: copies */
	ck_assert_uint_ne(c, c0);
	ck_assert_ptr_ne(w, d1);
	ck_assert_str_eq(w, "hello");
	memcpy(w, "HELLO", 6);
	ck_ok(shmk_buf_data(a, r, &d1, &len));
	ck_assert_str_eq(d1, "hello");
	ck_assert_uint_eq(rc_of(a, r), 1);
	ck_assert_uint_eq(rc_of(a, c), 1);
	/* exclusive: in place */
	ck_ok(shmk_buf_write(a, &r, &w, &len));
	ck_assert_ptr_eq(w, d1);
	ck_ok(shmk_buf_drop(a, r));
	ck_ok(shmk_buf_drop(a, c));
	back_to(a, &st0);
	ck_ok(shmk_arena_detach(a));
}
END_TEST

START_TEST(headroom)
{
	char name[64];
	struct shmk_arena *a = ut_arena("bhead", 2 * MB, 0, name);
	struct shmk_alloc_stats st0;
	struct shmk_buf_info bi, b0;
	shmk_ref_t r, c;
	const void *d;
	void *p;
	size_t len;

	baseline(a, &st0);
	ck_ok(shmk_buf_create(a, 64, 16, 0, 0, &r));
	ck_ok(shmk_buf_write(a, &r, &p, &len));
	memset(p, 'd', 64);
	ck_ok(shmk_buf_info(a, r, &b0));
	ck_ok(shmk_buf_push(a, &r, 8, &p));
	memset(p, 'h', 8);
	ck_ok(shmk_buf_info(a, r, &bi));
	ck_assert_uint_eq(bi.offset, b0.offset);	/* no move */
	ck_assert_uint_eq(bi.data_offset, b0.data_offset - 8);
	ck_assert_uint_eq(bi.len, 72);
	ck_assert_uint_eq(bi.headroom, 8);
	ck_ok(shmk_buf_push(a, &r, 8, &p));
	memset(p, 'h', 8);
	ck_ok(shmk_buf_info(a, r, &bi));
	ck_assert_uint_eq(bi.offset, b0.offset);
	ck_assert_uint_eq(bi.headroom, 0);
	/* no room left: copied, contents kept */
	ck_ok(shmk_buf_push(a, &r, 4, &p));
	memset(p, 'x', 4);
	ck_ok(shmk_buf_info(a, r, &bi));
	ck_assert_uint_ne(bi.offset, b0.offset);
	ck_assert_uint_eq(bi.len, 84);
	ck_ok(shmk_buf_data(a, r, &d, &len));
	ck_assert(!memcmp(d, "xxxxhhhhhhhhhhhhhhhhdddd", 24));
	/* pull: strip the header again */
	ck_ok(shmk_buf_pull(a, &r, 20));
	ck_ok(shmk_buf_data(a, r, &d, &len));
	ck_assert_uint_eq(len, 64);
	ck_assert_uint_eq(((const char *)d)[0], 'd');
	ck_assert_int_eq(shmk_buf_pull(a, &r, 65), -EINVAL);
	/* pushing on a shared buffer copies */
	ck_ok(shmk_buf_clone(a, r, &c));
	ck_ok(shmk_buf_info(a, r, &b0));
	ck_ok(shmk_buf_push(a, &c, 2, &p));
	ck_ok(shmk_buf_info(a, c, &bi));
	ck_assert_uint_ne(bi.offset, b0.offset);
	ck_ok(shmk_buf_info(a, r, &bi));
	ck_assert_uint_eq(bi.len, 64);		/* the original did not move */
	ck_ok(shmk_buf_trim(a, &r, 10));
	ck_ok(shmk_buf_data(a, r, &d, &len));
	ck_assert_uint_eq(len, 10);
	ck_assert_int_eq(shmk_buf_trim(a, &r, 11), -EINVAL);
	ck_ok(shmk_buf_drop(a, r));
	ck_ok(shmk_buf_drop(a, c));
	back_to(a, &st0);
	ck_ok(shmk_arena_detach(a));
}
END_TEST

/* Growth policy: under 128 B 256, under 64 KiB size + 256, else + 512. */
START_TEST(growth)
{
	char name[64];
	struct shmk_arena *a = ut_arena("bgrow", 4 * MB, 0, name);
	struct shmk_alloc_stats st0;
	struct shmk_buf_info bi, b0;
	shmk_ref_t r;
	void *p;
	static const struct { size_t from, add, want; } cases[] = {
		{ 10, 50, 256 },
		{ 100, 27, 256 },
		{ 100, 28, 128 + 256 },
		{ 900, 100, 1000 + 256 },
		{ 60000, 5535, 65535 + 256 },
		{ 60000, 5536, 65536 + 512 },
		{ 100000, 1, 100001 + 512 },
	};
	unsigned int i;

	baseline(a, &st0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_ok(shmk_buf_create(a, cases[i].from, 0, 0, 0, &r));
		ck_ok(shmk_buf_info(a, r, &b0));
		/* fill the creation slack first so the append must grow */
		if (b0.tailroom)
			ck_ok(shmk_buf_put(a, &r, b0.tailroom, &p));
		ck_ok(shmk_buf_info(a, r, &bi));
		ck_assert_uint_eq(bi.offset, b0.offset);
		ck_assert_uint_eq(bi.tailroom, 0);
		ck_ok(shmk_buf_trim(a, &r, cases[i].from));
		ck_ok(shmk_buf_put(a, &r, b0.tailroom + 1, &p));
		ck_ok(shmk_buf_trim(a, &r, cases[i].from));
		ck_ok(shmk_buf_put(a, &r, cases[i].add, &p));
		ck_ok(shmk_buf_info(a, r, &bi));
		ck_assert_uint_eq(bi.len, cases[i].from + cases[i].add);
		ck_assert_msg(bi.len + bi.tailroom >= cases[i].want,
			      "case %u: capacity %llu < %zu", i,
			      (unsigned long long)(bi.len + bi.tailroom),
			      cases[i].want);
		ck_ok(shmk_buf_drop(a, r));
	}
	/* the exact figure where the block size allows it: 256 for 60 B */
	ck_ok(shmk_buf_create(a, 10, 0, 0, 0, &r));
	ck_ok(shmk_buf_info(a, r, &b0));
	ck_ok(shmk_buf_put(a, &r, b0.tailroom + 50, &p));
	ck_ok(shmk_buf_info(a, r, &bi));
	ck_assert_uint_eq(bi.len + bi.tailroom, 256);
	ck_ok(shmk_buf_drop(a, r));
	back_to(a, &st0);
	ck_ok(shmk_arena_detach(a));
}
END_TEST

START_TEST(pass_local)
{
	char name[64];
	struct shmk_arena *a = ut_arena("bpass", 2 * MB, 0, name);
	struct shmk_alloc_stats st0;
	struct shmk_buf_info b0, bi;
	uint64_t tok, tok2;
	shmk_ref_t r, got;
	const void *d;
	size_t len;

	baseline(a, &st0);
	ck_ok(shmk_buf_create(a, 50, 0, 0, 0, &r));
	ck_ok(shmk_buf_info(a, r, &b0));
	ck_ok(shmk_buf_pass(a, r, 0, &tok));
	ck_assert_int_eq(shmk_buf_data(a, r, &d, &len), -EINVAL);  /* gone */
	ck_ok(shmk_buf_accept(a, tok, &got));
	ck_ok(shmk_buf_info(a, got, &bi));
	ck_assert_uint_eq(bi.offset, b0.offset);
	ck_assert_uint_eq(bi.refcount, 1);
	ck_assert_int_eq(shmk_buf_accept(a, tok, &r), -ESTALE);
	ck_assert_int_eq(shmk_buf_recall(a, tok), -ESTALE);
	/* passed to someone else: not ours to accept */
	ck_ok(shmk_buf_pass(a, got, 5, &tok2));
	ck_assert_int_eq(shmk_buf_accept(a, tok2, &r), -ESTALE);
	ck_ok(shmk_buf_recall(a, tok2));	/* taken back and dropped */
	ck_assert_int_eq(shmk_buf_accept(a, tok2, &r), -ESTALE);
	ck_assert_int_eq(shmk_buf_accept(a, 0, &r), -EINVAL);
	ck_assert_int_eq(shmk_buf_accept(a, ~0ULL, &r), -EINVAL);
	back_to(a, &st0);
	ck_ok(shmk_arena_detach(a));
}
END_TEST

START_TEST(holdings_limit)
{
	char name[64];
	struct shmk_arena *a = ut_arena("blimit", 2 * MB, 0, name);
	struct shmk_alloc_stats st0;
	shmk_ref_t r[200];
	int i;

	baseline(a, &st0);
	ck_ok(shmk_buf_create(a, 10, 0, 0, 0, &r[0]));
	for (i = 1; i < 128; i++)
		ck_ok(shmk_buf_clone(a, r[0], &r[i]));
	ck_assert_uint_eq(rc_of(a, r[0]), 128);
	ck_assert_int_eq(shmk_buf_clone(a, r[0], &r[128]), -ENOBUFS);
	ck_assert_int_eq(shmk_buf_create(a, 10, 0, 0, 0, &r[128]), -ENOBUFS);
	ut_check(a);
	for (i = 0; i < 128; i++)
		ck_ok(shmk_buf_drop(a, r[i]));
	back_to(a, &st0);
	ck_ok(shmk_arena_detach(a));
}
END_TEST

/* ---- several processes ----------------------------------------------------- */

struct sub_args {
	const char *name;
	int in, out;
};

/* Accept a token, check the data, write (copies), drop, report. */
static int subscriber(void *p)
{
	struct sub_args *s = p;
	struct shmk_arena *a = ut_join(s->name);
	struct shmk_buf_info bi;
	uint64_t tok;
	shmk_ref_t r, r0;
	const void *d;
	void *w;
	size_t len;

	if (ut_get(s->in, &tok, 20000))
		return 10;
	if (shmk_buf_accept(a, tok, &r))
		return 11;
	if (shmk_buf_data(a, r, &d, &len) || len != 4096 ||
	    memcmp(d, "publish", 8))
		return 12;
	shmk_buf_info(a, r, &bi);
	if (bi.refcount < 2)
		return 13;
	r0 = r;
	if (shmk_buf_write(a, &r, &w, &len) || r == r0)
		return 14;			/* shared: must copy */
	memcpy(w, "private", 8);
	if (shmk_buf_data(a, r, &d, &len) || memcmp(d, "private", 8))
		return 15;
	if (shmk_buf_drop(a, r))
		return 16;
	ut_put(s->out, 1);
	return shmk_arena_detach(a) ? 17 : 0;
}

START_TEST(publish_many)
{
	char name[64];
	struct shmk_arena *a = ut_arena("bpub", 4 * MB, 0, name);
	struct shmk_alloc_stats st0;
	struct sub_args s[4];
	shmk_ref_t r, c[4];
	int in[4][2], out[2], i;
	uint64_t tok, v;
	pid_t pid[4];
	const void *d;
	void *w;
	size_t len;

	baseline(a, &st0);
	ck_assert(pipe(out) == 0);
	ck_ok(shmk_buf_create(a, 4096, 0, 0, 0, &r));
	ck_ok(shmk_buf_write(a, &r, &w, &len));
	memcpy(w, "publish", 8);
	for (i = 0; i < 4; i++) {
		ck_assert(pipe(in[i]) == 0);
		s[i].name = name;
		s[i].in = in[i][0];
		s[i].out = out[1];
		pid[i] = ut_spawn(subscriber, &s[i]);
		ck_ok(shmk_buf_clone(a, r, &c[i]));
		ck_ok(shmk_buf_pass(a, c[i], 0, &tok));
		ut_put(in[i][1], tok);
	}
	for (i = 0; i < 4; i++)
		ck_ok(ut_get(out[0], &v, 20000));
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(ut_reap(pid[i]), 0);
	ck_ok(shmk_buf_data(a, r, &d, &len));
	ck_assert_str_eq(d, "publish");		/* nobody wrote into ours */
	ck_assert_uint_eq(rc_of(a, r), 1);
	ck_ok(shmk_buf_drop(a, r));
	back_to(a, &st0);
	ck_ok(shmk_arena_detach(a));
}
END_TEST

/*
 * A member dies holding: a buffer only it holds, one shared with us, one
 * it passed to us (not accepted), one we passed to it (not accepted).
 */
static int hoarder(void *p)
{
	struct sub_args *s = p;
	struct shmk_arena *a = ut_join(s->name);
	struct shmk_arena_info info;
	uint64_t tok, mine;
	shmk_ref_t r, own, sent;

	if (ut_get(s->in, &tok, 20000) || shmk_buf_accept(a, tok, &r))
		return 10;			/* shared with the parent */
	if (shmk_buf_create(a, 3000, 0, 0, 0, &own) ||
	    shmk_buf_create(a, 70000, 0, 0, 0, &sent) ||
	    shmk_buf_pass(a, sent, 0, &mine))
		return 11;
	if (shmk_alloc(a, 5000, 0, 0, &tok))	/* and a raw block */
		return 12;
	shmk_arena_info(a, &info);
	ut_put(s->out, ((uint64_t)info.member_id << 32) | info.generation);
	ut_put(s->out, mine);
	for (;;)
		pause();
}

START_TEST(reclaim_refs)
{
	char name[64];
	struct shmk_arena *a = ut_arena("breclaim", 4 * MB, 0, name);
	struct shmk_alloc_stats st0;
	struct sub_args s;
	shmk_ref_t shared, c, lost, got;
	uint64_t tok, idgen, theirs, tok2;
	int in[2], out[2];
	pid_t pid;

	baseline(a, &st0);
	ck_assert(pipe(in) == 0 && pipe(out) == 0);
	ck_ok(shmk_buf_create(a, 500, 0, 0, 0, &shared));
	ck_ok(shmk_buf_clone(a, shared, &c));
	ck_ok(shmk_buf_pass(a, c, 0, &tok));
	s.name = name;
	s.in = in[0];
	s.out = out[1];
	pid = ut_spawn(hoarder, &s);
	ut_put(in[1], tok);
	ck_ok(ut_get(out[0], &idgen, 20000));
	ck_ok(ut_get(out[0], &theirs, 20000));
	/* one for it, never accepted */
	ck_ok(shmk_buf_create(a, 200, 0, 0, 0, &lost));
	ck_ok(shmk_buf_pass(a, lost, (uint32_t)(idgen >> 32), &tok2));
	ck_assert_uint_eq(rc_of(a, shared), 2);
	kill(pid, SIGKILL);
	ck_assert_int_eq(ut_reap(pid), 128 + SIGKILL);
	ck_ok(ut_wait_exit(a, (uint32_t)(idgen >> 32), (uint32_t)idgen, NULL,
			   20000));
	ck_assert_uint_eq(rc_of(a, shared), 1);
	ck_assert_int_eq(shmk_buf_accept(a, theirs, &got), -ESTALE);
	ck_assert_int_eq(shmk_buf_recall(a, tok2), -ESTALE);	/* dropped */
	ck_ok(shmk_buf_drop(a, shared));
	back_to(a, &st0);
	ck_ok(shmk_arena_detach(a));
}
END_TEST

START_TEST(buf_corruption)
{
	char name[64], msg[200];
	struct shmk_arena *a = ut_arena("bbad", 2 * MB, 0, name);
	struct shmk_buf_info bi;
	struct lm_buf *b;
	shmk_ref_t r, c;
	const void *d;
	size_t len;
	uint32_t saved;
	uint64_t h;

	ck_ok(shmk_buf_create(a, 100, 0, 0, 0, &r));
	ck_ok(shmk_buf_info(a, r, &bi));
	b = shmk_arena_ptr(a, bi.offset);
	saved = b->lock.spare;
	b->lock.spare = 0x12345678;
	ck_assert_int_eq(shmk_buf_data(a, r, &d, &len), -EUCLEAN);
	ck_assert_int_eq(shmk_buf_clone(a, r, &c), -EUCLEAN);
	ck_assert_int_eq(shmk_arena_check(a, 0, msg, sizeof(msg)), -EUCLEAN);
	b->lock.spare = saved;
	h = b->head;
	b->head = 1ULL << 40;
	ck_assert_int_eq(shmk_buf_data(a, r, &d, &len), -EUCLEAN);
	b->head = h;
	b->rc = 7;
	ck_assert_int_eq(shmk_arena_check(a, SHMK_CHECK_REFS, msg, sizeof(msg)),
			 -EUCLEAN);
	ck_assert(strstr(msg, "count 7") != NULL);
	b->rc = 1;
	ut_check(a);
	ck_ok(shmk_buf_drop(a, r));
	ck_ok(shmk_arena_detach(a));
}
END_TEST

/*
 * A signal while shmk_buf_drop() waits for the buffer's lock (held by
 * another thread here): the drop still happens. It used to return -EINTR
 * with the reference emptied and the count never lowered, so the buffer
 * leaked.
 */
static struct {
	struct shmk_arena *a;
	shmk_ref_t r;
	int rc;
	pid_t tid;
	volatile sig_atomic_t got;
} de;

static void de_handler(int sig)
{
	(void)sig;
	de.got = 1;
}

static void *de_dropper(void *arg)
{
	(void)arg;
	__atomic_store_n(&de.tid, gettid(), __ATOMIC_RELEASE);
	de.rc = shmk_buf_drop(de.a, de.r);
	return NULL;
}

/* Is thread @tid asleep in futex(2)? From /proc, not from timing. */
static bool in_futex(pid_t tid)
{
	char path[64], buf[64] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	return strncmp(buf, "202 ", 4) == 0;	/* SYS_futex on x86-64 */
}

START_TEST(drop_signal)
{
	char name[64];
	struct shmk_arena *a = ut_arena("bsig", 2 * MB, 0, name);
	struct sigaction sa = { .sa_handler = de_handler }, old;
	struct shmk_alloc_stats st0;
	struct shmk_buf_info bi;
	struct lm_lock *l;
	pthread_t t;
	pid_t tid;

	baseline(a, &st0);
	ck_ok(shmk_buf_create(a, 100, 0, 0, 0, &de.r));
	ck_ok(shmk_buf_info(a, de.r, &bi));
	l = shmk_arena_ptr(a, bi.offset);
	de.a = a;
	de.got = 0;
	de.tid = 0;
	ck_ok(sigaction(SIGUSR1, &sa, &old));	/* no SA_RESTART */
	ck_ok(lm_lock_acquire(a, bi.offset, NULL));
	ck_ok(pthread_create(&t, NULL, de_dropper, NULL));
	while (!(tid = __atomic_load_n(&de.tid, __ATOMIC_ACQUIRE)))
		sched_yield();
	/* it sleeps on the lock: waiters flagged, and in the futex call */
	while (!(__atomic_load_n(&l->word, __ATOMIC_ACQUIRE) &
		 SHMK_LOCK_WAITERS) || !in_futex(tid))
		sched_yield();
	ck_ok(pthread_kill(t, SIGUSR1));
	while (!de.got)
		sched_yield();
	ck_ok(lm_lock_release(a, bi.offset));
	ck_ok(pthread_join(t, NULL));
	sigaction(SIGUSR1, &old, NULL);
	ck_assert_int_eq(de.rc, 0);
	back_to(a, &st0);
	ck_ok(shmk_arena_detach(a));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("buf");
	TCase *tc = tcase_create("buf");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, create_drop);
	tcase_add_test(tc, clone_cow);
	tcase_add_test(tc, headroom);
	tcase_add_test(tc, growth);
	tcase_add_test(tc, pass_local);
	tcase_add_test(tc, holdings_limit);
	tcase_add_test(tc, publish_many);
	tcase_add_test(tc, reclaim_refs);
	tcase_add_test(tc, buf_corruption);
	tcase_add_test(tc, drop_signal);
	suite_add_tcase(s, tc);
	return ut_run(s);
}
