// SPDX-License-Identifier: MIT
/*
 * Copy-on-write, refcounted buffers, with every reference accounted to the
 * member that holds it.
 *
 * A buffer is a block of the allocator: 64-byte header (a robust lock, a
 * nonce, the reference count, capacity, data start and length), then its
 * data area (headroom, data, tailroom). A reference is an entry of the
 * holder's holdings table (struct lm_ref: state + buffer offset):
 *
 *   EMPTY -> SETUP (claimed) -> HELD -> (pass) TRANSIT(dest, nonce)
 *   TRANSIT -> TAKEN(acceptor, nonce) -> EMPTY    (accepted)
 *   TRANSIT -> RECALLED -> (drop) EMPTY           (taken back / reclaimed)
 *
 * The count equals the number of HELD, TRANSIT and RECALLED entries naming
 * the buffer. Two kinds of steps keep it so across a death at any point:
 *  - steps that change the count (create, clone, drop) run under the
 *    buffer's robust lock with a journal entry in the member's slot
 *    (op, table slot, buffer, nonce, count before). The next locker after
 *    a death gets -EOWNERDEAD and finds the dead member's journal entry:
 *    the count tells whether the change happened; the entry is rolled
 *    back (clone) or forward (drop), then cleared. Creation needs no lock
 *    (nobody else can see the buffer): its commit point is marking the
 *    block as buffer storage in the allocator.
 *  - steps that only move a reference (pass, accept, recall) are single
 *    CASes on table entries, with intermediate states that say who owns
 *    the reference at every instant (TAKEN names the acceptor, whose
 *    journal entry says which of its slots receives it).
 * Reclaiming a dead member: resolve its journal, drop every entry of its
 * table (recalling what it had in transit), recall what others had in
 * transit to it, then the allocator reclaims its raw blocks.
 */
#include "shmk_int.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/*
 * A token, what shmk_buf_pass() hands out and a queue slot carries:
 *   bits 63..52  the sender's member id (LM_ID_BITS)
 *   bits 51..36  the index of the reference in its holdings table
 *   bits 35..0   the nonce of the pass, which the TRANSIT entry records
 * A buffer's nonce (next_nonce()) keeps the member id in the same place,
 * over a 52-bit count.
 */
#define TOKEN_ID_SHIFT		52
#define TOKEN_IDX_SHIFT		36
#define TOKEN_IDX_MASK		0xffffU
#define TOKEN_NONCE_BITS	36
#define TOKEN_NONCE_MASK	((1ULL << TOKEN_NONCE_BITS) - 1)
_Static_assert(TOKEN_ID_SHIFT + LM_ID_BITS == 64, "token: member id");
_Static_assert(LM_REFS_MAX <= TOKEN_IDX_MASK, "token: table index");
_Static_assert(TOKEN_IDX_SHIFT == TOKEN_NONCE_BITS, "token: nonce");

static inline uint64_t token_make(uint32_t id, uint32_t idx, uint64_t nonce)
{
	return ((uint64_t)id << TOKEN_ID_SHIFT) |
		((uint64_t)idx << TOKEN_IDX_SHIFT) | (nonce & TOKEN_NONCE_MASK);
}

static inline uint32_t token_id(uint64_t token)
{
	return (uint32_t)(token >> TOKEN_ID_SHIFT);
}

static inline uint32_t token_idx(uint64_t token)
{
	return (uint32_t)((token >> TOKEN_IDX_SHIFT) & TOKEN_IDX_MASK);
}

static inline uint64_t token_nonce(uint64_t token)
{
	return token & TOKEN_NONCE_MASK;
}
#define LJ_SLOTS_FULL		((1U << LM_JOURNALS) - 1)

static struct lm_buf *BUF(const struct shmk_arena *a, uint64_t x)
{
	return (struct lm_buf *)(a->base + x);
}

/* Is @x a live buffer? (header and allocator agree) */
static int buf_valid(struct shmk_arena *a, uint64_t x)
{
	struct lm_buf *b;
	uint64_t usable, cap, head, len;
	bool isbuf, alloc;
	int r;

	r = lm_block_lookup(a, x, &usable, &isbuf, &alloc);
	if (r)
		return r;
	if (!alloc || !isbuf || usable < LB_HDR)
		return -EINVAL;
	b = BUF(a, x);
	if (ld_acq(&b->lock.spare) != LB_MAGIC)
		return -EUCLEAN;
	cap = ld_rlx(&b->cap);
	head = ld_rlx(&b->head);
	len = ld_rlx(&b->len);
	if (cap > usable - LB_HDR || head > cap || len > cap - head)
		return -EUCLEAN;
	return 0;
}

/* ---- journal slots (process-local claim) ------------------------------ */

static int j_claim(struct shmk_arena *a)
{
	uint32_t v, b;

	for (;;) {
		v = ld_acq(&a->jbits);
		if (v != LJ_SLOTS_FULL) {
			b = (uint32_t)__builtin_ctz(~v);
			if (cas_sc(&a->jbits, &v, v | (1U << b)))
				return (int)b;
			continue;
		}
		pthread_mutex_lock(&a->j_lock);
		while (ld_acq(&a->jbits) == LJ_SLOTS_FULL)
			pthread_cond_wait(&a->j_cond, &a->j_lock);
		pthread_mutex_unlock(&a->j_lock);
	}
}

