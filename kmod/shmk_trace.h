/* SPDX-License-Identifier: GPL-2.0 */
/*
 * shmk tracepoints: /sys/kernel/tracing/events/shmk/.
 * Instantiated in main.c (CREATE_TRACE_POINTS).
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM shmk

#if !defined(_SHMK_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _SHMK_TRACE_H

#include <linux/tracepoint.h>

#include "../uapi/linux/shmk.h"

TRACE_EVENT(shmk_attach,
	    TP_PROTO(u32 arena_id, const char *name, u32 member_id,
		     u32 generation, pid_t pid, bool created),
	    TP_ARGS(arena_id, name, member_id, generation, pid, created),
	    TP_STRUCT__entry(__field(u32, arena_id)
			     __string(name, name)
			     __field(u32, member_id)
			     __field(u32, generation)
			     __field(pid_t, pid)
			     __field(bool, created)),
	    TP_fast_assign(__entry->arena_id = arena_id;
			   __assign_str(name, name);
			   __entry->member_id = member_id;
			   __entry->generation = generation;
			   __entry->pid = pid;
			   __entry->created = created;),
	    TP_printk("arena=%u name=%s member=%u gen=%u pid=%d created=%d",
		      __entry->arena_id, __get_str(name), __entry->member_id,
		      __entry->generation, __entry->pid, __entry->created));

TRACE_EVENT(shmk_end,
	    TP_PROTO(u32 arena_id, u32 member_id, u32 generation, u32 how,
		     s32 status),
	    TP_ARGS(arena_id, member_id, generation, how, status),
	    TP_STRUCT__entry(__field(u32, arena_id)
			     __field(u32, member_id)
			     __field(u32, generation)
			     __field(u32, how)
			     __field(s32, status)),
	    TP_fast_assign(__entry->arena_id = arena_id;
			   __entry->member_id = member_id;
			   __entry->generation = generation;
			   __entry->how = how;
			   __entry->status = status;),
	    TP_printk("arena=%u member=%u gen=%u how=%s status=%d",
		      __entry->arena_id, __entry->member_id, __entry->generation,
		      __print_symbolic(__entry->how,
				       { SHMK_END_DETACH, "detach" },
				       { SHMK_END_EXIT, "exit" },
				       { SHMK_END_SIGNAL, "signal" },
				       { SHMK_END_CLOSE, "close" }),
		      __entry->status));

TRACE_EVENT(shmk_wait,
	    TP_PROTO(u32 arena_id, u32 member_id, u64 offset, u32 expected,
		     int result),
	    TP_ARGS(arena_id, member_id, offset, expected, result),
	    TP_STRUCT__entry(__field(u32, arena_id)
			     __field(u32, member_id)
			     __field(u64, offset)
			     __field(u32, expected)
			     __field(int, result)),
	    TP_fast_assign(__entry->arena_id = arena_id;
			   __entry->member_id = member_id;
			   __entry->offset = offset;
			   __entry->expected = expected;
			   __entry->result = result;),
	    TP_printk("arena=%u member=%u offset=%llu expected=%u result=%d",
		      __entry->arena_id, __entry->member_id, __entry->offset,
		      __entry->expected, __entry->result));

TRACE_EVENT(shmk_wake,
	    TP_PROTO(u32 arena_id, u64 offset, u32 count, u32 woken),
	    TP_ARGS(arena_id, offset, count, woken),
	    TP_STRUCT__entry(__field(u32, arena_id)
			     __field(u64, offset)
			     __field(u32, count)
			     __field(u32, woken)),
	    TP_fast_assign(__entry->arena_id = arena_id;
			   __entry->offset = offset;
			   __entry->count = count;
			   __entry->woken = woken;),
	    TP_printk("arena=%u offset=%llu count=%u woken=%u",
		      __entry->arena_id, __entry->offset, __entry->count,
		      __entry->woken));

TRACE_EVENT(shmk_robust,
	    TP_PROTO(u32 arena_id, u32 member_id, u32 entries, u32 recovered),
	    TP_ARGS(arena_id, member_id, entries, recovered),
	    TP_STRUCT__entry(__field(u32, arena_id)
			     __field(u32, member_id)
			     __field(u32, entries)
			     __field(u32, recovered)),
	    TP_fast_assign(__entry->arena_id = arena_id;
			   __entry->member_id = member_id;
			   __entry->entries = entries;
			   __entry->recovered = recovered;),
	    TP_printk("arena=%u member=%u entries=%u recovered=%u",
		      __entry->arena_id, __entry->member_id, __entry->entries,
		      __entry->recovered));

#endif /* _SHMK_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE shmk_trace
#include <trace/define_trace.h>
