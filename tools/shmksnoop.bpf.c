// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * shmksnoop: every message as it is received, matched with its send.
 *
 * USDT shmk:send (which fires before the descriptor is published) keeps
 * who sent it, when and how deep the queue was, under (arena, queue,
 * seq); USDT shmk:recv takes that back and sends one record to the user
 * side. USDT shmk:publish is one record with its fan-out. Messages do not
 * go through the kernel on either backend: there is no kernel source.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>
#include "shmksnoop.h"
#include "shmk_tools.bpf.h"
#include "shmk_traffic.bpf.h"

const volatile __u64 targ_tag;		/* -t, with targ_tag_set */
const volatile bool targ_tag_set;
const volatile __u64 targ_min_ns;	/* -L: minimum latency */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} events SEC(".maps");

/* Records the ring buffer had no room for (index 0). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

struct msg_key {
	__u64 arena;
	__u64 queue;
	__u64 seq;
};

struct sent {
	__u64 ts;
	__u64 depth;
	__u32 from;
	__s32 pid;
	char comm[SN_COMM_LEN];
};

/* Sent, not yet received. LRU: what is never received ages out. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct msg_key);
	__type(value, struct sent);
} inflight SEC(".maps");

/*
 * The user side is woken only once this much is waiting; it also polls
 * every 100 ms. One wake-up per few hundred messages instead of one each:
 * on a busy pair the wake-ups of the reader cost more than the probes.
 */
#define SN_WAKE_BYTES	(64 * 1024)

static __always_inline __u64 rb_flags(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= SN_WAKE_BYTES ?
		BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

static __always_inline bool tag_ok(__u64 tag)
{
	return !targ_tag_set || tag == targ_tag;
}

static __always_inline struct sn_event *ev_new(__u32 type)
{
	struct sn_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	__u32 zero = 0;
	__u64 *n;

	if (!e) {
		n = bpf_map_lookup_elem(&lost, &zero);
		if (n)
			(*n)++;
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts = bpf_ktime_get_ns();
	e->type = type;
	return e;
}

SEC("usdt")
int BPF_USDT(lib_send, __u64 arena, __u64 name, __u32 member, __u32 to,
	     __u64 tag, __u32 len, __u64 depth, __u64 flags, __u64 queue,
	     __u64 seq)
{
	struct msg_key k = { .arena = arena, .queue = queue, .seq = seq };
	struct sent s = {};

	if (!kind_ok(flags, false) || !member_ok(member, to) || !tag_ok(tag) ||
	    !arena_ok(arena, name))
		return 0;
	s.ts = bpf_ktime_get_ns();
	s.depth = depth;
	s.from = member;
	s.pid = cur_tgid();
	bpf_get_current_comm(s.comm, sizeof(s.comm));
	bpf_map_update_elem(&inflight, &k, &s, BPF_ANY);
	return 0;
}

SEC("usdt")
int BPF_USDT(lib_recv, __u64 arena, __u64 name, __u32 member, __u32 from,
	     __u64 tag, __u32 len, __u64 flags, __u64 queue, __u64 seq)
{
	struct msg_key k = { .arena = arena, .queue = queue, .seq = seq };
	__u64 now = bpf_ktime_get_ns(), lat = 0;
	struct sn_event *e;
	struct sent *s;
	__s32 pid;

	if (!kind_ok(flags, false) || !member_ok(member, from) ||
	    !tag_ok(tag) || !arena_ok(arena, name))
		return 0;
	s = bpf_map_lookup_elem(&inflight, &k);
	if (s && s->from != from)
		s = NULL;	/* a record of another message there */
	if (s)
		lat = now - s->ts;
	pid = cur_tgid();
	if ((targ_min_ns && (!s || lat < targ_min_ns)) ||
	    (targ_tgid && pid != (__s32)targ_tgid &&
	     (!s || s->pid != (__s32)targ_tgid)))
		goto out;
	e = ev_new(SN_MSG);
	if (!e)
		goto out;
	e->ts = now;
	e->arena = arena;
	e->tag = tag;
	e->queue = queue;
	e->seq = seq;
	e->flags = flags;
	e->len = len;
	e->from = from;
	e->to = member;
	e->to_pid = pid;
	bpf_get_current_comm(e->to_comm, sizeof(e->to_comm));
	if (s) {
		e->info = SNI_SENT;
		e->latency_ns = lat;
		e->depth = s->depth;
		e->from_pid = s->pid;
		__builtin_memcpy(e->from_comm, s->comm, sizeof(e->from_comm));
	}
	bpf_ringbuf_submit(e, rb_flags());
out:
	bpf_map_delete_elem(&inflight, &k);
	return 0;
}

SEC("usdt")
int BPF_USDT(lib_publish, __u64 arena, __u64 name, __u32 member,
	     __u32 topic, __u32 fanout, __u32 len, __u64 tag, __u32 skipped)
{
	struct sn_event *e;
	__s32 pid;

	if (targ_min_ns || (targ_member && member != targ_member) ||
	    !tag_ok(tag) || !arena_ok(arena, name))
		return 0;
	pid = cur_tgid();
	if (targ_tgid && pid != (__s32)targ_tgid)
		return 0;
	e = ev_new(SN_PUB);
	if (!e)
		return 0;
	e->arena = arena;
	e->tag = tag;
	e->len = len;
	e->from = member;
	e->from_pid = pid;
	e->info = SNI_SENT;
	e->topic = topic;
	e->fanout = fanout;
	e->skipped = skipped;
	bpf_get_current_comm(e->from_comm, sizeof(e->from_comm));
	bpf_ringbuf_submit(e, rb_flags());
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
