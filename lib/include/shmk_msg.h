/* SPDX-License-Identifier: MIT */
/*
 * libshmk messaging: receive queues in the arena and client/server
 * sessions on top of them. Self-contained on top of shmk.h; the rules that
 * keep queues and sessions consistent across a crash at any instruction
 * are in Documentation/messaging-design.md.
 *
 * Conventions are those of shmk.h: 0 or a non-negative count on success,
 * a negative errno value on failure, errno untouched, relative int64_t
 * nanosecond timeouts (< 0 forever, 0 do not wait).
 */
#ifndef SHMK_MSG_H
#define SHMK_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "shmk.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ========================================================================
 * Queues.
 *
 * A queue is the receive queue of one member (its consumer): any number
 * of producers post descriptors, the consumer drains them in batches.
 * Lock-free in the arena; a producer makes a wake syscall only when the
 * consumer has said it is about to sleep, so a busy pair never enters the
 * kernel. The queue's memory is a buffer of the arena: the consumer holds
 * one reference and every producer holds one (shmk_queue_share() hands a
 * reference out as a token, shmk_queue_open() takes it), so it outlives
 * whoever dies first and nobody ever writes to freed memory.
 *
 * Bounded queues (the default): a full queue makes shmk_queue_send()
 * return -EAGAIN, or with SHMK_QSEND_WAIT wait up to its timeout; waiting
 * senders are let in first come, first served, as many at once as there is
 * room for (those let in together may land in either order), and a new
 * sender never passes one that waits.
 * Unbounded queues (SHMK_QUEUE_UNBOUNDED): a producer that finds the ring
 * full appends to its own chain of fixed-size blocks taken from the
 * allocator (owned by that producer), and reuses drained blocks.
 * Order is kept per producer; a producer that dies between reserving a
 * slot and filling it leaves a hole that the consumer skips.
 * ======================================================================== */

struct shmk_queue;

#define SHMK_QUEUE_UNBOUNDED	(1U << 0)

struct shmk_queue_opts {
	uint32_t capacity;	/* ring slots, a power of two, 2..65536
				 * (default 256) */
	uint32_t flags;		/* SHMK_QUEUE_* */
	uint32_t lanes;		/* unbounded: producers that may overflow at
				 * once (default 8, max 4095) */
	uint32_t block_bytes;	/* unbounded: overflow block size, a power
				 * of two, 1 KiB..1 MiB (default 4096) */
	uint32_t spare_blocks;	/* unbounded: drained blocks a producer
				 * keeps for reuse (default 4) */
	uint32_t spin_ns;	/* consumer: 0 (default) sleeps at once when
				 * the queue is empty; > 0 spins up to that
				 * many ns first (adaptive budget), never
				 * past the recv timeout. The environment
				 * variable SHMK_SPIN_US (microseconds, 0:
				 * no spin), if set when the handle is
				 * created or opened, overrides it. */
	uint64_t reserved[2];	/* must be zero */
};

/*
 * One descriptor: 64-bit value (a buffer token, an arena offset...),
 * length, tag; @sender and @sender_gen are set by the queue. Its size is
 * fixed (it is what a ring slot carries, in and out): it grows by flags,
 * bits 1..7 being the library's for new meanings of @val/@len/@tag.
 */
struct shmk_qmsg {
	uint64_t val;
	uint64_t tag;
	uint32_t len;
	uint32_t flags;		/* SHMK_QMSG_TOKEN | user bits 8..31 */
	uint32_t sender;	/* member id of the producer */
	uint32_t sender_gen;	/* its generation */
};

/*
 * @val is a buffer token (shmk_buf_pass): when the producer closes its
 * handle, tokens it posted that were never received are recalled, and a
 * consumer that closes its handle drops the tokens still queued to it.
 */
#define SHMK_QMSG_TOKEN		(1U << 0)
#define SHMK_QMSG_USER_SHIFT	8

/* Create a queue consumed by this member; @o may be NULL: defaults. */
int shmk_queue_create(struct shmk_arena *a, const struct shmk_queue_opts *o,
		      struct shmk_queue **q);
/* Hand a reference to member @to (0: any member), as a token. */
int shmk_queue_share(struct shmk_queue *q, uint32_t to, uint64_t *token);
/* Open a queue as a producer from a token (it is accepted). */
int shmk_queue_open(struct shmk_arena *a, uint64_t token,
		    struct shmk_queue **q);
/*
 * Release the handle and its reference. A producer waits up to
 * @timeout_ns for its overflow entries to be drained, then recalls the
 * tokens that were not; a consumer drops the tokens still queued.
 */
int shmk_queue_close(struct shmk_queue *q, int64_t timeout_ns);

