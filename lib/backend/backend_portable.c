// SPDX-License-Identifier: MIT
/*
 * Portable backend: a named POSIX shm object (/dev/shm/shmk.<name>), futex
 * on the shared mapping, pidfds for peer exit.
 *
 * The object starts with a library-private header (struct pt_hdr: member
 * table and event log), then the user region. What the kernel module does
 * for us is done here by the members themselves:
 *  - membership: a slot of the member table claimed with one CAS of
 *    (state, generation, pid); the start time of the process (from
 *    /proc/<pid>/stat) is recorded to tell a reused pid from the member;
 *  - death: every member holds a pidfd of every other live member (it
 *    learns about joins through inotify on the object: a joiner touches
 *    its ctime). The first survivor that sees a pidfd readable claims the
 *    death (CAS LIVE -> DYING), walks the dead member's robust list like
 *    the kernel would, appends an exit record to the event log and wakes
 *    every waiter of every member;
 *  - a waiter that nobody wakes still learns of a death within
 *    PT_SLICE_MS: waits sleep in slices and look at the pidfds between;
 *  - stale objects (every member dead, not persistent) are unlinked by the
 *    next create or attach, under an exclusive flock of the object
 *    (attachers hold a shared one while they claim a slot).
 * Weaker than kmod (see Documentation/library-design.md): cleanup needs a surviving member; an
 * exit status is exact only for a member that is this process's child or
 * still a zombie; all members must share a pid namespace.
 */
#include "core/shmk_int.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

#define PT_MAGIC	0x504d4853U	/* "SHMP" */
#define PT_VERSION	1
#define PT_LOG		64
#define PT_SLICE_MS	100
/*
 * A log record reserved but still unpublished after this long is taken for
 * one whose writer died between the two steps: readers count it as lost
 * (an OVERFLOW event, which asks for a liveness scan) instead of waiting
 * for it, or reporting it pending, for ever.
 */
#define PT_LOG_STUCK_MS	50
#define PT_INO_ID	0	/* epoll data of the inotify fd: no member */
#define PT_READY	1
#define PT_DEFUNCT	2
#define PT_F_PERSISTENT	1U

/* member ctl: state (60..63), generation (32..59), pid (0..31) */
#define PM_FREE		0ULL
#define PM_LIVE		1ULL
#define PM_DYING	2ULL
#define PM_DEAD		3ULL
#define PM_STATE(c)	((c) >> 60)
#define PM_GEN_MASK	0x0fffffffU	/* 28 bits of the generation */
#define PM_GEN(c)	((uint32_t)(((c) >> 32) & PM_GEN_MASK))
#define PM_PID(c)	((int32_t)(uint32_t)(c))
#define PM_MAKE(s, g, p) (((uint64_t)(s) << 60) | \
			  ((uint64_t)((g) & PM_GEN_MASK) << 32) | (uint32_t)(p))

struct pt_member {
	uint64_t ctl;
	uint64_t starttime;
	uint64_t robust_off;	/* arena offset of the robust head */
	uint64_t wait_off;	/* 1 + offset being waited on, 0: none */
	uint64_t attach_ns;
	uint64_t end_ns;
	uint32_t how;
	int32_t status;
	uint32_t handler;	/* member handling its death */
	uint32_t logged;	/* 1: its exit record is in the log */
};

struct pt_rec {
	uint64_t seq;		/* index + 1 once published */
	struct shmk_event ev;
};

struct pt_hdr {
	uint32_t magic;
	uint32_t version;
	uint32_t state;
	uint32_t member_max;
	uint64_t hdr_size;	/* offset of the user region in the object */
	uint64_t user_size;
	uint32_t flags;
	uint32_t uid;
	uint64_t created_ns;
	uint64_t log_head;
	uint64_t epoch;
	uint8_t pad[128 - 64];
	struct pt_rec log[PT_LOG];
	struct pt_member m[];
};

_Static_assert(sizeof(struct pt_member) == 64, "pt_member");
_Static_assert(sizeof(struct pt_rec) == 64, "pt_rec");
_Static_assert(offsetof(struct pt_hdr, log) == 128, "pt_hdr");

struct pt_peer {
	int pidfd;
	uint32_t gen;
};

struct pt {
	int fd;
	int ino_fd;		/* inotify on the object */
	int pid_ep;		/* epoll of peer pidfds */
	struct pt_hdr *h;
	size_t map_size;	/* whole object */
	uint64_t logpos;
	uint64_t stuck_pos;	/* 1 + a record seen unpublished, since: */
	uint64_t stuck_ns;
	uint32_t member_max;	/* these three as checked, never re-read */
	uint64_t hdr_size, user_size;
	struct pt_peer *peer;	/* [member_max + 1] */
	char shm_name[SHMK_NAME_MAX + 8];
	char path[SHMK_NAME_MAX + 24];
};

static struct pt *PT(const struct shmk_arena *a)
{
	return a->bp;
}

