// SPDX-License-Identifier: GPL-2.0
/*
 * shmk members: attach, the end of a membership (detach or death), and the
 * per-member event ring read by read() and poll().
 */
#include <linux/cred.h>
#include <linux/fdtable.h>
#include <linux/module.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/workqueue.h>
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

/*
 * Has every thread of @m's owner begun to exit? Then *@code is what
 * wait() will report for it (exit code << 8, or the signal number), as
 * far as it is known yet. A group exit (exit_group(), a fatal signal)
 * sets the group's code before any thread exits; otherwise the leader's
 * own code counts.
 */
static bool shmk_owner_exit_code(const struct shmk_member *m, int *code)
{
	struct task_struct *leader;
	struct signal_struct *sig;
	bool exiting = true;

	*code = 0;
	rcu_read_lock();
	leader = pid_task(m->owner, PIDTYPE_TGID);
	if (leader) {
		sig = leader->signal;
		if (READ_ONCE(sig->flags) & SIGNAL_GROUP_EXIT)
			*code = READ_ONCE(sig->group_exit_code);
		else if (!atomic_read(&sig->live))
			*code = READ_ONCE(leader->exit_code);
		else
			exiting = false;
	}
	rcu_read_unlock();
	return exiting;
}

bool shmk_owner_exiting(const struct shmk_member *m)
{
	int code;

	return shmk_owner_exit_code(m, &code);
}

/*
 * Wake function of the exit watch, called by the core with the owner's
 * wait_pidfd lock held (and tasklist_lock: atomic context) when its thread
 * group has exited, like a pidfd's poll. Everything about the death is
 * settled then: record the wait() status and let the work end the
 * membership in process context.
 */
static int shmk_owner_exited(struct wait_queue_entry *wqe, unsigned int mode,
			     int sync, void *key)
{
	struct shmk_member *m = container_of(wqe, struct shmk_member,
					     exit_wqe);

	if (!thread_group_exited(m->owner) ||
	    !shmk_owner_exit_code(m, &m->exit_code))
		return 0;
	/* Disarmed: the watch's reference goes with the work. */
	list_del_init(&wqe->entry);
	queue_work(shmk_wq, &m->exit_work);
	return 0;
}

static void shmk_member_end_code(struct shmk_member *m, int code)
{
	if (code & 0x7f)
		shmk_member_end(m, SHMK_END_SIGNAL, code & 0x7f);
	else
		shmk_member_end(m, SHMK_END_EXIT, (code >> 8) & 0xff);
}

static void shmk_exit_work(struct work_struct *work)
{
	struct shmk_member *m = container_of(work, struct shmk_member,
					     exit_work);

	shmk_member_end_code(m, m->exit_code);
	shmk_member_put(m);
	/* The watch pinned the module; shmk_exit() drains shmk_wq. */
	module_put(THIS_MODULE);
}

/*
 * Takes the watch off the owner's wait queue if it is still there.
 * True if it was: its reference is then the caller's to drop.
 */
static bool shmk_watch_disarm(struct shmk_member *m)
{
	wait_queue_head_t *wq = &m->owner->wait_pidfd;
	unsigned long flags;
	bool armed;

	spin_lock_irqsave(&wq->lock, flags);
	armed = !list_empty(&m->exit_wqe.entry);
	if (armed)
		list_del_init(&m->exit_wqe.entry);
	spin_unlock_irqrestore(&wq->lock, flags);
	return armed;
}

/*
 * A member for the calling process, with its exit watch armed: one
 * reference for the caller's file, one for the watch (which also pins
 * the module, as it may outlive the file).
 */
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
	kref_init(&m->ref);
	spin_lock_init(&m->ev_lock);
	mutex_init(&m->read_lock);
	init_waitqueue_head(&m->ev_wq);
	m->robust_head = SHMK_ROBUST_NONE;
	m->owner = get_pid(task_tgid(current));

	kref_get(&m->ref);
	__module_get(THIS_MODULE);
	INIT_WORK(&m->exit_work, shmk_exit_work);
	init_waitqueue_func_entry(&m->exit_wqe, shmk_owner_exited);
	/* The caller is a live thread of the owner: the watch cannot be late. */
	add_wait_queue(&m->owner->wait_pidfd, &m->exit_wqe);
	return m;
}

static void shmk_member_free(struct kref *ref)
{
	struct shmk_member *m = container_of(ref, struct shmk_member, ref);
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

void shmk_member_put(struct shmk_member *m)
{
	kref_put(&m->ref, shmk_member_free);
}

/*
 * The file of @m is released. If the owner is alive, that ends the
 * membership: SHMK_END_CLOSE. If the owner is dying (this may run in its
 * last thread's exit, or in a kworker that dropped the last reference for
 * it), the watch reports the death with its true status once the thread
 * group has exited; until then the member stays live.
 */
void shmk_member_release(struct shmk_member *m)
{
	if (READ_ONCE(m->state) == SHMK_MS_LIVE && shmk_owner_exiting(m)) {
		shmk_member_put(m);
		return;
	}
	if (shmk_watch_disarm(m)) {
		shmk_member_put(m);
		module_put(THIS_MODULE);
	}
	shmk_member_end(m, SHMK_END_CLOSE, 0);
	shmk_member_put(m);
}

/*
 * ->flush(), in the process that closes a descriptor of @m's file:
 * - a thread of the owner exiting (the last close of its fd table) while
 *   the whole group exits: the death, with the group's status, now;
 * - the owner, alive, closing its last descriptor: SHMK_END_CLOSE.
 * Anything else leaves the membership alone: a forked child's close, or
 * a thread with a table of its own leaving a process that lives on.
 */
static int shmk_fd_matches(const void *file, struct file *f, unsigned int fd)
{
	return f == file;
}

void shmk_member_flush(struct shmk_member *m, struct file *file)
{
	int code;

	if (READ_ONCE(m->state) != SHMK_MS_LIVE || !shmk_is_owner(m))
		return;
	if (current->flags & PF_EXITING) {
		if (shmk_owner_exit_code(m, &code))
			shmk_member_end_code(m, code);
		return;
	}
	if (current->files &&
	    !iterate_fd(current->files, 0, shmk_fd_matches, file) &&
	    !shmk_owner_exiting(m))
		shmk_member_end(m, SHMK_END_CLOSE, 0);
}

/*
 * The slot a new member takes: the lowest never-used one, else the one
 * whose member ended longest ago (lowest @end_seq: two ends can read the
 * same ktime under a coarse guest clock). A dead member's record (how,
 * status) thus stays readable as long as possible, and an id is reused as
 * late as possible, which gives survivors the most time to reclaim what it
 * owned.
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
		    (!best || s->end_seq < best->end_seq))
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
	bool last = false;
	u32 i;

	if (!arena)
		return;

	mutex_lock(&arena->lock);
	if (m->state != SHMK_MS_LIVE) {
		mutex_unlock(&arena->lock);
		return;
	}

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
	arena->slots[m->id - 1].end_seq = ++arena->end_seq;
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
	last = !arena->members_live && !arena->persistent;
	atomic_dec(&shmk_stat_members);
	trace_shmk_end(arena->id, m->id, m->generation, how, status);
	mutex_unlock(&arena->lock);

	/* Its own readers see EOF, its own WAITs return -ENOTCONN. */
	wake_up_interruptible_poll(&m->ev_wq, EPOLLHUP | EPOLLIN | EPOLLRDNORM);
	if (last)
		shmk_arena_unlink_unused(arena);
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
