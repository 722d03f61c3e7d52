#!/bin/bash
# verify: a clean archive verifies; every kind of tampering with a copy of
# it is reported (exit 3) and named.
set -u
. "$(dirname "$0")/lib/harness.sh"
. "$(dirname "$0")/lib/popvault.sh"
h_init
h_plan 18

h_genmail --count 12 --seed 3 --out "$H_RUN/mail" --max-attachment 100000
h_dovecot_start --seed alice="$H_RUN/mail"
pv_harvested "$H_RUN/clean"
pv checkpoint >"$H_RUN/saved-checkpoint"

pv verify >"$H_RUN/out" 2>&1
h_is $? 0 "a clean archive verifies"
pv verify --full --checkpoint "$H_RUN/saved-checkpoint" >"$H_RUN/out" 2>&1
h_is $? 0 "…also with --full and a checkpoint saved earlier"

# tamper NAME WANT-REGEX [--full] -- SHELL-COMMANDS (run on a fresh copy in
# $C: pv_copy_archive, so on PostgreSQL the copy has its own catalog).
# Pack bytes change through pv_pack_patch: in the S3 store, below the
# gateway as the cluster's admin (Object Lock refuses it through S3); the
# copy's packs are versions of its own there (pv_copy_archive).
tamper() {
	local name=$1 want=$2 full=$3
	shift 3
	C="$H_RUN/copy"
	pv_copy_archive "$D" "$C"
	eval "$*"
	h_fails "$name" 3 "$want" "$PV" --data "$C" verify $full
	D=$C pv_pack_unpatch
}
# q SQL: on the copy's catalog, whichever the engine.
q() { D=$C pv_sql "$1"; }
# rec ID: "PACK OFFSET LENGTH" of message ID's sealed record.
rec() { q "SELECT pack_id, pack_offset, pack_length FROM messages WHERE id = $1" | tr '|' ' '; }
# put_at OFFSET SRC FILE: SRC's bytes written over FILE from OFFSET.
put_at() { dd if="$2" of="$3" bs=1 seek="$1" conv=notrunc 2>/dev/null; }

tamper "a deleted blob is unauthorised deletion" "unauthorised deletion" "" \
	'set -- $(rec 1); D=$C pv_pack_lose $1'
tamper "a changed blob byte is found without --full" "does not match its hash" "" \
	'set -- $(rec 1); D=$C pv_pack_patch $1 pv_flip_byte $(($2 + 100))'
tamper "a blob replaced by another message's blob" "does not match|differs|commitment" "--full" \
	'set -- $(rec 1); a=$1 at=$2 al=$3; set -- $(rec 2)
	 D=$C pv_pack_bytes $1 $2 $((al < $3 ? al : $3)) >"$H_RUN/blob2"
	 D=$C pv_pack_patch $a put_at $at "$H_RUN/blob2"'
tamper "an edited catalog row" "differs from its archive leaf" "" \
	'q "UPDATE messages SET retention_class = '"'"'short'"'"' WHERE id = 2"'
# (PostgreSQL: session_replication_role replica is its foreign_keys=OFF.)
tamper "a catalog row deleted" "no catalog row|missing from the catalog" "" \
	'if D=$C pv_is_pg; then fk="SET session_replication_role = replica"; else fk="PRAGMA foreign_keys=OFF"; fi
	 q "$fk; DELETE FROM upstream WHERE message_id = 4; DELETE FROM messages WHERE id = 4"'
tamper "a catalog row pointing at another blob" "differs from its archive leaf|blob reference" "" \
	'q "UPDATE messages SET blob = (SELECT blob FROM messages WHERE id = 1) WHERE id = 3"'
# (PostgreSQL has no BLOB type: the leaf's bytes edited as UTF-8 text there.)
tamper "an edited archive-log leaf" "archive log|leaf" "" \
	'if D=$C pv_is_pg; then
		q "UPDATE tlog_leaf SET data = convert_to(replace(convert_from(data, '"'"'UTF8'"'"'), '"'"'class default'"'"', '"'"'class foreverx'"'"'), '"'"'UTF8'"'"') WHERE idx = 5"
	 else
		q "UPDATE tlog_leaf SET data = CAST(replace(CAST(data AS TEXT), '"'"'class default'"'"', '"'"'class foreverx'"'"') AS BLOB) WHERE idx = 5"
	 fi'
