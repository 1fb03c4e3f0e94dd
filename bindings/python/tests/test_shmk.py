# SPDX-License-Identifier: MIT
"""unittest cases of the Python binding (tests/python/t_python.py runs
them with TAP output; `python3 -m unittest discover bindings/python/tests`
by hand). Other processes are started with subprocess and synchronise
through their stdout pipes, never by sleeping."""

import errno
import os
import select
import signal
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PKG = os.path.dirname(HERE)
sys.path.insert(0, PKG)
import shmk  # noqa: E402

EXAMPLE = os.path.join(PKG, "examples", "pingpong.py")
N = [0]


def name(what):
    N[0] += 1
    return "t_py.%s.%d.%d" % (what, os.getpid(), N[0])


def child(code, *args):
    """A Python child running @code with the package importable; its
    stdout is a pipe (line-buffered text)."""
    env = dict(os.environ, PYTHONPATH=PKG)
    return subprocess.Popen([sys.executable, "-c", code] + list(args),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            env=env, bufsize=0)


def example(*args):
    return subprocess.Popen([sys.executable, EXAMPLE] + list(args),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            env=dict(os.environ, PYTHONPATH=PKG), bufsize=0)


def line(p, timeout=30.0):
    """The next line @p writes ('' at EOF or after @timeout), read a byte
    at a time from its unbuffered pipe, so that select() sees the rest."""
    out = b""
    while not out.endswith(b"\n"):
        r, _, _ = select.select([p.stdout], [], [], timeout)
        c = os.read(p.stdout.fileno(), 1) if r else b""
        if not c:
            break
        out += c
    return out.decode().strip()


class Errors(unittest.TestCase):
    def test_connect_without_server(self):
        n = name("none")
        with self.assertRaises(shmk.ShmkError) as cm:
            shmk.Client.connect(n, timeout=0.1)
        e = cm.exception
        self.assertIsInstance(e, OSError)
        self.assertEqual(e.errno, errno.ENOENT)
        self.assertIn(n, e.reason)
        self.assertIn(e.reason, str(e))
        self.assertEqual(e.call, "shmk_client_connect")

    def test_bad_name(self):
        with self.assertRaises(shmk.ShmkError) as cm:
            shmk.Arena.create("a/b")
        self.assertEqual(cm.exception.errno, errno.EINVAL)
        self.assertIn("'/'", cm.exception.reason)

    def test_closed_handle(self):
        a = shmk.Arena.create(name("closed"))
        a.close()
        with self.assertRaises(shmk.ShmkError) as cm:
            a.alloc(16)
        self.assertEqual(cm.exception.errno, errno.EBADF)

    def test_version(self):
        self.assertRegex(shmk.version(), r"^\d+\.\d+\.\d+$")


class ExampleCommandLine(unittest.TestCase):
    def run_example(self, *args):
        return subprocess.run([sys.executable, EXAMPLE] + list(args),
                              capture_output=True, text=True,
                              env=dict(os.environ, PYTHONPATH=PKG))

    def test_help(self):
        for opt in ("--help", "-h"):
            r = self.run_example(opt)
            self.assertEqual(r.returncode, 0)
            self.assertTrue(r.stdout.startswith("usage: pingpong.py"))
            self.assertEqual(r.stderr, "")

    def test_bad_arguments(self):
        for args, says in ((["client", "x", "0"], "positive number"),
                           (["frob"], "'frob'"),
                           (["server", "x", "y"], "'y'")):
            r = self.run_example(*args)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn(says, r.stderr)
            self.assertIn("usage:", r.stderr)
            self.assertEqual(r.stdout, "")


