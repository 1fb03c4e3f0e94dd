// SPDX-License-Identifier: GPL-2.0
/*
 * Buffers through the public API, several processes: one buffer published
 * to many (refcount, no copy), copy on write in a receiver, references of
 * a dead member dropped exactly once (held, passed to it, passed by it).
 */
#include "common.h"

#define MB (1024 * 1024)
#define NSUB 4

static char name[64];

struct sub {
	int in, out;
};

static int subscriber(void *p)
{
	struct sub *s = p;
	struct shmk_arena *a;
	struct shmk_buf_info bi;
	uint64_t tok;
	shmk_ref_t r, r0;
	const void *d;
	void *w;
	size_t len;

	if (shmk_arena_attach(name, 0, &a))
		return 10;
	if (get64(s->in, &tok, 20000) || shmk_buf_accept(a, tok, &r))
		return 11;
	if (shmk_buf_data(a, r, &d, &len) || len != 10000 ||
	    memcmp(d, "payload", 8))
		return 12;
	if (shmk_buf_info(a, r, &bi) || bi.refcount < 2)
		return 13;
	put64(s->out, bi.data_offset);		/* same bytes as the sender's */
	r0 = r;
	if (shmk_buf_write(a, &r, &w, &len) || r == r0)
		return 14;
	memcpy(w, "mine!!!", 8);
	if (shmk_buf_push(a, &r, 16, &w))
		return 15;
	memset(w, 'H', 16);
	if (shmk_buf_drop(a, r))
		return 16;
	return shmk_arena_detach(a) ? 17 : 0;
}

static void test_publish(struct shmk_arena *a)
{
	struct shmk_alloc_stats st0, st;
	struct shmk_buf_info bi;
	struct sub s[NSUB];
	int in[NSUB][2], out[2], i, same = 1, ok = 1;
	shmk_ref_t r, c;
	uint64_t tok, v;
	pid_t pid[NSUB];
	const void *d;
	void *w;
	size_t len;
	char msg[200];

	shmk_alloc_stats(a, &st0);
	if (pipe(out))
		return;
	ok_eq(shmk_buf_create(a, 10000, 32, 0, 0, &r), 0, "create a buffer");
	shmk_buf_write(a, &r, &w, &len);
	memcpy(w, "payload", 8);
	shmk_buf_info(a, r, &bi);
	for (i = 0; i < NSUB; i++) {
		if (pipe(in[i]))
			return;
		s[i].in = in[i][0];
		s[i].out = out[1];
		pid[i] = spawn(subscriber, &s[i]);
		if (shmk_buf_clone(a, r, &c) || shmk_buf_pass(a, c, 0, &tok))
			ok = 0;
		put64(in[i][1], tok);
	}
	tap_ok(ok, "cloned and passed to %d processes", NSUB);
	for (i = 0; i < NSUB; i++)
		if (get64(out[0], &v, 20000) || v != bi.data_offset)
			same = 0;
	tap_ok(same, "every receiver sees the sender's bytes (no copy)");
	for (i = 0; i < NSUB; i++)
		if (reap(pid[i]))
			ok = 0;
	tap_ok(ok, "receivers wrote (copy on write), prepended, dropped");
	shmk_buf_data(a, r, &d, &len);
	ok_eq(memcmp(d, "payload", 8), 0, "the original is untouched");
	shmk_buf_info(a, r, &bi);
	ok_eq(bi.refcount, 1, "count back to 1");
	ok_eq(shmk_buf_drop(a, r), 0, "last drop");
	shmk_alloc_stats(a, &st);
	ok_eq(st.used_bytes, st0.used_bytes, "all storage freed");
	ok_eq(st.buffers, 0, "no buffer left");
	ok_eq(shmk_arena_check(a, SHMK_CHECK_REFS, msg, sizeof(msg)), 0,
	      "arena consistent");
	for (i = 0; i < NSUB; i++) {
		close(in[i][0]);
		close(in[i][1]);
	}
	close(out[0]);
	close(out[1]);
}

