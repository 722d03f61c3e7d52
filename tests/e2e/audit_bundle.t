#!/bin/bash
# Audit bundles (issue 5): audit export writes a signed bundle that
# verify-bundle checks offline, with no data directory, trusting only the
# --vkey keys; the by-hand recipe in VERIFY.md works; every tampering the
# issue lists fails with exit 3 and a message naming the problem.
set -u
. "$(dirname "$0")/lib/harness.sh"
. "$(dirname "$0")/lib/popvault.sh"
h_init
h_plan 40

pv_init "$H_RUN/data" --origin test.example/pv
VK=$(pv checkpoint --log audit --vkey)
AVK=$(pv checkpoint --log archive --vkey)
printf 'pw\n' >"$H_RUN/pw"
for i in $(seq 1 12); do
	pv account add "acct$i" --host 127.0.0.1 --user "user$i@example.com" --password-file "$H_RUN/pw" \
		--tls none >/dev/null
	pv checkpoint --heartbeat --log audit >/dev/null
done
pv search 'subject:"quarterly, results"' >/dev/null 2>&1
pv audit export --out "$H_RUN/old.tar.gz" >/dev/null
for i in $(seq 1 5); do pv account remove "acct$i" >/dev/null; done

# verify-bundle needs nothing but the file and the key: run it elsewhere.
vb() { (cd / && env -u POPVAULT_DATA HOME=/nonexistent "$PV" verify-bundle "$@"); }

out=$(pv audit export --out "$H_RUN/b.tar.gz")
h_is $? 0 "audit export writes a bundle"
h_like "$out" "^wrote $H_RUN/b.tar.gz: [0-9]+ audit entries" "…and says what it holds"
vb "$H_RUN/b.tar.gz" --vkey "$VK" >"$H_RUN/v.out" 2>&1
h_is $? 0 "verify-bundle accepts it, offline, with the audit vkey"
h_like "$(cat "$H_RUN/v.out")" "ok: the bundle ends with its own export event" "…which ends with its own export event"
h_is "$(tail -1 "$H_RUN/v.out")" "verify-bundle: OK" "…and says OK"
pv audit export --out "$H_RUN/b.zip" >/dev/null
vb "$H_RUN/b.zip" --vkey "$VK" >/dev/null 2>&1
h_is $? 0 "a .zip bundle verifies too"
h_like "$(pv --json audit list | tail -1)" '"type":"audit-export","object":"leaves=0-[0-9]+ since=- until=- personal=yes"' \
	"the export is the newest audit entry"
h_fails "an existing bundle is never overwritten, and says so" 1 \
	"^popvault: $H_RUN/b.tar.gz already exists; refusing to overwrite it" pv audit export --out "$H_RUN/b.tar.gz"
h_fails "an unknown extension is a usage error that names the extensions" 2 \
	'^popvault: .*/b.rar: the bundle name must end in .tar.gz, .tgz or .zip' pv audit export --out "$H_RUN/b.rar"

# Keys: only those given are trusted.
h_fails "no --vkey is a usage error that asks for one" 2 '^popvault: verify-bundle needs --vkey VKEY' vb "$H_RUN/b.tar.gz"
vb "$H_RUN/b.tar.gz" --vkey "$AVK" >"$H_RUN/v.out" 2>&1
h_is $? 3 "the archive log's key does not verify the audit bundle"
h_like "$(cat "$H_RUN/v.out")" "MANIFEST.note is not signed by a trusted key" "…and says so"
printf '%s\n%s\n' "$AVK" "$VK" >"$H_RUN/keys"
vb "$H_RUN/b.tar.gz" --vkey "$H_RUN/keys" >/dev/null 2>&1
h_is $? 0 "--vkey FILE: a file of keys"
h_like "$(vb "$H_RUN/b.tar.gz" --vkey "$VK" --json 2>/dev/null)" '^\{"ok": true, "kind": "audit", "problems": 0' "--json"

# Continuity with the last bundle a recipient accepted, both ways.
tar xzf "$H_RUN/old.tar.gz" -C "$H_RUN" audit/checkpoint && mv "$H_RUN/audit/checkpoint" "$H_RUN/old.cp"
tar xzf "$H_RUN/b.tar.gz" -C "$H_RUN" audit/checkpoint && mv "$H_RUN/audit/checkpoint" "$H_RUN/new.cp"
vb "$H_RUN/b.tar.gz" --vkey "$VK" --last-checkpoint "$H_RUN/old.cp" >"$H_RUN/v.out" 2>&1
h_is $? 0 "--last-checkpoint: the new bundle extends the old one"
h_like "$(cat "$H_RUN/v.out")" "ok: your last checkpoint \(size [0-9]+\) (is extended by the final tree|matches the entries)" "…and says how it knows"

