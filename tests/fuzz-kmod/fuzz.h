/* SPDX-License-Identifier: GPL-2.0 */
/*
 * t_fuzz: randomized system-call fuzzer for the shmk module. See README.md.
 *
 * Process model
 * -------------
 * The runner (t_fuzz.c) maps one shared region (struct fz_shared, a memfd
 * kept at FZ_SHARED_FD so that exec'd children find it again), forks
 * SHMK_FUZZ_PROCS workers and reaps everything. Every process of the run
 * (workers, their forked, cloned and exec'd children, their threads) runs
 * the same loop: pick a weighted random op (the FZ_OPS table), run it on
 * the process's own tables of descriptors and mappings (struct fz_proc),
 * account every system call in the shared region (fz_acct()).
 *
 * Locking: struct fz_proc.lock protects the tables of one process and is
 * held across every change of the address space made through them and
 * every memory access through them, so a mapping in the table is always
 * there. It is dropped around system calls that may sleep (WAIT, read,
 * poll, io_uring_enter).
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/shmk.h>

/* The descriptor number of the shared region in every process of a run. */
#define FZ_SHARED_FD	1000
#define FZ_WATCH_FD	999	/* the watcher of a worker */

#define FZ_MAX_FDS	24	/* descriptors a process tracks */
#define FZ_MAX_MAPS	48	/* mappings a process tracks */
#define FZ_MAX_KIDS	6	/* live children of one process */
#define FZ_MAX_THREADS	3	/* extra threads of one process */
#define FZ_MAX_DEPTH	2	/* worker 0, child 1, grandchild 2 */
#define FZ_NAMES	10	/* the arena name pool */
#define FZ_WAIT_MAX_NS	10000000LL	/* every bounded wait: <= 10 ms */

/* Ops: name, default weight. fz_ops.c and fz_proc.c implement op_<name>. */
#define FZ_OPS(X)			\
	X(open, 6)			\
	X(close, 4)			\
	X(dup, 2)			\
	X(fcntl, 2)			\
	X(version, 2)			\
	X(attach, 10)			\
	X(detach, 3)			\
	X(wait, 8)			\
	X(wake, 6)			\
	X(robust, 4)			\
	X(remove, 3)			\
	X(badioctl, 2)			\
	X(read, 6)			\
	X(poll, 4)			\
	X(epoll, 2)			\
	X(fops, 2)			\
	X(learn, 2)			\
	X(mmap, 8)			\
	X(munmap, 4)			\
	X(mremap, 3)			\
	X(mprotect, 3)			\
	X(madvise, 4)			\
	X(msync, 1)			\
	X(mlock, 1)			\
	X(remap, 1)			\
	X(touch, 8)			\
	X(scribble, 4)			\
	X(lock, 4)			\
	X(fork, 2)			\
	X(clone, 2)			\
	X(exec, 1)			\
	X(thread, 2)			\
	X(unshare, 1)			\
	X(setuid, 1)			\
	X(kill, 2)			\
	X(signal, 1)			\
	X(sock, 1)			\
	X(send, 2)			\
	X(recv, 2)			\
	X(die, 1)			\
	X(uring, 2)			\
	X(uring_reg, 1)			\
	X(uring_sub, 4)

enum fz_op {
#define FZ_ENUM(n, w) FZ_OP_##n,
	FZ_OPS(FZ_ENUM)
#undef FZ_ENUM
	FZ_NOPS
};

/* The system calls whose errors are checked against the ABI documents. */
#define FZ_CALLS(X)		\
	X(VERSION)		\
	X(ATTACH)		\
	X(DETACH)		\
	X(WAIT)			\
	X(WAKE)			\
	X(SET_ROBUST)		\
	X(REMOVE)		\
	X(BADIOCTL)		\
	X(MMAP)			\
	X(READ)			\
	X(POLL)			\
	X(OPEN)			\
	X(OTHER)

enum fz_call {
#define FZ_CENUM(n) FZ_C_##n,
	FZ_CALLS(FZ_CENUM)
#undef FZ_CENUM
	FZ_NCALLS
};

/* How a call's arguments were drawn. */
enum fz_kind {
	FZ_VALID = 0,	/* from the valid distribution: errno must be documented */
	FZ_HOSTILE,	/* boundary/hostile: any errno, success allowed */
	FZ_INVALID,	/* definitely invalid per the ABI: must not succeed */
};

#define FZ_NERR		160	/* errno histogram width */
#define FZ_NFINDINGS	64
#define FZ_TRACE	(1 << 16)	/* op trace ring entries */
#define FZ_PLOG		(1 << 17)	/* process births / reaps */
#define FZ_DLOG		(1 << 15)	/* exit events seen by watchers */
#define FZ_WORKERS_MAX	32

