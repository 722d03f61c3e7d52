"""C2SP tlog-proofs of the API's /messages/{id}/proof, checked by hand
(RFC 6962/9162 inclusion, signed notes), for the e2e tests that read one
(api_legal.t, serve_pg.t)."""
import base64
import hashlib

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def sha(b):
    return hashlib.sha256(b).digest()


def root_from_inclusion(index, size, leaf_hash, proof):
    """RFC 9162 §2.1.3.2: the root an inclusion proof gives, or None."""
    if index >= size:
        return None
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = sha(b"\x01" + p + r)
            if not fn & 1:
                while True:
                    fn >>= 1
                    sn >>= 1
                    if fn & 1 or fn == 0:
                        break
        else:
            r = sha(b"\x01" + r + p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def note_verify(note, vkey):
    """A C2SP signed note signed by vkey (name+hexid+base64(0x01||pk)): its
    text, or None."""
    name, keyid, key = vkey.split("+", 2)
    pk = base64.b64decode(key)
    text, _, sigs = note.partition("\n\n")
    text += "\n"
    for line in sigs.splitlines():
        if not line.startswith("\u2014 " + name + " "):
            continue
        sig = base64.b64decode(line.split(" ")[2])
        if sig[:4] != bytes.fromhex(keyid) or pk[0] != 1:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(pk[1:]).verify(sig[4:], text.encode())
            return text
        except Exception:
            return None
    return None


def proof_verifies(proof, raw, vkey):
    """The message bytes raw are the leaf the proof names, in a checkpoint
    signed by vkey; returns the leaf index or None."""
    lines = proof.split("\n")
    if lines[0] != "c2sp.org/tlog-proof@v1":
        return None
    extra = base64.b64decode(lines[1].split(" ", 1)[1])
    index = int(lines[2].split(" ", 1)[1])
    hashes, k = [], 3
    while lines[k] != "":
        hashes.append(base64.b64decode(lines[k]))
        k += 1
    note = "\n".join(lines[k + 1:])
    text = note_verify(note, vkey)
    if text is None:
        return None
    origin, size, root = text.split("\n")[:3]
    salt_line, _, leaf = extra.partition(b"\n")
    salt = bytes.fromhex(salt_line.decode().split(" ")[1])
    fields = dict(ln.split(" ", 1) for ln in leaf.decode().splitlines()[1:])
    # A v3 leaf commits to the SHA-256 of the bytes, v1 and v2 to the bytes.
    committed = hashlib.sha256(raw).digest() if leaf.startswith(b"popvault/archive/v3 ") else raw
    if fields.get("commit") != hashlib.blake2b(committed, key=salt, digest_size=32).hexdigest():
        return None
    got = root_from_inclusion(index, int(size), sha(b"\x00" + leaf), hashes)
    return index if got is not None and got == base64.b64decode(root) else None
