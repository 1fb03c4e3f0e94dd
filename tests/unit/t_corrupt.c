// SPDX-License-Identifier: GPL-2.0
/*
 * Corrupt arenas: the bugs tests/fuzz-lib found, one test each (its
 * corpus keeps the input that found it). A member that scribbles over
 * the arena makes the calls on it fail with an error; none of them may
 * crash, hang or hand out memory outside the arena.
 */
#include "unit.h"

#define KB	1024ULL

static uint64_t heap_end(const struct shmk_arena *a)
{
	return a->g.heap_off + ((uint64_t)a->g.npages << LM_PAGE_SHIFT);
}

/* Take every page but the reserve: one-page blocks until -ENOMEM. */
static void fill_heap(struct shmk_arena *a)
{
	uint64_t off;
	int n = 0;

	while (shmk_alloc(a, LM_PAGE, 0, 0, &off) == 0)
		n++;
	ck_assert_int_gt(n, 0);
}

/*
 * reserve_take() trusted the slot's copy of the reserve's length: one
 * that runs past the heap made an allocation past the arena's end.
 */
START_TEST(reserve_length_beyond_heap)
{
	char name[64];
	struct shmk_arena *a = ut_arena("rsvlen", 256 * KB, 4096, name);
	struct lm_slot *s = lm_slot(a, a->id);
	uint64_t off = 0;
	int r;

	fill_heap(a);
	ck_assert_uint_lt(s->reserve_page, a->g.npages);
	s->reserve_npages = a->g.npages;	/* the scribble */
	r = shmk_alloc(a, 2 * LM_PAGE, SHMK_ALLOC_RESERVE, 0, &off);
	if (r == 0)
		ck_assert_uint_le(off + 2 * LM_PAGE, heap_end(a));
	else
		ck_assert_int_eq(r, -ENOMEM);
	ck_ok(shmk_arena_detach(a));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("corrupt");
	TCase *tc = tcase_create("corrupt");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, reserve_length_beyond_heap);
	suite_add_tcase(s, tc);
	return ut_run(s);
}
