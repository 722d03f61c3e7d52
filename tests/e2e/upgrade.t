#!/usr/bin/env python3
# An archive written before every table came from the numbered migrations
# (tests/data/upgrade/archive-v4.tar.gz: catalog schema 4, keyring without
# migrations; the logs, the audit log and the search index had made their
# own tables; see make_archive.py there) opens with this popvault: the
# migrations bring both databases up to date without touching what is in
# them. verify passes, every message reads back with its hash, search,
# holds and the audit log see what was there, a matter's Bates numbers
# continue, the new bundle carries the proofs from the checkpoints the old
# export and audit export handed out, and reindex refills the old tables.
# The account's password, sealed then bound to nothing, is sealed again
# bound to its account on the first open (issue 16, finding 6): it still
# logs in, and swapped into another account's row it no longer opens.
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(HERE, "lib"))
import pvharness  # noqa: E402

SRC = os.environ.get("POPVAULT_SRC") or os.path.dirname(os.path.dirname(HERE))
PV = os.environ.get("POPVAULT_BIN") or os.path.join(SRC, "build", "popvault")
FIXTURE = os.path.join(SRC, "tests", "data", "upgrade")
t = pvharness.Tap(20)
sha = lambda b: hashlib.sha256(b).hexdigest()
want = json.load(open(os.path.join(FIXTURE, "archive-v4.json")))


def user_version(path):
    db = sqlite3.connect(path)
    try:
        return db.execute("PRAGMA user_version").fetchone()[0]
    finally:
        db.close()


