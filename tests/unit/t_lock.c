// SPDX-License-Identifier: GPL-2.0
/*
 * Robust locks: the member's robust list stays well formed whatever the
 * order of releases; the survivor's walk of a dead member's list (the
 * portable backend's stand-in for the kernel) marks exactly the locks the
 * dead member owned, and stops safely on damaged lists: out of range,
 * misaligned, cycles, too long, absurd lock_delta.
 */
#include "unit.h"

#define MB (1024 * 1024)
#define DEAD 9U

struct lm_lock_view {
	uint64_t next;
	uint32_t word;
	uint32_t spare;
};

static uint64_t head_off(struct shmk_arena *a)
{
	struct shmk_arena_info info;

	shmk_arena_info(a, &info);
	return ((struct lm_hdr *)shmk_arena_ptr(a, 0))->slots_off +
		(uint64_t)info.member_id * LM_SLOT_SIZE +
		offsetof(struct lm_slot, robust);
}

/* Walk our own list: the entries in order, -1 if it does not end well. */
static int list_entries(struct shmk_arena *a, uint64_t *out, int max)
{
	uint64_t h = head_off(a), cur;
	struct shmk_robust_head *hd = shmk_arena_ptr(a, h);
	int n = 0;

	for (cur = hd->next; cur != h; n++) {
		if (n == max || !cur)
			return -1;
		out[n] = cur;
		cur = ((struct lm_lock_view *)shmk_arena_ptr(a, cur))->next;
	}
	return hd->op_pending == SHMK_ROBUST_NONE ? n : -1;
}

START_TEST(list_order)
{
	char name[64];
	struct shmk_arena *a = ut_arena("rl", 2 * MB, 0, name);
	uint64_t l[4], e[8];
	int i;

	for (i = 0; i < 4; i++) {
		ck_ok(shmk_alloc(a, 16, SHMK_ALLOC_ZERO, 0, &l[i]));
		ck_ok(shmk_lock_init(a, l[i]));
	}
	ck_assert_int_eq(list_entries(a, e, 8), 0);
	for (i = 0; i < 4; i++)
		ck_ok(shmk_lock_acquire(a, l[i], 0));
	ck_assert_int_eq(list_entries(a, e, 8), 4);
	ck_assert_uint_eq(e[0], l[3]);		/* newest first */
	ck_ok(shmk_lock_release(a, l[1]));	/* from the middle */
	ck_assert_int_eq(list_entries(a, e, 8), 3);
	ck_assert(e[0] == l[3] && e[1] == l[2] && e[2] == l[0]);
	ck_ok(shmk_lock_release(a, l[0]));	/* the tail */
	ck_ok(shmk_lock_release(a, l[3]));	/* the head */
	ck_assert_int_eq(list_entries(a, e, 8), 1);
	ck_assert_uint_eq(e[0], l[2]);
	ck_assert_int_eq(shmk_arena_detach(a), -EBUSY);
	ck_ok(shmk_lock_release(a, l[2]));
	ck_assert_int_eq(list_entries(a, e, 8), 0);
	for (i = 0; i < 4; i++)
		ck_ok(shmk_free(a, l[i]));
	ck_ok(shmk_arena_detach(a));
}
END_TEST

/* Build a list for the fake dead member DEAD in one block of the arena. */
struct fake {
	uint64_t base;		/* block */
	uint64_t head;		/* struct shmk_robust_head at base */
	uint64_t ent[8];	/* struct lm_lock at base + 64 + 16 * i */
};

static void fake_build(struct shmk_arena *a, struct fake *f, int n)
{
	struct shmk_robust_head *h;
	struct lm_lock_view *e;
	int i;

	ck_ok(shmk_alloc(a, 4096, SHMK_ALLOC_ZERO, 0, &f->base));
	f->head = f->base;
	h = shmk_arena_ptr(a, f->head);
	h->lock_delta = 8;
	h->op_pending = SHMK_ROBUST_NONE;
	h->next = f->head;
	for (i = n - 1; i >= 0; i--) {
		f->ent[i] = f->base + 64 + 16 * (uint64_t)i;
		e = shmk_arena_ptr(a, f->ent[i]);
		e->word = DEAD | (i == 1 ? SHMK_LOCK_WAITERS : 0);
		e->next = h->next;
		h->next = f->ent[i];
	}
}

static uint32_t fword(struct shmk_arena *a, uint64_t ent)
{
	return ((struct lm_lock_view *)shmk_arena_ptr(a, ent))->word;
}

