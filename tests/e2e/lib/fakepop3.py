#!/usr/bin/env python3
"""Scripted fake POP3 server for faults no real server produces.

python3 stdlib only.  Plays a small declarative script; without rules it is
a plain, lenient RFC 1939 server over a mailbox of files, so a script only
states what differs ("RETR 2 is cut mid-line, QUIT is dropped").

    fakepop3.py --script FILE --transcript FILE --port-file FILE
                [--port N] [--cert PEM --key PEM] [--tls] [--mailbox DIR]

Binds 127.0.0.1 (port 0 = kernel's choice, written to --port-file).  With
--cert/--key it offers STLS; with --tls every connection is implicit TLS.

SCRIPT LANGUAGE (one directive a line; '#' starts a comment line)

  Settings (anywhere outside 'on' bodies):
    greeting TEXT        the greeting (default "+OK fakepop3 ready")
    capa LINE            one CAPA line; repeatable; the first one replaces
                         the default (TOP UIDL USER RESP-CODES PIPELINING,
                         STLS when a cert is given and not --tls)
    user NAME PASS       accepted USER/PASS and AUTH PLAIN credentials;
                         repeatable (default: any name and password)
    mailbox DIR          every regular file of DIR, sorted by name, is one
                         message (paths relative to the script's dir)
    message FILE         one more message
    uidl N VALUE         UIDL of message N (default "fake-<file name>")
    size N VALUE         the size LIST and STAT announce for message N

  Rules, run instead of the built-in reply when a client line matches:
    on REGEX             REGEX must match the whole line (case-insensitive);
      ACTION ...         its actions follow, indented; $1..$9 in them are
                         REGEX's groups.
    on! REGEX            the same, but fires once per server run.

  Sessions: 'session' starts a block that applies to the next connection
  only (1st block = 1st connection, ...); its rules are tried before the
  global ones.  Connections after the last block get the global rules only.
  Actions at the top level of a block (not under 'on') are played at
  connect INSTEAD of the greeting, then the rules take over.

  Actions:
    send TEXT            TEXT + CRLF.  Escapes in TEXT: \\r \\n \\t \\\\ \\xHH
    raw TEXT             TEXT with escapes, nothing appended
    expect REGEX         read one client line; if it does not match, note
                         "# MISMATCH" in the transcript and close
    sleep SECS           pause (fractions allowed)
    close                close the connection (FIN)
    reset                abort the connection (RST)
    stls                 switch to TLS now (send "+OK" before it)
    builtin              the built-in reply to the current line
    message N [cut=K] [lf] [noterm] [nostuff] [crlfstuff]
                         send message N dot-stuffed with its ".CRLF"
                         terminator; cut=K: only the first K bytes, no
                         terminator; lf: CRLF -> bare LF (terminator too);
                         noterm: no terminator; nostuff: no dot-stuffing;
                         crlfstuff: stuff only lines after a CRLF (a lax
                         server: a "." after a bare LF goes out as is)
    rate BPS             slow every later send of this session to BPS
                         bytes a second
    utf8 on              accept UTF-8 in later lines (just recorded)

TRANSCRIPT: one line per event, flushed at once:
    # session N connect | tls | closed | client closed | MISMATCH ... | ...
    C: <client line>     (bytes outside 0x20-0x7e shown as \\xHH)
    # commit N deleted: 1 3 (uidls: a c)   after +OK to QUIT
Tests grep it, e.g. `grep -c '^C: DELE'` or `! grep -q '^C: QUIT'`.
State is shared by sessions: messages deleted by a committed QUIT are gone
for later connections.
"""
import argparse
import base64
import os
import re
import socket
import ssl
import sys
import threading
import time

MAX_LINE = 65536


def unescape(s):
    """Script text (bytes) -> bytes, with \\r \\n \\t \\\\ \\xHH."""
    out = bytearray()
    i = 0
    while i < len(s):
        c = s[i]
        if c == 0x5C and i + 1 < len(s):  # backslash
            n = chr(s[i + 1])
            if n in "rnt\\":
                out += {"r": b"\r", "n": b"\n", "t": b"\t", "\\": b"\\"}[n]
                i += 2
                continue
            if n == "x" and i + 3 < len(s):
                try:
                    out.append(int(s[i + 2:i + 4], 16))
                    i += 4
                    continue
                except ValueError:
                    pass
        out.append(c)
        i += 1
    return bytes(out)


