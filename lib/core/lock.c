// SPDX-License-Identifier: MIT
/*
 * Robust locks in the arena (the ABI's lock word format).
 *
 * word = owner member id (SHMK_LOCK_OWNER_MASK) | SHMK_LOCK_WAITERS |
 *        SHMK_LOCK_OWNER_DIED.
 *  - acquire: CAS 0 -> me (fast path); contended: set WAITERS and wait on
 *    the word through the backend; a woken waiter acquires with WAITERS
 *    set, since it cannot know whether others still sleep.
 *  - release: xchg -> 0 and wake one waiter if WAITERS was set.
 *  - every held lock is linked in the member's robust list (one list per
 *    member, registered with the backend); head.op_pending names the lock
 *    around the acquire CAS and the release xchg, as in
 *    Documentation/locking/robust-futexes.rst. When the member dies, the
 *    kernel (kmod) or the survivor handling the death (portable,
 *    lm_robust_walk) marks each word it owned OWNER_DIED, clears the owner
 *    and wakes all waiters. The next acquirer keeps OWNER_DIED in the word
 *    while it holds it and gets -EOWNERDEAD; shmk_lock_consistent() clears
 *    the bit; releasing with it still set makes the lock not recoverable
 *    (owner field LM_LOCK_NOTREC, which no member id can equal).
 *
 * The list has one op_pending slot per member, so edits of the list by the
 * threads of one process are serialised by a->rl_lock (process-local).
 */
#include "shmk_int.h"

#include <string.h>

#define ROBUST_WALK_LIMIT	SHMK_ROBUST_LIST_LIMIT

static uint64_t robust_head_off(const struct shmk_arena *a)
{
	return a->g.slots_off + (uint64_t)a->id * LM_SLOT_SIZE +
		offsetof(struct lm_slot, robust);
}

static struct shmk_robust_head *robust_head(const struct shmk_arena *a)
{
	return &lm_slot(a, a->id)->robust;
}

static int lock_check(const struct shmk_arena *a, uint64_t off)
{
	if (!a->lib_ready)
		return -EINVAL;
	if (a->rdonly)
		return -EROFS;
	if (!off_ok(a, off, sizeof(struct lm_lock), 8))
		return -EINVAL;
	return 0;
}

static int lock_once(struct shmk_arena *a, struct lm_lock *l, uint64_t off,
		     uint32_t v, uint32_t extra)
{
	struct shmk_robust_head *h = robust_head(a);
	uint32_t nv = a->id | (v & (SHMK_LOCK_WAITERS | SHMK_LOCK_OWNER_DIED)) |
		extra;
	bool ok;

	pthread_mutex_lock(&a->rl_lock);
	st_rel(&h->op_pending, off);
	CRASHPOINT("lock:pending");
	ok = cas_sc(&l->word, &v, nv);
	if (ok) {
		CRASHPOINT("lock:owned");
		st_rel(&l->next, ld_rlx(&h->next));
		CRASHPOINT("lock:entry");
		st_rel(&h->next, off);
		CRASHPOINT("lock:linked");
		a->nheld++;
	}
	st_rel(&h->op_pending, SHMK_ROBUST_NONE);
	pthread_mutex_unlock(&a->rl_lock);
	if (!ok)
		return -EAGAIN;
	return (v & SHMK_LOCK_OWNER_DIED) ? -EOWNERDEAD : 0;
}

/*
 * Is the owner a lock word names gone for good? An id no member can have
 * (a scribbled word), or one the backend says is not live. The death of
 * a live owner reaches the word through its robust list; a word that is
 * in no list (or in a scribbled one) is only ever freed by this check.
 */
static bool owner_gone(struct shmk_arena *a, uint32_t owner)
{
	uint32_t g;

	if (owner == a->id)
		return false;
	if (owner > a->g.member_max)
		return true;
	return a->be->member(a, owner, &g) == 0;
}

