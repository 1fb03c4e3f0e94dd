// SPDX-License-Identifier: GPL-2.0
/*
 * t_multi: several processes and several arenas at once: memory written by
 * one member is seen by the others, arenas are apart, concurrent attach
 * and create races, churn, mass deaths, re-attach after a crash.
 */
#include "kt.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

static struct kt_params lim;

/* The module's limits, for cases that scale with them. */
static int limits(void)
{
	KT_RET(kt_params(&lim), 0);
	return KT_PASS;
}

static uint32_t pattern(uint64_t i)
{
	return (uint32_t)(i * 2654435761u) ^ 0x5bd1e995u;
}

struct vis {
	char name[SHMK_NAME_MAX];
	int done;	/* write end */
};

static int vis_child(void *arg)
{
	struct vis *v = arg;
	struct kt_member m;
	uint64_t i, n;

	KT_RET(kt_join(&m, v->name, 0, 0, 0), 0);
	n = m.at.user_size / 4;
	for (i = 0; i < n; i++)
		KT_EQ(*kt_word(&m, 4 * i), pattern(i));
	for (i = 0; i < n; i++)
		*kt_word(&m, 4 * i) = ~pattern(i);
	kt_post(v->done, NULL, 0);
	kt_leave(&m, true);
	return KT_PASS;
}

static int t_visibility(void)
{
	struct kt_member m;
	struct kt_pipe p;
	struct vis v;
	uint64_t i, n;
	pid_t pid;

	KT_DO(limits());
	kt_name(v.name, "vis");
	KT_RET(kt_join(&m, v.name, lim.max_arena_size < 64 * 4096 ?
		       lim.max_arena_size : 64 * 4096, SHMK_ATTACH_CREATE,
		       0600), 0);
	n = m.at.user_size / 4;
	for (i = 0; i < n; i++)
		*kt_word(&m, 4 * i) = pattern(i);
	KT_RET(kt_pipe_open(&p), 0);
	v.done = p.w;
	pid = kt_fork(vis_child, &v);
	KT_RET(kt_await(p.r, NULL, 0, KT_TIMEOUT_MS), 0);
	for (i = 0; i < n; i++)
		KT_EQ(*kt_word(&m, 4 * i), ~pattern(i));
	KT_EQ(kt_reap(pid), KT_PASS);
	kt_leave(&m, true);
	return KT_PASS;
}

#define NA 4	/* arenas */
#define NP 4	/* processes: this one + 3 */

struct grid {
	char names[NA][SHMK_NAME_MAX];
	int p;
	int written;	/* write end */
	int go;		/* read end */
};

static uint32_t cell(int a, int p)
{
	return 0xc0de0000u | (uint32_t)(a << 8) | (uint32_t)p;
}

static int grid_check(struct kt_member *m)
{
	int a, p;

	for (a = 0; a < NA; a++)
		for (p = 0; p < NP; p++)
			KT_EQ(*kt_word(&m[a], 64 * p), cell(a, p));
	return KT_PASS;
}

static int grid_child(void *arg)
{
	struct grid *g = arg;
	struct kt_member m[NA];
	int a;

	for (a = 0; a < NA; a++) {
		KT_RET(kt_join(&m[a], g->names[a], 0, 0, 0), 0);
		*kt_word(&m[a], 64 * g->p) = cell(a, g->p);
	}
	kt_post(g->written, NULL, 0);
	KT_RET(kt_await(g->go, NULL, 0, KT_TIMEOUT_MS), 0);
	KT_DO(grid_check(m));
	for (a = 0; a < NA; a++)
		kt_leave(&m[a], true);
	return KT_PASS;
}

