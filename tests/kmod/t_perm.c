// SPDX-License-Identifier: GPL-2.0
/*
 * t_perm: access control (owner uid/gid and mode checked at attach, like
 * SysV IPC), REMOVE permission, and IPC namespace scoping.
 *
 * Runs as root in the guest; unprivileged users are forked children that
 * drop to uid/gid 1000 or 2000 (no capabilities left after setresuid).
 * The device node must be usable by them: if /dev/shmk is not mode 0666
 * the program makes it so for its run and restores it afterwards.
 */
#include "kt.h"

#include <grp.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#define KT_HOG_MAX	256

struct asuser {
	uid_t uid;
	gid_t gid;
	int ngroups;
	gid_t groups[2];
	int (*fn)(void *);
	void *arg;
};

static int asuser_main(void *a)
{
	struct asuser *u = a;

	if (setgroups((size_t)u->ngroups, u->groups) < 0 ||
	    setresgid(u->gid, u->gid, u->gid) < 0 ||
	    setresuid(u->uid, u->uid, u->uid) < 0) {
		kt_diag("cannot become %u:%u", u->uid, u->gid);
		return 100;
	}
	return u->fn(u->arg);
}

static int run_as(uid_t uid, gid_t gid, int (*fn)(void *), void *arg)
{
	struct asuser u = { .uid = uid, .gid = gid, .fn = fn, .arg = arg };

	return kt_reap(kt_fork(asuser_main, &u));
}

static int run_as_groups(uid_t uid, gid_t gid, gid_t extra,
			 int (*fn)(void *), void *arg)
{
	struct asuser u = { .uid = uid, .gid = gid, .ngroups = 1,
			    .groups = { extra }, .fn = fn, .arg = arg };

	return kt_reap(kt_fork(asuser_main, &u));
}

/* An attach attempt by the current (unprivileged) process. */
struct try {
	char name[SHMK_NAME_MAX];
	uint32_t flags;
	int want;
};

static int try_attach(void *arg)
{
	struct try *t = arg;
	struct kt_member m;
	int err;
	void *p;

	KT_TRUE(getuid() != 0);
	KT_RET(kt_join(&m, t->name, 0, t->flags, 0), t->want);
	if (t->want < 0)
		return KT_PASS;
	if (t->flags & SHMK_ATTACH_RDONLY) {
		p = kt_mmap(m.fd, m.at.user_size, PROT_READ | PROT_WRITE,
			    MAP_SHARED, m.at.user_offset, &err);
		KT_TRUE(p == NULL);
		KT_RET(err, -EPERM);
		KT_EQ(*kt_word(&m, 0), 0x600d);
	} else {
		*kt_word(&m, 4) = getuid();
	}
	KT_EQ(kt_slot(m.ctrl, m.at.member_id)->uid, getuid());
	kt_leave(&m, true);
	return KT_PASS;
}

static int expect_as(uid_t uid, gid_t gid, const char *name, uint32_t flags,
		     int want)
{
	struct try t;

	snprintf(t.name, sizeof(t.name), "%s", name);
	t.flags = flags;
	t.want = want;
	if (run_as(uid, gid, try_attach, &t) != KT_PASS) {
		kt_diag("as %u:%u, %s attach: want %s", uid, gid,
			flags & SHMK_ATTACH_RDONLY ? "RDONLY" : "RW",
			kt_errname(want));
		return KT_FAIL;
	}
	return KT_PASS;
}

