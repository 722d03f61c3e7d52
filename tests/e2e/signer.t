#!/usr/bin/env python3
# Privilege separation (issue 16, ARCHITECTURE.md §2 "Processes"): the
# signer process holds the two logs' keys; `harvest` (its session workers
# and its indexer) and `serve` run beside it and cannot open the seed
# files; the signer keeps its own record of what it signed, so a catalog
# rolled back under it gets no new signature and verify names it.
# Runs the processes for real and looks at them from outside: their
# mount namespaces (/proc/PID/root), nsenter, /proc/PID/status.
import json
import os
import shutil
import signal
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
PW = "correct horse battery"
t = pvharness.Tap()


def children(pid):
    """(pid, name) of pid's children."""
    out = []
    for c in os.listdir("/proc"):
        if not c.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % c) as f:
                st = f.read()
        except OSError:
            continue
        name = st[st.index("(") + 1:st.rindex(")")]
        ppid = int(st[st.rindex(")") + 2:].split()[1])
        if ppid == pid:
            out.append((int(c), name))
    return out


def status(pid, key):
    """A line of /proc/PID/status, or None (also when pid has just gone:
    a harvest session may end between listing and reading)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for ln in f:
                if ln.startswith(key + ":"):
                    return ln.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def sees(pid, path):
    """The names in directory path as process pid sees it (its mount
    namespace, through /proc/PID/root), or None."""
    try:
        return sorted(os.listdir("/proc/%d/root%s" % (pid, path)))
    except OSError:
        return None


def opens(pid, path):
    """Whether a process in pid's mount namespace can read path."""
    p = subprocess.run(["nsenter", "--target", str(pid), "--mount", "cat", path],
                       capture_output=True)
    return p.returncode == 0 and len(p.stdout) > 0


def wait_for(cond, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.1)
    return False


