// SPDX-License-Identifier: GPL-2.0
/*
 * t_uring: members that use io_uring (raw syscalls, no liburing) end with
 * the true how/status:
 *
 * - an SQPOLL ring: its kernel thread belongs to the member's thread group
 *   and shares its fd table, but exits with code 0 of its own; killed, the
 *   member must still be SIGNAL 9, and exit(3) must be EXIT 3;
 * - the shmk fd registered as a fixed file of a ring (the ring holds a
 *   reference to the file);
 * - an IORING_OP_READ of events pending on the shmk fd, armed on the
 *   file's poll queue (a first READ, completed, left an io-wq worker
 *   thread behind), or (IOSQE_ASYNC) asleep in read() in an io-wq worker.
 *
 * Which thread of the member closes the files last is a race, so every
 * case repeats, and every other round pins the member, its SQPOLL thread
 * (IORING_SETUP_SQ_AFF) and its io-wq workers (IORING_REGISTER_IOWQ_AFF)
 * to CPU 0 (with io-wq workers, the member's main thread SCHED_FIFO):
 * then the main thread exits first and the io_uring thread closes the
 * files last.
 *
 * Each victim holds a robust lock (ks.h); the observer (member 1) checks
 * the event, the slot and the lock after each end.
 */
#include "ks.h"

#include <dirent.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <linux/io_uring.h>

#define SEC 1000000000ll

/* ---- a minimal ring ----------------------------------------------------- */

struct ring {
	int fd;
	unsigned int *sq_tail, *sq_mask, *sq_array;
	unsigned int *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
};

/*
 * @pin: the SQPOLL thread (IORING_SETUP_SQ_AFF) on CPU 0, where the caller
 * pinned itself: then the member's threads exit one after the other.
 */
static int ring_setup(struct ring *r, unsigned int flags, bool pin)
{
	struct io_uring_params p;
	size_t sq_len, cq_len;
	unsigned char *sq, *cq;
	void *sqes;

	memset(&p, 0, sizeof(p));
	p.flags = flags;
	if ((flags & IORING_SETUP_SQPOLL) && pin) {
		p.flags |= IORING_SETUP_SQ_AFF;
		p.sq_thread_cpu = 0;
	}
	p.sq_thread_idle = 1;	/* ms: the SQPOLL thread goes to sleep */
	r->fd = (int)syscall(__NR_io_uring_setup, 4, &p);
	if (r->fd < 0)
		return -errno;
	sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned int);
	cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	if (p.features & IORING_FEAT_SINGLE_MMAP) {
		if (cq_len > sq_len)
			sq_len = cq_len;
		cq_len = sq_len;
	}
	sq = mmap(NULL, sq_len, PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQ_RING);
	if (sq == MAP_FAILED)
		return -errno;
	cq = sq;
	if (!(p.features & IORING_FEAT_SINGLE_MMAP)) {
		cq = mmap(NULL, cq_len, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_CQ_RING);
		if (cq == MAP_FAILED)
			return -errno;
	}
	sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe),
		    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd,
		    IORING_OFF_SQES);
	if (sqes == MAP_FAILED)
		return -errno;
	r->sqes = sqes;
	r->sq_tail = (unsigned int *)(sq + p.sq_off.tail);
	r->sq_mask = (unsigned int *)(sq + p.sq_off.ring_mask);
	r->sq_array = (unsigned int *)(sq + p.sq_off.array);
	r->cq_head = (unsigned int *)(cq + p.cq_off.head);
	r->cq_tail = (unsigned int *)(cq + p.cq_off.tail);
	r->cq_mask = (unsigned int *)(cq + p.cq_off.ring_mask);
	r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
	return 0;
}

/* Queues and submits one READ of @len bytes of @fd; 1 submitted or -errno. */
static int ring_read(struct ring *r, int fd, void *buf, unsigned int len,
		     unsigned int sqe_flags)
{
	unsigned int tail = *r->sq_tail, idx = tail & *r->sq_mask;
	struct io_uring_sqe *sqe = &r->sqes[idx];
	long ret;

	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_READ;
	sqe->flags = (__u8)sqe_flags;
	sqe->fd = fd;
	sqe->addr = (uintptr_t)buf;
	sqe->len = len;
	sqe->off = 0;
	sqe->user_data = 0x5a;
	r->sq_array[idx] = idx;
	__atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
	ret = syscall(__NR_io_uring_enter, r->fd, 1, 0, 0, NULL, 0);
	return ret < 0 ? -errno : (int)ret;
}

