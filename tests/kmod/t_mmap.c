// SPDX-License-Identifier: GPL-2.0
/*
 * t_mmap: mapping rules of the control and user regions, the control
 * region's contents (header, member slots, epoch seqcount), and mappings
 * across fork.
 */
#include "kt.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

static int t_ctrl_header(void)
{
	struct kt_member m;
	struct kt_params p;
	struct shmk_ctrl h;
	struct shmk_ctrl_member s;
	char nm[SHMK_NAME_MAX];
	uint64_t t0 = kt_now_ns();

	KT_RET(kt_params(&p), 0);
	kt_name(nm, "hdr");
	KT_RET(kt_join(&m, nm, 3 * 4096, SHMK_ATTACH_CREATE, 0640), 0);
	KT_RET(kt_ctrl_read(m.ctrl, &h, m.at.member_id, &s), 0);
	KT_EQ(h.magic, SHMK_CTRL_MAGIC);
	KT_EQ(h.abi_version, SHMK_ABI_VERSION);
	KT_EQ(h.epoch % 2, 0);
	KT_EQ(h.ctrl_size, m.at.ctrl_size);
	KT_EQ(h.user_size, m.at.user_size);
	KT_TRUE(h.members_offset >= sizeof(struct shmk_ctrl));
	KT_EQ(h.members_offset % 8, 0);
	KT_TRUE(h.member_stride >= sizeof(struct shmk_ctrl_member));
	KT_EQ(h.member_stride % 8, 0);
	KT_EQ(h.member_max, p.max_members);
	KT_TRUE((uint64_t)h.members_offset +
		(uint64_t)h.member_max * h.member_stride <= h.ctrl_size);
	KT_EQ(h.members_live, 1);
	KT_EQ(h.arena_id, m.at.arena_id);
	KT_EQ(h.flags, 0);
	KT_EQ(h.uid, getuid());
	KT_EQ(h.gid, getgid());
	KT_EQ(h.mode, 0640);
	KT_TRUE(h.created_ns >= t0 && h.created_ns <= kt_now_ns());
	KT_EQ(strncmp(h.name, nm, SHMK_NAME_MAX), 0);
	KT_EQ(h.reserved[0] | h.reserved[7], 0);

	KT_EQ(s.state, SHMK_MEMBER_LIVE);
	KT_EQ(s.generation, m.at.generation);
	KT_EQ(s.pid, getpid());
	KT_EQ(s.uid, getuid());
	KT_EQ(s.flags, 0);
	KT_TRUE(s.attach_ns >= t0 && s.attach_ns <= kt_now_ns());
	/* Slot 2 was never used. */
	KT_EQ(kt_slot(m.ctrl, 2)->state, SHMK_MEMBER_FREE);
	KT_EQ(kt_slot(m.ctrl, h.member_max)->state, SHMK_MEMBER_FREE);
	kt_leave(&m, true);
	return KT_PASS;
}

static int t_ctrl_persistent_flag(void)
{
	struct kt_member m;
	char nm[SHMK_NAME_MAX];

	kt_name(nm, "pflag");
	KT_RET(kt_join(&m, nm, 4096, SHMK_ATTACH_CREATE |
		       SHMK_ATTACH_PERSISTENT, 0600), 0);
	KT_EQ(m.ctrl->flags, SHMK_ARENA_F_PERSISTENT);
	KT_RET(kt_remove(m.fd, nm), 0);
	KT_EQ(m.ctrl->flags, SHMK_ARENA_F_PERSISTENT | SHMK_ARENA_F_REMOVED);
	kt_leave(&m, true);
	return KT_PASS;
}