/* Root-owned arenas of various modes, tried by uid 1000. */
static int root_mode_case(uint32_t mode, int want_ro, int want_rw)
{
	struct kt_member m;
	char nm[SHMK_NAME_MAX];

	kt_name(nm, "mode");
	KT_RET(kt_join(&m, nm, 4096, SHMK_ATTACH_CREATE, mode), 0);
	KT_EQ(m.ctrl->mode, mode);
	KT_EQ(m.ctrl->uid, 0);
	*kt_word(&m, 0) = 0x600d;
	KT_DO(expect_as(1000, 1000, nm, SHMK_ATTACH_RDONLY, want_ro));
	KT_DO(expect_as(1000, 1000, nm, 0, want_rw));
	if (want_rw == 0)
		KT_EQ(*kt_word(&m, 4), 1000);
	else
		KT_EQ(*kt_word(&m, 4), 0);
	KT_EQ(m.ctrl->members_live, 1);
	kt_leave(&m, true);
	return KT_PASS;
}

static int t_mode_0600(void)
{
	return root_mode_case(0600, -EACCES, -EACCES);
}

static int t_mode_0644(void)
{
	return root_mode_case(0644, 0, -EACCES);
}

static int t_mode_0666(void)
{
	return root_mode_case(0666, 0, 0);
}

static int t_mode_0602(void)
{
	/* Write without read is not enough for a read-write attach. */
	return root_mode_case(0602, -EACCES, -EACCES);
}

/* An arena created by 1000:1000 and held by that process. */
struct creator {
	char name[SHMK_NAME_MAX];
	uint32_t mode, flags;
	int ready;	/* write end */
	int hold;	/* read end: leave when closed */
};

static int creator_main(void *arg)
{
	struct creator *c = arg;
	struct kt_member m;
	struct shmk_ctrl h;

	KT_RET(kt_join(&m, c->name, 4096, SHMK_ATTACH_CREATE | c->flags,
		       c->mode), 0);
	KT_RET(kt_ctrl_read(m.ctrl, &h, 1, NULL), 0);
	/* The creator's ids and mode are the arena's. */
	KT_EQ(h.uid, getuid());
	KT_EQ(h.gid, getgid());
	KT_EQ(h.mode, c->mode);
	KT_EQ(kt_slot(m.ctrl, 1)->uid, getuid());
	*kt_word(&m, 0) = 0x600d;
	kt_post(c->ready, NULL, 0);
	kt_await(c->hold, NULL, 0, 20000);
	kt_leave(&m, true);
	return KT_PASS;
}

static pid_t start_creator(struct creator *c, struct kt_pipe *ready,
			   struct kt_pipe *hold, uid_t uid, gid_t gid)
{
	static struct asuser u;
	pid_t pid;

	c->ready = ready->w;
	c->hold = hold->r;
	u.uid = uid;
	u.gid = gid;
	u.ngroups = 0;
	u.fn = creator_main;
	u.arg = c;
	pid = kt_fork(asuser_main, &u);
	if (kt_await(ready->r, NULL, 0, KT_TIMEOUT_MS) < 0)
		return -1;
	return pid;
}

static int group_case(uint32_t mode, int want_grp_ro, int want_grp_rw,
		      int want_oth_ro, int want_oth_rw)
{
	struct kt_pipe ready, hold;
	struct creator c;
	struct try t;
	pid_t pid;

	kt_name(c.name, "grp");
	c.mode = mode;
	c.flags = 0;
	KT_RET(kt_pipe_open(&ready), 0);
	KT_RET(kt_pipe_open(&hold), 0);
	pid = start_creator(&c, &ready, &hold, 1000, 1000);
	KT_TRUE(pid > 0);
	/* Same group, other user. */
	KT_DO(expect_as(2000, 1000, c.name, SHMK_ATTACH_RDONLY, want_grp_ro));
	KT_DO(expect_as(2000, 1000, c.name, 0, want_grp_rw));
	/* Other group, other user. */
	KT_DO(expect_as(2000, 2000, c.name, SHMK_ATTACH_RDONLY, want_oth_ro));
	KT_DO(expect_as(2000, 2000, c.name, 0, want_oth_rw));
	/* The group as a supplementary group counts too. */
	snprintf(t.name, sizeof(t.name), "%s", c.name);
	t.flags = 0;
	t.want = want_grp_rw;
	KT_EQ(run_as_groups(2000, 2000, 1000, try_attach, &t), KT_PASS);
	/* The owner itself, from another process. */
	KT_DO(expect_as(1000, 2000, c.name, 0, 0));
	KT_RET(kt_post(hold.w, NULL, 0), 0);
	KT_EQ(kt_reap(pid), KT_PASS);
	return KT_PASS;
}

