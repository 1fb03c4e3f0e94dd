// SPDX-License-Identifier: MIT
/*
 * Reclaim: what a dead member left behind goes back, exactly once. The
 * top of the core below arena.c: it resolves the member's buffer
 * journal, drops its references (buf.c), frees its raw blocks and pages
 * (alloc.c), and moves its slot LIVE -> RECLAIM -> FREE. Also the reader
 * of membership events, which runs the reclaims that the exits it reads
 * call for before it hands them out (shmk_arena_events()).
 */
#include "shmk_int.h"

#include <string.h>

/* One wait on a slot word, between looks at the helper. */
#define RECLAIM_SLICE_NS	(50 * 1000000LL)

/* ---- reclaim of one member ------------------------------------------- */

static uint64_t slot_ctl_off(const struct shmk_arena *a, uint32_t id)
{
	return a->g.slots_off + (uint64_t)id * LM_SLOT_SIZE +
		offsetof(struct lm_slot, ctl);
}

/* Wait until the high half of a slot's ctl changes (reclaim finished). */
static int slot_wait(struct shmk_arena *a, uint32_t id, uint64_t c)
{
	struct timespec ts;

	shmk_deadline(&ts, RECLAIM_SLICE_NS);
	return a->be->wait(a, slot_ctl_off(a, id) + 4, (uint32_t)(c >> 32),
			   &ts, SHMK_WAIT_NO_EVENTS);
}

/*
 * Is the helper recorded in a RECLAIM ctl still at work? Asked of the
 * backend, not of the helper's own slot: a member that is reclaiming
 * itself (at detach, or its id's previous incarnation at attach) has no
 * LIVE slot but is very much at work. The helper is named by its id and
 * the low 16 bits of its generation.
 */
static bool helper_live(struct shmk_arena *a, uint64_t c)
{
	uint32_t h = LS_HELPER(c), g = 0;
	int r;

	if (h == 0 || h > a->g.member_max)
		return false;
	if (h == a->id)
		return (a->gen & LS_HGEN_MASK) == LS_HGEN(c);
	r = a->be->member(a, h, &g);
	if (r < 0)
		return true;	/* cannot tell: do not step in */
	return r == 1 && (g & LS_HGEN_MASK) == LS_HGEN(c);
}

/*
 * Recover what member @id of generation @gen left behind, exactly once.
 * The slot goes LIVE -> RECLAIM (helper = us) -> FREE; a helper found dead
 * is replaced; every step below is idempotent, so a replacement simply
 * runs them all again. -EINPROGRESS: a live helper is at it.
 */
#ifdef SHMK_TEST_HOOKS
/* Tests may shorten the wait for another member's reclaim of our slot. */
long long shmk__reclaim_wait_ns = LM_RECLAIM_WAIT_NS;
#define RECLAIM_WAIT_NS	((uint64_t)shmk__reclaim_wait_ns)
#else
#define RECLAIM_WAIT_NS	((uint64_t)LM_RECLAIM_WAIT_NS)
#endif

static int reclaim_one(struct shmk_arena *a, uint32_t id, uint32_t gen)
{
	struct lm_slot *s;
	uint64_t c, mine = LS_MAKE_RECLAIM(a->id, a->gen, gen), end = 0;
	bool self = id == a->id && gen == a->gen;
	int r;

	if (id == 0 || id > a->g.member_max)
		return -EINVAL;
	if (a->rdonly)
		return -EROFS;
	s = lm_slot(a, id);
	for (;;) {
		c = ld_acq(&s->ctl);
		if (LS_STATE(c) == LS_FREE || LS_GEN(c) != gen)
			return 0;
		if (LS_STATE(c) == LS_LIVE) {
			if (!self && id != a->id && shmk_member_live(a, id, gen))
				return -EBUSY;
		} else if (LS_HELPER(c) != a->id && helper_live(a, c)) {
			if (id != a->id)
				return -EINPROGRESS;
			/*
			 * Our slot: wait, but not for ever (a live member
			 * named by a scribbled ctl will never finish).
			 */
			if (!end) {
				end = shmk_now_ns() + RECLAIM_WAIT_NS;
			} else if (shmk_now_ns() >= end) {
				shmk_reason("arena '%s': member %u did not "
					    "finish the reclaim of slot %u in "
					    "%llu ms", a->name, LS_HELPER(c),
					    id, (unsigned long long)
					    RECLAIM_WAIT_NS / 1000000);
				return -ETIMEDOUT;
			}
			slot_wait(a, id, c);
			continue;
		}
		if (cas_sc(&s->ctl, &c, mine))
			break;
	}
	PROBE_A(cleanup, a, id, gen);
	CRASHPOINT("reclaim:claimed");
	r = lm_journal_resolve_all(a, id);
	if (r == 0)
		r = lm_buf_reclaim(a, id, gen);
	if (r == 0)
		r = lm_heap_reclaim(a, id, gen);
	if (r)
		return r;	/* left in RECLAIM: the next caller resumes */
	CRASHPOINT("reclaim:done");
	/*
	 * Only from our own RECLAIM value: if the slot no longer holds it
	 * (another helper took over), it is not ours to free, and a plain
	 * store could overwrite the LIVE slot of the id's next member.
	 */
	c = mine;
	if (cas_sc(&s->ctl, &c, LS_MAKE(LS_FREE, 0, gen)))
		a->be->wake(a, slot_ctl_off(a, id) + 4, SHMK_WAKE_ALL);
	return 0;
}

