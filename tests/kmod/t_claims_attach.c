// SPDX-License-Identifier: GPL-2.0
/*
 * t_claims_attach: claims of Documentation/abi/{attach,version,index}.rst
 * that no other program checks (see CLAIMS.md):
 *
 * - an ATTACH whose result cannot be written fails with -EFAULT and has
 *   no effect at all, creating or joining: no arena, member, pages, event;
 *   the file is still unattached and a retry works;
 * - what joining still validates (mode, max_members: the code's rule);
 * - ATTACH on a file another process attached: -EPERM;
 * - every documented feature bit; ioctl numbers with another direction;
 * - a creator killed while its pages are allocated leaves nothing.
 */
#include "kt.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

/* index.rst "Numbering": magic 0xB7, nr, direction, argument. */
_Static_assert(SHMK_IOC_MAGIC == 0xB7, "ioctl magic");
_Static_assert(SHMK_IOC_VERSION ==
	       _IOC(_IOC_READ | _IOC_WRITE, 0xB7, 0x00, 80), "VERSION");
_Static_assert(SHMK_IOC_ATTACH ==
	       _IOC(_IOC_READ | _IOC_WRITE, 0xB7, 0x01, 144), "ATTACH");
_Static_assert(SHMK_IOC_DETACH == _IOC(_IOC_NONE, 0xB7, 0x02, 0), "DETACH");
_Static_assert(SHMK_IOC_WAIT == _IOC(_IOC_WRITE, 0xB7, 0x03, 40), "WAIT");
_Static_assert(SHMK_IOC_WAKE == _IOC(_IOC_WRITE, 0xB7, 0x04, 24), "WAKE");
_Static_assert(SHMK_IOC_SET_ROBUST == _IOC(_IOC_WRITE, 0xB7, 0x05, 24),
	       "SET_ROBUST");
_Static_assert(SHMK_IOC_REMOVE == _IOC(_IOC_WRITE, 0xB7, 0x06, 80),
	       "REMOVE");

/* "shmk-state:" of @fd's fdinfo, into @state. */
static int fdinfo_state(int fd, char *state, size_t len)
{
	char path[64], buf[2048], *p, *e;
	ssize_t n;
	int f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return -errno;
	n = read(f, buf, sizeof(buf) - 1);
	close(f);
	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	p = strstr(buf, "shmk-state:");
	if (!p)
		return -ENOENT;
	p += strlen("shmk-state:");
	p += strspn(p, " \t");
	e = p + strcspn(p, "\n");
	snprintf(state, len, "%.*s", (int)(e - p), p);
	return 0;
}

/*
 * ATTACH with the argument in a page that is read-only by the time of the
 * call: it reads fine, the result cannot be written.
 */
static int attach_ro(int fd, const struct shmk_attach *tmpl)
{
	long pg = kt_page_size();
	void *p = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int r;

	if (p == MAP_FAILED)
		return -errno;
	memcpy(p, tmpl, sizeof(*tmpl));
	if (mprotect(p, (size_t)pg, PROT_READ) < 0) {
		r = -errno;
	} else {
		r = (int)kt_ioctl(fd, SHMK_IOC_ATTACH, p);
		/* Nothing was written into it either. */
		if (memcmp(p, tmpl, sizeof(*tmpl)))
			r = -EPROTO;
	}
	munmap(p, (size_t)pg);
	return r;
}

static void attach_req(struct shmk_attach *a, const char *name, uint32_t flags)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->name, sizeof(a->name), "%s", name);
	a->size = 4 * 4096;
	a->flags = flags;
	a->mode = 0600;
}

static bool stats_same(const struct kt_stats *a, const struct kt_stats *b)
{
	return a->arenas == b->arenas && a->members == b->members &&
	       a->pages == b->pages;
}

