#!/usr/bin/env python3
"""Profile one popvault harvest: CPU per message and where it goes.

    profile_harvest.py --popvault BIN [--count N] [--mode plain|tls]
                       [--rounds R] [--callgrind DIR] [--perf DIR] [--strace DIR]

One private Dovecot and one generated mailbox (the bench's: genmail.py,
seed 2026), reseeded before every round exactly as harvest.py does.  Each
round harvests the whole mailbox with `harvest --once`; printed per round:
when the harvests ended (the JSON summary) and how much later the index had
caught up (the exit), user and sys CPU (getrusage of the client, children
included: the indexer process too) and CPU per message.  On a shared machine wall clock is noise; CPU per message and
instruction counts are what compares.

--strace DIR: one more round under strace -ff -tt -T (a file per thread,
every system call with its time and duration: what the harvest waits on).
--callgrind DIR: one more round under valgrind --tool=callgrind (user-space
instruction counts, repeatable); the file goes to DIR and the top inclusive
functions are printed.  --perf DIR: one more round under perf record
(cpu-clock, DWARF call graphs: kernel time too).
"""
import argparse
import os
import resource
import shutil
import subprocess
import sys
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "e2e", "lib"))
import harvest as hb  # noqa: E402
import pvharness  # noqa: E402


def child_cpu():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime, ru.ru_stime


def one_round(b, mode, wrap, label):
    tool = hb.Popvault(b)
    work = os.path.join(b.run.dir, "work-%s" % label)
    os.makedirs(work)
    os.chown(work, b.uid, b.gid)
    hb.reseed(b.maildir, b.template, b.uid, b.gid)
    argv = tool.prepare(work, mode)
    pvharness._chown_tree(work)
    subprocess.run(["sync"])
    u0, s0 = child_cpu()
    t0 = time.perf_counter()
    errf = open(os.path.join(work, "stderr"), "w+")
    p = subprocess.Popen(wrap + argv, stdout=subprocess.PIPE, stderr=errf, text=True,
                         env=dict(os.environ, HOME=work), cwd=work,
                         preexec_fn=b.as_user if not wrap else None)
    out, harvested = "", None
    for line in p.stdout:     # the summary comes when the harvests end,
        out += line           # the exit when the index has caught up
        if harvested is None and line.startswith("{"):
            harvested = time.perf_counter() - t0
    p.wait()
    wall = time.perf_counter() - t0
    u1, s1 = child_cpu()
    errf.seek(0)
    if p.returncode != 0:
        raise hb.BenchError("harvest failed: %s %s" % (out[-300:], errf.read()[-800:]))
    stored = tool.stored(work, out)
    if stored != b.args.count or pvharness.maildir_count(b.maildir) != 0:
        raise hb.BenchError("stored %d of %d" % (stored, b.args.count))
    b.last_harvested = harvested if harvested is not None else wall
    return work, wall, u1 - u0, s1 - s0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--popvault", required=True)
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--mode", default="plain", choices=("plain", "tls"))
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--callgrind")
    ap.add_argument("--perf")
    ap.add_argument("--strace")
    ap.add_argument("--names", default="dovecot")
    ap.add_argument("--keep", help="copy the last round's data directory here")
    ap.add_argument("--passes", help="bench_passes (default: build/bench/ beside --popvault)")
    a = ap.parse_args()
    a.popvault = os.path.abspath(a.popvault)
    # harvest.py's Bench measures the design's passes: bench_passes, found
    # as harvest.py finds it (beside its --null, the bench's popnull)
    a.null = os.path.join(os.path.dirname(a.popvault), "bench", "popnull")
    a.tools = ["popvault"]  # what harvest.py's setup starts servers for
    with pvharness.Run() as r:
        b = hb.Bench(a, r)
        b.setup()
        n = a.count
        for i in range(a.rounds):
            work, wall, u, s = one_round(b, a.mode, [], "r%d" % i)
            print("round %d: %d msgs harvested in %.2f s (index done %.2f s later)  "
                  "user %.3f s  sys %.3f s  CPU %.3f ms/msg (user %.3f, sys %.3f)" % (
                      i + 1, n, b.last_harvested, wall - b.last_harvested, u, s,
                      1000 * (u + s) / n, 1000 * u / n, 1000 * s / n), flush=True)
            if a.keep and i == a.rounds - 1:
                shutil.rmtree(a.keep, ignore_errors=True)
                shutil.copytree(os.path.join(work, "data"), a.keep, symlinks=True)
            shutil.rmtree(work)
        if a.callgrind:
            os.makedirs(a.callgrind, exist_ok=True)
            out = os.path.join(os.path.abspath(a.callgrind), "callgrind.out")
            # as the unprivileged user through setpriv: valgrind must not
            # run the preexec hook itself
            wrap = ["setpriv", "--reuid=%d" % b.uid, "--regid=%d" % b.gid,
                    "--clear-groups"] if os.geteuid() == 0 else []
            wrap += ["valgrind", "--tool=callgrind", "--trace-children=yes",
                     "--callgrind-out-file=/tmp/pv-callgrind.%p"]
            for f in os.listdir("/tmp"):
                if f.startswith("pv-callgrind."):
                    os.unlink(os.path.join("/tmp", f))
            work, wall, u, s = one_round(b, a.mode, wrap, "callgrind")
            for f in sorted(os.listdir("/tmp")):
                if f.startswith("pv-callgrind."):
                    shutil.move(os.path.join("/tmp", f), out + "." + f.split(".")[-1])
            print("callgrind files in %s" % a.callgrind)
            shutil.rmtree(work)
        if a.perf:
            os.makedirs(a.perf, exist_ok=True)
            pdata = os.path.join(os.path.abspath(a.perf), "perf.data")
            wrap = ["perf", "record", "-q", "-e", "cpu-clock", "-F", "999",
                    "--call-graph", "dwarf,16384", "-o", pdata, "--"]
            if os.geteuid() == 0:
                wrap += ["setpriv", "--reuid=%d" % b.uid, "--regid=%d" % b.gid,
                         "--clear-groups"]
            work, wall, u, s = one_round(b, a.mode, wrap, "perf")
            print("perf data in %s (%.2f s wall)" % (pdata, wall))
            shutil.rmtree(work)
        if a.strace:
            os.makedirs(a.strace, exist_ok=True)
            out = os.path.join(os.path.abspath(a.strace), "trace")
            # one file per thread and process, wall-clock stamps and the
            # time spent in each call: where the harvest waits
            wrap = ["strace", "-ff", "-tt", "-T", "-o", out]
            if os.geteuid() == 0:
                wrap += ["setpriv", "--reuid=%d" % b.uid, "--regid=%d" % b.gid,
                         "--clear-groups"]
            work, wall, u, s = one_round(b, a.mode, wrap, "strace")
            print("strace files %s.PID (%.2f s wall, harvests ended at %.2f s)" % (
                out, wall, b.last_harvested))
            shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
