#!/usr/bin/env python3
# The admin's whole job through the API alone (issue 13, docs/api.md "Admin
# and system"): a real `popvault serve` over HTTPS, a real Dovecot upstream,
# a real client. Add an account and test it (read-only upstream), edit it
# (the password again for a new host), harvest now in the background, see
# the dashboard with the account's last harvest, add a user (a one-time
# password: they choose their own at their first sign-in), the user sets up
# their own TOTP and signs in with it (no admin ever sees it), require TOTP
# for a role (set up at the sign-in), change a role (sessions end),
# read /metrics as Prometheus text (session and scrape token), and never
# open a message. Every change is checked in the audit log.
import hashlib
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(HERE, "lib"))
import popvault  # noqa: E402
import pvharness  # noqa: E402
import pvweb  # noqa: E402

PV = popvault.PV
PW = "correct horse battery"
TOKEN = "scrape-token-0123456789abcdef"
t = pvharness.Tap()


def error_is(r, status, code):
    j = r.json
    return (r.status == status and isinstance(j, dict) and list(j) == ["error"]
            and j["error"].get("code") == code)


# ---- Prometheus text format 0.0.4, parsed strictly ------------------------
NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL_VALUE = r'"(?:[^"\\\n]|\\\\|\\"|\\n)*"'
SAMPLE = re.compile(r"^(%s)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*=%s)(?:,[a-zA-Z_][a-zA-Z0-9_]*=%s)*\})?"
                    r" (-?[0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?|NaN|[+-]Inf)$"
                    % (NAME, LABEL_VALUE, LABEL_VALUE))


def parse_prometheus(text):
    """{(name, frozenset(labels)): value}, or raises ValueError naming the
    first line that breaks the format: every sample's family has HELP and
    TYPE first, each family once, label values escaped."""
    helps, types, samples = set(), {}, {}
    if not text.endswith("\n"):
        raise ValueError("no final newline")
    for ln in text.split("\n")[:-1]:
        if ln.startswith("# HELP "):
            name = ln.split(" ")[2]
            if not re.fullmatch(NAME, name) or name in helps:
                raise ValueError("bad or repeated HELP: %r" % ln)
            helps.add(name)
        elif ln.startswith("# TYPE "):
            parts = ln.split(" ")
            if len(parts) != 4 or parts[3] not in ("counter", "gauge", "histogram",
                                                   "summary", "untyped"):
                raise ValueError("bad TYPE: %r" % ln)
            if parts[2] not in helps or parts[2] in types:
                raise ValueError("TYPE without HELP, or repeated: %r" % ln)
            types[parts[2]] = parts[3]
        else:
            m = SAMPLE.match(ln)
            if not m:
                raise ValueError("not a sample: %r" % ln)
            name = m.group(1)
            if name not in types:
                raise ValueError("sample before its TYPE: %r" % ln)
            labels = frozenset(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"',
                                          m.group(2) or ""))
            samples[(name, labels)] = float(m.group(3))
    return types, samples