/* A waiter looks at the owner again after at most this long. */
#define LOCK_RECHECK_NS	(1000 * 1000000LL)

/*
 * @abs: deadline, NULL to wait forever; (const struct timespec *)1 means
 * "try only". Waits never return early for membership events: the death
 * of the owner reaches the word itself (OWNER_DIED + wake), or, if the
 * owner is found gone without that, the waiter marks the word so itself.
 */
int lm_lock_acquire(struct shmk_arena *a, uint64_t off,
		    const struct timespec *abs)
{
	struct lm_lock *l = A_PTR(a, off);
	uint32_t extra = 0, v, owner;
	struct timespec slice;
	int r;

	for (;;) {
		v = ld_acq(&l->word);
		owner = v & SHMK_LOCK_OWNER_MASK;
		if (owner == LM_LOCK_NOTREC)
			return -ENOTRECOVERABLE;
		if (owner == 0) {
			r = lock_once(a, l, off, v, extra);
			if (r != -EAGAIN)
				return r;
			continue;
		}
		if (owner_gone(a, owner)) {
			/* as the robust walk would have: free, owner died */
			if (cas_sc(&l->word, &v, (v & SHMK_LOCK_WAITERS) |
				   SHMK_LOCK_OWNER_DIED))
				a->be->wake(a, off + LM_LOCK_DELTA,
					    SHMK_WAKE_ALL);
			continue;
		}
		if (abs == (const struct timespec *)1)
			return -EBUSY;
		if (!(v & SHMK_LOCK_WAITERS)) {
			if (!cas_sc(&l->word, &v, v | SHMK_LOCK_WAITERS))
				continue;
			v |= SHMK_LOCK_WAITERS;
		}
		extra = SHMK_LOCK_WAITERS;
		shmk_deadline(&slice, LOCK_RECHECK_NS);
		if (abs && (abs->tv_sec < slice.tv_sec ||
			    (abs->tv_sec == slice.tv_sec &&
			     abs->tv_nsec < slice.tv_nsec)))
			slice = *abs;
		r = shmk_wait_internal(a, off + LM_LOCK_DELTA, v, &slice,
				       SHMK_WAIT_NO_EVENTS);
		if (r == -ETIMEDOUT && abs && shmk_deadline_passed(abs))
			return r;
		if (r == -EINTR)
			return r;
		if (r < 0 && r != -EAGAIN && r != -ETIMEDOUT)
			return r;
	}
}

int lm_lock_release(struct shmk_arena *a, uint64_t off)
{
	struct shmk_robust_head *h = robust_head(a);
	uint64_t hoff = robust_head_off(a), cur;
	__u64 *pred;
	struct lm_lock *l = A_PTR(a, off);
	uint32_t v, nv, old;
	unsigned int n = 0;

	v = ld_acq(&l->word);
	if ((v & SHMK_LOCK_OWNER_MASK) != a->id)
		return -EPERM;
	nv = (v & SHMK_LOCK_OWNER_DIED) ? (LM_LOCK_NOTREC | SHMK_LOCK_OWNER_DIED)
					: 0;

	pthread_mutex_lock(&a->rl_lock);
	st_rel(&h->op_pending, off);
	CRASHPOINT("unlock:pending");
	/* unlink: usually the first entry (locks released in LIFO order) */
	pred = &h->next;
	cur = ld_rlx(pred);
	while (cur != hoff && n++ < ROBUST_WALK_LIMIT) {
		if (!off_ok(a, cur, sizeof(struct lm_lock), 8))
			break;
		if (cur == off) {
			st_rel(pred, ld_rlx(&l->next));
			break;
		}
		pred = &((struct lm_lock *)A_PTR(a, cur))->next;
		cur = ld_rlx(pred);
	}
	CRASHPOINT("unlock:unlinked");
	old = xchg_sc(&l->word, nv);
	CRASHPOINT("unlock:released");
	if (a->nheld)
		a->nheld--;
	st_rel(&h->op_pending, SHMK_ROBUST_NONE);
	pthread_mutex_unlock(&a->rl_lock);
	/*
	 * Wake all waiters, not one: a lone wakee may die before its CAS,
	 * and its death does not touch a lock it never owned, so the others
	 * would sleep on a free lock until their timeout.
	 */
	if (nv || (old & SHMK_LOCK_WAITERS))
		a->be->wake(a, off + LM_LOCK_DELTA, SHMK_WAKE_ALL);
	return 0;
}

