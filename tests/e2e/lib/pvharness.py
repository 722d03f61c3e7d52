#!/usr/bin/env python3
"""popvault e2e harness: private POP3 upstreams on loopback, one run dir.

Used two ways:
  * from bash through harness.sh, which calls this file as a CLI; each
    command prints shell assignments (NAME=value, shell-quoted) to eval;
  * from python tests: `import pvharness; run = pvharness.Run()`.

Everything of a run lives under one fresh temp dir (Run.dir); the pids of
every server started are listed in RUN/.pids and are stopped by PID (and
their own process group) only.  As root, servers run as nobody (Dovecot's
login and mail processes refuse root; GNU pop3d setgid()s to "mail"), and
the run dir is owned by nobody; as a normal user they run as that user.

Ports: a random free port above the kernel's ephemeral range (so outgoing
connections of concurrent tests never take it), checked by bind(), and a
server that still fails to bind is restarted on new ports (RETRIES times).
"""
import argparse
import grp
import json
import os
import pwd
import random
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

LIB = os.path.dirname(os.path.abspath(__file__))
PYTHON = sys.executable or "python3"
RETRIES = 6
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
DEFAULT_USERS = ["alice:alicepw", "bob:bobpw"]
MAILUTILS_DOMAIN = "example.org"


class HarnessError(Exception):
    pass


# ---------------------------------------------------------------- helpers

def _is_root():
    return os.geteuid() == 0


def service_ids():
    """(uid, gid, user, group) the servers run as."""
    if _is_root():
        pw = pwd.getpwnam("nobody")
        try:
            gr = grp.getgrnam("nogroup")
        except KeyError:
            gr = grp.getgrgid(pw.pw_gid)
        return pw.pw_uid, gr.gr_gid, pw.pw_name, gr.gr_name
    uid, gid = os.getuid(), os.getgid()
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        raise HarnessError("uid %d has no passwd entry; Dovecot needs a "
                           "user name" % uid)
    try:
        group = grp.getgrgid(gid).gr_name
    except KeyError:
        raise HarnessError("gid %d has no group entry" % gid)
    return uid, gid, user, group


def _chown_tree(path):
    if not _is_root():
        return
    uid, gid = service_ids()[:2]
    os.chown(path, uid, gid)
    for root, dirs, files in os.walk(path):
        for n in dirs + files:
            try:
                os.lchown(os.path.join(root, n), uid, gid)
            except FileNotFoundError:
                pass  # a message the running harvest just took (DELE)


def _world_traversable(path):
    p = os.path.abspath(path)
    while True:
        try:
            if not os.stat(p).st_mode & 0o001:
                return False
        except OSError:
            return False
        if p == "/":
            return True
        p = os.path.dirname(p)


def _write(path, data, mode=0o644):
    if isinstance(data, str):
        data = data.encode()
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


def _ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
        return lo, hi
    except (OSError, ValueError):
        return 32768, 60999


def free_port(avoid=()):
    """A loopback TCP port free now, outside the ephemeral port range."""
    lo, hi = _ephemeral_range()
    if 65535 - hi >= 500:
        pool = (hi + 1, 65535)
    elif lo - 20000 >= 500:
        pool = (20000, lo - 1)
    else:
        pool = None
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randint(*pool) if pool else 0
        if port in avoid:
            continue
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", port))
            port = s.getsockname()[1]
        except OSError:
            continue
        finally:
            s.close()
        return port
    raise HarnessError("no free loopback port found")


def pid_alive(pid):
    """True while pid exists and is not a zombie (a non-reaping PID 1 in a
    container leaves zombies that kill(pid, 0) still finds)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return False


def _start_time(pid):
    """Field 22 of /proc/PID/stat (start time in clock ticks), or "-"."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "-"


def stop_pid(pid, timeout=STOP_TIMEOUT):
    """SIGTERM pid, wait, then SIGKILL it and its process group (we start
    every server in its own session, so the group is ours alone)."""
    if pid <= 1:
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    # Reap it if it is our own child (python API users).
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        if not pid_alive(pid):
            break
        time.sleep(0.05)
    for target, fn in ((pid, os.kill), (pid, os.killpg)):
        try:
            fn(target, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def wait_greeting(port, timeout, pid=None, tls=False):
    """Wait until 127.0.0.1:port answers with a POP3 greeting line."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if pid is not None and not pid_alive(pid):
            raise HarnessError("server pid %d exited during start" % pid)
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=2)
            try:
                if tls:
                    ctx = ssl.create_default_context()
                    ctx.check_hostname = False
                    ctx.verify_mode = ssl.CERT_NONE
                    s = ctx.wrap_socket(s)
                line = s.recv(512)
                if line.startswith(b"+OK"):
                    try:
                        s.sendall(b"QUIT\r\n")
                    except OSError:
                        pass
                    return
                last = line
            finally:
                s.close()
        except OSError as e:
            last = e
        time.sleep(0.05)
    raise HarnessError("no greeting on port %d: %r" % (port, last))


def sbin(name):
    """Path of a server binary: normal users' PATH often lacks /usr/sbin."""
    path = os.environ.get("PATH", "") + ":/usr/local/sbin:/usr/sbin:/sbin"
    found = shutil.which(name, path=path)
    if not found:
        raise HarnessError("%s not installed (packaging/deps.sh)" % name)
    return found


def _spawn(argv, log, cwd=None, env=None):
    """Start a detached server: own session, stdio to files so a caller
    reading our stdout (bash $(...)) never waits on it."""
    out = open(log, "ab")
    try:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                             stderr=subprocess.STDOUT, cwd=cwd, env=env,
                             start_new_session=True, close_fds=True)
    finally:
        out.close()
    return p.pid


