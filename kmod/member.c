// SPDX-License-Identifier: GPL-2.0
/*
 * shmk members: attach, the end of a membership (detach or death), and the
 * per-member event ring read by read() and poll().
 */
#include <linux/cred.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>
#include <linux/user_namespace.h>

#include "shmk.h"
#include "shmk_trace.h"

/* True if the calling process is the one that attached @m. */
bool shmk_is_owner(const struct shmk_member *m)
{
	return task_tgid(current) == m->owner;
}

struct shmk_member *shmk_member_alloc(void)
{
	struct shmk_member *m;

	m = kzalloc(sizeof(*m), GFP_KERNEL_ACCOUNT);
	if (!m)
		return NULL;
	m->ev_cap = shmk_event_queue_len;
	/* A tight memcg makes this fail: -ENOMEM, not a warning splat. */
	m->ev_ring = kvcalloc(m->ev_cap, sizeof(*m->ev_ring),
			      GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!m->ev_ring) {
		kfree(m);
		return NULL;
	}
	spin_lock_init(&m->ev_lock);
	mutex_init(&m->read_lock);
	init_waitqueue_head(&m->ev_wq);
	m->robust_head = SHMK_ROBUST_NONE;
	m->owner = get_pid(task_tgid(current));
	return m;
}

/* Frees a member that has ended (or never attached). */
void shmk_member_free(struct shmk_member *m)
{
	u32 i;

	WARN_ON_ONCE(READ_ONCE(m->state) == SHMK_MS_LIVE);
	for (i = 0; i < m->ev_count; i++)
		put_pid(m->ev_ring[(m->ev_head + i) % m->ev_cap].pid);
	kvfree(m->ev_ring);
	put_pid(m->owner);
	if (m->arena)
		shmk_arena_put(m->arena);
	kfree(m);
}

/*
 * The slot a new member takes: the lowest never-used one, else the one
 * whose member ended longest ago. A dead member's record (how, status)
 * thus stays readable as long as possible, and an id is reused as late as
 * possible, which gives survivors the most time to reclaim what it owned.
 * Called with the arena @lock held.
 */
static struct shmk_slot *shmk_slot_pick(struct shmk_arena *arena)
{
	struct shmk_slot *best = NULL, *s;
	u32 i;

	lockdep_assert_held(&arena->lock);
	for (i = 0; i < arena->member_max; i++) {
		s = &arena->slots[i];
		if (s->state == SHMK_MEMBER_FREE)
			return s;
		if (s->state == SHMK_MEMBER_DEAD &&
		    (!best || s->end_ns < best->end_ns))
			best = s;
	}
	return best;
}

/*
 * Gives @m a slot of @arena (shmk_slot_pick()). Called with the registry
 * lock held, so @arena cannot be unlinked meanwhile.
 */
int shmk_member_attach(struct shmk_member *m, struct shmk_arena *arena,
		       u32 attach_flags)
{
	struct shmk_ctrl_member *cm;
	struct shmk_slot *slot;
	u32 i;

	lockdep_assert_held(&shmk_registry_lock);
	mutex_lock(&arena->lock);
	slot = shmk_slot_pick(arena);
	if (!slot) {
		mutex_unlock(&arena->lock);
		return -ENOSPC;
	}
	i = slot - arena->slots;

	slot->generation++;
	if (!slot->generation)
		slot->generation = 1;
	slot->state = SHMK_MEMBER_LIVE;
	slot->member = m;

	shmk_arena_get(arena);
	m->arena = arena;
	m->id = i + 1;
	m->generation = slot->generation;
	m->flags = (attach_flags & SHMK_ATTACH_RDONLY) ? SHMK_MEMBER_F_RDONLY : 0;
	WRITE_ONCE(m->state, SHMK_MS_LIVE);
	arena->members_live++;

	shmk_ctrl_write_begin(arena);
	cm = shmk_ctrl_slot(arena, m->id);
	cm->state = SHMK_MEMBER_LIVE;
	cm->generation = m->generation;
	cm->pid = pid_nr_ns(m->owner, arena->pid_ns);
	cm->uid = from_kuid_munged(arena->user_ns, current_euid());
	cm->flags = m->flags;
	cm->how = 0;
	cm->status = 0;
	cm->attach_ns = ktime_get_ns();
	cm->end_ns = 0;
	arena->ctrl->members_live = arena->members_live;
	shmk_ctrl_write_end(arena);

	mutex_unlock(&arena->lock);
	atomic_inc(&shmk_stat_members);
	return 0;
}

/* Appends @ev to @m's ring, or counts it lost when the ring is full. */
static void shmk_event_queue(struct shmk_member *m,
			     const struct shmk_kevent *ev)
{
	spin_lock(&m->ev_lock);
	if (m->ev_count < m->ev_cap) {
		struct shmk_kevent *slot;

		slot = &m->ev_ring[(m->ev_head + m->ev_count) % m->ev_cap];
		*slot = *ev;
		slot->pid = get_pid(ev->pid);
		m->ev_count++;
	} else {
		if (!m->ev_lost)
			m->ev_lost_ns = ev->time_ns;
		m->ev_lost++;
	}
	spin_unlock(&m->ev_lock);
	wake_up_interruptible_poll(&m->ev_wq, EPOLLIN | EPOLLRDNORM);
}

/*
 * Ends membership @m: exactly once, whichever of detach, owner exit and
 * file release comes first. A crash (anything but SHMK_END_DETACH) first
 * releases the robust locks @m held; then the slot is marked dead in the
 * control region, every other live member gets an SHMK_EVENT_EXIT, and the
 * arena loses its name if this was its last live member (non-persistent).
 */
