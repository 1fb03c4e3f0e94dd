/* SPDX-License-Identifier: GPL-2.0 */
/*
 * shmk internal definitions.
 *
 * Objects
 * -------
 * struct shmk_arena   named shared memory: pages, kernel mappings, the member
 *                     slot table and the kernel-written control region.
 *                     Refcounted (kref): the registry holds one reference
 *                     while the name is linked, each membership holds one.
 *                     Mappings reach it through their file's membership.
 * struct shmk_ns      one IPC namespace that has arenas (registry.c): the
 *                     names live there, and the arenas charged to it.
 * struct shmk_user    one user (kuid) that created arenas: what is charged
 *                     to it against the per-user limits.
 * struct shmk_member  one membership (one per attached file); owns an event
 *                     ring. Refcounted: its file holds one reference, and the
 *                     watch on its owner's exit (@exit_wqe) holds one while
 *                     armed, so a member whose file is released while its
 *                     owner is dying lives on until the death is reported.
 * struct shmk_file    file->private_data: the file's (at most one) member.
 *
 * Locks, in the order they nest (outer first)
 * ---------------------------------------------
 * 1. shmk_file.lock (mutex): serialises SHMK_IOC_ATTACH on one file.
 *    shmk_member.read_lock (mutex): serialises read() of one member's
 *    events; held across copy_to_user(), so only mmap_lock nests inside.
 * 2. mmap_lock of a process (taken by the core around ->mmap and the
 *    fault handler). Never taken inside the locks below.
 * 3. shmk_registry_lock (global mutex): the namespace and user records and
 *    everything charged to them, the list of arenas, the name links
 *    (@linked), the arena id counter; the final kref_put of an arena.
 *    Held only for lookups and bookkeeping: never across work that grows
 *    with an arena's size (page allocation and freeing run unlocked).
 * 4. shmk_arena.lock (mutex): the slot table, members_live, member state
 *    changes (attach, every kind of end), the robust list head of its
 *    members, everything written into the control region.
 * 5. shmk_member.ev_lock (spinlock): that member's event ring.
 *    shmk_bucket.lock (spinlock): the waiters hashed to that bucket.
 *    pid->wait_pidfd.lock (spinlock, the core's): a member's exit watch.
 *    These never nest with each other.
 *
 * No user memory is touched (copy_{from,to}_user, get_user) while any of
 * these locks but read_lock is held: the kernel reads and writes arena
 * contents only through its own vmap() of the pages. Nothing sleeps under
 * a spinlock. Membership ends run in process context (ioctl, ->flush,
 * ->release, the exit work) with the arena lock held.
 */
#ifndef _SHMK_INTERNAL_H
#define _SHMK_INTERNAL_H

#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/uidgid.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/atomic.h>

#include "../uapi/linux/shmk.h"

struct file;
struct ipc_namespace;
struct page;
struct pid;
struct pid_namespace;
struct seq_file;
struct user_namespace;
struct vm_area_struct;

/* Control region layout: header, then member slot 1 at this offset. */
#define SHMK_CTRL_MEMBERS_OFFSET	256
#define SHMK_CTRL_MEMBER_STRIDE		sizeof(struct shmk_ctrl_member)

/* Hard upper bounds on the module parameters. */
#define SHMK_MEMBERS_CAP		1024
#define SHMK_EVENT_QUEUE_CAP		65536

/* Module parameters (main.c), fixed after load. */
extern unsigned long shmk_max_arena_size;
extern unsigned int shmk_max_arenas;
extern unsigned int shmk_reserved_arenas;
extern unsigned int shmk_max_arenas_per_ns;
extern unsigned int shmk_max_arenas_per_user;
extern unsigned long shmk_max_bytes_per_ns;
extern unsigned long shmk_max_bytes_per_user;
extern unsigned int shmk_max_members;
extern unsigned int shmk_event_queue_len;

/* Ends of memberships whose owner died run here (member.c). */
extern struct workqueue_struct *shmk_wq;

/* Global counters reported by debugfs "stats". */
extern atomic_t shmk_stat_arenas;	/* arenas allocated, not yet freed */
extern atomic_t shmk_stat_members;	/* live memberships */
extern atomic_long_t shmk_stat_pages;	/* pages allocated, not yet freed */
extern atomic_t shmk_stat_waiters;	/* tasks queued in SHMK_IOC_WAIT */