def show(line):
    return "".join(chr(b) if 0x20 <= b < 0x7F else "\\x%02x" % b
                   for b in line)


class Rule:
    def __init__(self, regex, once, lineno):
        self.src = regex
        try:
            self.rx = re.compile(regex.decode("utf-8", "replace"),
                                 re.IGNORECASE | re.DOTALL)
        except re.error as e:
            raise SystemExit("script line %d: bad regex: %s" % (lineno, e))
        self.once = once
        self.fired = False
        self.actions = []


class Block:
    def __init__(self):
        self.steps = []
        self.rules = []


ACTIONS = {"send", "raw", "expect", "sleep", "close", "reset", "stls",
           "builtin", "message", "rate", "utf8"}


class Script:
    def __init__(self, path):
        self.greeting = b"+OK fakepop3 ready"
        self.capa = None
        self.users = {}
        self.files = []
        self.uidl = {}
        self.size = {}
        self.glob = Block()
        self.sessions = []
        base = os.path.dirname(os.path.abspath(path))
        with open(path, "rb") as f:
            lines = f.read().split(b"\n")
        block = self.glob
        rule = None
        for no, raw in enumerate(lines, 1):
            line = raw.rstrip(b"\r")
            if not line.strip() or line.lstrip().startswith(b"#"):
                continue
            indented = line[:1] in (b" ", b"\t")
            body = line.strip()
            word, _, arg = body.partition(b" ")
            w = word.decode("ascii", "replace")
            if indented and rule is not None:
                if w not in ACTIONS or w == "expect":
                    raise SystemExit("script line %d: %r not allowed in a "
                                     "rule" % (no, w))
                rule.actions.append((w, arg, no))
                continue
            rule = None
            if w == "greeting":
                self.greeting = unescape(arg)
            elif w == "capa":
                if self.capa is None:
                    self.capa = []
                self.capa.append(unescape(arg))
            elif w == "user":
                n, _, p = arg.partition(b" ")
                self.users[n] = p
            elif w == "mailbox":
                d = os.path.join(base, arg.decode())
                self.files += [os.path.join(d, n)
                               for n in sorted(os.listdir(d))
                               if os.path.isfile(os.path.join(d, n))
                               and not n.startswith(".")]
            elif w == "message":
                if block is not self.glob or indented:
                    block.steps.append((w, arg, no))
                else:
                    self.files.append(os.path.join(base, arg.decode()))
            elif w == "uidl":
                n, _, v = arg.partition(b" ")
                self.uidl[int(n)] = v
            elif w == "size":
                n, _, v = arg.partition(b" ")
                self.size[int(n)] = int(v)
            elif w in ("on", "on!"):
                rule = Rule(arg, w == "on!", no)
                block.rules.append(rule)
            elif w == "session":
                block = Block()
                self.sessions.append(block)
            elif w in ACTIONS:
                block.steps.append((w, arg, no))
            else:
                raise SystemExit("script line %d: unknown directive %r" %
                                 (no, w))


class Closed(Exception):
    pass


class Msg:
    def __init__(self, idx, data, uidl, size):
        self.idx = idx
        self.data = data
        self.uidl = uidl
        self.size = size
        self.gone = False


