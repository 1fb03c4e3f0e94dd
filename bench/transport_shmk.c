// SPDX-License-Identifier: GPL-2.0
/*
 * The shmk rows of the benchmark.
 *
 *  HAVE_LIBSHMK: the real message API. Ping-pong: each side consumes its
 *    own queue (shmk_queue_create) and produces into the other's
 *    (shmk_queue_share / shmk_queue_open); a message is a descriptor
 *    carrying the arena offset of a payload block that the sender produced
 *    in place (sequence number in its first and last 8 bytes) and the
 *    receiver reads in place: nothing is copied, whatever the size. Two
 *    modes, as the library offers them: "shmk (queue, blocking)" (spin_ns
 *    0, the default: sleep at once on an empty queue) and "shmk (queue,
 *    spin)" (spin_ns SPIN_NS before sleeping). Streaming and fan-in: every
 *    producer posts into the consumer's one queue (multi-producer), the
 *    payload in place in a per-producer slab of the arena, blocking mode.
 *  otherwise, and always in transport_shmk_raw.o (-DSHMK_RAW, the
 *    "shmk-raw" rows): "shmk-equivalent raw futex mailbox": the bare
 *    mechanism on a memfd mapping with raw futex calls, one 32-bit mailbox
 *    word per direction plus a WAITERS bit, and one SPSC ring per producer
 *    for streaming, as a reference for what the library adds.
 */
#define _GNU_SOURCE

/*
 * Built twice: transport_shmk.o (libshmk when it is built) and
 * transport_shmk_raw.o (-DSHMK_RAW: always the raw futex version, kept as
 * a reference for what the library adds on top of the bare mechanism).
 */
#ifdef SHMK_RAW
#undef HAVE_LIBSHMK
#define tr_shmk tr_shmk_raw
#define st_shmk st_shmk_raw
#define shmk_impl_label shmk_raw_impl_label
#define shmk_impl_backend shmk_raw_impl_backend
#define shmk_select_backend shmk_raw_select_backend
#define shmk_rtt_label shmk_raw_rtt_label
#define TR_NAME "shmk-raw"
#else
#define TR_NAME "shmk"
#endif

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"

#ifdef HAVE_LIBSHMK
#include <shmk.h>
#include <shmk_msg.h>
#endif

#define MB_WAITERS	0x80000000u
#define MB_STOP		0x7fffffffu
#define SPIN_NS		50000ull	/* bounded spin before sleeping */

#define SEQ32(s)	((s) == PP_STOP ? MB_STOP : (uint32_t)(s))
#define SEQ64(v)	((v) == MB_STOP ? PP_STOP : (uint64_t)(v))

/* ------------------------------------------------------------ the arena */
/*
 * struct ar hides where the arena comes from. Offsets are arena offsets;
 * the directory (where the ping-pong or ring layout lives) is published in
 * root slot 0 (libshmk) or in the first 8 bytes of the mapping (raw).
 */
struct ar {
	unsigned char *base;
	size_t size;
	uint64_t used;		/* raw: bump allocator */
#ifdef HAVE_LIBSHMK
	struct shmk_arena *a;
	uint64_t root_off;
#endif
};

#ifdef HAVE_LIBSHMK
#define PP_LABEL "shmk (queue, blocking)"
#define PP_SPIN_LABEL "shmk (queue, spin)"
#define ST_LABEL "shmk (queue, blocking)"

/* Row label of a ping-pong mode (main.c). */
const char *shmk_rtt_label(int mode);
const char *shmk_rtt_label(int mode)
{
	return mode == MODE_SPIN ? PP_SPIN_LABEL : PP_LABEL;
}

static unsigned int backend_flag = SHMK_OPEN_PORTABLE;
static const char *backend_name = "portable";

const char *shmk_impl_label(void)
{
	return PP_LABEL;
}

const char *shmk_impl_backend(void)
{
	return backend_name;
}

