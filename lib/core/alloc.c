// SPDX-License-Identifier: MIT
/*
 * The arena allocator.
 *
 * Heap = npages pages of 4 KiB after the metadata. Truth: the page map
 * (struct lm_page per page). A page is either free (tag 0), the head of an
 * allocated run (LARGE, CHUNK or RESERVE, with npages, owner, generation),
 * the second page of a 2-page chunk (CONT), or interior to a run (tag 0,
 * never looked at). Derived, rebuilt from the page map whenever the heap
 * lock is found OWNER_DIED: the free-run tree, free_pages, the per-owner
 * page lists and each member's reserve pointer.
 *
 * Large blocks (> SHMK_ALLOC_SMALL_MAX) are page runs; the free-run tree
 * (segment tree over pages: longest free run, free prefix and suffix per
 * node, lazy range assignment) gives the lowest-addressed fit (short-lived
 * data, from the start) or the highest-addressed one (SHMK_ALLOC_LONG, from
 * the end) in O(log n). Freeing a run frees its pages in the tree, which
 * coalesces with its neighbours by construction. Page-level operations
 * take the heap lock (a robust lock in the header).
 *
 * Small blocks (<= 2 KiB, 24 size classes) come from chunks: 1 or 2 pages
 * owned by one member, with an allocation bitmap and a buffer bitmap. The
 * owner allocates with one atomic fetch_or in its current chunk for the
 * class (no syscall, no lock); anyone frees with one fetch_and. Only the
 * owner (or, for orphan chunks, whoever empties one) gives a chunk back.
 * A block is owned by its chunk's owner; a dead member's chunks keep the
 * slots that are buffers (referenced by others: governed by refcounts) and
 * lose the others; chunks left with buffers become orphans (owner 0) that
 * go back to the pool when their last buffer is freed.
 */
#include "shmk_int.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define ASSIGN_FREE	1
#define ASSIGN_USED	2

const struct lm_class lm_classes[LM_NCLASS] = {
#define C(sz, pg) { sz, pg, (pg) * 4096 / (sz), \
		    (uint32_t)((0x100000000ULL + (sz) - 1) / (sz)) }
	C(16, 1), C(32, 1), C(48, 1), C(64, 1), C(80, 1), C(96, 1),
	C(112, 1), C(128, 1), C(160, 1), C(192, 1), C(224, 1), C(256, 1),
	C(320, 1), C(384, 1), C(448, 1), C(512, 1), C(640, 1), C(768, 1),
	C(896, 1), C(1024, 1), C(1280, 2), C(1536, 2), C(1792, 2),
	C(2048, 2),
#undef C
};

static inline uint32_t size_class(uint64_t size)
{
	uint64_t s;
	uint32_t lg;

	if (size <= 128)
		return size ? (uint32_t)((size + 15) >> 4) - 1 : 0;
	s = size - 1;
	lg = 63 - (uint32_t)__builtin_clzll(s);
	return 8 + (lg - 7) * 4 + (uint32_t)((s >> (lg - 2)) & 3);
}

static inline uint64_t valid_mask(uint32_t nslots, uint32_t w)
{
	uint32_t n = nslots - w * 64;

	return n >= 64 ? ~0ULL : (1ULL << n) - 1;
}

static inline uint32_t nwords(uint32_t nslots)
{
	return (nslots + 63) / 64;
}

static inline uint64_t heap_end(const struct shmk_arena *a)
{
	return a->g.heap_off + ((uint64_t)a->g.npages << LM_PAGE_SHIFT);
}

/* ---- probe arguments (only computed while a tracer is attached) ------ */

/* Bytes of the block an allocation of @size gets (its rounded size). */
static inline uint64_t block_bytes(uint64_t size)
{
	if (size <= SHMK_ALLOC_SMALL_MAX)
		return lm_classes[size_class(size ? size : 1)].size;
	return (size + LM_PAGE - 1) & ~(uint64_t)(LM_PAGE - 1);
}

/* Free heap pages now, in bytes (read without the heap lock). */
static inline uint64_t heap_free_bytes(const struct shmk_arena *a)
{
	return (uint64_t)ld_rlx(&a->hdr->free_pages) << LM_PAGE_SHIFT;
}

static inline uint64_t heap_bytes(const struct shmk_arena *a)
{
	return (uint64_t)a->g.npages << LM_PAGE_SHIFT;
}

#define PROBE_ALLOC(a, off, size)					\
	PROBE_A(alloc, a, (uint64_t)(size), block_bytes(size),		\
		heap_free_bytes(a), heap_bytes(a), off)
#define PROBE_FREE(a, off, bytes, owner)				\
	PROBE_A(free, a, (uint64_t)(bytes), (uint32_t)(owner),		\
		heap_free_bytes(a), heap_bytes(a), off)

static uint64_t free_seq_off(void)
{
	return offsetof(struct lm_hdr, free_seq);
}

static uint64_t heap_lock_off(void)
{
	return offsetof(struct lm_hdr, heap_lock);
}

/* ---- free-run tree (heap lock) ---------------------------------------- */

static struct lm_node *tree(const struct shmk_arena *a)
{
	return (struct lm_node *)(a->base + a->g.tree_off);
}

static void node_set(struct lm_node *n, uint32_t len, uint32_t how)
{
	uint32_t v = how == ASSIGN_FREE ? len : 0;

	n->best = v;
	n->pre = v;
	n->suf = v;
	n->lazy = how;
}

static void push(struct lm_node *t, uint32_t i, uint32_t half)
{
	if (t[i].lazy) {
		node_set(&t[2 * i], half, t[i].lazy);
		node_set(&t[2 * i + 1], half, t[i].lazy);
		t[i].lazy = 0;
	}
}

static void pull(struct lm_node *t, uint32_t i, uint32_t half)
{
	struct lm_node *l = &t[2 * i], *r = &t[2 * i + 1];
	uint32_t b = l->suf + r->pre;

	t[i].pre = l->pre == half ? half + r->pre : l->pre;
	t[i].suf = r->suf == half ? half + l->suf : r->suf;
	if (l->best > b)
		b = l->best;
	if (r->best > b)
		b = r->best;
	t[i].best = b;
}

static void assign(struct lm_node *t, uint32_t i, uint32_t lo, uint32_t len,
		   uint32_t l, uint32_t r, uint32_t how)
{
	uint32_t half;

	if (r <= lo || lo + len <= l)
		return;
	if (l <= lo && lo + len <= r) {
		node_set(&t[i], len, how);
		return;
	}
	half = len / 2;
	push(t, i, half);
	assign(t, 2 * i, lo, half, l, r, how);
	assign(t, 2 * i + 1, lo + half, half, l, r, how);
	pull(t, i, half);
}

