// SPDX-License-Identifier: GPL-2.0
/*
 * t_waitwake: SHMK_IOC_WAIT / SHMK_IOC_WAKE: validation, value mismatch,
 * timeouts, signals, cross-process wake, counts and FIFO order, keys, and
 * the event result (SHMK_WAIT_EVENT) when a peer dies.
 *
 * Waiters are separate member processes. Before waking one, the waker
 * makes sure it is asleep in the module with kt_await_waiting() (bounded
 * poll of /proc/<pid>/stat + /proc/<pid>/syscall and the debugfs waiter
 * count; see kt.c). Waiters that must not be disturbed by the exit events
 * of their fellow waiters use SHMK_WAIT_NO_EVENTS.
 */
#include "kt.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#define SEC 1000000000ll

static int join_one(struct kt_member *m, const char *tag, char *nm)
{
	kt_name(nm, tag);
	return kt_join(m, nm, 4 * 4096, SHMK_ATTACH_CREATE, 0600);
}

static int t_wait_errors(void)
{
	struct kt_member m;
	struct shmk_wait w;
	char nm[SHMK_NAME_MAX];
	uint64_t us;
	uint64_t bad_off[6];
	size_t i;

	KT_RET(join_one(&m, "werr", nm), 0);
	us = m.at.user_size;
	/* Every bad call would otherwise time out at once, never hang. */
	KT_RET(kt_wait(m.fd, 0, 0, 1u << 2, 1000), -EINVAL);
	KT_RET(kt_wait(m.fd, 0, 0, 1u << 31, 1000), -EINVAL);
	memset(&w, 0, sizeof(w));
	w.timeout_ns = 1000;
	w.reserved[0] = 1;
	KT_RET(kt_ioctl(m.fd, SHMK_IOC_WAIT, &w), -EINVAL);
	w.reserved[0] = 0;
	w.reserved[1] = 1ull << 40;
	KT_RET(kt_ioctl(m.fd, SHMK_IOC_WAIT, &w), -EINVAL);
	bad_off[0] = 1;
	bad_off[1] = 2;
	bad_off[2] = us;
	bad_off[3] = us - 2;
	bad_off[4] = 1ull << 62;
	bad_off[5] = ~0ull - 3;
	for (i = 0; i < KT_ARRAY_SIZE(bad_off); i++) {
		int r = kt_wait(m.fd, bad_off[i], 0, 0, 1000);

		if (r != -EINVAL)
			kt_diag("offset 0x%llx", (unsigned long long)bad_off[i]);
		KT_RET(r, -EINVAL);
	}
	/* The last word is valid. */
	*kt_word(&m, us - 4) = 9;
	KT_RET(kt_wait(m.fd, us - 4, 8, 0, 1000), -EAGAIN);
	KT_RET(kt_wait(m.fd, us - 4, 9, 0, 1000), -ETIMEDOUT);
	kt_leave(&m, true);
	return KT_PASS;
}

static int t_wake_errors(void)
{
	struct kt_member m;
	struct shmk_wake k;
	char nm[SHMK_NAME_MAX];
	uint64_t us;

	KT_RET(join_one(&m, "kerr", nm), 0);
	us = m.at.user_size;
	KT_RET(kt_wake(m.fd, 0, 0), -EINVAL);
	memset(&k, 0, sizeof(k));
	k.count = 1;
	k.flags = 1;
	KT_RET(kt_ioctl(m.fd, SHMK_IOC_WAKE, &k), -EINVAL);
	k.flags = 0;
	k.reserved = 1;
	KT_RET(kt_ioctl(m.fd, SHMK_IOC_WAKE, &k), -EINVAL);
	KT_RET(kt_wake(m.fd, 2, 1), -EINVAL);
	KT_RET(kt_wake(m.fd, 7, SHMK_WAKE_ALL), -EINVAL);
	KT_RET(kt_wake(m.fd, us, 1), -EINVAL);
	KT_RET(kt_wake(m.fd, ~0ull - 3, 1), -EINVAL);
	KT_RET(kt_wake(m.fd, us - 4, 1), 0);
	KT_RET(kt_wake(m.fd, 0, SHMK_WAKE_ALL), 0);
	kt_leave(&m, true);
	return KT_PASS;
}

