#!/bin/bash
# verify: a clean archive verifies; every kind of tampering with a copy of
# it is reported (exit 3) and named.
set -u
. "$(dirname "$0")/lib/harness.sh"
. "$(dirname "$0")/lib/popvault.sh"
h_init
h_plan 17

h_genmail --count 12 --seed 3 --out "$H_RUN/mail" --max-attachment 100000
h_dovecot_start --seed alice="$H_RUN/mail"
pv_harvested "$H_RUN/clean"
pv checkpoint >"$H_RUN/saved-checkpoint"

pv verify >"$H_RUN/out" 2>&1
h_is $? 0 "a clean archive verifies"
pv verify --full --checkpoint "$H_RUN/saved-checkpoint" >"$H_RUN/out" 2>&1
h_is $? 0 "…also with --full and a checkpoint saved earlier"

# tamper NAME WANT-REGEX [--full] -- SHELL-COMMANDS (run on a fresh copy in $C)
tamper() {
	local name=$1 want=$2 full=$3
	shift 3
	C="$H_RUN/copy"
	rm -rf "$C"
	cp -a "$D" "$C"
	eval "$*"
	h_fails "$name" 3 "$want" "$PV" --data "$C" verify $full
}
q() { sqlite3 "$C/catalog.db" "$1"; }
# rec ID: "PACKFILE OFFSET LENGTH" of message ID's sealed record.
rec() { q "SELECT printf('%s/packs/%08d.pack %d %d', '$C', pack_id, pack_offset, pack_length) FROM messages WHERE id = $1"; }

tamper "a deleted blob is unauthorised deletion" "unauthorised deletion" "" \
	'set -- $(rec 1); rm "$1"'
tamper "a changed blob byte is found without --full" "does not match its hash" "" \
	'set -- $(rec 1); printf "\x00" | dd of="$1" bs=1 seek=$(($2 + 100)) conv=notrunc 2>/dev/null'
tamper "a blob replaced by another message's blob" "does not match|differs|commitment" "--full" \
	'set -- $(rec 1); a=$1 at=$2 al=$3; set -- $(rec 2)
	 python3 -c "import sys; s=open(sys.argv[1],\"rb\").read()[int(sys.argv[2]):][:int(sys.argv[5])]; f=open(sys.argv[3],\"r+b\"); f.seek(int(sys.argv[4])); f.write(s)" "$1" "$2" "$a" "$at" "$((al < $3 ? al : $3))"'
tamper "an edited catalog row" "differs from its archive leaf" "" \
	'q "UPDATE messages SET retention_class = '"'"'short'"'"' WHERE id = 2"'
tamper "a catalog row deleted" "no catalog row|missing from the catalog" "" \
	'q "PRAGMA foreign_keys=OFF; DELETE FROM upstream WHERE message_id = 4; DELETE FROM messages WHERE id = 4"'
tamper "a catalog row pointing at another blob" "differs from its archive leaf|blob reference" "" \
	'q "UPDATE messages SET blob = (SELECT blob FROM messages WHERE id = 1) WHERE id = 3"'
tamper "an edited archive-log leaf" "archive log|leaf" "" \
	'q "UPDATE tlog_leaf SET data = CAST(replace(CAST(data AS TEXT), '"'"'class default'"'"', '"'"'class foreverx'"'"') AS BLOB) WHERE idx = 5"'
tamper "a deleted archive-log leaf" "archive log|leaf" "" \
	'q "DELETE FROM tlog_leaf WHERE idx = 6"'
tamper "a deleted checkpoint" "archive log|checkpoint" "" \
	'q "DELETE FROM tlog_checkpoint WHERE seq = 1 AND log_id = (SELECT id FROM tlog_log WHERE name = '"'"'archive'"'"')"'
tamper "a wrapped key changed (found by --full)" "does not authenticate" "--full" \
	'q "UPDATE messages SET wrapped_key = (SELECT wrapped_key FROM messages WHERE id = 1) WHERE id = 2"'
tamper "a bucket key destroyed outside disposal (found by --full)" "unauthorised deletion" "--full" \
	'sqlite3 "$C/keys/keyring.db" "UPDATE bucket_keys SET key = NULL"'
tamper "a disposal mark without a tombstone" "tombstone|disposal" "" \
	'q "UPDATE messages SET disposed_at = 1 WHERE id = 7"'

# A truncated log re-signed with the stolen key passes on its own, and is
# caught against the checkpoint saved before.
C="$H_RUN/copy"; rm -rf "$C"; cp -a "$D" "$C"
$PV --data "$C" verify --checkpoint "$H_RUN/saved-checkpoint" >/dev/null 2>&1
h_is $? 0 "the saved checkpoint matches the untouched copy"
printf 'not a checkpoint\n' >"$H_RUN/bogus"
h_fails "a checkpoint that is not this archive's is reported, and named" 3 \
	'^FAIL: checkpoint [0-9]+ given is for neither of this archive.s logs' "$PV" --data "$C" verify --checkpoint "$H_RUN/bogus"

# Several damaged messages at once: the content checks run on worker
# threads, yet every problem is counted and listed in message order, each
# once, with the catalog's findings of the same message beside them.
C="$H_RUN/copy"; rm -rf "$C"; cp -a "$D" "$C"
for id in 3 9; do
	set -- $(rec $id)
	printf '\x00' | dd of="$1" bs=1 seek=$(($2 + 60)) conv=notrunc 2>/dev/null
done
q "UPDATE messages SET sha256 = (SELECT sha256 FROM messages WHERE id = 1) WHERE id = 5"
q "UPDATE messages SET retention_class = 'short' WHERE id = 9"
$PV --data "$C" verify --full >"$H_RUN/out" 2>&1
rc=$?
got=$(grep -Eo '^FAIL: message [0-9]+: [a-z_0-9]+' "$H_RUN/out" | tr '\n' '|')
# message 9: the row's three findings (leaf, policy, bucket), then its content's
want='FAIL: message 3: blob|FAIL: message 5: sha256|FAIL: message 9: retention_class|'
want+='FAIL: message 9: retention_class|FAIL: message 9: bucket_id|FAIL: message 9: blob|'
if [ "$rc" -eq 3 ] && [ "$got" = "$want" ] && grep -q '6 integrity problems found' "$H_RUN/out"; then
	h_pass "several damaged messages: each problem once, in message order, all counted"
else
	h_fail "several damaged messages: each problem once, in message order, all counted" \
		"exit $rc, lines [$got], want [$want]" "$(head -c 2000 "$H_RUN/out")"
fi
