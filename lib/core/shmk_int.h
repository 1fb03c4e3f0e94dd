/* SPDX-License-Identifier: MIT */
/*
 * libshmk internals: the library's layout inside the user region, the
 * process-local arena handle and the backend interface. See
 * Documentation/library-design.md.
 *
 * The library has three layers, one folder each; calls and includes go
 * down only (scripts/check-layers.sh):
 *
 *   msg/      queues, sessions: uses the core through its public API and
 *             the interface at the end of this file, never a backend
 *   core/     what every arena has, bottom up:
 *               util.c error.c   clocks, names, reasons in words
 *               event.c          local event queue, liveness, wait/wake
 *               lock.c           robust locks in the arena
 *               alloc.c          the allocator (heap, chunks, reserve)
 *               buf.c            refcounted buffers, holdings, tokens
 *               reclaim.c        what a dead member left; reading events
 *               check.c          the whole-arena consistency check
 *               arena.c          layout, create/attach/detach (picks the
 *                                backend)
 *   backend/  kmod (/dev/shmk) and portable (memfd, futex, pidfd): each
 *             implements struct shmk_be_ops below with the bottom of the
 *             core (event.c's shmk_ev_push(), lock.c's robust walk)
 *
 * One call goes up, through a pointer: alloc.c, waiting for memory, runs
 * the reclaims of the exits that wake it (shmk_arena.reclaim_exits).
 */
#ifndef SHMK_INT_H
#define SHMK_INT_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "shmk.h"

#define SHMK_EXPORT	__attribute__((visibility("default")))
#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)

/* ---- atomics on shared memory (GCC builtins: TSan understands them) --- */
#define ld_rlx(p)	__atomic_load_n((p), __ATOMIC_RELAXED)
#define ld_acq(p)	__atomic_load_n((p), __ATOMIC_ACQUIRE)
#define ld_sc(p)	__atomic_load_n((p), __ATOMIC_SEQ_CST)
#define st_rlx(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define st_rel(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define st_sc(p, v)	__atomic_store_n((p), (v), __ATOMIC_SEQ_CST)
#define cas_sc(p, e, n)	__atomic_compare_exchange_n((p), (e), (n), 0, \
				__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)
#define fadd_sc(p, v)	__atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST)
#define fsub_sc(p, v)	__atomic_fetch_sub((p), (v), __ATOMIC_SEQ_CST)
#define for_sc(p, v)	__atomic_fetch_or((p), (v), __ATOMIC_SEQ_CST)
#define fand_sc(p, v)	__atomic_fetch_and((p), (v), __ATOMIC_SEQ_CST)
#define xchg_sc(p, v)	__atomic_exchange_n((p), (v), __ATOMIC_SEQ_CST)
#define fence_sc()	__atomic_thread_fence(__ATOMIC_SEQ_CST)

/* ---- errno hygiene: public entry points never change errno ---------- */
#define ERRNO_SAVE	int saved_errno_ = errno
#define ERRNO_RESTORE	(errno = saved_errno_)

/* ---- crash points for the test build -------------------------------- */
#ifdef SHMK_TEST_HOOKS
void shmk__crashpoint(const char *where);
/* Called (when set) at every crash point first: tests stop a process there. */
extern void (*shmk__test_hook)(const char *where);
#define CRASHPOINT(w)	do { \
	if (shmk__test_hook) \
		shmk__test_hook(w); \
	shmk__crashpoint(w); \
} while (0)
#else
#define CRASHPOINT(w)	do { } while (0)
#endif

/* ---- USDT probes -----------------------------------------------------
 * Provider "shmk"; every probe and its arguments are documented in
 * tools/man/shmk-tracing.7. Each starts with (arena, name, member): the
 * arena's trace id (struct shmk_arena.trace_id), its name and the id of
 * the member that fires it; PROBE_A() passes those three from a handle.
 *
 * Every probe has a semaphore (sys/sdt.h _SDT_HAS_SEMAPHORES): a tracer
 * that attaches raises it, and the arguments, some of which cost a load
 * from another CPU's cache line, are only computed while it is raised.
 * Unattached, a probe costs one load and a branch not taken. Arguments
 * are passed in registers or as constants (constraint "nr"), which every
 * USDT reader decodes. SHMK_NO_SDT builds the library without them.
 * A new probe goes into SHMK_PROBES (util.c defines the semaphores).
 */