with pvharness.Run() as run:
    if os.geteuid() != 0 or shutil.which("nsenter") is None:
        print("1..0 # SKIP needs root and nsenter to look into other processes' namespaces")
        sys.exit(0)
    mail = os.path.join(run.dir, "mail")
    idx = popvault.genmail(mail, "--count", 12, "--seed", 16)
    d = run.dovecot(seed={"alice": [mail]})
    data = os.path.join(run.dir, "data")
    pv = popvault.Archive(data)
    sign_dir = os.path.join(data, "keys", "sign")
    seed = os.path.join(sign_dir, "archive.key")

    pw = os.path.join(run.dir, "alice.pw")
    open(pw, "w").write("alicepw\n")
    pv("init")
    pv("account", "add", "alice", "--host", "localhost", "--port", d.vars["TLS_PORT"],
       "--user", "alice", "--password-file", pw, "--ca-file", d.vars["CA"])
    # (the .lock files of the signer that account add signed through)
    t.ok(sorted(f for f in os.listdir(sign_dir) if not f.endswith(".lock")) ==
         ["archive.key", "archive.signed", "audit.key", "audit.signed"],
         "init: the log keys and the signer's records in keys/sign", repr(os.listdir(sign_dir)))

    # ---- the harvest daemon and its processes --------------------------------
    h = subprocess.Popen([PV, "--data", data, "harvest", "--interval", "3600"],
                         stdout=subprocess.DEVNULL, stderr=open(os.path.join(run.dir, "h.err"), "w"),
                         start_new_session=True)
    run.register("harvest", h.pid)
    signer = []
    t.ok(wait_for(lambda: signer.extend(p for p, n in children(h.pid) if n == "pv-signer")
                  or signer), "harvest: a signer process beside it (pv-signer)")
    t.ok(wait_for(lambda: json.loads(pv("--json", "stats").stdout)["messages"] == len(idx)),
         "harvest: every message archived through the signer")
    sp = signer[0] if signer else 0
    t.is_(sees(h.pid, sign_dir), [], "harvest: keys/sign is empty where it looks")
    t.ok(not opens(h.pid, seed), "harvest: the seed cannot be read in its mount namespace")
    t.ok("archive.key" in (sees(sp, sign_dir) or []), "the signer sees the keys",
         repr(sees(sp, sign_dir)))
    t.is_(status(sp, "Seccomp"), "2", "the signer runs under a seccomp filter")
    t.is_(status(h.pid, "NoNewPrivs"), "1", "harvest: no new privileges")
    cap = int(status(h.pid, "CapEff") or "0", 16)
    t.ok(cap & (1 << 21) == 0 and cap & (1 << 19) == 0,
         "harvest: neither CAP_SYS_ADMIN (mount, setns) nor CAP_SYS_PTRACE", hex(cap))
    # Its children (the harvest sessions, the indexer) inherit all that.
    kids = [(p, n, sees(p, sign_dir)) for p, n in children(h.pid) if n != "pv-signer"]
    kids = [k for k in kids if k[2] is not None or status(k[0], "State") not in (None, "Z (zombie)")]
    t.ok(kids and all(k[2] == [] for k in kids),
         "harvest: its other children (the indexer) do not see the keys either", repr(kids))
    os.killpg(h.pid, signal.SIGTERM)
    h.wait(timeout=60)
    herr = open(os.path.join(run.dir, "h.err")).read()
    t.ok("cannot open the archive" not in herr and "ended with status" not in herr,
         "harvest: its indexer process worked through the signer too", herr[-2000:])
    t.ok(wait_for(lambda: not os.path.exists("/proc/%d" % sp) or status(sp, "State") in (None, "Z (zombie)")),
         "the signer exits with its last client")

    # ---- serve ----------------------------------------------------------------
    pwf = os.path.join(run.dir, "pw")
    open(pwf, "w").write(PW + "\n")
    pv("user", "add", "lee", "--role", "legal", "--password-file", pwf)
    srv = pvweb.Server(run, PV, data)
    sp = [p for p, n in children(srv.proc.pid) if n == "pv-signer"]
    t.is_(len(sp), 1, "serve: a signer process beside it")
    t.is_(sees(srv.proc.pid, sign_dir), [], "serve: keys/sign is empty where it looks")
    t.ok(not opens(srv.proc.pid, seed), "serve: the seed cannot be read in its mount namespace")
    lee = pvweb.Client(srv)
    t.is_(lee.sign_in("lee", PW).status, 200, "serve: a sign-in, audited through the signer")
    r = lee.get("/api/v1/search?q=*&limit=5")
    t.is_(r.status, 200, "serve: a search, audited through the signer")
    run.stop("serve")
    v = pv("verify", check=False)
    t.ok(v.returncode == 0, "verify after harvest and serve: every checkpoint signed and sound",
         v.stdout.decode() + v.stderr.decode())

    # ---- the signer's own record ---------------------------------------------
    # An insider puts back an older catalog: what the signer signed since is
    # gone from it. No command gets a checkpoint of that catalog signed, and
    # verify, reading the signer's record, says entries are missing.
    # (PostgreSQL: a copy of the catalog's database; the packs in the
    # store do not matter, checkpoints change none.)
    old = os.path.join(run.dir, "old")
    os.mkdir(old)
    on_pg = os.path.exists(os.path.join(data, "catalog.url"))
    if on_pg:
        snapshot = popvault.catalog_copy(data)
    for f in os.listdir(data):
        if f.startswith("catalog.db"):
            shutil.copy2(os.path.join(data, f), old)
    pv("checkpoint", "--heartbeat", "--log", "audit")
    pv("checkpoint", "--heartbeat", "--log", "audit")
    if on_pg:
        popvault.catalog_rollback(data, snapshot)
    for f in os.listdir(data):
        if f.startswith("catalog.db"):
            os.unlink(os.path.join(data, f))
    for f in os.listdir(old):
        shutil.copy2(os.path.join(old, f), data)
    p = pv("checkpoint", "--heartbeat", "--log", "audit", check=False)
    t.ok(p.returncode == 3 and b"signer refused" in p.stderr,
         "a catalog rolled back: the signer refuses to sign its audit log",
         p.stderr.decode())
    v = pv("verify", check=False)
    t.ok(v.returncode == 3 and b"truncated" in v.stdout,
         "...and verify finds the audit log cut below what the signer signed",
         v.stdout.decode())
    # Short commands sign their audit entries through a signer of their
    # own too (cli_privsep_short): nothing of the rolled-back catalog gets
    # signed, by them or by that verify.
    p = pv("search", "after:1971-01-01", check=False)
    t.ok(p.returncode == 3 and b"signer refused" in p.stderr,
         "a short command (search) on the rolled-back catalog: refused, nothing signed",
         p.stderr.decode())

    sys.exit(t.done())
