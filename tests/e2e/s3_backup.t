#!/bin/bash
# Backup and restore of an archive whose sealed packs live in a real S3
# with Object Lock (a single-node Ceph RGW on loopback, lib/rgw.sh): the
# backup copies the catalog, config, checkpoints and keys but no pack (the
# store's locked versions are their copy); the restore, on a new machine
# after the old one is lost, reads every message byte-exact from the same
# bucket and passes verify --full, though the bucket already holds packs
# uploaded after the backup; the restored archive harvests on into that
# bucket without touching the versions another catalog names.
set -u
. "$(dirname "$0")/lib/harness.sh"
. "$(dirname "$0")/lib/popvault.sh"
. "$(dirname "$0")/lib/rgw.sh"
h_init
h_plan 19

rgw_start
STORE="s3://pv-backup?endpoint=$RGW_URL&region=$RGW_REGION"
h_genmail --count 20 --seed 31 --out "$H_RUN/mail1" --max-attachment 40000
h_genmail --count 8 --seed 32 --out "$H_RUN/mail2" --max-attachment 40000
h_genmail --count 6 --seed 33 --out "$H_RUN/mail3" --max-attachment 40000
h_dovecot_start --seed alice="$H_RUN/mail1"
printf 'correct horse battery staple\n' >"$H_RUN/pass"

pv_init "$H_RUN/data" --store "$STORE" --store-key-file "$RGW_KEY_FILE"
pv_dovecot_account alice
pv_harvest
h_is "$RC $(pv_result fetched deleted)" "0 20 20" "harvest: 20 archived, their packs uploaded"
first=$(pv_archived)

pv backup --out "$H_RUN/bk" --with-keys --passphrase-file "$H_RUN/pass" >"$H_RUN/backup.out" 2>&1
h_is "$?" 0 "backup of the stored archive" || sed 's/^/# /' "$H_RUN/backup.out" >&2
h_is "$(find "$H_RUN/bk" -name '*.pack' | wc -l)" 0 \
	"the backup holds no pack: the store's locked versions are their copy"

# After the backup: more mail, a new pack version uploaded, then the
# machine is lost (its data directory gone; the bucket stays).
h_seed dovecot alice "$H_RUN/mail2" >/dev/null
pv_harvest
h_is "$RC $(pv_result fetched)" "0 8" "a harvest after the backup: 8 more uploaded"
newest=$(pv_sql 'SELECT max(id) FROM packs')
old_versions=$(pv_sql 'SELECT id || ":" || store_version FROM packs ORDER BY id')
mv "$H_RUN/data" "$H_RUN/lost"

"$PV" restore "$H_RUN/bk" --data "$H_RUN/new" --passphrase-file "$H_RUN/pass" \
	>"$H_RUN/restore.out" 2>&1
h_is "$?" 0 "restore on a new machine: the copy verifies against the bucket" ||
	sed 's/^/# /' "$H_RUN/restore.out" >&2
D=$H_RUN/new
h_is "$(pv_sql 'SELECT kind, url FROM pack_store')" "s3|$STORE" "the restored catalog names the same store"
h_is "$(pv_count)" 20 "it holds what the backup held"
h_is "$(pv_archived)" "$first" "every message reads back byte-exact from the bucket"
out=$(pv verify --full 2>&1)
h_is "$?" 0 "verify --full passes on the restored archive" || h_diag "$out" >&2

# Harvesting goes on from the restored archive, into the same bucket,
# where packs the restored catalog never knew may have the names its new
# packs get: each read is of the version the catalog recorded.
h_seed dovecot alice "$H_RUN/mail3" >/dev/null
pv_harvest
h_is "$RC $(pv_result fetched deleted)" "0 6 6" "the restored archive harvests on: 6 more" ||
	h_diag "$ERR" >&2
restored_versions=$(pv_sql 'SELECT id || ":" || store_version FROM packs ORDER BY id')
h_is "$(pv_sql 'SELECT max(id) FROM packs')" "$newest" \
	"its new pack has the name of one uploaded after the backup (pack $newest)"
h_check "…in a version of its own" \
	test "$(echo "$restored_versions" | grep "^$newest:")" != "$(echo "$old_versions" | grep "^$newest:")"
want=$(printf '%s\n' "$first" $(h_hashes "$H_RUN"/mail3/*.eml) | sort)
h_is "$(pv_archived)" "$want" "the 26 it holds read back byte-exact"
out=$(pv verify --full 2>&1)
h_is "$?" 0 "verify --full passes after that harvest" || h_diag "$out" >&2
h_is "$(pv_sql "SELECT count(*) FROM packs WHERE stored_at IS NOT NULL AND sealed_at IS NOT NULL")" \
	"$(pv_sql 'SELECT count(*) FROM packs')" "every pack of the restored archive sealed and stored"

# The lost machine's catalog (say, found again on its disk) still reads
# its versions, the 8 the restore does not hold among them: no upload of
# the restored archive replaced an object version either one names.
D=$H_RUN/lost
h_is "$(pv_sql 'SELECT id || ":" || store_version FROM packs ORDER BY id')" "$old_versions" \
	"the lost machine's catalog still names its versions (packs up to $newest)"
h_is "$(pv_count)" 28 "…and holds all 28 it harvested"
h_is "$(pv_archived)" "$(h_hashes "$H_RUN"/mail1/*.eml "$H_RUN"/mail2/*.eml)" "…byte-exact"
out=$(pv verify --full 2>&1)
h_is "$?" 0 "…and verify --full passes there too: its versions were left as they were" ||
	h_diag "$out" >&2