extern struct mutex shmk_registry_lock;
extern struct list_head shmk_arena_list;	/* (protected by shmk_registry_lock) */

/* An IPC namespace with arenas (registry.c). */
struct shmk_ns {
	struct hlist_node node;		/* (protected by shmk_registry_lock) */
	/*
	 * The namespace's internal mqueue mount, pinned by mntget(): its
	 * address identifies the namespace and is never reused while held.
	 */
	struct vfsmount *key;
	unsigned int inum;		/* nsfs inode number, for display */
	struct list_head arenas;	/* linked (protected by registry lock) */
	u32 nr_arenas;			/* charged (protected by registry lock) */
	unsigned long nr_pages;		/* charged (protected by registry lock) */
	bool dead;			/* namespace gone (registry lock) */
};

/* A user that created arenas (registry.c). */
struct shmk_user {
	struct hlist_node node;		/* (protected by shmk_registry_lock) */
	kuid_t uid;
	u32 nr_arenas;			/* charged (protected by registry lock) */
	unsigned long nr_pages;		/* charged (protected by registry lock) */
};

/* Kernel-side view of one member slot. */
struct shmk_slot {
	struct shmk_member *member;	/* LIVE only (protected by arena @lock) */
	/*
	 * DEAD: order of ending in the arena, from @end_seq of the arena: a
	 * clock can give two ends the same time (protected by arena @lock)
	 */
	u64 end_seq;
	u32 generation;			/* (protected by arena @lock) */
	u32 state;			/* SHMK_MEMBER_* (protected by arena @lock) */
};

struct shmk_arena {
	struct kref ref;
	/* Entry in shmk_arena_list (protected by shmk_registry_lock). */
	struct list_head node;
	/* Entry in @ns->arenas while linked (protected by registry lock). */
	struct list_head ns_node;
	/* Lookup by name allowed (protected by shmk_registry_lock). */
	bool linked;

	/* Immutable after creation. */
	u32 id;
	struct shmk_ns *ns;		/* charged to, and named in */
	struct shmk_user *acct;		/* the user charged for it */
	char name[SHMK_NAME_MAX];
	kuid_t uid;			/* owner: creator's euid */
	kgid_t gid;
	umode_t mode;
	bool persistent;
	struct user_namespace *user_ns;	/* creator's, for ctrl uid fields */
	struct pid_namespace *pid_ns;	/* creator's, for ctrl pid fields */
	u64 created_ns;
	u32 member_max;
	size_t ctrl_size;
	size_t user_size;
	unsigned long nr_ctrl_pages;
	unsigned long nr_pages;		/* control pages first, then user */
	struct page **pages;
	struct shmk_ctrl *ctrl;		/* vmap of the control pages */
	void *user;			/* vmap of the user pages */

	struct mutex lock;		/* see the overview above */
	u32 members_live;		/* (protected by @lock) */
	u64 end_seq;			/* ends so far (protected by @lock) */
	struct shmk_slot *slots;	/* [member_max] (protected by @lock) */
};

/* One queued event; @pid is a counted reference, translated at read(). */
struct shmk_kevent {
	struct pid *pid;
	u64 time_ns;
	u32 how;
	u32 member_id;
	u32 generation;
	s32 status;
	u32 flags;
};

enum shmk_member_state {
	SHMK_MS_LIVE = 1,
	SHMK_MS_ENDED = 2,
};

struct shmk_member {
	struct kref ref;
	/* Immutable while the member exists. */
	struct shmk_arena *arena;	/* counted reference */
	struct pid *owner;		/* tgid of the attaching process */
	u32 id;
	u32 generation;
	u32 flags;			/* SHMK_MEMBER_F_* */

	/*
	 * The watch on the owner's death: an entry on @owner->wait_pidfd,
	 * which the core wakes when the whole thread group has exited
	 * (as for pidfd poll). Its callback records the wait() status in
	 * @exit_code and queues @exit_work, which ends the membership.
	 */
	struct wait_queue_entry exit_wqe;	/* (owner's wait_pidfd lock) */
	struct work_struct exit_work;
	int exit_code;			/* set before @exit_work is queued */