static int sys_pidfd_open(int pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static long sys_futex(uint32_t *uaddr, int op, uint32_t val,
		      const struct timespec *ts, uint32_t val3)
{
	return syscall(SYS_futex, uaddr, op, val, ts, NULL, val3);
}

static size_t hdr_bytes(uint32_t member_max)
{
	size_t n = sizeof(struct pt_hdr) +
		(size_t)member_max * sizeof(struct pt_member);

	return (n + LM_PAGE - 1) & ~((size_t)LM_PAGE - 1);
}

/* Is process @pid with start time @start still running (not a zombie)? */
static bool proc_alive(int32_t pid, uint64_t start)
{
	uint64_t st = 0;
	int state = 0;

	if (pid <= 0)
		return false;
	if (shmk_proc_starttime(pid, &st, &state, NULL) < 0)
		return kill(pid, 0) == 0 || errno == EPERM;
	if (start && st != start)
		return false;
	return state != 'Z' && state != 'X';
}

static bool slot_alive(const struct pt_member *m, uint64_t ctl)
{
	return proc_alive(PM_PID(ctl), ld_acq(&m->starttime));
}

/* ---- event log ------------------------------------------------------- */

static void log_append(struct pt *p, const struct shmk_event *ev)
{
	uint64_t seq = fadd_sc(&p->h->log_head, 1);
	struct pt_rec *r = &p->h->log[seq % PT_LOG];
	const uint64_t *src = (const uint64_t *)ev;
	uint64_t *dst = (uint64_t *)&r->ev;
	size_t i;

	CRASHPOINT("log:reserved");
	st_sc(&r->seq, 0);
	for (i = 0; i < sizeof(*ev) / 8; i++)
		st_sc(&dst[i], src[i]);
	st_rel(&r->seq, seq + 1);
	/* Pollers watch the object with inotify: any attribute change. */
	futimens(p->fd, NULL);
}

/* Word by word, with acquire loads: the seq re-read stays after them. */
static void ev_copy(struct shmk_event *dst, const struct shmk_event *src)
{
	const uint64_t *s = (const uint64_t *)src;
	uint64_t *d = (uint64_t *)dst;
	size_t i;

	for (i = 0; i < sizeof(*dst) / 8; i++)
		d[i] = ld_acq(&s[i]);
}

/*
 * The record at our position is unpublished: true once it has been so for
 * PT_LOG_STUCK_MS (its writer died). @note: start the clock (the reader).
 */
static bool log_stuck(struct pt *p, bool note)
{
	uint64_t pos = ld_rlx(&p->logpos), now = shmk_now_ns();

	if (ld_rlx(&p->stuck_pos) != pos + 1) {
		if (note) {
			st_rlx(&p->stuck_ns, now);
			st_rlx(&p->stuck_pos, pos + 1);
		}
		return false;
	}
	return now - ld_rlx(&p->stuck_ns) >= PT_LOG_STUCK_MS * 1000000ULL;
}

/* Skip @n records of the log, reporting them lost. */
static void log_skip(struct shmk_arena *a, struct pt *p, uint64_t n)
{
	struct shmk_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = SHMK_EVENT_OVERFLOW;
	ev.lost = n;
	shmk_ev_push(a, &ev);
	st_rlx(&p->logpos, p->logpos + n);
}

/* Copy published records from our position into the local queue. */
static void log_read(struct shmk_arena *a)
{
	struct pt *p = PT(a);
	uint64_t head = ld_acq(&p->h->log_head);
	struct shmk_event ev;
	struct pt_rec *r, *nx;
	uint64_t s1, s2;

	while (p->logpos < head) {
		if (head - p->logpos > PT_LOG) {
			log_skip(a, p, head - p->logpos - PT_LOG);
			continue;
		}
		r = &p->h->log[p->logpos % PT_LOG];
		s1 = ld_acq(&r->seq);
		if (s1 == p->logpos + 1) {
			ev_copy(&ev, &r->ev);
			s2 = ld_acq(&r->seq);
			if (s2 == s1) {
				if (ev.member_id != a->id)
					shmk_ev_push(a, &ev);
				st_rlx(&p->logpos, p->logpos + 1);
				continue;
			}
		}
		/*
		 * Overwritten; or a writer died before publishing, seen
		 * because later records are out or because it stays so:
		 * count it as lost.
		 */
		nx = &p->h->log[(p->logpos + 1) % PT_LOG];
		if (s1 > p->logpos + 1 ||
		    (p->logpos + 1 < head &&
		     ld_acq(&nx->seq) == p->logpos + 2) ||
		    log_stuck(p, true)) {
			log_skip(a, p, 1);
			continue;
		}
		break;	/* being written: read it next time */
	}
}

/* ---- deaths ---------------------------------------------------------- */

static void wake_all_waiters(struct shmk_arena *a)
{
	struct pt *p = PT(a);
	uint32_t i;
	uint64_t w;

	for (i = 0; i < p->member_max; i++) {
		w = ld_sc(&p->h->m[i].wait_off);
		if (w && off_ok(a, w - 1, 4, 4))
			sys_futex(A_PTR(a, w - 1), FUTEX_WAKE, INT32_MAX,
				  NULL, 0);
	}
}

/* How did it end? Exact for our child or a readable zombie. */
static void learn_end(struct shmk_arena *a, uint32_t id, uint64_t ctl,
		      struct shmk_event *ev)
{
	struct pt *p = PT(a);
	siginfo_t si;
	int state = 0, code = -1, fd = p->peer[id].pidfd;
	uint64_t st = 0;

	ev->how = SHMK_END_EXIT;
	ev->status = SHMK_STATUS_UNKNOWN;
	ev->flags = SHMK_EVENT_F_CRASH | SHMK_EVENT_F_GUESSED;
	if (fd >= 0 && p->peer[id].gen == PM_GEN(ctl)) {
		memset(&si, 0, sizeof(si));
		if (waitid((idtype_t)P_PIDFD, (id_t)fd, &si,
			   WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid) {
			ev->flags &= ~SHMK_EVENT_F_GUESSED;
			if (si.si_code == CLD_EXITED) {
				ev->how = SHMK_END_EXIT;
				ev->status = si.si_status;
			} else {
				ev->how = SHMK_END_SIGNAL;
				ev->status = si.si_status;
			}
			return;
		}
	}
	if (shmk_proc_starttime(PM_PID(ctl), &st, &state, &code) == 0 &&
	    st == ld_acq(&p->h->m[id - 1].starttime) && state == 'Z' &&
	    code >= 0) {
		ev->flags &= ~SHMK_EVENT_F_GUESSED;
		if (WIFSIGNALED(code)) {
			ev->how = SHMK_END_SIGNAL;
			ev->status = WTERMSIG(code);
		} else {
			ev->how = SHMK_END_EXIT;
			ev->status = WEXITSTATUS(code);
		}
	}
}

static void peer_forget(struct shmk_arena *a, uint32_t id)
{
	struct pt *p = PT(a);

	if (p->peer[id].pidfd >= 0) {
		epoll_ctl(p->pid_ep, EPOLL_CTL_DEL, p->peer[id].pidfd, NULL);
		close(p->peer[id].pidfd);
	}
	p->peer[id].pidfd = -1;
	p->peer[id].gen = 0;
}

/*
 * The handler @h of a DYING member is gone: its death is for somebody
 * else to finish. 0 is not gone: the winner of the claim names itself
 * just after it.
 */
static bool handler_gone(struct pt *p, uint32_t h)
{
	uint64_t c;

	if (h == 0 || h > p->member_max)
		return false;
	c = ld_acq(&p->h->m[h - 1].ctl);
	return PM_STATE(c) != PM_LIVE || !slot_alive(&p->h->m[h - 1], c);
}

/*
 * Member @id (ctl as observed) is dead: if we win the claim, do what the
 * kernel does at ->release(): robust list, exit record, wake everyone.
 * One handler at a time: the claim (LIVE to DYING) elects the first, a
 * CAS on the handler word the one that takes over from a dead handler;
 * everybody else leaves it alone (two handlers logged a death twice).
 */
static void handle_death(struct shmk_arena *a, uint32_t id, uint64_t ctl)
{
	struct pt *p = PT(a);
	struct pt_member *m = &p->h->m[id - 1];
	struct shmk_event ev;
	uint32_t h;
	uint64_t ro;

	if (PM_STATE(ctl) == PM_LIVE) {
		if (!cas_sc(&m->ctl, &ctl, PM_MAKE(PM_DYING, PM_GEN(ctl),
						   PM_PID(ctl))))
			return;
		ctl = PM_MAKE(PM_DYING, PM_GEN(ctl), PM_PID(ctl));
		st_sc(&m->handler, a->id);
	} else if (PM_STATE(ctl) == PM_DYING) {
		h = ld_acq(&m->handler);
		if (h == a->id || !handler_gone(p, h) ||
		    !cas_sc(&m->handler, &h, a->id))
			return;
	} else {
		return;
	}
	memset(&ev, 0, sizeof(ev));
	ev.type = SHMK_EVENT_EXIT;
	ev.member_id = id;
	ev.generation = PM_GEN(ctl);
	ev.pid = PM_PID(ctl);
	ev.time_ns = shmk_now_ns();
	learn_end(a, id, ctl, &ev);
	ro = ld_acq(&m->robust_off);
	if (ro != SHMK_ROBUST_NONE)
		lm_robust_walk(a, ro, id);
	st_rlx(&m->how, ev.how);
	st_rlx(&m->status, ev.status);
	st_rel(&m->end_ns, ev.time_ns);
	/* a handler we took over from may have logged it already */
	if (!ld_acq(&m->logged)) {
		log_append(p, &ev);
		st_sc(&m->logged, 1);
	}
	st_sc(&m->ctl, PM_MAKE(PM_DEAD, PM_GEN(ctl), PM_PID(ctl)));
	fadd_sc(&p->h->epoch, 2);
	wake_all_waiters(a);
	peer_forget(a, id);
}

/*
 * Ready fds of the pidfd epoll set: dead members (their pidfd) and joins
 * or leaves (the inotify fd, drained here, before the slot loop looks at
 * the slots: a join touches the object after claiming its slot).
 */
static void scan_ready(struct shmk_arena *a)
{
	struct pt *p = PT(a);
	struct epoll_event evs[16];
	char buf[4096];
	uint64_t ctl;
	uint32_t id;
	int n, i;

	for (;;) {
		n = epoll_wait(p->pid_ep, evs, 16, 0);
		if (n <= 0)
			break;
		for (i = 0; i < n; i++) {
			id = evs[i].data.u32;
			if (id == PT_INO_ID) {
				while (read(p->ino_fd, buf, sizeof(buf)) > 0)
					;
				continue;
			}
			if (id > p->member_max)
				continue;
			ctl = ld_acq(&p->h->m[id - 1].ctl);
			if ((PM_STATE(ctl) == PM_LIVE ||
			     PM_STATE(ctl) == PM_DYING) &&
			    PM_GEN(ctl) == p->peer[id].gen)
				handle_death(a, id, ctl);
			peer_forget(a, id);
		}
	}
}

/*
 * Ready fds first; then every slot: open pidfds for members we do not
 * know yet, handle members found dead, take over deaths whose handler
 * died; then read the log. Called with a->ev_lock held.
 */
static void scan(struct shmk_arena *a)
{
	struct pt *p = PT(a);
	uint64_t ctl;
	uint32_t id;
	int fd;

	scan_ready(a);
	for (id = 1; id <= p->member_max; id++) {
		struct pt_member *m = &p->h->m[id - 1];

		if (id == a->id)
			continue;
		ctl = ld_acq(&m->ctl);
		if (PM_STATE(ctl) == PM_DYING) {
			handle_death(a, id, ctl);	/* if its handler died */
			continue;
		}
		if (PM_STATE(ctl) != PM_LIVE) {
			if (p->peer[id].pidfd >= 0)
				peer_forget(a, id);
			continue;
		}
		if (p->peer[id].pidfd >= 0 && p->peer[id].gen == PM_GEN(ctl))
			continue;
		if (p->peer[id].pidfd >= 0)
			peer_forget(a, id);
		fd = sys_pidfd_open(PM_PID(ctl));
		if (fd < 0 && errno != ESRCH)
			continue;	/* cannot watch it; retry next scan */
		if (fd >= 0) {
			struct epoll_event e = { .events = EPOLLIN };

			e.data.u32 = id;
			p->peer[id].pidfd = fd;
			p->peer[id].gen = PM_GEN(ctl);
			epoll_ctl(p->pid_ep, EPOLL_CTL_ADD, fd, &e);
		}
		/* pid reused, or gone before we could open it? */
		if (fd < 0 || !slot_alive(m, ctl))
			handle_death(a, id, ctl);
	}
	log_read(a);
}

static int pt_pump(struct shmk_arena *a)
{
	scan(a);
	return 0;
}

/*
 * Scan from a wait, unless another thread of ours is pumping already.
 * True if it queued events (a death, a detach) for this member.
 */
static bool scan_try(struct shmk_arena *a)
{
	unsigned int before;
	uint64_t lost;
	bool got = false;

	if (pthread_mutex_trylock(&a->ev_lock) == 0) {
		before = a->evq_len;
		lost = a->evq_lost;
		scan(a);
		got = a->evq_len != before || a->evq_lost != lost;
		pthread_mutex_unlock(&a->ev_lock);
	}
	return got;
}

/*
 * Something for log_read() to do: a published record, an overwritten or
 * skippable one. A record still being written is not (the waits would
 * return at once and callers spin) until it counts as stuck.
 */
static bool events_pending(struct shmk_arena *a)
{
	struct pt *p = PT(a);
	uint64_t head = ld_acq(&p->h->log_head), pos = ld_rlx(&p->logpos);
	uint64_t seq;

	if (head == pos)
		return false;
	if (head - pos > 1)
		return true;	/* overflow, or a later record to look at */
	seq = ld_acq(&p->h->log[pos % PT_LOG].seq);
	/* unpublished (seq <= pos), already seen so, not yet stuck */
	if (seq <= pos && ld_rlx(&p->stuck_pos) == pos + 1 &&
	    !log_stuck(p, false))
		return false;
	return true;
}

/* ---- open / close ---------------------------------------------------- */

static void pt_close(struct shmk_arena *a, bool clean);

/*
 * The slot to claim, as the module picks it: the lowest never-used one,
 * else the one that ended longest ago (its record stays readable longest,
 * its id is reused last). 0 if none; *@ctl is what the caller CASes from.
 */
static uint32_t slot_pick(struct pt *p, uint64_t *ctl)
{
	uint64_t c, end, best_end = UINT64_MAX;
	uint32_t id, best = 0;

	for (id = 1; id <= p->member_max; id++) {
		c = ld_acq(&p->h->m[id - 1].ctl);
		if (PM_STATE(c) == PM_FREE) {
			*ctl = c;
			return id;
		}
		if (PM_STATE(c) != PM_DEAD)
			continue;
		end = ld_acq(&p->h->m[id - 1].end_ns);
		if (!best || end < best_end) {
			best = id;
			best_end = end;
			*ctl = c;
		}
	}
	return best;
}

static int claim_slot(struct shmk_arena *a, struct pt *p)
{
	uint64_t start = 0, ctl, nctl;
	uint32_t id, gen;
	int r;

	r = shmk_proc_starttime(getpid(), &start, NULL, NULL);
	if (r < 0)
		start = 0;
	while ((id = slot_pick(p, &ctl)) != 0) {
		struct pt_member *m = &p->h->m[id - 1];

		gen = (PM_GEN(ctl) + 1) & PM_GEN_MASK;
		if (gen == 0)
			gen = 1;
		nctl = PM_MAKE(PM_LIVE, gen, getpid());
		if (!cas_sc(&m->ctl, &ctl, nctl))
			continue;
		st_rlx(&m->starttime, start);
		st_rlx(&m->robust_off, SHMK_ROBUST_NONE);
		st_rlx(&m->wait_off, 0);
		st_rlx(&m->handler, 0);
		st_rlx(&m->logged, 0);
		st_rlx(&m->how, 0);
		st_rlx(&m->status, 0);
		st_rlx(&m->end_ns, 0);
		st_rel(&m->attach_ns, shmk_now_ns());
		fadd_sc(&p->h->epoch, 2);
		a->id = id;
		a->gen = gen;
		return 0;
	}
	return -EUSERS;
}

/* Any member still running? Dead LIVE slots are left for scan(). */
static bool any_alive(struct pt *p, uint32_t except)
{
	uint32_t id, max = p->member_max;	/* validated, not re-read */
	uint64_t ctl;

	for (id = 1; id <= max; id++) {
		if (id == except)
			continue;
		ctl = ld_acq(&p->h->m[id - 1].ctl);
		if ((PM_STATE(ctl) == PM_LIVE || PM_STATE(ctl) == PM_DYING) &&
		    slot_alive(&p->h->m[id - 1], ctl))
			return true;
	}
	return false;
}

/* Unlink the name if it still names the object open as @fd. */
static void unlink_if_same(struct pt *p)
{
	struct stat a, b;

	if (fstat(p->fd, &a) == 0 && stat(p->path, &b) == 0 &&
	    a.st_ino == b.st_ino && a.st_dev == b.st_dev)
		shm_unlink(p->shm_name);
}

static int map_object(struct pt *p)
{
	struct pt_hdr tmp, *h;
	struct stat st;

	if (fstat(p->fd, &st) < 0)
		return -errno;
	if ((size_t)st.st_size < sizeof(tmp) ||
	    pread(p->fd, &tmp, sizeof(tmp), 0) != (ssize_t)sizeof(tmp) ||
	    tmp.magic != PT_MAGIC) {
		shmk_reason("%s is not a shmk arena object (portable backend)",
			    p->path);
		return -EPROTO;
	}
	if (tmp.version != PT_VERSION) {
		shmk_reason("%s was made by another libshmk (object version "
			    "%u, this library knows %u)", p->path, tmp.version,
			    PT_VERSION);
		return -EPROTO;
	}
	if (tmp.member_max == 0 || tmp.member_max > LM_MEMBERS_MAX ||
	    tmp.hdr_size != hdr_bytes(tmp.member_max) || tmp.user_size == 0 ||
	    tmp.hdr_size + tmp.user_size != (uint64_t)st.st_size) {
		shmk_reason("%s is corrupt: its header (%u members, %llu + "
			    "%llu bytes) does not match the object's size "
			    "(%llu bytes)", p->path, tmp.member_max,
			    (unsigned long long)tmp.hdr_size,
			    (unsigned long long)tmp.user_size,
			    (unsigned long long)st.st_size);
		return -EUCLEAN;
	}
	p->map_size = (size_t)st.st_size;
	/* the size of the member table as checked: it is never re-read */
	p->member_max = tmp.member_max;
	p->hdr_size = tmp.hdr_size;
	p->user_size = tmp.user_size;
	h = mmap(NULL, p->map_size, PROT_READ | PROT_WRITE, MAP_SHARED, p->fd,
		 0);
	if (h == MAP_FAILED)
		return -errno;
	p->h = h;
	return 0;
}

static void pt_free(struct pt *p)
{
	uint32_t i;

	if (!p)
		return;
	if (p->peer) {
		for (i = 0; i <= p->member_max; i++)
			if (p->peer[i].pidfd >= 0)
				close(p->peer[i].pidfd);
		free(p->peer);
	}
	if (p->h)
		munmap(p->h, p->map_size);
	if (p->fd >= 0)
		close(p->fd);
	if (p->ino_fd >= 0)
		close(p->ino_fd);
	if (p->pid_ep >= 0)
		close(p->pid_ep);
	free(p);
}

static int alloc_peers(struct pt *p)
{
	uint32_t i;

	p->peer = calloc(p->member_max + 1, sizeof(*p->peer));
	if (!p->peer)
		return -ENOMEM;
	for (i = 0; i <= p->member_max; i++)
		p->peer[i].pidfd = -1;
	return 0;
}

/* Why a file cannot be made in /dev/shm. */
static int tmpfile_reason(int r)
{
	switch (r) {
	case -ENOENT:
		shmk_reason("there is no /dev/shm: the portable backend needs "
			    "a tmpfs there (mount -t tmpfs tmpfs /dev/shm)");
		return -ENODEV;
	case -EOPNOTSUPP:
	case -EISDIR:
	case -EINVAL:
		shmk_reason("/dev/shm cannot make unnamed files (O_TMPFILE): "
			    "the portable backend needs a tmpfs there");
		return r;
	case -EACCES:
	case -EPERM:
		shmk_reason("no permission to create files in /dev/shm (euid "
			    "%u)", (unsigned int)geteuid());
		return r;
	default:
		shmk_reason("cannot create a file in /dev/shm: %s",
			    strerror(-r));
		return r;
	}
}

/*
 * An object is sparse: its pages are taken from the tmpfs as they are
 * first touched. One bigger than the room left would be created fine and
 * fail much later, with SIGBUS in whichever member touches the page that
 * does not fit: refuse it now. -EFBIG: more than the whole file system;
 * -ENOSPC: more than is free now.
 */
static int room_check(struct pt *p, uint64_t bytes)
{
	char b1[32], b2[32], b3[32];
	uint64_t total, avail;
	struct statvfs sv;

	if (fstatvfs(p->fd, &sv) < 0 || sv.f_blocks == 0)
		return 0;	/* cannot tell, or no limit */
	total = (uint64_t)sv.f_blocks * sv.f_frsize;
	avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	shmk_fmt_bytes(bytes, b1, sizeof(b1));
	shmk_fmt_bytes(avail, b2, sizeof(b2));
	shmk_fmt_bytes(total, b3, sizeof(b3));
	if (bytes > total) {
		shmk_reason("arena '%s' needs %s of /dev/shm, a tmpfs of %s "
			    "(%s free): it can never fit; ask for less, or make "
			    "/dev/shm larger (mount -o remount,size=...)",
			    p->shm_name + 6, b1, b3, b2);
		return -EFBIG;
	}
	if (bytes > avail) {
		shmk_reason("arena '%s' needs %s of /dev/shm, which has %s "
			    "free of %s: ask for less, or free some room",
			    p->shm_name + 6, b1, b2, b3);
		return -ENOSPC;
	}
	return 0;
}

/*
 * Build a complete object under no name (O_TMPFILE in /dev/shm), claim
 * slot 1 in it, then publish it with linkat(): nobody can ever see a half
 * initialised object. -EEXIST if the name is taken.
 */
static int create_object(struct shmk_arena *a, struct pt *p,
			 uint64_t user_size, uint32_t member_max,
			 mode_t mode, unsigned int flags)
{
	char proc[64];
	size_t hs = hdr_bytes(member_max);
	int r;

	p->fd = open("/dev/shm", O_TMPFILE | O_RDWR | O_CLOEXEC, mode);
	if (p->fd < 0)
		return tmpfile_reason(-errno);
	r = room_check(p, hs + user_size);
	if (r)
		goto fail;
	if (fchmod(p->fd, mode) < 0 ||
	    ftruncate(p->fd, (off_t)(hs + user_size)) < 0) {
		r = -errno;
		goto fail;
	}
	p->map_size = hs + user_size;
	p->h = mmap(NULL, p->map_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		    p->fd, 0);
	if (p->h == MAP_FAILED) {
		p->h = NULL;
		r = -errno;
		goto fail;
	}
	p->h->magic = PT_MAGIC;
	p->h->version = PT_VERSION;
	p->h->member_max = member_max;
	p->member_max = member_max;
	p->hdr_size = hs;
	p->user_size = user_size;
	p->h->hdr_size = hs;
	p->h->user_size = user_size;
	p->h->flags = (flags & SHMK_OPEN_PERSISTENT) ? PT_F_PERSISTENT : 0;
	p->h->uid = (uint32_t)geteuid();
	p->h->created_ns = shmk_now_ns();
	p->h->state = PT_READY;
	r = alloc_peers(p);
	if (r)
		goto fail;
	r = claim_slot(a, p);
	if (r)
		goto fail;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", p->fd);
	if (linkat(AT_FDCWD, proc, AT_FDCWD, p->path, AT_SYMLINK_FOLLOW) < 0) {
		r = -errno;
		goto fail;
	}
	return 0;
fail:
	free(p->peer);
	p->peer = NULL;
	if (p->h)
		munmap(p->h, p->map_size);
	p->h = NULL;
	close(p->fd);
	p->fd = -1;
	return r;
}

static bool joinable(struct pt *p)
{
	return ld_acq(&p->h->state) == PT_READY &&
		((ld_acq(&p->h->flags) & PT_F_PERSISTENT) || any_alive(p, 0));
}

static void drop_object(struct pt *p)
{
	if (p->h)
		munmap(p->h, p->map_size);
	p->h = NULL;
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
}

/* Why shm_open() of an existing arena's object failed with @r. */
static void open_reason(struct pt *p, const char *name, unsigned int flags,
			bool stale, int r)
{
	struct stat st;

	if (r == -ENOENT) {
		shmk_reason("no arena '%s' (portable backend: no %s%s)", name,
			    p->path, stale ? "; a stale one, whose members had "
			    "all died, was removed" : "");
	} else if ((r == -EACCES || r == -EPERM) && stat(p->path, &st) == 0) {
		shmk_reason("arena '%s' (owner uid %u gid %u, mode %04o) does "
			    "not let euid %u egid %u read and write it%s",
			    name, (unsigned int)st.st_uid,
			    (unsigned int)st.st_gid,
			    (unsigned int)(st.st_mode & 0777),
			    (unsigned int)geteuid(), (unsigned int)getegid(),
			    (flags & SHMK_OPEN_RDONLY) ? " (the portable "
			    "backend needs both, even for SHMK_OPEN_RDONLY)" :
			    "");
	} else if (r == -EACCES || r == -EPERM) {
		shmk_reason("no permission to open %s", p->path);
	} else {
		shmk_reason("cannot open %s: %s", p->path, strerror(-r));
	}
}

/*
 * Create the object (@create) or join it: a live object is joined (a
 * member slot claimed), a stale or defunct one is removed and the loop
 * tries again. *@creator: we made it. On failure the caller frees @p.
 */
static int pt_find(struct shmk_arena *a, struct pt *p, const char *name,
		   uint64_t user_size, uint32_t member_max, mode_t mode,
		   unsigned int flags, bool create, bool *creator)
{
	bool stale = false;
	int r, tries;

	for (tries = 0;; tries++) {
		if (tries > 100) {
			shmk_reason("arena '%s' kept changing while this call "
				    "tried to %s it (100 tries)", name,
				    create ? "create or join" : "join");
			return -EAGAIN;
		}
		if (create) {
			r = create_object(a, p, user_size, member_max, mode,
					  flags);
			if (r == 0) {
				*creator = true;
				return 0;
			}
			if (r != -EEXIST)
				return r;
		}
		p->fd = shm_open(p->shm_name, O_RDWR | O_CLOEXEC, 0);
		if (p->fd < 0) {
			r = -errno;
			if (r == -ENOENT && create)
				continue;
			open_reason(p, name, flags, stale, r);
			return r;
		}
		flock(p->fd, LOCK_SH);
		r = map_object(p);
		if (r)
			return r;	/* not one of ours */
		if (joinable(p)) {
			if (flags & SHMK_OPEN_EXCL) {
				shmk_reason("arena '%s' exists already "
					    "(SHMK_OPEN_EXCL)", name);
				return -EEXIST;
			}
			r = alloc_peers(p);
			if (r == 0)
				r = claim_slot(a, p);
			flock(p->fd, LOCK_UN);
			if (r == -EUSERS)
				shmk_reason("every member slot of arena '%s' "
					    "is live (%u slots: max_members)",
					    name, p->member_max);
			return r;
		}
		stale = true;
		/* defunct, or stale (everybody dead): remove and retry */
		flock(p->fd, LOCK_UN);
		flock(p->fd, LOCK_EX);
		if (ld_acq(&p->h->state) != PT_DEFUNCT && !joinable(p)) {
			st_sc(&p->h->state, PT_DEFUNCT);
			unlink_if_same(p);
		}
		flock(p->fd, LOCK_UN);
		drop_object(p);
	}
}

/*
 * The fds a portable member watches: inotify on the object (joins), in
 * the pidfd epoll set, in the arena's epoll set.
 */
static int pt_watch_fds(struct shmk_arena *a, struct pt *p)
{
	struct epoll_event e = { .events = EPOLLIN }, ie;

	p->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	p->pid_ep = epoll_create1(EPOLL_CLOEXEC);
	if (p->ino_fd < 0 || p->pid_ep < 0) {
		return -errno;
	}
	if (inotify_add_watch(p->ino_fd, p->path, IN_ATTRIB | IN_MODIFY) < 0) {
		return -errno;
	}
	/*
	 * The inotify fd sits in the pidfd epoll set (as "member 0"), which
	 * sits in the arena's: a scan then costs one epoll_wait, not also a
	 * read, and every wait that reports events starts with a scan.
	 */
	ie.events = EPOLLIN;
	ie.data.u32 = PT_INO_ID;
	if (epoll_ctl(p->pid_ep, EPOLL_CTL_ADD, p->ino_fd, &ie) < 0 ||
	    epoll_ctl(a->epfd, EPOLL_CTL_ADD, p->pid_ep, &e) < 0) {
		return -errno;
	}
	return 0;
}

static int pt_open(struct shmk_arena *a, const char *name,
		   const struct shmk_arena_opts *o, unsigned int flags,
		   bool create)
{
	uint32_t member_max = o && o->max_members ? o->max_members :
		LM_DEF_MEMBERS;
	uint64_t user_size = o && o->size ? o->size : LM_DEF_SIZE;
	mode_t mode = o && o->mode ? (mode_t)o->mode : LM_DEF_MODE;
	bool creator = false;
	struct pt *p;
	int r;

	if (member_max > LM_MEMBERS_MAX || (mode & ~0777U))
		return -EINVAL;
	user_size = (user_size + LM_PAGE - 1) & ~(uint64_t)(LM_PAGE - 1);
	if (user_size > (1ULL << 40)) {
		shmk_reason("arena size %llu is above the portable backend's "
			    "limit of 1 TiB", (unsigned long long)user_size);
		return -EFBIG;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->fd = p->ino_fd = p->pid_ep = -1;
	snprintf(p->shm_name, sizeof(p->shm_name), "/shmk.%s", name);
	snprintf(p->path, sizeof(p->path), "/dev/shm/shmk.%s", name);

	r = pt_find(a, p, name, user_size, member_max, mode, flags, create,
		    &creator);
	if (r)
		goto fail;
	a->bp = p;
	a->created = creator;
	a->be_member_max = p->member_max;
	a->size = p->user_size;
	a->base = (uint8_t *)p->h + p->hdr_size;
	if ((flags & SHMK_OPEN_RDONLY) &&
	    mprotect(a->base, a->size, PROT_READ) < 0) {
		r = -errno;
		goto fail_slot;
	}
	r = pt_watch_fds(a, p);
	if (r)
		goto fail_slot;
	/* We report what happens from now on; then tell the others. */
	p->logpos = ld_acq(&p->h->log_head);
	futimens(p->fd, NULL);
	pthread_mutex_lock(&a->ev_lock);
	scan(a);
	pthread_mutex_unlock(&a->ev_lock);
	return 0;

fail_slot:
	pt_close(a, false);
	return r;
fail:
	if (p->fd >= 0)
		flock(p->fd, LOCK_UN);
	pt_free(p);
	a->bp = NULL;
	return r;
}

static void pt_close(struct shmk_arena *a, bool clean)
{
	struct pt *p = PT(a);
	struct pt_member *m;
	struct shmk_event ev;

	if (!p)
		return;
	m = &p->h->m[a->id - 1];
	flock(p->fd, LOCK_EX);
	if (clean) {
		memset(&ev, 0, sizeof(ev));
		ev.type = SHMK_EVENT_EXIT;
		ev.how = SHMK_END_DETACH;
		ev.member_id = a->id;
		ev.generation = a->gen;
		ev.pid = getpid();
		ev.time_ns = shmk_now_ns();
		st_rlx(&m->how, SHMK_END_DETACH);
		st_rlx(&m->status, 0);
		st_rel(&m->end_ns, ev.time_ns);
		st_rel(&m->robust_off, SHMK_ROBUST_NONE);
		st_sc(&m->ctl, PM_MAKE(PM_DEAD, a->gen, getpid()));
		log_append(p, &ev);
		fadd_sc(&p->h->epoch, 2);
		wake_all_waiters(a);
	} else {
		st_sc(&m->ctl, PM_MAKE(PM_DEAD, a->gen, getpid()));
	}
	if (!(ld_acq(&p->h->flags) & PT_F_PERSISTENT) &&
	    !any_alive(p, a->id)) {
		st_sc(&p->h->state, PT_DEFUNCT);
		unlink_if_same(p);
	}
	flock(p->fd, LOCK_UN);
	pt_free(p);
	a->bp = NULL;
	a->base = NULL;
}

/* ---- wait / wake ----------------------------------------------------- */

static int pt_wait(struct shmk_arena *a, uint64_t off, uint32_t expected,
		   const struct timespec *abs, unsigned int flags)
{
	struct pt *p = PT(a);
	struct pt_member *me = &p->h->m[a->id - 1];
	bool events = !(flags & SHMK_WAIT_NO_EVENTS);
	struct timespec slice;
	uint64_t now, end;
	long r;
	int ret;

	PROBE_A(wait, a, off, expected,
		abs ? (int64_t)abs->tv_sec * 1000000000LL + abs->tv_nsec : -1);
	if (events)
		st_sc(&me->wait_off, off + 1);
	/*
	 * Only a wait that reports events pays for a scan on entry (an
	 * epoll_wait and a read). A NO_EVENTS waiter still scans at the end
	 * of every slice, which is how it notices a dead lock holder.
	 */
	if (events && (scan_try(a) || events_pending(a))) {
		ret = SHMK_WAIT_EVENT;
		goto out;
	}
	for (;;) {
		now = shmk_now_ns();
		end = now + PT_SLICE_MS * 1000000ULL;
		if (abs) {
			uint64_t d = (uint64_t)abs->tv_sec * 1000000000ULL +
				(uint64_t)abs->tv_nsec;

			if (d <= now) {
				ret = -ETIMEDOUT;
				break;
			}
			if (d < end)
				end = d;
		}
		slice.tv_sec = (time_t)(end / 1000000000ULL);
		slice.tv_nsec = (long)(end % 1000000000ULL);
		r = sys_futex(A_PTR(a, off), FUTEX_WAIT_BITSET, expected,
			      &slice, FUTEX_BITSET_MATCH_ANY);
		if (r == 0) {
			ret = 0;
			if (events && (scan_try(a) || events_pending(a)))
				ret = SHMK_WAIT_EVENT;
			break;
		}
		if (errno == EAGAIN) {
			ret = -EAGAIN;
			break;
		}
		if (errno == EINTR) {
			ret = -EINTR;
			break;
		}
		if (errno != ETIMEDOUT) {
			ret = -errno;
			break;
		}
		/* A slice ended: has anybody died without being noticed? */
		if ((scan_try(a) && events) || (events && events_pending(a))) {
			ret = SHMK_WAIT_EVENT;
			break;
		}
		if (ld_acq((uint32_t *)A_PTR(a, off)) != expected) {
			ret = 0;
			break;
		}
	}
out:
	if (events)
		st_sc(&me->wait_off, 0);
	PROBE_A(wait_done, a, off, ret);
	return ret;
}

static int pt_wake(struct shmk_arena *a, uint64_t off, uint32_t n)
{
	long r;

	if (n == 0)
		return -EINVAL;
	PROBE_A(wake, a, off, n);
	r = sys_futex(A_PTR(a, off), FUTEX_WAKE,
		      n > INT32_MAX ? INT32_MAX : n, NULL, 0);
	return r < 0 ? -errno : (int)r;
}

static int pt_set_robust(struct shmk_arena *a, uint64_t head_off)
{
	struct pt *p = PT(a);

	st_sc(&p->h->m[a->id - 1].robust_off, head_off);
	return 0;
}

static int pt_member(struct shmk_arena *a, uint32_t id, uint32_t *gen)
{
	struct pt *p = PT(a);
	struct pt_member *m;
	uint64_t ctl;

	if (id == 0 || id > p->member_max)
		return 0;
	if (id == a->id) {
		*gen = a->gen;
		return 1;
	}
	m = &p->h->m[id - 1];
	ctl = ld_acq(&m->ctl);
	if (PM_STATE(ctl) != PM_LIVE)
		return 0;
	*gen = PM_GEN(ctl);
	if (p->peer[id].pidfd >= 0 && p->peer[id].gen == PM_GEN(ctl)) {
		struct pollfd pf = { .fd = p->peer[id].pidfd, .events = POLLIN };
		int n = poll(&pf, 1, 0);

		return n < 0 ? -errno : n == 0;	/* readable: it exited */
	}
	return slot_alive(m, ctl);
}

static int pt_remove(const char *name, unsigned int flags)
{
	struct pt p = { .fd = -1 };
	int r;

	(void)flags;
	snprintf(p.shm_name, sizeof(p.shm_name), "/shmk.%s", name);
	snprintf(p.path, sizeof(p.path), "/dev/shm/shmk.%s", name);
	p.fd = shm_open(p.shm_name, O_RDWR | O_CLOEXEC, 0);
	if (p.fd < 0)
		return -errno;
	flock(p.fd, LOCK_EX);
	r = map_object(&p);
	if (r == 0) {
		st_sc(&p.h->flags, ld_acq(&p.h->flags) & ~PT_F_PERSISTENT);
		if (!any_alive(&p, 0))
			st_sc(&p.h->state, PT_DEFUNCT);
		munmap(p.h, p.map_size);
	}
	unlink_if_same(&p);
	flock(p.fd, LOCK_UN);
	close(p.fd);
	return 0;
}

/*
 * Objects appear in /dev/shm by linkat() (IN_CREATE) or, made by other
 * tools, by rename (IN_MOVED_TO). The watch is on the directory, since
 * the object does not exist yet; any name wakes the waiter, who simply
 * tries again.
 */
static int pt_watch(const char *name)
{
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC), r;

	(void)name;
	if (fd < 0)
		return -errno;
	if (inotify_add_watch(fd, "/dev/shm", IN_CREATE | IN_MOVED_TO) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

const struct shmk_be_ops shmk_be_portable = {
	.name = "portable",
	.open = pt_open,
	.close = pt_close,
	.wait = pt_wait,
	.wake = pt_wake,
	.set_robust = pt_set_robust,
	.pump = pt_pump,
	.member = pt_member,
	.remove = pt_remove,
	.watch = pt_watch,
};
