#!/usr/bin/env python3
# The role matrix (issue 13, docs/ARCHITECTURE.md §8: deny by default, one table),
# generated from the route table itself (`popvault serve --print-routes`),
# so every route added later is checked too: each route x {anonymous,
# admin, legal, compliance} against a real server, one check per cell:
#   anonymous on a route for signed-in users  -> 401
#   a signed-in role the route does not list  -> 403
#   a role the route lists, or a public route -> neither 401 nor 403
#     (placeholder ids: 404 or 400 is fine, the request got past the roles)
# and, from the table: an admin reaches no route that returns mail content.
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(HERE, "lib"))
import popvault  # noqa: E402
import pvharness  # noqa: E402
import pvweb  # noqa: E402

PV = popvault.PV
PW = "correct horse battery"
ROLES = ("admin", "legal", "compliance")
# Routes whose answers are (or lead to) message content: legal's alone.
CONTENT = re.compile(r"^/api/v1/(messages|search|exports)(/|$)")
PLACEHOLDER = "999999999"
t = pvharness.Tap()

routes = [json.loads(ln) for ln in subprocess.run(
    [PV, "serve", "--print-routes"], capture_output=True, check=True).stdout.decode().splitlines()
    if ln.strip()]

# ---- the table itself --------------------------------------------------------
keys = [(r["method"], r["pattern"]) for r in routes]
t.ok(len(routes) > 0 and len(set(keys)) == len(keys), "the route table: %d routes, none twice"
     % len(routes), repr(keys))
t.ok(all(set(r["roles"]) <= set(ROLES) and (r["public"] or r["roles"]) for r in routes),
     "every route lists known roles, or is public")
content = [r for r in routes if CONTENT.match(r["pattern"])]
t.ok(all("admin" not in r["roles"] and not r["public"] and not r["bearer"] for r in content),
     "no route to message content (/messages, /search, /exports) lets an admin in "
     "(%d such routes)" % len(content), repr(content))
t.ok(all(r["pattern"].startswith("/api/") or r["public"] or r["bearer"] for r in routes),
     "outside /api/ only public routes and the scrape-token route")


def concrete(pattern):
    """A path for the pattern: every {param} a placeholder no object has."""
    if pattern == "/*":
        return "/no-such-file-%s.txt" % PLACEHOLDER
    return re.sub(r"\{[^}]*\}", PLACEHOLDER, pattern)


with pvharness.Run() as run:
    data = os.path.join(run.dir, "data")
    pv = popvault.Archive(data)
    pv("init")
    pwf = os.path.join(run.dir, "pw")
    open(pwf, "w").write(PW + "\n")
    for role in ROLES:
        pv("user", "add", "m-" + role, "--role", role, "--password-file", pwf)
    srv = pvweb.Server(run, PV, data)

    clients = {"anonymous": pvweb.Client(srv)}
    for role in ROLES:
        clients[role] = pvweb.Client(srv)
        r = clients[role].sign_in("m-" + role, PW)
        if r.status != 200:
            raise SystemExit("sign-in of m-%s failed: %r" % (role, r))

    for rt in routes:
        method, path = rt["method"], concrete(rt["pattern"])
        for who in ("anonymous",) + ROLES:
            c = clients[who]
            body = {} if rt["json_body"] else None
            r = c.request(method, path, body)
            if who == "anonymous":
                want = "not 401/403" if rt["public"] else "401"
            elif rt["public"] or who in rt["roles"]:
                want = "not 401/403"
            else:
                want = "403"
            got_ok = (r.status not in (401, 403) if want == "not 401/403"
                      else r.status == int(want))
            t.ok(got_ok, "%s %s as %s: %s (got %d)" % (method, rt["pattern"], who, want,
                                                       r.status), repr(r))
            # A cell may end its own session (sign-out): sign in again.
            if who != "anonymous" and method != "GET" and c.get("/api/v1/me").status == 401:
                c.cookie = None
                c.sign_in("m-" + who, PW)
    t.is_(srv.stop(), 0, "serve stops cleanly")

sys.exit(t.done())