	/* Written under arena @lock, read locklessly with READ_ONCE. */
	int state;			/* enum shmk_member_state */
	u64 robust_head;		/* (protected by arena @lock) */

	spinlock_t ev_lock;		/* protects the ring below */
	struct shmk_kevent *ev_ring;	/* [shmk_event_queue_len] */
	u32 ev_cap;			/* (immutable) */
	u32 ev_head;			/* oldest (protected by @ev_lock) */
	u32 ev_count;			/* (protected by @ev_lock) */
	u64 ev_lost;			/* dropped since last read (@ev_lock) */
	u64 ev_lost_ns;			/* first drop (protected by @ev_lock) */
	struct mutex read_lock;		/* one reader pops at a time */
	wait_queue_head_t ev_wq;	/* readers, pollers, WAIT sleepers */
};

struct shmk_file {
	struct mutex lock;		/* serialises ATTACH */
	/* Set once by ATTACH (under @lock), cleared never. */
	struct shmk_member *member;
};

/* registry.c */
struct shmk_arena *shmk_arena_lookup(struct ipc_namespace *ipc_ns,
				     const char *name);
int shmk_registry_charge(struct shmk_arena *arena,
			 struct ipc_namespace *ipc_ns);
void shmk_registry_uncharge(struct shmk_arena *arena,
			    struct vfsmount **unpin);
void shmk_arena_link(struct shmk_arena *arena);
void shmk_arena_unlink(struct shmk_arena *arena);
void shmk_arena_unlink_unused(struct shmk_arena *arena);
void shmk_registry_gc(void);
void shmk_registry_exit(void);
void shmk_show_users(struct seq_file *s);
void shmk_show_namespaces(struct seq_file *s);

/* arena.c */
struct shmk_arena *shmk_arena_create(struct ipc_namespace *ipc_ns,
				     const char *name, u64 size, umode_t mode,
				     u32 member_max, bool persistent);
void shmk_arena_get(struct shmk_arena *arena);
void shmk_arena_put(struct shmk_arena *arena);
void shmk_ctrl_write_begin(struct shmk_arena *arena);
void shmk_ctrl_write_end(struct shmk_arena *arena);
struct shmk_ctrl_member *shmk_ctrl_slot(struct shmk_arena *arena, u32 id);
int shmk_mmap(struct file *file, struct vm_area_struct *vma);
void shmk_arenas_destroy_all(void);

/* member.c */
bool shmk_is_owner(const struct shmk_member *m);
bool shmk_owner_exiting(const struct shmk_member *m);
struct shmk_member *shmk_member_alloc(void);
void shmk_member_put(struct shmk_member *m);
void shmk_member_release(struct shmk_member *m);
void shmk_member_flush(struct shmk_member *m, struct file *file);
int shmk_member_attach(struct shmk_member *m, struct shmk_arena *arena,
		       u32 attach_flags);
void shmk_member_end(struct shmk_member *m, u32 how, s32 status);
bool shmk_events_pending(struct shmk_member *m);
u32 shmk_events_count(struct shmk_member *m);
ssize_t shmk_events_read(struct shmk_member *m, char __user *buf,
			 size_t count, bool nonblock);

/* wait.c */
int shmk_wait(struct shmk_member *m, const struct shmk_wait *w);
u32 shmk_wake(struct shmk_arena *arena, u64 offset, u32 count);
void shmk_wait_init(void);
void shmk_wait_exit(void);

/* robust.c */
void shmk_robust_walk(struct shmk_member *m);

/* debugfs.c */
void shmk_debugfs_init(void);
void shmk_debugfs_exit(void);
void shmk_show_fdinfo(struct seq_file *s, struct file *file);

/* The file's member, or NULL before ATTACH. */
static inline struct shmk_member *shmk_file_member(struct shmk_file *sf)
{
	/* Pairs with the release in ATTACH that publishes the member. */
	return smp_load_acquire(&sf->member);
}

/* Validates a user word offset for WAIT/WAKE: 4-aligned, inside the region. */
static inline bool shmk_word_ok(const struct shmk_arena *arena, u64 offset)
{
	return !(offset & 3) && offset < arena->user_size &&
	       arena->user_size - offset >= sizeof(u32);
}

#endif /* _SHMK_INTERNAL_H */