#define SHMK_PROBES(X)							\
	X(attach) X(detach) X(end) X(cleanup)				\
	X(wait) X(wait_done) X(wake)					\
	X(alloc) X(alloc_wait) X(free)					\
	X(buf_create) X(buf_clone) X(buf_drop)				\
	X(send) X(recv) X(queue_full) X(publish)

#ifdef SHMK_NO_SDT
#define PROBE_ON(n)		0
/* The arguments count as used (no warnings) and the call is dropped. */
static inline void shmk_no_probe(int n, ...)
{
	(void)n;
}
#define PROBE(n, ...)	do {						\
	if (0)								\
		shmk_no_probe(0, __VA_ARGS__);				\
} while (0)
#else
#define _SDT_HAS_SEMAPHORES	1
#define SDT_USE_VARIADIC	1
#define STAP_SDT_ARG_CONSTRAINT	nr
#include <sys/sdt.h>
#define SHMK_SEM_DECL(n) \
	extern unsigned short shmk_##n##_semaphore \
		__attribute__((visibility("hidden")));
SHMK_PROBES(SHMK_SEM_DECL)
#undef SHMK_SEM_DECL
/* Is a tracer attached to probe @n? */
#define PROBE_ON(n)		unlikely(shmk_##n##_semaphore)
#define PROBE(n, ...)	do {						\
	if (PROBE_ON(n))						\
		STAP_PROBEV(shmk, n, __VA_ARGS__);			\
} while (0)
#endif
/* Probe @n with the common (arena, name, member) of handle @a first. */
#define PROBE_A(n, a, ...) \
	PROBE(n, (a)->trace_id, (const char *)(a)->name, (a)->id, __VA_ARGS__)
/* Portable arenas: trace id = the header's random seed with this bit. */
#define SHMK_TRACE_ID_LIB	(1ULL << 63)

/* ======================================================================
 * Layout of the user region (arena offsets).
 *
 *   0            struct lm_hdr            (LM_HDR_SIZE)
 *   slots_off    struct lm_slot[member_max + 1]   (slot 0: unused)
 *   refs_off     struct lm_ref[member_max][refs_max]
 *   desc_off     struct lm_page[npages]   page map (truth of the heap)
 *   bits_off     uint64_t[npages][8]      chunk bitmaps: alloc, buffer
 *   tree_off     struct lm_node[2*leaves] free-run tree (derived)
 *   heap_off     npages pages             what the allocator hands out
 * ====================================================================== */
#define LM_MAGIC	0x4c4d4853U	/* "SHML" */
#define LM_VERSION	1
#define LM_PAGE_SHIFT	12
#define LM_PAGE		(1U << LM_PAGE_SHIFT)
#define LM_NONE		0xffffffffU
#define LM_JOURNALS	8
/*
 * Member ids are 1..LM_MEMBERS_MAX and fit in LM_ID_BITS: the shared
 * words that name a member (slot ctl, holdings entries, tokens, queue
 * slots, tickets, lanes) keep that many bits of its id (LM_ID_MASK).
 */
#define LM_ID_BITS	12
#define LM_ID_MASK	((1U << LM_ID_BITS) - 1)
#define LM_MEMBERS_MAX	LM_ID_MASK
#define LM_REFS_MAX	65535
/*
 * Generations are 32 bits in the member slot (LS_GEN), in events and in
 * member keys (shmk_mkey()); words with less room keep their low bits:
 * 16 for the reclaim helper in a slot's ctl (LS_HGEN_MASK), 18 in a
 * queue's slot, ticket and lane words (SC_GENMASK, msg/msg_int.h), 28 in
 * the portable backend's member table (PM_GEN_MASK). A cut generation is
 * compared with the same bits of the full one (shmk_member_live_masked()).
 */

