/* SPDX-License-Identifier: MIT */
/*
 * libshmk: shared-memory arenas shared by many processes, with an allocator,
 * robust locks and copy-on-write buffers living inside the arena.
 *
 * Conventions (every function):
 *  - returns 0 (or a non-negative count) on success and a negative errno
 *    value on failure; errno is never changed;
 *  - arena memory is named by offsets into the user region ("arena
 *    offsets"): the same number in every member, whatever the address the
 *    region is mapped at; shmk_arena_ptr()/shmk_arena_off() convert;
 *  - timeouts are int64_t nanoseconds, relative: < 0 waits forever, 0 does
 *    not wait;
 *  - a struct shmk_arena handle may be used by several threads of the
 *    process that attached it, never by a forked child (which attaches on
 *    its own);
 *  - a pointer to options (struct shmk_*_opts) may be NULL: all defaults;
 *  - why a call failed, in words: shmk_arena_error() (arenas and what is
 *    in them), shmk_session_error() (sessions, shmk_msg.h).
 * See Documentation/library-design.md for the layout and the crash-recovery rules.
 */
#ifndef SHMK_H
#define SHMK_H

#include <stddef.h>
#include <stdint.h>
#include <linux/shmk.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The version of the library actually loaded, "MAJOR.MINOR.MICRO" (the
 * release in NEWS; build systems read the same number from pkg-config
 * --modversion libshmk). Static storage, never NULL.
 */
const char *shmk_version(void);

struct shmk_arena;

/* ------------------------------------------------------------------------
 * Arenas.
 */

/* Flags of shmk_arena_create() / shmk_arena_attach(). */
#define SHMK_OPEN_EXCL		(1U << 0) /* create: fail if it exists */
#define SHMK_OPEN_PERSISTENT	(1U << 1) /* create: outlive its members */
#define SHMK_OPEN_RDONLY	(1U << 2) /* attach: map read-only */
#define SHMK_OPEN_KMOD		(1U << 8) /* backend: /dev/shmk */
#define SHMK_OPEN_PORTABLE	(1U << 9) /* backend: POSIX shm + futex */

/*
 * Creation parameters; zero fields take the default. The library-level
 * ones (max_members, refs_per_member, reserve_bytes) are fixed by whoever
 * initialises the arena and read back by every later member.
 */
struct shmk_arena_opts {
	uint64_t size;		/* user region bytes (default 1 MiB) */
	uint32_t mode;		/* permission bits (default 0600) */
	uint32_t max_members;	/* member slots (default 64, max 4095;
				 * kmod: at most the module's max_members) */
	uint32_t refs_per_member; /* buffer references one member can hold
				   * at once (default 256, max 65535; the
				   * default is halved, down to 16, until
				   * the tables fit in 1/4 of the size) */
	uint32_t reserve_bytes;	/* per-member allocation reserve
				 * (default 4096; rounded to pages) */
	uint64_t reserved[4];	/* must be zero */
};

/*
 * Create the arena @name (1..63 bytes of [A-Za-z0-9._:@+-], else -EINVAL)
 * or join it if it exists (unless SHMK_OPEN_EXCL). @opts may be NULL: all
 * defaults. Backend: SHMK_OPEN_KMOD or SHMK_OPEN_PORTABLE if given, else
 * the SHMK_BACKEND environment variable ("kmod" or "portable", anything
 * else is -EINVAL), else kmod when /dev/shmk exists, else portable.
 * Errors, besides those of shmk_arena_attach():
 *  -EEXIST  SHMK_OPEN_EXCL and the arena exists;
 *  -EFBIG   kmod: @opts->size above the module's max_arena_size;
 *           portable: above 1 TiB or above the size of /dev/shm;
 *  -ENOSPC  too small for the library's tables (max_members,
 *           refs_per_member); kmod: over one of the module's limits
 *           (max_arenas, per user, per IPC namespace); portable: the size
 *           is more than /dev/shm has free now (its pages are taken as
 *           they are touched: creating it anyway would fail later, with
 *           SIGBUS).
 */
int shmk_arena_create(const char *name, const struct shmk_arena_opts *opts,
		      unsigned int flags, struct shmk_arena **out);
