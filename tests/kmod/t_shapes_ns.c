// SPDX-License-Identifier: GPL-2.0
/*
 * t_shapes_ns: a member's file passed to another process with SCM_RIGHTS,
 * and members in child pid namespaces.
 *
 * - A received file is not a membership: every membership call there is
 *   -EPERM; the owner's death is still reported at once while the
 *   receiver holds the file. An owner that closes its own descriptor ends
 *   its membership (CLOSE) even though the file lives on; handed back, the
 *   file is spent.
 * - Event pids are in the reader's pid namespace (0 when not visible
 *   there), control-region pids in the arena creator's; when a pid
 *   namespace's init dies, the members inside are killed and reported.
 *
 * Each victim holds a robust lock (ks.h); the observer (member 1, this
 * process, in the root pid namespace) checks events, slots and locks.
 */
#include "ks.h"

#include <poll.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define SEC 1000000000ll

static void hang(void)
{
	for (;;)
		pause();
}

/* ---- SCM_RIGHTS ----------------------------------------------------------- */

struct scm {
	char name[SHMK_NAME_MAX];
	int sock[2];		/* [0] the victim's end, [1] the receiver's */
	int rep;		/* write end: victim's ks_ids, results */
	int rrep;		/* write end: receiver's results */
	int rcmd;		/* read end: the receiver leaves */
	int mode;		/* 0: victim keeps its fd; 1: closes it */
	uint64_t ctrl_size, user_offset;
};

/* Every membership operation through a received file: -EPERM. */
static int received_checks(struct scm *s, int fd)
{
	struct shmk_attach at;
	struct shmk_version v;
	struct shmk_event ev;
	int err;
	void *p;

	KT_RET(kt_wait(fd, 0, 0, 0, 0), -EPERM);
	KT_RET(kt_wake(fd, 0, 1), -EPERM);
	KT_RET(kt_set_robust(fd, SHMK_ROBUST_NONE), -EPERM);
	KT_RET(kt_detach(fd), -EPERM);
	KT_RET(kt_attach(fd, s->name, 0, 0, 0, &at), -EPERM);
	p = kt_mmap(fd, s->ctrl_size, PROT_READ, MAP_SHARED, 0, &err);
	KT_TRUE(p == NULL);
	KT_RET(err, -EPERM);
	p = kt_mmap(fd, 4096, PROT_READ | PROT_WRITE, MAP_SHARED,
		    s->user_offset, &err);
	KT_TRUE(p == NULL);
	KT_RET(err, -EPERM);
	KT_RET(kt_read_event(fd, &ev, true), -EPERM);
	KT_RET(kt_read_event(fd, &ev, false), -EPERM);
	/* Not membership operations. */
	KT_RET(kt_version(fd, &v), 0);
	KT_RET(kt_remove(fd, "kt-no-such-arena"), -ENOENT);
	return KT_PASS;
}

static int scm_receiver(void *arg)
{
	struct scm *s = arg;
	int fd, res;

	close(s->sock[0]);
	fd = ks_recv_fd(s->sock[1]);
	if (fd < 0)
		return 100;
	res = received_checks(s, fd);
	kt_post(s->rrep, &res, sizeof(res));
	if (s->mode == 1 && ks_send_fd(s->sock[1], fd) < 0)
		return 101;
	/* Hold the file until told. */
	kt_await(s->rcmd, NULL, 0, 20000);
	close(fd);
	return 0;
}

struct spent {
	int wait, read, mmap, detach, attach;
	short revents;
};

static int scm_victim(void *arg)
{
	struct scm *s = arg;
	struct kt_member m;
	struct ks_ids ids;
	struct spent sp;
	struct shmk_event ev;
	struct pollfd p;
	int fd;

	close(s->sock[1]);
	if (ks_victim_join(&m, s->name, &ids) < 0)
		return 100;
	if (ks_send_fd(s->sock[0], m.fd) < 0)
		return 101;
	if (s->mode == 1) {
		/* Its last descriptor; the file lives on in the socket. */
		close(m.fd);
		m.fd = -1;
	}
	kt_post(s->rep, &ids, sizeof(ids));
	if (s->mode == 0)
		hang();

	/* The file comes back: still this process's, but spent. */
	fd = ks_recv_fd(s->sock[0]);
	if (fd < 0)
		return 102;
	memset(&sp, 0, sizeof(sp));
	sp.wait = kt_wait(fd, 0, 0, 0, 0);
	sp.read = kt_read_event(fd, &ev, true);
	sp.detach = kt_detach(fd);
	sp.attach = kt_attach(fd, s->name, 0, 0, 0, NULL);
	kt_mmap(fd, 4096, PROT_READ, MAP_SHARED, 0, &sp.mmap);
	p.fd = fd;
	p.events = POLLIN;
	p.revents = 0;
	poll(&p, 1, 0);
	sp.revents = p.revents;
	kt_post(s->rep, &sp, sizeof(sp));
	hang();
	return 0;
}

