// SPDX-License-Identifier: GPL-2.0
/*
 * Harness attach: the library header (geometry, init word, heap lock), the member slots and the backend object header, read at attach and by every reclaim.
 */
#include "fz.h"

static const struct fz_ops ops = {
	.name = "attach",
	.mask = FZ_G_ARENA|FZ_G_PEER,
	.regions = FZ_RB(FZ_R_LMHDR) | FZ_RB(FZ_R_SLOTS) | FZ_RB(FZ_R_PTHDR),
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fz_run(&ops, data, size);
}
