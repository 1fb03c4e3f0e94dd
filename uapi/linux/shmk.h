/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * shmk: kernel-assisted shared-memory arenas.
 *
 * The whole userspace protocol:
 *
 *	fd = open("/dev/shmk", O_RDWR | O_CLOEXEC);
 *	ioctl(fd, SHMK_IOC_VERSION, &ver);		// handshake, optional
 *	ioctl(fd, SHMK_IOC_ATTACH, &at);		// create and/or join by name
 *	ctrl = mmap(NULL, at.ctrl_size, PROT_READ, MAP_SHARED, fd,
 *		    at.ctrl_offset);			// kernel-written, read-only
 *	user = mmap(NULL, at.user_size, PROT_READ | PROT_WRITE, MAP_SHARED,
 *		    fd, at.user_offset);		// shared arena memory
 *	ioctl(fd, SHMK_IOC_WAIT, &w); ioctl(fd, SHMK_IOC_WAKE, &k);
 *	poll(fd, POLLIN); read(fd, events, n * sizeof(struct shmk_event));
 *	ioctl(fd, SHMK_IOC_DETACH, 0);			// clean exit
 *	close(fd);
 *
 * One open file holds at most one membership. A membership belongs to the
 * process (thread group) that attached. It ends with SHMK_IOC_DETACH (clean),
 * or when that process exits or the file is released without a detach
 * (a crash). Every surviving member then reads one SHMK_EVENT_EXIT.
 *
 * Every struct is 64-bit aligned, has no pointers and no implicit padding;
 * every reserved field and unknown flag must be zero or the call fails with
 * -EINVAL. Offsets are byte offsets into the user region unless stated.
 */
#ifndef _UAPI_LINUX_SHMK_H
#define _UAPI_LINUX_SHMK_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define SHMK_DEVICE_PATH	"/dev/shmk"

/* Bumped on any incompatible change; features are added as bits instead. */
#define SHMK_ABI_VERSION	1

/*
 * Arena names: 1..SHMK_NAME_MAX-1 bytes, NUL-terminated, each an ASCII
 * letter or digit or one of SHMK_NAME_PUNCT; anything else is -EINVAL.
 * (No spaces, controls or '/': names appear in debugfs lines and paths.)
 */
#define SHMK_NAME_MAX		64
#define SHMK_NAME_PUNCT		"._:@+-"

/* Member ids are 1..member_max; 0 means "no member". */
#define SHMK_MEMBER_NONE	0

/* ------------------------------------------------------------------------
 * SHMK_IOC_VERSION: API handshake.
 */
#define SHMK_FEATURE_WAIT_ABSTIME	(1ULL << 0) /* SHMK_WAIT_ABSTIME */
#define SHMK_FEATURE_ROBUST		(1ULL << 1) /* SHMK_IOC_SET_ROBUST */
#define SHMK_FEATURE_PERSISTENT		(1ULL << 2) /* SHMK_ATTACH_PERSISTENT */
#define SHMK_FEATURE_RDONLY		(1ULL << 3) /* SHMK_ATTACH_RDONLY */
#define SHMK_FEATURE_EVENTS		(1ULL << 4) /* read()/poll() of events */
#define SHMK_FEATURE_FDINFO		(1ULL << 5) /* /proc/<pid>/fdinfo/<fd> */
#define SHMK_FEATURE_MAX_MEMBERS	(1ULL << 6) /* shmk_attach.max_members */

struct shmk_version {
	__u32 abi_version;	/* in: SHMK_ABI_VERSION the caller speaks */
	__u32 flags;		/* in: must be 0 */
	/* out: */
	__u32 kernel_abi_version; /* SHMK_ABI_VERSION of the module */
	__u32 member_max;	/* module parameter max_members */
	__u64 features;		/* SHMK_FEATURE_* */
	__u64 ioctls;		/* bit _IOC_NR(cmd) set for each ioctl */
	__u64 arena_size_max;	/* module parameter max_arena_size, bytes */
	__u32 arenas_max;	/* module parameter max_arenas */
	__u32 event_queue_len;	/* events a member can hold before overflow */
	__u64 reserved[4];	/* out: zero */
};

