#!/usr/bin/env python3
"""A real RFC 3161 Time-Stamp Authority on loopback for the e2e tests:
OpenSSL's own (`openssl ts -reply`) behind a small HTTP responder.

    tsa_responder.py --dir DIR --port-file F      (after make_tsa(DIR))

Each POST body (application/timestamp-query) is written to a file and
answered by `openssl ts -reply -config DIR/tsa.cnf -section SECTION`, sent
back as application/timestamp-reply.  What the next replies look like is
read from DIR/mode on every request, so a test switches it by writing the
file (no restart):

    good           the good TSA (its certificate chains to DIR/ca.pem)
    wrong-imprint  the request's hashed message is changed before signing
    nonce          the request's nonce is changed before signing
    untrusted      signed by a TSA certificate of an unrelated CA
    expired        signed by a TSA certificate that expired in 2001
    garbage        200 with bytes that are no TimeStampResp
    http500        500 Internal Server Error

A request for a policy the TSA does not have (popvault.conf tsa_policy) is
refused by OpenSSL itself: status rejection, unacceptedPolicy.

Each request is logged as one line "MODE STATUS" in DIR/requests.log.
"""

import argparse
import http.server
import os
import random
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pvharness  # noqa: E402  (its CA config and openssl runner)

_openssl = pvharness._openssl

CNF = """[tsa]
default_tsa = tsa_good
[tsa_good]
dir = %(dir)s
serial = $dir/tsaserial
crypto_device = builtin
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1.1
other_policies = 1.3.6.1.4.1.99999.1.2
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_chain = yes
ess_cert_id_alg = sha256
"""