static int t_grid(void)
{
	struct kt_member m[NA];
	struct kt_pipe w, go;
	struct grid g;
	pid_t pids[NP];
	int a, p;

	KT_DO(limits());
	if (lim.max_members < NP || lim.max_arenas < NA)
		return kt_skip("needs max_members >= %d, max_arenas >= %d",
			       NP, NA);
	for (a = 0; a < NA; a++) {
		kt_name(g.names[a], "grid");
		KT_RET(kt_join(&m[a], g.names[a], 4096, SHMK_ATTACH_CREATE,
			       0600), 0);
		*kt_word(&m[a], 0) = cell(a, 0);
	}
	KT_RET(kt_pipe_open(&w), 0);
	KT_RET(kt_pipe_open(&go), 0);
	g.written = w.w;
	g.go = go.r;
	for (p = 1; p < NP; p++) {
		g.p = p;
		pids[p] = kt_fork(grid_child, &g);
	}
	for (p = 1; p < NP; p++)
		KT_RET(kt_await(w.r, NULL, 0, KT_TIMEOUT_MS), 0);
	for (a = 0; a < NA; a++)
		KT_EQ(m[a].ctrl->members_live, NP);
	KT_DO(grid_check(m));
	for (p = 1; p < NP; p++)
		KT_RET(kt_post(go.w, NULL, 0), 0);
	for (p = 1; p < NP; p++)
		KT_EQ(kt_reap(pids[p]), KT_PASS);
	for (a = 0; a < NA; a++)
		kt_leave(&m[a], true);
	return KT_PASS;
}

#define NINC 20000

struct ctr {
	char name[SHMK_NAME_MAX];
	int ready, go;
};

static int counter_child(void *arg)
{
	struct ctr *c = arg;
	struct kt_member m;
	int i;

	KT_RET(kt_join(&m, c->name, 0, 0, 0), 0);
	kt_post(c->ready, NULL, 0);
	KT_RET(kt_await(c->go, NULL, 0, KT_TIMEOUT_MS), 0);
	for (i = 0; i < NINC; i++)
		__atomic_fetch_add(kt_word(&m, 0), 1, __ATOMIC_RELAXED);
	kt_leave(&m, true);
	return KT_PASS;
}

static int t_atomic_counter(void)
{
	struct kt_member m;
	struct kt_pipe rdy, go;
	struct ctr c;
	pid_t pids[4];
	int i, n;

	KT_DO(limits());
	n = lim.max_members - 1 < 4 ? (int)lim.max_members - 1 : 4;
	kt_name(c.name, "ctr");
	KT_RET(kt_join(&m, c.name, 4096, SHMK_ATTACH_CREATE, 0600), 0);
	KT_RET(kt_pipe_open(&rdy), 0);
	KT_RET(kt_pipe_open(&go), 0);
	c.ready = rdy.w;
	c.go = go.r;
	for (i = 0; i < n; i++)
		pids[i] = kt_fork(counter_child, &c);
	for (i = 0; i < n; i++)
		KT_RET(kt_await(rdy.r, NULL, 0, KT_TIMEOUT_MS), 0);
	for (i = 0; i < n; i++)
		KT_RET(kt_post(go.w, NULL, 0), 0);
	for (i = 0; i < n; i++)
		KT_EQ(kt_reap(pids[i]), KT_PASS);
	KT_EQ(*kt_word(&m, 0), n * NINC);
	kt_leave(&m, true);
	return KT_PASS;
}

static int t_sixteen_arenas(void)
{
	struct kt_member m[16];
	struct kt_stats st;
	char nm[SHMK_NAME_MAX];
	int i, j, n = 16;

	KT_DO(limits());
	if (kt_stats(&st) == 0 && lim.max_arenas - st.arenas < n)
		n = (int)(lim.max_arenas - st.arenas);
	if ((uint64_t)n * 4096 > lim.max_arena_size)
		n = (int)(lim.max_arena_size / 4096);
	for (i = 0; i < n; i++) {
		kt_name(nm, "x16");
		KT_RET(kt_join(&m[i], nm, (uint64_t)(i + 1) * 4096,
			       SHMK_ATTACH_CREATE | SHMK_ATTACH_EXCL, 0600), 0);
		KT_EQ(m[i].at.user_size, (uint64_t)(i + 1) * 4096);
		for (j = 0; j < i; j++)
			KT_TRUE(m[i].at.arena_id != m[j].at.arena_id);
		*kt_word(&m[i], m[i].at.user_size - 4) = 0xa000u + (uint32_t)i;
	}
	for (i = 0; i < n; i++) {
		KT_EQ(*kt_word(&m[i], m[i].at.user_size - 4),
		      0xa000u + (uint32_t)i);
		KT_EQ(*kt_word(&m[i], 0), 0);
	}
	for (i = 0; i < n; i++)
		kt_leave(&m[i], i & 1);
	return KT_PASS;
}

