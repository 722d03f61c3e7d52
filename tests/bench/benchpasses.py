"""bench_passes (tests/bench/bench_passes.c) as the bench's scripts run it
(harvest.py, bench_export.py): what the passes over a message's bytes cost
on one core of this machine, measured now."""
import json
import os
import subprocess

SAMPLE_MB = 64  # its sample of the messages
REPS = 5        # its repetitions of each pass (the best is kept)


def measure(exe, path):
    """bench_passes over the messages at path: (figures, None), or (None,
    why not)."""
    if not os.access(exe, os.X_OK):
        return None, ("not measured (%s is missing; make bench builds it with every "
                      "tests/bench/*.c)" % exe)
    p = subprocess.run([exe, "-m", str(SAMPLE_MB), "-r", str(REPS), path],
                       capture_output=True, text=True)
    if p.returncode != 0:
        return None, "bench_passes failed: %s" % p.stderr[-300:]
    return json.loads(p.stdout), None


def ms_per_mb(p, name):
    """ms of one core per MB of plaintext for a pass of bench_passes."""
    return 1000.0 / p["passes"][name]["mb_s"]
