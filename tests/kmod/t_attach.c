// SPDX-License-Identifier: GPL-2.0
/*
 * t_attach: SHMK_IOC_ATTACH validation (one error at a time), member ids
 * and generations, DETACH, inherited fds, arena lifetime, persistent
 * arenas and SHMK_IOC_REMOVE, limits.
 */
#include "kt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <signal.h>

/* A valid create request with a fresh name. */
static void base_attach(struct shmk_attach *a, const char *tag)
{
	memset(a, 0, sizeof(*a));
	kt_name(a->name, tag);
	a->size = 4096;
	a->flags = SHMK_ATTACH_CREATE | SHMK_ATTACH_EXCL;
	a->mode = 0600;
}

/*
 * Issue @a (one thing wrong in it) and expect @want. The refusal must leave
 * no arena behind and must not use up the fd: a valid attach on the same
 * fd works afterwards.
 */
static int expect_attach(struct shmk_attach *a, int want)
{
	struct shmk_attach good;
	int fd = kt_open();

	KT_TRUE(fd >= 0);
	KT_RET(kt_ioctl(fd, SHMK_IOC_ATTACH, a), want);
	base_attach(&good, "good");
	KT_RET(kt_ioctl(fd, SHMK_IOC_ATTACH, &good), 0);
	KT_EQ(good.member_id, 1);
	KT_RET(kt_detach(fd), 0);
	close(fd);
	return KT_PASS;
}

/* The name of @a (if it is a valid name) does not exist. */
static int expect_absent(const char *name)
{
	int fd = kt_open();

	KT_TRUE(fd >= 0);
	KT_RET(kt_attach(fd, name, 4096, 0, 0, NULL), -ENOENT);
	close(fd);
	return KT_PASS;
}

#define ATTACH_EINVAL(fn, tag, setup)					\
	static int fn(void)						\
	{								\
		struct shmk_attach a;					\
		char nm[SHMK_NAME_MAX];					\
									\
		base_attach(&a, tag);					\
		memcpy(nm, a.name, sizeof(nm));				\
		setup;							\
		KT_DO(expect_attach(&a, -EINVAL));			\
		return expect_absent(nm);				\
	}

ATTACH_EINVAL(t_einval_flag4, "f4", a.flags |= 1u << 4)
ATTACH_EINVAL(t_einval_flag31, "f31", a.flags |= 1u << 31)
ATTACH_EINVAL(t_einval_excl, "excl", a.flags = SHMK_ATTACH_EXCL)
ATTACH_EINVAL(t_einval_persist, "pers", a.flags = SHMK_ATTACH_PERSISTENT)
ATTACH_EINVAL(t_einval_persist_ro, "persro",
	      a.flags = SHMK_ATTACH_PERSISTENT | SHMK_ATTACH_RDONLY)
ATTACH_EINVAL(t_einval_mode_sticky, "mode1", a.mode = 01600)
ATTACH_EINVAL(t_einval_mode_high, "mode2", a.mode = 0x10000 | 0600)
ATTACH_EINVAL(t_einval_pad, "pad", a.pad = 1)
ATTACH_EINVAL(t_einval_res, "res", a.reserved = 1ull << 63)
ATTACH_EINVAL(t_einval_maxm, "maxm", a.max_members = 1u << 31)
ATTACH_EINVAL(t_einval_size0, "size0", a.size = 0)

static int t_einval_empty_name(void)
{
	struct shmk_attach a;

	base_attach(&a, "empty");
	memset(a.name, 0, sizeof(a.name));
	KT_DO(expect_attach(&a, -EINVAL));
	/* Empty name without CREATE too. */
	a.flags = 0;
	return expect_attach(&a, -EINVAL);
}

static int t_einval_unterminated(void)
{
	struct shmk_attach a;
	char nm[SHMK_NAME_MAX];

	base_attach(&a, "unterm");
	memset(a.name, 'u', sizeof(a.name));
	KT_DO(expect_attach(&a, -EINVAL));
	/* Its 63-byte prefix must not have been created either. */
	memset(nm, 'u', sizeof(nm));
	nm[SHMK_NAME_MAX - 1] = 0;
	return expect_absent(nm);
}

static int t_einval_slash(void)
{
	struct shmk_attach a;
	const char *bad[] = { "/", "a/b", "/lead", "trail/" };
	size_t i;

	for (i = 0; i < KT_ARRAY_SIZE(bad); i++) {
		base_attach(&a, "slash");
		snprintf(a.name, sizeof(a.name), "%s", bad[i]);
		KT_DO(expect_attach(&a, -EINVAL));
	}
	return KT_PASS;
}

/* A name of exactly SHMK_NAME_MAX - 1 bytes is fine and round-trips. */
static int t_name_max_len(void)
{
	struct kt_member m;
	struct shmk_ctrl hdr;
	char nm[SHMK_NAME_MAX];

	kt_name(nm, "long");
	memset(nm + strlen(nm), 'x', SHMK_NAME_MAX - 1 - strlen(nm));
	nm[SHMK_NAME_MAX - 1] = 0;
	KT_RET(kt_join(&m, nm, 4096, SHMK_ATTACH_CREATE, 0600), 0);
	KT_RET(kt_ctrl_read(m.ctrl, &hdr, 1, NULL), 0);
	KT_TRUE(memcmp(hdr.name, nm, SHMK_NAME_MAX) == 0);
	kt_leave(&m, true);
	return expect_absent(nm);
}