static int t_nonmember(void)
{
	int fd = kt_open();

	KT_TRUE(fd >= 0);
	KT_RET(kt_wait(fd, 0, 0, 0, 1000), -ENOTCONN);
	KT_RET(kt_wake(fd, 0, 1), -ENOTCONN);
	close(fd);
	return KT_PASS;
}

static int t_wait_mismatch(void)
{
	struct kt_member m;
	char nm[SHMK_NAME_MAX];

	KT_RET(join_one(&m, "mism", nm), 0);
	*kt_word(&m, 8) = 5;
	KT_RET(kt_wait(m.fd, 8, 4, 0, -1), -EAGAIN);
	KT_RET(kt_wait(m.fd, 8, 6, SHMK_WAIT_NO_EVENTS, 10 * SEC), -EAGAIN);
	KT_RET(kt_wait(m.fd, 8, 0, SHMK_WAIT_ABSTIME,
		       (int64_t)kt_now_ns() + 10 * SEC), -EAGAIN);
	kt_leave(&m, true);
	return KT_PASS;
}

static int t_wait_timeout_rel(void)
{
	struct kt_member m;
	char nm[SHMK_NAME_MAX];
	uint64_t t0;

	KT_RET(join_one(&m, "trel", nm), 0);
	KT_RET(kt_wait(m.fd, 0, 0, 0, 0), -ETIMEDOUT);
	t0 = kt_now_ns();
	KT_RET(kt_wait(m.fd, 0, 0, 0, 20000000), -ETIMEDOUT);
	/* Never early. */
	KT_TRUE(kt_now_ns() - t0 >= 20000000);
	KT_RET(kt_wake(m.fd, 0, SHMK_WAKE_ALL), 0);	/* not queued */
	kt_leave(&m, true);
	return KT_PASS;
}

static int t_wait_timeout_abs(void)
{
	struct kt_member m;
	char nm[SHMK_NAME_MAX];
	uint64_t deadline;

	KT_RET(join_one(&m, "tabs", nm), 0);
	deadline = kt_now_ns() + 20000000;
	KT_RET(kt_wait(m.fd, 0, 0, SHMK_WAIT_ABSTIME, (int64_t)deadline),
	       -ETIMEDOUT);
	KT_TRUE(kt_now_ns() >= deadline);
	/* Deadlines in the past. */
	KT_RET(kt_wait(m.fd, 0, 0, SHMK_WAIT_ABSTIME, 1), -ETIMEDOUT);
	KT_RET(kt_wait(m.fd, 0, 0, SHMK_WAIT_ABSTIME, 0), -ETIMEDOUT);
	KT_RET(kt_wait(m.fd, 0, 0, SHMK_WAIT_ABSTIME,
		       (int64_t)kt_now_ns() - SEC), -ETIMEDOUT);
	KT_RET(kt_wake(m.fd, 0, SHMK_WAKE_ALL), 0);
	kt_leave(&m, true);
	return KT_PASS;
}

/* ---- waiter processes ------------------------------------------------- */

struct waiter {
	const char *name;
	uint64_t off;
	uint32_t expected;
	uint32_t flags;
	int64_t timeout_ns;	/* relative, or added to now for ABSTIME */
	int tag;
	int out;		/* write end: struct wres */
	int sig;		/* 0, or SA_* flags | KT_SIG_ON for SIGUSR1 */
	int sig_out;		/* write end for the handler's byte */
};

#define KT_SIG_ON (1 << 30)

struct wres {
	int tag;
	int ret;	/* WAIT's result, or 1000 + errno of a failed join */
};

static int sig_fd = -1;

static void on_usr1(int sig)
{
	char c = (char)sig;

	if (write(sig_fd, &c, 1) < 0)
		_exit(120);
}

