// SPDX-License-Identifier: GPL-2.0
/*
 * t_robust: SHMK_IOC_SET_ROBUST validation and the robust list walk when
 * a member dies: owned lock words get SHMK_LOCK_OWNER_DIED (owner cleared,
 * WAITERS kept) and their waiters are woken; the op_pending entry too; a
 * clean DETACH walks nothing; malicious lists (cycles, bad offsets,
 * misalignment, over-long chains) are survived and stop the walk.
 *
 * The dying member builds its list in the user region itself (the lock
 * words hold its member id), registers it and reports its id; the test
 * kills it (or lets it exit/detach) and inspects the words.
 */
#include "kt.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#define ARENA	(64 * 1024)
#define HEAD	0x100ull
#define E(i)	(0x1000ull + 0x40ull * (i))	/* entries */
#define DELTA	8				/* lock word = entry + 8 */
#define W(i)	(E(i) + DELTA)
#define C(i)	(0x2000ull + 16ull * (i))	/* long chain entries */
#define LONG_N	(SHMK_ROBUST_LIST_LIMIT + 52)
#define OTHER	(SHMK_LOCK_WAITERS | 1u)	/* owned by member 1 */

enum scen {
	S_BASIC, S_CYCLE, S_RANGE, S_MISALIGN, S_LONG, S_NEGDELTA, S_BADOP,
	S_EMPTYOP, S_BADDELTA, S_BADHEAD,
};

enum end { END_KILL, END_EXIT, END_DETACH, END_UNREG };

struct rcfg {
	char name[SHMK_NAME_MAX];
	enum scen scen;
	enum end end;
	uint64_t sh;	/* S_BASIC: every offset shifted by this */
	int rep;	/* write end: member id */
	int cmd;	/* read end */
};

static inline volatile uint64_t *u64at(struct kt_member *m, uint64_t off)
{
	return (volatile uint64_t *)(m->user + off);
}

static void set_head_at(struct kt_member *m, uint64_t at, uint64_t next,
			int64_t delta, uint64_t op)
{
	volatile struct shmk_robust_head *h =
		(volatile struct shmk_robust_head *)(m->user + at);

	h->next = next;
	h->lock_delta = delta;
	h->op_pending = op;
}

static void set_head(struct kt_member *m, uint64_t next, int64_t delta,
		     uint64_t op)
{
	set_head_at(m, HEAD, next, delta, op);
}