static int t_efbig(void)
{
	struct shmk_attach a;
	struct kt_params p;
	uint64_t sizes[3];
	size_t i;

	KT_RET(kt_params(&p), 0);
	sizes[0] = p.max_arena_size + 1;
	sizes[1] = p.max_arena_size + (uint64_t)kt_page_size();
	sizes[2] = ~0ull;	/* rounding up must not wrap to 0 */
	for (i = 0; i < KT_ARRAY_SIZE(sizes); i++) {
		base_attach(&a, "big");
		a.size = sizes[i];
		KT_DO(expect_attach(&a, -EFBIG));
		KT_DO(expect_absent(a.name));
	}
	return KT_PASS;
}

static int t_enoent(void)
{
	struct shmk_attach a;

	base_attach(&a, "noent");
	a.flags = 0;
	KT_DO(expect_attach(&a, -ENOENT));
	a.flags = SHMK_ATTACH_RDONLY;
	return expect_attach(&a, -ENOENT);
}

static int t_eexist(void)
{
	struct kt_member m;
	struct shmk_attach a;

	base_attach(&a, "exist");
	KT_RET(kt_join(&m, a.name, 4096, SHMK_ATTACH_CREATE, 0600), 0);
	KT_DO(expect_attach(&a, -EEXIST));
	a.flags |= SHMK_ATTACH_PERSISTENT;
	KT_DO(expect_attach(&a, -EEXIST));
	/* The existing arena is unharmed: still one live member. */
	KT_EQ(m.ctrl->members_live, 1);
	kt_leave(&m, true);
	return KT_PASS;
}

static int t_ebusy(void)
{
	char n1[SHMK_NAME_MAX], n2[SHMK_NAME_MAX];
	int fd = kt_open();

	KT_TRUE(fd >= 0);
	kt_name(n1, "busy1");
	kt_name(n2, "busy2");
	KT_RET(kt_attach(fd, n1, 4096, SHMK_ATTACH_CREATE, 0600, NULL), 0);
	KT_RET(kt_attach(fd, n1, 4096, SHMK_ATTACH_CREATE, 0600, NULL),
	       -EBUSY);
	KT_RET(kt_attach(fd, n2, 4096, SHMK_ATTACH_CREATE, 0600, NULL),
	       -EBUSY);
	KT_DO(expect_absent(n2));
	KT_RET(kt_detach(fd), 0);
	/* One membership per file, ever: no re-attach after DETACH. */
	KT_RET(kt_attach(fd, n2, 4096, SHMK_ATTACH_CREATE, 0600, NULL),
	       -EBUSY);
	KT_DO(expect_absent(n2));
	KT_DO(expect_absent(n1));
	close(fd);
	return KT_PASS;
}

static int t_create_outputs(void)
{
	struct shmk_attach a;
	long pg = kt_page_size();
	char nm[SHMK_NAME_MAX];
	int fd = kt_open();

	KT_TRUE(fd >= 0);
	kt_name(nm, "out");
	memset(&a, 0, sizeof(a));
	snprintf(a.name, sizeof(a.name), "%s", nm);
	a.size = 5000;
	a.flags = SHMK_ATTACH_CREATE | SHMK_ATTACH_EXCL;
	a.mode = 0640;
	KT_RET(kt_ioctl(fd, SHMK_IOC_ATTACH, &a), 0);
	KT_EQ(a.member_id, 1);
	KT_TRUE(a.generation != 0);
	KT_EQ(a.out_flags, SHMK_ATTACHED_CREATED);
	KT_TRUE(a.arena_id != 0);
	KT_EQ(a.ctrl_offset, 0);
	KT_TRUE(a.ctrl_size >= sizeof(struct shmk_ctrl));
	KT_EQ(a.ctrl_size % (uint64_t)pg, 0);
	KT_EQ(a.user_offset, a.ctrl_size);
	KT_EQ(a.user_size, 2 * pg);	/* 5000 rounded up to a page */
	KT_EQ(a.pad, 0);
	KT_EQ(a.reserved, 0);
	KT_TRUE(a.max_members >= 2);	/* 0 asked: the module's default */
	KT_EQ(a.size, 5000);		/* inputs are left alone */
	KT_EQ(a.flags, SHMK_ATTACH_CREATE | SHMK_ATTACH_EXCL);
	KT_RET(kt_detach(fd), 0);
	close(fd);
	return KT_PASS;
}

static int t_size_rounding(void)
{
	struct shmk_attach a;
	long pg = kt_page_size();
	char nm[SHMK_NAME_MAX];
	int fd = kt_open();

	KT_TRUE(fd >= 0);
	kt_name(nm, "round");
	KT_RET(kt_attach(fd, nm, 1, SHMK_ATTACH_CREATE, 0600, &a), 0);
	KT_EQ(a.user_size, pg);
	close(fd);
	fd = kt_open();
	KT_TRUE(fd >= 0);
	kt_name(nm, "round");
	KT_RET(kt_attach(fd, nm, 3 * pg, SHMK_ATTACH_CREATE, 0600, &a), 0);
	KT_EQ(a.user_size, 3 * pg);
	close(fd);
	return KT_PASS;
}