/*
 * The defaults of struct shmk_arena_opts (shmk.h documents them), the
 * only place they are written: arena_open() fills a zero field of a
 * create in before any backend sees the options.
 */
#define LM_DEF_SIZE	(1U << 20)
#define LM_DEF_MODE	0600
#define LM_DEF_MEMBERS	64
#define LM_DEF_REFS	256	/* halved in a small arena, see lib_init() */
#define LM_DEF_RESERVE	LM_PAGE	/* per-member reserve, bytes */

/* init word */
#define LM_INIT_BUSY	0x80000000U	/* | id of the initialiser */
#define LM_INIT_DONE	0x40000000U

/* The lock layout every library lock uses: robust entry, then the word. */
struct lm_lock {
	__u64 next;		/* struct shmk_robust_entry */
	uint32_t word;
	uint32_t spare;
};
#define LM_LOCK_DELTA	8	/* lock word = entry + 8 */
#define LM_LOCK_NOTREC	SHMK_LOCK_OWNER_MASK	/* not recoverable */

struct lm_hdr {
	uint32_t magic;
	uint32_t version;
	uint32_t init;		/* LM_INIT_* */
	uint32_t page_size;
	uint64_t user_size;
	uint32_t member_max;
	uint32_t refs_max;
	uint32_t reserve_pages;
	uint32_t npages;
	uint32_t leaves;
	uint32_t pad0;
	uint64_t slots_off;
	uint64_t refs_off;
	uint64_t desc_off;
	uint64_t bits_off;
	uint64_t tree_off;
	uint64_t heap_off;
	uint64_t seed;
	uint8_t pad1[256 - 104];
	/* 256: roots */
	uint64_t roots[SHMK_ROOTS];
	/* 384: the heap lock and what it protects */
	struct lm_lock heap_lock;
	uint32_t free_pages;	/* heap lock */
	uint32_t orphan_head;	/* owner-0 page list, heap lock */
	uint32_t heap_epoch;	/* bumped by every rebuild */
	uint8_t pad2[64 - 28];
	/* 448: waiting allocations */
	uint32_t waiters;	/* members waiting for memory */
	uint32_t free_seq;	/* bumped by frees seen with waiters */
	uint8_t pad3[64 - 8];
};
#define LM_HDR_SIZE	512
_Static_assert(sizeof(struct lm_hdr) == LM_HDR_SIZE, "lm_hdr");
_Static_assert(offsetof(struct lm_hdr, roots) == 256, "roots");

/* Journal of the buffer operation a member has in flight. */
enum {
	LJ_NONE = 0,
	LJ_CREATE,	/* new buffer @buf into (@table, @slot) */
	LJ_CLONE,	/* +1 ref of @buf into (@table, @slot), @rc_before */
	LJ_DROP,	/* -1 ref of @buf from (@table, @slot), @rc_before */
	LJ_FREE,	/* @buf reached 0: its block is being freed */
	LJ_ACCEPT,	/* @token into (@table, @slot) */
};

struct lm_journal {
	uint32_t op;		/* written last (release), cleared first */
	uint32_t slot;
	uint32_t table;
	uint32_t rc_before;
	uint64_t buf;
	uint64_t nonce;
	uint64_t token;
	uint64_t pad[3];
};

/*
 * lm_slot.ctl: state (bits 60..63), helper id (48..59) and the low 16 bits
 * of its generation (32..47) while in RECLAIM, generation (0..31).
 */
#define LS_FREE		0ULL
#define LS_LIVE		1ULL
#define LS_RECLAIM	2ULL
#define LS_STATE(c)	((c) >> 60)
#define LS_HGEN_MASK	0xffffU
#define LS_HELPER(c)	((uint32_t)(((c) >> 48) & LM_ID_MASK))
#define LS_HGEN(c)	((uint32_t)(((c) >> 32) & LS_HGEN_MASK))
#define LS_GEN(c)	((uint32_t)(c))
#define LS_MAKE(s, h, g) (((uint64_t)(s) << 60) | ((uint64_t)(h) << 48) | \
			  (uint64_t)(g))
