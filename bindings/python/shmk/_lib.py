# SPDX-License-Identifier: MIT
"""Loading libshmk and its C declarations (ctypes), mirroring shmk.h,
shmk_msg.h and linux/shmk.h. tests/python/t_layout.py checks every
structure and constant here against the C headers."""

import ctypes
import os
from ctypes import (POINTER, c_char_p, c_double, c_int, c_int32, c_int64,
                    c_size_t, c_uint, c_uint32, c_uint64, c_void_p)

# ---------------------------------------------------------------- loading


def _candidates():
    env = os.environ.get("SHMK_LIBRARY")
    if env:
        return [env]
    out = []
    # In the source tree: bindings/python/shmk/ -> lib/libshmk.so.
    here = os.path.dirname(os.path.abspath(__file__))
    top = os.path.dirname(os.path.dirname(os.path.dirname(here)))
    tree = os.path.join(top, "lib", "libshmk.so")
    if os.path.exists(os.path.join(top, "lib", "libshmk.map")):
        out.append(tree)
    # Installed: the dynamic loader's search path.
    out.append("libshmk.so.0")
    return out


def _load():
    errors = []
    for path in _candidates():
        try:
            return ctypes.CDLL(path, use_errno=False), path
        except OSError as e:
            errors.append("%s: %s" % (path, e))
    raise ImportError("shmk: cannot load libshmk (set SHMK_LIBRARY to the "
                      "path of libshmk.so.0): " + "; ".join(errors))


lib, lib_path = _load()

# ---------------------------------------------------------------- constants

SHMK_OPEN_EXCL = 1 << 0
SHMK_OPEN_PERSISTENT = 1 << 1
SHMK_OPEN_RDONLY = 1 << 2
SHMK_OPEN_KMOD = 1 << 8
SHMK_OPEN_PORTABLE = 1 << 9
SHMK_OFF_NONE = (1 << 64) - 1
SHMK_ROOTS = 16
SHMK_EVENT_F_GUESSED = 1 << 31
SHMK_STATUS_UNKNOWN = -1
SHMK_ALLOC_WAIT = 1 << 0
SHMK_ALLOC_RESERVE = 1 << 1
SHMK_ALLOC_LONG = 1 << 2
SHMK_ALLOC_ZERO = 1 << 3
SHMK_CHECK_REFS = 1 << 0
SHMK_WAIT_NO_EVENTS = 1 << 1
SHMK_WAIT_EVENT = 1
SHMK_WAKE_ALL = 0xffffffff
SHMK_EVENT_EXIT = 1
SHMK_EVENT_OVERFLOW = 2
SHMK_END_DETACH = 1
SHMK_END_EXIT = 2
SHMK_END_SIGNAL = 3
SHMK_END_CLOSE = 4
SHMK_EVENT_F_CRASH = 1 << 0
SHMK_QUEUE_UNBOUNDED = 1 << 0
SHMK_QMSG_TOKEN = 1 << 0
SHMK_QSEND_WAIT = 1 << 0
SHMK_FEAT_PUBLISH = 1 << 0
SHMK_FEAT_HOT_RESTART = 1 << 1
SHMK_FEAT_UNBOUNDED = 1 << 2
SHMK_SERVER_TAKEOVER = 1 << 0
SHMK_SERVER_UNBOUNDED = 1 << 1
SHMK_CLIENT_BOUNDED = 1 << 0
SHMK_CLIENT_NO_RECONNECT = 1 << 1
SHMK_CLIENT_WAIT_SERVER = 1 << 2
SHMK_PEER_SERVER = 0
SHMK_SEND_WAIT = 1 << 0
SHMK_SEND_KEEP = 1 << 1
SHMK_MSG_DATA = 1
SHMK_EV_CONNECTED = 2
SHMK_EV_DISCONNECTED = 3
SHMK_EV_PEER_CRASHED = 4
SHMK_EV_SERVER_GONE = 5
SHMK_EV_SERVER_BACK = 6
SHMK_EV_SERVER_MOVED = 7
SHMK_EV_HANDED_OVER = 8
SHMK_EV_OVERFLOW = 9
SHMK_MSGF_PUBLISHED = 1 << 0
SHMK_MSGF_GUESSED = 1 << 1

# ---------------------------------------------------------------- structs


class ArenaOpts(ctypes.Structure):
    _fields_ = [("size", c_uint64), ("mode", c_uint32),
                ("max_members", c_uint32), ("refs_per_member", c_uint32),
                ("reserve_bytes", c_uint32), ("reserved", c_uint64 * 4)]


class ArenaInfo(ctypes.Structure):
    _fields_ = [("base", c_void_p), ("size", c_uint64),
                ("member_id", c_uint32), ("generation", c_uint32),
                ("member_max", c_uint32), ("created", c_uint32),
                ("heap_offset", c_uint64), ("heap_size", c_uint64),
                ("refs_per_member", c_uint32), ("reserve_bytes", c_uint32),
                ("backend", c_char_p), ("reserved", c_uint64 * 8)]


