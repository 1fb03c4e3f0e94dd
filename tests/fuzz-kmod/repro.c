// SPDX-License-Identifier: GPL-2.0
/*
 * repro: minimal reproducers of what t_fuzz found (README.md, "Findings").
 * Not a test of the suite (no t_ prefix); run in the VM:
 *
 *   tests/vm/run-vm.sh --module kmod/shmk.ko --cmd 'repro all' tests/fuzz-kmod
 *
 * Each case prints "REPRODUCED: ..." or "not reproduced: ..." and the
 * program exits 0 if none reproduced, 1 otherwise.
 *
 *   uring-sqpoll  a member with an io_uring SQPOLL ring is SIGKILLed: its
 *                 exit event says SHMK_END_EXIT status 0 (the SQ thread's
 *                 do_exit(0) closed the files), not SIGNAL 9
 *   uring-iowq    the same with a plain ring and one READ of the member's
 *                 file pending in io-wq, and exit(42) or SIGKILL
 *   clone-files   a member created with clone(CLONE_FILES) is SIGKILLed
 *                 and reaped: its membership is still LIVE (no event) until
 *                 the sharer of the descriptor table closes the file
 *   dofork        MADV_DOFORK on an arena mapping: a forked child (not a
 *                 member) inherits it and writes the arena
 *   ipcns         a persistent arena created in an IPC namespace that then
 *                 dies can no longer be removed, and is visible in a later
 *                 IPC namespace that gets the same inode number
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/io_uring.h>
#include <linux/shmk.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static int reproduced;

static int member(const char *name, uint32_t flags, struct shmk_attach *out)
{
	struct shmk_attach a;
	int fd = open(SHMK_DEVICE_PATH, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -1;
	memset(&a, 0, sizeof(a));
	snprintf(a.name, sizeof(a.name), "%s", name);
	a.size = 16384;
	a.flags = flags;
	a.mode = 0666;
	if (ioctl(fd, SHMK_IOC_ATTACH, &a) < 0) {
		perror("attach");
		close(fd);
		return -1;
	}
	if (out)
		*out = a;
	return fd;
}

/* The first exit event pending on @fd within 2 s, else how = 0. */
static struct shmk_event event(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct shmk_event ev;

	memset(&ev, 0, sizeof(ev));
	if (poll(&p, 1, 2000) == 1 && read(fd, &ev, sizeof(ev)) != sizeof(ev))
		memset(&ev, 0, sizeof(ev));
	return ev;
}

static void verdict(bool bad, const char *what, const char *detail)
{
	printf("%s: %s (%s)\n", bad ? "REPRODUCED" : "not reproduced", what,
	       detail);
	reproduced |= bad;
}

static void remove_arena(const char *name)
{
	struct shmk_remove rm;
	int fd = open(SHMK_DEVICE_PATH, O_RDWR | O_CLOEXEC);

	memset(&rm, 0, sizeof(rm));
	snprintf(rm.name, sizeof(rm.name), "%s", name);
	ioctl(fd, SHMK_IOC_REMOVE, &rm);
	close(fd);
}