struct fz_trace {
	uint64_t t_ns;		/* CLOCK_MONOTONIC at the call's return */
	int32_t pid, tid;
	uint16_t op, call;
	int32_t ret;
	uint64_t a0, a1;	/* argument summary (op dependent) */
};

struct fz_finding {
	_Atomic uint32_t ready;	/* fields below written */
	uint16_t call, op;
	int32_t err;		/* errno, or 0 for "invalid input accepted" */
	_Atomic uint32_t count;
	uint64_t a0, a1;	/* first occurrence */
	char what[48];
};

/* A process of the run: birth (before fork) and reap (after waitpid). */
struct fz_plog {
	uint64_t t_ns;
	int32_t pid;
	int32_t status;		/* reap: wait status; birth: -1 */
	uint32_t shape;		/* FZ_SHAPE_* of the child, for births */
	uint32_t pad;
};

#define FZ_SHAPE_FORK		(1U << 0)
#define FZ_SHAPE_CLONE_FILES	(1U << 1)
#define FZ_SHAPE_CLONE_VM	(1U << 2)
#define FZ_SHAPE_EXEC		(1U << 3)

/* An exit event a watcher read: who ended, how, when. */
struct fz_dlog {
	uint64_t time_ns;	/* shmk_event.time_ns */
	uint64_t attach_ns;	/* from the control slot, 0 if unknown */
	uint64_t read_ns;
	int32_t pid;
	uint32_t how;
	int32_t status;
	uint32_t member_id, generation, arena_id;
};

struct fz_worker_st {
	_Atomic uint64_t calls;
	_Atomic uint64_t ops;
	_Atomic uint32_t kids, threads, execs;
	int32_t pid;
	int32_t status;		/* wait status, set by the runner */
	uint64_t end_ns;
};

struct fz_shared {
	/* Set by the runner before the workers start; read-only after. */
	uint64_t seed;
	uint64_t budget;		/* total calls */
	uint64_t deadline_ns;		/* CLOCK_MONOTONIC: stop issuing */
	uint64_t start_ns;
	uint64_t max_arena_size;
	uint32_t max_members, max_arenas, event_queue_len;
	uint32_t nworkers;
	uint32_t weights[FZ_NOPS];
	uint32_t wsum;
	uint64_t ipc_ns_ino;		/* of the runner: persistent arenas ok */
	uint64_t shmk_rdev;		/* st_rdev of /dev/shmk */
	uint32_t child_secs;		/* watchdog of every child process */
	uint64_t pid_ns_ino;
	char names[FZ_NAMES][SHMK_NAME_MAX];
	char exe[256];			/* /proc/self/exe of the runner */
	int verbose;

	_Atomic uint64_t calls;
	_Atomic uint64_t stop_ns;	/* when the budget or deadline was hit */
	_Atomic int stop;
	_Atomic uint64_t op_count[FZ_NOPS];
	_Atomic uint64_t call_count[FZ_NCALLS];
	_Atomic uint64_t call_ok[FZ_NCALLS];
	_Atomic uint32_t errs[FZ_NCALLS][FZ_NERR];
	_Atomic uint64_t sigbus, sigsegv;	/* faults on tracked mappings */
	_Atomic uint64_t inherited_maps;	/* arena VMAs seen in a child */
	_Atomic uint64_t inherited_sigbus;	/* ... that faulted, as they must */
	_Atomic uint64_t procs, execs, threads, kills;
	_Atomic uint64_t robust_set, lock_taken, scm_sent, scm_recv;
	_Atomic uint64_t uring_rings, uring_sqpoll, uring_sqes, uring_cqes;
	_Atomic uint64_t unshares, setuids, strays;
	_Atomic uint64_t events_read, overflow_events;
	_Atomic uint32_t uring_enosys;

	/* Lock-free (processes die at random points): claimed by fetch_add. */
	_Atomic uint32_t nfindings;
	struct fz_finding findings[FZ_NFINDINGS];

	/* Persistent arenas created: names to REMOVE at the end. */
	_Atomic uint32_t npersist;
	char persist[64][SHMK_NAME_MAX];

	_Atomic uint64_t trace_head;
	struct fz_trace trace[FZ_TRACE];

	_Atomic uint32_t nbirth, nreap, ndeath;
	struct fz_plog birth[FZ_PLOG];
	struct fz_plog reap[FZ_PLOG];
	struct fz_dlog death[FZ_DLOG];

	struct fz_worker_st w[FZ_WORKERS_MAX];
};

extern struct fz_shared *fz_sh;

/* ---- per process state ---------------------------------------------- */

enum fz_fdkind { FZ_FD_NONE = 0, FZ_FD_SHMK, FZ_FD_SOCK, FZ_FD_URING,
		 FZ_FD_EPOLL, FZ_FD_OTHER };

