// SPDX-License-Identifier: GPL-2.0
/*
 * t_shapes: process shapes that can hold a membership, and what their end
 * looks like to a survivor: threads (attach in a thread that exits, a
 * multi-threaded member killed or exiting from a side thread), a
 * clone(CLONE_FILES) sibling sharing the fd table, vfork children, exec
 * with and without close-on-exec.
 *
 * Each case: the case process is member 1 (the observer); a victim process
 * joins, takes a robust lock (ks.h), and ends in the shape's way. The
 * observer must read one SHMK_EVENT_EXIT at once with the true how/status,
 * the slot must say the same, the lock must be OWNER_DIED and a waiter
 * asleep on it woken. The runner checks nothing leaked.
 *
 * The exec cases re-execute this binary: "t_shapes --role <role> args..."
 * plays a part instead of running the cases.
 */
#include "ks.h"

#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define SEC 1000000000ll

/* ---- common victim scaffolding ------------------------------------------ */

struct vctl {
	char name[SHMK_NAME_MAX];
	int rep;	/* write end: struct ks_ids, then shape-specific */
	int cmd;	/* read end: the go */
	int mode;	/* shape-specific */
};

struct vrun {
	struct kt_member obs;
	struct kt_pipe rep, cmd, wout;
	struct vctl ctl;
	struct ks_waiter w;
	struct ks_ids ids;
	pid_t pid;
};

/* Observer creates the arena; the victim starts and reports its ids. */
static int vrun_start(struct vrun *r, const char *tag, int (*fn)(void *),
		      int mode)
{
	memset(r, 0, sizeof(*r));
	kt_name(r->ctl.name, tag);
	KT_RET(kt_join(&r->obs, r->ctl.name, KS_ARENA, SHMK_ATTACH_CREATE,
		       0600), 0);
	KT_RET(kt_pipe_open(&r->rep), 0);
	KT_RET(kt_pipe_open(&r->cmd), 0);
	KT_RET(kt_pipe_open(&r->wout), 0);
	r->ctl.rep = r->rep.w;
	r->ctl.cmd = r->cmd.r;
	r->ctl.mode = mode;
	r->pid = kt_fork(fn, &r->ctl);
	KT_TRUE(r->pid > 0);
	if (kt_await(r->rep.r, &r->ids, sizeof(r->ids), KT_TIMEOUT_MS) < 0) {
		kt_diag("victim did not start: exit %d", kt_reap(r->pid));
		return KT_FAIL;
	}
	KT_EQ(r->ids.pid, r->pid);
	KT_EQ(*kt_word(&r->obs, KS_LOCK(r->ids.id)), KS_HELD(r->ids.id));
	return KT_PASS;
}

/* The victim is a live member and nothing has been reported. */
static int vrun_alive(struct vrun *r)
{
	struct shmk_ctrl h;
	struct shmk_ctrl_member s;

	KT_DO(ks_expect_quiet(&r->obs));
	KT_RET(kt_ctrl_read(r->obs.ctrl, &h, r->ids.id, &s), 0);
	KT_EQ(s.state, SHMK_MEMBER_LIVE);
	KT_EQ(s.generation, r->ids.gen);
	KT_EQ(s.pid, r->pid);
	return KT_PASS;
}

/* A waiter goes to sleep on the victim's lock (it will be woken by the walk). */
static int vrun_waiter(struct vrun *r, long waiters)
{
	return ks_waiter_start(&r->w, r->ctl.name, KS_LOCK(r->ids.id),
			       KS_HELD(r->ids.id), r->wout.w, waiters);
}

/*
 * After the victim's end: its event and slot, the lock released, the
 * waiter woken (and its own detach event), then silence.
 */
static int vrun_check_end(struct vrun *r, uint32_t how, int status)
{
	KT_DO(ks_expect_end(&r->obs, r->ids.id, r->ids.gen, r->pid, how,
			    status));
	KT_DO(ks_expect_released(&r->obs, r->ids.id));
	KT_DO(ks_waiter_done(&r->w, r->wout.r));
	KT_DO(ks_expect_detach(&r->obs, r->w.id));
	KT_DO(ks_expect_quiet(&r->obs));
	return KT_PASS;
}

