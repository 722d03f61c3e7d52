#!/bin/bash
# Tamper suite (issue 19): no edit of the catalog can make `dispose`
# destroy what the committed policies and holds keep, and `verify --full`
# names the message (or policy version, or hold) and the field edited.
#
# A real data directory is harvested once from Dovecot (base: 20 messages
# under policy version 1, keep 6 years). A second one (disposed) adds an
# account bob, a hold on the sec.gov mail, policy version 2 (mail under
# 5 KB kept 1 day) and a disposal two days later, so it holds tombstones
# and justifications. Each case edits one fresh copy (pv_sql), then:
# verify --full exits 3 naming what was edited, dispose refuses (exit 3)
# and nothing is destroyed (the copy's disposed count is unchanged and the
# target message still reads back byte for byte with show --raw).
# In the backend matrix (tests/README) each copy is pv_copy_archive's (its
# own PostgreSQL database) and the edits go through pv_sql, in the
# engine's dialect where SQLite's forms have no PostgreSQL spelling.
set -u
. "$(dirname "$0")/lib/harness.sh"
. "$(dirname "$0")/lib/popvault.sh"
h_init
h_plan 76

python3 "$H_LIB/genmail.py" --count 20 --seed 7 --out "$H_RUN/mail" --max-attachment 20000 >/dev/null
h_dovecot_start --seed alice="$H_RUN/mail"
printf 'alicepw\n' >"$H_RUN/alice.pw"
printf 'bobpw\n' >"$H_RUN/bob.pw"
# Time as seen by popvault: N days from now (UTC), the real clock moved by
# an offset (faketime -f +Nd), so per copy it only moves forward
# (checkpoints carry their time).
B="$H_RUN/base"
pv_init "$B"
$PV --data "$B" account add alice --host localhost --port "$DOVECOT_TLS_PORT" --user alice \
	--password-file "$H_RUN/alice.pw" --ca-file "$DOVECOT_CA" >/dev/null
$PV --data "$B" harvest --once >/dev/null 2>&1
h_is "$($PV --data "$B" --json stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["messages"])')" \
	20 "20 messages harvested from Dovecot"

# The disposed archive: small mail (4, 11, 14, 17, 19) kept a day; 11 and
# 14 have a sec.gov participant and are held; 4, 17 and 19 are disposed.
D="$H_RUN/disposed"
pv_copy_archive "$B" "$D"
# (pv_at: the S3 gateway's clock moves along in the matrix.)
dat() { pv_at "$@"; }
# glass RUNNER DAY: approves the pending proposal (a shorter policy, a
# disposal run) alone, with --break-glass: the two-person rule's path for a
# single operator, which these tests are.
glass() {
	local id
	id=$("$1" "$2" --json approvals list 2>/dev/null | h_json 'd[0]["id"] if d else ""')
	[ -n "$id" ] || return 0
	"$1" "$2" approvals approve "$id" --break-glass --reason "tamper.t: one operator" 2>&1
}
# dispose_now RUNNER DAY: a disposal run proposed and approved; the status
# of the step that decided (a refusal at either step, else the run's).
dispose_now() {
	"$1" "$2" dispose 2>&1 || return $?
	glass "$1" "$2"
}
dat 0 account add bob --host localhost --port "$DOVECOT_TLS_PORT" --user bob \
	--password-file "$H_RUN/bob.pw" --ca-file "$DOVECOT_CA" >/dev/null
dat 0 hold add sec-inquiry --query 'participant:sec.gov' >/dev/null
printf 'rule "small": retain 1d when size < 5KB\ndefault: retain 6y\n' >"$H_RUN/small.policy"
dat 0 policy propose "$H_RUN/small.policy" >/dev/null
glass dat 0 >/dev/null
dispose_now dat 2 >"$H_RUN/d0.out" 2>&1
h_like "$(cat "$H_RUN/d0.out")" 'disposed of 3 messages' "the disposed archive: messages 4, 17 and 19 disposed" 
h_is "$(pv_sql 'SELECT group_concat(id) FROM messages WHERE disposed_at IS NOT NULL')" \
	"4,17,19" "…exactly those"
h_is "$(pv_sql "SELECT count(*) FROM audit_event WHERE type = 'disposal-item'")" 3 \
	"…each justified by a disposal-item entry in the audit log"

