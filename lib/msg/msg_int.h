/* SPDX-License-Identifier: MIT */
/*
 * Messaging internals shared by queue.c and session.c: the queue's layout
 * in the arena, and the wrappers through which messaging uses the core
 * (the core's interface for it is the last section of core/shmk_int.h).
 * See Documentation/messaging-design.md for the rules.
 *
 * The messaging layer (lib/msg/) owns the receive queues (queue.c:
 * layout, send, receive, lanes, tickets, repair after a producer's death)
 * and the sessions (session.c: server directory, connect, events, hot
 * restart). It sits on the core only; it never names a backend.
 */
#ifndef SHMK_MSG_INT_H
#define SHMK_MSG_INT_H

#include "core/shmk_int.h"
#include "shmk_msg.h"

#ifdef SHMK_MSG_TEST_HOOKS
#include <signal.h>
#include <stdlib.h>
#include <string.h>
/* Tests: SHMK_MSG_CRASH=<point> kills the process there (SIGKILL). */
static inline void msg_crashpoint(const char *w)
{
	const char *at = getenv("SHMK_MSG_CRASH");

	if (at && !strcmp(at, w))
		raise(SIGKILL);
}
#define MSG_CRASH(w)	msg_crashpoint(w)
#include <unistd.h>
/*
 * Tests: SHMK_MSG_NOTE_FD=<fd> gets the name of every note point reached,
 * one write() each, so that a test can act once a process is there (e.g.
 * start the server once the client has found no arena).
 */
static inline void msg_note(const char *w)
{
	const char *fd = getenv("SHMK_MSG_NOTE_FD");

	if (fd && write(atoi(fd), w, strlen(w)) < 0) {
		/* the test went away: nothing to tell */
	}
}
#define MSG_NOTE(w)	msg_note(w)
#else
#define MSG_CRASH(w)	do { } while (0)
#define MSG_NOTE(w)	do { } while (0)
#endif

/* ======================================================================
 * Queue layout: inside the data area of a buffer (64-byte aligned).
 *
 *   struct mq_hdr                     (MQ_HDR_BYTES)
 *   uint64_t pend[lane_words]         lanes with entries to read
 *   struct mq_lane[lanes]             unbounded only
 *   struct mq_slot[capacity]          the ring
 * ====================================================================== */
#define MQ_MAGIC	0x5147534dU	/* "MSGQ" */
#define MQ_VERSION	2		/* 2: admission (tk_fin) */
#define MQ_TICKETS	64		/* senders waiting at once */
#define MQ_CAP_MAX	65536
#define MQ_LANES_MAX	4095

struct mq_hdr {
	/* line 0: read-mostly */
	uint32_t magic;
	uint32_t version;
	uint32_t capacity;
	uint32_t flags;		/* SHMK_QUEUE_* */
	uint32_t lanes;
	uint32_t block_bytes;
	uint32_t pend_off;	/* from the header */
	uint32_t lanes_off;
	uint32_t ring_off;
	uint32_t spare_blocks;
	uint64_t bytes;		/* whole layout */
	uint64_t cons;		/* consumer: id << 32 | gen; 0 = closed */
	uint8_t pad0[64 - 56];
	/* line 1: producers */
	uint64_t tail;		/* next position to reserve (helped along) */
	uint8_t pad1[56];
	/* line 2: consumer */
	uint64_t head;		/* published after each batch */
	uint32_t sleeping;	/* futex word: 1 = consumer going to sleep */
	uint32_t pad2a;
	uint64_t skipped;	/* holes repaired */
	uint8_t pad2[40];
	/* line 3: senders waiting for room, first come first served */
	uint32_t tk_next;	/* next ticket */
	uint32_t tk_serve;	/* futex word: first ticket not admitted */
	uint32_t swaiters;	/* senders waiting for room */
	uint32_t space_seq;	/* futex word: bumped when room appears */
	uint32_t lanes_used;	/* claimed lanes (hint) */
	uint32_t tk_fin;	/* first admitted ticket not done with */
	uint8_t pad3[40];
	/* lines 4..11: who holds each ticket */
	uint64_t tk[MQ_TICKETS];
};
#define MQ_HDR_BYTES	sizeof(struct mq_hdr)
_Static_assert(sizeof(struct mq_hdr) == 768, "mq_hdr");

/* Ring slot ctl: position (0..31), state (32..33), id (34..45), gen (46..63) */
#define SC_FREE		0ULL
#define SC_BUSY		1ULL
#define SC_FULL		2ULL
#define SC_POS(c)	((uint32_t)(c))
#define SC_ST(c)	(((c) >> 32) & 3)
#define SC_ID(c)	((uint32_t)(((c) >> 34) & LM_ID_MASK))
#define SC_GEN(c)	((uint32_t)((c) >> 46))
#define SC_GENMASK	0x3ffffU	/* 18 bits of the generation */
#define SC_MAKE(pos, st, id, gen) ((uint64_t)(uint32_t)(pos) | \
				   ((uint64_t)(st) << 32) | \
				   ((uint64_t)((id) & LM_ID_MASK) << 34) | \
				   ((uint64_t)((gen) & SC_GENMASK) << 46))

