#!/bin/bash
# Object Lock on a real S3 (Ceph RGW, lib/rgw.sh), the clocks of popvault
# and the gateway moved together (pv_at, rgw_at): a sealed pack cannot be
# deleted or overwritten before its retain-until (the store refuses, the
# locked version stays, every message still reads back); disposal before
# then shreds the messages but keeps the pack (the store refuses, popvault
# says so, nothing lost) and removes it at a later run once the lock ran
# out; a pack with held mail gets the store's legal hold, which blocks its
# deletion even after retain-until, and is released with the hold.
set -u
. "$(dirname "$0")/lib/harness.sh"
. "$(dirname "$0")/lib/popvault.sh"
. "$(dirname "$0")/lib/rgw.sh"
h_init
h_plan 25

rgw_start
BUCKET=pv-lock
STORE="s3://$BUCKET?endpoint=$RGW_URL&region=$RGW_REGION"
h_genmail --count 6 --seed 7 --out "$H_RUN/mail"
mkdir "$H_RUN/a" "$H_RUN/b"
cp "$H_RUN"/mail/0000[12].eml "$H_RUN/a/"
cp "$H_RUN"/mail/0000[3-6].eml "$H_RUN/b/"
h_dovecot_start --seed alice="$H_RUN/a" --seed bob="$H_RUN/b"

# s3x DAYS CURL-ARGS...: curl signed as the store's user, DAYS ahead
# (both clocks: SigV4 refuses a request 15 minutes off the gateway's).
s3x() {
	local days=$1
	shift
	rgw_at "$days"
	h_faketime "$days" curl -s --aws-sigv4 "aws:amz:$RGW_REGION:s3" \
		--user "$RGW_ACCESS_KEY:$RGW_SECRET_KEY" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"
}
# obj ID: the object URL of pack ID's stored version.
obj() {
	printf '%s/%s/packs/%08d.pack?versionId=%s' "$RGW_URL" "$BUCKET" "$1" \
		"$(pv_sql "SELECT store_version FROM packs WHERE id = $1")"
}
# status DAYS METHOD URL: the HTTP status of a request to the store, DAYS ahead.
status() {
	rgw_at "$1"
	h_faketime "$1" curl -s -o "$H_RUN/s3.body" -w '%{http_code}' \
		--aws-sigv4 "aws:amz:$RGW_REGION:s3" --user "$RGW_ACCESS_KEY:$RGW_SECRET_KEY" \
		-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
		$([ "$2" = HEAD ] && echo -I || echo -X "$2") "$3"
}
at() { rgw_at "$1"; pv_at "$@"; }

# Day X is the 5th or 6th of next month: retention 1 day expires inside
# that month, whose end (retain-until) is 3 weeks or more away.
target=$(date -u -d "$(date -u +%Y-%m-01) +1 month +4 days" +%s)
X=$(( (target - $(date -u +%s) + 86399) / 86400 ))

pv_init "$H_RUN/data" --store "$STORE" --store-key-file "$RGW_KEY_FILE"
printf 'default: retain 1d\n' >"$H_RUN/1d.policy"
pv policy propose "$H_RUN/1d.policy" >/dev/null && pv_glass pv >/dev/null 2>&1
pv_dovecot_account alice
pv_dovecot_account bob
rgw_at "$X"
at "$X" harvest --once --account alice >/dev/null 2>&1
at "$X" harvest --once --account bob >/dev/null 2>&1
h_is "$(pv_count)" 6 "day $X: 6 messages harvested in two sessions"
PA=$(pv_sql "SELECT DISTINCT m.pack_id FROM messages m JOIN accounts a ON a.id = m.account_id WHERE a.name = 'alice'")
PB=$(pv_sql "SELECT DISTINCT m.pack_id FROM messages m JOIN accounts a ON a.id = m.account_id WHERE a.name = 'bob'")
h_check "one pack per session, both stored ($PA, $PB)" \
	eval "[ -n '$PA' ] && [ -n '$PB' ] && [ '$PA' != '$PB' ] && [ \"\$(pv_sql 'SELECT count(*) FROM packs WHERE stored_at IS NOT NULL')\" = 2 ]"
L=$(pv_sql "SELECT retain_until FROM packs WHERE id = $PB")
LD=$(( (L - $(date -u +%s)) / 86400 ))
h_check "retain-until is the 1st of the month after (in $LD days), past day $X" \
	eval "[ \"\$(date -u -d @$L +%d%H%M%S)\" = 01000000 ] && [ $LD -gt $((X + 3)) ] && [ $LD -lt $((X + 40)) ]"

# Before retain-until the store refuses to delete either pack's version.
code=$(status "$X" DELETE "$(obj "$PB")")
h_is "$code $(grep -o '<Code>[^<]*' "$H_RUN/s3.body" | cut -c7-)" "403 AccessDenied" \
	"DELETE of a locked pack's version: 403 AccessDenied"
