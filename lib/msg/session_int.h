/* SPDX-License-Identifier: MIT */
/*
 * Session internals shared by session.c (both sides: the application's
 * inbox, events, the fd watcher, send, receive, close), server.c and
 * client.c: the wire kinds, the server's directory, the session handle,
 * and the functions one of them calls in another (prefix ms_).
 */
#ifndef SHMK_SESSION_INT_H
#define SHMK_SESSION_INT_H

#include "msg_int.h"

#define MD_MAGIC	0x5249444dU	/* "MDIR" */
#define NCONN		4		/* connect tokens out at once */
#define ROOT_OFF_MASK	((1ULL << 40) - 1)
#define ROOT_INC(v)	((uint32_t)((v) >> 40))
#define ROOT_MAKE(i, o)	(((uint64_t)((i) & 0xffffff) << 40) | (o))
#define BATCH		32
#define CLIENT_FLAGS	(SHMK_CLIENT_BOUNDED | SHMK_CLIENT_NO_RECONNECT | \
			 SHMK_CLIENT_WAIT_SERVER)
/* Defaults of struct shmk_server_opts and shmk_client_opts (shmk_msg.h). */
#define MS_DEF_CLIENTS		32
#define MS_DEF_ARENA_SIZE	(16ULL << 20)
#define MS_DEF_REFS(clients)	(256 + 16 * (clients))
#define MS_DEF_SRV_QUEUE	1024
#define MS_DEF_CLI_QUEUE	256
#define MS_DEF_HANDOVER_NS	(5 * 1000000000LL)
/*
 * Under steady traffic a consumer never waits, so the wait cannot tell it
 * about a death: it also looks at the events every EV_CHECK_STEPS receive
 * steps or EV_CHECK_NS, whichever comes first (that look is a syscall).
 */
#define EV_CHECK_NS	50000000
#define EV_CHECK_STEPS	4096

/* Kinds of session descriptors (bits 8..15 of the queue flags). */
enum {
	K_DATA = 1, K_CONNECT, K_CONNECTED, K_REFUSED, K_DISCONNECT,
	K_SUBSCRIBE, K_TAKEOVER, K_HO_CLIENT, K_HO_DONE, K_MOVED, K_SHUTDOWN,
};
#define KIND(f)		(((f) >> 8) & 0xffU)
#define MKF(k)		((uint32_t)(k) << 8)
#define F_PUB		(1U << 16)	/* published */
#define F_REF		(1U << 17)	/* local: val is an accepted ref */
#define FEAT_SHIFT	24
#define FEATS(f)	((uint64_t)((f) >> FEAT_SHIFT) & 0xffU)

enum {
	ST_NONE, ST_CONNECTING, ST_CONNECTED, ST_GONE, ST_DOWN,
	ST_RUN, ST_HANDING, ST_HANDED,
};

#define DIR_RUNNING	1
#define DIR_CLOSED	2

/* The server's directory: server-owned, read by clients with validation. */
struct ms_dir {
	uint32_t magic;
	uint32_t proto;
	uint64_t features;
	uint64_t required;
	uint32_t server_id;
	uint32_t server_gen;
	uint32_t incarnation;
	uint32_t max_clients;
	uint32_t state;
	uint32_t conn_seq;	/* futex word: bumped when tokens change */
	uint64_t conn_tok[NCONN];
	uint32_t prev_id;	/* hot restart: the server taken over */
	uint32_t prev_gen;
	uint32_t clients;
	uint32_t pad;
};

struct ms_peer {
	uint32_t id, gen;
	struct shmk_queue *q;	/* its receive queue (we produce) */
	uint64_t topics;
	uint64_t features;
	bool on;
	/* publish tokens not yet accepted, oldest first (see pub_room()) */
	uint64_t *pub;
	uint32_t pub_head, pub_n;
};

/*
 * What a server and a client do differently, for session.c: server.c
 * and client.c each fill one in, so that session.c calls neither.
 */
struct ms_role {
	/* a member's exit event */
	void (*exit)(struct shmk_session *s, const struct shmk_event *e);
	/* events were lost: look at every peer */
	void (*scan)(struct shmk_session *s);
	/* a control message taken from our queue (data: session.c) */
	void (*handle)(struct shmk_session *s, struct shmk_qmsg *m);
	/*
	 * Before a receive, in the states where a side has work of its own
	 * (ms_sess_step()): 1 to go on to the queue, else what to return.
	 */
	int (*step)(struct shmk_session *s, const struct timespec *abs);
	/* shmk_session_close(): this side's goodbye, before the detach */
	void (*close)(struct shmk_session *s);
};