static void j_release(struct shmk_arena *a, int b)
{
	uint32_t v = fand_sc(&a->jbits, ~(1U << b));

	if (v == LJ_SLOTS_FULL) {
		pthread_mutex_lock(&a->j_lock);
		pthread_cond_broadcast(&a->j_cond);
		pthread_mutex_unlock(&a->j_lock);
	}
}

static struct lm_journal *J(struct shmk_arena *a, uint32_t id, int b)
{
	return &lm_slot(a, id)->j[b];
}

static void j_write(struct lm_journal *j, uint32_t op, uint32_t table,
		    uint32_t slot, uint64_t buf, uint64_t nonce,
		    uint32_t rc_before, uint64_t token)
{
	st_rlx(&j->table, table);
	st_rlx(&j->slot, slot);
	st_rlx(&j->buf, buf);
	st_rlx(&j->nonce, nonce);
	st_rlx(&j->rc_before, rc_before);
	st_rlx(&j->token, token);
	st_rel(&j->op, op);
}

static void j_clear(struct lm_journal *j)
{
	st_rel(&j->op, LJ_NONE);
}

/* ---- holdings table ---------------------------------------------------- */

static int ref_claim(struct shmk_arena *a, uint32_t *idx)
{
	uint32_t n = a->g.refs_max, i, k, start;
	struct lm_ref *r;
	uint64_t s;

	start = fadd_sc(&a->ref_cursor, 1) % n;
	for (i = 0; i < n; i++) {
		k = (start + i) % n;
		r = lm_ref(a, a->id, k);
		s = ld_acq(&r->state);
		if (s == LR_EMPTY && cas_sc(&r->state, &s, LR_SETUP)) {
			*idx = k;
			return 0;
		}
	}
	return -ENOBUFS;
}

static void ref_unclaim(struct shmk_arena *a, uint32_t idx)
{
	st_rel(&lm_ref(a, a->id, idx)->state, LR_EMPTY);
}

/* A reference of ours: HELD entry, valid buffer. */
static int ref_get(struct shmk_arena *a, shmk_ref_t ref, uint64_t *x)
{
	struct lm_ref *r;
	int rc;

	if (!a || !a->lib_ready || a->rdonly)
		return a && a->rdonly ? -EROFS : -EINVAL;
	if (ref == 0 || ref > a->g.refs_max)
		return -EINVAL;
	r = lm_ref(a, a->id, ref - 1);
	if (ld_acq(&r->state) != LR_HELD)
		return -EINVAL;
	*x = ld_acq(&r->buf);
	rc = buf_valid(a, *x);
	return rc == -EINVAL ? -EUCLEAN : rc;
}

static uint64_t next_nonce(struct shmk_arena *a)
{
	return ((uint64_t)a->id << TOKEN_ID_SHIFT) |
		(fadd_sc(&lm_slot(a, a->id)->nonce_next, 1) &
		 ((1ULL << TOKEN_ID_SHIFT) - 1));
}

/* ---- count-changing steps under the buffer lock ------------------------ */

/* Free the storage of @x (count reached 0; lock held, journal says FREE). */
static void buf_free_locked(struct shmk_arena *a, uint64_t x)
{
	struct lm_buf *b = BUF(a, x);

	lm_lock_consistent(a, x);
	lm_lock_release(a, x);
	CRASHPOINT("free:unlocked");
	st_rel(&b->lock.spare, LB_DEAD);
	CRASHPOINT("free:dead");
	lm_free(a, x, true);
	CRASHPOINT("free:freed");
}

/*
 * Resolve journal entry @j (of a dead member) about @x, with @x locked.
 * Returns 1 if the buffer was freed (and unlocked), else 0.
 */
static int resolve_locked(struct shmk_arena *a, struct lm_journal *j,
			  uint64_t x)
{
	struct lm_buf *b = BUF(a, x);
	uint32_t op = ld_acq(&j->op), table = ld_rlx(&j->table);
	uint32_t slot = ld_rlx(&j->slot), before = ld_rlx(&j->rc_before);
	uint32_t rc = ld_acq(&b->rc);
	struct lm_ref *r;
	uint64_t s;

	if (table == 0 || table > a->g.member_max || slot >= a->g.refs_max) {
		j_clear(j);
		return 0;
	}
	r = lm_ref(a, table, slot);
	s = ld_acq(&r->state);
	if (op == LJ_CLONE) {
		if (rc == before + 1) {		/* happened: keep it */
			st_rel(&r->buf, x);
			st_rel(&r->state, LR_HELD);
		} else if (LR_KIND(s) == LR_SETUP) {
			st_rel(&r->state, LR_EMPTY);
		}
		j_clear(j);
		return 0;
	}
	/* LJ_DROP: finish it */
	if (rc == before && (LR_KIND(s) == LR_HELD ||
			     LR_KIND(s) == LR_RECALLED) &&
	    ld_acq(&r->buf) == x) {
		st_rel(&b->rc, rc - 1);
		rc--;
	} else if (rc != before - 1) {
		j_clear(j);		/* inconsistent: leave the count */
		return 0;
	}
	st_rel(&r->state, LR_EMPTY);
	if (rc == 0) {
		st_rel(&j->op, LJ_FREE);
		buf_free_locked(a, x);
		j_clear(j);
		return 1;
	}
	j_clear(j);
	return 0;
}

