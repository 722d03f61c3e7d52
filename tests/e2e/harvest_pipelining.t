#!/bin/bash
# Pipelining (RFC 2449 §6.6) against the real servers, seen on the wire
# through a relay (lib/pipeproxy.py, plain POP3), and a server connection
# dying mid-pipeline:
#   Dovecot and GNU pop3d both advertise PIPELINING, so this is the path
#   harvests take;
#   with it, RETRs go out many to a write, and the DELEs of a committed
#   batch go out while RETRs are still in flight, each only for a message
#   already in the catalog (checked when its DELE reaches the relay; the
#   relay passes the server's bytes at 1 MB/s, as a slow link would, so
#   the mailbox takes longer to arrive than a group commit);
#   without it (the relay strips it from CAPA), one command per write;
#   cut right after the first DELEs, with RETRs in flight and no QUIT:
#   nothing is deleted upstream, what was committed stays, and the next
#   harvest archives the rest, each message exactly once.
set -u
. "$(dirname "$0")/lib/harness.sh"
. "$(dirname "$0")/lib/popvault.sh"
h_init
h_plan 21

M=$H_RUN/mail
N=60
h_genmail --count $N --seed 41 --out "$M" --max-attachment 3000
for u in alice bob carol dave; do printf '%spw\n' "$u" >"$H_RUN/$u.pw"; done
h_dovecot_start --user alice:alicepw --user bob:bobpw --user carol:carolpw \
	--seed "alice=$M" --seed "bob=$M" --seed "carol=$M" --conf 'auth_failure_delay = 0'
h_mailutils_start --user dave:davepw --seed "dave=$M"

# relay NAME TO_PORT [pipeproxy options]: a relay to TO_PORT on a free port
# (PROXY_PORT), its log in $H_RUN/NAME.log.
relay() {
	local name=$1 to=$2
	shift 2
	PROXY_PORT=${FIXED_PORT:-$(h_port)}
	"$H_PY" "$H_LIB/pipeproxy.py" --port "$PROXY_PORT" --to-port "$to" \
		--log "$H_RUN/$name.log" "$@" >"$H_RUN/$name.out" 2>&1 &
	PROXY_PID=$!
	h_at_exit "kill $PROXY_PID 2>/dev/null"
	h_wait_for 10 grep -qs ready "$H_RUN/$name.out"
}
# newdata NAME USER LOGIN PORT [account add options]: an archive with one
# plain-POP3 account whose group commits hold at most 10 messages (several
# batches, DELEs mid-stream).
newdata() {
	pv_init "$H_RUN/data-$1"
	printf '[harvest]\nbatch_max = 10\n' >>"$D/popvault.conf"
	pv account add "$2" --host localhost --port "$4" --tls none --user "$3" \
		--password-file "$H_RUN/$2.pw" "${@:5}" >/dev/null
}
# Over the harvest session (the relay's first connection) of log FILE:
most_retrs() { awk '$1 == 1 && $3 == "cmds" { n = gsub(/RETR /, "&"); if (n > m) m = n } END { print m + 0 }' "$1"; }
most_deles() { awk '$1 == 1 && $3 == "cmds" { n = gsub(/DELE /, "&"); if (n > m) m = n } END { print m + 0 }' "$1"; }
most_cmds() { awk '$1 == 1 && $3 == "cmds" { n = split($4, x, "|"); if (n > m) m = n } END { print m + 0 }' "$1"; }
# "yes" when a DELE went out before the last RETR did.
deles_mid_stream() {
	awk '$1 == 1 && $3 == "cmds" { if ($0 ~ /DELE / && !d) d = NR; if ($0 ~ /RETR /) r = NR }
	     END { print (d && d < r) ? "yes" : "no" }' "$1"
}
# "ok" when every DELE the relay saw was for a message already committed
# (the first N messages of a fresh mailbox are the N in the catalog).
deles_committed() {
	awk '$3 == "check" || $3 == "cut" { split($4, c, "="); split($5, d, "="); k = split(d[2], v, ",");
	       for (i = 1; i <= k; i++) if (v[i] + 0 > c[2] + 0) bad++; seen++ }
	     END { print (seen && !bad) ? "ok" : "bad (" seen + 0 " checks, " bad + 0 " early)" }' "$1"
}

# ---- both servers advertise PIPELINING ----
h_is "$(h_popcheck --port "$DOVECOT_PORT" --user alice --pass alicepw capa | grep -cx PIPELINING)" 1 \
	"Dovecot advertises PIPELINING"
