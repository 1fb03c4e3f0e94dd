// SPDX-License-Identifier: GPL-2.0
/*
 * t_fuzz: the loop, and the ops that change the shape of processes: fork,
 * clone (CLONE_FILES, clone3 with a pidfd, CLONE_VM|CLONE_FILES), exec of
 * this program in mini mode, threads, unshare, setuid, signals, SIGKILL of
 * children, descriptors passed over Unix sockets, deaths of every kind.
 * Also the watcher: one membership per worker that random ops never touch,
 * whose exit events feed the death oracle (t_fuzz.c).
 */
#include "fuzz.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <grp.h>
#include <linux/sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>

extern __thread enum fz_op fz_cur_op;
extern char **environ;

typedef void (*fz_opfn)(struct fz_ctx *c);
static const fz_opfn fz_opfns[FZ_NOPS] = {
#define FZ_FN(n, w) op_##n,
	FZ_OPS(FZ_FN)
#undef FZ_FN
};

long fz_raw(long nr, long a, long b, long c, long d, long e, long f)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8),
			   "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

/* ---- per process set-up --------------------------------------------- */

static void fz_on_usr1(int sig)
{
	(void)sig;
}

static void fz_set_usr1(bool restart)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fz_on_usr1;
	sa.sa_flags = restart ? SA_RESTART : 0;
	sigaction(SIGUSR1, &sa, NULL);
}

/*
 * The watchdog (SIGALRM): print where every thread of the process is, as
 * the kernel sees it, then die of SIGALRM. Raw calls only.
 */
static void fz_wd_put(const char *s, long n)
{
	if (n > 0 && write(1, s, (size_t)n) < 0)
		return;
}

static void fz_wd_file(const char *path, const char *prefix)
{
	char buf[1536];
	long n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	for (char *l = buf, *e; *l; l = e) {
		e = strchr(l, '\n');
		e = e ? e + 1 : l + strlen(l);
		fz_wd_put(prefix, (long)strlen(prefix));
		fz_wd_put(l, e - l);
		if (e[-1] != '\n')
			fz_wd_put("\n", 1);
	}
}

static void fz_on_watchdog(int sig, siginfo_t *si, void *uc)
{
	char buf[2048], path[96], head[160];
	int dfd, i;
	long n;

	(void)si;
	n = snprintf(head, sizeof(head), "# watchdog: pid %d (depth %d) hung in op %s at ip %llx; threads' ops:",
		     (int)getpid(), fz_p.depth, fz_op_names[fz_cur_op % FZ_NOPS],
		     (unsigned long long)((ucontext_t *)uc)->uc_mcontext.gregs[REG_RIP]);
	fz_wd_put(head, n);
	for (i = 0; i < FZ_MAX_THREADS; i++) {
		if (!fz_p.thr[i].used)
			continue;
		n = snprintf(head, sizeof(head), " %d:%s%s", (int)fz_p.thr[i].tid,
			     fz_op_names[fz_p.thr[i].op % FZ_NOPS],
			     atomic_load(&fz_p.thr[i].done) ? "(done)" : "");
		fz_wd_put(head, n);
	}
	fz_wd_put("\n", 1);
	dfd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	while (dfd >= 0 && (n = syscall(SYS_getdents64, dfd, buf, sizeof(buf))) > 0) {
		for (i = 0; i < n;) {
			struct {
				uint64_t ino;
				int64_t off;
				unsigned short reclen;
				unsigned char type;
				char name[];
			} *de = (void *)(buf + i);

			i += de->reclen;
			if (de->name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "/proc/self/task/%.16s/comm", de->name);
			snprintf(head, sizeof(head), "#   task %.16s comm ", de->name);
			fz_wd_file(path, head);
			snprintf(path, sizeof(path), "/proc/self/task/%.16s/syscall", de->name);
			fz_wd_file(path, "#     syscall ");
			snprintf(path, sizeof(path), "/proc/self/task/%.16s/stack", de->name);
			fz_wd_file(path, "#     ");
		}
	}
	if (dfd >= 0)
		close(dfd);
	signal(sig, SIG_DFL);
	kill(getpid(), sig);
}