def _privdrop(group=None):
    """argv prefix that drops root to the service user."""
    if not _is_root():
        return []
    _, gid, user, gname = service_ids()
    return ["setpriv", "--reuid=" + user, "--regid=" + (group or gname),
            "--clear-groups", "--"]


def parse_user(spec):
    """"name:password[:extra fields...]" -> (name, password, extra)."""
    parts = spec.split(":", 2)
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise HarnessError("bad user spec %r (want NAME:PASS[:EXTRA])" % spec)
    for c in "\n\r\t ":
        if c in parts[0] or c in parts[1]:
            raise HarnessError("whitespace in user name or password: %r"
                               % spec)
    return parts[0], parts[1], parts[2] if len(parts) == 3 else ""


# ---------------------------------------------------------------- the run

class Run:
    """One test run: a temp dir, a CA, servers.  Run(dir) re-opens an
    existing run (the bash CLI does this on every call).  Run.current is
    the newest (popvault.Archive starts its RGW there)."""

    current = None

    def __init__(self, path=None, keep=None):
        if path is None:
            base = os.environ.get("TMPDIR") or "/tmp"
            if _is_root() and not _world_traversable(base):
                base = "/tmp"   # nobody must reach the run dir
            path = tempfile.mkdtemp(prefix="pv-e2e-", dir=base)
            os.chmod(path, 0o755)
            _chown_tree(path)
        self.dir = os.path.abspath(path)
        if not os.path.isdir(self.dir):
            raise HarnessError("no run dir %s" % self.dir)
        self.keep = keep if keep is not None else \
            bool(os.environ.get("H_KEEP"))
        self._servers = {}
        self._rgw = None
        self._pg = None
        Run.current = self

    # -- pid registry (a file: bash calls are separate processes)
    def _pids_path(self):
        return os.path.join(self.dir, ".pids")

    def register(self, name, pid):
        """Record a server's pid with its start time, so a pid the kernel
        has since given to another process is never signalled."""
        with open(self._pids_path(), "a") as f:
            f.write("%s %d %s\n" % (name, pid, _start_time(pid)))

    def pids(self):
        """[(name, pid)] of registered processes that are still ours."""
        try:
            with open(self._pids_path()) as f:
                rows = [ln.split() for ln in f if ln.strip()]
        except FileNotFoundError:
            return []
        return [(r[0], int(r[1])) for r in rows
                if len(r) == 3 and _start_time(int(r[1])) == r[2]]

    def stop(self, name):
        """Stop the process registered as name and its helpers (name/*).
        False if no such name was ever registered in this run."""
        ours = lambda n: n == name or n.startswith(name + "/")
        for n, pid in reversed(self.pids()):
            if ours(n):
                stop_pid(pid)
        try:
            with open(self._pids_path()) as f:
                return any(ours(ln.split()[0]) for ln in f if ln.strip())
        except FileNotFoundError:
            return False

    def stop_all(self):
        for _, pid in reversed(self.pids()):
            stop_pid(pid)

    def cleanup(self):
        self.stop_all()
        if self.keep:
            sys.stderr.write("# H_KEEP: run dir kept at %s\n" % self.dir)
            return
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()

    def sub(self, name):
        """A fresh sub dir for one server."""
        d = os.path.join(self.dir, name)
        if os.path.exists(d):
            raise HarnessError("server name %r already used in this run"
                               % name)
        os.makedirs(d)
        return d

    # -- certificates
    def ca(self):
        """Per-run CA and leaf certs (EC P-256, valid 2000..2099 so faketime
        tests still verify).  Returns dict of paths:
          ca       CA certificate (clients: --ca-file)
          cert,key server cert (cert.pem, server.key) for DNS:localhost,
                   IP:127.0.0.1, signed by ca
          wronghost_cert/key   signed by ca, for DNS:wrong.invalid only
          expired_cert/key     signed by ca, for localhost, expired 2001
          selfsigned_cert/key  localhost, self-signed (not under ca)
          other_ca             an unrelated CA (verifies nothing of ours)
        """
        d = os.path.join(self.dir, "ca")
        done = os.path.join(d, "done")
        names = {"ca": "ca.pem", "cert": "cert.pem", "key": "server.key",
                 "wronghost_cert": "wronghost.pem",
                 "wronghost_key": "wronghost.key",
                 "expired_cert": "expired.pem", "expired_key": "expired.key",
                 "selfsigned_cert": "selfsigned.pem",
                 "selfsigned_key": "selfsigned.key",
                 "other_ca": "other-ca.pem"}
        paths = {k: os.path.join(d, v) for k, v in names.items()}
        if os.path.exists(done):
            return paths
        os.makedirs(d, exist_ok=True)
        _make_certs(d)
        _write(done, "")
        _chown_tree(d)
        return paths

    def rgw(self):
        """The run's Ceph RGW (S3 with Object Lock, lib/rgw.sh), started at
        the first call and stopped with the run: a dict of its RGW_*
        variables (RGW_URL, RGW_REGION, RGW_KEY_FILE, RGW_FAKETIME, ...)."""
        if self._rgw is None:
            p = subprocess.run(["bash", os.path.join(LIB, "rgw.sh"), "start", self.dir],
                               stdin=subprocess.DEVNULL, capture_output=True, text=True)
            if p.returncode != 0:
                raise HarnessError("Ceph RGW did not start: " + p.stderr[-6000:])
            self._rgw = dict(kv.split("=", 1) for ln in p.stdout.splitlines()
                             for kv in shlex.split(ln))
        return self._rgw

    def pg(self):
        """The run's PostgreSQL 15 (lib/pg.sh), started at the first call
        and stopped with the run (registered by PID): a dict of its PG_*
        variables (PG_URL, PG_HOST, PG_PORT, ...)."""
        if self._pg is None:
            p = subprocess.run(["bash", os.path.join(LIB, "pg.sh"), "start",
                                os.path.join(self.dir, "pg-matrix")],
                               stdin=subprocess.DEVNULL, capture_output=True, text=True)
            if p.returncode != 0:
                raise HarnessError("postgresql did not start: " + p.stderr[-3000:])
            self._pg = dict(kv.split("=", 1) for ln in p.stdout.splitlines()
                            for kv in shlex.split(ln))
            self.register("postgres", int(self._pg["PG_PID"]))
        return self._pg

    # -- servers (each returns a Server; see the classes below)
    def dovecot(self, name="dovecot", **kw):
        return Dovecot(self, name, **kw)

    def mailutils(self, name="mailutils", **kw):
        return Mailutils(self, name, **kw)

    def fake(self, script, name="fake", **kw):
        return Fake(self, name, script, **kw)

    def tsa(self, name="tsa"):
        return Tsa(self, name)

    def witness(self, name, logs, pv=None):
        return Witness(self, name, logs, pv)