int lm_lock_consistent(struct shmk_arena *a, uint64_t off)
{
	struct lm_lock *l = A_PTR(a, off);
	uint32_t v = ld_acq(&l->word);

	while ((v & SHMK_LOCK_OWNER_MASK) == a->id) {
		if (!(v & SHMK_LOCK_OWNER_DIED))
			return 0;
		if (cas_sc(&l->word, &v, v & ~SHMK_LOCK_OWNER_DIED))
			return 0;
	}
	return -EPERM;
}

static bool is_robust_head(const struct shmk_arena *a, uint64_t off);

/*
 * Does this member hold no lock? The handle counts the locks it took;
 * the list is in the arena, where anyone may scribble over it: it must
 * also show one of them (an entry whose word names us), or what was
 * taken is no longer ours to release. A list that shows none is reset,
 * or the member could never detach. The walk is bounded and checked as
 * the robust walk is.
 */
bool lm_robust_empty(struct shmk_arena *a)
{
	struct shmk_robust_head *h = robust_head(a);
	uint64_t hoff = robust_head_off(a), cur;
	unsigned int n = 0;
	bool held = false;

	pthread_mutex_lock(&a->rl_lock);
	cur = ld_acq(&h->next);
	while (a->nheld && cur != hoff && n++ < ROBUST_WALK_LIMIT) {
		struct lm_lock *l;

		if (is_robust_head(a, cur) ||
		    !off_ok(a, cur, sizeof(struct lm_lock), 8))
			break;
		l = A_PTR(a, cur);
		if ((ld_acq(&l->word) & SHMK_LOCK_OWNER_MASK) == a->id) {
			held = true;
			break;
		}
		cur = ld_acq(&l->next);
	}
	if (!held && cur != hoff)
		st_rel(&h->next, hoff);
	pthread_mutex_unlock(&a->rl_lock);
	return !held;
}

static void robust_mark(struct shmk_arena *a, uint64_t woff, uint32_t dead)
{
	uint32_t *w, v;

	if (!off_ok(a, woff, 4, 4))
		return;
	w = A_PTR(a, woff);
	v = ld_acq(w);
	while ((v & SHMK_LOCK_OWNER_MASK) == dead) {
		if (cas_sc(w, &v, (v & SHMK_LOCK_WAITERS) |
			   SHMK_LOCK_OWNER_DIED)) {
			a->be->wake(a, woff, SHMK_WAKE_ALL);
			return;
		}
	}
}

/* Is @off some member's robust head? Never a lock entry then. */
static bool is_robust_head(const struct shmk_arena *a, uint64_t off)
{
	uint64_t rel;

	if (!a->lib_ready || off < a->g.slots_off)
		return false;
	rel = off - a->g.slots_off;
	return rel / LM_SLOT_SIZE <= a->g.member_max &&
		rel % LM_SLOT_SIZE == offsetof(struct lm_slot, robust);
}

/*
 * What the kernel does for a dead member, done by a survivor (portable),
 * with the same bounds and checks: at most SHMK_ROBUST_LIST_LIMIT entries,
 * every offset range- and alignment-checked, stop at the first bad one;
 * then the op_pending entry. Returns the number of entries found, or
 * -EUCLEAN if the walk stopped early.
 *
 * Unlike the kernel's, this walk can be cut short (its survivor dies) and
 * redone by another. A lock it released may meanwhile have been taken and
 * linked into its new owner's list, so its link is no longer ours to
 * follow. Hence: first collect the entries, following links only through
 * entries the dead member still owns, then release them last first. A
 * redone walk then meets only still-owned entries before the released
 * tail, and stops there.
 */