int shmk_select_backend(const char *b)
{
	if (!strcmp(b, "portable")) {
		backend_flag = SHMK_OPEN_PORTABLE;
	} else if (!strcmp(b, "kmod")) {
		if (access(SHMK_DEVICE_PATH, R_OK | W_OK))
			return -ENODEV;
		backend_flag = SHMK_OPEN_KMOD;
	} else {
		return -EINVAL;
	}
	backend_name = b[0] == 'k' ? "kmod" : "portable";
	return 0;
}

static int ar_finish(struct ar *r)
{
	struct shmk_arena_info info;
	int err = shmk_arena_info(r->a, &info);

	if (err)
		return err;
	r->base = info.base;
	r->size = info.size;
	return shmk_arena_root(r->a, 0, &r->root_off);
}

/* Driver side: nothing to share before forking. */
static int ar_setup(struct ar *r, const char *name, size_t size)
{
	(void)r;
	(void)name;
	(void)size;
	return 0;
}

static int ar_create(struct ar *r, const char *name, size_t size)
{
	struct shmk_arena_opts o;
	int err;

	memset(&o, 0, sizeof(o));
	o.size = size;
	o.max_members = 16;
	err = shmk_arena_create(name, &o, SHMK_OPEN_EXCL | backend_flag,
				&r->a);
	return err ? err : ar_finish(r);
}

static int ar_attach(struct ar *r, const char *name)
{
	int err = shmk_arena_attach(name, backend_flag, &r->a);

	return err ? err : ar_finish(r);
}

static int ar_alloc(struct ar *r, size_t size, uint64_t *off)
{
	int err = shmk_alloc(r->a, size, SHMK_ALLOC_ZERO, 0, off);

	if (!err)	/* the payload is produced once and faulted in */
		memset(r->base + *off, 0xa5, size);
	return err;
}

static void ar_publish(struct ar *r, uint64_t dir)
{
	__atomic_store_n((uint64_t *)(r->base + r->root_off), dir,
			 __ATOMIC_RELEASE);
}

static uint64_t ar_lookup(struct ar *r)
{
	return __atomic_load_n((uint64_t *)(r->base + r->root_off),
			       __ATOMIC_ACQUIRE);
}

static void ar_close(struct ar *r)
{
	if (r->a)
		shmk_arena_detach(r->a);
	r->a = NULL;
}

static void ar_teardown(struct ar *r)
{
	(void)r;
}

#else /* raw: memfd + mmap + futex, the same protocol without libshmk */

const char *shmk_rtt_label(int mode);
const char *shmk_rtt_label(int mode)
{
	(void)mode;
	return NULL;		/* one label for both modes */
}

#ifdef SHMK_RAW
#define PP_LABEL "shmk-equivalent raw futex mailbox (no libshmk)"
#define ST_LABEL "shmk-equivalent raw futex ring (no libshmk)"
#else
#define PP_LABEL "shmk-equivalent raw futex mailbox (libshmk pending)"
#define ST_LABEL "shmk-equivalent raw futex ring (libshmk pending)"
#endif

const char *shmk_impl_label(void)
{
	return PP_LABEL;
}

const char *shmk_impl_backend(void)
{
	return "raw-futex";
}

int shmk_select_backend(const char *b)
{
	return strcmp(b, "portable") ? -ENODEV : 0;
}

