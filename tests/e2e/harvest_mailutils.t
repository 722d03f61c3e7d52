#!/bin/bash
# Harvest from GNU Mailutils pop3d, the second real upstream:
#   STLS and implicit TLS; the archive holds exactly what the server sent
#   (pop3d adds an X-UIDL: header, so the reference is what python's
#   poplib receives, not the maildir files);
#   EXPIRE 0 (retrieved mail is deleted at QUIT, even without DELE): after
#   a local failure (the disk fills up) no QUIT is sent and nothing is
#   lost; --keep-upstream never QUITs there;
#   LOGIN-DELAY: the harvest does not fail by logging in again at once to
#   check its deletions; the next login too soon is a temporary error.
set -u
. "$(dirname "$0")/lib/harness.sh"
. "$(dirname "$0")/lib/popvault.sh"
h_init
h_plan 28

M=$H_RUN/mail
BASIC=$H_SRC/tests/data/mail/basic
h_genmail --count 8 --seed 31 --out "$M" --max-attachment 3000
pv_enospc_shim
for u in alice bob carol; do printf '%spw\n' "$u" >"$H_RUN/$u.pw"; done

# newdata NAME USER PORT TLS [account add options]
newdata() {
	local name=$1 user=$2 port=$3 tls=$4
	shift 4
	pv_init "$H_RUN/data-$name"
	pv account add "$user" --host localhost --port "$port" --tls "$tls" --user "$user@example.org" \
		--password-file "$H_RUN/$user.pw" --ca-file "$MAILUTILS_CA" "$@" >/dev/null
}
# What a plain POP3 client (python poplib) receives in a session like the
# harvester's: UIDL first (pop3d inserts X-UIDL: once a message has its
# UIDL), then RETR of each message; the session ends without QUIT, so
# nothing is marked retrieved (EXPIRE 0) or changed.
served() {
	python3 - "$1" "$2@example.org" "$2pw" <<'EOF'
import hashlib, poplib, sys
poplib._MAXLINE = 1 << 20
p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=30)
p.user(sys.argv[2]); p.pass_(sys.argv[3])
p.uidl()
out = []
for i in range(1, p.stat()[0] + 1):
    lines = p.retr(i)[1]
    out.append(hashlib.sha256(b"".join(l + b"\r\n" for l in lines)).hexdigest())
p.sock.close()
print("\n".join(sorted(out)))
EOF
}
quits() { grep -c 'C: QUIT' "$1"; }

# ---- STLS and implicit TLS: exactly what the server sends ----
h_mailutils_start --seed "alice=$M" --seed "bob=$BASIC"
served "$MAILUTILS_PORT" alice >"$H_RUN/alice.want"
h_is "$(wc -l <"$H_RUN/alice.want")" 8 "pop3d serves the 8 seeded messages"
newdata stls alice "$MAILUTILS_PORT" starttls
pv_harvest
h_is "$RC $(pv_result fetched deleted)" "0 8 8" "STLS: 8 archived and deleted"
h_is "$(pv_archived)" "$(cat "$H_RUN/alice.want")" "STLS: archived bytes = what a POP3 client receives"
h_is "$(pv show 1 --raw | grep -c '^X-UIDL: ')" 1 "STLS: pop3d's X-UIDL header is kept (stored as sent)"
h_is "$(maildir_count alice mailutils)" 0 "STLS: the mailbox is empty"
pv_harvest
h_is "$RC $(pv_result fetched deleted residue)" "0 0 0 0" "STLS: a second run finds nothing"

served "$MAILUTILS_PORT" bob >"$H_RUN/bob.want"
newdata tls bob "$MAILUTILS_TLS_PORT" implicit
pv_harvest
h_is "$RC $(pv_result fetched deleted)" "0 5 5" "implicit TLS: 5 archived and deleted"
h_is "$(pv_archived)" "$(cat "$H_RUN/bob.want")" "implicit TLS: archived bytes = what a POP3 client receives"
h_is "$(maildir_count bob mailutils)" 0 "implicit TLS: the mailbox is empty"

