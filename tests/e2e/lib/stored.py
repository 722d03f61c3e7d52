#!/usr/bin/env python3
"""Counts the sealed messages stored in a popvault data directory, read
without popvault (docs/ARCHITECTURE.md §4):

  DIR/blobs/<2 hex>/<64 hex>   PVB1: one file per message
  DIR/packs/<id>.pack          "PVPACK1\\n" + bucket id (8 bytes), then PVB2
                               records: "PVB2", 24 header bytes, chunks of a
                               4-byte big-endian word (bit 31: last chunk,
                               bits 0-30: length) and that many bytes

    stored.py DIR

Prints the number of whole records. A pack that does not end exactly at
a record boundary (half a record, foreign bytes) prints "N+junk" instead,
so that a test comparing the output with the archived count fails: "one
stored record per archived message, nothing half-stored".
"""
import os
import struct
import sys


def pack_records(path):
    """(whole records, clean end)"""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"PVPACK1\n" or len(data) < 16:
        return 0, False
    pos, n = 16, 0
    while pos < len(data):
        if data[pos:pos + 4] != b"PVB2" or pos + 28 > len(data):
            return n, False
        p = pos + 28
        while True:
            if p + 4 > len(data):
                return n, False
            (word,) = struct.unpack(">I", data[p:p + 4])
            p += 4 + (word & 0x7FFFFFFF)
            if p > len(data):
                return n, False
            if word & 0x80000000:
                break
        pos = p
        n += 1
    return n, True


def main():
    d = sys.argv[1]
    n, clean = 0, True
    blobs = os.path.join(d, "blobs")
    for sub in sorted(os.listdir(blobs)) if os.path.isdir(blobs) else []:
        for name in os.listdir(os.path.join(blobs, sub)):
            if len(name) == 64:
                n += 1
            else:
                clean = False
    packs = os.path.join(d, "packs")
    for name in sorted(os.listdir(packs)) if os.path.isdir(packs) else []:
        k, ok = pack_records(os.path.join(packs, name))
        n += k
        clean = clean and ok and name.endswith(".pack")
    print(n if clean else "%d+junk" % n)


if __name__ == "__main__":
    main()
