# SPDX-License-Identifier: MIT
"""shmk: Python 3 binding of libshmk (ctypes, no compiled part).

    import shmk
    with shmk.Server.start("demo") as srv:
        while True:
            m = srv.recv(timeout=1.0)        # Message, or None
            if m is None:
                continue
            if m.type == shmk.MsgType.DATA:
                srv.send(m.peer, m.take_buffer(), m.tag)   # echo, no copy
            elif m.type == shmk.MsgType.PEER_CRASHED:
                print("client", m.peer, "died, signal", m.status)

Conventions:
  - errors raise ShmkError, an OSError: .errno, .strerror, and .reason,
    the library's words (shmk_session_error(), shmk_arena_error());
  - timeouts are seconds (float); None waits for ever, 0 does not wait;
    a wait that ends with nothing (timeout, signal) returns None or False;
  - buffer contents are memoryviews over the arena mapping: no copy.
    A view is valid while the buffer it came from is held and not written
    again (a write may copy: copy on write); using it later reads or
    writes whatever the arena holds there now;
  - handles are closed by close() or a with block; a garbage-collected
    handle is closed too, but do not count on when.

The library is libshmk.so from the source tree when this package is
there (bindings/python/shmk in a shmk checkout), else the system's
libshmk.so.0; SHMK_LIBRARY=/path/to/libshmk.so.0 overrides both.
"""

import ctypes
import enum
import errno as _errno
import os

from . import _lib
from ._lib import lib as _c

# The C constants, by their C names (shmk.SHMK_END_SIGNAL...).
globals().update({k: v for k, v in vars(_lib).items()
                  if k.startswith("SHMK_")})

__all__ = ["ShmkError", "Arena", "Buffer", "Queue", "Lock", "Server",
           "Client", "Message", "MsgType", "WaitResult", "version",
           "library_path"]

library_path = _lib.lib_path


def version():
    """The version of the loaded libshmk ("MAJOR.MINOR.MICRO")."""
    return _c.shmk_version().decode()


# ---------------------------------------------------------------- errors

class ShmkError(OSError):
    """A failed libshmk call: errno, strerror, the library's reason, the
    C function (call)."""

    def __init__(self, neg_errno, call, reason=""):
        e = -neg_errno
        super().__init__(e, os.strerror(e))
        self.reason = reason or ""
        self.call = call

    def __str__(self):
        s = "%s: %s" % (self.call, self.strerror)
        return s + (": " + self.reason if self.reason else "")


def _reason(p):
    return p.decode("utf-8", "replace") if p else ""


def _check(r, call, reason_of=None):
    if r < 0:
        raise ShmkError(r, call, _reason(reason_of()) if reason_of else "")
    return r


def _ns(timeout):
    if timeout is None:
        return -1
    if timeout < 0:
        raise ValueError("timeout must be >= 0 seconds, or None (forever)")
    return int(timeout * 1e9)


def _name(s):
    return s.encode() if isinstance(s, str) else bytes(s)


def _view(addr, n, readonly):
    mv = memoryview((ctypes.c_ubyte * n).from_address(addr)) if n else \
        memoryview(b"")
    mv = mv.cast("B")
    return mv.toreadonly() if readonly else mv


# ---------------------------------------------------------------- arena

class WaitResult(enum.Enum):
    WOKEN = "woken"
    EVENT = "event"          # a membership event is pending: events()
    CHANGED = "changed"      # the word did not hold the expected value
    TIMED_OUT = "timed out"
    INTERRUPTED = "interrupted"


