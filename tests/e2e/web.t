#!/usr/bin/env python3
# The web UI in Chromium (issue 14): this script builds the world the
# browser tests need — a Dovecot with generated and hostile mail, an archive
# harvested from it, one user per role, `popvault serve` on 127.0.0.1 over
# HTTPS — then runs tests/web/*.test.mjs under node's own test runner
# (playwright-core driving Debian's /usr/bin/chromium, never a downloaded
# browser) and passes its TAP through to prove. Screenshots go to
# build/web-shots/. npm ci runs first when tests/web/node_modules is missing.
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(HERE, "lib"))
import pvharness  # noqa: E402
import popvault  # noqa: E402
import pvweb  # noqa: E402

SRC = os.environ.get("POPVAULT_SRC") or os.path.dirname(os.path.dirname(HERE))
PV = os.environ.get("POPVAULT_BIN") or os.path.join(SRC, "build", "popvault")
WEB_TESTS = os.path.join(SRC, "tests", "web")
CHROMIUM = "/usr/bin/chromium"
PW = "correct horse battery staple"
USERS = (("lena", "legal"), ("carl", "compliance"), ("adam", "admin"),
         ("tess", "legal"), ("cora", "compliance"))


def bail(msg):
    print("Bail out! %s" % msg, flush=True)
    sys.exit(255)


def need_tools():
    node = shutil.which("node")
    if node is None:
        bail("node is not installed (packaging/deps.sh installs it)")
    v = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    if int(v.lstrip("v").split(".")[0] or 0) < 20:
        bail("node %s is too old: playwright-core and node --test need node 20 or later" % v)
    if not os.access(CHROMIUM, os.X_OK):
        bail("%s is missing (packaging/deps.sh installs Debian's chromium)" % CHROMIUM)
    if not os.path.isdir(os.path.join(WEB_TESTS, "node_modules", "playwright-core")):
        # CI starts from a clean checkout: install the pinned lockfile. The
        # browser is Debian's; never let an install script fetch one.
        env = dict(os.environ, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD="1")
        p = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=WEB_TESTS,
                           capture_output=True, env=env)
        if p.returncode != 0:
            bail("npm ci in tests/web failed: %s" % p.stderr.decode(errors="replace")[-800:])
    return node


def anchor(run, pv, data):
    """Both logs time-stamped by a real TSA (the harness's openssl ts), with
    a witness configured that never answers: the dashboard shows each log's
    anchor and that witness's failed attempt."""
    tsa = run.tsa()
    wdir = os.path.join(run.dir, "witness")
    vkey = pv("witness", "init", "--name", "witness.test/w1",
              data_dir=wdir).stdout.decode().split()[-1]
    with open(os.path.join(data, "popvault.conf"), "a") as f:
        f.write("\n[anchor]\ntsa_url = %s\ntsa_ca_file = %s\n[witnesses]\nwitness = %s "
                "http://127.0.0.1:%d/\n" % (tsa.vars["URL"], tsa.vars["CA"], vkey,
                                            pvharness.free_port()))
    p = pv("anchor", check=False)
    if p.returncode == 0 or b"witness" not in p.stderr:
        bail("popvault anchor with a silent witness: exit %d, %s" % (p.returncode, p.stderr))


def main():
    node = need_tools()
    shots = os.path.join(SRC, "build", "web-shots")
    shutil.rmtree(shots, ignore_errors=True)
    os.makedirs(shots)
    with pvharness.Run() as run:
        mail = os.path.join(run.dir, "mail")
        popvault.genmail(mail, "--count", 60, "--seed", 14, "--max-attachment", 20000)
        d = run.dovecot(users=["alice:alicepw", "bob:bobpw"],
                        seed={"alice": [mail, os.path.join(WEB_TESTS, "mail")]})
        data = os.path.join(run.dir, "data")
        pv = popvault.Archive(data, env={"TZ": "UTC"})
        pv.harvested(d, run.dir)
        pwf = os.path.join(run.dir, "web.pw")
        with open(pwf, "w") as f:
            f.write(PW + "\n")
        for name, role in USERS:
            pv("user", "add", name, "--role", role, "--password-file", pwf)
        anchor(run, pv, data)
        srv = pvweb.Server(run, PV, data, ["--web-root", os.path.join(SRC, "web-static")])
        env = dict(os.environ, FORCE_COLOR="0", NO_COLOR="1",
                   PV_URL=srv.url, PV_BIN=PV, PV_DATA=data, PV_PASSWORD=PW, PV_RUN=run.dir,
                   PV_SHOTS=shots, PV_CHROMIUM=CHROMIUM,
                   PV_USERS=json.dumps(dict(USERS)),
                   PV_DOVECOT=json.dumps({"host": "localhost", "port": int(d.vars["TLS_PORT"]),
                                          "ca": d.vars["CA"], "user": "bob", "password": "bobpw"}),
                   PV_SERVE_LOG=srv.log, TZ="UTC")
        tests = sorted(os.path.join(WEB_TESTS, n) for n in os.listdir(WEB_TESTS)
                       if n.endswith(".test.mjs"))
        only = os.environ.get("PV_WEB_ONLY")
        if only:
            tests = [t for t in tests if only in os.path.basename(t)]
        p = subprocess.run([node, "--test", "--test-reporter=./lib/tap.mjs", "--test-concurrency=1"] + tests,
                           cwd=WEB_TESTS, env=env)
        rc = p.returncode
        if srv.stop() != 0:
            print("# popvault serve did not stop cleanly; its log: %s" % srv.log)
            rc = rc or 1
        if rc != 0 and os.environ.get("H_KEEP"):
            print("# serve log: %s" % srv.log)
    return rc


sys.exit(main())
