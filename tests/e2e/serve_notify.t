#!/usr/bin/env python3
# popvault serve under systemd's Type=notify (packaging/popvault.service):
# READY=1 once it listens, WATCHDOG=1 pings at half of WATCHDOG_USEC, and
# STOPPING=1 on SIGTERM, sent to $NOTIFY_SOCKET as systemd would read them
# (a real AF_UNIX datagram socket of the test's own, path and abstract).
# In the backend matrix (tests/README) the archive's catalog and packs are
# on the backends under test: serve opens them before it is ready.
import os
import socket
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(HERE, "lib"))
import popvault  # noqa: E402
import pvharness  # noqa: E402
import pvweb  # noqa: E402

SRC = os.environ.get("POPVAULT_SRC") or os.path.dirname(os.path.dirname(HERE))
PV = os.environ.get("POPVAULT_BIN") or os.path.join(SRC, "build", "popvault")
t = pvharness.Tap(7)


def messages(sock, until, want):
    """Datagrams received until `want` is among them or the deadline."""
    got = []
    while time.time() < until and want not in got:
        sock.settimeout(max(0.05, until - time.time()))
        try:
            got += sock.recv(4096).decode().split("\n")
        except socket.timeout:
            break
    return got


with pvharness.Run() as run, tempfile.TemporaryDirectory() as tmp:
    data = os.path.join(tmp, "data")
    popvault.Archive(data)("init")
    web = os.path.join(SRC, "web-static")
    for name, addr in (("a path", os.path.join(tmp, "notify")),
                       ("an abstract name", "@popvault-notify-%d" % os.getpid())):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(addr if addr[0] != "@" else "\0" + addr[1:])
        srv = pvweb.Server(run, PV, data, ["--web-root", web], name="notify",
                           env={"NOTIFY_SOCKET": addr, "WATCHDOG_USEC": "400000"})
        got = messages(sock, time.time() + 10, "READY=1")
        t.ok("READY=1" in got, "READY=1 once serve listens (%s)" % name, repr(got))
        if name == "a path":
            got = messages(sock, time.time() + 5, "WATCHDOG=1")
            t.ok("WATCHDOG=1" in got, "WATCHDOG=1 within the watchdog interval", repr(got))
            t.ok(srv.request("GET", "/healthz").status == 200, "and it serves meanwhile")
        rc = srv.stop()
        got = messages(sock, time.time() + 5, "STOPPING=1")
        t.ok("STOPPING=1" in got, "STOPPING=1 on SIGTERM (%s)" % name, repr(got))
        if name == "a path":
            t.is_(rc, 0, "exit 0 after SIGTERM")
        sock.close()
sys.exit(t.done())
