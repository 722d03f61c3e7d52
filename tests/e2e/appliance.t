#!/usr/bin/env python3
# popvault serve as the appliance (issue 15, archiver/service/service.h):
# one service harvests a real Dovecot on its own, indexes, signs
# heartbeats, verifies a sample and everything on a schedule, proposes
# disposal runs (faketime) and serves the API; systemd's notify protocol
# on a socket of the test's own; SIGHUP reloads an interval; a killed part
# is started again (the web on the same port); /healthz fails while a
# harvest keeps failing (a wrong password) and recovers; SIGTERM leaves no
# process behind (checked by PID); below the disk reserve (a real tmpfs,
# root only) the harvest stops, says so in the audit log, stats, the
# status API, /metrics and /healthz, and resumes by itself.
# Intervals are shortened through the config and POPVAULT_HEARTBEAT_S.
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(HERE, "lib"))
import popvault  # noqa: E402
import pvharness  # noqa: E402
import pvweb  # noqa: E402

PV = popvault.PV
WEB = os.path.join(popvault.SRC, "web-static")
PW = "correct horse battery"
RESERVE = 1024 * 1024 * 1024  # PV_DATA_DISK_RESERVE (archiver/lib/limits.h)
FAKETIME_LIB = subprocess.run(["sh", "-c", "ls /usr/lib/*/faketime/libfaketime.so.1 | head -1"],
                              capture_output=True, text=True).stdout.strip()
t = pvharness.Tap()


def wait_for(what, timeout=20, step=0.2):
    """what() until it is true (returned), or the timeout (its last value)."""
    deadline = time.time() + timeout
    v = what()
    while not v and time.time() < deadline:
        time.sleep(step)
        v = what()
    return v


class Notify:
    """A datagram socket like systemd's NOTIFY_SOCKET, read by a thread."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.lines = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        while True:
            try:
                data = self.sock.recv(4096)
            except OSError:
                return
            self.lines += data.decode().split("\n")

    def statuses(self):
        return [ln[7:] for ln in self.lines if ln.startswith("STATUS=")]


def procs_in_group(pgid):
    """{pid: (comm, ppid)} of the live processes of process group pgid."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
            with open("/proc/%s/comm" % d) as f:
                comm = f.read().strip()
        except OSError:
            continue
        rest = st[st.rindex(")") + 2:].split()
        if rest[0] != "Z" and int(rest[2]) == pgid:
            out[int(d)] = (comm, int(rest[1]))
    return out


def child_pid(srv, comm):
    """The pid of serve's child named comm, or None."""
    for pid, (c, ppid) in procs_in_group(srv.proc.pid).items():
        if c == comm and ppid == srv.proc.pid:
            return pid
    return None


def write_conf(path, **kw):
    sections = {"harvest": {}, "serve": {}}
    for k, v in kw.items():
        sections["harvest" if k == "interval" else "serve"][k] = v
    with open(path, "w") as f:
        for name, keys in sections.items():
            f.write("[%s]\n" % name)
            for k, v in keys.items():
                f.write("%s = %s\n" % (k, v))