/* Epoch: even, +2 per membership change; slots track join and leave. */
static int t_ctrl_epoch_and_slots(void)
{
	struct kt_member a, b, r;
	struct shmk_ctrl h;
	struct shmk_ctrl_member s;
	char nm[SHMK_NAME_MAX];
	uint64_t e0;

	kt_name(nm, "epoch");
	KT_RET(kt_join(&a, nm, 4096, SHMK_ATTACH_CREATE, 0600), 0);
	KT_RET(kt_ctrl_read(a.ctrl, &h, 1, NULL), 0);
	e0 = h.epoch;

	KT_RET(kt_join(&b, nm, 0, 0, 0), 0);
	KT_RET(kt_ctrl_read(a.ctrl, &h, 2, &s), 0);
	KT_EQ(h.epoch, e0 + 2);
	KT_EQ(h.members_live, 2);
	KT_EQ(s.state, SHMK_MEMBER_LIVE);
	KT_EQ(s.generation, b.at.generation);
	KT_EQ(s.pid, getpid());

	KT_RET(kt_join(&r, nm, 0, SHMK_ATTACH_RDONLY, 0), 0);
	KT_RET(kt_ctrl_read(a.ctrl, &h, 3, &s), 0);
	KT_EQ(h.epoch, e0 + 4);
	KT_EQ(h.members_live, 3);
	KT_EQ(s.flags, SHMK_MEMBER_F_RDONLY);

	KT_RET(kt_detach(b.fd), 0);
	KT_RET(kt_ctrl_read(a.ctrl, &h, 2, &s), 0);
	KT_EQ(h.epoch, e0 + 6);
	KT_EQ(h.members_live, 2);
	KT_EQ(s.state, SHMK_MEMBER_DEAD);
	KT_EQ(s.how, SHMK_END_DETACH);
	KT_EQ(s.generation, b.at.generation);
	KT_TRUE(s.end_ns >= s.attach_ns && s.end_ns <= kt_now_ns());
	kt_leave(&b, false);

	kt_leave(&r, false);	/* close without detach */
	KT_RET(kt_ctrl_read(a.ctrl, &h, 3, &s), 0);
	KT_EQ(h.epoch, e0 + 8);
	KT_EQ(h.members_live, 1);
	KT_EQ(s.state, SHMK_MEMBER_DEAD);
	KT_EQ(s.how, SHMK_END_CLOSE);

	/* Rejoining takes never-used slot 4; 2 keeps its record. */
	KT_RET(kt_join(&b, nm, 0, 0, 0), 0);
	KT_EQ(b.at.member_id, 4);
	KT_RET(kt_ctrl_read(a.ctrl, &h, 4, &s), 0);
	KT_EQ(h.epoch, e0 + 10);
	KT_EQ(s.state, SHMK_MEMBER_LIVE);
	KT_EQ(s.generation, b.at.generation);
	KT_RET(kt_ctrl_read(a.ctrl, &h, 2, &s), 0);
	KT_EQ(s.state, SHMK_MEMBER_DEAD);
	KT_EQ(s.how, SHMK_END_DETACH);
	kt_leave(&b, true);
	kt_leave(&a, true);
	return KT_PASS;
}

struct ender {
	const char *name;
	int how;	/* 0 exit(5), 1 wait to be killed */
	int ready;	/* pipe write end */
};

static int ender_child(void *arg)
{
	struct ender *e = arg;
	struct kt_member m;

	if (kt_join(&m, e->name, 0, 0, 0) < 0)
		return 100;
	kt_post(e->ready, &m.at.member_id, sizeof(m.at.member_id));
	if (e->how == 0)
		_exit(5);
	for (;;)
		pause();
}

/* The slot of a process that ended without DETACH shows how it ended. */
static int t_ctrl_dead_how(void)
{
	struct kt_member a;
	struct shmk_ctrl h;
	struct shmk_ctrl_member s;
	struct kt_pipe p;
	struct ender e;
	char nm[SHMK_NAME_MAX];
	uint32_t id;
	pid_t pid;

	kt_name(nm, "how");
	KT_RET(kt_pipe_open(&p), 0);
	KT_RET(kt_join(&a, nm, 4096, SHMK_ATTACH_CREATE, 0600), 0);
	e.name = nm;
	e.ready = p.w;

	e.how = 0;
	pid = kt_fork(ender_child, &e);
	KT_RET(kt_await(p.r, &id, sizeof(id), KT_TIMEOUT_MS), 0);
	KT_EQ(kt_reap(pid), 5);
	KT_RET(kt_ctrl_read(a.ctrl, &h, id, &s), 0);
	KT_EQ(s.state, SHMK_MEMBER_DEAD);
	KT_EQ(s.how, SHMK_END_EXIT);
	KT_EQ(s.status, 5);
	KT_EQ(s.pid, pid);

	e.how = 1;
	pid = kt_fork(ender_child, &e);
	KT_RET(kt_await(p.r, &id, sizeof(id), KT_TIMEOUT_MS), 0);
	kill(pid, SIGKILL);
	KT_EQ(kt_reap(pid), KT_KILLED(SIGKILL));
	KT_RET(kt_ctrl_read(a.ctrl, &h, id, &s), 0);
	KT_EQ(s.state, SHMK_MEMBER_DEAD);
	KT_EQ(s.how, SHMK_END_SIGNAL);
	KT_EQ(s.status, SIGKILL);
	KT_EQ(h.members_live, 1);
	kt_leave(&a, true);
	return KT_PASS;
}