/* Joining ignores size and mode; CREATE without EXCL joins an existing one. */
static int t_join_ignores_size_mode(void)
{
	struct shmk_attach a, b, c;
	char nm[SHMK_NAME_MAX];
	long pg = kt_page_size();
	int f1 = kt_open(), f2 = kt_open(), f3 = kt_open();

	KT_TRUE(f1 >= 0 && f2 >= 0 && f3 >= 0);
	kt_name(nm, "join");
	KT_RET(kt_attach(f1, nm, 3 * pg, SHMK_ATTACH_CREATE, 0600, &a), 0);
	KT_RET(kt_attach(f2, nm, 17 * pg, 0, 0, &b), 0);
	KT_EQ(b.user_size, 3 * pg);
	KT_EQ(b.ctrl_size, a.ctrl_size);
	KT_EQ(b.user_offset, a.user_offset);
	KT_EQ(b.arena_id, a.arena_id);
	KT_EQ(b.out_flags, 0);
	KT_EQ(b.member_id, 2);
	KT_RET(kt_attach(f3, nm, 1, SHMK_ATTACH_CREATE, 0777, &c), 0);
	KT_EQ(c.user_size, 3 * pg);
	KT_EQ(c.arena_id, a.arena_id);
	KT_EQ(c.out_flags, 0);
	KT_EQ(c.member_id, 3);
	close(f1);
	close(f2);
	close(f3);
	return expect_absent(nm);
}

/*
 * Member ids: the lowest never-used slot first; the dead records of
 * members that left stay readable meanwhile.
 */
static int t_member_ids(void)
{
	struct shmk_attach at[6];
	char nm[SHMK_NAME_MAX];
	struct kt_member m;
	struct kt_params p;
	int fd[6], i;

	KT_RET(kt_params(&p), 0);
	if (p.max_members < 6)
		return kt_skip("needs 6 member slots, max_members is %u",
			       p.max_members);
	kt_name(nm, "ids");
	for (i = 0; i < 6; i++) {
		fd[i] = kt_open();
		KT_TRUE(fd[i] >= 0);
	}
	for (i = 0; i < 3; i++) {
		KT_RET(kt_attach(fd[i], nm, 4096, SHMK_ATTACH_CREATE, 0600,
				 &at[i]), 0);
		KT_EQ(at[i].member_id, i + 1);
		KT_TRUE(at[i].generation != 0);
	}
	/* Slots 2 and 1 end: the next members take 4 and 5, not them. */
	KT_RET(kt_detach(fd[1]), 0);
	KT_RET(kt_detach(fd[0]), 0);
	KT_RET(kt_attach(fd[3], nm, 0, 0, 0, &at[3]), 0);
	KT_EQ(at[3].member_id, 4);
	KT_RET(kt_attach(fd[4], nm, 0, 0, 0, &at[4]), 0);
	KT_EQ(at[4].member_id, 5);
	KT_RET(kt_join(&m, nm, 0, 0, 0), 0);
	KT_EQ(m.at.member_id, 6);
	KT_EQ(kt_slot(m.ctrl, 1)->state, SHMK_MEMBER_DEAD);
	KT_EQ(kt_slot(m.ctrl, 1)->how, SHMK_END_DETACH);
	KT_EQ(kt_slot(m.ctrl, 1)->generation, at[0].generation);
	KT_EQ(kt_slot(m.ctrl, 2)->state, SHMK_MEMBER_DEAD);
	KT_EQ(kt_slot(m.ctrl, 2)->generation, at[1].generation);
	kt_leave(&m, true);
	for (i = 0; i < 6; i++)
		close(fd[i]);
	return expect_absent(nm);
}

/*
 * A killed member's record stays (how, status) while never-used slots
 * remain; once every slot has been used, the slot that ended longest ago
 * is reused first, with a new generation.
 */
static int crash_member(void *arg)
{
	const char *nm = arg;
	struct shmk_attach a;
	int fd = kt_open();

	if (fd < 0 || kt_attach(fd, nm, 0, 0, 0, &a) < 0)
		return 100;
	if (a.member_id != 2)
		return 101;
	raise(SIGKILL);
	return 102;
}

static int t_member_id_after_crash(void)
{
	struct kt_params p;
	struct shmk_attach a;
	char nm[SHMK_NAME_MAX];
	struct kt_member m;
	uint32_t gen2, i;
	int *fds, r = KT_PASS;

	KT_RET(kt_params(&p), 0);
	fds = calloc(p.max_members, sizeof(int));
	KT_TRUE(fds != NULL);
	kt_name(nm, "crashid");
	KT_RET(kt_join(&m, nm, 4096, SHMK_ATTACH_CREATE, 0600), 0);
	KT_EQ(kt_reap(kt_fork(crash_member, nm)), KT_KILLED(SIGKILL));
	gen2 = kt_slot(m.ctrl, 2)->generation;
	KT_EQ(kt_slot(m.ctrl, 2)->state, SHMK_MEMBER_DEAD);
	/* members 3..max take the never-used slots; 2's record stays */
	for (i = 0; i + 2 < p.max_members && r == KT_PASS; i++) {
		fds[i] = kt_open();
		if (fds[i] < 0 || kt_attach(fds[i], nm, 0, 0, 0, &a) ||
		    a.member_id != i + 3)
			r = KT_FAIL;
	}
	KT_EQ(r, KT_PASS);
	KT_EQ(kt_slot(m.ctrl, 2)->state, SHMK_MEMBER_DEAD);
	KT_EQ(kt_slot(m.ctrl, 2)->how, SHMK_END_SIGNAL);
	KT_EQ(kt_slot(m.ctrl, 2)->status, SIGKILL);
	/* every slot used: now 2 is reused, with a new generation */
	fds[i] = kt_open();
	KT_RET(kt_attach(fds[i], nm, 0, 0, 0, &a), 0);
	KT_EQ(a.member_id, 2);
	KT_TRUE(a.generation > gen2);
	for (; i + 1 > 0; i--)
		close(fds[i]);
	free(fds);
	kt_leave(&m, true);
	return KT_PASS;
}

