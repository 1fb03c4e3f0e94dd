// SPDX-License-Identifier: GPL-2.0
/*
 * Attaching to an arena the library never set up (raw ABI users): a
 * writable member sets it up; a read-only one cannot, and must get
 * -EPROTO instead of waiting for ever.
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
	return r == -EPROTO ? 0 : 2;
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

int main(void)
{
	Suite *s = suite_create("attach");
	TCase *tc = tcase_create("attach");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, rdonly_no_header);
	suite_add_tcase(s, tc);
	return ut_run(s);
}