h_is "$(h_popcheck --port "$MAILUTILS_PORT" --user dave@example.org --pass davepw capa | grep -cx PIPELINING)" 1 \
	"GNU pop3d advertises PIPELINING"

# ---- Dovecot, pipelined ----
relay dovecot "$DOVECOT_PORT" --down-rate 1000000 --check-dele --data "$H_RUN/data-dovecot"
newdata dovecot alice alice "$PROXY_PORT"
pv_harvest
h_is "$RC $(pv_result fetched deleted)" "0 $N $N" "Dovecot: all $N archived and deleted through the relay"
h_is "$(pv_archived)" "$(h_hashes "$M"/*.eml)" "Dovecot: every message archived byte for byte"
h_is "$(maildir_count alice)" 0 "Dovecot: the mailbox is empty"
h_check "Dovecot: RETRs go out many to a write (up to $(most_retrs "$H_RUN/dovecot.log"))" [ $(most_retrs "$H_RUN/dovecot.log") -ge 8 ]
h_check "Dovecot: DELEs go out many to a write (up to $(most_deles "$H_RUN/dovecot.log"))" [ $(most_deles "$H_RUN/dovecot.log") -ge 2 ]
h_is "$(deles_mid_stream "$H_RUN/dovecot.log")" yes "Dovecot: DELEs of committed batches go out while RETRs remain"
h_is "$(deles_committed "$H_RUN/dovecot.log")" ok "Dovecot: no DELE for a message not yet committed"
kill "$PROXY_PID"

# ---- GNU pop3d, pipelined ----
relay mailutils "$MAILUTILS_PORT" --down-rate 1000000 --check-dele --data "$H_RUN/data-mailutils"
newdata mailutils dave dave@example.org "$PROXY_PORT" --auth user
pv_harvest
h_is "$RC $(pv_result fetched deleted)" "0 $N $N" "GNU pop3d: all $N archived and deleted through the relay"
h_is "$(maildir_count dave mailutils)" 0 "GNU pop3d: the mailbox is empty"
h_check "GNU pop3d: RETRs go out many to a write" [ $(most_retrs "$H_RUN/mailutils.log") -ge 8 ]
h_is "$(deles_mid_stream "$H_RUN/mailutils.log")" yes "GNU pop3d: DELEs go out while RETRs remain"
h_is "$(deles_committed "$H_RUN/mailutils.log")" ok "GNU pop3d: no DELE for a message not yet committed"
kill "$PROXY_PID"

# ---- no PIPELINING: one command at a time ----
relay nopipe "$DOVECOT_PORT" --strip-pipelining
newdata nopipe bob bob "$PROXY_PORT"
pv_harvest
h_is "$RC $(pv_result fetched deleted)" "0 $N $N" "without PIPELINING: all $N archived and deleted"
h_is "$(most_cmds "$H_RUN/nopipe.log")" 1 "without PIPELINING: one command per write"
kill "$PROXY_PID"

# ---- the connection cut mid-pipeline, right after the first DELEs ----
relay cut "$DOVECOT_PORT" --cut-at-dele --data "$H_RUN/data-cut"
CUT_PORT=$PROXY_PORT
newdata cut carol carol "$PROXY_PORT"
pv_harvest
h_check "cut: the harvest reports the lost connection (exit $RC)" [ $RC -ne 0 ]
h_like "$(grep ' cut ' "$H_RUN/cut.log")" "cut committed=[0-9]+ deles=" "cut: the relay cut the session at its first DELEs"
h_is "$(deles_committed "$H_RUN/cut.log") $(maildir_count carol)" "ok $N" \
	"cut: the DELEs sent were all committed, and nothing was deleted upstream (no QUIT)"
kept=$(pv_count)
kill "$PROXY_PID"
wait "$PROXY_PID" 2>/dev/null
FIXED_PORT=$CUT_PORT relay cut2 "$DOVECOT_PORT"
pv_harvest
h_is "$RC $(pv_result fetched) $(maildir_count carol)" "0 $((N - kept)) 0" \
	"cut: the next harvest takes the $((N - kept)) not committed before, deletes all"
h_is "$(pv_archived)" "$(h_hashes "$M"/*.eml)" "cut: every message archived exactly once, byte for byte"
kill "$PROXY_PID"