/* The driver creates the memfd mapping; the workers inherit it. */
static int ar_setup(struct ar *r, const char *name, size_t size)
{
	int fd = memfd_create(name, MFD_CLOEXEC);
	void *p;

	if (fd < 0)
		return -errno;
	size = (size + 4095) & ~(size_t)4095;
	if (ftruncate(fd, (off_t)size) < 0) {
		close(fd);
		return -errno;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -errno;
	r->base = p;
	r->size = size;
	r->used = 64;		/* directory word, own cache line */
	return 0;
}

static int ar_create(struct ar *r, const char *name, size_t size)
{
	(void)name;
	(void)size;
	return r->base ? 0 : -EINVAL;
}

static int ar_attach(struct ar *r, const char *name)
{
	(void)name;
	return r->base ? 0 : -EINVAL;
}

static int ar_alloc(struct ar *r, size_t size, uint64_t *off)
{
	uint64_t o = (r->used + 63) & ~63ull;

	if (size >= 4096)
		o = (o + 4095) & ~4095ull;
	if (o + size > r->size)
		return -ENOMEM;
	r->used = o + size;
	*off = o;
	memset(r->base + o, 0xa5, size);
	return 0;
}

static void ar_publish(struct ar *r, uint64_t dir)
{
	__atomic_store_n((uint64_t *)r->base, dir, __ATOMIC_RELEASE);
}

static uint64_t ar_lookup(struct ar *r)
{
	return __atomic_load_n((uint64_t *)r->base, __ATOMIC_ACQUIRE);
}

static int ar_wait(struct ar *r, uint32_t *w, uint32_t val)
{
	(void)r;
	return futex_wait32(w, val);
}

static int ar_wake(struct ar *r, uint32_t *w, uint32_t n)
{
	int err;

	(void)r;
	err = futex_wake32(w, (int)n);
	return err < 0 ? err : 0;
}

static void ar_close(struct ar *r)
{
	(void)r;
}

static void ar_teardown(struct ar *r)
{
	if (r->base)
		munmap(r->base, r->size);
	r->base = NULL;
}
#endif

static void *ar_ptr(struct ar *r, uint64_t off)
{
	return r->base + off;
}

/* Zeroed block for control words (the allocator's blocks are 0xa5). */
static int ar_alloc_zero(struct ar *r, size_t size, uint64_t *off)
{
	int err = ar_alloc(r, size, off);

	if (!err)
		memset(r->base + *off, 0, size);
	return err;
}

/*
 * A worker's arena and the offset of its directory. The creator (@create)
 * makes both, the directory zeroed (@len bytes), and publishes it with
 * ar_publish() once filled in; the others attach and find it.
 */
static int ar_open_dir(struct ar *r, const char *name, size_t size,
		       size_t len, int create, uint64_t *dir)
{
	int err;

	if (create) {
		err = ar_create(r, name, size);
		return err ? err : ar_alloc_zero(r, len, dir);
	}
	err = ar_attach(r, name);
	if (err)
		return err;
	*dir = ar_lookup(r);
	return *dir ? 0 : -ENOENT;
}

/*
 * In the driver, before forking: a transport's per-process state (@len
 * bytes, starting with its struct ar) and what the arena needs shared.
 */
static int priv_setup(void **priv, size_t len, const char *name,
		      size_t size)
{
	struct ar *r = calloc(1, len);
	int err;

	if (!r)
		return -ENOMEM;
	err = ar_setup(r, name, size);
	if (err) {
		free(r);
		return err;
	}
	*priv = r;
	return 0;
}

/* In the driver, after forking: drop its side of priv_setup(). */
static void priv_teardown(void **priv)
{
	struct ar *r = *priv;

	if (r) {
		ar_teardown(r);
		free(r);
	}
	*priv = NULL;
}

static size_t pp_arena_size(size_t size)
{
	return 2 * ((size + 4095) & ~(size_t)4095) + 4 * 1024 * 1024;
}

#ifndef HAVE_LIBSHMK
/* ------------------------------------------------------------- mailbox */
static void mb_send(struct ar *r, uint32_t *w, uint32_t seq)
{
	uint32_t old = __atomic_exchange_n(w, seq, __ATOMIC_SEQ_CST);

	if (old & MB_WAITERS)
		ar_wake(r, w, 1);
}

/* Wait until the word holds something else than @last; return it. */
static int mb_wait_change(struct ar *r, uint32_t *w, uint32_t last, int spin,
			  uint32_t *out)
{
	uint32_t v;
	int err;

	if (spin) {
		uint64_t deadline = 0;
		unsigned int polls = 0;

		for (;;) {
			v = __atomic_load_n(w, __ATOMIC_ACQUIRE) & ~MB_WAITERS;
			if (v != last) {
				*out = v;
				return 0;
			}
			cpu_relax();
			if (++polls % 64)
				continue;
			if (!deadline)
				deadline = now_ns() + SPIN_NS;
			else if (now_ns() > deadline)
				break;
			sched_yield();
		}
	}
	for (;;) {
		v = __atomic_load_n(w, __ATOMIC_ACQUIRE);
		if ((v & ~MB_WAITERS) != last) {
			*out = v & ~MB_WAITERS;
			return 0;
		}
		if (!(v & MB_WAITERS)) {
			if (!__atomic_compare_exchange_n(w, &v, v | MB_WAITERS,
							 0, __ATOMIC_SEQ_CST,
							 __ATOMIC_SEQ_CST))
				continue;
			v |= MB_WAITERS;
		}
		err = ar_wait(r, w, v);
		if (err)
			return err;
	}
}

/* ------------------------------------------------------------ ping-pong */
struct pp_dir {			/* published at the directory offset */
	uint32_t req;		/* A -> B mailbox */
	uint32_t pad0[15];
	uint32_t rep;		/* B -> A mailbox */
	uint32_t pad1[15];
	uint64_t req_off;	/* payload blocks */
	uint64_t rep_off;
};

struct pp_shmk {
	struct ar ar;
	struct pp_dir *dir;
	unsigned char *req, *rep;
	uint32_t last;
};

static int sh_init(struct pp_ctx *c)
{
	struct pp_shmk *s = c->priv;
	uint64_t dir;
	int err;

	err = ar_open_dir(&s->ar, c->name, pp_arena_size(c->size),
			  sizeof(struct pp_dir), c->role == 0, &dir);
	if (err)
		return err;
	s->dir = ar_ptr(&s->ar, dir);
	if (c->role == 0) {
		err = ar_alloc(&s->ar, c->size, &s->dir->req_off);
		if (!err)
			err = ar_alloc(&s->ar, c->size, &s->dir->rep_off);
		if (err)
			return err;
		ar_publish(&s->ar, dir);
	}
	s->req = ar_ptr(&s->ar, s->dir->req_off);
	s->rep = ar_ptr(&s->ar, s->dir->rep_off);
	s->last = 0;
	return 0;
}

static int sh_ping(struct pp_ctx *c, uint64_t seq)
{
	struct pp_shmk *s = c->priv;
	uint32_t s32 = SEQ32(seq), v;
	int err;

	payload_stamp(s->req, c->size, seq);		/* produced in place */
	mb_send(&s->ar, &s->dir->req, s32);
	err = mb_wait_change(&s->ar, &s->dir->rep, s->last, c->mode, &v);
	if (err)
		return err;
	s->last = v;
	if (v != s32 || payload_check(s->rep, c->size, seq))
		return -EBADMSG;
	return 0;
}

static int sh_serve(struct pp_ctx *c, uint64_t *seq)
{
	struct pp_shmk *s = c->priv;
	uint32_t v;
	int err;

	err = mb_wait_change(&s->ar, &s->dir->req, s->last, c->mode, &v);
	if (err)
		return err;
	s->last = v;
	*seq = SEQ64(v);
	if (payload_check(s->req, c->size, *seq))	/* read in place */
		return -EBADMSG;
	payload_stamp(s->rep, c->size, *seq);
	mb_send(&s->ar, &s->dir->rep, v);
	return 0;
}

static void sh_fini(struct pp_ctx *c)
{
	struct pp_shmk *s = c->priv;

	if (s)
		ar_close(&s->ar);
}

/* ---------------------------------------------------- streaming / fan-in */
/*
 * Bench-local stand-in for the per-member receive queue: one SPSC ring per
 * producer in the arena, slots holding the payload in place. The consumer
 * sleeps on one doorbell word for all rings; a producer rings it only when
 * the consumer said it sleeps. A producer that finds its ring full sleeps
 * on the ring's head word the same way.
 */
#define RING_SLOTS_SMALL	256
#define RING_SLOTS_BIG		64

struct ring {
	uint32_t tail;		/* written by the producer */
	uint32_t pad0[15];
	uint32_t head;		/* written by the consumer */
	uint32_t prod_sleeps;	/* producer set: wake me on head */
	uint32_t pad1[14];
	uint64_t slots_off;
	uint32_t nslots;
	uint32_t pad2[13];
};

struct st_dir {
	uint32_t doorbell;
	uint32_t cons_sleeps;
	uint32_t pad[14];
	uint64_t ring_off[STREAM_MAX_PROD];
};

struct st_shmk {
	struct ar ar;
	struct st_dir *dir;
	struct ring *ring[STREAM_MAX_PROD];
	unsigned char *slots[STREAM_MAX_PROD];
	uint32_t tail;		/* producer's private copy */
};

static uint32_t st_slots(size_t size)
{
	return size <= 512 ? RING_SLOTS_SMALL : RING_SLOTS_BIG;
}

static size_t st_arena_size(const struct st_ctx *c)
{
	return (size_t)c->nprod * (st_slots(c->size) * c->size + 8192) +
	       4 * 1024 * 1024;
}

static int shst_init(struct st_ctx *c)
{
	struct st_shmk *s = c->priv;
	uint64_t dir, off;
	int err, i;

	err = ar_open_dir(&s->ar, c->name, st_arena_size(c),
			  sizeof(struct st_dir), c->idx < 0, &dir);
	if (err)
		return err;
	s->dir = ar_ptr(&s->ar, dir);
	if (c->idx < 0) {
		for (i = 0; i < c->nprod; i++) {
			struct ring *rg;

			err = ar_alloc_zero(&s->ar, sizeof(struct ring), &off);
			if (err)
				return err;
			s->dir->ring_off[i] = off;
			rg = ar_ptr(&s->ar, off);
			rg->nslots = st_slots(c->size);
			err = ar_alloc(&s->ar, (size_t)rg->nslots * c->size,
				       &rg->slots_off);
			if (err)
				return err;
		}
		ar_publish(&s->ar, dir);
	}
	for (i = 0; i < c->nprod; i++) {
		s->ring[i] = ar_ptr(&s->ar, s->dir->ring_off[i]);
		s->slots[i] = ar_ptr(&s->ar, s->ring[i]->slots_off);
	}
	s->tail = 0;
	return 0;
}

static int shst_send(struct st_ctx *c, uint64_t seq)
{
	struct st_shmk *s = c->priv;
	struct ring *rg = s->ring[c->idx];
	uint32_t h, n = rg->nslots;
	int err;

	/*
	 * Back-pressure: wait for a free slot. Only the producer clears its
	 * flag: a consumer clearing it could erase a newer announcement.
	 */
	if (s->tail - __atomic_load_n(&rg->head, __ATOMIC_ACQUIRE) >= n) {
		__atomic_store_n(&rg->prod_sleeps, 1, __ATOMIC_SEQ_CST);
		while (s->tail - (h = __atomic_load_n(&rg->head,
						      __ATOMIC_SEQ_CST)) >= n) {
			err = ar_wait(&s->ar, &rg->head, h);
			if (err)
				return err;
		}
		__atomic_store_n(&rg->prod_sleeps, 0, __ATOMIC_RELAXED);
	}
	payload_stamp(s->slots[c->idx] + (size_t)(s->tail % n) * c->size,
		      c->size, seq);
	s->tail++;
	__atomic_store_n(&rg->tail, s->tail, __ATOMIC_SEQ_CST);
	/*
	 * Wake once per sleep: the first sender to see the flag takes it,
	 * the others (and the next messages) do not call into the kernel
	 * again while the consumer is on its way back.
	 */
	if (__atomic_load_n(&s->dir->cons_sleeps, __ATOMIC_SEQ_CST) &&
	    __atomic_exchange_n(&s->dir->cons_sleeps, 0, __ATOMIC_SEQ_CST)) {
		__atomic_fetch_add(&s->dir->doorbell, 1, __ATOMIC_SEQ_CST);
		ar_wake(&s->ar, &s->dir->doorbell, 1);
	}
	return 0;
}

static int shst_drain(struct st_ctx *c, struct st_shmk *s, int i,
		      void (*cb)(void *, int, uint64_t), void *arg)
{
	struct ring *rg = s->ring[i];
	uint32_t h = rg->head, t, n = rg->nslots;
	int got = 0;

	t = __atomic_load_n(&rg->tail, __ATOMIC_ACQUIRE);
	if (t - h > 64)
		t = h + 64;	/* batches, so the caller sees the clock */
	for (; h != t; h++) {
		const unsigned char *m = s->slots[i] + (size_t)(h % n) * c->size;
		uint64_t seq = payload_seq(m);

		if (payload_check(m, c->size, seq))	/* read in place */
			return -EBADMSG;
		cb(arg, i, seq);
		got++;
	}
	if (got) {
		__atomic_store_n(&rg->head, h, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&rg->prod_sleeps, __ATOMIC_SEQ_CST))
			ar_wake(&s->ar, &rg->head, 1);
	}
	return got;
}