class Server:
    def __init__(self, args):
        self.args = args
        self.script = Script(args.script)
        files = list(self.script.files)
        if args.mailbox:
            files += [os.path.join(args.mailbox, n)
                      for n in sorted(os.listdir(args.mailbox))
                      if os.path.isfile(os.path.join(args.mailbox, n))
                      and not n.startswith(".") and n != "index.json"]
        self.msgs = []
        for i, fpath in enumerate(files, 1):
            with open(fpath, "rb") as f:
                data = f.read()
            uidl = self.script.uidl.get(
                i, ("fake-" + os.path.basename(fpath)).encode()[:70])
            self.msgs.append(Msg(i, data, uidl,
                                 self.script.size.get(i, len(data))))
        self.lock = threading.Lock()
        self.tlock = threading.Lock()
        self.nsess = 0
        self.tfile = open(args.transcript, "a", encoding="utf-8")
        self.ctx = None
        if args.cert and args.key:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(args.cert, args.key)

    def note(self, text):
        with self.tlock:
            self.tfile.write(text + "\n")
            self.tfile.flush()

    def serve(self):
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", self.args.port))
        ls.listen(32)
        if self.args.port_file:
            tmp = self.args.port_file + ".tmp"
            with open(tmp, "w") as f:
                f.write("%d\n" % ls.getsockname()[1])
            os.rename(tmp, self.args.port_file)
        while True:
            s, _ = ls.accept()
            with self.lock:
                self.nsess += 1
                n = self.nsess
            threading.Thread(target=Session(self, s, n).run,
                             daemon=True).start()


