#!/usr/bin/env python3
# genmail.py: the generated corpus is what index.json says it is, the same
# every time, and holds every special case the POP3/search tests rely on.
import datetime
import email
import email.header
import email.policy
import email.utils
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time

LIB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib")
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, LIB)
from pvharness import Tap  # noqa: E402

GEN = os.path.join(LIB, "genmail.py")


def gen(out, count, seed, *extra):
    subprocess.run([sys.executable, GEN, "--count", str(count), "--seed",
                    str(seed), "--out", out] + list(extra), check=True)
    with open(os.path.join(out, "index.json"), encoding="utf-8") as f:
        return json.load(f)


def tree(d):
    out = {}
    for n in sorted(os.listdir(d)):
        with open(os.path.join(d, n), "rb") as f:
            out[n] = f.read()
    return out


def decode(v):
    return str(email.header.make_header(email.header.decode_header(v)))


def main():
    t = Tap(17)
    tmp = tempfile.mkdtemp(prefix="pv-genmail-")
    try:
        run(t, tmp)
    finally:
        subprocess.run(["rm", "-rf", tmp])
    return t.done()


def run(t, tmp):
    a, b, c = (os.path.join(tmp, x) for x in "abc")
    cap = ["--max-attachment", "30000"]
    t0 = time.monotonic()
    ia = gen(a, 60, 42, *cap)
    t.diag("60 messages in %.2f s" % (time.monotonic() - t0))
    gen(b, 60, 42, *cap)
    gen(c, 60, 43, *cap)
    ta, tb, tc = tree(a), tree(b), tree(c)
    t.ok(ta == tb, "same arguments give byte-identical files and index")
    t.ok(ta["00001.eml"] != tc["00001.eml"] and ta != tc,
         "another seed gives other mail (the check above can fail)")
    emls = sorted(n for n in ta if n.endswith(".eml"))
    msgs = ia["messages"]
    t.is_((len(emls), ia["count"], len(msgs)), (60, 60, 60),
          "--count files written and indexed")
    t.is_([m["file"] for m in msgs], emls, "index lists the files in order")

    bad = [n for n in emls if re.search(rb"(?<!\r)\n|\r(?!\n)", ta[n])]
    t.ok(not bad, "CRLF line ends everywhere (no bare LF or CR)", bad[:5])
    bad = [m["file"] for m in msgs
           if m["size"] != len(ta[m["file"]])
           or m["sha256"] != hashlib.sha256(ta[m["file"]]).hexdigest()]
    t.ok(not bad, "index size and sha256 match the files", bad[:5])

    # Parse every message independently and compare with the index.
    wrong = []
    for m in msgs:
        raw = ta[m["file"]]
        p = email.message_from_bytes(raw, policy=email.policy.compat32)
        subj = decode(p["Subject"])
        frm = email.utils.parseaddr(decode(p["From"]))
        tos = [x[1] for x in email.utils.getaddresses([p["To"]])]
        ccs = [x[1] for x in email.utils.getaddresses([p["Cc"] or ""])
               if x[1]]
        dt = email.utils.parsedate_to_datetime(p["Date"]).astimezone(
            datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        atts = [(part.get_filename(), len(part.get_payload(decode=True)))
                for part in p.walk() if part.get_content_disposition() ==
                "attachment"]
        got = (subj, frm[1], tos, ccs, dt, p["Message-ID"], bool(atts),
               [x[1] for x in atts], decode(frm[0]) + " <%s>" % frm[1])
        want = (m["subject"], m["from_addr"], m["to_addrs"], m["cc_addrs"],
                m["date_utc"], m["message_id"], m["has_attachment"],
                [x["size"] for x in m["attachments"]], m["from"])
        if got != want:
            wrong.append((m["file"], got, want))
    t.ok(not wrong, "subject, from, to, cc, date, Message-ID and attachments "
         "decode to what index.json says", *[repr(w) for w in wrong[:3]])

    feats = {f for m in msgs for f in m["features"]}
    need = {"no_message_id", "dup_message_id", "dot_lines", "long_line",
            "attachment", "attachment_rfc2231", "html", "qp", "8bit", "cc",
            "sec_gov"}
    t.ok(need <= feats, "every special case is present", sorted(need - feats))
    subj_cs = {f.split(":")[1] for f in feats if f.startswith("encoded_subj")}
    encs = {f.split(":")[2] for f in feats if f.startswith("encoded_")}
    t.ok({"utf-8", "iso-8859-1", "koi8-r", "iso-2022-jp", "shift_jis"} <=
         subj_cs and encs == {"B", "Q"} and
         any(f.startswith("encoded_name:") for f in feats),
         "RFC 2047 subjects in 5 charsets, B and Q, encoded names",
         sorted(subj_cs), sorted(encs))
    nomid = [m for m in msgs if m["message_id"] is None]
    dups = [m for m in msgs if m["message_id"] == ia["dup_message_id"]]
    t.ok(nomid and all(b"\r\nMessage-ID:" not in ta[m["file"]].split(
        b"\r\n\r\n")[0] for m in nomid) and len(dups) >= 2,
         "messages without Message-ID, and >= 2 sharing one",
         len(nomid), len(dups))
    dotted = [m for m in msgs if "dot_lines" in m["features"]]
    t.ok(dotted and all(b"\r\n.\r\n" in ta[m["file"]] and
                        b"\r\n..\r\n" in ta[m["file"]] for m in dotted),
         "dot_lines messages have body lines '.' and '..'")
    longs = [m for m in msgs if "long_line" in m["features"]]
    t.ok(longs and all(max(len(x) for x in ta[m["file"]].split(b"\r\n")) >
                       3000 for m in longs), "long_line messages have a "
         "line over 3000 octets")
    t.ok(any(a.endswith("@sec.gov") for m in msgs for a in
             [m["from_addr"]] + m["to_addrs"] + m["cc_addrs"]) and
         any(m["from"] == "Carol Compliance <carol.compliance@sec.gov>" or
             "Carol Compliance <carol.compliance@sec.gov>" in m["to"] + m["cc"]
             for m in msgs),
         "sec.gov addresses and the fixed cast are there")
    epochs = [m["epoch"] for m in msgs]
    lo = datetime.datetime(2015, 1, 1, tzinfo=datetime.timezone.utc)
    hi = datetime.datetime(2025, 12, 31, tzinfo=datetime.timezone.utc)
    t.ok(epochs == sorted(epochs) and lo.timestamp() <= epochs[0] and
         epochs[-1] < hi.timestamp(), "dates sorted within the default range")
    t.ok(all(x["size"] <= 30000 for m in msgs for x in m["attachments"]),
         "--max-attachment caps attachment sizes")
    kw = [(m["file"], k) for m in msgs for k in m["keywords"]
          if k.encode() not in ta[m["file"]].replace(b"=\r\n", b"")]
    t.ok(any(m["keywords"] for m in msgs) and not kw,
         "planted keywords are in their messages", kw[:3])

    # Size mix on an uncapped corpus.
    d = os.path.join(tmp, "d")
    t0 = time.monotonic()
    idx = gen(d, 400, 7)
    el = time.monotonic() - t0
    ms = idx["messages"]
    total = sum(m["size"] for m in ms)
    t.diag("400 messages, %.1f MB in %.2f s (%.0f MB/s)" % (
        total / 1e6, el, total / 1e6 / el))
    plain = [m["size"] for m in ms if not m["has_attachment"]]
    atts = [x["size"] for m in ms for x in m["attachments"]]
    in_range = sum(2048 <= s <= 24 * 1024 for s in plain) / len(plain)
    t.ok(in_range >= 0.9 and 0.05 <= len(atts) / len(ms) <= 0.16 and
         all(100 * 1024 <= s <= 2 * 1024 * 1024 for s in atts) and
         max(atts) > 1024 * 1024,
         "size mix: >= 90% of plain mail 2-24 KB, 5-16% with 100 KB-2 MB "
         "attachments", "plain in range %.2f, attachments %d of %d, max %d" %
         (in_range, len(atts), len(ms), max(atts or [0])))


if __name__ == "__main__":
    sys.exit(main())