/*
 * The epoch seqcount gives consistent snapshots while members come and go
 * in another process: in every snapshot taken with an even, unchanged
 * epoch, members_live equals the number of LIVE slots, and the epoch never
 * goes backwards.
 */
struct churn {
	char name[SHMK_NAME_MAX];
	int done;	/* write end */
};

static int churner(void *arg)
{
	struct churn *c = arg;
	struct kt_member m[3];
	int i, j;

	for (i = 0; i < 100; i++) {
		for (j = 0; j < 3; j++)
			KT_RET(kt_join(&m[j], c->name, 0, 0, 0), 0);
		for (j = 0; j < 3; j++)
			kt_leave(&m[j], j != 1);
	}
	kt_post(c->done, NULL, 0);
	return KT_PASS;
}

static int t_ctrl_seqcount(void)
{
	static unsigned char snap[1 << 16];
	struct kt_member m;
	struct kt_pipe p;
	struct churn c;
	const volatile unsigned char *src;
	const struct shmk_ctrl *h = (const struct shmk_ctrl *)snap;
	uint64_t e0, e1, e2, last = 0, good = 0, odd = 0;
	uint32_t i, live;
	size_t len;
	pid_t pid;

	kt_name(c.name, "seq");
	KT_RET(kt_join(&m, c.name, 4096, SHMK_ATTACH_CREATE, 0600), 0);
	len = m.at.ctrl_size < sizeof(snap) ? m.at.ctrl_size : sizeof(snap);
	src = (const volatile unsigned char *)m.ctrl;
	e0 = m.ctrl->epoch;
	KT_RET(kt_pipe_open(&p), 0);
	c.done = p.w;
	pid = kt_fork(churner, &c);
	while (kt_poll_in(p.r, 0) == 0) {
		e1 = __atomic_load_n(&m.ctrl->epoch, __ATOMIC_ACQUIRE);
		if (e1 & 1) {
			odd++;
			continue;
		}
		memcpy(snap, (const void *)src, len);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		e2 = __atomic_load_n(&m.ctrl->epoch, __ATOMIC_RELAXED);
		if (e1 != e2)
			continue;
		KT_TRUE(e1 >= last);
		last = e1;
		live = 0;
		for (i = 0; i < h->member_max; i++) {
			const struct shmk_ctrl_member *s =
				(const void *)(snap + h->members_offset +
					       (size_t)i * h->member_stride);

			live += s->state == SHMK_MEMBER_LIVE;
		}
		if (live != h->members_live)
			kt_diag("epoch %llu: members_live %u, %u LIVE slots",
				(unsigned long long)e1, h->members_live, live);
		KT_EQ(live, h->members_live);
		good++;
	}
	KT_EQ(kt_reap(pid), KT_PASS);
	kt_diag("%llu consistent snapshots, %llu odd epochs seen",
		(unsigned long long)good, (unsigned long long)odd);
	KT_TRUE(good > 0);
	/* 300 joins + 300 ends: +2 each. */
	KT_EQ(m.ctrl->epoch, e0 + 2 * 600);
	KT_EQ(m.ctrl->members_live, 1);
	kt_leave(&m, true);
	return KT_PASS;
}

static int t_map_private(void)
{
	struct kt_member m;
	char nm[SHMK_NAME_MAX];
	int err;
	void *p;

	kt_name(nm, "priv");
	KT_RET(kt_join(&m, nm, 4096, SHMK_ATTACH_CREATE, 0600), 0);
	p = kt_mmap(m.fd, m.at.user_size, PROT_READ | PROT_WRITE, MAP_PRIVATE,
		    m.at.user_offset, &err);
	KT_TRUE(p == NULL);
	KT_RET(err, -EINVAL);
	p = kt_mmap(m.fd, m.at.user_size, PROT_READ, MAP_PRIVATE,
		    m.at.user_offset, &err);
	KT_TRUE(p == NULL);
	KT_RET(err, -EINVAL);
	p = kt_mmap(m.fd, m.at.ctrl_size, PROT_READ, MAP_PRIVATE,
		    m.at.ctrl_offset, &err);
	KT_TRUE(p == NULL);
	KT_RET(err, -EINVAL);
	kt_leave(&m, true);
	return KT_PASS;
}

