// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * shmkwaitlat: how long shmk waits sleep, per arena, as log2 histograms.
 *
 *  - kernel source: syscalls:sys_enter_ioctl with SHMK_IOC_WAIT starts the
 *    clock, the module's shmk:shmk_wait (at the end of the wait, with its
 *    result) stops it, sys_exit_ioctl forgets a wait that failed before
 *    reaching the module's tracepoint; shmk:shmk_attach names arenas;
 *  - library source: USDT shmk:wait and shmk:wait_done around every wait
 *    of libshmk's backends (either backend), uretprobes on
 *    shmk_arena_create/attach to name the arena of a (process, member).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/usdt.bpf.h>
#include "shmkwaitlat.h"
#include "shmk_tools.bpf.h"

const volatile bool per_member;		/* -M: a histogram per member */
const volatile bool millis;		/* -m: buckets of ms, else us */

static const struct wl_hist zero_hist;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct wl_key);
	__type(value, struct wl_hist);
} hists SEC(".maps");

struct start {
	__u64 ts;
	__u32 member_id;
	__u32 pad;
};

/* Waits in progress, per source: thread -> start. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct start);
} kstarts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct start);
} lstarts SEC(".maps");

/* Kernel: arena id -> name, from shmk_attach. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, char[SHMKT_NAME_MAX]);
} knames SEC(".maps");

/* Library: (tgid, member id) -> arena name, from create/attach. */
struct lkey {
	__u32 tgid;
	__u32 member_id;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct lkey);
	__type(value, char[SHMKT_NAME_MAX]);
} lnames SEC(".maps");

/* Index of the highest set bit (0 for 0 and 1). */
static __always_inline __u32 log2_u64(__u64 v)
{
	__u32 r = 0, shift;

	shift = (v > 0xffffffffULL) << 5; v >>= shift; r |= shift;
	shift = (v > 0xffff) << 4; v >>= shift; r |= shift;
	shift = (v > 0xff) << 3; v >>= shift; r |= shift;
	shift = (v > 0xf) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	r |= (v >> 1);
	return r;
}

static __always_inline __u32 classify(int result)
{
	switch (result) {
	case 0:
		return WL_RES_WOKEN;
	case 1:
		return WL_RES_EVENT;
	case -SHMKT_ETIMEDOUT:
		return WL_RES_TIMEDOUT;
	case -SHMKT_EAGAIN:
		return WL_RES_AGAIN;
	case -SHMKT_EINTR:
		return WL_RES_INTR;
	default:
		return WL_RES_OTHER;
	}
}

static __always_inline void account(struct wl_key *k, __u64 delta_ns,
				    int result)
{
	struct wl_hist *h;
	__u64 slot, res;

	h = bpf_map_lookup_elem(&hists, k);
	if (!h) {
		bpf_map_update_elem(&hists, k, &zero_hist, BPF_NOEXIST);
		h = bpf_map_lookup_elem(&hists, k);
		if (!h)
			return;
	}
	slot = log2_u64(millis ? delta_ns / 1000000 : delta_ns / 1000);
	/*
	 * Keep the bound checks the compiler would prove away: older
	 * verifiers (6.1) cannot follow them through its rewrites.
	 */
	asm volatile("" : "+r"(slot));
	if (slot >= WL_SLOTS)
		slot = WL_SLOTS - 1;
	__sync_fetch_and_add(&h->slots[slot], 1);
	__sync_fetch_and_add(&h->count, 1);
	__sync_fetch_and_add(&h->total_ns, delta_ns);
	if (delta_ns > h->max_ns)
		h->max_ns = delta_ns;	/* racy max: good enough to show */
	res = classify(result);
	asm volatile("" : "+r"(res));
	if (res < WL_NRES)
		__sync_fetch_and_add(&h->results[res], 1);
}

/*
 * The wait of thread @tid, started in @starts, has ended: how long it
 * took into *@delta, and forgotten. False if its start was not seen.
 */
