// SPDX-License-Identifier: GPL-2.0
/*
 * The interpreter every harness of tests/fuzz-lib runs (fz.h, README.md).
 *
 * One input = one world: a fresh portable arena named after this process,
 * created by handle 0, a second mapping of its backend object for the
 * corruptions, then the operations. At the end every handle detaches and
 * the name is removed, so inputs do not see each other's arenas.
 *
 * What is checked besides "no crash, no hang, no sanitizer report": every
 * error is a negative errno; every block, buffer and queue the API hands
 * out lies inside the heap of the arena, and its bytes can be written.
 */
#include "fz.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "msg_int.h"

/* test hooks of the library (util.c) */
extern long shmk__crash_after;
extern long long shmk__heap_lock_wait_ns;
extern long long shmk__reclaim_wait_ns;

#define NH	4	/* handles of this process */
#define NB	32	/* tracked blocks */
#define NR	32	/* tracked references */
#define NT	16	/* tracked tokens */
#define NL	8	/* tracked locks */
#define NQ	4	/* tracked queues */
#define NO	48	/* tracked objects (corruption targets) */
#define NCL	2	/* session clients */
#define MAX_OPS	64

/* Sizes of the portable backend's object header (backend_portable.c). */
#define PT_LOG_OFF	128
#define PT_LOG_BYTES	(64 * 64)
#define PT_MEM_OFF	(PT_LOG_OFF + PT_LOG_BYTES)
#define PT_MEM_BYTES	64

struct in {
	const uint8_t *p;
	size_t n;
};

struct blk { int h; uint64_t off, len; };
struct ref { int h; shmk_ref_t r; };
struct obj { uint64_t off, len; };
struct lk { uint64_t off; int held; };	/* held: 1 + handle */
struct q { int h; struct shmk_queue *q; };

struct world {
	const struct fz_ops *ops;
	char name[48];
	struct shmk_arena *h[NH];
	uint8_t *obj;		/* the backend object, our own mapping */
	size_t obj_size;
	uint64_t hdr_size;	/* user region starts there */
	struct lm_geom g;
	uint64_t size;
	struct blk b[NB];
	int nb;
	struct ref r[NR];
	int nr;
	uint64_t tok[NT];
	int nt;
	struct lk l[NL];
	int nl;
	struct q q[NQ];
	struct obj o[NO];
	int no;
	bool child;
	/* sessions: a server served by a thread, clients of this process */
	struct shmk_session *srv;
	struct shmk_session *cl[NCL];
	pthread_t thr;
	int stop;
};

/* ---- input ----------------------------------------------------------- */

