// SPDX-License-Identifier: MIT
/*
 * The release this library was built from: the top-level VERSION file,
 * passed in by lib/Makefile as SHMK_VERSION.
 */
#include "shmk_int.h"

#ifndef SHMK_VERSION
#error "SHMK_VERSION must be defined (lib/Makefile passes it from VERSION)"
#endif

SHMK_EXPORT const char *shmk_version(void)
{
	return SHMK_VERSION;
}