/* ------------------------------------------------------------------------
 * SHMK_IOC_ATTACH: create and/or join an arena by name.
 *
 * Without SHMK_ATTACH_CREATE the arena must exist (-ENOENT). With it, a
 * missing arena is created with user region @size (rounded up to a page)
 * and permission bits @mode; with SHMK_ATTACH_EXCL as well, an existing
 * one fails with -EEXIST. Joining checks @mode like SysV IPC: read access
 * for SHMK_ATTACH_RDONLY, read and write access otherwise.
 */
#define SHMK_ATTACH_CREATE	(1U << 0) /* create if missing */
#define SHMK_ATTACH_EXCL	(1U << 1) /* with CREATE: fail if it exists */
#define SHMK_ATTACH_PERSISTENT	(1U << 2) /* with CREATE: outlive members */
#define SHMK_ATTACH_RDONLY	(1U << 3) /* map the user region read-only */
#define SHMK_ATTACH_FLAGS_ALL	(SHMK_ATTACH_CREATE | SHMK_ATTACH_EXCL | \
				 SHMK_ATTACH_PERSISTENT | SHMK_ATTACH_RDONLY)

/* out_flags */
#define SHMK_ATTACHED_CREATED	(1U << 0) /* this call created the arena */

struct shmk_attach {
	char name[SHMK_NAME_MAX];	/* in */
	__u64 size;		/* in: user region bytes, if creating */
	__u32 flags;		/* in: SHMK_ATTACH_* */
	__u32 mode;		/* in: 0777 bits, if creating; others -EINVAL */
	/* out: */
	__u32 member_id;	/* 1..member_max */
	__u32 generation;	/* of this member slot; never 0 */
	__u32 out_flags;	/* SHMK_ATTACHED_* */
	__u32 arena_id;		/* unique while the module is loaded */
	__u64 ctrl_offset;	/* mmap offset of the control region (0) */
	__u64 ctrl_size;	/* bytes, a multiple of the page size */
	__u64 user_offset;	/* mmap offset of the user region */
	__u64 user_size;	/* bytes, a multiple of the page size */
	/*
	 * in: member slots if creating (0: the module's max_members, more:
	 * -EINVAL), ignored when joining; out: the arena's.
	 */
	__u32 max_members;
	__u32 pad;		/* in: must be 0; out: zero */
	__u64 reserved;		/* in: must be 0; out: zero */
};

/* ------------------------------------------------------------------------
 * SHMK_IOC_WAIT: futex-like wait on a 32-bit word of the user region.
 *
 * Sleeps while the word at @offset (4-byte aligned) holds @expected.
 * Returns 0 when woken by SHMK_IOC_WAKE, SHMK_WAIT_EVENT (positive) when an
 * event is pending for this member (also returned at once if one is already
 * pending on entry), -EAGAIN if the word did not hold @expected, -ETIMEDOUT,
 * -EINTR on a signal, or -ENOTCONN if the membership ended meanwhile.
 * @timeout_ns < 0 waits forever; otherwise it is
 * relative, or with SHMK_WAIT_ABSTIME an absolute CLOCK_MONOTONIC time.
 * An interrupted absolute wait is restarted after a handler with SA_RESTART;
 * an interrupted relative one returns -EINTR.
 */
#define SHMK_WAIT_ABSTIME	(1U << 0)
#define SHMK_WAIT_NO_EVENTS	(1U << 1) /* do not return for events */
#define SHMK_WAIT_FLAGS_ALL	(SHMK_WAIT_ABSTIME | SHMK_WAIT_NO_EVENTS)

#define SHMK_WAIT_EVENT		1	/* ioctl return: event pending */

struct shmk_wait {
	__u64 offset;		/* in: user-region offset, 4-byte aligned */
	__u32 expected;		/* in */
	__u32 flags;		/* in: SHMK_WAIT_* */
	__s64 timeout_ns;	/* in: < 0 forever; relative or absolute */
	__u64 reserved[2];	/* in: must be 0 */
};