/* A child that is a member and runs io_uring, then dies as asked. */
static void uring_case(const char *label, bool sqpoll, int how)
{
	struct io_uring_params pr;
	struct shmk_event ev;
	int obs, st, go[2];
	char detail[160];
	pid_t pid;

	obs = member("repro.uring", SHMK_ATTACH_CREATE, NULL);
	if (obs < 0 || pipe(go) < 0)
		return;
	pid = fork();
	if (pid == 0) {
		static struct shmk_event buf[4];
		int fd = member("repro.uring", 0, NULL), ring;
		struct io_uring_sqe *sqe;
		unsigned int *tail, *array;
		void *sq, *sqes;

		memset(&pr, 0, sizeof(pr));
		if (sqpoll) {
			pr.flags = IORING_SETUP_SQPOLL;
			pr.sq_thread_idle = 1000;
		}
		ring = (int)syscall(__NR_io_uring_setup, 4, &pr);
		if (fd < 0 || ring < 0)
			_exit(100);
		if (!sqpoll) {
			/* One READ of our own file: sleeps in an io-wq worker. */
			sq = mmap(NULL, pr.sq_off.array + pr.sq_entries * 4,
				  PROT_READ | PROT_WRITE, MAP_SHARED, ring,
				  IORING_OFF_SQ_RING);
			sqes = mmap(NULL, pr.sq_entries * sizeof(*sqe),
				    PROT_READ | PROT_WRITE, MAP_SHARED, ring,
				    IORING_OFF_SQES);
			if (sq == MAP_FAILED || sqes == MAP_FAILED)
				_exit(101);
			sqe = sqes;
			memset(sqe, 0, sizeof(*sqe));
			sqe->opcode = IORING_OP_READ;
			sqe->fd = fd;
			sqe->addr = (uintptr_t)buf;
			sqe->len = sizeof(buf);
			array = (void *)((char *)sq + pr.sq_off.array);
			tail = (void *)((char *)sq + pr.sq_off.tail);
			array[0] = 0;
			__atomic_store_n(tail, 1, __ATOMIC_RELEASE);
			syscall(__NR_io_uring_enter, ring, 1, 0, 0, NULL, 0);
		}
		if (write(go[1], "x", 1) != 1)
			_exit(102);
		usleep(100000);	/* let the io thread settle (not a sync) */
		if (how == SIGKILL)
			kill(getpid(), SIGKILL);
		_exit(how);
	}
	close(go[1]);
	if (read(go[0], detail, 1) != 1) {
		printf("not reproduced: %s (child failed to set up)\n", label);
		goto out;
	}
	waitpid(pid, &st, 0);
	ev = event(obs);
	snprintf(detail, sizeof(detail),
		 "wait status 0x%x; event how=%u status=%d", st, ev.how, ev.status);
	verdict(how == SIGKILL ? !(ev.how == SHMK_END_SIGNAL && ev.status == 9) :
		!(ev.how == SHMK_END_EXIT && ev.status == how), label, detail);
out:
	close(go[0]);
	close(obs);
}

static int child_fd = -1;
static char child_stack[65536];

static int clone_child(void *arg)
{
	(void)arg;
	child_fd = member("repro.clone", 0, NULL);
	kill(getpid(), SIGKILL);
	return 0;
}

static void clone_files_case(void)
{
	struct shmk_attach at;
	const volatile struct shmk_ctrl *ctrl;
	const volatile struct shmk_ctrl_member *s;
	struct shmk_event ev;
	char detail[200];
	int obs, st, live = 0;
	uint32_t i;
	pid_t pid;

	obs = member("repro.clone", SHMK_ATTACH_CREATE, &at);
	if (obs < 0)
		return;
	ctrl = mmap(NULL, at.ctrl_size, PROT_READ, MAP_SHARED, obs, 0);
	/* CLONE_VM too, so that we learn the child's descriptor number. */
	pid = clone(clone_child, child_stack + sizeof(child_stack),
		    CLONE_VM | CLONE_FILES | SIGCHLD, NULL);
	waitpid(pid, &st, 0);
	for (i = 1; ctrl != MAP_FAILED && i <= ctrl->member_max; i++) {
		s = (const void *)((const volatile char *)ctrl + ctrl->members_offset +
				   (i - 1) * ctrl->member_stride);
		if (s->state == SHMK_MEMBER_LIVE && s->pid == pid)
			live = 1;
	}
	ev = event(obs);
	/*
	 * events.rst allows the event "just after its parent is told": the
	 * slot may still be LIVE right after wait(); the event must come
	 * (within 2 s here), with the signal, before the sharer closes.
	 */
	snprintf(detail, sizeof(detail),
		 "child %d reaped (status 0x%x); its slot %s at wait(); event before close: how=%u status=%d",
		 pid, st, live ? "still LIVE" : "ended", ev.how, ev.status);
	verdict(!(ev.how == SHMK_END_SIGNAL && ev.status == SIGKILL),
		"clone(CLONE_FILES) member killed: death not reported", detail);
	if (child_fd >= 0) {
		close(child_fd);	/* the sharer closes: now it ends */
		ev = event(obs);
		printf("  after the sharer's close(): event how=%u status=%d\n",
		       ev.how, ev.status);
	}
	close(obs);
}

