#!/usr/bin/env python3
"""HTTP API benchmark (issue 13): requests/s and p50/p95/p99 latency of
`GET /api/v1/search` and `GET /api/v1/messages/{id}` (and the dashboard's
`GET /api/v1/status`) with 1 and 50 concurrent clients, over an archive of
BENCH_N messages harvested from a private Dovecot.

    tests/bench/bench_api.py [--popvault build/popvault] [--count N]
                             [--seconds S] [--json FILE]

The load client is wrk (Debian's), keep-alive HTTPS, signed in as a legal
user (its session cookie on every request); each request takes the next
query or message id from a fixed list. 50 clients come from 16 loopback
addresses (tests/bench/shim/srcaddr.c, LD_PRELOAD), since serve allows 32
connections per client address. Every search and message view is audited
(a signed audit checkpoint each): the figures include that work. The
client runs on the same machine and takes CPU from the server.
Target: search p95 under 100 ms at 50 clients, printed MET or SHORT. An
endpoint this build does not serve yet (404 no such resource) is reported
as such, not measured.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(SRC, "tests", "e2e", "lib"))
import pvharness  # noqa: E402
import pvweb  # noqa: E402

PW = "bench password 2026"
TARGET_P95_MS = 100.0
QUERIES = ["zephyrfalcon", "quokkaledger OR tangerinevault", "from:alice@example.org",
           "subject:meeting", "has:attachment", "after:2020-01-01 before:2030-01-01",
           "\"quarterly report\"", "bob -zephyrfalcon", "obsidianwharf", "marmaladebridge"]

LUA = r"""
local paths = {%(paths)s}
local i = 0
wrk.headers["Cookie"] = "%(cookie)s"
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests": %%d, "duration_us": %%d, "non2xx": %%d, ' ..
    '"errors": %%d, "p50_us": %%d, "p95_us": %%d, "p99_us": %%d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


def lua_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def build_shim(out_dir):
    so = os.path.join(out_dir, "srcaddr.so")
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", so,
                    os.path.join(HERE, "shim", "srcaddr.c"), "-ldl"], check=True)
    return so


