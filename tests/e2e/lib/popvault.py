"""The popvault binary for python e2e scripts (popvault.sh is the bash
side): where it is, generated mail, and running it on one archive.

    import pvharness, popvault
    with pvharness.Run() as run:
        idx = popvault.genmail(os.path.join(run.dir, "mail"), "--count", 60, "--seed", 8)
        d = run.dovecot(seed={"alice": [os.path.join(run.dir, "mail")]})
        pv = popvault.Archive(os.path.join(run.dir, "data"))
        pv.harvested(d, run.dir)                        # init, account, harvest
        p = pv("--json", "search", "x", check=False)    # a CompletedProcess
"""

import json
import os
import subprocess
import sys

import pvcatalog
import pvharness

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("POPVAULT_SRC") or os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
PV = os.environ.get("POPVAULT_BIN") or os.path.join(SRC, "build", "popvault")
# The dynamic loader expands $LIB (the faketime program sets the same).
LIBFAKETIME = os.environ.get("H_LIBFAKETIME") or "/usr/$LIB/faketime/libfaketime.so.1"
# The backend matrix (tests/README): with POPVAULT_TEST_STORE=s3 every
# archive an Archive inits keeps its sealed packs in the run's Ceph RGW
# (pvharness.Run.rgw), in a bucket of its own (popvault.sh says the same).
STORE = os.environ.get("POPVAULT_TEST_STORE") or "local"
if STORE not in ("local", "s3"):
    raise SystemExit("Bail out! POPVAULT_TEST_STORE=%s: local or s3" % STORE)
# With POPVAULT_TEST_CATALOG=pg every archive an Archive inits keeps its
# catalog in the run's PostgreSQL (pvharness.Run.pg), in a database of its
# own.
CATALOG = os.environ.get("POPVAULT_TEST_CATALOG") or "sqlite"
if CATALOG not in ("sqlite", "pg"):
    raise SystemExit("Bail out! POPVAULT_TEST_CATALOG=%s: sqlite or pg" % CATALOG)


def _command(args):
    """popvault's command in args: the first word that is not an option."""
    return next((a for a in args if not a.startswith("-")), None)


def store_options():
    """The init options of a new archive in the store under test: a fresh
    bucket on the newest run's RGW (started at the first call)."""
    if STORE != "s3":
        return []
    rgw = pvharness.Run.current.rgw()
    url = "s3://pv-%s?endpoint=%s&region=%s" % (os.urandom(6).hex(), rgw["RGW_URL"],
                                                 rgw["RGW_REGION"])
    return ["--store", url, "--store-key-file", rgw["RGW_KEY_FILE"]]


