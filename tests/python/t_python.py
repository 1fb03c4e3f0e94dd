#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The Python binding (bindings/python) on the host, in TAP:
  - it loads the tree's lib/libshmk.so in-tree, SHMK_LIBRARY overrides it
    (a missing one is an ImportError that says to set it);
  - every ctypes structure of shmk/_lib.py has the size and field offsets
    of its C struct, and every SHMK_* constant the value of the C macro
    (a C program generated from _lib.py, compiled against the headers);
  - the unittest cases of bindings/python/tests, one TAP line each
    (sessions, a client killed with SIGKILL and the server surviving,
    publish, buffers as memoryviews, locks, queues, errors).
Python is not in the VM's initramfs: this runs on the host only."""

import os
import subprocess
import sys
import unittest

DIR = os.environ.get("SHMK_TEST_DIR") or os.path.dirname(
    os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(DIR, "..", ".."))
PKG = os.path.join(ROOT, "bindings", "python")
sys.path.insert(0, PKG)

n = fail = 0


def ok(cond, what, detail=""):
    global n, fail
    n += 1
    print("%sok %d - %s" % ("" if cond else "not ", n, what), flush=True)
    if not cond:
        fail += 1
        for ln in str(detail).splitlines()[-30:]:
            print("#   " + ln)
    return cond


def t_loading():
    import shmk
    want = os.path.join(ROOT, "lib", "libshmk.so")
    ok(os.path.realpath(shmk.library_path) == os.path.realpath(want),
       "in-tree: loads %s (%s)" % (want, shmk.library_path))
    env = dict(os.environ, PYTHONPATH=PKG,
               SHMK_LIBRARY=os.path.join(ROOT, "lib", "libshmk.so.0"))
    r = subprocess.run([sys.executable, "-c", "import shmk; "
                        "print(shmk.library_path, shmk.version())"],
                       env=env, capture_output=True, text=True)
    ok(r.returncode == 0 and r.stdout.startswith(env["SHMK_LIBRARY"]),
       "SHMK_LIBRARY chooses the library", r.stdout + r.stderr)
    env["SHMK_LIBRARY"] = "/nonexistent/libshmk.so.0"
    r = subprocess.run([sys.executable, "-c", "import shmk"], env=env,
                       capture_output=True, text=True)
    ok(r.returncode != 0 and "ImportError" in r.stderr and
       "SHMK_LIBRARY" in r.stderr,
       "a library that is not there: ImportError naming SHMK_LIBRARY",
       r.stderr)


def t_layout():
    from shmk import _lib
    import ctypes
    src = ["#include <stddef.h>", "#include <stdio.h>",
           "#include \"shmk.h\"", "#include \"shmk_msg.h\"",
           "int main(void) {"]
    for pyname, cname in _lib.STRUCTS.items():
        src.append('printf("%s size %%zu\\n", sizeof(struct %s));'
                   % (cname, cname))
        for f in getattr(_lib, pyname)._fields_:
            src.append('printf("%s.%s %%zu %%zu\\n", offsetof(struct %s, %s),'
                       ' sizeof(((struct %s *)0)->%s));'
                       % (cname, f[0], cname, f[0], cname, f[0]))
    consts = sorted(k for k in vars(_lib) if k.startswith("SHMK_"))
    for k in consts:
        src.append('printf("%s %%lld\\n", (long long)(%s));' % (k, k))
    src.append("return 0; }")
    with open("layout.c", "w") as fh:
        fh.write("\n".join(src) + "\n")
    cc = os.environ.get("CC", "cc")
    r = subprocess.run([cc, "-std=c11", "-Wall", "-Werror", "-I",
                        os.path.join(ROOT, "lib", "include"), "-I",
                        os.path.join(ROOT, "uapi"), "-o", "layout",
                        "layout.c"], capture_output=True, text=True)
    if not ok(r.returncode == 0, "the layout program compiles (every field "
              "and constant of _lib.py exists in C)", r.stderr):
        return
    c = {}
    for ln in subprocess.run(["./layout"], capture_output=True,
                             text=True).stdout.splitlines():
        k, v = ln.split(" ", 1)
        c[k] = v
    for pyname, cname in _lib.STRUCTS.items():
        cls = getattr(_lib, pyname)
        bad = []
        if c[cname] != "size %d" % ctypes.sizeof(cls):
            bad.append("size C %s, ctypes %d" % (c[cname],
                                                 ctypes.sizeof(cls)))
        for f in cls._fields_:
            d = getattr(cls, f[0])
            py = "%d %d" % (d.offset, d.size)
            if c["%s.%s" % (cname, f[0])] != py:
                bad.append("%s: C %s, ctypes %s" % (f[0], c[cname + "." + f[0]],
                                                    py))
        ok(not bad, "struct %s = ctypes %s (%d fields, %d bytes)"
           % (cname, pyname, len(cls._fields_), ctypes.sizeof(cls)),
           "\n".join(bad))
    # a negative C value printed as long long; Python has the same
    bad = ["%s: C %s, Python %d" % (k, c[k], getattr(_lib, k))
           for k in consts if int(c[k]) != getattr(_lib, k) and
           int(c[k]) & 0xffffffffffffffff != getattr(_lib, k)]
    ok(not bad, "%d SHMK_* constants have the C values" % len(consts),
       "\n".join(bad))


class TapResult(unittest.TestResult):
    def addSuccess(self, test):
        ok(True, test.id())

    def addFailure(self, test, err):
        ok(False, test.id(), self._exc_info_to_string(err, test))

    def addError(self, test, err):
        ok(False, test.id() + " (error)", self._exc_info_to_string(err, test))

    def addSkip(self, test, reason):
        global n
        n += 1
        print("ok %d - %s # SKIP %s" % (n, test.id(), reason), flush=True)


def t_unittest():
    suite = unittest.defaultTestLoader.discover(
        os.path.join(PKG, "tests"), top_level_dir=os.path.join(PKG, "tests"))
    suite.run(TapResult())


t_loading()
t_layout()
t_unittest()
print("1..%d" % n)
sys.exit(1 if fail else 0)