static bool ring_cq_empty(struct ring *r)
{
	return __atomic_load_n(r->cq_head, __ATOMIC_ACQUIRE) ==
	       __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE);
}

/* The next completion's result, within KT_TIMEOUT_MS (the ring polls). */
static int ring_wait(struct ring *r, int *res)
{
	unsigned int head;

	if (ring_cq_empty(r) && kt_poll_in(r->fd, KT_TIMEOUT_MS) != 1)
		return -ETIMEDOUT;
	if (ring_cq_empty(r))
		return -EPROTO;
	head = *r->cq_head;
	*res = r->cqes[head & *r->cq_mask].res;
	__atomic_store_n(r->cq_head, head + 1, __ATOMIC_RELEASE);
	return 0;
}

/* Threads of this process (the SQPOLL thread is one of them). */
static int count_threads(pid_t pid)
{
	char path[64];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/*
 * Bounded wait (KT_TIMEOUT_MS) until a thread of @pid named @prefix* is
 * asleep (state S): the io-wq worker blocked in read(). 0 or -ETIMEDOUT.
 */
static int await_thread_asleep(pid_t pid, const char *prefix)
{
	uint64_t deadline = kt_now_ns() + KT_TIMEOUT_MS * 1000000ull;
	char path[320], buf[256], *p;
	struct dirent *de;
	FILE *f;
	DIR *d;

	while (kt_now_ns() < deadline) {
		snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
		d = opendir(path);
		if (!d)
			return -errno;
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "/proc/%d/task/%s/stat",
				 (int)pid, de->d_name);
			f = fopen(path, "re");
			if (!f)
				continue;
			p = fgets(buf, sizeof(buf), f);
			fclose(f);
			if (p)
				p = strchr(buf, '(');
			if (!p || strncmp(p + 1, prefix, strlen(prefix)))
				continue;
			p = strrchr(buf, ')');
			if (p && p[1] == ' ' && p[2] == 'S') {
				closedir(d);
				return 0;
			}
		}
		closedir(d);
		kt_pause();
	}
	kt_diag("no %s* thread of %d asleep", prefix, (int)pid);
	return -ETIMEDOUT;
}

/* ---- victims -------------------------------------------------------------- */

enum umode { U_SQPOLL, U_FIXED, U_READ, U_READ_ASYNC };

struct uctl {
	char name[SHMK_NAME_MAX];
	enum umode mode;
	int code;	/* 0: wait to be killed; else exit(code) on the go */
	bool pin;	/* the member and its io_uring threads on CPU 0 */
	int rep;	/* write end: struct ks_ids, struct urep */
	int cmd;	/* read end */
};

struct urep {
	int setup;	/* ring setup / register / submit: 0 or -errno */
	int threads;	/* threads of the victim after the setup */
	int rt_res;	/* READ modes: the round trip's completion */
	uint32_t rt_type, rt_how;
	int pending;	/* READ modes: the second READ has not completed */
};

