#!/bin/bash
# Mailbox leases (store/leases.h, catalog migration 16): when several
# harvesters share one catalog (on PostgreSQL: a SQLite catalog is one
# machine's, and takes no lease), one of them holding an account's lease
# keeps the others from opening a session on that mailbox. Against a real
# PostgreSQL 15 and Dovecot; the other harvester is a lease row of
# another machine written into the catalog:
# while it runs the harvest of that account is refused, naming the holder,
# and touches nothing upstream; the other account is harvested; once the
# lease ran out the account is harvested and the lease given back. A
# harvest SIGKILLed mid-session leaves its lease behind: the next harvest
# of the same data directory takes it over at once.
# The catalog is always on PostgreSQL here; in the backend matrix
# (tests/README) the packs are in the S3 store too (pv_init).
# HARVEST_LEASE_COUNT=N sets the killed mailbox's size (400; the matrix
# takes fewer: each is read back at the end, and the kill comes as the
# session begins).
set -u
. "$(dirname "$0")/lib/harness.sh"
. "$(dirname "$0")/lib/popvault.sh"
. "$(dirname "$0")/lib/pg.sh"
h_init
h_plan 10

pg_start "$H_RUN/pg" || { echo "Bail out! postgresql did not start"; exit 1; }
"$PG_BINDIR/psql" "$PG_URL" -qAtc "CREATE DATABASE pv_lease" >/dev/null ||
	{ echo "Bail out! cannot create the database"; exit 1; }
URL="postgresql://postgres@$PG_HOST:$PG_PORT/pv_lease"

h_genmail --count "${HARVEST_LEASE_COUNT:-400}" --seed 71 --out "$H_RUN/a"
h_genmail --count 9 --seed 72 --out "$H_RUN/b"
h_dovecot_start --seed "alice=$H_RUN/a" --seed "bob=$H_RUN/b"
D=$H_RUN/data
pv_init "$D" --catalog "$URL" 2>"$H_RUN/init.out" ||
	{ echo "Bail out! init --catalog failed: $(cat "$H_RUN/init.out")"; exit 1; }
pv_dovecot_account alice
pv_dovecot_account bob

sql() { "$PG_BINDIR/psql" "$URL" -qAt -F '|' -c "$1"; }
bob=$(sql "SELECT id FROM accounts WHERE name = 'bob'")
far=$(($(date +%s) + 3600))
sql "INSERT INTO mailbox_leases (account_id, holder, expires_at) VALUES ($bob, 'site2:/srv/popvault pid 4242 #0badc0de', $far)" >/dev/null

# SIGKILL mid-session: alice's lease stays, and this data directory takes it over.
setsid "$PV" --data "$D" harvest --once >/dev/null 2>&1 &
pid=$! # setsid without a fork: the process group's id
for _ in $(seq 1 400); do
	[ -n "$(sql "SELECT holder FROM mailbox_leases WHERE account_id <> $bob")" ] && break
	sleep 0.025
done
kill -KILL -- "-$pid" 2>/dev/null
{ wait "$pid"; } 2>/dev/null
h_like "$(sql "SELECT holder FROM mailbox_leases WHERE account_id <> $bob")" ":$D pid [0-9]+ #" \
	"a killed harvest (its process group) leaves its lease behind"

pv_harvest
h_like "$RC" "^[1-9]" "a harvest with an account leased elsewhere reports it"
h_like "$OUT$ERR" 'being harvested by site2:/srv/popvault pid 4242' "the error names the holder"
h_is "$(maildir_count bob)" 9 "nothing of the leased mailbox was touched upstream"
h_is "$(maildir_count alice)" 0 "the killed harvest's lease was taken over at once by this data directory"
h_is "$(sql "SELECT holder FROM mailbox_leases")" \
	"site2:/srv/popvault pid 4242 #0badc0de" "the other harvester's lease is left as it was, ours given back"

sql "UPDATE mailbox_leases SET expires_at = $(($(date +%s) - 1)) WHERE account_id = $bob" >/dev/null
pv_harvest
h_is "$RC $(maildir_count bob)" "0 0" "once that lease ran out the account is harvested"
h_is "$(sql "SELECT count(*) FROM mailbox_leases")" 0 "every lease was given back at the end"
h_is "$(pv_archived)" "$(h_hashes "$H_RUN"/a/*.eml "$H_RUN"/b/*.eml)" \
	"every message archived exactly once"
h_check "verify passes" eval "pv verify >/dev/null"
