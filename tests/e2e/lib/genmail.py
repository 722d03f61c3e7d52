#!/usr/bin/env python3
"""Deterministic test-mail generator: same arguments -> byte-identical files.

    genmail.py --count N --seed S --out DIR [--max-attachment BYTES]
               [--attachment-ratio R] [--from-date YYYY-MM-DD]
               [--to-date YYYY-MM-DD]

Writes DIR/00001.eml ... (RFC 5322, CRLF line ends everywhere) and
DIR/index.json, which says what each message is, so tests compare answers
against it instead of hard-coding them:

  {"generator": "genmail/1", "seed": S, "count": N, "args": {...},
   "messages": [{"file", "size", "sha256", "subject" (decoded),
     "subject_raw", "from" ("Name <addr>" decoded), "from_addr",
     "to" [...], "to_addrs" [...], "cc" [...], "cc_addrs" [...],
     "date" (header), "date_utc" (ISO 8601 Z), "epoch",
     "message_id" (with <>, or null), "has_attachment",
     "attachments" [{"filename", "content_type", "size"}],
     "structure" (plain|alternative|mixed), "features" [...],
     "keywords" [...]}]}

The mix: mostly 2-20 KB text/plain or multipart/alternative messages;
about --attachment-ratio (default 0.1) carry one base64 attachment of
100 KB-2 MB (capped by --max-attachment).  Subjects and names use RFC 2047
encoded words in UTF-8, ISO-8859-1, KOI8-R, ISO-2022-JP and Shift_JIS, B
and Q.  Features (each index entry lists its own; each appears at least
once when N >= 18): no_message_id, dup_message_id (all share
DUP_MESSAGE_ID), dot_lines (body lines ".", "..", ".x"), long_line (a body
line over 3000 chars), encoded_subject:<charset>:<B|Q>,
encoded_name:<charset>:<B|Q>, html, qp, 8bit, cc, attachment,
attachment_rfc2231 (non-ASCII file name), sec_gov (an address at sec.gov).
Dates are sorted: file order is chronological.  Keywords are rare tokens
from KEYWORDS planted in bodies (plain-text part), for search tests.
"""
import argparse
import base64
import binascii
import datetime
import hashlib
import json
import os
import random
import sys

DUP_MESSAGE_ID = "<duplicate-id.4711@genmail.example.org>"
KEYWORDS = ["zephyrfalcon", "quokkaledger", "marmaladebridge",
            "obsidianwharf", "tangerinevault"]

# Fixed people: later tests can search for them by name.
PEOPLE = [
    ("Alice Example", "alice@example.org"),
    ("Bob Builder", "bob@example.com"),
    ("Carol Compliance", "carol.compliance@sec.gov"),
    ("Dan Enforcement", "dan.enforcement@sec.gov"),
    ("Erin Auditor", "erin@audit.example.net"),
    ("Frank Trader", "frank.trader@bank.example.com"),
]
# (unicode display name, address, charset that can carry the name)
INTL_PEOPLE = [
    ("Jürgen Müller", "juergen.mueller@example.de", "iso-8859-1"),
    ("François Lefèvre", "francois.lefevre@example.fr", "iso-8859-1"),
    ("Иван Петров", "ivan.petrov@example.ru", "koi8-r"),
    ("Ольга Смирнова", "olga.smirnova@example.ru", "koi8-r"),
    ("山田太郎", "taro.yamada@example.jp", "iso-2022-jp"),
    ("佐藤花子", "hanako.sato@example.jp", "shift_jis"),
    ("Zoë Ångström", "zoe.angstrom@example.se", "utf-8"),
]
FIRST = ["James", "Mary", "Robert", "Patricia", "John", "Jennifer",
         "Michael", "Linda", "David", "Elizabeth", "William", "Barbara",
         "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
         "Charles", "Karen", "Wei", "Priya", "Ahmed", "Fatima", "Kenji",
         "Olga", "Lars", "Ingrid", "Diego", "Lucia"]
LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia",
        "Miller", "Davis", "Rodriguez", "Martinez", "Hernandez", "Lopez",
        "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Jackson",
        "Martin", "Lee", "Chen", "Patel", "Khan", "Tanaka", "Ivanova",
        "Larsen", "Nilsson", "Rossi", "Novak", "Kowalski"]
DOMAINS = ["example.com", "example.org", "example.net", "sec.gov",
           "bank.example.com", "corp.example.co.uk", "mail.example.de",
           "lawfirm.example", "broker.example.net", "fund.example.org"]
TOPICS = ["Quarterly report", "Meeting notes", "Re: trade confirmation",
          "Invoice", "Fwd: compliance review", "Lunch on Friday?",
          "Draft agreement", "Board minutes", "Re: Re: portfolio update",
          "Action items", "Audit request", "Wire instructions",
          "Travel plans", "Budget 2024", "Risk assessment",
          "Client onboarding", "Re: question about the filing",
          "Weekly status", "Year-end closing", "Holiday schedule"]
# (unicode subject, charsets it can be encoded in)
INTL_SUBJECTS = [
    ("Grüße aus München – Quartalsbericht", ["utf-8"]),
    ("Grüße aus München", ["iso-8859-1", "utf-8"]),
    ("Réunion du conseil: procès-verbal", ["iso-8859-1", "utf-8"]),
    ("Отчёт за третий квартал", ["koi8-r", "utf-8"]),
    ("Совещание в пятницу", ["koi8-r", "utf-8"]),
    ("会議の議事録について", ["iso-2022-jp", "shift_jis", "utf-8"]),
    ("見積書の送付", ["shift_jis", "iso-2022-jp", "utf-8"]),
    ("Price check ✓ 📈 done", ["utf-8"]),
    ("季度报告 – 最终版", ["utf-8"]),
]
INTL_TEXT = {
    "iso-8859-1": ["Sehr geehrte Damen und Herren, anbei die Unterlagen.",
                   "Mit freundlichen Grüßen aus Köln.",
                   "Merci pour votre réponse rapide, à bientôt."],
    "koi8-r": ["Добрый день, высылаю отчёт.",
               "С уважением, Иван Петров."],
    "utf-8": ["Grüße, Привет, こんにちは, 你好 — one line.",
              "Zoë paid 12 € for the café crème."],
}
WORDS = ("the of and to in a is that for it as was with be by on not he "
         "this are or his from at which but have an they you were her she "
         "there been one all we their has would when if so no will can "
         "more other what time up out about into than them some could "
         "market trade order position account client report filing "
         "settlement exposure risk audit review compliance counterparty "
         "portfolio quarter revenue margin forecast meeting schedule "
         "agreement contract signature approval invoice payment transfer "
         "balance ledger statement custody broker dealer fund equity bond "
         "option swap hedge limit breach escalation policy retention "
         "record archive email message request response attached please "
         "thanks regards tomorrow monday friday deadline draft final").split()
TZS = ["+0000", "-0500", "-0400", "+0100", "+0200", "+0530", "+0900",
       "-0800", "-0700", "+1000"]
ATTACH_TYPES = [("application/pdf", "pdf", b"%PDF-1.4\n"),
                ("application/octet-stream", "bin", b""),
                ("image/png", "png", b"\x89PNG\r\n\x1a\n"),
                ("application/zip", "zip", b"PK\x03\x04"),
                ("application/vnd.ms-excel", "xls", b"\xd0\xcf\x11\xe0")]
ATTACH_NAMES = ["report", "statement", "scan", "contract", "invoice",
                "photo", "minutes", "data-export"]
ATTACH_INTL = ["Übersicht März", "отчёт", "見積書"]

# The first len(FORCED) messages carry one feature each (when N is that
# big), so small corpora still hold every special case.
FORCED = ["no_message_id", "dup_message_id", "dup_message_id", "dot_lines",
          "long_line", "attachment", "attachment_rfc2231", "html", "qp",
          "8bit", "cc",
          "sec_gov", "subj:utf-8:B", "subj:iso-8859-1:Q", "subj:koi8-r:B",
          "subj:iso-2022-jp:B", "subj:shift_jis:Q", "subj:koi8-r:Q"]