class Arena:
    """An arena handle. Arena.create() / Arena.attach() own it (close()
    detaches); the arena of a session (Server.arena) is lent: closing
    the session ends it."""

    def __init__(self, handle, owned=True, owner=None):
        self._a = handle
        self._owned = owned
        self._owner = owner      # the session lending it, kept alive

    # -- lifetime
    @classmethod
    def create(cls, name, size=0, mode=0, max_members=0, flags=0):
        o = _lib.ArenaOpts(size=size, mode=mode, max_members=max_members)
        h = ctypes.c_void_p()
        _check(_c.shmk_arena_create(_name(name), ctypes.byref(o), flags,
                                    ctypes.byref(h)),
               "shmk_arena_create", lambda: _c.shmk_arena_error(None))
        return cls(h.value)

    @classmethod
    def attach(cls, name, flags=0):
        h = ctypes.c_void_p()
        _check(_c.shmk_arena_attach(_name(name), flags, ctypes.byref(h)),
               "shmk_arena_attach", lambda: _c.shmk_arena_error(None))
        return cls(h.value)

    @staticmethod
    def remove(name, flags=0):
        _check(_c.shmk_arena_remove(_name(name), flags), "shmk_arena_remove",
               lambda: _c.shmk_arena_error(None))

    def _h(self):
        if not self._a or (self._owner is not None and
                           not self._owner._s):
            raise ShmkError(-_errno.EBADF, "shmk", "the handle is closed")
        return self._a

    @property
    def closed(self):
        return not self._a or (self._owner is not None and
                               not self._owner._s)

    def close(self):
        """Detach (clean exit for the others); raises on -EBUSY (a lock
        held), and the handle stays open."""
        if self._a and self._owned:
            a = self._a
            _check(_c.shmk_arena_detach(a), "shmk_arena_detach",
                   lambda: _c.shmk_arena_error(a))
        self._a = None

    detach = close

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        if getattr(self, "_owned", False) and self._a and _c:
            _c.shmk_arena_detach(self._a)
            self._a = None

    # -- memory
    def info(self):
        i = _lib.ArenaInfo()
        _check(_c.shmk_arena_info(self._h(), ctypes.byref(i)),
               "shmk_arena_info")
        return i

    def view(self, off, length):
        """A writable memoryview of @length bytes at arena offset @off."""
        i = self.info()
        if off < 0 or length < 0 or off > i.size or length > i.size - off:
            raise ShmkError(-_errno.ERANGE, "shmk.Arena.view",
                            "bytes %d..%d are not in the %d-byte region" %
                            (off, off + length, i.size))
        return _view(i.base + off, length, False)

    def alloc(self, size, flags=0, timeout=0):
        """A block of @size bytes; SHMK_ALLOC_WAIT waits up to @timeout
        seconds for memory. Its arena offset."""
        o = ctypes.c_uint64()
        _check(_c.shmk_alloc(self._h(), size, flags, _ns(timeout),
                             ctypes.byref(o)), "shmk_alloc")
        return o.value

    def free(self, off):
        _check(_c.shmk_free(self._h(), off), "shmk_free")

    def stats(self):
        s = _lib.AllocStats()
        _check(_c.shmk_alloc_stats(self._h(), ctypes.byref(s)),
               "shmk_alloc_stats")
        return s

    def member_used(self, member_id):
        b = ctypes.c_uint64()
        _check(_c.shmk_alloc_member_used(self._h(), member_id,
                                         ctypes.byref(b)),
               "shmk_alloc_member_used")
        return b.value

    def root(self, idx):
        o = ctypes.c_uint64()
        a = self._h()
        _check(_c.shmk_arena_root(a, idx, ctypes.byref(o)), "shmk_arena_root",
               lambda: _c.shmk_arena_error(a))
        return o.value

    def check(self, flags=0):
        msg = ctypes.create_string_buffer(256)
        r = _c.shmk_arena_check(self._h(), flags, msg, 256)
        if r < 0:
            raise ShmkError(r, "shmk_arena_check", _reason(msg.value))

    # -- membership
    def member_alive(self, member_id, gen):
        return _check(_c.shmk_arena_member_alive(self._h(), member_id, gen),
                      "shmk_arena_member_alive") == 1

    def event_fd(self):
        return _c.shmk_arena_event_fd(self._h())

    def events(self, n=64):
        """Pending membership events (never waits): a list of
        _lib.Event (type, how, member_id, generation, pid, status,
        flags)."""
        buf = (_lib.Event * n)()
        k = _check(_c.shmk_arena_events(self._h(), buf, n),
                   "shmk_arena_events")
        return [buf[i] for i in range(k)]

    # -- wait / wake
    def wait(self, off, expected, timeout=None, flags=0):
        a = self._h()
        r = _c.shmk_arena_wait(a, off, expected, _ns(timeout), flags)
        if r == 0:
            return WaitResult.WOKEN
        if r == _lib.SHMK_WAIT_EVENT:
            return WaitResult.EVENT
        if r == -_errno.EAGAIN:
            return WaitResult.CHANGED
        if r == -_errno.ETIMEDOUT:
            return WaitResult.TIMED_OUT
        if r == -_errno.EINTR:
            return WaitResult.INTERRUPTED
        _check(r if r < 0 else -_errno.EPROTO, "shmk_arena_wait",
               lambda: _c.shmk_arena_error(a))

    def wake(self, off, n=_lib.SHMK_WAKE_ALL):
        a = self._h()
        return _check(_c.shmk_arena_wake(a, off, n), "shmk_arena_wake",
                      lambda: _c.shmk_arena_error(a))

    # -- robust locks
    def lock(self, off):
        """The robust lock (struct shmk_lock, 16 bytes) at @off."""
        return Lock(self, off)


