#!/usr/bin/env python3
"""Harvest benchmark: popvault against the POP3 clients people use today.

    harvest.py --popvault BIN --null BIN [--count N] [--runs R]
               [--tools popvault,popvault-pg,mpop,fetchmail,getmail,null]
               [--modes plain,tls] [--big-mb MB] [--json FILE]
               [--profile auto|always|never] [--scale 1000,10000]
               [--scale-probe 1000]

One private Dovecot on loopback (tests/e2e/lib/pvharness.py), one mailbox
of N generated messages (genmail.py's size mix).  Each tool harvests the
whole mailbox and deletes it upstream, over plain POP3 (no TLS) and over
implicit TLS (port 995 style, certificate checked); before every run the
mailbox is restored from a template by hard links and Dovecot's index files
are removed, so every run starts from the same server state.  Reseeding and
every tool's setup (popvault init, config files, empty maildirs) are outside
the measurement.  Rounds are interleaved (round 1: every mode and tool,
then round 2 ...) so drift hits all tools alike; the figures are medians.

  popvault   harvest --once: fetch, seal (encrypt, hash), group-commit
             with a signed checkpoint, fsync, then DELE; indexes after
  popvault-pg  the same with its catalog (logs, audit, search index) on a
             private PostgreSQL 15 the bench starts (fsync on), a fresh
             database per run; that server's CPU is its own column
  mpop       native maildir delivery, pipelined
  fetchmail  hands each message to procmail (its usual MDA) for a maildir
  getmail    getmail6's Maildir destination
  null       tests/bench/popnull.c: pipelined RETR+DELE, stores nothing

Measured: wall clock around the client (rates), /usr/bin/time for the
client's CPU (user+sys, children included: procmail counts for fetchmail)
and peak RSS (the largest process), and Dovecot's CPU for the session (its
master's reaped-children time).  Every run is checked: the mailbox is
empty afterwards and the tool stored N messages (null: retrieved N).
popvault's rate ends at its --json summary line (the harvests are over);
the index lag is the time from there until it returns (its indexer has
caught up; stats must then show nothing pending).  Then the scaling
figures (--scale): harvest msg/s and verify --full MB/s as one archive
grows.  Issue 12's targets are printed MET or SHORT.  Before the runs,
bench_passes (tests/bench/bench_passes.c, --passes; default beside --null)
times the passes over the bytes the design requires on this run's
messages, one core; a SHORT CPU, share or verify target gets bound: lines
from them.
"""
import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e", "lib"))
import pvharness  # noqa: E402
import benchpasses  # noqa: E402  (tests/bench, this script's directory)
from benchpasses import ms_per_mb  # noqa: E402

USER, PASSWORD = "alice", "alicepw"
ALL_TOOLS = ["popvault", "mpop", "fetchmail", "getmail", "null"]
PG_BINDIR = os.environ.get("PG_BINDIR", "/usr/lib/postgresql/15/bin")
# Issue 12's targets.
TARGET_NULL = {"plain": 0.5, "tls": 0.6}  # popvault / null client, messages/s
TARGET_MPOP = 2.0                         # popvault / mpop, messages/s, both modes
TARGET_CPU_MS = 0.5                       # client CPU per message
TARGET_LAG_S = 2.0                        # index lag after 10,000 messages
TARGET_VERIFY_MB_S = 600.0                # verify --full, plaintext
SCALE_KEEP = 0.8                          # largest archive / smallest: no slowdown
RSS_LIMIT_MB = 32.0
PROFILE_MAX = 3000    # messages in the profiled harvest
CLK = os.sysconf("SC_CLK_TCK")


def log(msg):
    sys.stderr.write("bench: %s\n" % msg)
    sys.stderr.flush()


class BenchError(Exception):
    pass


# ------------------------------------------------------------ the mailbox

def virtual_size(data):
    """Dovecot's W= (size with CRLF line ends)."""
    return len(data) + data.count(b"\n") - data.count(b"\r\n")


def make_template(src_files, template, uid, gid, names="dovecot"):
    """A maildir 'new/'.  names=dovecot: Dovecot-delivery-style names with
    S= and W= (LIST needs no read of the file, as with mail Dovecot
    delivered); bare: no sizes in the name (mail another MDA delivered):
    Dovecot reads every file once to answer LIST."""
    os.makedirs(template)
    total = 0
    for i, f in enumerate(src_files):
        with open(f, "rb") as fh:
            data = fh.read()
        name = "%d.M%dP1.bench" % (1500000000 + i, i)
        if names == "dovecot":
            name += ",S=%d,W=%d" % (len(data), virtual_size(data))
        dst = os.path.join(template, name)
        with open(dst, "wb") as fh:
            fh.write(data)
        os.chown(dst, uid, gid)
        total += len(data)
    return total


def reseed(maildir, template, uid, gid):
    """Empty the mailbox and Dovecot's indexes, link the template in."""
    for sub in ("new", "cur", "tmp"):
        shutil.rmtree(os.path.join(maildir, sub), ignore_errors=True)
    for n in os.listdir(maildir):
        if n.startswith("dovecot"):
            p = os.path.join(maildir, n)
            if os.path.isdir(p):
                shutil.rmtree(p)
            else:
                os.unlink(p)
    for sub in ("new", "cur", "tmp"):
        p = os.path.join(maildir, sub)
        os.mkdir(p)
        os.chown(p, uid, gid)
    new = os.path.join(maildir, "new")
    for n in os.listdir(template):
        os.link(os.path.join(template, n), os.path.join(new, n))
    # Every run starts with the mail in the page cache: this VM reclaims
    # file pages left idle for about a minute, so a tool run minutes after
    # the template was last read (the null client after getmail) had
    # Dovecot read part of it from disk, and another run none.
    for n in os.listdir(template):
        with open(os.path.join(template, n), "rb") as f:
            while f.read(1 << 20):
                pass


def count_files(d):
    try:
        return sum(1 for n in os.listdir(d) if not n.startswith("."))
    except FileNotFoundError:
        return 0


def maildir_messages(d):
    return count_files(os.path.join(d, "new")) + count_files(os.path.join(d, "cur"))


def empty_maildir(d):
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(d, sub))


