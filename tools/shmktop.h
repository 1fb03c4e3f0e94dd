/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * shmktop: the counters the BPF side (shmktop.bpf.c) keeps and the user
 * side (shmktop.c) reads every interval. Everything counts up from the
 * start; the user side turns differences into rates.
 */
#ifndef SHMKTOP_H
#define SHMKTOP_H

#include "shmk_bpf_common.h"

#define TM_COMM_LEN	16

/* tm_member.state */
enum { TM_SEEN, TM_LIVE, TM_LEFT, TM_DEAD };

struct tm_key {
	__u64 arena;
	__u32 member;
	__u32 pad;
};

struct tm_member {
	__u64 sent, sent_bytes;		/* messages it sent */
	__u64 recvd, recvd_bytes;	/* messages it took off its queue */
	__u64 full;			/* its sends that found a queue full */
	__u64 full_waits;		/* ... and waited for room */
	__u64 wakes, sleeps;		/* wake and wait calls */
	__u64 allocs, alloc_bytes;	/* blocks it allocated */
	__u64 frees, free_bytes;	/* blocks it owned that were freed */
	__u64 alloc_waits;		/* allocations that waited */
	__u64 publishes;
	__u64 reclaimed;		/* reclaims of it by another member */
	__u64 end_gen1;			/* generation + 1 of the end counted */
	__s32 pid;			/* its process, tool's namespace; 0 ? */
	__u32 gen;
	__u32 state;			/* TM_* */
	__u32 how;			/* its end: SHMK_END_* */
	__s32 status;
	__u32 flags;			/* TMF_* */
	char comm[TM_COMM_LEN];
};

/* tm_member.flags */
#define TMF_GUESSED	(1U << 0)	/* how/status of its end guessed (the
					 * portable backend, for a survivor
					 * that is not its parent) */

/* Per arena. */
struct tm_arena {
	__u64 heap_free, heap_size;	/* last seen by shmk:alloc/free */
	__u64 deaths;			/* members that died (not detached) */
	__u64 reclaims;			/* dead members cleaned up by others */
};

/* Exit status (wait status) of a member's process, by its pid. */
struct tm_exit {
	__s32 code;
	__u32 pad;
};

/* Depth of a member's queue at sends to it; read and reset per interval. */
struct tm_depth {
	__u64 max, last, sum, n;
};

#endif /* SHMKTOP_H */
