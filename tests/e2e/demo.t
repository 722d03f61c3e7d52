#!/usr/bin/env python3
# make demo (tests/e2e/demo.sh, issue 15) as CI and as a person run it.
# Not on a terminal: the whole flow (serve harvesting the sample mailbox by
# itself, then mail delivered later), the UI checked from the outside (the
# page, each user's sign-in, a search), everything it started stopped, exit
# 0. On a terminal: it stays up with the UI answering until Ctrl-C, then
# stops everything it started. A small sample (DEMO_COUNT) and a free port
# (DEMO_PORT=0) in a directory of this run (DEMO_DIR).
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(HERE, "lib"))
import pvharness  # noqa: E402
import pvweb  # noqa: E402

SRC = os.environ.get("POPVAULT_SRC") or os.path.dirname(os.path.dirname(HERE))
DEMO = os.path.join(SRC, "tests", "e2e", "demo.sh")
t = pvharness.Tap(14)


def stopped(text):
    """The pids the demo says it stopped, and whether each is gone."""
    m = re.search(r"stopped serve \(pid (\d+)\) and the demo upstream \(pid (\d+)\)", text)
    pids = [int(p) for p in m.groups()] if m else []
    return pids, pids and not any(pvharness.pid_alive(p) for p in pids)


with pvharness.Run() as run:
    env = dict(os.environ, DEMO_COUNT="40", DEMO_PORT="0")

    # --- not on a terminal: `make demo </dev/null | cat` ---------------
    env["DEMO_DIR"] = os.path.join(run.dir, "ci")
    p = subprocess.run([DEMO], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, env=env, timeout=600)
    out = p.stdout.decode(errors="replace")
    t.ok(p.returncode == 0 and out.rstrip().endswith("demo: ok"),
         "not on a terminal: the demo runs to the end and exits 0", out[-2000:])
    checks = re.findall(r"^  (ok  |FAIL)  (.*)$", out, re.M)
    t.ok(len(checks) == 8 and all(k == "ok  " for k, _ in checks),
         "it prints its 8 checks, all passed", repr(checks))
    t.ok(re.search(r"^  \S+  archived 40 of 40; upstream holds 0$", out, re.M),
         "serve harvests the demo mailbox by itself, the mail shown arriving")
    t.ok(re.search(r"^  ok    5 messages delivered upstream later: archived by serve on its own",
                   out, re.M), "... and mail delivered upstream later")
    t.ok(re.search(r"^  ok    GET /api/v1/search\?q=from:sec\.gov as legal: [1-9]\d* messages", out,
                   re.M), "... among them a search through the API that finds harvested mail")
    users = re.findall(r"^  (admin|legal|compliance) +(\S{12,}) +\(", out, re.M)
    t.ok(sorted(u for u, _ in users) == ["admin", "compliance", "legal"]
         and len({pw for _, pw in users}) == 3,
         "it prints the three users with their passwords", repr(users))
    pids, gone = stopped(out)
    t.ok(gone, "it stops serve and the upstream it started, by PID", repr(pids))
    t.ok("\033[" not in out, "no terminal escapes into a pipe")
    t.ok(os.path.exists(os.path.join(env["DEMO_DIR"], "data", "catalog.db")),
         "the archive stays for exploring")

    # --- on a terminal: up until Ctrl-C --------------------------------
    env["DEMO_DIR"] = os.path.join(run.dir, "tty")
    pid, fd = pty.fork()
    if pid == 0:
        # Ctrl-C reaches the demo as on a terminal even when this suite was
        # started in the background, where SIGINT comes ignored (a shell
        # cannot trap a signal ignored on entry).
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.execve(DEMO, [DEMO], env)
    seen = b""

    def read_until(pattern, timeout):
        global seen
        deadline = time.time() + timeout
        while time.time() < deadline:
            m = re.search(pattern, seen)
            if m:
                return m
            r, _, _ = select.select([fd], [], [], 0.5)
            if r:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                seen += chunk
        return re.search(pattern, seen)

    m = read_until(rb"Open (https://127\.0\.0\.1:\d+)/ and sign in", 600)
    up = read_until(rb"Press Ctrl-C to stop", 30)
    t.ok(m and up, "on a terminal: it prints the URL and waits", repr(seen[-1500:]))
    url = m.group(1).decode() if m else None
    ca = os.path.join(env["DEMO_DIR"], "data", "tls", "cert.pem")
    time.sleep(2)  # still up a while later
    ok = False
    if url:
        r = pvweb.Server.attach(url, ca).request("GET", "/healthz")
        ok = r.status == 200
    t.ok(ok, "... and the UI keeps answering (GET /healthz over HTTPS, its certificate)")
    os.write(fd, b"\x03")  # Ctrl-C, as the terminal sends it
    read_until(rb"the archive stays in", 60)

    def reap(seconds):
        """The demo's wait status once it ended; None while it runs."""
        for _ in range(int(seconds * 10)):
            try:
                done, st = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                return -1
            if done:
                return st
            time.sleep(0.1)
        return None

    # A demo that ignored Ctrl-C fails, it does not hang the suite: TERM
    # (it stops its serve and upstream on that too), then KILL.
    status = reap(60)
    if status is None:
        os.kill(pid, signal.SIGTERM)
        if reap(30) is None:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        status = -1
    try:
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            seen += chunk
    except OSError:
        pass
    out = seen.decode(errors="replace")
    t.ok(os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0,
         "Ctrl-C: the demo ends, exit 0", "status %r\n%s" % (status, out[-800:]))
    pids, gone = stopped(out)
    t.ok(gone, "Ctrl-C: serve and the upstream are stopped, by PID", repr(pids))
    try:
        pvweb.Server.attach(url, ca).request("GET", "/healthz", timeout=5)
        refused = False
    except (OSError, AttributeError, TypeError, ValueError):
        refused = True
    t.ok(url and refused, "... and the URL no longer answers")
    if not gone:
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass

sys.exit(t.done())
