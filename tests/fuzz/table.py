#!/usr/bin/env python3
"""Turns tests/fuzz/log.tsv (one line per target per `make fuzz` round,
written by run_target.sh) into the fuzzing table, written between the
fuzz-table markers of tests/fuzz/README.md and README.md. Run from the
repository root; every tests/fuzz/fuzz_*.c target gets a row."""
import glob
import os
import re
import sys

BEGIN, END = "<!-- fuzz-table begin -->", "<!-- fuzz-table end -->"
FIELDS = ["utc", "target", "wall", "cpu", "execs", "files", "bytes", "cov", "ft", "crashes", "commit"]


def hours(s):
    return "%d:%02d" % (s // 3600, s % 3600 // 60)


def main():
    rows = {os.path.basename(p)[:-2]: [] for p in glob.glob("tests/fuzz/fuzz_*.c")}
    with open("tests/fuzz/log.tsv", encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            r = dict(zip(FIELDS, line.rstrip("\n").split("\t")))
            rows.setdefault(r["target"], []).append(r)
    opened = {}
    if os.path.exists("tests/fuzz/regressions/open.txt"):
        with open("tests/fuzz/regressions/open.txt", encoding="utf-8") as f:
            for line in f:
                if line.strip() and not line.startswith("#"):
                    t = line.split()[0].split("/")[0]
                    opened[t] = opened.get(t, 0) + 1
    out = ["| target | rounds | fuzzing time (h:mm) | CPU time (h:mm) | inputs run "
           "| corpus (files, KiB) | cov | ft | crashes found | regression inputs | open |",
           "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for t in sorted(rows):
        rs = sorted(rows[t], key=lambda r: r["utc"])
        wall = sum(int(r["wall"]) for r in rs)
        cpu = sum(int(r["cpu"]) for r in rs)
        execs = sum(int(r["execs"]) for r in rs)
        crashes = sum(int(r["crashes"]) for r in rs)
        last = rs[-1] if rs else None
        d = "tests/fuzz/corpus/" + t
        files = len(os.listdir(d)) if os.path.isdir(d) else 0
        kib = sum(os.path.getsize(os.path.join(d, x)) for x in os.listdir(d)) // 1024 if files else 0
        rd = "tests/fuzz/regressions/" + t
        regr = len(os.listdir(rd)) if os.path.isdir(rd) else 0
        out.append("| %s | %d | %s | %s | %s | %d, %d | %s | %s | %d | %d | %d |" % (
            t, len(rs), hours(wall), hours(cpu), format(execs, ","), files, kib,
            last["cov"] if last else "-", last["ft"] if last else "-", crashes, regr,
            opened.get(t, 0)))
    table = "\n".join(out)
    for path in ("tests/fuzz/README.md", "README.md"):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        new, n = re.subn(re.escape(BEGIN) + ".*?" + re.escape(END),
                         lambda m: BEGIN + "\n" + table + "\n" + END, text, flags=re.S)
        if n != 1:
            sys.exit("table.py: %s has no fuzz-table markers" % path)
        if new != text:
            with open(path, "w", encoding="utf-8") as f:
                f.write(new)
    print(table)


if __name__ == "__main__":
    main()