/* A creator's max_members: that many slots, whatever joiners ask. */
static int t_arena_max_members(void)
{
	struct kt_params p;
	struct shmk_attach a;
	char nm[SHMK_NAME_MAX];
	struct kt_member m;
	int fd[4], i;

	KT_RET(kt_params(&p), 0);
	if (p.max_members < 4)
		return kt_skip("module max_members < 4");
	kt_name(nm, "maxm3");
	for (i = 0; i < 4; i++) {
		fd[i] = kt_open();
		KT_TRUE(fd[i] >= 0);
	}
	memset(&a, 0, sizeof(a));
	snprintf(a.name, sizeof(a.name), "%s", nm);
	a.size = 4096;
	a.flags = SHMK_ATTACH_CREATE;
	a.mode = 0600;
	a.max_members = 3;
	KT_RET(kt_ioctl(fd[0], SHMK_IOC_ATTACH, &a), 0);
	KT_EQ(a.max_members, 3);
	for (i = 1; i < 3; i++) {
		memset(&a, 0, sizeof(a));
		snprintf(a.name, sizeof(a.name), "%s", nm);
		a.max_members = p.max_members;	/* ignored: not creating */
		KT_RET(kt_ioctl(fd[i], SHMK_IOC_ATTACH, &a), 0);
		KT_EQ(a.max_members, 3);
		KT_EQ(a.member_id, (uint32_t)i + 1);
	}
	KT_RET(kt_attach(fd[3], nm, 0, 0, 0, NULL), -ENOSPC);
	/* the control region has that many slots */
	KT_RET(kt_join(&m, nm, 0, 0, 0), -ENOSPC);
	KT_RET(kt_detach(fd[1]), 0);
	KT_RET(kt_join(&m, nm, 0, 0, 0), 0);
	KT_EQ(m.at.member_id, 2);
	KT_EQ(m.ctrl->member_max, 3);
	kt_leave(&m, true);
	for (i = 0; i < 4; i++)
		close(fd[i]);
	return expect_absent(nm);
}

static int t_detach_errors(void)
{
	char nm[SHMK_NAME_MAX];
	int fd = kt_open(), err;
	void *p;

	KT_TRUE(fd >= 0);
	KT_RET(kt_detach(fd), -ENOTCONN);
	kt_name(nm, "det");
	KT_RET(kt_attach(fd, nm, 4096, SHMK_ATTACH_CREATE, 0600, NULL), 0);
	KT_RET(kt_ioctl(fd, SHMK_IOC_DETACH, (void *)1), -EINVAL);
	KT_RET(kt_ioctl(fd, SHMK_IOC_DETACH, (void *)-1L), -EINVAL);
	/* Still attached after the refused detach. */
	KT_RET(kt_wake(fd, 0, 1), 0);
	KT_RET(kt_detach(fd), 0);
	KT_RET(kt_detach(fd), -ENOTCONN);
	KT_RET(kt_wait(fd, 0, 0, 0, 1000), -ENOTCONN);
	KT_RET(kt_wake(fd, 0, 1), -ENOTCONN);
	KT_RET(kt_set_robust(fd, 0), -ENOTCONN);
	p = kt_mmap(fd, 4096, PROT_READ, MAP_SHARED, 0, &err);
	KT_TRUE(p == NULL);
	KT_RET(err, -ENOTCONN);
	close(fd);
	return expect_absent(nm);
}

/* Membership ioctls on a never-attached file. */
static int t_not_attached(void)
{
	int fd = kt_open(), err;
	void *p;

	KT_TRUE(fd >= 0);
	KT_RET(kt_wait(fd, 0, 0, 0, 1000), -ENOTCONN);
	KT_RET(kt_wake(fd, 0, 1), -ENOTCONN);
	KT_RET(kt_set_robust(fd, 0), -ENOTCONN);
	p = kt_mmap(fd, 4096, PROT_READ, MAP_SHARED, 0, &err);
	KT_TRUE(p == NULL);
	KT_RET(err, -ENOTCONN);
	close(fd);
	return KT_PASS;
}

struct inh {
	int fd;
	uint64_t user_offset;
};

