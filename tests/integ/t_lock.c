// SPDX-License-Identifier: GPL-2.0
/*
 * Robust locks across processes: exclusion, timeouts, owner death
 * (-EOWNERDEAD, consistent, not recoverable), a sleeping waiter woken by
 * the death of the holder.
 */
#include "common.h"

#include <sys/mman.h>

static char name[64];
static uint64_t lk, counter;

struct args {
	int fd, back;
	int mode;
	int iters;
};

static struct shmk_arena *join(void)
{
	struct shmk_arena *a;

	if (shmk_arena_attach(name, 0, &a))
		_exit(100);
	return a;
}

static uint32_t *word(struct shmk_arena *a)
{
	return (uint32_t *)((char *)shmk_arena_ptr(a, lk) + 8);
}

/*
 * mode 0: take the lock, report, die holding it.
 * mode 1: take it, report, wait for a waiter to show (WAITERS), die.
 * mode 2: take it, report, hold until told, release, detach.
 */
static int holder(void *p)
{
	struct args *c = p;
	struct shmk_arena *a = join();
	uint64_t v, end;

	if (shmk_lock_acquire(a, lk, -1))
		return 10;
	put64(c->fd, 1);
	if (c->mode == 0)
		raise(SIGKILL);
	if (c->mode == 1) {
		end = now_ms() + 10000;
		while (!(__atomic_load_n(word(a), __ATOMIC_ACQUIRE) &
			 SHMK_LOCK_WAITERS) && now_ms() < end)
			sched_yield();
		raise(SIGKILL);
	}
	if (get64(c->back, &v, 10000))
		return 11;
	if (shmk_lock_release(a, lk))
		return 12;
	return shmk_arena_detach(a) ? 13 : 0;
}

/* Increment a plain counter under the lock, with a yield inside. */
static int incrementer(void *p)
{
	struct args *c = p;
	struct shmk_arena *a = join();
	volatile uint64_t *ctr = shmk_arena_ptr(a, counter);
	uint64_t v;
	int i;

	for (i = 0; i < c->iters; i++) {
		if (shmk_lock_acquire(a, lk, 10 * 1000000000LL))
			return 10;
		v = *ctr;
		if (i % 7 == 0)
			sched_yield();
		*ctr = v + 1;
		if (shmk_lock_release(a, lk))
			return 11;
	}
	return shmk_arena_detach(a) ? 12 : 0;
}

static pid_t start(int mode, struct args *c, int p[2], int b[2])
{
	uint64_t v;
	pid_t pid;

	if (pipe(p) || pipe(b))
		return -1;
	c->fd = p[1];
	c->back = b[0];
	c->mode = mode;
	pid = spawn(holder, c);
	if (get64(p[0], &v, 10000)) {
		kill(pid, SIGKILL);
		reap(pid);
		return -1;
	}
	return pid;
}

static void closep(int p[2], int b[2])
{
	close(p[0]);
	close(p[1]);
	close(b[0]);
	close(b[1]);
}

