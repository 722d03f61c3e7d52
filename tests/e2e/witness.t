#!/bin/bash
# Witnesses (C2SP tlog-witness, tlog-cosignature): two popvault archives
# and two `popvault witness serve` on loopback. Cosignatures accumulate
# and verify on their own; the witness answers the protocol's status
# codes; a log rolled back, or forked and signed again with the box's own
# key, is refused with 409 Conflict (and 422 once it grows on); verify and
# verify-bundle check a quorum of witnesses, and a bundle fails when a
# cosignature is removed or forged.
set -u
. "$(dirname "$0")/lib/harness.sh"
. "$(dirname "$0")/lib/popvault.sh"
h_init
h_plan 41

h_genmail --count 5 --seed 11 --out "$H_RUN/mail"
h_genmail --count 4 --seed 12 --out "$H_RUN/more"
h_dovecot_start --seed alice="$H_RUN/mail" --seed bob="$H_RUN/more"
more=("$H_RUN"/more/0000*.eml)

pv_init "$H_RUN/b" --origin b.example/popvault
pv_dovecot_account bob
pv harvest --once >/dev/null 2>&1
BA=$(pv checkpoint --log archive --vkey); BU=$(pv checkpoint --log audit --vkey)
pv_init "$H_RUN/a" --origin a.example/popvault
pv_dovecot_account alice
pv harvest --once >/dev/null 2>&1
AA=$(pv checkpoint --log archive --vkey); AU=$(pv checkpoint --log audit --vkey)
printf '%s\n%s\n' "$BA" "$BU" >"$H_RUN/b.vkeys"
h_witness_start --name w1 --log "$AA" --log "$AU" --log "$H_RUN/b.vkeys"
h_witness_start --name w2 --log "$AA" --log "$AU" --log "$H_RUN/b.vkeys"
for dir in a b; do
	cat >>"$H_RUN/$dir/popvault.conf" <<EOF
[witnesses]
witness = $W1_VKEY $W1_URL
witness = $W2_VKEY $W2_URL
quorum = 2
EOF
done
pva() { "$PV" --data "$H_RUN/a" "$@"; }
pvb() { "$PV" --data "$H_RUN/b" "$@"; }
wsql() { sqlite3 "$1" "$2"; }

# --- the round trip -----------------------------------------------------------------
pva checkpoint --log archive >"$H_RUN/a5.cp"
pva anchor >"$H_RUN/out" 2>&1
h_is $? 0 "anchor: both witnesses cosign both logs of archive a"
h_is "$(grep -c ': ok, cosigned-at=' "$H_RUN/out")" 4 "…four cosignatures"
pvb anchor >"$H_RUN/out" 2>&1
h_is $? 0 "one witness serves several archives: b's logs are cosigned too"
h_is "$(wsql "$W1_STATE" "SELECT group_concat(origin || '=' || size, ' ') FROM (SELECT * FROM witness_logs ORDER BY origin)")" \
	"a.example/popvault/archive=5 a.example/popvault/audit=$(D=$H_RUN/a pv_sql "SELECT size FROM cosignatures WHERE log = 'audit' AND witness = '$W1_NAME'") b.example/popvault/archive=4 b.example/popvault/audit=$(D=$H_RUN/b pv_sql "SELECT size FROM cosignatures WHERE log = 'audit' AND witness = '$W1_NAME'")" \
	"the witness's state: per origin the size it cosigned"
pva checkpoint --log archive >"$H_RUN/cp"
h_is "$(grep -c "^— w[12].example/w " "$H_RUN/cp")" 2 \
	"checkpoint prints the note with both cosignature lines after the log's own"