static int t_map_ranges(void)
{
	struct kt_member m;
	char nm[SHMK_NAME_MAX];
	long pg = kt_page_size();
	int err;
	void *p;

	kt_name(nm, "range");
	KT_RET(kt_join(&m, nm, 4 * pg, SHMK_ATTACH_CREATE, 0600), 0);
	/* Control into user region. */
	p = kt_mmap(m.fd, m.at.ctrl_size + pg, PROT_READ, MAP_SHARED, 0, &err);
	KT_TRUE(p == NULL);
	KT_RET(err, -EINVAL);
	/* Last control page into the user region. */
	p = kt_mmap(m.fd, 2 * pg, PROT_READ, MAP_SHARED,
		    m.at.ctrl_size - pg, &err);
	KT_TRUE(p == NULL);
	KT_RET(err, -EINVAL);
	/* User region beyond its end. */
	p = kt_mmap(m.fd, m.at.user_size + pg, PROT_READ | PROT_WRITE,
		    MAP_SHARED, m.at.user_offset, &err);
	KT_TRUE(p == NULL);
	KT_RET(err, -EINVAL);
	p = kt_mmap(m.fd, 2 * pg, PROT_READ | PROT_WRITE, MAP_SHARED,
		    m.at.user_offset + m.at.user_size - pg, &err);
	KT_TRUE(p == NULL);
	KT_RET(err, -EINVAL);
	/* Entirely past the end. */
	p = kt_mmap(m.fd, pg, PROT_READ, MAP_SHARED,
		    m.at.user_offset + m.at.user_size, &err);
	KT_TRUE(p == NULL);
	KT_RET(err, -EINVAL);
	p = kt_mmap(m.fd, pg, PROT_READ, MAP_SHARED,
		    m.at.user_offset + 1024 * m.at.user_size, &err);
	KT_TRUE(p == NULL);
	KT_RET(err, -EINVAL);
	kt_leave(&m, true);
	return KT_PASS;
}

/* A page inside the user region maps on its own and aliases the rest. */
static int t_map_subrange(void)
{
	struct kt_member m;
	char nm[SHMK_NAME_MAX];
	long pg = kt_page_size();
	volatile uint32_t *w;
	int err;

	kt_name(nm, "sub");
	KT_RET(kt_join(&m, nm, 4 * pg, SHMK_ATTACH_CREATE, 0600), 0);
	w = kt_mmap(m.fd, pg, PROT_READ | PROT_WRITE, MAP_SHARED,
		    m.at.user_offset + 2 * pg, &err);
	KT_RET(err, 0);
	*kt_word(&m, 2 * pg + 8) = 0xabcdef01;
	KT_EQ(w[2], 0xabcdef01);
	w[3] = 0x10fedcba;
	KT_EQ(*kt_word(&m, 2 * pg + 12), 0x10fedcba);
	munmap((void *)w, pg);
	kt_leave(&m, true);
	return KT_PASS;
}

static int t_ctrl_readonly(void)
{
	struct kt_member m;
	char nm[SHMK_NAME_MAX];
	int err;
	void *p;

	kt_name(nm, "ctrlro");
	KT_RET(kt_join(&m, nm, 4096, SHMK_ATTACH_CREATE, 0600), 0);
	p = kt_mmap(m.fd, m.at.ctrl_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		    0, &err);
	KT_TRUE(p == NULL);
	KT_RET(err, -EPERM);
	p = kt_mmap(m.fd, m.at.ctrl_size, PROT_WRITE, MAP_SHARED, 0, &err);
	KT_TRUE(p == NULL);
	KT_RET(err, -EPERM);
	/* The read-only mapping can never become writable. */
	KT_EQ(mprotect((void *)m.ctrl, m.at.ctrl_size, PROT_READ | PROT_WRITE),
	      -1);
	KT_EQ(errno, EACCES);
	KT_EQ(m.ctrl->magic, SHMK_CTRL_MAGIC);
	kt_leave(&m, true);
	return KT_PASS;
}