static int scm_case(int mode)
{
	struct kt_member obs;
	struct kt_pipe rep, rrep, rcmd, wout;
	struct ks_waiter w;
	struct ks_ids ids;
	struct scm s;
	pid_t vpid, rpid;
	int res;

	kt_name(s.name, "scm");
	KT_RET(kt_join(&obs, s.name, KS_ARENA, SHMK_ATTACH_CREATE, 0600), 0);
	KT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s.sock), 0);
	KT_RET(kt_pipe_open(&rep), 0);
	KT_RET(kt_pipe_open(&rrep), 0);
	KT_RET(kt_pipe_open(&rcmd), 0);
	KT_RET(kt_pipe_open(&wout), 0);
	s.rep = rep.w;
	s.rrep = rrep.w;
	s.rcmd = rcmd.r;
	s.mode = mode;
	s.ctrl_size = obs.at.ctrl_size;
	s.user_offset = obs.at.user_offset;
	rpid = kt_fork(scm_receiver, &s);
	vpid = kt_fork(scm_victim, &s);
	KT_RET(kt_await(rep.r, &ids, sizeof(ids), KT_TIMEOUT_MS), 0);
	KT_EQ(ids.pid, vpid);
	KT_RET(kt_await(rrep.r, &res, sizeof(res), KT_TIMEOUT_MS), 0);
	KT_EQ(res, KT_PASS);

	if (mode == 0) {
		/* The receiver's calls changed nothing. */
		KT_DO(ks_expect_quiet(&obs));
		KT_EQ(kt_slot(obs.ctrl, ids.id)->state, SHMK_MEMBER_LIVE);
		KT_DO(ks_waiter_start(&w, s.name, KS_LOCK(ids.id),
				      KS_HELD(ids.id), wout.w, 1));
		kill(vpid, SIGKILL);
		KT_EQ(kt_reap(vpid), KT_KILLED(SIGKILL));
		/* At once, while the receiver still holds the file. */
		KT_EQ(kill(rpid, 0), 0);
		KT_DO(ks_expect_end(&obs, ids.id, ids.gen, vpid,
				    SHMK_END_SIGNAL, SIGKILL));
	} else {
		struct spent sp;

		KT_DO(ks_expect_end(&obs, ids.id, ids.gen, vpid,
				    SHMK_END_CLOSE, 0));
		KT_RET(kt_await(rep.r, &sp, sizeof(sp), KT_TIMEOUT_MS), 0);
		KT_RET(sp.wait, -ENOTCONN);
		KT_RET(sp.read, 0);		/* ended, nothing queued: EOF */
		KT_RET(sp.detach, -ENOTCONN);
		KT_RET(sp.attach, -EBUSY);
		KT_RET(sp.mmap, -ENOTCONN);
		KT_TRUE(sp.revents & POLLHUP);
		/* No waiter here: the lock was released already. */
		w.pid = -1;
	}
	KT_DO(ks_expect_released(&obs, ids.id));
	if (mode == 0) {
		KT_DO(ks_waiter_done(&w, wout.r));
		KT_DO(ks_expect_detach(&obs, w.id));
	}
	KT_DO(ks_expect_quiet(&obs));
	/* The receiver lets go, the victim goes: nothing more. */
	KT_RET(kt_post(rcmd.w, NULL, 0), 0);
	KT_EQ(kt_reap(rpid), 0);
	if (mode == 1) {
		kill(vpid, SIGKILL);
		KT_EQ(kt_reap(vpid), KT_KILLED(SIGKILL));
	}
	KT_DO(ks_expect_quiet(&obs));
	kt_leave(&obs, true);
	return KT_PASS;
}