def big_message(path, size):
    """One message of about `size` bytes: a short text part and a base64
    attachment (76-char lines, CRLF)."""
    head = (b"From: Bench <bench@example.org>\r\nTo: alice@example.org\r\n"
            b"Subject: one big message\r\nDate: Mon, 02 Mar 2026 10:00:00 +0000\r\n"
            b"Message-ID: <big.1@bench.example>\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\n"
            b"Content-Type: text/plain\r\n\r\nSee the attachment.\r\n--b1\r\n"
            b"Content-Type: application/octet-stream\r\n"
            b"Content-Transfer-Encoding: base64\r\n"
            b"Content-Disposition: attachment; filename=big.bin\r\n\r\n")
    tail = b"--b1--\r\n"
    line = (b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2"
            b"d3h5ejAxMjM0\r\n")
    n = max(1, (size - len(head) - len(tail)) // len(line))
    with open(path, "wb") as f:
        f.write(head)
        chunk = line * 1000
        for _ in range(n // 1000):
            f.write(chunk)
        f.write(line * (n % 1000))
        f.write(tail)
    return os.path.getsize(path)


# ------------------------------------------------------------ the tools

class Tool:
    """prepare() writes config into a fresh work dir and returns argv;
    stored() counts what the tool kept."""
    name = ""

    def __init__(self, bench):
        self.b = bench

    def prepare(self, work, mode):
        raise NotImplementedError

    def stored(self, work, out):
        return maildir_messages(os.path.join(work, "Maildir"))

    def cleanup(self):
        """After the run, failed or not: what prepare made outside work."""

    def port(self, mode):
        return self.b.dovecot.tls_port if mode == "tls" else self.b.dovecot.port


class Popvault(Tool):
    name = "popvault"

    def binary(self):
        return self.b.args.popvault

    def init_argv(self, pv, data):
        return [pv, "init", "--data", data]

    def prepare(self, work, mode):
        pv, data = self.binary(), os.path.join(work, "data")
        run(self.init_argv(pv, data), preexec_fn=self.b.as_user)
        argv = [pv, "--data", data, "account", "add", "bench", "--host",
                "localhost", "--port", str(self.port(mode)), "--user", USER,
                "--password-file", self.b.pwfile]
        if mode == "tls":
            argv += ["--tls", "implicit", "--ca-file", self.b.dovecot.ca_file]
        else:
            argv += ["--tls", "none"]
        run(argv, preexec_fn=self.b.as_user)
        return [pv, "--data", data, "harvest", "--once", "--json"]

    def stored(self, work, out):
        try:
            j = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise BenchError("popvault printed no JSON summary: %r" % out[-300:])
        if j.get("errors"):
            raise BenchError("popvault reported errors: %s" % j["errors"][:3])
        return j.get("fetched", 0)


class Mpop(Tool):
    name = "mpop"

    def prepare(self, work, mode):
        md = os.path.join(work, "Maildir")
        empty_maildir(md)
        tls = ("tls on\ntls_starttls off\ntls_trust_file %s\n"
               % self.b.dovecot.ca_file) if mode == "tls" else "tls off\n"
        rc = os.path.join(work, "mpoprc")
        write(rc, "account bench\nhost localhost\nport %d\n%s"
              "auth user\nuser %s\npasswordeval cat %s\n"
              "delivery maildir %s\nkeep off\nonly_new off\n"
              "uidls_file %s/uidls\n"
              % (self.port(mode), tls, USER, self.b.pwfile, md, work), 0o600)
        return ["mpop", "--half-quiet", "-C", rc, "bench"]


class Fetchmail(Tool):
    name = "fetchmail"

    def prepare(self, work, mode):
        md = os.path.join(work, "Maildir")
        empty_maildir(md)
        prc = os.path.join(work, "procmailrc")
        write(prc, "DEFAULT=%s/\nLOGFILE=/dev/null\n" % md, 0o600)
        if mode == "tls":
            tls = "ssl sslcertck sslcertfile %s" % self.b.dovecot.ca_file
        else:
            tls = "sslproto ''"   # no opportunistic STLS: plain POP3
        rc = os.path.join(work, "fetchmailrc")
        write(rc, "set no syslog\n"
              "poll localhost service %d protocol pop3 auth password\n"
              "  user %s password %s is root here\n"
              "  %s\n  nokeep fetchall\n"
              "  mda \"/usr/bin/procmail -m %s\"\n"
              % (self.port(mode), USER, PASSWORD, tls, prc), 0o600)
        self.env = {"FETCHMAILHOME": work}
        return ["fetchmail", "-f", rc, "-i", os.path.join(work, "fetchids"),
                "--pidfile", os.path.join(work, "pid"), "-N", "-s"]


class Getmail(Tool):
    name = "getmail"

    def prepare(self, work, mode):
        md = os.path.join(work, "Maildir")
        empty_maildir(md)
        if mode == "tls":
            ret = ("type = SimplePOP3SSLRetriever\nca_certs = %s\n"
                   % self.b.dovecot.ca_file)
        else:
            ret = "type = SimplePOP3Retriever\n"
        # timeout: getmail's socket timeout, which is also how long it waits
        # for its delivery child; its parent/child race (getmail6 issues 52,
        # 226) loses the child now and then and would hang 180 s, not 30.
        rc = os.path.join(work, "getmailrc")
        write(rc, "[retriever]\n%sserver = localhost\nport = %d\n"
              "username = %s\npassword = %s\ntimeout = 30\n\n"
              "[destination]\ntype = Maildir\npath = %s/\n\n"
              "[options]\ndelete = true\nread_all = true\nverbose = 0\n"
              % (ret, self.port(mode), USER, PASSWORD, md), 0o600)
        return ["getmail", "--getmaildir", work, "--rcfile", rc]


class Null(Tool):
    name = "null"

    def prepare(self, work, mode):
        argv = [self.b.args.null, "localhost", str(self.port(mode)), USER,
                self.b.pwfile]
        if mode == "tls":
            argv += ["--tls", self.b.dovecot.ca_file]
        return argv

    def stored(self, work, out):
        for ln in out.splitlines():
            p = ln.split()
            if len(p) == 4 and p[0] == "messages":
                return int(p[1])
        raise BenchError("popnull printed no count: %r" % out[-300:])


class PopvaultBase(Popvault):
    """--baseline BIN: another popvault build (the one before a change),
    measured in the same rounds, so a change is judged by before/after
    ratios of one run, not by figures of runs on a busier machine."""
    name = "pv-base"

    def binary(self):
        return self.b.args.baseline


class PopvaultPg(Popvault):
    """popvault with its catalog on PostgreSQL (init --catalog): the
    bench's private PostgreSQL 15, a fresh database per run, dropped
    after it."""
    name = "popvault-pg"
    runs = 0

    def init_argv(self, pv, data):
        PopvaultPg.runs += 1
        self.db = "pv_bench_%d" % PopvaultPg.runs
        self.b.psql("CREATE DATABASE %s" % self.db)
        return [pv, "init", "--data", data, "--catalog",
                "postgresql://postgres@%s:%s/%s" % (self.b.pg["PG_HOST"],
                                                   self.b.pg["PG_PORT"], self.db)]

    def cleanup(self):
        if getattr(self, "db", None):
            self.b.psql("DROP DATABASE %s WITH (FORCE)" % self.db)
            self.db = None


TOOLS = {c.name: c for c in (Popvault, PopvaultPg, PopvaultBase, Mpop, Fetchmail, Getmail,
                             Null)}


# ------------------------------------------------------------ running

def write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def run(argv, **kw):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, **kw)
    if p.returncode != 0:
        raise BenchError("%s failed (%d): %s" % (" ".join(argv[:4]),
                                                 p.returncode, p.stderr[-500:]))
    return p.stdout


def proc_cpu_split(pid):
    """(user, sys) CPU seconds of a live process and its reaped children."""
    with open("/proc/%d/stat" % pid) as f:
        ut, st, cut, cst = (int(x) for x in f.read().rsplit(")", 1)[1].split()[11:15])
    return (ut + cut) / CLK, (st + cst) / CLK


PAGE_REPORTING = "/sys/module/page_reporting/parameters"


def page_reporting():
    """This VM's free page reporting (the guest hands free memory back to
    its host, which takes it away; the next write into such a page faults
    on the host): (order, KiB reported so far), or None without it."""
    try:
        with open(os.path.join(PAGE_REPORTING, "page_reporting_order")) as f:
            order = int(f.read())
        kib = None
        if os.path.exists(os.path.join(PAGE_REPORTING, "reported_kib")):
            with open(os.path.join(PAGE_REPORTING, "reported_kib")) as f:
                kib = int(f.read())
        return order, kib
    except (OSError, ValueError):
        return None


def page_cache_write_cost(work, mb=256):
    """Kernel ms per MB written into the page cache (no fsync), twice: into
    whatever free pages the kernel hands out now, then again at once into
    the pages the first file gave back (still the guest's: not yet
    reported to a host). A large gap is the host's fault per page."""
    path = os.path.join(work, "page-cache-probe")
    buf = os.urandom(1 << 20)
    out = []
    for _ in range(2):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        s0 = os.times().system
        for _ in range(mb):
            os.write(fd, buf)
        out.append(1000 * (os.times().system - s0) / mb)
        os.close(fd)
        os.unlink(path)
    return out


def only_child(pid):
    """The one child of pid (the client /usr/bin/time runs)."""
    with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
        kids = f.read().split()
    if len(kids) != 1:
        raise BenchError("expected one child of %d, found %s" % (pid, kids))
    return int(kids[0])


def server_cpu(pid):
    """Dovecot master's reaped-children CPU seconds (pop3, login procs)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / CLK   # cutime, cstime


def tree_cpu(pid):
    """CPU seconds of a server and all its processes: its own, what it
    has reaped (PostgreSQL's backends that ended), and each live child's
    (walwriter, checkpointer, backends still running)."""
    def fields(p):
        with open("/proc/%d/stat" % p) as f:
            v = f.read().rsplit(")", 1)[1].split()
        return sum(int(x) for x in v[11:15])
    total = fields(pid)
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            kids = [int(k) for k in f.read().split()]
    except FileNotFoundError:
        kids = []
    for k in kids:
        try:
            total += fields(k)
        except (FileNotFoundError, ProcessLookupError):
            pass   # ended between the two reads: its CPU is in the reaped part next time
    return total / CLK


def machine_busy():
    """CPU seconds all processes have used so far (every core)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal: busy = all but idle, iowait
    return (sum(v[:8]) - v[3] - v[4]) / CLK


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def measure_passes(a, template):
    """bench_passes (tests/bench/bench_passes.c) over this run's messages:
    what the passes over the bytes that the design requires cost on one
    core of this machine, now, with popvault's own functions. (figures,
    None) or (None, why not)."""
    t0 = time.monotonic()
    got, why = benchpasses.measure(
        a.passes or os.path.join(os.path.dirname(a.null), "bench_passes"), template)
    if got is None:
        return None, "the design's passes: " + why
    log("bench_passes: %.1f s" % (time.monotonic() - t0))
    return got, None


# The sums bench_passes prints, by what they hold: the passes the
# invariants require (exact bytes: content SHA-256; hash-committed: the
# v3 leaf's salted BLAKE2b of that SHA-256, 32 bytes (a v2 leaf's was
# over every byte: blake2b_bytes); encrypted: XChaCha20-Poly1305; pack integrity: the
# record's SHA-256), every block stored; then as records are sealed today,
# compressed (no invariant asks for it: base64 lines packed to their
# values, other blocks zstd-1 where that saves).
SEAL_REQUIRED = ("sha256", "blake2b", "push_plain", "record_sha256_plain")
SEAL_DESIGN = ("sha256", "blake2b", "compress", "push_sealed", "record_sha256_sealed")
CHECK_REQUIRED = ("record_sha256_plain", "pull_plain", "sha256", "blake2b")
CHECK_DESIGN = ("record_sha256_sealed", "pull_sealed", "decompress", "sha256", "blake2b")


def passes_ms_mb(p, names):
    return sum(ms_per_mb(p, n) for n in names)


def passes_lines(b):
    """The report's lines on the design's passes (bench_passes)."""
    p = b.passes
    if p is None:
        return [b.passes_note]
    mb = b.bytes / b.args.count / 1e6     # this run's mean message, MB

    def ms(name):
        return ms_per_mb(p, name) * mb
    req, des = passes_ms_mb(p, SEAL_REQUIRED) * mb, passes_ms_mb(p, SEAL_DESIGN) * mb
    creq, cdes = passes_ms_mb(p, CHECK_REQUIRED), passes_ms_mb(p, CHECK_DESIGN)
    chk = ms_per_mb(p, "check")
    return [
        "The design's passes over this run's messages, one core, measured now (bench_passes: "
        "%d of the %d messages, %.1f MB; thread CPU, best of %d;" % (
            p["messages"], p["files"], p["bytes"] / 1e6, p["reps"]),
        "popvault's own functions; ms per message at this run's mean message of %.0f KB):"
        % (mb * 1000),
        "  seal (the harvest): content SHA-256 %.3f (exact bytes) + the leaf's salted BLAKE2b "
        "of it %.3f (hash-committed; over the bytes, as v2 leaves, %.3f) + XChaCha20-Poly1305 "
        "%.3f (encrypted)" % (
            ms("sha256"), ms("blake2b"), ms("blake2b_bytes"), ms("push_plain")),
        "    + the record's SHA-256 %.3f (pack integrity) = %.3f ms required; compression "
        "(no invariant's) %.3f, after which encryption %.3f and" % (
            ms("record_sha256_plain"), req, ms("compress"), ms("push_sealed")),
        "    the record's SHA-256 %.3f: %.3f ms as records are sealed today; popvault's "
        "sealing code (ingest_hash_*, record_*) measured %.3f ms" % (
            ms("record_sha256_sealed"), des, ms("seal")),
        "  check (verify --full), per MB: the record's SHA-256 %.2f + XChaCha20-Poly1305 "
        "%.2f + SHA-256 %.2f + its commitment %.2f = %.2f ms required (%.0f MB/s" % (
            ms_per_mb(p, "record_sha256_plain"), ms_per_mb(p, "pull_plain"),
            ms_per_mb(p, "sha256"), ms_per_mb(p, "blake2b"), creq, 1000 / creq),
        "    a core); as stored today, with decompression %.2f: %.2f ms (%.0f MB/s); "
        "record_open and the two hashes measured %.2f ms (%.0f MB/s)" % (
            ms_per_mb(p, "decompress"), cdes, 1000 / cdes, chk, 1000 / chk),
        "  for scale: one memcpy of the bytes %.3f ms per message; writing the sealed "
        "records into the page cache %.3f ms" % (ms("memcpy"), ms("write")),
    ]


def passes_bounds(b, s, m, cpu_short, share_short, mpop_short=False):
    """The bound: lines the passes give a SHORT harvest target of mode m:
    the CPU per message (cpu_short), the null client's share
    (share_short), the ratio to mpop (mpop_short)."""
    p = b.passes
    pv, nl, mp = (s.get((t, m)) for t in ("popvault", "null", "mpop"))
    if p is None or pv is None:
        return []
    n = b.args.count
    mb = b.bytes / n / 1e6

    def ms(name):
        return ms_per_mb(p, name) * mb
    req = passes_ms_mb(p, SEAL_REQUIRED) * mb
    des = passes_ms_mb(p, SEAL_DESIGN) * mb
    cpu = 1000 * pv["cpu"] / n
    out = []
    if cpu_short:
        out.append("       bound: the passes the invariants require (content SHA-256 %.3f, "
                   "the leaf's salted BLAKE2b of it %.3f, XChaCha20-Poly1305 %.3f, the record's SHA-256 %.3f) "
                   "cost %.3f ms per message on this CPU, measured now (bench_passes, one "
                   "core, this run's messages)" % (
                       ms("sha256"), ms("blake2b"), ms("push_plain"),
                       ms("record_sha256_plain"), req))
        left = TARGET_CPU_MS - des
        out.append("       bound: compressed as records are sealed today (%.3f ms, and less "
                   "left to encrypt and hash) %.3f ms: %s for receiving, the catalog, packs "
                   "and fsyncs (%.3f ms left uncompressed); popvault spends %.3f ms beyond the "
                   "passes (%.3f - %.3f)" % (
                       ms("compress"), des, "the target leaves %.3f ms" % left if left >= 0
                       else "the passes alone exceed the target by %.3f ms, nothing left"
                       % -left, TARGET_CPU_MS - req, cpu - des, cpu, des))
    # What the cores allow when popvault and Dovecot use pv_ms and srv ms
    # of CPU per message (and the indexer idx more beside the harvest).
    cores = os.cpu_count() or 1
    srv = 1000 * pv["server_cpu"] / n
    idx = 1000 * (pv.get("cpu_all", pv["cpu"]) - pv["cpu"]) / n

    def rate(pv_ms):
        return cores * 1000 / (pv_ms + srv)
    if share_short and nl:
        def share(pv_ms):
            return rate(pv_ms), 100 * rate(pv_ms) / nl["msgs_s"]
        out.append("       bound: popvault %.3f ms + Dovecot %.3f ms CPU per message (this "
                   "run) on %d cores allow at most %.0f msgs/s, %.0f%% of the null client's "
                   "%.0f (Dovecot's CPU serves the null client too); with the indexer's %.3f "
                   "ms, %.0f msgs/s (%.0f%%)" % ((cpu, srv, cores) + share(cpu)
                                                 + (nl["msgs_s"], idx) + share(cpu + idx)))
        out.append("       bound: were popvault's CPU the passes alone (%.3f ms compressed, "
                   "%.3f not), the CPUs would allow %.0f msgs/s (%.0f%%), %.0f "
                   "(%.0f%%) uncompressed" % ((des, req) + share(des) + share(req)))
    if mpop_short and mp:
        def ratio(pv_ms):
            return rate(pv_ms), rate(pv_ms) / mp["msgs_s"]
        out.append("       bound: popvault %.3f ms + Dovecot %.3f ms CPU per message (this "
                   "run) on %d cores allow at most %.0f msgs/s, %.2fx mpop's %.0f; with the "
                   "indexer's %.3f ms beside the harvest (it takes what the harvest leaves "
                   "of the cores, at nice 15), %.0f msgs/s (%.2fx)"
                   % ((cpu, srv, cores) + ratio(cpu) + (mp["msgs_s"], idx) + ratio(cpu + idx)))
    return out


class Bench:
    def __init__(self, args, run_):
        self.args = args
        self.run = run_
        self.results = []   # dicts: tool mode round msgs bytes wall cpu rss srv
        self.failures = []

    def setup(self):
        a = self.args
        uid, gid, _, _ = pvharness.service_ids()
        self.uid, self.gid = uid, gid
        mail = os.path.join(self.run.dir, "genmail")
        t0 = time.monotonic()
        subprocess.run([sys.executable, os.path.join(HERE, "..", "e2e", "lib",
                                                     "genmail.py"),
                        "--count", str(a.count), "--seed", "2026", "--out",
                        mail], check=True, stdout=subprocess.DEVNULL)
        files = pvharness.seed_files([mail])
        self.template = os.path.join(self.run.dir, "template")
        self.bytes = make_template(files, self.template, uid, gid, a.names)
        shutil.rmtree(mail)
        log("generated %d messages, %.1f MB, in %.1f s"
            % (len(files), self.bytes / 1e6, time.monotonic() - t0))
        self.passes, self.passes_note = measure_passes(a, self.template)
        self.parse, self.parse_note = benchpasses.measure_parse(
            os.path.join(os.path.dirname(a.null), "bench_facts"), self.template)
        self.dovecot = self.run.dovecot(users=["%s:%s" % (USER, PASSWORD)])
        self.dovecot.ca_file = self.run.ca()["ca"]
        self.maildir = self.dovecot.maildir(USER)
        self.pwfile = os.path.join(self.run.dir, "password")
        write(self.pwfile, PASSWORD + "\n", 0o600)
        os.chown(self.pwfile, self.uid, self.gid)
        self.pg = None
        if "popvault-pg" in a.tools:
            self.start_pg()

    def start_pg(self):
        """The private PostgreSQL 15 of popvault-pg (tests/e2e/lib/pg.sh,
        fsync on: popvault on SQLite syncs its catalog too), stopped with
        the run by its PID."""
        p = subprocess.run(["bash", os.path.join(HERE, "..", "e2e", "lib", "pg.sh"),
                            "start", os.path.join(self.run.dir, "pg"), "--fsync"],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if p.returncode != 0:
            raise BenchError("postgresql did not start: " + p.stderr[-2000:])
        self.pg = dict(kv.split("=", 1) for ln in p.stdout.splitlines()
                       for kv in shlex.split(ln))
        self.run.register("postgres", int(self.pg["PG_PID"]))
        log("postgresql 15 on %s:%s (fsync on) for popvault-pg"
            % (self.pg["PG_HOST"], self.pg["PG_PORT"]))

    def psql(self, sql):
        run([os.path.join(PG_BINDIR, "psql"), self.pg["PG_URL"], "-qAt",
             "-v", "ON_ERROR_STOP=1", "-c", sql])

    def as_user(self):
        """Clients run unprivileged, as people run them (getmail refuses
        to deliver as root; fetchmail warns)."""
        if os.geteuid() == 0:
            os.setgroups([])
            os.setgid(self.gid)
            os.setuid(self.uid)

    def client(self, argv, work, env, summary=False):
        """Runs one client as the unprivileged user under /usr/bin/time:
        wall, CPU (user+sys, children included) and peak RSS of its largest
        process (measured from a small process's fork, not Python's).
        summary: popvault harvest --once --json, which prints its JSON
        summary when the harvests end and exits when the indexer has caught
        up; then also the time and the CPU (the harvest processes, reaped
        by then; the indexer still runs) at that line."""
        tfile = os.path.join(work, "time.out")
        errf = open(os.path.join(work, "client.stderr"), "w+")
        t0 = time.perf_counter()
        p = subprocess.Popen(["/usr/bin/time", "-f", "%U %S %M", "-o", tfile] + argv,
                             stdout=subprocess.PIPE, stderr=errf, text=True,
                             env=env, cwd=work, preexec_fn=self.as_user)
        out, t_sum, cpu_sum, cpu_split = [], None, None, None
        for line in p.stdout:
            out.append(line)
            if summary and t_sum is None and line.startswith("{"):
                t_sum = time.perf_counter()
                cpu_split = proc_cpu_split(only_child(p.pid))
                cpu_sum = sum(cpu_split)
        p.wait()
        wall = time.perf_counter() - t0
        p.stdout.close()
        errf.seek(0)
        err = errf.read()
        errf.close()
        u, s, m = 0, 0, 0
        if os.path.exists(tfile):
            with open(tfile) as f:
                u, s, m = f.read().split()[-3:]
        r = dict(wall=wall, cpu=float(u) + float(s), rss_mb=int(m) / 1024.0,
                 rc=p.returncode, out="".join(out), err=err)
        if summary and t_sum is not None:
            # wall: until the harvest ended (the rate); the rest is the
            # index catching up (the lag until everything is searchable)
            r.update(wall_all=wall, wall=t_sum - t0, lag=wall - (t_sum - t0),
                     cpu_all=r["cpu"], cpu=cpu_sum, cpu_user=cpu_split[0],
                     cpu_sys=cpu_split[1])
        return r

    def check_indexed(self, data):
        """Everything archived is searchable: stats says nothing waits."""
        p = subprocess.run([self.args.popvault, "--data", data, "stats",
                            "--json"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True,
                           preexec_fn=self.as_user)
        if p.returncode != 0:
            raise BenchError("stats failed: %s" % p.stderr[-300:])
        j = json.loads(p.stdout)
        if j.get("index_pending", 0) != 0:
            raise BenchError("harvest returned with %d messages not yet "
                             "searchable" % j["index_pending"])
        return j

    def measure(self, tool, mode, template, expect, rnd, keep_work=False):
        try:
            return self.measure_one(tool, mode, template, expect, rnd, keep_work)
        finally:
            tool.cleanup()

    def measure_one(self, tool, mode, template, expect, rnd, keep_work):
        work = os.path.join(self.run.dir, "work-%s-%s-%d" % (tool.name, mode, rnd))
        os.makedirs(work)
        os.chown(work, self.uid, self.gid)
        reseed(self.maildir, template, self.uid, self.gid)
        tool.env = None
        argv = tool.prepare(work, mode)
        pvharness._chown_tree(work)
        env = dict(os.environ, HOME=work, **(tool.env or {}))
        ts = time.perf_counter()
        subprocess.run(["sync"])     # no writeback of earlier runs in this one
        self.sync_s = time.perf_counter() - ts
        srv0 = server_cpu(self.dovecot.pid)
        pg_pid = int(self.pg["PG_PID"]) if isinstance(tool, PopvaultPg) else None
        db0 = tree_cpu(pg_pid) if pg_pid else 0.0
        busy0 = machine_busy()
        c = self.client(argv, work, env, summary=isinstance(tool, Popvault))
        busy = machine_busy() - busy0
        time.sleep(0.3)    # let Dovecot's (and PostgreSQL's) master reap the session's processes
        srv = server_cpu(self.dovecot.pid) - srv0
        db = tree_cpu(pg_pid) - db0 if pg_pid else None
        if c["rc"] != 0:
            raise BenchError("%s %s exited %d: %s %s" % (
                tool.name, mode, c["rc"], c["out"][-400:], c["err"][-800:]))
        stored = tool.stored(work, c["out"])
        left = pvharness.maildir_count(self.maildir)
        if stored != expect or left != 0:
            raise BenchError("%s %s: stored %d of %d, %d left upstream\n%s\n%s"
                             % (tool.name, mode, stored, expect, left,
                                c["out"][-400:], c["err"][-800:]))
        if isinstance(tool, Popvault):
            if "lag" not in c:
                raise BenchError("popvault printed no summary line")
            self.check_indexed(os.path.join(work, "data"))
        wall_all = c.get("wall_all", c["wall"])
        r = dict(tool=tool.name, mode=mode, round=rnd, msgs=expect,
                 wall=c["wall"], cpu=c["cpu"], rss_mb=c["rss_mb"],
                 server_cpu=srv, work=work,
                 # other processes on the machine during the run, in cores
                 others=max(0.0, busy - c.get("cpu_all", c["cpu"]) - srv - (db or 0))
                 / wall_all,
                 sync_s=self.sync_s)
        if db is not None:
            r["db_cpu"] = round(db, 3)
        for k in ("lag", "wall_all", "cpu_all"):
            if k in c:
                r[k] = c[k]
        if not keep_work:
            shutil.rmtree(work)
        return r

    def main_runs(self):
        a = self.args
        names = a.tools
        for rnd in range(1, a.runs + 1):
            order = names[rnd - 1:] + names[:rnd - 1]   # rotate the order
            for mode in a.modes:
                for name in order:
                    if rnd > a.tool_runs.get(name, a.runs):
                        continue
                    try:
                        r = self.measure(TOOLS[name](self), mode, self.template,
                                         a.count, rnd)
                    except BenchError as e:
                        log("round %d %-5s %-9s FAILED: %s" % (rnd, mode, name, e))
                        self.failures.append(dict(tool=name, mode=mode, round=rnd,
                                                  error=str(e)[:300]))
                        continue
                    r["bytes"] = self.bytes
                    self.results.append(r)
                    log("%s round %d %-5s %-11s %6.2f s  %6.0f msg/s  cpu %5.2f s"
                        "  rss %5.1f MB  dovecot cpu %5.2f s%s  others %.2f cores"
                        "  (sync before: %.1f s)"
                        % (time.strftime("%H:%M:%S"), rnd, mode, name, r["wall"],
                           a.count / r["wall"], r["cpu"], r["rss_mb"], r["server_cpu"],
                           "  postgresql cpu %5.2f s" % r["db_cpu"] if "db_cpu" in r else "",
                           r["others"], r["sync_s"]))

    def big(self):
        a = self.args
        d = os.path.join(self.run.dir, "big")
        tmpl = os.path.join(d, "template")
        os.makedirs(tmpl)
        tmp = os.path.join(d, "msg")
        size = big_message(tmp, a.big_mb * 1024 * 1024)
        with open(tmp, "rb") as f:
            w = virtual_size(f.read())
        dst = os.path.join(tmpl, "1600000000.M1P1.big,S=%d,W=%d" % (size, w))
        os.rename(tmp, dst)
        os.chown(dst, self.uid, self.gid)
        self.big_size = size
        out = []
        for name in a.tools:
            for mode in a.modes:
                try:
                    r = self.measure(TOOLS[name](self), mode, tmpl, 1, 0)
                except BenchError as e:
                    log("big %-5s %-9s FAILED: %s" % (mode, name, e))
                    self.failures.append(dict(tool=name, mode=mode, round="big",
                                              error=str(e)[:300]))
                    continue
                r["bytes"] = size
                out.append(r)
                log("big %-5s %-9s %6.2f s  cpu %5.2f s  rss %6.1f MB"
                    % (mode, name, r["wall"], r["cpu"], r["rss_mb"]))
        self.big_results = out

    def verify(self, data, nbytes, msgs):
        """popvault verify --full: wall, CPU, cores used, peak RSS."""
        subprocess.run(["sync"])
        busy0 = machine_busy()
        c = self.client([self.args.popvault, "--data", data, "verify", "--full"],
                        os.path.dirname(data), dict(os.environ))
        busy = machine_busy() - busy0
        if c["rc"] != 0:
            raise BenchError("verify --full failed: %s %s"
                             % (c["out"][-500:], c["err"][-500:]))
        return dict(wall=c["wall"], cpu=c["cpu"], rss_mb=c["rss_mb"],
                    bytes=nbytes, msgs=msgs, mb_s=nbytes / 1e6 / c["wall"],
                    cores=c["cpu"] / c["wall"],
                    others=max(0.0, busy - c["cpu"]) / c["wall"])

    def prefix_template(self, k):
        """A template of the first k messages (hard links), and its bytes."""
        names = sorted(os.listdir(self.template))[:k]
        d = os.path.join(self.run.dir, "template-%d" % k)
        if not os.path.isdir(d):
            os.makedirs(d)
            for n in names:
                os.link(os.path.join(self.template, n), os.path.join(d, n))
        return d, sum(os.path.getsize(os.path.join(d, n)) for n in names)

    def scaling(self):
        """Harvest msg/s and verify --full MB/s as the archive grows: at
        each level L, the archive is filled (unmeasured) to L - probe
        messages, then a harvest of `probe` messages is measured and
        verify --full runs over all L.  One archive throughout; each
        harvest has an account of its own (its own ledger), all on the
        one Dovecot mailbox."""
        a = self.args
        levels = sorted(a.scale)
        probe = min([a.scale_probe, a.count] + levels)
        work = os.path.join(self.run.dir, "scale")
        os.makedirs(work)
        os.chown(work, self.uid, self.gid)
        pv, data = a.popvault, os.path.join(work, "data")
        run([pv, "init", "--data", data], preexec_fn=self.as_user)
        env = dict(os.environ, HOME=work)
        held = {"msgs": 0, "bytes": 0, "accounts": 0}
        out = []

        def harvest(k):
            tmpl, nbytes = (self.template, self.bytes) if k == a.count \
                else self.prefix_template(k)
            held["accounts"] += 1
            name = "scale%d" % held["accounts"]
            run([pv, "--data", data, "account", "add", name, "--host", "localhost",
                 "--port", str(self.dovecot.port), "--user", USER,
                 "--password-file", self.pwfile, "--tls", "none"],
                preexec_fn=self.as_user)
            reseed(self.maildir, tmpl, self.uid, self.gid)
            subprocess.run(["sync"])
            busy0 = machine_busy()
            c = self.client([pv, "--data", data, "harvest", "--once", "--json",
                             "--account", name], work, env, summary=True)
            busy = machine_busy() - busy0
            if c["rc"] != 0 or "lag" not in c:
                raise BenchError("scaling harvest failed: %s %s"
                                 % (c["out"][-300:], c["err"][-500:]))
            got = Popvault.stored(None, work, c["out"])
            if got != k:
                raise BenchError("scaling harvest stored %d of %d" % (got, k))
            held["msgs"] += k
            held["bytes"] += nbytes
            c["others"] = max(0.0, busy - c["cpu_all"]) / c["wall_all"]
            return c

        rep_start = page_reporting()
        for level in levels:
            t0 = time.monotonic()
            while held["msgs"] < level - probe:
                harvest(min(a.count, level - probe - held["msgs"]))
            if held["msgs"] > level - probe:
                log("scaling: the archive already holds %d messages; level %d skipped"
                    % (held["msgs"], level))
                continue
            fill_s = time.monotonic() - t0
            c = harvest(probe)
            self.check_indexed(data)
            v = self.verify(data, held["bytes"], held["msgs"])
            row = dict(level=held["msgs"], probe=probe, msgs_s=probe / c["wall"],
                       cpu_ms=1000 * c["cpu"] / probe, lag=c["lag"],
                       user_ms=1000 * c["cpu_user"] / probe,
                       sys_ms=1000 * c["cpu_sys"] / probe,
                       index_ms=1000 * max(0.0, c["cpu_all"] - c["cpu"]) / probe,
                       others=c["others"], verify=v, fill_s=fill_s)
            out.append(row)
            log("scaling: %d in the archive (fill %.0f s): harvest of %d %.0f msg/s, "
                "verify --full %.0f MB/s on %.2f cores" % (
                    row["level"], fill_s, probe, row["msgs_s"], v["mb_s"], v["cores"]))
        self.scale_results = out
        rep = page_reporting()
        if rep is not None and rep_start is not None and rep[1] is not None:
            self.page_reported_mb = (rep[1] - rep_start[1]) / 1024.0
        if rep is not None:
            self.page_cache_cost = page_cache_write_cost(work)
        shutil.rmtree(work, ignore_errors=True)


# ------------------------------------------------------------ report

def median_of(rows, key):
    return statistics.median(r[key] for r in rows)


def summarize(results, tools, modes):
    """{(tool, mode): medians over the runs (RSS: the largest)}"""
    out = {}
    for t in tools:
        for m in modes:
            rows = [r for r in results if r["tool"] == t and r["mode"] == m]
            if not rows:
                continue
            out[(t, m)] = dict(
                n=len(rows), wall=median_of(rows, "wall"),
                msgs_s=statistics.median(r["msgs"] / r["wall"] for r in rows),
                mb_s=statistics.median(r["bytes"] / 1e6 / r["wall"] for r in rows),
                cpu=median_of(rows, "cpu"), rss_mb=max(r["rss_mb"] for r in rows),
                server_cpu=median_of(rows, "server_cpu"),
                others=median_of(rows, "others"),
                walls=[r["wall"] for r in rows])
            if all("lag" in r for r in rows):
                out[(t, m)].update(lag=median_of(rows, "lag"),
                                   lag_max=max(r["lag"] for r in rows),
                                   cpu_all=median_of(rows, "cpu_all"))
            if all("db_cpu" in r for r in rows):
                out[(t, m)]["db_cpu"] = median_of(rows, "db_cpu")
    return out


def target_line(what, figure, goal, ok):
    """One target, as every part of `make bench` prints it (run.sh
    collects these lines into the summary at the end)."""
    return "target %-50s %18s  (target %s)  %s" % (
        what + ":", figure, goal, "MET" if ok else "SHORT")


def table(b, s):
    a = b.args
    lines = []
    lines.append("Harvest: %d messages, %.1f MB (genmail.py size mix), one local "
                 "Dovecot 2.3 (mail_fsync=always, maildir names %s), medians"
                 % (a.count, b.bytes / 1e6,
                    "with S=,W= sizes" if a.names == "dovecot" else "without sizes"))
    lines.append("ratio = popvault msgs/s / tool msgs/s; every run checked: "
                 "all %d stored (null: retrieved), mailbox empty after" % a.count)
    hdr = "%-11s %-5s %8s %7s %7s %7s %7s %7s %8s %5s %7s %6s  %s" % (
        "tool", "mode", "msgs/s", "MB/s", "CPU s", "+index", "DB CPU", "RSS MB", "ratio",
        "runs", "srv CPU", "others", "wall s of each run")
    lines.append(hdr)
    lines.append("-" * len(hdr))
    for m in a.modes:
        pv = s.get(("popvault", m))
        for t in a.tools:
            x = s.get((t, m))
            fails = [f for f in b.failures if f["tool"] == t and f["mode"] == m
                     and f["round"] != "big"]
            if x is None:
                lines.append("%-11s %-5s   FAILED: %s" % (
                    t, "TLS" if m == "tls" else m,
                    fails[0]["error"][:100] if fails else "not run"))
                continue
            if t == "popvault":
                ratio = "-"
            elif pv:
                ratio = "%.2fx" % (pv["msgs_s"] / x["msgs_s"])
            else:
                ratio = "n/a"
            idx = "%.2f" % (x["cpu_all"] - x["cpu"]) if "cpu_all" in x else "-"
            dbc = "%.2f" % x["db_cpu"] if "db_cpu" in x else "-"
            lines.append("%-11s %-5s %8.0f %7.1f %7.2f %7s %7s %7.1f %8s %5s %7.2f %6.2f  %s%s" % (
                t, "TLS" if m == "tls" else m, x["msgs_s"], x["mb_s"], x["cpu"], idx, dbc,
                x["rss_mb"], ratio, x["n"], x["server_cpu"], x["others"],
                " ".join("%.2f" % w for w in x["walls"]),
                "  (+%d failed)" % len(fails) if fails else ""))
        lines.append("")
    lines.append("popvault's wall and rate end with its harvests (the --json summary "
                 "line: every message committed, DELE'd, QUIT, checked gone);")
    lines.append("then the indexer catches up (index lag below). CPU s: the client's "
                 "user+sys, children included (procmail for fetchmail, getmail's")
    lines.append("delivery forks; popvault's harvest processes); +index: the CPU s of "
                 "popvault's indexer process besides; RSS: peak of the largest")
    lines.append("process in any run; DB CPU: popvault-pg's PostgreSQL server, all its "
                 "processes (not in CPU s; on SQLite the database work is")
    lines.append("in popvault's own CPU s); srv CPU: Dovecot's CPU s in the session; "
                 "others: cores busy with other processes on the machine")
    lines.append("during the run (0 = quiet machine; high values depress every "
                 "figure of that run).")
    for m in a.modes:
        x = s.get(("popvault", m))
        if x and "lag" in x:
            lines.append("index lag %-5s: %.2f s median, %.2f s max from the harvest's "
                         "end until all %d messages are searchable (stats: nothing "
                         "pending)" % (m, x["lag"], x["lag_max"], a.count))
    lines += pg_beside_sqlite(s, a.modes, a.count)
    for f in b.failures:
        lines.append("failed: %s %s round %s: %s" % (f["tool"], f["mode"], f["round"],
                                                    f["error"][:240].replace("\n", " ")))
    return lines


def pg_beside_sqlite(s, modes, count):
    """popvault-pg / popvault, medians of the same interleaved rounds."""
    lines = []
    for m in modes:
        sq, pg = s.get(("popvault", m)), s.get(("popvault-pg", m))
        if not (sq and pg):
            continue
        if not lines:
            lines += ["", "The catalog on PostgreSQL beside SQLite (popvault-pg / popvault, "
                      "medians of the same rounds; CPU with the indexer, and on",
                      "PostgreSQL with its server's CPU, is all the CPU the archive "
                      "used for the harvest):"]
        sq_all = sq.get("cpu_all", sq["cpu"])
        pg_all = pg.get("cpu_all", pg["cpu"]) + pg.get("db_cpu", 0.0)
        lines.append("  %-5s msgs/s %.2fx (%.0f / %.0f); harvest CPU %.2fx (%.2f / %.2f s); "
                     "with the indexer and the server %.2fx (%.2f / %.2f s: %.2f / %.2f ms a "
                     "message)" % (
                         "TLS" if m == "tls" else m, pg["msgs_s"] / sq["msgs_s"], pg["msgs_s"],
                         sq["msgs_s"], pg["cpu"] / sq["cpu"], pg["cpu"], sq["cpu"],
                         pg_all / sq_all, pg_all, sq_all, 1000 * pg_all / count,
                         1000 * sq_all / count))
        if "lag" in sq and "lag" in pg:
            lines.append("        index lag %.2f s against %.2f s (median; max %.2f against "
                         "%.2f)" % (pg["lag"], sq["lag"], pg["lag_max"], sq["lag_max"]))
    return lines


def scale_table(b):
    rows = getattr(b, "scale_results", [])
    if not rows:
        return []
    lines = ["Scaling: one archive grown by harvests (plain POP3); at each size a "
             "harvest of %d messages is measured," % rows[0]["probe"],
             "then verify --full over the whole archive (MB/s of plaintext; cores = "
             "its CPU s / wall s)"]
    hdr = "%10s %9s %9s %7s %7s %8s %8s %8s | %9s %8s %8s %6s %7s %7s" % (
        "archive", "harvest", "CPU ms", "user", "sys", "index ms", "lag s", "others",
        "verify s", "MB/s", "msgs/s", "cores", "RSS MB", "others")
    lines += [hdr, "-" * len(hdr)]
    for r in rows:
        v = r["verify"]
        lines.append("%10d %7.0f/s %9.2f %7.2f %7.2f %8.2f %8.2f %8.2f | %9.2f %8.0f %8.0f %6.2f "
                     "%7.1f %7.2f" % (
                         r["level"], r["msgs_s"], r["cpu_ms"], r["user_ms"], r["sys_ms"],
                         r["index_ms"], r["lag"], r["others"], v["wall"], v["mb_s"],
                         v["msgs"] / v["wall"], v["cores"], v["rss_mb"], v["others"]))
    lines.append("(CPU ms: the harvest's processes a message, user + kernel; index ms: the "
                 "indexer process's, which shares the two cores with the harvest)")
    rep = page_reporting()
    cost = getattr(b, "page_cache_cost", None)
    if rep is not None:
        moved = getattr(b, "page_reported_mb", None)
        lines.append("This VM hands free memory back to its host (free page reporting, "
                     "blocks of order %d%s): a write into such a page faults on the host."
                     % (rep[0], "" if moved is None else
                        "; %.0f MB handed back during these steps" % moved))
        if cost:
            lines.append("Writing into the page cache, measured after the last step: %.2f ms "
                         "of kernel CPU per MB into the free pages handed out, %.2f ms per MB "
                         "into pages just freed" % (cost[0], cost[1]))
    if 100000 not in [r["level"] for r in rows]:
        lines.append("(not measured at 100,000 messages: BENCH_SCALE=1000,10000,100000 "
                     "adds that step, about 8 GB of mail and several minutes)")
    return lines


def targets(b, s):
    """The issue's targets (issue 12), checked against this run's figures:
    (lines, what is short)."""
    a = b.args
    out, short = [], []
    for m in a.modes:
        pv, mp, nl = (s.get((t, m)) for t in ("popvault", "mpop", "null"))
        if pv and nl:
            share = pv["msgs_s"] / nl["msgs_s"]
            ok = share >= TARGET_NULL[m]
            out.append(target_line(
                "harvest %s: share of the null client's msgs/s" % m,
                "%.0f%% (%.0f/%.0f)" % (100 * share, pv["msgs_s"], nl["msgs_s"]),
                ">= %.0f%%" % (100 * TARGET_NULL[m]), ok))
            if not ok:
                short.append(m)
        if pv and mp:
            ratio = pv["msgs_s"] / mp["msgs_s"]
            ok = ratio >= TARGET_MPOP
            out.append(target_line("harvest %s: popvault/mpop msgs/s" % m,
                                   "%.2fx" % ratio, ">= %.1fx" % TARGET_MPOP, ok))
            if not ok and m not in short:
                short.append(m)
        if pv:
            ms = 1000 * pv["cpu"] / a.count
            ok = ms < TARGET_CPU_MS
            out.append(target_line(
                "harvest %s: client CPU per message" % m,
                "%.2f ms" % ms, "< %.1f ms" % TARGET_CPU_MS, ok))
            out.append("       (the harvest processes; with the indexer process "
                       "%.2f ms)" % (1000 * pv["cpu_all"] / a.count))
            if not ok and m not in short:
                short.append(m)
        if pv and m in short:
            out.append("       bound: popvault %.2f ms CPU per message (at most %.0f msgs/s "
                       "on one core), busy %.0f%% of one core; see 'what bounds popvault' "
                       "below" % (1000 * pv["cpu"] / a.count, a.count / pv["cpu"],
                                  100 * pv["cpu"] / pv["wall"]))
            out += passes_bounds(b, s, m, 1000 * pv["cpu"] / a.count >= TARGET_CPU_MS,
                                 bool(nl) and pv["msgs_s"] / nl["msgs_s"] < TARGET_NULL[m],
                                 bool(mp) and pv["msgs_s"] / mp["msgs_s"] < TARGET_MPOP)
        if pv and "lag" in pv and m == "plain":
            ok = pv["lag_max"] <= TARGET_LAG_S
            out.append(target_line(
                "index lag after a harvest of %d messages" % a.count,
                "%.2f s" % pv["lag_max"], "<= %.0f s at 10,000" % TARGET_LAG_S, ok))
            if a.count != 10000:
                out.append("       (the target is stated at 10,000 messages; this run "
                           "harvested %d)" % a.count)
            if not ok:
                short.append("lag")
                out.append("       bound: the indexer's CPU %.2f s for %d messages "
                           "(%.0f msgs/s on one core, at nice 15)"
                           % (pv["cpu_all"] - pv["cpu"], a.count,
                              a.count / max(1e-9, pv["cpu_all"] - pv["cpu"])))
                # Everything the run computed had only these cores: the
                # index cannot be complete before all of it was done.
                work = pv["cpu_all"] + pv["server_cpu"]
                cores = os.cpu_count() or 1
                out.append("       bound: harvest, indexer and Dovecot used %.2f CPU s; on "
                           "%d cores that is at least %.2f s of wall, so the lag cannot be "
                           "below %.2f s at this CPU per message (the indexer's "
                           "extraction already runs in %d sandboxes beside its reader and "
                           "its writer thread)"
                           % (work, cores, work / cores,
                              max(0.0, work / cores - pv["wall"]), 4 if cores > 1 else 1))
                if b.parse is not None:
                    out.append(benchpasses.sandbox_line(b.parse, "a message",
                                                        pv["cpu_all"] - pv["cpu"], a.count))
                else:
                    out.append("       (the parser sandbox: %s)" % b.parse_note)
    rss = [r["rss_mb"] for r in b.results if r["tool"] == "popvault"]
    rss += [r["rss_mb"] for r in getattr(b, "big_results", [])
            if r["tool"] == "popvault"]
    if rss:
        ok = max(rss) < RSS_LIMIT_MB
        out.append(target_line("harvest peak RSS, incl. one %d MB message" % a.big_mb,
                               "%.1f MB" % max(rss), "< %.0f MB" % RSS_LIMIT_MB, ok))
        if not ok:
            short.append("rss")
    rows = getattr(b, "scale_results", [])
    if rows:
        top = rows[-1]
        v = top["verify"]
        ok = v["mb_s"] >= TARGET_VERIFY_MB_S
        out.append(target_line("verify --full at %d messages" % top["level"],
                               "%.0f MB/s" % v["mb_s"],
                               ">= %.0f MB/s" % TARGET_VERIFY_MB_S, ok))
        if not ok:
            short.append("verify")
            out.append("       bound: %.2f CPU s in %.2f s wall = %.2f cores busy (of %d); "
                       "others %.2f cores; the CPU alone allows %.0f MB/s per core"
                       % (v["cpu"], v["wall"], v["cores"], os.cpu_count(), v["others"],
                          v["bytes"] / 1e6 / v["cpu"]))
            p = b.passes
            if p is not None:
                cores = os.cpu_count() or 1
                creq = passes_ms_mb(p, CHECK_REQUIRED)
                cdes = passes_ms_mb(p, CHECK_DESIGN)
                chk = ms_per_mb(p, "check")
                out.append("       bound: the checks the invariants require (the record's "
                           "SHA-256 %.2f, XChaCha20-Poly1305 %.2f, SHA-256 %.2f, its commitment %.2f "
                           "ms per MB) cost %.2f ms per MB on one core, measured now "
                           "(bench_passes): %d cores reach at most %.0f MB/s" % (
                               ms_per_mb(p, "record_sha256_plain"), ms_per_mb(p, "pull_plain"),
                               ms_per_mb(p, "sha256"), ms_per_mb(p, "blake2b"), creq, cores,
                               cores * 1000 / creq))
                out.append("       bound: as records are stored today, with "
                           "decompression (%.2f ms per MB), %.2f ms per MB: at most %.0f MB/s "
                           "on %d cores; popvault's record_open with the two hashes measured "
                           "%.2f ms per MB (%.0f MB/s); verify --full used %.2f ms CPU per MB "
                           "in this run" % (
                               ms_per_mb(p, "decompress"), cdes, cores * 1000 / cdes, cores, chk,
                               cores * 1000 / chk, 1000 * v["cpu"] / (v["bytes"] / 1e6)))
        if len(rows) > 1:
            first = rows[0]
            h = top["msgs_s"] / first["msgs_s"]
            vv = v["mb_s"] / first["verify"]["mb_s"]
            ok = h >= SCALE_KEEP and vv >= SCALE_KEEP
            out.append(target_line(
                "no slowdown from %d to %d messages archived" % (first["level"], top["level"]),
                "harvest %.2fx, verify %.2fx" % (h, vv),
                ">= %.1fx" % SCALE_KEEP, ok))
            if not ok:
                short.append("scale")
                out.append("       bound: one harvest of %d messages per size (noisy on "
                           "a shared machine); CPU per message %.2f ms at %d, %.2f ms at %d: "
                           "user %.2f -> %.2f, kernel %.2f -> %.2f; the indexer's %.2f -> %.2f"
                           % (top["probe"], first["cpu_ms"], first["level"],
                              top["cpu_ms"], top["level"], first["user_ms"], top["user_ms"],
                              first["sys_ms"], top["sys_ms"], first["index_ms"],
                              top["index_ms"]))
                cost = getattr(b, "page_cache_cost", None)
                if cost and top["sys_ms"] > first["sys_ms"]:
                    mb = b.bytes / 1e6 / max(1, a.count)
                    out.append("       bound: the kernel's growth is %.2f ms per MB of mail "
                               "written; this VM's host charged %.2f ms per MB more for a "
                               "page it had taken back than for one just freed (measured now), "
                               "so pages returned to the host account for up to %.0f%% of it "
                               "(page cache grows with the archive; popvault's user CPU "
                               "shows what its own code does per message)" % (
                                   (top["sys_ms"] - first["sys_ms"]) / mb, cost[0] - cost[1],
                                   min(100.0, 100 * (cost[0] - cost[1]) * mb /
                                       (top["sys_ms"] - first["sys_ms"]))))
    busy = [r["others"] for r in b.results]
    if busy and statistics.median(busy) > 0.25:
        out.append("WARNING: other processes kept a median %.2f of the 2 cores busy "
                   "during the runs (max %.2f): every figure above is depressed and "
                   "noisy; rerun on a quiet machine" % (statistics.median(busy),
                                                        max(busy)))
    return out, short


def bounds(b, s, mode):
    """What bounds popvault in this mode, from the measured figures."""
    n = b.args.count
    pv, nl, mp = (s.get((t, mode)) for t in ("popvault", "null", "mpop"))
    lines = []
    if pv is None:
        return lines
    lines.append("%s: what bounds popvault (medians of this run):" % mode)
    lines.append("  popvault: %.2f CPU s in %.2f s wall = %.2f ms CPU per message, "
                 "busy %.0f%% of one core (its indexer %.2f CPU s more); Dovecot "
                 "%.2f CPU s; others %.2f cores"
                 % (pv["cpu"], pv["wall"], 1000 * pv["cpu"] / n,
                    100 * pv["cpu"] / pv["wall"], pv.get("cpu_all", pv["cpu"]) - pv["cpu"],
                    pv["server_cpu"], pv["others"]))
    lines.append("  popvault's CPU alone allows at most %.0f msgs/s on one core; "
                 "%.2f s of wall are not its CPU (fdatasync of packs and SQLite's "
                 "fsyncs, the server, the run queue; the reader and sealer threads "
                 "overlap)" % (n / pv["cpu"], max(0.0, pv["wall"] - pv["cpu"])))
    goals = []
    if mp:
        goals.append(("%.1fx mpop" % TARGET_MPOP, TARGET_MPOP * mp["msgs_s"]))
    if nl:
        goals.append(("%.0f%% of null" % (100 * TARGET_NULL[mode]),
                      TARGET_NULL[mode] * nl["msgs_s"]))
    if goals:
        name, goal = max(goals, key=lambda g: g[1])
        lines.append("  the target (%s = %.0f msgs/s) leaves %.2f ms per message, CPU "
                     "and waits together%s" % (
                         name, goal, 1000 / goal,
                         "; mpop spends %.2f ms CPU per message" % (1000 * mp["cpu"] / n)
                         if mp else ""))
    if nl:
        lines.append("  the client that stores nothing reaches %.0f msgs/s (popvault "
                     "at %.0f%% of that ceiling) with Dovecot at %.2f CPU s%s" % (
                         nl["msgs_s"], 100 * pv["msgs_s"] / nl["msgs_s"], nl["server_cpu"],
                         ": the server and the link are not the bound"
                         if nl["msgs_s"] > 1.5 * pv["msgs_s"] else
                         ": the server or the link is close to the bound"))
    return lines


def perf_report(pdata, *args):
    return subprocess.run(["perf", "report", "-i", pdata, "--stdio", "-g", "none"]
                          + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True).stdout


def perf_rows(text):
    return [ln.rstrip() for ln in text.splitlines()
            if ln.strip() and not ln.startswith("#")]


def profile(b, mode):
    """perf record one popvault harvest (DWARF call graphs: the libraries
    have no frame pointers); print self time per library and the inclusive
    time of popvault's own functions and the library calls they make."""
    if not shutil.which("perf"):
        return ["%s: (perf not installed: no profile)" % mode]
    tool = Popvault(b)
    work = os.path.join(b.run.dir, "profile-%s" % mode)
    os.makedirs(work)
    os.chown(work, b.uid, b.gid)
    # The first PROFILE_MAX messages: the same mix, a shorter run.
    sub = os.path.join(b.run.dir, "template-profile")
    if not os.path.isdir(sub):
        os.makedirs(sub)
        for n in sorted(os.listdir(b.template))[:PROFILE_MAX]:
            os.link(os.path.join(b.template, n), os.path.join(sub, n))
    nmsg = len(os.listdir(sub))
    reseed(b.maildir, sub, b.uid, b.gid)
    argv = tool.prepare(work, mode)
    if os.geteuid() == 0:
        argv = ["setpriv", "--reuid=%d" % b.uid, "--regid=%d" % b.gid,
                "--clear-groups"] + argv
    pdata = os.path.join(work, "perf.data")
    subprocess.run(["sync"])
    p = subprocess.run(["perf", "record", "-q", "-F", "199", "--call-graph",
                        "dwarf,16384", "-o", pdata, "--"] + argv,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        return ["%s: (perf record failed: %s)" % (mode, p.stderr[-200:])]
    out = ["%s: perf profile of one popvault harvest of the first %d messages "
           "(perf record -F 199 --call-graph dwarf)" % (mode, nmsg),
           "  self time by library:"]
    out += ["    " + r.strip() for r in
            perf_rows(perf_report(pdata, "--no-children", "--sort", "dso",
                                  "--percent-limit", "1"))[:10]]
    out.append("  inclusive time (children) of popvault functions and the "
               "library calls under them, >= 4%:")
    rows = perf_rows(perf_report(pdata, "--children", "--sort", "dso,sym",
                                 "--percent-limit", "4"))
    keep = [r for r in rows if " popvault " in r or "crypto_" in r
            or "ZSTD_" in r or "sqlite3_step" in r]
    drop = ("main", "_start", "__libc_start", "cli_harvest", "account_each",
            "harvest_one", "run (inlined)")
    keep = [r for r in keep if not any(r.split("[.]")[-1].strip().startswith(d)
                                       for d in drop)]
    out += ["    " + " ".join(r.split()) for r in keep[:28]]
    if b.args.perf_dir:
        os.makedirs(b.args.perf_dir, exist_ok=True)
        shutil.copy(pdata, os.path.join(b.args.perf_dir, "perf-%s.data" % mode))
    shutil.rmtree(work, ignore_errors=True)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--popvault", required=True)
    ap.add_argument("--null", required=True)
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--names", default="dovecot", choices=("dovecot", "bare"),
                    help="maildir file names: with S=/W= sizes or without")
    ap.add_argument("--tool-runs", default="",
                    help="fewer runs for slow tools, e.g. getmail=1")
    ap.add_argument("--tools", default=",".join(ALL_TOOLS))
    ap.add_argument("--modes", default="plain,tls")
    ap.add_argument("--big-mb", type=int, default=50)
    ap.add_argument("--scale", default="1000,10000",
                    help="archive sizes for the scaling figures ('' for none)")
    ap.add_argument("--scale-probe", type=int, default=1000,
                    help="messages in the measured harvest at each size")
    ap.add_argument("--baseline", help="another popvault build, measured beside "
                    "--popvault as the tool pv-base (ratio = the speed-up)")
    ap.add_argument("--json")
    ap.add_argument("--perf-dir", help="keep perf.data files here")
    ap.add_argument("--passes", help="bench_passes (default: beside --null)")
    ap.add_argument("--profile", default="auto",
                    choices=("auto", "always", "never"))
    a = ap.parse_args()
    a.tools = [t for t in a.tools.split(",") if t]
    a.modes = [m for m in a.modes.split(",") if m]
    a.scale = [int(x) for x in a.scale.split(",") if x]
    spec, a.tool_runs = a.tool_runs, {}
    for kv in spec.split(","):
        if kv:
            k, _, v = kv.partition("=")
            a.tool_runs[k] = int(v)
    for t in a.tools:
        if t not in TOOLS:
            ap.error("unknown tool %s" % t)
    if "popvault-pg" in a.tools and not os.access(os.path.join(PG_BINDIR, "initdb"), os.X_OK):
        ap.error("popvault-pg: no PostgreSQL 15 in %s (packaging/deps.sh installs "
                 "postgresql-15)" % PG_BINDIR)
    for t in ("mpop", "fetchmail", "getmail", "procmail"):
        if (t in a.tools or (t == "procmail" and "fetchmail" in a.tools)) \
                and not shutil.which(t):
            ap.error("%s is not installed (packaging/deps.sh)" % t)
    a.popvault = os.path.abspath(a.popvault)
    if a.baseline:
        a.baseline = os.path.abspath(a.baseline)
        a.tools.insert(a.tools.index("popvault") + 1 if "popvault" in a.tools else 0,
                       "pv-base")
    a.null = os.path.abspath(a.null)

    with pvharness.Run() as r:
        b = Bench(a, r)
        b.setup()
        b.main_runs()
        if a.big_mb > 0:
            b.big()
        if a.scale:
            try:
                b.scaling()
            except BenchError as e:
                log("scaling FAILED: %s" % e)
                b.failures.append(dict(tool="popvault", mode="scale", round="scale",
                                       error=str(e)[:300]))
        s = summarize(b.results, a.tools, a.modes)
        lines = table(b, s)
        if getattr(b, "big_results", None):
            lines.append("")
            lines.append("One message of %.1f MB (one run each):" % (b.big_size / 1e6))
            for x in b.big_results:
                lines.append("  %-11s %-5s %6.2f s  %6.1f MB/s  CPU %5.2f s  "
                             "peak RSS %6.1f MB" % (
                                 x["tool"], x["mode"], x["wall"],
                                 x["bytes"] / 1e6 / x["wall"], x["cpu"], x["rss_mb"]))
        sc = scale_table(b)
        if sc:
            lines.append("")
            lines += sc
        lines.append("")
        lines += passes_lines(b)
        tl, short = targets(b, s)
        lines.append("")
        lines += tl
        for m in a.modes:
            if m in short or a.profile == "always":
                lines.append("")
                lines += bounds(b, s, m)
                if a.profile != "never":
                    lines += profile(b, m)
        print("\n".join(lines))
        if a.json:
            with open(a.json, "w") as f:
                json.dump(dict(count=a.count, bytes=b.bytes, runs=a.runs,
                               results=[{k: v for k, v in x.items() if k != "work"}
                                        for x in b.results],
                               big=[{k: v for k, v in x.items() if k != "work"}
                                    for x in getattr(b, "big_results", [])],
                               scaling=getattr(b, "scale_results", []),
                               passes=b.passes,
                               summary={"%s/%s" % k: v for k, v in s.items()},
                               targets=tl), f, indent=1)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as e:
        log("FAILED: %s" % e)
        sys.exit(1)
