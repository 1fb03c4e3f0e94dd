// SPDX-License-Identifier: GPL-2.0
/*
 * shmk robust lists: when a member dies, release the locks it held.
 *
 * The list lives in the user region, so everything read from it is
 * untrusted: every offset is range- and alignment-checked before use, the
 * walk stops at the first bad one and after SHMK_ROBUST_LIST_LIMIT entries,
 * and the compare-and-exchange on each lock word gives up after a bounded
 * number of retries. A hostile list can only fail to release locks.
 */
#include <linux/overflow.h>
#include <linux/printk.h>

#include "shmk.h"
#include "shmk_trace.h"

/* cmpxchg attempts on one lock word before giving up on it. */
#define SHMK_ROBUST_CMPXCHG_TRIES	64

static bool shmk_entry_ok(const struct shmk_arena *arena, u64 entry)
{
	return !(entry & 7) && entry < arena->user_size &&
	       arena->user_size - entry >= sizeof(struct shmk_robust_entry);
}

/*
 * Marks the lock word of @entry OWNER_DIED if @m owns it and wakes all its
 * waiters. Returns true if the lock was released.
 */
static bool shmk_robust_release(struct shmk_member *m, u64 entry, s64 delta)
{
	struct shmk_arena *arena = m->arena;
	u32 *word, old, new, cur;
	s64 off;
	int tries;

	if (check_add_overflow((s64)entry, delta, &off) || off < 0 ||
	    !shmk_word_ok(arena, off))
		return false;

	word = arena->user + off;
	old = READ_ONCE(*word);
	for (tries = 0; tries < SHMK_ROBUST_CMPXCHG_TRIES; tries++) {
		if ((old & SHMK_LOCK_OWNER_MASK) != m->id)
			return false;
		new = (old & SHMK_LOCK_WAITERS) | SHMK_LOCK_OWNER_DIED;
		cur = cmpxchg(word, old, new);
		if (cur == old) {
			shmk_wake(arena, off, SHMK_WAKE_ALL);
			return true;
		}
		old = cur;
	}
	return false;
}

/* Called with the arena lock held, while @m is still live. */
void shmk_robust_walk(struct shmk_member *m)
{
	struct shmk_arena *arena = m->arena;
	const struct shmk_robust_head *head;
	u64 head_off = m->robust_head;
	u64 entry, next, pending;
	u32 entries = 0, recovered = 0;
	s64 delta;

	lockdep_assert_held(&arena->lock);
	if (head_off == SHMK_ROBUST_NONE)
		return;
	/* Checked by SET_ROBUST against a user_size that never changes. */
	if (WARN_ON_ONCE((head_off & 7) || head_off >= arena->user_size ||
			 arena->user_size - head_off < sizeof(*head)))
		return;

	head = arena->user + head_off;
	entry = READ_ONCE(head->next);
	delta = READ_ONCE(head->lock_delta);
	pending = READ_ONCE(head->op_pending);

	while (entry != head_off) {
		if (entries >= SHMK_ROBUST_LIST_LIMIT) {
			pr_warn_ratelimited("shmk: arena %u member %u: robust list longer than %u entries, walk stopped\n",
					    arena->id, m->id,
					    SHMK_ROBUST_LIST_LIMIT);
			break;
		}
		if (!shmk_entry_ok(arena, entry))
			break;
		/* Read the link first: releasing the lock frees the entry. */
		next = READ_ONCE(((struct shmk_robust_entry *)
				  (arena->user + entry))->next);
		if (entry != pending && shmk_robust_release(m, entry, delta))
			recovered++;
		entries++;
		entry = next;
	}

	if (pending != SHMK_ROBUST_NONE && shmk_entry_ok(arena, pending) &&
	    shmk_robust_release(m, pending, delta))
		recovered++;

	trace_shmk_robust(arena->id, m->id, entries, recovered);
}