static uint8_t u8(struct in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static uint32_t u16(struct in *in)
{
	return u8(in) | (uint32_t)u8(in) << 8;
}

static uint32_t u32(struct in *in)
{
	return u16(in) | u16(in) << 16;
}

static uint64_t u64(struct in *in)
{
	return u32(in) | (uint64_t)u32(in) << 32;
}

/* ---- checks ---------------------------------------------------------- */

static void die(const char *what, long long v)
{
	fprintf(stderr, "fuzz-lib: %s (%lld)\n", what, v);
	abort();
}

/* An error must be a negative errno. */
static int E(int r)
{
	if (r < -4095)
		die("a call returned a value that is no errno", r);
	return r;
}

/* @off, @len from the API: inside the heap; write its ends. */
static void in_heap(struct world *w, uint64_t off, uint64_t len)
{
	uint64_t lo = w->g.heap_off, hi = lo + ((uint64_t)w->g.npages << 12);
	uint8_t *base = w->obj + w->hdr_size;

	if (off < lo || off > hi || len > hi - off)
		die("the API handed out memory outside the arena's heap",
		    (long long)off);
	if (len) {
		base[off] ^= 0;
		base[off + len - 1] ^= 0;
	}
}

static void in_heap_ptr(struct world *w, struct shmk_arena *a,
			const void *p, uint64_t len)
{
	uint64_t off = shmk_arena_off(a, p);

	if (off == SHMK_OFF_NONE && !(len == 0 && p))
		die("the API handed out a pointer outside the arena", len);
	if (off != SHMK_OFF_NONE)
		in_heap(w, off, len);
}

static void obj_add(struct world *w, uint64_t off, uint64_t len)
{
	if (w->no < NO && len) {
		w->o[w->no].off = off;
		w->o[w->no].len = len;
		w->no++;
	}
}

/* ---- handles --------------------------------------------------------- */

static int hpick(struct world *w, struct in *in)
{
	int k = u8(in) % NH, i;

	for (i = 0; i < NH; i++)
		if (w->h[(k + i) % NH])
			return (k + i) % NH;
	return -1;
}

static void forget_handle(struct world *w, int h)
{
	int i;

	for (i = 0; i < NB; i++)
		if (i < w->nb && w->b[i].h == h)
			w->b[i].h = -1;
	for (i = 0; i < w->nr; i++)
		if (w->r[i].h == h)
			w->r[i].h = -1;
	for (i = 0; i < w->nl; i++)
		if (w->l[i].held == h + 1)
			w->l[i].held = 0;
	for (i = 0; i < NQ; i++)
		if (w->q[i].q && w->q[i].h == h)
			w->q[i].q = NULL;	/* leaked with the handle */
	w->h[h] = NULL;
}

static void qclose_of(struct world *w, int h)
{
	int i;

	for (i = 0; i < NQ; i++)
		if (w->q[i].q && w->q[i].h == h) {
			E(shmk_queue_close(w->q[i].q, 0));
			w->q[i].q = NULL;
		}
}

static void detach(struct world *w, int h)
{
	int i, r;

	qclose_of(w, h);
	r = E(shmk_arena_detach(w->h[h]));
	if (r == -EBUSY) {
		/* it holds locks: release what it holds, then again */
		for (i = 0; i < w->nl; i++)
			shmk_lock_release(w->h[h], w->l[i].off);
		r = E(shmk_arena_detach(w->h[h]));
	}
	if (r == -EBUSY) {
		/* a lock we do not know of (corrupt list): as a crash */
		shmk_lock_release(w->h[h], offsetof(struct lm_hdr, heap_lock));
		r = E(shmk_arena_detach(w->h[h]));
	}
	if (r == -EBUSY)
		die("a handle cannot detach", r);
	forget_handle(w, h);
}

static void attach(struct world *w)
{
	int i;

	for (i = 0; i < NH; i++)
		if (!w->h[i])
			break;
	if (i == NH)
		return;
	E(shmk_arena_attach(w->name, SHMK_OPEN_PORTABLE, &w->h[i]));
}

/* ---- corruption ------------------------------------------------------ */

static uint64_t interesting(struct world *w, struct in *in)
{
	uint32_t k = u8(in);
	uint64_t v[] = {
		0, 1, 2, 3, 4, 7, 8, 15, 16, 63, 64, 255, 4096, 0x7fffffff,
		0x80000000U, 0xffffffffU, ~0ULL, 1ULL << 63, LM_NONE,
		w->g.npages, w->g.npages - 1, w->g.npages + 1, w->g.leaves,
		w->g.member_max, w->g.member_max + 1, w->g.refs_max,
		w->size, w->size - 8, w->size - 64, w->g.heap_off,
		w->g.slots_off, w->g.desc_off, w->g.tree_off,
		LM_INIT_DONE, LM_INIT_BUSY | 1, LM_INIT_BUSY | 2,
		PG_TAG(PG_LARGE, 0), PG_TAG(PG_CHUNK, 0), PG_TAG(PG_CHUNK, 23),
		PG_TAG(PG_CONT, 0), PG_TAG(PG_RESERVE, 0), LB_MAGIC, MQ_MAGIC,
		LS_MAKE(LS_LIVE, 0, 1), LS_MAKE_RECLAIM(1, 1, 1),
		SHMK_LOCK_OWNER_DIED | 1, SHMK_LOCK_WAITERS | 2,
		LR_HELD, LR_MAKE(LR_TRANSIT, 1, 1), 1ULL << 60, 2ULL << 60,
		3ULL << 60,
	};
	uint64_t x = v[k % (sizeof(v) / sizeof(v[0]))];

	if (k >= 128)
		x += (int8_t)u8(in);	/* near it */
	return x;
}

/* Where in the object region @r is: [*lo, *lo + *len). */
static bool region(struct world *w, int r, struct in *in, uint64_t *lo,
		   uint64_t *len)
{
	const struct lm_geom *g = &w->g;
	uint64_t u = w->hdr_size;
	uint32_t id;

	switch (r) {
	case FZ_R_LMHDR:
		*lo = u;
		*len = LM_HDR_SIZE;
		return true;
	case FZ_R_SLOTS:
		id = u8(in) % (g->member_max + 1);
		*lo = u + g->slots_off + (uint64_t)id * LM_SLOT_SIZE;
		*len = 128;
		return true;
	case FZ_R_JOURNAL:
		id = u8(in) % (g->member_max + 1);
		*lo = u + g->slots_off + (uint64_t)id * LM_SLOT_SIZE + 128 +
			(u8(in) % LM_JOURNALS) * 64;
		*len = 64;
		return true;
	case FZ_R_REFS:
		*lo = u + g->refs_off;
		*len = (uint64_t)g->member_max * g->refs_max * 16;
		return true;
	case FZ_R_DESC:
		*lo = u + g->desc_off;
		*len = (uint64_t)g->npages * sizeof(struct lm_page);
		return true;
	case FZ_R_BITS:
		*lo = u + g->bits_off;
		*len = (uint64_t)g->npages * LM_BITS_WORDS * 8;
		return true;
	case FZ_R_TREE:
		*lo = u + g->tree_off;
		*len = 2ULL * g->leaves * sizeof(struct lm_node);
		return true;
	case FZ_R_HEAP:
		*lo = u + g->heap_off;
		*len = (uint64_t)g->npages << 12;
		return true;
	case FZ_R_OBJ:
		if (!w->no)
			return false;
		id = u8(in) % w->no;
		*lo = u + w->o[id].off;
		*len = w->o[id].len;
		return true;
	case FZ_R_PTHDR:
		*lo = 0;
		*len = PT_LOG_OFF;
		return true;
	case FZ_R_PTLOG:
		*lo = PT_LOG_OFF;
		*len = PT_LOG_BYTES;
		return true;
	case FZ_R_PTMEM:
		*lo = PT_MEM_OFF;
		*len = (uint64_t)g->member_max * PT_MEM_BYTES;
		return true;
	case FZ_R_ROOTS:
		*lo = u + offsetof(struct lm_hdr, roots);
		*len = SHMK_ROOTS * 8;
		return true;
	}
	return false;
}

static void corrupt(struct world *w, struct in *in)
{
	uint32_t k, n, i, mode;
	uint64_t lo, len, off, v;
	int r, nreg = 0, regs[FZ_R_COUNT];

	for (r = 0; r < FZ_R_COUNT; r++)
		if (w->ops->regions & FZ_RB(r))
			regs[nreg++] = r;
	if (!nreg)
		return;
	k = u8(in);
	if (!region(w, regs[k % nreg], in, &lo, &len) || !len)
		return;
	mode = u8(in);
	off = u32(in) % len;
	switch (mode % 4) {
	case 0:		/* bytes */
		n = 1 + u8(in) % 8;
		for (i = 0; i < n && off + i < len; i++)
			w->obj[lo + off + i] = u8(in);
		break;
	case 1:		/* an interesting 32-bit word */
		off &= ~3ULL;
		v = interesting(w, in);
		if (off + 4 <= len)
			memcpy(w->obj + lo + off, &v, 4);
		break;
	case 2:		/* an interesting 64-bit word */
		off &= ~7ULL;
		v = interesting(w, in);
		if (off + 8 <= len)
			memcpy(w->obj + lo + off, &v, 8);
		break;
	case 3:		/* flip a bit */
		w->obj[lo + off] ^= (uint8_t)(1U << (u8(in) % 8));
		break;
	}
}

/* ---- operations ------------------------------------------------------ */

static void op_alloc(struct world *w, struct in *in)
{
	int h = hpick(w, in);
	uint32_t s = u8(in), fl = u8(in);
	uint64_t size, off;
	unsigned int flags = 0;

	if (h < 0)
		return;
	if (s < 200)
		size = (uint64_t)s * 10 + (fl >> 4);
	else
		size = (uint64_t)(s - 200) * 4096 + (fl >> 4) * 100;
	if (fl & 1)
		flags |= SHMK_ALLOC_LONG;
	if (fl & 2)
		flags |= SHMK_ALLOC_RESERVE;
	if (fl & 4)
		flags |= SHMK_ALLOC_ZERO;
	if (fl & 8)
		flags |= SHMK_ALLOC_WAIT;
	if (E(shmk_alloc(w->h[h], size, flags, 1000000, &off)) == 0) {
		in_heap(w, off, size ? size : 1);
		if (w->nb < NB) {
			w->b[w->nb].h = h;
			w->b[w->nb].off = off;
			w->b[w->nb].len = size;
			w->nb++;
		}
		obj_add(w, off, size);
	}
}

static struct blk *bpick(struct world *w, struct in *in)
{
	uint32_t k = u8(in);

	return w->nb ? &w->b[k % w->nb] : NULL;
}

static void op_free(struct world *w, struct in *in)
{
	struct blk *b = bpick(w, in);
	int h = hpick(w, in);

	if (b && h >= 0)
		E(shmk_free(w->h[b->h >= 0 && w->h[b->h] ? b->h : h], b->off));
}

static void op_usable(struct world *w, struct in *in)
{
	struct blk *b = bpick(w, in);
	int h = hpick(w, in);
	uint64_t n;

	if (b && h >= 0 && E(shmk_alloc_usable(w->h[h], b->off, &n)) == 0)
		in_heap(w, b->off, n);
}

static void op_stats(struct world *w, struct in *in)
{
	struct shmk_alloc_stats st;
	uint64_t used;
	int h = hpick(w, in);
	uint32_t id = u8(in);

	if (h < 0)
		return;
	E(shmk_alloc_stats(w->h[h], &st));
	E(shmk_alloc_member_used(w->h[h], id % (w->g.member_max + 2), &used));
}

static void op_reclaim(struct world *w, struct in *in)
{
	int h = hpick(w, in);
	uint32_t id = u8(in), gen = u8(in);

	if (h >= 0)
		E(shmk_alloc_reclaim(w->h[h], id % (w->g.member_max + 2), gen));
}

static void op_check(struct world *w, struct in *in)
{
	char msg[256];
	int h = hpick(w, in);

	if (h >= 0)
		E(shmk_arena_check(w->h[h], u8(in) & SHMK_CHECK_REFS, msg,
				   sizeof(msg)));
}

static void op_events(struct world *w, struct in *in)
{
	struct shmk_event ev[8];
	int h = hpick(w, in);

	if (h >= 0)
		E(shmk_arena_events(w->h[h], ev, 8));
}

static void op_alive(struct world *w, struct in *in)
{
	int h = hpick(w, in);
	uint32_t id = u8(in), gen = u8(in);

	if (h >= 0)
		E(shmk_arena_member_alive(w->h[h], id, gen));
}

static void op_wait(struct world *w, struct in *in)
{
	int h = hpick(w, in);
	uint64_t off = (u16(in) * 4ULL) % w->size;

	if (h >= 0)
		E(shmk_arena_wait(w->h[h], off, u8(in), 1000000, u8(in) & 1));
}

/* -- buffers -- */

static void ref_add(struct world *w, int h, shmk_ref_t r)
{
	int i;

	for (i = 0; i < w->nr; i++)
		if (w->r[i].h < 0 || (w->r[i].h == h && w->r[i].r == r))
			break;
	if (i == NR)
		return;
	w->r[i].h = h;
	w->r[i].r = r;
	if (i == w->nr)
		w->nr++;
}

static struct ref *rpick(struct world *w, struct in *in)
{
	uint32_t k = u8(in), i;

	for (i = 0; i < (uint32_t)w->nr; i++) {
		struct ref *r = &w->r[(k + i) % w->nr];

		if (r->h >= 0 && w->h[r->h])
			return r;
	}
	return NULL;
}

static void note_buf(struct world *w, struct shmk_arena *a, shmk_ref_t r)
{
	struct shmk_buf_info bi;
	const void *p;
	size_t len;

	if (E(shmk_buf_info(a, r, &bi)) == 0) {
		in_heap(w, bi.offset, 64);
		in_heap(w, bi.data_offset, bi.len);
		obj_add(w, bi.offset, 64 + bi.headroom + bi.len + bi.tailroom);
	}
	if (E(shmk_buf_data(a, r, &p, &len)) == 0)
		in_heap_ptr(w, a, p, len);
}

static void op_bcreate(struct world *w, struct in *in)
{
	int h = hpick(w, in);
	uint32_t s = u8(in), hr = u8(in);
	shmk_ref_t r;

	if (h < 0)
		return;
	if (E(shmk_buf_create(w->h[h], s < 240 ? s * 8 : (s - 239) * 5000,
			      hr, 0, 0, &r)) == 0) {
		ref_add(w, h, r);
		note_buf(w, w->h[h], r);
	}
}

static void op_bmisc(struct world *w, struct in *in)
{
	struct ref *x = rpick(w, in);
	uint32_t k = u8(in), n = u16(in);
	struct shmk_arena *a;
	shmk_ref_t o;
	uint64_t tok;
	size_t len;
	void *p;

	if (!x)
		return;
	a = w->h[x->h];
	switch (k % 9) {
	case 0:
		if (E(shmk_buf_clone(a, x->r, &o)) == 0)
			ref_add(w, x->h, o);
		break;
	case 1:
		if (E(shmk_buf_drop(a, x->r)) == 0)
			x->h = -1;
		break;
	case 2:
		if (E(shmk_buf_write(a, &x->r, &p, &len)) == 0) {
			in_heap_ptr(w, a, p, len);
			if (len)
				memset(p, 0x5a, len);
		}
		break;
	case 3:
		if (E(shmk_buf_push(a, &x->r, n % 600, &p)) == 0) {
			in_heap_ptr(w, a, p, n % 600);
			memset(p, 0x11, n % 600);
		}
		break;
	case 4:
		E(shmk_buf_pull(a, &x->r, n % 600));
		break;
	case 5:
		if (E(shmk_buf_put(a, &x->r, n % 3000, &p)) == 0) {
			in_heap_ptr(w, a, p, n % 3000);
			memset(p, 0x22, n % 3000);
		}
		break;
	case 6:
		E(shmk_buf_trim(a, &x->r, n % 3000));
		break;
	case 7:
		if (E(shmk_buf_pass(a, x->r, n % (w->g.member_max + 1),
				    &tok)) == 0) {
			x->h = -1;
			if (w->nt < NT)
				w->tok[w->nt++] = tok;
		}
		return;
	case 8:
		break;
	}
	if (x->h >= 0)
		note_buf(w, a, x->r);
}

static void op_btoken(struct world *w, struct in *in)
{
	int h = hpick(w, in);
	uint32_t k = u8(in);
	uint64_t tok;
	shmk_ref_t r;

	if (h < 0)
		return;
	if (w->nt && !(k & 0x80))
		tok = w->tok[k % w->nt];
	else
		tok = (k & 0x40) ? u64(in) : interesting(w, in);
	if (k & 1) {
		E(shmk_buf_recall(w->h[h], tok));
	} else if (E(shmk_buf_accept(w->h[h], tok, &r)) == 0) {
		ref_add(w, h, r);
		note_buf(w, w->h[h], r);
	}
}

/* -- locks -- */

static void op_lnew(struct world *w, struct in *in)
{
	int h = hpick(w, in);
	uint64_t off;

	if (h < 0 || w->nl == NL)
		return;
	if (E(shmk_alloc(w->h[h], 16, 0, 0, &off)) == 0 &&
	    E(shmk_lock_init(w->h[h], off)) == 0) {
		w->l[w->nl].off = off;
		w->l[w->nl].held = 0;
		w->nl++;
		obj_add(w, off, 16);
	}
}

static void op_lock(struct world *w, struct in *in)
{
	int h = hpick(w, in), r;
	uint32_t k = u8(in), i = u8(in);
	struct lk *l;
	uint64_t off;

	if (h < 0)
		return;
	if (!w->nl || (k & 0x80)) {
		off = offsetof(struct lm_hdr, heap_lock);	/* the library's */
		l = NULL;
	} else {
		l = &w->l[i % w->nl];
		off = l->off;
	}
	switch (k % 4) {
	case 0:
		r = E(shmk_lock_acquire(w->h[h], off, (k >> 2) % 3 * 1000000));
		if (l && (r == 0 || r == -EOWNERDEAD))
			l->held = h + 1;
		break;
	case 1:
		r = E(shmk_lock_try(w->h[h], off));
		if (l && (r == 0 || r == -EOWNERDEAD))
			l->held = h + 1;
		break;
	case 2:
		if (E(shmk_lock_release(w->h[h], off)) == 0 && l)
			l->held = 0;
		break;
	case 3:
		E(shmk_lock_consistent(w->h[h], off));
		break;
	}
}

/* -- queues -- */

static void note_queue(struct world *w, struct shmk_queue *q)
{
	struct shmk_queue_stats st;

	if (E(shmk_queue_stats(q, &st)) == 0)
		in_heap(w, st.offset, 64);
	in_heap(w, q->off, q->h ? MQ_HDR_BYTES : 0);
	obj_add(w, q->off, ld_rlx(&q->h->bytes) < (1U << 20) ?
		ld_rlx(&q->h->bytes) : MQ_HDR_BYTES);
}

static void op_qcreate(struct world *w, struct in *in)
{
	struct shmk_queue_opts o;
	int h = hpick(w, in), i;
	uint32_t k = u8(in);

	for (i = 0; i < NQ; i++)
		if (!w->q[i].q)
			break;
	if (h < 0 || i == NQ)
		return;
	memset(&o, 0, sizeof(o));
	o.capacity = 2U << (k % 5);
	if (k & 0x20) {
		o.flags = SHMK_QUEUE_UNBOUNDED;
		o.lanes = 1 + (k >> 6);
		o.block_bytes = 1024;
		o.spare_blocks = 1;
	}
	if (E(shmk_queue_create(w->h[h], &o, &w->q[i].q)) == 0) {
		w->q[i].h = h;
		note_queue(w, w->q[i].q);
	}
}

static struct q *qpick(struct world *w, struct in *in)
{
	uint32_t k = u8(in), i;

	for (i = 0; i < NQ; i++)
		if (w->q[(k + i) % NQ].q)
			return &w->q[(k + i) % NQ];
	return NULL;
}

static void op_qshare(struct world *w, struct in *in)
{
	struct q *q = qpick(w, in);
	int h = hpick(w, in), i;
	uint64_t tok;

	if (!q || h < 0)
		return;
	for (i = 0; i < NQ; i++)
		if (!w->q[i].q)
			break;
	if (i == NQ)
		return;
	if (E(shmk_queue_share(q->q, 0, &tok)) == 0 &&
	    E(shmk_queue_open(w->h[h], tok, &w->q[i].q)) == 0) {
		w->q[i].h = h;
		note_queue(w, w->q[i].q);
	}
}

/* The overflow blocks a producer writes lie inside their allocations. */
static void blocks_fit(struct world *w, struct q *q)
{
	uint64_t need = sizeof(struct mq_blk) +
		(uint64_t)q->q->ents_per_blk * sizeof(struct mq_ent), n;
	uint32_t i;

	for (i = 0; i < q->q->nblk; i++) {
		if (E(shmk_alloc_usable(w->h[q->h], q->q->blk[i], &n)) == 0 &&
		    n < need)
			die("a queue writes an overflow block past its end",
			    (long long)n);
	}
}

static void op_qsend(struct world *w, struct in *in)
{
	struct q *q = qpick(w, in);
	struct shmk_qmsg m;
	uint32_t k = u8(in), n = 1 + u8(in) % 40, i;

	if (!q)
		return;
	memset(&m, 0, sizeof(m));
	m.val = k;
	m.len = k;
	m.flags = (k & 0xf0) << 4;
	for (i = 0; i < n; i++)
		if (E(shmk_queue_send(q->q, &m, (k & 1) ? SHMK_QSEND_WAIT : 0,
				      (k & 1) ? 1000000 : 0)) < 0)
			break;
	if (q->q->nlanes)
		blocks_fit(w, q);
}

static void op_qrecv(struct world *w, struct in *in)
{
	struct shmk_queue_stats st;
	struct q *q = qpick(w, in);
	struct shmk_qmsg m[16];
	uint32_t k = u8(in);

	if (!q)
		return;
	switch (k % 4) {
	case 0:
	case 1:
		E(shmk_queue_recv(q->q, m, 1 + k % 16, (k & 2) ? 1000000 : 0));
		break;
	case 2:
		E(shmk_queue_stats(q->q, &st));
		break;
	case 3:
		if (k & 4) {
			E(shmk_queue_take_over(q->q));
		} else {
			E(shmk_queue_close(q->q, 0));
			q->q = NULL;
		}
		break;
	}
}

/* -- peers that die -- */

static void run_ops(struct world *w, struct in *in, int depth);

/*
 * A peer: a child process attaches, runs the next @len bytes as its
 * program, and dies (SIGKILL at its n-th crash point, at the end, or
 * exit without detach). We go on once it is gone.
 */
static void op_peer(struct world *w, struct in *in)
{
	uint32_t len = u8(in), crash = u8(in), i;
	struct in sub = { in->p, len < in->n ? len : in->n };
	struct world cw;
	int st = 0;
	pid_t pid;

	in->p += sub.n;
	in->n -= sub.n;
	if (w->child)
		return;
	pid = fork();
	if (pid < 0)
		return;
	if (pid == 0) {
		cw = *w;
		cw.child = true;
		for (i = 0; i < NH; i++)
			cw.h[i] = NULL;
		for (i = 0; i < NQ; i++)
			cw.q[i].q = NULL;
		cw.nb = cw.nr = cw.nl = cw.nt = 0;
		for (i = 0; i < NCL; i++)
			cw.cl[i] = NULL;
		cw.srv = NULL;
		alarm(20);
		if (shmk_arena_attach(w->name, SHMK_OPEN_PORTABLE, &cw.h[0]))
			_exit(0);
		shmk__crash_after = crash % 4 ? crash / 4 + 1 : 0;
		run_ops(&cw, &sub, 1);
		if (crash & 1)
			_exit(0);	/* exit without detach */
		raise(SIGKILL);
		_exit(0);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(st) && WTERMSIG(st) != SIGKILL)
		die("a peer process died of a signal other than SIGKILL",
		    WTERMSIG(st));
	if (WIFEXITED(st) && WEXITSTATUS(st) != 0)
		die("a peer process failed", WEXITSTATUS(st));
}

/* -- sessions: a server and a client handle in this process -- */

static void note_session_objs(struct world *w, struct shmk_session *s)
{
	struct shmk_queue *q = shmk_session_queue(s);
	uint64_t root, off;

	if (q)
		note_queue(w, q);
	if (w->size > 8 + offsetof(struct lm_hdr, roots)) {
		memcpy(&root, w->obj + w->hdr_size +
		       offsetof(struct lm_hdr, roots), 8);
		off = root & ((1ULL << 40) - 1);
		if (off && off < w->size - 128)
			obj_add(w, off, 128);	/* the server's directory */
	}
}

/* The server: receive, send data back to its sender, until stopped. */
static void *srv_main(void *arg)
{
	struct world *w = arg;
	struct shmk_arena *a = shmk_session_arena(w->srv);
	struct shmk_msg m;
	unsigned int n = 0;
	int r;

	while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
		r = E(shmk_session_recv(w->srv, &m, 5000000));
		if (r != 1 || m.type != SHMK_MSG_DATA)
			continue;
		if (m.ref && ++n % 4 == 0) {
			/* to the subscribers; the caller keeps its ref */
			E(shmk_server_publish(w->srv, 0, m.ref, m.tag, 0));
			E(shmk_buf_drop(a, m.ref));
			continue;
		}
		if (E(shmk_session_send(w->srv, m.peer, m.ref, m.tag, 0, 0)) &&
		    m.ref)
			E(shmk_buf_drop(a, m.ref));
	}
	return NULL;
}

