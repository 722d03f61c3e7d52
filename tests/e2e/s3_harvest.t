#!/bin/bash
# An archive whose sealed packs live in a real S3 with Object Lock (a
# single-node Ceph RGW on loopback, lib/rgw.sh): mail harvested from
# Dovecot is deleted upstream once durable locally, its packs are uploaded
# at the session's end, COMPLIANCE-locked to the end of their bucket's
# expiry month, and leave the data directory; every message reads back
# byte-exact by ranged GETs, and in an export (read ahead on worker
# threads); verify --full (whole packs) passes; the store's
# credentials are sealed at rest, never printed or logged.
set -u
. "$(dirname "$0")/lib/harness.sh"
. "$(dirname "$0")/lib/popvault.sh"
. "$(dirname "$0")/lib/rgw.sh"
h_init
h_plan 27

rgw_start
STORE="s3://pv-archive?endpoint=$RGW_URL&region=$RGW_REGION"
h_genmail --count 24 --seed 18 --out "$H_RUN/mail" --max-attachment 60000
h_dovecot_start --seed alice="$H_RUN/mail"

# s3 ARGS...: curl signed as the store's user (what an outside auditor sees).
s3() {
	curl -s --aws-sigv4 "aws:amz:$RGW_REGION:s3" --user "$RGW_ACCESS_KEY:$RGW_SECRET_KEY" \
		-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"
}

# Bad input first: nothing is created.
h_fails "a store URL without an endpoint is a usage error" 2 'endpoint' \
	"$PV" init --data "$H_RUN/bad1" --store 's3://pv-archive?region=x' --store-key-file "$RGW_KEY_FILE"
printf 'WRONG:key\n' >"$H_RUN/wrong.key"
h_fails "wrong credentials: refused by the store, said so, nothing made" 1 'HTTP 403' \
	"$PV" init --data "$H_RUN/bad2" --store "$STORE" --store-key-file "$H_RUN/wrong.key"
h_check "…and no data directory was left behind" test ! -e "$H_RUN/bad2"
h_fails "--store without --store-key-file is a usage error" 2 'go together' \
	"$PV" init --data "$H_RUN/bad3" --store "$STORE"

pv_init "$H_RUN/data" --store "$STORE" --store-key-file "$RGW_KEY_FILE"
h_is "$(pv_sql 'SELECT kind, url FROM pack_store')" "s3|$STORE" "init recorded the store"
h_check "the secret key is not in the catalog in clear" \
	eval "! grep -qa '$RGW_SECRET_KEY' '$D/catalog.db' '$D'/catalog.db-wal 2>/dev/null"
h_like "$(pv --json audit list | grep '"init"')" "store=s3://pv-archive" "the init audit entry names the store"

pv_dovecot_account alice
pv_harvest
h_is "$RC $(pv_result fetched deleted)" "0 24 24" "harvest: 24 fetched and deleted upstream"
h_is "$(maildir_count alice)" 0 "the mailbox is empty"
h_check "the secret key is in no log or output" \
	eval "! grep -qa '$RGW_SECRET_KEY' '$H_RUN/out.json' '$H_RUN/out.err'"

n_packs=$(pv_sql 'SELECT count(*) FROM packs')
h_is "$(pv_sql 'SELECT count(*) FROM packs WHERE sealed_at IS NOT NULL AND stored_at IS NOT NULL')" \
	"$n_packs" "every pack sealed and stored ($n_packs)"
h_is "$(ls "$D/packs" | wc -l)" 0 "no pack file is left in the data directory"

# Each object: COMPLIANCE, retain-until = the first second after its bucket's month.
id=$(pv_sql 'SELECT id FROM packs ORDER BY id LIMIT 1')
ver=$(pv_sql "SELECT store_version FROM packs WHERE id = $id")
until=$(pv_sql "SELECT strftime('%Y-%m-%dT%H:%M:%SZ', retain_until, 'unixepoch') FROM packs WHERE id = $id")
month=$(pv_sql "SELECT b.expiry_month FROM packs p JOIN buckets b ON b.id = p.bucket_id WHERE p.id = $id")
want=$(date -u -d "$month-01 +1 month" '+%Y-%m-%dT%H:%M:%SZ')
h_is "$until" "$want" "the lock runs to the end of the bucket's expiry month ($month)"
hdrs=$(s3 -I "$RGW_URL/pv-archive/packs/$(printf '%08d' "$id").pack?versionId=$ver")
h_like "$(echo "$hdrs" | tr -d '\r' | grep -i '^x-amz-object-lock-mode:')" 'COMPLIANCE' \
	"the store has the pack under COMPLIANCE lock"

