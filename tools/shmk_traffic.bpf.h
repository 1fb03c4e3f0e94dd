/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * BPF side shared by the traffic tools, shmksnoop.bpf.c and shmktop.bpf.c
 * (after shmk_tools.bpf.h): the filters on arena name, member and kind of
 * message, and the arena names learnt from the probes' name argument, so
 * that arenas attached before the tool started are named too.
 */
#ifndef SHMK_TRAFFIC_BPF_H
#define SHMK_TRAFFIC_BPF_H

const volatile char targ_name[SHMKT_NAME_MAX];	/* -n: "" for every name */
const volatile __u32 targ_member;	/* -e: 0 for every member */
const volatile bool targ_all;		/* -A: control messages too */

/* Arena id -> its name and whether it passes -n. Read by the user side. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct shmkt_aname);
} anames SEC(".maps");

static __always_inline bool name_match(const char *n)
{
	int i;

	if (!targ_name[0])
		return true;
	for (i = 0; i < SHMKT_NAME_MAX; i++) {
		if (n[i] != targ_name[i])
			return false;
		if (!n[i])
			break;
	}
	return true;
}

/*
 * Does arena @id pass -a and -n? The first time it is seen its name is
 * read from @uname (the probe's name argument, in the traced process)
 * and kept; a failed read is tried again next time.
 */
static __always_inline bool arena_ok(__u64 id, __u64 uname)
{
	struct shmkt_aname *an, n = {};

	if (!id || skip_arena(id))
		return false;	/* 0: waits while the arena is being opened */
	an = bpf_map_lookup_elem(&anames, &id);
	if (an)
		return an->match;
	if (bpf_probe_read_user_str(n.name, sizeof(n.name),
				    (const void *)uname) <= 0)
		return !targ_name[0];
	n.match = name_match(n.name);
	bpf_map_update_elem(&anames, &id, &n, BPF_NOEXIST);
	return n.match;
}

/*
 * Is a descriptor with probe flags @f traffic to show? Every descriptor
 * of a plain queue is; of a session's queue, data only (published copies
 * when @pub), unless -A.
 */
static __always_inline bool kind_ok(__u64 f, bool pub)
{
	if (targ_all || !(f & SHMKT_QF_SESSION))
		return true;
	if (SHMKT_KIND(f) != SHMKT_K_DATA)
		return false;
	return pub || !(f & SHMKT_QF_PUB);
}

/* -e: either end is the member. */
static __always_inline bool member_ok(__u32 a, __u32 b)
{
	return !targ_member || a == targ_member || b == targ_member;
}

#endif /* SHMK_TRAFFIC_BPF_H */
