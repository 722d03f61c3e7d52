#!/usr/bin/env python3
# Harness self-test: the scripted fake POP3 server (lib/fakepop3.py) plays
# each fault script byte-exactly and its transcript records what the
# client sent, so POP3 tests can trust "no QUIT was sent" / "DELE never
# sent" assertions built on it.
import os
import socket
import ssl
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(HERE, "lib"))
import pvharness  # noqa: E402

SRC = os.environ.get("POPVAULT_SRC") or os.path.dirname(os.path.dirname(HERE))
FAKE = os.path.join(SRC, "tests", "data", "fake")
BASIC = os.path.join(SRC, "tests", "data", "mail", "basic")
POPCHECK = os.path.join(HERE, "lib", "popcheck.py")


def mail(name):
    with open(os.path.join(BASIC, name), "rb") as f:
        return f.read()


class Raw:
    """A deliberately dumb client: exact bytes out, exact bytes in."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def line(self):
        while b"\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError(self.buf)
            self.buf += d
        i = self.buf.index(b"\n") + 1
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def until(self, end):
        while end not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError(self.buf)
            self.buf += d
        i = self.buf.index(end) + len(end)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def rest(self):
        """Everything until the server closes."""
        out = self.buf
        while True:
            d = self.s.recv(65536)
            if not d:
                self.buf = b""
                return out
            out += d

    def cmd(self, c):
        self.s.sendall(c + b"\r\n")
        return self.line()

    def login(self):
        self.line()
        self.cmd(b"USER alice")
        return self.cmd(b"PASS alicepw")

    def close(self):
        self.s.close()


def popcheck(*args):
    return subprocess.run([sys.executable, POPCHECK] + list(args),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def main():
    t = pvharness.Tap(29)
    with pvharness.Run() as run:
        body(t, run)
    return t.done()


def body(t, run):
    ca = run.ca()
    basic_size = sum(len(mail(n)) for n in os.listdir(BASIC))

    # -- the built-in server: a plain mailbox, transcript in order
    f = run.fake("mailbox %s\n" % BASIC, name="plain")
    r = popcheck("--port", str(f.port), "--user", "alice", "--pass",
                 "alicepw", "stat", "retr", "2")
    t.is_(r.stdout.split(b"\n", 1)[0], b"5 %d" % basic_size,
          "STAT counts the mailbox")
    t.ok(r.stdout.split(b"\n", 1)[1] == mail("02-dots.eml"),
         "RETR 2 round-trips dot lines byte-exactly")
    t.is_(f.client_lines(), ["USER alice", "PASS alicepw", "STAT", "RETR 2",
                             "QUIT"],
          "transcript lists the client's commands in order")
    r = popcheck("--port", str(f.port), "--user", "alice", "--pass",
                 "alicepw", "dele", "1", "drop")
    t.ok("QUIT" not in f.client_lines()[-3:] and
         f.client_lines()[-1] == "DELE 1",
         "a dropped session shows DELE but no QUIT in the transcript")
    r = popcheck("--port", str(f.port), "--user", "alice", "--pass",
                 "alicepw", "dele", "1", "quit")
    lines = f.transcript_lines()
    t.ok(any(x.startswith("# commit 3 deleted: 1 (uidls: fake-01-plain.eml)")
             for x in lines) and
         not any(x.startswith("# commit 2") for x in lines),
         "only the QUIT-ed session commits its DELE")
    r = popcheck("--port", str(f.port), "--user", "alice", "--pass",
                 "alicepw", "stat")
    t.is_(r.stdout, b"4 %d\n" % (basic_size - len(mail("01-plain.eml"))),
          "committed deletes are gone for the next session")

    # -- fault scripts from tests/data/fake
    f = run.fake(os.path.join(FAKE, "bare_lf.pop"), name="bare_lf")
    c = Raw(f.port)
    c.login()
    c.s.sendall(b"RETR 1\r\n")
    c.line()
    got = c.until(b"\n.\n")
    t.is_(got, mail("01-plain.eml").replace(b"\r\n", b"\n") + b".\n",
          "bare_lf: RETR 1 arrives with bare LF, terminator included")
    c.s.sendall(b"NOOP\n")
    c.line()
    c.close()
    time.sleep(0.2)
    t.ok("# session 1 bare-LF line" in f.transcript_lines(),
         "a bare-LF client line is noted in the transcript")

    f = run.fake(os.path.join(FAKE, "cut_mid_line.pop"), name="cut")
    c = Raw(f.port)
    c.login()
    c.s.sendall(b"RETR 2\r\n")
    t.is_(c.line(), b"+OK 221 octets\r\n", "cut_mid_line: +OK line")
    got = c.rest()
    t.ok(len(got) == 100 and got == mail("02-dots.eml")[:100] and
         not got.endswith(b"\n"),
         "cut_mid_line: 100 bytes, mid-line, then the connection closes")

    f = run.fake(os.path.join(FAKE, "no_terminator.pop"), name="noterm")
    c = Raw(f.port)
    c.login()
    c.s.sendall(b"RETR 1\r\n")
    c.line()
    t.is_(c.rest(), mail("01-plain.eml"),
          "no_terminator: the whole message, no '.', then close")

    f = run.fake(os.path.join(FAKE, "garbage_capa.pop"), name="garbage")
    c = Raw(f.port)
    c.line()
    c.s.sendall(b"CAPA\r\n")
    got = c.until(b"\r\n.\r\n")
    t.ok(b"\xff\xfe\x01garbage\r\n" in got and b"\r\nEXPIRE0\r\n" in got and
         max(len(x) for x in got.split(b"\r\n")) > 512,
         "garbage_capa: binary, malformed and over-long CAPA lines")
    c.close()

    f = run.fake(os.path.join(FAKE, "utf8.pop"), name="utf8")
    c = Raw(f.port)
    c.line()
    c.s.sendall(b"CAPA\r\n")
    got = c.until(b"\r\n.\r\n")
    t.ok(b"\r\nUTF8 USER\r\n" in got and c.cmd(b"UTF8") ==
         b"+OK UTF8 enabled\r\n", "utf8: UTF8 advertised and accepted")
    c.close()

    f = run.fake(os.path.join(FAKE, "drop_before_quit_ok.pop"), name="drop")
    c = Raw(f.port)
    c.login()
    c.cmd(b"DELE 1")
    c.s.sendall(b"QUIT\r\n")
    t.is_(c.rest(), b"", "drop_before_quit_ok: QUIT gets no reply, "
          "just EOF")
    time.sleep(0.2)
    cl = f.client_lines()
    t.ok(cl[-2:] == ["DELE 1", "QUIT"] and
         not any(x.startswith("# commit") for x in f.transcript_lines()),
         "... the transcript has DELE and QUIT and no commit")
    r = popcheck("--port", str(f.port), "--user", "a", "--pass", "b", "stat")
    t.is_(r.stdout, b"5 %d\n" % basic_size, "... and nothing was deleted")

    f = run.fake(os.path.join(FAKE, "stls_injection.pop"), name="inj")
    c = Raw(f.port)
    c.line()
    c.s.sendall(b"STLS\r\n")
    time.sleep(0.3)
    t.is_(c.s.recv(4096), b"+OK begin TLS\r\n+OK injected\r\n",
          "stls_injection: plaintext after +OK to STLS")
    c.close()

    f = run.fake(os.path.join(FAKE, "in_use.pop"), name="inuse")
    t.ok(Raw(f.port).login().startswith(b"-ERR [IN-USE]") and
         Raw(f.port).login().startswith(b"+OK"),
         "on!: [IN-USE] once, then the login works")

    f = run.fake(os.path.join(FAKE, "dup_uidl.pop"), name="dup")
    r = popcheck("--port", str(f.port), "--user", "a", "--pass", "b", "uidl")
    t.is_(r.stdout.count(b" same-uidl\n"), 2, "dup_uidl: two messages, "
          "one UIDL")
    f = run.fake(os.path.join(FAKE, "size_lie.pop"), name="lie")
    r = popcheck("--port", str(f.port), "--user", "a", "--pass", "b", "list")
    t.ok(r.stdout.startswith(b"1 500\n"), "size_lie: LIST says 500")

    # -- TLS
    f = run.fake("mailbox %s\n" % BASIC, name="tls", tls=True)
    r = popcheck("--port", str(f.port), "--tls", "--ca", ca["ca"], "--user",
                 "a", "--pass", "b", "stat")
    t.ok(r.returncode == 0 and any(x.startswith("# session 1 tls TLSv1.")
                                   for x in f.transcript_lines()),
         "implicit TLS with the run cert verifies (CA + hostname)")
    f = run.fake("mailbox %s\n" % BASIC, name="wrongname", tls=True,
                 cert=ca["wronghost_cert"], key=ca["wronghost_key"])
    r = popcheck("--port", str(f.port), "--tls", "--ca", ca["ca"], "capa")
    time.sleep(0.2)
    t.ok(r.returncode == 3 and any("tls handshake failed" in x for x in
                                   f.transcript_lines()),
         "a wrong-host cert fails the client's check; transcript says so")
    f = run.fake("mailbox %s\n" % BASIC, name="stls")
    r = popcheck("--port", str(f.port), "--stls", "--ca", ca["ca"], "--user",
                 "a", "--pass", "b", "stat")
    t.ok(r.returncode == 0 and f.client_lines()[:2] == ["CAPA", "STLS"],
         "STLS is offered and upgrades with the run cert")

    # -- sessions, expect, $1, rate
    f = run.fake("""