h_is "$(pv_archived)" "$(h_hashes "$H_RUN"/mail/*.eml)" "every message reads back byte-exact (ranged GETs)"
heads() { grep -c 'HEAD /pv-archive/packs/' "$RGW_LOG" 2>/dev/null; }
n_heads=$(heads)
out=$(pv verify --full 2>&1)
h_is "$?" 0 "verify --full passes (whole packs from the store)"
h_is "$(($(heads) - n_heads))" "$n_packs" \
	"…one HEAD a pack (its lock checked), each read as the range its upload recorded"
h_like "$(grep -c 'GET /pv-archive/packs/' "$RGW_LOG" 2>/dev/null || echo 0)" '^[1-9]' \
	"the gateway served the reads"
# export reads ahead on worker threads: its main thread GETs each record
# (the pack store is one thread's), the workers decrypt what it fetched.
mkdir -p "$H_RUN/exp"
pv export 'after:1980-01-01' --out "$H_RUN/all.tar.gz" >"$H_RUN/export.out" 2>&1 &&
	tar -xzf "$H_RUN/all.tar.gz" -C "$H_RUN/exp"
h_is "$(h_hashes "$H_RUN"/exp/messages/*.eml)" "$(h_hashes "$H_RUN"/mail/*.eml)" \
	"export of a stored archive: every .eml byte-exact (read ahead from ranged GETs)" ||
	{ sed 's/^/# /' "$H_RUN/export.out"; tar -tzf "$H_RUN/all.tar.gz" | head -5; } >&2

# A longer retention: the pack's lock is extended to the new bucket's month.
printf 'default: retain 10y\n' >"$H_RUN/10y.policy"
pv policy set "$H_RUN/10y.policy" >/dev/null 2>&1
month=$(pv_sql "SELECT max(b.expiry_month) FROM messages m JOIN buckets b ON b.id = m.bucket_id")
want=$(date -u -d "$month-01 +1 month" '+%Y-%m-%dT%H:%M:%SZ')
h_is "$(pv_sql "SELECT strftime('%Y-%m-%dT%H:%M:%SZ', retain_until, 'unixepoch') FROM packs WHERE id = $id")" \
	"$want" "retention lengthened to 10 years: the catalog's retain-until follows ($month)"
h_like "$(s3 -I "$RGW_URL/pv-archive/packs/$(printf '%08d' "$id").pack?versionId=$ver" | tr -d '\r' |
	grep -i '^x-amz-object-lock-retain-until-date:')" "${want%Z}" "…and so does the store's lock"
h_check "verify passes" eval 'pv verify >/dev/null 2>&1'

# A reader whose snapshot of the catalog began before a pack's upload
# committed sees it unstored, and its file is gone by then (a verify
# while a harvest settles its packs): the store's newest version is read,
# checked against the catalog as always. Made here by taking the row's
# upload back for the length of one read.
mid=$(pv_sql "SELECT min(id) FROM messages WHERE pack_id = $id")
want=$(pv_sql "SELECT lower(hex(sha256)) FROM messages WHERE id = $mid")
sat=$(pv_sql "SELECT stored_at FROM packs WHERE id = $id")
pv_sql "UPDATE packs SET stored_at = NULL, store_version = NULL WHERE id = $id" >/dev/null
h_is "$("$PV" --data "$D" show "$mid" --raw 2>"$H_RUN/stale.err" | sha256sum | cut -d' ' -f1)" \
	"$want" "a pack unstored in the reader's view, its file gone: read from the store, byte for byte"
pv_sql "UPDATE packs SET stored_at = $sat, store_version = '$ver' WHERE id = $id" >/dev/null

# The cluster's admin purges the bucket (RADOS underneath Object Lock):
# verify reports every pack and message gone without a disposal record.
rgw_admin bucket rm --bucket=pv-archive --purge-objects --bypass-gc >/dev/null 2>&1
h_is "$(s3 -o /dev/null -w '%{http_code}' "$RGW_URL/pv-archive/")" 404 "the bucket is gone"
out=$(pv verify 2>&1)
h_is "$?" 3 "verify fails with an integrity error"
h_like "$out" "pack $id is missing from the store s3://pv-archive.* without a disposal record" \
	"verify: the pack vanished without a disposal record"
h_fails "show of a message in it: a clear error" 3 "missing without a disposal record|pack $id" \
	"$PV" --data "$D" show 1 --raw
