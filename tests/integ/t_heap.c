// SPDX-License-Identifier: GPL-2.0
/*
 * The allocator through the public API, several processes: concurrent
 * alloc/free with blocks freed by other members, a dead member's blocks
 * reclaimed, allocation waiting for memory woken by a free, the reserve.
 */
#include "common.h"

#include <fcntl.h>

#define MB (1024 * 1024)
#define NPROC 4

static char name[64];
static uint64_t barrier;

static uint64_t xs(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void fill(struct shmk_arena *a, uint64_t off, uint64_t n, uint64_t tag)
{
	uint64_t *p = shmk_arena_ptr(a, off), i;

	for (i = 0; i < n / 8; i++)
		p[i] = tag + i;
}

static int same(struct shmk_arena *a, uint64_t off, uint64_t n, uint64_t tag)
{
	uint64_t *p = shmk_arena_ptr(a, off), i;

	for (i = 0; i < n / 8; i++)
		if (p[i] != tag + i)
			return 0;
	return 1;
}

struct worker {
	int idx, to, from;
};

/* Random alloc/free; every 4th block goes to the next process to free. */
static int worker(void *p)
{
	struct worker *w = p;
	struct shmk_arena *a;
	uint64_t off[128], tag[128], sz[128], seed = 99 + (uint64_t)w->idx;
	uint64_t v, s, t, x;
	uint32_t *bar;
	int n = 0, k, i, r, prev_done = 0;

	if (shmk_arena_attach(name, 0, &a))
		return 10;
	for (k = 0; k < 6000; k++) {
		if (n < 128 && (n == 0 || xs(&seed) % 2)) {
			s = 8 + xs(&seed) % (xs(&seed) % 10 ? 700 : 12000);
			r = shmk_alloc(a, s, 0, 0, &off[n]);
			if (r == -ENOMEM)
				continue;
			if (r)
				return 11;
			tag[n] = xs(&seed);
			sz[n] = s;
			fill(a, off[n], s, tag[n]);
			n++;
		} else {
			i = (int)(xs(&seed) % (uint64_t)n);
			if (!same(a, off[i], sz[i], tag[i]))
				return 12;
			if (k % 4 == 0) {
				put64(w->to, off[i]);
				put64(w->to, sz[i]);
				put64(w->to, tag[i]);
			} else if (shmk_free(a, off[i])) {
				return 13;
			}
			off[i] = off[--n];
			tag[i] = tag[n];
			sz[i] = sz[n];
		}
		while (!prev_done && get64(w->from, &v, 0) == 0) {
			if (v == ~0ULL) {
				prev_done = 1;
				break;
			}
			get64(w->from, &s, 1000);
			get64(w->from, &t, 1000);
			if (!same(a, v, s, t) || shmk_free(a, v))
				return 14;
		}
	}
	while (n--)
		if (shmk_free(a, off[n]))
			return 15;
	put64(w->to, ~0ULL);
	while (!prev_done) {
		if (get64(w->from, &v, 20000))
			return 16;
		if (v == ~0ULL)
			break;
		get64(w->from, &s, 1000);
		get64(w->from, &t, 1000);
		if (!same(a, v, s, t) || shmk_free(a, v))
			return 17;
	}
	/* blocks belong to their allocator: leave together */
	bar = shmk_arena_ptr(a, barrier);
	__atomic_fetch_add(bar, 1, __ATOMIC_SEQ_CST);
	shmk_arena_wake(a, barrier, SHMK_WAKE_ALL);
	while ((x = __atomic_load_n(bar, __ATOMIC_SEQ_CST)) < NPROC)
		if (shmk_arena_wait(a, barrier, (uint32_t)x, 20000000000LL,
				    SHMK_WAIT_NO_EVENTS) == -ETIMEDOUT)
			return 18;
	return shmk_arena_detach(a) ? 19 : 0;
}

static void test_concurrent(struct shmk_arena *a)
{
	struct shmk_alloc_stats st0, st;
	struct worker w[NPROC];
	int pipes[NPROC][2], i, ok = 1;
	pid_t pid[NPROC];
	char msg[200];

	shmk_alloc_stats(a, &st0);
	shmk_arena_root(a, 1, &barrier);
	for (i = 0; i < NPROC; i++) {
		if (pipe(pipes[i]))
			return;
		fcntl(pipes[i][0], F_SETPIPE_SZ, 1 << 20);
	}
	for (i = 0; i < NPROC; i++) {
		w[i].idx = i;
		w[i].to = pipes[i][1];
		w[i].from = pipes[(i + NPROC - 1) % NPROC][0];
		pid[i] = spawn(worker, &w[i]);
	}
	for (i = 0; i < NPROC; i++) {
		int rc = reap(pid[i]);

		if (rc) {
			diag("worker %d: %d", i, rc);
			ok = 0;
		}
	}
	tap_ok(ok, "%d processes allocated and freed each other's blocks",
	       NPROC);
	shmk_arena_events(a, NULL, 0);
	shmk_alloc_stats(a, &st);
	ok_eq(st.used_bytes, st0.used_bytes, "all blocks back");
	ok_eq(st.largest_free, st0.largest_free, "free space coalesced back");
	ok_eq(shmk_arena_check(a, SHMK_CHECK_REFS, msg, sizeof(msg)), 0,
	      "arena consistent");
	for (i = 0; i < NPROC; i++) {
		close(pipes[i][0]);
		close(pipes[i][1]);
	}
}

struct hold {
	int fd;
};

static int holder(void *p)
{
	struct hold *h = p;
	struct shmk_arena *a;
	struct shmk_arena_info info;
	uint64_t off;
	int i;

	if (shmk_arena_attach(name, 0, &a))
		return 10;
	for (i = 0; i < 200; i++)
		if (shmk_alloc(a, 16 + (uint64_t)i * 61 % 9000,
			       i % 4 ? 0 : SHMK_ALLOC_LONG, 0, &off))
			return 11;
	shmk_arena_info(a, &info);
	put64(h->fd, ((uint64_t)info.member_id << 32) | info.generation);
	for (;;)
		pause();
}

static void test_reclaim(struct shmk_arena *a)
{
	struct shmk_alloc_stats st0, st;
	struct shmk_event ev;
	struct hold h;
	uint64_t idgen, used = 0;
	int p[2];
	pid_t pid;

	shmk_alloc_stats(a, &st0);
	if (pipe(p))
		return;
	h.fd = p[1];
	pid = spawn(holder, &h);
	if (!tap_ok(get64(p[0], &idgen, 20000) == 0, "holder allocated"))
		return;
	shmk_alloc_member_used(a, (uint32_t)(idgen >> 32), &used);
	tap_ok(used > 200 * 16, "its blocks are accounted to it (%llu bytes)",
	       (unsigned long long)used);
	ok_eq(shmk_alloc_reclaim(a, (uint32_t)(idgen >> 32), (uint32_t)idgen),
	      -EBUSY, "no reclaim of a live member");
	kill(pid, SIGKILL);
	reap(pid);
	ok_eq(wait_exit(a, (uint32_t)(idgen >> 32), (uint32_t)idgen, &ev,
			20000), 0, "its death is reported");
	shmk_alloc_member_used(a, (uint32_t)(idgen >> 32), &used);
	ok_eq(used, 0, "nothing accounted to it any more");
	shmk_alloc_stats(a, &st);
	ok_eq(st.used_bytes, st0.used_bytes, "every block came back");
	ok_eq(st.free_page_bytes, st0.free_page_bytes, "every page came back");
	ok_eq(shmk_alloc_reclaim(a, (uint32_t)(idgen >> 32), (uint32_t)idgen),
	      0, "reclaiming again: nothing to do");
	close(p[0]);
	close(p[1]);
}

struct wa {
	int fd;
	uint64_t size;
};

static int wait_alloc(void *p)
{
	struct wa *w = p;
	struct shmk_arena *a;
	uint64_t off;
	int r;

	if (shmk_arena_attach(name, 0, &a))
		return 10;
	r = shmk_alloc(a, w->size, SHMK_ALLOC_WAIT, 20000000000LL, &off);
	put64(w->fd, (uint64_t)(int64_t)r);
	if (r == 0)
		shmk_free(a, off);
	shmk_arena_detach(a);
	return 0;
}

static void test_wait_and_reserve(void)
{
	struct shmk_arena_opts o;
	struct shmk_arena *a;
	struct shmk_alloc_stats st;
	struct wa w;
	uint64_t offs[600], off, v, end;
	int n = 0, p[2], asleep = 0, i;
	char nm[64];
	pid_t pid;

	memset(&o, 0, sizeof(o));
	o.size = 1 * MB;
	o.reserve_bytes = 16384;
	mkname(nm, sizeof(nm), "t_heap.full");
	if (!tap_ok(shmk_arena_create(nm, &o, SHMK_OPEN_EXCL, &a) == 0,
		    "create a small arena"))
		return;
	memcpy(name, nm, sizeof(name));
	while (n < 600 && shmk_alloc(a, 4096, 0, 0, &offs[n]) == 0)
		n++;
	ok_eq(shmk_alloc(a, 3000, 0, 0, &off), -ENOMEM, "full: -ENOMEM");
	ok_eq(shmk_alloc(a, 3000, SHMK_ALLOC_WAIT, 20000000LL, &off),
	      -ETIMEDOUT, "full, waiting: -ETIMEDOUT");
	ok_eq(shmk_alloc(a, 3000, SHMK_ALLOC_RESERVE, 0, &off), 0,
	      "full: the reserve still serves");
	shmk_free(a, off);

	if (pipe(p))
		return;
	w.fd = p[1];
	w.size = 2 * 4096;
	pid = spawn(wait_alloc, &w);
	end = now_ms() + 20000;
	while (now_ms() < end) {
		shmk_alloc_stats(a, &st);
		if (st.waiters) {
			asleep = 1;
			break;
		}
		sched_yield();
	}
	tap_ok(asleep, "another process waits for memory");
	ok_eq(get64(p[0], &v, 0), -ETIMEDOUT, "and has not got any");
	for (i = 0; i < 2; i++)
		shmk_free(a, offs[--n]);
	ok_eq(get64(p[0], &v, 20000), 0, "our free woke it up");
	ok_eq((int64_t)v, 0, "its allocation succeeded");
	ok_eq(reap(pid), 0, "it left cleanly");
	while (n)
		shmk_free(a, offs[--n]);
	shmk_arena_detach(a);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	struct shmk_arena_opts o;
	struct shmk_arena *a;
	uint64_t off;

	watchdog(240);
	memset(&o, 0, sizeof(o));
	o.size = 16 * MB;
	mkname(name, sizeof(name), "t_heap");
	if (!tap_ok(shmk_arena_create(name, &o, SHMK_OPEN_EXCL, &a) == 0,
		    "create arena"))
		return tap_done();
	ok_eq(shmk_alloc(a, 64, 0, 0, &off), 0, "alloc");
	ok_eq(shmk_free(a, off), 0, "free");
	test_concurrent(a);
	test_reclaim(a);
	ok_eq(shmk_arena_detach(a), 0, "detach");
	test_wait_and_reserve();
	return tap_done();
}
