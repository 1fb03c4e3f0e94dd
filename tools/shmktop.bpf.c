// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * shmktop: counters per (arena, member), read by the user side at every
 * interval.
 *
 *  - library source (both backends): every USDT probe of libshmk: send,
 *    recv, queue_full, publish (traffic), wait and wake (sleeps, wakes),
 *    alloc, free, alloc_wait (allocator), attach, detach, end, cleanup
 *    (membership, deaths, reclaims);
 *  - kernel source (kmod): the module's shmk:shmk_attach and shmk_end
 *    tracepoints, which see every member and every death at once, even
 *    with nobody left to read the event; the same death reported by both
 *    sources, or by several survivors, is counted once.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/usdt.bpf.h>
#include "shmktop.h"
#include "shmk_tools.bpf.h"
#include "shmk_traffic.bpf.h"

static const struct tm_member zero_member;
static const struct tm_arena zero_arena;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct tm_key);
	__type(value, struct tm_member);
} members SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct tm_arena);
} arenas SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct tm_key);
	__type(value, struct tm_depth);
} depths SEC(".maps");

/* Processes of members (pid in our namespace) -> 1, then their exit. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __s32);
	__type(value, struct tm_exit);
} procs SEC(".maps");

static const struct tm_exit no_exit = { .code = -1 };

static __always_inline struct tm_member *member_get(__u64 arena, __u32 id)
{
	struct tm_key k = { .arena = arena, .member = id };
	struct tm_member *m = bpf_map_lookup_elem(&members, &k);

	if (m)
		return m;
	bpf_map_update_elem(&members, &k, &zero_member, BPF_NOEXIST);
	return bpf_map_lookup_elem(&members, &k);
}

/* The member that fires the probe: its process is the current one. */
static __always_inline struct tm_member *me(__u64 arena, __u64 name,
					    __u32 id)
{
	struct tm_member *m;
	__s32 pid;

	if (!arena_ok(arena, name))
		return NULL;
	m = member_get(arena, id);
	if (!m)
		return NULL;
	pid = cur_tgid();
	if (m->pid != pid) {
		m->pid = pid;
		bpf_get_current_comm(m->comm, sizeof(m->comm));
		if (pid)
			bpf_map_update_elem(&procs, &pid, &no_exit,
					    BPF_NOEXIST);
	}
	return m;
}

static __always_inline struct tm_arena *arena_get(__u64 arena)
{
	struct tm_arena *a = bpf_map_lookup_elem(&arenas, &arena);

	if (a)
		return a;
	bpf_map_update_elem(&arenas, &arena, &zero_arena, BPF_NOEXIST);
	return bpf_map_lookup_elem(&arenas, &arena);
}

#define ADD(p, v)	__sync_fetch_and_add(&(p), (v))

/*
 * Member @id of generation @gen ended (@how, @status): once per
 * generation, however many reports.
 */
static __always_inline void ended(__u64 arena, __u32 id, __u32 gen,
				  __u32 how, __s32 status, __u32 flags)
{
	struct tm_member *m = member_get(arena, id);
	__u64 old, want = (__u64)gen + 1;
	struct tm_arena *a;

	if (!m)
		return;
	old = m->end_gen1;
	if (old == want ||
	    __sync_val_compare_and_swap(&m->end_gen1, old, want) != old)
		return;
	m->how = how;
	m->status = status;
	m->flags = flags & SHMKT_EVENT_F_GUESSED ? TMF_GUESSED : 0;
	m->state = how == SHMKT_END_DETACH ? TM_LEFT : TM_DEAD;
	if (how != SHMKT_END_DETACH) {
		a = arena_get(arena);
		if (a)
			ADD(a->deaths, 1);
	}
}

/* ---- kernel source ---------------------------------------------------- */

SEC("tracepoint/shmk/shmk_attach")
int tp_attach(struct shmkt_tp_attach *ctx)
{
	struct shmkt_aname n = {};
	__u64 id = ctx->arena_id;
	struct tm_member *m;

	if (skip_arena(id))
		return 0;
	tp_attach_name(ctx, n.name, sizeof(n.name));
	n.match = name_match(n.name);
	bpf_map_update_elem(&anames, &id, &n, BPF_ANY);
	if (!n.match)
		return 0;
	m = member_get(id, ctx->member_id);
	if (!m)
		return 0;
	m->pid = cur_tgid();	/* the attacher */
	bpf_get_current_comm(m->comm, sizeof(m->comm));
	m->gen = ctx->generation;
	m->state = TM_LIVE;
	return 0;
}

SEC("tracepoint/shmk/shmk_end")
int tp_end(struct shmkt_tp_end *ctx)
{
	__u64 id = ctx->arena_id;
	struct shmkt_aname *an;

	if (skip_arena(id))
		return 0;
	an = bpf_map_lookup_elem(&anames, &id);
	if (targ_name[0] && (!an || !an->match))
		return 0;
	ended(id, ctx->member_id, ctx->generation, ctx->how, ctx->status, 0);
	return 0;
}

/* ---- library source: membership ----------------------------------------- */

SEC("usdt")
int BPF_USDT(lib_attach, __u64 arena, __u64 name, __u32 member, __u32 gen,
	     __u64 backend, __u32 flags)
{
	struct tm_member *m = me(arena, name, member);

	if (!m)
		return 0;
	m->gen = gen;
	m->state = TM_LIVE;
	bpf_get_current_comm(m->comm, sizeof(m->comm));
	return 0;
}

SEC("usdt")
int BPF_USDT(lib_detach, __u64 arena, __u64 name, __u32 member, __u32 gen)
{
	struct tm_member *m = me(arena, name, member);

	if (m && m->state != TM_DEAD) {
		m->state = TM_LEFT;
		m->how = SHMKT_END_DETACH;
		m->status = 0;
	}
	return 0;
}