#define SHMK_QSEND_WAIT		(1U << 0) /* bounded and full: wait */

/*
 * Post one descriptor. 0; -EAGAIN (full, or senders are already waiting:
 * they go first); -ETIMEDOUT, -EINTR (SHMK_QSEND_WAIT); -EPIPE (the
 * consumer is gone); -ENOMEM (unbounded: no memory for a block);
 * -ENOSPC (unbounded: every overflow lane is taken).
 */
int shmk_queue_send(struct shmk_queue *q, const struct shmk_qmsg *m,
		    unsigned int flags, int64_t timeout_ns);

/*
 * Consumer: take up to @n descriptors, waiting up to @timeout_ns for the
 * first. Returns how many (>= 1); 0 when it woke up because a membership
 * event is pending (call shmk_arena_events(), then again: a producer that
 * died mid-send is repaired on the next call); -EAGAIN (@timeout_ns 0 and
 * empty); -ETIMEDOUT; -EINTR; -EPERM (not the consumer).
 */
int shmk_queue_recv(struct shmk_queue *q, struct shmk_qmsg *m, unsigned int n,
		    int64_t timeout_ns);

/* Become the consumer (hot restart: the previous one must have stopped). */
int shmk_queue_take_over(struct shmk_queue *q);

struct shmk_queue_stats {
	uint64_t offset;	/* arena offset of the queue's buffer */
	uint32_t capacity;
	uint32_t flags;
	uint32_t consumer;	/* member id and generation */
	uint32_t consumer_gen;
	uint64_t ring_used;	/* descriptors in the ring now */
	uint64_t lane_used;	/* descriptors in overflow blocks now */
	uint32_t lanes_active;
	uint32_t waiters;	/* senders waiting (tickets outstanding) */
	uint64_t sent;		/* by this handle */
	uint64_t received;	/* by this handle */
	uint64_t wakes;		/* wake syscalls made by this handle */
	uint64_t sleeps;	/* wait syscalls made by this handle */
	uint64_t skipped;	/* holes of dead producers (consumer) */
	uint64_t blocks_allocated; /* by this handle (producer) */
	uint64_t blocks_reused;	/* by this handle (producer) */
	uint32_t blocks_held;	/* by this handle: in use and spare */
	uint32_t pad;
	/* Zero; later releases may fill it in (room to grow the ABI). */
	uint64_t reserved[8];
};
int shmk_queue_stats(struct shmk_queue *q, struct shmk_queue_stats *st);

/* ========================================================================
 * Sessions: one server, many clients, in one arena.
 *
 * The server creates the arena (or joins and takes it over) and publishes
 * itself at a root slot. A client attaches, takes a connect token the
 * server left there, posts CONNECT with its version and features, and gets
 * CONNECTED (or a clear refusal). Then both sides send buffer references
 * (no copy) and receive them with their tag and sender. Everything the
 * application must know arrives through shmk_session_recv() as either a
 * message or an event; shmk_session_fd() gives a descriptor for epoll.
 * A session handle is used by one thread at a time.
 * ======================================================================== */

struct shmk_session;

#define SHMK_MSG_PROTO_VERSION	1	/* wire protocol of sessions */

/* Feature bits offered by clients and servers. */
#define SHMK_FEAT_PUBLISH	(1ULL << 0)
#define SHMK_FEAT_HOT_RESTART	(1ULL << 1)
#define SHMK_FEAT_UNBOUNDED	(1ULL << 2)
#define SHMK_FEAT_ALL		(SHMK_FEAT_PUBLISH | SHMK_FEAT_HOT_RESTART | \
				 SHMK_FEAT_UNBOUNDED)

/* Default root slot a server publishes itself at. */
#define SHMK_SESSION_ROOT	0

/* Server flags. */
#define SHMK_SERVER_TAKEOVER	(1U << 0) /* hot restart: replace a live
					   * server, keep its clients */
#define SHMK_SERVER_UNBOUNDED	(1U << 1) /* its own queue is unbounded */

struct shmk_server_opts {
	uint64_t arena_size;	/* if creating (default 16 MiB) */
	uint32_t mode;		/* if creating (default 0600) */
	uint32_t max_clients;	/* default 32 */
	uint32_t refs_per_member; /* if creating (default 256 + 16/client);
				   * 3/4 of it bounds publishes in flight,
				   * see shmk_server_publish() */
	uint32_t queue_capacity; /* server queue (default 1024) */
	uint32_t flags;		/* SHMK_SERVER_* */
	uint32_t root;		/* root slot (default SHMK_SESSION_ROOT) */
	uint64_t features;	/* offered (default SHMK_FEAT_ALL) */
	uint64_t required;	/* a client without these is refused */
	uint32_t proto_version;	/* 0: SHMK_MSG_PROTO_VERSION (tests) */
	uint32_t open_flags;	/* SHMK_OPEN_KMOD / SHMK_OPEN_PORTABLE */
	int64_t handover_timeout_ns; /* hot restart: wait for clients to
				      * drain (default 5 s) */
	uint32_t spin_ns;	/* own queue: spin before sleeping, see
				 * struct shmk_queue_opts (default 0) */
	uint32_t pad;		/* must be zero */
	uint64_t reserved[3];	/* must be zero */
};