C="$H_RUN/copy"
q() { D=$C pv_sql "$1"; }
pvc() { D=$C pv_at "$@"; }
# The dialects' spellings of what the edits need: the time now in unix
# seconds, 32 zero bytes, a blob's bytes edited as text (PostgreSQL has
# no BLOB type; its leaves are UTF-8).
if pv_is_pg; then
	now_sql="CAST(extract(epoch FROM now()) AS bigint)"
	zero32_sql="decode(repeat('00', 32), 'hex')"
	blob_replace() { echo "convert_to(replace(convert_from($1, 'UTF8'), '$2', '$3'), 'UTF8')"; }
else
	now_sql="strftime('%s', 'now')"
	zero32_sql="zeroblob(32)"
	blob_replace() { echo "CAST(replace(CAST($1 AS TEXT), '$2', '$3') AS BLOB)"; }
fi
eml() { sha256sum <"$H_RUN/mail/$(printf %05d "$1").eml" | cut -d' ' -f1; }
# Sets a policy version's stored text and its sha256 column together, as
# someone who drops the trigger would (the audit log keeps the old hash).
forge_policy() {
	if D=$C pv_is_pg; then
		q "DROP TRIGGER policy_versions_never_edited ON policy_versions;
		   UPDATE policy_versions SET text = $(blob_replace text "$2" "$3") WHERE version = $1;
		   UPDATE policy_versions SET sha256 = encode(sha256(text), 'hex') WHERE version = $1"
		return
	fi
	python3 - "$C/catalog.db" "$1" "$2" "$3" <<'EOF'
import hashlib, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
v, old, new = int(sys.argv[2]), sys.argv[3], sys.argv[4]
t = bytes(db.execute("SELECT text FROM policy_versions WHERE version = ?", (v,)).fetchone()[0])
t = t.replace(old.encode(), new.encode())
db.execute("DROP TRIGGER policy_versions_never_edited")
db.execute("UPDATE policy_versions SET text = ?, sha256 = ? WHERE version = ?",
           (t, hashlib.sha256(t).hexdigest(), v))
db.commit()
EOF
}

# check NAME SRC DAY WANT TARGET -- SHELL: one edit on a fresh copy of SRC,
# then verify --full and dispose on day DAY. $undo (if set) runs before
# the content is read back.
check() {
	local name=$1 src=$2 day=$3 want=$4 target=$5
	shift 6
	pv_copy_archive "$src" "$C"
	eval "$*"
	local disposed
	disposed=$(q 'SELECT count(*) FROM messages WHERE disposed_at IS NOT NULL')
	pvc "$day" verify --full >"$H_RUN/v.out" 2>&1
	local rc=$?
	if [ $rc -eq 3 ] && grep -Eq "^FAIL: .*$want" "$H_RUN/v.out"; then
		h_pass "$name: verify --full names it"
	else
		h_fail "$name: verify --full names it" "exit $rc, want /$want/" "$(cat "$H_RUN/v.out")"
	fi
	dispose_now pvc "$day" >"$H_RUN/d.out" 2>&1
	rc=$?
	if [ $rc -eq 3 ] && grep -q 'refusing to dispose' "$H_RUN/d.out"; then
		h_pass "$name: dispose refuses"
	else
		h_fail "$name: dispose refuses" "exit $rc" "$(cat "$H_RUN/d.out")"
	fi
	h_is "$(q 'SELECT count(*) FROM messages WHERE disposed_at IS NOT NULL')" "$disposed" \
		"$name: nothing is disposed"
	# An edit that keeps show from finding the key is undone first: the
	# question is whether the content survived, not whether show trusts
	# the edited row.
	[ -n "${undo:-}" ] && eval "$undo"
	undo=
	pvc "$day" show "$target" --raw >"$H_RUN/show.out" 2>"$H_RUN/show.err"
	rc=$?
	local got
	got=$(sha256sum <"$H_RUN/show.out" | cut -d' ' -f1)
	if [ "$got" = "$(eml "$target")" ]; then
		h_pass "$name: message $target still reads back byte for byte"
	else
		h_fail "$name: message $target still reads back byte for byte" \
			"show exit $rc, $(stat -c %s "$H_RUN/show.out") bytes, sha256 $got" "$(cat "$H_RUN/show.err")"
	fi
}