class Lock:
    """A robust lock in an arena. acquire() returns None on timeout,
    else "ok" or "owner-died" (the previous holder died holding it:
    repair, then consistent()). As a context manager: acquires for ever,
    and the "owner-died" state is in .owner_died."""

    def __init__(self, arena, off):
        self.arena = arena
        self.off = off
        self.owner_died = False

    def init(self):
        _check(_c.shmk_lock_init(self.arena._h(), self.off), "shmk_lock_init")

    def _got(self, r, call):
        if r == -_errno.EOWNERDEAD:
            self.owner_died = True
            return "owner-died"
        _check(r, call)
        self.owner_died = False
        return "ok"

    def acquire(self, timeout=None):
        r = _c.shmk_lock_acquire(self.arena._h(), self.off, _ns(timeout))
        if r in (-_errno.ETIMEDOUT, -_errno.EINTR):
            return None
        return self._got(r, "shmk_lock_acquire")

    def try_acquire(self):
        r = _c.shmk_lock_try(self.arena._h(), self.off)
        if r == -_errno.EBUSY:
            return None
        return self._got(r, "shmk_lock_try")

    def consistent(self):
        _check(_c.shmk_lock_consistent(self.arena._h(), self.off),
               "shmk_lock_consistent")
        self.owner_died = False

    def release(self):
        _check(_c.shmk_lock_release(self.arena._h(), self.off),
               "shmk_lock_release")

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()


# ---------------------------------------------------------------- buffers