/* Writing through the control mapping faults (in a child member). */
static int ctrl_writer(void *arg)
{
	const char *nm = arg;
	struct kt_member c;

	if (kt_join(&c, nm, 0, 0, 0) < 0)
		return 100;
	*(volatile uint32_t *)&c.ctrl->magic = 0;
	return 101;
}

static int t_ctrl_write_faults(void)
{
	struct kt_member m;
	char nm[SHMK_NAME_MAX];

	kt_name(nm, "ctrlw");
	KT_RET(kt_join(&m, nm, 4096, SHMK_ATTACH_CREATE, 0600), 0);
	KT_EQ(kt_reap(kt_fork(ctrl_writer, nm)), KT_KILLED(SIGSEGV));
	KT_EQ(m.ctrl->magic, SHMK_CTRL_MAGIC);
	kt_leave(&m, true);
	return KT_PASS;
}

static int t_rdonly_member(void)
{
	struct kt_member rw, ro;
	char nm[SHMK_NAME_MAX];
	int err;
	void *p;

	kt_name(nm, "rdonly");
	KT_RET(kt_join(&rw, nm, 4096, SHMK_ATTACH_CREATE, 0600), 0);
	KT_RET(kt_join(&ro, nm, 0, SHMK_ATTACH_RDONLY, 0), 0);
	p = kt_mmap(ro.fd, ro.at.user_size, PROT_READ | PROT_WRITE,
		    MAP_SHARED, ro.at.user_offset, &err);
	KT_TRUE(p == NULL);
	KT_RET(err, -EPERM);
	p = kt_mmap(ro.fd, ro.at.user_size, PROT_WRITE, MAP_SHARED,
		    ro.at.user_offset, &err);
	KT_TRUE(p == NULL);
	KT_RET(err, -EPERM);
	KT_EQ(mprotect((void *)ro.user, ro.at.user_size,
		       PROT_READ | PROT_WRITE), -1);
	KT_EQ(errno, EACCES);
	/* It reads what the writer writes. */
	*kt_word(&rw, 128) = 0x5a5a1234;
	KT_EQ(*kt_word(&ro, 128), 0x5a5a1234);
	kt_leave(&ro, true);
	kt_leave(&rw, true);
	return KT_PASS;
}

static int t_nonmember_mmap(void)
{
	int fd = kt_open(), err;
	void *p;

	KT_TRUE(fd >= 0);
	p = kt_mmap(fd, 4096, PROT_READ, MAP_SHARED, 0, &err);
	KT_TRUE(p == NULL);
	KT_RET(err, -ENOTCONN);
	p = kt_mmap(fd, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, 4096, &err);
	KT_TRUE(p == NULL);
	KT_RET(err, -ENOTCONN);
	close(fd);
	return KT_PASS;
}

static int t_two_mappings_alias(void)
{
	struct kt_member m;
	char nm[SHMK_NAME_MAX];
	volatile uint32_t *w;
	int err;

	kt_name(nm, "alias");
	KT_RET(kt_join(&m, nm, 2 * 4096, SHMK_ATTACH_CREATE, 0600), 0);
	w = kt_mmap(m.fd, m.at.user_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		    m.at.user_offset, &err);
	KT_RET(err, 0);
	KT_TRUE((void *)w != (void *)m.user);
	w[1000] = 77;
	KT_EQ(*kt_word(&m, 4000), 77);
	munmap((void *)w, m.at.user_size);
	kt_leave(&m, true);
	return KT_PASS;
}

/*
 * Mappings are not inherited (VM_DONTCOPY): a forked child touching the
 * parent's address dies of SIGSEGV, and the parent's mapping is fine.
 */
static int touch_child(void *arg)
{
	volatile uint32_t *w = arg;

	return (int)(*w & 0x7f);
}