cat >"$H_RUN/cosig.py" <<'EOF'
import base64, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
note, vkey = open(sys.argv[1]).read(), sys.argv[2]
body, sigs = note.split("\n\n", 1)
name, kid, key = vkey.split("+", 2)
raw = base64.b64decode(key)
assert raw[0] == 4, "a cosigner key is type 0x04"
for line in sigs.splitlines():
    if line.startswith("\u2014 %s " % name):
        sig = base64.b64decode(line.split(" ")[2])
        assert sig[:4].hex() == kid and len(sig) == 76
        t = int.from_bytes(sig[4:12], "big")
        msg = ("cosignature/v1\ntime %d\n" % t + body + "\n").encode()
        Ed25519PublicKey.from_public_bytes(raw[1:]).verify(sig[12:], msg)
        print("ok", t)
EOF
h_like "$(python3 "$H_RUN/cosig.py" "$H_RUN/cp" "$W1_VKEY" 2>&1)" "^ok [0-9]+$" \
	"the cosignature is C2SP cosignature/v1, checked by an independent implementation"
h_like "$(pva audit list --type anchor)" "party=w1.example/w cosigned-at=.* -> ok" \
	"each cosignature is an 'anchor' audit entry"

# Cosignatures accumulate as the log grows.
pv_copy_archive "$H_RUN/a" "$H_RUN/a.before"   # a copy to roll back to, later
h_seed dovecot alice "${more[0]}" >/dev/null
pva harvest --once >/dev/null 2>&1
pva anchor --log archive >/dev/null 2>&1
h_is "$(D=$H_RUN/a pv_sql "SELECT group_concat(size, ' ') FROM (SELECT DISTINCT size FROM cosignatures WHERE log = 'archive' ORDER BY size) AS s")" \
	"5 6" "cosignatures accumulate: the archive log's checkpoints at 5 and 6 entries"
h_is "$(wsql "$W2_STATE" "SELECT size FROM witness_logs WHERE origin = 'a.example/popvault/archive'")" 6 \
	"…the witness now holds 6 (it checked the consistency proof from 5)"
pva verify >"$H_RUN/out" 2>&1
h_is $? 0 "verify with [witnesses] quorum = 2: OK"
h_like "$(cat "$H_RUN/out")" "witnessed:   archive log at 6 entries, cosigned by 2 of 2 witnesses \(quorum 2\)" \
	"…naming the newest checkpoint with the quorum"
h_fails "verify --witness with an unrelated key and its quorum: no checkpoint has it" 3 \
	"FAIL: the archive log has no checkpoint cosigned by 1 of the 1 witnesses" \
	"$PV" --data "$H_RUN/a" verify --witness "$(sed 's/^w1/w9/' <<<"$W1_VKEY" | "$H_PY" -c '
import base64, hashlib, sys
name, _, key = sys.stdin.read().strip().split("+", 2)
raw = base64.b64decode(key)
print("%s+%s+%s" % (name, hashlib.sha256(name.encode() + b"\n\x04" + raw[1:]).digest()[:4].hex(), key))')"

# --- the protocol's answers ------------------------------------------------------------
post() { curl -s -o "$H_RUN/body" -w '%{http_code} %{content_type}' --data-binary @"$1" "$W1_URL/add-checkpoint"; }
{ printf 'old 0\n\n'; cat "$H_RUN/a5.cp"; } >"$H_RUN/req"
h_is "$(post "$H_RUN/req") $(cat "$H_RUN/body")" "409 text/x.tlog.size 6" \
	"a stale checkpoint (5 entries, old size 0): 409 Conflict with the size the witness holds"
{ printf 'old 6\n\n'; cat "$H_RUN/a5.cp"; } >"$H_RUN/req"
h_is "$(post "$H_RUN/req" | cut -d' ' -f1)" 400 "an old size above the checkpoint's: 400"
"$H_PY" - "$H_RUN/a5.cp" "$H_RUN/req" <<'EOF'
import base64, sys
head, sig = open(sys.argv[1]).read().rsplit(" ", 1)
raw = bytearray(base64.b64decode(sig))
raw[10] ^= 1                           # a byte of the signature, not of the key ID
open(sys.argv[2], "w").write("old 5\n\n" + head + " " + base64.b64encode(raw).decode() + "\n")
EOF
h_is "$(post "$H_RUN/req" | cut -d' ' -f1)" 403 "a checkpoint whose signature was changed: 403"
pv_init "$H_RUN/c" --origin c.example/popvault
{ printf 'old 0\n\n'; pv checkpoint --log archive; } >"$H_RUN/req"
h_is "$(post "$H_RUN/req" | cut -d' ' -f1)" 404 "a log the witness does not follow: 404"
printf 'old x\n\nnothing\n' >"$H_RUN/req"
h_is "$(post "$H_RUN/req" | cut -d' ' -f1)" 400 "a malformed request: 400"
h_is "$(curl -s -o /dev/null -w '%{http_code}' "$W1_URL/add-checkpoint")" 405 "GET: 405"