static void vrun_finish(struct vrun *r)
{
	kt_leave(&r->obs, true);
	kt_pipe_close(&r->rep);
	kt_pipe_close(&r->cmd);
	kt_pipe_close(&r->wout);
}

static void hang(void)
{
	for (;;)
		pause();
}

/* ---- threads ------------------------------------------------------------ */

static struct kt_member thr_m;	/* the victim's, set up by a thread */
static struct ks_ids thr_ids;
static int thr_ret;

static void *attach_thread(void *arg)
{
	const char *name = arg;

	thr_ret = ks_victim_join(&thr_m, name, &thr_ids);
	return NULL;
}

/* Attaches in a thread that then exits; the main thread lives on. */
static int thread_attach_victim(void *arg)
{
	struct vctl *c = arg;
	pthread_t t;

	if (pthread_create(&t, NULL, attach_thread, c->name) ||
	    pthread_join(t, NULL) || thr_ret < 0)
		return 100;
	/* The thread is gone; the process (its thread group) is the member. */
	thr_ids.pid = getpid();
	thr_ids.extra = kt_wait(thr_m.fd, KS_LOCK(thr_ids.id),
				KS_HELD(thr_ids.id), SHMK_WAIT_NO_EVENTS, 0);
	kt_post(c->rep, &thr_ids, sizeof(thr_ids));
	hang();
	return 0;
}

static int t_thread_attach_exits(void)
{
	struct vrun r;

	KT_DO(vrun_start(&r, "thr", thread_attach_victim, 0));
	/* WAIT from the main thread works: a timeout, not EPERM/ENOTCONN. */
	KT_RET(r.ids.extra, -ETIMEDOUT);
	KT_DO(vrun_alive(&r));
	KT_EQ(r.obs.ctrl->members_live, 2);
	KT_DO(vrun_waiter(&r, 1));
	kill(r.pid, SIGKILL);
	KT_EQ(kt_reap(r.pid), KT_KILLED(SIGKILL));
	KT_DO(vrun_check_end(&r, SHMK_END_SIGNAL, SIGKILL));
	vrun_finish(&r);
	return KT_PASS;
}

/*
 * A member with threads asleep in the module (WAIT, read) and elsewhere
 * (pause). mode 0: killed; mode 1: a side thread calls exit(7).
 */
struct mt_thread {
	int fd, cmd, kind;
	pid_t tid;
	int tidpipe;
};

static void *mt_thread_main(void *arg)
{
	struct mt_thread *t = arg;
	struct shmk_event ev;
	pid_t tid = (pid_t)syscall(SYS_gettid);

	kt_post(t->tidpipe, &tid, sizeof(tid));
	switch (t->kind) {
	case 0:
		kt_wait(t->fd, 4, 0, SHMK_WAIT_NO_EVENTS, 20 * SEC);
		break;
	case 1:
		kt_read_event(t->fd, &ev, false);
		break;
	case 2:
		if (kt_await(t->cmd, NULL, 0, 20000) == 0)
			exit(7);
		break;
	}
	hang();
	return NULL;
}

static int mt_victim(void *arg)
{
	struct vctl *c = arg;
	static struct mt_thread th[3];
	struct kt_member m;
	struct ks_ids ids;
	struct kt_pipe tp;
	pthread_t t;
	pid_t tids[3];
	int i, n = c->mode ? 3 : 2;

	if (ks_victim_join(&m, c->name, &ids) < 0 || kt_pipe_open(&tp) < 0)
		return 100;
	for (i = 0; i < n; i++) {
		th[i].fd = m.fd;
		th[i].cmd = c->cmd;
		th[i].kind = i;
		th[i].tidpipe = tp.w;
		if (pthread_create(&t, NULL, mt_thread_main, &th[i]))
			return 101;
		if (kt_await(tp.r, &tids[i], sizeof(pid_t), KT_TIMEOUT_MS))
			return 102;
	}
	ids.extra = tids[0];
	kt_post(c->rep, &ids, sizeof(ids));
	kt_post(c->rep, &tids[1], sizeof(pid_t));
	hang();
	return 0;
}

