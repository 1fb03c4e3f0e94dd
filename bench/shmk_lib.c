// SPDX-License-Identifier: GPL-2.0
/*
 * Allocator and crash-recovery rows against libshmk, and the pidfd floor
 * for death notification. Without libshmk the shmk rows say "not
 * available"; the pidfd floor is measured either way.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#ifdef HAVE_LIBSHMK
#include <shmk.h>
#endif

/*
 * The child to be killed: @child(@arg, fd) runs in it and never returns,
 * fd the write end of a pipe whose read end is *@rfd here. Its pid, or
 * -errno.
 */
static pid_t fork_victim(void (*child)(const void *arg, int wfd),
			 const void *arg, int *rfd)
{
	int fds[2], err;
	pid_t pid;

	if (pipe(fds) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(fds[0]);
		close(fds[1]);
		return err;
	}
	if (pid == 0) {
		close(fds[0]);
		child(arg, fds[1]);
		_exit(1);	/* not reached */
	}
	close(fds[1]);
	*rfd = fds[0];
	return pid;
}

static void kill_wait(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* The pidfd floor's victim: says it runs, then waits to be killed. */
static void pause_victim(const void *arg, int wfd)
{
	(void)arg;
	if (write(wfd, "r", 1) != 1)
		_exit(1);
	pause();
	_exit(0);
}

int pidfd_crash_once(uint64_t *to_event_ns)
{
	struct pollfd p = { .events = POLLIN };
	int pfd, rfd, r;
	uint64_t t0;
	pid_t pid;
	char b;

	pid = fork_victim(pause_victim, NULL, &rfd);
	if (pid < 0)
		return pid;
	r = read(rfd, &b, 1) == 1 ? 0 : -EPIPE;
	close(rfd);
	pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pfd < 0 || r) {
		r = r ? r : -errno;
		kill_wait(pid);
		return r;
	}
	p.fd = pfd;
	t0 = now_ns();
	kill(pid, SIGKILL);
	r = poll(&p, 1, 10000);
	*to_event_ns = now_ns() - t0;
	close(pfd);
	waitpid(pid, NULL, 0);
	return r == 1 ? 0 : -ETIMEDOUT;
}

#ifndef HAVE_LIBSHMK

const char *shmk_alloc_unavailable(void)
{
	return "not available: libshmk not built (lib/libshmk.a missing)";
}

const char *shmk_crash_unavailable(void)
{
	return shmk_alloc_unavailable();
}

int shmk_alloc_bench(int kind, int role, struct alloc_sync *sync,
		     size_t size, uint64_t dur_ns, struct alloc_result *r)
{
	(void)kind;
	(void)role;
	(void)sync;
	(void)size;
	(void)dur_ns;
	(void)r;
	return -ENOSYS;
}

int shmk_crash_bench(int n, struct hist *ev, struct hist *rc)
{
	(void)n;
	(void)ev;
	(void)rc;
	return -ENOSYS;
}

#else

const char *shmk_alloc_unavailable(void)
{
	return NULL;
}

const char *shmk_crash_unavailable(void)
{
	return NULL;
}

#define BATCH	256

static unsigned int backend_flags(void)
{
	return !strcmp(shmk_impl_backend(), "kmod") ? SHMK_OPEN_KMOD :
						       SHMK_OPEN_PORTABLE;
}

static void sync_wait(struct alloc_sync *sy, uint32_t *w)
{
	while (!__atomic_load_n(w, __ATOMIC_ACQUIRE) &&
	       !__atomic_load_n(&sy->failed, __ATOMIC_ACQUIRE))
		futex_wait32(w, 0);
}

static void sync_set(uint32_t *w)
{
	__atomic_store_n(w, 1, __ATOMIC_RELEASE);
	futex_wake32(w, 8);
}

/* Give up a two-process run: release whatever the other side waits on. */
static void sync_fail(struct alloc_sync *sy)
{
	__atomic_store_n(&sy->failed, 1, __ATOMIC_RELEASE);
	sync_set(&sy->created);
	sync_set(&sy->token_ready);
}

