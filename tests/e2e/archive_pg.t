#!/bin/bash
# A whole archive whose catalog is a PostgreSQL database (issue 18,
# docs/ARCHITECTURE.md §12): `init --catalog URL` records the URL in
# DIR/catalog.url (0600) and makes no DIR/catalog.db; a harvest from a
# real Dovecot archives every message exactly once, byte for byte, and
# empties the mailbox; stats, show, verify and verify --full work on it. A URL
# holding a password is refused (it belongs in a libpq passfile), and so
# is a database that already holds a catalog; neither makes anything.
#
# Search, reindex, hold by query, export by query and dispose run there
# too (their answers: archive_pg_search.t); checked here that search
# finds the harvested mail and a dry-run disposal plans, and that backup
# runs (its catalog a SQLite copy; restored in migrate_catalog.t). serve
# on PostgreSQL has its own test (serve_pg.t).
set -u
. "$(dirname "$0")/lib/harness.sh"
. "$(dirname "$0")/lib/popvault.sh"
. "$(dirname "$0")/lib/pg.sh"
h_init
h_plan 25

pg_start "$H_RUN/pg" || { echo "Bail out! postgresql did not start"; exit 1; }
h_pass "postgresql 15 started on 127.0.0.1:$PG_PORT"
# Each archive its own database.
for db in pv_one pv_two pv_conninfo; do
	"$PG_BINDIR/psql" "$PG_URL" -qAtc "CREATE DATABASE $db" >/dev/null ||
		{ echo "Bail out! cannot create database $db"; exit 1; }
done
URL="postgresql://postgres@$PG_HOST:$PG_PORT/pv_one"

h_genmail --count 25 --seed 18 --out "$H_RUN/mail" --max-attachment 200000
h_dovecot_start --seed alice="$H_RUN/mail"

# A password in the URL: refused, nothing made.
h_fails "a password in the catalog URL is refused, naming the passfile" 2 'passfile' \
	"$PV" init --data "$H_RUN/pw" --catalog "postgresql://postgres:secret@$PG_HOST:$PG_PORT/pv_two"
h_check "…and no data directory was made" test ! -e "$H_RUN/pw"
h_fails "a password in a conninfo is refused too" 2 'passfile' \
	"$PV" init --data "$H_RUN/pw" --catalog "host=$PG_HOST port=$PG_PORT user=postgres dbname=pv_two password=x"

D=$H_RUN/data
"$PV" init --data "$D" --catalog "$URL" >"$H_RUN/init.out" 2>&1
h_is $? 0 "init --catalog postgresql://... succeeds"
h_is "$(cat "$D/catalog.url")" "$URL" "…recording the URL in DIR/catalog.url"
h_is "$(stat -c %a "$D/catalog.url")" 600 "…mode 0600"
h_check "…and no DIR/catalog.db" test ! -e "$D/catalog.db"
schema=$(sed -n 's/^initialised .*(origin .*, schema \([0-9]*\))$/\1/p' "$H_RUN/init.out")
h_is "$("$PG_BINDIR/psql" "$URL" -qAtc 'SELECT version FROM schema_version')" "$schema" \
	"the schema is migrated in PostgreSQL"

h_fails "init against a database that already holds a catalog is refused" 1 \
	'already holds a popvault catalog' "$PV" init --data "$H_RUN/two" --catalog "$URL"
h_check "…and no data directory was made" test ! -e "$H_RUN/two"

pv_dovecot_account alice
h_is "$("$PG_BINDIR/psql" "$URL" -qAtc "SELECT name FROM accounts")" alice "the account is a row in PostgreSQL"
pv_harvest
h_is "$RC $(pv_result fetched deleted)" "0 25 25" "harvest --once fetches and deletes all 25"
h_is "$(maildir_count alice)" 0 "the upstream mailbox is empty"
h_is "$(pv_archived)" "$(h_hashes "$H_RUN"/mail/*.eml)" "every message archived once, byte for byte (show --raw)"
h_is "$("$PG_BINDIR/psql" "$URL" -qAtc 'SELECT count(*) FROM messages')" 25 "…its rows in PostgreSQL"
pv_harvest
h_is "$RC $(pv_result fetched deleted)" "0 0 0" "a second harvest fetches nothing"

h_is "$(pv_count)" 25 "stats counts 25 archived"
# What is not there yet says so (exit 1 or 2), and crashes nothing.
pv verify >"$H_RUN/verify.out" 2>&1
rc=$?
h_is "$rc" 0 "verify (light) passes on the PostgreSQL catalog"
[ "$rc" -eq 0 ] || sed "s/^/# /" "$H_RUN/verify.out"

h_is "$(pv --json search 'after:1970-01-01' --limit 0 | h_json 'd["total"]')" 25 \
	"search finds the 25 harvested messages (the harvest's indexer ran)"

pv --json verify --full >"$H_RUN/full.json" 2>"$H_RUN/full.err"
h_is "$? $(h_json 'd["ok"], d["blobs_decrypted"]' <"$H_RUN/full.json")" "0 True 25" \
	"verify --full passes too, every message decrypted"
pv dispose --dry-run >"$H_RUN/dry.out" 2>&1
h_like "$? $(tr "\n" " " <"$H_RUN/dry.out")" '^0 Disposal plan .*0 to dispose' "dispose --dry-run plans on PostgreSQL: nothing due"
pv --json backup --out "$H_RUN/bk" >"$H_RUN/bk.json" 2>&1
h_is "$? $(h_json 'd["archive_size"]' <"$H_RUN/bk.json" 2>/dev/null)" "0 25" \
	"backup runs: its catalog a SQLite copy of the PostgreSQL one"
"$PV" --data "$H_RUN/restored" restore "$H_RUN/bk" --keys "$D/keys" >/dev/null 2>"$H_RUN/rs.err"
h_is "$? $(D=$H_RUN/restored pv --json verify --full | h_json 'd["ok"], d["blobs_decrypted"]')" "0 True 25" \
	"…which restores, with the archive's keys/, into a SQLite archive that verifies in full"

# A libpq conninfo names the database just as well.
"$PV" init --data "$H_RUN/ci" --catalog "host=$PG_HOST port=$PG_PORT user=postgres dbname=pv_conninfo" \
	>/dev/null 2>"$H_RUN/ci.err"
h_is "$? $(D=$H_RUN/ci pv_count)" "0 0" "init --catalog with a conninfo makes an empty archive there"

pg_stop