static int t_scm_owner_killed(void)
{
	return scm_case(0);
}

static int t_scm_owner_closes(void)
{
	return scm_case(1);
}

/* ---- pid namespaces -------------------------------------------------------- */

/* What a process in the child namespace reports about itself. */
struct nsids {
	struct ks_ids ids;	/* ids.pid: its pid in the child namespace */
	pid_t root_pid;		/* in the root namespace */
};

struct nsctl {
	char name[SHMK_NAME_MAX];
	int rep;	/* write end: struct nsids, then events */
	int cmd;	/* read end */
	int mode;
};

/*
 * Runs @fn as the init of a new pid namespace: unshare, fork, report the
 * child's root pid (what fork returns here), wait for it.
 */
struct nsrun {
	int (*fn)(void *);
	struct nsctl *ctl;
};

static int ns_parent(void *arg)
{
	struct nsrun *nr = arg;
	pid_t g;
	int st;

	if (unshare(CLONE_NEWPID) < 0) {
		kt_diag("unshare(CLONE_NEWPID): %s", kt_errname(-errno));
		return 100;
	}
	g = kt_fork(nr->fn, nr->ctl);
	if (g < 0)
		return 101;
	if (waitpid(g, &st, 0) != g)
		return 102;
	if (WIFSIGNALED(st))
		return 50 + WTERMSIG(st);
	return WEXITSTATUS(st);
}

static int ns_report(struct nsctl *c, struct kt_member *m, bool lock)
{
	struct nsids n;

	memset(&n, 0, sizeof(n));
	if (lock) {
		if (ks_victim_join(m, c->name, &n.ids) < 0)
			return -1;
	} else {
		if (kt_join(m, c->name, 0, 0, 0) < 0)
			return -1;
		n.ids.id = m->at.member_id;
		n.ids.gen = m->at.generation;
		n.ids.pid = getpid();
	}
	n.root_pid = ks_root_pid();
	return kt_post(c->rep, &n, sizeof(n));
}

/* A member inside that holds a lock until it is killed. */
static int ns_victim(void *arg)
{
	struct kt_member m;

	if (ns_report(arg, &m, true) < 0)
		return 100;
	hang();
	return 0;
}

/*
 * The init of the namespace, a member that reads events: mode 0 forks one
 * victim, reads two events (an outsider's detach, the victim's death) and
 * reports them; mode 1 forks two victims and waits to be killed.
 */
static int ns_init(void *arg)
{
	struct nsctl *c = arg;
	struct kt_member m;
	struct shmk_event ev[2];
	pid_t v[2];
	int i, n = c->mode ? 2 : 1;

	if (ns_report(c, &m, c->mode == 1) < 0)
		return 100;
	for (i = 0; i < n; i++) {
		v[i] = kt_fork(ns_victim, c);
		if (v[i] < 0)
			return 101;
	}
	if (c->mode == 1)
		hang();
	for (i = 0; i < 2; i++)
		if (kt_read_event(m.fd, &ev[i], false) != sizeof(ev[i]))
			return 102;
	kt_post(c->rep, ev, sizeof(ev));
	if (waitpid(v[0], NULL, 0) != v[0])
		return 103;
	kt_await(c->cmd, NULL, 0, 20000);
	kt_leave(&m, true);
	return 0;
}

static int ns_start(struct nsctl *c, struct nsrun *nr, struct kt_pipe *rep,
		    struct kt_pipe *cmd, int (*fn)(void *), int mode,
		    pid_t *ppid)
{
	KT_RET(kt_pipe_open(rep), 0);
	KT_RET(kt_pipe_open(cmd), 0);
	c->rep = rep->w;
	c->cmd = cmd->r;
	c->mode = mode;
	nr->fn = fn;
	nr->ctl = c;
	*ppid = kt_fork(ns_parent, nr);
	KT_TRUE(*ppid > 0);
	return KT_PASS;
}

static int ns_await(struct kt_pipe *rep, struct nsids *n, pid_t parent)
{
	if (kt_await(rep->r, n, sizeof(*n), KT_TIMEOUT_MS) < 0) {
		kt_diag("namespace member did not report (parent exit %d)",
			kt_reap(parent));
		return KT_FAIL;
	}
	return KT_PASS;
}