class Buffer:
    """One reference to a refcounted copy-on-write buffer of an arena;
    drop() (or a with block, or garbage collection) gives it up."""

    def __init__(self, arena, ref):
        self.arena = arena
        self._ref = ctypes.c_uint32(ref)

    @classmethod
    def create(cls, arena, size, headroom=0, flags=0, timeout=0):
        r = ctypes.c_uint32()
        _check(_c.shmk_buf_create(arena._h(), size, headroom, flags,
                                  _ns(timeout), ctypes.byref(r)),
               "shmk_buf_create")
        return cls(arena, r.value)

    @classmethod
    def from_bytes(cls, arena, data, headroom=0):
        """A new buffer holding a copy of @data (the one copy, in)."""
        b = cls.create(arena, len(data), headroom)
        if len(data):
            b.write()[:] = data
        return b

    @classmethod
    def accept(cls, arena, token):
        r = ctypes.c_uint32()
        _check(_c.shmk_buf_accept(arena._h(), token, ctypes.byref(r)),
               "shmk_buf_accept")
        return cls(arena, r.value)

    @property
    def ref(self):
        return self._ref.value

    def _live(self):
        if not self._ref.value:
            raise ShmkError(-_errno.EBADF, "shmk", "the buffer was dropped "
                            "or handed over")
        return self.arena._h()

    def data(self):
        """Read-only memoryview of the bytes, in the arena (no copy)."""
        a = self._live()
        p, n = ctypes.c_void_p(), ctypes.c_size_t()
        _check(_c.shmk_buf_data(a, self._ref.value, ctypes.byref(p),
                                ctypes.byref(n)), "shmk_buf_data")
        return _view(p.value, n.value, True)

    def write(self):
        """Writable memoryview of the bytes (copies first if shared)."""
        a = self._live()
        p, n = ctypes.c_void_p(), ctypes.c_size_t()
        _check(_c.shmk_buf_write(a, ctypes.byref(self._ref), ctypes.byref(p),
                                 ctypes.byref(n)), "shmk_buf_write")
        return _view(p.value, n.value, False)

    def tobytes(self):
        return self.data().tobytes()

    def __len__(self):
        return len(self.data())

    def push(self, n):
        """Prepend @n bytes: a writable view of them."""
        p = ctypes.c_void_p()
        _check(_c.shmk_buf_push(self._live(), ctypes.byref(self._ref), n,
                                ctypes.byref(p)), "shmk_buf_push")
        return _view(p.value, n, False)

    def pull(self, n):
        _check(_c.shmk_buf_pull(self._live(), ctypes.byref(self._ref), n),
               "shmk_buf_pull")

    def put(self, n):
        """Append @n bytes: a writable view of them."""
        p = ctypes.c_void_p()
        _check(_c.shmk_buf_put(self._live(), ctypes.byref(self._ref), n,
                               ctypes.byref(p)), "shmk_buf_put")
        return _view(p.value, n, False)

    def trim(self, length):
        _check(_c.shmk_buf_trim(self._live(), ctypes.byref(self._ref),
                                length), "shmk_buf_trim")

    def clone(self):
        r = ctypes.c_uint32()
        _check(_c.shmk_buf_clone(self._live(), self._ref.value,
                                 ctypes.byref(r)), "shmk_buf_clone")
        return Buffer(self.arena, r.value)

    def info(self):
        i = _lib.BufInfo()
        _check(_c.shmk_buf_info(self._live(), self._ref.value,
                                ctypes.byref(i)), "shmk_buf_info")
        return i

    def pass_to(self, member=0):
        """Hand the reference to member @member (0: anyone) as a token;
        this object is empty afterwards."""
        t = ctypes.c_uint64()
        _check(_c.shmk_buf_pass(self._live(), self._ref.value, member,
                                ctypes.byref(t)), "shmk_buf_pass")
        self._ref.value = 0
        return t.value

    def release(self):
        """Give the reference up without dropping it: the C reference."""
        r = self._ref.value
        self._ref.value = 0
        return r

    def drop(self):
        if self._ref.value and not self.arena.closed:
            r = self.release()
            _check(_c.shmk_buf_drop(self.arena._a, r), "shmk_buf_drop")
        self._ref.value = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.drop()

    def __del__(self):
        try:
            if self._ref.value and not self.arena.closed:
                _c.shmk_buf_drop(self.arena._a, self._ref.value)
        except Exception:
            pass


# ---------------------------------------------------------------- queues