static void tree_set(struct shmk_arena *a, uint32_t p, uint32_t n,
		     uint32_t how)
{
	assign(tree(a), 1, 0, a->g.leaves, p, p + n, how);
}

/* Lowest (or, @last, highest) start of @k free pages; LM_NONE if none. */
static uint32_t tree_find(struct shmk_arena *a, uint32_t k, bool last)
{
	struct lm_node *t = tree(a);
	uint32_t i = 1, lo = 0, len = a->g.leaves, half, l, r;

	if (k == 0 || t[1].best < k)
		return LM_NONE;
	while (len > 1) {
		half = len / 2;
		push(t, i, half);
		l = 2 * i;
		r = l + 1;
		if (!last) {
			if (t[l].best >= k) {
				i = l;
			} else if (t[l].suf + t[r].pre >= k) {
				return lo + half - t[l].suf;
			} else {
				i = r;
				lo += half;
			}
		} else {
			if (t[r].best >= k) {
				i = r;
				lo += half;
			} else if (t[l].suf + t[r].pre >= k) {
				return lo + half + t[r].pre - k;
			} else {
				i = l;
			}
		}
		len = half;
	}
	return lo;
}

/* Is page @p free in the tree? (checks only) */
static bool tree_page_free(struct shmk_arena *a, uint32_t p)
{
	struct lm_node *t = tree(a);
	uint32_t i = 1, lo = 0, len = a->g.leaves, half;

	while (len > 1) {
		if (t[i].lazy)
			return t[i].lazy == ASSIGN_FREE;
		half = len / 2;
		if (p < lo + half) {
			i = 2 * i;
		} else {
			i = 2 * i + 1;
			lo += half;
		}
		len = half;
	}
	return t[i].best == 1;
}

/* ---- page lists (heap lock) ------------------------------------------ */

static uint32_t *list_head(struct shmk_arena *a, uint32_t owner)
{
	if (owner == 0 || owner > a->g.member_max)
		return &a->hdr->orphan_head;
	return &lm_slot(a, owner)->pages_head;
}

static void list_add(struct shmk_arena *a, uint32_t p, uint32_t owner)
{
	struct lm_page *d = lm_desc(a, p);
	uint32_t *h = list_head(a, owner);

	d->prev = LM_NONE;
	d->next = *h;
	if (*h < a->g.npages)
		lm_desc(a, *h)->prev = p;
	*h = p;
}

static void list_del(struct shmk_arena *a, uint32_t p, uint32_t owner)
{
	struct lm_page *d = lm_desc(a, p);

	if (d->prev < a->g.npages)
		lm_desc(a, d->prev)->next = d->next;
	else
		*list_head(a, owner) = d->next;
	if (d->next < a->g.npages)
		lm_desc(a, d->next)->prev = d->prev;
	d->next = d->prev = LM_NONE;
}

/* ---- heap lock and rebuild ------------------------------------------- */

static bool head_ok(struct shmk_arena *a, uint32_t p, uint32_t t, uint32_t n,
		    uint32_t owner)
{
	uint32_t type = PG_TYPE(t);

	if (!PG_VALID(t) || n == 0 || n > a->g.npages - p ||
	    owner > a->g.member_max)
		return false;
	if (type == PG_CHUNK)
		return PG_CLASS(t) < LM_NCLASS &&
			n == lm_classes[PG_CLASS(t)].pages;
	return type == PG_LARGE || type == PG_RESERVE;
}

/*
 * Rebuild everything derived from the page map: the previous holder of
 * the heap lock died somewhere in the middle of an update.
 */
static void heap_rebuild(struct shmk_arena *a)
{
	uint32_t p = 0, q, n, t, owner, id, run = LM_NONE, nfree = 0, w;
	struct lm_page *d;

	for (id = 1; id <= a->g.member_max; id++) {
		lm_slot(a, id)->pages_head = LM_NONE;
		lm_slot(a, id)->reserve_page = LM_NONE;
		lm_slot(a, id)->reserve_npages = 0;
	}
	a->hdr->orphan_head = LM_NONE;
	tree_set(a, 0, a->g.leaves, ASSIGN_USED);
	while (p < a->g.npages) {
		d = lm_desc(a, p);
		t = ld_acq(&d->tag);
		n = ld_rlx(&d->npages);
		owner = ld_rlx(&d->owner);
		if (t && head_ok(a, p, t, n, owner)) {
			if (run != LM_NONE) {
				tree_set(a, run, p - run, ASSIGN_FREE);
				run = LM_NONE;
			}
			list_add(a, p, owner);
			if (PG_TYPE(t) == PG_RESERVE && owner &&
			    lm_slot(a, owner)->reserve_page == LM_NONE) {
				lm_slot(a, owner)->reserve_page = p;
				lm_slot(a, owner)->reserve_npages = n;
			}
			if (PG_TYPE(t) == PG_CHUNK && owner == 0) {
				/* orphans hold buffers only */
				uint64_t *b = lm_bits(a, p);

				for (w = 0; w < 4; w++)
					fand_sc(&b[w], ld_rlx(&b[4 + w]));
			}
			for (q = p + 1; q < p + n; q++) {
				struct lm_page *e = lm_desc(a, q);

				if (PG_TYPE(t) == PG_CHUNK && q == p + 1) {
					st_rlx(&e->npages, p);
					st_rel(&e->tag, PG_TAG(PG_CONT, 0));
				} else if (ld_rlx(&e->tag)) {
					st_rel(&e->tag, 0);
				}
			}
			p += n;
			continue;
		}
		if (t)
			st_rel(&d->tag, 0);	/* stray CONT or garbage */
		if (run == LM_NONE)
			run = p;
		nfree++;
		p++;
	}
	if (run != LM_NONE)
		tree_set(a, run, p - run, ASSIGN_FREE);
	a->hdr->free_pages = nfree;
	a->hdr->heap_epoch++;
}

/*
 * How long a member waits for the heap lock, which is held for a few
 * stores at a time: a holder that keeps it longer is stopped, or the word
 * names a live member that does not hold it (scribbled). Then the call
 * fails with -ETIMEDOUT instead of hanging. Tests may shorten it.
 */
#ifdef SHMK_TEST_HOOKS
long long shmk__heap_lock_wait_ns = LM_HEAP_LOCK_WAIT_NS;
#define HEAP_LOCK_WAIT_NS	shmk__heap_lock_wait_ns
#else
#define HEAP_LOCK_WAIT_NS	LM_HEAP_LOCK_WAIT_NS
#endif