# --- a rolled-back and forked log -------------------------------------------------------
# The owner rolls the archive back to the copy from before the 6th message
# and signs on with the box's own key.
F="$H_RUN/a.forked"
pv_copy_archive "$H_RUN/a.before" "$F"
h_fails "the rolled-back log is refused: the witness cosigned more than it has" 3 \
	"FAILED: 409 Conflict: the witness has cosigned 6 entries of this log, more than the 5 it has now" \
	"$PV" --data "$F" anchor --log archive
h_seed dovecot alice "${more[1]}" >/dev/null
"$PV" --data "$F" harvest --once >/dev/null 2>&1
h_is "$(D=$F pv_sql "SELECT size FROM tlog_log WHERE name = 'archive'")" 6 \
	"(the forked log has 6 entries again, the 6th another message)"
h_fails "a fork of the same size is refused with 409 Conflict" 3 \
	"FAILED: 409 Conflict: the witness holds another tree of 6 entries of this log: the log was forked" \
	"$PV" --data "$F" anchor --log archive
h_seed dovecot alice "${more[2]}" >/dev/null
"$PV" --data "$F" harvest --once >/dev/null 2>&1
h_fails "the fork grown on is refused: its consistency proof does not hold (422)" 3 \
	"FAILED: 422: the witness does not accept the consistency proof from 6 to 7 entries" \
	"$PV" --data "$F" anchor --log archive
h_is "$(wsql "$W1_STATE" "SELECT group_concat(status, ' ') FROM witness_refusals WHERE origin = 'a.example/popvault/archive'")" \
	"409 409 409 409 409 422" "the witness keeps each refused request as evidence (the stale one too)"
h_is "$(wsql "$W1_STATE" "SELECT size FROM witness_logs WHERE origin = 'a.example/popvault/archive'")" 6 \
	"…and still holds the honest log's 6 entries"
h_like "$("$PV" --data "$F" stats)" "Last anchor attempt of the archive log failed: w[12].example/w: (409|422)" \
	"stats on the forked archive shows the refusal"
pva anchor --log archive >/dev/null 2>&1
h_is $? 0 "the honest archive is still cosigned"

# --- bundles -------------------------------------------------------------------------
pva export 'after:1990-01-01' --out "$H_RUN/ed.tar.gz" >/dev/null
tar tzf "$H_RUN/ed.tar.gz" >"$H_RUN/list"
h_check "the eDiscovery bundle carries cosigned checkpoints" grep -q '^archive/cosigned/6$' "$H_RUN/list"
vb() { "$PV" verify-bundle "$@" --vkey "$AA" --vkey "$AU"; }
W=(--witness "$W1_VKEY" --witness "$W2_VKEY")
vb "$H_RUN/ed.tar.gz" "${W[@]}" >"$H_RUN/out" 2>&1
h_is $? 0 "verify-bundle with both witnesses (quorum: all of them) passes"
h_like "$(cat "$H_RUN/out")" "ok: the archive log is witnessed up to 6 of its 6 entries \(2 witnesses, quorum 2" \
	"…and says how far each log is witnessed"
h_like "$(cat "$H_RUN/out")" "ok: the audit log is witnessed up to [0-9]+ of its [0-9]+ entries" "…the audit log too"
vb "$H_RUN/ed.tar.gz" >"$H_RUN/out" 2>&1
h_like "$(cat "$H_RUN/out")" "witness cosignatures of the archive log not checked: give --witness" \
	"without --witness the cosignatures are only mentioned"