# --- the two reproductions of the issue --------------------------------
check "expires_at moved to the past (message 18, kept 6 years)" "$B" 0 \
	'message 18: expires_at' 18 -- \
	'q "UPDATE messages SET expires_at = $now_sql - 60 WHERE id = 18"'
check "size inflated, then a size rule set and three days pass" "$B" 3 \
	'message 18: size' 18 -- \
	'q "UPDATE messages SET size = 5000000 WHERE id = 18";' \
	'printf "rule \"big\": retain 1d when size > 1MB\ndefault: retain 6y\n" >"$H_RUN/big.policy";' \
	'pvc 0 policy propose "$H_RUN/big.policy" >/dev/null; glass pvc 0 >/dev/null'
h_is "$(q 'SELECT retention_class FROM messages WHERE id = 18')" default \
	"…the size rule was evaluated on the real bytes: message 18 stays in class default"

# --- each column a decision or a display uses ---------------------------
check "class and expiry of a large message set to the 1-day rule" "$D" 3 \
	'message 16: retention_class' 16 -- \
	'q "UPDATE messages SET retention_class = '"'small'"', expires_at = received_at + 86400 WHERE id = 16"'
check "received time moved back 400 days" "$D" 3 \
	'message 16: received_at' 16 -- \
	'q "UPDATE messages SET received_at = received_at - 400 * 86400 WHERE id = 16"'
check "account changed to bob" "$D" 3 \
	'message 16: account' 16 -- \
	'q "UPDATE messages SET account_id = (SELECT id FROM accounts WHERE name = '"'bob'"') WHERE id = 16"'
b16=$(pv_sql 'SELECT bucket_id FROM messages WHERE id = 16')
undo="q 'UPDATE messages SET bucket_id = $b16 WHERE id = 16'"
check "bucket moved to the 1-day bucket" "$D" 3 \
	'message 16: bucket_id' 16 -- \
	'q "UPDATE messages SET bucket_id = (SELECT bucket_id FROM messages WHERE id = 11) WHERE id = 16"'
check "size of a small held message changed" "$D" 3 \
	'message 11: size' 11 -- \
	'q "UPDATE messages SET size = 100 WHERE id = 11"'

# --- policy versions, holds, tombstones, disposal records ---------------
check "policy version 2 rewritten to keep everything 1 day" "$D" 3 \
	'policy version 2: text' 16 -- \
	'forge_policy 2 "retain 6y" "retain 1d"'
check "the hold's query changed to match nothing" "$D" 3 \
	'hold 1 \(sec-inquiry\): query' 11 -- \
	'q "UPDATE holds SET query = '"'xyzzy-matches-nothing'"' WHERE id = 1"'
check "the hold marked released in the catalog only" "$D" 3 \
	'hold 1 \(sec-inquiry\): released_at' 11 -- \
	'q "UPDATE holds SET released_at = 1, released_by = '"'cli:nobody'"' WHERE id = 1"'
check "a tombstone's rule rewritten" "$D" 3 \
	'message 4: tombstone' 11 -- \
	'q "UPDATE tlog_leaf SET data = $(blob_replace data "under rule small" "under rule default") WHERE log_id = (SELECT id FROM tlog_log WHERE name = '"'archive'"') AND idx = (SELECT tombstone_index FROM disposal_items WHERE message_id = 4)"'
undo="q 'UPDATE messages SET disposed_at = NULL WHERE id = 16'"
check "a live message marked disposed (its bucket key would look free to shred)" "$D" 3 \
	'message 16: disposed_at' 16 -- \
	'q "UPDATE messages SET disposed_at = $now_sql WHERE id = 16"'
# (PostgreSQL: the new disposal's id is the max, not last_insert_rowid().)
check "an interrupted disposal of a live message forged in the catalog" "$D" 3 \
	'message 16: disposal_items' 16 -- \
	'if D=$C pv_is_pg; then last="(SELECT max(id) FROM disposals)"; else last="last_insert_rowid()"; fi
	 q "INSERT INTO disposals (state, policy_version, intent_at, holds_digest, messages, actor) VALUES ('"'intent'"', 2, 1, '"'x'"', 1, '"'cli:x'"'); INSERT INTO disposal_items (disposal_id, message_id, policy_version, rule, expires_at) VALUES ($last, 16, 2, '"'small'"', 1)"'