void shmk_member_end(struct shmk_member *m, u32 how, s32 status)
{
	struct shmk_arena *arena = m->arena;
	struct shmk_ctrl_member *cm;
	struct shmk_kevent ev;
	bool drop = false;
	u32 i;

	if (!arena)
		return;

	mutex_lock(&shmk_registry_lock);
	mutex_lock(&arena->lock);
	if (m->state != SHMK_MS_LIVE)
		goto out;

	if (how != SHMK_END_DETACH)
		shmk_robust_walk(m);

	memset(&ev, 0, sizeof(ev));
	ev.pid = m->owner;
	ev.time_ns = ktime_get_ns();
	ev.how = how;
	ev.member_id = m->id;
	ev.generation = m->generation;
	ev.status = status;
	ev.flags = how == SHMK_END_DETACH ? 0 : SHMK_EVENT_F_CRASH;

	arena->slots[m->id - 1].state = SHMK_MEMBER_DEAD;
	arena->slots[m->id - 1].member = NULL;
	arena->slots[m->id - 1].end_ns = ev.time_ns;
	arena->members_live--;
	WRITE_ONCE(m->state, SHMK_MS_ENDED);

	shmk_ctrl_write_begin(arena);
	cm = shmk_ctrl_slot(arena, m->id);
	cm->state = SHMK_MEMBER_DEAD;
	cm->how = how;
	cm->status = status;
	cm->end_ns = ev.time_ns;
	arena->ctrl->members_live = arena->members_live;
	shmk_ctrl_write_end(arena);

	for (i = 0; i < arena->member_max; i++) {
		if (arena->slots[i].state == SHMK_MEMBER_LIVE)
			shmk_event_queue(arena->slots[i].member, &ev);
	}

	if (!arena->members_live && !arena->persistent && arena->linked) {
		shmk_arena_unlink(arena);
		drop = true;
	}
	atomic_dec(&shmk_stat_members);
	trace_shmk_end(arena->id, m->id, m->generation, how, status);
out:
	mutex_unlock(&arena->lock);
	mutex_unlock(&shmk_registry_lock);
	/* Its own readers see EOF, its own WAITs return -ENOTCONN. */
	wake_up_interruptible_poll(&m->ev_wq, EPOLLHUP | EPOLLIN | EPOLLRDNORM);
	if (drop)
		shmk_arena_put(arena);
}

bool shmk_events_pending(struct shmk_member *m)
{
	return READ_ONCE(m->ev_count) || READ_ONCE(m->ev_lost);
}

u32 shmk_events_count(struct shmk_member *m)
{
	u32 n;

	spin_lock(&m->ev_lock);
	n = m->ev_count + (m->ev_lost ? 1 : 0);
	spin_unlock(&m->ev_lock);
	return n;
}

/*
 * Copies whole events to @buf; an overflow record goes first. Each record
 * is popped only after it reached userspace, so a fault loses nothing.
 * Readers of one member are serialised by @read_lock.
 */
static ssize_t shmk_events_copy(struct shmk_member *m, char __user *buf,
				size_t count)
{
	struct shmk_event out;
	struct shmk_kevent ke;
	size_t done = 0;
	u64 lost;

	while (count - done >= sizeof(out)) {
		memset(&out, 0, sizeof(out));
		spin_lock(&m->ev_lock);
		lost = m->ev_lost;
		if (lost) {
			out.type = SHMK_EVENT_OVERFLOW;
			out.lost = lost;
			out.time_ns = m->ev_lost_ns;
		} else if (m->ev_count) {
			ke = m->ev_ring[m->ev_head];
		} else {
			spin_unlock(&m->ev_lock);
			break;
		}
		spin_unlock(&m->ev_lock);

		if (!lost) {
			out.type = SHMK_EVENT_EXIT;
			out.how = ke.how;
			out.member_id = ke.member_id;
			out.generation = ke.generation;
			out.pid = pid_nr_ns(ke.pid, task_active_pid_ns(current));
			out.status = ke.status;
			out.flags = ke.flags;
			out.time_ns = ke.time_ns;
		}
		if (copy_to_user(buf + done, &out, sizeof(out)))
			return done ? done : -EFAULT;

		spin_lock(&m->ev_lock);
		if (lost) {
			m->ev_lost -= lost;
		} else {
			m->ev_head = (m->ev_head + 1) % m->ev_cap;
			m->ev_count--;
		}
		spin_unlock(&m->ev_lock);
		if (!lost)
			put_pid(ke.pid);
		done += sizeof(out);
	}
	return done;
}

/* Something for read() to return: an event, or EOF. */
static bool shmk_readable(struct shmk_member *m)
{
	return shmk_events_pending(m) || READ_ONCE(m->state) != SHMK_MS_LIVE;
}

ssize_t shmk_events_read(struct shmk_member *m, char __user *buf,
			 size_t count, bool nonblock)
{
	ssize_t ret;

	if (count < sizeof(struct shmk_event))
		return -EINVAL;

	for (;;) {
		if (!shmk_events_pending(m)) {
			if (READ_ONCE(m->state) != SHMK_MS_LIVE)
				return 0;
			if (nonblock)
				return -EAGAIN;
			if (wait_event_interruptible(m->ev_wq,
						     shmk_readable(m)))
				return -ERESTARTSYS;
			continue;
		}
		if (mutex_lock_interruptible(&m->read_lock))
			return -ERESTARTSYS;
		ret = shmk_events_copy(m, buf, count);
		mutex_unlock(&m->read_lock);
		if (ret)
			return ret;
		/* Another reader took them: wait again. */
	}
}