/* Concurrent attach of one name by many processes. */
struct race {
	char name[SHMK_NAME_MAX];
	uint32_t flags;
	int go;		/* read end */
	int out;	/* write end: struct race_res */
	int hold;	/* read end */
};

struct race_res {
	int ret;
	uint32_t member_id, arena_id, out_flags;
};

static int race_child(void *arg)
{
	struct race *r = arg;
	struct race_res res;
	struct shmk_attach at;
	int fd = kt_open();

	memset(&res, 0, sizeof(res));
	if (fd < 0)
		return 100;
	if (kt_await(r->go, NULL, 0, KT_TIMEOUT_MS) < 0)
		return 101;
	res.ret = kt_attach(fd, r->name, 4096, r->flags, 0600, &at);
	res.member_id = at.member_id;
	res.arena_id = at.arena_id;
	res.out_flags = at.out_flags;
	kt_post(r->out, &res, sizeof(res));
	kt_await(r->hold, NULL, 0, KT_TIMEOUT_MS);
	close(fd);
	return 0;
}

#define NR 8

static int race_case(uint32_t flags)
{
	struct kt_pipe go, out, hold;
	struct race_res res[NR];
	struct race r;
	pid_t pids[NR];
	uint32_t ids = 0, arena = 0;
	int i, created = 0, ok = 0, exist = 0;

	KT_DO(limits());
	if (lim.max_members < NR)
		return kt_skip("needs max_members >= %d", NR);
	kt_name(r.name, "race");
	r.flags = flags;
	KT_RET(kt_pipe_open(&go), 0);
	KT_RET(kt_pipe_open(&out), 0);
	KT_RET(kt_pipe_open(&hold), 0);
	r.go = go.r;
	r.out = out.w;
	r.hold = hold.r;
	for (i = 0; i < NR; i++)
		pids[i] = kt_fork(race_child, &r);
	/* One write releases them all at once. */
	{
		char b[NR];

		memset(b, 1, sizeof(b));
		KT_RET(kt_post(go.w, b, sizeof(b)), 0);
	}
	for (i = 0; i < NR; i++)
		KT_RET(kt_await(out.r, &res[i], sizeof(res[i]), KT_TIMEOUT_MS),
		       0);
	for (i = 0; i < NR; i++) {
		if (res[i].ret == -EEXIST) {
			exist++;
			continue;
		}
		KT_RET(res[i].ret, 0);
		ok++;
		if (res[i].out_flags & SHMK_ATTACHED_CREATED)
			created++;
		if (!arena)
			arena = res[i].arena_id;
		KT_EQ(res[i].arena_id, arena);
		KT_TRUE(res[i].member_id >= 1 && res[i].member_id <= 32);
		KT_TRUE(!(ids & (1u << res[i].member_id)));
		ids |= 1u << res[i].member_id;
	}
	KT_EQ(created, 1);
	if (flags & SHMK_ATTACH_EXCL) {
		KT_EQ(ok, 1);
		KT_EQ(exist, NR - 1);
	} else {
		KT_EQ(ok, NR);
		KT_EQ(ids, ((1u << NR) - 1) << 1);	/* ids 1..NR */
	}
	for (i = 0; i < NR; i++)
		KT_RET(kt_post(hold.w, NULL, 0), 0);
	for (i = 0; i < NR; i++)
		KT_EQ(kt_reap(pids[i]), 0);
	{
		int fd = kt_open();

		KT_TRUE(fd >= 0);
		KT_RET(kt_attach(fd, r.name, 0, 0, 0, NULL), -ENOENT);
		close(fd);
	}
	return KT_PASS;
}