class Queue:
    """A raw receive queue (shmk_msg.h). Queue.create() makes one this
    member consumes; share() a token for a producer, which opens it with
    Queue.open(arena, token)."""

    def __init__(self, arena, handle):
        self.arena = arena
        self._q = handle

    @classmethod
    def create(cls, arena, capacity=0, flags=0):
        o = _lib.QueueOpts(capacity=capacity, flags=flags)
        q = ctypes.c_void_p()
        _check(_c.shmk_queue_create(arena._h(), ctypes.byref(o),
                                    ctypes.byref(q)), "shmk_queue_create")
        return cls(arena, q.value)

    @classmethod
    def open(cls, arena, token):
        q = ctypes.c_void_p()
        _check(_c.shmk_queue_open(arena._h(), token, ctypes.byref(q)),
               "shmk_queue_open")
        return cls(arena, q.value)

    def share(self, member=0):
        t = ctypes.c_uint64()
        _check(_c.shmk_queue_share(self._q, member, ctypes.byref(t)),
               "shmk_queue_share")
        return t.value

    def send(self, val, tag=0, length=0, wait=False, timeout=0):
        """True if posted; False if full (after @timeout with wait)."""
        m = _lib.QMsg(val=val, tag=tag, len=length)
        r = _c.shmk_queue_send(self._q, ctypes.byref(m),
                               _lib.SHMK_QSEND_WAIT if wait else 0,
                               _ns(timeout))
        if r in (-_errno.EAGAIN, -_errno.ETIMEDOUT, -_errno.EINTR):
            return False
        _check(r, "shmk_queue_send")
        return True

    def recv(self, n=16, timeout=None):
        """Up to @n descriptors (QMsg: val, tag, len, sender); [] when
        nothing came (timeout, signal, or an event is pending: read
        arena.events(), then again)."""
        buf = (_lib.QMsg * n)()
        r = _c.shmk_queue_recv(self._q, buf, n, _ns(timeout))
        if r in (-_errno.EAGAIN, -_errno.ETIMEDOUT, -_errno.EINTR):
            return []
        _check(r, "shmk_queue_recv")
        return [buf[i] for i in range(r)]

    def close(self, timeout=1.0):
        if self._q and not self.arena.closed:
            q, self._q = self._q, None
            _check(_c.shmk_queue_close(q, _ns(timeout)), "shmk_queue_close")
        self._q = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            if self._q and not self.arena.closed:
                _c.shmk_queue_close(self._q, 0)
        except Exception:
            pass


# ---------------------------------------------------------------- sessions

class MsgType(enum.IntEnum):
    DATA = _lib.SHMK_MSG_DATA
    CONNECTED = _lib.SHMK_EV_CONNECTED
    DISCONNECTED = _lib.SHMK_EV_DISCONNECTED
    PEER_CRASHED = _lib.SHMK_EV_PEER_CRASHED
    SERVER_GONE = _lib.SHMK_EV_SERVER_GONE
    SERVER_BACK = _lib.SHMK_EV_SERVER_BACK
    SERVER_MOVED = _lib.SHMK_EV_SERVER_MOVED
    HANDED_OVER = _lib.SHMK_EV_HANDED_OVER
    OVERFLOW = _lib.SHMK_EV_OVERFLOW


class Message:
    """A message or event of recv(). DATA: .buffer holds the received
    reference (None for a tag-only message). Events: .how (SHMK_END_*),
    .status (exit code or signal), .guessed."""

    __slots__ = ("type", "flags", "peer", "peer_gen", "tag", "how",
                 "status", "time_ns", "buffer")

    def __init__(self, m, arena):
        try:
            self.type = MsgType(m.type)
        except ValueError:
            self.type = m.type
        self.flags = m.flags
        self.peer = m.peer
        self.peer_gen = m.peer_gen
        self.tag = m.tag
        self.how = m.how
        self.status = m.status
        self.time_ns = m.time_ns
        self.buffer = Buffer(arena, m.ref) if (
            m.type == _lib.SHMK_MSG_DATA and m.ref) else None

    @property
    def published(self):
        return bool(self.flags & _lib.SHMK_MSGF_PUBLISHED)

    @property
    def guessed(self):
        return bool(self.flags & _lib.SHMK_MSGF_GUESSED)

    def take_buffer(self):
        """The buffer, leaving None here (to send it on)."""
        b, self.buffer = self.buffer, None
        return b

    def __repr__(self):
        t = self.type.name if isinstance(self.type, MsgType) else self.type
        return "<shmk.Message %s peer=%d tag=%d>" % (t, self.peer, self.tag)


