#!/bin/bash
# verify's report keeps its order when the archive has more messages than
# its workers hold at once (256): the logs are checked while the workers
# check the first messages, yet a log's problem is listed before any
# message's, and the messages' in their order, the later ones too.
set -u
. "$(dirname "$0")/lib/harness.sh"
. "$(dirname "$0")/lib/popvault.sh"
h_init
h_plan 3

h_genmail --count 300 --seed 7 --out "$H_RUN/mail" --max-attachment 2000
h_dovecot_start --seed alice="$H_RUN/mail"
pv_harvested "$H_RUN/clean"
n=$(pv_sql 'SELECT count(*) FROM messages')
h_is "$n" 300 "300 messages archived"

C="$H_RUN/copy"
pv_copy_archive "$D" "$C"
q() { D=$C pv_sql "$1"; }
rec() { q "SELECT pack_id, pack_offset, pack_length FROM messages WHERE id = $1" | tr '|' ' '; }
for id in 3 290; do
	set -- $(rec $id)
	D=$C pv_pack_patch $1 pv_flip_byte $(($2 + 60))
done
q "DELETE FROM tlog_checkpoint WHERE seq = 1 AND log_id = (SELECT id FROM tlog_log WHERE name = 'archive')"
"$PV" --data "$C" verify --full >"$H_RUN/out" 2>&1
h_is $? 3 "a deleted checkpoint and two damaged messages: verify --full exits 3"
got=$(grep -Eo '^FAIL: (archive log|message [0-9]+)' "$H_RUN/out" | uniq | tr '\n' '|')
want='FAIL: archive log|FAIL: message 3|FAIL: message 290|'
if [ "$got" = "$want" ]; then
	h_pass "the log's problem first, then the messages' in order"
else
	h_fail "the log's problem first, then the messages' in order" "lines [$got], want [$want]" \
		"$(head -c 2000 "$H_RUN/out")"
fi
D=$C pv_pack_unpatch