static int waiter_main(void *arg)
{
	struct waiter *w = arg;
	struct kt_member m;
	struct wres res = { .tag = w->tag };
	int64_t t;
	int r;

	r = kt_join(&m, w->name, 0, 0, 0);
	if (r < 0) {
		res.ret = 1000 - r;
		kt_post(w->out, &res, sizeof(res));
		return 1;
	}
	if (w->sig & KT_SIG_ON) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_usr1;
		sa.sa_flags = w->sig & ~KT_SIG_ON;
		sig_fd = w->sig_out;
		sigaction(SIGUSR1, &sa, NULL);
	}
	t = w->timeout_ns;
	if ((w->flags & SHMK_WAIT_ABSTIME) && t >= 0)
		t += (int64_t)kt_now_ns();
	res.ret = kt_wait(m.fd, w->off, w->expected, w->flags, t);
	kt_post(w->out, &res, sizeof(res));
	kt_leave(&m, true);
	return 0;
}

static pid_t start_waiter(struct waiter *w)
{
	return kt_fork(waiter_main, w);
}

static int read_res(int fd, struct wres *r)
{
	int e = kt_await(fd, r, sizeof(*r), KT_TIMEOUT_MS);

	if (e < 0)
		kt_diag("no waiter result: %s", kt_errname(e));
	return e;
}

/* Nothing more arrives on @fd right now (the others still sleep). */
static bool quiet(int fd)
{
	return kt_poll_in(fd, 0) == 0;
}

static int t_cross_wake(void)
{
	struct kt_member m;
	struct kt_pipe p;
	struct waiter w;
	struct wres r;
	char nm[SHMK_NAME_MAX];
	pid_t pid;

	KT_RET(join_one(&m, "cross", nm), 0);
	KT_RET(kt_pipe_open(&p), 0);
	memset(&w, 0, sizeof(w));
	w.name = nm;
	w.off = 64;
	w.timeout_ns = 20 * SEC;
	w.flags = SHMK_WAIT_NO_EVENTS;
	w.out = p.w;
	pid = start_waiter(&w);
	KT_RET(kt_await_waiting(&pid, 1, 1), 0);
	*kt_word(&m, 64) = 1;
	KT_RET(kt_wake(m.fd, 64, 1), 1);
	KT_RET(read_res(p.r, &r), 0);
	KT_RET(r.ret, 0);
	KT_EQ(kt_reap(pid), 0);
	KT_RET(kt_wake(m.fd, 64, 1), 0);
	kt_leave(&m, true);
	return KT_PASS;
}

static int start_waiters(struct waiter *w, int n, pid_t *pids, int base)
{
	int i;

	for (i = 0; i < n; i++) {
		w[i].tag = i;
		pids[i] = start_waiter(&w[i]);
		KT_TRUE(pids[i] > 0);
		/* One at a time, so that they queue in this order. */
		KT_RET(kt_await_waiting(&pids[i], 1, base + i + 1), 0);
	}
	return KT_PASS;
}

static void waiters_init(struct waiter *w, int n, const char *nm, int out,
			 uint64_t off)
{
	int i;

	memset(w, 0, sizeof(*w) * (size_t)n);
	for (i = 0; i < n; i++) {
		w[i].name = nm;
		w[i].off = off;
		w[i].flags = SHMK_WAIT_NO_EVENTS;
		w[i].timeout_ns = 20 * SEC;
		w[i].out = out;
	}
}