/* After -EOWNERDEAD on @x's lock: finish the dead holder's step. */
int lm_buf_repair(struct shmk_arena *a, uint64_t x)
{
	uint64_t nonce = ld_acq(&BUF(a, x)->nonce);
	struct lm_journal *j;
	uint32_t id, op;
	int b;

	for (id = 1; id <= a->g.member_max; id++) {
		for (b = 0; b < LM_JOURNALS; b++) {
			j = J(a, id, b);
			op = ld_acq(&j->op);
			if ((op == LJ_CLONE || op == LJ_DROP) &&
			    ld_rlx(&j->buf) == x && ld_rlx(&j->nonce) == nonce)
				return resolve_locked(a, j, x);
		}
	}
	return 0;
}

/*
 * Lock @x; 1 if it turned out to be freed by the repair, 0 if locked. A
 * signal does not end the wait: the lock is held for a few stores, and
 * callers in the middle of a reference's change must not stop there.
 */
static int buf_lock(struct shmk_arena *a, uint64_t x)
{
	int r;

	do {
		r = lm_lock_acquire(a, x, NULL);
	} while (r == -EINTR);

	if (r == -EOWNERDEAD) {
		if (lm_buf_repair(a, x))
			return 1;
		lm_lock_consistent(a, x);
		r = 0;
	}
	return r;
}

/* Drop the reference in (@table, @idx), HELD or RECALLED, naming @x. */
static int drop_ref(struct shmk_arena *a, uint32_t table, uint32_t idx,
		    uint64_t x)
{
	struct lm_ref *r = lm_ref(a, table, idx);
	struct lm_buf *b = BUF(a, x);
	struct lm_journal *j;
	uint64_t s;
	uint32_t rc;
	int jb, lr;

	jb = j_claim(a);
	j = J(a, a->id, jb);
	lr = buf_lock(a, x);
	if (lr < 0) {
		/* not dropped: the reference stays the caller's */
		j_release(a, jb);
		return lr;
	}
	if (lr) {
		/* freed by the repair: that step was ours to finish */
		st_rel(&r->state, LR_EMPTY);
		j_release(a, jb);
		return 0;
	}
	s = ld_acq(&r->state);
	if ((LR_KIND(s) != LR_HELD && LR_KIND(s) != LR_RECALLED) ||
	    ld_acq(&r->buf) != x) {
		lm_lock_release(a, x);
		j_release(a, jb);
		return -EINVAL;
	}
	rc = ld_acq(&b->rc);
	if (rc == 0) {
		lm_lock_release(a, x);
		j_release(a, jb);
		return -EUCLEAN;
	}
	j_write(j, LJ_DROP, table, idx, x, ld_rlx(&b->nonce), rc, 0);
	CRASHPOINT("drop:journal");
	st_rel(&b->rc, rc - 1);
	CRASHPOINT("drop:dec");
	st_rel(&r->state, LR_EMPTY);
	CRASHPOINT("drop:empty");
	if (rc == 1) {
		st_rel(&j->op, LJ_FREE);
		CRASHPOINT("drop:free");
		buf_free_locked(a, x);
	} else {
		j_clear(j);
		lm_lock_release(a, x);
	}
	j_clear(j);
	j_release(a, jb);
	PROBE_A(buf_drop, a, x, rc - 1);
	return 0;
}

/* ---- journal resolution of a dead member ------------------------------- */

static void resolve_create(struct shmk_arena *a, struct lm_journal *j)
{
	uint64_t x = ld_rlx(&j->buf), usable;
	uint32_t table = ld_rlx(&j->table), slot = ld_rlx(&j->slot);
	bool isbuf = false, alloc = false;
	struct lm_ref *r;

	if (table == 0 || table > a->g.member_max || slot >= a->g.refs_max)
		return;
	r = lm_ref(a, table, slot);
	if (lm_block_lookup(a, x, &usable, &isbuf, &alloc) == 0 && alloc &&
	    isbuf && ld_acq(&BUF(a, x)->nonce) == ld_rlx(&j->nonce)) {
		/* committed: the reference is the member's, dropped later */
		if (ld_acq(&r->state) != LR_HELD) {
			st_rel(&r->buf, x);
			st_rel(&r->state, LR_HELD);
		}
	} else if (LR_KIND(ld_acq(&r->state)) == LR_SETUP) {
		st_rel(&r->state, LR_EMPTY);	/* raw block: heap reclaim */
	}
}

