#!/usr/bin/env python3
# Governance through the real server (issue 13, area b): the two-person
# rule for its three kinds — a policy that shortens retention, a hold
# release, a disposal run — (the same user cannot approve, the same role
# cannot, another role can; a rejection ends it; the effect happens only
# after approval; every step audited with who and why), break-glass on the
# command line, the compliance officer's job (audit trail filters, one
# entry with its inclusion proof, who viewed a message, an audit export
# that `popvault verify-bundle` accepts, verify, checkpoint history,
# heartbeat gaps, approving a hold release) and the admin's (policy check,
# dry-run impact, proposal). The archive is harvested from Dovecot; the
# server runs 65 days later (faketime), when a 30-day policy makes mail due.
import base64
import datetime
import hashlib
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(HERE, "lib"))
import popvault  # noqa: E402
import pvcatalog  # noqa: E402
import pvharness  # noqa: E402
import pvweb  # noqa: E402

PW = "correct horse battery"
t = pvharness.Tap()


def sha(b):
    return hashlib.sha256(b).digest()


def inclusion_ok(leaf, index, size, proof, root):
    """RFC 9162 §2.1.3.2: leaf (bytes) is entry index of the tree of size."""
    fn, sn, r = index, size - 1, sha(b"\x00" + leaf)
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = sha(b"\x01" + p + r)
            if not fn & 1:
                while fn != 0 and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = sha(b"\x01" + r + p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def proof_ok(entry_leaf, proof_text, origin):
    """A C2SP tlog-proof of entry_leaf against its checkpoint (origin's)."""
    head, _, note = proof_text.partition("\n\n")
    lines = head.split("\n")
    if lines[0] != "c2sp.org/tlog-proof@v1" or not lines[1].startswith("index "):
        return False
    index = int(lines[1][6:])
    hashes = [base64.b64decode(x) for x in lines[2:]]
    body = note.split("\n")
    if body[0] != origin:
        return False
    return inclusion_ok(entry_leaf, index, int(body[1]), hashes, base64.b64decode(body[2]))


with pvharness.Run() as run:
    data = os.path.join(run.dir, "data")
    mail = os.path.join(run.dir, "mail")
    idx = popvault.genmail(mail, "--count", 12, "--seed", 5, "--max-attachment", 20000)
    dov = run.dovecot(seed={"alice": [mail]})
    pv = popvault.Archive(data, env={"TZ": "UTC"})
    pv.harvested(dov, run.dir)
    n_all = len(idx)
    sec = [i + 1 for i, m in enumerate(idx)
           if any(a.endswith("@sec.gov") for a in [m["from_addr"]] + m["to_addrs"] + m["cc_addrs"])]
    t.ok(0 < len(sec) < n_all, "%d messages archived, %d with a sec.gov participant" % (n_all, len(sec)))

    pwf = os.path.join(run.dir, "pw")
    open(pwf, "w").write(PW + "\n")
    for name, role in (("adam", "admin"), ("adele", "admin"), ("lena", "legal"), ("lou", "legal"),
                       ("carl", "compliance"), ("cora", "compliance")):
        pv("user", "add", name, "--role", role, "--password-file", pwf)
    pv("hold", "add", "sec", "--query", "participant:sec.gov")
    for i in (3, 3, 5):
        pv("show", str(i))
    audit_vkey = pv("checkpoint", "--log", "audit", "--vkey").stdout.decode().strip()
    origin = audit_vkey.split("+")[0]

    def catalog(sql):
        # either engine (the backend matrix); numbers back as numbers
        cat = pvcatalog.connect(data)
        try:
            return [tuple(int(v) if v is not None and v.lstrip("-").isdigit() else v for v in row)
                    for row in cat.rows(sql)]
        finally:
            cat.close()

    # The server, 65 days from now; its certificate made today (a first
    # start at the real time), or the client would find it not yet valid.
    pvweb.Server(run, popvault.PV, data, name="serve-now").stop()
    # libfaketime preloaded with one offset for the server and the later CLI
    # runs alike, so the logs' time only moves forward (the faketime program
    # would also stay between, and leave the server behind when stopped).
    later = (datetime.datetime.utcnow() + datetime.timedelta(days=65)).strftime("%Y-%m-%d %H:%M:%S")
    fake = {"TZ": "UTC", "LD_PRELOAD": "/usr/$LIB/faketime/libfaketime.so.1",
            "FAKETIME": "+%ds" % (65 * 86400)}
    pv_later = popvault.Archive(data, env=fake)
    popvault.store_clock(65)  # an S3 store's gateway keeps time with them
    wrapper = os.path.join(run.dir, "pv-later")
    open(wrapper, "w").write('#!/bin/sh\nexec "$PV_REAL" "$@"\n')
    os.chmod(wrapper, 0o755)
    srv = pvweb.Server(run, wrapper, data, env=dict(fake, PV_REAL=popvault.PV))

    def client(user):
        c = pvweb.Client(srv)
        r = c.sign_in(user, PW)
        if r.status != 200:
            raise SystemExit("sign-in of %s failed: %r" % (user, r))
        return c

    adam, adele, lena, lou, carl, cora = (client(u) for u in
                                          ("adam", "adele", "lena", "lou", "carl", "cora"))

    def post(c, path, body=None):
        return c.request("POST", path, {} if body is None else body)

    def err(r):
        j = r.json or {}
        return (r.status, j.get("error", {}).get("code"))

    # --- the admin: current policy, check, dry-run impact, proposals -----------------------
    r = adam.get("/api/v1/policy")
    t.ok(r.status == 200 and r.json["version"] == 1 and "default: retain 6y" in r.json["text"]
         and r.json["sha256"] == hashlib.sha256(r.json["text"].encode()).hexdigest(),
         "GET /policy: version 1 from init, its exact text and SHA-256", r)
    r = post(adam, "/api/v1/policy/check", {"text": "rule \"x\": retain 7x when has:attachment\ndefault: retain 6y\n"})
    t.ok(r.status == 200 and r.json["ok"] is False
         and r.json["errors"][0]["line"] == 1 and r.json["errors"][0]["column"] == 18
         and "duration" in r.json["errors"][0]["message"],
         "policy check: a bad duration at line 1, column 18", r)
    r = post(adam, "/api/v1/policy/check", {"text": "default: retain 30d\n"})
    t.ok(r.status == 200 and r.json["ok"] is True and r.json["rules"] == 1, "policy check: a good text", r)
    r = post(adam, "/api/v1/policy/dry-run", {"text": "default: retain 30d\n"})
    d = r.json or {}
    months_now = sorted({time.strftime("%Y-%m", time.gmtime(t))
                         for (t,) in catalog("SELECT expires_at FROM messages")})
    t.ok(r.status == 200 and d["shortens"] is True and d["messages"] == n_all
         and d["earlier"] == n_all and d["changed"] == n_all and d["due_now"] == n_all
         and d["newly_due"] == n_all and d["by_class"] == [
             {"class": "default", "messages": n_all, "shorter": n_all, "longer": 0, "unchanged": 0,
              "reclassified": 0, "newly_due": n_all}]
         and sum(m["before"] for m in d["by_month"]) == n_all
         and sum(m["after"] for m in d["by_month"]) == n_all
         and sorted(m["month"] for m in d["by_month"] if m["before"]) == months_now,
         "dry-run: every message expires earlier and is due now; by class and by month (before/after)", d)
    t.is_(catalog("SELECT count(*) FROM policy_versions")[0][0], 1, "…and the dry run changed nothing")
    t.is_(catalog("SELECT actor FROM audit_event WHERE type = 'policy-dry-run'"), [("web:adam",)],
          "…but is audited (its counts per rule tell what the mail holds)")

    r = post(adam, "/api/v1/policy/proposals", {"text": "default: retain 7y\n", "reason": "longer"})
    t.ok(r.status == 201 and r.json["state"] == "applied" and r.json["version"] == 2,
         "a policy that shortens nothing is set at once (201 applied, version 2)", r)
    v1 = adam.get("/api/v1/policy/versions/1").json["text"].splitlines()
    r = adam.get("/api/v1/policy/diff?from=1&to=2")
    t.ok(r.status == 200 and [(x["op"], x["text"]) for x in r.json["lines"]]
         == [("del", x) for x in v1] + [("add", "default: retain 7y")]
         and r.json["added"] == 1 and r.json["removed"] == len(v1) and r.json["lines"][-1]["to_line"] == 1,
         "policy diff 1..2: the %d lines of version 1 removed, one added" % len(v1), r)
    r = adam.get("/api/v1/policy/versions")
    t.ok(r.status == 200 and r.json["current"] == 2
         and [v["version"] for v in r.json["versions"]] == [1, 2]
         and r.json["versions"][1]["actor"] == "web:adam", "policy versions: 1 and 2, by whom", r)
    r = post(adam, "/api/v1/policy/proposals", {"text": "default: retain 30d\n", "reason": "a month is enough"})
    p1 = (r.json or {}).get("approval", {})
    t.ok(r.status == 202 and r.json["state"] == "pending" and p1.get("kind") == "policy"
         and p1.get("proposer") == "web:adam" and p1.get("proposer_role") == "admin"
         and p1.get("approvers") == ["compliance"] and r.json["impact"]["earlier"] == n_all,
         "a shorter policy is proposed: 202 pending, with its impact", r)
    pid = p1.get("id")
    r = adam.get("/api/v1/policy")
    t.is_(r.json["version"], 2, "…and not in force until approved")
    t.is_(err(post(carl, "/api/v1/policy/proposals", {"text": "default: retain 1d\n"})), (403, "forbidden"),
          "compliance does not propose policies")

    # --- two-person rule: policy ------------------------------------------------------------
    t.is_(err(post(adam, "/api/v1/approvals/%d/approve" % pid)), (403, "forbidden"),
          "policy: the proposer (admin) cannot approve")
    t.is_(err(post(lena, "/api/v1/approvals/%d/approve" % pid)), (403, "forbidden"),
          "policy: legal may not approve a policy")
    r = adam.get("/api/v1/approvals/%d" % pid)
    t.ok(r.status == 200 and r.json["proposal"]["text"] == "default: retain 30d\n"
         and r.json["proposal"]["base_version"] == 2
         and [(x["op"], x["text"]) for x in r.json["proposal"]["diff"]["lines"] if x["op"] != "same"]
         == [("del", "default: retain 7y"), ("add", "default: retain 30d")],
         "GET /approvals/ID: the proposed text and its diff against the version in force", r)
    r = post(carl, "/api/v1/approvals/%d/approve" % pid, {"reason": "reviewed with legal"})
    t.ok(r.status == 200 and r.json["approval"]["state"] == "approved"
         and r.json["approval"]["decided_by"] == "web:carl" and r.json["effect"]["policy_version"] == 3,
         "policy: compliance approves; version 3 is set", r)
    t.is_(adam.get("/api/v1/policy").json["version"], 3, "…and is in force now")
    t.is_(err(post(cora, "/api/v1/approvals/%d/reject" % pid, {"reason": "late"})), (409, "conflict"),
          "a decided approval cannot be decided again (409)")
    # rejection ends it
    r = post(adam, "/api/v1/policy/proposals", {"text": "default: retain 20d\n", "reason": "even shorter"})
    pid2 = r.json["approval"]["id"]
    t.is_(err(post(cora, "/api/v1/approvals/%d/reject" % pid2)), (400, "bad_request"),
          "a rejection needs a reason")
    r = post(cora, "/api/v1/approvals/%d/reject" % pid2, {"reason": "20 days breaks the retention schedule"})
    t.ok(r.status == 200 and r.json["approval"]["state"] == "rejected" and r.json["effect"] is None,
         "compliance rejects it, with a reason", r)
    t.is_(err(post(carl, "/api/v1/approvals/%d/approve" % pid2)), (409, "conflict"),
          "…which ends it: it cannot be approved afterwards")
    t.is_(adam.get("/api/v1/policy").json["version"], 3, "…and nothing was set")

    # --- two-person rule: disposal ----------------------------------------------------------
    due = n_all - len(sec)
    t.is_(err(post(lena, "/api/v1/dispositions")), (403, "forbidden"), "legal does not propose disposals")
    r = post(carl, "/api/v1/dispositions", {"reason": "monthly run"})
    d1 = r.json or {}
    t.ok(r.status == 202 and d1["approval"]["kind"] == "dispose" and d1["plan"]["due"] == due
         and d1["plan"]["held"] == len(sec) and d1["plan"]["proposed"] == due
         and d1["approval"]["approvers"] == ["legal", "compliance"],
         "compliance proposes a disposal run: %d due, %d held" % (due, len(sec)), r)
    did = d1["approval"]["id"]
    t.is_(err(post(adam, "/api/v1/dispositions")), (409, "conflict"), "one disposal proposal at a time")
    r = lena.get("/api/v1/approvals/%d" % did)
    t.ok(r.status == 200 and r.json["proposal"]["messages"] == due
         and sorted(i["id"] for i in r.json["proposal"]["items"]) == [i for i in range(1, n_all + 1) if i not in sec]
         and all(i["rule"] == "default" and i["policy_version"] == 3 for i in r.json["proposal"]["items"]),
         "the frozen plan lists the due messages with rule and policy version", r)
    t.is_(catalog("SELECT count(*) FROM messages WHERE disposed_at IS NOT NULL")[0][0], 0,
          "nothing is disposed of before the approval")
    r = post(carl, "/api/v1/approvals/%d/approve" % did)
    t.ok(r.status == 403 and "you proposed" in r.json["error"]["message"],
         "disposal: the proposer cannot approve", r)
    r = post(cora, "/api/v1/approvals/%d/approve" % did)
    t.ok(r.status == 403 and "another role" in r.json["error"]["message"],
         "disposal: another user of the proposer's role cannot approve", r)
    r = post(lena, "/api/v1/approvals/%d/approve" % did, {"reason": "no other matter needs them"})
    t.ok(r.status == 200 and r.json["effect"]["disposed"] == due and r.json["effect"]["disposal"] == 1,
         "disposal: legal approves; %d messages are disposed of" % due, r)
    t.is_(sorted(i for (i,) in catalog("SELECT id FROM messages WHERE disposed_at IS NULL")), sec,
          "…exactly the unheld ones")

    # --- two-person rule: hold release ------------------------------------------------------
    t.is_(err(post(carl, "/api/v1/holds/sec/release")), (403, "forbidden"), "compliance does not propose releases")
    t.is_(err(post(lena, "/api/v1/holds/nobody/release")), (404, "not_found"), "an unknown hold is 404")
    r = post(lena, "/api/v1/holds/sec/release", {"reason": "the inquiry closed"})
    h1 = (r.json or {}).get("approval", {})
    t.ok(r.status == 202 and h1.get("kind") == "hold-release" and h1.get("state") == "pending",
         "legal proposes releasing hold 'sec': 202 pending", r)
    t.is_(err(post(lou, "/api/v1/holds/sec/release")), (409, "conflict"), "…once only")
    t.is_(catalog("SELECT count(*) FROM holds WHERE released_at IS NULL")[0][0], 1,
          "the hold stays in force while pending")
    t.is_([x["release_pending"] for x in lena.get("/api/v1/holds").json["holds"] if x["name"] == "sec"],
          [h1["id"]], "GET /api/v1/holds names the pending release's approval")
    r = post(lena, "/api/v1/approvals/%d/approve" % h1["id"])
    t.ok(r.status == 403 and "you proposed" in r.json["error"]["message"], "hold: the proposer cannot approve", r)
    r = post(lou, "/api/v1/approvals/%d/approve" % h1["id"])
    t.ok(r.status == 403 and "role legal" in r.json["error"]["message"], "hold: another legal user cannot approve", r)
    # the compliance officer approves a hold release
    r = carl.get("/api/v1/approvals?state=pending")
    t.ok(r.status == 200 and r.json["pending"] == 1 and [a["id"] for a in r.json["approvals"]] == [h1["id"]],
         "the compliance officer's queue: the one pending release", r)
    r = post(carl, "/api/v1/approvals/%d/approve" % h1["id"], {"reason": "confirmed with counsel"})
    t.ok(r.status == 200 and r.json["effect"] == {"released": "sec"}, "hold: compliance approves the release", r)
    t.is_(catalog("SELECT released_by FROM holds WHERE name = 'sec'"), [("web:lena",)],
          "…released, in the name of the legal user who asked")

    # --- break-glass on the command line ----------------------------------------------------
    open(os.path.join(run.dir, "10d.policy"), "w").write("default: retain 10d\n")
    pv_later("policy", "propose", os.path.join(run.dir, "10d.policy"))
    cli_id = json.loads(pv("--json", "approvals", "list").stdout)[0]["id"]
    p = pv_later("approvals", "approve", str(cli_id), "--as-role", "compliance", check=False)
    t.fails_with(p, 1, "you proposed approval %d" % cli_id, "CLI: the same user cannot approve")
    p = pv_later("approvals", "approve", str(cli_id), "--break-glass", check=False)
    t.fails_with(p, 2, "a reason is required", "CLI: break-glass needs a reason")
    p = pv_later("approvals", "approve", str(cli_id), "--break-glass", "--reason", "alone on the night shift",
                 check=False)
    t.ok(p.returncode == 0 and b"WARNING: break-glass: approval %d (policy)" % cli_id in p.stderr
         and b"policy version 4 set" in p.stdout, "CLI: break-glass approves, with a warning", p.stderr)

    # --- the compliance officer: the audit trail --------------------------------------------
    def audit(c, query):
        return c.get("/api/v1/audit?" + query)

    r = audit(carl, "type=break-glass")
    bg = (r.json or {}).get("entries", [])
    t.ok(r.status == 200 and r.json["total"] == 1 and bg[0]["actor"] == "cli:root"
         and bg[0]["object"] == "approval=%d kind=policy proposer=cli:root role=-" % cli_id
         and bg[0]["personal"] == "reason: alone on the night shift",
         "audit: the break-glass entry says who, which approval and why", r)
    r = audit(carl, "type=approval-propose")
    t.ok(r.status == 200 and [(e["actor"], e["object"].split(" ")[1]) for e in r.json["entries"]]
         == [("web:adam", "kind=policy"), ("web:adam", "kind=policy"), ("web:carl", "kind=dispose"),
             ("web:lena", "kind=hold-release"), ("cli:root", "kind=policy")]
         and r.json["entries"][0]["personal"].startswith("reason: a month is enough\n"),
         "audit: every proposal, who made it and why", r)
    r = audit(carl, "type=approval-approve")
    t.ok(r.status == 200 and [(e["actor"], e["object"].split(" ")[0], e["object"].split(" ")[-1])
                              for e in r.json["entries"]]
         == [("web:carl", "approval=%d" % pid, "role=compliance"), ("web:lena", "approval=%d" % did, "role=legal"),
             ("web:carl", "approval=%d" % h1["id"], "role=compliance"),
             ("cli:root", "approval=%d" % cli_id, "role=-")]
         and r.json["entries"][2]["personal"] == "reason: confirmed with counsel",
         "audit: every approval, who gave it, in which role and why", r)
    r = audit(carl, "type=approval-reject")
    t.ok(r.status == 200 and r.json["total"] == 1 and r.json["entries"][0]["actor"] == "web:cora"
         and r.json["entries"][0]["personal"] == "reason: 20 days breaks the retention schedule",
         "audit: the rejection, by whom and why", r)
    r = audit(carl, "actor=web:lena&type=hold-release")
    t.ok(r.status == 200 and r.json["total"] == 1, "audit filters: actor and type together", r)
    r = audit(carl, "object=approval%%3D%d" % did)
    t.ok(r.status == 200 and [e["type"] for e in r.json["entries"]] == ["approval-propose", "approval-approve"],
         "audit filter by object: approval=%d's proposal and approval" % did, r)
    all_n = audit(carl, "limit=1").json["total"]
    r = audit(carl, "offset=%d&limit=2" % (all_n - 3))
    t.ok(r.status == 200 and r.json["total"] == all_n and len(r.json["entries"]) == 2
         and r.json["entries"][0]["seq"] == all_n - 3, "audit paging: offset, limit, exact total", r)
    today = datetime.datetime.utcnow().strftime("%Y-%m-%d")
    n_today = audit(carl, "until=" + today).json["total"]
    n_later = audit(carl, "since=" + later[:10]).json["total"]
    t.ok(n_today > 0 and n_later > 0 and n_today + n_later == all_n,
         "audit time filters: since and until split the log at the 65-day jump")
    t.is_(err(audit(carl, "since=yesterday")), (400, "bad_request"), "a malformed since is 400")
    t.is_(err(audit(lena, "")), (403, "forbidden"), "legal does not read the audit trail")
    t.is_(err(audit(adam, "")), (403, "forbidden"), "nor does an admin")

    # one entry with its inclusion proof
    seq = bg[0]["seq"]
    r = carl.get("/api/v1/audit/%d" % seq)
    t.ok(r.status == 200 and r.json["entry"]["type"] == "break-glass"
         and "\ntype break-glass\n" in r.json["leaf"]
         and proof_ok(r.json["leaf"].encode(), r.json["proof"], origin)
         and r.json["proof"].endswith(r.json["checkpoint"]),
         "GET /audit/SEQ: the exact leaf and a tlog-proof that checks against the signed checkpoint", r)
    t.is_(err(carl.get("/api/v1/audit/999999")), (404, "not_found"), "an entry past the end is 404")

    # who viewed message 3
    r = carl.get("/api/v1/audit/who-viewed?message=3")
    t.ok(r.status == 200 and r.json["total"] == 2
         and all(e["type"] == "view" and e["actor"] == "cli:root" and e["object"].startswith("message=3")
                 for e in r.json["entries"]), "who viewed message 3: the two views", r)
    r = carl.get("/api/v1/audit/who-viewed?message=4")
    t.ok(r.status == 200 and r.json["total"] == 0, "…and nobody viewed message 4", r)

    # an audit export, downloaded and verified offline
    r = post(carl, "/api/v1/audit/exports", {"personal": True})
    t.ok(r.status == 202 and r.json["status"] == "running", "audit export: a background job (202)", r)
    xid = r.json["id"]
    for _ in range(300):
        r = carl.get("/api/v1/audit/exports/%d" % xid)
        if r.json["status"] != "running":
            break
        time.sleep(0.1)
    t.ok(r.json["status"] == "done" and r.json["entries"] > 0 and r.json["verify"]["vkeys"] == [audit_vkey],
         "…done, with the verify-bundle instructions", r)
    job = r.json
    r = carl.get(job["download"])
    t.ok(r.status == 200 and r.headers.get("content-disposition") ==
         'attachment; filename="popvault-audit-%d.tar.gz"' % xid
         and hashlib.sha256(r.body).hexdigest() == job["sha256"] and len(r.body) == job["file_size"],
         "…downloaded as an attachment, its SHA-256 as announced", r.headers)
    bundle = os.path.join(run.dir, job["filename"])
    open(bundle, "wb").write(r.body)
    p = subprocess.run([popvault.PV, "verify-bundle", bundle, "--vkey", audit_vkey], capture_output=True)
    t.ok(p.returncode == 0, "popvault verify-bundle accepts the downloaded audit bundle",
         p.stdout.decode()[-600:], p.stderr.decode())
    r = audit(carl, "type=download")
    t.ok(r.status == 200 and r.json["entries"][-1]["actor"] == "web:carl"
         and r.json["entries"][-1]["object"] == "audit-export=%d sha256=%s size=%d" % (xid, job["sha256"], job["file_size"]),
         "the download is audited: what, its SHA-256 and size", r)
    t.is_(err(lena.get(job["download"])), (403, "forbidden"), "legal cannot download the audit trail")

    # --- integrity: verify, checkpoint history, heartbeat gaps ------------------------------
    r = carl.get("/api/v1/verify")
    t.ok(r.status == 200 and r.json["status"] == "none", "verify: none run by this server yet", r)
    r = post(carl, "/api/v1/verify", {"full": True})
    t.ok(r.status == 202 and r.json["status"] == "running" and r.json["full"] is True, "verify --full starts (202)", r)
    for _ in range(600):
        r = carl.get("/api/v1/verify")
        if r.json["status"] != "running":
            break
        time.sleep(0.1)
    v = r.json
    t.ok(v["status"] == "done" and v["result"]["ok"] is True and v["result"]["problems"] == 0
         and v["result"]["messages"] == n_all and v["result"]["disposed"] == due
         and v["result"]["blobs_decrypted"] == len(sec) and v["started_by"] == "web:carl",
         "verify: done, no problem, every blob decrypted", r, v.get("lines"))
    t.ok(v["result"]["heartbeat_gaps"] >= 1 and v["result"]["gaps"][0]["minutes"] >= 64 * 24 * 60,
         "…and it reports the 65-day heartbeat gap", v["result"])
    r = audit(carl, "type=verify")
    t.ok(r.status == 200 and r.json["entries"][-1]["actor"] == "web:carl"
         and r.json["entries"][-1]["object"].startswith("full=yes problems=0"), "the verify run is audited", r)
    # anchoring on request: this archive has no TSA or witness (the web
    # suite anchors with a real TSA, tests/web/compliance.test.mjs)
    r = carl.get("/api/v1/anchor")
    t.ok(r.status == 200 and r.json == {"status": "none"}, "anchor: none run by this server yet", r)
    r = post(carl, "/api/v1/anchor", {})
    t.ok(r.status == 409 and "no time-stamp authority or witness" in r.json["error"]["message"],
         "anchor with nobody configured to ask: 409, saying so", r)
    r = post(carl, "/api/v1/anchor", {"now": True})
    t.ok(r.status == 400, "anchor with a field it does not take: 400", r)
    r = carl.get("/api/v1/checkpoints/history?log=audit&limit=3")
    cps = (r.json or {}).get("checkpoints", [])
    t.ok(r.status == 200 and len(cps) == 3 and r.json["total"] >= 3
         and cps[0]["seq"] > cps[1]["seq"] > cps[2]["seq"] and cps[0]["size"] >= cps[1]["size"]
         and all(c["note"].startswith(origin + "\n%d\n" % c["size"]) for c in cps),
         "checkpoint history: newest first, each with its signed note", r)
    t.is_(err(carl.get("/api/v1/checkpoints/history?log=nope")), (400, "bad_request"), "an unknown log is 400")
    r = carl.get("/api/v1/checkpoints/gaps?since=" + today)
    t.ok(r.status == 200 and r.json["threshold_s"] == 1800 and r.json["total"] >= 1
         and r.json["gaps"][0]["minutes"] >= 64 * 24 * 60,
         "heartbeat gaps: the 65 days without an audit entry", r)
    first = carl.get("/api/v1/audit?offset=0&limit=1").json["entries"][0]["time"]
    t.is_(r.json.get("log_start"), first, "…and log_start, the time of the audit log's first entry")

    # --- the queue, and who may see it -----------------------------------------------------
    r = adele.get("/api/v1/approvals")
    t.ok(r.status == 200 and r.json["total"] == 5 and r.json["pending"] == 0
         and [a["state"] for a in r.json["approvals"]]
         == ["approved", "approved", "approved", "rejected", "approved"],
         "the approvals list, newest first, with their states", r)
    anon = pvweb.Client(srv)
    t.is_(err(anon.get("/api/v1/approvals")), (401, "unauthorized"), "anonymous: 401")
    srv.stop()

sys.exit(t.done())