#define LS_MAKE_RECLAIM(h, hg, g) (LS_MAKE(LS_RECLAIM, h, g) | \
				   ((uint64_t)((hg) & LS_HGEN_MASK) << 32))

struct lm_slot {
	uint64_t ctl;
	uint32_t pages_head;	/* owner page list, heap lock */
	uint32_t reserve_page;	/* heap lock; LM_NONE */
	struct shmk_robust_head robust;
	uint64_t nonce_next;	/* buffer nonces */
	uint32_t reserve_npages; /* heap lock */
	uint32_t pad0;
	uint8_t pad1[128 - 56];
	struct lm_journal j[LM_JOURNALS];
};
#define LM_SLOT_SIZE	(128 + LM_JOURNALS * 64)
_Static_assert(sizeof(struct lm_journal) == 64, "journal");
_Static_assert(sizeof(struct lm_slot) == LM_SLOT_SIZE, "lm_slot");

/* Holdings table entry. state: kind (bits 0..3) + data. */
#define LR_EMPTY	0ULL
#define LR_SETUP	1ULL	/* claimed by the owner, holds nothing yet */
#define LR_HELD		2ULL	/* one reference */
#define LR_TRANSIT	3ULL	/* passed: dest (4..15), nonce (16..63) */
#define LR_TAKEN	4ULL	/* accepted by (4..15), nonce (16..63) */
#define LR_RECALLED	5ULL	/* taken back, reference still counted */
#define LR_KIND(s)	((s) & 0xf)
#define LR_WHO(s)	((uint32_t)(((s) >> 4) & LM_ID_MASK))
#define LR_NONCE(s)	((s) >> 16)
#define LR_MAKE(k, who, nonce) ((k) | ((uint64_t)(who) << 4) | \
				((uint64_t)(nonce) << 16))
struct lm_ref {
	uint64_t state;
	uint64_t buf;		/* stable while the state is not EMPTY */
};

/* Page map entry. tag: magic (16..31) | type (8..15) | class (0..7). */
#define PG_MAGIC	0x5a6bU
#define PG_FREE		0
#define PG_LARGE	1
#define PG_CHUNK	2
#define PG_CONT		3	/* second page of a 2-page chunk */
#define PG_RESERVE	4
#define PG_TAG(type, cls) ((PG_MAGIC << 16) | ((type) << 8) | (cls))
#define PG_TYPE(t)	(((t) >> 8) & 0xff)
#define PG_CLASS(t)	((t) & 0xff)
#define PG_VALID(t)	(((t) >> 16) == PG_MAGIC)
#define PGF_BUF		1U	/* large: storage of a buffer */

struct lm_page {
	uint32_t tag;		/* 0: free (or interior of a run) */
	uint32_t npages;	/* head: run length; CONT: head index */
	uint32_t owner;		/* member id, 0 = arena (orphan) */
	uint32_t gen;
	uint32_t next;		/* owner list */
	uint32_t prev;
	uint32_t flags;		/* PGF_*, atomic */
	uint32_t pad;
};
#define LM_BITS_WORDS	8	/* per page: 4 alloc + 4 buffer words */

struct lm_node {
	uint32_t best;
	uint32_t pre;
	uint32_t suf;
	uint32_t lazy;		/* 0, 1 = set free, 2 = set used */
};

/* Small size classes. */
#define LM_NCLASS	24
struct lm_class {
	uint32_t size;
	uint32_t pages;		/* chunk pages */
	uint32_t nslots;
	uint32_t recip;		/* slot = (rel * recip) >> 32 */
};
extern const struct lm_class lm_classes[LM_NCLASS];
extern const uint8_t lm_class_of16[SHMK_ALLOC_SMALL_MAX / 16 + 1];

/* Buffer header at the start of its block. */
#define LB_MAGIC	0x46554253U	/* "SBUF" */
#define LB_DEAD		0x44414544U
struct lm_buf {
	struct lm_lock lock;	/* lock.spare holds the magic */
	uint64_t nonce;
	uint32_t rc;		/* under the buffer lock; read atomically */
	uint32_t flags;
	uint64_t cap;		/* bytes after the header */
	uint64_t head;		/* first data byte, from the area start */
	uint64_t len;
	uint64_t pad;
};
#define LB_HDR		64
_Static_assert(sizeof(struct lm_buf) == LB_HDR, "lm_buf");