class _Session:
    def __init__(self, handle):
        self._s = handle
        self.arena = Arena(_c.shmk_session_arena(handle), owned=False,
                           owner=self)

    def _h(self):
        if not self._s:
            raise ShmkError(-_errno.EBADF, "shmk", "the session is closed")
        return self._s

    def _check(self, r, call):
        s = self._s
        return _check(r, call, lambda: _c.shmk_session_error(s))

    def fileno(self):
        """For select/poll/epoll: readable when recv() may have
        something (see shmk_session_fd(3))."""
        return _c.shmk_session_fd(self._h())

    def info(self):
        i = _lib.SessionInfo()
        self._check(_c.shmk_session_info(self._h(), ctypes.byref(i)),
                    "shmk_session_info")
        return i

    def send(self, peer, buf=None, tag=0, wait=False, timeout=0, keep=False):
        """Send Buffer @buf (None: a tag-only message) to @peer. The
        buffer leaves the caller (it is empty afterwards) unless @keep.
        True if sent; False if the peer's queue is full (within @timeout
        with wait). Raises ENOTCONN, EPIPE..."""
        s = self._h()
        flags = (_lib.SHMK_SEND_WAIT if wait else 0) | \
            (_lib.SHMK_SEND_KEEP if keep else 0)
        ref = buf._ref.value if buf is not None else 0
        if buf is not None and not ref:
            raise ShmkError(-_errno.EBADF, "shmk_session_send",
                            "the buffer was dropped or handed over")
        r = _c.shmk_session_send(s, peer, ref, tag, flags, _ns(timeout))
        if buf is not None and not keep and r != -_errno.EINVAL:
            buf.release()
        if r in (-_errno.EAGAIN, -_errno.ETIMEDOUT):
            return False
        self._check(r, "shmk_session_send")
        return True

    def recv(self, timeout=None):
        """The next Message, waiting up to @timeout seconds (None: for
        ever); None if nothing came (or a signal interrupted)."""
        m = _lib.Msg()
        r = _c.shmk_session_recv(self._h(), ctypes.byref(m), _ns(timeout))
        if r in (-_errno.EAGAIN, -_errno.ETIMEDOUT, -_errno.EINTR):
            return None
        self._check(r, "shmk_session_recv")
        return Message(m, self.arena)

    def close(self):
        if self._s:
            s, self._s = self._s, None
            _check(_c.shmk_session_close(s), "shmk_session_close")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        if getattr(self, "_s", None) and _c:
            _c.shmk_session_close(self._s)
            self._s = None


class Server(_Session):
    @classmethod
    def start(cls, name, max_clients=0, arena_size=0, takeover=False,
              backend_flags=0):
        o = _lib.ServerOpts(max_clients=max_clients, arena_size=arena_size,
                            flags=_lib.SHMK_SERVER_TAKEOVER if takeover
                            else 0, open_flags=backend_flags)
        h = ctypes.c_void_p()
        _check(_c.shmk_server_start(_name(name), ctypes.byref(o),
                                    ctypes.byref(h)),
               "shmk_server_start", lambda: _c.shmk_session_error(None))
        return cls(h.value)

    def publish(self, topic, buf, tag=0):
        """@buf to every client subscribed to @topic (no copy; the caller
        keeps it): how many it went to."""
        return self._check(_c.shmk_server_publish(self._h(), topic, buf.ref,
                                                  tag, 0),
                           "shmk_server_publish")

    def disconnect(self, peer):
        self._check(_c.shmk_server_disconnect(self._h(), peer),
                    "shmk_server_disconnect")


class Client(_Session):
    @classmethod
    def connect(cls, name, timeout=5.0, wait_server=False,
                no_reconnect=False, backend_flags=0):
        """Connect to the server of arena @name within @timeout seconds;
        wait_server: if there is no arena yet, wait for a server to
        create it (else ENOENT at once)."""
        flags = (_lib.SHMK_CLIENT_WAIT_SERVER if wait_server else 0) | \
            (_lib.SHMK_CLIENT_NO_RECONNECT if no_reconnect else 0)
        o = _lib.ClientOpts(flags=flags, open_flags=backend_flags)
        h = ctypes.c_void_p()
        _check(_c.shmk_client_connect(_name(name), ctypes.byref(o),
                                      _ns(timeout), ctypes.byref(h)),
               "shmk_client_connect", lambda: _c.shmk_session_error(None))
        return cls(h.value)

    def subscribe(self, topics):
        """Subscribe to the topics of bit mask @topics (0: none)."""
        self._check(_c.shmk_client_subscribe(self._h(), topics),
                    "shmk_client_subscribe")