struct fz_ring;

struct fz_fd {
	int fd;
	enum fz_fdkind kind;
	uint32_t id;		/* unique in the process: stale checks */
	/* FZ_FD_SHMK: */
	bool attached;		/* by this process (the owner) */
	bool mine;		/* opened by this process */
	bool known;		/* sizes below are valid */
	bool rdonly;
	uint32_t member_id;
	uint64_t ctrl_size, user_offset, user_size;
	/* FZ_FD_URING: */
	struct fz_ring *ring;
};

/* OTHER: a mapping of something else (a reused fd number): read only. */
/*
 * INHERITED: an arena mapping a forked child kept (MADV_DOFORK); the child
 * is not the process that mapped it, so every access must SIGBUS (mmap.rst).
 */
enum fz_mapkind { FZ_MAP_CTRL = 1, FZ_MAP_USER, FZ_MAP_ANON, FZ_MAP_RING,
		  FZ_MAP_OTHER, FZ_MAP_INHERITED };

struct fz_map {
	uintptr_t addr;
	size_t len;
	int prot;
	enum fz_mapkind kind;
	uint64_t off;		/* region offset of @addr (CTRL, USER) */
	uint64_t user_size;	/* USER: size of the user region */
	uint64_t ctrl_size;	/* CTRL, USER: size of the control region */
	uint32_t member_id;	/* USER: id of the membership that mapped */
	uint32_t fd_id;		/* fz_fd.id of the file that mapped it */
	int fd;
};

struct fz_kid {
	pid_t pid;
	uint32_t shape;		/* FZ_SHAPE_* */
	int *own_fd;		/* CLONE_VM child: the descriptor it opened */
	void *stack;		/* CLONE_VM child: its stack, freed on reap */
	size_t stack_len;
	int pidfd;
};

struct fz_thr {
	pthread_t t;
	pid_t tid;
	_Atomic int op;		/* the op it runs (watchdog reports) */
	bool used;
	_Atomic bool done;
};

struct fz_proc {
	pthread_mutex_t lock;	/* see the overview */
	int depth;		/* 0 worker, 1 child, ... */
	int worker;		/* index of the worker this process descends from */
	bool ns_private;	/* not the runner's IPC namespace: no PERSISTENT */
	bool setuid_done;
	bool single;		/* a raw clone child: no threads, no malloc */
	bool files_shared;	/* descriptor table shared with the parent */
	uint32_t next_id;
	int nfds;
	struct fz_fd fds[FZ_MAX_FDS];
	int nmaps;
	struct fz_map maps[FZ_MAX_MAPS];
	int nkids;
	struct fz_kid kids[FZ_MAX_KIDS];
	struct fz_thr thr[FZ_MAX_THREADS];
	/* The watcher: a membership random ops never touch (death oracle). */
	int wfd;
	const volatile struct shmk_ctrl *wctrl;
	size_t wctrl_size;
	_Atomic bool stopping;
};

extern struct fz_proc fz_p;

/* One context per thread. */
struct fz_ctx {
	uint64_t rng;
	enum fz_op op;		/* the op running now (for accounting) */
	bool in_thread;
	struct fz_thr *thr;	/* in_thread: its slot */
	uint64_t budget;	/* ops left (UINT64_MAX: until the run ends) */
	int timer_ok;		/* per-thread POSIX timer: 0 not yet, 1, -1 */
	timer_t timer;
};

/* ---- random numbers: xorshift64*, seeded by splitmix64 ------------- */