static int t_efault_create(void)
{
	struct shmk_attach a, b;
	struct kt_stats s0, s1;
	char nm[SHMK_NAME_MAX], state[32];
	bool stats = kt_stats(&s0) == 0;
	int fd = kt_open(), other;

	KT_TRUE(fd >= 0);
	kt_name(nm, "efc");
	attach_req(&a, nm, SHMK_ATTACH_CREATE | SHMK_ATTACH_EXCL);
	KT_RET(attach_ro(fd, &a), -EFAULT);
	if (stats) {
		KT_RET(kt_stats(&s1), 0);
		if (!stats_same(&s0, &s1))
			kt_diag("stats before arenas %ld members %ld pages %ld, after %ld %ld %ld",
				s0.arenas, s0.members, s0.pages, s1.arenas,
				s1.members, s1.pages);
		KT_TRUE(stats_same(&s0, &s1));
		KT_EQ(kt_arena_listed(nm), 0);
	}
	KT_RET(fdinfo_state(fd, state, sizeof(state)), 0);
	if (strcmp(state, "none"))
		kt_diag("fdinfo shmk-state after the EFAULT: %s", state);
	KT_EQ(strcmp(state, "none"), 0);
	/* The name does not exist. */
	other = kt_open();
	KT_TRUE(other >= 0);
	KT_RET(kt_attach(other, nm, 0, 0, 0, NULL), -ENOENT);
	close(other);
	/* The same file attaches afterwards, and creates the arena. */
	b = a;
	KT_RET(kt_ioctl(fd, SHMK_IOC_ATTACH, &b), 0);
	KT_EQ(b.out_flags, SHMK_ATTACHED_CREATED);
	KT_EQ(b.member_id, 1);
	KT_RET(kt_detach(fd), 0);
	close(fd);
	return KT_PASS;
}

static int t_efault_join(void)
{
	struct kt_member e;
	struct shmk_attach a, b;
	struct shmk_event ev;
	struct kt_stats s0, s1;
	char nm[SHMK_NAME_MAX], state[32];
	uint64_t epoch;
	bool stats;
	int fd;

	kt_name(nm, "efj");
	KT_RET(kt_join(&e, nm, 4 * 4096, SHMK_ATTACH_CREATE, 0600), 0);
	stats = kt_stats(&s0) == 0;
	epoch = e.ctrl->epoch;
	fd = kt_open();
	KT_TRUE(fd >= 0);
	attach_req(&a, nm, 0);
	KT_RET(attach_ro(fd, &a), -EFAULT);
	if (e.ctrl->members_live != 1)
		kt_diag("members_live %u after the failed join",
			e.ctrl->members_live);
	KT_EQ(e.ctrl->members_live, 1);
	KT_EQ(e.ctrl->epoch, epoch);
	KT_EQ(kt_slot(e.ctrl, 2)->state, SHMK_MEMBER_FREE);
	if (stats) {
		KT_RET(kt_stats(&s1), 0);
		KT_TRUE(stats_same(&s0, &s1));
	}
	KT_RET(fdinfo_state(fd, state, sizeof(state)), 0);
	KT_EQ(strcmp(state, "none"), 0);
	KT_RET(kt_read_event(e.fd, &ev, true), -EAGAIN);
	/* The retry joins; its detach is the only event the creator sees. */
	b = a;
	KT_RET(kt_ioctl(fd, SHMK_IOC_ATTACH, &b), 0);
	KT_EQ(b.out_flags, 0);
	KT_EQ(b.member_id, 2);
	KT_RET(kt_detach(fd), 0);
	close(fd);
	KT_EQ(kt_poll_in(e.fd, KT_TIMEOUT_MS), 1);
	KT_RET(kt_read_event(e.fd, &ev, true), sizeof(ev));
	KT_EQ(ev.member_id, 2);
	KT_EQ(ev.generation, b.generation);
	KT_EQ(ev.how, SHMK_END_DETACH);
	KT_RET(kt_read_event(e.fd, &ev, true), -EAGAIN);
	kt_leave(&e, true);
	return KT_PASS;
}

/* A failed join whose file is then closed: still no event. */
static int t_efault_join_close(void)
{
	struct kt_member e;
	struct shmk_attach a;
	struct shmk_event ev;
	char nm[SHMK_NAME_MAX];
	int fd;

	kt_name(nm, "efjc");
	KT_RET(kt_join(&e, nm, 4 * 4096, SHMK_ATTACH_CREATE, 0600), 0);
	fd = kt_open();
	KT_TRUE(fd >= 0);
	attach_req(&a, nm, SHMK_ATTACH_RDONLY);
	KT_RET(attach_ro(fd, &a), -EFAULT);
	close(fd);
	/* A later member's detach is the next event: none came before it. */
	fd = kt_open();
	KT_TRUE(fd >= 0);
	KT_RET(kt_attach(fd, nm, 0, 0, 0, &a), 0);
	KT_RET(kt_detach(fd), 0);
	close(fd);
	KT_EQ(kt_poll_in(e.fd, KT_TIMEOUT_MS), 1);
	KT_RET(kt_read_event(e.fd, &ev, true), sizeof(ev));
	if (ev.member_id != a.member_id)
		kt_diag("first event: member %u how %u (the failed join?)",
			ev.member_id, ev.how);
	KT_EQ(ev.member_id, a.member_id);
	KT_EQ(ev.how, SHMK_END_DETACH);
	KT_RET(kt_read_event(e.fd, &ev, true), -EAGAIN);
	kt_leave(&e, true);
	return KT_PASS;
}

