#!/usr/bin/env python3
# Progress lines (issue 15, archiver/lib/progress.h): verify --full, reindex,
# export, audit export and backup draw one self-rewriting line on a terminal
# ("\r" + the line + clear to end of line, a newline at the end) with the
# count, the rate and an ETA; never into a pipe or a file, never with
# --json. A problem verify prints on the same terminal erases the line
# first, so the two never run together.
import json
import os
import pty
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(HERE, "lib"))
import pvcatalog  # noqa: E402
import pvharness  # noqa: E402
import popvault  # noqa: E402

CLEAR = b"\x1b[K"


def on_terminal(argv, both=False):
    """Runs argv with stderr (and stdout too when both) on a pseudo-terminal:
    (exit code, bytes the terminal got, bytes of the stdout pipe)."""
    master, slave = pty.openpty()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stderr=slave,
                         stdout=slave if both else subprocess.PIPE)
    os.close(slave)
    got = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: every writer has closed the terminal
            break
        if not chunk:
            break
        got += chunk
    os.close(master)
    out = b"" if both else p.stdout.read()
    return p.wait(), got, out


def drawn(term):
    """The lines the meter drew: the text after each "\r" up to its clear."""
    return [m.decode() for m in re.findall(rb"\r([^\r\n\x1b]*)\x1b\[K", term)]


t = pvharness.Tap(5 * 4 + 5)

with pvharness.Run() as run:
    D = os.path.join(run.dir, "data")
    pv = popvault.Archive(D)
    mail = os.path.join(run.dir, "mail")
    popvault.genmail(mail, "--count", 120, "--seed", 15, "--max-attachment", 20000)
    pv.harvested(run.dovecot(seed={"alice": [mail]}), run.dir)
    base = [popvault.PV, "--data", D]

    def out(name):
        return os.path.join(run.dir, name)

    # The command, its line's label (a regex) and unit, its arguments after
    # --data D (suffix: each runs twice, on a terminal and into a pipe), and
    # the total when it is known.
    cases = [
        ("verify --full", "verify --full", "messages", lambda s: ["verify", "--full"], 120),
        ("reindex", "reindex", "messages", lambda s: ["reindex"], 120),
        ("export", r"export \((proofs, mbox, load files|\.eml files)\)", "steps",
         lambda s: ["export", "from:sec.gov", "--out", out("sec%s.zip" % s)], None),
        ("audit export", "audit export", "entries",
         lambda s: ["audit", "export", "--out", out("a%s.tgz" % s)], None),
        ("backup", "backup", "files", lambda s: ["backup", "--out", out("backup%s" % s)], None),
    ]
    for name, label, unit, args, total in cases:
        rc, term, stdout = on_terminal(base + args("-tty"))
        lines = drawn(term)
        t.ok(rc == 0 and lines and stdout and CLEAR not in stdout and b"\r" not in stdout,
             "%s on a terminal: the line goes to the terminal, the result to stdout" % name,
             "rc %d, terminal %r, stdout %r" % (rc, term[-400:], stdout[:200]))
        n = r"(\d+)" if total is None else str(total)
        running = [ln for ln in lines
                   if re.fullmatch(r"%s: \d+/%s %s  [\d.]+/s  ETA \d+:\d\d" % (label, n, unit), ln)]
        final = re.fullmatch(r"%s: (?P<n>\d+)/(?P=n) %s  [\d.]+/s  done in \d+:\d\d" % (label, unit),
                             lines[-1] if lines else "")
        t.ok(running, "%s: a line with the count, the rate and the ETA while it runs" % name,
             repr(lines))
        t.ok(final and term.endswith(CLEAR + b"\r\n"),
             "%s: the last line says the time taken and ends with a newline" % name,
             repr(term[-200:]))
        p = subprocess.run(base + args("-pipe"), capture_output=True)
        t.ok(p.returncode == 0 and p.stderr == b"" and b"\r" not in p.stdout,
             "%s piped: no progress line" % name, repr(p.stderr[:300]))

    # --json on a terminal: nothing but the JSON.
    rc, term, stdout = on_terminal(base + ["--json", "verify", "--full"])
    t.ok(rc == 0 and term == b"" and json.loads(stdout)["ok"] is True,
         "verify --full --json on a terminal: no progress line", repr(term[:300]))
    rc, term, stdout = on_terminal(base + ["--json", "backup", "--out", out("backup-json")])
    t.ok(rc == 0 and term == b"" and json.loads(stdout)["files"] > 0,
         "backup --json on a terminal: no progress line", repr(term[:300]))

    # stderr into a file (not a terminal), stdout on one: no progress either.
    master, slave = pty.openpty()
    with open(out("stderr"), "wb") as errf:
        rc = subprocess.run(base + ["reindex"], stdout=slave, stderr=errf).returncode
    os.close(slave)
    os.close(master)
    t.ok(rc == 0 and open(out("stderr"), "rb").read() == b"",
         "reindex with stderr in a file: no progress line")

    # A problem found mid-run, on the same terminal as the line: the line is
    # erased before it, and comes back after it.
    db = pvcatalog.connect(D)
    db.execute("UPDATE messages SET size = size + 1 WHERE id = 60")
    db.close()
    rc, term, _ = on_terminal(base + ["verify", "--full"], both=True)
    fail = term.find(b"FAIL: message 60")
    t.ok(rc == 3 and fail > 0 and term[:fail].endswith(b"\r" + CLEAR),
         "verify --full: a problem line starts on a cleared line", repr(term[max(0, fail - 120):fail + 80]))
    last = term.rfind(b"FAIL: ")
    t.ok(re.match(rb"FAIL: [^\r\n\x1b]*\r\n\rverify --full: \d+/120 messages", term[last:]),
         "... and the progress line comes back after it", repr(term[fail:fail + 400]))

sys.exit(t.done())