/* Client flags. */
#define SHMK_CLIENT_BOUNDED	(1U << 0) /* own queue bounded (default:
					   * unbounded, the server never
					   * blocks on a slow client) */
#define SHMK_CLIENT_NO_RECONNECT (1U << 1) /* server gone: stay gone */
#define SHMK_CLIENT_WAIT_SERVER	(1U << 2) /* no arena yet: wait (up to
					   * the timeout) for a server to
					   * create it, not -ENOENT */

struct shmk_client_opts {
	uint32_t queue_capacity; /* own queue ring (default 256) */
	uint32_t flags;		/* SHMK_CLIENT_* */
	uint32_t root;		/* root slot (default SHMK_SESSION_ROOT) */
	uint32_t proto_version;	/* 0: SHMK_MSG_PROTO_VERSION (tests) */
	uint64_t features;	/* asked for (default SHMK_FEAT_ALL) */
	uint64_t required;	/* refuse a server without these */
	uint32_t open_flags;	/* SHMK_OPEN_KMOD / SHMK_OPEN_PORTABLE */
	uint32_t spin_ns;	/* own queue: spin before sleeping, see
				 * struct shmk_queue_opts (default 0) */
	uint64_t reserved[4];	/* must be zero */
};

/*
 * Start a server on arena @name (created if missing). @o may be NULL: all
 * defaults. -EBUSY if a live server is already there (unless
 * SHMK_SERVER_TAKEOVER: then it takes over, and the call returns once it
 * serves every client the old one had). Any error of shmk_arena_create()
 * too; shmk_session_error(NULL) then says why in words.
 */
int shmk_server_start(const char *name, const struct shmk_server_opts *o,
		      struct shmk_session **s);

/*
 * Connect to the server of arena @name, waiting up to @timeout_ns for one
 * to be there and to answer. @o may be NULL: all defaults. If there is no
 * arena @name at all (no server ever started, or the last member left):
 * -ENOENT at once, or with SHMK_CLIENT_WAIT_SERVER a wait, within the
 * same timeout, for a server to create it (portable backend: inotify on
 * /dev/shm; kmod: the module announces no new arenas, so the library
 * retries with a backoff of 1 to 100 ms). -ETIMEDOUT, -EINTR, -EPROTO
 * (incompatible protocol version), -EOPNOTSUPP (a required feature is
 * missing on either side), -EUSERS (the server is full), -ECONNREFUSED,
 * or any error of shmk_arena_attach(). shmk_session_error(NULL) then says
 * why in words.
 */
int shmk_client_connect(const char *name, const struct shmk_client_opts *o,
			int64_t timeout_ns, struct shmk_session **s);

/* Peer names: a client's member id on the server side; the server is: */
#define SHMK_PEER_SERVER	0

#define SHMK_SEND_WAIT		(1U << 0) /* wait (timeout) if full */
#define SHMK_SEND_KEEP		(1U << 1) /* send a clone, keep @ref */

/*
 * Send buffer reference @ref (0: a tag-only message) with @tag to @peer.
 * The reference leaves the caller (unless SHMK_SEND_KEEP) whatever the
 * result, except -EINVAL. Non-blocking by default. -ENOTCONN (no such
 * peer / no server now), -EPIPE (peer gone), -EAGAIN, -ETIMEDOUT.
 */
int shmk_session_send(struct shmk_session *s, uint32_t peer, shmk_ref_t ref,
		      uint64_t tag, unsigned int flags, int64_t timeout_ns);

/* Message or event kinds of struct shmk_msg. */
enum shmk_msg_type {
	SHMK_MSG_DATA = 1,	/* ref (0 if tag-only), tag, peer */
	SHMK_EV_CONNECTED,	/* server: client @peer connected */
	SHMK_EV_DISCONNECTED,	/* @peer left cleanly / we were dropped */
	SHMK_EV_PEER_CRASHED,	/* @peer died; @status, @how */
	SHMK_EV_SERVER_GONE,	/* client: the server ended (@how) */
	SHMK_EV_SERVER_BACK,	/* client: reconnected to a new server
				 * (@peer: its member id) */
	SHMK_EV_SERVER_MOVED,	/* client: hot restart, new server @peer;
				 * nothing lost, nothing to do */
	SHMK_EV_HANDED_OVER,	/* server: a new server took over; close */
	SHMK_EV_OVERFLOW,	/* events were lost (@status: how many) */
};

