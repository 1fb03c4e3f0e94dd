// SPDX-License-Identifier: GPL-2.0
/*
 * t_claims_perm: claims of Documentation/abi/{attach,remove,control}.rst
 * about credentials and memory that no other program checks (see
 * CLAIMS.md):
 *
 * - the owner bits apply to the owner even when group/other bits would
 *   grant more, the group bits likewise to a group member;
 * - CAP_IPC_OWNER bypasses the mode check, and a user cannot gain it by
 *   creating a user namespace; REMOVE needs CAP_SYS_ADMIN (not another
 *   capability) and likewise cannot be gained that way;
 * - uids in the control region are in the creator's user namespace;
 * - arena pages are charged to the creator's memory cgroup; over its
 *   limit creating fails with -ENOMEM and the OOM killer is not invoked.
 *
 * Runs as root; unprivileged users are forked children that drop to
 * uid/gid 1000 or 2000 (as in t_perm). /dev/shmk is made 0666 for the
 * run if it is not.
 */
#include "kt.h"

#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/capability.h>

#define CGROOT "/sys/fs/cgroup"

/* ---- credentials ---------------------------------------------------------- */

static int become(uid_t uid, gid_t gid, gid_t extra)
{
	gid_t groups[1] = { extra };

	if (setgroups(extra ? 1 : 0, groups) < 0 ||
	    setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
		return -errno;
	return 0;
}

/* Drops capability @cap from the effective set of this (root) process. */
static int drop_cap(int cap)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d) < 0)
		return -errno;
	d[cap / 32].effective &= ~(1u << (cap % 32));
	d[cap / 32].permitted &= ~(1u << (cap % 32));
	if (syscall(SYS_capset, &h, d) < 0)
		return -errno;
	return 0;
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	n = n < 0 ? -errno : 0;
	close(fd);
	return (int)n;
}

static long read_long(const char *path, const char *key)
{
	char buf[4096], *p;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	if (!key)
		return strtol(buf, NULL, 10);
	p = strstr(buf, key);
	if (!p)
		return -ENOENT;
	return strtol(p + strlen(key), NULL, 10);
}

/* An arena created by uid/gid @uid with @mode, held until told. */
struct creator {
	char name[SHMK_NAME_MAX];
	uid_t uid;
	gid_t gid;
	uint32_t mode, flags;
	int ready, hold;
	int self_ro, self_rw;	/* the creator's own joins: results */
};

static int creator_main(void *arg)
{
	struct creator *c = arg;
	struct kt_member m;
	int fd;

	if (become(c->uid, c->gid, 0) < 0)
		return 100;
	if (kt_join(&m, c->name, 4096, SHMK_ATTACH_CREATE | c->flags,
		    c->mode) < 0)
		return 101;
	/* The owner itself, joining again: its own bits apply. */
	fd = kt_open();
	c->self_ro = kt_attach(fd, c->name, 0, SHMK_ATTACH_RDONLY, 0, NULL);
	close(fd);
	fd = kt_open();
	c->self_rw = kt_attach(fd, c->name, 0, 0, 0, NULL);
	close(fd);
	kt_post(c->ready, &c->self_ro, sizeof(int));
	kt_post(c->ready, &c->self_rw, sizeof(int));
	kt_await(c->hold, NULL, 0, 20000);
	kt_leave(&m, true);
	return 0;
}

struct held {
	struct creator c;
	struct kt_pipe ready, hold;
	pid_t pid;
};

static int hold_arena(struct held *h, const char *tag, uid_t uid, uint32_t mode,
		      uint32_t flags)
{
	kt_name(h->c.name, tag);
	h->c.uid = uid;
	h->c.gid = uid;
	h->c.mode = mode;
	h->c.flags = flags;
	KT_RET(kt_pipe_open(&h->ready), 0);
	KT_RET(kt_pipe_open(&h->hold), 0);
	h->c.ready = h->ready.w;
	h->c.hold = h->hold.r;
	h->pid = kt_fork(creator_main, &h->c);
	KT_RET(kt_await(h->ready.r, &h->c.self_ro, sizeof(int),
			KT_TIMEOUT_MS), 0);
	KT_RET(kt_await(h->ready.r, &h->c.self_rw, sizeof(int),
			KT_TIMEOUT_MS), 0);
	return KT_PASS;
}

static int release_arena(struct held *h)
{
	KT_RET(kt_post(h->hold.w, NULL, 0), 0);
	KT_EQ(kt_reap(h->pid), 0);
	return KT_PASS;
}