class Event(ctypes.Structure):
    _fields_ = [("type", c_uint32), ("how", c_uint32),
                ("member_id", c_uint32), ("generation", c_uint32),
                ("pid", c_int32), ("status", c_int32), ("flags", c_uint32),
                ("pad", c_uint32), ("time_ns", c_uint64), ("lost", c_uint64),
                ("reserved", c_uint64)]


class AllocStats(ctypes.Structure):
    _fields_ = [("heap_bytes", c_uint64), ("free_bytes", c_uint64),
                ("free_page_bytes", c_uint64), ("used_bytes", c_uint64),
                ("largest_free", c_uint64), ("reserve_bytes", c_uint64),
                ("chunk_bytes", c_uint64), ("blocks", c_uint32),
                ("buffers", c_uint32), ("waiters", c_uint32),
                ("pad", c_uint32), ("fragmentation", c_double),
                ("reserved", c_uint64 * 8)]


class BufInfo(ctypes.Structure):
    _fields_ = [("offset", c_uint64), ("data_offset", c_uint64),
                ("len", c_uint64), ("headroom", c_uint64),
                ("tailroom", c_uint64), ("refcount", c_uint32),
                ("pad", c_uint32), ("reserved", c_uint64 * 4)]


class QMsg(ctypes.Structure):
    _fields_ = [("val", c_uint64), ("tag", c_uint64), ("len", c_uint32),
                ("flags", c_uint32), ("sender", c_uint32),
                ("sender_gen", c_uint32)]


class QueueOpts(ctypes.Structure):
    _fields_ = [("capacity", c_uint32), ("flags", c_uint32),
                ("lanes", c_uint32), ("block_bytes", c_uint32),
                ("spare_blocks", c_uint32), ("spin_ns", c_uint32),
                ("reserved", c_uint64 * 2)]


class ServerOpts(ctypes.Structure):
    _fields_ = [("arena_size", c_uint64), ("mode", c_uint32),
                ("max_clients", c_uint32), ("refs_per_member", c_uint32),
                ("queue_capacity", c_uint32), ("flags", c_uint32),
                ("root", c_uint32), ("features", c_uint64),
                ("required", c_uint64), ("proto_version", c_uint32),
                ("open_flags", c_uint32), ("handover_timeout_ns", c_int64),
                ("spin_ns", c_uint32), ("pad", c_uint32),
                ("reserved", c_uint64 * 3)]


class ClientOpts(ctypes.Structure):
    _fields_ = [("queue_capacity", c_uint32), ("flags", c_uint32),
                ("root", c_uint32), ("proto_version", c_uint32),
                ("features", c_uint64), ("required", c_uint64),
                ("open_flags", c_uint32), ("spin_ns", c_uint32),
                ("reserved", c_uint64 * 4)]


class Msg(ctypes.Structure):
    _fields_ = [("type", c_uint32), ("flags", c_uint32), ("peer", c_uint32),
                ("peer_gen", c_uint32), ("ref", c_uint32), ("how", c_uint32),
                ("tag", c_uint64), ("status", c_int32), ("len", c_uint32),
                ("time_ns", c_uint64), ("reserved", c_uint64 * 2)]


class SessionInfo(ctypes.Structure):
    _fields_ = [("is_server", c_uint32), ("connected", c_uint32),
                ("server_id", c_uint32), ("server_gen", c_uint32),
                ("clients", c_uint32), ("max_clients", c_uint32),
                ("features", c_uint64), ("proto_version", c_uint32),
                ("incarnation", c_uint32), ("sent", c_uint64),
                ("received", c_uint64), ("dropped", c_uint64),
                ("publish_skipped", c_uint64), ("wakes", c_uint64),
                ("sleeps", c_uint64), ("reserved", c_uint64 * 8)]


# The structs t_layout.py compares with C: Python name -> C struct name.
STRUCTS = {
    "ArenaOpts": "shmk_arena_opts", "ArenaInfo": "shmk_arena_info",
    "Event": "shmk_event", "AllocStats": "shmk_alloc_stats",
    "BufInfo": "shmk_buf_info", "QMsg": "shmk_qmsg",
    "QueueOpts": "shmk_queue_opts", "ServerOpts": "shmk_server_opts",
    "ClientOpts": "shmk_client_opts", "Msg": "shmk_msg",
    "SessionInfo": "shmk_session_info",
}

# ---------------------------------------------------------------- functions

P = POINTER
_u64p = P(c_uint64)
_u32p = P(c_uint32)
_vpp = P(c_void_p)
_A = c_void_p        # struct shmk_arena *
_S = c_void_p        # struct shmk_session *
_Q = c_void_p        # struct shmk_queue *