static int shst_scan(struct st_ctx *c, struct st_shmk *s,
		     void (*cb)(void *, int, uint64_t), void *arg)
{
	int i, r, got = 0;

	for (i = 0; i < c->nprod; i++) {
		r = shst_drain(c, s, i, cb, arg);
		if (r < 0)
			return r;
		got += r;
	}
	return got;
}

static int shst_recv(struct st_ctx *c, void (*cb)(void *, int, uint64_t),
		     void *arg)
{
	struct st_shmk *s = c->priv;
	uint32_t bell;
	int got, err;

	for (;;) {
		got = shst_scan(c, s, cb, arg);
		if (got)
			return got;
		bell = __atomic_load_n(&s->dir->doorbell, __ATOMIC_SEQ_CST);
		__atomic_store_n(&s->dir->cons_sleeps, 1, __ATOMIC_SEQ_CST);
		got = shst_scan(c, s, cb, arg);
		if (!got)
			err = ar_wait(&s->ar, &s->dir->doorbell, bell);
		else
			err = 0;
		__atomic_store_n(&s->dir->cons_sleeps, 0, __ATOMIC_SEQ_CST);
		if (err)
			return err;
		if (got)
			return got;
	}
}

static void shst_fini(struct st_ctx *c)
{
	struct st_shmk *s = c->priv;

	if (s)
		ar_close(&s->ar);
}

