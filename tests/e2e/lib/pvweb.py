#!/usr/bin/env python3
"""`popvault serve` for e2e tests: start it on 127.0.0.1, port 0, and talk
to it over HTTPS pinned to the certificate it made (http.client, ssl).

    srv = pvweb.Server(run, PV, data)          # registered with the Run:
    c = pvweb.Client(srv)                      # stopped at exit by pid
    r = c.sign_in("alice", "pw")               # r.status, r.headers, r.json
    r = c.get("/api/v1/me")                    # the session cookie is kept
    r = c.delete("/api/v1/session")            # X-CSRF-Token sent
    raw = srv.raw(b"GET / HTTP/1.1\\r\\n...")    # bytes in, bytes out
    code = pvweb.totp(secret_b32)              # RFC 6238, SHA-1, 6 digits

A fresh connection per request, so one closed by the server (deadline,
Connection: close) never breaks the next.
"""
import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import signal
import socket
import ssl
import struct
import subprocess
import time

START_TIMEOUT = 30.0


def totp(secret_b32, t=None, step=30, digits=6):
    """The RFC 6238 code of secret_b32 at unix time t (default now)."""
    pad = "=" * (-len(secret_b32) % 8)
    key = base64.b32decode(secret_b32 + pad)
    counter = int((time.time() if t is None else t) // step)
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    off = mac[-1] & 0x0F
    code = (struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF) % 10 ** digits
    return "%0*d" % (digits, code)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.header_list = headers            # [(name, value)] as sent
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body

    @property
    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def __repr__(self):
        return "<%d %r %r>" % (self.status, self.headers, self.body[:300])


class Server:
    """popvault serve as a child process (its pid registered with run).
    Web only (--web-only) unless appliance: the API's tests harvest by hand
    and count audit entries; tests/e2e/appliance.t runs the whole appliance."""

    def __init__(self, run, pv, data, args=(), env=None, name="serve", plain=False,
                 appliance=False):
        self.data = data
        self.log = os.path.join(run.dir, name + ".log")
        e = dict(os.environ)
        e.update(env or {})
        argv = [pv, "--data", data, "serve", "--listen", "127.0.0.1:0"] + list(args)
        if plain:
            argv.append("--plain-http")
        if not appliance:
            argv.append("--web-only")
        # Its own session, as pvharness expects of what it stops.
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                     stderr=open(self.log, "ab"), env=e,
                                     start_new_session=True)
        run.register(name, self.proc.pid)
        self.stdout = []
        deadline = time.time() + START_TIMEOUT
        self.url = None
        while time.time() < deadline:
            line = self.proc.stdout.readline().decode()
            if not line:
                break
            self.stdout.append(line)
            m = re.search(r"serving (https?)://127\.0\.0\.1:(\d+)/", line)
            if m:
                self.scheme, self.port = m.group(1), int(m.group(2))
                self.url = "%s://127.0.0.1:%d" % (self.scheme, self.port)
                break
        if self.url is None:
            self.proc.kill()
            raise RuntimeError("serve did not start: %s%s" % (
                "".join(self.stdout), open(self.log).read()))
        self.ca = os.path.join(data, "tls", "cert.pem")
        self.host = "127.0.0.1:%d" % self.port
        self.origin = self.url

    @classmethod
    def attach(cls, url, ca=None):
        """A server something else started, at url ("https://127.0.0.1:PORT"
        or "http://..."), its certificate in ca (for HTTPS)."""
        m = re.fullmatch(r"(https?)://127\.0\.0\.1:(\d+)/?", url)
        if m is None:
            raise ValueError("not a loopback URL: %r" % url)
        self = cls.__new__(cls)
        self.proc, self.log, self.stdout, self.data = None, None, [], None
        self.scheme, self.port = m.group(1), int(m.group(2))
        self.url = "%s://127.0.0.1:%d" % (self.scheme, self.port)
        self.ca = ca
        self.host = "127.0.0.1:%d" % self.port
        self.origin = self.url
        return self

    def context(self, **kw):
        ctx = ssl.create_default_context(cafile=self.ca)
        for k, v in kw.items():
            setattr(ctx, k, v)
        return ctx

    def conn(self, timeout=30, ctx=None):
        if self.scheme == "http":
            return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout,
                                           context=ctx or self.context())

    def request(self, method, path, body=None, headers=None, timeout=30):
        c = self.conn(timeout)
        try:
            hdrs = dict(headers or {})
            # A Host given replaces http.client's own (not a second one).
            c.putrequest(method, path, skip_host="Host" in hdrs, skip_accept_encoding=True)
            if body is not None:
                if isinstance(body, str):
                    body = body.encode()
                hdrs.setdefault("Content-Length", str(len(body)))
            for k, v in hdrs.items():
                c.putheader(k, v)
            c.endheaders(body)
            r = c.getresponse()
            return Response(r.status, r.getheaders(), r.read())
        finally:
            c.close()

    def tls_socket(self, timeout=30):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        if self.scheme == "https":
            s = self.context().wrap_socket(s, server_hostname="127.0.0.1")
        return s

    def raw(self, data, timeout=15):
        """Sends raw request bytes, returns every byte until the server
        closes or goes quiet for `timeout`."""
        s = self.tls_socket(timeout)
        out = b""
        try:
            s.sendall(data)
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
                if b"\r\n\r\n" in out and _complete(out):
                    break
        except (socket.timeout, ConnectionError, ssl.SSLError):
            pass
        finally:
            s.close()
        return out

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.stdout += [ln.decode() for ln in self.proc.stdout.readlines()]
        return rc


def _complete(raw):
    head, _, body = raw.partition(b"\r\n\r\n")
    m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    return m is None or len(body) >= int(m.group(1))


def status_of(raw):
    """The status code of a raw answer, or None."""
    m = re.match(rb"HTTP/1\.[01] (\d{3})", raw)
    return int(m.group(1)) if m else None


class Client:
    """A browser-like API client: keeps the session cookie and CSRF token."""

    def __init__(self, server):
        self.srv = server
        self.cookie = None   # "name=value"
        self.csrf = None

    def _headers(self, extra):
        h = {}
        if self.cookie:
            h["Cookie"] = self.cookie
        h.update(extra or {})
        return h

    def _keep_cookie(self, r):
        sc = r.headers.get("set-cookie")
        if sc:
            pair = sc.split(";", 1)[0]
            name, _, value = pair.partition("=")
            self.cookie = None if value == "" else pair

    def request(self, method, path, body=None, headers=None, csrf=True):
        extra = dict(headers or {})
        if method not in ("GET", "HEAD") and csrf and self.csrf:
            extra.setdefault("X-CSRF-Token", self.csrf)
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            extra.setdefault("Content-Type", "application/json")
        r = self.srv.request(method, path, body, self._headers(extra))
        self._keep_cookie(r)
        return r

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def sign_in(self, user, password, code=None, headers=None, new_password=None):
        body = {"user": user, "password": password}
        if code is not None:
            body["totp"] = code
        if new_password is not None:
            body["new_password"] = new_password
        r = self.request("POST", "/api/v1/session", body, headers=headers)
        if r.status == 200 and r.json:
            self.csrf = r.json.get("csrf")
        return r