static int t_group_0660(void)
{
	return group_case(0660, 0, 0, -EACCES, -EACCES);
}

static int t_group_0640(void)
{
	return group_case(0640, 0, -EACCES, -EACCES, -EACCES);
}

static int t_group_0604(void)
{
	return group_case(0604, -EACCES, -EACCES, 0, -EACCES);
}

/* EXCL-create of a name another user owns still says EEXIST. */
static int t_eexist_other_user(void)
{
	struct kt_pipe ready, hold;
	struct creator c;
	struct try t;
	pid_t pid;

	kt_name(c.name, "exo");
	c.mode = 0600;
	c.flags = 0;
	KT_RET(kt_pipe_open(&ready), 0);
	KT_RET(kt_pipe_open(&hold), 0);
	pid = start_creator(&c, &ready, &hold, 1000, 1000);
	KT_TRUE(pid > 0);
	snprintf(t.name, sizeof(t.name), "%s", c.name);
	t.flags = SHMK_ATTACH_CREATE | SHMK_ATTACH_EXCL;
	t.want = -EEXIST;
	KT_EQ(run_as(2000, 2000, try_attach, &t), KT_PASS);
	t.flags = SHMK_ATTACH_CREATE;	/* a join: checked, refused */
	t.want = -EACCES;
	KT_EQ(run_as(2000, 2000, try_attach, &t), KT_PASS);
	KT_RET(kt_post(hold.w, NULL, 0), 0);
	KT_EQ(kt_reap(pid), KT_PASS);
	return KT_PASS;
}

/* REMOVE: other uid -> EPERM; owner uid and root (CAP_SYS_ADMIN) may. */
struct rm {
	char name[SHMK_NAME_MAX];
	int want;
};

static int try_remove(void *arg)
{
	struct rm *r = arg;
	int fd = kt_open();

	KT_TRUE(fd >= 0);
	KT_RET(kt_remove(fd, r->name), r->want);
	close(fd);
	return KT_PASS;
}

static int t_remove_perm(void)
{
	struct kt_pipe ready, hold;
	struct creator c;
	struct rm r;
	pid_t pid;
	int fd;

	/* 1000 creates a persistent arena (and leaves it). */
	kt_name(c.name, "rmperm");
	c.mode = 0666;
	c.flags = SHMK_ATTACH_PERSISTENT;
	KT_RET(kt_pipe_open(&ready), 0);
	KT_RET(kt_pipe_open(&hold), 0);
	pid = start_creator(&c, &ready, &hold, 1000, 1000);
	KT_TRUE(pid > 0);
	KT_RET(kt_post(hold.w, NULL, 0), 0);
	KT_EQ(kt_reap(pid), KT_PASS);

	snprintf(r.name, sizeof(r.name), "%s", c.name);
	r.want = -EPERM;
	KT_EQ(run_as(2000, 1000, try_remove, &r), KT_PASS);
	KT_EQ(run_as(2000, 2000, try_remove, &r), KT_PASS);
	r.want = 0;
	KT_EQ(run_as(1000, 2000, try_remove, &r), KT_PASS);
	r.want = -ENOENT;
	KT_EQ(run_as(1000, 1000, try_remove, &r), KT_PASS);

	/* Root (CAP_SYS_ADMIN) removes another user's arena. */
	kt_name(c.name, "rmroot");
	KT_RET(kt_pipe_open(&ready), 0);
	KT_RET(kt_pipe_open(&hold), 0);
	pid = start_creator(&c, &ready, &hold, 1000, 1000);
	KT_TRUE(pid > 0);
	KT_RET(kt_post(hold.w, NULL, 0), 0);
	KT_EQ(kt_reap(pid), KT_PASS);
	fd = kt_open();
	KT_TRUE(fd >= 0);
	KT_RET(kt_remove(fd, c.name), 0);
	KT_RET(kt_attach(fd, c.name, 0, 0, 0, NULL), -ENOENT);
	close(fd);
	return KT_PASS;
}

