#!/usr/bin/env python3
# popvault backup and restore (issue 15, archiver/archive/backup.h) from the
# outside: a backup taken while a harvest writes to the archive is one
# consistent snapshot; it restores into a new data directory where verify
# --full passes and harvesting goes on; restore refuses a copy older than a
# checkpoint kept elsewhere, a wrong passphrase, a file changed or added
# after the backup, and a keyless copy without the original keys; the
# actions are in the audit logs; nothing half-made is left behind.
import atexit
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(HERE, "lib"))
import pvharness  # noqa: E402
import popvault  # noqa: E402

t = pvharness.Tap(36)

with pvharness.Run() as run:
    D = os.path.join(run.dir, "data")
    pv = popvault.Archive(D)
    mail = os.path.join(run.dir, "mail")
    popvault.genmail(mail, "--count", 1500, "--seed", 15, "--max-attachment", 2000)
    dove = run.dovecot(seed={"alice": [mail]})
    pw = os.path.join(run.dir, "alice.pw")
    with open(pw, "w") as f:
        f.write("alicepw\n")
    pass_file = os.path.join(run.dir, "pass")
    with open(pass_file, "w") as f:
        f.write("correct horse battery staple\n")
    # The harvest reaches Dovecot through a relay passing 2 MB/s down (lib/pipeproxy.py;
    # TLS bytes relayed as they are): the 16 MB of mail then take some 8 s, so the
    # backup below takes its snapshot while the harvest still writes. Unthrottled,
    # the harvest could end first, and the copy held all 1,500.
    relay_port = pvharness.free_port()
    relay_out = os.path.join(run.dir, "relay.out")
    with open(relay_out, "wb") as out:
        relay = subprocess.Popen([sys.executable, os.path.join(HERE, "lib", "pipeproxy.py"),
                                  "--port", str(relay_port), "--to-port", str(dove.vars["TLS_PORT"]),
                                  "--log", os.devnull, "--down-rate", "2000000"],
                                 stdout=out, stderr=subprocess.STDOUT)
    atexit.register(relay.kill)
    deadline = time.time() + 10
    while time.time() < deadline and b"ready" not in open(relay_out, "rb").read():
        time.sleep(0.05)
    pv("init")
    pv("account", "add", "alice", "--host", "localhost", "--port", str(relay_port),
       "--user", "alice", "--password-file", pw, "--ca-file", dove.vars["CA"])

    def js(p):
        return json.loads(p.stdout.decode())

    def count(data=None):
        return js(pv("--json", "stats", data_dir=data))["messages"]

    def checkpoint(path):
        with open(path, "wb") as f:
            f.write(pv("checkpoint", "--log", "archive").stdout)
        return path

    # --- a backup while a harvest runs ------------------------------
    harvest = subprocess.Popen([popvault.PV, "--data", D, "harvest", "--once"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline and count() < 200:
        time.sleep(0.05)
    old_cp = checkpoint(os.path.join(run.dir, "old-checkpoint"))
    B = os.path.join(run.dir, "backup")
    running = harvest.poll() is None
    p = pv("--json", "backup", "--out", B, "--with-keys", "--passphrase-file", pass_file,
           check=False)
    still = harvest.poll() is None
    t.is_(p.returncode, 0, "backup --with-keys succeeds")
    bk = js(p) if p.returncode == 0 else {}
    t.ok(running and 0 < bk.get("archive_size", 0), "the backup started while the harvest "
         "was writing (%s messages in the copy)" % bk.get("archive_size"),
         "harvest running: %s, still running after: %s" % (running, still))
    harvest.wait(timeout=600)
    t.is_(harvest.returncode, 0, "the harvest went on and finished")
    total = count()
    t.is_(total, 1500, "... all 1500 messages archived")
    t.ok(bk.get("archive_size", 0) < total, "the copy is the snapshot of its moment (%s of %d)"
         % (bk.get("archive_size"), total))
    t.is_(bk.get("blobs", 0) + bk.get("records", 0), bk.get("archive_size"),
          "one blob or pack record per message in the copy")
    t.is_(bk.get("linked"), bk.get("blobs"), "blobs are hard-linked on the same file system")

    # Packs grew while the backup ran: each is copied up to its committed
    # length in the copy's catalog, no further, never linked.
    def pack_ends(catalog):
        db = sqlite3.connect("file:%s?mode=ro" % catalog, uri=True)
        try:
            return {"packs/%08d.pack" % i: n for i, n in db.execute(
                "SELECT pack_id, max(pack_offset + pack_length) FROM messages WHERE pack_id IS "
                "NOT NULL GROUP BY pack_id HAVING sum(disposed_at IS NULL) > 0")}
        finally:
            db.close()
    ends = pack_ends(os.path.join(B, "catalog.db"))
    copied = {"packs/" + n: os.stat(os.path.join(B, "packs", n))
              for n in os.listdir(os.path.join(B, "packs"))} \
        if os.path.isdir(os.path.join(B, "packs")) else {}
    t.ok(ends and bk.get("packs") == len(ends) and sorted(copied) == sorted(ends)
         and all(copied[n].st_size == ends[n] for n in ends),
         "every pack of the snapshot is copied up to its committed length (%d packs)"
         % len(ends), ends, {n: st.st_size for n, st in copied.items()})
    grown = [n for n in ends if os.path.getsize(os.path.join(D, n)) > ends[n]]
    t.ok(grown and all(copied[n].st_nlink == 1 for n in copied),
         "... not linked: %d of them grew in the data directory after the snapshot"
         % len(grown))
    with open(os.path.join(B, "MANIFEST")) as f:
        manifest = f.read().splitlines()
    t.ok(manifest[:1] == ["popvault-backup 1"] and "keys yes" in manifest
         and len([ln for ln in manifest if ln.startswith("file ")]) == bk.get("files"),
         "MANIFEST lists every file with its SHA-256", "\n".join(manifest[:8]))
    audit = [json.loads(ln) for ln in pv("--json", "audit", "list").stdout.decode().splitlines()]
    types = [e["type"] for e in audit]
    t.ok("backup" in types and "backup-done" in types, "backup and backup-done are audited")
    new_cp = checkpoint(os.path.join(run.dir, "new-checkpoint"))

    # --- restore ----------------------------------------------------
    R = os.path.join(run.dir, "restored")
    p = pv("--json", "restore", B, "--passphrase-file", pass_file, "--checkpoint", old_cp,
           check=False, data_dir=R)
    t.is_(p.returncode, 0, "restore with a checkpoint saved before the backup succeeds")
    t.diag(p.stderr.decode()[-1500:]) if p.returncode else None
    t.is_(count(R), bk.get("archive_size"), "the restored archive holds the snapshot's messages")
    p = pv("--json", "verify", "--full", data_dir=R, check=False)
    t.ok(p.returncode == 0 and js(p)["ok"] and js(p)["blobs_decrypted"] == bk.get("archive_size"),
         "verify --full passes on the restored archive", p.stdout.decode(), p.stderr.decode())
    rtypes = [json.loads(ln)["type"] for ln in
              pv("--json", "audit", "list", data_dir=R).stdout.decode().splitlines()]
    t.ok("backup" in rtypes and "restore" in rtypes and "backup-done" not in rtypes,
         "the copy holds the record of its making, and the restore is audited", rtypes[-4:])
    t.is_(oct(os.stat(R).st_mode & 0o777), "0o700", "the restored directory is 0700")

    # Harvest goes on from the restored archive.
    more = os.path.join(run.dir, "more")
    popvault.genmail(more, "--count", 25, "--seed", 16, "--max-attachment", 2000)
    dove.seed("alice", [more])
    p = pv("--json", "harvest", "--once", data_dir=R, check=False)
    t.ok(p.returncode == 0 and js(p)["fetched"] == 25, "harvest on from the restored archive",
         p.stdout.decode(), p.stderr.decode())
    t.is_(count(R), bk.get("archive_size", 0) + 25, "... 25 more messages in it")
    p = pv("verify", "--full", data_dir=R, check=False)
    t.is_(p.returncode, 0, "... and it verifies")

    # --- refusals ---------------------------------------------------
    def refused(p, rc, pattern, name, target):
        t.fails_with(p, rc, pattern, name)
        left = [n for n in os.listdir(run.dir) if n.startswith(os.path.basename(target))]
        t.is_(left, [], "... nothing is left of " + os.path.basename(target))

    R2 = os.path.join(run.dir, "r2")
    refused(pv("restore", B, "--passphrase-file", pass_file, "--checkpoint", new_cp,
               data_dir=R2, check=False), 3, "does not verify",
            "a copy older than a checkpoint kept elsewhere is refused", R2)
    bad = os.path.join(run.dir, "bad-pass")
    with open(bad, "w") as f:
        f.write("not the passphrase at all\n")
    refused(pv("restore", B, "--passphrase-file", bad, data_dir=R2, check=False), 1,
            "wrong passphrase", "a wrong passphrase is refused", R2)
    p = pv("restore", R, "--passphrase-file", pass_file, data_dir=R2, check=False)
    t.fails_with(p, 1, "MANIFEST.*not a finished popvault backup", "a data directory is no backup")

    T = os.path.join(run.dir, "tampered")
    shutil.copytree(B, T)
    blob = sorted(ln.split()[3] for ln in manifest if ln.startswith("file ")
                  and ln.split()[3].startswith(("blobs/", "packs/")))[0]
    with open(os.path.join(T, blob), "r+b") as f:
        f.seek(100)
        c = f.read(1)
        f.seek(100)
        f.write(bytes([c[0] ^ 1]))
    refused(pv("restore", T, "--passphrase-file", pass_file, data_dir=R2, check=False), 3,
            "differs from the manifest", "a blob changed after the backup is refused", R2)
    # The same change with the manifest edited to match: verify --full finds it.
    sha = subprocess.run(["sha256sum", os.path.join(T, blob)], capture_output=True,
                         text=True).stdout.split()[0]
    with open(os.path.join(T, "MANIFEST"), "w") as f:
        f.write("\n".join(" ".join([ln.split()[0], sha] + ln.split()[2:])
                          if ln.endswith(blob) else ln for ln in manifest) + "\n")
    refused(pv("restore", T, "--passphrase-file", pass_file, data_dir=R2, check=False), 3,
            "does not verify", "... and with a manifest edited to match, verify --full "
            "refuses it", R2)
    # A pack file name restore does not know is refused, even in the manifest.
    T2 = os.path.join(run.dir, "renamed")
    shutil.copytree(B, T2)
    pk = sorted(os.listdir(os.path.join(T2, "packs")))[-1]  # renamed, still sorted
    os.rename(os.path.join(T2, "packs", pk), os.path.join(T2, "packs", pk.lstrip("0")))
    with open(os.path.join(T2, "MANIFEST"), "w") as f:
        f.write("\n".join(ln.replace("packs/" + pk, "packs/" + pk.lstrip("0"))
                          for ln in manifest) + "\n")
    refused(pv("restore", T2, "--passphrase-file", pass_file, data_dir=R2, check=False), 3,
            "not a popvault backup manifest line", "a pack named other than packs/NNNNNNNN.pack "
            "is refused", R2)
    with open(os.path.join(B, "extra.txt"), "w") as f:
        f.write("x")
    p = pv("restore", B, "--passphrase-file", pass_file, data_dir=R2, check=False)
    t.fails_with(p, 3, "extra.txt is not in the manifest", "a file added to a backup is refused")
    os.unlink(os.path.join(B, "extra.txt"))

    # --- a backup without keys, on another file system -------------
    other = "/dev/shm"
    cross = os.path.isdir(other) and os.stat(other).st_dev != os.stat(run.dir).st_dev
    shm = tempfile.mkdtemp(prefix="pv-backup-", dir=other if cross else run.dir)
    atexit.register(shutil.rmtree, shm, True)
    K = os.path.join(shm, "nokeys")
    p = pv("--json", "backup", "--out", K, check=False)
    t.ok(p.returncode == 0 and not os.path.exists(os.path.join(K, "keys.enc")),
         "backup without --with-keys leaves the keys out", p.stderr.decode())
    nk = js(p) if p.returncode == 0 else {}
    if cross:
        t.ok(nk.get("blobs", 0) + nk.get("records", 0) == total and nk.get("linked") == 0,
             "on another file system (%s) every blob is copied" % other, nk)
    else:
        t.ok(nk.get("blobs", 0) + nk.get("records", 0) == total, "every blob is in it (no second file system here to "
             "check copying across)", nk)
    R3 = os.path.join(run.dir, "r3")
    p = pv("restore", K, data_dir=R3, check=False)
    t.fails_with(p, 2, "carries no keys", "restoring it needs the original keys")
    p = pv("restore", K, "--keys", os.path.join(D, "keys"), data_dir=R3, check=False)
    t.ok(p.returncode == 0 and pv("verify", "--full", data_dir=R3, check=False).returncode == 0,
         "... with --keys from the original it restores and verifies", p.stderr.decode())
    p = pv("backup", "--out", K, check=False)
    t.fails_with(p, 1, "is not empty", "backup refuses a directory that is not empty")
sys.exit(t.done())
