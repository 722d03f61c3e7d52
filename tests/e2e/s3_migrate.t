#!/bin/bash
# migrate --to-store (ARCHITECTURE.md §12): an archive harvested from
# Dovecot with its packs in the data directory moves them into a real S3
# with Object Lock (a single-node Ceph RGW on loopback, lib/rgw.sh).
# Refusals first (wrong key, a bucket without Object Lock, an endpoint
# that does not answer, a harvest or serve running): each a clear error, nothing
# recorded, every local pack as it was. Then the migration, through a
# throttled TCP relay so that it can be SIGKILLed between two uploads:
# every message still reads back, and run again it finishes without loss
# or duplication. After it: every pack stored COMPLIANCE-locked to the end
# of its bucket's month, the held one under legal hold, none left local,
# every message byte-exact from the store (show and export), the archive
# log's root unchanged and the audit log an extension of the one before,
# verify --full passing. An archive already on a store is a usage error;
# an archive from before packs keeps its legacy blob files, counted.
set -u
. "$(dirname "$0")/lib/harness.sh"
. "$(dirname "$0")/lib/popvault.sh"
. "$(dirname "$0")/lib/rgw.sh"
h_init
h_plan 46

rgw_start

# s3 ARGS...: curl signed as the store's user (what an outside auditor sees).
s3() {
	curl -s --aws-sigv4 "aws:amz:$RGW_REGION:s3" --user "$RGW_ACCESS_KEY:$RGW_SECRET_KEY" \
		-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"
}
# head_of ID: the store's headers of pack ID's recorded version (via the gateway itself).
head_of() {
	s3 -I "$RGW_URL/pv-migrate/packs/$(printf '%08d' "$1").pack?versionId=$(pv_sql "SELECT store_version FROM packs WHERE id = $1")" |
		tr -d '\r'
}
# root LOG: the root line of the log's latest signed checkpoint.
root() { pv checkpoint --log "$1" | sed -n 3p; }
# pack_sums: each local pack file with its SHA-256.
pack_sums() { (cd "$D/packs" && sha256sum -- * 2>/dev/null); }

