// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Mount tracefs or debugfs if absent (shmk_mount.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "shmk_mount.h"

/* From <linux/magic.h>; repeated to keep this file free of kernel headers. */
#define TRACEFS_MAGIC_NR	0x74726163
#define DEBUGFS_MAGIC_NR	0x64626720

static bool mounted(const char *dir, long magic)
{
	struct statfs st;

	return statfs(dir, &st) == 0 && (long)st.f_type == magic;
}

static int need(const char *tool, const char *dir, const char *type,
		long magic, const char *alt)
{
	int err;

	if (mounted(dir, magic) || (alt && mounted(alt, magic)))
		return 0;
	if (mount("nodev", dir, type, 0, NULL) == 0) {
		/* Say it: the mount outlives this program, as bpftool's. */
		fprintf(stderr, "%s: mounted %s at %s\n", tool, type, dir);
		return 0;
	}
	err = errno;
	fprintf(stderr, "%s: %s is not mounted and mounting it failed (%s); as root: mount -t %s nodev %s\n",
		tool, type, strerror(err), type, dir);
	return -err;
}

int shmkt_need_tracefs(const char *tool)
{
	return need(tool, SHMKT_TRACEFS, "tracefs", TRACEFS_MAGIC_NR,
		    SHMKT_DEBUGFS "/tracing");
}

int shmkt_need_debugfs(const char *tool)
{
	return need(tool, SHMKT_DEBUGFS, "debugfs", DEBUGFS_MAGIC_NR, NULL);
}