/* Build the scenario's list for member @id. */
static void build(struct kt_member *m, enum scen s, uint32_t id, uint64_t sh)
{
	uint64_t us = m->at.user_size;
	int i;

	switch (s) {
	case S_BASIC:
		set_head_at(m, HEAD + sh, E(0) + sh, DELTA, E(3) + sh);
		*u64at(m, E(0) + sh) = E(1) + sh;
		*u64at(m, E(1) + sh) = E(2) + sh;
		*u64at(m, E(2) + sh) = HEAD + sh;
		*kt_word(m, W(0) + sh) = id;
		*kt_word(m, W(1) + sh) = id | SHMK_LOCK_WAITERS;
		*kt_word(m, W(2) + sh) = OTHER;
		/* op_pending: not on the list */
		*u64at(m, E(3) + sh) = HEAD + sh;
		*kt_word(m, W(3) + sh) = id;
		break;
	case S_CYCLE:
		set_head(m, E(0), DELTA, SHMK_ROBUST_NONE);
		*u64at(m, E(0)) = E(1);
		*u64at(m, E(1)) = E(0);
		*kt_word(m, W(0)) = id;
		*kt_word(m, W(1)) = id;
		*kt_word(m, W(2)) = id;
		break;
	case S_RANGE:
		set_head(m, E(0), DELTA, SHMK_ROBUST_NONE);
		*u64at(m, E(0)) = E(1);
		*u64at(m, E(1)) = us + 64;
		*kt_word(m, W(0)) = id;
		*kt_word(m, W(1)) = id;
		*kt_word(m, W(2)) = id;
		break;
	case S_MISALIGN:
		set_head(m, E(0), DELTA, SHMK_ROBUST_NONE);
		*u64at(m, E(0)) = E(1);
		*u64at(m, E(1)) = E(2) + 4;
		*kt_word(m, W(0)) = id;
		*kt_word(m, W(1)) = id;
		*kt_word(m, W(2)) = id;
		*kt_word(m, E(2) + 4 + DELTA) = id;
		break;
	case S_LONG:
		set_head(m, C(0), DELTA, SHMK_ROBUST_NONE);
		for (i = 0; i < LONG_N; i++) {
			*u64at(m, C(i)) = i + 1 < LONG_N ? C(i + 1) : HEAD;
			*kt_word(m, C(i) + DELTA) = id;
		}
		break;
	case S_NEGDELTA:
		/* Entries 16 bytes after their lock words. */
		set_head(m, E(0) + 16, -8, SHMK_ROBUST_NONE);
		*u64at(m, E(0) + 16) = E(1) + 16;
		*u64at(m, E(1) + 16) = HEAD;
		*kt_word(m, W(0)) = id;
		*kt_word(m, W(1)) = id | SHMK_LOCK_WAITERS;
		break;
	case S_BADOP:
		set_head(m, E(0), DELTA, us + 8);
		*u64at(m, E(0)) = E(1);
		*u64at(m, E(1)) = HEAD;
		*kt_word(m, W(0)) = id;
		*kt_word(m, W(1)) = id;
		break;
	case S_EMPTYOP:
		set_head(m, HEAD, DELTA, E(0));
		*u64at(m, E(0)) = HEAD;
		*kt_word(m, W(0)) = id;
		*kt_word(m, W(1)) = id;	/* not on any list */
		break;
	case S_BADDELTA:
		set_head(m, E(0), (int64_t)us, SHMK_ROBUST_NONE);
		*u64at(m, E(0)) = E(1);
		*u64at(m, E(1)) = HEAD;
		*kt_word(m, W(0)) = id;
		*kt_word(m, W(1)) = id;
		break;
	case S_BADHEAD:
		set_head(m, 3, DELTA, SHMK_ROBUST_NONE);
		*kt_word(m, W(0)) = id;
		break;
	}
}

static int robust_child(void *arg)
{
	struct rcfg *c = arg;
	struct kt_member m;
	uint32_t id;

	if (kt_join(&m, c->name, 0, 0, 0) < 0)
		return 100;
	id = m.at.member_id;
	build(&m, c->scen, id, c->sh);
	if (kt_set_robust(m.fd, HEAD + c->sh) != 0)
		return 101;
	if (c->end == END_UNREG && kt_set_robust(m.fd, SHMK_ROBUST_NONE) != 0)
		return 102;
	kt_post(c->rep, &id, sizeof(id));
	if (kt_await(c->cmd, NULL, 0, 20000) < 0)
		return 103;
	switch (c->end) {
	case END_EXIT:
		_exit(0);
	case END_DETACH:
		if (kt_detach(m.fd) < 0)
			return 104;
		kt_post(c->rep, &id, sizeof(id));
		kt_await(c->cmd, NULL, 0, 20000);
		return 0;
	default:
		for (;;)
			pause();
	}
}

/* A waiter on one word (NO_EVENTS: only the robust wake may end it). */
struct rwaiter {
	char name[SHMK_NAME_MAX];
	uint64_t off;
	uint32_t expected;
	int out;
};

static int rwaiter_main(void *arg)
{
	struct rwaiter *w = arg;
	struct kt_member m;
	int r;

	if (kt_join(&m, w->name, 0, 0, 0) < 0)
		return 100;
	r = kt_wait(m.fd, w->off, w->expected, SHMK_WAIT_NO_EVENTS,
		    20ll * 1000000000ll);
	kt_post(w->out, &r, sizeof(r));
	kt_leave(&m, true);
	return 0;
}

struct run {
	struct kt_member m;	/* this process: member 1, the observer */
	struct kt_pipe rep, cmd;
	struct rcfg cfg;
	pid_t pid;
	uint32_t id;
};