static int mt_case(int mode, int rounds)
{
	struct vrun r;
	pid_t reader;
	int i;

	for (i = 0; i < rounds; i++) {
		KT_DO(vrun_start(&r, "mt", mt_victim, mode));
		KT_RET(kt_await(r.rep.r, &reader, sizeof(reader),
				KT_TIMEOUT_MS), 0);
		/* Its threads are asleep in WAIT and in read(). */
		KT_RET(kt_await_waiting(&r.ids.extra, 1, 1), 0);
		KT_RET(kt_await_reading(reader), 0);
		KT_DO(vrun_alive(&r));
		KT_DO(vrun_waiter(&r, 2));
		if (mode == 0) {
			kill(r.pid, SIGKILL);
			KT_EQ(kt_reap(r.pid), KT_KILLED(SIGKILL));
			KT_DO(vrun_check_end(&r, SHMK_END_SIGNAL, SIGKILL));
		} else {
			KT_RET(kt_post(r.cmd.w, NULL, 0), 0);
			KT_EQ(kt_reap(r.pid), 7);
			KT_DO(vrun_check_end(&r, SHMK_END_EXIT, 7));
		}
		vrun_finish(&r);
	}
	return KT_PASS;
}

static int t_threads_killed(void)
{
	return mt_case(0, 3);
}

static int t_threads_side_exit(void)
{
	return mt_case(1, 2);
}

/* ---- clone(CLONE_FILES) sibling ----------------------------------------- */

/*
 * The victim clones a sibling process (no CLONE_THREAD) that shares its
 * fd table and lives on after the victim ended. mode 0: the victim is
 * killed; mode 1: it calls exit(7) when told.
 */
static int clone_files_victim(void *arg)
{
	struct vctl *c = arg;
	struct kt_member m;
	struct ks_ids ids;
	struct kt_pipe sp, hold;
	int sib_ret = 0;
	long pid;

	if (ks_victim_join(&m, c->name, &ids) < 0 || kt_pipe_open(&sp) < 0 ||
	    kt_pipe_open(&hold) < 0)
		return 100;
	fflush(stdout);
	pid = syscall(SYS_clone, CLONE_FILES | SIGCHLD, NULL, NULL, NULL,
		      NULL);
	if (pid < 0)
		return 101;
	if (pid == 0) {
		/* The sibling: same fd table, another process: not a member. */
		sib_ret = kt_wait(m.fd, 4, 0, 0, 0);
		kt_post(sp.w, &sib_ret, sizeof(sib_ret));
		/* Lives until killed (the case does that at its end). */
		kt_await(hold.r, NULL, 0, 20000);
		_exit(0);
	}
	if (kt_await(sp.r, &sib_ret, sizeof(sib_ret), KT_TIMEOUT_MS) < 0)
		return 102;
	ids.extra = (pid_t)pid;
	kt_post(c->rep, &ids, sizeof(ids));
	kt_post(c->rep, &sib_ret, sizeof(sib_ret));
	if (c->mode == 1) {
		if (kt_await(c->cmd, NULL, 0, 20000) == 0)
			exit(7);
		return 103;
	}
	hang();
	return 0;
}

static int clone_files_case(int mode)
{
	struct vrun r;
	pid_t sib;
	int sib_ret;

	KT_DO(vrun_start(&r, "clf", clone_files_victim, mode));
	sib = r.ids.extra;
	KT_RET(kt_await(r.rep.r, &sib_ret, sizeof(sib_ret), KT_TIMEOUT_MS),
	       0);
	/* The sibling shares the fd table but is not the member. */
	KT_RET(sib_ret, -EPERM);
	KT_DO(vrun_alive(&r));
	KT_DO(vrun_waiter(&r, 1));
	if (mode == 0) {
		kill(r.pid, SIGKILL);
		KT_EQ(kt_reap(r.pid), KT_KILLED(SIGKILL));
	} else {
		KT_RET(kt_post(r.cmd.w, NULL, 0), 0);
		KT_EQ(kt_reap(r.pid), 7);
	}
	/* The sibling still holds the fd table, and so the file. */
	KT_EQ(kill(sib, 0), 0);
	if (mode == 0)
		KT_DO(vrun_check_end(&r, SHMK_END_SIGNAL, SIGKILL));
	else
		KT_DO(vrun_check_end(&r, SHMK_END_EXIT, 7));
	KT_EQ(kill(sib, 0), 0);
	/* Only now the sibling goes; that adds no event. */
	kill(sib, SIGKILL);
	KT_EQ(kt_reap(sib), KT_KILLED(SIGKILL));
	KT_DO(ks_expect_quiet(&r.obs));
	vrun_finish(&r);
	return KT_PASS;
}

