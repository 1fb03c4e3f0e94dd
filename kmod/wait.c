// SPDX-License-Identifier: GPL-2.0
/*
 * shmk wait/wake: futex-like sleeping on 32-bit words of an arena's user
 * region, keyed by (arena, offset).
 *
 * Waiters live on the waiting task's stack and are queued in a hash bucket.
 * A waiter compares the word while holding the bucket lock, right after
 * queueing itself; a waker takes the same lock before scanning. Userspace
 * changes the word before calling WAKE, so either the waker finds the
 * waiter queued, or the waiter (queued after the waker's scan) reads the new
 * value and does not sleep: no wake-up is lost.
 *
 * A waker removes a waiter from the bucket and sets @woken under the bucket
 * lock, holding its own reference to the task, so the waiter may return (and
 * its stack go away) as soon as it sees @woken.
 */
#include <linux/hash.h>
#include <linux/hrtimer.h>
#include <linux/ktime.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/sched/rt.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>

#include "shmk.h"
#include "shmk_trace.h"

#define SHMK_HASH_BITS		8
#define SHMK_WAKE_BATCH		16

struct shmk_bucket {
	spinlock_t lock;		/* protects @waiters */
	struct list_head waiters;	/* struct shmk_waiter, FIFO */
};

struct shmk_waiter {
	struct list_head node;		/* (protected by the bucket lock) */
	struct task_struct *task;
	const struct shmk_arena *arena;
	u64 offset;
	bool woken;			/* set by a waker under the bucket lock */
};

static struct shmk_bucket shmk_buckets[1 << SHMK_HASH_BITS];

/*
 * Wake function of a WAIT sleeper on its member's event queue. The queue is
 * woken with EPOLLIN for a new event and with EPOLLHUP when the member
 * ends; a SHMK_WAIT_NO_EVENTS sleeper only cares about the latter, so it
 * is not disturbed by every event.
 */
struct shmk_wait_entry {
	struct wait_queue_entry wqe;	/* ->private is the sleeping task */
	bool events;			/* wake for events too */
};

static int shmk_wait_wake_fn(struct wait_queue_entry *wqe, unsigned int mode,
			     int sync, void *key)
{
	struct shmk_wait_entry *we = container_of(wqe, struct shmk_wait_entry,
						  wqe);

	if (!we->events && key && !(key_to_poll(key) & EPOLLHUP))
		return 0;
	return default_wake_function(wqe, mode, sync, key);
}

static struct shmk_bucket *shmk_bucket(const struct shmk_arena *arena,
				       u64 offset)
{
	u64 key = (u64)(unsigned long)arena ^ (offset * GOLDEN_RATIO_64);

	return &shmk_buckets[hash_64(key, SHMK_HASH_BITS)];
}

void shmk_wait_init(void)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(shmk_buckets); i++) {
		spin_lock_init(&shmk_buckets[i].lock);
		INIT_LIST_HEAD(&shmk_buckets[i].waiters);
	}
}

void shmk_wait_exit(void)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(shmk_buckets); i++)
		WARN_ON(!list_empty(&shmk_buckets[i].waiters));
}

/*
 * Sleeps on the word at @w->offset of @m's arena (validated by the caller)
 * while it holds @w->expected. See uapi/linux/shmk.h for the results. A
 * signal gives -ERESTARTSYS for an absolute deadline (restartable as is)
 * and -EINTR otherwise.
 */