static int inherited_child(void *arg)
{
	struct inh *in = arg;
	struct shmk_version v;
	int err;
	void *p;

	KT_RET(kt_detach(in->fd), -EPERM);
	KT_RET(kt_wait(in->fd, 0, 0, 0, 1000), -EPERM);
	KT_RET(kt_wake(in->fd, 0, 1), -EPERM);
	KT_RET(kt_set_robust(in->fd, SHMK_ROBUST_NONE), -EPERM);
	p = kt_mmap(in->fd, 4096, PROT_READ, MAP_SHARED, 0, &err);
	KT_TRUE(p == NULL);
	KT_RET(err, -EPERM);
	p = kt_mmap(in->fd, 4096, PROT_READ | PROT_WRITE, MAP_SHARED,
		    in->user_offset, &err);
	KT_TRUE(p == NULL);
	KT_RET(err, -EPERM);
	/* VERSION and REMOVE are not membership operations. */
	KT_RET(kt_version(in->fd, &v), 0);
	KT_RET(kt_remove(in->fd, "kt-no-such-arena"), -ENOENT);
	return KT_PASS;
}

static int t_inherited_fd(void)
{
	struct kt_member m;
	char nm[SHMK_NAME_MAX];
	struct inh in;
	uint64_t epoch;

	kt_name(nm, "inh");
	KT_RET(kt_join(&m, nm, 4096, SHMK_ATTACH_CREATE, 0600), 0);
	epoch = m.ctrl->epoch;
	in.fd = m.fd;
	in.user_offset = m.at.user_offset;
	KT_EQ(kt_reap(kt_fork(inherited_child, &in)), KT_PASS);
	/* The parent's membership is intact: the child changed nothing. */
	KT_EQ(m.ctrl->epoch, epoch);
	KT_EQ(m.ctrl->members_live, 1);
	KT_EQ(kt_slot(m.ctrl, 1)->state, SHMK_MEMBER_LIVE);
	KT_RET(kt_wake(m.fd, 0, 1), 0);
	KT_RET(kt_detach(m.fd), 0);
	kt_leave(&m, false);
	return expect_absent(nm);
}

/* Arena lifetime: gone with the last member, stats and listing agree. */
static int t_lifetime(void)
{
	struct kt_stats s0, s1, s2;
	struct kt_member a, b;
	char nm[SHMK_NAME_MAX];
	bool stats = kt_stats(&s0) == 0;

	kt_name(nm, "life");
	KT_RET(kt_join(&a, nm, 8 * 4096, SHMK_ATTACH_CREATE, 0600), 0);
	KT_RET(kt_join(&b, nm, 0, 0, 0), 0);
	b.user[0] = 1;
	b.user[8 * 4096 - 1] = 2;
	if (stats) {
		KT_RET(kt_stats(&s1), 0);
		KT_EQ(s1.arenas, s0.arenas + 1);
		KT_EQ(s1.members, s0.members + 2);
		KT_TRUE(s1.pages > s0.pages);
		KT_EQ(kt_arena_listed(nm), 1);
	}
	kt_leave(&a, true);		/* clean */
	if (stats)
		KT_EQ(kt_arena_listed(nm), 1);
	kt_leave(&b, false);		/* close without detach */
	KT_DO(expect_absent(nm));
	if (stats) {
		KT_RET(kt_stats(&s2), 0);
		KT_EQ(s2.arenas, s0.arenas);
		KT_EQ(s2.members, s0.members);
		KT_EQ(s2.pages, s0.pages);
		KT_EQ(kt_arena_listed(nm), 0);
	}
	/* The name can be created afresh, with a new arena id. */
	KT_RET(kt_join(&b, nm, 4096, SHMK_ATTACH_CREATE | SHMK_ATTACH_EXCL,
		       0600), 0);
	KT_TRUE(b.at.arena_id != a.at.arena_id);
	KT_EQ(b.user[0], 0);		/* fresh memory is zeroed */
	kt_leave(&b, true);
	if (!stats)
		return kt_skip("no debugfs stats; only ENOENT was checked");
	return KT_PASS;
}

static int lone_member(void *arg)
{
	struct kt_pipe *p = arg;
	struct kt_member m;
	char nm[SHMK_NAME_MAX];

	if (kt_await(p->r, nm, sizeof(nm), KT_TIMEOUT_MS) < 0)
		return 100;
	if (kt_join(&m, nm, 4096, SHMK_ATTACH_CREATE, 0600) < 0)
		return 101;
	m.user[100] = 7;
	kt_post(p->w, NULL, 0);
	for (;;)
		pause();
}

static int t_lifetime_killed(void)
{
	struct kt_pipe to, from, pp;
	char nm[SHMK_NAME_MAX];
	pid_t pid;

	KT_RET(kt_pipe_open(&to), 0);
	KT_RET(kt_pipe_open(&from), 0);
	pp.r = to.r;
	pp.w = from.w;
	pid = kt_fork(lone_member, &pp);
	kt_name(nm, "lifek");
	KT_RET(kt_post(to.w, nm, sizeof(nm)), 0);
	KT_RET(kt_await(from.r, NULL, 0, KT_TIMEOUT_MS), 0);
	kill(pid, SIGKILL);
	KT_EQ(kt_reap(pid), KT_KILLED(SIGKILL));
	return expect_absent(nm);
}