static int t_clone_files_kill(void)
{
	return clone_files_case(0);
}

static int t_clone_files_exit(void)
{
	return clone_files_case(1);
}

/* ---- vfork -------------------------------------------------------------- */

static char self_exe[4096];

/* vfork(); the child execs @argv or _exits 0, never returns here. */
static __attribute__((noinline)) pid_t spawn_vfork(bool do_exec, char **argv)
{
	pid_t pid = vfork();

	if (pid == 0) {
		if (do_exec)
			execv(argv[0], argv);
		_exit(do_exec ? 127 : 0);
	}
	return pid;
}

/*
 * The victim vforks a child that _exits (mode 0) or execs a probe of this
 * binary that holds an inherited descriptor (mode 1); then it checks that
 * its own membership still works and reports.
 */
static int vfork_victim(void *arg)
{
	struct vctl *c = arg;
	struct kt_member m;
	struct ks_ids ids;
	char fdarg[16];
	char *argv[] = { self_exe, "--role", "probe", fdarg, NULL };
	int st, dupfd = -1;
	pid_t pid;

	if (ks_victim_join(&m, c->name, &ids) < 0)
		return 100;
	if (c->mode == 1) {
		dupfd = dup(m.fd);	/* no close-on-exec */
		if (dupfd < 0)
			return 101;
		snprintf(fdarg, sizeof(fdarg), "%d", dupfd);
	}
	pid = spawn_vfork(c->mode == 1, argv);
	if (pid < 0)
		return 102;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0) {
		kt_diag("vfork child: status 0x%x", st);
		return 103;
	}
	if (dupfd >= 0)
		close(dupfd);	/* m.fd stays: not the last descriptor */
	ids.extra = kt_wait(m.fd, KS_LOCK(ids.id), KS_HELD(ids.id),
			    SHMK_WAIT_NO_EVENTS, 0);
	kt_post(c->rep, &ids, sizeof(ids));
	hang();
	return 0;
}

/* Role "probe <fd>": an inherited descriptor in another process. */
static int role_probe(int argc, char **argv)
{
	struct shmk_version v;
	struct shmk_event ev;
	int fd;

	if (argc < 1)
		return 90;
	fd = atoi(argv[0]);
	KT_RET(kt_wait(fd, 0, 0, 0, 0), -EPERM);
	KT_RET(kt_read_event(fd, &ev, true), -EPERM);
	KT_RET(kt_version(fd, &v), 0);
	return 0;
}

static int vfork_case(int mode)
{
	struct vrun r;

	KT_DO(vrun_start(&r, "vfork", vfork_victim, mode));
	/* The child came and went: the member's WAIT works, nothing ended. */
	KT_RET(r.ids.extra, -ETIMEDOUT);
	KT_DO(vrun_alive(&r));
	KT_DO(vrun_waiter(&r, 1));
	kill(r.pid, SIGKILL);
	KT_EQ(kt_reap(r.pid), KT_KILLED(SIGKILL));
	KT_DO(vrun_check_end(&r, SHMK_END_SIGNAL, SIGKILL));
	vrun_finish(&r);
	return KT_PASS;
}

static int t_vfork_exit(void)
{
	return vfork_case(0);
}

static int t_vfork_exec(void)
{
	return vfork_case(1);
}

/* ---- exec ----------------------------------------------------------------- */

static int no_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFD);

	return fl < 0 ? -1 : fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC);
}