static int uring_victim(void *arg)
{
	static struct shmk_event evbuf[2];
	struct uctl *c = arg;
	struct kt_member m;
	struct ks_ids ids;
	struct urep u;
	struct ring r;
	unsigned int sflags = 0;
	struct sched_param fifo = { .sched_priority = 1 };
	cpu_set_t cpu0;
	int fd;

	memset(&u, 0, sizeof(u));
	if (ks_victim_join(&m, c->name, &ids) < 0)
		return 100;
	CPU_ZERO(&cpu0);
	CPU_SET(0, &cpu0);
	if (c->pin && sched_setaffinity(0, sizeof(cpu0), &cpu0) < 0)
		return 101;
	u.setup = ring_setup(&r, c->mode == U_SQPOLL ? IORING_SETUP_SQPOLL :
				 0, c->pin);
	if (!u.setup && c->pin && c->mode != U_SQPOLL &&
	    syscall(__NR_io_uring_register, r.fd, IORING_REGISTER_IOWQ_AFF,
		    &cpu0, sizeof(cpu0)) < 0)
		u.setup = -errno;
	if (!u.setup && c->mode == U_FIXED) {
		fd = m.fd;
		if (syscall(__NR_io_uring_register, r.fd,
			    IORING_REGISTER_FILES, &fd, 1) < 0)
			u.setup = -errno;
	}
	if (!u.setup && (c->mode == U_READ || c->mode == U_READ_ASYNC)) {
		if (c->mode == U_READ_ASYNC)
			sflags = IOSQE_ASYNC;
		/* A round trip first: the READ does deliver events. */
		u.setup = ring_read(&r, m.fd, &evbuf[0], sizeof(evbuf[0]),
				    sflags);
		if (u.setup == 1) {
			u.setup = 0;
			kt_post(c->rep, &ids, sizeof(ids));
			if (ring_wait(&r, &u.rt_res) < 0)
				u.rt_res = -ETIMEDOUT;
			u.rt_type = evbuf[0].type;
			u.rt_how = evbuf[0].how;
			/* The one that stays pending. */
			u.setup = ring_read(&r, m.fd, &evbuf[1],
					    sizeof(evbuf[1]), sflags);
			if (u.setup == 1)
				u.setup = 0;
			u.pending = ring_cq_empty(&r);
		}
	} else {
		kt_post(c->rep, &ids, sizeof(ids));
	}
	u.threads = count_threads(getpid());
	/*
	 * Pinned with io-wq workers: this thread (only) SCHED_FIFO, so on
	 * CPU 0 it runs its whole exit before its workers (SCHED_OTHER)
	 * may, even when it waits for one of them to cancel a request. (The
	 * SQPOLL thread, pinned, already exits after it.)
	 */
	if (!u.setup && c->pin && c->mode != U_SQPOLL &&
	    sched_setscheduler(0, SCHED_FIFO, &fifo) < 0)
		u.setup = -errno;
	kt_post(c->rep, &u, sizeof(u));
	if (c->code) {
		if (kt_await(c->cmd, NULL, 0, 20000) == 0)
			exit(c->code);
		return 102;
	}
	for (;;)
		pause();
}