with pvharness.Run() as run:
    with tarfile.open(os.path.join(FIXTURE, "archive-v4.tar.gz")) as tf:
        tf.extractall(run.dir, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    data = os.path.join(run.dir, "archive")
    catalog = os.path.join(data, "catalog.db")
    keyring = os.path.join(data, "keys", "keyring.db")

    def pv(*args, check=True):
        p = subprocess.run([PV, "--data", data] + list(args), capture_output=True)
        if check and p.returncode != 0:
            raise SystemExit("popvault %s failed (%d): %s" % (args, p.returncode, p.stderr.decode()))
        return p

    t.ok(user_version(catalog) == 4 and user_version(keyring) == 0,
         "the fixture: catalog schema 4, keyring unversioned (made by %s)" % want["made_by"])
    # The account pointed at a live Dovecot (its port and CA were the old
    # run's): before the upgrade the sealed password is bound to nothing,
    # so the row may be edited without it.
    d = run.dovecot()
    db = sqlite3.connect(catalog)
    db.execute("UPDATE accounts SET port = ?, ca_file = ? WHERE name = 'alice'",
               (int(d.vars["TLS_PORT"]), d.vars["CA"]))
    db.commit()
    db.close()
    p = pv("verify", check=False)
    t.is_(p.returncode, 0, "verify passes on the archive written before migration 5")
    migrated = (user_version(catalog), user_version(keyring))
    t.ok(migrated[0] >= 5 and migrated[1] >= 1,
         "opening it applied the catalog's and the keyring's migrations",
         "catalog %d keyring %d" % migrated)
    t.is_(json.loads(pv("--json", "stats").stdout)["messages"], want["messages"],
          "stats counts the messages archived before")

    def secrets():
        db = sqlite3.connect(catalog)
        try:
            return dict(db.execute("SELECT name, secret FROM accounts WHERE removed_at IS NULL"))
        finally:
            db.close()

    kdb = sqlite3.connect(keyring)
    mark = kdb.execute("SELECT value FROM keyring_meta WHERE key = 'secrets'").fetchall()
    kdb.close()
    t.ok(secrets()["alice"][:4] == b"PVS2" and mark == [("bound",)],
         "the first open sealed the old password again, bound to its account, and marked the "
         "keyring", mark)
    p = pv("account", "test", "alice", check=False)
    t.ok(p.returncode == 0 and b"test passed" in p.stdout,
         "…and it still logs in (the old sealed password opened once)", p.stdout.decode(),
         p.stderr.decode())
    pwf = os.path.join(run.dir, "bob.pw")
    open(pwf, "w").write("bobpw\n")
    pv("account", "add", "bob", "--host", "localhost", "--port", str(d.vars["TLS_PORT"]), "--user", "bob",
       "--password-file", pwf, "--ca-file", d.vars["CA"])
    sec = secrets()
    db = sqlite3.connect(catalog)
    db.execute("UPDATE accounts SET secret = ? WHERE name = 'alice' AND removed_at IS NULL",
               (sec["bob"],))
    db.commit()
    p = pv("account", "test", "alice", check=False)
    t.ok(p.returncode != 0 and b"account alice: its password does not open for this account and "
         b"server" in p.stderr, "bob's sealed password in alice's row does not open",
         p.stderr.decode())
    db.execute("UPDATE accounts SET secret = ? WHERE name = 'alice' AND removed_at IS NULL",
               (sec["alice"],))
    db.commit()
    db.close()
    pv("account", "remove", "bob")
    t.is_(pv("account", "test", "alice", check=False).returncode, 0,
          "its own sealed password, back in its row, opens again")
    got = {i: sha(pv("show", i, "--raw").stdout) for i in want["sha256"]}
    t.is_(got, want["sha256"], "every message reads back with its hash (bucket keys unwrap)")
    found = json.loads(pv("--json", "search", "subject:dot").stdout)
    t.is_(sorted(r["id"] for r in found["results"]), want["search_dot"],
          "search finds what the index held before")
    audit = [json.loads(l) for l in pv("--json", "audit", "list").stdout.splitlines()]
    types = [e["type"] for e in audit]
    t.is_(types[:len(want["audit_types"])], want["audit_types"],
          "the audit log lists every entry written before, in order")
    t.ok("dots" in pv("hold", "list").stdout.decode(), "the hold placed before is listed")

    # The matter goes on: numbers given before are kept, the next is new.
    out = os.path.join(run.dir, "again.tar.gz")
    res = json.loads(pv("--json", "export", "subject:quarterly OR subject:dot OR subject:long",
                        "--out", out, "--matter", want["matter"]).stdout)
    t.ok(res["messages"] == 3 and res["new_bates"] == 1
         and res["bates_first"] == want["export"]["bates_first"] and res["bates_last"] == "PV00000003",
         "the matter's Bates numbers continue from its export at schema 4", res)
    with tarfile.open(out) as tf:
        names = tf.getnames()
    # Leaf seqs of the old export (13) and audit export (15) events: their
    # bundles carried the audit checkpoints of sizes 14 and 16.
    old = [n for n in names if n.endswith("audit/checkpoints/14") or n.endswith("audit/checkpoints/16")]
    t.is_(len(old), 2, "the bundle anchors the checkpoints of the export and audit export made before")
    akey = pv("checkpoint", "--log", "archive", "--vkey").stdout.decode().strip()
    ukey = pv("checkpoint", "--log", "audit", "--vkey").stdout.decode().strip()
    p = subprocess.run([PV, "verify-bundle", out, "--vkey", akey, "--vkey", ukey], capture_output=True)
    t.ok(p.returncode == 0 and p.stdout.decode().rstrip().endswith("verify-bundle: OK"),
         "verify-bundle passes", p.stdout.decode()[-600:], p.stderr.decode())

    # New writes land in the tables made before.
    pv("hold", "add", "numbers", "--query", "subject:quarterly")
    holds = pv("hold", "list").stdout.decode()
    t.ok("dots" in holds and "numbers" in holds, "a new hold joins the old one")
    audit = [json.loads(l) for l in pv("--json", "audit", "list").stdout.splitlines()]
    t.ok(len(audit) > len(types) and audit[-1]["type"] == "hold-place"
         and [e["seq"] for e in audit] == list(range(len(audit))),
         "new audit entries follow the old ones without a gap")
    # reindex empties the index tables made before (it no longer drops
    # and recreates them) and fills them again.
    pv("reindex")
    found = json.loads(pv("--json", "search", "subject:dot OR subject:quarterly").stdout)
    t.is_(sorted(r["id"] for r in found["results"]), sorted(want["search_dot"] + [1]),
          "reindex rebuilds the index in the tables made before")
    p = pv("verify", check=False)
    t.is_(p.returncode, 0, "verify still passes after the new writes")
    t.is_((user_version(catalog), user_version(keyring)), migrated,
          "later opens find both databases up to date")

sys.exit(t.done())