#else /* HAVE_LIBSHMK: the queue API */

/* Events (a member joined or left) only interrupt a wait: drop them. */
static void q_eat_events(struct ar *r)
{
	struct shmk_event ev[8];

	while (shmk_arena_events(r->a, ev, 8) > 0)
		;
}

/* Up to @max descriptors from @q (at least one), waiting as configured. */
static int q_recv(struct ar *r, struct shmk_queue *q, struct shmk_qmsg *m,
		  unsigned int max)
{
	int n;

	for (;;) {
		n = shmk_queue_recv(q, m, max, -1);
		if (n > 0)
			return n;
		if (n == 0)
			q_eat_events(r);
		else if (n != -EINTR)
			return n;
	}
}

/* Post the payload at arena offset @off; waits while the queue is full. */
static int q_send(struct shmk_queue *q, uint64_t off, size_t len,
		  uint64_t seq, uint32_t flags)
{
	struct shmk_qmsg m;

	memset(&m, 0, sizeof(m));
	m.val = off;
	m.len = (uint32_t)len;
	m.tag = seq;
	m.flags = flags;
	return shmk_queue_send(q, &m, SHMK_QSEND_WAIT, -1);
}

/* ------------------------------------------------------------ ping-pong */
struct pq_dir {			/* published at the directory offset */
	uint64_t tok_a;		/* A's queue, for B */
	uint64_t tok_b;		/* B's queue, for A (B's init) */
	uint64_t req_off;	/* payload blocks */
	uint64_t rep_off;
};

