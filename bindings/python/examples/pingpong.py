#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""pingpong (Python): a server that echoes every buffer to its sender and
reports clients that crash, and a client that sends N pings.

    pingpong.py server [NAME]          serve until SIGINT/SIGTERM
    pingpong.py client [NAME] [N]      N round trips (default 100)
    pingpong.py client [NAME] --hold   connect, hold memory, wait

Run from a shmk source tree it uses the tree's library and package;
installed, the system's (PYTHONPATH as bindings/python/README.md says).
"""

import os
import signal
import sys

try:
    import shmk
except ImportError:     # in the source tree: bindings/python
    sys.path.insert(0, os.path.join(os.path.dirname(
        os.path.abspath(__file__)), ".."))
    import shmk

USAGE = """usage: pingpong.py server [NAME]
       pingpong.py client [NAME] [N | --hold]
The server of arena NAME (default 'py-pingpong') sends every buffer back
to its sender and says which clients crashed; stop it with Ctrl-C. The
client makes N round trips (default 100); with --hold it connects, holds
memory and waits to be killed.
"""

quit_now = False


def on_signal(sig, frame):
    global quit_now
    quit_now = True


def serve(name):
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    # {serve}
    with shmk.Server.start(name) as srv:
        print("serving arena '%s'" % name, flush=True)
        while not quit_now:
            m = srv.recv(timeout=1.0)   # None: nothing, or a signal
            if m is None:
                continue
            if m.type == shmk.MsgType.DATA:     # the same buffer back
                if not srv.send(m.peer, m.take_buffer(), m.tag):
                    print("client %d: queue full" % m.peer, flush=True)
            elif m.type == shmk.MsgType.CONNECTED:
                print("client %d connected" % m.peer, flush=True)
            elif m.type == shmk.MsgType.DISCONNECTED:
                print("client %d left" % m.peer, flush=True)
            elif m.type == shmk.MsgType.PEER_CRASHED:
                print("client %d crashed (how %d, status %d), owns %d bytes"
                      % (m.peer, m.how, m.status,
                         srv.arena.member_used(m.peer)), flush=True)
    # {/serve}
    return 0


def ping(name, n, hold):
    with shmk.Client.connect(name, timeout=10.0, wait_server=True) as cli:
        print("connected", flush=True)
        if hold:
            cli.arena.alloc(100000)
            keep = shmk.Buffer.create(cli.arena, 5000)
            print("holding", flush=True)
            signal.pause()
            keep.drop()
            return 0
        for i in range(n):
            b = shmk.Buffer.create(cli.arena, 64)
            text = b"ping %d" % i
            b.write()[:len(text)] = text      # in place, in the arena
            if not cli.send(shmk.SHMK_PEER_SERVER, b, i, wait=True,
                            timeout=5.0):
                print("pingpong.py: the server's queue stays full",
                      file=sys.stderr)
                return 1
            m = cli.recv(timeout=10.0)
            if m is None:
                print("pingpong.py: no answer within 10 s", file=sys.stderr)
                return 1
            if m.type != shmk.MsgType.DATA or m.tag != i or \
                    m.buffer.data()[:len(text)] != text:
                print("pingpong.py: unexpected %r" % m, file=sys.stderr)
                return 1
            m.buffer.drop()
        print("%d round trips" % n, flush=True)
    return 0


def bad(what):
    sys.stderr.write("pingpong.py: %s\n%s" % (what, USAGE))
    return 2


def main(argv):
    if "--help" in argv or "-h" in argv:
        sys.stdout.write(USAGE)
        return 0
    if not argv:
        return bad("say server or client")
    mode, args = argv[0], argv[1:]
    if mode not in ("server", "client"):
        return bad("unknown mode '%s'" % mode)
    name = "py-pingpong"
    if args and not args[0].startswith("-") and (
            mode == "server" or len(args) > 1 or not args[0].isdigit()):
        name = args.pop(0)
    n, hold = 100, False
    if mode == "server" and args:
        return bad("unexpected argument '%s'" % args[0])
    if mode == "client" and args:
        a = args.pop(0)
        if a == "--hold":
            hold = True
        else:
            try:
                n = int(a, 10)
            except ValueError:
                n = 0
            if n < 1:
                return bad("N must be a positive number, not '%s'" % a)
        if args:
            return bad("unexpected argument '%s'" % args[0])
    try:
        return serve(name) if mode == "server" else ping(name, n, hold)
    except shmk.ShmkError as e:
        print("pingpong.py: %s: %s" % (name, e), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