/* ======================================================================
 * Process-local state.
 * ====================================================================== */
struct lm_geom {		/* validated copy of the header's layout */
	uint64_t user_size;
	uint32_t member_max, refs_max, reserve_pages, npages, leaves;
	uint64_t slots_off, refs_off, desc_off, bits_off, tree_off, heap_off;
};

struct shmk_arena;

struct shmk_be_ops {
	const char *name;
	/* create/attach: sets base, size, id, gen, be_member_max, created */
	int (*open)(struct shmk_arena *a, const char *name,
		    const struct shmk_arena_opts *o, unsigned int flags,
		    bool create);
	/* end the membership: clean (detach) or not (error paths) */
	void (*close)(struct shmk_arena *a, bool clean);
	/* abs: CLOCK_MONOTONIC deadline or NULL; flags SHMK_WAIT_* */
	int (*wait)(struct shmk_arena *a, uint64_t off, uint32_t expected,
		    const struct timespec *abs, unsigned int flags);
	int (*wake)(struct shmk_arena *a, uint64_t off, uint32_t n);
	int (*set_robust)(struct shmk_arena *a, uint64_t head_off);
	/* move pending backend events into the local queue (ev_lock held) */
	int (*pump)(struct shmk_arena *a);
	/* 1 and *gen if member @id is live now, 0 if not */
	int (*member)(struct shmk_arena *a, uint32_t id, uint32_t *gen);
	int (*remove)(const char *name, unsigned int flags);
	/*
	 * An fd readable when an arena @name may have been created since
	 * (NULL: the backend cannot tell; waiters retry with a backoff).
	 */
	int (*watch)(const char *name);
};

extern const struct shmk_be_ops shmk_be_kmod;
extern const struct shmk_be_ops shmk_be_portable;

struct lm_chunklist {
	uint32_t *pg;
	uint32_t n, cap, rr;
};

struct shmk_arena {
	const struct shmk_be_ops *be;
	void *bp;			/* backend private */
	uint8_t *base;			/* user region */
	uint64_t size;
	uint32_t id, gen;
	uint32_t be_member_max;
	/*
	 * What the USDT probes name the arena by: the module's arena id on
	 * kmod (as its tracepoints, debugfs and shmkctl do), else the
	 * header's seed | SHMK_TRACE_ID_LIB. Set once the arena is open.
	 */
	uint64_t trace_id;
	bool created, rdonly, lib_ready;
	char name[SHMK_NAME_MAX];
	/* How the backend was chosen, for reasons ("SHMK_BACKEND=kmod"). */
	const char *be_why;
	uint64_t nonce;			/* tags this handle's reasons */
	struct lm_geom g;
	struct lm_hdr *hdr;
	int epfd;			/* the event fd handed to the app */
	int evfd;			/* eventfd: local queue non-empty */

	/*
	 * Lock order, outermost first: a lock is only taken while holding
	 * locks above it in this list, never one above while holding it.
	 *
	 *   (application)     its robust locks (shmk_lock_*()) may be held
	 *                     around any library call
	 *   shmk_queue.plock  msg/queue.c: this producer's lanes
	 *   rc_lock           one reader of events (shmk_arena_events())
	 *   ev_lock           local event queue, be->pump; dropped before
	 *                     any reclaim runs
	 *   a buffer's lock   robust, in the arena (struct lm_buf)
	 *   al_lock           this process's chunk lists
	 *   the heap lock     robust, in the arena (lm_hdr.heap_lock)
	 *   rl_lock           this member's robust list, inside every robust
	 *                     lock's acquire and release
	 *
	 * Leaves, under which nothing is taken: j_lock (the wait for a free
	 * journal slot) and shmk_session.wl (msg/session.c, the fd watcher).
	 */
	/* Serialises edits of this member's robust list (one op_pending). */
	pthread_mutex_t rl_lock;
	/* Locks this handle took and did not release (rl_lock). */
	uint32_t nheld;
	/* Protects evq*, rcq*, and calls into be->pump. */
	pthread_mutex_t ev_lock;
	/* Serialises shmk_arena_events() (pump, reclaim, pop). */
	pthread_mutex_t rc_lock;
	struct shmk_event *evq;
	unsigned int evq_head, evq_len, evq_cap;
	uint64_t evq_lost;
	struct { uint32_t id, gen; } *rcq;	/* reclaims still to run */
	unsigned int rcq_len, rcq_cap;

