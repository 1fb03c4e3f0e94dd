// SPDX-License-Identifier: GPL-2.0
/*
 * Harness backend: the portable backend's object header, member table and event log.
 */
#include "fz.h"

static const struct fz_ops ops = {
	.name = "backend",
	.mask = FZ_G_ARENA|FZ_G_PEER,
	.regions = FZ_RB(FZ_R_PTHDR) | FZ_RB(FZ_R_PTLOG) | FZ_RB(FZ_R_PTMEM),
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fz_run(&ops, data, size);
}