/* A signal does not end the wait (a few stores under it; as pthreads). */
int lm_heap_lock(struct shmk_arena *a)
{
	struct timespec ts;
	int r;

	shmk_deadline(&ts, HEAP_LOCK_WAIT_NS);
	do {
		r = lm_lock_acquire(a, heap_lock_off(), &ts);
	} while (r == -EINTR);
	if (r == -ETIMEDOUT)
		shmk_areason(a, "the heap lock of arena '%s' stayed taken "
			     "for %lld ms (by member %u)", a->name,
			     (long long)HEAP_LOCK_WAIT_NS / 1000000,
			     ld_rlx(&a->hdr->heap_lock.word) &
			     SHMK_LOCK_OWNER_MASK);

	if (r == -EOWNERDEAD) {
		heap_rebuild(a);
		lm_lock_consistent(a, heap_lock_off());
		r = 0;
	}
	return r;
}

void lm_heap_unlock(struct shmk_arena *a)
{
	lm_lock_release(a, heap_lock_off());
}

int lm_heap_init(struct shmk_arena *a)
{
	struct lm_hdr *h = a->hdr;

	memset(&h->heap_lock, 0, sizeof(h->heap_lock));
	h->free_pages = a->g.npages;
	h->orphan_head = LM_NONE;
	h->heap_epoch = 0;
	h->waiters = 0;
	h->free_seq = 0;
	tree_set(a, 0, a->g.leaves, ASSIGN_FREE);
	if (a->g.npages < a->g.leaves)
		tree_set(a, a->g.npages, a->g.leaves - a->g.npages,
			 ASSIGN_USED);
	return 0;
}

static void wake_free(struct shmk_arena *a)
{
	fadd_sc(&a->hdr->free_seq, 1);
	a->be->wake(a, free_seq_off(), SHMK_WAKE_ALL);
}

static inline void note_free(struct shmk_arena *a)
{
	if (unlikely(ld_sc(&a->hdr->waiters)))
		wake_free(a);
}

/* ---- runs (heap lock held) ------------------------------------------- */

static void run_commit(struct shmk_arena *a, uint32_t p, uint32_t n,
		       uint32_t type, uint32_t cls)
{
	struct lm_page *d = lm_desc(a, p);

	st_rlx(&d->npages, n);
	st_rlx(&d->owner, a->id);
	st_rlx(&d->gen, a->gen);
	st_rlx(&d->flags, 0);
	list_add(a, p, a->id);
	CRASHPOINT("heap:listed");
	st_rel(&d->tag, PG_TAG(type, cls));
}

/* Take @n pages from the front of our reserve run. */
static uint32_t reserve_take(struct shmk_arena *a, uint32_t n)
{
	struct lm_slot *s = lm_slot(a, a->id);
	uint32_t r = s->reserve_page, rn = s->reserve_npages;
	struct lm_page *d;

	if (r >= a->g.npages || rn < n || rn > a->g.npages - r)
		return LM_NONE;
	d = lm_desc(a, r);
	/* The slot's copy must agree with the page map, which is the truth. */
	if (ld_acq(&d->tag) != PG_TAG(PG_RESERVE, 0) ||
	    ld_rlx(&d->owner) != a->id || ld_rlx(&d->npages) != rn)
		return LM_NONE;
	if (rn > n) {
		struct lm_page *e = lm_desc(a, r + n);

		st_rlx(&e->npages, rn - n);
		st_rlx(&e->owner, a->id);
		st_rlx(&e->gen, a->gen);
		st_rlx(&e->flags, 0);
		list_add(a, r + n, a->id);
		st_rel(&e->tag, PG_TAG(PG_RESERVE, 0));
		CRASHPOINT("heap:reserve-split");
		s->reserve_page = r + n;
		s->reserve_npages = rn - n;
	} else {
		s->reserve_page = LM_NONE;
		s->reserve_npages = 0;
	}
	list_del(a, r, a->id);
	st_rel(&d->tag, 0);	/* re-committed by run_commit() */
	return r;
}

/*
 * Does the page map agree that the @n pages at @p, which the tree says
 * are free, are? (The tree is derived; someone may have scribbled on it.)
 * Interior pages of runs are tag 0 too: a head inside is what is seen.
 */
static bool run_free_in_map(struct shmk_arena *a, uint32_t p, uint32_t n)
{
	uint32_t q;

	if (p >= a->g.npages || n > a->g.npages - p)
		return false;
	for (q = p; q < p + n; q++)
		if (ld_acq(&lm_desc(a, q)->tag))
			return false;
	return true;
}

/* Allocate a run of @n pages. */
static uint32_t run_alloc(struct shmk_arena *a, uint32_t n, unsigned int flags)
{
	uint32_t p = tree_find(a, n, flags & SHMK_ALLOC_LONG);

	if (p != LM_NONE && !run_free_in_map(a, p, n)) {
		/* the tree disagrees with the map: rebuild it from the map */
		heap_rebuild(a);
		p = tree_find(a, n, flags & SHMK_ALLOC_LONG);
		if (p != LM_NONE && !run_free_in_map(a, p, n))
			return LM_NONE;
	}
	if (p != LM_NONE) {
		tree_set(a, p, n, ASSIGN_USED);
		a->hdr->free_pages -= n;
		CRASHPOINT("heap:taken");
		return p;
	}
	if (flags & SHMK_ALLOC_RESERVE)
		return reserve_take(a, n);
	return LM_NONE;
}

static void run_free(struct shmk_arena *a, uint32_t p, uint32_t n,
		     uint32_t owner)
{
	struct lm_page *d = lm_desc(a, p);

	list_del(a, p, owner);
	CRASHPOINT("heap:unlisted");
	st_rel(&d->tag, 0);
	if (n == 2 && p + 1 < a->g.npages &&
	    PG_TYPE(ld_rlx(&lm_desc(a, p + 1)->tag)) == PG_CONT)
		st_rel(&lm_desc(a, p + 1)->tag, 0);
	CRASHPOINT("heap:freed");
	tree_set(a, p, n, ASSIGN_FREE);
	a->hdr->free_pages += n;
}

/* Top our reserve up to its target size (heap lock held). */
static void reserve_refill_locked(struct shmk_arena *a)
{
	struct lm_slot *s = lm_slot(a, a->id);
	uint32_t want = a->g.reserve_pages, old = s->reserve_page, p;

	if (!want || (old != LM_NONE && s->reserve_npages >= want))
		return;
	p = tree_find(a, want, true);
	if (p == LM_NONE || !run_free_in_map(a, p, want))
		return;
	tree_set(a, p, want, ASSIGN_USED);
	a->hdr->free_pages -= want;
	run_commit(a, p, want, PG_RESERVE, 0);
	s->reserve_page = p;
	s->reserve_npages = want;
	if (old < a->g.npages)
		run_free(a, old, ld_rlx(&lm_desc(a, old)->npages), a->id);
}