static int run_start(struct run *r, enum scen s, enum end e)
{
	kt_name(r->cfg.name, "rob");
	KT_RET(kt_join(&r->m, r->cfg.name, ARENA, SHMK_ATTACH_CREATE, 0600),
	       0);
	KT_RET(kt_pipe_open(&r->rep), 0);
	KT_RET(kt_pipe_open(&r->cmd), 0);
	r->cfg.scen = s;
	r->cfg.end = e;
	r->cfg.sh = 0;
	r->cfg.rep = r->rep.w;
	r->cfg.cmd = r->cmd.r;
	r->pid = kt_fork(robust_child, &r->cfg);
	if (kt_await(r->rep.r, &r->id, sizeof(r->id), KT_TIMEOUT_MS) < 0) {
		kt_diag("robust child did not start: exit %d",
			kt_reap(r->pid));
		return KT_FAIL;
	}
	KT_TRUE(r->id >= 2);
	return KT_PASS;
}

/* Kill (or end) the member; the observer gets its crash event. */
static int run_end(struct run *r)
{
	struct shmk_event ev;
	int code = 0;

	switch (r->cfg.end) {
	case END_KILL:
	case END_UNREG:
		kill(r->pid, SIGKILL);
		code = KT_KILLED(SIGKILL);
		break;
	case END_EXIT:
		KT_RET(kt_post(r->cmd.w, NULL, 0), 0);
		break;
	case END_DETACH:
		KT_RET(kt_post(r->cmd.w, NULL, 0), 0);
		KT_RET(kt_await(r->rep.r, &r->id, sizeof(r->id),
				KT_TIMEOUT_MS), 0);
		break;
	}
	if (r->cfg.end != END_DETACH)
		KT_EQ(kt_reap(r->pid), code);
	KT_EQ(kt_poll_in(r->m.fd, KT_TIMEOUT_MS), 1);
	KT_RET(kt_read_event(r->m.fd, &ev, true), sizeof(ev));
	KT_EQ(ev.type, SHMK_EVENT_EXIT);
	KT_EQ(ev.member_id, r->id);
	KT_EQ(ev.pid, r->pid);
	KT_EQ(!!(ev.flags & SHMK_EVENT_F_CRASH), r->cfg.end != END_DETACH);
	if (r->cfg.end == END_DETACH) {
		KT_RET(kt_post(r->cmd.w, NULL, 0), 0);
		KT_EQ(kt_reap(r->pid), 0);
	}
	return KT_PASS;
}

static uint32_t word(struct run *r, uint64_t off)
{
	return *kt_word(&r->m, off);
}

#define DIED SHMK_LOCK_OWNER_DIED

static int t_kill_basic(void)
{
	struct kt_pipe out;
	struct rwaiter w0, w1;
	struct run r;
	pid_t wp[2];
	int res;

	KT_DO(run_start(&r, S_BASIC, END_KILL));
	KT_RET(kt_pipe_open(&out), 0);
	memcpy(w0.name, r.cfg.name, sizeof(w0.name));
	w0.off = W(0);
	w0.expected = r.id;
	w0.out = out.w;
	w1 = w0;
	w1.off = W(1);
	w1.expected = r.id | SHMK_LOCK_WAITERS;
	wp[0] = kt_fork(rwaiter_main, &w0);
	KT_RET(kt_await_waiting(&wp[0], 1, 1), 0);
	wp[1] = kt_fork(rwaiter_main, &w1);
	KT_RET(kt_await_waiting(wp, 2, 2), 0);
	KT_DO(run_end(&r));
	/* Both waiters were woken by the walk (with 0: not an event). */
	KT_RET(kt_await(out.r, &res, sizeof(res), KT_TIMEOUT_MS), 0);
	KT_RET(res, 0);
	KT_RET(kt_await(out.r, &res, sizeof(res), KT_TIMEOUT_MS), 0);
	KT_RET(res, 0);
	KT_EQ(kt_reap(wp[0]), 0);
	KT_EQ(kt_reap(wp[1]), 0);
	KT_EQ(word(&r, W(0)), DIED);
	KT_EQ(word(&r, W(1)), DIED | SHMK_LOCK_WAITERS);
	KT_EQ(word(&r, W(2)), OTHER);
	KT_EQ(word(&r, W(3)), DIED);	/* op_pending */
	/* The list itself is left alone. */
	KT_EQ(*u64at(&r.m, E(0)), E(1));
	kt_leave(&r.m, true);
	return KT_PASS;
}