static int t_wake_all_count(void)
{
	struct kt_member m;
	struct kt_pipe p;
	struct waiter w[3];
	struct wres r;
	pid_t pids[3];
	char nm[SHMK_NAME_MAX];
	int i;

	KT_RET(join_one(&m, "wall", nm), 0);
	KT_RET(kt_pipe_open(&p), 0);
	waiters_init(w, 3, nm, p.w, 0);
	KT_DO(start_waiters(w, 3, pids, 0));
	KT_RET(kt_wake(m.fd, 0, SHMK_WAKE_ALL), 3);
	for (i = 0; i < 3; i++) {
		KT_RET(read_res(p.r, &r), 0);
		KT_RET(r.ret, 0);
	}
	for (i = 0; i < 3; i++)
		KT_EQ(kt_reap(pids[i]), 0);
	/* A count above the number of waiters wakes those there are. */
	waiters_init(w, 2, nm, p.w, 0);
	KT_DO(start_waiters(w, 2, pids, 0));
	KT_RET(kt_wake(m.fd, 0, 5), 2);
	for (i = 0; i < 2; i++) {
		KT_RET(read_res(p.r, &r), 0);
		KT_RET(r.ret, 0);
		KT_EQ(kt_reap(pids[i]), 0);
	}
	kt_leave(&m, true);
	return KT_PASS;
}

static int t_wake_fifo(void)
{
	struct kt_member m;
	struct kt_pipe p;
	struct waiter w[3];
	struct wres r;
	pid_t pids[3];
	char nm[SHMK_NAME_MAX];
	int i;

	KT_RET(join_one(&m, "fifo", nm), 0);
	KT_RET(kt_pipe_open(&p), 0);
	waiters_init(w, 3, nm, p.w, 12);
	KT_DO(start_waiters(w, 3, pids, 0));
	for (i = 0; i < 3; i++) {
		KT_RET(kt_wake(m.fd, 12, 1), 1);
		KT_RET(read_res(p.r, &r), 0);
		KT_EQ(r.tag, i);	/* first come, first woken */
		KT_RET(r.ret, 0);
		KT_EQ(kt_reap(pids[i]), 0);
		if (i < 2) {
			KT_TRUE(quiet(p.r));
			KT_RET(kt_await_waiting(&pids[i + 1], 1, -1), 0);
		}
	}
	KT_RET(kt_wake(m.fd, 12, 1), 0);
	kt_leave(&m, true);
	return KT_PASS;
}

/* Waiters are keyed by offset: a wake on one word leaves others asleep. */
static int t_wake_keyed_offset(void)
{
	struct kt_member m;
	struct kt_pipe p;
	struct waiter w[2];
	struct wres r;
	pid_t pids[2];
	char nm[SHMK_NAME_MAX];

	KT_RET(join_one(&m, "koff", nm), 0);
	KT_RET(kt_pipe_open(&p), 0);
	waiters_init(w, 2, nm, p.w, 0);
	w[1].off = 4;
	KT_DO(start_waiters(w, 2, pids, 0));
	KT_RET(kt_wake(m.fd, 8, SHMK_WAKE_ALL), 0);
	KT_RET(kt_wake(m.fd, 4, SHMK_WAKE_ALL), 1);
	KT_RET(read_res(p.r, &r), 0);
	KT_EQ(r.tag, 1);
	KT_RET(r.ret, 0);
	KT_EQ(kt_reap(pids[1]), 0);
	KT_RET(kt_await_waiting(&pids[0], 1, -1), 0);
	KT_RET(kt_wake(m.fd, 0, SHMK_WAKE_ALL), 1);
	KT_RET(read_res(p.r, &r), 0);
	KT_EQ(r.tag, 0);
	KT_RET(r.ret, 0);
	KT_EQ(kt_reap(pids[0]), 0);
	kt_leave(&m, true);
	return KT_PASS;
}

/* ... and by arena: the same offset in another arena is another word. */
static int t_wake_keyed_arena(void)
{
	struct kt_member a, b;
	struct kt_pipe p;
	struct waiter w;
	struct wres r;
	pid_t pid;
	char na[SHMK_NAME_MAX], nb[SHMK_NAME_MAX];

	KT_RET(join_one(&a, "karA", na), 0);
	KT_RET(join_one(&b, "karB", nb), 0);
	KT_RET(kt_pipe_open(&p), 0);
	waiters_init(&w, 1, na, p.w, 0);
	KT_DO(start_waiters(&w, 1, &pid, 0));
	KT_RET(kt_wake(b.fd, 0, SHMK_WAKE_ALL), 0);
	KT_RET(kt_await_waiting(&pid, 1, -1), 0);
	KT_RET(kt_wake(a.fd, 0, SHMK_WAKE_ALL), 1);
	KT_RET(read_res(p.r, &r), 0);
	KT_RET(r.ret, 0);
	KT_EQ(kt_reap(pid), 0);
	kt_leave(&a, true);
	kt_leave(&b, true);
	return KT_PASS;
}

