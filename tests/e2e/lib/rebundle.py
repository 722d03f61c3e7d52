#!/usr/bin/env python3
"""Rewrites a popvault bundle the way its owner could: members replaced,
added or dropped, then MANIFEST.sha256 recomputed and MANIFEST.note signed
again with a signing key of the archive (keys/sign/archive.key for eDiscovery
bundles, keys/sign/audit.key for audit bundles).  What survives that is only
what parties outside the box vouch for.

    rebundle.py SRC.tar.gz DST.tar.gz --key KEYFILE [--put NAME=FILE]...
                [--drop NAME]...
"""
import argparse
import base64
import hashlib
import io
import sys
import tarfile

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def load_key(path):
    """(name, key id, private key) of a popvault key file:
    PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>."""
    text = open(path).read().strip()
    assert text.startswith("PRIVATE+KEY+"), path
    name, kid, b64 = text[len("PRIVATE+KEY+"):].split("+", 2)  # names hold no "+"
    raw = base64.b64decode(b64)
    assert raw[0] == 1 and len(raw) == 33, "not an Ed25519 key"
    return name, bytes.fromhex(kid), Ed25519PrivateKey.from_private_bytes(raw[1:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--key", required=True)
    ap.add_argument("--put", action="append", default=[], metavar="NAME=FILE")
    ap.add_argument("--drop", action="append", default=[], metavar="NAME")
    a = ap.parse_args()

    mem, order = {}, []
    with tarfile.open(a.src, "r:gz") as t:
        for m in t.getmembers():
            if m.isfile():
                mem[m.name] = t.extractfile(m).read()
                order.append(m.name)
    for spec in a.put:
        name, _, path = spec.partition("=")
        if name not in mem:
            order.insert(order.index("MANIFEST.sha256"), name)
        mem[name] = open(path, "rb").read()
    for name in a.drop:
        del mem[name]
        order.remove(name)

    man = "".join("%s  %s\n" % (hashlib.sha256(mem[n]).hexdigest(), n)
                  for n in order if not n.startswith("MANIFEST.")).encode()
    mem["MANIFEST.sha256"] = man
    text = mem["MANIFEST.note"].decode().split("\n\n")[0] + "\n"
    text = "".join(l if not l.startswith("sha256 ") else
                   "sha256 " + hashlib.sha256(man).hexdigest() + "\n"
                   for l in text.splitlines(keepends=True))
    name, kid, key = load_key(a.key)
    sig = base64.b64encode(kid + key.sign(text.encode())).decode()
    mem["MANIFEST.note"] = ("%s\n\u2014 %s %s\n" % (text, name, sig)).encode()
    with tarfile.open(a.dst, "w:gz") as t:
        for n in order:
            ti = tarfile.TarInfo(n)
            ti.size = len(mem[n])
            t.addfile(ti, io.BytesIO(mem[n]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
