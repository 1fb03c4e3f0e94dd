// SPDX-License-Identifier: GPL-2.0
/*
 * Harness alloc: the allocator's metadata: page map, chunk bitmaps, free-run tree, page lists and reserves.
 */
#include "fz.h"

static const struct fz_ops ops = {
	.name = "alloc",
	.mask = FZ_G_ARENA|FZ_G_ALLOC|FZ_G_PEER,
	.regions = FZ_RB(FZ_R_LMHDR) | FZ_RB(FZ_R_SLOTS) | FZ_RB(FZ_R_DESC) | FZ_RB(FZ_R_BITS) | FZ_RB(FZ_R_TREE),
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fz_run(&ops, data, size);
}
