// SPDX-License-Identifier: GPL-2.0
/*
 * Harness lock: lock words and robust lists (held locks).
 */
#include "fz.h"

static const struct fz_ops ops = {
	.name = "lock",
	.mask = FZ_G_ARENA|FZ_G_ALLOC|FZ_G_LOCK|FZ_G_PEER,
	.regions = FZ_RB(FZ_R_LMHDR) | FZ_RB(FZ_R_SLOTS) | FZ_RB(FZ_R_OBJ),
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fz_run(&ops, data, size);
}