static int cpick(struct world *w, struct in *in)
{
	int k = u8(in) % NCL, i;

	for (i = 0; i < NCL; i++)
		if (w->cl[(k + i) % NCL])
			return (k + i) % NCL;
	return -1;
}

static void op_sconnect(struct world *w, struct in *in)
{
	struct shmk_client_opts o;
	uint32_t k = u8(in);
	int i;

	for (i = 0; i < NCL; i++)
		if (!w->cl[i])
			break;
	if (i == NCL || !w->srv)
		return;
	memset(&o, 0, sizeof(o));
	o.queue_capacity = 4U << (k % 3);
	o.flags = ((k & 8) ? SHMK_CLIENT_BOUNDED : 0) |
		((k & 16) ? SHMK_CLIENT_NO_RECONNECT : 0);
	o.open_flags = SHMK_OPEN_PORTABLE;
	if (E(shmk_client_connect(w->name, &o, 500000000, &w->cl[i])) == 0)
		note_session_objs(w, w->cl[i]);
}

static void op_ssend(struct world *w, struct in *in)
{
	int c = cpick(w, in);
	uint32_t k = u8(in);
	struct shmk_arena *a;
	shmk_ref_t ref = 0;

	if (c < 0)
		return;
	a = shmk_session_arena(w->cl[c]);
	if ((k & 1) && E(shmk_buf_create(a, k * 4, 16, 0, 0, &ref)))
		return;
	if (E(shmk_session_send(w->cl[c], SHMK_PEER_SERVER, ref, k,
				(k & 2) ? SHMK_SEND_KEEP : 0, 0)) && ref)
		E(shmk_buf_drop(a, ref));
	else if ((k & 2) && ref)
		E(shmk_buf_drop(a, ref));
}

