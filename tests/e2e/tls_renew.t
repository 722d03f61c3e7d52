#!/usr/bin/env python3
# serve's own self-signed certificate is made again while serve runs, not
# only at a start: an appliance may run for years without a restart, and a
# browser refuses an expired certificate outright. A real serve under
# libfaketime whose offset is read from a file at every call: its
# certificate has 40 days left at the start (kept), then the clock moves 15
# days on and, within the check interval, serve makes a new one on disk and
# its web answers with it, without a restart of serve.
import datetime
import http.client
import os
import socket
import ssl
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(HERE, "lib"))
import popvault  # noqa: E402
import pvharness  # noqa: E402
import pvweb  # noqa: E402

PV = popvault.PV
t = pvharness.Tap()


def not_after(pem):
    p = subprocess.run(["openssl", "x509", "-noout", "-enddate"], input=pem.encode(),
                       capture_output=True, check=True)
    text = p.stdout.decode().strip().split("=", 1)[1]
    return datetime.datetime.strptime(text, "%b %d %H:%M:%S %Y %Z")


def served_pem(port):
    """The certificate the server shows now (not checked: only read)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw) as s:
            return ssl.DER_cert_to_PEM_cert(s.getpeercert(binary_form=True))


with pvharness.Run() as run:
    data = os.path.join(run.dir, "data")
    subprocess.run([PV, "--data", data, "init"], check=True, capture_output=True)
    tls = os.path.join(data, "tls")
    os.mkdir(tls, 0o700)
    # Made as serve makes its own (its own issuer, O=popvault), 40 days left.
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", tls + "/key.pem", "-out",
                    tls + "/cert.pem", "-days", "40", "-subj", "/O=popvault/CN=popvault 127.0.0.1"],
                   check=True, capture_output=True)
    first = open(tls + "/cert.pem").read()

    clock = os.path.join(run.dir, "faketime")
    open(clock, "w").write("+0d\n")
    env = {"LD_PRELOAD": popvault.LIBFAKETIME, "FAKETIME_TIMESTAMP_FILE": clock,
           "FAKETIME_NO_CACHE": "1", "TZ": "UTC", "POPVAULT_TLS_CHECK_S": "1",
           "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"}
    srv = pvweb.Server(run, PV, data, env=env)
    t.is_(served_pem(srv.port), first, "40 days left at the start: the certificate is kept")
    time.sleep(2.5)
    t.is_(served_pem(srv.port), first, "…and still served after a few checks")

    open(clock, "w").write("+15d\n")  # 25 days left: within the 30 of a renewal
    deadline = time.time() + 30
    now = first
    while time.time() < deadline and now == first:
        time.sleep(0.5)
        try:
            now = served_pem(srv.port)
        except OSError:
            pass  # the web starting again
    on_disk = open(tls + "/cert.pem").read()
    t.ok(now != first and now == on_disk,
         "15 days on, while running: a new certificate, on disk and served")
    days = (not_after(now) - not_after(first)).days
    # The old one ended 40 days from the real day; the new one 825 from the
    # faked day, 15 days on: 800 days after the old.
    t.ok(days == 800, "…for 825 days from the (faked) day it was made: %d days past the old" % days)
    t.ok(srv.proc.poll() is None, "serve itself did not restart")
    # Its validity starts on the faked day: checked at that time, against
    # the file a client pins.
    at = str(int(time.time()) + 16 * 86400)
    served = os.path.join(run.dir, "served.pem")
    open(served, "w").write(now)
    v = subprocess.run(["openssl", "verify", "-attime", at, "-CAfile", tls + "/cert.pem", served],
                       capture_output=True)
    t.ok(v.returncode == 0, "…and checks out against the file clients pin",
         (v.stdout + v.stderr).decode())
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    c = http.client.HTTPSConnection("127.0.0.1", srv.port, context=ctx, timeout=10)
    c.request("GET", "/healthz")
    t.is_(c.getresponse().status, 200, "the API answers over it")
    c.close()
    log = open(srv.log).read()
    t.ok("tls.renew" in log and "starts again with the new certificate" in log,
         "the renewal is logged")
    srv.stop()
t.done()
