/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * shmkexits: what the BPF side (shmkexits.bpf.c) hands to the user side
 * (shmkexits.c). Included by both, so it uses only the __u32 style types
 * that vmlinux.h and <linux/types.h> both define, and no system header.
 */
#ifndef SHMKEXITS_H
#define SHMKEXITS_H

#include "shmk_bpf_common.h"

/* Event kinds. K_: module tracepoints, L_: library probes. */
enum {
	EV_K_ATTACH = 1,	/* shmk:shmk_attach */
	EV_K_END,		/* shmk:shmk_end */
	EV_K_ROBUST,		/* shmk:shmk_robust */
	EV_L_ATTACH,		/* shmk_arena_create/attach returned 0 */
	EV_L_DETACH,		/* shmk_arena_detach returned */
	EV_L_EXIT,		/* a survivor read SHMK_EVENT_EXIT */
	EV_L_CLEANUP,		/* USDT shmk:cleanup */
	EV_L_PROCEXIT,		/* a process that had attached is exiting */
};

/* exit_event.flags */
#define XF_CREATED	(1U << 0)	/* attach created the arena */
#define XF_PID_GUESS	(1U << 1)	/* pid of the ender, not the member */
#define XF_GUESSED	(1U << 2)	/* library: how/status guessed */
#define XF_OVERFLOW	(1U << 3)	/* library: survivor lost events */

struct exit_event {
	__u64 ts;		/* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u64 handle;		/* library: struct shmk_arena address */
	__u32 kind;		/* EV_* */
	__u32 arena_id;		/* kernel events; 0 for the library */
	__u32 member_id;
	__u32 generation;
	__s32 pid;		/* the member's process */
	__s32 status;		/* END: exit code or signal; PROCEXIT: code */
	__u32 how;		/* SHMK_END_* */
	__u32 flags;		/* XF_* */
	__s32 observer_pid;	/* L_EXIT/L_CLEANUP: who reported it */
	__u32 observer_id;	/* its member id */
	__u32 entries;		/* K_ROBUST */
	__u32 recovered;	/* K_ROBUST */
	char name[SHMKT_NAME_MAX];
	char backend[SHMKT_BACKEND_MAX];
};

#endif /* SHMKEXITS_H */