# The harness's CA config (openssl ca), and a TSA certificate's extensions.
EXT_TSA = """[ext_tsa]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""

SECTIONS = {
    # mode: (section, signer cert, key, the other certificates of its chain)
    "good": ("tsa_good", "tsa.pem", "tsa.key", "ca.pem"),
    "wrong-imprint": ("tsa_good", "tsa.pem", "tsa.key", "ca.pem"),
    "nonce": ("tsa_good", "tsa.pem", "tsa.key", "ca.pem"),
    "untrusted": ("tsa_good", "rogue-tsa.pem", "rogue-tsa.key", "other-ca.pem"),
    "expired": ("tsa_good", "expired-tsa.pem", "expired-tsa.key", "ca.pem"),
}


def make_tsa(d):
    """The TSA's certificates and config in d: ca.pem (the CA a verifier
    trusts: --tsa-ca), tsa.pem (its TSA certificate, EKU timeStamping,
    critical), expired-tsa.pem (same CA, expired 2001), rogue-tsa.pem
    (another CA, other-ca.pem) and tsa.cnf for `openssl ts -reply`."""
    os.makedirs(os.path.join(d, "newcerts"), exist_ok=True)
    with open(os.path.join(d, "index.txt"), "w"):
        pass
    with open(os.path.join(d, "serial"), "w") as f:
        f.write("%032x\n" % random.SystemRandom().getrandbits(120))
    with open(os.path.join(d, "tsaserial"), "w") as f:
        f.write("01\n")
    cnf = os.path.join(d, "ca.cnf")
    with open(cnf, "w") as f:
        f.write(pvharness._CA_CNF % {"dir": d} + EXT_TSA)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def req(name, cn):
        _openssl(["req", "-new", "-config", cnf] + ec +
                 ["-subj", "/CN=" + cn, "-keyout", name + ".key", "-out", name + ".csr"], d)

    def sign(name, out, ext, start, end, cakey, cacert=None):
        a = ["ca", "-batch", "-config", cnf, "-in", name + ".csr", "-out", out,
             "-extensions", ext, "-startdate", start, "-enddate", end, "-notext",
             "-keyfile", cakey]
        a += ["-cert", cacert] if cacert else ["-selfsign"]
        _openssl(a, d)

    long_ = ("20000101000000Z", "20991231235959Z")
    req("ca", "popvault test TSA CA")
    sign("ca", "ca.pem", "ext_ca", *long_, "ca.key")
    req("other-ca", "an unrelated CA")
    sign("other-ca", "other-ca.pem", "ext_ca", *long_, "other-ca.key")
    req("tsa", "popvault test TSA")
    sign("tsa", "tsa.pem", "ext_tsa", *long_, "ca.key", "ca.pem")
    req("expired-tsa", "popvault test TSA (expired)")
    sign("expired-tsa", "expired-tsa.pem", "ext_tsa", "20000101000000Z",
         "20011231235959Z", "ca.key", "ca.pem")
    req("rogue-tsa", "a TSA nobody trusts")
    sign("rogue-tsa", "rogue-tsa.pem", "ext_tsa", *long_, "other-ca.key", "other-ca.pem")
    for n in os.listdir(d):
        if n.endswith(".key"):
            os.chmod(os.path.join(d, n), 0o600)
    with open(os.path.join(d, "tsa.cnf"), "w") as f:
        f.write(CNF % {"dir": d})
    with open(os.path.join(d, "mode"), "w") as f:
        f.write("good\n")


def _der_len(b, i):
    """(length, index after the length octets) of the DER length at b[i]."""
    n = b[i]
    if n < 0x80:
        return n, i + 1
    k = n & 0x7F
    return int.from_bytes(b[i + 1:i + 1 + k], "big"), i + 1 + k


def tamper(req, what):
    """The request with its SHA-256 imprint or its nonce changed (one byte
    flipped), everything else as sent."""
    b = bytearray(req)
    at = b.find(b"\x04\x20")           # hashedMessage OCTET STRING (32)
    if at < 0:
        raise ValueError("no SHA-256 imprint in the request")
    if what == "imprint":
        b[at + 2] ^= 0xFF
        return bytes(b)
    i = at + 2 + 32
    if b[i] == 0x06:                   # reqPolicy
        n, j = _der_len(b, i + 1)
        i = j + n
    if b[i] != 0x02:
        raise ValueError("no nonce in the request")
    n, j = _der_len(b, i + 1)
    b[j + n - 1] ^= 0x01
    return bytes(b)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("tsa: " + (fmt % args) + "\n")

    def _send(self, status, body, ctype):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        d = self.server.tsa_dir
        n = int(self.headers.get("Content-Length", "0"))
        req = self.rfile.read(n)
        try:
            with open(os.path.join(d, "mode")) as f:
                mode = f.read().strip() or "good"
        except FileNotFoundError:
            mode = "good"
        status = 200
        try:
            if mode == "http500":
                status, body, ctype = 500, b"internal error\n", "text/plain"
            elif mode == "garbage":
                body, ctype = b"\x30\x03\x02\x01", "application/timestamp-reply"
            else:
                section, cert, key, chain = SECTIONS[mode]
                if mode == "wrong-imprint":
                    req = tamper(req, "imprint")
                elif mode == "nonce":
                    req = tamper(req, "nonce")
                body = self._reply(d, req, section, cert, key, chain)
                ctype = "application/timestamp-reply"
        except Exception as e:  # a broken responder must say so, not hang
            status, body, ctype = 500, ("responder: %s\n" % e).encode(), "text/plain"
        with open(os.path.join(d, "requests.log"), "a") as f:
            f.write("%s %d\n" % (mode, status))
        self._send(status, body, ctype)

    @staticmethod
    def _reply(d, req, section, cert, key, chain):
        with tempfile.TemporaryDirectory(dir=d) as t:
            q = os.path.join(t, "q.tsq")
            out = os.path.join(t, "r.tsr")
            with open(q, "wb") as f:
                f.write(req)
            args = ["ts", "-reply", "-config", os.path.join(d, "tsa.cnf"),
                    "-section", section, "-queryfile", q, "-out", out,
                    "-signer", os.path.join(d, cert), "-inkey", os.path.join(d, key),
                    "-chain", os.path.join(d, chain)]
            _openssl(args, d)
            with open(out, "rb") as f:
                return f.read()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--init", action="store_true", help="make the certificates first")
    a = ap.parse_args()
    if a.init:
        make_tsa(a.dir)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.tsa_dir = a.dir
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, a.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
