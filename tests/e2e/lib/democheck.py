#!/usr/bin/env python3
"""What `make demo` checks of the running appliance (tests/e2e/demo.sh),
from the outside, as a browser would talk to it:

    democheck.py --url https://127.0.0.1:8443 --ca DATA/tls/cert.pem \\
        --web-root web-static --user admin:admin:PWFILE ... \\
        --search 'from:sec.gov' --expect 42

- GET /healthz answers 200;
- GET / is the web page: web-static/index.html, byte for byte, as HTML;
- each user signs in through the JSON API (POST /api/v1/session) with the
  password in PWFILE and gets the role it was made with;
- a legal user's GET /api/v1/search?q=QUERY finds --expect messages (what
  `popvault search` found), and the first result's metadata opens.
One line per check; exit status 1 when any failed.
"""
import argparse
import os
import sys
import urllib.parse

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pvweb  # noqa: E402

failed = 0


def check(ok, what, why=""):
    global failed
    print("  %s  %s%s" % ("ok  " if ok else "FAIL", what, "" if ok else ": " + why))
    failed += not ok
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--ca")
    ap.add_argument("--web-root", required=True)
    ap.add_argument("--user", action="append", default=[], help="NAME:ROLE:PASSWORD-FILE")
    ap.add_argument("--search", required=True)
    ap.add_argument("--expect", type=int, required=True)
    a = ap.parse_args()
    srv = pvweb.Server.attach(a.url, a.ca)

    r = srv.request("GET", "/healthz")
    check(r.status == 200, "GET /healthz: 200", repr(r))

    page = open(os.path.join(a.web_root, "index.html"), "rb").read()
    r = srv.request("GET", "/")
    check(r.status == 200 and r.headers.get("content-type", "").startswith("text/html")
          and r.body == page, "GET /: the web page (index.html, %d bytes, text/html)" % len(page),
          repr(r))

    legal = None
    for spec in a.user:
        name, role, pwfile = spec.split(":", 2)
        password = open(pwfile).read().rstrip("\n")
        c = pvweb.Client(srv)
        r = c.sign_in(name, password)
        j = r.json or {}
        if check(r.status == 200 and j.get("user") == name and j.get("role") == role
                 and j.get("csrf") and c.cookie,
                 "sign-in as %s through the JSON API: role %s, a session cookie" % (name, role),
                 repr(r)) and role == "legal":
            legal = c

    if legal is None:
        check(False, "search through the JSON API", "no legal user signed in")
    else:
        q = urllib.parse.quote(a.search)
        r = legal.get("/api/v1/search?q=%s&limit=5" % q)
        j = r.json or {}
        check(r.status == 200 and j.get("total") == a.expect and a.expect > 0
              and len(j.get("results", [])) == min(5, a.expect),
              "GET /api/v1/search?q=%s as legal: %d messages, as popvault search found"
              % (a.search, a.expect), repr(r)[:300])
        first = (j.get("results") or [{}])[0].get("id")
        r = legal.get("/api/v1/messages/%s" % first)
        check(r.status == 200 and (r.json or {}).get("id") == first,
              "GET /api/v1/messages/%s: its metadata" % first, repr(r)[:300])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
