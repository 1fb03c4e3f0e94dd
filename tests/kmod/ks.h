/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ks: helpers shared by the process-shape tests (t_shapes*, t_uring).
 *
 * A "victim" is a member that holds one robust lock when it ends. Each
 * member id has its own block of the user region for that:
 *
 *	KS_HEAD(id)	struct shmk_robust_head, list of one entry
 *	KS_ENTRY(id)	the entry (next = the head)
 *	KS_LOCK(id)	its lock word = KS_ENTRY + 8, holding
 *			id | SHMK_LOCK_WAITERS
 *
 * After a crash the word must read SHMK_LOCK_OWNER_DIED | WAITERS and a
 * waiter asleep on it must have been woken (ks_waiter_*). The observer is
 * a member of the case process that reads the victim's one exit event
 * (ks_expect_end) and checks its control-region slot.
 *
 * Everything is static inline: each test program uses a part of it.
 */
#ifndef KS_H
#define KS_H

#include "kt.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define KS_ARENA	(64 * 1024)
#define KS_BLOCK(id)	(0x200ull * (id))
#define KS_HEAD(id)	KS_BLOCK(id)
#define KS_ENTRY(id)	(KS_BLOCK(id) + 0x40)
#define KS_LOCK(id)	(KS_ENTRY(id) + 8)
#define KS_HELD(id)	((uint32_t)(id) | SHMK_LOCK_WAITERS)
#define KS_DIED		(SHMK_LOCK_OWNER_DIED | SHMK_LOCK_WAITERS)

/* What a victim reports once it is set up. */
struct ks_ids {
	uint32_t id, gen;
	pid_t pid;	/* the member process, in the reporter's pid ns */
	pid_t extra;	/* shape-specific: a sibling, a ring fd, ... */
};

/*
 * Builds the one-entry robust list of member @id in the user mapping
 * @user and registers it on @fd: the member now holds KS_LOCK(id).
 */
static inline int ks_hold_lock_raw(int fd, volatile unsigned char *user,
				   uint32_t id)
{
	volatile struct shmk_robust_head *h =
		(volatile struct shmk_robust_head *)(user + KS_HEAD(id));

	*(volatile uint64_t *)(user + KS_ENTRY(id)) = KS_HEAD(id);
	*(volatile uint32_t *)(user + KS_LOCK(id)) = KS_HELD(id);
	h->next = KS_ENTRY(id);
	h->lock_delta = 8;
	h->op_pending = SHMK_ROBUST_NONE;
	return kt_set_robust(fd, KS_HEAD(id));
}

static inline int ks_hold_lock(struct kt_member *m)
{
	return ks_hold_lock_raw(m->fd, m->user, m->at.member_id);
}

/* Joins @name, takes its lock, fills @ids. 0 or -errno. */
static inline int ks_victim_join(struct kt_member *m, const char *name,
				 struct ks_ids *ids)
{
	int r = kt_join(m, name, 0, 0, 0);

	if (r < 0)
		return r;
	r = ks_hold_lock(m);
	if (r < 0)
		return r;
	memset(ids, 0, sizeof(*ids));
	ids->id = m->at.member_id;
	ids->gen = m->at.generation;
	ids->pid = getpid();
	return 0;
}

/* ---- a waiter asleep on a victim's lock word ---------------------------- */

struct ks_waiter {
	char name[SHMK_NAME_MAX];
	uint64_t off;
	uint32_t expected;
	int out;	/* write end: the WAIT result (int), then its id */
	pid_t pid;
	uint32_t id;	/* its member id, once it reported */
};

static inline int ks_waiter_main(void *arg)
{
	struct ks_waiter *w = arg;
	struct kt_member m;
	int r;

	if (kt_join(&m, w->name, 0, 0, 0) < 0)
		return 100;
	/* NO_EVENTS: only a WAKE (the robust walk's) may end this. */
	r = kt_wait(m.fd, w->off, w->expected, SHMK_WAIT_NO_EVENTS,
		    20ll * 1000000000ll);
	kt_post(w->out, &r, sizeof(r));
	kt_post(w->out, &m.at.member_id, sizeof(m.at.member_id));
	kt_leave(&m, true);
	return 0;
}

/*
 * Starts a waiter on @off (expecting @expected) and returns once it is
 * asleep in the module (@waiters: the debugfs count to reach).
 */
static inline int ks_waiter_start(struct ks_waiter *w, const char *name,
				  uint64_t off, uint32_t expected, int out,
				  long waiters)
{
	memcpy(w->name, name, sizeof(w->name));
	w->off = off;
	w->expected = expected;
	w->out = out;
	w->id = 0;
	w->pid = kt_fork(ks_waiter_main, w);
	KT_TRUE(w->pid > 0);
	KT_RET(kt_await_waiting(&w->pid, 1, waiters), 0);
	return KT_PASS;
}