/* ------------------------------------------------------------------------
 * SHMK_IOC_WAKE: wake up to @count waiters on the word at @offset.
 * Returns the number woken. @count 0 is -EINVAL; use SHMK_WAKE_ALL.
 */
#define SHMK_WAKE_ALL		0xffffffffU

struct shmk_wake {
	__u64 offset;		/* in: user-region offset, 4-byte aligned */
	__u32 count;		/* in: 1..SHMK_WAKE_ALL */
	__u32 flags;		/* in: must be 0 */
	__u64 reserved;		/* in: must be 0 */
};

/* ------------------------------------------------------------------------
 * SHMK_IOC_SET_ROBUST: register this member's robust lock list.
 *
 * @head_offset is the user-region offset of a struct shmk_robust_head
 * (8-byte aligned), or SHMK_ROBUST_NONE to unregister. When the member ends
 * without SHMK_IOC_DETACH, the module walks the list (at most
 * SHMK_ROBUST_LIST_LIMIT entries, every offset range- and alignment-checked,
 * stopping at the first bad entry and skipping an entry whose lock word is
 * bad) and for each lock word whose owner bits
 * hold this member's id sets SHMK_LOCK_OWNER_DIED, clears the owner, keeps
 * SHMK_LOCK_WAITERS, and wakes every waiter of the word. The entry named by
 * @op_pending is handled the same way.
 */
#define SHMK_ROBUST_NONE	(~0ULL)
#define SHMK_ROBUST_LIST_LIMIT	2048

/* A lock word: owner member id in the low bits, plus two flags. */
#define SHMK_LOCK_WAITERS	0x80000000U
#define SHMK_LOCK_OWNER_DIED	0x40000000U
#define SHMK_LOCK_OWNER_MASK	0x3fffffffU

/* Lives in the user region; written by userspace, read by the kernel. */
struct shmk_robust_head {
	/* Offset of the first entry; the head's own offset when empty. */
	__u64 next;
	__s64 lock_delta;	/* lock word offset = entry offset + delta */
	/* Entry being locked or unlocked, or SHMK_ROBUST_NONE. */
	__u64 op_pending;
};

/* Each entry is the first field of a lock-holding object in the arena. */
struct shmk_robust_entry {
	__u64 next;		/* offset of the next entry, or of the head */
};

struct shmk_robust {
	__u64 head_offset;	/* in: user-region offset, or SHMK_ROBUST_NONE */
	__u32 flags;		/* in: must be 0 */
	__u32 pad;		/* in: must be 0 */
	__u64 reserved;		/* in: must be 0 */
};

/* ------------------------------------------------------------------------
 * SHMK_IOC_REMOVE: remove a persistent arena by name (like IPC_RMID).
 * The name is unlinked at once; the memory goes with the last member.
 * Needs the arena's owner or creator uid, or CAP_SYS_ADMIN in the arena's
 * IPC namespace. Works on any open file, attached or not.
 */
struct shmk_remove {
	char name[SHMK_NAME_MAX];	/* in */
	__u32 flags;		/* in: must be 0 */
	__u32 pad;		/* in: must be 0 */
	__u64 reserved;		/* in: must be 0 */
};

/* ------------------------------------------------------------------------
 * Events: read() returns whole struct shmk_event records (a short buffer
 * is -EINVAL, none pending is -EAGAIN with O_NONBLOCK, else it sleeps);
 * poll() reports EPOLLIN while any is pending.
 */
#define SHMK_EVENT_EXIT		1	/* a member ended */
#define SHMK_EVENT_OVERFLOW	2	/* @lost events were dropped */

/* How a membership ended (struct shmk_event.how, shmk_ctrl_member.how). */
#define SHMK_END_DETACH		1	/* SHMK_IOC_DETACH: clean */
#define SHMK_END_EXIT		2	/* process exited; @status = exit code */
#define SHMK_END_SIGNAL		3	/* killed; @status = signal number */
#define SHMK_END_CLOSE		4	/* file released, process still alive */

#define SHMK_EVENT_F_CRASH	(1U << 0) /* ended without SHMK_IOC_DETACH */