static void resolve_accept(struct shmk_arena *a, struct lm_journal *j)
{
	uint64_t token = ld_rlx(&j->token), s, x = ld_rlx(&j->buf);
	uint32_t table = ld_rlx(&j->table), slot = ld_rlx(&j->slot);
	uint32_t src = token_id(token), sidx = token_idx(token);
	struct lm_ref *dst, *rs;

	if (table == 0 || table > a->g.member_max || slot >= a->g.refs_max ||
	    src == 0 || src > a->g.member_max || sidx >= a->g.refs_max)
		return;
	dst = lm_ref(a, table, slot);
	rs = lm_ref(a, src, sidx);
	s = LR_MAKE(LR_TAKEN, table, token_nonce(token));
	if (ld_acq(&rs->state) == s) {
		st_rel(&dst->buf, x);
		st_rel(&dst->state, LR_HELD);
		cas_sc(&rs->state, &s, LR_EMPTY);
	} else if (LR_KIND(ld_acq(&dst->state)) == LR_SETUP) {
		st_rel(&dst->state, LR_EMPTY);
	}
}

static void resolve_free(struct shmk_arena *a, struct lm_journal *j)
{
	uint64_t x = ld_rlx(&j->buf), usable;
	bool isbuf = false, alloc = false;
	uint32_t m;

	if (lm_block_lookup(a, x, &usable, &isbuf, &alloc) || !alloc ||
	    !isbuf || ld_acq(&BUF(a, x)->nonce) != ld_rlx(&j->nonce))
		return;		/* already freed */
	m = ld_acq(&BUF(a, x)->lock.spare);
	if (m != LB_MAGIC && m != LB_DEAD)
		return;
	st_rel(&BUF(a, x)->lock.spare, LB_DEAD);
	lm_free(a, x, true);
}

int lm_journal_resolve_all(struct shmk_arena *a, uint32_t id)
{
	struct lm_journal *j;
	uint64_t x, usable;
	bool isbuf, alloc;
	uint32_t op;
	int b, r;

	for (b = 0; b < LM_JOURNALS; b++) {
		j = J(a, id, b);
		op = ld_acq(&j->op);
		switch (op) {
		case LJ_NONE:
			continue;
		case LJ_CREATE:
			resolve_create(a, j);
			break;
		case LJ_ACCEPT:
			resolve_accept(a, j);
			break;
		case LJ_FREE:
			resolve_free(a, j);
			break;
		case LJ_CLONE:
		case LJ_DROP:
			x = ld_rlx(&j->buf);
			if (lm_block_lookup(a, x, &usable, &isbuf, &alloc) ||
			    !alloc || !isbuf ||
			    ld_acq(&BUF(a, x)->nonce) != ld_rlx(&j->nonce))
				break;	/* the buffer is gone */
			r = buf_lock(a, x);	/* repairs through EOWNERDEAD */
			if (r < 0)
				return r;
			if (r == 0) {
				if (ld_acq(&j->op) == op &&
				    ld_rlx(&j->buf) == x)
					r = resolve_locked(a, j, x);
				if (r == 0)
					lm_lock_release(a, x);
			}
			break;
		default:
			break;
		}
		j_clear(j);
	}
	return 0;
}

/* ---- reclaim of a dead member's references ------------------------------ */

static int reclaim_entry(struct shmk_arena *a, uint32_t table, uint32_t idx)
{
	struct lm_ref *r = lm_ref(a, table, idx);
	uint64_t s, x;

	for (;;) {
		s = ld_acq(&r->state);
		switch (LR_KIND(s)) {
		case LR_EMPTY:
		case LR_TAKEN:	/* the acceptor finishes, or its reclaim */
			return 0;
		case LR_SETUP:
			if (cas_sc(&r->state, &s, LR_EMPTY))
				return 0;
			continue;
		case LR_TRANSIT:
			if (!cas_sc(&r->state, &s, LR_RECALLED))
				continue;
			/* fall through */
		case LR_HELD:
		case LR_RECALLED:
			x = ld_acq(&r->buf);
			if (buf_valid(a, x)) {
				st_rel(&r->state, LR_EMPTY);	/* bogus */
				return 0;
			}
			return drop_ref(a, table, idx, x);
		default:
			st_rel(&r->state, LR_EMPTY);
			return 0;
		}
	}
}

int lm_buf_reclaim(struct shmk_arena *a, uint32_t id, uint32_t gen)
{
	uint32_t idx, m;
	uint64_t s;

	(void)gen;
	for (idx = 0; idx < a->g.refs_max; idx++)
		reclaim_entry(a, id, idx);
	/* what others had in transit to it */
	for (m = 1; m <= a->g.member_max; m++) {
		if (m == id)
			continue;
		for (idx = 0; idx < a->g.refs_max; idx++) {
			struct lm_ref *r = lm_ref(a, m, idx);

			s = ld_acq(&r->state);
			if (LR_KIND(s) == LR_TRANSIT && LR_WHO(s) == id &&
			    cas_sc(&r->state, &s, LR_RECALLED))
				reclaim_entry(a, m, idx);
		}
	}
	return 0;
}

