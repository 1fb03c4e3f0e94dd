/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * BPF side shared by shmkexits.bpf.c and shmkwaitlat.bpf.c (after
 * vmlinux.h and the libbpf headers): the filters the user side sets, and
 * the probes on shmk_arena_create/attach that find a new handle (the user
 * side attaches them by name: shmkt_attach_open_probes()). Each tool's
 * object gets its own copy of what is defined here.
 */
#ifndef SHMK_TOOLS_BPF_H
#define SHMK_TOOLS_BPF_H

#include "shmk_bpf_common.h"

const volatile __u32 targ_tgid;		/* -p: 0 for every process */
const volatile __u64 targ_arena;	/* -a: 0 for every arena */
const volatile struct shmkt_lib_layout layout;
/* The tool's pid namespace (stat of /proc/self/ns/pid): pids shown. */
const volatile __u64 pidns_dev;
const volatile __u64 pidns_ino;

/* shmk_arena_create/attach in flight: thread (global tid) -> out pointer. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u64);
} opens SEC(".maps");

/*
 * The current process as the tool's pid namespace numbers it, 0 when it
 * is not visible there (a process of an ancestor or sibling namespace).
 */
static __always_inline __u32 cur_tgid(void)
{
	struct bpf_pidns_info ns = {};

	if (!pidns_ino)
		return bpf_get_current_pid_tgid() >> 32;
	if (bpf_get_ns_current_pid_tgid(pidns_dev, pidns_ino, &ns, sizeof(ns)))
		return 0;
	return ns.tgid;
}

static __always_inline __u32 cur_tid(void)
{
	return (__u32)bpf_get_current_pid_tgid();
}

static __always_inline bool skip_pid(__u32 tgid)
{
	return targ_tgid && tgid != targ_tgid;
}

static __always_inline bool skip_arena(__u64 arena_id)
{
	return targ_arena && arena_id != targ_arena;
}

/* The arena name of a shmk:shmk_attach record (a __data_loc string). */
static __always_inline void tp_attach_name(const struct shmkt_tp_attach *ctx,
					   char *buf, __u32 len)
{
	bpf_probe_read_kernel_str(buf, len,
				  (void *)ctx + (ctx->name_loc & 0xffff));
}

static __always_inline int open_entry(__u64 out)
{
	__u32 tid = cur_tid();

	if (skip_pid(cur_tgid()))
		return 0;
	bpf_map_update_elem(&opens, &tid, &out, BPF_ANY);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(lib_create_entry, const char *name, const void *opts,
	       unsigned int flags, void **out)
{
	return open_entry((__u64)out);
}

SEC("uprobe")
int BPF_KPROBE(lib_attach_entry, const char *name, unsigned int flags,
	       void **out)
{
	return open_entry((__u64)out);
}

/*
 * In the uretprobe on both (lib_open_ret): the address of the handle the
 * call returned, or 0 when it failed or was not seen starting.
 */
static __always_inline __u64 opened_handle(int ret)
{
	__u32 tid = cur_tid();
	__u64 *outp, out, a = 0;

	outp = bpf_map_lookup_elem(&opens, &tid);
	if (!outp)
		return 0;
	out = *outp;
	bpf_map_delete_elem(&opens, &tid);
	if (ret != 0 || !out ||
	    bpf_probe_read_user(&a, sizeof(a), (void *)out))
		return 0;
	return a;
}

#endif /* SHMK_TOOLS_BPF_H */
