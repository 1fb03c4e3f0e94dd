// SPDX-License-Identifier: GPL-2.0
/*
 * Harness queue: queue headers, rings, tickets and overflow lanes and blocks.
 */
#include "fz.h"

static const struct fz_ops ops = {
	.name = "queue",
	.mask = FZ_G_ARENA|FZ_G_QUEUE|FZ_G_BUF|FZ_G_PEER,
	.regions = FZ_RB(FZ_R_OBJ) | FZ_RB(FZ_R_REFS) | FZ_RB(FZ_R_SLOTS),
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fz_run(&ops, data, size);
}