/*
 * The victim joins, reports, and on the go execs this binary: mode 0 with
 * its descriptor close-on-exec (role "idle"), mode 1 without (role
 * "member", which goes on using the membership).
 */
static int exec_victim(void *arg)
{
	struct vctl *c = arg;
	struct kt_member m;
	struct ks_ids ids;
	char a[6][24];
	char *argv[] = { self_exe, "--role", c->mode == 1 ? "member" : "idle",
			 a[0], a[1], a[2], a[3], a[4], a[5], NULL };

	if (ks_victim_join(&m, c->name, &ids) < 0)
		return 100;
	if (c->mode == 1 && no_cloexec(m.fd) < 0)
		return 101;
	if (no_cloexec(c->rep) < 0 || no_cloexec(c->cmd) < 0)
		return 102;
	kt_post(c->rep, &ids, sizeof(ids));
	if (kt_await(c->cmd, NULL, 0, 20000) < 0)
		return 103;
	snprintf(a[0], sizeof(a[0]), "%d", c->rep);
	snprintf(a[1], sizeof(a[1]), "%d", c->cmd);
	snprintf(a[2], sizeof(a[2]), "%d", m.fd);
	snprintf(a[3], sizeof(a[3]), "%llu",
		 (unsigned long long)m.at.user_offset);
	snprintf(a[4], sizeof(a[4]), "%llu",
		 (unsigned long long)m.at.user_size);
	snprintf(a[5], sizeof(a[5]), "%u", ids.id);
	fflush(stdout);
	execv(self_exe, argv);
	return 104;
}

/* Role "idle <rep> <cmd> ...": says it runs, leaves when told. */
static int role_idle(int argc, char **argv)
{
	int rep, cmd;

	if (argc < 2)
		return 90;
	rep = atoi(argv[0]);
	cmd = atoi(argv[1]);
	kt_post(rep, NULL, 0);
	if (kt_await(cmd, NULL, 0, 20000) < 0)
		return 91;
	return 0;
}

struct member_rep {
	uint32_t lock;		/* its lock word, seen in a new mapping */
	int wait_ret;		/* WAIT while an event is pending */
	uint32_t ev_member, ev_how;
};

/*
 * Role "member <rep> <cmd> <fd> <user_offset> <user_size> <id>": the
 * exec'd program of a member that kept its descriptor. It maps the user
 * region again, WAITs (an event is made pending for it), reads the event,
 * reports, and exits with 5 when told.
 */
static int role_member(int argc, char **argv)
{
	struct member_rep mr;
	struct shmk_event ev;
	volatile unsigned char *user;
	uint64_t uoff, usize;
	uint32_t id;
	int rep, cmd, fd, err;

	if (argc < 6)
		return 90;
	rep = atoi(argv[0]);
	cmd = atoi(argv[1]);
	fd = atoi(argv[2]);
	uoff = strtoull(argv[3], NULL, 10);
	usize = strtoull(argv[4], NULL, 10);
	id = (uint32_t)atoi(argv[5]);
	memset(&mr, 0, sizeof(mr));
	user = kt_mmap(fd, usize, PROT_READ | PROT_WRITE, MAP_SHARED, uoff,
		       &err);
	if (!user) {
		kt_diag("exec'd member: mmap: %s", kt_errname(err));
		return 92;
	}
	mr.lock = *(volatile uint32_t *)(user + KS_LOCK(id));
	kt_post(rep, NULL, 0);	/* alive; the case now makes an event */
	mr.wait_ret = kt_wait(fd, KS_LOCK(id), mr.lock, 0, 10 * SEC);
	if (kt_read_event(fd, &ev, false) == sizeof(ev)) {
		mr.ev_member = ev.member_id;
		mr.ev_how = ev.how;
	}
	kt_post(rep, &mr, sizeof(mr));
	if (kt_await(cmd, NULL, 0, 20000) < 0)
		return 93;
	exit(5);
}

