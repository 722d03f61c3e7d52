#!/usr/bin/env python3
"""Forges a zip bundle's central directory (tests/e2e/bundle_zip.t).

    zipforge.py IN OUT HOW

IN is a zip as popvault writes it (libarchive: local entries, then the
central directory, then the end records, Zip64 ones past 65,535 entries).
Its local entries are kept byte for byte; the central directory is taken
apart, edited as HOW says and written again with end records that agree
with it, so that the only fault is the one named:

  same     nothing changed (and a plain end record): must still verify
  zip64    nothing changed, Zip64 end records: must still verify
  swap     central entries 2 and 3 swapped (unzip's order differs)
  drop     central entry 2 left out
  extra    central entry 2 listed a second time, at the end
  crc      central entry 2's CRC-32 changed
  size     central entry 2's size changed
  name     central entry 2's name changed (its local header keeps its own)
  hidden   a local entry of other content for entry 2's name hidden in the
           last central entry's comment, and entry 2 pointing at it: what
           unzip (and Python's zipfile) extracts is not what the stream holds

Prints entry 2's name.
"""
import struct
import sys
import zlib


def split(data):
    eocd = data.rfind(b"PK\x05\x06")
    cd_off = struct.unpack_from("<I", data, eocd + 16)[0]
    cd_end = eocd
    loc = data.rfind(b"PK\x06\x07", 0, eocd)
    if loc >= 0 and loc + 20 == eocd:
        z = struct.unpack_from("<Q", data, loc + 8)[0]
        cd_off = struct.unpack_from("<Q", data, z + 48)[0]
        cd_end = z
    ents, at = [], cd_off
    while at < cd_end:
        n, m, k = struct.unpack_from("<HHH", data, at + 28)
        ents.append(bytearray(data[at:at + 46 + n + m + k]))
        at += 46 + n + m + k
    return data[:cd_off], ents


def join(local, ents, zip64):
    cd = b"".join(ents)
    out = bytearray(local) + cd
    n, size, off = len(ents), len(cd), len(local)
    if zip64:
        z = len(out)
        out += b"PK\x06\x06" + struct.pack("<QHHIIQQQQ", 44, 45, 45, 0, 0, n, n, size, off)
        out += b"PK\x06\x07" + struct.pack("<IQI", 0, z, 1)
        n, size, off = 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF
    out += b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, n, n, size, off, 0)
    return bytes(out)


def name_of(e):
    n = struct.unpack_from("<H", e, 28)[0]
    return bytes(e[46:46 + n]).decode()


def main():
    src, dst, how = sys.argv[1:4]
    local, ents = split(open(src, "rb").read())
    zip64 = how == "zip64"
    e = ents[2]
    if how == "swap":
        ents[2], ents[3] = ents[3], ents[2]
    elif how == "drop":
        del ents[2]
    elif how == "extra":
        ents.append(bytearray(e))
    elif how == "crc":
        e[16] ^= 0x01
    elif how == "size":
        struct.pack_into("<I", e, 24, struct.unpack_from("<I", e, 24)[0] + 1)
    elif how == "name":
        n = struct.unpack_from("<H", e, 28)[0]
        e[46 + n - 1] = ord("X") if e[46 + n - 1] != ord("X") else ord("Y")
    elif how == "hidden":
        name = bytes(e[46:46 + struct.unpack_from("<H", e, 28)[0]])
        body = b"forged content that unzip shows instead\n"
        crc = zlib.crc32(body)
        lh = b"PK\x03\x04" + struct.pack("<HHHHHIIIHH", 20, 0, 0, 0, 0, crc, len(body),
                                         len(body), len(name), 0) + name + body
        last = ents[-1]
        n, m, k = struct.unpack_from("<HHH", last, 28)
        # The hidden entry's offset: where the last entry's comment will be.
        at = len(local) + sum(len(x) for x in ents) - len(last) + 46 + n + m + k
        last += lh
        struct.pack_into("<H", last, 32, k + len(lh))
        struct.pack_into("<HH", e, 8, 0, 0)        # flags: no descriptor; stored
        struct.pack_into("<III", e, 16, crc, len(body), len(body))
        struct.pack_into("<I", e, 42, at)
    elif how not in ("same", "zip64"):
        raise SystemExit("unknown forgery " + how)
    open(dst, "wb").write(join(local, ents, zip64))
    print(name_of(e))


if __name__ == "__main__":
    main()