/* A signal interrupts a wait; the result depends on the kind of wait. */
static int signal_case(uint32_t flags, int sa_flags, int want)
{
	struct kt_member m;
	struct kt_pipe p, s;
	struct waiter w;
	struct wres r;
	pid_t pid;
	char nm[SHMK_NAME_MAX];

	KT_RET(join_one(&m, "sig", nm), 0);
	KT_RET(kt_pipe_open(&p), 0);
	KT_RET(kt_pipe_open(&s), 0);
	waiters_init(&w, 1, nm, p.w, 16);
	w.flags = flags | SHMK_WAIT_NO_EVENTS;
	w.timeout_ns = 20 * SEC;
	w.sig = KT_SIG_ON | sa_flags;
	w.sig_out = s.w;
	pid = start_waiter(&w);
	KT_RET(kt_await_waiting(&pid, 1, 1), 0);
	kill(pid, SIGUSR1);
	/* The handler ran (it writes a byte). */
	KT_RET(kt_await(s.r, NULL, 0, KT_TIMEOUT_MS), 0);
	if (want == 0) {
		/* Restarted: asleep again, and an ordinary WAKE ends it. */
		KT_TRUE(quiet(p.r));
		KT_RET(kt_await_waiting(&pid, 1, 1), 0);
		KT_RET(kt_wake(m.fd, 16, 1), 1);
	}
	KT_RET(read_res(p.r, &r), 0);
	KT_RET(r.ret, want);
	KT_EQ(kt_reap(pid), 0);
	KT_RET(kt_wake(m.fd, 16, 1), 0);
	kt_leave(&m, true);
	return KT_PASS;
}

static int t_eintr_rel(void)
{
	return signal_case(0, 0, -EINTR);
}

static int t_eintr_rel_sa_restart(void)
{
	return signal_case(0, SA_RESTART, -EINTR);
}

static int t_eintr_abs(void)
{
	return signal_case(SHMK_WAIT_ABSTIME, 0, -EINTR);
}

static int t_restart_abs(void)
{
	return signal_case(SHMK_WAIT_ABSTIME, SA_RESTART, 0);
}

/* A waiter killed while asleep leaves the queue. */
static int t_waiter_killed(void)
{
	struct kt_member m;
	struct kt_pipe p;
	struct waiter w;
	pid_t pid;
	char nm[SHMK_NAME_MAX];

	KT_RET(join_one(&m, "wkill", nm), 0);
	KT_RET(kt_pipe_open(&p), 0);
	waiters_init(&w, 1, nm, p.w, 0);
	KT_DO(start_waiters(&w, 1, &pid, 0));
	kill(pid, SIGKILL);
	KT_EQ(kt_reap(pid), KT_KILLED(SIGKILL));
	KT_RET(kt_wake(m.fd, 0, SHMK_WAKE_ALL), 0);
	kt_leave(&m, true);
	return KT_PASS;
}

/* ---- events and WAIT -------------------------------------------------- */