void fz_install_handlers(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = fz_fault_handler;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	/* The per-thread timer that bounds blocking calls: EINTR. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fz_on_usr1;
	sigaction(SIGRTMIN + 2, &sa, NULL);
	fz_set_usr1(true);
	/* O_ASYNC sockets with F_SETOWN: SIGIO and SIGURG are harmless here. */
	sigaction(SIGIO, &sa, NULL);
	sigaction(SIGURG, &sa, NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = fz_on_watchdog;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGALRM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
}

void fz_proc_init(int depth, int worker)
{
	struct rlimit rl = { 0, 0 };

	memset(&fz_p, 0, sizeof(fz_p));
	pthread_mutex_init(&fz_p.lock, NULL);
	fz_p.depth = depth;
	fz_p.worker = worker;
	fz_p.wfd = -1;
	setrlimit(RLIMIT_CORE, &rl);	/* SIGABRT/SIGSEGV deaths: no cores */
	fz_ops_init();
}

/* ---- the loop --------------------------------------------------------- */

static int fz_nthreads(void)
{
	int i, n = 0;

	for (i = 0; i < FZ_MAX_THREADS; i++)
		n += fz_p.thr[i].used;
	return n;
}

static bool fz_op_allowed(struct fz_ctx *c, enum fz_op op)
{
	switch (op) {
	case FZ_OP_thread:
		return !c->in_thread && !fz_p.single &&
		       fz_nthreads() < FZ_MAX_THREADS;
	case FZ_OP_fork:
	case FZ_OP_clone:
	case FZ_OP_exec:
		return fz_p.depth < FZ_MAX_DEPTH && fz_p.nkids < FZ_MAX_KIDS;
	case FZ_OP_die:
	case FZ_OP_setuid:
		return fz_p.depth > 0;
	case FZ_OP_unshare:
		return fz_p.depth > 0 || c->in_thread;
	case FZ_OP_kill:
		return fz_p.nkids > 0;
	default:
		return true;
	}
}

static enum fz_op fz_pick_op(struct fz_ctx *c)
{
	int tries, i;

	for (tries = 0; tries < 8; tries++) {
		uint64_t r = fz_below(c, fz_sh->wsum ? fz_sh->wsum : 1);

		for (i = 0; i < FZ_NOPS; i++) {
			if (r < fz_sh->weights[i])
				break;
			r -= fz_sh->weights[i];
		}
		if (i < FZ_NOPS && fz_op_allowed(c, (enum fz_op)i))
			return (enum fz_op)i;
	}
	return FZ_OP_version;
}

void fz_run_op(struct fz_ctx *c, enum fz_op op)
{
	fz_cur_op = op;
	if (c->thr)
		atomic_store(&c->thr->op, op);
	c->op = op;
	atomic_fetch_add_explicit(&fz_sh->op_count[op], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&fz_sh->w[fz_p.worker % FZ_WORKERS_MAX].ops,
				  1, memory_order_relaxed);
	fz_opfns[op](c);
}

static void fz_reap_threads(bool block)
{
	int i;

	for (i = 0; i < FZ_MAX_THREADS; i++) {
		struct fz_thr *t = &fz_p.thr[i];

		if (!t->used || (!block && !atomic_load(&t->done)))
			continue;
		pthread_join(t->t, NULL);
		t->used = false;
	}
}

void fz_loop(struct fz_ctx *c)
{
	uint64_t n = 0;

	while (c->budget && !fz_should_stop() && !atomic_load(&fz_p.stopping)) {
		if (c->budget != UINT64_MAX)
			c->budget--;
		fz_run_op(c, fz_pick_op(c));
		if (c->in_thread || (++n & 7))
			continue;
		fz_reap_kids(false);
		if (!fz_p.single)
			fz_reap_threads(false);
		if (fz_p.wfd >= 0)
			fz_watch_poll(c);
		else if (!fz_p.depth && !(n & 63))
			fz_watch_open(c);	/* it failed (ENOSPC...): again */
	}
}

/* ---- children ----------------------------------------------------------- */

static int fz_kid_add(pid_t pid, uint32_t shape, void *stack, size_t len,
		      int pidfd, int *own_fd)
{
	struct fz_kid *k;

	if (fz_p.nkids >= FZ_MAX_KIDS)
		return -1;
	k = &fz_p.kids[fz_p.nkids++];
	k->pid = pid;
	k->shape = shape;
	k->stack = stack;
	k->stack_len = len;
	k->pidfd = pidfd;
	k->own_fd = own_fd;
	atomic_fetch_add(&fz_sh->procs, 1);
	atomic_fetch_add(&fz_sh->w[fz_p.worker % FZ_WORKERS_MAX].kids, 1);
	return 0;
}

/*
 * Close descriptors nobody tracks: those a CLONE_FILES or CLONE_VM child
 * opened in the table it shared with us. Transient descriptors of the ops
 * are only open under fz_p.lock, which the caller holds.
 */
static void fz_close_strays(void)
{
	char buf[4096];
	int dfd, i, j;
	long n;

	dfd = open("/proc/thread-self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return;
	while ((n = syscall(SYS_getdents64, dfd, buf, sizeof(buf))) > 0) {
		for (i = 0; i < n;) {
			struct {
				uint64_t ino;
				int64_t off;
				unsigned short reclen;
				unsigned char type;
				char name[];
			} *de = (void *)(buf + i);
			int fd = atoi(de->name);
			bool keep = fd <= 2 || fd == FZ_SHARED_FD ||
				    fd == fz_p.wfd || fd == dfd ||
				    de->name[0] == '.';

			i += de->reclen;
			for (j = 0; !keep && j < fz_p.nfds; j++)
				keep = fz_p.fds[j].fd == fd;
			for (j = 0; !keep && j < fz_p.nkids; j++)
				keep = fz_p.kids[j].pidfd == fd;
			if (!keep) {
				close(fd);
				atomic_fetch_add(&fz_sh->strays, 1);
			}
		}
	}
	close(dfd);
}

void fz_reap_kids(bool block)
{
	bool strays = false;
	int i, st;

	pthread_mutex_lock(&fz_p.lock);
	for (i = 0; i < fz_p.nkids; i++) {
		struct fz_kid *k = &fz_p.kids[i];
		pid_t r;

		if (block)
			pthread_mutex_unlock(&fz_p.lock);
		do {
			r = waitpid(k->pid, &st, (block ? 0 : WNOHANG) | __WALL);
		} while (r < 0 && errno == EINTR);
		if (block)
			pthread_mutex_lock(&fz_p.lock);
		if (r == 0)
			continue;
		if (r > 0)
			fz_log_reap(r, st);
		if (k->own_fd && *k->own_fd >= 0)
			close(*k->own_fd);	/* CLONE_VM child's, in our table */
		if (k->stack)
			munmap(k->stack, k->stack_len);
		if (k->pidfd >= 0)
			close(k->pidfd);
		if (k->shape & (FZ_SHAPE_CLONE_FILES | FZ_SHAPE_CLONE_VM))
			strays = true;
		fz_p.kids[i] = fz_p.kids[--fz_p.nkids];
		i--;
	}
	/* Not in a table we share with our parent: its fds are not ours. */
	if (strays && !fz_p.files_shared)
		fz_close_strays();
	pthread_mutex_unlock(&fz_p.lock);
}

/* Which tracked mappings a new process really has (/proc/self/maps). */
static void fz_sync_maps(void)
{
	static char buf[65536];
	ssize_t n, got = 0;
	int fd, i;

	fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fz_p.nmaps = 0;
		return;
	}
	while ((size_t)got < sizeof(buf) - 1 &&
	       (n = read(fd, buf + got, sizeof(buf) - 1 - (size_t)got)) > 0)
		got += n;
	close(fd);
	buf[got] = 0;
	for (i = 0; i < fz_p.nmaps; i++) {
		struct fz_map *m = &fz_p.maps[i];
		uintptr_t pos = m->addr, end = m->addr + m->len;
		char *line = buf;

		while (line && *line && pos < end) {
			unsigned long s, e;

			if (sscanf(line, "%lx-%lx", &s, &e) == 2 &&
			    s <= pos && pos < e)
				pos = e;
			line = strchr(line, '\n');
			if (line)
				line++;
		}
		if (pos < end) {
			fz_map_del(m);
			i--;
		} else if (m->kind == FZ_MAP_CTRL || m->kind == FZ_MAP_USER) {
			/* Only MADV_DOFORK makes an arena mapping survive fork. */
			atomic_fetch_add(&fz_sh->inherited_maps, 1);
			m->kind = FZ_MAP_INHERITED;
		}
	}
}

void fz_after_fork_child(struct fz_ctx *c, bool files_shared)
{
	int i;

	pthread_mutex_init(&fz_p.lock, NULL);
	fz_reset_ids();
	fz_p.depth++;
	for (i = 0; i < fz_p.nkids; i++)
		if (fz_p.kids[i].pidfd >= 0 && !files_shared)
			close(fz_p.kids[i].pidfd);
	fz_p.nkids = 0;
	memset(fz_p.thr, 0, sizeof(fz_p.thr));
	/* No membership is ours: the owner is the parent process. */
	for (i = 0; i < fz_p.nfds; i++)
		fz_p.fds[i].attached = fz_p.fds[i].mine = false;
	if (fz_p.wfd >= 0 && !files_shared)
		close(fz_p.wfd);
	fz_p.wfd = -1;
	fz_p.wctrl = NULL;
	fz_p.files_shared = files_shared;
	fz_sync_maps();
	c->timer_ok = 0;
	c->in_thread = false;
	atomic_store(&fz_p.stopping, false);
	alarm(fz_sh->child_secs);
}

/* Open, attach to a pool arena, map it, hold a lock or two: worth a death. */
static void fz_quick_member(struct fz_ctx *c)
{
	fz_run_op(c, FZ_OP_open);
	fz_run_op(c, FZ_OP_attach);
	if (fz_pct(c, 50))
		fz_run_op(c, FZ_OP_scribble);
	if (fz_pct(c, 50))
		fz_run_op(c, FZ_OP_lock);
}

/* How a child process ends. Never returns. */
static void fz_die(struct fz_ctx *c) __attribute__((noreturn));
static void fz_die(struct fz_ctx *c)
{
	static const int codes[] = { 0, 1, 2, 3, 42, 255 };
	uint64_t r = fz_below(c, 100);
	int i;

	if (r < 10) {
		/* A clean end: DETACH everything first. */
		for (i = 0; i < fz_p.nfds; i++)
			if (fz_p.fds[i].kind == FZ_FD_SHMK)
				FZ(c, FZ_C_DETACH, FZ_HOSTILE, 0, 0,
				   ioctl(fz_p.fds[i].fd, SHMK_IOC_DETACH, 0));
		_exit(0);
	}
	if (r < 40)
		_exit(codes[fz_below(c, 6)]);
	if (r < 50) {
		fz_reap_kids(true);
		_exit(7);
	}
	if (r < 70)
		kill(getpid(), SIGKILL);
	if (r < 80) {
		fz_dying = 1;
		signal(SIGSEGV, SIG_DFL);
		*(volatile int *)(uintptr_t)fz_below(c, 4096) = 1;
	}
	if (r < 90)
		kill(getpid(), SIGABRT);
	if (r < 95)
		kill(getpid(), SIGTERM);
	syscall(SYS_exit_group, 9);
	_exit(9);
}

void op_die(struct fz_ctx *c)
{
	fz_die(c);
}

/* The life of a forked or cloned child: a few ops, then some death. */
static void fz_child_life(struct fz_ctx *c, uint64_t seed, bool files_shared)
	__attribute__((noreturn));
static void fz_child_life(struct fz_ctx *c, uint64_t seed, bool files_shared)
{
	fz_after_fork_child(c, files_shared);
	fz_seed(c, seed);
	c->budget = 5 + fz_below(c, 60);
	if (fz_pct(c, 40))
		fz_quick_member(c);
	fz_loop(c);
	if (!fz_p.single)
		fz_reap_threads(true);
	fz_die(c);
}

static pid_t fz_do_fork(void)
{
	/* In a raw clone child glibc's fork handlers may deadlock. */
	if (fz_p.single)
		return (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
	return fork();
}

void op_fork(struct fz_ctx *c)
{
	uint64_t seed = fz_rand(c), tb;
	bool kill_now = fz_pct(c, 25);
	pid_t pid;

	pthread_mutex_lock(&fz_p.lock);
	tb = fz_now();
	pid = fz_do_fork();
	if (pid == 0)
		fz_child_life(c, seed, false);
	fz_acct(c, FZ_C_OTHER, FZ_HOSTILE, pid < 0 ? -errno : pid, 0, 0);
	if (pid > 0) {
		fz_log_birth(pid, tb, FZ_SHAPE_FORK);
		if (fz_kid_add(pid, FZ_SHAPE_FORK, NULL, 0, -1, NULL) < 0)
			kill_now = true;
	}
	pthread_mutex_unlock(&fz_p.lock);
	if (pid > 0 && kill_now) {
		/* At a random point of its life (it is just starting). */
		kill(pid, SIGKILL);
		atomic_fetch_add(&fz_sh->kills, 1);
	}
}

/* ---- CLONE_VM | CLONE_FILES: raw calls only (shares our TLS) ---------- */

struct fz_vmarg {
	uint64_t seed;
	int nfds;
	int fds[8];
	int own_fd;
};

static long fz_vm_ioctl(int fd, unsigned long cmd, void *arg, enum fz_call call,
			enum fz_kind kind)
{
	long r = fz_raw(SYS_ioctl, fd, (long)cmd, (long)arg, 0, 0, 0);

	fz_acct_raw(call, kind, r);
	return r;
}

static int fz_vm_child(void *p)
{
	struct fz_vmarg *a = p;
	struct stat st;
	uint64_t x = a->seed;
	int n = 3 + (int)(fz_mix(x) % 18), i;

	for (i = 0; i < n; i++) {
		int fd;
		long r;

		x = fz_mix(x);
		fd = a->nfds ? a->fds[(x >> 8) % (unsigned int)a->nfds] : -1;
		if (a->own_fd >= 0 && (x & 0x100))
			fd = a->own_fd;
		switch (x % 9) {
		case 0: {
			struct shmk_version v;

			memset(&v, 0, sizeof(v));
			v.abi_version = SHMK_ABI_VERSION;
			fz_vm_ioctl(fd, SHMK_IOC_VERSION, &v, FZ_C_VERSION,
				    FZ_HOSTILE);
			break;
		}
		case 1: {
			struct shmk_wait w;

			memset(&w, 0, sizeof(w));
			w.offset = 4 * ((x >> 16) % 32);
			w.timeout_ns = (int64_t)((x >> 24) % 2000000);
			fz_vm_ioctl(fd, SHMK_IOC_WAIT, &w, FZ_C_WAIT, FZ_HOSTILE);
			break;
		}
		case 2: {
			struct shmk_wake k;

			memset(&k, 0, sizeof(k));
			k.offset = 4 * ((x >> 16) % 32);
			k.count = SHMK_WAKE_ALL;
			fz_vm_ioctl(fd, SHMK_IOC_WAKE, &k, FZ_C_WAKE, FZ_HOSTILE);
			break;
		}
		case 3: {
			struct shmk_event ev[2];

			r = fz_raw(SYS_fcntl, fd, F_GETFL, 0, 0, 0, 0);
			if (r >= 0 && (r & O_NONBLOCK))
				fz_acct_raw(FZ_C_READ, FZ_HOSTILE,
					    fz_raw(SYS_read, fd, (long)ev,
						   sizeof(ev), 0, 0, 0));
			break;
		}
		case 4: {
			struct shmk_attach at;
			int j;

			if (a->own_fd >= 0)
				break;
			r = fz_raw(SYS_open, (long)SHMK_DEVICE_PATH,
				   O_RDWR | O_NONBLOCK | O_CLOEXEC, 0, 0, 0, 0);
			fz_acct_raw(FZ_C_OPEN, FZ_HOSTILE, r);
			if (r < 0)
				break;
			a->own_fd = (int)r;
			memset(&at, 0, sizeof(at));
			for (j = 0; j < SHMK_NAME_MAX - 1 &&
			     fz_sh->names[(x >> 20) % 5][j]; j++)
				at.name[j] = fz_sh->names[(x >> 20) % 5][j];
			at.size = 4096 * (1 + (x >> 40) % 4);
			at.flags = SHMK_ATTACH_CREATE;
			at.mode = 0666;
			fz_vm_ioctl(a->own_fd, SHMK_IOC_ATTACH, &at,
				    FZ_C_ATTACH, FZ_VALID);
			break;
		}
		case 5:
			/* Not the owner of the parent's files: must fail. */
			r = fz_raw(SYS_mmap, 0, 4096, PROT_READ, MAP_SHARED, fd, 0);
			if (r >= 0 && fd != a->own_fd && fd >= 0 &&
			    (unsigned long)r < -4096UL &&
			    fz_raw(SYS_fstat, fd, (long)&st, 0, 0, 0, 0) == 0 &&
			    S_ISCHR(st.st_mode) &&
			    (uint64_t)st.st_rdev == fz_sh->shmk_rdev) {
				fz_finding(FZ_C_MMAP, FZ_OP_clone, 0, (uint64_t)fd,
					   0, "non-owner mapped a parent's arena");
				fz_raw(SYS_munmap, r, 4096, 0, 0, 0, 0);
			}
			if ((unsigned long)r < -4096UL && fd == a->own_fd)
				fz_raw(SYS_munmap, r, 4096, 0, 0, 0, 0);
			fz_acct_raw(FZ_C_MMAP, FZ_HOSTILE,
				    (unsigned long)r >= -4096UL ? r : 0);
			break;
		case 6:
			fz_vm_ioctl(fd, SHMK_IOC_DETACH, NULL, FZ_C_DETACH,
				    FZ_HOSTILE);
			break;
		case 7:
			if (a->own_fd >= 0 && (x & 0x200)) {
				fz_acct_raw(FZ_C_OTHER, FZ_HOSTILE,
					    fz_raw(SYS_close, a->own_fd, 0, 0, 0, 0, 0));
				a->own_fd = -1;
			}
			break;
		default:
			fz_acct_raw(FZ_C_POLL, FZ_HOSTILE,
				    fz_raw(SYS_getpid, 0, 0, 0, 0, 0, 0));
			break;
		}
	}
	x = fz_mix(x);
	if (a->own_fd >= 0 && (x & 1)) {
		fz_raw(SYS_close, a->own_fd, 0, 0, 0, 0, 0);
		a->own_fd = -1;
	}
	if (x & 2)
		fz_raw(SYS_kill, fz_raw(SYS_getpid, 0, 0, 0, 0, 0, 0), SIGKILL,
		       0, 0, 0, 0);
	fz_raw(SYS_exit, (long)((x >> 8) & 3), 0, 0, 0, 0, 0);
	return 0;
}

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif

struct fz_clone_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack,
		 stack_size, tls, set_tid, set_tid_size, cgroup;
};

void op_clone(struct fz_ctx *c)
{
	uint64_t seed = fz_rand(c), tb, how = fz_below(c, 3);
	bool kill_now = fz_pct(c, 25);
	int pidfd = -1, i;
	void *stack = NULL;
	size_t slen = 65536;
	struct fz_vmarg *va = NULL;
	uint32_t shape;
	pid_t pid;

	if (how == 2 && fz_p.single)
		how = 0;
	pthread_mutex_lock(&fz_p.lock);
	tb = fz_now();
	if (how == 0) {
		/* clone(CLONE_FILES): a fork that shares our descriptor table. */
		shape = FZ_SHAPE_CLONE_FILES;
		pid = (pid_t)syscall(SYS_clone, CLONE_FILES | SIGCHLD, 0, 0, 0, 0);
		if (pid == 0) {
			fz_p.single = true;
			fz_child_life(c, seed, true);
		}
	} else if (how == 1) {
		struct fz_clone_args ca;

		shape = FZ_SHAPE_CLONE_FILES;
		memset(&ca, 0, sizeof(ca));
		ca.flags = CLONE_FILES | CLONE_PIDFD;
		ca.pidfd = (uintptr_t)&pidfd;
		ca.exit_signal = SIGCHLD;
		pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
		if (pid == 0) {
			fz_p.single = true;
			fz_child_life(c, seed, true);
		}
	} else {
		/* CLONE_VM | CLONE_FILES: another process in our memory. */
		shape = FZ_SHAPE_CLONE_VM;
		stack = mmap(NULL, slen, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (stack == MAP_FAILED) {
			pthread_mutex_unlock(&fz_p.lock);
			return;
		}
		va = stack;
		memset(va, 0, sizeof(*va));
		va->seed = seed;
		va->own_fd = -1;
		for (i = 0; i < fz_p.nfds && va->nfds < 8; i++)
			if (fz_p.fds[i].kind == FZ_FD_SHMK)
				va->fds[va->nfds++] = fz_p.fds[i].fd;
		pid = clone(fz_vm_child, (char *)stack + slen,
			    CLONE_VM | CLONE_FILES | SIGCHLD, va);
	}
	fz_acct(c, FZ_C_OTHER, FZ_HOSTILE, pid < 0 ? -errno : pid, how, 0);
	if (pid > 0) {
		fz_log_birth(pid, tb, shape);
		if (fz_kid_add(pid, shape, stack, stack ? slen : 0, pidfd,
			       va ? &va->own_fd : NULL) < 0) {
			/* No room to track it: kill and reap it right here. */
			kill(pid, SIGKILL);
			while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR)
				;
			if (va && va->own_fd >= 0)
				close(va->own_fd);
			if (stack)
				munmap(stack, slen);
			if (pidfd >= 0)
				close(pidfd);
			kill_now = false;
		}
	} else if (stack) {
		munmap(stack, slen);
	}
	pthread_mutex_unlock(&fz_p.lock);
	if (pid > 0 && kill_now) {
		if (pidfd >= 0 && fz_pct(c, 50))
			syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
		else
			kill(pid, SIGKILL);
		atomic_fetch_add(&fz_sh->kills, 1);
	}
}

/* ---- exec of ourselves, mini mode ------------------------------------- */

struct fz_exec_arg {
	char argv[6][32];
};

static void *fz_exec_thread(void *p)
{
	struct fz_exec_arg *a = p;
	char *argv[7];
	int i;

	for (i = 0; i < 6; i++)
		argv[i] = a->argv[i];
	argv[6] = NULL;
	execve(fz_sh->exe, argv, environ);
	_exit(127);
}

void op_exec(struct fz_ctx *c)
{
	uint64_t seed = fz_rand(c), tb;
	bool kill_now = fz_pct(c, 15);
	pid_t pid;

	pthread_mutex_lock(&fz_p.lock);
	tb = fz_now();
	pid = fz_do_fork();
	if (pid == 0) {
		struct fz_exec_arg a;
		char *argv[7];
		pthread_t t;
		int i;

		fz_after_fork_child(c, false);
		fz_seed(c, seed);
		c->budget = 4;
		/* An owner that execs stays the owner (same process). */
		if (fz_pct(c, 50))
			fz_quick_member(c);
		for (i = 0; i < fz_p.nfds; i++)
			if (fz_pct(c, 50))
				fcntl(fz_p.fds[i].fd, F_SETFD, 0);
		if (fz_pct(c, 10) && !syscall(SYS_setgroups, 0, NULL) &&
		    !syscall(SYS_setresgid, 65534, 65534, 65534))
			syscall(SYS_setresuid, 65534, 65534, 65534);
		snprintf(a.argv[0], 32, "t_fuzz");
		snprintf(a.argv[1], 32, "--mini");
		snprintf(a.argv[2], 32, "%llu", (unsigned long long)fz_rand(c));
		snprintf(a.argv[3], 32, "%d", fz_p.depth);
		snprintf(a.argv[4], 32, "%d", fz_p.worker);
		snprintf(a.argv[5], 32, "%d", fz_p.ns_private ? 1 : 0);
		/* Exec from a second thread now and then (de_thread). */
		if (!fz_p.single && fz_pct(c, 20) &&
		    pthread_create(&t, NULL, fz_exec_thread, &a) == 0) {
			pthread_join(t, NULL);
			_exit(127);
		}
		for (i = 0; i < 6; i++)
			argv[i] = a.argv[i];
		argv[6] = NULL;
		execve(fz_sh->exe, argv, environ);
		_exit(127);
	}
	fz_acct(c, FZ_C_OTHER, FZ_HOSTILE, pid < 0 ? -errno : pid, 0, 0);
	if (pid > 0) {
		fz_log_birth(pid, tb, FZ_SHAPE_EXEC);
		atomic_fetch_add(&fz_sh->execs, 1);
		atomic_fetch_add(&fz_sh->w[fz_p.worker % FZ_WORKERS_MAX].execs, 1);
		if (fz_kid_add(pid, FZ_SHAPE_EXEC, NULL, 0, -1, NULL) < 0)
			kill_now = true;
	}
	pthread_mutex_unlock(&fz_p.lock);
	if (pid > 0 && kill_now) {
		kill(pid, SIGKILL);
		atomic_fetch_add(&fz_sh->kills, 1);
	}
}

static enum fz_fdkind fz_classify(int fd)
{
	char path[64], link[128];
	struct stat st;
	ssize_t n;

	if (fstat(fd, &st) < 0)
		return FZ_FD_NONE;
	if (S_ISCHR(st.st_mode) && (uint64_t)st.st_rdev == fz_sh->shmk_rdev)
		return FZ_FD_SHMK;
	if (S_ISSOCK(st.st_mode))
		return FZ_FD_SOCK;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n > 0) {
		link[n] = 0;
		if (strstr(link, "io_uring"))
			return FZ_FD_URING;
		if (strstr(link, "eventpoll"))
			return FZ_FD_EPOLL;
	}
	return FZ_FD_OTHER;
}