SEC("usdt")
int BPF_USDT(lib_end, __u64 arena, __u64 name, __u32 member, __u32 who,
	     __u32 how, __s32 status, __u32 gen, __s32 pid, __u32 flags)
{
	if (arena_ok(arena, name))
		ended(arena, who, gen, how, status, flags);
	return 0;
}

/*
 * A member's process is going away (its last thread): its exit status,
 * which the user side shows for an end the portable backend guessed.
 */
SEC("tracepoint/sched/sched_process_exit")
int lib_proc_exit(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct tm_exit *x;
	__s32 pid = cur_tgid();

	if (!pid)
		return 0;
	x = bpf_map_lookup_elem(&procs, &pid);
	if (!x || BPF_CORE_READ(task, signal, live.counter))
		return 0;	/* not a member's, or not the last thread */
	x->code = BPF_CORE_READ(task, exit_code);
	return 0;
}

SEC("usdt")
int BPF_USDT(lib_cleanup, __u64 arena, __u64 name, __u32 member,
	     __u32 dead, __u32 gen)
{
	struct tm_member *m;
	struct tm_arena *a;

	if (member == dead || !arena_ok(arena, name))
		return 0;	/* its own, at detach */
	a = arena_get(arena);
	if (a)
		ADD(a->reclaims, 1);
	m = member_get(arena, dead);
	if (m)
		ADD(m->reclaimed, 1);
	return 0;
}

/* ---- library source: waits ----------------------------------------------- */

SEC("usdt")
int BPF_USDT(lib_wait, __u64 arena, __u64 name, __u32 member)
{
	struct tm_member *m = me(arena, name, member);

	if (m)
		ADD(m->sleeps, 1);
	return 0;
}

SEC("usdt")
int BPF_USDT(lib_wake, __u64 arena, __u64 name, __u32 member)
{
	struct tm_member *m = me(arena, name, member);

	if (m)
		ADD(m->wakes, 1);
	return 0;
}

/* ---- library source: allocator ------------------------------------------- */

static __always_inline void heap_seen(__u64 arena, __u64 hfree, __u64 hsize)
{
	struct tm_arena *a = arena_get(arena);

	if (a) {
		a->heap_free = hfree;
		a->heap_size = hsize;
	}
}

SEC("usdt")
int BPF_USDT(lib_alloc, __u64 arena, __u64 name, __u32 member, __u64 size,
	     __u64 bytes, __u64 hfree, __u64 hsize)
{
	struct tm_member *m = me(arena, name, member);

	if (!m)
		return 0;
	ADD(m->allocs, 1);
	ADD(m->alloc_bytes, bytes);
	heap_seen(arena, hfree, hsize);
	return 0;
}

SEC("usdt")
int BPF_USDT(lib_free, __u64 arena, __u64 name, __u32 member, __u64 bytes,
	     __u32 owner, __u64 hfree, __u64 hsize)
{
	struct tm_member *m;

	if (!arena_ok(arena, name))
		return 0;
	heap_seen(arena, hfree, hsize);
	if (!owner)
		return 0;	/* the arena's own (an orphan) */
	m = member_get(arena, owner);
	if (m) {
		ADD(m->frees, 1);
		ADD(m->free_bytes, bytes);
	}
	return 0;
}

SEC("usdt")
int BPF_USDT(lib_alloc_wait, __u64 arena, __u64 name, __u32 member)
{
	struct tm_member *m = me(arena, name, member);

	if (m)
		ADD(m->alloc_waits, 1);
	return 0;
}

/* ---- library source: traffic --------------------------------------------- */

SEC("usdt")
int BPF_USDT(lib_send, __u64 arena, __u64 name, __u32 member, __u32 to,
	     __u64 tag, __u32 len, __u64 depth, __u64 flags)
{
	struct tm_key k = { .arena = arena, .member = to };
	struct tm_member *m;
	struct tm_depth *d, z = {};

	if (!kind_ok(flags, true))
		return 0;
	m = me(arena, name, member);
	if (!m)
		return 0;
	ADD(m->sent, 1);
	ADD(m->sent_bytes, len);
	d = bpf_map_lookup_elem(&depths, &k);
	if (!d) {
		bpf_map_update_elem(&depths, &k, &z, BPF_NOEXIST);
		d = bpf_map_lookup_elem(&depths, &k);
		if (!d)
			return 0;
	}
	if (depth > d->max)
		d->max = depth;		/* racy max: good enough to show */
	d->last = depth;
	ADD(d->sum, depth);
	ADD(d->n, 1);
	return 0;
}

SEC("usdt")
int BPF_USDT(lib_recv, __u64 arena, __u64 name, __u32 member, __u32 from,
	     __u64 tag, __u32 len, __u64 flags)
{
	struct tm_member *m;

	if (!kind_ok(flags, true))
		return 0;
	m = me(arena, name, member);
	if (m) {
		ADD(m->recvd, 1);
		ADD(m->recvd_bytes, len);
	}
	return 0;
}

SEC("usdt")
int BPF_USDT(lib_queue_full, __u64 arena, __u64 name, __u32 member,
	     __u32 to, __u32 wait)
{
	struct tm_member *m = me(arena, name, member);

	if (!m)
		return 0;
	ADD(m->full, 1);
	if (wait)
		ADD(m->full_waits, 1);
	return 0;
}

SEC("usdt")
int BPF_USDT(lib_publish, __u64 arena, __u64 name, __u32 member)
{
	struct tm_member *m = me(arena, name, member);

	if (m)
		ADD(m->publishes, 1);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
