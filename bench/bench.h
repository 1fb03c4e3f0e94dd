/* SPDX-License-Identifier: GPL-2.0 */
/*
 * shmkbench: common declarations.
 *
 * The driver (main.c) runs cases. A case is one transport, one message
 * size, one placement and one wait mode, run for several repetitions; each
 * repetition forks fresh worker processes so that no state leaks from one
 * repetition to the next. Workers report through a MAP_SHARED region that
 * the driver created before forking.
 */
#ifndef SHMKBENCH_H
#define SHMKBENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ time */
uint64_t now_ns(void);			/* CLOCK_MONOTONIC */

/* ------------------------------------------------------------- histogram */
/*
 * Log-linear histogram of nanosecond values: exact below 64 ns, then 32
 * sub-buckets per power of two (about 3 % resolution). Fixed size, so it
 * can live in shared memory and be merged by plain addition.
 */
#define HIST_SUB_BITS	5
#define HIST_SUB	(1u << HIST_SUB_BITS)
#define HIST_BUCKETS	(2 * HIST_SUB + 40 * HIST_SUB)

struct hist {
	uint64_t n;
	uint64_t min;
	uint64_t max;
	double sum;
	uint64_t count[HIST_BUCKETS];
};

void hist_init(struct hist *h);
void hist_add(struct hist *h, uint64_t v);
void hist_merge(struct hist *dst, const struct hist *src);
/* Value at quantile q (0..1): midpoint of the bucket holding it. */
uint64_t hist_quantile(const struct hist *h, double q);

/* ------------------------------------------------------------ placement */
enum placement {
	PL_PINNED2,	/* the two sides pinned to two different CPUs */
	PL_ONECPU,	/* both sides pinned to the same CPU */
	PL_UNPINNED,	/* every process may run on every allowed CPU */
	PL_COUNT
};

extern const char *const placement_name[PL_COUNT];
int placement_parse(const char *s);
/* Pin the calling process for @role (0 = A/server side, 1 = B/client). */
int placement_apply(enum placement pl, int role);
int cpus_allowed(void);

/* -------------------------------------------------------------- helpers */
void cpu_relax(void);
/*
 * Spin until *w == want. Polls with a pause instruction and gives the CPU
 * away (sched_yield) every 64 polls, so that spinning also works when both
 * sides share one CPU. Never sleeps.
 */
void spin_until_eq32(const uint32_t *w, uint32_t want);
int futex_wait32(uint32_t *w, uint32_t expected);	/* shared futex */
int futex_wake32(uint32_t *w, int n);

int write_full(int fd, const void *buf, size_t len);
int read_full(int fd, void *buf, size_t len);

/* Payload check words: first and last 8 bytes carry the sequence number. */
static inline void payload_stamp(void *p, size_t size, uint64_t seq)
{
	unsigned char *c = (unsigned char *)p;

	__builtin_memcpy(c, &seq, 8);
	__builtin_memcpy(c + size - 8, &seq, 8);
}

static inline int payload_check(const void *p, size_t size, uint64_t seq)
{
	const unsigned char *c = (const unsigned char *)p;
	uint64_t a, b;

	__builtin_memcpy(&a, c, 8);
	__builtin_memcpy(&b, c + size - 8, 8);
	return (a == seq && b == seq) ? 0 : -1;
}

static inline uint64_t payload_seq(const void *p)
{
	uint64_t a;

	__builtin_memcpy(&a, p, 8);
	return a;
}

void *xmap_shared(size_t len);		/* anonymous MAP_SHARED, zeroed */
void xunmap(void *p, size_t len);

/* Logging to stderr; the driver's stdout is reserved for nothing. */
void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
extern int bench_verbose;

/* ---------------------------------------------------- ping-pong transports */
#define PP_STOP		UINT64_MAX
#define MODE_BLOCK	0
#define MODE_SPIN	1

struct pp_ctx {
	size_t size;		/* payload bytes each way */
	int mode;		/* MODE_BLOCK or MODE_SPIN */
	int role;		/* 0 = A (pinger, timed), 1 = B (ponger) */
	char name[64];		/* unique per repetition */
	int fd[8];		/* transport's own use */
	void *shm;		/* transport's own use */
	size_t shm_len;
	void *priv;		/* per-process state */
	void *buf;		/* per-process private buffer (copying kinds) */
	uint32_t last;		/* transport's own use (last request seen) */
};

