// SPDX-License-Identifier: MIT
/*
 * Events and wait/wake: the bottom of the core, under everything that
 * sleeps. The process-local event queue that a backend's pump fills
 * (shmk_ev_push()) and readers empty (shmk_ev_pop()), a member's
 * liveness as the backend sees it, and waits on arena words that return
 * early, with SHMK_WAIT_EVENT, when an event is pending. Calls nothing
 * of the core above it; reaches the backend only through the handle's
 * struct shmk_be_ops.
 */
#include "shmk_int.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- member slots ---------------------------------------------------- */

/* Live, or cannot tell (then we must not reclaim it): true. */
bool shmk_member_live(struct shmk_arena *a, uint32_t id, uint32_t gen)
{
	uint32_t g = 0;
	int r;

	if (id == a->id)
		return gen == a->gen;
	r = a->be->member(a, id, &g);
	return r < 0 || (r == 1 && g == gen);
}

bool shmk_member_unreclaimed(struct shmk_arena *a, uint32_t id, uint32_t gen)
{
	uint64_t c;

	if (id == 0 || id > a->g.member_max)
		return false;
	c = ld_acq(&lm_slot(a, id)->ctl);
	return LS_STATE(c) == LS_LIVE && LS_GEN(c) == gen;
}

bool shmk_member_live_masked(struct shmk_arena *a, uint32_t id, uint32_t gen,
			     uint32_t mask)
{
	uint32_t g;

	if (id == 0 || id > a->g.member_max)
		return false;
	if (id == a->id)
		return (a->gen & mask) == gen;
	return a->be->member(a, id, &g) == 1 && (g & mask) == gen;
}

SHMK_EXPORT int shmk_arena_member_alive(struct shmk_arena *a, uint32_t id,
					uint32_t gen)
{
	int r;
	ERRNO_SAVE;

	if (!a)
		return -EINVAL;
	r = shmk_member_live(a, id, gen);
	ERRNO_RESTORE;
	return r;
}

/* ---- events ---------------------------------------------------------- */

/* Called with ev_lock held (from a backend's pump). */
int shmk_ev_push(struct shmk_arena *a, const struct shmk_event *ev)
{
	uint64_t one = 1;
	unsigned int i;

	if (ev->type == SHMK_EVENT_EXIT)
		PROBE_A(end, a, ev->member_id, ev->how, ev->status,
			ev->generation, ev->pid, ev->flags);
	if (ev->type == SHMK_EVENT_EXIT && ev->member_id != a->id &&
	    !a->rdonly) {
		if (a->rcq_len == a->rcq_cap) {
			unsigned int nc = a->rcq_cap ? a->rcq_cap * 2 : 16;
			void *n = realloc(a->rcq, nc * sizeof(*a->rcq));

			if (n) {
				a->rcq = n;
				a->rcq_cap = nc;
			}
		}
		if (a->rcq_len < a->rcq_cap) {
			a->rcq[a->rcq_len].id = ev->member_id;
			a->rcq[a->rcq_len].gen = ev->generation;
			a->rcq_len++;
		}
	}
	if (ev->type == SHMK_EVENT_OVERFLOW) {
		a->evq_lost += ev->lost;
	} else if (a->evq_len == a->evq_cap) {
		a->evq_lost++;
	} else {
		i = (a->evq_head + a->evq_len) % a->evq_cap;
		a->evq[i] = *ev;
		__atomic_store_n(&a->evq_len, a->evq_len + 1,
				 __ATOMIC_RELEASE);
	}
	if (write(a->evfd, &one, sizeof(one)) < 0) {
		/* counter saturated: it is readable anyway */
	}
	return 0;
}

/*
 * Take up to @n events off the local queue (an OVERFLOW event first if
 * some were lost); the event fd stops being readable once it is empty.
 * Called with rc_lock held (shmk_arena_events()).
 */
int shmk_ev_pop(struct shmk_arena *a, struct shmk_event *ev, unsigned int n)
{
	uint64_t cnt;
	unsigned int k = 0;

	pthread_mutex_lock(&a->ev_lock);
	if (a->evq_lost && n) {
		memset(&ev[0], 0, sizeof(ev[0]));
		ev[0].type = SHMK_EVENT_OVERFLOW;
		ev[0].lost = a->evq_lost;
		a->evq_lost = 0;
		k = 1;
	}
	while (k < n && a->evq_len) {
		ev[k++] = a->evq[a->evq_head];
		a->evq_head = (a->evq_head + 1) % a->evq_cap;
		__atomic_store_n(&a->evq_len, a->evq_len - 1,
				 __ATOMIC_RELEASE);
	}
	if (!a->evq_len && !a->evq_lost) {
		if (read(a->evfd, &cnt, sizeof(cnt)) < 0) {
			/* already empty */
		}
	}
	pthread_mutex_unlock(&a->ev_lock);
	return (int)k;
}

SHMK_EXPORT int shmk_arena_event_fd(const struct shmk_arena *a)
{
	return a ? a->epfd : -EINVAL;
}

/* ---- wait / wake ----------------------------------------------------- */

/* Why @off (or @bad_flags) is no word to wait or wake on. */
static void bad_word(struct shmk_arena *a, uint64_t off, unsigned int bad_flags)
{
	if (bad_flags)
		shmk_areason(a, "unknown wait flags %#x", bad_flags);
	else if (off & 3)
		shmk_areason(a, "arena offset %#llx is not 4-byte aligned",
			     (unsigned long long)off);
	else
		shmk_areason(a, "arena offset %#llx is beyond the user "
			     "region of arena '%s' (%llu bytes)",
			     (unsigned long long)off, a->name,
			     (unsigned long long)a->size);
}

int shmk_wait_internal(struct shmk_arena *a, uint64_t off, uint32_t expected,
		       const struct timespec *abs, unsigned int flags)
{
	if (!(flags & (SHMK_WAIT_NO_EVENTS | LM_WAIT_NOLOCALQ)) &&
	    __atomic_load_n(&a->evq_len, __ATOMIC_ACQUIRE))
		return SHMK_WAIT_EVENT;
	return a->be->wait(a, off, expected, abs, flags & SHMK_WAIT_NO_EVENTS);
}

SHMK_EXPORT int shmk_arena_wait(struct shmk_arena *a, uint64_t off,
				uint32_t expected, int64_t timeout_ns,
				unsigned int flags)
{
	struct timespec ts;
	int r;
	ERRNO_SAVE;

	if (!a)
		return -EINVAL;
	if (!off_ok(a, off, 4, 4) || (flags & ~SHMK_WAIT_NO_EVENTS)) {
		bad_word(a, off, flags & ~SHMK_WAIT_NO_EVENTS);
		ERRNO_RESTORE;
		return -EINVAL;
	}
	if (timeout_ns >= 0)
		shmk_deadline(&ts, timeout_ns);
	r = shmk_wait_internal(a, off, expected, timeout_ns >= 0 ? &ts : NULL,
			       flags);
	ERRNO_RESTORE;
	return r;
}

SHMK_EXPORT int shmk_arena_wake(struct shmk_arena *a, uint64_t off,
				uint32_t n)
{
	int r;
	ERRNO_SAVE;

	if (!a)
		return -EINVAL;
	if (!off_ok(a, off, 4, 4) || n == 0) {
		if (n == 0)
			shmk_areason(a, "wake of 0 waiters (SHMK_WAKE_ALL "
				     "wakes them all)");
		else
			bad_word(a, off, 0);
		ERRNO_RESTORE;
		return -EINVAL;
	}
	r = a->be->wake(a, off, n);
	ERRNO_RESTORE;
	return r;
}
