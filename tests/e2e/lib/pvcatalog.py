"""The catalog of a test archive, read from the e2e suites' python parts
whatever its engine (the backend matrix, tests/README): SQLite's
DIR/catalog.db, or the PostgreSQL database DIR/catalog.url names (through
psql, whose rows come back as sqlite3 would give them: strings, with the
suites' SQLite forms provided by lib/pg_sqlite_compat.sql).

    import sys; sys.path.insert(0, H_LIB); import pvcatalog
    cat = pvcatalog.connect(data_dir)
    rows = cat.rows("select lower(hex(sha256)) from messages")
    n = cat.value("select count(*) from messages")
    cat.execute("update messages set size = size + 1 where id = 60")
"""
import os
import sqlite3
import subprocess

PSQL = os.path.join(os.environ.get("PG_BINDIR", "/usr/lib/postgresql/15/bin"), "psql")


class _Sqlite:
    def __init__(self, path, readonly):
        uri = "file:%s%s" % (path, "?mode=ro" if readonly else "")
        self.db = sqlite3.connect(uri, uri=True, timeout=30)

    def rows(self, sql, params=()):
        return [tuple(str(v) if v is not None else None for v in r)
                for r in self.db.execute(sql, params)]

    def execute(self, sql, params=()):
        self.db.execute(sql, params)
        self.db.commit()

    def close(self):
        self.db.close()


class _Pg:
    def __init__(self, url):
        self.url = url

    def rows(self, sql, params=()):
        # Parameters are ints in the suites; anything else is refused
        # rather than quoted by hand.
        for p in params:
            if not isinstance(p, int):
                raise TypeError("pvcatalog: only int parameters on PostgreSQL")
        parts = sql.split("?")
        if len(parts) != len(params) + 1:
            raise ValueError("pvcatalog: %d placeholders, %d parameters" % (len(parts) - 1, len(params)))
        text = parts[0] + "".join(str(p) + rest for p, rest in zip(params, parts[1:]))
        out = subprocess.run([PSQL, self.url, "-qAt", "-F", "\x1f", "-v", "ON_ERROR_STOP=1",
                              "-c", text], stdout=subprocess.PIPE, check=True, text=True).stdout
        return [tuple(line.split("\x1f")) for line in out.splitlines()]

    def execute(self, sql, params=()):
        self.rows(sql, params)

    def close(self):
        pass


class Catalog:
    def __init__(self, impl):
        self.impl = impl

    def rows(self, sql, params=()):
        return self.impl.rows(sql, params)

    def execute(self, sql, params=()):
        """A change (a test's tampering), committed."""
        self.impl.execute(sql, params)

    def value(self, sql, params=()):
        r = self.rows(sql, params)
        return r[0][0] if r else None

    def close(self):
        self.impl.close()


def connect(data_dir, readonly=False):
    url = os.path.join(data_dir, "catalog.url")
    if os.path.exists(url):
        with open(url) as f:
            return Catalog(_Pg(f.read().strip()))
    return Catalog(_Sqlite(os.path.join(data_dir, "catalog.db"), readonly))