with pvharness.Run() as run:
    mail = os.path.join(run.dir, "mail")
    idx = popvault.genmail(mail, "--count", 8, "--seed", 13)
    d = run.dovecot(seed={"alice": [mail]}, conf="auth_failure_delay = 0")
    data = os.path.join(run.dir, "data")
    pv = popvault.Archive(data)

    def audit(type_):
        out = pv("--json", "audit", "list", "--type", type_).stdout.decode()
        return [json.loads(ln) for ln in out.splitlines() if ln.strip()]

    # The appliance's first admin comes from the CLI; everything else is API.
    pv("init")
    pwf = os.path.join(run.dir, "pw")
    open(pwf, "w").write(PW + "\n")
    pv("user", "add", "adam", "--role", "admin", "--password-file", pwf)
    # A compliance officer from the CLI too: access to mail an admin grants
    # in the web waits for one (user_access.h), who is not the admin's.
    pv("user", "add", "cora", "--role", "compliance", "--password-file", pwf)
    tokf = os.path.join(run.dir, "metrics.sha256")
    open(tokf, "w").write(hashlib.sha256(TOKEN.encode()).hexdigest() + "\n")
    srv = pvweb.Server(run, PV, data, ["--metrics-token-file", tokf])
    routes = [json.loads(ln) for ln in subprocess.run(
        [PV, "serve", "--print-routes"], capture_output=True, check=True).stdout.decode().splitlines()]

    adam = pvweb.Client(srv)
    t.is_(adam.sign_in("adam", PW).status, 200, "adam (admin) signs in")
    cora = pvweb.Client(srv)
    t.is_(cora.sign_in("cora", PW).status, 200, "cora (compliance) signs in")
    # (with a second factor: requiring one of compliance below ends the
    # sessions of those without)
    r = cora.request("POST", "/api/v1/me/totp", {"password": PW})
    t.is_(cora.request("PUT", "/api/v1/me/totp",
                       {"code": pvweb.totp((r.json or {}).get("secret", ""))}).status, 200,
          "…and sets up a second factor")

    def grant(name):
        """cora approves the access that name's account waits for; the
        approval's id."""
        r = adam.get("/api/v1/users")
        acc = {u["name"]: u for u in r.json["users"]}[name]["access"]
        r = cora.request("POST", "/api/v1/approvals/%d/approve" % acc["approval"],
                         {"reason": "on the legal team"})
        t.ok(r.status == 200 and r.json["approval"]["state"] == "approved"
             and r.json["effect"] == {"may_sign_in": name},
             "cora approves %s's access (approval %d)" % (name, acc["approval"]), repr(r))
        return acc["approval"]

    # ---- accounts ---------------------------------------------------------
    acct = {"name": "alice", "host": "localhost", "port": int(d.vars["TLS_PORT"]),
            "tls": "implicit", "user": "alice", "password": "alicepw", "auth": "auto",
            "ca_file": d.vars["CA"]}
    r = adam.request("POST", "/api/v1/accounts", acct)
    a = r.json or {}
    t.is_(r.status, 201, "POST /api/v1/accounts adds an account: 201")
    t.ok(a.get("name") == "alice" and a.get("host") == "localhost" and
         a.get("port") == int(d.vars["TLS_PORT"]) and a.get("tls") == "implicit" and
         a.get("user") == "alice" and a.get("auth") == "auto" and
         a.get("ca_file") == d.vars["CA"] and a.get("keep_upstream") is False and
         a.get("verify_certificate") is True and a.get("last_harvest") is None and
         a.get("runs") == {"ok": 0, "failed": 0} and a.get("residue_upstream") == 0 and
         "next_run" in a and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", a.get("created", "")),
         "the new account's settings and an empty harvest record", repr(a))
    t.ok("password" not in a and b"alicepw" not in r.body, "the password is not returned")
    t.ok(error_is(adam.request("POST", "/api/v1/accounts", acct), 409, "conflict"),
         "the same name again: 409 conflict")
    bad = dict(acct, name="bad", port=0)
    t.ok(error_is(adam.request("POST", "/api/v1/accounts", bad), 400, "bad_request"),
         "port 0: 400")
    r = adam.request("POST", "/api/v1/accounts", dict(acct, name="bad", ca_file="/nonexistent/ca.pem"))
    t.ok(error_is(r, 400, "bad_request") and r.json["error"]["message"] == "CA file: open /nonexistent/ca.pem: No such file or directory",
         "a CA file that is not there: 400, named (not a TLS error at every harvest)", repr(r))
    r = adam.request("POST", "/api/v1/accounts", dict(acct, name="bad", ca_file="/etc/hostname"))
    t.ok(error_is(r, 400, "bad_request") and "holds no PEM certificate" in r.json["error"]["message"],
         "a CA file without a certificate: 400", repr(r))
    bad = dict(acct, name="bad", insecure_skip_verify=True)
    t.ok(error_is(adam.request("POST", "/api/v1/accounts", bad), 400, "bad_request"),
         "certificate checking cannot be switched off through the API: 400")
    r = adam.get("/api/v1/accounts")
    t.ok(r.status == 200 and [x["name"] for x in r.json["accounts"]] == ["alice"]
         and b"alicepw" not in r.body, "GET /api/v1/accounts lists it, without the password")
    ev = audit("account-add")
    t.ok(len(ev) == 1 and ev[0]["actor"] == "web:adam" and "account=alice" in ev[0]["object"],
         "audited account-add by web:adam", repr(ev))

    # The connection test: read-only upstream.
    r = adam.request("POST", "/api/v1/accounts/alice/test")
    j = r.json or {}
    t.ok(r.status == 200 and j.get("ok") is True and j.get("stage") == "done"
         and j.get("error") is None and j.get("messages") == len(idx)
         and j.get("octets") == sum(m["size"] for m in idx)
         and (j.get("tls") or {}).get("verified") is True
         and "UIDL" in j.get("capabilities", []) and isinstance(j.get("auth"), str)
         and isinstance(j.get("elapsed_ms"), int),
         "POST .../test: connected, TLS verified, logged in, STAT counts the mailbox", repr(j))
    t.is_(d.count("alice"), len(idx), "the test deleted nothing upstream")
    ev = audit("account-test")
    t.ok(len(ev) == 1 and ev[0]["actor"] == "web:adam" and ev[0]["outcome"] == "ok"
         and "account=alice" in ev[0]["object"] and "stage=done" in ev[0]["object"],
         "audited account-test, outcome ok", repr(ev))
    t.ok(error_is(adam.request("POST", "/api/v1/accounts/nosuch/test"), 404, "not_found"),
         "testing an account that does not exist: 404")

    # Edit: a wrong password makes the test fail at login; a new host needs it again.
    r = adam.request("PATCH", "/api/v1/accounts/alice", {"password": "wrong-password"})
    t.is_(r.status, 200, "PATCH the password: 200")
    j = adam.request("POST", "/api/v1/accounts/alice/test").json or {}
    t.ok(j.get("ok") is False and j.get("stage") == "login" and j.get("error"),
         "with a wrong password the test stops at login and says why", repr(j))
    ev = audit("account-test")
    t.ok(len(ev) == 2 and ev[1]["outcome"].startswith("failed: "),
         "the failed test is audited with its reason", repr(ev))
    r = adam.request("PATCH", "/api/v1/accounts/alice", {"host": "127.0.0.1"})
    t.ok(error_is(r, 400, "bad_request") and "password" in r.json["error"]["message"],
         "a new host without the password again: 400", repr(r))
    r = adam.request("PATCH", "/api/v1/accounts/alice", {"host": "127.0.0.1", "password": "alicepw"})
    t.ok(r.status == 200 and r.json["host"] == "127.0.0.1", "a new host with the password: 200")
    ev = audit("account-change")
    t.ok(len(ev) == 2 and "changed=password" in ev[0]["object"]
         and "changed=host,password" in ev[1]["object"] and ev[1]["actor"] == "web:adam",
         "both edits audited as account-change, naming what changed", repr(ev))
    t.ok(error_is(adam.request("PATCH", "/api/v1/accounts/alice", {"name": "x"}), 400,
                  "bad_request"), "an unknown key (the name cannot change): 400")
    t.ok(error_is(adam.request("PATCH", "/api/v1/accounts/nosuch", {"port": 995}), 404,
                  "not_found"), "editing an account that does not exist: 404")
    j = adam.request("POST", "/api/v1/accounts/alice/test").json or {}
    t.ok(j.get("ok") is True, "the test passes again with the new host", repr(j))

    # ---- harvest now --------------------------------------------------------
    r = adam.get("/api/v1/harvest")
    t.ok(r.status == 200 and r.json["state"] == "idle" and r.json["result"] is None,
         "GET /api/v1/harvest before any: idle", repr(r))
    t.ok(error_is(adam.request("POST", "/api/v1/harvest", {"account": "nosuch"}), 404,
                  "not_found"), "harvest now of an account that does not exist: 404")
    r = adam.request("POST", "/api/v1/harvest", {})
    t.ok(r.status == 202 and r.json["state"] in ("running", "done")
         and r.json["requested_by"] == "adam", "POST /api/v1/harvest: 202, running", repr(r))
    deadline = time.time() + 60
    while time.time() < deadline:
        j = adam.get("/api/v1/harvest").json
        if j["state"] != "running":
            break
        time.sleep(0.2)
    res = j.get("result") or {}
    t.ok(j["state"] == "done" and j["error"] is None and res.get("fetched") == len(idx)
         and res.get("deleted") == len(idx) and res.get("sessions") == 1
         and res.get("errors") == [] and j["finished"] is not None,
         "the harvest ran in the background and archived every message", repr(j))
    t.is_(d.count("alice"), 0, "and deleted them upstream")
    ev = audit("harvest-request")
    t.ok(len(ev) == 1 and ev[0]["actor"] == "web:adam" and ev[0]["object"] == "account=*",
         "audited harvest-request account=* before it ran", repr(ev))

    # ---- the dashboard ---------------------------------------------------------
    pv("verify")
    r = adam.get("/api/v1/status")
    s = r.json or {}
    today = time.strftime("%Y-%m-%d", time.gmtime())
    acc = (s.get("accounts") or [{}])[0]
    lh = acc.get("last_harvest") or {}
    t.ok(r.status == 200 and s["archive"]["messages"] == len(idx)
         and s["archive"]["bytes"] == sum(m["size"] for m in idx)
         and s["archive"]["accounts"] == 1, "status: archive counts and bytes", repr(s))
    t.ok(acc.get("name") == "alice" and lh.get("fetched") == len(idx)
         and lh.get("deleted") == len(idx) and lh.get("ok") is True and lh.get("outcome") == "ok"
         and acc.get("runs") == {"ok": 1, "failed": 0} and acc.get("residue_upstream") == 0
         and acc.get("last_success") == lh.get("time"),
         "status: the account's last harvest", repr(acc))
    g = s.get("growth") or []
    t.ok(len(g) == 30 and g[-1] == {"day": today, "messages": len(idx),
                                     "bytes": sum(m["size"] for m in idx)}
         and all(x["messages"] == 0 for x in g[:-1]),
         "status: 30 days of growth, today last", repr(g[-2:]))
    # FTS5's segments; PostgreSQL's index has none to show (null)
    seg_ok = s["index"]["segments"] is None if popvault.CATALOG == "pg" \
        else isinstance(s["index"]["segments"], int) and s["index"]["segments"] >= 1
    t.ok(s["index"]["lag"] == 0 and seg_ok,
         "status: nothing waits for the index; its segments are shown", repr(s["index"]))
    lg = s["logs"]
    t.ok(lg["archive"]["size"] >= len(idx) and lg["audit"]["size"] > 0
         and lg["archive"]["checkpoint_time"] and 0 <= lg["audit"]["age_s"] < 120,
         "status: both logs' sizes and checkpoint ages", repr(lg))
    t.ok((s.get("verify") or {}).get("outcome") == "ok" and s["verify"]["full"] is False,
         "status: the last verify run", repr(s.get("verify")))
    t.ok(s["heartbeat"]["gaps"] == 0 and s["heartbeat"]["last_entry"] and
         "pending_approvals" in s, "status: heartbeat gaps", repr(s["heartbeat"]))

    # ---- users and TOTP ----------------------------------------------------------
    # What an admin sets is one-time: the user signs in once with it, choosing
    # their own; users set up their own second factor: no admin sees it.
    OWN = "a quiet river at dawn"
    r = adam.request("POST", "/api/v1/users", {"name": "lena", "role": "legal", "password": PW})
    lena_access = (r.json or {}).get("access") or {}
    t.ok(r.status == 201 and r.json == {"name": "lena", "role": "legal", "totp": False,
                                        "totp_pending": False, "password_once": True,
                                        "password_set_by": "web:adam",
                                        "access": {"approval": lena_access.get("approval"),
                                                   "state": "pending"},
                                        "created": r.json.get("created"), "changed": None},
         "POST /api/v1/users adds lena (legal) with a one-time password, her access to mail "
         "waiting for approval: 201", repr(r))
    t.ok(error_is(pvweb.Client(srv).sign_in("lena", PW, new_password="a quiet river at dawn"),
                  401, "access_not_approved"),
         "lena (or whoever has the password adam set) cannot sign in yet: 401 access_not_approved")
    t.ok(any(e["actor"] == "web:lena" and e["outcome"] == "denied: access not approved yet"
             for e in audit("login-failed")), "…audited as a failed sign-in")
    r = cora.get("/api/v1/approvals/%d" % lena_access.get("approval", 0))
    t.ok(r.status == 200 and r.json["kind"] == "user-access" and r.json["state"] == "pending"
         and r.json["proposer"] == "web:adam" and r.json["proposal"] == {"user": "lena", "role": "legal"}
         and "let lena sign in with the role legal" in r.json["summary"],
         "cora sees what is asked: kind user-access, by web:adam, for lena", repr(r.json))
    r = adam.request("POST", "/api/v1/approvals/%d/approve" % lena_access.get("approval", 0),
                     {"reason": "mine"})
    t.ok(error_is(r, 403, "forbidden"), "adam cannot approve it himself: 403", repr(r))
    grant("lena")
    r = cora.get("/api/v1/approvals/%d" % lena_access.get("approval", 0))
    t.is_(r.json.get("proposal"), {"user": "lena", "role": None},
          "decided, it names no role (the account's role now need not be the one it opened)")
    t.ok(error_is(adam.request("POST", "/api/v1/users",
                               {"name": "lena", "role": "legal", "password": PW}), 409, "conflict"),
         "the same name again: 409")
    t.ok(error_is(adam.request("POST", "/api/v1/users",
                               {"name": "x", "role": "root", "password": PW}), 400, "bad_request"),
         "an unknown role: 400")
    t.ok(error_is(adam.request("POST", "/api/v1/users",
                               {"name": "x", "role": "legal", "password": "short"}), 400,
                  "bad_request"), "a short password: 400")
    for weak, why in (("x" * 16, "too few"), ("xyzzy-xyzzy-xyzzy", "too few"),
                      ("My popvault 2026", "popvault")):
        r = adam.request("POST", "/api/v1/users", {"name": "xena", "role": "legal", "password": weak})
        t.ok(error_is(r, 400, "bad_request") and why in r.json["error"]["message"],
             "a weak password (%r) is refused, saying why" % weak, repr(r.json))
    r = adam.request("POST", "/api/v1/users/lena/totp")
    t.ok(r.status in (404, 405) and "secret" not in r.body.decode("utf-8", "replace"),
         "an admin cannot enrol (and so see) another's second factor: %d" % r.status, repr(r))
    lena = pvweb.Client(srv)
    t.ok(error_is(lena.sign_in("lena", PW), 401, "password_change_required"),
         "lena's first sign-in without a new password: 401 password_change_required")
    t.ok(error_is(lena.sign_in("lena", PW, new_password=PW), 400, "bad_request"),
         "…the one-time password again as the new one: 400")
    r = lena.sign_in("lena", PW, new_password="Lena lena lena 1")
    t.ok(error_is(r, 400, "bad_request") and "name" in r.json["error"]["message"],
         "…one holding her name: 400, saying why", repr(r.json))
    t.is_(lena.sign_in("lena", PW, new_password=OWN).status, 200,
          "…with a new password of her own she is signed in")
    t.ok(error_is(pvweb.Client(srv).sign_in("lena", PW), 401, "unauthorized"),
         "the one-time password works no more")
    users = {u["name"]: u for u in adam.get("/api/v1/users").json["users"]}
    t.ok(users["lena"]["password_once"] is False and users["lena"]["password_set_by"] == "web:adam"
         and users["adam"]["password_set_by"] == "cli:root",
         "…and is no longer one-time (who first set it stays known)", repr(users))

    # Signed in, she sets up a second factor: with her password, then a code.
    t.ok(error_is(lena.request("POST", "/api/v1/me/totp", {"password": PW}), 403, "forbidden"),
         "POST /api/v1/me/totp with a wrong password: 403 (a session left open is not enough)")
    r = lena.request("POST", "/api/v1/me/totp", {"password": OWN})
    enr = r.json or {}
    t.ok(r.status == 201 and enr.get("user") == "lena"
         and re.fullmatch(r"[A-Z2-7]{32}", enr.get("secret", ""))
         and enr.get("uri") == ("otpauth://totp/popvault:lena?secret=%s&issuer=popvault"
                                "&algorithm=SHA1&digits=6&period=30" % enr.get("secret")),
         "POST /api/v1/me/totp: the otpauth URI and secret, to her", repr(enr))
    users = {u["name"]: u for u in adam.get("/api/v1/users").json["users"]}
    t.ok(users["lena"]["totp"] is False and users["lena"]["totp_pending"] is True,
         "the admin sees it being set up, not its secret", repr(users["lena"]))
    good = pvweb.totp(enr["secret"])
    wrong = "%06d" % ((int(good) + 1) % 1000000)
    t.ok(error_is(lena.request("PUT", "/api/v1/me/totp", {"code": wrong}), 400, "bad_request"),
         "PUT /api/v1/me/totp with a wrong code: 400")
    t.ok(any(e["actor"] == "web:lena" and "(second factor set-up)" in e["outcome"]
             for e in audit("login-failed")),
         "…counted and audited as a failed sign-in (a stolen session cannot try codes without end)")
    t.is_(lena.get("/api/v1/me").status, 200, "…her session goes on")
    r = lena.request("PUT", "/api/v1/me/totp", {"code": good})
    t.ok(r.status == 200 and r.json == {"user": "lena", "totp": True},
         "…the right code enrols it", repr(r))
    t.ok(error_is(lena.request("PUT", "/api/v1/me/totp", {"code": good}), 409, "conflict"),
         "…nothing left being set up: 409")
    t.is_(lena.get("/api/v1/me").json.get("totp"), True, "GET /api/v1/me: totp true")
    users = {u["name"]: u for u in adam.get("/api/v1/users").json["users"]}
    t.ok(users["lena"]["totp"] is True and users["adam"]["role"] == "admin",
         "GET /api/v1/users: lena has a second factor now", repr(users))
    r = pvweb.Client(srv).request("POST", "/api/v1/session/totp", {"user": "lena", "password": OWN})
    t.ok(error_is(r, 409, "conflict"),
         "a second factor is not replaced with a password alone (POST /session/totp): 409")
    t.ok(any(e["actor"] == "web:lena" and "second factor is enrolled" in e["outcome"]
             for e in audit("login-failed")),
         "…audited as a failed sign-in (it tells the password was right)")
    lena = pvweb.Client(srv)
    t.ok(error_is(lena.sign_in("lena", OWN), 401, "totp_required"),
         "lena without a code: 401 totp_required")
    t.ok(error_is(lena.sign_in("lena", OWN, good), 401, "unauthorized"),
         "…the code used to enrol is used up")
    # A code is accepted once: the next one is the next step's (RFC 6238
    # §5.2 allows one step of drift each way).
    t.is_(lena.sign_in("lena", OWN, pvweb.totp(enr["secret"], time.time() + 30)).status, 200,
          "lena signs in with her password and TOTP code")
    r = lena.get("/api/v1/status")
    t.ok(r.status == 200 and "accounts" not in r.json and r.json["archive"]["messages"] == len(idx),
         "legal sees the status without the accounts", repr(r))
    t.is_(lena.get("/api/v1/users").status, 403, "legal may not list users: 403")

    t.ok(error_is(adam.request("PUT", "/api/v1/settings/totp", {"required_roles": ["admin"]}),
                  409, "conflict"),
         "requiring a second factor of admins while none has one: 409")
    t.is_(adam.get("/api/v1/settings/totp").json, {"required_roles": []}, "…and nothing changed")
    r = adam.request("POST", "/api/v1/me/totp", {"password": PW})
    adam_secret = (r.json or {}).get("secret", "")
    t.is_(r.status, 201, "adam sets up a second factor")
    t.is_(adam.request("PUT", "/api/v1/me/totp", {"code": pvweb.totp(adam_secret)}).status, 200,
          "…and confirms it")
    t.is_(adam.request("PUT", "/api/v1/settings/totp", {"required_roles": ["admin"]}).status, 200,
          "…then admins may be made to use one")
    t.ok(error_is(adam.request("DELETE", "/api/v1/users/adam/totp"), 409, "conflict"),
         "removing the only admin's second factor while admins need one: 409")
    t.is_(adam.request("PUT", "/api/v1/settings/totp", {"required_roles": []}).status, 200,
          "none required again")
    t.is_(adam.request("DELETE", "/api/v1/users/adam/totp").status, 200, "…then it may go")
    adam.request("POST", "/api/v1/users", {"name": "lou", "role": "legal", "password": PW})
    grant("lou")
    lou = pvweb.Client(srv)
    lou.sign_in("lou", PW, new_password="copper kettle singing")
    t.is_(lou.get("/api/v1/me").status, 200, "lou signed in (a new password of his own)")
    r = adam.request("PUT", "/api/v1/settings/totp", {"required_roles": ["compliance", "legal"]})
    t.ok(r.status == 200 and r.json == {"required_roles": ["legal", "compliance"]},
         "PUT /api/v1/settings/totp: normalised", repr(r))
    t.is_(lou.get("/api/v1/me").status, 401,
          "…which ends the sessions of legal and compliance users without a second factor")
    t.is_(adam.get("/api/v1/settings/totp").json, {"required_roles": ["legal", "compliance"]},
          "GET /api/v1/settings/totp")
    t.ok(error_is(adam.request("PUT", "/api/v1/settings/totp", {"required_roles": ["root"]}),
                  400, "bad_request"), "an unknown role: 400")

    # A new user of a role that needs a second factor: one sign-in sets
    # both their own password and their own second factor.
    adam.request("POST", "/api/v1/users", {"name": "tina", "role": "legal", "password": PW})
    grant("tina")
    TINA = "seven green lanterns"
    tina = pvweb.Client(srv)
    t.ok(error_is(tina.sign_in("tina", PW), 401, "password_change_required"),
         "tina (one-time password): 401 password_change_required first")
    t.ok(error_is(tina.sign_in("tina", PW, new_password=TINA), 401, "totp_not_enrolled"),
         "…with a new one: 401 totp_not_enrolled (her role needs a second factor)")
    t.ok(error_is(pvweb.Client(srv).sign_in("tina", TINA), 401, "unauthorized"),
         "…and her password is unchanged until the whole sign-in succeeds")
    t.ok(error_is(tina.request("POST", "/api/v1/session/totp", {"user": "tina", "password": "nope"}),
                  401, "unauthorized"), "POST /api/v1/session/totp with a wrong password: 401")
    r = tina.request("POST", "/api/v1/session/totp", {"user": "tina", "password": PW})
    tsec = (r.json or {}).get("secret", "")
    t.ok(r.status == 201 and re.fullmatch(r"[A-Z2-7]{32}", tsec)
         and r.json["uri"].startswith("otpauth://totp/popvault:tina?secret=" + tsec),
         "POST /api/v1/session/totp (public): a secret being set up, shown to her", repr(r))
    t.ok(error_is(tina.sign_in("tina", PW, "000000" if pvweb.totp(tsec) != "000000" else "111111",
                               new_password=TINA), 401, "unauthorized"),
         "…a wrong code: 401, nothing enrolled")
    r = tina.sign_in("tina", PW, pvweb.totp(tsec), new_password=TINA)
    t.is_(r.status, 200, "…password, new password and a code from it: signed in")
    t.is_(tina.get("/api/v1/me").json.get("totp"), True, "…with the second factor enrolled")
    t.is_(pvweb.Client(srv).sign_in("tina", TINA, pvweb.totp(tsec, time.time() + 30)).status, 200,
          "her own password and the code sign her in from now on")
    r = adam.request("DELETE", "/api/v1/users/tina/totp")
    t.is_(r.status, 200, "the admin takes tina's second factor away (a lost phone)")
    t.ok(error_is(pvweb.Client(srv).sign_in("tina", TINA), 401, "totp_not_enrolled"),
         "…she is asked to set up a new one at her next sign-in")
    r = adam.request("PUT", "/api/v1/settings/totp", {"required_roles": []})
    t.ok(r.status == 200 and r.json == {"required_roles": []}, "none required again", repr(r))

    r = adam.request("PATCH", "/api/v1/users/lena", {"role": "compliance"})
    t.ok(r.status == 200 and r.json["role"] == "compliance"
         and (r.json.get("access") or {}).get("state") == "pending",
         "PATCH lena's role: 200, compliance (it approves: the account waits too)", repr(r))
    t.is_(lena.get("/api/v1/me").status, 401, "her session ended with the role change")
    t.ok(error_is(adam.request("PATCH", "/api/v1/users/adam", {"role": "legal"}), 409, "conflict"),
         "an admin cannot change their own role: 409")
    t.ok(error_is(adam.request("DELETE", "/api/v1/users/adam"), 409, "conflict"),
         "an admin cannot remove themselves: 409")
    r = adam.request("PATCH", "/api/v1/users/tina", {"password": "another long passphrase"})
    t.ok(r.status == 200 and r.json["password_once"] is True
         and (r.json.get("access") or {}).get("state") == "pending",
         "PATCH a legal user's password: 200, one-time, her access waiting for approval again",
         repr(r))
    t.ok(error_is(pvweb.Client(srv).sign_in("tina", "another long passphrase"), 401,
                  "access_not_approved"), "…so nobody signs in with it yet: 401")
    grant("tina")
    t.ok(error_is(pvweb.Client(srv).sign_in("tina", "another long passphrase"), 401,
                  "password_change_required"), "…then tina must choose her own at her next sign-in")
    t.is_(adam.request("DELETE", "/api/v1/users/lena/totp").json, {"user": "lena", "totp": False},
          "DELETE .../totp removes the second factor")
    t.ok(error_is(adam.request("DELETE", "/api/v1/users/lena/totp"), 404, "not_found"),
         "again: 404")
    t.is_(adam.request("DELETE", "/api/v1/users/tina").json, {"removed": "tina"},
          "DELETE /api/v1/users/tina")
    t.ok(error_is(adam.request("DELETE", "/api/v1/users/tina"), 404, "not_found"), "again: 404")
    ev = audit("user-change")
    by_adam = [e["object"] for e in ev if e["actor"] == "web:adam"]
    t.ok(by_adam == ["user=adam totp=setting-up", "user=adam totp=enrolled", "totp-required=admin",
                     "totp-required=none", "user=adam totp=removed",
                     "totp-required=legal,compliance", "user=tina totp=removed",
                     "totp-required=none", "user=lena role=compliance",
                     "user=tina password=one-time", "user=lena totp=removed"],
         "each admin's user change audited", repr(by_adam))
    by_cora = [re.sub(r"approval=\d+", "approval=N", e["object"]) for e in ev
               if e["actor"] == "web:cora"]
    t.ok(by_cora == ["user=cora totp=setting-up", "user=cora totp=enrolled"]
         + ["user=%s access=granted approval=N" % u for u in ("lena", "lou", "tina", "tina")]
         and [e["actor"] for e in audit("approval-approve") if "kind=user-access" in e["object"]]
         == ["web:cora"] * 4,
         "…each access granted by cora, in her name (approval-approve, user-change)", repr(by_cora))
    own = [(e["actor"], e["object"]) for e in ev if e["actor"] in ("web:lena", "web:tina")]
    t.ok(own == [("web:lena", "user=lena password=changed"),
                 ("web:lena", "user=lena totp=setting-up"), ("web:lena", "user=lena totp=enrolled"),
                 ("web:tina", "user=tina totp=setting-up"), ("web:tina", "user=tina totp=enrolled"),
                 ("web:tina", "user=tina password=changed")],
         "the users' own changes audited with them as actor", repr(own))
    ev = audit("user-add") + audit("user-remove")
    t.ok([e["object"] for e in ev if e["actor"] == "web:adam"] ==
         ["user=lena role=legal password=one-time", "user=lou role=legal password=one-time",
          "user=tina role=legal password=one-time", "user=tina"],
         "user-add and user-remove by web:adam", repr(ev))

    # ---- the two-person rule: a second person is not one the proposer set up --------
    r = adam.request("POST", "/api/v1/users", {"name": "sock", "role": "compliance", "password": PW})
    t.ok(r.status == 201 and (r.json.get("access") or {}).get("state") == "pending",
         "an admin adds a compliance user: it waits for a compliance officer too", repr(r.json))
    t.ok(error_is(pvweb.Client(srv).sign_in("sock", PW, new_password="orange harbour lights"),
                  401, "access_not_approved"), "…and cannot sign in before")
    grant("sock")
    r = adam.request("POST", "/api/v1/policy/proposals", {"text": "default: retain 1d\n",
                                                          "reason": "shorter"})
    aid = (r.json or {}).get("approval", {}).get("id")
    t.ok(r.status == 202 and aid, "…and proposes a shorter policy", repr(r))
    sock = pvweb.Client(srv)
    t.is_(sock.sign_in("sock", PW, new_password="orange harbour lights").status, 200,
          "…who signs in, choosing a password of their own")
    r = sock.get("/api/v1/users")
    seen = {u["name"]: u for u in (r.json or {}).get("users", [])}
    t.ok(r.status == 200 and seen.get("sock", {}).get("password_set_by") == "web:adam"
         and seen.get("adam", {}).get("role") == "admin",
         "compliance reads the users: who holds which role, who set them up", repr(r))
    t.ok(error_is(sock.request("POST", "/api/v1/users", {"name": "x2", "role": "legal",
                                                         "password": PW}), 403, "forbidden"),
         "…and changes none: 403")
    r = sock.request("POST", "/api/v1/approvals/%s/approve" % aid, {"reason": "fine"})
    t.ok(error_is(r, 403, "forbidden") and r.json["error"]["message"].startswith(
         "web:adam, who proposed approval %s, and web:sock are not two people" % aid),
         "the user the proposer made may not approve it: 403, saying why", repr(r))
    r = sock.request("POST", "/api/v1/approvals/%s/reject" % aid, {"reason": "not mine to approve"})
    t.is_(r.status, 200, "(rejected, for the tests after)")
    # An admin's own legal account, approved by a compliance account he made: refused.
    r = adam.request("POST", "/api/v1/users", {"name": "lars", "role": "legal", "password": PW})
    lars = (r.json or {}).get("access") or {}
    r = sock.request("POST", "/api/v1/approvals/%s/approve" % lars.get("approval"), {"reason": "ok"})
    t.ok(error_is(r, 403, "forbidden") and "are not two people" in r.json["error"]["message"],
         "an admin's legal account approved by a compliance user he set up: 403", repr(r))
    r = adam.request("PATCH", "/api/v1/users/lars", {"role": "admin"})
    t.ok(r.status == 200 and r.json["access"] is None,
         "made an admin instead (reads no mail): nothing waits", repr(r.json))
    r = cora.get("/api/v1/approvals/%s" % lars.get("approval"))
    t.ok(r.json["state"] == "rejected" and r.json["decided_by"] == "web:adam"
         and "no longer a legal or compliance user" in r.json["decision_reason"],
         "…the request withdrawn (rejected, saying why)", repr(r.json))
    r = adam.request("PATCH", "/api/v1/users/lars", {"role": "legal", "password": PW + " 2"})
    lars = (r.json or {}).get("access") or {}
    t.ok(r.status == 200 and lars.get("state") == "pending",
         "role and password set to legal in one PATCH: one request for approval", repr(r.json))
    t.ok(len([e for e in audit("approval-propose") if "kind=user-access" in e["object"]]) == 8,
         "…(eight asked for so far: lena twice, lou, tina twice, sock, lars twice)",
         repr([e["object"] for e in audit("approval-propose")]))
    t.is_(adam.request("DELETE", "/api/v1/users/lars").status, 200, "lars removed…")
    t.is_(cora.get("/api/v1/approvals/%s" % lars.get("approval")).json["state"], "rejected",
          "…withdraws his request")
    # Two puppets resetting each other's passwords do not hide their maker:
    # each step of the chain of setters looks before the one it came from.
    def puppet(name, by, role="admin"):
        r = by.request("POST", "/api/v1/users", {"name": name, "role": role, "password": PW})
        c = pvweb.Client(srv)
        c.sign_in(name, PW, new_password="%s keeps a lantern lit" % name.upper())
        return r, c
    _, pp = puppet("pp", adam)
    _, qq = puppet("qq", adam)
    t.is_(pp.request("PATCH", "/api/v1/users/qq", {"password": PW + " again"}).status, 200,
          "puppet pp sets qq's password")
    qq = pvweb.Client(srv)
    qq.sign_in("qq", PW + " again", new_password="QQ keeps another lantern")
    t.is_(qq.request("PATCH", "/api/v1/users/pp", {"password": PW + " again"}).status, 200,
          "…and qq sets pp's (each one's last setter is now the other)")
    r = qq.request("POST", "/api/v1/users", {"name": "cc", "role": "compliance", "password": PW})
    t.is_((r.json or {}).get("password_set_by"), "web:qq", "qq adds a compliance user cc")
    grant("cc")  # (cora does not know cc is adam's)
    cc = pvweb.Client(srv)
    cc.sign_in("cc", PW, new_password="CC keeps a lantern lit")
    r = adam.request("POST", "/api/v1/users", {"name": "liv", "role": "legal", "password": PW})
    liv = (r.json or {}).get("access") or {}
    r = cc.request("POST", "/api/v1/approvals/%s/approve" % liv.get("approval"), {"reason": "ok"})
    t.ok(error_is(r, 403, "forbidden") and "web:adam set up both" in r.json["error"]["message"],
         "cc may not approve adam's legal account: the loop still leads to adam", repr(r.json))
    r = cora.request("POST", "/api/v1/approvals/%s/reject" % liv.get("approval"),
                     {"reason": "nobody asked for liv"})
    t.is_(r.status, 200, "cora refuses liv's access")
    r = pvweb.Client(srv).sign_in("liv", PW)
    t.ok(error_is(r, 401, "access_refused") and "refused" in r.json["error"]["message"],
         "liv's sign-in then says it was refused: 401 access_refused", repr(r.json))
    r = adam.request("PATCH", "/api/v1/users/liv", {"role": "legal"})
    t.ok(r.status == 200 and r.json["access"] == {"approval": liv.get("approval"),
                                                   "state": "rejected"},
         "setting the role it has asks nothing again (a password does)", repr(r.json))
    t.ok(error_is(adam.request("PATCH", "/api/v1/users/adam", {"password": "another long passphrase"}),
                  409, "conflict"),
         "one's own password is not changed through the admin's PATCH (it takes the current one): 409")
    t.ok(error_is(adam.request("POST", "/api/v1/users", {"name": "..", "role": "legal", "password": PW}),
                  400, "bad_request"), "a user named .. (not addressable in a path): 400")

    # ---- one's own password ----------------------------------------------------
    NEW = "a brand new passphrase"
    OTTO = "maple leaves in june"
    adam.request("POST", "/api/v1/users", {"name": "otto", "role": "legal", "password": PW})
    grant("otto")
    otto, other = pvweb.Client(srv), pvweb.Client(srv)
    otto.sign_in("otto", PW, new_password=OTTO)
    other.sign_in("otto", OTTO)
    t.ok(error_is(otto.request("PUT", "/api/v1/me/password", {"current": "not it at all", "new": NEW}),
                  403, "forbidden"), "PUT /api/v1/me/password with a wrong current password: 403")
    t.is_(otto.get("/api/v1/me").status, 200, "…the session goes on")
    t.ok(any(e["actor"] == "web:otto" and "password change" in e["outcome"]
             for e in audit("login-failed")), "…and the wrong password is audited as a failed sign-in")
    t.ok(error_is(otto.request("PUT", "/api/v1/me/password", {"current": OTTO, "new": "short"}),
                  400, "bad_request"), "a new password under the minimum: 400")
    r = otto.request("PUT", "/api/v1/me/password", {"current": OTTO, "new": NEW})
    t.ok(r.status == 200 and r.json == {"user": "otto", "signed_out": True},
         "PUT /api/v1/me/password: 200, and this session is over", repr(r))
    t.is_(other.get("/api/v1/me").status, 401, "every session of the user ends with it")
    t.ok(error_is(pvweb.Client(srv).sign_in("otto", OTTO), 401, "unauthorized"),
         "the old password signs in no more")
    t.is_(pvweb.Client(srv).sign_in("otto", NEW).status, 200, "the new one does")
    t.ok([e["object"] for e in audit("user-change") if e["actor"] == "web:otto"] ==
         ["user=otto password=changed"] * 2,
         "the changes (at the first sign-in, then this one) are audited with the user as actor")

    # ---- metrics ---------------------------------------------------------------
    r = adam.get("/metrics")
    t.ok(r.status == 200 and r.headers.get("content-type") ==
         "text/plain; version=0.0.4; charset=utf-8", "GET /metrics as admin: 200, text format 0.0.4")
    try:
        types, samples = parse_prometheus(r.body.decode())
        parsed = True
    except ValueError as e:
        parsed = False
        t.diag(str(e))
    t.ok(parsed, "the answer parses as Prometheus text (HELP, TYPE, samples, escaping)")
    if parsed:
        def m(name, **labels):
            return samples.get((name, frozenset(labels.items())))
        t.ok(m("popvault_messages_archived") == len(idx)
             and m("popvault_bytes_archived") == sum(x["size"] for x in idx)
             and m("popvault_harvest_runs_total", account="alice", outcome="ok") == 1
             and m("popvault_harvest_runs_total", account="alice", outcome="failed") == 0
             and abs(m("popvault_harvest_last_success_timestamp_seconds", account="alice")
                     - time.time()) < 300
             and m("popvault_upstream_residue", account="alice") == 0
             and m("popvault_index_lag_messages") == 0
             and m("popvault_checkpoint_age_seconds", log="archive") is not None
             and m("popvault_checkpoint_age_seconds", log="audit") is not None
             and m("popvault_heartbeat_gaps_total") == 0
             and m("popvault_data_dir_free_bytes") > 0
             and m("popvault_audit_append_failures_total") == 0,
             "every metric with its value", repr(samples))
        t.ok(types.get("popvault_harvest_runs_total") == "counter"
             and types.get("popvault_messages_archived") == "gauge", "counter and gauge types")
    r = srv.request("GET", "/metrics", headers={"Authorization": "Bearer " + TOKEN})
    t.ok(r.status == 200 and b"popvault_messages_archived %d\n" % len(idx) in r.body,
         "GET /metrics with the scrape token, no session: 200")
    r = srv.request("GET", "/metrics", headers={"Authorization": "Bearer wrong"})
    t.ok(error_is(r, 401, "unauthorized"), "a wrong token: 401")
    t.ok(error_is(srv.request("GET", "/metrics"), 401, "unauthorized"), "no session, no token: 401")
    t.ok(error_is(cora.get("/metrics"), 403, "forbidden"), "a compliance session: 403")

    # ---- an admin does not read mail ----------------------------------------------
    msg_routes = [x for x in routes if x["pattern"].startswith("/api/v1/messages")]
    r = adam.get("/api/v1/messages/1")
    if msg_routes:
        t.ok(error_is(r, 403, "forbidden"), "admin opening a message: 403")
    else:
        t.ok(r.status == 404 and b"Subject" not in r.body,
             "admin opening a message: no such route in this build (404), no content")
    r = adam.get("/api/v1/search?q=a")
    t.ok(r.status in (403, 404) and r.json and "error" in r.json, "admin searching: refused")

    # ---- a token-command account (issue 16, finding 5): set on the CLI only -----------
    helper = os.path.join(run.dir, "get-token")
    open(helper, "w").write("#!/bin/sh\necho tok\n")
    os.chmod(helper, 0o700)
    tcf = os.path.join(run.dir, "token-command")
    open(tcf, "w").write(helper + " --client-secret cs-9f8e7d\n")
    pv("account", "add", "oauth", "--host", "localhost", "--port", d.vars["TLS_PORT"], "--user",
       "alice", "--auth", "xoauth2", "--token-command-file", tcf, "--ca-file", d.vars["CA"])
    r = adam.get("/api/v1/accounts")
    oa = [x for x in (r.json or {}).get("accounts", []) if x["name"] == "oauth"]
    t.ok(oa and oa[0]["token_command"] is True and b"cs-9f8e7d" not in r.body
         and helper.encode() not in r.body,
         "GET /api/v1/accounts says it takes a token command, never which", repr(oa))
    t.ok(error_is(adam.request("POST", "/api/v1/accounts", dict(acct, name="t2",
                                                              token_command=helper)),
                  400, "bad_request"), "POST with a token_command: 400 (unknown key)")
    t.ok(error_is(adam.request("PATCH", "/api/v1/accounts/oauth", {"token_command": helper}),
                  400, "bad_request"), "PATCH with a token_command: 400 (unknown key)")
    r = adam.request("PATCH", "/api/v1/accounts/oauth", {"host": "127.0.0.1", "password": "x"})
    t.ok(error_is(r, 409, "conflict") and "token command" in r.json["error"]["message"],
         "a new server or a password for it through the API: 409, set on the appliance only",
         repr(r))
    r = adam.request("PATCH", "/api/v1/accounts/oauth", {"keep_upstream": True})
    t.ok(r.status == 200 and r.json["keep_upstream"] is True and r.json["token_command"] is True,
         "…what does not touch its login still changes through the API", repr(r))
    ev = [e for e in audit("account-add") if "account=oauth" in e["object"]]
    t.ok(len(ev) == 1 and ev[0]["object"].endswith("token-command=%s token-command-args=2" % helper)
         and "cs-9f8e7d" not in ev[0]["object"],
         "account-add names the token command's program, not its arguments", repr(ev))
    pv("account", "remove", "oauth")

    # ---- retire the account -----------------------------------------------------------
    t.is_(adam.request("DELETE", "/api/v1/accounts/alice").json, {"removed": "alice"},
          "DELETE /api/v1/accounts/alice")
    t.is_(adam.get("/api/v1/accounts").json, {"accounts": []}, "no accounts left")
    t.ok(error_is(adam.request("DELETE", "/api/v1/accounts/alice"), 404, "not_found"), "again: 404")
    t.is_(adam.get("/api/v1/status").json["archive"]["messages"], len(idx),
          "its archived mail stays")
    ev = [e for e in audit("account-remove") if e["object"] == "account=alice"]
    t.ok(len(ev) == 1 and ev[0]["actor"] == "web:adam", "audited account-remove", repr(ev))
    t.is_(srv.stop(), 0, "serve stops cleanly")

sys.exit(t.done())