/* ---- consistency check --------------------------------------------------- */

static int cmp64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

int lm_buf_check_refs(struct shmk_arena *a, uint64_t *bufs, uint32_t n,
		      char *msg, size_t len, bool refs)
{
	uint32_t *cnt = NULL, i, m, idx, k;
	uint64_t s, x, *hit;
	int r = 0;

	for (i = 0; i < n; i++) {
		if (buf_valid(a, bufs[i]) || ld_acq(&BUF(a, bufs[i])->rc) == 0) {
			if (msg)
				snprintf(msg, len, "buffer %#llx: bad header",
					 (unsigned long long)bufs[i]);
			return -EUCLEAN;
		}
	}
	if (!refs)
		return 0;
	if (n)
		qsort(bufs, n, sizeof(*bufs), cmp64);
	cnt = calloc(n ? n : 1, sizeof(*cnt));
	if (!cnt)
		return -ENOMEM;
	for (m = 1; m <= a->g.member_max && !r; m++) {
		for (k = 0; k < LM_JOURNALS; k++)
			if (ld_acq(&J(a, m, (int)k)->op) != LJ_NONE) {
				if (msg)
					snprintf(msg, len,
						 "member %u: journal %u busy",
						 m, k);
				r = -EUCLEAN;
			}
		for (idx = 0; idx < a->g.refs_max && !r; idx++) {
			s = ld_acq(&lm_ref(a, m, idx)->state);
			k = LR_KIND(s);
			if (k != LR_HELD && k != LR_TRANSIT && k != LR_RECALLED)
				continue;
			x = ld_acq(&lm_ref(a, m, idx)->buf);
			hit = n ? bsearch(&x, bufs, n, sizeof(*bufs), cmp64)
				: NULL;
			if (!hit) {
				if (msg)
					snprintf(msg, len,
						 "member %u ref %u: %#llx is no buffer",
						 m, idx + 1,
						 (unsigned long long)x);
				r = -EUCLEAN;
				break;
			}
			cnt[hit - bufs]++;
		}
	}
	for (i = 0; i < n && !r; i++) {
		uint32_t rc = ld_acq(&BUF(a, bufs[i])->rc);

		if (rc != cnt[i]) {
			if (msg)
				snprintf(msg, len,
					 "buffer %#llx: count %u, %u references",
					 (unsigned long long)bufs[i], rc, cnt[i]);
			r = -EUCLEAN;
		}
	}
	free(cnt);
	return r;
}

/* ---- operations ------------------------------------------------------- */

static uint64_t grow_cap(uint64_t s)
{
	if (s < 128)
		return 256;
	if (s < 65536)
		return s + 256;
	return s + 512;
}

/* New buffer: @cap data bytes after @headroom, len @len; a new reference. */
static int buf_new(struct shmk_arena *a, uint64_t headroom, uint64_t cap,
		   uint64_t len, unsigned int aflags,
		   const struct timespec *abs, shmk_ref_t *out, uint64_t *xo)
{
	struct lm_journal *j;
	struct lm_buf *b;
	struct lm_ref *r;
	uint64_t x, usable, nonce;
	bool isbuf, alloc;
	uint32_t idx;
	int jb, rc;

	if (headroom > (1ULL << 40) || cap > (1ULL << 40))
		return -EFBIG;
	jb = j_claim(a);
	j = J(a, a->id, jb);
	rc = ref_claim(a, &idx);
	if (rc)
		goto out;
	CRASHPOINT("create:claimed");
	rc = lm_alloc(a, LB_HDR + headroom + cap,
		      aflags & (SHMK_ALLOC_WAIT | SHMK_ALLOC_RESERVE |
				SHMK_ALLOC_LONG), abs, &x);
	if (rc) {
		ref_unclaim(a, idx);
		goto out;
	}
	CRASHPOINT("create:allocated");
	lm_block_lookup(a, x, &usable, &isbuf, &alloc);
	b = BUF(a, x);
	nonce = next_nonce(a);
	st_rlx(&b->lock.next, 0);
	st_rlx(&b->lock.word, 0);
	st_rlx(&b->nonce, nonce);
	st_rlx(&b->rc, 1);
	st_rlx(&b->flags, 0);
	st_rlx(&b->cap, usable - LB_HDR);
	st_rlx(&b->head, headroom);
	st_rlx(&b->len, len);
	st_rel(&b->lock.spare, LB_MAGIC);
	r = lm_ref(a, a->id, idx);
	st_rel(&r->buf, x);
	j_write(j, LJ_CREATE, a->id, idx, x, nonce, 0, 0);
	CRASHPOINT("create:journal");
	lm_block_mark_buf(a, x);	/* commit */
	CRASHPOINT("create:marked");
	st_rel(&r->state, LR_HELD);
	CRASHPOINT("create:held");
	j_clear(j);
	*out = idx + 1;
	if (xo)
		*xo = x;
out:
	j_release(a, jb);
	return rc;
}