/*
 * Join an existing arena. Errors:
 *  -ENOENT  there is none of that name (kmod: in this IPC namespace);
 *  -ENODEV  the kmod backend was chosen (flag or SHMK_BACKEND) and the
 *           module is not loaded; portable: no /dev/shm;
 *  -EACCES  the arena's owner and mode do not grant the access;
 *  -EUSERS  (portable), -ENOSPC (kmod): every member slot is live;
 *  -EPROTO  not a libshmk arena, or one of another library version (with
 *           SHMK_OPEN_RDONLY: nobody set it up for the library within
 *           2 s, since a read-only member cannot);
 *  -EUCLEAN the arena's library header or backend object is corrupt;
 *  -EINVAL  bad name, flags or options.
 * Every error has a reason in words: shmk_arena_error(NULL).
 */
int shmk_arena_attach(const char *name, unsigned int flags,
		      struct shmk_arena **out);
/*
 * Leave cleanly: drops the buffer references this member holds, frees the
 * blocks it owns, ends the membership (survivors read SHMK_END_DETACH) and
 * frees the handle. -EBUSY (and nothing done) if it still holds a lock.
 */
int shmk_arena_detach(struct shmk_arena *a);
/* Remove a persistent arena's name; memory goes with the last member. */
int shmk_arena_remove(const char *name, unsigned int flags);

/*
 * Why a call failed, in words ("" if there is nothing to say), for a
 * message to a human (its wording may change; test the error code).
 * With NULL: why this thread's last shmk_arena_create(),
 * shmk_arena_attach() or shmk_arena_remove() failed ("" if it succeeded).
 * With a handle: why this thread's last failing call on @a failed, for the
 * calls that say (detach, root, wait, wake, shmk_arena_check()); like
 * errno, not cleared by calls that succeed. Thread-local: threads sharing
 * a handle do not see each other's reasons. Valid until the next call of
 * this thread that sets one.
 */
const char *shmk_arena_error(const struct shmk_arena *a);

struct shmk_arena_info {
	void *base;		/* user region, as mapped in this process */
	uint64_t size;		/* user region bytes */
	uint32_t member_id;	/* 1..member_max */
	uint32_t generation;	/* of this membership, never 0 */
	uint32_t member_max;	/* library member slots */
	uint32_t created;	/* 1 if this call created the arena */
	uint64_t heap_offset;	/* first byte the allocator hands out */
	uint64_t heap_size;
	uint32_t refs_per_member;
	uint32_t reserve_bytes;
	const char *backend;	/* "kmod" or "portable" */
	/* Zero; later releases may fill it in (room to grow the ABI). */
	uint64_t reserved[8];
};
int shmk_arena_info(const struct shmk_arena *a, struct shmk_arena_info *info);

/* NULL / SHMK_OFF_NONE when out of the user region. */
#define SHMK_OFF_NONE		(~(uint64_t)0)
void *shmk_arena_ptr(const struct shmk_arena *a, uint64_t off);
uint64_t shmk_arena_off(const struct shmk_arena *a, const void *p);

/*
 * Root slots: SHMK_ROOTS 8-byte words at fixed arena offsets, zero at
 * creation, for publishing where things are (e.g. a server's state).
 * Returns the arena offset of slot @idx; access it with atomics.
 */
#define SHMK_ROOTS		16
int shmk_arena_root(const struct shmk_arena *a, unsigned int idx,
		    uint64_t *off);

/* 1 if member @id of generation @gen is live, 0 if not. */
int shmk_arena_member_alive(struct shmk_arena *a, uint32_t id, uint32_t gen);

/* ------------------------------------------------------------------------
 * Membership events.
 *
 * The event fd (owned by the handle) is readable when events may be
 * pending; then call shmk_arena_events(), which does not wait for events.
 * Before an SHMK_EVENT_EXIT is returned, the library has made sure the
 * member's blocks, buffer references and locks are recovered (once, by
 * whichever survivor gets there first; if another survivor is at it, the
 * call waits for it to finish, at most 5 s, or takes over if it dies).
 *
 * Portable backend: events are synthesised from pidfds and a log in the
 * arena. If the dead member was not this process's child and its status
 * cannot be read any more, @how is SHMK_END_EXIT, @status
 * SHMK_STATUS_UNKNOWN and SHMK_EVENT_F_GUESSED is set.
 */