static int t_exit_no_detach(void)
{
	struct run r;

	KT_DO(run_start(&r, S_BASIC, END_EXIT));
	KT_DO(run_end(&r));
	KT_EQ(word(&r, W(0)), DIED);
	KT_EQ(word(&r, W(1)), DIED | SHMK_LOCK_WAITERS);
	KT_EQ(word(&r, W(2)), OTHER);
	KT_EQ(word(&r, W(3)), DIED);
	kt_leave(&r.m, true);
	return KT_PASS;
}

static int t_detach_untouched(void)
{
	struct run r;

	KT_DO(run_start(&r, S_BASIC, END_DETACH));
	KT_DO(run_end(&r));
	KT_EQ(word(&r, W(0)), r.id);
	KT_EQ(word(&r, W(1)), r.id | SHMK_LOCK_WAITERS);
	KT_EQ(word(&r, W(2)), OTHER);
	KT_EQ(word(&r, W(3)), r.id);
	kt_leave(&r.m, true);
	return KT_PASS;
}

static int t_unregistered_untouched(void)
{
	struct run r;

	KT_DO(run_start(&r, S_BASIC, END_UNREG));
	KT_DO(run_end(&r));
	KT_EQ(word(&r, W(0)), r.id);
	KT_EQ(word(&r, W(1)), r.id | SHMK_LOCK_WAITERS);
	KT_EQ(word(&r, W(3)), r.id);
	kt_leave(&r.m, true);
	return KT_PASS;
}

static int t_negative_delta(void)
{
	struct run r;

	KT_DO(run_start(&r, S_NEGDELTA, END_KILL));
	KT_DO(run_end(&r));
	KT_EQ(word(&r, W(0)), DIED);
	KT_EQ(word(&r, W(1)), DIED | SHMK_LOCK_WAITERS);
	kt_leave(&r.m, true);
	return KT_PASS;
}

static int t_empty_list_op_pending(void)
{
	struct run r;

	KT_DO(run_start(&r, S_EMPTYOP, END_KILL));
	KT_DO(run_end(&r));
	KT_EQ(word(&r, W(0)), DIED);
	KT_EQ(word(&r, W(1)), r.id);
	kt_leave(&r.m, true);
	return KT_PASS;
}

static int t_bad_op_pending(void)
{
	struct run r;

	KT_DO(run_start(&r, S_BADOP, END_KILL));
	KT_DO(run_end(&r));
	/* The list is valid and walked; the bad op_pending is skipped. */
	KT_EQ(word(&r, W(0)), DIED);
	KT_EQ(word(&r, W(1)), DIED);
	kt_leave(&r.m, true);
	return KT_PASS;
}

static int t_cycle(void)
{
	struct run r;

	KT_DO(run_start(&r, S_CYCLE, END_KILL));
	KT_DO(run_end(&r));
	KT_EQ(word(&r, W(0)), DIED);
	KT_EQ(word(&r, W(1)), DIED);
	KT_EQ(word(&r, W(2)), r.id);	/* not on the list */
	kt_leave(&r.m, true);
	return KT_PASS;
}

static int t_out_of_range(void)
{
	struct run r;

	KT_DO(run_start(&r, S_RANGE, END_KILL));
	KT_DO(run_end(&r));
	KT_EQ(word(&r, W(0)), DIED);
	KT_EQ(word(&r, W(1)), DIED);
	KT_EQ(word(&r, W(2)), r.id);
	kt_leave(&r.m, true);
	return KT_PASS;
}

static int t_misaligned(void)
{
	struct run r;

	KT_DO(run_start(&r, S_MISALIGN, END_KILL));
	KT_DO(run_end(&r));
	KT_EQ(word(&r, W(0)), DIED);
	KT_EQ(word(&r, W(1)), DIED);
	/* The walk stopped at the misaligned link. */
	KT_EQ(word(&r, E(2) + 4 + DELTA), r.id);
	KT_EQ(word(&r, W(2)), r.id);
	kt_leave(&r.m, true);
	return KT_PASS;
}

