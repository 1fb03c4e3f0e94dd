// SPDX-License-Identifier: GPL-2.0
/*
 * Harness session: the session protocol: the root slot and the server's
 * directory it names, the queues control messages and data travel in,
 * and the members' slots and holdings, with clients that come, send,
 * receive, crash and go.
 */
#include "fz.h"

static const struct fz_ops ops = {
	.name = "session",
	.mask = FZ_G_SESSION | FZ_G_PEER,
	.regions = FZ_RB(FZ_R_ROOTS) | FZ_RB(FZ_R_OBJ) | FZ_RB(FZ_R_SLOTS) |
		FZ_RB(FZ_R_REFS),
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fz_run(&ops, data, size);
}