START_TEST(walk_marks)
{
	char name[64];
	struct shmk_arena *a = ut_arena("walk", 2 * MB, 0, name);
	struct shmk_robust_head *h;
	struct lm_lock_view *e;
	struct fake f;
	uint64_t pend;

	fake_build(a, &f, 4);
	h = shmk_arena_ptr(a, f.head);
	((struct lm_lock_view *)shmk_arena_ptr(a, f.ent[3]))->word = 5;  /* not its */
	pend = f.base + 64 + 16 * 6;		/* being locked, not linked */
	e = shmk_arena_ptr(a, pend);
	e->word = DEAD;
	h->op_pending = pend;
	/*
	 * An entry it does not own ends the walk: its link may be another
	 * member's now (a lock an earlier walk released, taken since).
	 */
	ck_assert_int_eq(lm_robust_walk(a, f.head, DEAD), 3);
	ck_assert_uint_eq(fword(a, f.ent[0]), SHMK_LOCK_OWNER_DIED);
	ck_assert_uint_eq(fword(a, f.ent[1]),
			  SHMK_LOCK_OWNER_DIED | SHMK_LOCK_WAITERS);
	ck_assert_uint_eq(fword(a, f.ent[2]), SHMK_LOCK_OWNER_DIED);
	ck_assert_uint_eq(fword(a, f.ent[3]), 5);
	ck_assert_uint_eq(fword(a, pend), SHMK_LOCK_OWNER_DIED);
	/* walking again changes nothing, and stops at the first entry */
	ck_assert_int_eq(lm_robust_walk(a, f.head, DEAD), 0);
	ck_assert_uint_eq(fword(a, f.ent[0]), SHMK_LOCK_OWNER_DIED);
	ck_assert_uint_eq(fword(a, f.ent[3]), 5);
	ck_ok(shmk_free(a, f.base));
	ck_ok(shmk_arena_detach(a));
}
END_TEST

/*
 * A walk redone after its survivor died: the locks the first walk released
 * (the tail: it releases last first) may have been taken since and linked
 * into their new owner's list. Seen in the torture: member 8's redone walk
 * followed such a link into member 29's robust head, read its lock_delta
 * (8) as a lock word owned by 8, and "released" it. The walk must stop at
 * the first entry the dead member no longer owns, and never take a robust
 * head for an entry.
 */
START_TEST(walk_redone)
{
	char name[64];
	struct shmk_arena *a = ut_arena("rewalk", 2 * MB, 0, name);
	struct shmk_robust_head *mine;
	uint64_t mine_off;
	struct fake f;
	const uint32_t dead = 8;	/* == a head's lock_delta */

	mine_off = a->g.slots_off + (uint64_t)a->id * LM_SLOT_SIZE +
		offsetof(struct lm_slot, robust);
	mine = shmk_arena_ptr(a, mine_off);
	ck_assert_int_eq(mine->lock_delta, 8);
	fake_build(a, &f, 3);
	((struct lm_lock_view *)shmk_arena_ptr(a, f.ent[0]))->word = dead;
	((struct lm_lock_view *)shmk_arena_ptr(a, f.ent[1]))->word = dead;
	((struct lm_lock_view *)shmk_arena_ptr(a, f.ent[2]))->word = dead;
	/* the first walk released ent[2] and ent[1], then its survivor died */
	((struct lm_lock_view *)shmk_arena_ptr(a, f.ent[2]))->word =
		SHMK_LOCK_OWNER_DIED;
	/* ent[1] was taken since by member 5, first in its (our) list */
	((struct lm_lock_view *)shmk_arena_ptr(a, f.ent[1]))->word = 5;
	((struct lm_lock_view *)shmk_arena_ptr(a, f.ent[1]))->next = mine_off;
	ck_assert_int_eq(lm_robust_walk(a, f.head, dead), 1);
	ck_assert_uint_eq(fword(a, f.ent[0]), SHMK_LOCK_OWNER_DIED);
	ck_assert_uint_eq(fword(a, f.ent[1]), 5);
	ck_assert_int_eq(mine->lock_delta, 8);	/* untouched */
	/* a list that leads straight to a robust head stops there */
	((struct lm_lock_view *)shmk_arena_ptr(a, f.ent[0]))->word = dead;
	((struct lm_lock_view *)shmk_arena_ptr(a, f.ent[0]))->next = mine_off;
	ck_assert_int_eq(lm_robust_walk(a, f.head, dead), -EUCLEAN);
	ck_assert_uint_eq(fword(a, f.ent[0]), SHMK_LOCK_OWNER_DIED);
	ck_assert_int_eq(mine->lock_delta, 8);
	ck_ok(shmk_free(a, f.base));
	ck_ok(shmk_arena_detach(a));
}
END_TEST