static int t_event_pending_at_entry(void)
{
	struct kt_member m, d;
	struct shmk_event ev;
	char nm[SHMK_NAME_MAX];

	KT_RET(join_one(&m, "evin", nm), 0);
	KT_RET(kt_join(&d, nm, 0, 0, 0), 0);
	kt_leave(&d, true);	/* clean exit: an event for m */
	KT_RET(kt_wait(m.fd, 0, 0, 0, 10 * SEC), SHMK_WAIT_EVENT);
	KT_RET(kt_wait(m.fd, 0, 0, 0, -1), SHMK_WAIT_EVENT);
	/* "At once if already pending on entry": before the value check. */
	KT_RET(kt_wait(m.fd, 0, 12345, 0, 10 * SEC), SHMK_WAIT_EVENT);
	KT_RET(kt_wait(m.fd, 0, 12345, SHMK_WAIT_NO_EVENTS, 10 * SEC),
	       -EAGAIN);
	/* NO_EVENTS ignores it. */
	KT_RET(kt_wait(m.fd, 0, 0, SHMK_WAIT_NO_EVENTS, 10000000),
	       -ETIMEDOUT);
	/* Once read, WAIT sleeps again. */
	KT_RET(kt_read_event(m.fd, &ev, true), sizeof(ev));
	KT_EQ(ev.type, SHMK_EVENT_EXIT);
	KT_RET(kt_wait(m.fd, 0, 0, 0, 10000000), -ETIMEDOUT);
	kt_leave(&m, true);
	return KT_PASS;
}

struct sleeper_arg {
	int ready;
	char name[SHMK_NAME_MAX];
};

/* A member that joins, says so, and waits to be killed. */
static int sleeper(void *arg)
{
	struct sleeper_arg *sa = arg;
	struct kt_member d;

	if (kt_join(&d, sa->name, 0, 0, 0) < 0)
		return 100;
	kt_post(sa->ready, NULL, 0);
	for (;;)
		pause();
}

/* A member that dies while another sleeps in WAIT wakes it with EVENT. */
static int death_case(bool no_events)
{
	struct kt_member m;
	struct kt_pipe p, rd;
	struct waiter w;
	struct wres r;
	struct shmk_event ev;
	struct sleeper_arg sa;
	pid_t wpid, dpid;

	KT_RET(join_one(&m, "evdie", sa.name), 0);
	KT_RET(kt_pipe_open(&p), 0);
	KT_RET(kt_pipe_open(&rd), 0);
	sa.ready = rd.w;
	dpid = kt_fork(sleeper, &sa);
	KT_RET(kt_await(rd.r, NULL, 0, KT_TIMEOUT_MS), 0);
	waiters_init(&w, 1, sa.name, p.w, 0);
	w.flags = no_events ? SHMK_WAIT_NO_EVENTS : 0;
	KT_DO(start_waiters(&w, 1, &wpid, 0));
	kill(dpid, SIGKILL);
	KT_EQ(kt_reap(dpid), KT_KILLED(SIGKILL));
	/* The death is processed: this member has its event. */
	KT_EQ(kt_poll_in(m.fd, KT_TIMEOUT_MS), 1);
	KT_RET(kt_read_event(m.fd, &ev, true), sizeof(ev));
	KT_EQ(ev.pid, dpid);
	if (no_events) {
		KT_TRUE(quiet(p.r));
		KT_RET(kt_await_waiting(&wpid, 1, -1), 0);
		KT_RET(kt_wake(m.fd, 0, 1), 1);
		KT_RET(read_res(p.r, &r), 0);
		KT_RET(r.ret, 0);
	} else {
		KT_RET(read_res(p.r, &r), 0);
		KT_RET(r.ret, SHMK_WAIT_EVENT);
		KT_RET(kt_wake(m.fd, 0, 1), 0);
	}
	KT_EQ(kt_reap(wpid), 0);
	kt_leave(&m, true);
	return KT_PASS;
}

static int t_event_while_sleeping(void)
{
	return death_case(false);
}

static int t_no_events_while_sleeping(void)
{
	return death_case(true);
}

/* Many round trips between two processes: no lost wake-up. */
struct pp {
	const char *name;
	int rounds;
};

