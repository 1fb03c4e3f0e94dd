/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * shmksnoop: what the BPF side (shmksnoop.bpf.c) hands to the user side
 * (shmksnoop.c), one record per message received or publish made.
 */
#ifndef SHMKSNOOP_H
#define SHMKSNOOP_H

#include "shmk_bpf_common.h"

#define SN_COMM_LEN	16

enum { SN_MSG = 1, SN_PUB };

/* sn_event.info */
#define SNI_SENT	(1U << 0)	/* its send was seen: sender pid, comm,
					 * depth and latency are known */

struct sn_event {
	__u64 ts;		/* receive (publish) time, CLOCK_MONOTONIC */
	__u64 arena;		/* arena id */
	__u64 tag;
	__u64 queue;		/* receiver's queue (arena offset) */
	__u64 seq;		/* position there */
	__u64 latency_ns;	/* send to receive */
	__u64 depth;		/* descriptors ahead of it at the send */
	__u64 flags;		/* probe flags (SHMKT_QF_*) */
	__u32 type;		/* SN_* */
	__u32 len;
	__u32 from, to;		/* member ids (publish: to = 0) */
	__s32 from_pid, to_pid;	/* in the tool's pid namespace, 0: unknown */
	__u32 info;		/* SNI_* */
	__u32 topic;		/* publish */
	__u32 fanout;		/* publish: subscribers it went to */
	__u32 skipped;		/* publish: subscribers skipped */
	char from_comm[SN_COMM_LEN];
	char to_comm[SN_COMM_LEN];
};

#endif /* SHMKSNOOP_H */