/* An attach by (uid, gid, extra group) after dropping capability @drop. */
struct try {
	char name[SHMK_NAME_MAX];
	uid_t uid;
	gid_t gid, extra;
	int drop;		/* capability to drop as root, or -1 */
	bool userns;		/* unshare(CLONE_NEWUSER) first */
	uint32_t flags;
	bool remove;		/* REMOVE instead of ATTACH */
	int want;
};

static int try_main(void *arg)
{
	struct try *t = arg;
	int fd, r;

	if (t->uid && become(t->uid, t->gid, t->extra) < 0)
		return 100;
	if (t->drop >= 0 && drop_cap(t->drop) < 0)
		return 101;
	if (t->userns && unshare(CLONE_NEWUSER) < 0)
		return 77;
	fd = kt_open();
	if (fd < 0)
		return 102;
	r = t->remove ? kt_remove(fd, t->name) :
			kt_attach(fd, t->name, 0, t->flags, 0, NULL);
	close(fd);
	if (r != t->want) {
		kt_diag("as %u:%u%s%s: %s, want %s", t->uid, t->gid,
			t->drop >= 0 ? " minus a capability" : "",
			t->userns ? " in a new user namespace" : "",
			kt_errname(r), kt_errname(t->want));
		return 1;
	}
	return 0;
}

static int try_as(const char *name, uid_t uid, gid_t gid, gid_t extra,
		  uint32_t flags, int want)
{
	struct try t = { .uid = uid, .gid = gid, .extra = extra, .drop = -1,
			 .flags = flags, .want = want };

	snprintf(t.name, sizeof(t.name), "%s", name);
	KT_EQ(kt_reap(kt_fork(try_main, &t)), 0);
	return KT_PASS;
}

/* ---- mode bits ------------------------------------------------------------ */

/*
 * attach.rst: "the owner bits apply if the caller's effective uid is the
 * arena's uid, else the group bits if the caller is in the arena's group,
 * else the other bits": the first class that matches decides, even when
 * a later one would grant more.
 */
static int t_owner_bits_first(void)
{
	struct held h;

	KT_DO(hold_arena(&h, "m0066", 1000, 0066, 0));
	/* The owner: bits 0, refused, though group and other may. */
	KT_RET(h.c.self_ro, -EACCES);
	KT_RET(h.c.self_rw, -EACCES);
	KT_DO(try_as(h.c.name, 1000, 2000, 0, SHMK_ATTACH_RDONLY, -EACCES));
	/* Group (primary or supplementary), other: rw. */
	KT_DO(try_as(h.c.name, 2000, 1000, 0, 0, 0));
	KT_DO(try_as(h.c.name, 2000, 2000, 1000, 0, 0));
	KT_DO(try_as(h.c.name, 2000, 2000, 0, 0, 0));
	KT_DO(release_arena(&h));
	return KT_PASS;
}

static int t_group_bits_first(void)
{
	struct held h;

	KT_DO(hold_arena(&h, "m0606", 1000, 0606, 0));
	KT_RET(h.c.self_rw, 0);
	/* A group member: group bits 0, refused, though others may. */
	KT_DO(try_as(h.c.name, 2000, 1000, 0, SHMK_ATTACH_RDONLY, -EACCES));
	KT_DO(try_as(h.c.name, 2000, 2000, 1000, 0, -EACCES));
	KT_DO(try_as(h.c.name, 2000, 2000, 0, 0, 0));
	KT_DO(release_arena(&h));
	return KT_PASS;
}

/* ---- capabilities --------------------------------------------------------- */

/* attach.rst: CAP_IPC_OWNER bypasses the check; root without it does not. */
static int t_cap_ipc_owner(void)
{
	struct try t = { .uid = 0, .drop = CAP_IPC_OWNER, .want = -EACCES };
	struct held h;

	KT_DO(hold_arena(&h, "ipcown", 1000, 0600, 0));
	snprintf(t.name, sizeof(t.name), "%s", h.c.name);
	/* Root (uid 0 is neither owner nor group) minus CAP_IPC_OWNER. */
	KT_EQ(kt_reap(kt_fork(try_main, &t)), 0);
	t.flags = SHMK_ATTACH_RDONLY;
	KT_EQ(kt_reap(kt_fork(try_main, &t)), 0);
	/* Root minus another capability: still bypasses. */
	t.drop = CAP_SYS_ADMIN;
	t.flags = 0;
	t.want = 0;
	KT_EQ(kt_reap(kt_fork(try_main, &t)), 0);
	KT_DO(release_arena(&h));
	return KT_PASS;
}