struct shmk_session {
	struct shmk_arena *a;
	const struct ms_role *role;	/* server.c's or client.c's */
	bool server;
	int state;
	uint32_t proto;
	uint64_t features, required, agreed;
	uint64_t root_off;
	uint32_t inc;			/* incarnation we know */
	struct shmk_queue *myq;		/* our receive queue */
	uint32_t spin_ns;		/* its spin bound (options) */
	/* client */
	struct shmk_queue *srvq;	/* the server's queue (we produce) */
	uint32_t srv_id, srv_gen;	/* server now / being connected to */
	uint64_t root_seen;		/* root value when we saw it gone */
	uint64_t topics;
	unsigned int cflags;
	bool ever_connected;
	/* server */
	struct ms_peer *peer;		/* by member id */
	uint32_t npeer, nclients, max_clients;
	uint32_t pub_budget;		/* holdings for publishes: 3/4 */
	uint64_t dir_off;
	struct ms_dir *dir;
	uint64_t conn_tok[NCONN];
	int64_t handover_ns;
	struct shmk_queue *hoq;		/* hot restart: the other side's */
	struct shmk_qmsg pend_to;	/* a TAKEOVER waiting for the inbox
					 * to be empty */
	uint32_t ho_id, ho_gen;
	uint32_t prev_id, prev_gen;
	/* messages and events for the application */
	struct shmk_msg *ib;
	unsigned int ib_head, ib_len, ib_cap;
	uint64_t last_ev;
	uint32_t ev_steps;
	/* stats */
	uint64_t sent, received, dropped, pub_skipped;
	char err[SHMK_REASON_MAX];
	/* fd for epoll: an epoll set of the arena's event fd and efd */
	int epfd, efd;
	pthread_t thr;
	bool thr_on;
	pthread_mutex_t wl;		/* protects armed, wmode, wroot */
	pthread_cond_t wc;
	int armed;
	int refused;			/* errno of a REFUSED */
	int wmode;			/* 1: our queue, 2: the root word */
	uint32_t wroot;
	uint32_t stop;			/* atomic: watcher must end */
};

/* Client @id's entry on the server side (NULL: no such member id). */
static inline struct ms_peer *ms_peer_of(struct shmk_session *s, uint32_t id)
{
	return id && id < s->npeer ? &s->peer[id] : NULL;
}

/* ---- session.c ----------------------------------------------------------- */
/*
 * Why the last shmk_server_start()/shmk_client_connect() of this thread
 * failed (there is no session to ask then).
 */
extern __thread char ms_tl_err[SHMK_REASON_MAX];
__attribute__((format(printf, 1, 2)))
void ms_tl_set(const char *fmt, ...);
__attribute__((format(printf, 2, 3)))
void ms_serr(struct shmk_session *s, const char *fmt, ...);
bool ms_ib_pop(struct shmk_session *s, struct shmk_msg *m);
void ms_push_evf(struct shmk_session *s, uint32_t type, uint32_t peer,
		 uint32_t gen, uint32_t how, int32_t status,
		 uint64_t time_ns, uint64_t tag, uint32_t flags);
void ms_push_ev(struct shmk_session *s, uint32_t type, uint32_t peer,
		uint32_t gen, uint32_t how, int32_t status,
		uint64_t time_ns, uint64_t tag);
uint32_t ms_ev_flags(const struct shmk_event *e);
uint64_t *ms_root_word(struct shmk_session *s);
uint64_t ms_root_hi_off(struct shmk_session *s);
void ms_now_abs(struct timespec *ts);
int ms_dir_read(struct shmk_session *s, struct ms_dir *d, uint64_t *rv);
int ms_dir_wait(struct shmk_session *s, const struct timespec *abs);
int ms_qsend(struct shmk_queue *q, uint32_t kind, uint64_t val,
	     uint64_t tag, uint32_t len, uint32_t flags,
	     const struct timespec *abs);
int ms_sq_create(struct shmk_arena *a, const struct shmk_queue_opts *o,
		 struct shmk_queue **q);
int ms_sq_open(struct shmk_arena *a, uint64_t token,
	       struct shmk_queue **q);
struct shmk_session *ms_sess_new(void);
void ms_sess_free(struct shmk_session *s);
void ms_sess_events(struct shmk_session *s);
void ms_reclaim_done(struct shmk_session *s, uint32_t id, uint32_t gen);
int ms_sess_step(struct shmk_session *s, const struct timespec *abs);

#endif /* SHMK_SESSION_INT_H */
