// SPDX-License-Identifier: MIT
/*
 * The whole-arena consistency check (shmk_arena_check()): the allocator's
 * heap (page map, free-run tree, owner lists, chunk bitmaps), then the
 * buffers it found against every holdings table. Above alloc.c and
 * buf.c, which each check their own part.
 */
#include "shmk_int.h"

#include <stdlib.h>
#include <string.h>

SHMK_EXPORT int shmk_arena_check(struct shmk_arena *a, unsigned int flags,
				 char *msg, size_t msglen)
{
	char own[SHMK_REASON_MAX];
	uint64_t *bufs = NULL;
	uint32_t nb = 0;
	int r = lm_check_rw(a);
	ERRNO_SAVE;

	if (r)
		return r;
	if (flags & ~SHMK_CHECK_REFS)
		return -EINVAL;
	if (!msg || !msglen) {	/* the reason is wanted all the same */
		msg = own;
		msglen = sizeof(own);
	}
	msg[0] = '\0';
	r = lm_heap_check(a, msg, msglen, &nb, &bufs);
	if (r == 0)
		r = lm_buf_check_refs(a, bufs, nb, msg, msglen,
				      flags & SHMK_CHECK_REFS);
	free(bufs);
	if (r)
		shmk_areason(a, "arena '%s': %s", a->name,
			     msg[0] ? msg : strerror(-r));
	ERRNO_RESTORE;
	return r;
}