static int t_persistent(void)
{
	struct kt_stats s0, s1;
	struct kt_member m;
	char nm[SHMK_NAME_MAX];
	bool stats = kt_stats(&s0) == 0;
	uint32_t id;
	int fd;

	kt_name(nm, "pers");
	KT_RET(kt_join(&m, nm, 4096, SHMK_ATTACH_CREATE |
		       SHMK_ATTACH_PERSISTENT, 0600), 0);
	KT_TRUE(m.ctrl->flags & SHMK_ARENA_F_PERSISTENT);
	KT_TRUE(!(m.ctrl->flags & SHMK_ARENA_F_REMOVED));
	*kt_word(&m, 64) = 0xdeadbeef;
	id = m.at.arena_id;
	kt_leave(&m, true);
	if (stats) {
		KT_RET(kt_stats(&s1), 0);
		KT_EQ(s1.arenas, s0.arenas + 1);
		KT_EQ(s1.members, s0.members);
		KT_EQ(kt_arena_listed(nm), 1);
	}
	/* Zero members, still there with its memory. */
	KT_RET(kt_join(&m, nm, 0, 0, 0), 0);
	KT_EQ(m.at.arena_id, id);
	KT_EQ(m.at.out_flags, 0);
	KT_EQ(*kt_word(&m, 64), 0xdeadbeef);
	KT_EQ(m.ctrl->members_live, 1);
	kt_leave(&m, false);	/* a crash does not remove it either */
	KT_RET(kt_join(&m, nm, 0, 0, 0), 0);
	KT_EQ(m.at.arena_id, id);
	kt_leave(&m, true);

	fd = kt_open();
	KT_TRUE(fd >= 0);
	KT_RET(kt_remove(fd, nm), 0);
	KT_RET(kt_remove(fd, nm), -ENOENT);
	close(fd);
	KT_DO(expect_absent(nm));
	if (stats) {
		KT_RET(kt_stats(&s1), 0);
		KT_EQ(s1.arenas, s0.arenas);
		KT_EQ(s1.pages, s0.pages);
		KT_EQ(kt_arena_listed(nm), 0);
	}
	return KT_PASS;
}

static int t_remove_while_attached(void)
{
	struct kt_stats s0, s1;
	struct kt_member m, n;
	char nm[SHMK_NAME_MAX];
	bool stats = kt_stats(&s0) == 0;
	uint64_t epoch;
	int fd;

	kt_name(nm, "rmatt");
	KT_RET(kt_join(&m, nm, 4096, SHMK_ATTACH_CREATE |
		       SHMK_ATTACH_PERSISTENT, 0600), 0);
	epoch = m.ctrl->epoch;
	fd = kt_open();
	KT_TRUE(fd >= 0);
	/* REMOVE works on an unattached file. */
	KT_RET(kt_remove(fd, nm), 0);
	close(fd);
	KT_TRUE(m.ctrl->flags & SHMK_ARENA_F_REMOVED);
	KT_EQ(m.ctrl->epoch & 1, 0);
	KT_TRUE(m.ctrl->epoch >= epoch);
	/* The name is gone at once; the memory lives on for the member. */
	KT_DO(expect_absent(nm));
	*kt_word(&m, 0) = 42;
	KT_EQ(*kt_word(&m, 0), 42);
	KT_RET(kt_wake(m.fd, 0, 1), 0);
	/* A new arena may take the name. */
	KT_RET(kt_join(&n, nm, 4096, SHMK_ATTACH_CREATE | SHMK_ATTACH_EXCL,
		       0600), 0);
	KT_TRUE(n.at.arena_id != m.at.arena_id);
	KT_EQ(*kt_word(&n, 0), 0);
	if (stats) {
		KT_RET(kt_stats(&s1), 0);
		KT_EQ(s1.arenas, s0.arenas + 2);
	}
	kt_leave(&n, true);
	kt_leave(&m, true);
	KT_DO(expect_absent(nm));
	if (stats) {
		KT_RET(kt_stats(&s1), 0);
		KT_EQ(s1.arenas, s0.arenas);
		KT_EQ(s1.pages, s0.pages);
	}
	return KT_PASS;
}

static int remove_raw(int fd, void (*setup)(struct shmk_remove *),
		      const char *name)
{
	struct shmk_remove rm;

	memset(&rm, 0, sizeof(rm));
	snprintf(rm.name, sizeof(rm.name), "%s", name);
	setup(&rm);
	return (int)kt_ioctl(fd, SHMK_IOC_REMOVE, &rm);
}

static void rm_flags(struct shmk_remove *r) { r->flags = 1; }
static void rm_flags31(struct shmk_remove *r) { r->flags = 1u << 31; }
static void rm_pad(struct shmk_remove *r) { r->pad = 1; }
static void rm_reserved(struct shmk_remove *r) { r->reserved = 1; }
static void rm_empty(struct shmk_remove *r) { memset(r->name, 0, 64); }
static void rm_unterm(struct shmk_remove *r) { memset(r->name, 'r', 64); }
static void rm_slash(struct shmk_remove *r) { strcpy(r->name, "a/b"); }

