/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Crash-cleanup torture: the state shared by the driver and its members,
 * and the helpers both use. One binary: the driver (t_torture) re-executes
 * itself with --child for every member it starts.
 *
 * Layout: one zeroed block allocated by the driver (SHMK_ALLOC_LONG) whose
 * arena offset is published at root slot ROOT_STATE. Everything in it is
 * read and written with atomics, or under one of its robust locks.
 */
#ifndef TORTURE_H
#define TORTURE_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shmk.h"
#ifdef TORTURE_MSG
#include "shmk_msg.h"
#endif

#define T_MAGIC		0x54525455U	/* "UTRT" */
#define ROOT_STATE	1		/* root slot of the state block */
#define MAXCLI		8
#define NROLE		(MAXCLI + 1)	/* role 0: the server */
#define NCELL		4
#define NBOX		32
#define MAXID		32		/* library member slots we create */

#define MS		((int64_t)1000000)
#define SEC		((int64_t)1000000000)

/* Families of failures members report (struct tstate.bad). */
enum fam {
	F_LOCK,		/* a lock misbehaved: torn state, not recoverable */
	F_MSG,		/* lost / duplicated / misdelivered between live peers */
	F_CONTENT,	/* payload corrupt, copy on write broken */
	F_STUCK,	/* an operation that must finish did not */
	F_API,		/* a call failed in a way it must not */
	NFAM
};

/* A counter another process can wait for (futex word + "watched" flag). */
struct ctr {
	uint32_t v;
	uint32_t watch;
};

/* A shared record protected by a robust lock: a == b when consistent. */
struct cell {
	struct shmk_lock lock;	/* protects a, b and last */
	uint64_t a;		/* bumped first */
	uint64_t b;		/* bumped last */
	uint64_t last;		/* idgen of the last updater */
	uint64_t pad;
};

#define BOX_FREE	0
#define BOX_FILLING	1
#define BOX_POSTED	2

/* A buffer token posted by one member for another. */
struct box {
	uint32_t state;		/* BOX_* */
	uint32_t from_role;
	uint64_t from;		/* idgen of the sender */
	uint64_t to;		/* idgen of the receiver */
	uint64_t mseq;		/* per (sender, receiver) pair */
	uint64_t order;		/* board-wide posting number */
	uint64_t token;		/* shmk_buf_pass() token */
};

/*
 * The board: boxes of buffer tokens between members, all under one robust
 * lock. Every update bumps seq first and sets seq_done = seq last, so a
 * holder can tell an interrupted update (seq != seq_done) from a clean one.
 */
struct board {
	struct shmk_lock lock;	/* protects everything below */
	uint64_t seq;		/* bumped when an update starts */
	uint64_t seq_done;	/* = seq when it is complete */
	uint64_t nposted;	/* boxes in BOX_POSTED */
	uint64_t order;		/* last posting number */
	struct box box[NBOX];
};

/* What one member slot (role) publishes to the driver. */
struct role {
	uint64_t idgen;		/* this incarnation, once ready */
	uint64_t conn_srv;	/* client: server idgen while connected */
	uint64_t gone_srv;	/* client: server of the last SERVER_GONE */
	uint64_t gone_ns;	/* ... and when it arrived */
	struct ctr up;		/* bumped when an incarnation is ready */
	struct ctr prog;	/* loop iterations */
	struct ctr echoes;	/* echoes checked */
	int32_t pid;
	uint32_t pad;
};

/* When a survivor first saw member (id, gen) end. */
struct seen {
	uint64_t idgen;
	uint64_t t_ns;
};

/* Counters for the summary (atomic adds). */
struct tstats {
	uint64_t req_ok, req_lost_dead, req_stale;
	uint64_t echo_ok, echo_lost_dead, echo_stale;
	uint64_t pub_sent, pub_deliv, pub_ok, pub_gap, pub_gap_dead;
	uint64_t pub_skipped;
	uint64_t board_ok, board_lost_dead, board_full, board_cleared;
	uint64_t board_repairs;
	uint64_t cell_ops, lock_recov, torn_repaired;
	uint64_t cow_checks, hog_ok, alloc_timeouts, send_retries, send_fail;
	uint64_t alloc_waits, alloc_waited_ok;
	uint64_t overflow, peer_events, recv_full;
};

struct tstate {
	uint32_t magic;
	uint32_t nroles;	/* 1 + clients */
	uint32_t msg;		/* 1: sessions in use */
	uint32_t pad;
	uint64_t bad[NFAM];
	struct ctr notify;	/* bumped when a seen/gone record is written */
	struct tstats s;
	struct cell cell[NCELL];
	struct board board;
	struct role r[NROLE];
	struct seen seen[MAXID + 1];
};