int lm_robust_walk(struct shmk_arena *a, uint64_t head_off, uint32_t dead)
{
	uint64_t cur, pend, ent[ROBUST_WALK_LIMIT];
	struct shmk_robust_head *h;
	int64_t delta;
	int n = 0, bad = 0;
	uint32_t *w;

	if (!off_ok(a, head_off, sizeof(*h), 8) || dead == 0 ||
	    dead >= LM_LOCK_NOTREC)
		return -EINVAL;
	h = A_PTR(a, head_off);
	delta = (int64_t)ld_acq(&h->lock_delta);
	pend = ld_acq(&h->op_pending);
	if (delta < -(int64_t)a->size || delta > (int64_t)a->size)
		return -EUCLEAN;
	cur = ld_acq(&h->next);
	while (cur != head_off) {
		if (n >= ROBUST_WALK_LIMIT || is_robust_head(a, cur) ||
		    !off_ok(a, cur, sizeof(struct shmk_robust_entry), 8) ||
		    !off_ok(a, cur + (uint64_t)delta, 4, 4)) {
			bad = 1;
			break;
		}
		w = A_PTR(a, cur + (uint64_t)delta);
		if ((ld_acq(w) & SHMK_LOCK_OWNER_MASK) != dead)
			break;	/* released by an earlier walk: done from here */
		ent[n++] = cur;
		cur = ld_acq((uint64_t *)A_PTR(a, cur));
	}
	for (int i = n - 1; i >= 0; i--)
		if (ent[i] != pend)
			robust_mark(a, ent[i] + (uint64_t)delta, dead);
	if (pend != SHMK_ROBUST_NONE && !is_robust_head(a, pend) &&
	    off_ok(a, pend, sizeof(struct shmk_robust_entry), 8))
		robust_mark(a, pend + (uint64_t)delta, dead);
	return bad ? -EUCLEAN : n;
}

/* ---- public ---------------------------------------------------------- */

SHMK_EXPORT int shmk_lock_init(struct shmk_arena *a, uint64_t lock_off)
{
	struct lm_lock *l;
	int r = lock_check(a, lock_off);

	if (r)
		return r;
	l = A_PTR(a, lock_off);
	st_rlx(&l->next, 0);
	st_rel(&l->word, 0);
	return 0;
}

SHMK_EXPORT int shmk_lock_acquire(struct shmk_arena *a, uint64_t lock_off,
				  int64_t timeout_ns)
{
	struct timespec ts;
	int r = lock_check(a, lock_off);
	ERRNO_SAVE;

	if (r)
		return r;
	if (timeout_ns >= 0)
		shmk_deadline(&ts, timeout_ns);
	r = lm_lock_acquire(a, lock_off, timeout_ns >= 0 ? &ts : NULL);
	ERRNO_RESTORE;
	return r;
}

SHMK_EXPORT int shmk_lock_try(struct shmk_arena *a, uint64_t lock_off)
{
	int r = lock_check(a, lock_off);
	ERRNO_SAVE;

	if (r)
		return r;
	r = lm_lock_acquire(a, lock_off, (const struct timespec *)1);
	ERRNO_RESTORE;
	return r;
}

SHMK_EXPORT int shmk_lock_release(struct shmk_arena *a, uint64_t lock_off)
{
	int r = lock_check(a, lock_off);
	ERRNO_SAVE;

	if (r)
		return r;
	r = lm_lock_release(a, lock_off);
	ERRNO_RESTORE;
	return r;
}

SHMK_EXPORT int shmk_lock_consistent(struct shmk_arena *a, uint64_t lock_off)
{
	int r = lock_check(a, lock_off);

	if (r)
		return r;
	return lm_lock_consistent(a, lock_off);
}
