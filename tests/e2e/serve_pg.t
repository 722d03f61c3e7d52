#!/usr/bin/env python3
# `popvault serve` on an archive whose catalog is a PostgreSQL 15 database
# (issue 18, docs/ARCHITECTURE.md §12, step 2 of the plan), the whole
# appliance (harvest scheduler, indexer, tasks, web) against a real Dovecot:
# init --catalog, users from the CLI, serve starts with every part under
# its seccomp set, the parts that open the catalog reaching the server
# (lib/sandbox_roles.c: TCP to its port only, by Landlock, for those that
# are no network client otherwise), the admin adds the account and
# harvests now through the API (every message arrives, deleted upstream),
# the legal team searches (the indexer ran on PostgreSQL), reads a message
# (meta, raw byte for byte, a proof that verifies offline: inclusion in a
# checkpoint signed by the archive's key) and places a hold by query, the compliance
# officer reads the audit trail, status, /metrics and /healthz answer,
# every checkpoint a commit reserved is signed while serve runs (the
# commit hook that stands for SQLite's WAL hook: lib/db.h db_on_commit),
# the heartbeat, verify and disposal tasks run without an error, no part
# makes a call its role may not, serve stops cleanly, a task and the
# indexer are still stopped at their self-test's forbidden call, and
# `popvault verify --full` passes on what it left. Last, an archive whose
# catalog is reached over the server's unix socket: its tasks pass too.
import hashlib
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(HERE, "lib"))
import popvault  # noqa: E402
import pvharness  # noqa: E402
import pvweb  # noqa: E402
from pvproof import proof_verifies  # noqa: E402

SRC = popvault.SRC
PV = popvault.PV
PW = "correct horse battery"
PG_SH = os.path.join(HERE, "lib", "pg.sh")
PSQL = os.path.join(os.environ.get("PG_BINDIR", "/usr/lib/postgresql/15/bin"), "psql")
t = pvharness.Tap()