int shmk_alloc_bench(int kind, int role, struct alloc_sync *sync,
		     size_t size, uint64_t dur_ns, struct alloc_result *r)
{
	struct shmk_arena_opts o;
	struct shmk_arena *a = NULL;
	shmk_ref_t ref = 0, c;
	uint64_t off, t0, t1, end, pairs = 0, start;
	char name[64];
	int err, i;

	hist_init(&r->h);
	memset(&o, 0, sizeof(o));
	o.size = 16 << 20;
	if (role < 0)
		snprintf(name, sizeof(name), "shmkbench-al-%d", (int)getpid());
	else
		snprintf(name, sizeof(name), "%s", sync->name);
	if (role <= 0) {
		err = shmk_arena_create(name, &o,
					SHMK_OPEN_EXCL | backend_flags(), &a);
		if (role == 0 && !err)
			sync_set(&sync->created);
	} else {
		sync_wait(sync, &sync->created);
		err = sync->failed ? -ECANCELED :
		      shmk_arena_attach(name, backend_flags(), &a);
	}
	if (err)
		goto out_noarena;
	if (kind == 1) {
		if (role <= 0) {
			err = shmk_buf_create(a, size, 0, 0, 0, &ref);
			if (!err && role == 0) {
				err = shmk_buf_clone(a, ref, &c);
				if (!err)
					err = shmk_buf_pass(a, c, 0,
							    &sync->token);
				if (!err)
					sync_set(&sync->token_ready);
			}
		} else {
			sync_wait(sync, &sync->token_ready);
			err = sync->failed ? -ECANCELED :
			      shmk_buf_accept(a, sync->token, &ref);
		}
		if (err)
			goto out;
	}
	if (role >= 0) {		/* start barrier */
		__atomic_fetch_add(&sync->started, 1, __ATOMIC_SEQ_CST);
		while (__atomic_load_n(&sync->started, __ATOMIC_ACQUIRE) < 2 &&
		       !__atomic_load_n(&sync->failed, __ATOMIC_ACQUIRE))
			sched_yield();
		if (sync->failed) {
			err = -ECANCELED;
			goto out;
		}
	}
	start = t0 = now_ns();
	end = t0 + dur_ns;
	while (t0 < end) {
		for (i = 0; i < BATCH; i++) {
			if (kind == 0) {
				err = shmk_alloc(a, size, 0, 0, &off);
				if (!err)
					err = shmk_free(a, off);
			} else {
				err = shmk_buf_clone(a, ref, &c);
				if (!err)
					err = shmk_buf_drop(a, c);
			}
			if (err)
				goto out;
		}
		t1 = now_ns();
		hist_add(&r->h, (t1 - t0 + BATCH / 2) / BATCH);
		pairs += BATCH;
		t0 = t1;
	}
	r->ops_per_s = (double)pairs * 1e9 / (double)(t0 - start);
out:
	if (ref)
		shmk_buf_drop(a, ref);
	shmk_arena_detach(a);
out_noarena:
	if (err && role >= 0)
		sync_fail(sync);
	r->status = err;
	return err;
}

/* The victim: attach, own blocks and a buffer reference, then wait. */
static void victim(const void *arg, int wfd)
{
	const char *name = arg;
	struct shmk_arena *a;
	struct shmk_arena_info info;
	uint32_t msg[2] = { 0, 0 };
	uint64_t off;
	shmk_ref_t ref, c;
	int i;

	if (shmk_arena_attach(name, backend_flags(), &a) ||
	    shmk_arena_info(a, &info))
		_exit(1);
	for (i = 0; i < 32; i++)
		if (shmk_alloc(a, 1024, 0, 0, &off))
			_exit(1);
	if (shmk_buf_create(a, 4096, 0, 0, 0, &ref) ||
	    shmk_buf_clone(a, ref, &c))
		_exit(1);
	msg[0] = info.member_id;
	msg[1] = info.generation;
	if (write(wfd, msg, sizeof(msg)) != sizeof(msg))
		_exit(1);
	for (;;)
		pause();
}

static int crash_one(struct shmk_arena *a, const char *name, uint64_t *ev_ns,
		     uint64_t *rc_ns)
{
	struct pollfd p = { .fd = shmk_arena_event_fd(a), .events = POLLIN };
	struct shmk_event evs[8];
	uint32_t msg[2];
	uint64_t t0, used = 0;
	int rfd, err = 0, n, i, seen = 0;
	pid_t pid;

	if (p.fd < 0)
		return p.fd;
	pid = fork_victim(victim, name, &rfd);
	if (pid < 0)
		return pid;
	if (read(rfd, msg, sizeof(msg)) != sizeof(msg))
		err = -EPIPE;
	close(rfd);
	if (!err)
		err = shmk_alloc_member_used(a, msg[0], &used);
	if (!err && !used)
		err = -ENODATA;	/* the victim should own blocks */
	if (err) {
		kill_wait(pid);
		return err;
	}
	/* Drop whatever is pending (the victim's join) before the kill. */
	while (shmk_arena_events(a, evs, 8) > 0)
		;
	t0 = now_ns();
	kill(pid, SIGKILL);
	while (!seen) {
		if (poll(&p, 1, 10000) != 1) {
			err = -ETIMEDOUT;
			break;
		}
		n = shmk_arena_events(a, evs, 8);
		if (n < 0) {
			err = n;
			break;
		}
		for (i = 0; i < n; i++)
			if (evs[i].type == SHMK_EVENT_EXIT &&
			    evs[i].member_id == msg[0] &&
			    evs[i].generation == msg[1])
				seen = 1;
	}
	if (seen) {
		/*
		 * The library recovers a dead member's blocks and references
		 * before it reports the exit; the check confirms it.
		 */
		*ev_ns = now_ns() - t0;
		err = shmk_alloc_member_used(a, msg[0], &used);
		if (!err && used)
			err = -EUCLEAN;	/* not reclaimed after the event */
		*rc_ns = now_ns() - t0;
	}
	waitpid(pid, NULL, 0);
	return err;
}

int shmk_crash_bench(int n, struct hist *ev, struct hist *rc)
{
	struct shmk_arena_opts o;
	struct shmk_arena *a;
	char name[64];
	int err, i;

	memset(&o, 0, sizeof(o));
	o.size = 4 << 20;
	snprintf(name, sizeof(name), "shmkbench-cr-%d", (int)getpid());
	err = shmk_arena_create(name, &o, SHMK_OPEN_EXCL | backend_flags(),
				&a);
	if (err)
		return err;
	for (i = 0; i < n && !err; i++) {
		uint64_t e = 0, c = 0;

		err = crash_one(a, name, &e, &c);
		if (!err) {
			hist_add(ev, e);
			hist_add(rc, c);
		}
	}
	shmk_arena_detach(a);
	return err;
}
#endif
