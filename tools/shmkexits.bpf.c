// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * shmkexits: membership timeline of shmk arenas.
 *
 * Two sources, each enabled by the user side:
 *  - kernel: the module's tracepoints shmk:shmk_attach, shmk_end and
 *    shmk_robust (the module has no BTF: the records are described by
 *    hand in shmk_bpf_common.h);
 *  - library: uprobes on libshmk's shmk_arena_create/attach/detach/events,
 *    the USDT probe shmk:cleanup, and sched_process_exit for processes
 *    seen attaching (the portable backend has no kernel side at all).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/usdt.bpf.h>
#include "shmkexits.h"
#include "shmk_tools.bpf.h"

#define MAX_EVENTS_READ	16	/* records looked at per shmk_arena_events() */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* Kernel memberships seen attaching: who they are, for shmk_end. */
struct kkey {
	__u32 arena_id;
	__u32 member_id;
};

struct kval {
	__s32 pid;
	__u32 generation;
	char name[SHMKT_NAME_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct kkey);
	__type(value, struct kval);
} kmembers SEC(".maps");

/* shmk_arena_detach in flight: thread -> the event it will report. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct exit_event);
} detaches SEC(".maps");

/* shmk_arena_events in flight: thread -> its arguments. */
struct evargs {
	__u64 handle;
	__u64 buf;
	__u32 n;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct evargs);
} evcalls SEC(".maps");

/* Processes that attached through the library: tgid -> 1. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u8);
} lpids SEC(".maps");

/* Scratch space for building a detach event (too big for the stack). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct exit_event);
} scratch SEC(".maps");

/* A zeroed record of @kind in the ring buffer, stamped now; NULL if full. */
static __always_inline struct exit_event *ev_new(__u32 kind)
{
	struct exit_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e)
		return NULL;
	__builtin_memset(e, 0, sizeof(*e));
	e->ts = bpf_ktime_get_ns();
	e->kind = kind;
	return e;
}

/* ---- kernel: module tracepoints ------------------------------------ */

/* A record of @kind about kernel member @k; NULL if full. */
static __always_inline struct exit_event *kev_new(__u32 kind,
						  const struct kkey *k)
{
	struct exit_event *e = ev_new(kind);

	if (!e)
		return NULL;
	e->arena_id = k->arena_id;
	e->member_id = k->member_id;
	__builtin_memcpy(e->backend, "kmod", 5);
	return e;
}

/* Sent unless -p filters out the member's process. */
static __always_inline void kev_submit(struct exit_event *e)
{
	if (skip_pid(e->pid))
		bpf_ringbuf_discard(e, 0);
	else
		bpf_ringbuf_submit(e, 0);
}