struct mq_slot {
	uint64_t ctl;
	uint64_t val;
	uint64_t tag;
	uint32_t len;
	uint32_t flags;
	uint32_t sender;
	uint32_t sender_gen;
	uint64_t pad[3];
};
_Static_assert(sizeof(struct mq_slot) == 64, "mq_slot");

/* Ticket holder word: ticket (0..31), id (32..43), gen (44..61),
 * cancelled (62), valid (63). */
#define TK_VALID	(1ULL << 63)
#define TK_CANCEL	(1ULL << 62)
#define TK_T(w)		((uint32_t)(w))
#define TK_ID(w)	((uint32_t)(((w) >> 32) & LM_ID_MASK))
#define TK_GEN(w)	((uint32_t)(((w) >> 44) & SC_GENMASK))
#define TK_MAKE(t, id, gen) (TK_VALID | (uint64_t)(uint32_t)(t) | \
			     ((uint64_t)((id) & LM_ID_MASK) << 32) | \
			     ((uint64_t)((gen) & SC_GENMASK) << 44))

/*
 * Overflow lane of one producer (unbounded queues). ctl: 0 free,
 * LN_OWNED | id << 32 | gen while a producer holds it, LN_RELEASED | ...
 * when it gave it back (the consumer then resets and frees it).
 */
#define LN_OWNED	(1ULL << 62)
#define LN_RELEASED	(1ULL << 63)
#define LN_ID(c)	((uint32_t)(((c) >> 32) & LM_ID_MASK))
#define LN_GEN(c)	((uint32_t)(c))

struct mq_lane {
	uint64_t ctl;
	uint64_t ring_pos;	/* producer: read only once head reaches it */
	uint64_t wcount;	/* producer: entries published (release) */
	uint64_t first;		/* producer: first block of the chain */
	uint64_t rcount;	/* consumer: entries consumed */
	uint64_t rblk;		/* consumer: block being read (0: first) */
	uint64_t pad[2];
};
_Static_assert(sizeof(struct mq_lane) == 64, "mq_lane");

/* An overflow block: raw allocation owned by its producer. */
#define MB_MAGIC	0x4b4c424dU	/* "MBLK" */
struct mq_blk {
	uint64_t next;		/* next block, 0 until linked (release) */
	uint64_t base;		/* lane index of entry 0 */
	uint32_t magic;
	uint32_t n;		/* entries */
	uint64_t pad[5];
};
struct mq_ent {
	uint64_t val;
	uint64_t tag;
	uint32_t len;
	uint32_t flags;
	uint32_t sender_gen;
	uint32_t pad;
};
_Static_assert(sizeof(struct mq_blk) == 64, "mq_blk");
_Static_assert(sizeof(struct mq_ent) == 32, "mq_ent");

/* ---- process-local handle -------------------------------------------- */
struct shmk_queue {
	struct shmk_arena *a;
	shmk_ref_t ref;
	uint64_t off;			/* arena offset of the header */
	uint64_t buf_off;		/* of the buffer block */
	struct mq_hdr *h;
	struct mq_slot *ring;
	struct mq_lane *lane;
	uint64_t *pend;
	uint32_t cap, mask, nlanes, ents_per_blk;
	uint32_t block_bytes;		/* validated at bind: not re-read */
	uint32_t me_gen18;
	bool consumer;			/* created it or took over */
	bool sess;			/* a session's queue (probes only) */
	bool need_repair;		/* an event was seen: repair first */
	/* consumer */
	uint64_t head;
	uint64_t spin_max;		/* ns, 0: sleep at once */
	uint64_t spin_budget;		/* ns, adaptive, <= spin_max */
	uint32_t lane_rr;
	/* producer: lane state (under plock) */
	pthread_mutex_t plock;
	int my_lane;			/* -1: none */
	uint64_t my_ctl;
	bool in_lane;
	uint64_t wcount;
	uint64_t *blk;			/* chain, oldest first */
	uint32_t nblk, blk_cap;
	uint64_t *spare;
	uint32_t nspare, spare_cap;
	uint64_t last_pos;		/* 1 + our last ring position */
	uint64_t head_seen;		/* h->head when we last looked */
	/* stats */
	uint64_t st_sent, st_recv, st_wakes, st_sleeps, st_skipped;
	uint64_t st_alloc, st_reuse;
};

/*
 * Called for each descriptor as the consumer takes it, before its slot is
 * released: MQ_TAKE delivers it, MQ_DROP drops it (not counted), MQ_LAST
 * delivers it and ends the batch there (what follows stays queued),
 * MQ_KEEP leaves it and what follows queued (the consumer cannot take it
 * now); mq_recv() then returns -ENOBUFS if it took nothing else.
 */
#define MQ_TAKE		0
#define MQ_DROP		1
#define MQ_LAST		2
#define MQ_KEEP		3
/* Spin bound of a handle: SHMK_SPIN_US if set, else @requested. */
uint64_t mq_spin_ns(uint32_t requested);

typedef int (*mq_take_fn)(void *ctx, struct shmk_qmsg *m);