class Session:
    def __init__(self, srv, sock, n):
        self.srv = srv
        self.sock = sock
        self.n = n
        self.buf = b""
        self.tls = False
        self.rate = 0
        self.authed = False
        self.user = None
        self.deleted = set()
        sc = srv.script
        self.block = sc.sessions[n - 1] if n <= len(sc.sessions) else None
        with srv.lock:
            self.msgs = [m for m in srv.msgs if not m.gone]

    def note(self, text):
        self.srv.note("# session %d %s" % (self.n, text))

    # -- I/O
    def send(self, data):
        if not data:
            return
        try:
            if self.rate <= 0:
                self.sock.sendall(data)
                return
            step = max(1, self.rate // 10)
            for i in range(0, len(data), step):
                time.sleep(len(data[i:i + step]) / self.rate)
                self.sock.sendall(data[i:i + step])
        except (OSError, ssl.SSLError) as e:
            raise Closed("send failed: %s" % e)

    def readline(self):
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 1:]
                if line.endswith(b"\r"):
                    line = line[:-1]
                else:
                    self.note("bare-LF line")
                self.srv.note("C: " + show(line))
                return line
            if len(self.buf) > MAX_LINE:
                self.note("line over %d bytes" % MAX_LINE)
                raise Closed("long line")
            try:
                data = self.sock.recv(65536)
            except (OSError, ssl.SSLError) as e:
                raise Closed("recv failed: %s" % e)
            if not data:
                if self.buf:
                    self.srv.note("C: " + show(self.buf))
                    self.note("unterminated last line")
                raise Closed("client closed")
            self.buf += data

    def starttls(self):
        if self.srv.ctx is None:
            raise Closed("stls without a cert")
        if self.buf:
            self.note("%d plaintext bytes buffered before TLS (dropped)" %
                      len(self.buf))
            self.buf = b""
        try:
            self.sock = self.srv.ctx.wrap_socket(self.sock, server_side=True)
        except (OSError, ssl.SSLError) as e:
            self.note("tls handshake failed: %s" % e)
            raise Closed("tls failed")
        self.tls = True
        self.note("tls %s" % self.sock.version())

    # -- main loop
    def run(self):
        self.note("connect")
        why = "closed"
        try:
            if self.srv.args.tls:
                self.starttls()
            steps = self.block.steps if self.block and self.block.steps \
                else self.srv.script.glob.steps
            if steps:
                self.play(steps, None)
            else:
                self.send(self.srv.script.greeting + b"\r\n")
            while True:
                line = self.readline()
                self.dispatch(line)
        except Closed as e:
            why = str(e)
        except Exception as e:  # a harness bug must show, not hang
            why = "server error %r" % e
        try:
            self.sock.close()
        except OSError:
            pass
        self.note("end: " + why)

    def dispatch(self, line):
        text = line.decode("utf-8", "replace")
        rules = (self.block.rules if self.block else []) + \
            self.srv.script.glob.rules
        for r in rules:
            m = r.rx.fullmatch(text)
            if not m:
                continue
            with self.srv.lock:
                if r.once and r.fired:
                    continue
                r.fired = True
            self.note("rule %s" % r.src.decode("utf-8", "replace"))
            self.play(r.actions, line, m)
            return
        self.builtin(line)

    def play(self, actions, line, m=None):
        for (w, arg, no) in actions:
            if m is not None:
                arg = re.sub(rb"\$(\d)", lambda g: (
                    (m.group(int(g.group(1))) or "").encode()
                    if int(g.group(1)) <= (m.re.groups or 0) else b""), arg)
            if w == "send":
                self.send(unescape(arg) + b"\r\n")
            elif w == "raw":
                self.send(unescape(arg))
            elif w == "expect":
                got = self.readline()
                rx = re.compile(arg.decode("utf-8", "replace"),
                                re.IGNORECASE | re.DOTALL)
                if not rx.fullmatch(got.decode("utf-8", "replace")):
                    self.note("MISMATCH line %d: expected %s got %s" % (
                        no, arg.decode("utf-8", "replace"), show(got)))
                    raise Closed("mismatch")
                line = got
            elif w == "sleep":
                time.sleep(float(arg))
            elif w == "close":
                raise Closed("closed by script")
            elif w == "reset":
                try:
                    self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                         b"\x01\x00\x00\x00\x00\x00\x00\x00")
                except OSError:
                    pass
                raise Closed("reset by script")
            elif w == "stls":
                self.starttls()
            elif w == "builtin":
                if line is not None:
                    self.builtin(line)
            elif w == "message":
                self.send_message(arg, no)
            elif w == "rate":
                self.rate = int(arg)
            elif w == "utf8":
                self.note("utf8 on")

    # -- built-in POP3
    def live(self):
        return [(i, m) for i, m in enumerate(self.msgs, 1)
                if i not in self.deleted]

    def msg(self, arg):
        try:
            i = int(arg)
        except ValueError:
            return None, None
        if 1 <= i <= len(self.msgs) and i not in self.deleted:
            return i, self.msgs[i - 1]
        return None, None

    def body(self, data, lf=False, stuff=True, term=True, cut=None,
             crlfstuff=False):
        sep = b"\r\n" if crlfstuff else b"\n"
        parts = data.split(sep)
        out = []
        for p in parts:
            if stuff and p.startswith(b"."):
                p = b"." + p
            out.append(p)
        blob = sep.join(out)
        if not blob.endswith(b"\n"):
            blob += b"\r\n"
        if lf:
            blob = blob.replace(b"\r\n", b"\n")
        if cut is not None:
            return blob[:cut]
        if term:
            blob += b".\n" if lf else b".\r\n"
        return blob

    def send_message(self, arg, no):
        words = arg.split()
        if not words:
            raise SystemExit("script line %d: message needs N" % no)
        i = int(words[0])
        if not 1 <= i <= len(self.msgs):
            self.note("script line %d: no message %d" % (no, i))
            return
        opts = {"lf": False, "noterm": False, "nostuff": False, "cut": None,
                "crlfstuff": False}
        for w in words[1:]:
            k, _, v = w.decode().partition("=")
            opts[k] = int(v) if v else True
        self.send(self.body(self.msgs[i - 1].data, lf=opts["lf"],
                            stuff=not opts["nostuff"],
                            term=not opts["noterm"], cut=opts["cut"],
                            crlfstuff=opts["crlfstuff"]))

    def capa(self):
        c = self.srv.script.capa
        if c is None:
            c = [b"TOP", b"UIDL", b"USER", b"RESP-CODES", b"PIPELINING"]
            if self.srv.ctx is not None and not self.tls:
                c.append(b"STLS")
            c.append(b"SASL PLAIN")
        return c

    def check_login(self, user, pw):
        users = self.srv.script.users
        return not users or users.get(user) == pw

    def builtin(self, line):
        cmd, _, rest = line.partition(b" ")
        cmd = cmd.upper()
        args = rest.split()
        ok = lambda t=b"": self.send(b"+OK" + (b" " + t if t else b"") +
                                     b"\r\n")
        err = lambda t: self.send(b"-ERR " + t + b"\r\n")
        if cmd == b"CAPA":
            self.send(b"+OK Capability list follows\r\n" +
                      b"".join(c + b"\r\n" for c in self.capa()) + b".\r\n")
        elif cmd == b"QUIT":
            if self.authed:
                self.commit()
            ok(b"bye")
            raise Closed("quit")
        elif cmd == b"NOOP":
            ok()
        elif not self.authed:
            if cmd == b"USER" and args:
                self.user = args[0]
                ok()
            elif cmd == b"PASS" and self.user is not None:
                if self.check_login(self.user, rest):
                    self.authed = True
                    ok(b"logged in")
                else:
                    err(b"[AUTH] invalid login")
            elif cmd == b"STLS":
                if self.tls or self.srv.ctx is None:
                    err(b"STLS not available")
                else:
                    ok(b"begin TLS")
                    self.starttls()
            elif cmd == b"AUTH":
                self.auth(args)
            else:
                err(b"not authenticated")
        elif cmd == b"STAT":
            live = self.live()
            ok(b"%d %d" % (len(live), sum(m.size for _, m in live)))
        elif cmd in (b"LIST", b"UIDL"):
            val = (lambda m: b"%d" % m.size) if cmd == b"LIST" else \
                (lambda m: m.uidl)
            if args:
                i, m = self.msg(args[0])
                if m is None:
                    return err(b"no such message")
                return ok(b"%d %s" % (i, val(m)))
            self.send(b"+OK\r\n" + b"".join(b"%d %s\r\n" % (i, val(m))
                                           for i, m in self.live()) + b".\r\n")
        elif cmd == b"RETR" and args:
            i, m = self.msg(args[0])
            if m is None:
                return err(b"no such message")
            self.send(b"+OK %d octets\r\n" % m.size + self.body(m.data))
        elif cmd == b"TOP" and len(args) == 2:
            i, m = self.msg(args[0])
            if m is None or not args[1].isdigit():
                return err(b"no such message")
            head, sep, rest_ = m.data.partition(b"\r\n\r\n")
            if not sep:
                head, sep, rest_ = m.data.partition(b"\n\n")
            k = int(args[1])
            part = head + sep + b"\n".join(rest_.split(b"\n")[:k]) if k \
                else head + sep
            if part.endswith(b"\r"):
                part = part[:-1]
            self.send(b"+OK\r\n" + self.body(part))
        elif cmd == b"DELE" and args:
            i, m = self.msg(args[0])
            if m is None:
                return err(b"no such message")
            self.deleted.add(i)
            ok(b"deleted")
        elif cmd == b"RSET":
            self.deleted.clear()
            ok()
        else:
            err(b"unknown command")

    def auth(self, args):
        if not args:
            return self.send(b"+OK\r\nPLAIN\r\n.\r\n")
        if args[0].upper() != b"PLAIN":
            return self.send(b"-ERR unsupported mechanism\r\n")
        if len(args) > 1:
            resp = args[1]
        else:
            self.send(b"+ \r\n")
            resp = self.readline()
        if resp == b"*":
            return self.send(b"-ERR cancelled\r\n")
        try:
            _, user, pw = base64.b64decode(resp, validate=True).split(b"\0")
        except (ValueError, TypeError):
            return self.send(b"-ERR [AUTH] bad PLAIN response\r\n")
        if self.check_login(user, pw):
            self.authed, self.user = True, user
            self.send(b"+OK logged in\r\n")
        else:
            self.send(b"-ERR [AUTH] invalid login\r\n")

    def commit(self):
        gone = sorted(self.deleted)
        with self.srv.lock:
            for i in gone:
                self.msgs[i - 1].gone = True
        if gone:
            self.srv.note("# commit %d deleted: %s (uidls: %s)" % (
                self.n, " ".join(str(i) for i in gone),
                " ".join(show(self.msgs[i - 1].uidl) for i in gone)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--script", required=True)
    ap.add_argument("--transcript", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--tls", action="store_true")
    ap.add_argument("--mailbox")
    args = ap.parse_args()
    if args.tls and not (args.cert and args.key):
        ap.error("--tls needs --cert and --key")
    Server(args).serve()


if __name__ == "__main__":
    sys.exit(main())
