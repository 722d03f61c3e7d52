#!/usr/bin/env python3
# Makes tests/data/upgrade/archive-v4.tar.gz and archive-v4.json: a data
# directory written by a popvault of catalog schema 4, from before catalog
# migration 5 and the keyring's migrations (the logs, the audit log, the
# search index and the keyring created their own tables then).
# tests/e2e/upgrade.t opens it with the current popvault.
#
# Run once, from the source tree, with a popvault built at that version:
#   POPVAULT_BIN=/path/to/old/build/popvault python3 tests/data/upgrade/make_archive.py
# It harvests tests/data/mail/basic from a Dovecot, places a hold,
# searches, exports a matter with Bates numbers, exports the audit log and
# records what it saw in archive-v4.json.
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(SRC, "tests", "e2e", "lib"))
import pvharness  # noqa: E402

PV = os.environ["POPVAULT_BIN"]
MATTER = "Smith v. Jones"

with pvharness.Run() as run:
    d = run.dovecot(seed={"alice": [os.path.join(SRC, "tests", "data", "mail", "basic")]})
    data = os.path.join(run.dir, "archive")
    pw = os.path.join(run.dir, "pw")
    open(pw, "w").write("alicepw\n")

    def pv(*args):
        p = subprocess.run([PV, "--data", data] + list(args), capture_output=True, check=True)
        return p.stdout

    pv("init")
    pv("account", "add", "alice", "--host", "localhost", "--port", str(d.vars["TLS_PORT"]),
       "--user", "alice", "--password-file", pw, "--ca-file", d.vars["CA"])
    pv("harvest", "--once")
    n = json.loads(pv("--json", "stats"))["messages"]
    sha = {i: hashlib.sha256(pv("show", str(i), "--raw")).hexdigest() for i in range(1, n + 1)}
    pv("hold", "add", "dots", "--query", "subject:dot", "--note", "made at schema 4")
    found = json.loads(pv("--json", "search", "subject:dot"))
    export = json.loads(pv("--json", "export", "subject:quarterly OR subject:dot", "--out",
                           os.path.join(run.dir, "b.tar.gz"), "--matter", MATTER))
    export.pop("out")
    pv("audit", "export", "--out", os.path.join(run.dir, "audit.tar.gz"))
    audit = [json.loads(l) for l in pv("--json", "audit", "list").splitlines()]
    version = subprocess.run([PV, "--version"], capture_output=True).stdout.decode().strip()
    db = sqlite3.connect(os.path.join(data, "catalog.db"))
    schema = "%s, catalog schema %d" % (version, db.execute("PRAGMA user_version").fetchone()[0])
    db.close()

    with tarfile.open(os.path.join(HERE, "archive-v4.tar.gz"), "w:gz") as tf:
        tf.add(data, arcname="archive")
    json.dump({"made_by": schema, "messages": n, "sha256": sha,
               "search_dot": sorted(r["id"] for r in found["results"]),
               "matter": MATTER, "export": export,
               "audit_types": [e["type"] for e in audit]},
              open(os.path.join(HERE, "archive-v4.json"), "w"), indent=1, sort_keys=True)
    print("archive-v4: %d messages, %d audit entries" % (n, len(audit)))