struct pp_shmk {
	struct ar ar;
	struct pq_dir *dir;
	struct shmk_queue *in;	/* ours: we consume it */
	struct shmk_queue *out;	/* the peer's: we produce into it */
	unsigned char *req, *rep;
};

/* Each side's own queue, and the token its peer opens it with. */
static int pq_create_in(struct pp_shmk *s, int mode, uint64_t *tok)
{
	struct shmk_queue_opts qo;
	int err;

	memset(&qo, 0, sizeof(qo));
	qo.capacity = 16;
	qo.spin_ns = mode == MODE_SPIN ? SPIN_NS : 0;
	err = shmk_queue_create(s->ar.a, &qo, &s->in);
	return err ? err : shmk_queue_share(s->in, 0, tok);
}

static int sh_init(struct pp_ctx *c)
{
	struct pp_shmk *s = c->priv;
	uint64_t dir, tok;
	int err;

	err = ar_open_dir(&s->ar, c->name, pp_arena_size(c->size),
			  sizeof(struct pq_dir), c->role == 0, &dir);
	if (err)
		return err;
	s->dir = ar_ptr(&s->ar, dir);
	if (c->role == 0) {
		err = ar_alloc(&s->ar, c->size, &s->dir->req_off);
		if (!err)
			err = ar_alloc(&s->ar, c->size, &s->dir->rep_off);
		if (!err)
			err = pq_create_in(s, c->mode, &tok);
		if (err)
			return err;
		s->dir->tok_a = tok;
		ar_publish(&s->ar, dir);
	} else {
		err = shmk_queue_open(s->ar.a, s->dir->tok_a, &s->out);
		if (!err)
			err = pq_create_in(s, c->mode, &tok);
		if (err)
			return err;
		__atomic_store_n(&s->dir->tok_b, tok, __ATOMIC_RELEASE);
	}
	s->req = ar_ptr(&s->ar, s->dir->req_off);
	s->rep = ar_ptr(&s->ar, s->dir->rep_off);
	return 0;
}