void lm_reserve_refill(struct shmk_arena *a)
{
	if (lm_heap_lock(a) == 0) {
		reserve_refill_locked(a);
		lm_heap_unlock(a);
	}
}

int lm_heap_attach(struct shmk_arena *a)
{
	lm_reserve_refill(a);
	return 0;
}

void lm_heap_detach_local(struct shmk_arena *a)
{
	uint32_t c;

	for (c = 0; c < LM_NCLASS; c++) {
		free(a->cl[c].pg);
		a->cl[c].pg = NULL;
		a->cl[c].n = a->cl[c].cap = 0;
		st_rlx(&a->cur[c], 0);
	}
}

/* ---- chunks ---------------------------------------------------------- */

/* One atomic claim of a free slot of chunk @p (class @c) owned by us. */
static inline bool chunk_take(struct shmk_arena *a, uint32_t p, uint32_t c,
			      uint64_t *off)
{
	const struct lm_class *k = &lm_classes[c];
	uint64_t *bits = lm_bits(a, p), v, f, bit;
	struct lm_page *d;
	uint32_t w, nw = nwords(k->nslots), b;

	for (w = 0; w < nw; w++) {
		v = ld_rlx(&bits[w]);
		f = ~v & valid_mask(k->nslots, w);
		while (f) {
			b = (uint32_t)__builtin_ctzll(f);
			bit = 1ULL << b;
			/* only the bit is tested: one "lock bts" */
			if (!(for_sc(&bits[w], bit) & bit)) {
				/* still ours? (it may have been recycled) */
				d = lm_desc(a, p);
				if (unlikely(ld_acq(&d->tag) !=
					     PG_TAG(PG_CHUNK, c) ||
					     ld_rlx(&d->owner) != a->id ||
					     ld_rlx(&d->gen) != a->gen)) {
					fand_sc(&bits[w], ~bit);
					return false;
				}
				*off = lm_page_off(a, p) +
					(uint64_t)(w * 64 + b) * k->size;
				return true;
			}
			f = ~ld_rlx(&bits[w]) & valid_mask(k->nslots, w);
		}
	}
	return false;
}

static bool chunk_empty(struct shmk_arena *a, uint32_t p, uint32_t c)
{
	uint64_t *bits = lm_bits(a, p);
	uint32_t w, nw = nwords(lm_classes[c].nslots);

	for (w = 0; w < nw; w++)
		if (ld_acq(&bits[w]))
			return false;
	return true;
}

/*
 * Give chunk @p back (heap lock held). Fill the empty bitmap words with
 * ones first, so a racing allocation by one of our threads either lands
 * before (and we keep the chunk) or finds the chunk full.
 */
static bool chunk_release(struct shmk_arena *a, uint32_t p, uint32_t c,
			  uint32_t owner)
{
	const struct lm_class *k = &lm_classes[c];
	uint64_t *bits = lm_bits(a, p), zero;
	uint32_t w, nw = nwords(k->nslots);

	for (w = 0; w < nw; w++) {
		zero = 0;
		if (!cas_sc(&bits[w], &zero, valid_mask(k->nslots, w))) {
			while (w--)
				st_sc(&bits[w], 0);
			return false;
		}
	}
	CRASHPOINT("chunk:filled");
	run_free(a, p, k->pages, owner);
	for (w = 0; w < LM_BITS_WORDS; w++)
		st_rlx(&bits[w], 0);
	return true;
}

static void cl_remove(struct lm_chunklist *l, uint32_t i)
{
	l->pg[i] = l->pg[--l->n];
	if (l->rr >= l->n)
		l->rr = 0;
}

static int cl_add(struct lm_chunklist *l, uint32_t p)
{
	if (l->n == l->cap) {
		uint32_t nc = l->cap ? l->cap * 2 : 8;
		uint32_t *n = realloc(l->pg, nc * sizeof(*n));

		if (!n)
			return -ENOMEM;
		l->pg = n;
		l->cap = nc;
	}
	l->pg[l->n++] = p;
	return 0;
}

/* Our own chunk @p became empty and is not current: give it back. */
static void chunk_drop_own(struct shmk_arena *a, uint32_t p, uint32_t c)
{
	struct lm_chunklist *l = &a->cl[c];
	uint32_t i;
	bool done = false;

	pthread_mutex_lock(&a->al_lock);
	if (ld_acq(&a->cur[c]) == p + 1 || !chunk_empty(a, p, c)) {
		pthread_mutex_unlock(&a->al_lock);
		return;
	}
	if (lm_heap_lock(a) == 0) {
		struct lm_page *d = lm_desc(a, p);

		if (ld_acq(&d->tag) == PG_TAG(PG_CHUNK, c) &&
		    ld_rlx(&d->owner) == a->id && ld_rlx(&d->gen) == a->gen)
			done = chunk_release(a, p, c, a->id);
		lm_heap_unlock(a);
	}
	if (done) {
		for (i = 0; i < l->n; i++)
			if (l->pg[i] == p) {
				cl_remove(l, i);
				break;
			}
	}
	pthread_mutex_unlock(&a->al_lock);
	if (done)
		note_free(a);
}

/* An orphan chunk became empty: whoever emptied it gives it back. */
static void chunk_drop_orphan(struct shmk_arena *a, uint32_t p, uint32_t c)
{
	bool done = false;

	if (lm_heap_lock(a))
		return;
	if (ld_acq(&lm_desc(a, p)->tag) == PG_TAG(PG_CHUNK, c) &&
	    ld_rlx(&lm_desc(a, p)->owner) == 0 && chunk_empty(a, p, c))
		done = chunk_release(a, p, c, 0);
	lm_heap_unlock(a);
	if (done)
		note_free(a);
}