def _openssl(args, cwd):
    r = subprocess.run(["openssl"] + args, cwd=cwd, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise HarnessError("openssl %s failed: %s" % (
            " ".join(args), r.stderr.decode(errors="replace")))


_CA_CNF = """[ca]
default_ca = pvca
[pvca]
dir = %(dir)s
database = $dir/index.txt
new_certs_dir = $dir/newcerts
serial = $dir/serial
default_md = sha256
policy = pvpolicy
copy_extensions = none
unique_subject = no
[pvpolicy]
commonName = supplied
[req]
distinguished_name = dn
prompt = no
[dn]
CN = x
[ext_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ext_localhost]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ext_wronghost]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:wrong.invalid
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


def _make_certs(d):
    os.makedirs(os.path.join(d, "newcerts"), exist_ok=True)
    _write(os.path.join(d, "index.txt"), "")
    _write(os.path.join(d, "serial"),
           "%032x\n" % random.SystemRandom().getrandbits(120))
    cnf = os.path.join(d, "ca.cnf")
    _write(cnf, _CA_CNF % {"dir": d})
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
          "-nodes"]

    def sign(csr, out, ext, start, end, selfsign=False, cakey="ca.key",
             cacert="ca.pem"):
        a = ["ca", "-batch", "-config", cnf, "-in", csr, "-out", out,
             "-extensions", ext, "-startdate", start, "-enddate", end,
             "-notext"]
        a += ["-selfsign", "-keyfile", cakey] if selfsign else \
             ["-keyfile", cakey, "-cert", cacert]
        _openssl(a, d)

    def req(name, cn):
        _openssl(["req", "-new", "-config", cnf] + ec +
                 ["-subj", "/CN=" + cn, "-keyout", name + ".key",
                  "-out", name + ".csr"], d)

    long_ = ("20000101000000Z", "20991231235959Z")
    req("ca", "popvault test CA")
    sign("ca.csr", "ca.pem", "ext_ca", *long_, selfsign=True)
    req("other-ca", "unrelated test CA")
    sign("other-ca.csr", "other-ca.pem", "ext_ca", *long_, selfsign=True,
         cakey="other-ca.key")
    req("server", "localhost")
    sign("server.csr", "cert.pem", "ext_localhost", *long_)
    req("wronghost", "wrong.invalid")
    sign("wronghost.csr", "wronghost.pem", "ext_wronghost", *long_)
    req("expired", "localhost")
    sign("expired.csr", "expired.pem", "ext_localhost",
         "20000101000000Z", "20011231235959Z")
    req("selfsigned", "localhost")
    sign("selfsigned.csr", "selfsigned.pem", "ext_localhost", *long_,
         selfsign=True, cakey="selfsigned.key")
    for n in os.listdir(d):
        if n.endswith(".key"):
            os.chmod(os.path.join(d, n), 0o600)


# ---------------------------------------------------------------- maildirs

def _seed_seq(maildir):
    """Next sequence number for seed file names in this maildir; names
    sort by it (Dovecot and pop3d order new mail by the name's time part)."""
    p = os.path.join(maildir, ".pvseed")
    try:
        with open(p) as f:
            n = int(f.read())
    except (OSError, ValueError):
        n = 0
    with open(p, "w") as f:
        f.write("%d\n" % (n + 1))
    return n


def seed_files(sources):
    """Expand files/dirs into a sorted list of message files (.eml, or any
    regular file in a dir except index.json and dotfiles)."""
    out = []
    for src in sources:
        if os.path.isdir(src):
            names = sorted(n for n in os.listdir(src)
                           if not n.startswith(".") and n != "index.json"
                           and os.path.isfile(os.path.join(src, n)))
            out += [os.path.join(src, n) for n in names]
        elif os.path.isfile(src):
            out.append(src)
        else:
            raise HarnessError("seed source %s not found" % src)
    return out


def maildir_deliver(maildir, data, name=None, lf_only=False, size_tag=True):
    """Deliver one message: write into tmp/, then rename into new/
    (the maildir protocol).  Returns the file name in new/."""
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(maildir, sub), exist_ok=True)
    if lf_only:
        data = data.replace(b"\r\n", b"\n")
    if name is None:
        n = _seed_seq(maildir)
        name = "%d.M%dP%d.pvseed" % (1500000000 + n, n, os.getpid())
        if size_tag:
            name += ",S=%d" % len(data)
    tmp = os.path.join(maildir, "tmp", name)
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, os.path.join(maildir, "new", name))
    return name