CRLF = "\r\n"
DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
          "Oct", "Nov", "Dec"]


# ------------------------------------------------------- RFC 2047 words

def _q_encode(b):
    """RFC 2047 §4.2 Q encoding, restricted to the 'phrase' safe set."""
    out = []
    for c in b:
        ch = chr(c)
        if ch == " ":
            out.append("_")
        elif ch.isascii() and (ch.isalnum() or ch in "!*+-/"):
            out.append(ch)
        else:
            out.append("=%02X" % c)
    return "".join(out)


def encode_words(text, charset, enc):
    """Unicode text -> encoded words (each <= 75 chars, RFC 2047 §2),
    joined by folding white space.  Chunks are split on character
    boundaries; each is encoded alone (ISO-2022-JP returns to ASCII at
    the end of every word, as §5 requires)."""
    words = []
    chunk = ""
    overhead = len("=?%s?%s??=" % (charset, enc))

    def enc_len(s):
        b = s.encode(charset)
        return len(base64.b64encode(b)) if enc == "B" else len(_q_encode(b))

    for ch in text:
        if chunk and overhead + enc_len(chunk + ch) > 75:
            words.append(chunk)
            chunk = ""
        chunk += ch
    if chunk:
        words.append(chunk)
    out = []
    for w in words:
        b = w.encode(charset)
        data = base64.b64encode(b).decode() if enc == "B" else _q_encode(b)
        out.append("=?%s?%s?%s?=" % (charset, enc, data))
    return (CRLF + " ").join(out)


def fold(name, value):
    """Fold an address list header at commas (RFC 5322 §2.2.3)."""
    line = name + ": "
    out = []
    for i, part in enumerate(value):
        piece = part + ("," if i < len(value) - 1 else "")
        if len(line) + len(piece) + 1 > 76 and line.strip() != name + ":":
            out.append(line.rstrip())
            line = " "
        line += piece + " "
    out.append(line.rstrip())
    return CRLF.join(out)


# ------------------------------------------------------------ generator

