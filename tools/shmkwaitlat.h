/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * shmkwaitlat: what the BPF side (shmkwaitlat.bpf.c) shares with the
 * user side (shmkwaitlat.c): histogram keys and values.
 */
#ifndef SHMKWAITLAT_H
#define SHMKWAITLAT_H

#include "shmk_bpf_common.h"

#define WL_SLOTS	32	/* log2 buckets of the latency */

enum { WL_SRC_KERNEL = 1, WL_SRC_LIB = 2 };

/* Results of a wait, as counted. */
enum {
	WL_RES_WOKEN,		/* 0: woken by a WAKE */
	WL_RES_EVENT,		/* SHMK_WAIT_EVENT: membership event */
	WL_RES_TIMEDOUT,	/* -ETIMEDOUT */
	WL_RES_AGAIN,		/* -EAGAIN: the word had changed */
	WL_RES_INTR,		/* -EINTR */
	WL_RES_OTHER,		/* anything else */
	WL_NRES,
};

#define SHMKT_ETIMEDOUT	110
#define SHMKT_EAGAIN	11
#define SHMKT_EINTR	4

struct wl_key {
	__u32 src;		/* WL_SRC_* */
	__u32 arena_id;		/* kernel source; 0 for the library */
	__s32 pid;		/* only with -M (per member), else 0 */
	__u32 member_id;	/* only with -M, or when the name is unknown */
	char name[SHMKT_NAME_MAX];	/* "" when not known */
};

struct wl_hist {
	__u64 slots[WL_SLOTS];
	__u64 count;
	__u64 total_ns;
	__u64 max_ns;
	__u64 results[WL_NRES];
};

#endif /* SHMKWAITLAT_H */