/* ---- small helpers ------------------------------------------------------- */

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static inline uint64_t idgen_of(uint32_t id, uint32_t gen)
{
	return ((uint64_t)id << 32) | gen;
}

#define IG_ID(x)	((uint32_t)((x) >> 32))
#define IG_GEN(x)	((uint32_t)(x))

/* xorshift64*: the seeded PRNG of the driver and of every member. */
static inline uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static inline uint64_t rnd_below(uint64_t *s, uint64_t n)
{
	return n ? rnd(s) % n : 0;
}

static inline uint64_t ld64(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void st64(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static inline void add64(uint64_t *p, uint64_t v)
{
	__atomic_fetch_add(p, v, __ATOMIC_RELAXED);
}

static inline uint32_t ld32(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

/* Bump a watched counter; wake the watcher if there is one. */
static inline void ctr_bump(struct shmk_arena *a, struct ctr *c)
{
	__atomic_fetch_add(&c->v, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&c->watch, __ATOMIC_SEQ_CST))
		shmk_arena_wake(a, shmk_arena_off(a, &c->v), SHMK_WAKE_ALL);
}

static inline int alive(struct shmk_arena *a, uint64_t idgen)
{
	return idgen && shmk_arena_member_alive(a, IG_ID(idgen),
						IG_GEN(idgen)) == 1;
}

/* ---- payloads ------------------------------------------------------------ */

#define PAY_MAGIC	0x7061796cU	/* "lyap" */
#define K_REQ		1		/* client -> server, echoed back */
#define K_PUB		2		/* server -> subscribers */
#define K_BOARD		3		/* member -> member through the board */

struct pay {
	uint32_t magic;
	uint32_t kind;
	uint64_t from;		/* idgen of the sender */
	uint64_t to;		/* idgen of the receiver (0: any) */
	uint64_t seq;		/* per (sender, receiver) pair */
	uint64_t stamp;		/* K_REQ: the echoing server's idgen */
	uint64_t boff;		/* K_PUB: arena offset of the buffer */
	uint32_t len;		/* bytes of the whole payload */
	uint32_t from_role;
};

/* The bytes after the header: a function of (from, seq). */
static inline void pay_fill(struct pay *p, uint32_t kind, uint64_t from,
			    uint64_t to, uint64_t seq, uint32_t len,
			    uint32_t from_role)
{
	uint8_t *b = (uint8_t *)(p + 1);
	uint64_t s = (from ^ (seq * 0x9e3779b97f4a7c15ULL)) | 1, x = 0;
	uint32_t i, n = len - (uint32_t)sizeof(*p);

	memset(p, 0, sizeof(*p));
	p->magic = PAY_MAGIC;
	p->kind = kind;
	p->from = from;
	p->to = to;
	p->seq = seq;
	p->len = len;
	p->from_role = from_role;
	for (i = 0; i < n; i++) {
		if ((i & 7) == 0)
			x = rnd(&s);
		b[i] = (uint8_t)(x >> ((i & 7) * 8));
	}
}

/* 0 if intact, else a short reason. */
static inline const char *pay_bad(const void *data, size_t len,
				  uint32_t kind)
{
	const struct pay *p = data;
	const uint8_t *b;
	uint64_t s, x = 0;
	uint32_t i, n;

	if (!data || len < sizeof(*p))
		return "too short";
	if (p->magic != PAY_MAGIC)
		return "bad magic";
	if (p->kind != kind)
		return "wrong kind";
	if (p->len != len)
		return "wrong length";
	b = (const uint8_t *)(p + 1);
	s = (p->from ^ (p->seq * 0x9e3779b97f4a7c15ULL)) | 1;
	n = (uint32_t)len - (uint32_t)sizeof(*p);
	for (i = 0; i < n; i++) {
		if ((i & 7) == 0)
			x = rnd(&s);
		if (b[i] != (uint8_t)(x >> ((i & 7) * 8)))
			return "pattern differs";
	}
	return NULL;
}

/* ---- shared between driver and members (member.c) --------------------- */

struct tctx {
	struct shmk_arena *a;
	struct tstate *st;
	uint64_t me;		/* own idgen */
	int role;		/* -1: the driver */
	uint64_t rng;
	int nbad[NFAM];		/* diagnostics printed (rate limit) */
};

__attribute__((format(printf, 3, 4)))
void t_bad(struct tctx *c, enum fam f, const char *fmt, ...);
/* Take the board lock, repairing after a dead owner. 0 or -errno. */
int board_lock(struct tctx *c);
void board_unlock(struct tctx *c);
/* Every box free again (only when no member but the caller lives). */
void board_clear_all(struct tctx *c);
uint64_t state_off(struct tctx *c, const void *p);
int child_main(int argc, char **argv);

#endif /* TORTURE_H */
