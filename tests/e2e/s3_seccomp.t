#!/bin/bash
# serve on an archive whose packs live in S3 (a real Ceph RGW, lib/rgw.sh),
# every part under its seccomp set (lib/sandbox_roles.c, ARCHITECTURE.md §2:
# with an object store the indexer, the tasks and the disposal proposal
# may connect out): the indexer makes the index again from the stored
# packs, the sample and full verify tasks read them, and no part makes a
# call its role may not.
set -u
. "$(dirname "$0")/lib/harness.sh"
. "$(dirname "$0")/lib/popvault.sh"
. "$(dirname "$0")/lib/rgw.sh"
h_init
h_plan 7

rgw_start
STORE="s3://pv-archive?endpoint=$RGW_URL&region=$RGW_REGION"
h_genmail --count 10 --seed 19 --out "$H_RUN/mail" --max-attachment 20000
h_dovecot_start --seed alice="$H_RUN/mail"
pv_init "$H_RUN/data" --store "$STORE" --store-key-file "$RGW_KEY_FILE"
pv_dovecot_account alice
pv_harvest
h_is "$RC $(pv_result fetched) $(ls "$D/packs" | wc -l)" "0 10 0" \
	"harvest: 10 messages, their packs uploaded and gone from the data directory"

# The index made again by serve's indexer: every message read from the store.
pv_sql "DELETE FROM idx_doc; DELETE FROM idx_fts; DELETE FROM meta WHERE key = 'index.through';"
gets=$(grep -c 'GET /pv-archive/packs/' "$RGW_LOG" 2>/dev/null)
cat >"$H_RUN/popvault.conf" <<CONF
[harvest]
interval = 1h
[serve]
dispose_interval = 3s
verify_interval = 2s
verify_sample = 3
verify_full_interval = 3s
CONF
POPVAULT_HEARTBEAT_S=2 TZ=UTC setsid "$PV" --data "$D" serve --listen 127.0.0.1:0 \
	--config "$H_RUN/popvault.conf" --web-root "$H_SRC/web-static" \
	>"$H_RUN/serve.out" 2>"$H_RUN/serve.log" &
SERVE=$!
h_register serve "$SERVE"

searchable() { pv --json search 'after:1971-01-01' 2>/dev/null | h_json 'd["total"]' 2>/dev/null; }
for ((i = 0; i < 600; i++)); do
	grep -q 'full verify: ok' "$H_RUN/serve.log" && grep -q 'sample verify: ok' "$H_RUN/serve.log" &&
		[ "$(searchable)" = 10 ] && break
	sleep 0.1
done
h_is "$(searchable)" 10 "the indexer indexed all 10 again from the stored packs"
h_like "$(grep 'verify: ok' "$H_RUN/serve.log")" 'full verify: ok \(10 messages, 10 decrypted' \
	"the full verify task read every record from the store"
h_like "$(grep 'verify: ok' "$H_RUN/serve.log")" 'sample verify: ok' "so did the sample verify task"
h_check "the gateway served those reads" \
	test "$(grep -c 'GET /pv-archive/packs/' "$RGW_LOG")" -gt "$gets"
h_check "no part made a call its role may not" \
	eval "! grep -E 'seccomp|SIGSYS' '$H_RUN/serve.log' >&2"
kill -TERM "$SERVE"
wait "$SERVE"
h_is "$?" 0 "serve stops cleanly"