static int t_pidns_member(void)
{
	struct kt_member obs, d;
	struct kt_pipe rep, cmd, wout;
	struct shmk_event ev[2];
	struct ks_waiter w;
	struct nsids g, h;
	struct nsctl c;
	struct nsrun nr;
	pid_t parent;

	kt_name(c.name, "pidns");
	KT_RET(kt_join(&obs, c.name, KS_ARENA, SHMK_ATTACH_CREATE, 0600), 0);
	KT_RET(kt_pipe_open(&wout), 0);
	KT_DO(ns_start(&c, &nr, &rep, &cmd, ns_init, 0, &parent));
	KT_DO(ns_await(&rep, &g, parent));
	KT_DO(ns_await(&rep, &h, parent));
	/* Pids as the processes see them: init 1, its child 2. */
	KT_EQ(g.ids.pid, 1);
	KT_EQ(h.ids.pid, 2);
	KT_TRUE(g.root_pid > 1 && h.root_pid > 1);
	/* The control region: pids in the creator's (the root) namespace. */
	KT_EQ(kt_slot(obs.ctrl, g.ids.id)->pid, g.root_pid);
	KT_EQ(kt_slot(obs.ctrl, h.ids.id)->pid, h.root_pid);

	/* An outsider's end: the init reads pid 0, not visible there. */
	KT_RET(kt_join(&d, c.name, 0, 0, 0), 0);
	kt_leave(&d, true);
	KT_DO(ks_expect_detach(&obs, d.at.member_id));

	KT_DO(ks_waiter_start(&w, c.name, KS_LOCK(h.ids.id),
			      KS_HELD(h.ids.id), wout.w, 1));
	KT_EQ(kill(h.root_pid, SIGKILL), 0);
	/* Root namespace reader: the root pid. */
	KT_DO(ks_expect_end(&obs, h.ids.id, h.ids.gen, h.root_pid,
			    SHMK_END_SIGNAL, SIGKILL));
	KT_DO(ks_expect_released(&obs, h.ids.id));
	KT_DO(ks_waiter_done(&w, wout.r));
	KT_DO(ks_expect_detach(&obs, w.id));

	/* The reader inside: 0 for the outsider, 2 for its own child. */
	KT_RET(kt_await(rep.r, ev, sizeof(ev), KT_TIMEOUT_MS), 0);
	KT_EQ(ev[0].member_id, d.at.member_id);
	KT_EQ(ev[0].how, SHMK_END_DETACH);
	KT_EQ(ev[0].pid, 0);
	KT_EQ(ev[1].member_id, h.ids.id);
	KT_EQ(ev[1].how, SHMK_END_SIGNAL);
	KT_EQ(ev[1].status, SIGKILL);
	KT_EQ(ev[1].pid, 2);

	KT_RET(kt_post(cmd.w, NULL, 0), 0);
	KT_EQ(kt_reap(parent), 0);
	KT_DO(ks_expect_end(&obs, g.ids.id, g.ids.gen, g.root_pid,
			    SHMK_END_DETACH, -1));
	KT_DO(ks_expect_quiet(&obs));
	kt_leave(&obs, true);
	return KT_PASS;
}

/* An arena created inside a child pid namespace. */
static int ns_creator(void *arg)
{
	struct nsctl *c = arg;
	struct kt_member m;
	struct nsids n;

	if (kt_join(&m, c->name, 4096, SHMK_ATTACH_CREATE, 0600) < 0)
		return 100;
	memset(&n, 0, sizeof(n));
	n.ids.id = m.at.member_id;
	n.ids.gen = m.at.generation;
	n.ids.pid = getpid();
	n.root_pid = ks_root_pid();
	kt_post(c->rep, &n, sizeof(n));
	if (kt_await(c->cmd, NULL, 0, 20000) < 0)
		return 101;
	kt_leave(&m, true);
	return 0;
}

