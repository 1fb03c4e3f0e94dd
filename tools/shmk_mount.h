/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Mounting the kernel's pseudo file systems the tools read, when they are
 * absent, as bpftool does: tracefs (the tracepoints libbpf attaches to)
 * and debugfs (the module's counters). A fresh machine mounts neither.
 */
#ifndef SHMK_MOUNT_H
#define SHMK_MOUNT_H

#include <stdbool.h>

#define SHMKT_TRACEFS		"/sys/kernel/tracing"
#define SHMKT_DEBUGFS		"/sys/kernel/debug"

/*
 * Makes tracefs reachable: 0 if it is mounted (at /sys/kernel/tracing, or
 * through debugfs at /sys/kernel/debug/tracing) or this call mounted it
 * at /sys/kernel/tracing; else -errno after telling @tool's user on
 * stderr which command would do it (root is needed to mount).
 */
int shmkt_need_tracefs(const char *tool);
/* The same for debugfs at /sys/kernel/debug. */
int shmkt_need_debugfs(const char *tool);

#endif /* SHMK_MOUNT_H */