static int t_race_create(void)
{
	return race_case(SHMK_ATTACH_CREATE);
}

static int t_race_excl(void)
{
	return race_case(SHMK_ATTACH_CREATE | SHMK_ATTACH_EXCL);
}

/* Members coming and going from several processes; every end accounted. */
#define NCHURN 4
#define ROUNDS 50

static int churn_child(void *arg)
{
	const char *nm = arg;
	struct kt_member m;
	int i;

	for (i = 0; i < ROUNDS; i++) {
		KT_RET(kt_join(&m, nm, 0, 0, 0), 0);
		__atomic_fetch_add(kt_word(&m, 0), 1, __ATOMIC_RELAXED);
		kt_leave(&m, i & 1);	/* detach or plain close */
	}
	return KT_PASS;
}

static int t_churn(void)
{
	struct kt_member m;
	struct shmk_event ev;
	char nm[SHMK_NAME_MAX];
	pid_t pids[NCHURN];
	uint64_t exits = 0, lost = 0, detach = 0;
	int i, r;

	KT_DO(limits());
	if (lim.max_members < NCHURN + 1)
		return kt_skip("needs max_members >= %d", NCHURN + 1);
	kt_name(nm, "churn");
	KT_RET(kt_join(&m, nm, 4096, SHMK_ATTACH_CREATE, 0600), 0);
	for (i = 0; i < NCHURN; i++)
		pids[i] = kt_fork(churn_child, nm);
	for (i = 0; i < NCHURN; i++)
		KT_EQ(kt_reap(pids[i]), KT_PASS);
	KT_EQ(*kt_word(&m, 0), NCHURN * ROUNDS);
	KT_EQ(m.ctrl->members_live, 1);
	while ((r = kt_read_event(m.fd, &ev, true)) == sizeof(ev)) {
		if (ev.type == SHMK_EVENT_OVERFLOW) {
			lost += ev.lost;
			continue;
		}
		KT_EQ(ev.type, SHMK_EVENT_EXIT);
		exits++;
		if (ev.how == SHMK_END_DETACH)
			detach++;
		else
			KT_EQ(ev.how, SHMK_END_CLOSE);
	}
	KT_RET(r, -EAGAIN);
	kt_diag("%llu exit events, %llu lost", (unsigned long long)exits,
		(unsigned long long)lost);
	KT_EQ(exits + lost, NCHURN * ROUNDS);
	kt_leave(&m, true);
	return KT_PASS;
}

/* Many members killed at once: one event each, all slots dead. */
struct victim {
	char name[SHMK_NAME_MAX];
	int ready;
};

static int victim_main(void *arg)
{
	struct victim *v = arg;
	struct kt_member m;

	if (kt_join(&m, v->name, 0, 0, 0) < 0)
		return 100;
	kt_post(v->ready, &m.at.member_id, sizeof(m.at.member_id));
	for (;;)
		pause();
}

#define NV 6

