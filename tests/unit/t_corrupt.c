// SPDX-License-Identifier: GPL-2.0
/*
 * Corrupt arenas: the bugs tests/fuzz-lib found, one test each (its
 * corpus keeps the input that found it). A member that scribbles over
 * the arena makes the calls on it fail with an error; none of them may
 * crash, hang or hand out memory outside the arena.
 */
#include "unit.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

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

/*
 * A lock word naming an owner that is gone without its death reaching
 * the word (an id no member has, or a member not live): waiters waited
 * for ever (shmk_lock_acquire() until its timeout, the heap lock for
 * ever). Now the waiter frees it as the owner's robust walk would have.
 */
START_TEST(lock_owner_gone)
{
	char name[64];
	struct shmk_arena *a = ut_arena("lkgone", 256 * KB, 0, name);
	uint32_t bad[] = { a->g.member_max + 1, 1000, a->id + 1 };
	struct lm_lock *l;
	uint64_t off;
	unsigned int i;

	ck_ok(shmk_alloc(a, sizeof(*l), 0, 0, &off));
	ck_ok(shmk_lock_init(a, off));
	l = shmk_arena_ptr(a, off);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		l->word = bad[i];	/* the scribble */
		ck_assert_int_eq(shmk_lock_acquire(a, off, 2000000000LL),
				 -EOWNERDEAD);
		ck_ok(shmk_lock_consistent(a, off));
		ck_ok(shmk_lock_release(a, off));
	}
	/* the heap lock: an allocation must not wait for ever */
	a->hdr->heap_lock.word = a->g.member_max + 1;
	ck_ok(shmk_alloc(a, 100, 0, 0, &off));
	ck_ok(shmk_arena_detach(a));
}
END_TEST

extern long long shmk__heap_lock_wait_ns;

/*
 * The heap lock word names a live member that does not release it (a
 * scribble, or a member stopped in the middle): allocations waited for
 * ever. Now they fail after a bound.
 */
START_TEST(heap_lock_held_by_live_member)
{
	char name[64];
	struct shmk_arena *a = ut_arena("hlive", 256 * KB, 0, name);
	struct shmk_arena *b = ut_join(name);
	uint64_t off, t0;

	shmk__heap_lock_wait_ns = 300 * 1000000LL;
	ck_ok(shmk_lock_acquire(a, offsetof(struct lm_hdr, heap_lock), 0));
	t0 = ut_now_ms();
	ck_assert_int_eq(shmk_alloc(b, 5000, 0, 0, &off), -ETIMEDOUT);
	ck_assert_uint_lt(ut_now_ms() - t0, 5000);
	ck_ok(shmk_lock_release(a, offsetof(struct lm_hdr, heap_lock)));
	ck_ok(shmk_alloc(b, 5000, 0, 0, &off));
	ck_ok(shmk_arena_detach(b));
	ck_ok(shmk_arena_detach(a));
}
END_TEST

/*
 * A scribbled robust list head (this member's list of held locks): the
 * member could never detach (-EBUSY, "still holds a lock") though it
 * held none. A lock it does hold still keeps it from detaching.
 */
START_TEST(robust_list_scribbled)
{
	char name[64];
	struct shmk_arena *a = ut_arena("rlist", 256 * KB, 0, name);
	struct shmk_arena *b = ut_join(name);
	uint64_t bad[] = { 8, 12, a->size - 8, a->size + 64, ~0ULL, 0 };
	struct lm_slot *s = lm_slot(b, b->id);
	uint64_t off, other;
	unsigned int i;

	ck_ok(shmk_alloc(a, sizeof(struct lm_lock), 0, 0, &off));
	ck_ok(shmk_lock_init(a, off));
	ck_ok(shmk_alloc(a, sizeof(struct lm_lock), 0, 0, &other));
	ck_ok(shmk_lock_init(a, other));
	ck_ok(shmk_lock_acquire(a, other, 0));	/* a's, not b's */
	bad[5] = other;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_ok(shmk_lock_acquire(b, off, 0));
		ck_assert_int_eq(shmk_arena_detach(b), -EBUSY);
		ck_ok(shmk_lock_release(b, off));
		s->robust.next = bad[i];	/* the scribble */
		if (i + 1 < sizeof(bad) / sizeof(bad[0])) {
			ck_assert(lm_robust_empty(b));
			ck_assert_uint_eq(s->robust.next,
					  b->g.slots_off + (uint64_t)b->id *
					  LM_SLOT_SIZE +
					  offsetof(struct lm_slot, robust));
		}
	}
	/* an entry that looks like a lock of b's, though b took none */
	ck_ok(shmk_alloc(a, sizeof(struct lm_lock), 0, 0, &off));
	((struct lm_lock *)shmk_arena_ptr(a, off))->word = b->id;
	s->robust.next = off;
	ck_assert(lm_robust_empty(b));
	ck_ok(shmk_arena_detach(b));
	ck_ok(shmk_lock_release(a, other));
	ck_ok(shmk_arena_detach(a));
}
END_TEST

/*
 * The library's init word holds a value no initialiser writes: attachers
 * waited for ever for it to change. Now -EUCLEAN at once.
 */