def wrk(url, paths, cookie, clients, seconds, shim, work):
    script = os.path.join(work, "bench.lua")
    with open(script, "w") as f:
        f.write(LUA % {"paths": ", ".join(lua_str(p) for p in paths),
                       "cookie": cookie.replace('"', "")})
    threads = 1 if clients == 1 else 2
    env = dict(os.environ, LD_PRELOAD=shim)
    p = subprocess.run(["wrk", "-t", str(threads), "-c", str(clients), "-d", "%ds" % seconds,
                        "--timeout", "10s", "-s", script, url], capture_output=True, env=env)
    line = [ln for ln in p.stdout.decode().splitlines() if ln.startswith("WRKJSON ")]
    if p.returncode != 0 or not line:
        raise SystemExit("wrk failed (%d): %s %s" % (p.returncode, p.stdout.decode()[-500:],
                                                     p.stderr.decode()[-500:]))
    r = json.loads(line[-1][8:])
    secs = r["duration_us"] / 1e6
    return {"clients": clients, "requests": r["requests"], "rps": r["requests"] / secs,
            "p50_ms": r["p50_us"] / 1000.0, "p95_ms": r["p95_us"] / 1000.0,
            "p99_ms": r["p99_us"] / 1000.0, "non2xx": r["non2xx"], "errors": r["errors"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--popvault", default=os.path.join(SRC, "build", "popvault"))
    ap.add_argument("--count", type=int, default=int(os.environ.get("BENCH_N", "10000")))
    ap.add_argument("--seconds", type=int, default=int(os.environ.get("BENCH_API_SECONDS", "10")))
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (packaging/deps.sh installs it)")
    pv_bin = os.path.abspath(a.popvault)
    res = {"messages": a.count, "seconds": a.seconds, "endpoints": {}}
    with pvharness.Run() as run:
        mail = os.path.join(run.dir, "mail")
        subprocess.run([sys.executable, os.path.join(SRC, "tests", "e2e", "lib", "genmail.py"),
                        "--count", str(a.count), "--seed", "2026", "--out", mail],
                       check=True, stdout=subprocess.DEVNULL)
        os.unlink(os.path.join(mail, "index.json"))
        d = run.dovecot(seed={"alice": [mail]})
        data = os.path.join(run.dir, "data")
        pw = os.path.join(run.dir, "pw")
        open(pw, "w").write("alicepw\n")
        upw = os.path.join(run.dir, "upw")
        open(upw, "w").write(PW + "\n")

        def pv(*args):
            subprocess.run([pv_bin, "--data", data] + list(args), check=True,
                           stdout=subprocess.DEVNULL)
        pv("init")
        pv("account", "add", "alice", "--host", "localhost", "--port", str(d.vars["TLS_PORT"]),
           "--user", "alice", "--password-file", pw, "--ca-file", d.vars["CA"])
        t0 = time.time()
        pv("harvest", "--once")
        harvest_s = time.time() - t0
        pv("user", "add", "bench", "--role", "legal", "--password-file", upw)
        stats = json.loads(subprocess.run([pv_bin, "--data", data, "--json", "stats"],
                                          capture_output=True, check=True).stdout)
        res["archived"] = stats["messages"]
        res["archived_bytes"] = stats["bytes"]
        print("archive: %d messages, %.1f MB (harvested in %.1f s)" % (
            stats["messages"], stats["bytes"] / 1e6, harvest_s))

        srv = pvweb.Server(run, pv_bin, data)
        c = pvweb.Client(srv)
        if c.sign_in("bench", PW).status != 200:
            raise SystemExit("sign-in failed")
        n = max(1, stats["messages"])
        step = max(1, n // 200)
        endpoints = [
            ("search", ["/api/v1/search?q=%s&limit=50" % urllib.parse.quote(q, safe="")
                        for q in QUERIES]),
            ("message", ["/api/v1/messages/%d" % i for i in range(1, n + 1, step)]),
            ("status", ["/api/v1/status"]),
        ]
        shim = build_shim(run.dir)
        print("%-8s %7s %9s %9s %9s %9s %8s" % ("endpoint", "clients", "req/s", "p50 ms",
                                                  "p95 ms", "p99 ms", "non-2xx"))
        for name, paths in endpoints:
            probe = c.get(paths[0])
            if probe.status == 404 and (probe.json or {}).get("error", {}).get(
                    "message") == "no such resource":
                print("%-8s not served by this build (404 no such resource): not measured"
                      % name)
                res["endpoints"][name] = None
                continue
            if probe.status != 200:
                raise SystemExit("GET %s: %d %r" % (paths[0], probe.status, probe.body[:300]))
            runs = []
            for clients in (1, 50):
                r = wrk(srv.url, paths, c.cookie, clients, a.seconds, shim, run.dir)
                runs.append(r)
                print("%-8s %7d %9.1f %9.2f %9.2f %9.2f %8d%s" % (
                    name, clients, r["rps"], r["p50_ms"], r["p95_ms"], r["p99_ms"],
                    r["non2xx"], "" if not r["errors"] else "  (%d socket errors)" % r["errors"]))
            res["endpoints"][name] = runs
        srv.stop()
    s = res["endpoints"].get("search")
    if s:
        p95 = s[1]["p95_ms"]
        ok = p95 < TARGET_P95_MS and s[1]["non2xx"] == 0
        print("target: search p95 under %.0f ms at 50 clients over %d messages: %s (%.1f ms)"
              % (TARGET_P95_MS, res["archived"], "MET" if ok else "SHORT", p95))
        res["target_met"] = ok
    else:
        print("target: search p95 under %.0f ms at 50 clients: not measured (no search "
              "endpoint in this build)" % TARGET_P95_MS)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