static int sh_ping(struct pp_ctx *c, uint64_t seq)
{
	struct pp_shmk *s = c->priv;
	struct shmk_qmsg m;
	uint64_t tok;
	int err;

	if (!s->out) {		/* B finished its init before the first ping */
		tok = __atomic_load_n(&s->dir->tok_b, __ATOMIC_ACQUIRE);
		if (!tok)
			return -ENOENT;
		err = shmk_queue_open(s->ar.a, tok, &s->out);
		if (err)
			return err;
	}
	payload_stamp(s->req, c->size, seq);		/* produced in place */
	err = q_send(s->out, s->dir->req_off, c->size, seq, 0);
	if (!err)
		err = q_recv(&s->ar, s->in, &m, 1);
	if (err < 0)
		return err;
	if (m.tag != seq || m.val != s->dir->rep_off ||
	    payload_check(ar_ptr(&s->ar, m.val), c->size, seq))
		return -EBADMSG;
	return 0;
}

static int sh_serve(struct pp_ctx *c, uint64_t *seq)
{
	struct pp_shmk *s = c->priv;
	struct shmk_qmsg m;
	int err;

	err = q_recv(&s->ar, s->in, &m, 1);
	if (err < 0)
		return err;
	*seq = m.tag;
	if (m.val != s->dir->req_off ||
	    payload_check(ar_ptr(&s->ar, m.val), c->size, *seq))
		return -EBADMSG;			/* read in place */
	payload_stamp(s->rep, c->size, *seq);
	return q_send(s->out, s->dir->rep_off, c->size, *seq, 0);
}

static void sh_fini(struct pp_ctx *c)
{
	struct pp_shmk *s = c->priv;

	if (!s)
		return;
	if (s->out)
		shmk_queue_close(s->out, 0);
	if (s->in)
		shmk_queue_close(s->in, 0);
	s->out = s->in = NULL;
	ar_close(&s->ar);
}

/* ---------------------------------------------------- streaming / fan-in */
/*
 * The consumer's one queue takes every producer's descriptors. A producer
 * writes the payload in place in its own slab and posts its offset. A
 * slot is reused only after QCAP + QBATCH later messages of the same
 * producer were sent: at most QCAP of them are in the ring and at most
 * QBATCH taken but not yet read, so a slot is never rewritten before the
 * consumer has read it.
 */
#define QCAP	256
#define QBATCH	64
#define QSLOTS	(2 * QCAP)

struct qs_dir {
	uint64_t tok[STREAM_MAX_PROD];	/* one per producer */
	uint64_t slab_off[STREAM_MAX_PROD];
};

struct st_shmk {
	struct ar ar;
	struct qs_dir *dir;
	struct shmk_queue *q;	/* consumer: ours; producer: opened */
	unsigned char *slab;
	uint64_t n;		/* producer: messages sent */
};

static size_t st_arena_size(const struct st_ctx *c)
{
	return (size_t)c->nprod * (QSLOTS * c->size + 8192) +
	       4 * 1024 * 1024;
}