static int t_long_chain(void)
{
	struct run r;
	int i, died = 0;

	KT_DO(run_start(&r, S_LONG, END_KILL));
	KT_DO(run_end(&r));
	/* A prefix of at most SHMK_ROBUST_LIST_LIMIT entries was walked. */
	for (i = 0; i < LONG_N; i++) {
		uint32_t v = word(&r, C(i) + DELTA);

		if (v == DIED && died == i)
			died++;
		else if (v != r.id)
			kt_diag("entry %d: 0x%x", i, v);
		if (i >= died)
			KT_EQ(v, r.id);
	}
	kt_diag("walked %d of %d entries (limit %d)", died, LONG_N,
		SHMK_ROBUST_LIST_LIMIT);
	KT_TRUE(died >= SHMK_ROBUST_LIST_LIMIT - 1);
	KT_TRUE(died <= SHMK_ROBUST_LIST_LIMIT);
	kt_leave(&r.m, true);
	return KT_PASS;
}

static int t_bad_delta(void)
{
	struct run r;

	KT_DO(run_start(&r, S_BADDELTA, END_KILL));
	KT_DO(run_end(&r));
	KT_EQ(word(&r, W(0)), r.id);
	KT_EQ(word(&r, W(1)), r.id);
	kt_leave(&r.m, true);
	return KT_PASS;
}

static int t_bad_head_next(void)
{
	struct run r;

	KT_DO(run_start(&r, S_BADHEAD, END_KILL));
	KT_DO(run_end(&r));
	KT_EQ(word(&r, W(0)), r.id);
	kt_leave(&r.m, true);
	return KT_PASS;
}

static int t_set_robust_errors(void)
{
	struct kt_member m, ro;
	struct shmk_robust rb;
	char nm[SHMK_NAME_MAX];
	uint64_t us;

	kt_name(nm, "roberr");
	KT_RET(kt_join(&m, nm, ARENA, SHMK_ATTACH_CREATE, 0600), 0);
	us = m.at.user_size;
	memset(&rb, 0, sizeof(rb));
	rb.head_offset = HEAD;
	rb.flags = 1;
	KT_RET(kt_ioctl(m.fd, SHMK_IOC_SET_ROBUST, &rb), -EINVAL);
	rb.flags = 0;
	rb.pad = 1;
	KT_RET(kt_ioctl(m.fd, SHMK_IOC_SET_ROBUST, &rb), -EINVAL);
	rb.pad = 0;
	rb.reserved = 1;
	KT_RET(kt_ioctl(m.fd, SHMK_IOC_SET_ROBUST, &rb), -EINVAL);
	KT_RET(kt_set_robust(m.fd, 4), -EINVAL);
	KT_RET(kt_set_robust(m.fd, HEAD + 1), -EINVAL);
	KT_RET(kt_set_robust(m.fd, us), -EINVAL);
	/* The head must fit: 24 bytes. */
	KT_RET(kt_set_robust(m.fd, us - 16), -EINVAL);
	KT_RET(kt_set_robust(m.fd, us - 8), -EINVAL);
	KT_RET(kt_set_robust(m.fd, ~0ull - 7), -EINVAL);
	KT_RET(kt_set_robust(m.fd, 1ull << 62), -EINVAL);
	/* Valid ones. */
	KT_RET(kt_set_robust(m.fd, us - 24), 0);
	KT_RET(kt_set_robust(m.fd, 0), 0);
	KT_RET(kt_set_robust(m.fd, SHMK_ROBUST_NONE), 0);
	KT_RET(kt_set_robust(m.fd, SHMK_ROBUST_NONE), 0);
	/* A read-only member owns no locks. */
	KT_RET(kt_join(&ro, nm, 0, SHMK_ATTACH_RDONLY, 0), 0);
	KT_RET(kt_set_robust(ro.fd, HEAD), -EPERM);
	kt_leave(&ro, true);
	kt_leave(&m, true);
	return KT_PASS;
}

/*
 * Two members with lists in the same arena die; a third member's words
 * are on neither list's owner: each walk changes only its own member's.
 */
