#!/bin/bash
# Mailbox leases (store/leases.h, catalog migration 16): when several
# harvesters share one catalog, one of them holding an account's lease
# keeps the others from opening a session on that mailbox. Here the other
# harvester is a lease row of another machine written into the catalog:
# while it runs the harvest of that account is refused, naming the holder,
# and touches nothing upstream; the other account is harvested; once the
# lease ran out the account is harvested and the lease given back. A
# harvest SIGKILLed mid-session leaves its lease behind: the next harvest
# of the same data directory takes it over at once.
set -u
. "$(dirname "$0")/lib/harness.sh"
. "$(dirname "$0")/lib/popvault.sh"
h_init
h_plan 10

h_genmail --count 400 --seed 71 --out "$H_RUN/a"
h_genmail --count 9 --seed 72 --out "$H_RUN/b"
h_dovecot_start --seed "alice=$H_RUN/a" --seed "bob=$H_RUN/b"
pv_init "$H_RUN/data"
pv_dovecot_account alice
pv_dovecot_account bob

sql() {
	python3 -c 'import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute(sys.argv[2]).fetchall()
db.commit()
print("\n".join("|".join(str(c) for c in r) for r in rows))' "$D/catalog.db" "$1"
}
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