/* argv: t_fuzz --mini SEED DEPTH WORKER NS_PRIVATE */
int fz_mini_main(int argc, char **argv)
{
	struct fz_ctx c;
	struct stat st;
	DIR *d;
	struct dirent *de;
	void *p;

	if (argc < 6 || fstat(FZ_SHARED_FD, &st) < 0 ||
	    (size_t)st.st_size < sizeof(struct fz_shared))
		_exit(0);
	p = mmap(NULL, sizeof(struct fz_shared), PROT_READ | PROT_WRITE,
		 MAP_SHARED, FZ_SHARED_FD, 0);
	if (p == MAP_FAILED)
		_exit(0);
	fz_sh = p;
	fz_reset_ids();
	fz_proc_init(atoi(argv[3]), atoi(argv[4]));
	fz_p.ns_private = atoi(argv[5]) != 0;
	memset(&c, 0, sizeof(c));
	fz_seed(&c, strtoull(argv[2], NULL, 0));
	c.budget = 5 + fz_below(&c, 40);
	fz_install_handlers();
	alarm(fz_sh->child_secs);
	/* What we inherited: the descriptors exec left open. */
	d = opendir("/proc/self/fd");
	while (d && (de = readdir(d))) {
		int fd = atoi(de->d_name);
		enum fz_fdkind k;

		if (de->d_name[0] == '.' || fd <= 2 || fd == FZ_SHARED_FD ||
		    fd == dirfd(d))
			continue;
		k = fz_classify(fd);
		if (k == FZ_FD_NONE || !fz_fd_add(fd, k))
			continue;
		/* Attached before the exec? Then we are still the owner. */
		fz_p.fds[fz_p.nfds - 1].attached = k == FZ_FD_SHMK;
	}
	if (d)
		closedir(d);
	/* Learn the inherited arenas' sizes, then run. */
	if (fz_p.nfds)
		fz_run_op(&c, FZ_OP_learn);
	fz_loop(&c);
	fz_die(&c);
}