/*
 * attach.rst: "a user cannot gain it by creating a user namespace";
 * remove.rst: CAP_SYS_ADMIN "in the user namespace owning the arena's IPC
 * namespace". uid 2000 with every capability of its own new user
 * namespace (the IPC namespace stays the root one).
 */
static int t_userns_gains_nothing(void)
{
	struct try t = { .uid = 2000, .gid = 2000, .drop = -1, .userns = true };
	struct held h;
	int r;

	KT_DO(hold_arena(&h, "userns", 1000, 0600, SHMK_ATTACH_PERSISTENT));
	snprintf(t.name, sizeof(t.name), "%s", h.c.name);
	t.want = -EACCES;
	r = kt_reap(kt_fork(try_main, &t));
	if (r == 77) {
		release_arena(&h);
		return kt_skip("unshare(CLONE_NEWUSER) refused to uid 2000 (unprivileged user namespaces off)");
	}
	KT_EQ(r, 0);
	t.flags = SHMK_ATTACH_RDONLY;
	KT_EQ(kt_reap(kt_fork(try_main, &t)), 0);
	t.remove = true;
	t.want = -EPERM;
	KT_EQ(kt_reap(kt_fork(try_main, &t)), 0);
	KT_DO(release_arena(&h));
	return KT_PASS;
}

/* remove.rst: another user's arena needs CAP_SYS_ADMIN, exactly that one. */
static int t_remove_cap_sys_admin(void)
{
	struct try t = { .uid = 0, .drop = CAP_SYS_ADMIN, .remove = true,
			 .want = -EPERM };
	struct held h;

	KT_DO(hold_arena(&h, "rmcap", 1000, 0666, SHMK_ATTACH_PERSISTENT));
	KT_DO(release_arena(&h));
	snprintf(t.name, sizeof(t.name), "%s", h.c.name);
	KT_EQ(kt_reap(kt_fork(try_main, &t)), 0);
	/* Without CAP_IPC_OWNER but with CAP_SYS_ADMIN: allowed. */
	t.drop = CAP_IPC_OWNER;
	t.want = 0;
	KT_EQ(kt_reap(kt_fork(try_main, &t)), 0);
	return KT_PASS;
}

/* ---- uids in the creator's user namespace --------------------------------- */

/*
 * control.rst: "uid ... in the arena creator's user namespace". A creator
 * in a new user namespace where it is uid 0 (mapped from 1000): the
 * header and its slot say 0; a root member from outside, unmapped there,
 * is the overflow uid.
 */
struct nscreator {
	char name[SHMK_NAME_MAX];
	int ready;	/* write end: "unshared", then "created" */
	int mapped;	/* read end: the parent wrote the maps */
	int hold;	/* read end */
};

static int nscreator_main(void *arg)
{
	struct nscreator *c = arg;
	struct kt_member m;
	int r;

	if (unshare(CLONE_NEWUSER) < 0)
		return 100;
	kt_post(c->ready, NULL, 0);
	if (kt_await(c->mapped, NULL, 0, KT_TIMEOUT_MS) < 0)
		return 101;
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		return 102;
	r = kt_join(&m, c->name, 4096, SHMK_ATTACH_CREATE, 0666);
	kt_post(c->ready, &r, sizeof(r));
	if (r < 0)
		return 103;
	kt_await(c->hold, NULL, 0, 20000);
	kt_leave(&m, true);
	return 0;
}

static int t_ctrl_uid_userns(void)
{
	struct kt_pipe ready, mapped, hold;
	struct nscreator c;
	struct kt_member m;
	char path[64];
	long ovf;
	pid_t pid;
	int r;

	kt_name(c.name, "nsuid");
	KT_RET(kt_pipe_open(&ready), 0);
	KT_RET(kt_pipe_open(&mapped), 0);
	KT_RET(kt_pipe_open(&hold), 0);
	c.ready = ready.w;
	c.mapped = mapped.r;
	c.hold = hold.r;
	pid = kt_fork(nscreator_main, &c);
	if (kt_await(ready.r, NULL, 0, KT_TIMEOUT_MS) < 0)
		return kt_skip("unshare(CLONE_NEWUSER) failed: exit %d",
			       kt_reap(pid));
	snprintf(path, sizeof(path), "/proc/%d/uid_map", (int)pid);
	KT_RET(write_file(path, "0 1000 1\n"), 0);
	snprintf(path, sizeof(path), "/proc/%d/setgroups", (int)pid);
	KT_RET(write_file(path, "deny\n"), 0);
	snprintf(path, sizeof(path), "/proc/%d/gid_map", (int)pid);
	KT_RET(write_file(path, "0 1000 1\n"), 0);
	KT_RET(kt_post(mapped.w, NULL, 0), 0);
	KT_RET(kt_await(ready.r, &r, sizeof(r), KT_TIMEOUT_MS), 0);
	KT_RET(r, 0);
	KT_RET(kt_join(&m, c.name, 0, 0, 0), 0);
	ovf = read_long("/proc/sys/kernel/overflowuid", NULL);
	KT_TRUE(ovf > 0);
	KT_EQ(m.ctrl->uid, 0);
	KT_EQ(m.ctrl->gid, 0);
	KT_EQ(kt_slot(m.ctrl, 1)->uid, 0);
	KT_EQ(kt_slot(m.ctrl, m.at.member_id)->uid, ovf);
	kt_leave(&m, true);
	KT_RET(kt_post(hold.w, NULL, 0), 0);
	KT_EQ(kt_reap(pid), 0);
	return KT_PASS;
}

