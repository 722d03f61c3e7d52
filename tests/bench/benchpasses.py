"""bench_passes (tests/bench/bench_passes.c) as the bench's scripts run it
(harvest.py, bench_export.py): what the passes over a message's bytes cost
on one core of this machine, measured now."""
import json
import os
import subprocess

SAMPLE_MB = 64  # its sample of the messages
REPS = 5        # its repetitions of each pass (the best is kept)


def run_json(exe, args):
    """One of the bench's measuring programs, which prints one JSON object:
    (figures, None), or (None, why not)."""
    if not os.access(exe, os.X_OK):
        return None, ("not measured (%s is missing; make bench builds it with every "
                      "tests/bench/*.c)" % exe)
    p = subprocess.run([exe] + args, capture_output=True, text=True)
    if p.returncode != 0:
        return None, "%s failed: %s" % (os.path.basename(exe), (p.stderr or p.stdout)[-300:])
    return json.loads(p.stdout), None


def measure(exe, path):
    """bench_passes over the messages at path: (figures, None), or (None,
    why not)."""
    return run_json(exe, ["-m", str(SAMPLE_MB), "-r", str(REPS), path])


def ms_per_mb(p, name):
    """ms of one core per MB of plaintext for a pass of bench_passes."""
    return 1000.0 / p["passes"][name]["mb_s"]


PARSE_SAMPLE = 2000     # messages bench_facts parses each way
INDEX_RAW_MAX = 8 << 20  # the indexer parses a message's first 8 MiB (PV_INDEX_RAW_MAX)


def measure_parse(exe, path, head=False):
    """bench_facts --json (tests/bench/bench_facts.c) over PARSE_SAMPLE of
    the messages at path, each its first INDEX_RAW_MAX bytes as the indexer
    parses them, or (head) its header section as export parses it for the
    load files: the extraction's CPU a message in process and through the
    parser sandbox (a worker process forked per message). (figures, None),
    or (None, why not)."""
    what = ["--head"] if head else ["--bytes", str(INDEX_RAW_MAX)]
    return run_json(exe, ["--json", "--count", str(PARSE_SAMPLE)] + what + [path])


def sandbox_line(f, per, cpu_s, count):
    """The bound line a SHORT figure gets from bench_facts's figures f:
    what the parser sandbox costs `per` (a message: the indexer; a load-file
    row: export), and its share of cpu_s CPU seconds spent on count
    messages."""
    box, inproc = f["sandboxed"]["cpu_ms"], f["extract"]["cpu_ms"]
    return ("       bound: the parser sandbox %.3f ms CPU %s, the same extraction in process "
            "%.3f (bench_facts, %d of this run's messages%s): %.3f ms is the worker process "
            "forked for each message (its fork, page faults, exit), the isolation that keeps "
            "a message that subverts its parser from touching another's result "
            "(index/sandbox.h); for %d messages %.1f of the %.1f CPU s"
            % (box, per, inproc, f["messages"], ", header sections" if f["head"] else "",
               box - inproc, count, box * count / 1000, cpu_s))
