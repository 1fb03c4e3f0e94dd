/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Shared by the shmk BPF tools, on both sides. No system header here: the
 * BPF side includes vmlinux.h, which clashes with <linux/types.h>, so the
 * few ABI values the BPF programs need are repeated below and checked
 * against uapi/linux/shmk.h by the user side (shmk_tools.c).
 */
#ifndef SHMK_BPF_COMMON_H
#define SHMK_BPF_COMMON_H

#define SHMKT_NAME_MAX		64	/* SHMK_NAME_MAX */
#define SHMKT_BACKEND_MAX	16

#define SHMKT_END_DETACH	1	/* SHMK_END_* */
#define SHMKT_END_EXIT		2
#define SHMKT_END_SIGNAL	3
#define SHMKT_END_CLOSE		4
#define SHMKT_EVENT_EXIT	1	/* SHMK_EVENT_EXIT */
#define SHMKT_EVENT_OVERFLOW	2	/* SHMK_EVENT_OVERFLOW */
#define SHMKT_EVENT_F_GUESSED	(1U << 31)	/* libshmk's flag */
#define SHMKT_IOC_WAIT		0x4028b703U	/* SHMK_IOC_WAIT */
#define SHMKT_EBUSY		16

/* struct shmk_event, field for field (48 bytes). */
struct shmkt_event {
	__u32 type;
	__u32 how;
	__u32 member_id;
	__u32 generation;
	__s32 pid;
	__s32 status;
	__u32 flags;
	__u32 pad;
	__u64 time_ns;
	__u64 lost;
	__u64 reserved;
};

/*
 * Where libshmk keeps what the probes read in its process-local handle
 * (struct shmk_arena, lib/core/shmk_int.h). The user side fills these in from
 * offsetof() at build time and hands them to the BPF programs as
 * read-only data.
 */
struct shmkt_lib_layout {
	__u32 arena_id;		/* offsetof(struct shmk_arena, id): u32 */
	__u32 arena_gen;	/* ... gen: u32 */
	__u32 arena_created;	/* ... created: bool */
	__u32 arena_rdonly;	/* ... rdonly: bool */
	__u32 arena_name;	/* ... name: char[SHMK_NAME_MAX] */
	__u32 arena_be;		/* ... be: const struct shmk_be_ops * */
	__u32 be_name;		/* offsetof(struct shmk_be_ops, name) */
	__u32 arena_trace_id;	/* ... trace_id: u64 */
};

/*
 * The flags argument of USDT shmk:send and shmk:recv: the descriptor's
 * flags, and bit 32 for a session's queue, whose descriptors carry the
 * session's kind in bits 8..15 (lib/msg/session_int.h: 1 data, 2 connect, ...,
 * 11 shutdown) and bit 16 on published copies.
 */
#define SHMKT_QF_SESSION	(1ULL << 32)	/* MQ_PROBE_SESSION */
#define SHMKT_KIND(f)		((__u32)(((f) >> 8) & 0xff))
#define SHMKT_K_DATA		1
#define SHMKT_K_MAX		11
#define SHMKT_QF_PUB		(1U << 16)
#define SHMKT_QF_TOKEN		(1U << 0)	/* SHMK_QMSG_TOKEN */
/* shmk:send/recv seq: bit 63 for an entry of an overflow lane. */
#define SHMKT_SEQ_LANE		(1ULL << 63)

/* Arena names the traffic tools learnt from the probes (id -> this). */
struct shmkt_aname {
	char name[SHMKT_NAME_MAX];
	__u32 match;		/* passes -n */
	__u32 pad;
};

/*
 * Module tracepoint records, from /sys/kernel/tracing/events/shmk/<event>/
 * format (the module has no BTF, so they are spelled out here). Every
 * record starts with the 8-byte common header.
 */
struct shmkt_tp_attach {
	__u64 common;
	__u32 arena_id;
	__u32 name_loc;		/* __data_loc: offset (low 16), length */
	__u32 member_id;
	__u32 generation;
	__s32 pid;
	__u8 created;
};

struct shmkt_tp_end {
	__u64 common;
	__u32 arena_id;
	__u32 member_id;
	__u32 generation;
	__u32 how;
	__s32 status;
};

struct shmkt_tp_robust {
	__u64 common;
	__u32 arena_id;
	__u32 member_id;
	__u32 entries;
	__u32 recovered;
};

struct shmkt_tp_wait {
	__u64 common;
	__u32 arena_id;
	__u32 member_id;
	__u64 offset;
	__u32 expected;
	__s32 result;
};

/* syscalls:sys_enter_ioctl / sys_exit_ioctl */
struct shmkt_tp_ioctl_enter {
	__u64 common;
	__s32 nr;
	__u32 pad;
	__u64 fd;
	__u64 cmd;
	__u64 arg;
};

#endif /* SHMK_BPF_COMMON_H */