static int small_slow(struct shmk_arena *a, uint32_t c, unsigned int flags,
		      uint64_t *off)
{
	struct lm_chunklist *l = &a->cl[c];
	uint32_t i, n, idx, p, cur;
	int r;

	pthread_mutex_lock(&a->al_lock);
	cur = ld_acq(&a->cur[c]);
	if (cur && chunk_take(a, cur - 1, c, off))
		goto ok;
	/* round-robin over our other chunks of this class, bounded */
	n = l->n < 8 ? l->n : 8;
	for (i = 0; i < n && l->n; i++) {
		idx = (l->rr + i) % l->n;
		p = l->pg[idx];
		if (p + 1 == cur)
			continue;
		if (chunk_take(a, p, c, off)) {
			l->rr = idx;
			st_rel(&a->cur[c], p + 1);
			goto ok;
		}
	}
	if (l->n)
		l->rr = (l->rr + n) % l->n;
	r = lm_heap_lock(a);
	if (r)
		goto out;
	p = run_alloc(a, lm_classes[c].pages, flags & ~SHMK_ALLOC_LONG);
	if (p == LM_NONE) {
		lm_heap_unlock(a);
		r = -ENOMEM;
		goto out;
	}
	memset(lm_bits(a, p), 0, LM_BITS_WORDS * 8);
	if (lm_classes[c].pages == 2) {
		st_rlx(&lm_desc(a, p + 1)->npages, p);
		st_rel(&lm_desc(a, p + 1)->tag, PG_TAG(PG_CONT, 0));
	}
	run_commit(a, p, lm_classes[c].pages, PG_CHUNK, c);
	if (!(flags & SHMK_ALLOC_RESERVE) || a->hdr->free_pages)
		reserve_refill_locked(a);
	lm_heap_unlock(a);
	if (cl_add(l, p) < 0) {
		/* cannot track it: give it back */
		if (lm_heap_lock(a) == 0) {
			chunk_release(a, p, c, a->id);
			lm_heap_unlock(a);
		}
		r = -ENOMEM;
		goto out;
	}
	st_rel(&a->cur[c], p + 1);
	if (!chunk_take(a, p, c, off)) {
		r = -EAGAIN;
		goto out;
	}
ok:
	r = 0;
out:
	pthread_mutex_unlock(&a->al_lock);
	return r;
}

static int large_alloc(struct shmk_arena *a, uint64_t size,
		       unsigned int flags, uint64_t *off)
{
	uint64_t np = (size + LM_PAGE - 1) >> LM_PAGE_SHIFT;
	uint32_t p;
	int r;

	if (np > a->g.npages)
		return -ENOMEM;
	r = lm_heap_lock(a);
	if (r)
		return r;
	p = run_alloc(a, (uint32_t)np, flags);
	if (p != LM_NONE) {
		run_commit(a, p, (uint32_t)np, PG_LARGE, 0);
		if (!(flags & SHMK_ALLOC_RESERVE) || a->hdr->free_pages)
			reserve_refill_locked(a);
	}
	lm_heap_unlock(a);
	if (p == LM_NONE)
		return -ENOMEM;
	*off = lm_page_off(a, p);
	return 0;
}

static int alloc_once(struct shmk_arena *a, uint64_t size, unsigned int flags,
		      uint64_t *off)
{
	uint32_t c, cur;
	int r;

	if (size <= SHMK_ALLOC_SMALL_MAX) {
		c = size_class(size);
		cur = ld_acq(&a->cur[c]);
		if (likely(cur) && chunk_take(a, cur - 1, c, off))
			return 0;
		do {
			r = small_slow(a, c, flags, off);
		} while (r == -EAGAIN);
		return r;
	}
	return large_alloc(a, size, flags, off);
}

int lm_alloc(struct shmk_arena *a, uint64_t size, unsigned int flags,
	     const struct timespec *abs, uint64_t *off)
{
	uint32_t seq;
	int r, w;

	if (size == 0)
		size = 1;
	r = alloc_once(a, size, flags, off);
	if (likely(r != -ENOMEM) || !(flags & SHMK_ALLOC_WAIT))
		goto out;
	/*
	 * Wait for memory: announce ourselves in waiters, then re-check;
	 * every free that sees waiters != 0 bumps free_seq and wakes it.
	 */
	for (;;) {
		fadd_sc(&a->hdr->waiters, 1);
		seq = ld_sc(&a->hdr->free_seq);
		r = alloc_once(a, size, flags, off);
		if (r != -ENOMEM) {
			fsub_sc(&a->hdr->waiters, 1);
			goto out;
		}
		PROBE_A(alloc_wait, a, size);
		w = shmk_wait_internal(a, free_seq_off(), seq, abs,
				       LM_WAIT_NOLOCALQ);
		fsub_sc(&a->hdr->waiters, 1);
		if (w == -ETIMEDOUT || w == -EINTR)
			return w;
		if (w == SHMK_WAIT_EVENT)
			a->reclaim_exits(a);	/* dead members' memory */
		else if (w < 0 && w != -EAGAIN)
			return w;
	}
out:
	if (r == 0)
		PROBE_ALLOC(a, *off, size);
	return r;
}

/* ---- lookups and free ------------------------------------------------ */

struct blk {
	uint32_t p;		/* head page */
	uint32_t type;		/* PG_CHUNK or PG_LARGE */
	uint32_t c;		/* class (chunk) */
	uint32_t slot;		/* chunk slot */
	uint32_t owner;
	uint32_t npages;
};

/* Validate @off as the start of a block; -EINVAL/-EUCLEAN if it is not. */
static int blk_find(struct shmk_arena *a, uint64_t off, struct blk *b)
{
	const struct lm_class *k;
	struct lm_page *d;
	uint64_t rel;
	uint32_t p, t;

	if (off < a->g.heap_off || off >= heap_end(a) || (off & 15))
		return -EINVAL;
	p = (uint32_t)((off - a->g.heap_off) >> LM_PAGE_SHIFT);
	d = lm_desc(a, p);
	t = ld_acq(&d->tag);
	if (!t)
		return -EINVAL;
	if (!PG_VALID(t))
		return -EUCLEAN;
	if (PG_TYPE(t) == PG_CONT) {
		uint32_t h = ld_rlx(&d->npages);

		if (h + 1 != p)
			return -EUCLEAN;
		p = h;
		d = lm_desc(a, p);
		t = ld_acq(&d->tag);
		if (!PG_VALID(t) || PG_TYPE(t) != PG_CHUNK)
			return -EUCLEAN;
	}
	b->p = p;
	b->type = PG_TYPE(t);
	b->owner = ld_rlx(&d->owner);
	b->npages = ld_rlx(&d->npages);
	if (b->type == PG_CHUNK) {
		b->c = PG_CLASS(t);
		if (b->c >= LM_NCLASS)
			return -EUCLEAN;
		k = &lm_classes[b->c];
		rel = off - lm_page_off(a, p);
		b->slot = (uint32_t)((rel * k->recip) >> 32);
		if ((uint64_t)b->slot * k->size != rel || b->slot >= k->nslots)
			return -EINVAL;
		return 0;
	}
	if (b->type == PG_LARGE) {
		if (off != lm_page_off(a, p))
			return -EINVAL;
		if (b->npages == 0 || b->npages > a->g.npages - p)
			return -EUCLEAN;
		return 0;
	}
	return -EINVAL;
}