static int buf_op_check(struct shmk_arena *a)
{
	if (!a || !a->lib_ready)
		return -EINVAL;
	return a->rdonly ? -EROFS : 0;
}

SHMK_EXPORT int shmk_buf_create(struct shmk_arena *a, size_t size,
				size_t headroom, unsigned int alloc_flags,
				int64_t timeout_ns, shmk_ref_t *ref)
{
	struct timespec ts, *abs = NULL;
	uint64_t x;
	int r = buf_op_check(a);
	ERRNO_SAVE;

	if (r)
		return r;
	if (!ref || (alloc_flags & ~(SHMK_ALLOC_WAIT | SHMK_ALLOC_RESERVE |
				     SHMK_ALLOC_LONG | SHMK_ALLOC_ZERO)))
		return -EINVAL;
	if ((alloc_flags & SHMK_ALLOC_WAIT) && timeout_ns >= 0) {
		shmk_deadline(&ts, timeout_ns);
		abs = &ts;
	}
	r = buf_new(a, headroom, size, size, alloc_flags, abs, ref, &x);
	if (r == 0 && (alloc_flags & SHMK_ALLOC_ZERO))
		memset(a->base + x + LB_HDR + headroom, 0, size);
	if (r == 0)
		PROBE_A(buf_create, a, x, (uint64_t)size);
	ERRNO_RESTORE;
	return r;
}

SHMK_EXPORT int shmk_buf_clone(struct shmk_arena *a, shmk_ref_t ref,
			       shmk_ref_t *out)
{
	struct lm_journal *j;
	struct lm_ref *r;
	struct lm_buf *b;
	uint64_t x;
	uint32_t idx, rc;
	int jb, e;
	ERRNO_SAVE;

	e = ref_get(a, ref, &x);
	if (e || !out)
		return e ? e : -EINVAL;
	b = BUF(a, x);
	jb = j_claim(a);
	j = J(a, a->id, jb);
	e = ref_claim(a, &idx);
	if (e)
		goto out;
	r = lm_ref(a, a->id, idx);
	e = buf_lock(a, x);
	if (e) {
		ref_unclaim(a, idx);
		e = e < 0 ? e : -EUCLEAN;
		goto out;
	}
	rc = ld_acq(&b->rc);
	if (rc == 0 || rc == UINT32_MAX) {
		lm_lock_release(a, x);
		ref_unclaim(a, idx);
		e = rc ? -EOVERFLOW : -EUCLEAN;
		goto out;
	}
	j_write(j, LJ_CLONE, a->id, idx, x, ld_rlx(&b->nonce), rc, 0);
	CRASHPOINT("clone:journal");
	st_rel(&r->buf, x);
	st_rel(&b->rc, rc + 1);
	CRASHPOINT("clone:inc");
	st_rel(&r->state, LR_HELD);
	CRASHPOINT("clone:held");
	j_clear(j);
	lm_lock_release(a, x);
	*out = idx + 1;
	PROBE_A(buf_clone, a, x, rc + 1);
out:
	j_release(a, jb);
	ERRNO_RESTORE;
	return e;
}

SHMK_EXPORT int shmk_buf_drop(struct shmk_arena *a, shmk_ref_t ref)
{
	uint64_t x;
	int e;
	ERRNO_SAVE;

	e = ref_get(a, ref, &x);
	if (e)
		return e;
	e = drop_ref(a, a->id, ref - 1, x);
	ERRNO_RESTORE;
	return e;
}

SHMK_EXPORT int shmk_buf_data(struct shmk_arena *a, shmk_ref_t ref,
			      const void **data, size_t *len)
{
	struct lm_buf *b;
	uint64_t x;
	int e = ref_get(a, ref, &x);

	if (e)
		return e;
	b = BUF(a, x);
	if (data)
		*data = a->base + x + LB_HDR + ld_rlx(&b->head);
	if (len)
		*len = ld_rlx(&b->len);
	return 0;
}

/*
 * Make *ref exclusive with room for @front more bytes before and @back
 * more after the data (copying into a new buffer if it is shared or
 * lacks room), so the caller may change it in place.
 */
static int make_private(struct shmk_arena *a, shmk_ref_t *ref, uint64_t front,
			uint64_t back, uint64_t *xo)
{
	struct lm_buf *b, *nb;
	uint64_t x, nx, head, len, cap, nhead, ncap;
	shmk_ref_t nref;
	int e = ref_get(a, *ref, &x);

	if (e)
		return e;
	b = BUF(a, x);
	head = ld_rlx(&b->head);
	len = ld_rlx(&b->len);
	cap = ld_rlx(&b->cap);
	if (ld_acq(&b->rc) == 1 && head >= front && cap - head - len >= back) {
		*xo = x;
		return 0;
	}
	nhead = head >= front ? head : front;
	ncap = len + back;
	if (back)
		ncap = grow_cap(len + back);
	if (ncap < len + back)
		ncap = len + back;
	e = buf_new(a, nhead, ncap, len, 0, NULL, &nref, &nx);
	if (e)
		return e;
	nb = BUF(a, nx);
	memcpy(a->base + nx + LB_HDR + nhead, a->base + x + LB_HDR + head,
	       len);
	(void)nb;
	e = drop_ref(a, a->id, *ref - 1, x);
	if (e)
		return e;
	*ref = nref;
	*xo = nx;
	return 0;
}