#define SHMK_MSGF_PUBLISHED	(1U << 0) /* sent by shmk_server_publish */
#define SHMK_MSGF_GUESSED	(1U << 1) /* event: @how/@status guessed
					   * (portable backend, see shmk.h) */

struct shmk_msg {
	uint32_t type;		/* enum shmk_msg_type */
	uint32_t flags;		/* SHMK_MSGF_* */
	uint32_t peer;		/* sender / peer concerned (member id) */
	uint32_t peer_gen;
	shmk_ref_t ref;		/* DATA: now held by the receiver */
	uint32_t how;		/* events: SHMK_END_* when known */
	uint64_t tag;
	int32_t status;		/* events: exit code or signal */
	uint32_t len;		/* DATA: buffer length */
	uint64_t time_ns;	/* events: CLOCK_MONOTONIC of the death */
	/* Zero; later releases may fill it in (room to grow the ABI). */
	uint64_t reserved[2];
};

/*
 * Next message or event, waiting up to @timeout_ns. 1 when *m was filled,
 * -EAGAIN (timeout 0, nothing), -ETIMEDOUT, -EINTR, or -ENOBUFS: the next
 * message carries a buffer and this member already holds refs_per_member
 * references. That message stays first in line (nothing is dropped and
 * later messages wait behind it); drop references, then receive again.
 */
int shmk_session_recv(struct shmk_session *s, struct shmk_msg *m,
		      int64_t timeout_ns);

/*
 * A descriptor for poll/epoll: readable when shmk_session_recv() may have
 * something. Level-triggered while something is pending; after a
 * shmk_session_recv() that returned -EAGAIN it becomes readable again as
 * soon as a message or event arrives (a helper thread watches the queue
 * while the application is not in recv).
 */
int shmk_session_fd(struct shmk_session *s);

/* Clean end: DISCONNECT / shutdown notice, references dropped, detach. */
int shmk_session_close(struct shmk_session *s);

/* Server: drop client @peer (it gets SHMK_EV_DISCONNECTED). */
int shmk_server_disconnect(struct shmk_session *s, uint32_t peer);

/*
 * Server: one buffer to every client subscribed to @topic (0..63): one
 * clone per subscriber, no copy. Returns the number of clients it went to.
 * Skipped, and counted in publish_skipped: a client whose queue is full,
 * and one that has not yet taken its share of publishes in flight (3/4
 * of refs_per_member split among the connected clients, at least 4), so
 * that a stalled subscriber cannot use up the server's references. The
 * caller keeps @ref.
 */
int shmk_server_publish(struct shmk_session *s, unsigned int topic,
			shmk_ref_t ref, uint64_t tag, unsigned int flags);

/* Client: subscribe to the topics in mask @topics (0: none). */
int shmk_client_subscribe(struct shmk_session *s, uint64_t topics);

/* The arena, for buffers and the allocator. */
struct shmk_arena *shmk_session_arena(struct shmk_session *s);

/*
 * Why the last call failed, in words ("" if nothing to say). With NULL:
 * why the last shmk_server_start()/shmk_client_connect() of this thread
 * failed ("" if it succeeded): every error of theirs has a reason, those
 * of the arena underneath included (see shmk_arena_error()). Valid until
 * the next such call of this thread (NULL) or on @s.
 */
const char *shmk_session_error(const struct shmk_session *s);

struct shmk_session_info {
	uint32_t is_server;
	uint32_t connected;	/* client: 1 while connected */
	uint32_t server_id;	/* current server member id / gen */
	uint32_t server_gen;
	uint32_t clients;	/* server: connected clients */
	uint32_t max_clients;
	uint64_t features;	/* agreed */
	uint32_t proto_version;
	uint32_t incarnation;	/* of the server (bumped by every start) */
	uint64_t sent, received, dropped; /* messages */
	uint64_t publish_skipped;
	uint64_t wakes;		/* wake syscalls made by this session */
	uint64_t sleeps;	/* wait syscalls made by this session */
	/* Zero; later releases may fill it in (room to grow the ABI). */
	uint64_t reserved[8];
};
int shmk_session_info(struct shmk_session *s, struct shmk_session_info *info);

/* The session's own receive queue (benchmarks, tools). */
struct shmk_queue *shmk_session_queue(struct shmk_session *s);

#ifdef __cplusplus
}
#endif

#endif /* SHMK_MSG_H */