/*
 * Recover what member @id of generation @gen left behind, exactly once.
 * The slot goes LIVE -> RECLAIM (helper = us) -> FREE; a helper found dead
 * is replaced; every step is idempotent, so a replacement simply runs them
 * all again. Then reclaims that @id itself was helping with and left
 * unfinished are resumed.
 */
int lm_reclaim(struct shmk_arena *a, uint32_t id, uint32_t gen)
{
	uint32_t i, rounds;
	uint64_t c;
	int r = reclaim_one(a, id, gen);

	if (r)
		return r;
	for (rounds = 0; rounds < 4; rounds++) {
		bool more = false;

		for (i = 1; i <= a->g.member_max; i++) {
			c = ld_acq(&lm_slot(a, i)->ctl);
			if (LS_STATE(c) == LS_RECLAIM && !helper_live(a, c) &&
			    reclaim_one(a, i, LS_GEN(c)) == 0)
				more = true;
		}
		if (!more)
			break;
	}
	return 0;
}

/* ---- public ---------------------------------------------------------- */

SHMK_EXPORT int shmk_alloc_reclaim(struct shmk_arena *a, uint32_t id,
				   uint32_t gen)
{
	int r = lm_check_rw(a);
	ERRNO_SAVE;

	if (r)
		return r;
	if (id == a->id && gen == a->gen)
		return -EBUSY;
	r = lm_reclaim(a, id, gen);
	ERRNO_RESTORE;
	return r;
}


/* ---- the exits a pump read -------------------------------------------- */

/*
 * Run the reclaim of (@id, @gen), or see it finished: when another
 * survivor is at it (-EINPROGRESS), wait on the slot word, which it wakes
 * when done; a helper that dies meanwhile is replaced by our next try
 * (checked after each slice). Bounded by @wait_ns in all: a
 * helper that makes no progress (stopped, or stuck on a lock we hold)
 * cannot block us for ever.
 */
static int reclaim_settled(struct shmk_arena *a, uint32_t id, uint32_t gen,
			   int64_t wait_ns)
{
	uint64_t end = shmk_now_ns() + (uint64_t)wait_ns, c;
	int r;

	for (;;) {
		r = lm_reclaim(a, id, gen);
		if (r != -EINPROGRESS || shmk_now_ns() >= end)
			return r;
		c = ld_acq(&lm_slot(a, id)->ctl);
		if (LS_STATE(c) != LS_RECLAIM || LS_GEN(c) != gen)
			continue;
		CRASHPOINT("reclaim:wait");
		if (slot_wait(a, id, c) == -EINTR)
			return -EINTR;
	}
}

/*
 * Pump backend events and run the reclaims they call for; when it
 * returns, the reclaim of every exit it read is finished (unless a live
 * helper is still at it after LM_RECLAIM_WAIT_NS).
 */
int shmk_pump_and_reclaim(struct shmk_arena *a)
{
	struct { uint32_t id, gen; } item;
	int r;

	pthread_mutex_lock(&a->ev_lock);
	r = a->be->pump(a);
	pthread_mutex_unlock(&a->ev_lock);
	for (;;) {
		pthread_mutex_lock(&a->ev_lock);
		if (!a->rcq_len) {
			pthread_mutex_unlock(&a->ev_lock);
			break;
		}
		item.id = a->rcq[0].id;
		item.gen = a->rcq[0].gen;
		memmove(a->rcq, a->rcq + 1, (a->rcq_len - 1) * sizeof(*a->rcq));
		a->rcq_len--;
		pthread_mutex_unlock(&a->ev_lock);
		reclaim_settled(a, item.id, item.gen, RECLAIM_WAIT_NS);
	}
	return r;
}

/*
 * For a layer above that is about to report the death of @id/@gen: 0 once
 * its reclaim is finished. shmk_arena_events() has normally finished it
 * before it handed the exit out, and then this is one look at the slot;
 * if that was cut short (a signal, or another survivor's reclaim that
 * outlasted LM_RECLAIM_WAIT_NS), the reclaim is run or waited for again,
 * for at most @wait_ns.
 */
int shmk_reclaim_settle(struct shmk_arena *a, uint32_t id, uint32_t gen,
			int64_t wait_ns)
{
	uint64_t c;

	if (id == 0 || id > a->g.member_max)
		return -EINVAL;
	if (a->rdonly)
		return -EROFS;
	if (id == a->id && gen == a->gen)
		return -EBUSY;	/* we are alive */
	c = ld_acq(&lm_slot(a, id)->ctl);
	if (LS_STATE(c) == LS_FREE || LS_GEN(c) != gen)
		return 0;
	return reclaim_settled(a, id, gen, wait_ns);
}

SHMK_EXPORT int shmk_arena_events(struct shmk_arena *a, struct shmk_event *ev,
				  unsigned int n)
{
	int k;
	ERRNO_SAVE;

	if (!a || (!ev && n))
		return -EINVAL;
	pthread_mutex_lock(&a->rc_lock);
	shmk_pump_and_reclaim(a);
	k = shmk_ev_pop(a, ev, n);
	pthread_mutex_unlock(&a->rc_lock);
	ERRNO_RESTORE;
	return k;
}