def maildir_count(maildir):
    """Messages in the mailbox: files in new/ and cur/ (Dovecot's
    pop3_deleted_flag keeps files; count those yourself)."""
    n = 0
    for sub in ("new", "cur"):
        try:
            n += sum(1 for x in os.listdir(os.path.join(maildir, sub))
                     if not x.startswith("."))
        except FileNotFoundError:
            pass
    return n


# ---------------------------------------------------------------- servers

class Server:
    """Common part: name, dir, ports, users, env export."""
    prefix = ""

    def __init__(self, run, name):
        self.run = run
        self.name = name
        self.dir = run.sub(name)
        self.pid = None
        self.vars = {}

    def env(self):
        """NAME_KEY=value pairs for shell export."""
        p = self.name.upper().replace("-", "_")
        return {p + "_" + k: str(v) for k, v in self.vars.items()}

    def stop(self):
        self.run.stop(self.name)

    # maildir_deliver options for this server's maildirs (servers with
    # mailboxes define maildir(user)).
    deliver_opts = {}

    def seed(self, user, sources, name=None):
        """Deliver files (or every file of dirs, sorted) to user's new/."""
        md = self.maildir(user)
        if not os.path.isdir(md):
            raise HarnessError("no user %s in %s" % (user, self.name))
        names = []
        if not isinstance(sources, list):
            sources = [sources]
        for f in seed_files(sources):
            with open(f, "rb") as fh:
                names.append(maildir_deliver(md, fh.read(), name=name, **self.deliver_opts))
        _chown_tree(md)
        return names

    def count(self, user):
        return maildir_count(self.maildir(user))


class Dovecot(Server):
    """A private Dovecot.  users: list of "name:pass[:extra]" (defaults
    alice:alicepw, bob:bobpw); seed: {user: [files or dirs]}; rawlog: write
    session transcripts; oauth2: passdb oauth2 + the token stub; conf:
    text appended to dovecot.conf; cert/key: other cert (default the run's
    localhost cert); penalty: keep anvil's growing per-IP delay after
    failed logins (off by default)."""

    def __init__(self, run, name="dovecot", users=None, seed=None,
                 rawlog=False, oauth2=False, conf="", cert=None, key=None,
                 penalty=False):
        super().__init__(run, name)
        uid, gid, user, group = service_ids()
        ca = run.ca()
        self.users = [parse_user(u) for u in (users or DEFAULT_USERS)]
        d = self.dir
        for sub in ("run", "state", "log", "home"):
            os.makedirs(os.path.join(d, sub))
        lines = []
        for (u, pw, extra) in self.users:
            home = os.path.join(d, "home", u)
            os.makedirs(os.path.join(home, "Maildir"))
            for s in ("tmp", "new", "cur"):
                os.makedirs(os.path.join(home, "Maildir", s))
            lines.append("%s:{PLAIN}%s:%d:%d::%s::%s" % (u, pw, uid, gid,
                                                           home, extra))
        self.users_file = os.path.join(d, "users")
        _write(self.users_file, "\n".join(lines) + "\n", 0o600)
        for u, srcs in (seed or {}).items():
            self.seed(u, srcs)
        self.rawlog_dir = os.path.join(d, "rawlog") if rawlog else None
        if self.rawlog_dir:
            os.makedirs(self.rawlog_dir)
        oauth_conf = ""
        if oauth2:
            oauth_conf = self._start_oauth(d)
        _chown_tree(d)
        cert = cert or ca["cert"]
        key = key or ca["key"]
        self.conf = os.path.join(d, "dovecot.conf")
        self.log = os.path.join(d, "log", "dovecot.log")
        err = None
        for _ in range(RETRIES):
            port, tport = free_port(), None
            tport = free_port(avoid=(port,))
            _write(self.conf, _DOVECOT_CONF % dict(
                d=d, user=user, group=group, uid=uid, gid=gid, port=port,
                tport=tport, cert=cert, key=key, users=self.users_file,
                rawlog=("  rawlog_dir = %s\n" % self.rawlog_dir)
                if self.rawlog_dir else "",
                oauth=oauth_conf, extra=conf,
                mechs=" xoauth2 oauthbearer" if oauth2 else "",
                penalty="" if penalty else _NO_PENALTY))
            _chown_tree(self.conf)
            pid = _spawn(_privdrop() +
                         [sbin("dovecot"), "-F", "-c", self.conf],
                         os.path.join(d, "log", "master.out"))
            try:
                wait_greeting(port, START_TIMEOUT, pid)
                wait_greeting(tport, START_TIMEOUT, pid, tls=True)
            except HarnessError as e:
                err = e
                stop_pid(pid)
                if not self._bind_failed():
                    break
                continue
            self.pid = pid
            run.register(name, pid)
            break
        if self.pid is None:
            raise HarnessError("dovecot did not start: %s\n%s" % (
                err, self._tail()))
        self.port, self.tls_port = port, tport
        self.vars.update(PORT=port, TLS_PORT=tport, PID=self.pid, DIR=d,
                         CONF=self.conf, USERS=self.users_file, LOG=self.log,
                         CA=ca["ca"], HOST="127.0.0.1",
                         USER_NAMES=" ".join(u for u, _, _ in self.users))
        if self.rawlog_dir:
            self.vars["RAWLOG"] = self.rawlog_dir

    def _start_oauth(self, d):
        od = os.path.join(d, "oauth")
        os.makedirs(od)
        tokens = {"%s-oauth-token" % u: u for u, _, _ in self.users}
        tfile = os.path.join(od, "tokens.json")
        _write(tfile, json.dumps(tokens, indent=1, sort_keys=True) + "\n")
        pfile = os.path.join(od, "port")
        log = os.path.join(od, "requests.log")
        pid = _spawn([PYTHON, os.path.join(LIB, "oauth_stub.py"),
                      "--tokens", tfile, "--log", log, "--port-file", pfile],
                     os.path.join(od, "stub.out"))
        self.run.register(self.name + "/oauth", pid)
        deadline = time.monotonic() + START_TIMEOUT
        while not os.path.exists(pfile):
            if not pid_alive(pid) or time.monotonic() > deadline:
                raise HarnessError("oauth stub did not start")
            time.sleep(0.02)
        with open(pfile) as f:
            oport = int(f.read())
        args = os.path.join(d, "oauth2.conf.ext")
        _write(args, "introspection_mode = auth\n"
               "introspection_url = http://127.0.0.1:%d/introspect\n"
               "force_introspection = yes\n"
               "username_attribute = username\n"
               "active_attribute = active\nactive_value = true\n" % oport)
        first = self.users[0][0]
        self.vars.update(OAUTH_PORT=oport, OAUTH_TOKENS=tfile,
                         OAUTH_LOG=log, OAUTH_USER=first,
                         OAUTH_TOKEN="%s-oauth-token" % first)
        return ("passdb {\n  driver = oauth2\n  mechanisms = xoauth2 "
                "oauthbearer\n  args = %s\n}\n" % args)

    def _tail(self):
        out = []
        for f in (self.log, os.path.join(self.dir, "log", "master.out")):
            try:
                with open(f, errors="replace") as fh:
                    out.append("".join(fh.readlines()[-15:]))
            except OSError:
                pass
        return "\n".join(out)

    def _bind_failed(self):
        return "Address already in use" in self._tail()

    def maildir(self, user):
        return os.path.join(self.dir, "home", user, "Maildir")

    def doveadm(self, *args):
        return subprocess.run([sbin("doveadm"), "-c", self.conf] + list(args),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)