#define SHMK_EVENT_F_GUESSED	(1U << 31) /* library-only flag */
#define SHMK_STATUS_UNKNOWN	(-1)
int shmk_arena_event_fd(const struct shmk_arena *a);
int shmk_arena_events(struct shmk_arena *a, struct shmk_event *ev,
		      unsigned int n);

/* ------------------------------------------------------------------------
 * Wait and wake on 32-bit words of the arena (futex-like).
 *
 * shmk_arena_wait() sleeps while the word at @off (4-byte aligned) holds
 * @expected. Returns 0 when woken, SHMK_WAIT_EVENT (1) when a membership
 * event is pending for this member (unless SHMK_WAIT_NO_EVENTS), -EAGAIN
 * if the word did not hold @expected, -ETIMEDOUT or -EINTR.
 * shmk_arena_wake() wakes up to @n waiters (SHMK_WAKE_ALL for all) and
 * returns how many it woke (the portable backend may count 0 for waiters
 * of another arena mapping).
 */
int shmk_arena_wait(struct shmk_arena *a, uint64_t off, uint32_t expected,
		    int64_t timeout_ns, unsigned int flags);
int shmk_arena_wake(struct shmk_arena *a, uint64_t off, uint32_t n);

/* ------------------------------------------------------------------------
 * Robust locks in the arena.
 *
 * A lock is 16 bytes, 8-byte aligned, at an arena offset; zeroed memory is
 * an unlocked lock. Locks belong to members (not threads) and are not
 * recursive. If a member dies holding one, the next acquirer gets
 * -EOWNERDEAD and holds it; it repairs the protected state and calls
 * shmk_lock_consistent(); releasing without that makes the lock
 * -ENOTRECOVERABLE for everyone.
 */
struct shmk_lock {
	uint64_t robust_next;	/* struct shmk_robust_entry */
	uint32_t word;		/* SHMK_LOCK_* format */
	uint32_t spare;		/* not used by the lock */
};

int shmk_lock_init(struct shmk_arena *a, uint64_t lock_off);
int shmk_lock_acquire(struct shmk_arena *a, uint64_t lock_off,
		      int64_t timeout_ns);
int shmk_lock_try(struct shmk_arena *a, uint64_t lock_off);
int shmk_lock_release(struct shmk_arena *a, uint64_t lock_off);
int shmk_lock_consistent(struct shmk_arena *a, uint64_t lock_off);

/* ------------------------------------------------------------------------
 * Allocator.
 *
 * Blocks are 16-byte aligned (page aligned from SHMK_ALLOC_SMALL_MAX + 1
 * bytes on) and owned by the member that allocated them: when it leaves or
 * dies, every block it still owns returns to the pool. Any member may free
 * a block.
 */
#define SHMK_ALLOC_WAIT		(1U << 0) /* wait (timeout) for memory */
#define SHMK_ALLOC_RESERVE	(1U << 1) /* may dip into own reserve */
#define SHMK_ALLOC_LONG		(1U << 2) /* long-lived: from the end */
#define SHMK_ALLOC_ZERO		(1U << 3) /* zero the block */

#define SHMK_ALLOC_SMALL_MAX	2048

int shmk_alloc(struct shmk_arena *a, size_t size, unsigned int flags,
	       int64_t timeout_ns, uint64_t *off);
int shmk_free(struct shmk_arena *a, uint64_t off);
/* Usable bytes of the block at @off. */
int shmk_alloc_usable(struct shmk_arena *a, uint64_t off, uint64_t *bytes);
/*
 * Recover everything member @id of generation @gen left behind: blocks,
 * buffer references, the operation it had in flight. Exactly once: 0 when
 * done (by this call or an earlier one), -EBUSY if it is still live,
 * -EINPROGRESS if another live member is doing it right now.
 * shmk_arena_events() calls it for every exit it reports.
 */
int shmk_alloc_reclaim(struct shmk_arena *a, uint32_t id, uint32_t gen);