tamper "a deleted archive-log leaf" "archive log|leaf" "" \
	'q "DELETE FROM tlog_leaf WHERE idx = 6"'
tamper "a deleted checkpoint" "archive log|checkpoint" "" \
	'q "DELETE FROM tlog_checkpoint WHERE seq = 1 AND log_id = (SELECT id FROM tlog_log WHERE name = '"'"'archive'"'"')"'
tamper "a wrapped key changed (found by --full)" "does not authenticate" "--full" \
	'q "UPDATE messages SET wrapped_key = (SELECT wrapped_key FROM messages WHERE id = 1) WHERE id = 2"'
# (PostgreSQL: the bucket keys are the catalog's keyring_buckets rows.)
tamper "a bucket key destroyed outside disposal (found by --full)" "unauthorised deletion" "--full" \
	'if D=$C pv_is_pg; then q "UPDATE keyring_buckets SET wrapped_key = NULL"
	 else sqlite3 "$C/keys/keyring.db" "UPDATE bucket_keys SET key = NULL"; fi'
tamper "a disposal mark without a tombstone" "tombstone|disposal" "" \
	'q "UPDATE messages SET disposed_at = 1 WHERE id = 7"'

# A truncated log re-signed with the stolen key passes on its own, and is
# caught against the checkpoint saved before.
C="$H_RUN/copy"; pv_copy_archive "$D" "$C"
$PV --data "$C" verify --checkpoint "$H_RUN/saved-checkpoint" >/dev/null 2>&1
h_is $? 0 "the saved checkpoint matches the untouched copy"
printf 'not a checkpoint\n' >"$H_RUN/bogus"
h_fails "a checkpoint that is not this archive's is reported, and named" 3 \
	'^FAIL: checkpoint [0-9]+ given is for neither of this archive.s logs' "$PV" --data "$C" verify --checkpoint "$H_RUN/bogus"

# Several damaged messages at once: the content checks run on worker
# threads, yet every problem is counted and listed in message order, each
# once, with the catalog's findings of the same message beside them; the
# checks of leaves and packs after the last message run while the workers
# finish, and their lines still come after every message's.
C="$H_RUN/copy"; pv_copy_archive "$D" "$C"
for id in 3 9; do
	set -- $(rec $id)
	D=$C pv_pack_patch $1 pv_flip_byte $(($2 + 60))
done
q "UPDATE messages SET sha256 = (SELECT sha256 FROM messages WHERE id = 1) WHERE id = 5"
q "UPDATE messages SET retention_class = 'short' WHERE id = 9"
q "UPDATE messages SET disposed_at = 1 WHERE id = 12"
$PV --data "$C" verify --full >"$H_RUN/out" 2>&1
rc=$?
got=$(grep -Eo '^FAIL: message [0-9]+: [a-z_0-9]+' "$H_RUN/out" | tr '\n' '|')
# message 9: the row's three findings (leaf, policy, bucket), then its content's
want='FAIL: message 3: blob|FAIL: message 5: sha256|FAIL: message 9: retention_class|'
want+='FAIL: message 9: retention_class|FAIL: message 9: bucket_id|FAIL: message 9: blob|'
want+='FAIL: message 12: disposed_at|'
if [ "$rc" -eq 3 ] && [ "$got" = "$want" ] && grep -q '8 integrity problems found' "$H_RUN/out"; then
	h_pass "several damaged messages: each problem once, in message order, all counted"
else
	h_fail "several damaged messages: each problem once, in message order, all counted" \
		"exit $rc, lines [$got], want [$want]" "$(head -c 2000 "$H_RUN/out")"
fi
last=$(grep '^FAIL: ' "$H_RUN/out" | tail -n 1)
case $last in
*"1 messages are marked disposed but 0 tombstones"*)
	h_pass "…the tombstone count, checked after the last message, listed after every message's lines" ;;
*)	h_fail "…the tombstone count, checked after the last message, listed after every message's lines" \
		"last problem line: $last" "$(head -c 2000 "$H_RUN/out")" ;;
esac
D=$C pv_pack_unpatch