# A range: entries from a time on; the proof of continuity still comes along.
sleep 1
since=$(date -u +%Y-%m-%dT%H:%M:%SZ)
pv checkpoint --heartbeat --log audit >/dev/null
pv audit export --out "$H_RUN/range.tar.gz" --since "$since" --no-personal >/dev/null
vb "$H_RUN/range.tar.gz" --vkey "$VK" --last-checkpoint "$H_RUN/new.cp" >"$H_RUN/v.out" 2>&1
h_is $? 0 "a --since bundle verifies, and extends the previous bundle's checkpoint"
h_is "$(tar tzf "$H_RUN/range.tar.gz" | grep -c personal.jsonl)" 0 "--no-personal leaves the side data out"

# By hand, as VERIFY.md says.
X="$H_RUN/x"
mkdir "$X" && tar xzf "$H_RUN/b.tar.gz" -C "$X"
h_check "VERIFY.md step 1: sha256sum -c MANIFEST.sha256" bash -c "cd '$X' && sha256sum --quiet -c MANIFEST.sha256"
sed -n '/^2\. /,/^   (The/p' "$X/VERIFY.md" | grep '^       ' | sed 's/^       //' |
	sed "s|^vkey=.*|vkey='$VK'|" >"$H_RUN/step2.sh"
h_is "$(cd "$X" && bash "$H_RUN/step2.sh" 2>&1 | grep -c 'Signature Verified Successfully')" 2 \
	"VERIFY.md step 2: openssl verifies MANIFEST.note and audit/checkpoint with the vkey"
awk '/^```python/{f=1;next}/^```/{f=0}f' "$X/VERIFY.md" >"$H_RUN/step3.py"
h_like "$(cd "$X" && python3 "$H_RUN/step3.py" 2>&1)" "^root OK: [0-9]+ entries" \
	"VERIFY.md step 3: the Python recipe rebuilds the signed root"
printf 'x' >>"$X/audit/leaves"
h_check "…and the recipe notices a changed leaves file" bash -c "cd '$X' && ! python3 '$H_RUN/step3.py' >/dev/null 2>&1"

# Tampering: the outsider's view (no key).
cat >"$H_RUN/tamper.py" <<'EOF'
import io, sys, tarfile, base64, hashlib
src, dst, action = sys.argv[1:4]
mem = {}
order = []
with tarfile.open(src, "r:gz") as t:
    for m in t.getmembers():
        mem[m.name] = t.extractfile(m).read()
        order.append(m.name)
def leaves(b):
    out, i = [], 0
    while i < len(b):
        n = int.from_bytes(b[i:i + 2], "big"); out.append(b[i:i + 2 + n]); i += 2 + n
    return out
def lines(b):
    return b.decode().splitlines(keepends=True)
if action == "edit-entry":
    l = lines(mem["audit/entries.jsonl"])
    l[3] = l[3].replace('"outcome":"ok"', '"outcome":"denied"')
    mem["audit/entries.jsonl"] = "".join(l).encode()
elif action == "edit-leaf":
    b = mem["audit/leaves"]
    i = b.index(b"acct4")
    mem["audit/leaves"] = b[:i] + b"acct5" + b[i + 5:]
elif action == "drop-entry":
    for name, split, join in (("audit/leaves", leaves, b"".join),
                              ("audit/entries.jsonl", lambda b: [x.encode() for x in lines(b)], b"".join)):
        parts = split(mem[name]); del parts[4]; mem[name] = join(parts)
elif action == "reorder":
    for name, split in (("audit/leaves", leaves),
                        ("audit/entries.jsonl", lambda b: [x.encode() for x in lines(b)])):
        parts = split(mem[name]); parts[4], parts[5] = parts[5], parts[4]; mem[name] = b"".join(parts)
elif action == "other-key":
    # Every member consistent again, the manifest re-signed by a key of the
    # same name that the recipient never got.
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives import serialization
    l = lines(mem["audit/entries.jsonl"]); l[3] = l[3].replace('"outcome":"ok"', '"outcome":"denied"')
    mem["audit/entries.jsonl"] = "".join(l).encode()
    man = "".join("%s  %s\n" % (hashlib.sha256(mem[n]).hexdigest(), n)
                  for n in order if not n.startswith("MANIFEST.")).encode()
    mem["MANIFEST.sha256"] = man
    note = mem["MANIFEST.note"].decode()
    text = note.split("\n\n")[0] + "\n"
    name = text.split("\n")[0]
    name = note.split("\n— ")[1].split(" ")[0]
    text = "\n".join(l if not l.startswith("sha256 ") else "sha256 " + hashlib.sha256(man).hexdigest()
                     for l in text.split("\n"))
    k = Ed25519PrivateKey.generate()
    pk = k.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    kid = hashlib.sha256(name.encode() + b"\n\x01" + pk).digest()[:4]
    sig = base64.b64encode(kid + k.sign(text.encode())).decode()
    mem["MANIFEST.note"] = (text + "\n— %s %s\n" % (name, sig)).encode()