_PROTOS = {
    "shmk_version": (c_char_p, []),
    "shmk_arena_create": (c_int, [c_char_p, P(ArenaOpts), c_uint, _vpp]),
    "shmk_arena_attach": (c_int, [c_char_p, c_uint, _vpp]),
    "shmk_arena_detach": (c_int, [_A]),
    "shmk_arena_remove": (c_int, [c_char_p, c_uint]),
    "shmk_arena_error": (c_char_p, [_A]),
    "shmk_arena_info": (c_int, [_A, P(ArenaInfo)]),
    "shmk_arena_ptr": (c_void_p, [_A, c_uint64]),
    "shmk_arena_off": (c_uint64, [_A, c_void_p]),
    "shmk_arena_root": (c_int, [_A, c_uint, _u64p]),
    "shmk_arena_member_alive": (c_int, [_A, c_uint32, c_uint32]),
    "shmk_arena_event_fd": (c_int, [_A]),
    "shmk_arena_events": (c_int, [_A, P(Event), c_uint]),
    "shmk_arena_wait": (c_int, [_A, c_uint64, c_uint32, c_int64, c_uint]),
    "shmk_arena_wake": (c_int, [_A, c_uint64, c_uint32]),
    "shmk_arena_check": (c_int, [_A, c_uint, c_char_p, c_size_t]),
    "shmk_lock_init": (c_int, [_A, c_uint64]),
    "shmk_lock_acquire": (c_int, [_A, c_uint64, c_int64]),
    "shmk_lock_try": (c_int, [_A, c_uint64]),
    "shmk_lock_release": (c_int, [_A, c_uint64]),
    "shmk_lock_consistent": (c_int, [_A, c_uint64]),
    "shmk_alloc": (c_int, [_A, c_size_t, c_uint, c_int64, _u64p]),
    "shmk_free": (c_int, [_A, c_uint64]),
    "shmk_alloc_usable": (c_int, [_A, c_uint64, _u64p]),
    "shmk_alloc_stats": (c_int, [_A, P(AllocStats)]),
    "shmk_alloc_member_used": (c_int, [_A, c_uint32, _u64p]),
    "shmk_buf_create": (c_int, [_A, c_size_t, c_size_t, c_uint, c_int64,
                                _u32p]),
    "shmk_buf_clone": (c_int, [_A, c_uint32, _u32p]),
    "shmk_buf_drop": (c_int, [_A, c_uint32]),
    "shmk_buf_data": (c_int, [_A, c_uint32, _vpp, P(c_size_t)]),
    "shmk_buf_write": (c_int, [_A, _u32p, _vpp, P(c_size_t)]),
    "shmk_buf_push": (c_int, [_A, _u32p, c_size_t, _vpp]),
    "shmk_buf_pull": (c_int, [_A, _u32p, c_size_t]),
    "shmk_buf_put": (c_int, [_A, _u32p, c_size_t, _vpp]),
    "shmk_buf_trim": (c_int, [_A, _u32p, c_size_t]),
    "shmk_buf_pass": (c_int, [_A, c_uint32, c_uint32, _u64p]),
    "shmk_buf_accept": (c_int, [_A, c_uint64, _u32p]),
    "shmk_buf_recall": (c_int, [_A, c_uint64]),
    "shmk_buf_info": (c_int, [_A, c_uint32, P(BufInfo)]),
    "shmk_queue_create": (c_int, [_A, P(QueueOpts), P(_Q)]),
    "shmk_queue_share": (c_int, [_Q, c_uint32, _u64p]),
    "shmk_queue_open": (c_int, [_A, c_uint64, P(_Q)]),
    "shmk_queue_close": (c_int, [_Q, c_int64]),
    "shmk_queue_send": (c_int, [_Q, P(QMsg), c_uint, c_int64]),
    "shmk_queue_recv": (c_int, [_Q, P(QMsg), c_uint, c_int64]),
    "shmk_server_start": (c_int, [c_char_p, P(ServerOpts), P(_S)]),
    "shmk_client_connect": (c_int, [c_char_p, P(ClientOpts), c_int64,
                                    P(_S)]),
    "shmk_session_send": (c_int, [_S, c_uint32, c_uint32, c_uint64, c_uint,
                                  c_int64]),
    "shmk_session_recv": (c_int, [_S, P(Msg), c_int64]),
    "shmk_session_fd": (c_int, [_S]),
    "shmk_session_close": (c_int, [_S]),
    "shmk_server_disconnect": (c_int, [_S, c_uint32]),
    "shmk_server_publish": (c_int, [_S, c_uint, c_uint32, c_uint64, c_uint]),
    "shmk_client_subscribe": (c_int, [_S, c_uint64]),
    "shmk_session_arena": (_A, [_S]),
    "shmk_session_error": (c_char_p, [_S]),
    "shmk_session_info": (c_int, [_S, P(SessionInfo)]),
}

for _name, (_res, _args) in _PROTOS.items():
    _f = getattr(lib, _name)
    _f.restype = _res
    _f.argtypes = _args