session
  send +OK first
  expect CAPA
  send -ERR no capa for you
  expect USER .*
  close
session
  send +OK second
  expect USER alice
session
on RETR (\\d+)
  send +OK message $1 coming
  message $1 lf
mailbox %s
""" % BASIC, name="seq")
    c = Raw(f.port)
    a1 = (c.line(), c.cmd(b"CAPA"))
    c.s.sendall(b"USER x\r\n")
    a1 += (c.rest(),)
    t.is_(a1, (b"+OK first\r\n", b"-ERR no capa for you\r\n", b""),
          "session 1 plays its steps, then closes")
    c = Raw(f.port)
    c.line()
    c.s.sendall(b"NOOP\r\n")
    c.rest()
    time.sleep(0.2)
    t.ok(any(x.startswith("# session 2 MISMATCH") and "got NOOP" in x
             for x in f.transcript_lines()),
         "session 2: an unexpected command is noted as MISMATCH")
    c = Raw(f.port)
    c.login()
    t.is_((c.cmd(b"RETR 4"), c.until(b"\n.\n")),
          (b"+OK message 4 coming\r\n",
           mail("04-encoded.eml").replace(b"\r\n", b"\n") + b".\n"),
          "session 3: a rule with $1 drives the message action")
    c = Raw(f.port)
    t.is_(c.line(), b"+OK fakepop3 ready\r\n",
          "connections after the last session get the global behaviour")

    f = run.fake("mailbox %s\non RETR 3\n  rate 20000\n  builtin\n" % BASIC,
                 name="slow")
    c = Raw(f.port)
    c.login()
    t0 = time.monotonic()
    c.s.sendall(b"RETR 3\r\n")
    c.until(b"\r\n.\r\n")
    el = time.monotonic() - t0
    t.ok(0.15 < el < 3, "rate 20000 drips a 3.8 KB message (%.2f s)" % el)

    f.stop()
    t.ok(not pvharness.pid_alive(f.pid), "stop ends the fake server")


if __name__ == "__main__":
    sys.exit(main())