static void dofork_case(void)
{
	struct shmk_attach at;
	volatile uint32_t *user;
	char detail[128];
	int fd, st;
	pid_t pid;

	fd = member("repro.dofork", SHMK_ATTACH_CREATE, &at);
	if (fd < 0)
		return;
	user = mmap(NULL, at.user_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		    (off_t)at.user_offset);
	if (user == MAP_FAILED)
		return;
	user[0] = 0;
	madvise((void *)user, at.user_size, MADV_DOFORK);
	pid = fork();
	if (pid == 0) {
		user[0] = 0xdead;	/* SIGSEGV if not inherited */
		_exit(0);
	}
	waitpid(pid, &st, 0);
	snprintf(detail, sizeof(detail), "child status 0x%x, arena word 0x%x",
		 st, user[0]);
	verdict(WIFEXITED(st) && user[0] == 0xdead,
		"MADV_DOFORK: a non-member child wrote the arena", detail);
	munmap((void *)user, at.user_size);
	close(fd);
}

static void ipcns_case(void)
{
	char detail[160];
	int st, r = -1, p[2], tries;
	pid_t pid;

	if (pipe(p) < 0)
		return;
	pid = fork();
	if (pid == 0) {
		if (unshare(CLONE_NEWIPC) < 0)
			_exit(1);
		_exit(member("repro.ipcns", SHMK_ATTACH_CREATE |
			     SHMK_ATTACH_PERSISTENT, NULL) < 0);
	}
	waitpid(pid, &st, 0);	/* its IPC namespace dies (freed later) */
	/*
	 * New namespaces until one gets the dead one's inode number (the
	 * arena's key). A repro, not a test: the pause lets the kernel free
	 * the dead namespace, which it does from a work item.
	 */
	for (tries = 0; tries < 100 && r != 1; tries++) {
		usleep(20000);
		pid = fork();
		if (pid == 0) {
			int fd;

			if (unshare(CLONE_NEWIPC) < 0)
				_exit(1);
			fd = member("repro.ipcns", 0, NULL);	/* no CREATE */
			r = fd >= 0;
			if (write(p[1], &r, sizeof(r)) != sizeof(r))
				_exit(1);
			if (fd >= 0) {
				/* Remove it from here: nobody else can. */
				struct shmk_remove rm;

				memset(&rm, 0, sizeof(rm));
				snprintf(rm.name, sizeof(rm.name), "repro.ipcns");
				ioctl(fd, SHMK_IOC_REMOVE, &rm);
			}
			_exit(0);
		}
		if (read(p[0], &r, sizeof(r)) != sizeof(r))
			r = -1;
		waitpid(pid, &st, 0);
	}
	snprintf(detail, sizeof(detail),
		 "attach without CREATE from a new namespace %s after %d tries%s",
		 r == 1 ? "succeeded" : "failed", tries, "");
	verdict(r == 1, "a dead IPC namespace's persistent arena seen in a new one",
		detail);
	close(p[0]);
	close(p[1]);
}

int main(int argc, char **argv)
{
	const char *c = argc > 1 ? argv[1] : "all";
	bool all = !strcmp(c, "all");
	int i, n = argc > 2 ? atoi(argv[2]) : 1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 0; i < n; i++) {
		if (all || !strcmp(c, "uring-sqpoll"))
			uring_case("SIGKILL of a member with an SQPOLL ring", true,
				   SIGKILL);
		if (all || !strcmp(c, "uring-iowq")) {
			uring_case("exit(42) of a member with a READ in io-wq",
				   false, 42);
			uring_case("SIGKILL of a member with a READ in io-wq",
				   false, SIGKILL);
		}
		if (all || !strcmp(c, "clone-files"))
			clone_files_case();
		if (all || !strcmp(c, "dofork"))
			dofork_case();
		if (all || !strcmp(c, "ipcns"))
			ipcns_case();
	}
	remove_arena("repro.ipcns");
	return reproduced;
}