# Anvil's per-IP auth penalty (2, 4, 8.. 15 s after failed logins from
# 127.0.0.1) would make every later test in the run slow and timing
# dependent; off unless penalty=True.  auth_failure_delay (2 s) stays.
_NO_PENALTY = """  unix_listener anvil-auth-penalty {
    mode = 0
  }
"""

_DOVECOT_CONF = """# popvault e2e: private rootless Dovecot (reference/pop3.md)
instance_name = pvtest-%(port)d
base_dir = %(d)s/run
state_dir = %(d)s/state
log_path = %(d)s/log/dovecot.log
protocols = pop3
listen = 127.0.0.1
default_internal_user = %(user)s
default_internal_group = %(group)s
default_login_user = %(user)s
first_valid_uid = %(uid)d
first_valid_gid = %(gid)d
ssl = yes
ssl_cert = <%(cert)s
ssl_key = <%(key)s
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = plain login cram-md5 scram-sha-1 scram-sha-256 apop%(mechs)s
mail_location = maildir:~/Maildir
mail_fsync = always
%(oauth)spassdb {
  driver = passwd-file
  args = username_format=%%u %(users)s
}
userdb {
  driver = passwd-file
  args = username_format=%%u %(users)s
}
service anvil {
  chroot =
%(penalty)s}
service pop3-login {
  chroot =
  inet_listener pop3 {
    port = %(port)d
  }
  inet_listener pop3s {
    port = %(tport)d
    ssl = yes
  }
}
protocol pop3 {
  pop3_uidl_format = %%08Xu%%08Xv
  pop3_lock_session = no
%(rawlog)s}
%(extra)s
"""