static int t_two_deaths(void)
{
	struct kt_member m;
	struct kt_pipe rep, cmd;
	struct shmk_event ev;
	struct rcfg ca, cb;
	uint32_t ida, idb;
	pid_t pa, pb;
	int i, seen = 0;

	kt_name(ca.name, "rob2");
	KT_RET(kt_join(&m, ca.name, ARENA, SHMK_ATTACH_CREATE, 0600), 0);
	KT_RET(kt_pipe_open(&rep), 0);
	KT_RET(kt_pipe_open(&cmd), 0);
	ca.scen = S_BASIC;
	ca.end = END_KILL;
	ca.sh = 0;
	ca.rep = rep.w;
	ca.cmd = cmd.r;
	cb = ca;
	cb.sh = 0x800;
	pa = kt_fork(robust_child, &ca);
	KT_RET(kt_await(rep.r, &ida, sizeof(ida), KT_TIMEOUT_MS), 0);
	pb = kt_fork(robust_child, &cb);
	KT_RET(kt_await(rep.r, &idb, sizeof(idb), KT_TIMEOUT_MS), 0);
	KT_TRUE(ida != idb);
	/* a's list also holds a word owned by b: a's walk must skip it. */
	*kt_word(&m, W(2)) = idb;
	kill(pa, SIGKILL);
	kill(pb, SIGKILL);
	KT_EQ(kt_reap(pa), KT_KILLED(SIGKILL));
	KT_EQ(kt_reap(pb), KT_KILLED(SIGKILL));
	for (i = 0; i < 2; i++) {
		KT_EQ(kt_poll_in(m.fd, KT_TIMEOUT_MS), 1);
		KT_RET(kt_read_event(m.fd, &ev, true), sizeof(ev));
		KT_EQ(ev.type, SHMK_EVENT_EXIT);
		seen |= ev.member_id == ida ? 1 : ev.member_id == idb ? 2 : 4;
	}
	KT_EQ(seen, 3);
	KT_EQ(*kt_word(&m, W(0)), DIED);
	KT_EQ(*kt_word(&m, W(1)), DIED | SHMK_LOCK_WAITERS);
	KT_EQ(*kt_word(&m, W(2)), idb);
	KT_EQ(*kt_word(&m, W(3)), DIED);
	KT_EQ(*kt_word(&m, W(0) + 0x800), DIED);
	KT_EQ(*kt_word(&m, W(1) + 0x800), DIED | SHMK_LOCK_WAITERS);
	KT_EQ(*kt_word(&m, W(2) + 0x800), OTHER);
	KT_EQ(*kt_word(&m, W(3) + 0x800), DIED);
	kt_leave(&m, true);
	return KT_PASS;
}

static const struct kt_case cases[] = {
	{ "set_robust: flags/pad/reserved/offsets -> EINVAL, RDONLY -> EPERM",
	  t_set_robust_errors },
	{ "kill -9: owned words OWNER_DIED (WAITERS kept), others and list unchanged, waiters woken, op_pending",
	  t_kill_basic },
	{ "exit without detach: list walked", t_exit_no_detach },
	{ "clean DETACH: words untouched", t_detach_untouched },
	{ "unregistered (SHMK_ROBUST_NONE): words untouched",
	  t_unregistered_untouched },
	{ "negative lock_delta", t_negative_delta },
	{ "empty list, op_pending handled", t_empty_list_op_pending },
	{ "bad op_pending skipped, list walked", t_bad_op_pending },
	{ "malicious: cycle survived", t_cycle },
	{ "malicious: out-of-range entry stops the walk", t_out_of_range },
	{ "malicious: misaligned entry stops the walk", t_misaligned },
	{ "malicious: chain longer than SHMK_ROBUST_LIST_LIMIT",
	  t_long_chain },
	{ "malicious: lock words out of range", t_bad_delta },
	{ "malicious: misaligned head.next", t_bad_head_next },
	{ "two members with lists die: each walk changes only its own words",
	  t_two_deaths },
};

int main(int argc, char **argv)
{
	return kt_main(argc, argv, cases, KT_ARRAY_SIZE(cases));
}