class Memory(unittest.TestCase):
    def setUp(self):
        self.a = shmk.Arena.create(name("mem"), flags=shmk.SHMK_OPEN_EXCL)

    def tearDown(self):
        self.a.close()

    def test_view_is_the_arena(self):
        off = self.a.alloc(64, shmk.SHMK_ALLOC_ZERO)
        v = self.a.view(off, 64)
        self.assertEqual(bytes(v), bytes(64))
        v[0:5] = b"hello"
        # the same bytes through a second view: no copy anywhere
        self.assertEqual(bytes(self.a.view(off, 5)), b"hello")
        with self.assertRaises(shmk.ShmkError) as cm:
            self.a.view(self.a.info().size - 8, 64)
        self.assertEqual(cm.exception.errno, errno.ERANGE)
        self.a.free(off)

    def test_wait_wake(self):
        off = self.a.alloc(64, shmk.SHMK_ALLOC_ZERO)
        self.a.view(off, 4)[:] = (5).to_bytes(4, sys.byteorder)
        self.assertEqual(self.a.wait(off, 4, timeout=10.0),
                         shmk.WaitResult.CHANGED)
        self.assertEqual(self.a.wait(off, 5, timeout=0.01),
                         shmk.WaitResult.TIMED_OUT)
        self.assertGreaterEqual(self.a.wake(off), 0)

    def test_alloc_errors(self):
        with self.assertRaises(shmk.ShmkError) as cm:
            self.a.alloc(1 << 30)
        self.assertEqual(cm.exception.errno, errno.ENOMEM)

    def test_buffers_zero_copy_and_cow(self):
        blocks = self.a.stats().blocks
        b = shmk.Buffer.from_bytes(self.a, b"hello", headroom=16)
        d = b.data()
        self.assertTrue(d.readonly)
        self.assertEqual(d.tobytes(), b"hello")
        # the view is over the arena: its address is the buffer's
        addr = self.a.info().base + b.info().data_offset
        import ctypes
        self.assertEqual(ctypes.addressof(ctypes.c_char.from_buffer(
            b.write())), addr)
        c = b.clone()
        self.assertEqual(b.info().refcount, 2)
        c.write()[:] = b"HELLO"
        self.assertEqual(b.tobytes(), b"hello")
        self.assertEqual(c.tobytes(), b"HELLO")
        b.push(3)[:] = b"hd:"
        self.assertEqual(b.tobytes(), b"hd:hello")
        b.pull(3)
        b.put(2)[:] = b"!!"
        b.trim(6)
        self.assertEqual(b.tobytes(), b"hello!")
        tok = c.pass_to(0)
        self.assertEqual(c.ref, 0)
        back = shmk.Buffer.accept(self.a, tok)
        self.assertEqual(back.tobytes(), b"HELLO")
        for x in (b, back):
            x.drop()
        self.assertEqual(self.a.stats().blocks, blocks)