with pvharness.Run() as run:
    pg = run.pg()
    try:
        t.ok(True, "postgresql 15 started on 127.0.0.1:%s" % pg["PG_PORT"])

        def psql(url, sql):
            return subprocess.run([PSQL, url, "-qAtc", sql], capture_output=True,
                                  check=True).stdout.decode().strip()

        psql(pg["PG_URL"], "CREATE DATABASE pv_serve")
        URL = "postgresql://postgres@%s:%s/pv_serve" % (pg["PG_HOST"], pg["PG_PORT"])

        def sql(q):
            return psql(URL, q)

        mail = os.path.join(run.dir, "mail")
        idx = popvault.genmail(mail, "--count", 12, "--seed", 18, "--max-attachment", 20000)
        d = run.dovecot(seed={"alice": [mail]})
        by_sha = {hashlib.sha256(open(os.path.join(mail, m["file"]), "rb").read()).hexdigest():
                  os.path.join(mail, m["file"]) for m in idx}
        data = os.path.join(run.dir, "data")
        pv = popvault.Archive(data)
        pv("init", "--catalog", URL)
        t.ok(os.path.exists(os.path.join(data, "catalog.url"))
             and not os.path.exists(os.path.join(data, "catalog.db")),
             "init --catalog: the catalog is in PostgreSQL, no catalog.db")
        pwf = os.path.join(run.dir, "pw")
        open(pwf, "w").write(PW + "\n")
        for name, role in (("adam", "admin"), ("alice", "legal"), ("carl", "compliance")):
            pv("user", "add", name, "--role", role, "--password-file", pwf)
        t.is_(sql("SELECT count(*) FROM users"), "3", "three users, rows in PostgreSQL")

        conf = os.path.join(run.dir, "popvault.conf")
        with open(conf, "w") as f:
            f.write("[harvest]\ninterval = 1h\n[serve]\nverify_interval = 2s\n"
                    "verify_sample = 3\nverify_full_interval = 3s\ndispose_interval = 3s\n")
        srv = pvweb.Server(run, PV, data, ["--config", conf], appliance=True,
                           env={"POPVAULT_HEARTBEAT_S": "2", "TZ": "UTC"})
        srv_started = time.time()
        t.ok(srv.url is not None, "serve starts on the PostgreSQL catalog")

        def log():
            return open(srv.log, errors="replace").read()

        # --- the admin: accounts, harvest now ------------------------------------------
        adam = pvweb.Client(srv)
        t.is_(adam.sign_in("adam", PW).status, 200, "adam (admin) signs in")
        acct = {"name": "alice", "host": "localhost", "port": int(d.vars["TLS_PORT"]),
                "tls": "implicit", "user": "alice", "password": "alicepw", "auth": "auto",
                "ca_file": d.vars["CA"]}
        r = adam.request("POST", "/api/v1/accounts", acct)
        t.is_(r.status, 201, "POST /api/v1/accounts adds an account: 201")
        r = adam.get("/api/v1/accounts")
        t.ok(r.status == 200 and [a["name"] for a in r.json["accounts"]] == ["alice"]
             and b"alicepw" not in r.body, "GET /api/v1/accounts lists it, without the password",
             repr(r))
        r = adam.request("POST", "/api/v1/accounts/alice/test")
        t.ok(r.status == 200 and (r.json or {}).get("ok") is True,
             "the account test reaches Dovecot", repr(r))
        r = adam.request("POST", "/api/v1/harvest", {})
        t.ok(r.status == 202, "POST /api/v1/harvest: 202", repr(r))
        deadline = time.time() + 120
        j = {}
        while time.time() < deadline:
            j = adam.get("/api/v1/harvest").json
            if j["state"] != "running":
                break
            time.sleep(0.2)
        res = j.get("result") or {}
        t.ok(j.get("state") == "done" and j.get("error") is None
             and res.get("fetched") == len(idx) and res.get("deleted") == len(idx),
             "harvest now: every message archived", repr(j))
        t.is_(d.count("alice"), 0, "…and deleted upstream")
        t.is_(sql("SELECT count(*) FROM messages"), str(len(idx)), "…its rows in PostgreSQL")
        r = adam.get("/api/v1/status")
        s = r.json or {}
        t.ok(r.status == 200 and s["archive"]["messages"] == len(idx)
             and s["archive"]["accounts"] == 1, "status: the archive's counts", repr(r)[:400])
        r = adam.get("/metrics")
        t.ok(r.status == 200 and re.search(rb"^popvault_messages_archived(_total)? %d(\.0)?$"
                                           % len(idx), r.body, re.M),
             "metrics: the archived count", r.body[:600])

        # --- legal: one message, byte for byte, and its proof ----------------------------
        alice = pvweb.Client(srv)
        r = alice.sign_in("alice", PW)
        t.ok(r.status == 200 and r.json["role"] == "legal", "alice (legal) signs in", repr(r))
        mid = int(sql("SELECT min(id) FROM messages"))
        r = alice.get("/api/v1/messages/%d" % mid)
        m = r.json or {}
        f = by_sha.get(m.get("sha256"))
        t.ok(r.status == 200 and m["id"] == mid and m["account"] == "alice" and f is not None,
             "meta: a message of alice's, one of the files harvested", repr(r)[:400])
        r = alice.get("/api/v1/messages/%d/raw" % mid)
        raw = r.body
        t.ok(r.status == 200 and raw == open(f, "rb").read(), "raw: the maildir file byte for byte")
        r = alice.get("/api/v1/messages/%d/proof" % mid)
        vkey = alice.get("/api/v1/checkpoints").json["archive"]["vkey"]
        t.ok(r.status == 200 and proof_verifies(r.body.decode(), raw, vkey) == m["leaf_index"],
             "proof: verifies offline (signed checkpoint, inclusion, commitment to the raw bytes)",
             r.body[:400])
        r = alice.get("/api/v1/messages/%d/text" % mid)
        t.ok(r.status == 200 and r.json["id"] == mid, "text: the readable rendering", repr(r)[:300])
        r = alice.request("POST", "/api/v1/holds", {"name": "case", "query": "account:alice"})
        t.is_(r.status, 201, "a hold by query placed (search on PostgreSQL)")
        r = alice.get("/api/v1/holds")
        h = (r.json or {}).get("holds") or [{}]
        t.ok(r.status == 200 and [x.get("name") for x in h] == ["case"],
             "holds: the one placed", repr(r.json))
        t.is_(sql("SELECT count(*) FROM hold_members"), str(len(idx)),
              "…covering every message of the account")
        r = alice.get("/api/v1/search?q=%s&limit=100" % "account%3Aalice")
        t.ok(r.status == 200 and r.json["total"] == len(idx),
             "search through the API finds every message (the indexer ran on PostgreSQL)",
             repr(r)[:400])
        r = alice.get("/api/v1/messages/%d" % mid)
        t.is_((r.json or {}).get("holds"), ["case"], "meta: the message is under the hold")

        # --- compliance: the audit trail -----------------------------------------------
        carl = pvweb.Client(srv)
        t.is_(carl.sign_in("carl", PW).status, 200, "carl (compliance) signs in")
        r = carl.get("/api/v1/audit?limit=1000")
        types = [e["type"] for e in (r.json or {}).get("entries", [])]
        t.ok(r.status == 200 and {"account-add", "harvest-request", "harvest-batch", "view"}
             <= set(types), "audit trail: the account added, the harvest asked for and made, "
             "the message viewed", repr(types))
        who = [e["actor"] for e in r.json["entries"] if e["type"] == "account-add"]
        t.is_(who, ["web:adam"], "…each with who did it")

        # --- health, the tasks, checkpoints ----------------------------------------------
        r = srv.request("GET", "/healthz")
        t.ok(r.status == 200 and r.json == {"status": "ok"}, "/healthz: ok", repr(r))
        deadline = time.time() + 60
        while time.time() < deadline:
            if "full verify: ok" in log() and "sample verify: ok" in log():
                break
            time.sleep(0.2)
        t.ok("full verify: ok" in log() and "sample verify: ok" in log(),
             "the full and sample verify tasks run and pass", log()[-2000:])
        # The disposal task runs every 3 s (its "nothing is due" is a debug
        # line): none of its runs may fail (it once found the audit log's
        # newest entry committed by another part and not yet signed).
        while time.time() < srv_started + 12:
            time.sleep(0.2)
        t.ok(not re.search(r"level=(error|warn) event=dispose", log()),
             "the disposal task's runs (every 3 s) plan without an error",
             "\n".join(ln for ln in log().splitlines() if "dispose" in ln)[-1500:])
        beats = sql("SELECT count(*) FROM audit_event WHERE type = 'heartbeat'")
        t.ok(int(beats) >= 1, "the heartbeat task signs heartbeats", beats)
        # Reserved rows come and go all the time here (heartbeats every 2 s,
        # verify runs auditing); none may stay reserved: the hook signs each
        # right after its commit.
        stale = "SELECT count(*) FROM tlog_checkpoint WHERE note NOT LIKE " \
                "'%' || chr(10) || chr(10) || '%' AND created_ms < " \
                "(extract(epoch FROM now()) * 1000)::bigint - 5000"
        t.is_(sql(stale), "0", "no checkpoint a commit reserved stays unsigned while serve runs")
        t.ok(int(sql("SELECT count(*) FROM tlog_checkpoint")) >= 4, "…and there are some")
        t.ok(not re.search(r"seccomp|SIGSYS", log()), "no part made a call its role may not",
             "\n".join(ln for ln in log().splitlines() if re.search("seccomp|SIGSYS", ln)))
        t.ok(not re.search(r"signer\.seal|cannot tell how to reach", log()),
             "no signature left for later, no sandbox that could not choose",
             "\n".join(ln for ln in log().splitlines() if "seal" in ln or "reach" in ln))
        t.is_(alice.delete("/api/v1/session").status, 200, "alice signs out")
        t.is_(srv.stop(), 0, "serve stops cleanly")

        # A part given the server is still held to its role: a task may not
        # fork; the indexer, which may make an inet socket now, may not
        # unshare (its self-test's call then).
        for role, comm, call in (("task", "pv-heartbeat", "clone"),
                                 ("indexer", "pv-indexer", "unshare")):
            s2 = pvweb.Server(run, PV, data, ["--config", conf, "--seccomp-selftest", role],
                              appliance=True, name="serve-" + role,
                              env={"POPVAULT_HEARTBEAT_S": "2", "TZ": "UTC"})
            pat = r'event=seccomp\.violation msg="%s \(role %s\) made a system call its role ' \
                  r'may not: %s \(\d+\); killed"' % (comm, role, call)
            deadline = time.time() + 30
            while time.time() < deadline and not re.search(pat, open(s2.log).read()):
                time.sleep(0.2)
            t.ok(re.search(pat, open(s2.log).read()) and "NOT stopped" not in open(s2.log).read(),
                 "%s on the PostgreSQL catalog: its forbidden %s is stopped" % (role, call),
                 open(s2.log).read()[-1500:])
            t.is_(s2.stop(), 0, "…and serve stops cleanly")

        p = pv("--json", "verify", "--full", check=False)
        try:
            v = json.loads(p.stdout)
        except ValueError:
            v = {}
        t.ok(p.returncode == 0 and v.get("ok") is True and v.get("blobs_decrypted") == len(idx),
             "verify --full passes after the session, every message decrypted",
             p.stdout.decode()[-1500:], p.stderr.decode()[-1500:])

        # The catalog over the server's unix socket: the parts get an AF_UNIX
        # socket and no inet one; the tasks still reach it and pass.
        psql(pg["PG_URL"], "CREATE DATABASE pv_unix")
        data2 = os.path.join(run.dir, "data-unix")
        pv2 = popvault.Archive(data2)
        pv2("init", "--catalog", "host=%s port=%s user=postgres dbname=pv_unix"
            % (pg["PG_SOCKDIR"], pg["PG_PORT"]))
        s3 = pvweb.Server(run, PV, data2, ["--config", conf], appliance=True, name="serve-unix",
                          env={"POPVAULT_HEARTBEAT_S": "2", "TZ": "UTC"})
        deadline = time.time() + 30
        while time.time() < deadline and "full verify: ok" not in open(s3.log).read():
            time.sleep(0.2)
        log3 = open(s3.log).read()
        t.ok("full verify: ok" in log3 and "sample verify: ok" in log3
             and not re.search(r"seccomp|SIGSYS|level=error", log3),
             "over the unix socket: the tasks run and pass, no call refused, no error",
             log3[-1500:])
        t.is_(s3.stop(), 0, "…and serve stops cleanly")
    finally:
        subprocess.run(["bash", PG_SH, "stop", os.path.join(run.dir, "pg-matrix")])

sys.exit(t.done())