/* The waiter was woken by a WAKE (result 0) and left cleanly. */
static inline int ks_waiter_done(struct ks_waiter *w, int in)
{
	int res = -1;

	KT_RET(kt_await(in, &res, sizeof(res), KT_TIMEOUT_MS), 0);
	KT_RET(res, 0);
	KT_RET(kt_await(in, &w->id, sizeof(w->id), KT_TIMEOUT_MS), 0);
	KT_EQ(kt_reap(w->pid), 0);
	return KT_PASS;
}

/* ---- the observer's checks ---------------------------------------------- */

/*
 * The next event on @obs (within KT_TIMEOUT_MS) is the end of membership
 * (@id, @gen) of process @pid, as @how/@status (@status -1: any), a crash
 * unless @how is DETACH; its control-region slot says the same.
 */
static inline int ks_expect_end(struct kt_member *obs, uint32_t id,
				uint32_t gen, pid_t pid, uint32_t how,
				int status)
{
	struct shmk_event ev;
	struct shmk_ctrl h;
	struct shmk_ctrl_member s;
	int r;

	r = kt_poll_in(obs->fd, KT_TIMEOUT_MS);
	if (r != 1)
		kt_diag("no exit event for member %u (pid %d) within %d ms",
			id, (int)pid, KT_TIMEOUT_MS);
	KT_EQ(r, 1);
	KT_RET(kt_read_event(obs->fd, &ev, true), sizeof(ev));
	if (ev.how != how || (status != -1 && ev.status != status))
		kt_diag("member %u ended: event how %u status %d, want how %u status %d",
			id, ev.how, ev.status, how, status);
	KT_EQ(ev.type, SHMK_EVENT_EXIT);
	KT_EQ(ev.member_id, id);
	KT_EQ(ev.generation, gen);
	KT_EQ(ev.pid, pid);
	KT_EQ(ev.how, how);
	if (status != -1)
		KT_EQ(ev.status, status);
	KT_EQ(ev.flags, how == SHMK_END_DETACH ? 0 : SHMK_EVENT_F_CRASH);
	KT_RET(kt_ctrl_read(obs->ctrl, &h, id, &s), 0);
	KT_EQ(s.state, SHMK_MEMBER_DEAD);
	KT_EQ(s.generation, gen);
	KT_EQ(s.how, how);
	if (status != -1)
		KT_EQ(s.status, status);
	return KT_PASS;
}

/* @id's lock was released by the robust walk. */
static inline int ks_expect_released(struct kt_member *obs, uint32_t id)
{
	uint32_t v = *kt_word(obs, KS_LOCK(id));

	if (v != KS_DIED)
		kt_diag("lock of member %u: 0x%x, want OWNER_DIED|WAITERS", id,
			v);
	KT_EQ(v, KS_DIED);
	return KT_PASS;
}

/* The next event is the clean DETACH of member @id (a waiter leaving). */
static inline int ks_expect_detach(struct kt_member *obs, uint32_t id)
{
	struct shmk_event ev;

	KT_EQ(kt_poll_in(obs->fd, KT_TIMEOUT_MS), 1);
	KT_RET(kt_read_event(obs->fd, &ev, true), sizeof(ev));
	KT_EQ(ev.type, SHMK_EVENT_EXIT);
	KT_EQ(ev.member_id, id);
	KT_EQ(ev.how, SHMK_END_DETACH);
	return KT_PASS;
}

/* No event pending on @obs right now. */
static inline int ks_expect_quiet(struct kt_member *obs)
{
	struct shmk_event ev;
	int r = kt_read_event(obs->fd, &ev, true);

	if (r == sizeof(ev))
		kt_diag("unexpected event: member %u how %u status %d",
			ev.member_id, ev.how, ev.status);
	KT_RET(r, -EAGAIN);
	return KT_PASS;
}

/* ---- passing descriptors ------------------------------------------------ */

static inline int ks_send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))], byte = 'F';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c;

	memset(cbuf, 0, sizeof(cbuf));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -errno;
}

/* Receives one descriptor (within KT_TIMEOUT_MS): the fd or -errno. */
static inline int ks_recv_fd(int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))], byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c;
	int fd, r;

	r = kt_poll_in(sock, KT_TIMEOUT_MS);
	if (r <= 0)
		return r < 0 ? r : -ETIMEDOUT;
	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
		return -errno;
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -EPROTO;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/* ---- /proc ---------------------------------------------------------------- */

/* The tgid of the calling process in the root pid namespace (NSpid). */
static inline pid_t ks_root_pid(void)
{
	char line[256];
	pid_t pid = -1;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "NSpid:", 6)) {
			pid = (pid_t)strtol(line + 6, NULL, 10);
			break;
		}
	fclose(f);
	return pid;
}

#endif /* KS_H */