int main(void)
{
	struct shmk_arena *a;
	struct shmk_arena_info info;
	struct args c;
	int p[2], b[2], i, ok;
	pid_t pid, kids[4];
	int r;

	watchdog(120);
	mkname(name, sizeof(name), "t_lock");
	r = shmk_arena_create(name, NULL, SHMK_OPEN_EXCL, &a);
	if (!tap_ok(r == 0, "create arena")) {
		diag("create: %d", r);
		return tap_done();
	}
	shmk_arena_info(a, &info);
	ok_eq(shmk_alloc(a, sizeof(struct shmk_lock), SHMK_ALLOC_ZERO, 0, &lk),
	      0, "lock storage from the allocator");
	ok_eq(shmk_alloc(a, 8, SHMK_ALLOC_ZERO, 0, &counter), 0,
	      "counter storage");
	ok_eq(shmk_lock_init(a, lk), 0, "init");
	ok_eq(shmk_lock_init(a, lk + 4), -EINVAL, "misaligned lock: -EINVAL");
	ok_eq(shmk_lock_acquire(a, lk, -1), 0, "acquire");
	ok_eq(*word(a) & SHMK_LOCK_OWNER_MASK, info.member_id,
	      "the word holds our member id");
	ok_eq(shmk_arena_detach(a), -EBUSY, "detach while holding a lock: -EBUSY");
	ok_eq(shmk_lock_release(a, lk), 0, "release");
	ok_eq(*word(a), 0, "the word is 0 again");
	ok_eq(shmk_lock_release(a, lk), -EPERM, "release when not owner: -EPERM");

	/* contention: another process holds it */
	pid = start(2, &c, p, b);
	tap_ok(pid > 0, "other process holds the lock");
	ok_eq(shmk_lock_try(a, lk), -EBUSY, "try: -EBUSY");
	ok_eq(shmk_lock_acquire(a, lk, 30 * 1000000LL), -ETIMEDOUT,
	      "acquire with timeout: -ETIMEDOUT");
	ok_eq(shmk_lock_release(a, lk), -EPERM, "cannot release its lock");
	put64(b[1], 1);
	ok_eq(reap(pid), 0, "holder released and detached");
	ok_eq(shmk_lock_acquire(a, lk, 1000000000LL), 0, "then we get it");
	shmk_lock_release(a, lk);
	closep(p, b);

	/* the holder dies */
	pid = start(0, &c, p, b);
	ok_eq(reap(pid), 128 + SIGKILL, "holder killed while holding");
	ok_eq(shmk_lock_acquire(a, lk, 10 * 1000000000LL), -EOWNERDEAD,
	      "next acquire: -EOWNERDEAD (and we hold it)");
	ok_eq(*word(a) & SHMK_LOCK_OWNER_MASK, info.member_id, "we own it");
	ok_eq(shmk_lock_consistent(a, lk), 0, "mark consistent");
	ok_eq(shmk_lock_release(a, lk), 0, "release");
	ok_eq(shmk_lock_acquire(a, lk, 0), 0, "healthy again");
	shmk_lock_release(a, lk);
	closep(p, b);

	/* the holder dies while we sleep on the lock */
	pid = start(1, &c, p, b);
	ok_eq(shmk_lock_acquire(a, lk, 10 * 1000000000LL), -EOWNERDEAD,
	      "sleeping waiter woken by the holder's death: -EOWNERDEAD");
	ok_eq(reap(pid), 128 + SIGKILL, "the holder was killed");
	/* not made consistent: unrecoverable */
	ok_eq(shmk_lock_release(a, lk), 0, "release without consistent");
	ok_eq(shmk_lock_acquire(a, lk, 0), -ENOTRECOVERABLE,
	      "now -ENOTRECOVERABLE");
	ok_eq(shmk_lock_try(a, lk), -ENOTRECOVERABLE, "for try as well");
	ok_eq(shmk_lock_init(a, lk), 0, "re-init");
	closep(p, b);

	/* exclusion: 4 processes x 2000 increments with yields inside */
	*(volatile uint64_t *)shmk_arena_ptr(a, counter) = 0;
	c.iters = 2000;
	for (i = 0; i < 4; i++)
		kids[i] = spawn(incrementer, &c);
	ok = 1;
	for (i = 0; i < 4; i++)
		if (reap(kids[i]) != 0)
			ok = 0;
	tap_ok(ok, "4 processes incremented under the lock");
	ok_eq(*(volatile uint64_t *)shmk_arena_ptr(a, counter), 8000,
	      "no increment lost");
	ok_eq(*word(a), 0, "lock free at the end");

	ok_eq(shmk_free(a, lk), 0, "free lock storage");
	ok_eq(shmk_free(a, counter), 0, "free counter");
	ok_eq(shmk_arena_detach(a), 0, "detach");
	return tap_done();
}