static inline uint64_t fz_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static inline uint64_t fz_rand(struct fz_ctx *c)
{
	uint64_t x = c->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	c->rng = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* Uniform in [0, n). */
static inline uint64_t fz_below(struct fz_ctx *c, uint64_t n)
{
	return n ? fz_rand(c) % n : 0;
}

/* True with probability pct/100. */
static inline bool fz_pct(struct fz_ctx *c, unsigned int pct)
{
	return fz_below(c, 100) < pct;
}

static inline void fz_seed(struct fz_ctx *c, uint64_t seed)
{
	c->rng = fz_mix(seed) | 1;
}

/* ---- helpers (t_fuzz.c) ----------------------------------------------- */

uint64_t fz_now(void);
/*
 * Accounts one system call and returns @r (>= 0, or -errno). Records its
 * errno, a finding for an undocumented errno with FZ_VALID arguments or a
 * success with FZ_INVALID ones, and a trace entry.
 */
long fz_acct(struct fz_ctx *c, enum fz_call call, enum fz_kind kind, long r,
	     uint64_t a0, uint64_t a1);
/* Run @expr (a libc call returning < 0 / MAP_FAILED with errno) and account. */
#define FZ(c, call, kind, a0, a1, expr)					\
	({								\
		long _fz_r = (long)(expr);				\
		fz_acct((c), (call), (kind),				\
			_fz_r < 0 ? -(long)errno : _fz_r,		\
			(uint64_t)(a0), (uint64_t)(a1));		\
	})
void fz_finding(enum fz_call call, enum fz_op op, int err, uint64_t a0,
		uint64_t a1, const char *what);
bool fz_should_stop(void);
void fz_log_birth(pid_t pid, uint64_t t_ns, uint32_t shape);
void fz_log_reap(pid_t pid, int status);
void fz_persist_add(const char *name);
/* Write a short message to stdout without stdio (safe in any child). */
void fz_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- ops (fz_ops.c, fz_mem.c, fz_proc.c, fz_uring.c) ----------------- */

#define FZ_DECL(n, w) void op_##n(struct fz_ctx *c);
FZ_OPS(FZ_DECL)
#undef FZ_DECL

extern const char *const fz_op_names[FZ_NOPS];
extern const char *const fz_call_names[FZ_NCALLS];

/* Is @fd (still) a /dev/shmk file? */
bool fz_is_shmk(int fd);
/*
 * The real region sizes of the arena @fd is attached to, from its fdinfo
 * (shmk-arena-id) and debugfs "arenas": the module's truth, not our table
 * (another process may have closed and reused the number). 0 or -1.
 */
int fz_real_sizes(int fd, uint64_t *ctrl_size, uint64_t *user_size);
/* The arena id @fd is attached to (fdinfo), 0 if none or not an arena. */
unsigned int fz_arena_id(int fd);

/* Table helpers; the caller holds fz_p.lock. */
struct fz_fd *fz_fd_add(int fd, enum fz_fdkind kind);
struct fz_fd *fz_fd_pick(struct fz_ctx *c, enum fz_fdkind kind);
struct fz_fd *fz_fd_by_id(uint32_t id);
void fz_fd_forget(struct fz_fd *f);	/* drop the entry, no close */
void fz_fd_close(struct fz_ctx *c, struct fz_fd *f);
struct fz_map *fz_map_add(void);
void fz_map_del(struct fz_map *m);
/* Remove [addr, addr+len) from the map table (after a munmap). */
void fz_maps_cut(uintptr_t addr, size_t len);
struct fz_map *fz_map_pick(struct fz_ctx *c, int kind, bool writable);
/* An arena name: from the pool mostly, hostile sometimes. */
enum fz_kind fz_name(struct fz_ctx *c, char name[SHMK_NAME_MAX]);
/* A hostile user pointer (NULL, 1, a read-only page, an unmapped page...). */
void *fz_bad_ptr(struct fz_ctx *c);
/* FZ_INVALID if the last fz_bad_ptr() of this thread is unreadable. */
enum fz_kind fz_bad_ptr_kind(void);
/* A random user-region offset of a word for WAIT/WAKE/locks. */
uint64_t fz_word_off(struct fz_ctx *c, uint64_t user_size);
/* Arm/disarm this thread's one-shot timer (bounds a blocking call). */
void fz_timer_arm(struct fz_ctx *c, long ns);
void fz_timer_disarm(struct fz_ctx *c);
/* Guarded memory access: runs fn(arg) with SIGSEGV/SIGBUS caught. */
int fz_guard(void (*fn)(void *), void *arg);

void *fz_bad_ptr_ro(void);	/* the read-only page of fz_bad_ptr() */
void fz_ops_init(void);		/* per process, after exec too */
bool fz_mmap_regions(struct fz_ctx *c, struct fz_fd *f);
void fz_uring_free(struct fz_fd *f);
void fz_reset_ids(void);	/* in a new process: cached pid/tid */
void fz_fault_handler(int sig, siginfo_t *si, void *uc);
extern volatile sig_atomic_t fz_dying;

/* Processes and the loop (fz_proc.c). */
void fz_proc_init(int depth, int worker);
void fz_loop(struct fz_ctx *c);
void fz_run_op(struct fz_ctx *c, enum fz_op op);
void fz_reap_kids(bool block);
void fz_watch_open(struct fz_ctx *c);
void fz_watch_poll(struct fz_ctx *c);
void fz_install_handlers(void);
void fz_after_fork_child(struct fz_ctx *c, bool files_shared);
void fz_proc_end(struct fz_ctx *c);
int fz_mini_main(int argc, char **argv);
/* Account a call made with fz_raw() (no TLS: CLONE_VM children). */
void fz_acct_raw(enum fz_call call, enum fz_kind kind, long r);

/* Raw system call, no errno (for CLONE_VM children). Returns -errno. */
long fz_raw(long nr, long a, long b, long c, long d, long e, long f);

#endif /* FUZZ_H */