/* ---- threads ------------------------------------------------------------- */

struct fz_thr_arg {
	struct fz_thr *t;
	uint64_t seed;
};

static void *fz_thread_main(void *p)
{
	struct fz_thr_arg a = *(struct fz_thr_arg *)p;
	struct fz_ctx c;

	free(p);
	memset(&c, 0, sizeof(c));
	fz_seed(&c, a.seed);
	c.in_thread = true;
	c.thr = a.t;
	c.budget = 10 + fz_below(&c, 200);
	a.t->tid = (pid_t)syscall(SYS_gettid);
	fz_loop(&c);
	if (c.timer_ok > 0)
		syscall(SYS_timer_delete, c.timer);
	atomic_store(&a.t->done, true);
	return NULL;
}

void op_thread(struct fz_ctx *c)
{
	struct fz_thr_arg *a;
	pthread_attr_t attr;
	int i;

	for (i = 0; i < FZ_MAX_THREADS && fz_p.thr[i].used; i++)
		;
	if (i == FZ_MAX_THREADS)
		return;
	a = malloc(sizeof(*a));
	if (!a)
		return;
	a->t = &fz_p.thr[i];
	a->seed = fz_rand(c);
	atomic_store(&fz_p.thr[i].done, false);
	fz_p.thr[i].tid = 0;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 << 10);
	if (fz_acct(c, FZ_C_OTHER, FZ_HOSTILE,
		    -pthread_create(&fz_p.thr[i].t, &attr, fz_thread_main, a),
		    0, 0) == 0) {
		fz_p.thr[i].used = true;
		atomic_fetch_add(&fz_sh->threads, 1);
		atomic_fetch_add(&fz_sh->w[fz_p.worker % FZ_WORKERS_MAX].threads, 1);
	} else {
		free(a);
	}
	pthread_attr_destroy(&attr);
}