def catalog_options():
    """The init options of a new archive in the catalog under test: a new
    database (with lib/pg_sqlite_compat.sql) on the newest run's
    PostgreSQL (started at the first call)."""
    if CATALOG != "pg":
        return []
    pg = pvharness.Run.current.pg()
    psql = os.path.join(os.environ.get("PG_BINDIR", "/usr/lib/postgresql/15/bin"), "psql")
    name = "pv_" + os.urandom(6).hex()
    url = "postgresql://postgres@%s:%s/%s" % (pg["PG_HOST"], pg["PG_PORT"], name)
    subprocess.run([psql, pg["PG_URL"], "-qAtc", "CREATE DATABASE " + name], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run([psql, url, "-qAt", "-v", "ON_ERROR_STOP=1", "-f",
                    os.path.join(HERE, "pg_sqlite_compat.sql")], check=True,
                   stdout=subprocess.DEVNULL)
    return ["--catalog", url]


def catalog_copy(data, url=None):
    """(PostgreSQL) a new database made from the catalog of the archive at
    data (or the database url names) as its template, which nothing may be
    connected to then; returns its URL. A snapshot to roll back to: give
    catalog_rollback a copy of it, the snapshot itself stays as it was."""
    src = url or open(os.path.join(data, "catalog.url")).read().strip()
    base, _, db = src.rpartition("/")
    db = db.split("?", 1)[0]
    name = "pv_" + os.urandom(6).hex()
    psql = os.path.join(os.environ.get("PG_BINDIR", "/usr/lib/postgresql/15/bin"), "psql")
    subprocess.run([psql, base + "/postgres", "-qAt", "-v", "ON_ERROR_STOP=1", "-c",
                    'CREATE DATABASE %s TEMPLATE "%s"' % (name, db)], check=True,
                   stdout=subprocess.DEVNULL)
    return base + "/" + name


def catalog_rollback(data, snapshot_url):
    """(PostgreSQL) the archive at data rolled back to the snapshot: its
    catalog.url names a fresh copy of it (what putting back an older
    catalog.db is on SQLite)."""
    url = catalog_copy(data, snapshot_url)
    with open(os.path.join(data, "catalog.url"), "w") as f:
        f.write(url + "\n")


def _check_stored(data):
    """The matrix must not pass by testing the local store twice."""
    db = pvcatalog.connect(data, readonly=True)
    try:
        kind = db.value("SELECT kind FROM pack_store")
    finally:
        db.close()
    if kind != "s3":
        raise SystemExit("Bail out! init: %s does not record its s3 store" % data)


def _check_catalog(data):
    """Nor by testing SQLite twice."""
    if not os.path.exists(os.path.join(data, "catalog.url")):
        raise SystemExit("Bail out! init: %s does not record its PostgreSQL catalog" % data)


def _set_rgw_clock(rgw, days):
    with open(rgw["RGW_FAKETIME"], "w") as f:
        f.write("+%dd\n" % int(days))


def store_clock(days):
    """With the s3 store, the gateway's clock from now on `days` days
    ahead, for a suite whose popvault runs stay that far ahead (a server
    under libfaketime); nothing otherwise."""
    Archive._rgw_clock(days)


def genmail(out, *args):
    """Writes generated mail to the directory out (genmail.py ARGS, quietly);
    returns the messages of its index.json."""
    subprocess.run([sys.executable, os.path.join(HERE, "genmail.py"), "--out", out]
                   + [str(a) for a in args], check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(out, "index.json")) as f:
        return json.load(f)["messages"]


class Archive:
    """popvault on the archive at data; env: variables added to every run."""

    def __init__(self, data, env=None):
        self.data = data
        self.env = env or {}

    def __call__(self, *args, check=True, data_dir=None, at=None):
        """Runs popvault --data DIR ARGS (DIR: data_dir, else this archive),
        as if run `at` days from now when given (libfaketime: the real clock
        moved by that offset, so consecutive runs never see time go back).
        Returns the CompletedProcess (output captured as bytes); with check,
        a non-zero exit ends the script with popvault's stderr."""
        args = [str(a) for a in args]
        stored = STORE == "s3" and _command(args) == "init" and "--store" not in args
        if stored:
            args += store_options()
        on_pg = CATALOG == "pg" and _command(args) == "init" and "--catalog" not in args
        if on_pg:
            args += catalog_options()
        cmd = [PV, "--data", data_dir or self.data] + args
        env = dict(os.environ, **self.env)
        if at is not None:
            # libfaketime preloaded by itself, not the faketime program
            # (harness.sh h_faketime says why).
            env["FAKETIME"] = "+%dd" % int(at)
            env["LD_PRELOAD"] = ":".join(
                lib for lib in (LIBFAKETIME, env.get("LD_PRELOAD", "")) if lib)
            # faketime is an LD_PRELOAD library: an ASan build must accept it.
            env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"
        rgw = self._rgw_clock(at)
        try:
            p = subprocess.run(cmd, capture_output=True, env=env)
        finally:
            if rgw:
                _set_rgw_clock(rgw, 0)
        if check and p.returncode != 0:
            raise SystemExit("popvault %s failed (%d): %s" % (args, p.returncode, p.stderr.decode()))
        if stored and p.returncode == 0:
            _check_stored(data_dir or self.data)
        if on_pg and p.returncode == 0:
            _check_catalog(data_dir or self.data)
        return p

    @staticmethod
    def _rgw_clock(at):
        """With the s3 store and a time moved by `at` days, the gateway's
        clock moves along for the call (Object Lock's retain-until is
        judged by it; SigV4 refuses a request 15 minutes off it). Returns
        the RGW's variables when it was moved."""
        run = pvharness.Run.current
        if STORE != "s3" or at is None or run is None or run._rgw is None:
            return None
        _set_rgw_clock(run._rgw, at)
        return run._rgw

    def glass(self, at=None):
        """Approves the newest pending approval (policy propose, hold
        release, dispose) alone with --break-glass, as a test archive's single
        operator: the two-person rule's documented single-operator path
        (popvault.sh's pv_glass). Returns the CompletedProcess."""
        pending = json.loads(self("--json", "approvals", "list").stdout)
        return self("approvals", "approve", pending[0]["id"], "--break-glass", "--reason",
                    "e2e: a single operator", at=at)

    def harvested(self, dovecot, run_dir, user="alice"):
        """init, then account USER on the Dovecot server (implicit TLS, its
        CA, password USERpw as the harness's default users have), then
        harvest --once."""
        pw = os.path.join(run_dir, user + ".pw")
        with open(pw, "w") as f:
            f.write(user + "pw\n")
        self("init")
        self("account", "add", user, "--host", "localhost", "--port", dovecot.vars["TLS_PORT"],
             "--user", user, "--password-file", pw, "--ca-file", dovecot.vars["CA"])
        self("harvest", "--once")