	/* allocator: cur[] is read lock-free; al_lock guards cl[] */
	uint32_t cur[LM_NCLASS];	/* current chunk page + 1, atomic */
	pthread_mutex_t al_lock;
	struct lm_chunklist cl[LM_NCLASS];

	/* buffers */
	uint32_t jbits;			/* journal slots in use, atomic */
	pthread_mutex_t j_lock;		/* with j_cond: wait for a slot */
	pthread_cond_t j_cond;
	uint32_t ref_cursor;		/* atomic */

	/*
	 * The one call from a lower layer of the core up: alloc.c, woken by
	 * an exit while it waits for memory, runs the reclaims that exit
	 * calls for through it (reclaim.c's shmk_pump_and_reclaim(), set at
	 * open), since what the dead member held is what it waits for.
	 */
	int (*reclaim_exits)(struct shmk_arena *a);
};

/* ---- geometry helpers ------------------------------------------------ */
static inline void *A_PTR(const struct shmk_arena *a, uint64_t off)
{
	return a->base + off;
}

static inline struct lm_slot *lm_slot(const struct shmk_arena *a,
				      uint32_t id)
{
	return (struct lm_slot *)(a->base + a->g.slots_off +
				  (uint64_t)id * LM_SLOT_SIZE);
}

static inline struct lm_ref *lm_ref(const struct shmk_arena *a, uint32_t id,
				    uint32_t idx)
{
	return (struct lm_ref *)(a->base + a->g.refs_off +
				 ((uint64_t)(id - 1) * a->g.refs_max + idx) *
				 sizeof(struct lm_ref));
}

static inline struct lm_page *lm_desc(const struct shmk_arena *a, uint32_t p)
{
	return (struct lm_page *)(a->base + a->g.desc_off) + p;
}

static inline uint64_t *lm_bits(const struct shmk_arena *a, uint32_t p)
{
	return (uint64_t *)(a->base + a->g.bits_off) +
		(uint64_t)p * LM_BITS_WORDS;
}

static inline uint64_t lm_page_off(const struct shmk_arena *a, uint32_t p)
{
	return a->g.heap_off + ((uint64_t)p << LM_PAGE_SHIFT);
}

/*
 * A member named in one 64-bit word: id in the high half, generation in
 * the low half (a queue's consumer, an overflow lane's owner); 0 names
 * nobody, as id 0 is no member.
 */
static inline uint64_t shmk_mkey(uint32_t id, uint32_t gen)
{
	return ((uint64_t)id << 32) | gen;
}

static inline uint32_t shmk_mkey_id(uint64_t k)
{
	return (uint32_t)(k >> 32);
}

static inline uint32_t shmk_mkey_gen(uint64_t k)
{
	return (uint32_t)k;
}

/* This handle's own member, as a key. */
static inline uint64_t shmk_self_mkey(const struct shmk_arena *a)
{
	return shmk_mkey(a->id, a->gen);
}

/* Calls that change the arena: set up (lib_ready) and not read-only. */
static inline int lm_check_rw(const struct shmk_arena *a)
{
	if (!a || !a->lib_ready)
		return -EINVAL;
	if (a->rdonly)
		return -EROFS;
	return 0;
}

static inline bool off_ok(const struct shmk_arena *a, uint64_t off,
			  uint64_t len, uint64_t align)
{
	return off < a->size && len <= a->size - off && (off & (align - 1)) == 0;
}

/* ---- arena.c --------------------------------------------------------- */
/*
 * For a wait until arena @name exists: an fd readable when it may have
 * appeared, -EOPNOTSUPP if the backend @flags choose cannot say, or the
 * error (and its reason) of the backend choice.
 */