/* ---- memory cgroups ------------------------------------------------------- */

struct cg {
	char path[128];
};

static int cg_make(struct cg *cg, const char *tag, const char *max)
{
	char file[192], buf[512] = "";
	int fd = open(CGROOT "/cgroup.controllers", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return kt_skip("no cgroup2 at " CGROOT);
	if (read(fd, buf, sizeof(buf) - 1) < 0)
		buf[0] = 0;
	close(fd);
	if (!strstr(buf, "memory"))
		return kt_skip("no memory controller in cgroup2");
	/* Enabling it again when it is on already is harmless. */
	write_file(CGROOT "/cgroup.subtree_control", "+memory");
	snprintf(cg->path, sizeof(cg->path), CGROOT "/kt.%d.%s",
		 (int)getpid(), tag);
	if (mkdir(cg->path, 0755) < 0 && errno != EEXIST)
		return kt_skip("mkdir %s: %s", cg->path, kt_errname(-errno));
	snprintf(file, sizeof(file), "%s/memory.max", cg->path);
	if (write_file(file, max) < 0) {
		rmdir(cg->path);
		return kt_skip("no %s", file);
	}
	snprintf(file, sizeof(file), "%s/memory.swap.max", cg->path);
	write_file(file, "0");
	return KT_PASS;
}

static long cg_read(struct cg *cg, const char *file, const char *key)
{
	char path[192];

	snprintf(path, sizeof(path), "%s/%s", cg->path, file);
	return read_long(path, key);
}

static int cg_enter(struct cg *cg)
{
	char path[192], pid[32];

	snprintf(path, sizeof(path), "%s/cgroup.procs", cg->path);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	return write_file(path, pid);
}

/* A creator inside a cgroup: reports its ATTACH result, holds the arena. */
struct cgc {
	struct cg *cg;
	char name[SHMK_NAME_MAX];
	uint64_t size;
	int rep, hold;
};

static int cg_creator(void *arg)
{
	struct cgc *c = arg;
	struct kt_member m;
	int r;

	if (cg_enter(c->cg) < 0)
		return 100;
	r = kt_join(&m, c->name, c->size, SHMK_ATTACH_CREATE, 0600);
	kt_post(c->rep, &r, sizeof(r));
	if (r == 0)
		kt_await(c->hold, NULL, 0, 20000);
	kt_leave(&m, true);
	/* A small one still fits: the failure left nothing charged. */
	if (r < 0) {
		kt_name(c->name, "cgsmall");
		r = kt_join(&m, c->name, 64 * 1024, SHMK_ATTACH_CREATE, 0600);
		kt_post(c->rep, &r, sizeof(r));
		kt_leave(&m, true);
	}
	return 0;
}

#define MIB (1024 * 1024)

/*
 * attach.rst: the pages are "charged to the creator's memory cgroup";
 * touching them from a member in another cgroup charges nothing there.
 */
static int t_memcg_charged(void)
{
	struct cg a, b;
	struct cgc c;
	struct kt_pipe rep, hold;
	struct kt_member j;
	long a0, a1, a2, b0, b1;
	uint64_t i, deadline;
	pid_t pid;
	int r;

	r = cg_make(&a, "a", "268435456");
	if (r != KT_PASS)
		return r;
	r = cg_make(&b, "b", "268435456");
	if (r != KT_PASS) {
		rmdir(a.path);
		return r;
	}
	KT_RET(kt_pipe_open(&rep), 0);
	KT_RET(kt_pipe_open(&hold), 0);
	c.cg = &a;
	kt_name(c.name, "memcg");
	c.size = 16 * MIB;
	c.rep = rep.w;
	c.hold = hold.r;
	a0 = cg_read(&a, "memory.current", NULL);
	pid = kt_fork(cg_creator, &c);
	KT_RET(kt_await(rep.r, &r, sizeof(r), KT_TIMEOUT_MS), 0);
	KT_RET(r, 0);
	a1 = cg_read(&a, "memory.current", NULL);
	kt_diag("creator's cgroup: %ld -> %ld bytes for a 16 MiB arena",
		a0, a1);
	KT_TRUE(a1 - a0 >= 16 * MIB);
	/* This process, in cgroup b, maps and touches every page. */
	KT_RET(cg_enter(&b), 0);
	b0 = cg_read(&b, "memory.current", NULL);
	KT_RET(kt_join(&j, c.name, 0, 0, 0), 0);
	for (i = 0; i < j.at.user_size; i += 4096)
		j.user[i] = 1;
	b1 = cg_read(&b, "memory.current", NULL);
	kt_diag("joiner's cgroup: %ld -> %ld bytes after touching it all",
		b0, b1);
	KT_TRUE(b1 - b0 < 4 * MIB);
	kt_leave(&j, true);
	KT_RET(kt_post(hold.w, NULL, 0), 0);
	KT_EQ(kt_reap(pid), 0);
	/* Freed with the arena (maybe a moment later): the charge goes. */
	deadline = kt_now_ns() + 3000000000ull;
	do {
		a2 = cg_read(&a, "memory.current", NULL);
		if (a2 - a0 < MIB)
			break;
		kt_pause();
	} while (kt_now_ns() < deadline);
	kt_diag("creator's cgroup after the arena went: %ld bytes", a2);
	KT_TRUE(a2 - a0 < MIB);	/* slab crumbs may stay, not the pages */
	write_file(CGROOT "/cgroup.procs", "0");	/* back to the root */
	rmdir(b.path);
	rmdir(a.path);
	return KT_PASS;
}

/*
 * attach.rst -ENOMEM: "The pages could not be allocated (including the
 * memory cgroup limit). Allocation never invokes the OOM killer."
 */
static int t_memcg_enomem(void)
{
	struct cg a;
	struct cgc c;
	struct kt_pipe rep, hold;
	long kills0, kills1, ooms0, ooms1;
	pid_t pid;
	int r;

	r = cg_make(&a, "lim", "8388608");
	if (r != KT_PASS)
		return r;
	KT_RET(kt_pipe_open(&rep), 0);
	KT_RET(kt_pipe_open(&hold), 0);
	c.cg = &a;
	kt_name(c.name, "memcgmax");
	c.size = 32 * MIB;
	c.rep = rep.w;
	c.hold = hold.r;
	kills0 = cg_read(&a, "memory.events", "oom_kill ");
	ooms0 = cg_read(&a, "memory.events", "oom ");
	pid = kt_fork(cg_creator, &c);
	KT_RET(kt_await(rep.r, &r, sizeof(r), KT_TIMEOUT_MS), 0);
	KT_RET(r, -ENOMEM);
	KT_RET(kt_await(rep.r, &r, sizeof(r), KT_TIMEOUT_MS), 0);
	KT_RET(r, 0);
	KT_EQ(kt_reap(pid), 0);		/* alive to the end, not killed */
	kills1 = cg_read(&a, "memory.events", "oom_kill ");
	ooms1 = cg_read(&a, "memory.events", "oom ");
	kt_diag("memory.events: oom %ld -> %ld, oom_kill %ld -> %ld", ooms0,
		ooms1, kills0, kills1);
	KT_EQ(kills1, kills0);
	KT_EQ(ooms1, ooms0);
	rmdir(a.path);
	return KT_PASS;
}

static const struct kt_case cases[] = {
	{ "mode: the owner's bits apply to the owner (0066: owner refused)",
	  t_owner_bits_first },
	{ "mode: the group's bits apply to a group member (0606: group refused)",
	  t_group_bits_first },
	{ "CAP_IPC_OWNER bypasses the mode; root without it is refused",
	  t_cap_ipc_owner },
	{ "a new user namespace gains neither CAP_IPC_OWNER nor REMOVE's CAP_SYS_ADMIN",
	  t_userns_gains_nothing },
	{ "remove: another user's arena needs CAP_SYS_ADMIN (not CAP_IPC_OWNER)",
	  t_remove_cap_sys_admin },
	{ "ctrl: uids in the creator's user namespace (overflow uid if unmapped)",
	  t_ctrl_uid_userns },
	{ "memcg: pages charged to the creator's cgroup, not to a joiner's",
	  t_memcg_charged },
	{ "memcg: over the creator's limit -> ENOMEM, no OOM kill",
	  t_memcg_enomem },
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