static int shst_init(struct st_ctx *c)
{
	struct shmk_queue_opts qo;
	struct st_shmk *s = c->priv;
	uint64_t dir, tok;
	int err, i;

	err = ar_open_dir(&s->ar, c->name, st_arena_size(c),
			  sizeof(struct qs_dir), c->idx < 0, &dir);
	if (err)
		return err;
	s->dir = ar_ptr(&s->ar, dir);
	if (c->idx < 0) {
		for (i = 0; i < c->nprod && !err; i++)
			err = ar_alloc(&s->ar, (size_t)QSLOTS * c->size,
				       &s->dir->slab_off[i]);
		memset(&qo, 0, sizeof(qo));
		qo.capacity = QCAP;
		if (!err)
			err = shmk_queue_create(s->ar.a, &qo, &s->q);
		/* one token per producer: any member may take it */
		for (i = 0; i < c->nprod && !err; i++) {
			err = shmk_queue_share(s->q, 0, &tok);
			s->dir->tok[i] = tok;
		}
		if (err)
			return err;
		ar_publish(&s->ar, dir);
		return 0;
	}
	s->slab = ar_ptr(&s->ar, s->dir->slab_off[c->idx]);
	return shmk_queue_open(s->ar.a, s->dir->tok[c->idx], &s->q);
}

static int shst_send(struct st_ctx *c, uint64_t seq)
{
	struct st_shmk *s = c->priv;
	uint64_t off = s->dir->slab_off[c->idx] +
		       (uint64_t)(s->n++ % QSLOTS) * c->size;

	payload_stamp(ar_ptr(&s->ar, off), c->size, seq);	/* in place */
	return q_send(s->q, off, c->size, seq,
		      (uint32_t)c->idx << SHMK_QMSG_USER_SHIFT);
}

static int shst_recv(struct st_ctx *c, void (*cb)(void *, int, uint64_t),
		     void *arg)
{
	struct st_shmk *s = c->priv;
	struct shmk_qmsg m[QBATCH];
	int n, i, who;

	n = q_recv(&s->ar, s->q, m, QBATCH);
	if (n < 0)
		return n;
	for (i = 0; i < n; i++) {
		who = (int)(m[i].flags >> SHMK_QMSG_USER_SHIFT);
		if (who >= c->nprod || m[i].len != c->size ||
		    payload_check(ar_ptr(&s->ar, m[i].val), c->size,
				  m[i].tag))		/* read in place */
			return -EBADMSG;
		cb(arg, who, m[i].tag);
	}
	return n;
}

static void shst_fini(struct st_ctx *c)
{
	struct st_shmk *s = c->priv;

	if (!s)
		return;
	if (s->q)
		shmk_queue_close(s->q, c->idx < 0 ? 0 : 1000000000);
	s->q = NULL;
	ar_close(&s->ar);
}

#endif /* HAVE_LIBSHMK */

/* ------------------------------------------------ both implementations */
static int sh_setup(struct pp_ctx *c)
{
	return priv_setup(&c->priv, sizeof(struct pp_shmk), c->name,
			  pp_arena_size(c->size));
}

static void sh_teardown(struct pp_ctx *c)
{
	priv_teardown(&c->priv);
}

const struct pp_transport tr_shmk = {
	.name = TR_NAME, .label = PP_LABEL,
	.modes = (1 << MODE_BLOCK) | (1 << MODE_SPIN),
	.setup = sh_setup, .init = sh_init, .ping = sh_ping,
	.serve = sh_serve, .fini = sh_fini, .teardown = sh_teardown,
};

static int shst_setup(struct st_ctx *c)
{
	return priv_setup(&c->priv, sizeof(struct st_shmk), c->name,
			  st_arena_size(c));
}

static void shst_teardown(struct st_ctx *c)
{
	priv_teardown(&c->priv);
}

const struct st_transport st_shmk = {
	.name = TR_NAME, .label = ST_LABEL,
	.setup = shst_setup, .init = shst_init, .send = shst_send,
	.recv = shst_recv, .fini = shst_fini, .teardown = shst_teardown,
};