class Mailutils(Server):
    """GNU Mailutils pop3d.  users as for Dovecot; logins are
    USER@example.org.  expire0: `expire 0; delete-expired yes` (retrieved
    messages go at QUIT even without DELE).  login_delay: seconds, with a
    0600 stat file.  Mailboxes are Maildirs at HOME/INBOX; pop3d keeps LF
    line ends on disk (it rewrote a CRLF file into just its X-UIDL header
    in our trial), so seeding converts CRLF to LF."""

    def __init__(self, run, name="mailutils", users=None, seed=None,
                 expire0=False, login_delay=0, conf=""):
        super().__init__(run, name)
        uid, gid, user, group = service_ids()
        ca = run.ca()
        d = self.dir
        self.users = [parse_user(u) for u in (users or DEFAULT_USERS)]
        pwdir = os.path.join(d, "passwd")
        os.makedirs(pwdir)
        lines = []
        for (u, pw, _extra) in self.users:
            home = os.path.join(d, "home", u)
            os.makedirs(os.path.join(home, "INBOX"))
            for s in ("tmp", "new", "cur"):
                os.makedirs(os.path.join(home, "INBOX", s))
            h = subprocess.run(["openssl", "passwd", "-6", "-stdin"],
                               input=pw.encode(), stdout=subprocess.PIPE,
                               check=True).stdout.decode().strip()
            lines.append("%s:%s:%d:%d::%s:/bin/sh" % (u, h, uid, gid, home))
        _write(os.path.join(pwdir, MAILUTILS_DOMAIN), "\n".join(lines) + "\n",
               0o600)
        for u, srcs in (seed or {}).items():
            self.seed(u, srcs)
        # pop3d's key and cert copies: it checks file modes.
        for k in ("cert", "key"):
            shutil.copy(ca[k], os.path.join(d, k + ".pem"))
            os.chmod(os.path.join(d, k + ".pem"), 0o600)
        stat = os.path.join(d, "login.stat")
        _write(stat, "", 0o600)
        env = dict(os.environ)
        prefix = _privdrop("mail")
        if not _is_root() and os.getgid() != grp.getgrnam("mail").gr_gid:
            # pop3d always setgid("mail"); a normal user may not: stub it.
            env["LD_PRELOAD"] = self._setgid_shim(d)
        _chown_tree(d)
        self.conf = os.path.join(d, "pop3d.conf")
        self.log = os.path.join(d, "pop3d.log")
        err = None
        for _ in range(RETRIES):
            port = free_port()
            tport = free_port(avoid=(port,))
            opts = ""
            if expire0:
                opts += "expire 0;\ndelete-expired yes;\n"
            if login_delay:
                opts += "login-delay %d;\nstat-file %s;\n" % (login_delay,
                                                               stat)
            _write(self.conf, _MAILUTILS_CONF % dict(
                d=d, port=port, tport=tport, pwdir=pwdir, opts=opts,
                extra=conf))
            _chown_tree(self.conf)
            pid = _spawn(prefix +
                         [sbin("pop3d"), "--config-file=" + self.conf],
                         self.log, env=env)
            try:
                wait_greeting(port, START_TIMEOUT, pid)
                wait_greeting(tport, START_TIMEOUT, pid, tls=True)
            except HarnessError as e:
                err = e
                stop_pid(pid)
                if "in use" not in self._tail():
                    break
                continue
            self.pid = pid
            run.register(name, pid)
            break
        if self.pid is None:
            raise HarnessError("pop3d did not start: %s\n%s" % (err,
                                                                self._tail()))
        self.port, self.tls_port = port, tport
        self.vars.update(PORT=port, TLS_PORT=tport, PID=self.pid, DIR=d,
                         CONF=self.conf, LOG=self.log, CA=ca["ca"],
                         HOST="127.0.0.1", DOMAIN=MAILUTILS_DOMAIN,
                         USER_NAMES=" ".join(u for u, _, _ in self.users))

    @staticmethod
    def _setgid_shim(d):
        src = os.path.join(d, "nosetgid.c")
        so = os.path.join(d, "nosetgid.so")
        _write(src, "#include <sys/types.h>\n"
               "int setgid(gid_t g) { (void)g; return 0; }\n")
        cc = os.environ.get("CC", "cc")
        r = subprocess.run([cc, "-shared", "-fPIC", "-o", so, src],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            raise HarnessError("cannot build setgid shim: %s" % r.stdout)
        return so

    def _tail(self):
        try:
            with open(self.log, errors="replace") as f:
                return "".join(f.readlines()[-15:])
        except OSError:
            return ""

    def maildir(self, user):
        return os.path.join(self.dir, "home", user, "INBOX")

    # pop3d keeps LF line ends and no S= size in the file name.
    deliver_opts = {"lf_only": True, "size_tag": False}


_MAILUTILS_CONF = """# popvault e2e: private GNU Mailutils pop3d
mode daemon;
foreground yes;
pidfile %(d)s/pop3d.pid;
max-children 20;
timeout 60;
logging { syslog no; };
mandatory-locking { enable no; };
auth { authentication generic; authorization virtdomain; };
virtdomain { passwd-dir %(pwdir)s; };
tls-file-checks { key-file none; cert-file none; ca-file none; };
tcp-wrappers { enable no; };
%(opts)sserver 127.0.0.1:%(port)d {
  tls-mode stls;
  transcript yes;
  tls { ssl-certificate-file %(d)s/cert.pem; ssl-key-file %(d)s/key.pem; };
};
server 127.0.0.1:%(tport)d {
  tls-mode connection;
  transcript yes;
  tls { ssl-certificate-file %(d)s/cert.pem; ssl-key-file %(d)s/key.pem; };
};
%(extra)s
"""


class Fake(Server):
    """The scripted fake POP3 server (fakepop3.py; see its docstring for
    the script language).  script: path of a script file, or the script
    text itself if it contains a newline.  tls: implicit TLS listener;
    stls_cert: offer STLS with the run's cert (default yes)."""

    def __init__(self, run, name, script, tls=False, cert=None, key=None,
                 mailbox=None):
        super().__init__(run, name)
        ca = run.ca()
        d = self.dir
        if "\n" in script:
            path = os.path.join(d, "script")
            _write(path, script)
            script = path
        self.transcript = os.path.join(d, "transcript")
        pfile = os.path.join(d, "port")
        argv = [PYTHON, os.path.join(LIB, "fakepop3.py"), "--script", script,
                "--transcript", self.transcript, "--port-file", pfile,
                "--cert", cert or ca["cert"], "--key", key or ca["key"]]
        if tls:
            argv.append("--tls")
        if mailbox:
            argv += ["--mailbox", mailbox]
        self.log = os.path.join(d, "fake.log")
        pid = _spawn(argv, self.log)
        run.register(name, pid)
        deadline = time.monotonic() + START_TIMEOUT
        while not os.path.exists(pfile):
            if not pid_alive(pid) or time.monotonic() > deadline:
                raise HarnessError("fake server did not start:\n" +
                                   open(self.log, errors="replace").read())
            time.sleep(0.02)
        with open(pfile) as f:
            self.port = int(f.read())
        self.pid = pid
        self.vars.update(PORT=self.port, PID=pid, DIR=d, CA=ca["ca"],
                         TRANSCRIPT=self.transcript, LOG=self.log,
                         HOST="127.0.0.1", TLS=1 if tls else 0)

    def transcript_lines(self):
        try:
            with open(self.transcript, encoding="utf-8",
                      errors="replace") as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def client_lines(self):
        return [ln[3:] for ln in self.transcript_lines()
                if ln.startswith("C: ")]


class Tsa(Server):
    """A real RFC 3161 Time-Stamp Authority: `openssl ts -reply` behind a
    loopback HTTP responder (tsa_responder.py, whose docstring lists the
    modes a test writes to MODE_FILE).  Its own CA (CA: what popvault
    trusts), a TSA certificate with extendedKeyUsage timeStamping
    (critical), an expired one and one from an unrelated CA (OTHER_CA)."""

    def __init__(self, run, name="tsa"):
        super().__init__(run, name)
        d = self.dir
        pfile = os.path.join(d, "port")
        self.log = os.path.join(d, "tsa.log")
        pid = _spawn([PYTHON, os.path.join(LIB, "tsa_responder.py"), "--init",
                      "--dir", d, "--port-file", pfile], self.log)
        run.register(name, pid)
        deadline = time.monotonic() + START_TIMEOUT
        while not os.path.exists(pfile):
            if not pid_alive(pid) or time.monotonic() > deadline:
                raise HarnessError("TSA did not start:\n" +
                                   open(self.log, errors="replace").read())
            time.sleep(0.02)
        with open(pfile) as f:
            self.port = int(f.read())
        self.pid = pid
        self.vars.update(URL="http://127.0.0.1:%d/" % self.port, PORT=self.port,
                         PID=pid, DIR=d, CA=os.path.join(d, "ca.pem"),
                         OTHER_CA=os.path.join(d, "other-ca.pem"),
                         MODE_FILE=os.path.join(d, "mode"),
                         REQUESTS=os.path.join(d, "requests.log"), LOG=self.log)


class Witness(Server):
    """`popvault witness serve` on loopback: a C2SP tlog-witness of its own
    (key and state made by `witness init` in DIR, named NAME.example/w),
    trusting the log verifier keys `logs`.  pv: the binary (default
    $POPVAULT_BIN, else build/popvault)."""

    def __init__(self, run, name, logs, pv=None):
        super().__init__(run, name)
        d = self.dir
        pv = pv or os.environ.get("POPVAULT_BIN") or \
            os.path.join(LIB, "..", "..", "..", "build", "popvault")
        wname = "%s.example/w" % name
        r = subprocess.run([pv, "witness", "init", "--data", d, "--name", wname],
                           capture_output=True)
        if r.returncode != 0:
            raise HarnessError("witness init: " + r.stderr.decode(errors="replace"))
        self.vkey = r.stdout.decode().strip()
        self.log = os.path.join(d, "witness.log")
        argv = [pv, "witness", "serve", "--data", d, "--listen", "127.0.0.1:0"]
        for k in logs:
            argv += ["--log", k]
        pid = _spawn(argv, self.log)
        run.register(name, pid)
        deadline = time.monotonic() + START_TIMEOUT
        port = None
        while port is None:
            with open(self.log, errors="replace") as f:
                m = re.search(r":(\d+)/add-checkpoint", f.read())
            if m:
                port = int(m.group(1))
            elif not pid_alive(pid) or time.monotonic() > deadline:
                raise HarnessError("witness did not start:\n" +
                                   open(self.log, errors="replace").read())
            else:
                time.sleep(0.02)
        self.port = port
        self.pid = pid
        self.vars.update(URL="http://127.0.0.1:%d/" % port, PORT=port, PID=pid, DIR=d,
                         VKEY=self.vkey, NAME=wname, STATE=os.path.join(d, "witness.db"),
                         LOG=self.log)


# ---------------------------------------------------------------- TAP

class Tap:
    """Minimal TAP producer for python .t scripts:
        t = Tap(5); t.ok(cond, "name"); t.is_(got, want, "name"); t.done()
    done() returns the exit status (1 if any test failed or the count is
    off); use sys.exit(t.done())."""

    def __init__(self, plan=None):
        self.n = 0
        self.fails = 0
        self.plan = plan
        if plan is not None:
            print("1..%d" % plan, flush=True)

    def diag(self, *lines):
        for ln in "\n".join(str(x) for x in lines).splitlines():
            print("# " + ln, flush=True)

    def ok(self, cond, name, *diag):
        self.n += 1
        print("%sok %d - %s" % ("" if cond else "not ", self.n, name),
              flush=True)
        if not cond:
            self.fails += 1
            if diag:
                self.diag(*diag)
        return bool(cond)

    def is_(self, got, want, name):
        return self.ok(got == want, name, "got:  %r" % (got,),
                       "want: %r" % (want,))

    def fails_with(self, p, rc, pattern, name):
        """ok when the CompletedProcess p exited rc and what it printed
        (stdout and stderr) matches the regex pattern: which check fired,
        not only that one did."""
        out = (p.stdout or b"") + (p.stderr or b"")
        if isinstance(out, bytes):
            out = out.decode(errors="replace")
        return self.ok(p.returncode == rc and re.search(pattern, out, re.M), name,
                       "exit %d (want %d), want match: %s" % (p.returncode, rc, pattern),
                       out[-2000:])

    def done(self):
        if self.plan is None:
            print("1..%d" % self.n, flush=True)
        elif self.n != self.plan:
            self.diag("planned %d tests, ran %d" % (self.plan, self.n))
            return 1
        return 1 if self.fails else 0


# ---------------------------------------------------------------- CLI

def _emit(pairs):
    for k, v in pairs.items():
        print("%s=%s" % (k, shlex.quote(str(v))))


def _seed_arg(values):
    out = {}
    for v in values or []:
        user, _, src = v.partition("=")
        if not src:
            raise HarnessError("--seed wants USER=PATH, got %r" % v)
        out.setdefault(user, []).append(src)
    return out


def _server_from_dir(run, name):
    """Re-open a started server's paths for seed/count from bash."""
    d = os.path.join(run.dir, name)
    if os.path.exists(os.path.join(d, "dovecot.conf")):
        return "dovecot", d
    if os.path.exists(os.path.join(d, "pop3d.conf")):
        return "mailutils", d
    raise HarnessError("no dovecot or mailutils server named %r" % name)


def _cli_maildir(run, name, user):
    kind, d = _server_from_dir(run, name)
    sub = "Maildir" if kind == "dovecot" else "INBOX"
    md = os.path.join(d, "home", user, sub)
    if not os.path.isdir(md):
        raise HarnessError("no user %s in %s" % (user, name))
    return kind, md


def main(argv=None):
    ap = argparse.ArgumentParser(prog="pvharness.py")
    ap.add_argument("--run", help="run dir (from `init`)")
    sp = ap.add_subparsers(dest="cmd", required=True)
    sp.add_parser("init")
    sp.add_parser("ca")
    sp.add_parser("port")
    a = sp.add_parser("dovecot")
    a.add_argument("--name", default="dovecot")
    a.add_argument("--user", action="append")
    a.add_argument("--seed", action="append", metavar="USER=PATH")
    a.add_argument("--rawlog", action="store_true")
    a.add_argument("--oauth2", action="store_true")
    a.add_argument("--penalty", action="store_true")
    a.add_argument("--conf", default="")
    a.add_argument("--cert")
    a.add_argument("--key")
    a = sp.add_parser("mailutils")
    a.add_argument("--name", default="mailutils")
    a.add_argument("--user", action="append")
    a.add_argument("--seed", action="append", metavar="USER=PATH")
    a.add_argument("--expire0", action="store_true")
    a.add_argument("--login-delay", type=int, default=0)
    a.add_argument("--conf", default="")
    a = sp.add_parser("fake")
    a.add_argument("--name", default="fake")
    a.add_argument("--script", required=True)
    a.add_argument("--tls", action="store_true")
    a.add_argument("--cert")
    a.add_argument("--key")
    a.add_argument("--mailbox")
    a = sp.add_parser("tsa")
    a.add_argument("--name", default="tsa")
    a = sp.add_parser("witness")
    a.add_argument("--name", default="witness")
    a.add_argument("--log", action="append", default=[], metavar="VKEY")
    a = sp.add_parser("seed")
    a.add_argument("name")
    a.add_argument("user")
    a.add_argument("src", nargs="+")
    a.add_argument("--as", dest="as_name")
    a = sp.add_parser("count")
    a.add_argument("name")
    a.add_argument("user")
    a = sp.add_parser("maildir")
    a.add_argument("name")
    a.add_argument("user")
    a = sp.add_parser("stop")
    a.add_argument("name")
    a = sp.add_parser("register")
    a.add_argument("name")
    a.add_argument("pid", type=int)
    sp.add_parser("cleanup")
    args = ap.parse_args(argv)

    try:
        if args.cmd == "init":
            run = Run()
            _emit({"H_RUN": run.dir})
            return 0
        if args.cmd == "port":
            print(free_port())
            return 0
        if not args.run:
            raise HarnessError("--run DIR required")
        run = Run(args.run)
        if args.cmd == "ca":
            c = run.ca()
            _emit({"H_" + k.upper(): v for k, v in c.items()})
        elif args.cmd == "dovecot":
            s = run.dovecot(args.name, users=args.user,
                            seed=_seed_arg(args.seed), rawlog=args.rawlog,
                            oauth2=args.oauth2, conf=args.conf,
                            cert=args.cert, key=args.key,
                            penalty=args.penalty)
            _emit(s.env())
        elif args.cmd == "mailutils":
            s = run.mailutils(args.name, users=args.user,
                              seed=_seed_arg(args.seed), expire0=args.expire0,
                              login_delay=args.login_delay, conf=args.conf)
            _emit(s.env())
        elif args.cmd == "fake":
            s = run.fake(args.script, args.name, tls=args.tls, cert=args.cert,
                         key=args.key, mailbox=args.mailbox)
            _emit(s.env())
        elif args.cmd == "witness":
            _emit(run.witness(args.name, args.log).env())
        elif args.cmd == "tsa":
            _emit(run.tsa(args.name).env())
        elif args.cmd == "seed":
            kind, md = _cli_maildir(run, args.name, args.user)
            for f in seed_files(args.src):
                with open(f, "rb") as fh:
                    print(maildir_deliver(md, fh.read(), name=args.as_name,
                                          lf_only=(kind == "mailutils"),
                                          size_tag=(kind == "dovecot")))
            _chown_tree(md)
        elif args.cmd == "count":
            print(maildir_count(_cli_maildir(run, args.name, args.user)[1]))
        elif args.cmd == "maildir":
            print(_cli_maildir(run, args.name, args.user)[1])
        elif args.cmd == "stop":
            if not run.stop(args.name):
                raise HarnessError("no server named %r" % args.name)
        elif args.cmd == "register":
            run.register(args.name, args.pid)
        elif args.cmd == "cleanup":
            run.cleanup()
    except (HarnessError, OSError, subprocess.SubprocessError) as e:
        sys.stderr.write("pvharness: %s\n" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