START_TEST(walk_damaged)
{
	char name[64];
	struct shmk_arena *a = ut_arena("walkbad", 4 * MB, 0, name);
	struct shmk_arena_info info;
	struct shmk_robust_head *h;
	struct lm_lock_view *e;
	struct fake f;
	uint64_t big;
	int i;

	shmk_arena_info(a, &info);
	/* out of range after the second entry */
	fake_build(a, &f, 4);
	((struct lm_lock_view *)shmk_arena_ptr(a, f.ent[1]))->next =
		info.size + 4096;
	ck_assert_int_eq(lm_robust_walk(a, f.head, DEAD), -EUCLEAN);
	ck_assert_uint_eq(fword(a, f.ent[0]), SHMK_LOCK_OWNER_DIED);
	ck_assert(fword(a, f.ent[1]) & SHMK_LOCK_OWNER_DIED);
	ck_assert_uint_eq(fword(a, f.ent[2]), DEAD);	/* never reached */
	ck_ok(shmk_free(a, f.base));

	/* misaligned */
	fake_build(a, &f, 4);
	((struct lm_lock_view *)shmk_arena_ptr(a, f.ent[0]))->next = f.ent[1] + 4;
	ck_assert_int_eq(lm_robust_walk(a, f.head, DEAD), -EUCLEAN);
	ck_assert_uint_eq(fword(a, f.ent[1]), DEAD | SHMK_LOCK_WAITERS);
	ck_ok(shmk_free(a, f.base));

	/* a cycle: bounded, and every lock on it marked */
	fake_build(a, &f, 3);
	((struct lm_lock_view *)shmk_arena_ptr(a, f.ent[2]))->next = f.ent[0];
	ck_assert_int_eq(lm_robust_walk(a, f.head, DEAD), -EUCLEAN);
	for (i = 0; i < 3; i++)
		ck_assert(fword(a, f.ent[i]) & SHMK_LOCK_OWNER_DIED);
	ck_ok(shmk_free(a, f.base));

	/* lock_delta pointing outside the arena */
	fake_build(a, &f, 2);
	h = shmk_arena_ptr(a, f.head);
	h->lock_delta = (int64_t)info.size * 4;
	ck_assert_int_eq(lm_robust_walk(a, f.head, DEAD), -EUCLEAN);
	ck_assert_uint_eq(fword(a, f.ent[0]), DEAD);
	h->lock_delta = -(int64_t)f.ent[0] - 8;	/* points below 0 */
	ck_assert_int_eq(lm_robust_walk(a, f.head, DEAD), -EUCLEAN);
	ck_assert_uint_eq(fword(a, f.ent[0]), DEAD);
	ck_ok(shmk_free(a, f.base));

	/* longer than SHMK_ROBUST_LIST_LIMIT: the walk stops there */
	ck_ok(shmk_alloc(a, 16 * (SHMK_ROBUST_LIST_LIMIT + 8), SHMK_ALLOC_ZERO,
			 0, &big));
	ck_ok(shmk_alloc(a, 64, SHMK_ALLOC_ZERO, 0, &f.head));
	h = shmk_arena_ptr(a, f.head);
	h->lock_delta = 8;
	h->op_pending = SHMK_ROBUST_NONE;
	h->next = f.head;
	for (i = SHMK_ROBUST_LIST_LIMIT + 4; i >= 0; i--) {
		e = shmk_arena_ptr(a, big + 16 * (uint64_t)i);
		e->word = DEAD;
		e->next = h->next;
		h->next = big + 16 * (uint64_t)i;
	}
	ck_assert_int_eq(lm_robust_walk(a, f.head, DEAD), -EUCLEAN);
	ck_assert_uint_eq(((struct lm_lock_view *)shmk_arena_ptr(
		a, big + 16 * (SHMK_ROBUST_LIST_LIMIT - 1)))->word,
		SHMK_LOCK_OWNER_DIED);
	ck_assert_uint_eq(((struct lm_lock_view *)shmk_arena_ptr(
		a, big + 16 * SHMK_ROBUST_LIST_LIMIT))->word, DEAD);
	/* the head itself out of range: refused */
	ck_assert_int_eq(lm_robust_walk(a, info.size, DEAD), -EINVAL);
	ck_assert_int_eq(lm_robust_walk(a, f.head + 4, DEAD), -EINVAL);
	ck_ok(shmk_free(a, big));
	ck_ok(shmk_free(a, f.head));
	ut_check(a);
	ck_ok(shmk_arena_detach(a));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("lock");
	TCase *tc = tcase_create("lock");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, list_order);
	tcase_add_test(tc, walk_marks);
	tcase_add_test(tc, walk_damaged);
	tcase_add_test(tc, walk_redone);
	suite_add_tcase(s, tc);
	return ut_run(s);
}