int shmk_wait(struct shmk_member *m, const struct shmk_wait *w)
{
	struct shmk_arena *arena = m->arena;
	bool events = !(w->flags & SHMK_WAIT_NO_EVENTS);
	struct shmk_bucket *b = shmk_bucket(arena, w->offset);
	const u32 *word = arena->user + w->offset;
	struct shmk_wait_entry we;
	struct shmk_waiter waiter;
	bool timed_out = false;
	ktime_t deadline = 0;
	u64 slack;
	int ret;

	if (events && shmk_events_pending(m)) {
		ret = SHMK_WAIT_EVENT;
		goto out_trace;
	}

	if (w->timeout_ns >= 0) {
		if (w->flags & SHMK_WAIT_ABSTIME)
			deadline = ns_to_ktime(w->timeout_ns);
		else
			deadline = ktime_add_safe(ktime_get(),
						  ns_to_ktime(w->timeout_ns));
	}
	slack = rt_task(current) ? 0 : current->timer_slack_ns;

	waiter.task = current;
	waiter.arena = arena;
	waiter.offset = w->offset;
	waiter.woken = false;

	/* Event arrivals and the end of @m wake us through @ev_wq. */
	init_waitqueue_func_entry(&we.wqe, shmk_wait_wake_fn);
	we.wqe.private = current;
	we.events = events;
	add_wait_queue(&m->ev_wq, &we.wqe);

	spin_lock(&b->lock);
	list_add_tail(&waiter.node, &b->waiters);
	if (READ_ONCE(*word) != w->expected) {
		list_del(&waiter.node);
		spin_unlock(&b->lock);
		remove_wait_queue(&m->ev_wq, &we.wqe);
		ret = -EAGAIN;
		goto out_trace;
	}
	spin_unlock(&b->lock);
	atomic_inc(&shmk_stat_waiters);

	for (;;) {
		set_current_state(TASK_INTERRUPTIBLE);
		/* Pairs with the release in shmk_wake(). */
		if (smp_load_acquire(&waiter.woken)) {
			ret = 0;
			break;
		}
		if (events && shmk_events_pending(m)) {
			ret = SHMK_WAIT_EVENT;
			break;
		}
		if (READ_ONCE(m->state) != SHMK_MS_LIVE) {
			ret = -ENOTCONN;
			break;
		}
		if (signal_pending(current)) {
			ret = (w->flags & SHMK_WAIT_ABSTIME) ? -ERESTARTSYS :
							       -EINTR;
			break;
		}
		if (timed_out) {
			ret = -ETIMEDOUT;
			break;
		}
		if (w->timeout_ns >= 0) {
			if (!schedule_hrtimeout_range(&deadline, slack,
						      HRTIMER_MODE_ABS))
				timed_out = true;
		} else {
			schedule();
		}
	}
	__set_current_state(TASK_RUNNING);

	/* A WAKE that got us wins over whatever else ended the sleep. */
	spin_lock(&b->lock);
	if (waiter.woken)
		ret = 0;
	else
		list_del(&waiter.node);
	spin_unlock(&b->lock);
	atomic_dec(&shmk_stat_waiters);
	remove_wait_queue(&m->ev_wq, &we.wqe);

out_trace:
	trace_shmk_wait(arena->id, m->id, w->offset, w->expected, ret);
	return ret;
}

/*
 * Wakes up to @count waiters on (@arena, @offset), oldest first, and
 * returns how many. Safe to call with the arena lock held.
 */
u32 shmk_wake(struct shmk_arena *arena, u64 offset, u32 count)
{
	struct shmk_bucket *b = shmk_bucket(arena, offset);
	struct task_struct *batch[SHMK_WAKE_BATCH];
	struct shmk_waiter *w, *tmp;
	u32 woken = 0;
	int i, n;

	do {
		n = 0;
		spin_lock(&b->lock);
		list_for_each_entry_safe(w, tmp, &b->waiters, node) {
			if (w->arena != arena || w->offset != offset)
				continue;
			if (woken + n >= count || n == SHMK_WAKE_BATCH)
				break;
			batch[n] = w->task;
			get_task_struct(batch[n]);
			list_del_init(&w->node);
			/* After this store @w may vanish: do not touch it. */
			smp_store_release(&w->woken, true);
			n++;
		}
		spin_unlock(&b->lock);

		for (i = 0; i < n; i++) {
			wake_up_process(batch[i]);
			put_task_struct(batch[i]);
		}
		woken += n;
	} while (n == SHMK_WAKE_BATCH && woken < count);

	return woken;
}