int lm_block_lookup(struct shmk_arena *a, uint64_t off, uint64_t *usable,
		    bool *is_buf, bool *allocated)
{
	struct blk b;
	uint64_t *bits, bit;
	int r = blk_find(a, off, &b);

	if (r)
		return r;
	if (b.type == PG_CHUNK) {
		bits = lm_bits(a, b.p);
		bit = 1ULL << (b.slot % 64);
		*usable = lm_classes[b.c].size;
		*allocated = ld_acq(&bits[b.slot / 64]) & bit;
		*is_buf = ld_acq(&bits[4 + b.slot / 64]) & bit;
	} else {
		*usable = (uint64_t)b.npages << LM_PAGE_SHIFT;
		*allocated = true;
		*is_buf = ld_acq(&lm_desc(a, b.p)->flags) & PGF_BUF;
	}
	return 0;
}

/* Commit point of buffer creation: the block becomes buffer storage. */
int lm_block_mark_buf(struct shmk_arena *a, uint64_t off)
{
	struct blk b;
	int r = blk_find(a, off, &b);

	if (r)
		return r;
	if (b.type == PG_CHUNK)
		for_sc(&lm_bits(a, b.p)[4 + b.slot / 64], 1ULL << (b.slot % 64));
	else
		for_sc(&lm_desc(a, b.p)->flags, PGF_BUF);
	return 0;
}

static int large_free(struct shmk_arena *a, const struct blk *b, bool buffer)
{
	struct lm_page *d = lm_desc(a, b->p);
	uint32_t t, owner;
	int r;

	r = lm_heap_lock(a);
	if (r)
		return r;
	t = ld_acq(&d->tag);
	owner = ld_rlx(&d->owner);
	if (t != PG_TAG(PG_LARGE, 0) || ld_rlx(&d->npages) != b->npages) {
		r = -EINVAL;
	} else if (!!(ld_acq(&d->flags) & PGF_BUF) != buffer) {
		r = -EINVAL;
	} else {
		run_free(a, b->p, b->npages, owner);
		r = 0;
	}
	lm_heap_unlock(a);
	if (r == 0) {
		wake_free(a);
		PROBE_FREE(a, lm_page_off(a, b->p),
			   (uint64_t)b->npages << LM_PAGE_SHIFT, owner);
	}
	return r;
}

/*
 * Free the block at @off. @buffer: it is buffer storage (freed by the last
 * reference); a raw free of a buffer, or the reverse, is -EINVAL.
 */
int lm_free(struct shmk_arena *a, uint64_t off, bool buffer)
{
	uint64_t *bits, bit;
	struct blk b;
	uint32_t w;
	int r = blk_find(a, off, &b);

	if (r)
		return r;
	if (b.type == PG_LARGE)
		return large_free(a, &b, buffer);
	bits = lm_bits(a, b.p);
	w = b.slot / 64;
	bit = 1ULL << (b.slot % 64);
	if (!!(ld_acq(&bits[4 + w]) & bit) != buffer)
		return -EINVAL;
	if (buffer)
		fand_sc(&bits[4 + w], ~bit);
	/* only the bit is tested: one "lock btr" */
	if (!(fand_sc(&bits[w], ~bit) & bit))
		return buffer ? 0 : -EINVAL;
	PROBE_FREE(a, off, lm_classes[b.c].size, b.owner);
	note_free(a);
	if (!ld_rlx(&bits[w]) && ld_rlx(&a->cur[b.c]) != b.p + 1 &&
	    chunk_empty(a, b.p, b.c)) {
		/* Re-read: a reclaim may have orphaned it meanwhile. */
		uint32_t owner = ld_sc(&lm_desc(a, b.p)->owner);

		if (owner == 0)
			chunk_drop_orphan(a, b.p, b.c);
		else if (owner == a->id &&
			 ld_rlx(&lm_desc(a, b.p)->gen) == a->gen)
			chunk_drop_own(a, b.p, b.c);
	}
	return 0;
}

/* ---- reclaim --------------------------------------------------------- */

/*
 * Return every page of member @id (generation @gen) to the pool, except
 * buffer storage, which becomes the arena's (orphan) and is freed by its
 * last reference. Idempotent: a crash in the middle leaves pages either
 * still the member's (done again next time) or already moved.
 */
int lm_heap_reclaim(struct shmk_arena *a, uint32_t id, uint32_t gen)
{
	struct lm_slot *s = lm_slot(a, id);
	uint32_t p, next, t, c, w, guard = 0, freed = 0;
	uint64_t *bits, raw;
	struct lm_page *d;
	int r;

	(void)gen;
	r = lm_heap_lock(a);
	if (r)
		return r;
	p = s->pages_head;
	while (p < a->g.npages && guard++ <= a->g.npages) {
		d = lm_desc(a, p);
		next = d->next;
		t = ld_acq(&d->tag);
		if (ld_rlx(&d->owner) != id || !t) {
			/* list damaged: rebuild and start over */
			heap_rebuild(a);
			p = s->pages_head;
			continue;
		}
		switch (PG_TYPE(t)) {
		case PG_LARGE:
			if (ld_acq(&d->flags) & PGF_BUF) {
				list_del(a, p, id);
				st_rel(&d->owner, 0);
				list_add(a, p, 0);
			} else {
				run_free(a, p, ld_rlx(&d->npages), id);
				freed++;
			}
			break;
		case PG_CHUNK:
			c = PG_CLASS(t);
			bits = lm_bits(a, p);
			for (w = 0; w < 4; w++) {
				raw = ld_acq(&bits[w]) & ~ld_acq(&bits[4 + w]);
				if (raw)
					fand_sc(&bits[w], ~raw);
			}
			CRASHPOINT("reclaim:slots");
			if (c < LM_NCLASS && chunk_empty(a, p, c) &&
			    chunk_release(a, p, c, id)) {
				freed++;
			} else {
				/*
				 * Orphan it, then look again: a concurrent
				 * lm_free() that cleared the last slot after
				 * our check saw the old owner and left the
				 * chunk to us (seq_cst on both sides).
				 */
				list_del(a, p, id);
				st_sc(&d->owner, 0);
				list_add(a, p, 0);
				if (c < LM_NCLASS && chunk_empty(a, p, c) &&
				    chunk_release(a, p, c, 0))
					freed++;
			}
			break;
		default:
			run_free(a, p, ld_rlx(&d->npages), id);
			freed++;
			break;
		}
		p = next;
	}
	s->pages_head = LM_NONE;
	s->reserve_page = LM_NONE;
	s->reserve_npages = 0;
	lm_heap_unlock(a);
	if (id == a->id)
		lm_heap_detach_local(a);
	if (freed)
		wake_free(a);
	return 0;
}