/* ---- namespaces, credentials, signals ------------------------------------ */

void op_unshare(struct fz_ctx *c)
{
	static const int flags[] = {
		CLONE_NEWIPC, CLONE_NEWIPC, CLONE_NEWUSER | CLONE_NEWIPC,
		CLONE_NEWUSER | CLONE_NEWIPC, CLONE_NEWUSER, CLONE_FILES,
		CLONE_FILES, CLONE_NEWPID, CLONE_NEWNS,
	};
	int fl = c->in_thread ? CLONE_FILES : flags[fz_below(c, 9)];
	struct stat st;

	if (FZ(c, FZ_C_OTHER, FZ_HOSTILE, fl, 0, unshare(fl)) < 0)
		return;
	atomic_fetch_add(&fz_sh->unshares, 1);
	/* Per thread: a thread in its own IPC namespace masks PERSISTENT too. */
	if (stat("/proc/thread-self/ns/ipc", &st) == 0 &&
	    (uint64_t)st.st_ino != fz_sh->ipc_ns_ino)
		fz_p.ns_private = true;
}

void op_setuid(struct fz_ctx *c)
{
	if (c->in_thread || fz_p.setuid_done)
		return;
	if (fz_p.single) {
		/*
		 * glibc's set*id() signal every thread it knows of: in a raw
		 * clone child that list is the parent's, and they hang.
		 */
		FZ(c, FZ_C_OTHER, FZ_HOSTILE, 0, 0,
		   syscall(SYS_setgroups, 0, NULL));
		FZ(c, FZ_C_OTHER, FZ_HOSTILE, 65534, 0,
		   syscall(SYS_setresgid, 65534, 65534, 65534));
		if (FZ(c, FZ_C_OTHER, FZ_HOSTILE, 65534, 0,
		       syscall(SYS_setresuid, 65534, 65534, 65534)) == 0)
			atomic_fetch_add(&fz_sh->setuids, 1);
	} else if (fz_pct(c, 70)) {
		FZ(c, FZ_C_OTHER, FZ_HOSTILE, 0, 0, setgroups(0, NULL));
		FZ(c, FZ_C_OTHER, FZ_HOSTILE, 65534, 0,
		   setresgid(65534, 65534, 65534));
		if (FZ(c, FZ_C_OTHER, FZ_HOSTILE, 65534, 0,
		       setresuid(65534, 65534, 65534)) == 0)
			atomic_fetch_add(&fz_sh->setuids, 1);
	} else {
		/* Effective only: the saved uid stays 0. */
		if (FZ(c, FZ_C_OTHER, FZ_HOSTILE, 65534, 1,
		       setresuid((uid_t)-1, 65534, (uid_t)-1)) == 0)
			atomic_fetch_add(&fz_sh->setuids, 1);
	}
	fz_p.setuid_done = true;
}

