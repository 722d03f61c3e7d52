#!/usr/bin/env python3
"""Independent POP3 test client (python poplib) for harness self-tests and
for cross-checking popvault: what is upstream, what did a server send.

    popcheck.py --port P [--host H] [--tls | --stls] [--ca PEM]
                [--user U --pass P | --xoauth2 U:TOKEN] CMD [CMD ...]

With --ca the certificate chain and the name "localhost" are verified;
without it TLS is unverified.  Commands run in order, output on stdout:
    capa          one capability line each
    stat          "COUNT SIZE"
    list | uidl   "N VALUE" lines
    retr N        the message bytes, unstuffed, CRLF line ends
    dele N | rset | noop
    quit          QUIT now (default: QUIT after the last command)
    drop          close TCP without QUIT
Exit status 0; 2 on a -ERR reply (its text on stderr); 3 on a TLS or
connection error.
"""
import argparse
import base64
import poplib
import ssl
import sys

poplib._MAXLINE = 1 << 20   # Dovecot sends long body lines unwrapped


def context(ca):
    if ca:
        ctx = ssl.create_default_context(cafile=ca)
        ctx.check_hostname = True
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def connect(a):
    if a.tls:
        return poplib.POP3_SSL(a.host, a.port, context=context(a.ca),
                               timeout=a.timeout)
    p = poplib.POP3(a.host, a.port, timeout=a.timeout)
    if a.stls:
        p.stls(context=context(a.ca))
    return p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--tls", action="store_true")
    ap.add_argument("--stls", action="store_true")
    ap.add_argument("--ca")
    ap.add_argument("--user")
    ap.add_argument("--pass", dest="pw")
    ap.add_argument("--xoauth2")
    ap.add_argument("--timeout", type=float, default=30)
    ap.add_argument("cmds", nargs="*")
    a = ap.parse_args()
    out = sys.stdout.buffer
    # poplib wraps with server_hostname=host; verify as "localhost" like a
    # real client configured with host=localhost would, while dialing the IP.
    if a.ca and a.host == "127.0.0.1":
        orig = ssl.SSLContext.wrap_socket

        def wrap(self, sock, *args, **kw):
            kw["server_hostname"] = "localhost"
            return orig(self, sock, *args, **kw)
        ssl.SSLContext.wrap_socket = wrap
    try:
        p = connect(a)
        if a.user is not None:
            p.user(a.user)
            p.pass_(a.pw or "")
        elif a.xoauth2:
            u, _, tok = a.xoauth2.partition(":")
            ir = base64.b64encode(("user=%s\x01auth=Bearer %s\x01\x01" %
                                   (u, tok)).encode()).decode()
            r = p._shortcmd("AUTH XOAUTH2 " + ir)
            if not r.startswith(b"+OK"):
                raise poplib.error_proto(r)
        cmds = list(a.cmds)
        quit_ = True
        while cmds:
            c = cmds.pop(0).lower()
            if c == "capa":
                for k, v in p.capa().items():
                    out.write((" ".join([k] + v) + "\n").encode())
            elif c == "stat":
                n, s = p.stat()
                out.write(b"%d %d\n" % (n, s))
            elif c in ("list", "uidl"):
                for ln in getattr(p, c)()[1]:
                    out.write(ln + b"\n")
            elif c == "retr":
                for ln in p.retr(int(cmds.pop(0)))[1]:
                    out.write(ln + b"\r\n")
            elif c == "dele":
                p.dele(int(cmds.pop(0)))
            elif c == "rset":
                p.rset()
            elif c == "noop":
                p.noop()
            elif c == "quit":
                p.quit()
                quit_ = False
            elif c == "drop":
                p.close()
                quit_ = False
            else:
                ap.error("unknown command %s" % c)
        if quit_:
            p.quit()
    except poplib.error_proto as e:
        sys.stderr.write("popcheck: %s\n" % e.args[0].decode("utf-8",
                                                             "replace")
                         if isinstance(e.args[0], bytes) else str(e))
        return 2
    except (OSError, ssl.SSLError) as e:
        sys.stderr.write("popcheck: %s\n" % e)
        return 3
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