static bool has_uring(void)
{
	struct io_uring_params p;
	int fd;

	memset(&p, 0, sizeof(p));
	fd = (int)syscall(__NR_io_uring_setup, 2, &p);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/*
 * One victim of @mode ends (killed, or exit(@code)); returns KT_FAIL only
 * for a broken setup. *@wrong is set if the event or slot lied about how.
 */
static int uring_round(struct kt_member *obs, struct uctl *c,
		       struct kt_pipe *rep, struct kt_pipe *cmd,
		       struct kt_pipe *wout, bool waiter, bool *wrong)
{
	struct shmk_event ev;
	struct ks_waiter w;
	struct ks_ids ids;
	struct urep u;
	uint32_t how = c->code ? SHMK_END_EXIT : SHMK_END_SIGNAL;
	int status = c->code ? c->code : SIGKILL;
	struct kt_member d;
	pid_t pid;

	pid = kt_fork(uring_victim, c);
	KT_TRUE(pid > 0);
	KT_RET(kt_await(rep->r, &ids, sizeof(ids), KT_TIMEOUT_MS), 0);
	if (c->mode == U_READ || c->mode == U_READ_ASYNC) {
		/* The victim's first READ completes with this detach. */
		KT_RET(kt_join(&d, c->name, 0, 0, 0), 0);
		kt_leave(&d, true);
		KT_DO(ks_expect_detach(obs, d.at.member_id));
	}
	KT_RET(kt_await(rep->r, &u, sizeof(u), KT_TIMEOUT_MS), 0);
	if (u.setup < 0)
		kt_diag("io_uring setup in the victim: %s",
			kt_errname(u.setup));
	KT_RET(u.setup, 0);
	if (c->mode == U_SQPOLL)
		KT_TRUE(u.threads >= 2);	/* the SQPOLL thread */
	if (c->mode == U_READ || c->mode == U_READ_ASYNC) {
		KT_RET(u.rt_res, sizeof(ev));
		KT_EQ(u.rt_type, SHMK_EVENT_EXIT);
		KT_EQ(u.rt_how, SHMK_END_DETACH);
		KT_TRUE(u.pending);
	}
	if (c->mode == U_READ_ASYNC)
		KT_RET(await_thread_asleep(pid, "iou-wrk-"), 0);
	KT_DO(ks_expect_quiet(obs));
	if (waiter)
		KT_DO(ks_waiter_start(&w, c->name, KS_LOCK(ids.id),
				      KS_HELD(ids.id), wout->w, 1));
	if (c->code) {
		KT_RET(kt_post(cmd->w, NULL, 0), 0);
		KT_EQ(kt_reap(pid), c->code);
	} else {
		kill(pid, SIGKILL);
		KT_EQ(kt_reap(pid), KT_KILLED(SIGKILL));
	}
	KT_EQ(kt_poll_in(obs->fd, KT_TIMEOUT_MS), 1);
	KT_RET(kt_read_event(obs->fd, &ev, true), sizeof(ev));
	KT_EQ(ev.type, SHMK_EVENT_EXIT);
	KT_EQ(ev.member_id, ids.id);
	KT_EQ(ev.generation, ids.gen);
	KT_EQ(ev.pid, pid);
	KT_EQ(ev.flags, SHMK_EVENT_F_CRASH);
	if (ev.how != how || ev.status != status ||
	    kt_slot(obs->ctrl, ids.id)->how != how ||
	    kt_slot(obs->ctrl, ids.id)->status != status) {
		kt_diag("member %u (pid %d%s): event how %u status %d, slot how %u status %d; want how %u status %d",
			ids.id, (int)pid, c->pin ? ", on one CPU" : "", ev.how, ev.status,
			kt_slot(obs->ctrl, ids.id)->how,
			kt_slot(obs->ctrl, ids.id)->status, how, status);
		*wrong = true;
	}
	KT_EQ(kt_slot(obs->ctrl, ids.id)->state, SHMK_MEMBER_DEAD);
	KT_DO(ks_expect_released(obs, ids.id));
	if (waiter) {
		KT_DO(ks_waiter_done(&w, wout->r));
		KT_DO(ks_expect_detach(obs, w.id));
	}
	KT_DO(ks_expect_quiet(obs));
	return KT_PASS;
}

static int uring_case(enum umode mode, int code, int rounds)
{
	struct kt_member obs;
	struct kt_pipe rep, cmd, wout;
	struct uctl c;
	int i, nwrong = 0;

	if (!has_uring())
		return kt_skip("io_uring_setup: %s (no io_uring in this kernel)",
			       kt_errname(-errno));
	kt_name(c.name, "uring");
	KT_RET(kt_join(&obs, c.name, KS_ARENA, SHMK_ATTACH_CREATE, 0600), 0);
	KT_RET(kt_pipe_open(&rep), 0);
	KT_RET(kt_pipe_open(&cmd), 0);
	KT_RET(kt_pipe_open(&wout), 0);
	c.mode = mode;
	c.code = code;
	c.rep = rep.w;
	c.cmd = cmd.r;
	for (i = 0; i < rounds; i++) {
		bool wrong = false;

		/* Every other round with all threads on one CPU. */
		c.pin = !(i & 1);
		KT_DO(uring_round(&obs, &c, &rep, &cmd, &wout, i == 0,
				  &wrong));
		nwrong += wrong;
	}
	if (nwrong)
		kt_diag("%d of %d ends reported with the wrong how/status",
			nwrong, rounds);
	KT_EQ(nwrong, 0);
	kt_leave(&obs, true);
	return KT_PASS;
}

static int t_sqpoll_kill(void)
{
	return uring_case(U_SQPOLL, 0, 12);
}

static int t_sqpoll_exit(void)
{
	return uring_case(U_SQPOLL, 3, 6);
}

static int t_fixed_file_kill(void)
{
	return uring_case(U_FIXED, 0, 4);
}

static int t_fixed_file_exit(void)
{
	return uring_case(U_FIXED, 4, 2);
}

static int t_read_pending_kill(void)
{
	return uring_case(U_READ, 0, 4);
}

static int t_read_async_kill(void)
{
	return uring_case(U_READ_ASYNC, 0, 6);
}

static int t_read_async_exit(void)
{
	return uring_case(U_READ_ASYNC, 6, 3);
}

static const struct kt_case cases[] = {
	{ "SQPOLL ring: member killed -> SIGNAL 9, every time (x12)",
	  t_sqpoll_kill },
	{ "SQPOLL ring: member exit(3) -> EXIT 3 (x6)", t_sqpoll_exit },
	{ "shmk fd a registered fixed file: killed -> SIGNAL 9 (x4)",
	  t_fixed_file_kill },
	{ "shmk fd a registered fixed file: exit(4) -> EXIT 4 (x2)",
	  t_fixed_file_exit },
	{ "READ of events pending (poll-armed): killed -> SIGNAL 9 (x4)",
	  t_read_pending_kill },
	{ "READ of events asleep in an io-wq worker: killed -> SIGNAL 9 (x6)",
	  t_read_async_kill },
	{ "READ of events asleep in an io-wq worker: exit(6) -> EXIT 6 (x3)",
	  t_read_async_exit },
};

int main(int argc, char **argv)
{
	return kt_main(argc, argv, cases, KT_ARRAY_SIZE(cases));
}