# ---- EXPIRE 0: the disk fills up in the second chunk ----
h_mailutils_start --name mu0 --expire0 --seed "alice=$M"
served "$MU0_PORT" alice >"$H_RUN/mu0.want"
newdata expire alice "$MU0_PORT" starttls
printf '[harvest]\nbatch_max = 2\n' >>"$D/popvault.conf"
q0=$(quits "$MU0_LOG")
r0=$(grep -c 'C: RETR' "$MU0_LOG")
pv_harvest env PVTEST_ENOSPC_FILES=2 LD_PRELOAD="$H_RUN/enospc.so"
h_is "$RC" 1 "EXPIRE 0 + disk full: the harvest fails"
h_like "$OUT$ERR" 'No space left on device' "EXPIRE 0 + disk full: the error says why"
h_like "$(($(grep -c 'C: RETR' "$MU0_LOG") - r0))" '^[3-9]$' "EXPIRE 0 + disk full: more was retrieved than archived"
h_is "$(quits "$MU0_LOG")" "$q0" "EXPIRE 0 + disk full: no QUIT was sent"
h_is "$(maildir_count alice mu0)" 8 "EXPIRE 0 + disk full: nothing deleted upstream"
h_is "$(pv_count) $(ls "$D/tmp" | wc -l)" "2 0" "EXPIRE 0 + disk full: the first chunk is archived, nothing half-stored"
pv_harvest
h_is "$RC $(pv_result fetched reconciled deleted)" "0 6 2 8" "EXPIRE 0: the next run completes"
h_is "$(pv_archived)" "$(cat "$H_RUN/mu0.want")" "EXPIRE 0: every message archived exactly once, as served"
h_is "$(maildir_count alice mu0)" 0 "EXPIRE 0: the mailbox is empty"

# ---- EXPIRE 0 and --keep-upstream: never QUIT ----
h_seed mu0 bob "$BASIC/01-plain.eml" "$BASIC/02-dots.eml" "$BASIC/03-longline.eml" >/dev/null
newdata keep bob "$MU0_PORT" starttls --keep-upstream
q0=$(quits "$MU0_LOG")
pv_harvest
h_is "$RC $(pv_result fetched deleted) $(quits "$MU0_LOG")" "0 3 0 $q0" "keep-upstream on EXPIRE 0: archived without QUIT"
h_is "$(maildir_count bob mu0)" 3 "keep-upstream on EXPIRE 0: nothing expired upstream"
pv_harvest
h_is "$RC $(pv_result fetched) $(pv_count) $(maildir_count bob mu0)" "0 0 3 3" "keep-upstream on EXPIRE 0: a second run archives nothing twice"

# ---- EXPIRE 5: pop3d marks every message a session retrieved when it
# QUITs (X-Expire-Timestamp; RSET does not undo it) and deletes it 5 days
# later. A message retrieved but not archived must never be in a session
# that QUITs: message 3 is 3772 bytes in LIST, but 3827 arrive (pop3d adds
# its X-UIDL: header once UIDL was asked), over the 3800-byte cap ----
h_mailutils_start --name mu5 --conf 'expire 5; delete-expired yes;' --seed "alice=$BASIC"
newdata expire5 alice "$MU5_PORT" starttls
printf '[harvest]\nmessage_max = 3800\n' >>"$D/popvault.conf"
pv_harvest
h_like "$OUT$ERR" 'message 3 .*(larger than|cap)' "EXPIRE 5 + over the cap: message 3 is reported"
h_is "$(pv_count) $(maildir_count alice mu5)" "4 1" "EXPIRE 5 + over the cap: the other 4 archived and deleted, message 3 left upstream"
h_check "EXPIRE 5 + over the cap: pop3d never marked message 3 for expiry (no QUIT after its RETR)" \
	eval '! grep -rqi "^X-Expire-Timestamp:" "$(h_maildir mu5 alice)"'

# ---- LOGIN-DELAY ----
h_mailutils_start --name mud --login-delay 30 --user carol:carolpw --seed "carol=$BASIC"
newdata delay carol "$MUD_TLS_PORT" implicit
pv_harvest
h_is "$RC $(pv_result fetched deleted)" "0 5 5" "LOGIN-DELAY: the harvest succeeds without a second login to check"
h_is "$(maildir_count carol mud)" 0 "LOGIN-DELAY: the mailbox is empty"
h_seed mud carol "$BASIC/01-plain.eml" >/dev/null
pv_harvest
h_like "$RC $ERR$OUT" '^1 .*LOGIN-DELAY' "LOGIN-DELAY: a login too soon is a failed run naming LOGIN-DELAY"
h_is "$(pv_count) $(maildir_count carol mud)" "5 1" "LOGIN-DELAY: ... and changes nothing"