static int t_fork_no_mapping(void)
{
	struct kt_member m;
	char nm[SHMK_NAME_MAX];

	kt_name(nm, "dontcopy");
	KT_RET(kt_join(&m, nm, 4096, SHMK_ATTACH_CREATE, 0600), 0);
	*kt_word(&m, 0) = 3;
	KT_EQ(kt_reap(kt_fork(touch_child, (void *)kt_word(&m, 0))),
	      KT_KILLED(SIGSEGV));
	KT_EQ(kt_reap(kt_fork(touch_child, (void *)&m.ctrl->magic)),
	      KT_KILLED(SIGSEGV));
	KT_EQ(*kt_word(&m, 0), 3);
	*kt_word(&m, 0) = 4;
	KT_EQ(m.ctrl->members_live, 1);
	kt_leave(&m, true);
	return KT_PASS;
}

struct inh {
	int fd;
	uint64_t ctrl_size, user_offset, user_size;
};

static int inherited_mmap(void *arg)
{
	struct inh *in = arg;
	int err;
	void *p;

	p = kt_mmap(in->fd, in->ctrl_size, PROT_READ, MAP_SHARED, 0, &err);
	KT_TRUE(p == NULL);
	KT_RET(err, -EPERM);
	p = kt_mmap(in->fd, in->user_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		    in->user_offset, &err);
	KT_TRUE(p == NULL);
	KT_RET(err, -EPERM);
	return KT_PASS;
}

static int t_inherited_fd_mmap(void)
{
	struct kt_member m;
	char nm[SHMK_NAME_MAX];
	struct inh in;

	kt_name(nm, "inhmap");
	KT_RET(kt_join(&m, nm, 4096, SHMK_ATTACH_CREATE, 0600), 0);
	in.fd = m.fd;
	in.ctrl_size = m.at.ctrl_size;
	in.user_offset = m.at.user_offset;
	in.user_size = m.at.user_size;
	KT_EQ(kt_reap(kt_fork(inherited_mmap, &in)), KT_PASS);
	kt_leave(&m, true);
	return KT_PASS;
}

/* After DETACH no new mapping can be made. */
static int t_mmap_after_detach(void)
{
	struct kt_member m;
	char nm[SHMK_NAME_MAX];
	int err;
	void *p;

	kt_name(nm, "mapdet");
	KT_RET(kt_join(&m, nm, 4096, SHMK_ATTACH_CREATE, 0600), 0);
	KT_RET(kt_detach(m.fd), 0);
	p = kt_mmap(m.fd, m.at.ctrl_size, PROT_READ, MAP_SHARED, 0, &err);
	KT_TRUE(p == NULL);
	KT_RET(err, -ENOTCONN);
	p = kt_mmap(m.fd, m.at.user_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		    m.at.user_offset, &err);
	KT_TRUE(p == NULL);
	KT_RET(err, -ENOTCONN);
	kt_leave(&m, false);
	return KT_PASS;
}

static const struct kt_case cases[] = {
	{ "ctrl: header and own slot", t_ctrl_header },
	{ "ctrl: PERSISTENT and REMOVED arena flags", t_ctrl_persistent_flag },
	{ "ctrl: epoch +2 per change, slots follow join/leave",
	  t_ctrl_epoch_and_slots },
	{ "ctrl: dead slots show exit code and signal", t_ctrl_dead_how },
	{ "ctrl: seqcount snapshots consistent while members churn",
	  t_ctrl_seqcount },
	{ "mmap: MAP_PRIVATE -> EINVAL", t_map_private },
	{ "mmap: ranges crossing regions or the end -> EINVAL",
	  t_map_ranges },
	{ "mmap: a page inside the user region maps and aliases",
	  t_map_subrange },
	{ "mmap: control region writable -> EPERM, mprotect -> EACCES",
	  t_ctrl_readonly },
	{ "mmap: writing the control region faults", t_ctrl_write_faults },
	{ "mmap: RDONLY member cannot map the user region writable",
	  t_rdonly_member },
	{ "mmap: non-member fd -> ENOTCONN", t_nonmember_mmap },
	{ "mmap: two mappings of the user region alias", t_two_mappings_alias },
	{ "mmap: not inherited by fork (child SIGSEGV)", t_fork_no_mapping },
	{ "mmap: inherited fd in a child -> EPERM", t_inherited_fd_mmap },
	{ "mmap: after DETACH -> ENOTCONN", t_mmap_after_detach },
};

int main(int argc, char **argv)
{
	return kt_main(argc, argv, cases, KT_ARRAY_SIZE(cases));
}