int shmk_arena_watch(const char *name, unsigned int flags);

/* ---- error.c: reasons in words (shmk_arena_error) ------------------- */
#define SHMK_REASON_MAX	512
/* Why the create/attach/remove of this thread fails ("" if not said). */
void shmk_reason_clear(void);
bool shmk_reason_isset(void);
const char *shmk_reason_get(void);
__attribute__((format(printf, 1, 0)))
void shmk_reason_vset(const char *fmt, va_list ap);
__attribute__((format(printf, 1, 2)))
void shmk_reason(const char *fmt, ...);
/* Why this thread's current call on handle @a fails. */
__attribute__((format(printf, 2, 3)))
void shmk_areason(const struct shmk_arena *a, const char *fmt, ...);
void shmk_areason_forget(const struct shmk_arena *a);
const char *shmk_fmt_bytes(uint64_t v, char *buf, size_t len);

/* ---- util.c ---------------------------------------------------------- */
static inline uint64_t shmk_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Absolute CLOCK_MONOTONIC deadline for a relative timeout >= 0. */
static inline void shmk_deadline(struct timespec *ts, int64_t timeout_ns)
{
	uint64_t t = shmk_now_ns();

	if (timeout_ns > 0) {
		if ((uint64_t)timeout_ns > UINT64_MAX / 2)
			timeout_ns = INT64_MAX / 2;
		t += (uint64_t)timeout_ns;
	}
	ts->tv_sec = (time_t)(t / 1000000000ULL);
	ts->tv_nsec = (long)(t % 1000000000ULL);
}

static inline bool shmk_deadline_passed(const struct timespec *ts)
{
	uint64_t d;

	if (!ts)
		return false;
	d = (uint64_t)ts->tv_sec * 1000000000ULL + (uint64_t)ts->tv_nsec;
	return shmk_now_ns() >= d;
}
int shmk_proc_starttime(int pid, uint64_t *start, int *state, int *exit_code);
int shmk_name_ok(const char *name);
uint64_t shmk_random64(void);

/* ---- event.c: local event queue, liveness, wait/wake ----------------- */
int shmk_ev_push(struct shmk_arena *a, const struct shmk_event *ev);
int shmk_ev_pop(struct shmk_arena *a, struct shmk_event *ev, unsigned int n);
int shmk_wait_internal(struct shmk_arena *a, uint64_t off, uint32_t expected,
		       const struct timespec *abs, unsigned int flags);
bool shmk_member_live(struct shmk_arena *a, uint32_t id, uint32_t gen);
#define LM_WAIT_NOLOCALQ	(1U << 16)	/* ignore the local queue */

/* ---- reclaim.c: what dead members left ------------------------------- */
int shmk_pump_and_reclaim(struct shmk_arena *a);
int lm_reclaim(struct shmk_arena *a, uint32_t id, uint32_t gen);

/* ======================================================================
 * The core's interface for messaging (lib/msg/): besides the public API
 * (shmk.h) and the helpers above (atomics, probes, errno, deadlines,
 * off_ok, member keys), msg/ uses the core through these and nothing
 * else of this file: not the layout (a->g, a->hdr, member slots,
 * holdings tables), not the backend (a->be). scripts/check-layers.sh
 * enforces it. shmk_wait_internal(), shmk_member_live(),
 * shmk_pump_and_reclaim() and lm_token_pending() are declared with
 * their files.
 * ====================================================================== */
/* The highest member id of the arena. */
static inline uint32_t shmk_member_max(const struct shmk_arena *a)
{
	return a->g.member_max;
}

/*
 * The library's own look at member @id/@gen (its slot, no syscall): true
 * while the slot is LIVE with that generation, i.e. nobody has started
 * to reclaim the member. It can say false for a live member (its slot
 * is still to be taken at attach): ask shmk_member_live() then.
 */
bool shmk_member_unreclaimed(struct shmk_arena *a, uint32_t id, uint32_t gen);
/*
 * Live now with a generation whose bits under @mask are @gen (a word
 * that keeps only part of the generation); false if the backend cannot
 * tell.
 */