/* ---- no lock-out --------------------------------------------------- */

/*
 * One unprivileged user creates persistent arenas until it is refused,
 * and leaves (the arenas stay, charged to it). Another user and root can
 * still create: the per-user limit stopped the first one before the
 * module's max_arenas, and root keeps reserved_arenas of its own.
 */
struct hog {
	unsigned int max;	/* attempts: max_arenas + 1 */
	char names[KT_HOG_MAX][SHMK_NAME_MAX];
	int made;
	int last;		/* the refusal */
};

static int hog_main(void *arg)
{
	struct hog *h = arg;
	struct kt_member m;
	unsigned int i;
	int r = 0;

	for (i = 0; i < h->max; i++) {
		r = kt_join(&m, h->names[i], 4096, SHMK_ATTACH_CREATE |
			    SHMK_ATTACH_EXCL | SHMK_ATTACH_PERSISTENT, 0600);
		if (r)
			break;
		kt_leave(&m, true);
	}
	h->made = (int)i;
	h->last = r;
	return KT_PASS;
}

static int create_one(void *arg)
{
	struct kt_member m;

	KT_RET(kt_join(&m, arg, 4096, SHMK_ATTACH_CREATE |
		       SHMK_ATTACH_PERSISTENT, 0600), 0);
	kt_leave(&m, true);
	return KT_PASS;
}

