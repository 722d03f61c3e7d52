#!/usr/bin/env python3
# Text shown to people carries no bidi controls (issue 16, finding 11): a
# message whose From, Subject and attachment name hide U+202E / U+2066-2069
# ("invoice\u202efdp.exe" would show as "invoiceexe.pdf") is harvested from
# a real Dovecot; `show`, the `search` listing (text and --json) and the
# eDiscovery load files show it without them, while `show --raw` and the
# bundle's .eml keep the exact bytes. A þ in a header reaches the
# Concordance DAT as U+FFFD, never as a quote character a review tool
# would read as the end of the field.
import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(HERE, "lib"))
import popvault  # noqa: E402
import pvharness  # noqa: E402

SRC = os.path.dirname(os.path.dirname(HERE))
BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
# A þ in the Subject, and a bidi override too (RFC 2047 encoded).
THORN = ("From: =?utf-8?q?Gu=C3=B0=C3=BE=C3=B3r?= <gudthor@example.is>\r\n"
         "To: alice@example.com\r\n"
         "Subject: =?utf-8?b?" + __import__("base64").b64encode(
             "þing report þþ \u202etxt.exe".encode()).decode() + "?=\r\n"
         "Date: Tue, 03 Nov 2026 10:00:00 +0000\r\n"
         "Message-ID: <thorn@example.is>\r\n\r\nSee the report.\r\n").encode()

t = pvharness.Tap()
with pvharness.Run() as run:
    mail = os.path.join(run.dir, "mail")
    os.mkdir(mail)
    bidi_path = os.path.join(SRC, "tests", "data", "hostile", "02-hostile-bidi.eml")
    shutil.copy(bidi_path, os.path.join(mail, "bidi.eml"))
    open(os.path.join(mail, "thorn.eml"), "wb").write(THORN)
    d = run.dovecot(seed={"alice": [mail]})
    pv = popvault.Archive(os.path.join(run.dir, "data"))
    pv.harvested(d, run.dir)

    raw = {}
    for i in (1, 2):
        raw[i] = pv("show", i, "--raw").stdout
    bidi_id = next(i for i in raw if b"hostile-bidi" in raw[i])
    thorn_id = 3 - bidi_id
    t.ok(raw[bidi_id] == open(bidi_path, "rb").read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"),
         "show --raw gives the exact bytes")

    shown = pv("show", bidi_id).stdout.decode()
    head = shown.split("\n\n", 2)[1] if "\n\n" in shown else shown
    t.ok(not BIDI.search(shown), "show: no bidi control anywhere in the rendering", repr(shown))
    t.ok("Subject: invoice fdp.exe for payment" in head and "From: Bob Builder <bob@example.org>" in head
         and "Attachments: invoicefdp.exe" in head, "show: the header values and the file name, "
         "without their bidi controls", repr(head))

    listing = pv("search", "invoice").stdout.decode()
    t.ok("invoice fdp.exe for payment" in listing and not BIDI.search(listing),
         "search listing: the subject without its bidi control", repr(listing))
    res = json.loads(pv("--json", "search", "report OR invoice").stdout)
    t.ok(len(res["results"]) == 2 and not any(BIDI.search(r["from"] + r["subject"])
                                               for r in res["results"]),
         "search --json: from and subject without bidi controls", res)

    out = os.path.join(run.dir, "x.tar.gz")
    pv("export", "invoice OR report", "--out", out, "--matter", "display")
    with tarfile.open(out) as tf:
        mem = {m.name: tf.extractfile(m).read() for m in tf.getmembers() if m.isfile()}
    dat = mem["loadfile.dat"].decode("utf-8-sig")
    t.ok(not BIDI.search(dat) and not BIDI.search(mem["index.csv"].decode()),
         "the DAT and the CSV hold no bidi control")
    # Concordance has no escape for þ: every þ of the file must be a quote.
    rows = [l.split("\x14") for l in dat.split("\r\n") if l]
    t.ok(len(rows) == 3 and all(f.startswith("þ") and f.endswith("þ") and f.count("þ") == 2
                                for r in rows for f in r),
         "every DAT field holds exactly its two þ quotes (split on 0x14 as a review tool does)")
    recs = list(csv.reader(io.StringIO(dat, newline=""), delimiter="\x14", quotechar="þ",
                           doublequote=False))
    subj = {r[recs[0].index("MessageID")]: r[recs[0].index("Subject")] for r in recs[1:]}
    t.is_(subj.get("<thorn@example.is>"), "\ufffding report \ufffd\ufffd txt.exe",
          "a þ in a value becomes U+FFFD in the DAT")
    emls = [b for n, b in mem.items() if n.startswith("messages/") and n.endswith(".eml")]
    t.ok(sorted(emls) == sorted(raw.values()), "the bundle's .eml files are the exact bytes")
    akey = pv("checkpoint", "--log", "archive", "--vkey").stdout.decode().strip()
    ukey = pv("checkpoint", "--log", "audit", "--vkey").stdout.decode().strip()
    p = subprocess.run([popvault.PV, "verify-bundle", out, "--vkey", akey, "--vkey", ukey],
                       capture_output=True)
    t.ok(p.returncode == 0, "verify-bundle passes", p.stdout.decode()[-400:])
sys.exit(t.done())