/*
 * Joining checks mode like creating does (beyond 0777: EINVAL), though the
 * value is not used. attach.rst says "Ignored when joining"; the code's
 * rule is the one tested here (the docs are being changed).
 */
static int t_join_mode_validated(void)
{
	struct kt_member e;
	struct shmk_attach a;
	char nm[SHMK_NAME_MAX];
	int fd = kt_open();

	KT_TRUE(fd >= 0);
	kt_name(nm, "jmode");
	KT_RET(kt_join(&e, nm, 4096, SHMK_ATTACH_CREATE, 0640), 0);
	attach_req(&a, nm, 0);
	a.mode = 01000;
	KT_RET(kt_ioctl(fd, SHMK_IOC_ATTACH, &a), -EINVAL);
	a.mode = 0xffffffffu;
	KT_RET(kt_ioctl(fd, SHMK_IOC_ATTACH, &a), -EINVAL);
	KT_EQ(e.ctrl->members_live, 1);
	/* Within 0777 it is ignored: the arena keeps its mode. */
	attach_req(&a, nm, 0);
	a.mode = 0777;
	KT_RET(kt_ioctl(fd, SHMK_IOC_ATTACH, &a), 0);
	KT_EQ(e.ctrl->mode, 0640);
	KT_RET(kt_detach(fd), 0);
	close(fd);
	kt_leave(&e, true);
	return KT_PASS;
}

/* Likewise max_members: above the module's is EINVAL even when joining. */
static int t_join_max_members_validated(void)
{
	struct kt_member e;
	struct kt_params p;
	struct shmk_attach a;
	char nm[SHMK_NAME_MAX];
	int fd = kt_open();

	KT_TRUE(fd >= 0);
	KT_RET(kt_params(&p), 0);
	kt_name(nm, "jmaxm");
	KT_RET(kt_join(&e, nm, 4096, SHMK_ATTACH_CREATE, 0600), 0);
	attach_req(&a, nm, 0);
	a.max_members = p.max_members + 1;
	KT_RET(kt_ioctl(fd, SHMK_IOC_ATTACH, &a), -EINVAL);
	a.max_members = 0xffffffffu;
	KT_RET(kt_ioctl(fd, SHMK_IOC_ATTACH, &a), -EINVAL);
	KT_EQ(e.ctrl->members_live, 1);
	/* Up to the module's: ignored, the arena's count is reported. */
	attach_req(&a, nm, 0);
	a.max_members = 1;
	KT_RET(kt_ioctl(fd, SHMK_IOC_ATTACH, &a), 0);
	KT_EQ(a.max_members, e.at.max_members);
	KT_EQ(a.member_id, 2);
	KT_RET(kt_detach(fd), 0);
	close(fd);
	kt_leave(&e, true);
	return KT_PASS;
}

/* ATTACH on a file attached by another process (inherited): EPERM. */
struct inh {
	char name[SHMK_NAME_MAX];
	int fd;
};

static int attach_inherited(void *arg)
{
	struct inh *in = arg;
	char other[SHMK_NAME_MAX];
	int fd;

	kt_name(other, "aperm2");
	KT_RET(kt_attach(in->fd, in->name, 0, 0, 0, NULL), -EPERM);
	KT_RET(kt_attach(in->fd, other, 4096, SHMK_ATTACH_CREATE, 0600, NULL),
	       -EPERM);
	KT_RET(kt_attach(in->fd, in->name, 0, SHMK_ATTACH_RDONLY, 0, NULL),
	       -EPERM);
	/* Nothing was created. */
	fd = kt_open();
	KT_TRUE(fd >= 0);
	KT_RET(kt_attach(fd, other, 0, 0, 0, NULL), -ENOENT);
	close(fd);
	return KT_PASS;
}