static int pong(void *arg)
{
	struct pp *a = arg;
	struct kt_member m;
	volatile uint32_t *turn;
	int i, r;

	if (kt_join(&m, a->name, 0, 0, 0) < 0)
		return 100;
	turn = kt_word(&m, 0);
	for (i = 0; i < a->rounds; i++) {
		/* Wait for an odd value, answer with the next even one. */
		while (!(__atomic_load_n(turn, __ATOMIC_ACQUIRE) & 1)) {
			r = kt_wait(m.fd, 0, (uint32_t)(2 * i), SHMK_WAIT_NO_EVENTS,
				    5 * SEC);
			if (r < 0 && r != -EAGAIN)
				return 101;
		}
		__atomic_store_n(turn, (uint32_t)(2 * i + 2), __ATOMIC_RELEASE);
		if (kt_wake(m.fd, 0, 1) < 0)
			return 102;
	}
	kt_leave(&m, true);
	return 0;
}

static int t_ping_pong(void)
{
	struct kt_member m;
	struct pp a;
	volatile uint32_t *turn;
	char nm[SHMK_NAME_MAX];
	pid_t pid;
	int i, r;

	KT_RET(join_one(&m, "pp", nm), 0);
	a.name = nm;
	a.rounds = 300;
	turn = kt_word(&m, 0);
	pid = kt_fork(pong, &a);
	for (i = 0; i < a.rounds; i++) {
		__atomic_store_n(turn, (uint32_t)(2 * i + 1), __ATOMIC_RELEASE);
		KT_TRUE(kt_wake(m.fd, 0, 1) >= 0);
		while (__atomic_load_n(turn, __ATOMIC_ACQUIRE) !=
		       (uint32_t)(2 * i + 2)) {
			r = kt_wait(m.fd, 0, (uint32_t)(2 * i + 1),
				    SHMK_WAIT_NO_EVENTS, 5 * SEC);
			if (r == -ETIMEDOUT)
				kt_diag("round %d: lost wake-up", i);
			KT_TRUE(r == 0 || r == -EAGAIN);
		}
	}
	KT_EQ(kt_reap(pid), 0);
	kt_leave(&m, true);
	return KT_PASS;
}

static const struct kt_case cases[] = {
	{ "wait: bad flags/reserved/offsets -> EINVAL", t_wait_errors },
	{ "wake: count 0, flags, reserved, bad offsets -> EINVAL",
	  t_wake_errors },
	{ "wait/wake: non-member -> ENOTCONN", t_nonmember },
	{ "wait: value mismatch -> EAGAIN", t_wait_mismatch },
	{ "wait: relative timeout -> ETIMEDOUT, not early",
	  t_wait_timeout_rel },
	{ "wait: ABSTIME timeout -> ETIMEDOUT, past deadlines too",
	  t_wait_timeout_abs },
	{ "wait/wake: cross-process wake returns 0, WAKE returns 1",
	  t_cross_wake },
	{ "wake: returns the number woken (ALL, count > waiters)",
	  t_wake_all_count },
	{ "wake: count 1 with 3 waiters wakes exactly one, FIFO",
	  t_wake_fifo },
	{ "wake: keyed by offset", t_wake_keyed_offset },
	{ "wake: keyed by arena", t_wake_keyed_arena },
	{ "wait: signal, relative, no SA_RESTART -> EINTR", t_eintr_rel },
	{ "wait: signal, relative, SA_RESTART -> EINTR",
	  t_eintr_rel_sa_restart },
	{ "wait: signal, ABSTIME, no SA_RESTART -> EINTR", t_eintr_abs },
	{ "wait: signal, ABSTIME, SA_RESTART -> restarted", t_restart_abs },
	{ "wait: killed waiter leaves the queue", t_waiter_killed },
	{ "wait: event pending at entry -> SHMK_WAIT_EVENT; NO_EVENTS ignores",
	  t_event_pending_at_entry },
	{ "wait: peer dies while asleep -> SHMK_WAIT_EVENT",
	  t_event_while_sleeping },
	{ "wait: NO_EVENTS stays asleep when a peer dies",
	  t_no_events_while_sleeping },
	{ "wait/wake: 300 cross-process round trips, no lost wake-up",
	  t_ping_pong },
};

int main(int argc, char **argv)
{
	return kt_main(argc, argv, cases, KT_ARRAY_SIZE(cases));
}