sum=$(s3x "$X" "$(obj "$PB")" | sha256sum | cut -d' ' -f1)
# An overwrite only adds a version; a plain DELETE only a delete marker.
echo garbage >"$H_RUN/garbage"
s3x "$X" -o /dev/null -T "$H_RUN/garbage" "$RGW_URL/$BUCKET/packs/$(printf '%08d' "$PB").pack"
code=$(status "$X" DELETE "$RGW_URL/$BUCKET/packs/$(printf '%08d' "$PA").pack")
h_is "$code" 204 "a DELETE without a version is accepted (a delete marker)"
h_is "$(s3x "$X" "$(obj "$PB")" | sha256sum | cut -d' ' -f1)" "$sum" \
	"after an overwrite the locked version is unchanged"
rgw_at "$X"
h_is "$(for i in 1 2 3 4 5 6; do pv_at "$X" show "$i" --raw | sha256sum | cut -d' ' -f1; done | sort)" \
	"$(h_hashes "$H_RUN"/mail/0000[1-6].eml)" "…and every message still reads back byte-exact"
h_check "verify --full passes" eval "pv_at $X verify --full >/dev/null 2>&1"

# A hold on alice's mail puts the store's legal hold on her pack only.
at "$X" hold add inquiry --query 'account:alice' >/dev/null 2>"$H_RUN/hold.err"
h_is "$(pv_sql "SELECT id, legal_hold FROM packs ORDER BY id" | tr '\n' ' ')" \
	"$PA|1 $PB|0 " "the catalog: legal hold on alice's pack, not on bob's"
h_like "$(s3x "$X" -I "$(obj "$PA")" | tr -d '\r' | grep -i '^x-amz-object-lock-legal-hold:')" 'ON' \
	"the store: alice's pack is under legal hold"

# Day X+3: bob's mail expired, the month is not over: disposed of, the pack kept.
D1=$((X + 3))
at "$D1" dispose >/dev/null 2>&1
rgw_at "$D1"
pv_glass pv_at "$D1" >"$H_RUN/d1.out" 2>"$H_RUN/d1.err"
h_like "$(cat "$H_RUN/d1.out")" "disposed of 4 messages" "day $D1: bob's 4 messages disposed of (alice's held)"
h_like "$(cat "$H_RUN/d1.err")" "pack $PB is locked \(until [0-9T:-]+Z\).*kept" \
	"the store refused to remove bob's pack: popvault says so, keeps it"
h_is "$(pv_sql "SELECT removed_at IS NULL FROM packs WHERE id = $PB")" 1 "…its catalog row is not marked removed"
h_is "$(pv --json stats | h_json 'd["packs_kept"], d["packs_stored"]')" "1 2" \
	"stats: one pack of disposed mail kept by its lock, two in the store"
h_is "$(status "$D1" HEAD "$(obj "$PB")")" 200 "…and it is still in the store"
h_check "verify passes on day $D1" eval "pv_at $D1 verify >/dev/null 2>&1"

# Day X+40: past retain-until.
D2=$((X + 40))
h_is "$(status "$D2" DELETE "$(obj "$PA")")" 403 "day $D2: the held pack cannot be deleted, its lock ran out"
at "$D2" dispose >"$H_RUN/d2.out" 2>"$H_RUN/d2.err"
h_like "$(cat "$H_RUN/d2.out")" "nothing is due" "day $D2: nothing new is due"
h_is "$(pv_sql "SELECT removed_at IS NOT NULL FROM packs WHERE id = $PB")" 1 \
	"…and bob's pack, its lock run out, is removed"
h_is "$(status "$D2" HEAD "$(obj "$PB")")" 404 "…from the store"
h_check "verify passes on day $D2" eval "pv_at $D2 verify >/dev/null 2>&1"

# The hold released (approved): the store's legal hold goes; disposal removes alice's pack.
at "$D2" hold release inquiry >/dev/null 2>&1
pv_glass pv_at "$D2" >/dev/null 2>&1
h_is "$(pv_sql "SELECT legal_hold FROM packs WHERE id = $PA")" 0 "hold released: the pack's legal hold is off"
at "$((D2 + 1))" dispose >/dev/null 2>&1
pv_glass pv_at "$((D2 + 1))" >"$H_RUN/d3.out" 2>"$H_RUN/d3.err"
h_like "$(cat "$H_RUN/d3.out")" "disposed of 2 messages" "alice's 2 messages disposed of"
h_is "$(status "$((D2 + 1))" HEAD "$(obj "$PA")")" 404 "…and her pack is gone from the store"
h_check "verify passes at the end" eval "pv_at $((D2 + 1)) verify >/dev/null 2>&1"