static __always_inline bool wait_ended(void *starts, __u32 tid, __u64 *delta)
{
	struct start *s = bpf_map_lookup_elem(starts, &tid);

	if (!s)
		return false;
	*delta = bpf_ktime_get_ns() - s->ts;
	bpf_map_delete_elem(starts, &tid);
	return true;
}

/* ---- kernel source -------------------------------------------------- */

SEC("tracepoint/shmk/shmk_attach")
int tp_attach(struct shmkt_tp_attach *ctx)
{
	char name[SHMKT_NAME_MAX] = {};
	__u32 id = ctx->arena_id;

	tp_attach_name(ctx, name, sizeof(name));
	bpf_map_update_elem(&knames, &id, name, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_ioctl")
int tp_ioctl_enter(struct shmkt_tp_ioctl_enter *ctx)
{
	struct start s = {};
	__u32 tid = cur_tid();

	if ((__u32)ctx->cmd != SHMKT_IOC_WAIT || skip_pid(cur_tgid()))
		return 0;
	s.ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&kstarts, &tid, &s, BPF_ANY);
	return 0;
}

SEC("tracepoint/shmk/shmk_wait")
int tp_wait(struct shmkt_tp_wait *ctx)
{
	__u32 id = ctx->arena_id;
	struct wl_key k = {};
	char *name;
	__u64 delta;

	if (!wait_ended(&kstarts, cur_tid(), &delta) || skip_arena(id))
		return 0;
	k.src = WL_SRC_KERNEL;
	k.arena_id = id;
	if (per_member) {
		k.pid = cur_tgid();
		k.member_id = ctx->member_id;
	}
	name = bpf_map_lookup_elem(&knames, &id);
	if (name)
		__builtin_memcpy(k.name, name, sizeof(k.name));
	account(&k, delta, ctx->result);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_ioctl")
int tp_ioctl_exit(void *ctx)
{
	__u32 tid = cur_tid();

	bpf_map_delete_elem(&kstarts, &tid);
	return 0;
}

/* ---- library source ------------------------------------------------- */

/* The arena name of a new (process, member): lib_*_entry are shared. */
SEC("uretprobe")
int BPF_KRETPROBE(lib_open_ret, int ret)
{
	char name[SHMKT_NAME_MAX] = {};
	struct lkey k = { .tgid = cur_tgid() };
	__u64 a = opened_handle(ret);

	if (!a)
		return 0;
	bpf_probe_read_user(&k.member_id, sizeof(k.member_id),
			    (void *)(a + layout.arena_id));
	bpf_probe_read_user_str(name, sizeof(name),
				(void *)(a + layout.arena_name));
	bpf_map_update_elem(&lnames, &k, name, BPF_ANY);
	return 0;
}

SEC("usdt")
int BPF_USDT(lib_wait, long arena, long aname, long member, long off,
	     long expected, long timeout)
{
	struct start s = { .member_id = (__u32)member };
	__u32 tid = cur_tid();

	if (skip_pid(cur_tgid()))
		return 0;
	s.ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&lstarts, &tid, &s, BPF_ANY);
	return 0;
}

SEC("usdt")
int BPF_USDT(lib_wait_done, long arena, long aname, long member, long off,
	     long result)
{
	struct lkey lk = { .tgid = cur_tgid(), .member_id = (__u32)member };
	struct wl_key k = {};
	char *name;
	__u64 delta;

	if (!wait_ended(&lstarts, cur_tid(), &delta))
		return 0;
	k.src = WL_SRC_LIB;
	name = bpf_map_lookup_elem(&lnames, &lk);
	if (name)
		__builtin_memcpy(k.name, name, sizeof(k.name));
	if (per_member || !name) {
		k.pid = lk.tgid;
		k.member_id = lk.member_id;
	}
	account(&k, delta, (int)result);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
