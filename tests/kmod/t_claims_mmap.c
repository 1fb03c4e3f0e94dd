// SPDX-License-Identifier: GPL-2.0
/*
 * t_claims_mmap: claims of Documentation/abi/{mmap,detach,attach}.rst about
 * mappings that no other program checks (see CLAIMS.md):
 *
 * - "a forked child does not inherit them", even after madvise
 *   (MADV_DOFORK) cleared VM_DONTCOPY: a copied mapping must not reach the
 *   arena, its first access dies by SIGBUS (the module's fault handler;
 *   madvise itself succeeds);
 * - mappings cannot be grown with mremap;
 * - a mapping keeps the memory alive after the membership ended, until it
 *   is unmapped; and the memory lives until the last file of the arena is
 *   closed too.
 */
#include "kt.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

struct touch {
	volatile uint32_t *p;
	bool write;
	int go;		/* read end, or -1: touch at once */
};

/* Reads (exit code: the low bits of the value) or writes the word. */
static int touch_main(void *arg)
{
	struct touch *t = arg;

	if (t->go >= 0 && kt_await(t->go, NULL, 0, 20000) < 0)
		return 120;
	if (t->write) {
		*t->p = 0x5a5a5a5a;
		return 121;
	}
	return (int)(*t->p & 0x7f);
}

static int touch_in_child(volatile void *p, bool write)
{
	struct touch t = { .p = p, .write = write, .go = -1 };

	return kt_reap(kt_fork(touch_main, &t));
}

/* No arena of that name. */
static int absent(const char *name)
{
	int fd = kt_open();

	KT_TRUE(fd >= 0);
	KT_RET(kt_attach(fd, name, 0, 0, 0, NULL), -ENOENT);
	close(fd);
	return KT_PASS;
}

static bool stats_same(const struct kt_stats *a, const struct kt_stats *b)
{
	return a->arenas == b->arenas && a->members == b->members &&
	       a->pages == b->pages;
}

/*
 * MADV_DOFORK on both regions, then fork: every first access of the
 * child, read or write, of either region dies; the parent's mappings and
 * the arena are untouched.
 */
static int t_dofork(void)
{
	struct kt_member m, peer;
	struct kt_stats s0, s1;
	char nm[SHMK_NAME_MAX];
	bool stats;
	int r;

	kt_name(nm, "dofork");
	KT_RET(kt_join(&m, nm, 4 * 4096, SHMK_ATTACH_CREATE, 0600), 0);
	KT_RET(kt_join(&peer, nm, 0, 0, 0), 0);
	stats = kt_stats(&s0) == 0;
	KT_EQ(madvise((void *)m.user, m.at.user_size, MADV_DOFORK), 0);
	KT_EQ(madvise((void *)m.ctrl, m.at.ctrl_size, MADV_DOFORK), 0);
	*kt_word(&m, 0) = 3;
	*kt_word(&m, 4) = 0;

	r = touch_in_child(kt_word(&m, 0), false);
	if (r != KT_KILLED(SIGBUS))
		kt_diag("child read of the user region: %s %d",
			r >= 1000 ? "killed by signal" : "exit", r % 1000);
	KT_EQ(r, KT_KILLED(SIGBUS));
	KT_EQ(touch_in_child(kt_word(&m, 4), true), KT_KILLED(SIGBUS));
	KT_EQ(*kt_word(&peer, 4), 0);	/* the write did not land */
	KT_EQ(touch_in_child((volatile void *)&m.ctrl->magic, false), KT_KILLED(SIGBUS));
	/*
	 * A write to the control mapping faults before the module is asked:
	 * the mapping is read-only (SIGSEGV, SEGV_ACCERR).
	 */
	KT_EQ(touch_in_child((volatile void *)&m.ctrl->magic, true), KT_KILLED(SIGSEGV));
	KT_EQ(m.ctrl->magic, SHMK_CTRL_MAGIC);

	/* The parent's mappings still are the arena. */
	KT_EQ(*kt_word(&m, 0), 3);
	*kt_word(&m, 8) = 0x600d;
	KT_EQ(*kt_word(&peer, 8), 0x600d);
	*kt_word(&peer, 12) = 0xbeef;
	KT_EQ(*kt_word(&m, 12), 0xbeef);
	KT_EQ(m.ctrl->members_live, 2);
	if (stats) {
		KT_RET(kt_stats(&s1), 0);
		KT_TRUE(stats_same(&s0, &s1));
	}
	kt_leave(&peer, true);
	kt_leave(&m, true);
	return KT_PASS;
}