static void op_srecv(struct world *w, struct in *in)
{
	struct shmk_session_info si;
	int c = cpick(w, in), r;
	uint32_t k = u8(in);
	struct shmk_arena *a;
	struct shmk_msg m;
	const void *p;
	size_t len;

	if (c < 0)
		return;
	a = shmk_session_arena(w->cl[c]);
	switch (k % 4) {
	case 0:
	case 1:
		r = E(shmk_session_recv(w->cl[c], &m, (k & 4) ? 2000000 : 0));
		if (r == 1 && m.type == SHMK_MSG_DATA && m.ref) {
			if (E(shmk_buf_data(a, m.ref, &p, &len)) == 0)
				in_heap_ptr(w, a, p, len);
			E(shmk_buf_drop(a, m.ref));
		}
		break;
	case 2:
		E(shmk_session_info(w->cl[c], &si));
		E(shmk_client_subscribe(w->cl[c], k));
		break;
	case 3:
		E(shmk_session_close(w->cl[c]));
		w->cl[c] = NULL;
		break;
	}
}

struct op {
	unsigned int group;
	void (*fn)(struct world *w, struct in *in);
};

static void op_attach(struct world *w, struct in *in)
{
	(void)in;
	attach(w);
}

static void op_detach(struct world *w, struct in *in)
{
	int h = hpick(w, in);

	if (h > 0)	/* handle 0 stays: it owns the name */
		detach(w, h);
}