START_TEST(init_word_scribbled)
{
	char name[64];
	struct shmk_arena *a = ut_arena("initw", 256 * KB, 0, name);
	uint32_t bad[] = { 7, LM_INIT_DONE | 1, LM_INIT_BUSY,
			   LM_INIT_BUSY | LM_INIT_DONE, LM_INIT_BUSY | 0xffff,
			   0xffffffffU };
	struct shmk_arena *b;
	unsigned int i;
	uint64_t t0;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		a->hdr->init = bad[i];	/* the scribble */
		t0 = ut_now_ms();
		ck_assert_int_eq(shmk_arena_attach(name, 0, &b), -EUCLEAN);
		ck_assert_uint_lt(ut_now_ms() - t0, 2000);
	}
	a->hdr->init = LM_INIT_DONE;
	b = ut_join(name);
	ck_ok(shmk_arena_detach(b));
	ck_ok(shmk_arena_detach(a));
}
END_TEST

/*
 * The free-run tree (derived from the page map) says pages are free that
 * the map says are not, or that are past the heap: run_alloc() handed
 * them out, past the arena's end. Now the map is asked, and the tree
 * rebuilt from it when they disagree.
 */
START_TEST(tree_disagrees_with_map)
{
	char name[64];
	struct shmk_arena *a = ut_arena("tree", 256 * KB, 4096, name);
	struct lm_node *t = (struct lm_node *)(a->base + a->g.tree_off);
	uint64_t off[4];
	unsigned int i, pass;

	ck_assert_uint_gt(a->g.leaves, a->g.npages);
	for (pass = 0; pass < 2; pass++) {
		ck_ok(shmk_alloc(a, 3 * LM_PAGE, 0, 0, &off[0]));
		/* the scribble: the root says everything is free */
		t[1].best = t[1].pre = t[1].suf = a->g.leaves;
		t[1].lazy = 1;
		for (i = 1; i < 4; i++) {
			ck_ok(shmk_alloc(a, LM_PAGE,
					 pass ? 0 : SHMK_ALLOC_LONG, 0, &off[i]));
			ck_assert_uint_le(off[i] + LM_PAGE, heap_end(a));
			ck_assert(off[i] >= off[0] + 3 * LM_PAGE ||
				  off[i] + LM_PAGE <= off[0]);
		}
		for (i = 0; i < 4; i++)
			ck_ok(shmk_free(a, off[i]));
		ut_check(a);
	}
	ck_ok(shmk_arena_detach(a));
}
END_TEST

/* The portable backend's object of arena @name, mapped (another view). */
static uint8_t *map_object(const char *name, size_t *len)
{
	char path[128];
	struct stat st;
	void *p;
	int fd;

	snprintf(path, sizeof(path), "/dev/shm/shmk.%s", name);
	fd = open(path, O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	*len = (size_t)st.st_size;
	p = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	ck_assert(p != MAP_FAILED);
	return p;
}

/*
 * The portable backend re-read the member table's size from the object
 * header after checking it: a scribbled one made any_alive() (every
 * detach) read past the mapping.
 */
START_TEST(backend_member_max_scribbled)
{
	char name[64];
	struct shmk_arena *a = ut_arena("ptmax", 256 * KB, 0, name);
	struct shmk_arena *b = ut_join(name), *c;
	size_t len;
	uint8_t *obj = map_object(name, &len);
	uint32_t bad = 0x7fffffff, mm;

	memcpy(&mm, obj + 12, 4);		/* struct pt_hdr.member_max */
	ck_assert_uint_eq(mm, a->be_member_max);
	memcpy(obj + 12, &bad, 4);		/* the scribble */
	ck_assert_int_eq(shmk_arena_attach(name, 0, &c), -EUCLEAN);
	ck_ok(shmk_arena_detach(b));
	memcpy(obj + 12, &mm, 4);
	b = ut_join(name);
	memcpy(obj + 12, &bad, 4);
	ck_ok(shmk_arena_detach(b));
	ck_ok(shmk_arena_detach(a));
	munmap(obj, len);
}
END_TEST

extern long long shmk__reclaim_wait_ns;

/*
 * The slot a joiner gets says RECLAIM, helper a live member that is not
 * at it (scribbled): the joiner waited for ever. Now attach fails after
 * a bound.
 */
START_TEST(own_slot_reclaim_never_ends)
{
	char name[64];
	struct shmk_arena *a = ut_arena("slotrc", 256 * KB, 0, name), *b;
	struct lm_slot *s = lm_slot(a, a->id + 1);
	uint64_t t0;

	shmk__reclaim_wait_ns = 300 * 1000000LL;
	s->ctl = LS_MAKE_RECLAIM(a->id, a->gen, 7);	/* the scribble */
	t0 = ut_now_ms();
	ck_assert_int_eq(shmk_arena_attach(name, 0, &b), -ETIMEDOUT);
	ck_assert_uint_lt(ut_now_ms() - t0, 5000);
	s->ctl = LS_MAKE(LS_FREE, 0, 0);
	b = ut_join(name);
	ck_ok(shmk_arena_detach(b));
	ck_ok(shmk_arena_detach(a));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("corrupt");
	TCase *tc = tcase_create("corrupt");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, reserve_length_beyond_heap);
	tcase_add_test(tc, lock_owner_gone);
	tcase_add_test(tc, heap_lock_held_by_live_member);
	tcase_add_test(tc, robust_list_scribbled);
	tcase_add_test(tc, init_word_scribbled);
	tcase_add_test(tc, tree_disagrees_with_map);
	tcase_add_test(tc, backend_member_max_scribbled);
	tcase_add_test(tc, own_slot_reclaim_never_ends);
	suite_add_tcase(s, tc);
	return ut_run(s);
}