struct pp_transport {
	const char *name;	/* CSV key, e.g. "uds" */
	const char *label;	/* human label for the report */
	int floor;		/* 1: a physical limit, measured at 64 B only */
	int modes;		/* bit (1 << MODE_x) for each supported mode */
	/* NULL when usable, else why not (the report prints it). */
	const char *(*unavailable)(void);
	/* In the driver before forking: shared resources. */
	int (*setup)(struct pp_ctx *c);
	/* In each worker after forking; B runs after A's init finished. */
	int (*init)(struct pp_ctx *c);
	/* A: send seq, wait for the reply carrying seq. */
	int (*ping)(struct pp_ctx *c, uint64_t seq);
	/* B: wait for a request, reply with the same seq; *seq = received. */
	int (*serve)(struct pp_ctx *c, uint64_t *seq);
	void (*fini)(struct pp_ctx *c);
	/* In the driver after forking: drop the driver's references. */
	void (*teardown)(struct pp_ctx *c);
};

extern const struct pp_transport tr_spin, tr_futex, tr_uds, tr_pipe, tr_tcp,
	tr_shmk, tr_shmk_raw, tr_iceoryx, tr_boost;

/* shmk transport: which implementation got built (for the report). */
const char *shmk_impl_label(void);	/* e.g. "shmk (arena + ...)" */
const char *shmk_impl_backend(void);	/* "portable", "kmod", "raw-futex" */
int shmk_select_backend(const char *backend);	/* 0 or -errno */
/* The raw futex build of the same file (transport_shmk_raw.o). */
const char *shmk_raw_impl_label(void);
const char *shmk_raw_impl_backend(void);
int shmk_raw_select_backend(const char *backend);

/* iceoryx daemon: NULL when started, else why not (also in the rows). */
const char *iceoryx_roudi_start(const char *config, const char *log);
void iceoryx_roudi_stop(void);

/* ---------------------------------------------------- stream / fan-in */
#define STREAM_MAX_PROD	8

struct st_ctx {
	size_t size;
	int nprod;
	int idx;		/* producer index, or -1 in the consumer */
	char name[64];
	int fd[2 * STREAM_MAX_PROD + 2];
	void *shm;
	size_t shm_len;
	void *priv;
	void *buf;
	size_t buf_len;
};

struct st_transport {
	const char *name;
	const char *label;
	const char *(*unavailable)(void);
	int (*setup)(struct st_ctx *c);
	int (*init)(struct st_ctx *c);
	/* Producer: one message; seq counts from 1; PP_STOP ends. */
	int (*send)(struct st_ctx *c, uint64_t seq);
	/*
	 * Consumer: wait for at least one message, hand each one to @cb
	 * (producer index, seq). Returns messages handled or -errno.
	 */
	int (*recv)(struct st_ctx *c,
		    void (*cb)(void *arg, int prod, uint64_t seq), void *arg);
	void (*fini)(struct st_ctx *c);
	void (*teardown)(struct st_ctx *c);
};

extern const struct st_transport st_uds, st_pipe, st_shmk, st_shmk_raw;

/* ------------------------------------------------ allocator / recovery */
struct alloc_result {
	struct hist h;		/* per-operation-pair latencies, ns */
	double ops_per_s;
	int status;
};

const char *shmk_alloc_unavailable(void);
/* Shared (MAP_SHARED, zeroed) by the two processes of a two-process run. */
struct alloc_sync {
	uint32_t created;	/* futex: the creator made the arena */
	uint32_t started;	/* start barrier: processes ready */
	uint32_t token_ready;	/* futex: @token holds a passed buffer */
	uint32_t failed;	/* one side gave up: nobody waits any more */
	uint64_t token;
	char name[64];
};

/*
 * kind: 0 alloc+free pair, 1 buffer clone+drop. role: -1 alone, 0 the
 * creator of a two-process run, 1 the other process.
 */
int shmk_alloc_bench(int kind, int role, struct alloc_sync *sync,
		     size_t size, uint64_t dur_ns, struct alloc_result *r);
const char *shmk_crash_unavailable(void);
/*
 * @n times: a member holding blocks and a buffer reference is killed with
 * SIGKILL; ns until the survivor's event fd is readable (@ev) and until
 * shmk_arena_events() reported the exit with everything reclaimed (@rc).
 */
int shmk_crash_bench(int n, struct hist *ev, struct hist *rc);
/* Baseline: kill -9 to a pidfd turning readable in the survivor. */
int pidfd_crash_once(uint64_t *to_event_ns);

#ifdef __cplusplus
}
#endif

#endif