# Four accounts, four retention classes: four buckets, so four packs.
h_genmail --count 32 --seed 15 --out "$H_RUN/mail" --max-attachment 60000
for u in alice bob carol dave; do mkdir "$H_RUN/$u"; done
i=0
for f in "$H_RUN"/mail/*.eml; do
	u=(alice bob carol dave)
	cp "$f" "$H_RUN/${u[i % 4]}/"
	i=$((i + 1))
done
h_dovecot_start --user alice:alicepw --user bob:bobpw --user carol:carolpw --user dave:davepw \
	--seed alice="$H_RUN/alice" --seed bob="$H_RUN/bob" --seed carol="$H_RUN/carol" \
	--seed dave="$H_RUN/dave"
pv_init "$H_RUN/data"
cat >"$H_RUN/classes.policy" <<'EOF'
rule "bob": retain 7y when account = "bob"
rule "carol": retain 8y when account = "carol"
rule "dave": retain 9y when account = "dave"
default: retain 6y
EOF
pv policy set "$H_RUN/classes.policy" >/dev/null 2>&1
for u in alice bob carol dave; do pv_dovecot_account "$u"; done
pv harvest --once >/dev/null 2>&1
h_is "$(pv_count) $(pv_sql 'SELECT count(*) FROM packs')" "32 4" \
	"a local archive: 32 messages harvested into 4 packs"
pv hold add matter-bob --query 'account:bob' >/dev/null 2>&1
h_is "$(pv_sql 'SELECT count(*) FROM hold_members')" 8 "bob's 8 messages are held"
n_packs=4
sums_before=$(pack_sums)
archive_root=$(root archive)

STORE="s3://pv-migrate?endpoint=$RGW_URL&region=$RGW_REGION"
# refused NAME ERE ARGS...: migrate exits 1 saying ERE, and nothing moved.
refused() {
	local name=$1 ere=$2
	shift 2
	h_fails "$name" 1 "$ere" "$PV" --data "$D" migrate "$@"
}
printf 'WRONG:key\n' >"$H_RUN/wrong.key"
refused "wrong credentials: refused by the store, said so" 'HTTP 403' \
	--to-store "$STORE" --store-key-file "$H_RUN/wrong.key"
s3 -X PUT "$RGW_URL/pv-nolock" >/dev/null
refused "a bucket without Object Lock: refused before anything is recorded" 'has no Object Lock' \
	--to-store "s3://pv-nolock?endpoint=$RGW_URL&region=$RGW_REGION" --store-key-file "$RGW_KEY_FILE"
refused "an endpoint that does not answer: a clear error" 'pack store s3://pv-migrate.*(refused|connect)' \
	--to-store "s3://pv-migrate?endpoint=http://127.0.0.1:$(h_port)&region=$RGW_REGION" \
	--store-key-file "$RGW_KEY_FILE"
h_fails "while a harvest holds the data directory: refused" 1 'a harvest is running' \
	flock "$D/harvest.lock" "$PV" --data "$D" migrate --to-store "$STORE" --store-key-file "$RGW_KEY_FILE"
setsid "$PV" --data "$D" serve --web-only --listen 127.0.0.1:0 --web-root "$H_SRC/web-static" \
	>"$H_RUN/serve.out" 2>"$H_RUN/serve.log" &
SERVE=$!
h_register serve "$SERVE" >/dev/null
h_wait_for 20 eval "! flock -n -x '$D/serve.lock' true" >/dev/null
h_fails "while serve runs: refused (its parts opened the archive as local)" 1 'serve is running' \
	"$PV" --data "$D" migrate --to-store "$STORE" --store-key-file "$RGW_KEY_FILE"
kill -TERM "$SERVE"
wait "$SERVE"
h_fails "--to-store without --store-key-file is a usage error" 2 'store-key-file' \
	"$PV" --data "$D" migrate --to-store "$STORE"
h_is "$(pv_sql 'SELECT count(*) FROM pack_store')" 0 "after the refusals no store is recorded"
h_is "$(pack_sums)" "$sums_before" "…and every local pack is there, unchanged"
h_is "$(pv --json audit list --type store-migrate | grep -c '"failed: ')" 3 \
	"each refusal by the store is in the audit log as a failed store-migrate"

# A relay between popvault and the gateway passing 200 KB/s upward
# (lib/pipeproxy.py), so a pack's upload takes a while; the store is
# recorded with its address.
RELAY_PORT=$(h_port)
"$H_PY" "$H_LIB/pipeproxy.py" --port "$RELAY_PORT" --to-port "${RGW_URL##*:}" --log /dev/null \
	--up-rate 200000 >"$H_RUN/relay.out" 2>&1 &
h_at_exit "kill $! 2>/dev/null"
h_wait_for 10 grep -qs ready "$H_RUN/relay.out"
STORE="s3://pv-migrate?endpoint=http://127.0.0.1:$RELAY_PORT&region=$RGW_REGION"

# Killed once the first pack is stored, while the next ones upload.
"$PV" --data "$D" --json migrate --to-store "$STORE" --store-key-file "$RGW_KEY_FILE" \
	>"$H_RUN/killed.out" 2>&1 &
mpid=$!
for ((t = 0; t < 600; t++)); do
	[ "$(pv_sql 'SELECT count(*) FROM packs WHERE stored_at IS NOT NULL' 2>/dev/null)" -ge 1 ] 2>/dev/null && break
	sleep 0.05
done
kill -KILL "$mpid" 2>/dev/null
wait "$mpid" 2>/dev/null
stored=$(pv_sql 'SELECT count(*) FROM packs WHERE stored_at IS NOT NULL')
h_like "$stored" "^[1-3]$" "SIGKILLed midway: $stored of $n_packs packs stored" ||
	sed 's/^/# /' "$H_RUN/killed.out" >&2
h_is "$(pv_sql 'SELECT migration FROM pack_store')" running "…the migration is recorded as unfinished"
lost=0
for id in $(pv_sql 'SELECT id FROM packs WHERE stored_at IS NULL'); do
	[ -f "$D/packs/$(printf '%08d' "$id").pack" ] || lost=$((lost + 1))
done
h_is "$lost" 0 "…each pack not stored is still in the data directory"
h_is "$(pv_archived)" "$(h_hashes "$H_RUN"/mail/*.eml)" \
	"…and every message reads back byte-exact, from the store or the data directory"
h_fails "an unfinished migration does not go to another store" 2 'unfinished' \
	"$PV" --data "$D" migrate --to-store "s3://other?endpoint=$RGW_URL&region=$RGW_REGION" \
	--store-key-file "$RGW_KEY_FILE"

# Run again: it resumes and finishes.
pv --json migrate --to-store "$STORE" --store-key-file "$RGW_KEY_FILE" >"$H_RUN/m.json" 2>"$H_RUN/m.err"
h_is "$?" 0 "run again, migrate finishes" || sed 's/^/# /' "$H_RUN/m.err" >&2
j() { h_json "$1" <"$H_RUN/m.json"; }
h_is "$(j 'd["resumed"], d["stored"] + '"$stored"', d["failed"], d["held_packs"], d["legacy_blobs"]')" \
	"True $n_packs 0 1 0" "…resumed: the rest stored, none refused, one under legal hold, no legacy blob"
h_is "$(pv_sql 'SELECT migration FROM pack_store')" done "…the migration is recorded as done"
h_is "$(pv_sql 'SELECT count(*) FROM packs WHERE stored_at IS NOT NULL AND store_version IS NOT NULL')" \
	"$n_packs" "every pack is stored, each with one recorded version"
h_is "$(ls "$D/packs" | wc -l)" 0 "no pack file is left in the data directory"
h_is "$(pv_count) $(pv_sql 'SELECT count(DISTINCT sha256) FROM messages')" "32 32" \
	"32 messages, none twice"

# Each object: COMPLIANCE until the first second after its bucket's month.
bad=0
for id in $(pv_sql 'SELECT id FROM packs ORDER BY id'); do
	month=$(pv_sql "SELECT b.expiry_month FROM packs p JOIN buckets b ON b.id = p.bucket_id WHERE p.id = $id")
	want=$(date -u -d "$month-01 +1 month" '+%Y-%m-%dT%H:%M:%S')
	hd=$(head_of "$id")
	echo "$hd" | grep -qi "^x-amz-object-lock-mode: COMPLIANCE" &&
		echo "$hd" | grep -qi "^x-amz-object-lock-retain-until-date: $want" || {
		bad=$((bad + 1))
		h_diag "pack $id ($month): $(echo "$hd" | grep -i object-lock)"
	}
done
h_is "$bad" 0 "every pack is COMPLIANCE-locked in the bucket to the end of its expiry month"
held=$(pv_sql "SELECT DISTINCT m.pack_id FROM messages m JOIN accounts a ON a.id = m.account_id WHERE a.name = 'bob'")
h_like "$(head_of "$held" | grep -i '^x-amz-object-lock-legal-hold:')" 'ON' \
	"the pack with bob's held messages is under S3 legal hold"
free=$(pv_sql "SELECT DISTINCT m.pack_id FROM messages m JOIN accounts a ON a.id = m.account_id WHERE a.name = 'alice'")
h_unlike_on=$(head_of "$free" | grep -ci '^x-amz-object-lock-legal-hold: ON')
h_is "$h_unlike_on" 0 "…and alice's pack is not"
h_is "$(s3 -o /dev/null -w '%{http_code}' -X DELETE \
	"$RGW_URL/pv-migrate/packs/$(printf '%08d' "$free").pack?versionId=$(pv_sql "SELECT store_version FROM packs WHERE id = $free")")" \
	403 "the store refuses to delete a migrated pack (Object Lock)"

# Continuity: the logs' roots, before and after.
h_is "$(j 'd["archive_log"]["root_before"], d["archive_log"]["root_after"], d["archive_log"]["unchanged"]')" \
	"$archive_root $archive_root True" "the archive log's root is the one before the migration"
h_is "$(root archive)" "$archive_root" "…and so is its latest signed checkpoint's"
h_is "$(j 'd["audit_log"]["prefix"], d["audit_log"]["size_after"] > d["audit_log"]["size_before"]')" \
	"True True" "the audit log after extends the one before (consistency proof)"
h_is "$(j 'd["audit_log"]["root_after"]')" "$(root audit)" "…its root after is the latest audit checkpoint's"
h_like "$(pv --json audit list --type store-migrate-done)" "store=s3://pv-migrate.*archive-root=" \
	"the store-migrate-done audit entry names the store and the roots"
h_like "$(pv --json audit list --type store-migrate | grep '"ok"' | head -1)" \
	"store=s3://pv-migrate.*packs=4.*archive-root=" "the migration was audited before it began"

# Every message byte-exact from the store: show, export, verify --full.
h_is "$(pv_archived)" "$(h_hashes "$H_RUN"/mail/*.eml)" "every message reads back byte-exact (ranged GETs)"
mkdir -p "$H_RUN/exp"
pv export 'after:1980-01-01' --out "$H_RUN/all.tar.gz" >"$H_RUN/export.out" 2>&1 &&
	tar -xzf "$H_RUN/all.tar.gz" -C "$H_RUN/exp"
h_is "$(h_hashes "$H_RUN"/exp/messages/*.eml)" "$(h_hashes "$H_RUN"/mail/*.eml)" \
	"an export after the migration: every .eml byte-exact"
out=$(pv verify --full 2>&1)
h_is "$?" 0 "verify --full passes against the store" || printf '%s\n' "$out" | sed 's/^/# /' >&2
h_like "$(grep -c 'GET /pv-migrate/packs/' "$RGW_LOG" 2>/dev/null || echo 0)" '^[1-9]' \
	"the gateway served the reads"

# Nothing more to migrate; an archive made on a store has nothing either.
h_fails "migrate again after it finished: a usage error" 2 'already keeps its packs in s3://pv-migrate' \
	"$PV" --data "$D" migrate --to-store "$STORE" --store-key-file "$RGW_KEY_FILE"
"$PV" init --data "$H_RUN/onstore" --store "s3://pv-other?endpoint=$RGW_URL&region=$RGW_REGION" \
	--store-key-file "$RGW_KEY_FILE" >/dev/null
h_fails "an archive made with init --store: a usage error" 2 'already keeps its packs' \
	"$PV" --data "$H_RUN/onstore" migrate --to-store "s3://pv-x?endpoint=$RGW_URL&region=$RGW_REGION" \
	--store-key-file "$RGW_KEY_FILE"

# A harvest after the migration goes to the store as with init --store.
h_genmail --count 3 --seed 99 --out "$H_RUN/more"
(cd "$H_RUN/more" && h_seed dovecot alice *.eml >/dev/null)
pv harvest --once >/dev/null 2>"$H_RUN/harvest-after.err"
h_is "$(pv_count) $(ls "$D/packs" | wc -l)" "35 0" "a harvest after it: its pack goes to the store too" ||
	sed 's/^/# harvest: /' "$H_RUN/harvest-after.err" >&2
h_is "$(pv_sql 'SELECT count(*) FROM packs WHERE removed_at IS NULL AND stored_at IS NULL AND EXISTS (SELECT 1 FROM messages m WHERE m.pack_id = packs.id)')" \
	0 "…every pack with messages is stored"

# An archive from before packs (tests/data/upgrade: catalog schema 4, one
# blob file per message): its legacy blob files stay local, counted.
tar -xzf "$H_SRC/tests/data/upgrade/archive-v4.tar.gz" -C "$H_RUN"
D=$H_RUN/archive
blobs_before=$(find "$D/blobs" -type f | sort | xargs sha256sum)
pv --json migrate --to-store "s3://pv-legacy?endpoint=$RGW_URL&region=$RGW_REGION" \
	--store-key-file "$RGW_KEY_FILE" >"$H_RUN/m.json" 2>"$H_RUN/m.err"
h_is "$?" 0 "an archive from before packs migrates" || sed 's/^/# /' "$H_RUN/m.err" >&2
h_is "$(j 'd["packs"], d["stored"], d["legacy_blobs"], d["archive_log"]["unchanged"], d["audit_log"]["prefix"]')" \
	"0 0 5 True True" "…no pack to move, its 5 legacy blob files counted, the logs continuous"
h_is "$(find "$D/blobs" -type f | sort | xargs sha256sum)" "$blobs_before" \
	"…the legacy blob files stay in the data directory, unchanged"
h_like "$("$PV" --data "$D" migrate --help)" 'legacy blob files' "migrate --help says so"
# Without --json: what moved, what stayed, both logs' roots before and after.
mkdir "$H_RUN/copy" && tar -xzf "$H_SRC/tests/data/upgrade/archive-v4.tar.gz" -C "$H_RUN/copy"
"$PV" --data "$H_RUN/copy/archive" migrate --to-store "s3://pv-legacy2?endpoint=$RGW_URL&region=$RGW_REGION" \
	--store-key-file "$RGW_KEY_FILE" >"$H_RUN/human.out" 2>&1
sed 's/^/# /' "$H_RUN/human.out"
h_like "$(tr '\n' '|' <"$H_RUN/human.out")" \
	"Migrated to s3://pv-legacy2.*5 messages in legacy blob files.*archive log before: [0-9]+ entries, root [A-Za-z0-9+/]+=.*archive log after: .*unchanged.*audit log before: .*audit log after: .*consistent" \
	"without --json it says the same in words"
out=$(pv verify --full 2>&1)
h_is "$?" 0 "…and verify --full passes" || printf '%s\n' "$out" | sed 's/^/# /' >&2