static int t_remove_errors(void)
{
	void (*bad[])(struct shmk_remove *) = {
		rm_flags, rm_flags31, rm_pad, rm_reserved, rm_empty,
		rm_unterm, rm_slash,
	};
	struct kt_member m;
	char nm[SHMK_NAME_MAX], missing[SHMK_NAME_MAX], plain[SHMK_NAME_MAX];
	size_t i;

	kt_name(nm, "rmerr");
	kt_name(missing, "rmmiss");
	kt_name(plain, "rmplain");
	KT_RET(kt_join(&m, nm, 4096, SHMK_ATTACH_CREATE |
		       SHMK_ATTACH_PERSISTENT, 0600), 0);
	for (i = 0; i < KT_ARRAY_SIZE(bad); i++) {
		int r = remove_raw(m.fd, bad[i], nm);

		if (r != -EINVAL)
			kt_diag("bad remove #%zu", i);
		KT_RET(r, -EINVAL);
	}
	/* None of those removed it. */
	KT_TRUE(!(m.ctrl->flags & SHMK_ARENA_F_REMOVED));
	KT_RET(kt_remove(m.fd, missing), -ENOENT);
	kt_leave(&m, true);

	/* Not persistent -> EINVAL, and it stays. */
	KT_RET(kt_join(&m, plain, 4096, SHMK_ATTACH_CREATE, 0600), 0);
	KT_RET(kt_remove(m.fd, plain), -EINVAL);
	KT_TRUE(!(m.ctrl->flags & SHMK_ARENA_F_REMOVED));
	{
		struct kt_member n;

		KT_RET(kt_join(&n, plain, 0, 0, 0), 0);
		kt_leave(&n, true);
	}
	kt_leave(&m, true);

	KT_RET(kt_join(&m, nm, 0, 0, 0), 0);	/* still there */
	KT_RET(kt_remove(m.fd, nm), 0);
	kt_leave(&m, true);
	return expect_absent(nm);
}

static int t_max_members(void)
{
	struct kt_params p;
	struct rlimit rl;
	char nm[SHMK_NAME_MAX];
	struct shmk_attach a;
	uint32_t i;
	int *fds, extra, r;

	KT_RET(kt_params(&p), 0);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur < p.max_members + 64) {
		rl.rlim_cur = rl.rlim_max = p.max_members + 64;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			return kt_skip("cannot raise RLIMIT_NOFILE");
	}
	fds = calloc(p.max_members, sizeof(int));
	KT_TRUE(fds != NULL);
	kt_name(nm, "maxm");
	for (i = 0; i < p.max_members; i++) {
		fds[i] = kt_open();
		KT_TRUE(fds[i] >= 0);
		r = kt_attach(fds[i], nm, 4096, SHMK_ATTACH_CREATE, 0600, &a);
		if (r)
			kt_diag("attach #%u", i + 1);
		KT_RET(r, 0);
		KT_EQ(a.member_id, i + 1);
	}
	extra = kt_open();
	KT_TRUE(extra >= 0);
	KT_RET(kt_attach(extra, nm, 0, 0, 0, NULL), -ENOSPC);
	KT_RET(kt_attach(extra, nm, 0, SHMK_ATTACH_RDONLY, 0, NULL), -ENOSPC);
	/* Free one slot: the same fd can now attach, into that slot. */
	KT_RET(kt_detach(fds[p.max_members / 2]), 0);
	KT_RET(kt_attach(extra, nm, 0, 0, 0, &a), 0);
	KT_EQ(a.member_id, p.max_members / 2 + 1);
	/* Two end, 2 before 1: the one that ended first is reused first. */
	KT_RET(kt_detach(fds[1]), 0);
	KT_RET(kt_detach(fds[0]), 0);
	close(fds[0]);
	close(fds[1]);
	fds[0] = kt_open();
	fds[1] = kt_open();
	KT_TRUE(fds[0] >= 0 && fds[1] >= 0);
	KT_RET(kt_attach(fds[1], nm, 0, 0, 0, &a), 0);
	KT_EQ(a.member_id, 2);
	KT_RET(kt_attach(fds[0], nm, 0, 0, 0, &a), 0);
	KT_EQ(a.member_id, 1);
	close(extra);
	for (i = 0; i < p.max_members; i++)
		close(fds[i]);
	free(fds);
	return expect_absent(nm);
}

static int t_max_arenas(void)
{
	struct kt_params p;
	struct kt_stats st;
	struct rlimit rl;
	char nm[SHMK_NAME_MAX], first[SHMK_NAME_MAX];
	long have = 0;
	uint32_t i, n;
	int *fds, extra, join;

	KT_RET(kt_params(&p), 0);
	if (kt_stats(&st) == 0)
		have = st.arenas;
	KT_TRUE(have >= 0 && (uint32_t)have < p.max_arenas);
	n = p.max_arenas - (uint32_t)have;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < n + 64) {
		rl.rlim_cur = rl.rlim_max = n + 64;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			return kt_skip("cannot raise RLIMIT_NOFILE");
	}
	fds = calloc(n, sizeof(int));
	KT_TRUE(fds != NULL);
	for (i = 0; i < n; i++) {
		kt_name(nm, "maxa");
		if (i == 0)
			memcpy(first, nm, sizeof(nm));
		fds[i] = kt_open();
		KT_TRUE(fds[i] >= 0);
		KT_RET(kt_attach(fds[i], nm, 4096, SHMK_ATTACH_CREATE, 0600,
				 NULL), 0);
	}
	extra = kt_open();
	KT_TRUE(extra >= 0);
	kt_name(nm, "maxa");
	KT_RET(kt_attach(extra, nm, 4096, SHMK_ATTACH_CREATE, 0600, NULL),
	       -ENOSPC);
	KT_RET(kt_attach(extra, nm, 4096, SHMK_ATTACH_CREATE |
			 SHMK_ATTACH_PERSISTENT, 0600, NULL), -ENOSPC);
	/* Joining an existing arena is not creating one. */
	join = kt_open();
	KT_TRUE(join >= 0);
	KT_RET(kt_attach(join, first, 4096, SHMK_ATTACH_CREATE, 0600, NULL),
	       0);
	close(join);
	/* Free one: creating works again. */
	close(fds[n - 1]);
	KT_RET(kt_attach(extra, nm, 4096, SHMK_ATTACH_CREATE, 0600, NULL), 0);
	close(extra);
	for (i = 0; i + 1 < n; i++)
		close(fds[i]);
	free(fds);
	return expect_absent(nm);
}