static int t_exec_cloexec(void)
{
	struct vrun r;

	KT_DO(vrun_start(&r, "execce", exec_victim, 0));
	KT_DO(vrun_alive(&r));
	KT_DO(vrun_waiter(&r, 1));
	KT_RET(kt_post(r.cmd.w, NULL, 0), 0);
	/* The exec'd program runs: the exec closed the descriptor. */
	KT_RET(kt_await(r.rep.r, NULL, 0, KT_TIMEOUT_MS), 0);
	KT_DO(vrun_check_end(&r, SHMK_END_CLOSE, 0));
	/* The process exits later: nothing more. */
	KT_RET(kt_post(r.cmd.w, NULL, 0), 0);
	KT_EQ(kt_reap(r.pid), 0);
	KT_DO(ks_expect_quiet(&r.obs));
	vrun_finish(&r);
	return KT_PASS;
}

static int t_exec_keep_fd(void)
{
	struct member_rep mr;
	struct kt_member d;
	struct vrun r;

	KT_DO(vrun_start(&r, "execkeep", exec_victim, 1));
	KT_DO(vrun_waiter(&r, 1));
	KT_RET(kt_post(r.cmd.w, NULL, 0), 0);
	KT_RET(kt_await(r.rep.r, NULL, 0, KT_TIMEOUT_MS), 0);
	/* The membership survived the exec. */
	KT_DO(vrun_alive(&r));
	/* An event for the exec'd program (and for us): d joins and leaves. */
	KT_RET(kt_join(&d, r.ctl.name, 0, 0, 0), 0);
	kt_leave(&d, true);
	KT_RET(kt_await(r.rep.r, &mr, sizeof(mr), KT_TIMEOUT_MS), 0);
	KT_EQ(mr.lock, KS_HELD(r.ids.id));
	KT_RET(mr.wait_ret, SHMK_WAIT_EVENT);
	KT_EQ(mr.ev_member, d.at.member_id);
	KT_EQ(mr.ev_how, SHMK_END_DETACH);
	KT_DO(ks_expect_detach(&r.obs, d.at.member_id));
	KT_DO(vrun_alive(&r));
	/* Its exit(5) is the end. */
	KT_RET(kt_post(r.cmd.w, NULL, 0), 0);
	KT_EQ(kt_reap(r.pid), 5);
	KT_DO(vrun_check_end(&r, SHMK_END_EXIT, 5));
	vrun_finish(&r);
	return KT_PASS;
}

static const struct kt_case cases[] = {
	{ "thread: attached by a thread that exits, stays LIVE; kill -> SIGNAL 9",
	  t_thread_attach_exits },
	{ "threads: asleep in WAIT and read(), process killed -> SIGNAL 9 (x3)",
	  t_threads_killed },
	{ "threads: a side thread calls exit(7) while others sleep -> EXIT 7 (x2)",
	  t_threads_side_exit },
	{ "clone(CLONE_FILES) sibling lives on: member killed -> SIGNAL 9 at once, lock released",
	  t_clone_files_kill },
	{ "clone(CLONE_FILES) sibling lives on: member exit(7) -> EXIT 7 at once, lock released",
	  t_clone_files_exit },
	{ "vfork child _exits: membership unaffected; kill -> SIGNAL 9",
	  t_vfork_exit },
	{ "vfork child execs holding the fd (EPERM): membership unaffected",
	  t_vfork_exec },
	{ "exec with the fd close-on-exec: ends at exec (CLOSE), lock released",
	  t_exec_cloexec },
	{ "exec keeping the fd: membership survives, WAIT/read work, exit(5) -> EXIT 5",
	  t_exec_keep_fd },
};

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} roles[] = {
	{ "probe", role_probe },
	{ "idle", role_idle },
	{ "member", role_member },
};

int main(int argc, char **argv)
{
	ssize_t n;
	size_t i;

	n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	if (n > 0)
		self_exe[n] = 0;
	if (argc >= 3 && !strcmp(argv[1], "--role")) {
		setvbuf(stdout, NULL, _IOLBF, 0);
		for (i = 0; i < KT_ARRAY_SIZE(roles); i++)
			if (!strcmp(argv[2], roles[i].name))
				return roles[i].fn(argc - 3, argv + 3);
		return 99;
	}
	return kt_main(argc, argv, cases, KT_ARRAY_SIZE(cases));
}