with pvharness.Run() as run:
    mail = os.path.join(run.dir, "mail")
    idx = popvault.genmail(mail, "--count", 12, "--seed", 15, "--max-attachment", 5000)
    first = sorted(os.path.join(mail, n) for n in os.listdir(mail) if n.endswith(".eml"))
    d = run.dovecot(users=["alice:alicepw", "bob:bobpw", "carol:carolpw", "dave:davepw"],
                    seed={"alice": first[:10]}, conf="auth_failure_delay = 0")
    data = os.path.join(run.dir, "data")
    pv = popvault.Archive(data, env={"TZ": "UTC"})
    pv("init")
    pwf = os.path.join(run.dir, "alice.pw")
    open(pwf, "w").write("alicepw\n")
    tls = ["--host", "localhost", "--port", d.vars["TLS_PORT"], "--ca-file", d.vars["CA"]]
    pv("account", "add", "alice", "--user", "alice", "--password-file", pwf, *tls)
    upw = os.path.join(run.dir, "web.pw")
    open(upw, "w").write(PW + "\n")
    for name, role in (("lena", "legal"), ("carl", "compliance"), ("adam", "admin")):
        pv("user", "add", name, "--role", role, "--password-file", upw)
    conf = os.path.join(run.dir, "popvault.conf")
    write_conf(conf, interval="30s", dispose_interval="0", verify_interval="2s",
               verify_sample=3, verify_full_interval="3s")
    notify = Notify(os.path.join(run.dir, "notify"))
    env = {"NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "1000000",
           "POPVAULT_HEARTBEAT_S": "2", "TZ": "UTC"}

    # ---- the appliance harvests by itself ----------------------------------
    srv = pvweb.Server(run, PV, data, ["--config", conf, "--web-root", WEB], env=env, appliance=True)
    lena = pvweb.Client(srv)
    lena.sign_in("lena", PW)

    def total(q="after:1971-01-01"):
        r = lena.get("/api/v1/search?q=" + urllib.parse.quote(q))
        return r.json["total"] if r.status == 200 and r.json else None

    t.ok(wait_for(lambda: d.count("alice") == 0 and total() == 10),
         "mail arrives without a harvest by hand: archived, deleted upstream, searchable",
         "upstream %d, searchable %r" % (d.count("alice"), total()))
    want = sum(1 for m in idx[:10] if m["from_addr"] == idx[3]["from_addr"])
    t.is_(total("from:" + idx[3]["from_addr"]), want, "…found by sender through the API")
    t.ok("READY=1" in notify.lines, "sd_notify READY=1", notify.lines[:5])
    st = wait_for(lambda: [s for s in notify.statuses() if "last harvest" in s])
    t.ok(st and re.match(r"serving on 127\.0\.0\.1:%d; last harvest \d\d:\d\d alice 10 msgs$"
                         % srv.port, st[-1]),
         "STATUS=serving on ADDR:PORT; last harvest HH:MM alice 10 msgs", notify.statuses())
    t.ok(wait_for(lambda: "WATCHDOG=1" in notify.lines, 5), "WATCHDOG=1 pings")

    def audit(type_, actor="system"):
        out = pv("--json", "audit", "list", "--type", type_).stdout.decode()
        return [e for e in (json.loads(ln) for ln in out.splitlines() if ln.strip())
                if actor is None or e["actor"] == actor]

    n_hb = len(audit("heartbeat"))
    t.ok(n_hb >= 2 and wait_for(lambda: len(audit("heartbeat")) >= n_hb + 2, 10),
         "heartbeat checkpoints of both logs at the start and every interval", n_hb)
    t.ok(wait_for(lambda: any("sample=3 " in e["object"] for e in audit("verify"))
                  and any("full=yes" in e["object"] for e in audit("verify")), 15),
         "a verify of a sample and a full verify on their schedule, by system",
         [e["object"] for e in audit("verify")])

    adam = pvweb.Client(srv)
    adam.sign_in("adam", PW)
    metrics = adam.get("/metrics").body.decode()
    for fam in ('popvault_harvest_seconds_since_success{account="alice"}',
                'popvault_harvest_runs_total{account="alice",outcome="ok"} 1',
                'popvault_checkpoint_age_seconds{log="audit"}', "popvault_index_lag_messages 0",
                "popvault_index_lag_seconds 0", "popvault_data_dir_free_bytes",
                "popvault_harvest_paused 0", "popvault_audit_append_failures_total 0",
                "popvault_heartbeat_gaps_total", 'popvault_upstream_residue{account="alice"} 0'):
        t.ok(fam in metrics, "/metrics: " + fam, metrics[-1500:])

    # ---- an account's own interval; SIGHUP: a shorter one takes effect ------
    dpw = os.path.join(run.dir, "dave.pw")
    open(dpw, "w").write("davepw\n")
    pv("account", "add", "dave", "--user", "dave", "--password-file", dpw, "--interval", "1s", *tls)
    srv.proc.send_signal(signal.SIGHUP)  # the scheduler reads the accounts now
    d.seed("alice", first[10])
    d.seed("dave", first[:2])
    t.ok(wait_for(lambda: d.count("dave") == 0, 10),
         "an account with an interval of its own (1 s) is harvested at once")
    t.is_(d.count("alice"), 1, "…while a new message of alice waits for the configured 30 s")
    accts = {a["name"]: a.get("harvest_interval_s") for a in adam.get("/api/v1/accounts").json["accounts"]}
    t.is_(accts, {"alice": None, "dave": 1}, "GET /api/v1/accounts: each account's own interval")
    write_conf(conf, interval="1s", dispose_interval="0", verify_interval="2s",
               verify_sample=3, verify_full_interval="3s")
    srv.proc.send_signal(signal.SIGHUP)
    t.ok(wait_for(lambda: d.count("alice") == 0 and total() == 13, 15),
         "SIGHUP: the config read again, the 1 s interval harvests it at once",
         "upstream %d, searchable %r" % (d.count("alice"), total()))
    t.ok("RELOADING=1" in notify.lines, "sd_notify RELOADING=1 around the reload")

    # "Harvest now" while serve's scheduler harvests every second: it waits
    # for a round to end (harvest --wait), then runs.
    r = adam.request("POST", "/api/v1/harvest", {})
    job = wait_for(lambda: (lambda j: j if j["state"] in ("done", "failed") else None)(
        adam.get("/api/v1/harvest").json), 30)
    t.ok(r.status == 202 and job and job["state"] == "done",
         "harvest now beside the scheduler: it waits for the round, then runs", job)

    # ---- a part that dies is started again ---------------------------------
    old = child_pid(srv, "pv-harvest")
    os.kill(old, signal.SIGKILL)
    new = wait_for(lambda: (child_pid(srv, "pv-harvest") or old) != old and child_pid(srv, "pv-harvest"), 10)
    t.ok(new and new != old, "a killed harvest scheduler is started again (pid %s -> %s)" % (old, new))
    d.seed("alice", first[11])
    t.ok(wait_for(lambda: total() == 14, 15), "…and harvests again")
    web = child_pid(srv, "pv-web")
    os.kill(web, signal.SIGKILL)
    t.ok(wait_for(lambda: (child_pid(srv, "pv-web") or web) != web, 10)
         and wait_for(lambda: srv.request("GET", "/healthz").status == 200, 10),
         "a killed web is started again, on the same port")
    log = open(srv.log).read()
    t.ok(re.search(r"the harvest process \(pid %d\) was killed by signal 9; starting it again" % old, log),
         "the death is logged", log[-2000:])

    # ---- /healthz: a harvest that keeps failing ----------------------------
    t.is_(srv.request("GET", "/healthz").json, {"status": "ok"}, "/healthz: ok")
    bad = os.path.join(run.dir, "bob.pw")
    open(bad, "w").write("bobpX\n")
    pv("account", "add", "bob", "--user", "bob", "--password-file", bad, *tls)
    srv.proc.send_signal(signal.SIGHUP)  # the scheduler reads the accounts now
    r = wait_for(lambda: (lambda x: x if x.status == 503 else None)(srv.request("GET", "/healthz")), 15)
    t.ok(r and r.json["status"] == "unavailable" and "bob" in r.json["reason"]
         and "3 intervals" in r.json["reason"],
         "a harvest failing for 3 intervals (wrong password): /healthz 503 with the reason",
         r and r.json)
    metrics = adam.get("/metrics").body.decode()
    m = re.search(r'popvault_harvest_runs_total\{account="bob",outcome="failed"\} (\d+)', metrics)
    t.ok(m and int(m.group(1)) >= 1, "/metrics counts bob's failed harvests", m and m.group(0))
    # Dovecot takes the password the account has (its users file is re-read).
    with open(d.users_file, "r+") as f:
        users = f.read().replace("{PLAIN}bobpw:", "{PLAIN}bobpX:")
        f.seek(0)
        f.write(users)
        f.truncate()
    t.ok(wait_for(lambda: srv.request("GET", "/healthz").status == 200, 40),
         "once bob's harvest succeeds again: /healthz 200",
         srv.request("GET", "/healthz").json)

    ver = audit("verify")
    t.ok(len(ver) >= 4 and all(e["outcome"] == "ok" for e in ver),
         "every scheduled verify passed, run while harvests, heartbeats and the web wrote",
         [(e["object"], e["outcome"]) for e in ver if e["outcome"] != "ok"])

    # ---- SIGTERM: every process ends, a harvest after its batch -------------
    bulk = os.path.join(run.dir, "bulk")
    popvault.genmail(bulk, "--count", 1500, "--seed", 16, "--max-attachment", 2000)
    with open(os.path.join(data, "popvault.conf"), "a") as f:
        f.write("[harvest]\nbatch_max = 16\n")  # the harvest's own limits: DATA's file

    def archived():
        return json.loads(pv("--json", "stats").stdout)["messages"]

    before = archived()
    # Delivered to carol (no account here), then moved to alice at once, so
    # that one harvest lists them all: her empty new/ replaced by carol's in
    # one rename (moved one by one, under load a harvest starting meanwhile
    # listed 214 of them, harvested those and was done before the SIGTERM).
    d.seed("carol", bulk)
    os.rename(os.path.join(d.maildir("carol"), "new"), os.path.join(d.maildir("alice"), "new"))
    t.ok(wait_for(lambda: archived() > before, 20, 0.05), "a big harvest is under way")
    group = procs_in_group(srv.proc.pid)
    names = sorted(c for c, _ in group.values())
    t.ok({"pv-web", "pv-harvest", "pv-indexer"} <= set(names) and len(group) >= 4,
         "serve runs as a supervisor with its parts: %s" % " ".join(names))
    t.is_(srv.stop(), 0, "SIGTERM: serve stops cleanly (exit 0)")
    left = {p: c for p, c in group.items() if pvharness.pid_alive(p)}
    t.is_(left, {}, "…and none of its %d processes is left (checked by pid)" % len(group))
    t.ok("STOPPING=1" in notify.lines, "sd_notify STOPPING=1")
    t.ok("popvault: terminated, stopping" in "".join(srv.stdout), "…and says so")
    got, left_up = archived() - before, d.count("alice")
    t.ok(0 < got < 1500 and got + left_up == 1500,
         "the harvest stopped after a batch: %d archived (and deleted upstream), %d still "
         "upstream, none lost or twice" % (got, left_up))
    t.ok(re.search(r"alice: stopped on request", open(srv.log).read()),
         "…as asked (stopped on request)")

    # ---- disposal proposals: what is due is proposed, not destroyed --------
    open(os.path.join(run.dir, "1d.policy"), "w").write("default: retain 1d\n")
    pv("policy", "propose", os.path.join(run.dir, "1d.policy"))
    pv.glass()
    write_conf(conf, interval="1s", dispose_interval="1s", verify_interval="0",
               verify_full_interval="0")
    # libfaketime itself, not the faketime program (which forks: a signal
    # would stop it, not serve).
    fenv = dict(env, LD_PRELOAD=FAKETIME_LIB, FAKETIME="+3d",
                ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0")
    popvault.store_clock(3)  # an S3 store's gateway keeps time with serve
    srv = pvweb.Server(run, PV, data, ["--config", conf, "--web-root", WEB], env=fenv, appliance=True, name="later")

    def pending():
        out = json.loads(pv("--json", "approvals", "list").stdout)
        return [a for a in out if a.get("kind") == "dispose" and a.get("state") == "pending"]

    # The proposal confirms each due message from its own bytes (read,
    # checked against its leaf, indexed again): some 300 of them from an
    # S3 store into a PostgreSQL catalog took 23 s on a busy machine.
    p = wait_for(pending, 60)
    t.ok(p and p[0]["proposer"] == "system",
         "three days later: serve proposes a disposal run of what is due", p)
    prop = audit("approval-propose")
    t.ok(prop and "kind=dispose" in prop[-1]["object"] and "role=admin" in prop[-1]["object"],
         "…audited as system's proposal, with the admin's role", prop)
    time.sleep(2.5)
    t.is_(len(pending()), 1, "…one pending run, not one per interval")
    t.is_(json.loads(pv("--json", "stats").stdout)["disposed"], 0,
          "…and nothing is destroyed before a person approves it")
    t.is_(srv.stop(), 0, "serve stops")
    popvault.store_clock(0)

    # ---- the disk reserve: a real tmpfs ----------------------------------------
    fs = os.path.join(run.dir, "fs")
    os.mkdir(fs)
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", fs],
                                           capture_output=True).returncode != 0:
        for _ in range(9):
            t.ok(True, "# SKIP a tmpfs needs root (mount)")
    else:
        try:
            small = popvault.Archive(os.path.join(fs, "data"), env={"TZ": "UTC"})
            small("init")
            cpw = os.path.join(run.dir, "carol.pw")
            open(cpw, "w").write("carolpw\n")
            small("account", "add", "carol", "--user", "carol", "--password-file", cpw, *tls)

            def used_k():
                s = os.statvfs(fs)
                return (s.f_blocks - s.f_bfree) * s.f_frsize // 1024

            def resize(free_k):
                subprocess.run(["mount", "-o", "remount,size=%dk" % (used_k() + free_k), fs],
                               check=True)

            resize((RESERVE >> 10) - 32 * 1024)  # 32 MiB under the reserve
            srv = pvweb.Server(run, PV, small.data, ["--config", conf, "--web-root", WEB], env=env, appliance=True,
                               name="small")

            def stats():
                return json.loads(small("--json", "stats").stdout)

            d.seed("carol", first[:3])
            t.ok(wait_for(lambda: stats()["harvest_paused"], 10),
                 "under the disk reserve: the harvest stops (stats says so)", stats())
            time.sleep(2)
            t.is_(d.count("carol"), 3, "…and nothing is fetched")
            r = srv.request("GET", "/healthz")
            t.ok(r.status == 503 and "nearly full" in r.json["reason"],
                 "/healthz 503: the disk is nearly full", r.json)
            t.ok(wait_for(lambda: any("harvest stopped: disk low" in s for s in notify.statuses()), 5),
                 "STATUS says the harvest stopped", notify.statuses()[-3:])
            small("user", "add", "adam", "--role", "admin", "--password-file", upw)
            adm = pvweb.Client(srv)
            adm.sign_in("adam", PW)
            stj = adm.get("/api/v1/status").json
            met = adm.get("/metrics").body.decode()
            t.ok(stj["harvest"]["paused"] and stj["harvest"]["reason"] == "disk-low"
                 and "popvault_harvest_paused 1" in met,
                 "/api/v1/status and /metrics say so", stj.get("harvest"))
            resize((RESERVE >> 10) + 256 * 1024)
            t.ok(wait_for(lambda: d.count("carol") == 0, 15),
                 "room again: the harvest resumes by itself", stats())
            types = [json.loads(ln)["type"] for ln in small("--json", "audit", "list").stdout.decode().splitlines()
                     if ln.strip() and json.loads(ln)["type"].startswith("harvest-")]
            t.is_([x for x in types if x in ("harvest-pause", "harvest-resume")],
                  ["harvest-pause", "harvest-resume"],
                  "one audit entry when it stopped, one when it resumed")
            t.ok(not stats()["harvest_paused"] and srv.request("GET", "/healthz").status == 200,
                 "stats and /healthz are well again")
            t.is_(srv.stop(), 0, "serve stops")
        finally:
            subprocess.run(["umount", "-l", fs])
sys.exit(t.done())