/* ---- introspection --------------------------------------------------- */

static void account(struct shmk_arena *a, uint32_t p, uint32_t t,
		    uint64_t *used, uint64_t *freeb, uint32_t *blocks,
		    uint32_t *bufs)
{
	struct lm_page *d = lm_desc(a, p);
	uint64_t *bits = lm_bits(a, p);
	uint32_t w, n;

	if (PG_TYPE(t) == PG_LARGE) {
		*used += (uint64_t)ld_rlx(&d->npages) << LM_PAGE_SHIFT;
		(*blocks)++;
		if (ld_acq(&d->flags) & PGF_BUF)
			(*bufs)++;
	} else if (PG_TYPE(t) == PG_CHUNK && PG_CLASS(t) < LM_NCLASS) {
		const struct lm_class *k = &lm_classes[PG_CLASS(t)];

		for (w = 0, n = 0; w < nwords(k->nslots); w++)
			n += (uint32_t)__builtin_popcountll(
				ld_acq(&bits[w]) & valid_mask(k->nslots, w));
		for (w = 0; w < 4; w++)
			*bufs += (uint32_t)__builtin_popcountll(
				ld_acq(&bits[4 + w]));
		*used += (uint64_t)n * k->size;
		*freeb += (uint64_t)(k->nslots - n) * k->size;
		*blocks += n;
	}
}

int lm_alloc_stats(struct shmk_arena *a, struct shmk_alloc_stats *st);
int lm_alloc_stats(struct shmk_arena *a, struct shmk_alloc_stats *st)
{
	uint32_t p = 0, t, n;
	uint64_t slotfree = 0;
	int r;

	memset(st, 0, sizeof(*st));
	r = lm_heap_lock(a);
	if (r)
		return r;
	st->heap_bytes = (uint64_t)a->g.npages << LM_PAGE_SHIFT;
	st->free_page_bytes = (uint64_t)a->hdr->free_pages << LM_PAGE_SHIFT;
	st->largest_free = (uint64_t)tree(a)[1].best << LM_PAGE_SHIFT;
	st->waiters = ld_acq(&a->hdr->waiters);
	while (p < a->g.npages) {
		t = ld_acq(&lm_desc(a, p)->tag);
		n = ld_rlx(&lm_desc(a, p)->npages);
		if (!t || !head_ok(a, p, t, n, ld_rlx(&lm_desc(a, p)->owner))) {
			p++;
			continue;
		}
		if (PG_TYPE(t) == PG_RESERVE)
			st->reserve_bytes += (uint64_t)n << LM_PAGE_SHIFT;
		if (PG_TYPE(t) == PG_CHUNK)
			st->chunk_bytes += (uint64_t)n << LM_PAGE_SHIFT;
		account(a, p, t, &st->used_bytes, &slotfree, &st->blocks,
			&st->buffers);
		p += n;
	}
	lm_heap_unlock(a);
	st->free_bytes = st->free_page_bytes + slotfree;
	st->fragmentation = st->free_page_bytes ?
		1.0 - (double)st->largest_free / (double)st->free_page_bytes :
		0.0;
	return 0;
}

int lm_member_used(struct shmk_arena *a, uint32_t id, uint64_t *bytes);
int lm_member_used(struct shmk_arena *a, uint32_t id, uint64_t *bytes)
{
	uint32_t p, guard = 0, blocks = 0, bufs = 0, t;
	uint64_t used = 0, fr = 0;
	int r;

	r = lm_heap_lock(a);
	if (r)
		return r;
	for (p = lm_slot(a, id)->pages_head;
	     p < a->g.npages && guard++ <= a->g.npages;
	     p = lm_desc(a, p)->next) {
		t = ld_acq(&lm_desc(a, p)->tag);
		if (PG_TYPE(t) != PG_RESERVE)
			account(a, p, t, &used, &fr, &blocks, &bufs);
	}
	lm_heap_unlock(a);
	*bytes = used;
	return 0;
}

static int fail(char *msg, size_t len, const char *fmt, unsigned long x,
		unsigned long y)
{
	if (msg && len)
		snprintf(msg, len, fmt, x, y);
	return -EUCLEAN;
}

/* Appends @off to the growing array *@bufs of *@nb, room for *@cap. */
static int bufs_push(uint64_t **bufs, uint32_t *nb, uint32_t *cap,
		     uint64_t off)
{
	if (*nb == *cap) {
		uint32_t nc = *cap ? *cap * 2 : 64;
		uint64_t *nbf = realloc(*bufs, (size_t)nc * sizeof(**bufs));

		if (!nbf)
			return -ENOMEM;
		*bufs = nbf;
		*cap = nc;
	}
	(*bufs)[(*nb)++] = off;
	return 0;
}

/*
 * Full check of the heap (heap lock held by the caller): page map vs tree,
 * owner lists, chunk bitmaps, buffer headers. Collects buffer offsets.
 */