class Processes(unittest.TestCase):
    def test_robust_lock_holder_killed(self):
        n = name("lock")
        with shmk.Arena.create(n) as a:
            off = a.alloc(32, shmk.SHMK_ALLOC_ZERO | shmk.SHMK_ALLOC_LONG)
            p = child("import shmk, signal, sys\n"
                      "a = shmk.Arena.attach(sys.argv[1])\n"
                      "assert a.lock(int(sys.argv[2])).acquire(5.0) == 'ok'\n"
                      "print('locked', flush=True)\n"
                      "signal.pause()\n", n, str(off))
            self.assertEqual(line(p), "locked")
            lk = a.lock(off)
            self.assertIsNone(lk.try_acquire())
            p.kill()
            self.assertEqual(lk.acquire(10.0), "owner-died")
            lk.consistent()
            lk.release()
            self.assertEqual(lk.acquire(1.0), "ok")
            lk.release()
            p.wait()
            p.stdin.close()
            p.stdout.close()

    def test_bounded_queue_back_pressure(self):
        n = name("queue")
        with shmk.Arena.create(n) as a:
            q = shmk.Queue.create(a, capacity=4)
            tok = q.share(0)
            p = child("import shmk, sys\n"
                      "a = shmk.Arena.attach(sys.argv[1])\n"
                      "q = shmk.Queue.open(a, int(sys.argv[2]))\n"
                      "i = 0\n"
                      "while q.send(i): i += 1\n"
                      "print(i, flush=True)\n"
                      "sys.stdin.readline()\n"
                      "for j in range(i, 20):\n"
                      "    assert q.send(j, wait=True, timeout=10.0)\n"
                      "q.close(5.0)\n"
                      "a.close()\n", n, str(tok))
            # 4 slots: the fifth send says full
            self.assertEqual(line(p), "4")
            p.stdin.write(b"go\n")
            p.stdin.flush()
            got = []
            while len(got) < 20:
                ms = q.recv(8, timeout=10.0)
                if not ms and not a.events():
                    break
                got.extend(ms)
            self.assertEqual([m.val for m in got], list(range(20)))
            self.assertEqual(p.wait(), 0)
            p.stdin.close()
            p.stdout.close()
            q.close()

    def test_server_survives_killed_client(self):
        n = name("sess")
        with shmk.Server.start(n) as srv:
            p = example("client", n, "--hold")
            peer = None
            while peer is None:
                m = srv.recv(timeout=30.0)
                self.assertIsNotNone(m, "the client connects")
                if m.type == shmk.MsgType.CONNECTED:
                    peer = m.peer
            self.assertEqual(line(p), "connected")
            self.assertEqual(line(p), "holding")
            self.assertGreater(srv.arena.member_used(peer), 0)
            p.kill()             # SIGKILL, not reaped until the event
            ev = None
            while ev is None:
                m = srv.recv(timeout=30.0)
                self.assertIsNotNone(m, "an event for the killed client")
                if m.type in (shmk.MsgType.PEER_CRASHED,
                              shmk.MsgType.DISCONNECTED):
                    ev = m
            self.assertEqual(ev.type, shmk.MsgType.PEER_CRASHED)
            self.assertEqual(ev.peer, peer)
            self.assertEqual((ev.how, ev.status),
                             (shmk.SHMK_END_SIGNAL, signal.SIGKILL))
            self.assertEqual(srv.arena.member_used(peer), 0)
            p.wait()
            p.stdin.close()
            p.stdout.close()
            # the server goes on: a new client makes its round trips
            p = example("client", n, "20")
            left = False
            while not left:
                m = srv.recv(timeout=30.0)
                self.assertIsNotNone(m)
                if m.type == shmk.MsgType.DATA:
                    self.assertTrue(srv.send(m.peer, m.take_buffer(), m.tag))
                left = m.type == shmk.MsgType.DISCONNECTED
            out, _ = p.communicate(timeout=30)
            self.assertEqual(p.returncode, 0)
            self.assertIn(b"20 round trips", out)
            srv.arena.check(shmk.SHMK_CHECK_REFS)

    def test_publish_and_fd(self):
        n = name("pub")
        with shmk.Server.start(n) as srv:
            p = child("import shmk, sys\n"
                      "c = shmk.Client.connect(sys.argv[1], 10.0)\n"
                      "c.subscribe(1 << 5)\n"
                      "c.send(0, None, 1)\n"
                      "m = c.recv(10.0)\n"
                      "print(m.published, m.tag, m.buffer.tobytes().decode(),"
                      " flush=True)\n"
                      "m.buffer.drop()\n"
                      "c.close()\n", n)
            fd = srv.fileno()
            done = False
            while not done:
                r, _, _ = select.select([fd], [], [], 30.0)
                self.assertTrue(r, "the session fd becomes readable")
                while True:
                    m = srv.recv(timeout=0)
                    if m is None:
                        break
                    if m.type == shmk.MsgType.DATA and m.tag == 1:
                        with shmk.Buffer.from_bytes(srv.arena, b"news") as b:
                            self.assertEqual(srv.publish(5, b, 7), 1)
                    done = done or m.type == shmk.MsgType.DISCONNECTED
            self.assertEqual(line(p), "True 7 news")
            self.assertEqual(p.wait(), 0)
            p.stdin.close()
            p.stdout.close()


if __name__ == "__main__":
    unittest.main()