static int t_mass_kill(void)
{
	struct kt_member m;
	struct kt_pipe rdy;
	struct shmk_event ev;
	struct victim v;
	pid_t pids[NV];
	uint32_t id, seen = 0, want = 0;
	int i;

	KT_DO(limits());
	if (lim.max_members < NV + 1)
		return kt_skip("needs max_members >= %d", NV + 1);
	kt_name(v.name, "mass");
	KT_RET(kt_join(&m, v.name, 4096, SHMK_ATTACH_CREATE, 0600), 0);
	KT_RET(kt_pipe_open(&rdy), 0);
	v.ready = rdy.w;
	for (i = 0; i < NV; i++) {
		pids[i] = kt_fork(victim_main, &v);
		KT_RET(kt_await(rdy.r, &id, sizeof(id), KT_TIMEOUT_MS), 0);
		want |= 1u << id;
	}
	KT_EQ(m.ctrl->members_live, NV + 1);
	for (i = 0; i < NV; i++)
		kill(pids[i], SIGKILL);
	for (i = 0; i < NV; i++)
		KT_EQ(kt_reap(pids[i]), KT_KILLED(SIGKILL));
	for (i = 0; i < NV; i++) {
		KT_RET(kt_read_event(m.fd, &ev, true), sizeof(ev));
		KT_EQ(ev.type, SHMK_EVENT_EXIT);
		KT_EQ(ev.how, SHMK_END_SIGNAL);
		KT_EQ(ev.status, SIGKILL);
		KT_TRUE(!(seen & (1u << ev.member_id)));
		seen |= 1u << ev.member_id;
	}
	KT_RET(kt_read_event(m.fd, &ev, true), -EAGAIN);
	KT_EQ(seen, want);
	KT_EQ(m.ctrl->members_live, 1);
	for (i = 2; i <= NV + 1; i++)
		KT_EQ(kt_slot(m.ctrl, (uint32_t)i)->state, SHMK_MEMBER_DEAD);
	kt_leave(&m, true);
	return KT_PASS;
}

/*
 * A crashed writer's data stays, and so does its record; a new process
 * takes a never-used slot.
 */
static int writer_crash(void *arg)
{
	struct kt_member m;

	if (kt_join(&m, arg, 0, 0, 0) < 0)
		return 100;
	*kt_word(&m, 256) = 0xfeedface;
	raise(SIGKILL);
	return 101;
}

static int reader_after(void *arg)
{
	struct kt_member m;

	KT_RET(kt_join(&m, arg, 0, 0, 0), 0);
	KT_EQ(m.at.member_id, 3);
	KT_EQ(*kt_word(&m, 256), 0xfeedface);
	kt_leave(&m, true);
	return KT_PASS;
}

static int t_crash_then_reattach(void)
{
	struct kt_member m;
	char nm[SHMK_NAME_MAX];
	uint32_t gen;

	kt_name(nm, "reatt");
	KT_RET(kt_join(&m, nm, 4096, SHMK_ATTACH_CREATE, 0600), 0);
	KT_EQ(kt_reap(kt_fork(writer_crash, nm)), KT_KILLED(SIGKILL));
	gen = kt_slot(m.ctrl, 2)->generation;
	KT_EQ(kt_reap(kt_fork(reader_after, nm)), KT_PASS);
	KT_EQ(kt_slot(m.ctrl, 2)->generation, gen);
	KT_EQ(kt_slot(m.ctrl, 2)->state, SHMK_MEMBER_DEAD);
	KT_EQ(kt_slot(m.ctrl, 2)->how, SHMK_END_SIGNAL);
	KT_EQ(kt_slot(m.ctrl, 2)->status, SIGKILL);
	kt_leave(&m, true);
	return KT_PASS;
}

static const struct kt_case cases[] = {
	{ "memory written by one process is seen by another (64 pages)",
	  t_visibility },
	{ "4 arenas x 4 processes: every write seen, arenas apart", t_grid },
	{ "atomic counter from up to 4 processes", t_atomic_counter },
	{ "up to 16 arenas in one process", t_sixteen_arenas },
	{ "8 processes race to CREATE one name: one creator, ids 1..8",
	  t_race_create },
	{ "8 processes race to CREATE|EXCL: one wins, 7 EEXIST",
	  t_race_excl },
	{ "churn: 200 joins/leaves from 4 processes, all accounted",
	  t_churn },
	{ "6 members killed at once: 6 events, slots dead", t_mass_kill },
	{ "crashed writer's data and record stay, new member takes a new slot",
	  t_crash_then_reattach },
};

int main(int argc, char **argv)
{
	return kt_main(argc, argv, cases, KT_ARRAY_SIZE(cases));
}