/*
 * The checks of every writing call, then make_private(): *@b is the
 * caller's own buffer, with @front bytes of headroom and @back of tailroom.
 */
static int writable(struct shmk_arena *a, shmk_ref_t *ref, uint64_t front,
		    uint64_t back, struct lm_buf **b)
{
	uint64_t x;
	int e = buf_op_check(a);

	if (e || !ref)
		return e ? e : -EINVAL;
	e = make_private(a, ref, front, back, &x);
	if (e == 0)
		*b = BUF(a, x);
	return e;
}

/* Byte @off of @b's data area. */
static void *buf_at(struct lm_buf *b, uint64_t off)
{
	return (uint8_t *)b + LB_HDR + off;
}

SHMK_EXPORT int shmk_buf_write(struct shmk_arena *a, shmk_ref_t *ref,
			       void **data, size_t *len)
{
	struct lm_buf *b;
	int e;
	ERRNO_SAVE;

	e = writable(a, ref, 0, 0, &b);
	if (e == 0) {
		if (data)
			*data = buf_at(b, b->head);
		if (len)
			*len = b->len;
	}
	ERRNO_RESTORE;
	return e;
}

SHMK_EXPORT int shmk_buf_push(struct shmk_arena *a, shmk_ref_t *ref, size_t n,
			      void **p)
{
	struct lm_buf *b;
	int e;
	ERRNO_SAVE;

	e = writable(a, ref, n, 0, &b);
	if (e == 0) {
		b->head -= n;
		b->len += n;
		if (p)
			*p = buf_at(b, b->head);
	}
	ERRNO_RESTORE;
	return e;
}

SHMK_EXPORT int shmk_buf_pull(struct shmk_arena *a, shmk_ref_t *ref, size_t n)
{
	struct lm_buf *b;
	uint64_t x;
	size_t len;
	int e = buf_op_check(a);
	ERRNO_SAVE;

	if (e || !ref)
		return e ? e : -EINVAL;
	e = shmk_buf_data(a, *ref, NULL, &len);
	if (e == 0 && n > len)
		e = -EINVAL;
	if (e == 0)
		e = make_private(a, ref, 0, 0, &x);
	if (e == 0) {
		b = BUF(a, x);
		b->head += n;
		b->len -= n;
	}
	ERRNO_RESTORE;
	return e;
}

SHMK_EXPORT int shmk_buf_put(struct shmk_arena *a, shmk_ref_t *ref, size_t n,
			     void **p)
{
	struct lm_buf *b;
	int e;
	ERRNO_SAVE;

	e = writable(a, ref, 0, n, &b);
	if (e == 0) {
		if (p)
			*p = buf_at(b, b->head + b->len);
		b->len += n;
	}
	ERRNO_RESTORE;
	return e;
}

SHMK_EXPORT int shmk_buf_trim(struct shmk_arena *a, shmk_ref_t *ref,
			      size_t len)
{
	size_t cur;
	uint64_t x;
	int e = buf_op_check(a);
	ERRNO_SAVE;

	if (e || !ref)
		return e ? e : -EINVAL;
	e = shmk_buf_data(a, *ref, NULL, &cur);
	if (e == 0 && len > cur)
		e = -EINVAL;
	if (e == 0 && len < cur) {
		e = make_private(a, ref, 0, 0, &x);
		if (e == 0)
			BUF(a, x)->len = len;
	}
	ERRNO_RESTORE;
	return e;
}

/* Pass @ref (checked by the caller, HELD) to member @to (0: anyone). */
static int pass_entry(struct shmk_arena *a, shmk_ref_t ref, uint32_t to,
		      uint64_t *token)
{
	struct lm_ref *r;
	uint64_t s, n;

	if (!token || to > a->g.member_max)
		return -EINVAL;
	r = lm_ref(a, a->id, ref - 1);
	n = fadd_sc(&lm_slot(a, a->id)->nonce_next, 1) & TOKEN_NONCE_MASK;
	s = LR_HELD;
	CRASHPOINT("pass:before");
	if (!cas_sc(&r->state, &s, LR_MAKE(LR_TRANSIT, to, n)))
		return -EINVAL;
	CRASHPOINT("pass:done");
	*token = token_make(a->id, ref - 1, n);
	return 0;
}

SHMK_EXPORT int shmk_buf_pass(struct shmk_arena *a, shmk_ref_t ref,
			      uint32_t to, uint64_t *token)
{
	uint64_t x;
	int e = ref_get(a, ref, &x);

	return e ? e : pass_entry(a, ref, to, token);
}

