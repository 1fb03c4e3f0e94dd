// SPDX-License-Identifier: GPL-2.0
/*
 * Harness buf: buffer headers, holdings tables and journals.
 */
#include "fz.h"

static const struct fz_ops ops = {
	.name = "buf",
	.mask = FZ_G_ARENA|FZ_G_ALLOC|FZ_G_BUF|FZ_G_PEER,
	.regions = FZ_RB(FZ_R_JOURNAL) | FZ_RB(FZ_R_REFS) | FZ_RB(FZ_R_OBJ) | FZ_RB(FZ_R_DESC) | FZ_RB(FZ_R_BITS),
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fz_run(&ops, data, size);
}
