// SPDX-License-Identifier: GPL-2.0
/*
 * Attaching to an arena the library never set up (raw ABI users): a
 * writable member sets it up; a read-only one cannot, and must get
 * -EPROTO instead of waiting for ever. A library header of another
 * version is -EPROTO, a corrupt one -EUCLEAN; each says so in words.
 */
#include "unit.h"

#define MB (1024 * 1024)

static int ro_attach(void *arg)
{
	struct shmk_arena *a;
	int r;

	alarm(20);	/* a hang is a failure (SIGALRM), not a stuck suite */
	r = shmk_arena_attach(arg, SHMK_OPEN_RDONLY, &a);
	if (r == 0) {
		shmk_arena_detach(a);
		return 1;
	}
	if (r != -EPROTO)
		return 2;
	return strstr(shmk_arena_error(NULL), "read-only member cannot") ?
		0 : 3;
}

struct want {
	const char *name;
	int err;
	const char *why;	/* in the reason */
};

static int attach_fails(void *arg)
{
	const struct want *w = arg;
	struct shmk_arena *a;
	int r;

	alarm(20);
	r = shmk_arena_attach(w->name, 0, &a);
	if (r == 0) {
		shmk_arena_detach(a);
		return 1;
	}
	fprintf(stderr, "# %d: %s\n", r, shmk_arena_error(NULL));
	if (r != w->err)
		return 2;
	return strstr(shmk_arena_error(NULL), w->why) ? 0 : 3;
}

START_TEST(rdonly_no_header)
{
	char name[64];
	struct shmk_arena *a = ut_arena("ro", 2 * MB, 0, name);
	uint32_t saved = __atomic_load_n(&a->hdr->init, __ATOMIC_ACQUIRE);

	/* what a raw-ABI creator leaves: no library header */
	__atomic_store_n(&a->hdr->init, 0, __ATOMIC_RELEASE);
	ck_assert_int_eq(ut_reap(ut_spawn(ro_attach, name)), 0);
	__atomic_store_n(&a->hdr->init, saved, __ATOMIC_RELEASE);
	ck_ok(shmk_arena_detach(a));
}
END_TEST

START_TEST(header_version)
{
	char name[64];
	struct shmk_arena *a = ut_arena("ver", 2 * MB, 0, name);
	struct want w = { name, -EPROTO, "layout version 99" };
	uint32_t saved = a->hdr->version;

	a->hdr->version = 99;
	ck_assert_int_eq(ut_reap(ut_spawn(attach_fails, &w)), 0);
	a->hdr->version = saved;
	ck_ok(shmk_arena_detach(a));
}
END_TEST

START_TEST(header_corrupt)
{
	char name[64];
	struct shmk_arena *a = ut_arena("bad", 2 * MB, 0, name);
	struct want w = { name, -EUCLEAN, "is corrupt: the layout" };
	uint64_t saved = a->hdr->heap_off;

	a->hdr->heap_off += LM_PAGE;
	ck_assert_int_eq(ut_reap(ut_spawn(attach_fails, &w)), 0);
	a->hdr->heap_off = saved;
	w.why = "is corrupt: its header says";
	a->hdr->user_size += LM_PAGE;
	ck_assert_int_eq(ut_reap(ut_spawn(attach_fails, &w)), 0);
	a->hdr->user_size -= LM_PAGE;
	ck_ok(shmk_arena_detach(a));
}
END_TEST

/* shmk_arena_check() without a buffer: the reason still says what. */
START_TEST(check_reason)
{
	char name[64];
	struct shmk_arena *a = ut_arena("chk", 2 * MB, 0, name);
	struct lm_page *d;
	uint64_t off;
	uint32_t p, saved;

	ck_ok(shmk_alloc(a, 3 * LM_PAGE, 0, 0, &off));
	p = (uint32_t)((off - a->g.heap_off) >> LM_PAGE_SHIFT);
	d = lm_desc(a, p);
	saved = d->tag;
	d->tag = 0xdead0000U | (saved & 0xffff);
	ck_assert_int_eq(shmk_arena_check(a, 0, NULL, 0), -EUCLEAN);
	ck_assert_msg(strstr(shmk_arena_error(a), name) &&
		      strlen(shmk_arena_error(a)) > strlen(name) + 12,
		      "reason: \"%s\"", shmk_arena_error(a));
	d->tag = saved;
	ck_ok(shmk_free(a, off));
	ut_check(a);
	ck_ok(shmk_arena_detach(a));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("attach");
	TCase *tc = tcase_create("attach");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, rdonly_no_header);
	tcase_add_test(tc, header_version);
	tcase_add_test(tc, header_corrupt);
	tcase_add_test(tc, check_reason);
	suite_add_tcase(s, tc);
	return ut_run(s);
}