int lm_buf_peek(struct shmk_arena *a, shmk_ref_t ref, uint64_t *x,
		uint64_t *len)
{
	int e = ref_get(a, ref, x);

	if (e)
		return e;
	*len = ld_rlx(&BUF(a, *x)->len);
	return 0;
}

int lm_buf_pass_checked(struct shmk_arena *a, shmk_ref_t ref, uint64_t x,
			uint32_t to, uint64_t *token)
{
	struct lm_ref *r;

	if (!a || !a->lib_ready || a->rdonly)
		return a && a->rdonly ? -EROFS : -EINVAL;
	if (ref == 0 || ref > a->g.refs_max)
		return -EINVAL;
	r = lm_ref(a, a->id, ref - 1);
	if (ld_acq(&r->state) != LR_HELD || ld_acq(&r->buf) != x)
		return -EINVAL;
	return pass_entry(a, ref, to, token);
}

static int token_slot(struct shmk_arena *a, uint64_t token, uint32_t *src,
		      uint32_t *sidx)
{
	*src = token_id(token);
	*sidx = token_idx(token);
	if (*src == 0 || *src > a->g.member_max || *sidx >= a->g.refs_max)
		return -EINVAL;
	return 0;
}

SHMK_EXPORT int shmk_buf_accept(struct shmk_arena *a, uint64_t token,
				shmk_ref_t *ref)
{
	uint64_t n = token_nonce(token), s, x, want;
	struct lm_ref *rs, *rd;
	struct lm_journal *j;
	uint32_t src, sidx, idx;
	int e = buf_op_check(a), jb;
	ERRNO_SAVE;

	if (e || !ref)
		return e ? e : -EINVAL;
	e = token_slot(a, token, &src, &sidx);
	if (e)
		return e;
	rs = lm_ref(a, src, sidx);
	s = ld_acq(&rs->state);
	if (LR_KIND(s) != LR_TRANSIT || LR_NONCE(s) != n ||
	    (LR_WHO(s) && LR_WHO(s) != a->id))
		return -ESTALE;
	x = ld_acq(&rs->buf);
	if (buf_valid(a, x))
		return -EUCLEAN;
	jb = j_claim(a);
	j = J(a, a->id, jb);
	e = ref_claim(a, &idx);
	if (e)
		goto out;
	rd = lm_ref(a, a->id, idx);
	st_rel(&rd->buf, x);
	j_write(j, LJ_ACCEPT, a->id, idx, x, 0, 0, token);
	CRASHPOINT("accept:journal");
	want = LR_MAKE(LR_TAKEN, a->id, n);
	if (!cas_sc(&rs->state, &s, want)) {
		j_clear(j);
		ref_unclaim(a, idx);
		e = -ESTALE;
		goto out;
	}
	CRASHPOINT("accept:taken");
	st_rel(&rd->state, LR_HELD);
	CRASHPOINT("accept:held");
	cas_sc(&rs->state, &want, LR_EMPTY);
	CRASHPOINT("accept:cleared");
	j_clear(j);
	*ref = idx + 1;
out:
	j_release(a, jb);
	ERRNO_RESTORE;
	return e;
}

/* 1 while our token is still in transit (not accepted, recalled or dead). */
int lm_token_pending(struct shmk_arena *a, uint64_t token)
{
	uint32_t src, sidx;
	uint64_t s;

	if (token_slot(a, token, &src, &sidx) || src != a->id)
		return 0;
	s = ld_acq(&lm_ref(a, src, sidx)->state);
	return LR_KIND(s) == LR_TRANSIT &&
		LR_NONCE(s) == token_nonce(token);
}

SHMK_EXPORT int shmk_buf_recall(struct shmk_arena *a, uint64_t token)
{
	uint64_t n = token_nonce(token), s;
	struct lm_ref *r;
	uint32_t src, sidx;
	int e = buf_op_check(a);
	ERRNO_SAVE;

	if (e)
		return e;
	e = token_slot(a, token, &src, &sidx);
	if (e)
		return e;
	if (src != a->id)
		return -EPERM;
	r = lm_ref(a, src, sidx);
	s = ld_acq(&r->state);
	if (LR_KIND(s) != LR_TRANSIT || LR_NONCE(s) != n ||
	    !cas_sc(&r->state, &s, LR_RECALLED))
		return -ESTALE;
	e = reclaim_entry(a, src, sidx);
	ERRNO_RESTORE;
	return e;
}

SHMK_EXPORT int shmk_buf_info(struct shmk_arena *a, shmk_ref_t ref,
			      struct shmk_buf_info *info)
{
	struct lm_buf *b;
	uint64_t x;
	int e = ref_get(a, ref, &x);

	if (e)
		return e;
	if (!info)
		return -EINVAL;
	b = BUF(a, x);
	memset(info, 0, sizeof(*info));
	info->offset = x;
	info->headroom = ld_rlx(&b->head);
	info->len = ld_rlx(&b->len);
	info->data_offset = x + LB_HDR + info->headroom;
	info->tailroom = ld_rlx(&b->cap) - info->headroom - info->len;
	info->refcount = ld_acq(&b->rc);
	return 0;
}