void op_kill(struct fz_ctx *c)
{
	static const int sigs[] = {
		SIGKILL, SIGKILL, SIGKILL, SIGKILL, SIGKILL, SIGKILL,
		SIGTERM, SIGUSR2, SIGABRT, SIGSEGV, SIGSTOP,
	};
	struct fz_kid *k;
	int sig = sigs[fz_below(c, 11)], pidfd;
	pid_t pid;

	pthread_mutex_lock(&fz_p.lock);
	if (!fz_p.nkids) {
		pthread_mutex_unlock(&fz_p.lock);
		return;
	}
	k = &fz_p.kids[fz_below(c, (uint64_t)fz_p.nkids)];
	pid = k->pid;
	pidfd = k->pidfd;
	pthread_mutex_unlock(&fz_p.lock);
	if (pidfd >= 0 && fz_pct(c, 50))
		FZ(c, FZ_C_OTHER, FZ_HOSTILE, pid, sig,
		   syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0));
	else
		FZ(c, FZ_C_OTHER, FZ_HOSTILE, pid, sig, kill(pid, sig));
	if (sig == SIGSTOP)
		kill(pid, SIGCONT);	/* never leave it stopped */
	atomic_fetch_add(&fz_sh->kills, 1);
}

void op_signal(struct fz_ctx *c)
{
	pid_t tid = 0;
	int i;

	if (fz_pct(c, 20))
		fz_set_usr1(fz_pct(c, 50));
	if (!fz_p.single) {
		i = (int)fz_below(c, FZ_MAX_THREADS);
		if (fz_p.thr[i].used && !atomic_load(&fz_p.thr[i].done))
			tid = fz_p.thr[i].tid;
	}
	if (tid > 0)
		FZ(c, FZ_C_OTHER, FZ_HOSTILE, tid, SIGUSR1,
		   syscall(SYS_tgkill, getpid(), tid, SIGUSR1));
	else
		FZ(c, FZ_C_OTHER, FZ_HOSTILE, 0, SIGUSR1,
		   kill(getpid(), SIGUSR1));
}