# The catalog's sha256 can only be checked against the content: verify --full.
pv_copy_archive "$D" "$C"
q "UPDATE messages SET sha256 = $zero32_sql WHERE id = 16"
pvc 3 verify --full >"$H_RUN/v.out" 2>&1
h_is $? 3 "sha256 column zeroed: verify --full fails"
h_like "$(grep '^FAIL' "$H_RUN/v.out")" 'message 16: sha256' "…and names message 16 and sha256"

# The search index and the hold's recorded members edited so the hold's
# query misses message 11: dispose rebuilds the index entry of each due
# message from its bytes before holds run, so 11 stays held; verify sees
# the hold records no longer match what the disposal's intent recorded.
pv_copy_archive "$D" "$C"
# (PostgreSQL's full-text index is idx_doc's column tv.)
if pv_is_pg; then idx_del="UPDATE idx_doc SET tv = CAST('' AS tsvector) WHERE id = 11"; else idx_del="DELETE FROM idx_fts WHERE rowid = 11"; fi
q "$idx_del; DELETE FROM hold_members WHERE message_id = 11"
dispose_now pvc 3 >"$H_RUN/d.out" 2>&1
h_is $? 0 "index entry and hold membership of message 11 deleted: dispose runs"
h_like "$(grep -E '^ +11 ' "$H_RUN/d.out")" 'held +.*held by matter sec-inquiry' "…and message 11 is still held"
h_is "$(pvc 3 show 11 --raw 2>/dev/null | sha256sum | cut -d' ' -f1)" "$(eml 11)" "…and reads back"
pvc 3 verify --full >"$H_RUN/v.out" 2>&1
h_is $? 3 "…verify --full fails"
h_like "$(grep '^FAIL' "$H_RUN/v.out")" 'disposal 1: holds' "…naming the hold records disposal 1 recorded"

# --- signing keys: verify needs only the public keys --------------------
pv_copy_archive "$D" "$C"
rm "$C/keys/sign/archive.key" "$C/keys/sign/audit.key"
pvc 3 verify --full >"$H_RUN/v.out" 2>&1
h_is $? 0 "signing keys missing, nothing else wrong: verify --full passes" "$(cat "$H_RUN/v.out")"
h_like "$(cat "$H_RUN/v.out")" 'note: no signing key for the archive log' "…and says it checked with the public keys"
q "UPDATE messages SET size = 100 WHERE id = 16"
pvc 3 verify --full >"$H_RUN/v.out" 2>&1
h_is $? 3 "signing keys missing and a row edited: verify --full exits 3"
h_like "$(grep '^FAIL' "$H_RUN/v.out")" 'message 16: size' "…naming message 16 and size"
h_check "…without stopping at the missing key" eval '! grep -q "current key" "$H_RUN/v.out"'
pv_copy_archive "$D" "$C"
$PV init --data "$H_RUN/other" >/dev/null
cp "$H_RUN/other/keys/sign/archive.key" "$C/keys/sign/archive.key"
q "UPDATE messages SET expires_at = expires_at - 86400 WHERE id = 16"
pvc 3 verify --full >"$H_RUN/v.out" 2>&1
h_is $? 3 "signing key swapped for another archive's and a row edited: verify --full exits 3"
h_like "$(grep '^FAIL' "$H_RUN/v.out")" 'archive log: signing key' "…naming the swapped key"
h_like "$(grep '^FAIL' "$H_RUN/v.out")" 'message 16: expires_at' "…and message 16's expires_at"

# --- clean copies pass ---------------------------------------------------
for src in "$B" "$D"; do
	pv_copy_archive "$src" "$C"
	pvc 3 verify --full >"$H_RUN/v.out" 2>&1
	h_is $? 0 "a clean copy of $(basename "$src") verifies with --full" "$(cat "$H_RUN/v.out")"
done
dispose_now pvc 3 >"$H_RUN/d.out" 2>&1
h_is $? 0 "…and dispose runs on it" "$(cat "$H_RUN/d.out")"
pvc 4 verify --full >"$H_RUN/v.out" 2>&1
h_is $? 0 "…and it still verifies afterwards" "$(cat "$H_RUN/v.out")"