static const struct op optab[] = {
	{ FZ_G_ARENA, op_attach },
	{ FZ_G_ARENA, op_detach },
	{ FZ_G_ARENA, op_events },
	{ FZ_G_ARENA, op_check },
	{ FZ_G_ARENA, op_alive },
	{ FZ_G_ARENA, op_wait },
	{ FZ_G_ALLOC, op_alloc },
	{ FZ_G_ALLOC, op_alloc },
	{ FZ_G_ALLOC, op_free },
	{ FZ_G_ALLOC, op_usable },
	{ FZ_G_ALLOC, op_stats },
	{ FZ_G_ALLOC, op_reclaim },
	{ FZ_G_BUF, op_bcreate },
	{ FZ_G_BUF, op_bmisc },
	{ FZ_G_BUF, op_bmisc },
	{ FZ_G_BUF, op_btoken },
	{ FZ_G_LOCK, op_lnew },
	{ FZ_G_LOCK, op_lock },
	{ FZ_G_LOCK, op_lock },
	{ FZ_G_QUEUE, op_qcreate },
	{ FZ_G_QUEUE, op_qshare },
	{ FZ_G_QUEUE, op_qsend },
	{ FZ_G_QUEUE, op_qsend },
	{ FZ_G_QUEUE, op_qrecv },
	{ FZ_G_QUEUE, op_qrecv },
	{ FZ_G_SESSION, op_sconnect },
	{ FZ_G_SESSION, op_ssend },
	{ FZ_G_SESSION, op_ssend },
	{ FZ_G_SESSION, op_srecv },
	{ FZ_G_SESSION, op_srecv },
	{ FZ_G_PEER, op_peer },
	{ ~0U, corrupt },
	{ ~0U, corrupt },
};