static int t_max_arena_size(void)
{
	struct kt_params p;
	struct kt_member a, b;
	char nm[SHMK_NAME_MAX];
	long pg = kt_page_size();
	uint64_t last;

	KT_RET(kt_params(&p), 0);
	kt_name(nm, "maxsz");
	KT_RET(kt_join(&a, nm, p.max_arena_size, SHMK_ATTACH_CREATE, 0600),
	       0);
	KT_EQ(a.at.user_size, (p.max_arena_size + pg - 1) / pg * pg);
	KT_RET(kt_join(&b, nm, 0, 0, 0), 0);
	last = a.at.user_size - 4;
	*kt_word(&a, 0) = 0x11111111;
	*kt_word(&a, last) = 0x22222222;
	*kt_word(&a, a.at.user_size / 2) = 0x33333333;
	KT_EQ(*kt_word(&b, 0), 0x11111111);
	KT_EQ(*kt_word(&b, last), 0x22222222);
	KT_EQ(*kt_word(&b, a.at.user_size / 2), 0x33333333);
	/* WAIT/WAKE reach the last word of the largest arena. */
	KT_RET(kt_wait(b.fd, last, 0, 0, 0), -EAGAIN);
	KT_RET(kt_wake(b.fd, last, 1), 0);
	kt_leave(&b, true);
	kt_leave(&a, true);
	return expect_absent(nm);
}

static const struct kt_case cases[] = {
	{ "attach: unknown flag bit 4 -> EINVAL", t_einval_flag4 },
	{ "attach: unknown flag bit 31 -> EINVAL", t_einval_flag31 },
	{ "attach: EXCL without CREATE -> EINVAL", t_einval_excl },
	{ "attach: PERSISTENT without CREATE -> EINVAL", t_einval_persist },
	{ "attach: PERSISTENT|RDONLY without CREATE -> EINVAL",
	  t_einval_persist_ro },
	{ "attach: mode with sticky bit -> EINVAL", t_einval_mode_sticky },
	{ "attach: mode above 0777 -> EINVAL", t_einval_mode_high },
	{ "attach: pad nonzero -> EINVAL", t_einval_pad },
	{ "attach: reserved nonzero -> EINVAL", t_einval_res },
	{ "attach: max_members over the module's -> EINVAL", t_einval_maxm },
	{ "attach: max_members sizes the arena; joiners' is ignored",
	  t_arena_max_members },
	{ "attach: create with size 0 -> EINVAL", t_einval_size0 },
	{ "attach: empty name -> EINVAL", t_einval_empty_name },
	{ "attach: name not NUL-terminated -> EINVAL", t_einval_unterminated },
	{ "attach: name with '/' -> EINVAL", t_einval_slash },
	{ "attach: 63-byte name works and round-trips", t_name_max_len },
	{ "attach: size above max_arena_size -> EFBIG", t_efbig },
	{ "attach: missing arena without CREATE -> ENOENT", t_enoent },
	{ "attach: CREATE|EXCL of an existing arena -> EEXIST", t_eexist },
	{ "attach: second attach on a file -> EBUSY, also after DETACH",
	  t_ebusy },
	{ "attach: create outputs (ids, offsets, sizes, flags)",
	  t_create_outputs },
	{ "attach: size rounded up to a page", t_size_rounding },
	{ "attach: join ignores size/mode; CREATE joins existing",
	  t_join_ignores_size_mode },
	{ "attach: never-used slots first, dead records stay", t_member_ids },
	{ "attach: a killed member's record stays; its slot is reused last",
	  t_member_id_after_crash },
	{ "detach: arg != 0 -> EINVAL; ENOTCONN after", t_detach_errors },
	{ "never attached: membership ioctls/mmap -> ENOTCONN",
	  t_not_attached },
	{ "inherited fd in a child: EPERM; VERSION/REMOVE work",
	  t_inherited_fd },
	{ "lifetime: arena gone after last member, stats restored",
	  t_lifetime },
	{ "lifetime: arena gone after its only member is killed",
	  t_lifetime_killed },
	{ "persistent: survives zero members, REMOVE frees it",
	  t_persistent },
	{ "persistent: REMOVE while attached unlinks the name at once",
	  t_remove_while_attached },
	{ "remove: errors (flags/pad/reserved/name/missing/not persistent)",
	  t_remove_errors },
	{ "limits: max_members enforced (-ENOSPC), slot reusable",
	  t_max_members },
	{ "limits: max_arenas enforced (-ENOSPC), joining still works",
	  t_max_arenas },
	{ "limits: an arena of max_arena_size works", t_max_arena_size },
};

int main(int argc, char **argv)
{
	return kt_main(argc, argv, cases, KT_ARRAY_SIZE(cases));
}