struct shmk_event {
	__u32 type;		/* SHMK_EVENT_* */
	__u32 how;		/* SHMK_END_* */
	__u32 member_id;
	__u32 generation;
	__s32 pid;		/* in the reader's pid namespace; 0 if none */
	__s32 status;
	__u32 flags;		/* SHMK_EVENT_F_* */
	__u32 pad;
	__u64 time_ns;		/* CLOCK_MONOTONIC when it ended */
	__u64 lost;		/* SHMK_EVENT_OVERFLOW: events dropped */
	__u64 reserved;
};

/* ------------------------------------------------------------------------
 * The control region: mmap offset 0, written only by the kernel, mapped
 * read-only (mprotect to writable fails). Read fields at their published
 * offsets: @members_offset and @member_stride let the tables grow.
 *
 * @epoch is even when stable; the kernel makes it odd while it updates the
 * member table and even again after, so a reader retries while it is odd
 * or changed during the read (a seqcount). Every membership change
 * advances it by 2.
 */
#define SHMK_CTRL_MAGIC		0x4b4d4853U	/* "SHMK" */

#define SHMK_MEMBER_FREE	0	/* never used */
#define SHMK_MEMBER_LIVE	1
#define SHMK_MEMBER_DEAD	2	/* ended; slot may be reused */

#define SHMK_MEMBER_F_RDONLY	(1U << 0)

#define SHMK_ARENA_F_PERSISTENT	(1U << 0)
#define SHMK_ARENA_F_REMOVED	(1U << 1)

struct shmk_ctrl_member {
	__u32 state;		/* SHMK_MEMBER_* */
	__u32 generation;	/* bumped each time the slot is taken */
	__s32 pid;		/* tgid in the arena creator's pid namespace */
	__u32 uid;		/* in the arena creator's user namespace */
	__u32 flags;		/* SHMK_MEMBER_F_* */
	__u32 how;		/* SHMK_END_* once DEAD */
	__s32 status;		/* exit code or signal once DEAD */
	__u32 pad;
	__u64 attach_ns;	/* CLOCK_MONOTONIC */
	__u64 end_ns;		/* CLOCK_MONOTONIC once DEAD */
};

struct shmk_ctrl {
	__u32 magic;		/* SHMK_CTRL_MAGIC */
	__u32 abi_version;	/* SHMK_ABI_VERSION */
	__u64 epoch;
	__u64 ctrl_size;
	__u64 user_size;
	__u32 members_offset;	/* of member slot 1, from the region start */
	__u32 member_stride;	/* sizeof(struct shmk_ctrl_member) or more */
	__u32 member_max;	/* slots 1..member_max */
	__u32 members_live;
	__u32 arena_id;
	__u32 flags;		/* SHMK_ARENA_F_* */
	__u32 uid;		/* owner */
	__u32 gid;
	__u32 mode;
	__u32 pad;
	__u64 created_ns;	/* CLOCK_MONOTONIC */
	char name[SHMK_NAME_MAX];
	__u64 reserved[8];
};

/* ------------------------------------------------------------------------
 * ioctl numbers.
 */
#define SHMK_IOC_MAGIC		0xB7

#define SHMK_IOC_VERSION	_IOWR(SHMK_IOC_MAGIC, 0x00, struct shmk_version)
#define SHMK_IOC_ATTACH		_IOWR(SHMK_IOC_MAGIC, 0x01, struct shmk_attach)
#define SHMK_IOC_DETACH		_IO(SHMK_IOC_MAGIC, 0x02)
#define SHMK_IOC_WAIT		_IOW(SHMK_IOC_MAGIC, 0x03, struct shmk_wait)
#define SHMK_IOC_WAKE		_IOW(SHMK_IOC_MAGIC, 0x04, struct shmk_wake)
#define SHMK_IOC_SET_ROBUST	_IOW(SHMK_IOC_MAGIC, 0x05, struct shmk_robust)
#define SHMK_IOC_REMOVE		_IOW(SHMK_IOC_MAGIC, 0x06, struct shmk_remove)

#endif /* _UAPI_LINUX_SHMK_H */