static int t_pidns_creator(void)
{
	struct kt_member m;
	struct kt_pipe rep, cmd;
	struct nsids g;
	struct nsctl c;
	struct nsrun nr;
	pid_t parent;

	kt_name(c.name, "pidnsc");
	KT_DO(ns_start(&c, &nr, &rep, &cmd, ns_creator, 0, &parent));
	KT_DO(ns_await(&rep, &g, parent));
	KT_EQ(g.ids.pid, 1);
	KT_RET(kt_join(&m, c.name, 0, 0, 0), 0);
	/* Slots show pids in the creator's namespace: 1, and 0 for us. */
	KT_EQ(kt_slot(m.ctrl, g.ids.id)->pid, 1);
	KT_EQ(kt_slot(m.ctrl, m.at.member_id)->pid, 0);
	/* Our event for the creator's end has its root pid. */
	KT_RET(kt_post(cmd.w, NULL, 0), 0);
	KT_EQ(kt_reap(parent), 0);
	KT_DO(ks_expect_end(&m, g.ids.id, g.ids.gen, g.root_pid,
			    SHMK_END_DETACH, -1));
	kt_leave(&m, true);
	return KT_PASS;
}

/* The namespace's init (a member) is killed: everyone inside goes. */
static int t_pidns_dies(void)
{
	struct kt_member obs;
	struct kt_pipe rep, cmd;
	struct shmk_event ev;
	struct nsids n[3];
	struct nsctl c;
	struct nsrun nr;
	pid_t parent;
	int i, j, seen = 0;

	kt_name(c.name, "pidnsd");
	KT_RET(kt_join(&obs, c.name, KS_ARENA, SHMK_ATTACH_CREATE, 0600), 0);
	KT_DO(ns_start(&c, &nr, &rep, &cmd, ns_init, 1, &parent));
	for (i = 0; i < 3; i++)
		KT_DO(ns_await(&rep, &n[i], parent));
	KT_EQ(n[0].ids.pid, 1);
	KT_EQ(obs.ctrl->members_live, 4);
	KT_EQ(kill(n[0].root_pid, SIGKILL), 0);
	/* The init died by SIGKILL: its parent says so (50 + signal). */
	KT_EQ(kt_reap(parent), 50 + SIGKILL);
	for (i = 0; i < 3; i++) {
		KT_EQ(kt_poll_in(obs.fd, KT_TIMEOUT_MS), 1);
		KT_RET(kt_read_event(obs.fd, &ev, true), sizeof(ev));
		for (j = 0; j < 3; j++)
			if (ev.member_id == n[j].ids.id)
				break;
		KT_TRUE(j < 3);
		KT_TRUE(!(seen & (1 << j)));
		seen |= 1 << j;
		KT_EQ(ev.type, SHMK_EVENT_EXIT);
		KT_EQ(ev.generation, n[j].ids.gen);
		KT_EQ(ev.pid, n[j].root_pid);
		KT_EQ(ev.how, SHMK_END_SIGNAL);
		KT_EQ(ev.status, SIGKILL);
		KT_EQ(ev.flags, SHMK_EVENT_F_CRASH);
		KT_EQ(kt_slot(obs.ctrl, ev.member_id)->state,
		      SHMK_MEMBER_DEAD);
		KT_EQ(kt_slot(obs.ctrl, ev.member_id)->how, SHMK_END_SIGNAL);
		KT_EQ(kt_slot(obs.ctrl, ev.member_id)->status, SIGKILL);
		KT_DO(ks_expect_released(&obs, ev.member_id));
	}
	KT_DO(ks_expect_quiet(&obs));
	KT_EQ(obs.ctrl->members_live, 1);
	kt_leave(&obs, true);
	return KT_PASS;
}

static const struct kt_case cases[] = {
	{ "SCM_RIGHTS: receiver gets EPERM; owner killed -> SIGNAL 9 at once while it holds the file",
	  t_scm_owner_killed },
	{ "SCM_RIGHTS: owner closes its fd -> CLOSE at once; handed back the file is spent",
	  t_scm_owner_closes },
	{ "pid ns: member inside: event pid per reader's ns (0 if invisible), ctrl pid in the creator's",
	  t_pidns_member },
	{ "pid ns: arena created inside: ctrl pids in that ns, 0 for an outsider",
	  t_pidns_creator },
	{ "pid ns: its init (a member) killed: members inside -> SIGNAL 9, locks released",
	  t_pidns_dies },
};

int main(int argc, char **argv)
{
	return kt_main(argc, argv, cases, KT_ARRAY_SIZE(cases));
}