# The owner edits the bundle and signs its manifest again with the box's key.
tar xzf "$H_RUN/ed.tar.gz" -C "$H_RUN" --wildcards 'archive/cosigned/*'
puts=()
for f in "$H_RUN"/archive/cosigned/*; do
	grep -v "^— w2.example/w " "$f" >"$f.removed"
	puts+=(--put "archive/cosigned/$(basename "$f")=$f.removed")
done
"$H_PY" "$H_LIB/rebundle.py" "$H_RUN/ed.tar.gz" "$H_RUN/removed.tar.gz" --key "$H_RUN/a/keys/sign/archive.key" \
	"${puts[@]}"
h_fails "w2's cosignatures removed: the quorum of 2 is not met" 3 \
	"FAIL: no checkpoint of the archive log in the bundle is cosigned by 2 of the 2 witnesses given" \
	vb "$H_RUN/removed.tar.gz" "${W[@]}"
vb "$H_RUN/removed.tar.gz" "${W[@]}" --witness-quorum 1 >/dev/null 2>&1
h_is $? 0 "…while a quorum of 1 is"
"$H_PY" - "$H_RUN/archive/cosigned/6" "$H_RUN/forged" <<'EOF'
import base64, os, sys
out = []
for line in open(sys.argv[1]).read().splitlines(keepends=True):
    if line.startswith("\u2014 w2.example/w "):
        sig = base64.b64decode(line.split(" ")[2])
        line = "\u2014 w2.example/w %s\n" % base64.b64encode(sig[:12] + os.urandom(64)).decode()
    out.append(line)
open(sys.argv[2], "w").write("".join(out))
EOF
"$H_PY" "$H_LIB/rebundle.py" "$H_RUN/ed.tar.gz" "$H_RUN/forged.tar.gz" --key "$H_RUN/a/keys/sign/archive.key" \
	--put "archive/cosigned/6=$H_RUN/forged"
h_fails "a forged cosignature is named" 3 "FAIL: archive/cosigned/6: bad cosignature by witness w2.example/w" \
	vb "$H_RUN/forged.tar.gz" "${W[@]}"
h_fails "--witness-quorum above the keys given is a usage error" 2 "only 2 --witness keys given" \
	vb "$H_RUN/ed.tar.gz" "${W[@]}" --witness-quorum 3

pva audit export --out "$H_RUN/audit.tar.gz" >/dev/null
"$PV" verify-bundle "$H_RUN/audit.tar.gz" --vkey "$AU" "${W[@]}" >"$H_RUN/out" 2>&1
h_is $? 0 "an audit bundle carries its cosigned checkpoints and verifies with the quorum"
h_like "$(cat "$H_RUN/out")" "ok: audit/cosigned/[0-9]+: cosigned by 2 of the 2 witnesses given" "…naming them"
X="$H_RUN/x"
mkdir "$X" && tar xzf "$H_RUN/audit.tar.gz" -C "$X"
awk '/^8\. Witnesses/{s=1} s && /^```python/{f=1;next} f && /^```/{exit} f' "$X/VERIFY.md" >"$H_RUN/step8.py"
h_like "$(cd "$X" && for f in audit/cosigned/*; do python3 "$H_RUN/step8.py" "$f" "$W2_VKEY"; done 2>&1)" \
	"^audit/cosigned/[0-9]+ cosigned by w2.example/w at [0-9]+" \
	"VERIFY.md step 8: its Python recipe checks a witness's cosignature by hand"

# --- the witness's own key ------------------------------------------------------------------
h_is "$("$PV" witness vkey --data "$W1_DIR")" "$W1_VKEY" "witness vkey prints the key witness init printed"
h_fails "witness init never overwrites a key" 1 "already exists" \
	"$PV" witness init --data "$W1_DIR" --name w1.example/w
h_fails "witness serve without a log key is a usage error" 2 "needs --log VKEY" \
	"$PV" witness serve --data "$W1_DIR" --listen 127.0.0.1:0
