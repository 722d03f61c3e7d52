#!/bin/bash
# The object store unreachable when a harvest session ends (here: the
# gateway's clock a day off, so it refuses every signed request): the
# harvest does not depend on it. Mail is deleted upstream once durable in
# the data directory, as always; the sealed pack stays there, readable,
# and is uploaded by the next session once the store answers again.
set -u
. "$(dirname "$0")/lib/harness.sh"
. "$(dirname "$0")/lib/popvault.sh"
. "$(dirname "$0")/lib/rgw.sh"
h_init
h_plan 12

rgw_start
h_genmail --count 8 --seed 3 --out "$H_RUN/mail"
mkdir "$H_RUN/first" "$H_RUN/later"
cp "$H_RUN"/mail/0000[1-5].eml "$H_RUN/first/"
cp "$H_RUN"/mail/0000[6-8].eml "$H_RUN/later/"
h_dovecot_start --seed alice="$H_RUN/first"
pv_init "$H_RUN/data" --store "s3://pv-outage?endpoint=$RGW_URL&region=$RGW_REGION" \
	--store-key-file "$RGW_KEY_FILE"
pv_dovecot_account alice

rgw_at 1
pv_harvest
h_is "$RC $(pv_result fetched deleted)" "0 5 5" "store down: the harvest still archives and deletes upstream"
h_like "$ERR" "stays in the data directory.*RequestTimeTooSkewed" "…and says the pack stays local, and why"
h_is "$(pv_sql 'SELECT count(*) FROM packs WHERE sealed_at IS NOT NULL AND stored_at IS NULL')" 1 \
	"the pack is sealed, not stored"
h_is "$(ls "$D/packs" | wc -l)" 1 "its file is in the data directory"
h_is "$(pv --json stats | h_json 'd["packs_unstored"]')" 1 "stats: one pack waiting for the store"
h_is "$(pv_archived)" "$(h_hashes "$H_RUN"/first/*)" "every message reads back from it"
out=$(pv verify 2>&1)
h_is "$?" 0 "verify passes"
h_like "$out" "sealed but not yet in the store" "…and notes the pack waiting for the store"

rgw_at 0
h_seed dovecot alice "$H_RUN/later" >/dev/null
pv_harvest
h_is "$RC $(pv_result fetched deleted)" "0 3 3" "store back: the next harvest"
h_is "$(pv_sql 'SELECT count(*) FROM packs WHERE stored_at IS NOT NULL')" 2 \
	"…uploads the waiting pack and its own"
h_is "$(ls "$D/packs" | wc -l)" 0 "no pack file is left locally"
h_is "$(pv_archived)" "$(h_hashes "$H_RUN"/mail/*.eml)" "all 8 read back from the store"