bool shmk_member_live_masked(struct shmk_arena *a, uint32_t id, uint32_t gen,
			     uint32_t mask);
/* Wake up to @n waiters on the arena word at @off (SHMK_WAKE_ALL: all). */
static inline int shmk_wake_internal(struct shmk_arena *a, uint64_t off,
				     uint32_t n)
{
	return a->be->wake(a, off, n);
}
/*
 * 0 once the reclaim of dead member @id/@gen is finished: one look at its
 * slot after shmk_arena_events() handed its exit out (which reclaims
 * first); runs or waits for the reclaim, for at most @wait_ns, only if
 * that was cut short. -EINTR, or -EINPROGRESS when another survivor's
 * reclaim outlasts @wait_ns.
 */
int shmk_reclaim_settle(struct shmk_arena *a, uint32_t id, uint32_t gen,
			int64_t wait_ns);
/* How long an exit waits for another survivor's reclaim of that member. */
#define LM_RECLAIM_WAIT_NS	(5 * 1000000000LL)

/* ---- lock.c ---------------------------------------------------------- */
int lm_lock_acquire(struct shmk_arena *a, uint64_t off,
		    const struct timespec *abs);
int lm_lock_release(struct shmk_arena *a, uint64_t off);
int lm_lock_consistent(struct shmk_arena *a, uint64_t off);
int lm_robust_walk(struct shmk_arena *a, uint64_t head_off, uint32_t dead_id);
bool lm_robust_empty(struct shmk_arena *a);

/* ---- alloc.c --------------------------------------------------------- */
int lm_heap_init(struct shmk_arena *a);
int lm_heap_attach(struct shmk_arena *a);
void lm_heap_detach_local(struct shmk_arena *a);
int lm_alloc(struct shmk_arena *a, uint64_t size, unsigned int flags,
	     const struct timespec *abs, uint64_t *off);
int lm_free(struct shmk_arena *a, uint64_t off, bool buffer);
int lm_block_lookup(struct shmk_arena *a, uint64_t off, uint64_t *usable,
		    bool *is_buf, bool *allocated);
int lm_block_mark_buf(struct shmk_arena *a, uint64_t off);
int lm_heap_reclaim(struct shmk_arena *a, uint32_t id, uint32_t gen);
/* The longest wait for the heap lock: then -ETIMEDOUT (alloc.c). */
#define LM_HEAP_LOCK_WAIT_NS	(5 * 1000000000LL)
int lm_heap_lock(struct shmk_arena *a);
void lm_heap_unlock(struct shmk_arena *a);
int lm_heap_check(struct shmk_arena *a, char *msg, size_t len,
		  uint32_t *nbufs, uint64_t **bufs);
void lm_reserve_refill(struct shmk_arena *a);

/* ---- buf.c ----------------------------------------------------------- */
int lm_buf_reclaim(struct shmk_arena *a, uint32_t id, uint32_t gen);
/* 1 while a token we passed is still in transit. */
int lm_token_pending(struct shmk_arena *a, uint64_t token);
int lm_buf_repair(struct shmk_arena *a, uint64_t buf);
int lm_buf_check_refs(struct shmk_arena *a, uint64_t *bufs, uint32_t n,
		      char *msg, size_t len, bool refs);
int lm_journal_resolve_all(struct shmk_arena *a, uint32_t id);
/*
 * A send checks its reference once: lm_buf_peek() does what
 * shmk_buf_data() checks (our entry HELD, the buffer valid) and gives the
 * buffer's offset and data length; lm_buf_pass_checked() is
 * shmk_buf_pass() of a reference to that same buffer @x (it, or a clone
 * of it), checking only its holdings entry.
 */
int lm_buf_peek(struct shmk_arena *a, shmk_ref_t ref, uint64_t *x,
		uint64_t *len);
int lm_buf_pass_checked(struct shmk_arena *a, shmk_ref_t ref, uint64_t x,
			uint32_t to, uint64_t *token);

#endif /* SHMK_INT_H */