static int t_attach_eperm(void)
{
	struct kt_member m;
	struct inh in;

	kt_name(in.name, "aperm");
	KT_RET(kt_join(&m, in.name, 4096, SHMK_ATTACH_CREATE, 0600), 0);
	in.fd = m.fd;
	KT_EQ(kt_reap(kt_fork(attach_inherited, &in)), KT_PASS);
	/* Nothing was created or joined. */
	KT_EQ(m.ctrl->members_live, 1);
	KT_EQ(kt_slot(m.ctrl, 2)->state, SHMK_MEMBER_FREE);
	kt_leave(&m, true);
	return KT_PASS;
}

/* version.rst "features": every documented bit is advertised. */
static int t_version_all_features(void)
{
	const uint64_t all = SHMK_FEATURE_WAIT_ABSTIME | SHMK_FEATURE_ROBUST |
			     SHMK_FEATURE_PERSISTENT | SHMK_FEATURE_RDONLY |
			     SHMK_FEATURE_EVENTS | SHMK_FEATURE_FDINFO |
			     SHMK_FEATURE_MAX_MEMBERS;
	struct shmk_version v;
	int fd = kt_open();

	KT_TRUE(fd >= 0);
	KT_RET(kt_version(fd, &v), 0);
	close(fd);
	if ((v.features & all) != all)
		kt_diag("features 0x%llx lack 0x%llx",
			(unsigned long long)v.features,
			(unsigned long long)(all & ~v.features));
	KT_EQ(v.features & all, all);
	return KT_PASS;
}

/* version.rst -EFAULT: "The argument cannot be read or written." */
static int t_version_efault_write(void)
{
	struct shmk_version v;
	long pg = kt_page_size();
	void *p = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int fd = kt_open();

	KT_TRUE(fd >= 0 && p != MAP_FAILED);
	memset(&v, 0, sizeof(v));
	v.abi_version = SHMK_ABI_VERSION;
	memcpy(p, &v, sizeof(v));
	KT_EQ(mprotect(p, (size_t)pg, PROT_READ), 0);
	KT_RET(kt_ioctl(fd, SHMK_IOC_VERSION, p), -EFAULT);
	munmap(p, (size_t)pg);
	close(fd);
	return KT_PASS;
}

/* index.rst: a known number with another direction is -ENOTTY. */
static int t_wrong_direction(void)
{
	unsigned long bad[] = {
		_IOR(SHMK_IOC_MAGIC, 0x00, struct shmk_version),
		_IOW(SHMK_IOC_MAGIC, 0x00, struct shmk_version),
		_IOR(SHMK_IOC_MAGIC, 0x01, struct shmk_attach),
		_IOW(SHMK_IOC_MAGIC, 0x01, struct shmk_attach),
		_IOWR(SHMK_IOC_MAGIC, 0x03, struct shmk_wait),
		_IOR(SHMK_IOC_MAGIC, 0x03, struct shmk_wait),
		_IOWR(SHMK_IOC_MAGIC, 0x04, struct shmk_wake),
		_IOWR(SHMK_IOC_MAGIC, 0x05, struct shmk_robust),
		_IOWR(SHMK_IOC_MAGIC, 0x06, struct shmk_remove),
		_IO(SHMK_IOC_MAGIC, 0x00),
		_IO(SHMK_IOC_MAGIC, 0x03),
	};
	char nm[SHMK_NAME_MAX], buf[512];
	size_t i;
	int fd = kt_open();

	KT_TRUE(fd >= 0);
	kt_name(nm, "dir");
	KT_RET(kt_attach(fd, nm, 4096, SHMK_ATTACH_CREATE, 0600, NULL), 0);
	for (i = 0; i < KT_ARRAY_SIZE(bad); i++) {
		memset(buf, 0, sizeof(buf));
		if (kt_ioctl(fd, bad[i], buf) != -ENOTTY)
			kt_diag("cmd 0x%lx", bad[i]);
		KT_RET(kt_ioctl(fd, bad[i], buf), -ENOTTY);
	}
	KT_RET(kt_wake(fd, 0, 1), 0);
	KT_RET(kt_detach(fd), 0);
	close(fd);
	return KT_PASS;
}

/*
 * attach.rst -EINTR: "A fatal signal arrived while the pages were being
 * allocated." The caller dies, so the errno itself is never seen; what
 * can be checked is that such a kill leaves no arena and no page. The
 * victim creates the largest arena allowed and is killed as soon as its
 * pages are being allocated.
 */
