#!/usr/bin/env python3
# eDiscovery export of mail harvested from a real Dovecot: the bundle holds
# exactly the messages the query matches (known from genmail's index.json),
# byte for byte; verify-bundle passes with nothing but the two verifier keys;
# the Concordance DAT parses with a CSV reader set to its delimiters and lists
# every message; Python's mailbox module reads the mbox and, after mboxrd
# un-quoting, gets the same bytes; VERIFY.md's own commands succeed. Then each
# forgery fails with a message naming the file: one byte of an .eml (kept in
# memory or too big to be), a dropped file, an added file, two proofs swapped,
# the checkpoint replaced by one signed by another key, an mbox record. Bates
# numbers stay the same across re-exports of a matter (tar.gz and zip), a
# mail holding a false end of a stored zip member exports to a .zip that
# verifies and extracts byte for byte, the
# export and its file hash are in the audit log, --last-checkpoint continuity,
# messages disposed of later are listed with their numbers, bad requests
# write nothing.
import csv
import hashlib
import io
import json
import mailbox
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(HERE, "lib"))
import popvault  # noqa: E402
import pvharness  # noqa: E402

PV = popvault.PV
t = pvharness.Tap()
sha = lambda b: hashlib.sha256(b).hexdigest()

# A message whose body has lines an mbox must quote (mboxrd: ^>*From ).
QUOTED = (b"From: Quentin <q@example.org>\r\nTo: alice@example.org\r\n"
          b"Subject: mboxquote lines\r\nDate: Mon, 02 Mar 2020 10:00:00 +0000\r\n"
          b"Message-ID: <mboxquote@example.org>\r\n\r\n"
          b"From here the body starts\r\n>From one level\r\n>>From two levels\r\n"
          b"From\r\nFrom:not a separator\r\n\r\nFrom the end\r\n")


def false_end_mail():
    """A mail holding what libarchive's streaming zip reader takes for the
    end of a stored member: "PK\x07\x08" and the CRC-32 of the mail's bytes
    before it (the .eml member is the mail as stored). Its CRC-32 is made
    printable by a counter in the body, so the mail travels as text."""
    import zlib
    head = (b"From: Fiona <f@example.org>\r\nTo: alice@example.org\r\n"
            b"Subject: falseend descriptor\r\nDate: Tue, 03 Mar 2020 10:00:00 +0000\r\n"
            b"Message-ID: <falseend@example.org>\r\n\r\nA body that ends a stored zip member early ")
    for n in range(100000):
        pre = head + b"%d " % n
        crc = zlib.crc32(pre).to_bytes(4, "little")
        if all(0x21 <= c <= 0x7e for c in crc):
            return pre + b"PK\x07\x08" + crc + b" for a streaming reader.\r\nThe rest of it.\r\n"
    raise RuntimeError("no printable CRC-32")


FALSE_END = false_end_mail()