/*
 * A child with copied mappings outlives the member: it still cannot use
 * them, and when it exits the arena is gone (stats back to before).
 */
struct orphan {
	char name[SHMK_NAME_MAX];
	int rep;	/* write end: the child's pid */
	int go;		/* read end, for the child */
};

static int dofork_parent(void *arg)
{
	struct orphan *o = arg;
	struct kt_member m;
	struct touch t;
	pid_t c;

	if (kt_join(&m, o->name, 4096, SHMK_ATTACH_CREATE, 0600) < 0)
		return 100;
	*kt_word(&m, 0) = 5;
	if (madvise((void *)m.user, m.at.user_size, MADV_DOFORK) < 0)
		return 101;
	t.p = kt_word(&m, 0);
	t.write = false;
	t.go = o->go;
	c = kt_fork(touch_main, &t);
	kt_post(o->rep, &c, sizeof(c));
	_exit(0);	/* a crash: no detach */
}

static int t_dofork_orphan(void)
{
	struct kt_stats s0, s1;
	struct kt_pipe rep, go;
	struct orphan o;
	uint64_t deadline;
	pid_t c;
	int r;

	if (kt_stats(&s0) < 0)
		return kt_skip("no debugfs stats");
	kt_name(o.name, "orphan");
	KT_RET(kt_pipe_open(&rep), 0);
	KT_RET(kt_pipe_open(&go), 0);
	o.rep = rep.w;
	o.go = go.r;
	KT_EQ(kt_reap(kt_fork(dofork_parent, &o)), 0);
	KT_RET(kt_await(rep.r, &c, sizeof(c), KT_TIMEOUT_MS), 0);
	/* The member is gone, the name too; the child's copy remains. */
	KT_DO(absent(o.name));
	KT_RET(kt_post(go.w, NULL, 0), 0);
	r = kt_reap(c);
	if (r != KT_KILLED(SIGBUS))
		kt_diag("orphan child read: %s %d",
			r >= 1000 ? "killed by signal" : "exit", r % 1000);
	KT_EQ(r, KT_KILLED(SIGBUS));
	deadline = kt_now_ns() + 3000000000ull;
	while (kt_stats(&s1) == 0 && !stats_same(&s0, &s1) &&
	       kt_now_ns() < deadline)
		kt_pause();
	KT_TRUE(stats_same(&s0, &s1));
	return KT_PASS;
}

/* mmap.rst: the mappings "cannot be grown with mremap". */
static int t_mremap_grow(void)
{
	struct kt_member m;
	char nm[SHMK_NAME_MAX];
	long pg = kt_page_size();
	void *p;

	kt_name(nm, "mremap");
	KT_RET(kt_join(&m, nm, 4 * pg, SHMK_ATTACH_CREATE, 0600), 0);
	/* Only the first page of the user region mapped: room to grow. */
	munmap((void *)(m.user + pg), 3 * (size_t)pg);
	p = mremap((void *)m.user, (size_t)pg, 2 * (size_t)pg, 0);
	KT_TRUE(p == MAP_FAILED);
	p = mremap((void *)m.user, (size_t)pg, 4 * (size_t)pg, MREMAP_MAYMOVE);
	KT_TRUE(p == MAP_FAILED);
	p = mremap((void *)m.ctrl, m.at.ctrl_size, m.at.ctrl_size + pg,
		   MREMAP_MAYMOVE);
	KT_TRUE(p == MAP_FAILED);
	/* Unchanged and working. */
	*kt_word(&m, 0) = 9;
	KT_EQ(*kt_word(&m, 0), 9);
	KT_EQ(m.ctrl->magic, SHMK_CTRL_MAGIC);
	m.at.user_size = (uint64_t)pg;	/* what kt_leave unmaps */
	kt_leave(&m, true);
	return KT_PASS;
}