static int hoarder(void *p)
{
	struct sub *s = p;
	struct shmk_arena *a;
	struct shmk_arena_info info;
	shmk_ref_t r, own, sent, c;
	uint64_t tok, mine;

	if (shmk_arena_attach(name, 0, &a))
		return 10;
	shmk_arena_info(a, &info);
	put64(s->out, ((uint64_t)info.member_id << 32) | info.generation);
	if (get64(s->in, &tok, 20000) || shmk_buf_accept(a, tok, &r) ||
	    shmk_buf_clone(a, r, &c))
		return 11;
	if (shmk_buf_create(a, 3000, 0, 0, 0, &own) ||
	    shmk_buf_create(a, 70000, 0, 0, 0, &sent) ||
	    shmk_buf_pass(a, sent, 0, &mine))
		return 12;
	put64(s->out, mine);
	for (;;)
		pause();
}

static void test_dead_holder(struct shmk_arena *a)
{
	struct shmk_alloc_stats st0, st;
	struct shmk_buf_info bi;
	struct sub s;
	shmk_ref_t shared, c, lost, got;
	uint64_t idgen, theirs, tok, tok2;
	int in[2], out[2];
	pid_t pid;
	char msg[200];

	shmk_alloc_stats(a, &st0);
	if (pipe(in) || pipe(out))
		return;
	s.in = in[0];
	s.out = out[1];
	pid = spawn(hoarder, &s);
	get64(out[0], &idgen, 20000);
	shmk_buf_create(a, 500, 0, 0, 0, &shared);
	shmk_buf_clone(a, shared, &c);
	shmk_buf_pass(a, c, (uint32_t)(idgen >> 32), &tok);
	put64(in[1], tok);
	tap_ok(get64(out[0], &theirs, 20000) == 0, "holder set up");
	shmk_buf_create(a, 200, 0, 0, 0, &lost);
	shmk_buf_pass(a, lost, (uint32_t)(idgen >> 32), &tok2);
	shmk_buf_info(a, shared, &bi);
	ok_eq(bi.refcount, 3, "shared buffer: ours + 2 of the holder's");
	kill(pid, SIGKILL);
	reap(pid);
	ok_eq(wait_exit(a, (uint32_t)(idgen >> 32), (uint32_t)idgen, NULL,
			20000), 0, "holder's death reported");
	shmk_buf_info(a, shared, &bi);
	ok_eq(bi.refcount, 1, "its references were dropped exactly once");
	ok_eq(shmk_buf_accept(a, theirs, &got), -ESTALE,
	      "what it passed out (never accepted) went with it");
	ok_eq(shmk_buf_recall(a, tok2), -ESTALE,
	      "what we passed to it was taken back and dropped");
	ok_eq(shmk_buf_drop(a, shared), 0, "we drop ours");
	shmk_alloc_stats(a, &st);
	ok_eq(st.used_bytes, st0.used_bytes, "no storage leaked");
	ok_eq(st.buffers, 0, "no buffer left");
	ok_eq(shmk_arena_check(a, SHMK_CHECK_REFS, msg, sizeof(msg)), 0,
	      "arena consistent");
	close(in[0]);
	close(in[1]);
	close(out[0]);
	close(out[1]);
}

int main(void)
{
	struct shmk_arena_opts o;
	struct shmk_arena *a;

	watchdog(120);
	memset(&o, 0, sizeof(o));
	o.size = 4 * MB;
	mkname(name, sizeof(name), "t_buffers");
	if (!tap_ok(shmk_arena_create(name, &o, SHMK_OPEN_EXCL, &a) == 0,
		    "create arena"))
		return tap_done();
	test_publish(a);
	test_dead_holder(a);
	ok_eq(shmk_arena_detach(a), 0, "detach");
	return tap_done();
}