struct shmk_alloc_stats {
	uint64_t heap_bytes;	/* bytes the allocator manages */
	uint64_t free_bytes;	/* free pages + free slots of small chunks */
	uint64_t free_page_bytes; /* free pages only */
	uint64_t used_bytes;	/* allocated blocks (rounded sizes) */
	uint64_t largest_free;	/* largest contiguous free run, bytes */
	uint64_t reserve_bytes;	/* held in members' reserves */
	uint64_t chunk_bytes;	/* pages split into small chunks */
	uint32_t blocks;	/* allocated blocks */
	uint32_t buffers;	/* of which buffer storage */
	uint32_t waiters;	/* allocations waiting for memory now */
	uint32_t pad;
	double fragmentation;	/* 1 - largest_free / free_page_bytes */
	/* Zero; later releases may fill it in (room to grow the ABI). */
	uint64_t reserved[8];
};
int shmk_alloc_stats(struct shmk_arena *a, struct shmk_alloc_stats *st);
/* Bytes (rounded block sizes) member @id owns, reserve not included. */
int shmk_alloc_member_used(struct shmk_arena *a, uint32_t id,
			   uint64_t *bytes);

/*
 * Full consistency check of the library's metadata (page map, free tree,
 * chunks, buffer headers; with SHMK_CHECK_REFS also that every buffer's
 * reference count equals the references held, which needs all members to
 * be quiet). 0 or -EUCLEAN with a message in @msg (which may be NULL) and
 * in shmk_arena_error(@a).
 */
#define SHMK_CHECK_REFS		(1U << 0)
int shmk_arena_check(struct shmk_arena *a, unsigned int flags, char *msg,
		     size_t msglen);

/* ------------------------------------------------------------------------
 * Buffers: refcounted, copy-on-write, in the arena.
 *
 * A reference is a small integer (1..refs_per_member) naming an entry of
 * this member's holdings table; 0 is never a reference. Every function
 * that may copy (write, push, put) updates *ref to the new reference.
 * Growth policy on append: new data size s gets capacity 256 if s < 128,
 * s + 256 if s < 64 KiB, else s + 512.
 */
typedef uint32_t shmk_ref_t;

int shmk_buf_create(struct shmk_arena *a, size_t size, size_t headroom,
		    unsigned int alloc_flags, int64_t timeout_ns,
		    shmk_ref_t *ref);
int shmk_buf_clone(struct shmk_arena *a, shmk_ref_t ref, shmk_ref_t *out);
int shmk_buf_drop(struct shmk_arena *a, shmk_ref_t ref);
/* Read access; valid until the reference is dropped or passed. */
int shmk_buf_data(struct shmk_arena *a, shmk_ref_t ref, const void **data,
		  size_t *len);
/* Write access: copies first if the data is shared (copy on write). */
int shmk_buf_write(struct shmk_arena *a, shmk_ref_t *ref, void **data,
		   size_t *len);
/* Prepend @n bytes (from the headroom if it suffices, else by a copy). */
int shmk_buf_push(struct shmk_arena *a, shmk_ref_t *ref, size_t n,
		  void **p);
/* Remove @n bytes from the front (they become headroom). */
int shmk_buf_pull(struct shmk_arena *a, shmk_ref_t *ref, size_t n);
/* Append @n bytes, growing by the growth policy; *p is where they go. */
int shmk_buf_put(struct shmk_arena *a, shmk_ref_t *ref, size_t n, void **p);
/* Cut the data to @len bytes. */
int shmk_buf_trim(struct shmk_arena *a, shmk_ref_t *ref, size_t len);

/*
 * Hand a reference to member @to (0: any member). The reference leaves
 * this member (ref is no longer valid) and travels as the token, which the
 * receiver turns back into a reference with shmk_buf_accept(). Until then
 * it stays accounted to the sender; shmk_buf_recall() takes it back and
 * drops it. If the sender or the named receiver ends first, it is dropped.
 */
int shmk_buf_pass(struct shmk_arena *a, shmk_ref_t ref, uint32_t to,
		  uint64_t *token);
int shmk_buf_accept(struct shmk_arena *a, uint64_t token, shmk_ref_t *ref);
int shmk_buf_recall(struct shmk_arena *a, uint64_t token);

struct shmk_buf_info {
	uint64_t offset;	/* arena offset of the buffer's block */
	uint64_t data_offset;	/* arena offset of the first data byte */
	uint64_t len;
	uint64_t headroom;	/* free bytes before the data */
	uint64_t tailroom;	/* free bytes after the data */
	uint32_t refcount;
	uint32_t pad;
	/* Zero; later releases may fill it in (room to grow the ABI). */
	uint64_t reserved[4];
};
int shmk_buf_info(struct shmk_arena *a, shmk_ref_t ref,
		  struct shmk_buf_info *info);

#ifdef __cplusplus
}
#endif

#endif /* SHMK_H */