with pvharness.Run() as run:
    mail = os.path.join(run.dir, "mail")
    idx = popvault.genmail(mail, "--count", 60, "--seed", 8, "--max-attachment", 1600000,
                           "--attachment-ratio", 0.25)
    extra = os.path.join(run.dir, "extra")
    os.mkdir(extra)
    open(os.path.join(extra, "quoted.eml"), "wb").write(QUOTED)
    open(os.path.join(extra, "falseend.eml"), "wb").write(FALSE_END)
    d = run.dovecot(seed={"alice": [mail, extra]})
    data = os.path.join(run.dir, "data")
    work = os.path.join(run.dir, "work")
    os.mkdir(work)
    pv = popvault.Archive(data, env={"TZ": "UTC"})
    pv.harvested(d, run.dir)
    akey = pv("checkpoint", "--log", "archive", "--vkey").stdout.decode().strip()
    ukey = pv("checkpoint", "--log", "audit", "--vkey").stdout.decode().strip()
    keys = ["--vkey", akey, "--vkey", ukey]

    def verify(path, *more):
        p = subprocess.run([PV, "verify-bundle", path] + keys + list(more), capture_output=True)
        out = p.stdout.decode()
        return p.returncode, out, [l[6:] for l in out.splitlines() if l.startswith("FAIL: ")]

    def members(path):
        if path.endswith(".zip"):
            with zipfile.ZipFile(path) as z:
                return [(n, z.read(n)) for n in z.namelist()]
        with tarfile.open(path, "r:gz") as tf:
            return [(m.name, tf.extractfile(m).read()) for m in tf.getmembers() if m.isfile()]

    def repack(src, dst, fn):
        """Writes dst as src with its member list passed through fn."""
        out = fn(members(src))
        with tarfile.open(dst, "w:gz") as tf:
            for name, body in out:
                ti = tarfile.TarInfo(name)
                ti.size = len(body)
                tf.addfile(ti, io.BytesIO(body))
        return dst

    # --- the export ------------------------------------------------------------------------
    query = "from:sec.gov OR has:attachment OR subject:mboxquote"
    want = {m["sha256"] for m in idx if m["from_addr"].lower().endswith("sec.gov") or m["has_attachment"]}
    want.add(sha(QUOTED))
    b1 = os.path.join(work, "smith.tar.gz")
    p = pv("--json", "export", query, "--out", b1, "--matter", "Smith v. Jones")
    res = json.loads(p.stdout)
    t.is_(res["messages"], len(want), "export: %d messages, as many as the query matches" % len(want))
    mem = dict(members(b1))
    emls = {n[9:-4]: b for n, b in mem.items() if n.startswith("messages/") and n.endswith(".eml")}
    t.is_({sha(b) for b in emls.values()}, want,
          "every .eml is byte for byte a message the query matches (against the generator's hashes)")
    t.is_(res["sha256"], sha(open(b1, "rb").read()), "the reported SHA-256 is the file's")
    big = [b for b, body in emls.items() if len(body) > 1024 * 1024]
    t.ok(len(big) > 0, "some messages are over 1 MiB (streamed, not kept in memory by the reader)")

    rc, out, fails = verify(b1)
    t.ok(rc == 0 and out.rstrip().endswith("verify-bundle: OK") and not fails,
         "verify-bundle passes with only the two verifier keys", out[-600:])
    t.ok("ok: all %d messages are exactly what the archive holds" % len(want) in out,
         "verify-bundle checked every message against its leaf")
    p = subprocess.run([PV, "verify-bundle", b1, "--vkey", akey], capture_output=True)
    t.fails_with(p, 3, r"^FAIL: audit/checkpoint is not a checkpoint signed by a trusted key",
            "without the audit key the export event cannot be checked: exit 3, naming audit/checkpoint")

    # --- the load file, the CSV, the mbox ------------------------------------------------------
    dat = mem["loadfile.dat"]
    t.ok(dat.startswith(b"\xef\xbb\xbf") and b"\x14" in dat and "þ".encode() in dat
         and dat.endswith(b"\r\n"), "loadfile.dat: UTF-8 BOM, þ quotes, 0x14 separators, CRLF rows")
    rows = list(csv.reader(io.StringIO(dat.decode("utf-8-sig"), newline=""),
                           delimiter="\x14", quotechar="þ"))
    head = rows[0]
    need = ["BEGBATES", "ENDBATES", "From", "To", "CC", "BCC", "Subject", "DateSent", "MessageID",
            "Account", "FileName", "SHA256", "MD5"]
    t.ok(all(c in head for c in need), "the DAT has the columns a review platform needs", head)
    recs = [dict(zip(head, r)) for r in rows[1:]]
    t.ok(len(recs) == len(emls) and all(len(r) == len(head) for r in rows),
         "a CSV reader set to the DAT delimiters reads one row per message")
    ok = all(r["BEGBATES"] in emls and r["ENDBATES"] == r["BEGBATES"]
             and r["SHA256"] == sha(emls[r["BEGBATES"]])
             and r["MD5"] == hashlib.md5(emls[r["BEGBATES"]]).hexdigest()
             and r["FileName"] == r["BEGBATES"] + ".eml" and r["Account"] == "alice" for r in recs)
    t.ok(ok and {r["BEGBATES"] for r in recs} == set(emls),
         "the DAT lists every message once, with its SHA256 and MD5")
    by_sha = {m["sha256"]: m for m in idx}
    subj_ok = all(r["Subject"] == by_sha[r["SHA256"]]["subject"] for r in recs if r["SHA256"] in by_sha)
    mid_ok = all(r["MessageID"] == (by_sha[r["SHA256"]]["message_id"] or "")
                 for r in recs if r["SHA256"] in by_sha)
    t.ok(subj_ok and mid_ok, "the DAT's Subject and MessageID are the decoded header fields")
    crow = list(csv.DictReader(io.StringIO(mem["index.csv"].decode(), newline="")))
    t.ok(len(crow) == len(emls) and all(sha(emls[r["bates"]]) == r["sha256"] for r in crow),
         "index.csv reads with a plain CSV reader: every message, with its hash")

    mbox_path = os.path.join(work, "messages.mbox")
    open(mbox_path, "wb").write(mem["messages.mbox"])
    box = mailbox.mbox(mbox_path, create=False)
    unquote = lambda b: re.sub(rb"(?m)^>(>*From )", rb"\1", b)
    got = {m.get_from().split("@")[0]: unquote(box.get_bytes(k)) for k, m in box.items()}
    t.ok(len(box) == len(emls) and got == emls,
         "Python's mailbox reads every message from the mbox, byte for byte after un-quoting")
    t.ok(b"\n>From here the body starts\r\n>>From one level\r\n>>>From two levels\r\n"
         b"From\r\nFrom:not a separator\r\n\r\n>From the end\r\n" in mem["messages.mbox"],
         "mboxrd quoting: one more '>' on each ^>*From line, nothing else touched")

    # --- VERIFY.md by hand ----------------------------------------------------------------------
    x1 = os.path.join(work, "x1")
    os.mkdir(x1)
    subprocess.run(["tar", "xzf", b1, "-C", x1], check=True)
    md = open(os.path.join(x1, "VERIFY.md")).read()
    code = re.search(r"```python\n(.*?)```", md, re.S).group(1)
    p = subprocess.run([sys.executable, "-c", code], cwd=x1, capture_output=True)
    t.ok(p.returncode == 0 and p.stdout.startswith(b"OK: %d messages" % len(emls)),
         "VERIFY.md's Python checks every message, the audit event and the mbox by hand",
         p.stderr.decode()[-500:])
    shell = "\n".join(l[7:] for l in md.split("2. The manifest")[1].split("(The 12 bytes")[0]
                      .splitlines() if l.startswith("       "))
    step1 = "\n".join(l[7:] for l in md.split("1. Every file")[1].split("2. The manifest")[0]
                      .splitlines() if l.startswith("       "))
    p = subprocess.run(["bash", "-e", "-c", step1 + "\n" + shell], cwd=x1, capture_output=True,
                       env=dict(os.environ, ARCHIVE_VKEY=akey, AUDIT_VKEY=ukey))
    t.ok(p.returncode == 0 and p.stdout.count(b"Signature Verified Successfully") == 3,
         "VERIFY.md's shell steps: manifest complete, three signatures good (OpenSSL)",
         p.stdout.decode()[-300:] + p.stderr.decode()[-300:])

    # --- the audit log --------------------------------------------------------------------------
    req = json.loads(mem["export/request.json"])
    ev = [json.loads(l) for l in pv("audit", "list", "--json").stdout.decode().splitlines()]
    exp = [e for e in ev if e["type"] == "export"]
    done = [e for e in ev if e["type"] == "export-done"]
    t.ok(len(exp) == 1 and exp[0]["seq"] == req["audit"]["export_event"]
         and exp[0]["actor"] == req["actor"]
         and "messages=%d " % len(emls) in exp[0]["object"]
         and "set-sha256=%s" % sha(mem["export/message-set"]) in exp[0]["object"]
         and json.loads(exp[0]["personal"]) == {"matter": "Smith v. Jones", "query": query},
         "the export is audited: actor, query and matter, count, hash of the message set", exp)
    t.ok(len(done) == 1 and done[0]["seq"] > exp[0]["seq"]
         and "bundle-sha256=%s" % res["sha256"] in done[0]["object"],
         "…and an export-done entry names the final file's SHA-256", done)
    t.ok(int(mem["audit/checkpoint"].split(b"\n")[1]) == exp[0]["seq"] + 1,
         "the bundle carries the audit checkpoint whose last leaf is its own export event")

    # --- forgeries --------------------------------------------------------------------------------
    def forged(name, fn, pattern, all_name):
        path = repack(b1, os.path.join(work, name + ".tar.gz"), fn)
        rc, out, fails = verify(path)
        hit = [f for f in fails if re.search(pattern, f)]
        stray = [f for f in fails if all_name not in f]
        t.ok(rc == 3 and hit and not stray, "forgery: %s -> exit 3, %r" % (name, hit[:1]),
             "rc %d" % rc, "fails %s" % fails[:8])

    order = sorted(emls)
    small = next(b for b in order if b not in big)

    def flip(target):
        def fn(ms):
            return [(n, (b[:100] + bytes([b[100] ^ 1]) + b[101:]) if n == target else b) for n, b in ms]
        return fn

    forged("one-byte-eml", flip("messages/%s.eml" % small),
           r"^messages/%s\.eml does not match its archive leaf" % small, "messages/%s.eml" % small)
    forged("one-byte-big-eml", flip("messages/%s.eml" % big[0]),
           r"^messages/%s\.eml does not match its archive leaf" % big[0], "messages/%s.eml" % big[0])
    forged("dropped-eml", lambda ms: [(n, b) for n, b in ms if n != "messages/%s.eml" % order[1]],
           r"^messages/%s\.eml is missing" % order[1], "messages/%s.eml" % order[1])
    forged("added-file", lambda ms: ms + [("messages/notes.txt", b"planted\n")],
           r"^unexpected member messages/notes\.txt", "messages/notes.txt")

    def swap(ms):
        a, b = "messages/%s.tlog-proof" % order[0], "messages/%s.tlog-proof" % order[2]
        d = dict(ms)
        return [(n, d[b] if n == a else d[a] if n == b else body) for n, body in ms]
    forged("swapped-proofs", swap, r"^messages/%s\.tlog-proof carries the leaf of message" % order[0],
           ".tlog-proof")

    # Another archive, another key, the same origin name: its checkpoint is a forgery here.
    other = os.path.join(run.dir, "other")
    pv("init", data_dir=other)
    ocp = pv("checkpoint", "--log", "archive", data_dir=other).stdout
    forged("checkpoint-other-key",
           lambda ms: [(n, ocp if n == "archive/checkpoint" else b) for n, b in ms],
           r"^archive/checkpoint is not a checkpoint signed by a trusted key", "archive/checkpoint")

    def mbox_edit(ms):
        out = []
        for n, b in ms:
            if n == "messages.mbox":
                i = b.index(b"Subject: mboxquote")
                b = b[:i] + b"Subject: mboxQuote" + b[i + 18:]
            out.append((n, b))
        return out
    qb = next(b for b, body in emls.items() if body == QUOTED)
    forged("mbox-record", mbox_edit, r"^messages\.mbox: the record of %s is not the archived" % qb,
           "messages.mbox")

    # --- Bates numbers across re-exports -------------------------------------------------------
    def numbering(path):
        return {l.split()[1]: l.split()[2] for l in dict(members(path))["export/message-set"]
                .decode().splitlines()[1:] if l.startswith("message ")}
    first = numbering(b1)
    z = os.path.join(work, "smith.zip")
    pv("export", query, "--out", z, "--matter", "Smith v. Jones")
    rc, out, fails = verify(z)
    t.ok(rc == 0 and numbering(z) == first, "a .zip re-export verifies and has the same Bates numbers",
         fails[:5])
    # A mail whose bytes end a stored member early for a streaming reader:
    # the .zip deflates that member, so it verifies and extracts as it is.
    fz = os.path.join(work, "falseend.zip")
    pv("export", "subject:falseend", "--out", fz, "--matter", "False end")
    rc, out, fails = verify(fz)
    t.ok(rc == 0 and out.rstrip().endswith("verify-bundle: OK"),
         "a .zip export of a mail holding a false data descriptor end verifies", out[-600:])
    with zipfile.ZipFile(fz) as zf:
        fe = [i for i in zf.infolist() if i.filename.startswith("messages/") and i.filename.endswith(".eml")]
        t.ok(len(fe) == 1 and zf.read(fe[0]) == FALSE_END and fe[0].compress_type == zipfile.ZIP_DEFLATED,
             "…its .eml, deflated, extracts byte for byte as the mail", [(i.filename, i.compress_type) for i in fe])
    wide = os.path.join(work, "smith-wide.tar.gz")
    res = json.loads(pv("--json", "export", "after:1980-01-01", "--out", wide,
                        "--matter", "Smith v. Jones").stdout)
    n_all = len(idx) + 2
    wn = numbering(wide)
    newer = sorted((int(i), b) for i, b in wn.items() if i not in first)
    t.ok(res["messages"] == n_all and all(wn[i] == b for i, b in first.items())
         and res["new_bates"] == n_all - len(first)
         and [b for _, b in newer] == ["PV%08d" % (len(first) + k + 1) for k in range(len(newer))],
         "a wider re-export keeps every number and numbers the rest after them, in archive order")
    xw = os.path.join(work, "xw")
    os.mkdir(xw)
    subprocess.run(["tar", "xzf", wide, "-C", xw], check=True)
    p = subprocess.run([sys.executable, "-c", code], cwd=xw, capture_output=True)
    t.ok(p.returncode == 0 and p.stdout.startswith(b"OK: %d messages" % n_all),
         "VERIFY.md's Python also passes on the re-export (Bates order is not id order there)",
         p.stderr.decode()[-500:])
    other_m = os.path.join(work, "other.tar.gz")
    res = json.loads(pv("--json", "export", "has:attachment", "--out", other_m, "--matter", "Doe",
                        "--bates-prefix", "DOE-", "--bates-start", "500").stdout)
    t.is_(res["bates_first"], "DOE-00000500", "another matter: its own prefix and first number")
    p = pv("export", "has:attachment", "--out", os.path.join(work, "x.tar.gz"), "--matter", "Doe",
           "--bates-prefix", "XYZ", check=False)
    t.ok(p.returncode == 2 and b"DOE-" in p.stderr and not os.path.exists(os.path.join(work, "x.tar.gz")),
         "a matter's prefix cannot change: exit 2, nothing written", p.stderr.decode())

    # --- continuity with a checkpoint kept from an earlier bundle -----------------------------
    keep = os.path.join(work, "kept-audit-checkpoint")
    open(keep, "wb").write(mem["audit/checkpoint"])
    rc, out, fails = verify(wide, "--last-checkpoint", keep)
    t.ok(rc == 0 and "extends your last checkpoint" in out,
         "a later bundle extends the audit checkpoint kept from the first (consistency proof)", fails)
    ab = os.path.join(work, "audit.tar.gz")
    pv("audit", "export", "--out", ab)
    keep3 = os.path.join(work, "kept-from-audit-bundle")
    open(keep3, "wb").write(dict(members(ab))["audit/checkpoint"])
    later_b = os.path.join(work, "after-audit.tar.gz")
    pv("export", "has:attachment", "--out", later_b, "--matter", "Smith v. Jones")
    rc, out, fails = verify(later_b, "--last-checkpoint", keep3)
    t.ok(rc == 0 and "extends your last checkpoint" in out,
         "…and the audit checkpoint of an audit-log bundle received before", fails)
    keep2 = os.path.join(work, "kept-later")
    open(keep2, "wb").write(dict(members(wide))["audit/checkpoint"])
    rc, out, fails = verify(b1, "--last-checkpoint", keep2)
    t.ok(rc == 3 and any("rolled back" in f for f in fails),
         "an older bundle than the checkpoint one holds is refused (rolled back or replayed)", fails)

    # --- key rotation: the first keys still verify, through the rotation notes -------------
    pv("checkpoint", "--log", "archive", "--rotate-key")
    pv("checkpoint", "--log", "audit", "--rotate-key")
    rot = os.path.join(work, "rotated.tar.gz")
    pv("export", "has:attachment", "--out", rot, "--matter", "Smith v. Jones")
    rc, out, fails = verify(rot)
    t.ok(rc == 0 and "ok: rotations/archive/1:" in out and "ok: rotations/audit/1:" in out,
         "after both keys were rotated, the keys pinned at init verify a new bundle", fails[:5])
    cut = repack(rot, os.path.join(work, "rot-cut.tar.gz"),
                 lambda ms: [(n, b) for n, b in ms if n != "rotations/archive/1"])
    rc, out, fails = verify(cut)
    t.ok(rc == 3 and any(f.startswith("archive/checkpoint is not a checkpoint signed by a trusted")
                         for f in fails),
         "without its rotation note, the new archive key is not trusted", fails[:5])

    # --- bad requests ---------------------------------------------------------------------------
    n_events = len(pv("audit", "list", "--json").stdout.splitlines())
    p = pv("export", "from:(", "--out", os.path.join(work, "bad.tar.gz"), check=False)
    t.ok(p.returncode == 2 and b"column 7: expected a term after '('" in p.stderr
         and not os.path.exists(os.path.join(work, "bad.tar.gz")),
         "a bad query: exit 2 naming the column, no file", p.stderr.decode())
    p = pv("export", "x", "--out", os.path.join(work, "bad.txt"), check=False)
    t.fails_with(p, 2, r"^popvault: .*bad\.txt: the bundle name must end in \.tar\.gz, \.tgz or \.zip",
            "an output that is not .zip/.tar.gz/.tgz: exit 2, naming the extensions")
    before = open(b1, "rb").read()
    p = pv("export", "x", "--out", b1, check=False)
    t.ok(p.returncode == 1 and b"already exists; refusing to overwrite it" in p.stderr
         and open(b1, "rb").read() == before, "an existing file is never overwritten, and says so",
         p.stderr.decode())
    p = pv("export", "x", "--out", os.path.join(work, "c.tar.gz"), "--matter", "a\tb", check=False)
    t.fails_with(p, 2, r"^popvault: a matter name is at most 128 bytes of UTF-8 text without control characters",
            "a matter name with a control character: exit 2, saying what a name may be")
    t.is_(len(pv("audit", "list", "--json").stdout.splitlines()), n_events,
          "refused exports leave no export entry")
    empty = os.path.join(work, "empty.tar.gz")
    res = json.loads(pv("--json", "export", "zzyzxnotaword", "--out", empty).stdout)
    rc, out, fails = verify(empty)
    t.ok(res["messages"] == 0 and rc == 0, "an export matching nothing is a valid, empty bundle", fails)

    # --- a progress line on a terminal ----------------------------------------------------------
    if shutil.which("script"):
        tty = os.path.join(work, "tty.tar.gz")
        p = subprocess.run(["script", "-qec", "%s --data %s export has:attachment --out %s"
                            % (PV, data, tty), "/dev/null"], capture_output=True)
        t.ok(p.returncode == 0 and re.search(rb"\rexport \(\.eml files\): (\d+)/\1 steps  ", p.stdout),
             "progress is shown on a terminal (tests/e2e/progress.t checks the line)",
             repr(p.stdout[-300:]))
    else:
        t.ok(True, "# SKIP script(1) not installed")

    # --- disposal: listed with the numbers they had -------------------------------------------
    policy = os.path.join(run.dir, "30d.policy")
    open(policy, "w").write("default: retain 30d\n")
    pv("policy", "propose", policy)
    pv.glass()
    pv("hold", "add", "keep", "--query", "has:attachment")
    later = 65  # days from now
    pv("dispose", at=later)
    pv.glass(at=later)
    after = os.path.join(work, "smith-after.tar.gz")
    res = json.loads(pv("--json", "export", query, "--out", after, "--matter", "Smith v. Jones",
                        at=later).stdout)
    am = dict(members(after))
    disp = list(csv.DictReader(io.StringIO(am["disposed.csv"].decode(), newline="")))
    held = {m["sha256"] for m in idx if m["has_attachment"]}
    kept_n = numbering(after)
    t.ok(res["messages"] == len(held) and res["disposed"] == n_all - len(held)
         and all(kept_n[i] == wn[i] for i in kept_n),
         "after disposal: the held messages are exported under their old numbers", res)
    t.ok(len(disp) == n_all - len(held) and all(r["bates"] == wn[r["id"]] for r in disp)
         and all(r["policy_version"] == "2" for r in disp),
         "every message the matter numbered and that was disposed of is listed with its number")
    rc, out, fails = verify(after)
    t.ok(rc == 0, "the bundle with disposed messages verifies", fails[:5])

sys.exit(t.done())