int mq_recv(struct shmk_queue *q, struct shmk_qmsg *m, unsigned int n,
	    const struct timespec *abs, mq_take_fn fn, void *ctx);
int mq_send(struct shmk_queue *q, const struct shmk_qmsg *m,
	    unsigned int flags, const struct timespec *abs);
/* 1 if the consumer has something to take (ring head full or a lane). */
int mq_pending(struct shmk_queue *q);
/*
 * Sleep as the consumer would, without taking anything: returns 1 when
 * something is pending, SHMK_WAIT_EVENT + 1 (2) on a membership event,
 * -ETIMEDOUT, -EINTR, or 0 when woken by @stop (a local word != 0).
 */
int mq_watch(struct shmk_queue *q, const struct timespec *abs,
	     const uint32_t *stop);
/* Wake whoever sleeps in mq_watch()/recv on this queue. */
void mq_kick(struct shmk_queue *q);
/* Producer: wait until everything it posted was taken. */
int mq_wait_consumed(struct shmk_queue *q, const struct timespec *abs);
/* Producer: recall the tokens it posted that are still queued. */
int mq_recall_own(struct shmk_queue *q);
/* Consumer: repair holes and lanes of dead producers, dead ticket holders. */
void mq_repair(struct shmk_queue *q);
/* Consumer: give up the consumer role (cons = 0) without closing. */
void mq_stop_consuming(struct shmk_queue *q);
int mq_close(struct shmk_queue *q, const struct timespec *abs);
int mq_hand_over(struct shmk_queue *q, uint32_t id, uint32_t gen);
uint64_t mq_consumer(struct shmk_queue *q);

/* ---- probe arguments (shmk:send, shmk:recv, shmk:queue_full) ----------- */

/*
 * A message's sequence in its receiver's queue: the ring position, or for
 * an entry of overflow lane @lane its index there, bit 63 set.
 */
#define MQ_LANE_SEQ(lane, idx)	((1ULL << 63) | ((uint64_t)(lane) << 48) | \
				 ((uint64_t)(idx) & ((1ULL << 48) - 1)))
/* Bit 32 of the flags argument: a session's queue (kind in bits 8..15). */
#define MQ_PROBE_SESSION	(1ULL << 32)

static inline uint64_t mq_probe_flags(const struct shmk_queue *q,
				      uint32_t flags)
{
	return (uint64_t)flags | (q->sess ? MQ_PROBE_SESSION : 0);
}

/* Member id of the queue's consumer (0: closed). */
static inline uint32_t mq_probe_cons(const struct shmk_queue *q)
{
	return (uint32_t)(ld_rlx(&q->h->cons) >> 32);
}

/* ---- small helpers ------------------------------------------------------ */

/*
 * Liveness. The backend (kernel control page, or pidfds) is the authority.
 * The library's member slot (LIVE + generation until a reclaim starts) is
 * only a cheap first look: when it says "live, not reclaimed", the
 * member's memory cannot have been reclaimed yet. (It can wrongly say
 * FREE for a live member, see Documentation/messaging-design.md: so
 * "no" is double-checked.)
 */
static inline bool msg_not_reclaimed(struct shmk_arena *a, uint32_t id,
				     uint32_t gen)
{
	return shmk_member_unreclaimed(a, id, gen);
}

/* Live now (asks the backend: a syscall on the portable backend). */
static inline bool msg_alive(struct shmk_arena *a, uint32_t id, uint32_t gen)
{
	if (id == 0 || id > shmk_member_max(a))
		return false;
	return shmk_member_live(a, id, gen);
}

/*
 * Its memory was not reclaimed (yet): true for a live member. Cheap when
 * the library slot agrees, a backend question when it does not.
 */
static inline bool msg_owner_ok(struct shmk_arena *a, uint32_t id,
				uint32_t gen)
{
	return msg_not_reclaimed(a, id, gen) || msg_alive(a, id, gen);
}

/* Live with a generation whose low 18 bits are @gen18. */
static inline bool msg_alive18(struct shmk_arena *a, uint32_t id,
			       uint32_t gen18)
{
	return shmk_member_live_masked(a, id, gen18, SC_GENMASK);
}

static inline int msg_wait(struct shmk_arena *a, uint64_t off,
			   uint32_t expected, const struct timespec *abs,
			   unsigned int flags)
{
	return shmk_wait_internal(a, off, expected, abs, flags);
}

static inline void msg_wake(struct shmk_arena *a, uint64_t off, uint32_t n)
{
	shmk_wake_internal(a, off, n);
}

static inline void msg_deadline(struct timespec *ts, int64_t timeout_ns,
				struct timespec **abs)
{
	if (timeout_ns < 0) {
		*abs = NULL;
		return;
	}
	shmk_deadline(ts, timeout_ns);
	*abs = ts;
}

static inline int64_t msg_left_ns(const struct timespec *abs)
{
	uint64_t d, now;

	if (!abs)
		return -1;
	d = (uint64_t)abs->tv_sec * 1000000000ULL + (uint64_t)abs->tv_nsec;
	now = shmk_now_ns();
	return d > now ? (int64_t)(d - now) : 0;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

#endif /* SHMK_MSG_INT_H */