static void run_ops(struct world *w, struct in *in, int depth)
{
	const struct op *en[sizeof(optab) / sizeof(optab[0])];
	unsigned int n = 0, i, steps = 0;

	for (i = 0; i < sizeof(optab) / sizeof(optab[0]); i++)
		if (optab[i].group & w->ops->mask)
			en[n++] = &optab[i];
	(void)depth;
	while (in->n && steps++ < MAX_OPS)
		en[u8(in) % n]->fn(w, in);
}

/* ---- the world ------------------------------------------------------- */

static int world_open(struct world *w, struct in *in)
{
	struct shmk_arena_opts o;
	struct shmk_arena *a;
	char path[96];
	struct stat st;
	uint32_t k = u8(in);
	int fd, r;

	snprintf(w->name, sizeof(w->name), "fzlib-%s-%d", w->ops->name,
		 (int)getpid());
	shmk_arena_remove(w->name, SHMK_OPEN_PORTABLE);
	if (w->ops->mask & FZ_G_SESSION) {
		struct shmk_server_opts so;

		memset(&so, 0, sizeof(so));
		so.arena_size = (64 + (k % 4) * 64) * 1024;
		so.max_clients = 2 + (k >> 2) % 3;
		so.refs_per_member = 64;
		so.queue_capacity = 8U << ((k >> 4) % 3);
		so.open_flags = SHMK_OPEN_PORTABLE;
		r = shmk_server_start(w->name, &so, &w->srv);
		if (r)
			die("cannot start the server", r);
		w->h[0] = shmk_session_arena(w->srv);
	} else {
		memset(&o, 0, sizeof(o));
		o.size = (16 + (k % 8) * 8) * 4096;
		o.max_members = 2 + (k >> 3) % 4;
		o.refs_per_member = 8 << ((k >> 5) % 3);
		o.reserve_bytes = (k >> 7) * 8192;
		o.mode = 0600;
		r = shmk_arena_create(w->name, &o, SHMK_OPEN_PORTABLE,
				      &w->h[0]);
		if (r)
			die("cannot create the arena", r);
	}
	a = w->h[0];
	w->g = a->g;
	w->size = a->size;
	snprintf(path, sizeof(path), "/dev/shm/shmk.%s", w->name);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		die("cannot open the arena's object", errno);
	w->obj_size = (size_t)st.st_size;
	w->obj = mmap(NULL, w->obj_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      fd, 0);
	close(fd);
	if (w->obj == MAP_FAILED)
		die("cannot map the arena's object", errno);
	w->hdr_size = w->obj_size - w->size;
	if (w->srv) {
		note_session_objs(w, w->srv);
		if (pthread_create(&w->thr, NULL, srv_main, w))
			die("cannot start the server thread", errno);
	}
	return 0;
}

static void world_close(struct world *w)
{
	int i;

	for (i = 0; i < NCL; i++)
		if (w->cl[i])
			E(shmk_session_close(w->cl[i]));
	if (w->srv) {
		__atomic_store_n(&w->stop, 1, __ATOMIC_RELEASE);
		pthread_join(w->thr, NULL);
		w->h[0] = NULL;		/* the session's */
	}
	for (i = NH - 1; i >= 0; i--)
		if (w->h[i])
			detach(w, i);
	if (w->srv)
		E(shmk_session_close(w->srv));
	munmap(w->obj, w->obj_size);
	shmk_arena_remove(w->name, SHMK_OPEN_PORTABLE);
}

int fz_run(const struct fz_ops *ops, const uint8_t *data, size_t size)
{
	static struct world w;
	struct in in = { data, size };

	memset(&w, 0, sizeof(w));
	w.ops = ops;
	/* a heap lock held for ever fails the call after this long */
	shmk__heap_lock_wait_ns = 50 * 1000000LL;
	/* and a reclaim that another member never finishes */
	shmk__reclaim_wait_ns = 200 * 1000000LL;
	world_open(&w, &in);
	run_ops(&w, &in, 0);
	world_close(&w);
	return 0;
}