/* @pid is asleep in syscall @want (for ioctl: with command @cmd). */
static bool in_syscall(pid_t pid, unsigned long want, unsigned int cmd)
{
	char path[64], buf[256], *end;
	unsigned long nr, a1;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	nr = strtoul(buf, &end, 10);
	if (end == buf || nr != want)
		return false;
	if (want != SYS_ioctl)
		return true;
	strtoul(end, &end, 16);
	a1 = strtoul(end, &end, 16);
	return (unsigned int)a1 == cmd;
}

struct bigc {
	char name[SHMK_NAME_MAX];
	uint64_t size;
	int go;		/* write end */
};

static int big_creator(void *arg)
{
	struct bigc *b = arg;
	int fd = kt_open();

	if (fd < 0)
		return 100;
	kt_post(b->go, NULL, 0);
	kt_attach(fd, b->name, b->size, SHMK_ATTACH_CREATE, 0600, NULL);
	for (;;)
		pause();
}

static int t_killed_while_creating(void)
{
	struct kt_params p;
	struct kt_stats s0, s1;
	struct kt_pipe go;
	struct bigc b;
	uint64_t deadline;
	bool caught = false;
	pid_t pid;
	int fd;

	KT_RET(kt_params(&p), 0);
	if (kt_stats(&s0) < 0)
		return kt_skip("no debugfs stats to see what is left");
	KT_RET(kt_pipe_open(&go), 0);
	kt_name(b.name, "eintr");
	b.size = p.max_arena_size;
	b.go = go.w;
	pid = kt_fork(big_creator, &b);
	KT_RET(kt_await(go.r, NULL, 0, KT_TIMEOUT_MS), 0);
	deadline = kt_now_ns() + KT_TIMEOUT_MS * 1000000ull;
	/*
	 * Inside: some of its pages are counted, not all of them yet (a
	 * running task shows no syscall in /proc, the counter does).
	 */
	while (!caught && kt_now_ns() < deadline) {
		caught = kt_stats(&s1) == 0 && s1.pages > s0.pages &&
			 (uint64_t)(s1.pages - s0.pages) <
			 b.size / (uint64_t)kt_page_size();
		if (!caught && in_syscall(pid, SYS_pause, 0))
			break;
	}
	kill(pid, SIGKILL);
	KT_EQ(kt_reap(pid), KT_KILLED(SIGKILL));
	kt_diag("killed %s the ATTACH of %llu bytes",
		caught ? "inside" : "after", (unsigned long long)b.size);
	/* Whether the ATTACH was cut short or done: nothing is left. */
	deadline = kt_now_ns() + 3000000000ull;
	while (kt_stats(&s1) == 0 && !stats_same(&s0, &s1) &&
	       kt_now_ns() < deadline)
		kt_pause();
	KT_TRUE(stats_same(&s0, &s1));
	fd = kt_open();
	KT_TRUE(fd >= 0);
	KT_RET(kt_attach(fd, b.name, 0, 0, 0, NULL), -ENOENT);
	close(fd);
	return KT_PASS;
}

static const struct kt_case cases[] = {
	{ "attach: create, result unwritable -> EFAULT, no arena/member/pages, fd unattached; retry creates",
	  t_efault_create },
	{ "attach: join, result unwritable -> EFAULT, members_live/epoch unchanged, no event; retry joins",
	  t_efault_join },
	{ "attach: join, result unwritable, file closed -> still no event",
	  t_efault_join_close },
	{ "attach: joining validates mode (> 0777 EINVAL), else ignores it",
	  t_join_mode_validated },
	{ "attach: joining validates max_members (> module's EINVAL), else ignores it",
	  t_join_max_members_validated },
	{ "attach: on a file another process attached -> EPERM",
	  t_attach_eperm },
	{ "version: every documented feature bit is advertised",
	  t_version_all_features },
	{ "version: result unwritable -> EFAULT", t_version_efault_write },
	{ "ioctl: known numbers with another direction -> ENOTTY",
	  t_wrong_direction },
	{ "attach: creator killed while its pages are allocated leaves nothing",
	  t_killed_while_creating },
};

int main(int argc, char **argv)
{
	return kt_main(argc, argv, cases, KT_ARRAY_SIZE(cases));
}