static int heap_check_locked(struct shmk_arena *a, char *msg, size_t len,
			     uint32_t *nbufs, uint64_t **bufsp)
{
	uint32_t p = 0, q, t, n, owner, w, nfree = 0, cap = 0, nb = 0, c;
	uint32_t id, guard, listed = 0, heads = 0;
	uint64_t *bufs = NULL, *bits, allocw, bufw;
	struct lm_page *d;

	while (p < a->g.npages) {
		d = lm_desc(a, p);
		t = ld_acq(&d->tag);
		n = ld_rlx(&d->npages);
		owner = ld_rlx(&d->owner);
		if (!t) {
			if (!tree_page_free(a, p))
				return free(bufs), fail(msg, len,
					"page %lu: free in map, used in tree%lu",
					p, 0);
			nfree++;
			p++;
			continue;
		}
		if (!head_ok(a, p, t, n, owner))
			return free(bufs), fail(msg, len,
				"page %lu: bad head tag %#lx", p, t);
		heads++;
		for (q = p; q < p + n; q++) {
			if (tree_page_free(a, q))
				return free(bufs), fail(msg, len,
					"page %lu: used in map, free in tree%lu",
					q, 0);
			if (q > p && ld_rlx(&lm_desc(a, q)->tag) &&
			    !(PG_TYPE(t) == PG_CHUNK && q == p + 1))
				return free(bufs), fail(msg, len,
					"page %lu: stray tag inside run at %lu",
					q, p);
		}
		if (PG_TYPE(t) == PG_CHUNK) {
			c = PG_CLASS(t);
			bits = lm_bits(a, p);
			if (n == 2 && (PG_TYPE(ld_rlx(&lm_desc(a, p + 1)->tag)) !=
				       PG_CONT ||
				       ld_rlx(&lm_desc(a, p + 1)->npages) != p))
				return free(bufs), fail(msg, len,
					"chunk %lu: bad continuation%lu", p, 0);
			for (w = 0; w < 4; w++) {
				allocw = ld_acq(&bits[w]);
				bufw = ld_acq(&bits[4 + w]);
				if (w >= nwords(lm_classes[c].nslots) ?
				    (allocw | bufw) != 0 :
				    (allocw & ~valid_mask(lm_classes[c].nslots, w)) != 0)
					return free(bufs), fail(msg, len,
						"chunk %lu: bits past the end (word %lu)",
						p, w);
				if (bufw & ~allocw)
					return free(bufs), fail(msg, len,
						"chunk %lu: buffer bit on a free slot (word %lu)",
						p, w);
				if (owner == 0 && allocw != bufw)
					return free(bufs), fail(msg, len,
						"orphan chunk %lu holds a raw block (word %lu)",
						p, w);
				while (bufw) {
					uint32_t b = (uint32_t)__builtin_ctzll(bufw);

					bufw &= bufw - 1;
					if (bufs_push(&bufs, &nb, &cap,
						      lm_page_off(a, p) +
						      (uint64_t)(w * 64 + b) *
						      lm_classes[c].size))
						return free(bufs), -ENOMEM;
				}
			}
		} else if (PG_TYPE(t) == PG_LARGE &&
			   (ld_acq(&d->flags) & PGF_BUF)) {
			if (bufs_push(&bufs, &nb, &cap, lm_page_off(a, p)))
				return free(bufs), -ENOMEM;
		}
		p += n;
	}
	if (nfree != a->hdr->free_pages)
		return free(bufs), fail(msg, len,
			"free_pages %lu, map says %lu", a->hdr->free_pages,
			nfree);
	if (nfree && tree(a)[1].best == 0)
		return free(bufs), fail(msg, len, "tree root empty, %lu free%lu",
					nfree, 0);
	/* every head is on exactly its owner's list */
	for (id = 0; id <= a->g.member_max; id++) {
		uint32_t prev = LM_NONE;

		guard = 0;
		for (p = *list_head(a, id); p != LM_NONE; p = lm_desc(a, p)->next) {
			if (p >= a->g.npages || guard++ > a->g.npages)
				return free(bufs), fail(msg, len,
					"owner %lu: list broken at %lu", id, p);
			d = lm_desc(a, p);
			if (!ld_acq(&d->tag) || ld_rlx(&d->owner) != id ||
			    d->prev != prev)
				return free(bufs), fail(msg, len,
					"owner %lu: page %lu misfiled", id, p);
			prev = p;
			listed++;
		}
	}
	if (listed != heads)
		return free(bufs), fail(msg, len, "%lu heads, %lu listed",
					heads, listed);
	*nbufs = nb;
	*bufsp = bufs;
	return 0;
}

int lm_heap_check(struct shmk_arena *a, char *msg, size_t len,
		  uint32_t *nbufs, uint64_t **bufs)
{
	int r = lm_heap_lock(a);

	if (r)
		return r;
	r = heap_check_locked(a, msg, len, nbufs, bufs);
	lm_heap_unlock(a);
	return r;
}

/* ---- public ---------------------------------------------------------- */

SHMK_EXPORT int shmk_alloc(struct shmk_arena *a, size_t size,
			   unsigned int flags, int64_t timeout_ns,
			   uint64_t *off)
{
	struct timespec ts, *abs = NULL;
	uint64_t usable;
	uint32_t c, cur;
	int r = lm_check_rw(a);

	if (r)
		return r;
	if (!off || (flags & ~(SHMK_ALLOC_WAIT | SHMK_ALLOC_RESERVE |
			       SHMK_ALLOC_LONG | SHMK_ALLOC_ZERO)))
		return -EINVAL;
	/* fast path: a slot of our current chunk, no syscall, no errno */
	if (likely(size - 1 < SHMK_ALLOC_SMALL_MAX && !(flags & ~SHMK_ALLOC_WAIT))) {
		c = size_class(size);
		cur = ld_acq(&a->cur[c]);
		if (likely(cur) && chunk_take(a, cur - 1, c, off)) {
			PROBE_ALLOC(a, *off, size);
			return 0;
		}
	}
	if (size > ((uint64_t)a->g.npages << LM_PAGE_SHIFT))
		return -ENOMEM;
	{
		ERRNO_SAVE;

		if ((flags & SHMK_ALLOC_WAIT) && timeout_ns >= 0) {
			shmk_deadline(&ts, timeout_ns);
			abs = &ts;
		}
		r = lm_alloc(a, size, flags, abs, off);
		ERRNO_RESTORE;
	}
	if (r == 0) {	/* lm_alloc() fired shmk:alloc */
		if (flags & SHMK_ALLOC_ZERO) {
			usable = size <= SHMK_ALLOC_SMALL_MAX ?
				lm_classes[size_class(size ? size : 1)].size :
				(size + LM_PAGE - 1) & ~(uint64_t)(LM_PAGE - 1);
			memset(a->base + *off, 0, usable);
		}
	}
	return r;
}

SHMK_EXPORT int shmk_free(struct shmk_arena *a, uint64_t off)
{
	int r = lm_check_rw(a);
	ERRNO_SAVE;

	if (r)
		return r;
	r = lm_free(a, off, false);	/* fires shmk:free */
	ERRNO_RESTORE;
	return r;
}

SHMK_EXPORT int shmk_alloc_usable(struct shmk_arena *a, uint64_t off,
				  uint64_t *bytes)
{
	bool isbuf, alloc;
	int r;

	if (!a || !a->lib_ready || !bytes)
		return -EINVAL;
	r = lm_block_lookup(a, off, bytes, &isbuf, &alloc);
	if (r == 0 && !alloc)
		r = -EINVAL;
	return r;
}

SHMK_EXPORT int shmk_alloc_stats(struct shmk_arena *a,
				 struct shmk_alloc_stats *st)
{
	int r = lm_check_rw(a);
	ERRNO_SAVE;

	if (r)
		return r;
	if (!st)
		return -EINVAL;
	r = lm_alloc_stats(a, st);
	ERRNO_RESTORE;
	return r;
}

SHMK_EXPORT int shmk_alloc_member_used(struct shmk_arena *a, uint32_t id,
				       uint64_t *bytes)
{
	int r = lm_check_rw(a);
	ERRNO_SAVE;

	if (r)
		return r;
	if (!bytes || id == 0 || id > a->g.member_max)
		return -EINVAL;
	r = lm_member_used(a, id, bytes);
	ERRNO_RESTORE;
	return r;
}