static int t_no_lockout(void)
{
	char name[SHMK_NAME_MAX];
	struct kt_params p;
	struct hog *h;
	unsigned int i;
	int made, last;

	KT_RET(kt_params(&p), 0);
	if (p.max_arenas + 1 > KT_HOG_MAX)
		return kt_skip("max_arenas %u is more than this test names",
			       p.max_arenas);
	h = mmap(NULL, sizeof(*h), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	KT_TRUE(h != MAP_FAILED);
	h->max = p.max_arenas + 1;
	for (i = 0; i < h->max; i++)
		kt_name(h->names[i], "hog");
	KT_EQ(run_as(1000, 1000, hog_main, h), KT_PASS);
	made = h->made;
	last = h->last;
	munmap(h, sizeof(*h));
	kt_diag("uid 1000 made %d persistent arenas, then %s", made,
		kt_errname(last));
	KT_RET(last, -ENOSPC);
	KT_TRUE(made < (int)p.max_arenas);
	/* Another user, then root. */
	kt_name(name, "after");
	KT_EQ(run_as(2000, 2000, create_one, name), KT_PASS);
	kt_name(name, "root");
	KT_EQ(create_one(name), KT_PASS);
	return KT_PASS;
}

/* ---- IPC namespaces --------------------------------------------------- */

struct nsarg {
	char name[SHMK_NAME_MAX];
	uint32_t parent_arena;
	int ready;	/* write end */
	int hold;	/* read end */
};

static int ns_child(void *arg)
{
	struct nsarg *a = arg;
	struct kt_member m;
	int fd;

	KT_EQ(unshare(CLONE_NEWIPC), 0);
	fd = kt_open();
	KT_TRUE(fd >= 0);
	KT_RET(kt_attach(fd, a->name, 0, 0, 0, NULL), -ENOENT);
	KT_RET(kt_remove(fd, a->name), -ENOENT);
	close(fd);
	KT_RET(kt_join(&m, a->name, 4096, SHMK_ATTACH_CREATE |
		       SHMK_ATTACH_EXCL, 0600), 0);
	KT_EQ(m.at.out_flags, SHMK_ATTACHED_CREATED);
	KT_TRUE(m.at.arena_id != a->parent_arena);
	KT_EQ(*kt_word(&m, 0), 0);
	*kt_word(&m, 0) = 0x2222;
	kt_post(a->ready, NULL, 0);
	kt_await(a->hold, NULL, 0, 20000);
	KT_EQ(*kt_word(&m, 0), 0x2222);
	kt_leave(&m, true);
	return KT_PASS;
}

static int t_ipc_namespace(void)
{
	struct kt_member m;
	struct kt_pipe ready, hold;
	struct kt_stats s0, s1;
	struct nsarg a;
	bool stats;
	pid_t pid;
	int fd;

	kt_name(a.name, "ns");
	KT_RET(kt_join(&m, a.name, 4096, SHMK_ATTACH_CREATE, 0600), 0);
	stats = kt_stats(&s0) == 0;
	*kt_word(&m, 0) = 0x1111;
	a.parent_arena = m.at.arena_id;
	KT_RET(kt_pipe_open(&ready), 0);
	KT_RET(kt_pipe_open(&hold), 0);
	a.ready = ready.w;
	a.hold = hold.r;
	pid = kt_fork(ns_child, &a);
	KT_RET(kt_await(ready.r, NULL, 0, KT_TIMEOUT_MS), 0);
	/* Two arenas of the same name, in two namespaces, apart. */
	KT_EQ(*kt_word(&m, 0), 0x1111);
	KT_EQ(m.ctrl->members_live, 1);
	fd = kt_open();
	KT_TRUE(fd >= 0);
	KT_RET(kt_attach(fd, a.name, 4096, SHMK_ATTACH_CREATE |
			 SHMK_ATTACH_EXCL, 0600, NULL), -EEXIST);
	close(fd);
	if (stats) {
		KT_RET(kt_stats(&s1), 0);
		KT_EQ(s1.arenas, s0.arenas + 1);
	}
	KT_RET(kt_post(hold.w, NULL, 0), 0);
	KT_EQ(kt_reap(pid), KT_PASS);
	KT_EQ(*kt_word(&m, 0), 0x1111);
	kt_leave(&m, true);
	return KT_PASS;
}

static const struct kt_case cases[] = {
	{ "mode 0600 (root): uid 1000 refused RDONLY and RW (EACCES)",
	  t_mode_0600 },
	{ "mode 0644 (root): uid 1000 RDONLY ok, RW EACCES", t_mode_0644 },
	{ "mode 0666 (root): uid 1000 RW ok", t_mode_0666 },
	{ "mode 0602 (root): write-only bits are not enough", t_mode_0602 },
	{ "mode 0660 (1000:1000): group rw, others refused", t_group_0660 },
	{ "mode 0640 (1000:1000): group RDONLY only", t_group_0640 },
	{ "mode 0604 (1000:1000): others RDONLY, group bits 0 refuse",
	  t_group_0604 },
	{ "another user's name: EXCL -> EEXIST, join -> EACCES",
	  t_eexist_other_user },
	{ "remove: other uid -> EPERM; owner and root may", t_remove_perm },
	{ "IPC namespace: parent's arena invisible, same name creatable",
	  t_ipc_namespace },
	{ "no lock-out: a user's persistent arenas leave room for others and root",
	  t_no_lockout },
};

int main(int argc, char **argv)
{
	struct stat st;
	mode_t saved = 0;
	bool changed = false;
	int rc;

	if (stat(SHMK_DEVICE_PATH, &st) == 0 && (st.st_mode & 0666) != 0666) {
		saved = st.st_mode & 07777;
		if (chmod(SHMK_DEVICE_PATH, 0666) == 0) {
			changed = true;
			printf("# %s was mode 0%o: 0666 for this run\n",
			       SHMK_DEVICE_PATH, (unsigned int)saved);
		}
	}
	rc = kt_main(argc, argv, cases, KT_ARRAY_SIZE(cases));
	if (changed)
		chmod(SHMK_DEVICE_PATH, saved);
	return rc;
}