/*
 * mmap.rst: "A mapping keeps the memory alive after the membership ends,
 * until it is unmapped." The member detaches and closes its file; its
 * mappings still share the arena with a live member; the arena goes with
 * the last of them.
 */
static int t_mapping_outlives_membership(void)
{
	struct kt_member a, b;
	struct kt_stats s0, s1;
	char nm[SHMK_NAME_MAX];
	volatile uint32_t *w;
	bool stats;

	kt_name(nm, "maplive");
	stats = kt_stats(&s0) == 0;
	KT_RET(kt_join(&a, nm, 4 * 4096, SHMK_ATTACH_CREATE, 0600), 0);
	KT_RET(kt_join(&b, nm, 0, 0, 0), 0);
	KT_RET(kt_detach(a.fd), 0);
	close(a.fd);
	a.fd = -1;
	KT_EQ(kt_slot(b.ctrl, 1)->state, SHMK_MEMBER_DEAD);
	/* Both ways, through the ended member's mapping. */
	w = kt_word(&a, 64);
	*w = 0x1234;
	KT_EQ(*kt_word(&b, 64), 0x1234);
	*kt_word(&b, 68) = 0x4321;
	KT_EQ(*kt_word(&a, 68), 0x4321);
	KT_EQ(a.ctrl->members_live, 1);	/* its control mapping too */
	/* b leaves too: no member, the name is gone, the memory is not. */
	kt_leave(&b, true);
	KT_DO(absent(nm));
	if (stats) {
		KT_RET(kt_stats(&s1), 0);
		KT_EQ(s1.arenas, s0.arenas + 1);
		KT_EQ(s1.members, s0.members);
		KT_TRUE(s1.pages > s0.pages);
	}
	KT_EQ(*w, 0x1234);
	*w = 0x5678;
	KT_EQ(*w, 0x5678);
	KT_EQ(a.ctrl->members_live, 0);
	kt_leave(&a, false);	/* unmaps: now it goes */
	if (stats) {
		KT_RET(kt_stats(&s1), 0);
		KT_TRUE(stats_same(&s0, &s1));
	}
	return stats ? KT_PASS : kt_skip("no debugfs stats");
}

/*
 * detach.rst: the memory lives until the last member has ended, the last
 * mapping is gone "and the last file of the arena is closed": a detached,
 * unmapped member's open file still holds it.
 */
static int t_file_keeps_arena(void)
{
	struct kt_member a;
	struct kt_stats s0, s1;
	char nm[SHMK_NAME_MAX];
	int fd;

	if (kt_stats(&s0) < 0)
		return kt_skip("no debugfs stats");
	kt_name(nm, "filelive");
	KT_RET(kt_join(&a, nm, 4 * 4096, SHMK_ATTACH_CREATE, 0600), 0);
	fd = a.fd;
	a.fd = -1;
	kt_leave(&a, false);	/* unmap only */
	KT_RET(kt_detach(fd), 0);
	KT_RET(kt_stats(&s1), 0);
	KT_EQ(s1.members, s0.members);
	KT_EQ(s1.arenas, s0.arenas + 1);
	KT_TRUE(s1.pages > s0.pages);
	close(fd);
	KT_RET(kt_stats(&s1), 0);
	KT_TRUE(stats_same(&s0, &s1));
	return KT_PASS;
}

static const struct kt_case cases[] = {
	{ "mmap: MADV_DOFORK then fork: child's first read/write dies (SIGBUS), parent unaffected",
	  t_dofork },
	{ "mmap: MADV_DOFORK child outlives the member: still SIGBUS, arena freed after it",
	  t_dofork_orphan },
	{ "mmap: mremap cannot grow a mapping of either region",
	  t_mremap_grow },
	{ "mmap: a mapping keeps the memory alive after the membership ended, until unmapped",
	  t_mapping_outlives_membership },
	{ "detach: the memory lives until the last file of the arena is closed",
	  t_file_keeps_arena },
};

int main(int argc, char **argv)
{
	return kt_main(argc, argv, cases, KT_ARRAY_SIZE(cases));
}