/* ---- descriptors over Unix sockets ----------------------------------- */

void op_sock(struct fz_ctx *c)
{
	static const int types[] = { SOCK_DGRAM, SOCK_STREAM, SOCK_SEQPACKET };
	int sv[2];

	pthread_mutex_lock(&fz_p.lock);
	if (fz_p.nfds + 2 <= FZ_MAX_FDS &&
	    FZ(c, FZ_C_OTHER, FZ_HOSTILE, 0, 0,
	       socketpair(AF_UNIX, types[fz_below(c, 3)] |
			  (fz_pct(c, 50) ? SOCK_CLOEXEC : 0), 0, sv)) == 0) {
		fz_fd_add(sv[0], FZ_FD_SOCK);
		fz_fd_add(sv[1], FZ_FD_SOCK);
	}
	pthread_mutex_unlock(&fz_p.lock);
}

void op_send(struct fz_ctx *c)
{
	union {
		char buf[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh;
	struct cmsghdr *cm;
	struct iovec iov;
	struct fz_fd *s, *f;
	int fds[4], n = 0, i, want = 1 + (int)fz_below(c, 4);
	char byte = 'f';

	pthread_mutex_lock(&fz_p.lock);
	s = fz_fd_pick(c, FZ_FD_SOCK);
	if (!s)
		goto out;
	/* Only arena files: no sockets or rings in flight (no GC cycles). */
	for (i = 0; i < want; i++) {
		f = fz_fd_pick(c, FZ_FD_SHMK);
		if (f)
			fds[n++] = f->fd;
	}
	if (!n)
		goto out;
	memset(&mh, 0, sizeof(mh));
	memset(&u, 0, sizeof(u));
	iov.iov_base = &byte;
	iov.iov_len = 1;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = u.buf;
	mh.msg_controllen = CMSG_SPACE((size_t)n * sizeof(int));
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN((size_t)n * sizeof(int));
	memcpy(CMSG_DATA(cm), fds, (size_t)n * sizeof(int));
	if (FZ(c, FZ_C_OTHER, FZ_HOSTILE, s->fd, n,
	       sendmsg(s->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL)) > 0)
		atomic_fetch_add(&fz_sh->scm_sent, (uint64_t)n);
out:
	pthread_mutex_unlock(&fz_p.lock);
}

void op_recv(struct fz_ctx *c)
{
	union {
		char buf[CMSG_SPACE(8 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh;
	struct cmsghdr *cm;
	struct iovec iov;
	struct fz_fd *s;
	char data[16];
	int fds[8], i, n;

	pthread_mutex_lock(&fz_p.lock);
	s = fz_fd_pick(c, FZ_FD_SOCK);
	if (!s)
		goto out;
	memset(&mh, 0, sizeof(mh));
	iov.iov_base = data;
	iov.iov_len = sizeof(data);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = u.buf;
	/* Sometimes too small: the kernel drops what does not fit. */
	mh.msg_controllen = fz_pct(c, 90) ? sizeof(u.buf) :
			    CMSG_SPACE(sizeof(int));
	if (FZ(c, FZ_C_OTHER, FZ_HOSTILE, s->fd, 0,
	       recvmsg(s->fd, &mh, MSG_DONTWAIT |
		       (fz_pct(c, 50) ? MSG_CMSG_CLOEXEC : 0))) <= 0)
		goto out;
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		memcpy(fds, CMSG_DATA(cm), (size_t)n * sizeof(int));
		for (i = 0; i < n && i < 8; i++) {
			enum fz_fdkind k = fz_classify(fds[i]);
			struct fz_fd *f = k != FZ_FD_NONE ?
					  fz_fd_add(fds[i], k) : NULL;

			atomic_fetch_add(&fz_sh->scm_recv, 1);
			if (!f)
				close(fds[i]);
		}
	}
out:
	pthread_mutex_unlock(&fz_p.lock);
}

/* ---- the watcher and the end of a worker -------------------------------- */

void fz_watch_open(struct fz_ctx *c)
{
	struct shmk_attach at;
	void *p;
	int fd;

	(void)c;
	fd = open(SHMK_DEVICE_PATH, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return;
	memset(&at, 0, sizeof(at));
	memcpy(at.name, fz_sh->names[fz_p.worker % 5], SHMK_NAME_MAX);
	at.size = 16384;
	at.flags = SHMK_ATTACH_CREATE;
	at.mode = 0666;
	if (ioctl(fd, SHMK_IOC_ATTACH, &at) < 0) {
		close(fd);
		return;
	}
	p = mmap(NULL, at.ctrl_size, PROT_READ, MAP_SHARED, fd, 0);
	fz_p.wctrl = p == MAP_FAILED ? NULL : p;
	fz_p.wctrl_size = at.ctrl_size;
	/* Far from the numbers random ops use (and may reuse). */
	if (dup3(fd, FZ_WATCH_FD, O_CLOEXEC) == FZ_WATCH_FD) {
		close(fd);
		fd = FZ_WATCH_FD;
	}
	fz_p.wfd = fd;
}

/* attach_ns of slot @id if it still holds generation @gen, else 0. */
static uint64_t fz_watch_attach_ns(uint32_t id, uint32_t gen)
{
	const volatile struct shmk_ctrl *c = fz_p.wctrl;
	const volatile struct shmk_ctrl_member *s;
	uint64_t e1, e2, at = 0;
	uint32_t g;
	size_t off;
	int i;

	if (!c || !id || id > c->member_max)
		return 0;
	off = c->members_offset + (size_t)(id - 1) * c->member_stride;
	if (off + sizeof(*s) > fz_p.wctrl_size)
		return 0;
	s = (const void *)((const volatile char *)c + off);
	for (i = 0; i < 100; i++) {
		e1 = __atomic_load_n(&c->epoch, __ATOMIC_ACQUIRE);
		g = s->generation;
		at = s->attach_ns;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		e2 = __atomic_load_n(&c->epoch, __ATOMIC_RELAXED);
		if (!(e1 & 1) && e1 == e2)
			return g == gen ? at : 0;
	}
	return 0;
}

void fz_watch_poll(struct fz_ctx *c)
{
	struct shmk_event ev[16];
	long r, i;

	r = FZ(c, FZ_C_READ, FZ_VALID, fz_p.wfd, 0,
	       read(fz_p.wfd, ev, sizeof(ev)));
	if (r == 0 || (r < 0 && r != -EAGAIN && r != -EINTR)) {
		/* Nothing of ours ends this membership. */
		fz_finding(FZ_C_READ, FZ_OP_version, r < 0 ? (int)-r : 0,
			   (uint64_t)fz_p.wfd, 0, "watcher membership ended");
		if (fz_p.wctrl)
			munmap((void *)fz_p.wctrl, fz_p.wctrl_size);
		close(fz_p.wfd);
		fz_p.wfd = -1;
		fz_p.wctrl = NULL;
		fz_watch_open(c);
		return;
	}
	for (i = 0; r > 0 && i < r / (long)sizeof(ev[0]); i++) {
		struct shmk_event *e = &ev[i];
		struct fz_dlog *d;
		uint32_t k;

		atomic_fetch_add(&fz_sh->events_read, 1);
		if (e->type == SHMK_EVENT_OVERFLOW) {
			atomic_fetch_add(&fz_sh->overflow_events, 1);
			continue;
		}
		if (e->type != SHMK_EVENT_EXIT || e->pid <= 0)
			continue;
		k = atomic_fetch_add(&fz_sh->ndeath, 1);
		if (k >= FZ_DLOG)
			continue;
		d = &fz_sh->death[k];
		d->time_ns = e->time_ns;
		d->attach_ns = fz_watch_attach_ns(e->member_id, e->generation);
		d->read_ns = fz_now();
		d->pid = e->pid;
		d->how = e->how;
		d->status = e->status;
		d->member_id = e->member_id;
		d->generation = e->generation;
		d->arena_id = fz_p.wctrl ? fz_p.wctrl->arena_id : 0;
	}
}

void fz_proc_end(struct fz_ctx *c)
{
	atomic_store(&fz_p.stopping, true);
	fz_reap_threads(true);
	fz_reap_kids(true);
	if (fz_p.wfd >= 0)
		fz_watch_poll(c);
}