class Gen:
    def __init__(self, args):
        self.a = args
        self.rng = random.Random(args.seed)
        r = self.rng
        # Line pools, built once: bodies are picked from them (fast).
        self.lines = []
        for _ in range(4000):
            n = r.randint(6, 13)
            s = " ".join(r.choice(WORDS) for _ in range(n))
            self.lines.append(s[0].upper() + s[1:] + r.choice(".,;:?!."))
        self.people = list(PEOPLE)
        for _ in range(60):
            f, l = r.choice(FIRST), r.choice(LAST)
            d = r.choice(DOMAINS)
            self.people.append(("%s %s" % (f, l),
                                "%s.%s@%s" % (f.lower(), l.lower(), d)))

    # -- pieces
    def text_lines(self, target):
        r = self.rng
        out, size = [], 0
        while size < target:
            para = r.choices(self.lines, k=r.randint(2, 7))
            out += para + [""]
            size += sum(len(p) + 2 for p in para) + 2
        return out

    def addr(self, who, feats, tag):
        """(header text, decoded text, address) for one mailbox."""
        name, addr = who[0], who[1]
        if len(who) == 3:
            cs = who[2]
            enc = self.rng.choice("BQ") if cs != "iso-2022-jp" else "B"
            feats.add("encoded_name:%s:%s" % (cs, enc))
            return ("%s <%s>" % (encode_words(name, cs, enc), addr),
                    "%s <%s>" % (name, addr), addr)
        return ('"%s" <%s>' % (name, addr) if "." in name else
                "%s <%s>" % (name, addr), "%s <%s>" % (name, addr), addr)

    def pick_person(self, intl_p):
        r = self.rng
        if r.random() < intl_p:
            return r.choice(INTL_PEOPLE)
        return r.choice(self.people)

    def subject(self, feats, force):
        r = self.rng
        want = [f for f in force if f.startswith("subj:")]
        if want:
            _, cs, enc = want[0].split(":")
            cands = [s for s, css in INTL_SUBJECTS if cs in css]
            text = r.choice(cands)
        elif r.random() < 0.3:
            text, css = r.choice(INTL_SUBJECTS)
            cs, enc = r.choice(css), r.choice("BQ")
            if cs == "iso-2022-jp":  # RFC 1468 practice: always B
                enc = "B"
        else:
            text = r.choice(TOPICS)
            if r.random() < 0.3:
                text += " #%d" % r.randint(100, 9999)
            return "Subject: " + text, text
        feats.add("encoded_subject:%s:%s" % (cs, enc))
        raw = encode_words(text, cs, enc)
        return "Subject: " + raw, text

    def message(self, i, epoch, force):
        r = self.rng
        a = self.a
        feats = set()
        force = set(force)
        # -- addresses
        sender = self.pick_person(0.2)
        if "sec_gov" in force and not sender[1].endswith("@sec.gov"):
            sender = r.choice([p for p in PEOPLE if p[1].endswith("sec.gov")])
        from_h, from_d, from_a = self.addr(sender, feats, "from")
        tos = [self.pick_person(0.1) for _ in range(r.choice([1, 1, 1, 2, 3]))]
        ccs = []
        if "cc" in force or r.random() < 0.25:
            ccs = [self.pick_person(0.1) for _ in range(r.randint(1, 4))]
            feats.add("cc")
        to_parts = [self.addr(p, feats, "to") for p in tos]
        cc_parts = [self.addr(p, feats, "cc") for p in ccs]
        every = [from_a] + [x[2] for x in to_parts + cc_parts]
        if any(x.endswith("@sec.gov") for x in every):
            feats.add("sec_gov")
        # -- date
        dt = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
        tz = r.choice(TZS)
        off = (1 if tz[0] == "+" else -1) * (int(tz[1:3]) * 60 + int(tz[3:]))
        local = dt + datetime.timedelta(minutes=off)
        date_h = "%s, %02d %s %04d %02d:%02d:%02d %s" % (
            DAYS[local.weekday()], local.day, MONTHS[local.month - 1],
            local.year, local.hour, local.minute, local.second, tz)
        # -- message id
        dom = from_a.split("@")[1]
        if "no_message_id" in force or (not force and r.random() < 0.03):
            mid = None
            feats.add("no_message_id")
        elif "dup_message_id" in force or (not force and r.random() < 0.02):
            mid = DUP_MESSAGE_ID
            feats.add("dup_message_id")
        else:
            mid = "<%08x.%d.%s@%s>" % (r.getrandbits(32), i, "gm", dom)
        subj_h, subj = self.subject(feats, force)

        # -- body
        html = "html" in force or r.random() < 0.35
        target = int(2048 * (10 ** (r.random())))   # 2..20 KB, log-uniform
        if html:  # the HTML copy about doubles the size
            target = target * 10 // 21
        lines = self.text_lines(target)
        keywords = []
        if r.random() < 0.15:
            keywords = sorted(set(r.sample(KEYWORDS, r.randint(1, 2))))
            for k in keywords:
                pos = r.randrange(len(lines))
                lines[pos] = lines[pos] + " " + k
        if "dot_lines" in force or r.random() < 0.08:
            feats.add("dot_lines")
            for dl in [".", "..", ".hidden file", "...and so on", ". ."]:
                lines.insert(r.randrange(len(lines) + 1), dl)
        if "long_line" in force or r.random() < 0.04:
            feats.add("long_line")
            n = r.randint(3001, 6000)
            long_ = " ".join(r.choices(WORDS, k=n // 4))[:n]
            while len(long_) <= 3000:
                long_ += " padding"
            lines.insert(r.randrange(len(lines) + 1), long_)
        charset, cte = "us-ascii", "7bit"
        if "8bit" in force or (not force and r.random() < 0.1):
            cs = r.choice(sorted(INTL_TEXT))
            for t in r.sample(INTL_TEXT[cs], 1):
                lines.insert(r.randrange(len(lines) + 1), t)
            charset, cte = cs, "8bit"
            feats.add("8bit")
        body_text = CRLF.join(lines) + CRLF
        body_bytes = body_text.encode(charset)
        if ("qp" in force or r.random() < 0.1) and "dot_lines" not in feats \
                and "long_line" not in feats:
            if charset == "us-ascii":
                charset = "utf-8"
            body_bytes = binascii.b2a_qp(body_text.encode(charset))
            body_bytes = body_bytes.replace(b"\r\n", b"\n").replace(
                b"\n", b"\r\n")
            cte = "quoted-printable"
            feats.add("qp")

        def text_part():
            return (("Content-Type: text/plain; charset=%s" % charset + CRLF +
                     "Content-Transfer-Encoding: %s" % cte + CRLF + CRLF)
                    .encode() + body_bytes)

        attach = "attachment" in force or "attachment_rfc2231" in force or \
            (not force and r.random() < a.attachment_ratio)
        parts = []
        structure = "plain"
        if html:
            feats.add("html")
            structure = "alternative"
            paras = "\r\n".join("<p>%s</p>" % ln.replace("&", "&amp;")
                                .replace("<", "&lt;") for ln in lines if ln
                                and not ln.startswith(".")
                                and len(ln) < 1000)
            html_b = ("<!DOCTYPE html>\r\n<html><head><meta charset=\"%s\">"
                      "<title>%s</title></head>\r\n<body>\r\n%s\r\n</body>"
                      "</html>\r\n" % ("utf-8", "message", paras)).encode(
                          "utf-8", "replace")
            bnd = "=_alt_%016x" % r.getrandbits(64)
            alt = ("Content-Type: multipart/alternative; boundary=\"%s\"" %
                   bnd + CRLF + CRLF).encode()
            alt += b"--" + bnd.encode() + b"\r\n" + text_part() + b"\r\n"
            alt += (b"--" + bnd.encode() + b"\r\nContent-Type: text/html; "
                    b"charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
                    b"\r\n" + html_b)
            alt += b"\r\n--" + bnd.encode() + b"--\r\n"
            first = alt
        else:
            first = text_part()
        attachments = []
        if attach:
            feats.add("attachment")
            structure = "mixed"
            ctype, ext, magic = r.choice(ATTACH_TYPES)
            lo, hi = 100 * 1024, 2 * 1024 * 1024
            size = int(lo * (hi / lo) ** (r.random() ** 1.6))
            if a.max_attachment is not None:
                size = min(size, a.max_attachment)
            data = (magic + r.randbytes(size))[:size]
            if "attachment_rfc2231" in force or r.random() < 0.15:
                base = r.choice(ATTACH_INTL)
                fname = "%s.%s" % (base, ext)
                disp = "attachment; filename*=UTF-8''%s" % "".join(
                    c if c.isascii() and (c.isalnum() or c in ".-_")
                    else "".join("%%%02X" % b for b in c.encode())
                    for c in fname)
                feats.add("attachment_rfc2231")
            else:
                fname = "%s-%d.%s" % (r.choice(ATTACH_NAMES),
                                      r.randint(1, 999), ext)
                disp = 'attachment; filename="%s"' % fname
            b64 = base64.encodebytes(data).replace(b"\n", b"\r\n")
            att = ("Content-Type: %s" % ctype + CRLF +
                   "Content-Transfer-Encoding: base64" + CRLF +
                   "Content-Disposition: %s" % disp + CRLF + CRLF).encode()
            att += b64
            attachments.append({"filename": fname, "content_type": ctype,
                                "size": size})
            bnd = "=_mix_%016x" % r.getrandbits(64)
            top_ct = "multipart/mixed; boundary=\"%s\"" % bnd
            body = (b"This is a multi-part message in MIME format.\r\n\r\n--" +
                    bnd.encode() + b"\r\n" + first + b"\r\n--" + bnd.encode() +
                    b"\r\n" + att + b"\r\n--" + bnd.encode() + b"--\r\n")
            mime_head = "Content-Type: " + top_ct + CRLF
        elif html:
            head_end = first.index(b"\r\n\r\n")
            mime_head = first[:head_end].decode() + CRLF
            body = first[head_end + 4:]
        else:
            head_end = first.index(b"\r\n\r\n")
            mime_head = first[:head_end].decode() + CRLF
            body = first[head_end + 4:]

        # -- header
        h = []
        hops = r.randint(1, 3)
        for k in range(hops):
            ip = "192.0.2.%d" % r.randint(1, 254)
            h.append("Received: from mx%d.%s (mx%d.%s [%s])" % (
                k + 1, dom, k + 1, dom, ip) + CRLF +
                "\tby mail.example.org with ESMTPS id %010x;" % (
                    r.getrandbits(40)) + CRLF + "\t" + date_h)
        h.append("Return-Path: <%s>" % from_a)
        h.append("From: " + from_h)
        h.append(fold("To", [x[0] for x in to_parts]))
        if cc_parts:
            h.append(fold("Cc", [x[0] for x in cc_parts]))
        h.append(subj_h)
        h.append("Date: " + date_h)
        if mid is not None:
            h.append("Message-ID: " + mid)
        if r.random() < 0.3:
            h.append("X-Mailer: %s" % r.choice([
                "Microsoft Outlook 16.0", "Apple Mail (2.3654)",
                "Thunderbird 115.3.1", "Roundcube Webmail 1.6"]))
        h.append("MIME-Version: 1.0")
        head = CRLF.join(h) + CRLF + mime_head + CRLF
        data = head.encode("ascii") + body
        entry = {
            "subject": subj,
            "subject_raw": subj_h[len("Subject: "):],
            "from": from_d, "from_addr": from_a,
            "to": [x[1] for x in to_parts],
            "to_addrs": [x[2] for x in to_parts],
            "cc": [x[1] for x in cc_parts],
            "cc_addrs": [x[2] for x in cc_parts],
            "date": date_h,
            "date_utc": dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "epoch": epoch,
            "message_id": mid,
            "has_attachment": bool(attachments),
            "attachments": attachments,
            "structure": structure,
            "features": sorted(feats),
            "keywords": keywords,
        }
        return data, entry


def parse_date(s):
    d = datetime.datetime.strptime(s, "%Y-%m-%d").replace(
        tzinfo=datetime.timezone.utc)
    return int(d.timestamp())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--max-attachment", type=int, default=None,
                    help="cap attachment sizes (bytes) for fast tests")
    ap.add_argument("--attachment-ratio", type=float, default=0.1)
    ap.add_argument("--from-date", default="2015-01-01")
    ap.add_argument("--to-date", default="2025-12-31")
    a = ap.parse_args(argv)
    if a.count < 0 or a.count > 10_000_000:
        ap.error("--count out of range")
    lo, hi = parse_date(a.from_date), parse_date(a.to_date)
    if hi <= lo:
        ap.error("--to-date must be after --from-date")
    os.makedirs(a.out, exist_ok=True)
    g = Gen(a)
    epochs = sorted(g.rng.randrange(lo, hi) for _ in range(a.count))
    width = max(5, len(str(a.count)))
    msgs = []
    for i in range(1, a.count + 1):
        force = [FORCED[i - 1]] if i <= len(FORCED) and a.count >= \
            len(FORCED) else []
        data, entry = g.message(i, epochs[i - 1], force)
        name = "%0*d.eml" % (width, i)
        with open(os.path.join(a.out, name), "wb") as f:
            f.write(data)
        entry = dict(file=name, size=len(data),
                     sha256=hashlib.sha256(data).hexdigest(), **entry)
        msgs.append(entry)
    index = {"generator": "genmail/1", "seed": a.seed, "count": a.count,
             "args": {"max_attachment": a.max_attachment,
                      "attachment_ratio": a.attachment_ratio,
                      "from_date": a.from_date, "to_date": a.to_date},
             "dup_message_id": DUP_MESSAGE_ID, "keywords": KEYWORDS,
             "messages": msgs}
    tmp = os.path.join(a.out, ".index.json.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(index, f, ensure_ascii=False, indent=1, sort_keys=True)
        f.write("\n")
    os.rename(tmp, os.path.join(a.out, "index.json"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