SEC("tracepoint/shmk/shmk_attach")
int tp_attach(struct shmkt_tp_attach *ctx)
{
	struct kkey k = { .arena_id = ctx->arena_id,
			  .member_id = ctx->member_id };
	struct kval v = {};
	struct exit_event *e;

	if (skip_arena(ctx->arena_id))
		return 0;
	v.pid = cur_tgid();	/* the attacher, in our pid namespace */
	v.generation = ctx->generation;
	tp_attach_name(ctx, v.name, sizeof(v.name));
	/* Remembered even when filtered by pid: a later end needs it. */
	bpf_map_update_elem(&kmembers, &k, &v, BPF_ANY);
	if (skip_pid(v.pid))
		return 0;

	e = kev_new(EV_K_ATTACH, &k);
	if (!e)
		return 0;
	e->generation = ctx->generation;
	e->pid = v.pid;
	e->flags = ctx->created ? XF_CREATED : 0;
	__builtin_memcpy(e->name, v.name, sizeof(e->name));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* Who member @k is: from its attach, else the current process. */
static __always_inline void fill_member(struct exit_event *e,
					const struct kkey *k)
{
	struct kval *v = bpf_map_lookup_elem(&kmembers, k);

	if (v) {
		e->pid = v->pid;
		__builtin_memcpy(e->name, v->name, sizeof(e->name));
	} else {
		e->pid = cur_tgid();
		e->flags |= XF_PID_GUESS;
	}
}

SEC("tracepoint/shmk/shmk_end")
int tp_end(struct shmkt_tp_end *ctx)
{
	struct kkey k = { .arena_id = ctx->arena_id,
			  .member_id = ctx->member_id };
	struct exit_event *e;

	if (skip_arena(ctx->arena_id))
		goto out;
	e = kev_new(EV_K_END, &k);
	if (!e)
		goto out;
	e->generation = ctx->generation;
	e->how = ctx->how;
	e->status = ctx->status;
	fill_member(e, &k);
	kev_submit(e);
out:
	bpf_map_delete_elem(&kmembers, &k);
	return 0;
}

SEC("tracepoint/shmk/shmk_robust")
int tp_robust(struct shmkt_tp_robust *ctx)
{
	struct kkey k = { .arena_id = ctx->arena_id,
			  .member_id = ctx->member_id };
	struct kval *v;
	struct exit_event *e;

	if (skip_arena(ctx->arena_id))
		return 0;
	e = kev_new(EV_K_ROBUST, &k);
	if (!e)
		return 0;
	e->entries = ctx->entries;
	e->recovered = ctx->recovered;
	fill_member(e, &k);
	v = bpf_map_lookup_elem(&kmembers, &k);
	if (v)
		e->generation = v->generation;
	kev_submit(e);
	return 0;
}

/* ---- library: uprobes, USDT ----------------------------------------- */

/* Member id, generation, name and backend of the handle at @a. */
static __always_inline void read_handle(struct exit_event *e, __u64 a)
{
	__u64 be = 0, bname = 0;

	bpf_probe_read_user(&e->member_id, sizeof(e->member_id),
			    (void *)(a + layout.arena_id));
	bpf_probe_read_user(&e->generation, sizeof(e->generation),
			    (void *)(a + layout.arena_gen));
	bpf_probe_read_user_str(e->name, sizeof(e->name),
				(void *)(a + layout.arena_name));
	bpf_probe_read_user(&be, sizeof(be), (void *)(a + layout.arena_be));
	if (be) {
		bpf_probe_read_user(&bname, sizeof(bname),
				    (void *)(be + layout.be_name));
		if (bname)
			bpf_probe_read_user_str(e->backend,
						sizeof(e->backend),
						(void *)bname);
	}
	e->handle = a;
}

SEC("uretprobe")
int BPF_KRETPROBE(lib_open_ret, int ret)
{
	__u32 tgid = cur_tgid();
	struct exit_event *e;
	__u64 a = opened_handle(ret);
	__u8 one = 1, created = 0;

	if (!a)
		return 0;
	bpf_map_update_elem(&lpids, &tgid, &one, BPF_ANY);

	e = ev_new(EV_L_ATTACH);
	if (!e)
		return 0;
	e->pid = tgid;
	read_handle(e, a);
	bpf_probe_read_user(&created, sizeof(created),
			    (void *)(a + layout.arena_created));
	if (created)
		e->flags |= XF_CREATED;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(lib_detach_entry, void *a)
{
	__u32 tid = cur_tid(), zero = 0;
	struct exit_event *e;

	if (!a || skip_pid(cur_tgid()))
		return 0;
	e = bpf_map_lookup_elem(&scratch, &zero);
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	e->kind = EV_L_DETACH;
	e->pid = cur_tgid();
	e->how = SHMKT_END_DETACH;
	read_handle(e, (__u64)a);
	bpf_map_update_elem(&detaches, &tid, e, BPF_ANY);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(lib_detach_ret, int ret)
{
	__u32 tid = cur_tid();
	struct exit_event *e;

	e = bpf_map_lookup_elem(&detaches, &tid);
	if (!e)
		return 0;
	/* -EBUSY: it still holds a lock and nothing was done. */
	if (ret != -SHMKT_EBUSY) {
		e->ts = bpf_ktime_get_ns();
		bpf_ringbuf_output(&events, e, sizeof(*e), 0);
	}
	bpf_map_delete_elem(&detaches, &tid);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(lib_events_entry, void *a, void *buf, unsigned int n)
{
	struct evargs args = { .handle = (__u64)a, .buf = (__u64)buf, .n = n };
	__u32 tid = cur_tid();

	if (!a || !buf || !n)
		return 0;
	bpf_map_update_elem(&evcalls, &tid, &args, BPF_ANY);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(lib_events_ret, int ret)
{
	__u32 tid = cur_tid(), i;
	struct shmkt_event ev;
	struct exit_event *e;
	struct evargs args, *ap;

	ap = bpf_map_lookup_elem(&evcalls, &tid);
	if (!ap)
		return 0;
	args = *ap;
	bpf_map_delete_elem(&evcalls, &tid);

	for (i = 0; i < MAX_EVENTS_READ; i++) {
		if ((int)i >= ret || i >= args.n)
			break;
		if (bpf_probe_read_user(&ev, sizeof(ev),
					(void *)(args.buf + i * sizeof(ev))))
			break;
		if (ev.type != SHMKT_EVENT_EXIT || skip_pid(ev.pid))
			continue;
		e = ev_new(EV_L_EXIT);
		if (!e)
			break;
		read_handle(e, args.handle);
		e->observer_id = e->member_id;
		e->observer_pid = cur_tgid();
		e->member_id = ev.member_id;
		e->generation = ev.generation;
		e->pid = ev.pid;
		e->how = ev.how;
		e->status = ev.status;
		if (ev.flags & SHMKT_EVENT_F_GUESSED)
			e->flags |= XF_GUESSED;
		bpf_ringbuf_submit(e, 0);
	}
	return 0;
}

SEC("usdt")
int BPF_USDT(lib_cleanup, long arena, long name, long helper, long dead,
	     long gen)
{
	struct exit_event *e;

	e = ev_new(EV_L_CLEANUP);
	if (!e)
		return 0;
	e->observer_pid = cur_tgid();
	e->observer_id = (__u32)helper;
	e->member_id = (__u32)dead;
	e->generation = (__u32)gen;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/*
 * A process that attached through the library is going away: its last
 * thread passes here before its files are closed. The user side turns
 * this into an end for each membership it still has (exact how and
 * status, which the portable backend can only guess for non-children).
 */
SEC("tracepoint/sched/sched_process_exit")
int lib_proc_exit(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 tgid = cur_tgid();
	struct exit_event *e;

	if (!bpf_map_lookup_elem(&lpids, &tgid))
		return 0;
	if (BPF_CORE_READ(task, signal, live.counter))
		return 0;	/* not the last thread */
	bpf_map_delete_elem(&lpids, &tgid);
	e = ev_new(EV_L_PROCEXIT);
	if (!e)
		return 0;
	e->pid = tgid;
	e->status = BPF_CORE_READ(task, exit_code);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