elif action == "replay-checkpoint":
    mem["audit/checkpoint"] = open(sys.argv[4], "rb").read()
elif action == "add-file":
    mem["audit/notes.txt"] = b"nothing to see\n"; order.insert(-2, "audit/notes.txt")
with tarfile.open(dst, "w:gz") as t:
    for n in order:
        ti = tarfile.TarInfo(n); ti.size = len(mem[n]); t.addfile(ti, io.BytesIO(mem[n]))
EOF
# tamper NAME ACTION WANT-REGEX [ARG]
tamper() {
	local name=$1 action=$2 want=$3
	rm -f "$H_RUN/t.tar.gz"
	python3 "$H_RUN/tamper.py" "$H_RUN/b.tar.gz" "$H_RUN/t.tar.gz" "$action" ${4:-} || {
		h_fail "$name" "tamper.py $action failed"; return; }
	h_fails "$name" 3 "$want" vb "$H_RUN/t.tar.gz" --vkey "$VK"
}
python3 "$H_RUN/tamper.py" "$H_RUN/b.tar.gz" "$H_RUN/t.tar.gz" none
vb "$H_RUN/t.tar.gz" --vkey "$VK" >/dev/null 2>&1
h_is $? 0 "(control: the same bundle repacked by another tar verifies)"
tamper "an edited entry: its file's hash differs from the manifest" edit-entry \
	"FAIL: audit/entries.jsonl: its SHA-256 differs from MANIFEST.sha256"
tamper "an edited entry: the line that differs from its leaf is named" edit-entry \
	"FAIL: audit/entries.jsonl line 4 does not match entry 3"
tamper "an edited leaf: the entries no longer rebuild the signed root" edit-leaf \
	"FAIL: the entries do not rebuild the root of audit/checkpoint"
tamper "a dropped entry: the leaf after it says it is out of place" drop-entry \
	"FAIL: audit/leaves: leaf 4: says seq 5 \(entries dropped, added or reordered\)"
tamper "a dropped entry: the leaves end early" drop-entry "FAIL: audit/leaves ends after"
tamper "two entries swapped: named" reorder "FAIL: audit/leaves: leaf 4: says seq 5"
tamper "re-signed with another key" other-key "FAIL: MANIFEST.note is not signed by a trusted key"
tamper "re-signed with another key: the edited line is still named" other-key \
	"FAIL: audit/entries.jsonl line 4 does not match entry 3"
tamper "an older checkpoint replayed in place of the final one" replay-checkpoint \
	"FAIL: audit/tree-proof is for a tree of [0-9]+ leaves but audit/checkpoint has [0-9]+" "$H_RUN/old.cp"
tamper "a file added" add-file "FAIL: audit/notes.txt is in the bundle but not in MANIFEST.sha256"
tamper "a file added: not part of an audit bundle" add-file "FAIL: unexpected member audit/notes.txt"
head -c $(($(stat -c %s "$H_RUN/b.tar.gz") / 2)) "$H_RUN/b.tar.gz" >"$H_RUN/cut.tar.gz"
vb "$H_RUN/cut.tar.gz" --vkey "$VK" >"$H_RUN/t.out" 2>&1
h_is $? 3 "a truncated bundle fails"
h_like "$(cat "$H_RUN/t.out")" "FAIL: bundle is damaged or truncated" "…naming the truncation"
# A whole older bundle replayed to someone who has seen a newer one.
vb "$H_RUN/old.tar.gz" --vkey "$VK" --last-checkpoint "$H_RUN/new.cp" >"$H_RUN/t.out" 2>&1
h_is $? 3 "an older bundle replayed fails against the recipient's last checkpoint"
h_like "$(cat "$H_RUN/t.out")" "FAIL: your last checkpoint has [0-9]+ leaves, more than this bundle's [0-9]+: the bundle is older" \
	"…naming the rollback"
printf 'not a bundle' >"$H_RUN/junk.tar.gz"
h_fails "garbage fails with exit 3, saying it is no bundle" 3 \
	'^FAIL: bundle is damaged or truncated, or not a .tar.gz or .zip' vb "$H_RUN/junk.tar.gz" --vkey "$VK"
# Personal data of several lines (a hold's name, query and note) is one
# quoted CSV cell that spans lines: the verifier reads it as one record
# (it once compared line by line and failed every bundle holding a hold).
pv hold add "Case 1" --query 'from:carol' --note 'per counsel' >/dev/null
pv audit export --out "$H_RUN/multiline.tar.gz" >/dev/null
vb "$H_RUN/multiline.tar.gz" --vkey "$VK" >"$H_RUN/t.out" 2>&1
h_is "$? $(tail -1 "$H_RUN/t.out")" "0 verify-bundle: OK" \
	"a bundle whose personal data spans lines in entries.csv verifies"
