#!/bin/bash
# Harness self-test: the private Dovecot upstream.  Guards the things every
# POP3 test leans on: it starts rootless on free ports, serves exactly the
# seeded bytes, verifies against the run's CA by name, fails closed on a
# wrong CA or name, honours per-user fault fields and OAuth2, and is gone
# (and its run dir with it) after stop or a failing test.
set -u
. "$(dirname "$0")/lib/harness.sh"
h_init
h_plan 28

PC() { "$H_PY" "$H_LIB/popcheck.py" "$@"; }
DATA=$H_SRC/tests/data/mail/basic
T=$H_RUN/t
mkdir -p "$T"

h_dovecot_start --seed "alice=$DATA" --user alice:alicepw --user bob:bobpw \
	--user 'carol:carolpw:nologin=y reason=disabled' \
	--oauth2 --rawlog --conf 'auth_failure_delay = 0'
h_check "dovecot started (pid $DOVECOT_PID, ports $DOVECOT_PORT/$DOVECOT_TLS_PORT)" \
	h_pid_alive "$DOVECOT_PID"

capa=$(PC --port "$DOVECOT_PORT" capa)
for c in UIDL PIPELINING STLS 'SASL .*PLAIN'; do
	h_like "$capa" "^$c" "CAPA lists $c"
done

n=$(find "$DATA" -type f | wc -l)
bytes=$(cat "$DATA"/* | wc -c)
h_is "$(PC --port "$DOVECOT_PORT" --user alice --pass alicepw stat)" "$n $bytes" \
	"STAT matches the seeded count and octets"
h_is "$(maildir_count alice)" "$n" "maildir_count sees the seeded messages"
PC --port "$DOVECOT_PORT" --user alice --pass alicepw retr 2 >"$T/m2"
PC --port "$DOVECOT_PORT" --user alice --pass alicepw retr 3 >"$T/m3"
h_check "RETR 2 (dot lines) is byte-identical to the seeded file" \
	cmp -s "$T/m2" "$DATA/02-dots.eml"
h_check "RETR 3 (3000+ char line) is byte-identical, in seed order" \
	cmp -s "$T/m3" "$DATA/03-longline.eml"

sclient() {
	echo QUIT | timeout 20 openssl s_client -quiet -verify_return_error "$@" \
		>"$T/sc.out" 2>"$T/sc.err" && grep -q '^+OK' "$T/sc.out"
}
h_check "implicit TLS verifies against the run CA, name localhost" \
	sclient -connect "127.0.0.1:$DOVECOT_TLS_PORT" -CAfile "$DOVECOT_CA" \
	-verify_hostname localhost
h_check "STLS verifies against the run CA, name localhost" \
	sclient -starttls pop3 -connect "127.0.0.1:$DOVECOT_PORT" \
	-CAfile "$DOVECOT_CA" -verify_hostname localhost
h_ca
h_check "an unrelated CA is refused (the TLS checks can fail)" \
	eval '! sclient -connect 127.0.0.1:$DOVECOT_TLS_PORT -CAfile $H_OTHER_CA -verify_hostname localhost'
h_check "a wrong host name is refused" \
	eval '! sclient -connect 127.0.0.1:$DOVECOT_TLS_PORT -CAfile $DOVECOT_CA -verify_hostname wrong.invalid'
h_is "$(PC --port "$DOVECOT_TLS_PORT" --tls --ca "$DOVECOT_CA" --user alice --pass alicepw stat)" \
	"$n $bytes" "python client: implicit TLS with CA and hostname check"
h_is "$(PC --port "$DOVECOT_PORT" --stls --ca "$DOVECOT_CA" --user bob --pass bobpw stat)" \
	"0 0" "python client: STLS, second user's empty mailbox"

PC --port "$DOVECOT_PORT" --user alice --pass wrong stat 2>"$T/err"
h_is "$?:$(cat "$T/err")" "2:popcheck: -ERR [AUTH] Authentication failed." \
	"a wrong password gets -ERR [AUTH]"
PC --port "$DOVECOT_PORT" --user carol --pass carolpw stat 2>"$T/err"
h_like "$(cat "$T/err")" '^popcheck: -ERR \[AUTH\] disabled' \
	"per-user extra fields apply (nologin=y reason=disabled)"

h_is "$(PC --port "$DOVECOT_PORT" --xoauth2 "alice:$DOVECOT_OAUTH_TOKEN" stat)" \
	"$n $bytes" "XOAUTH2 with the stub's valid token logs in"
PC --port "$DOVECOT_PORT" --xoauth2 "alice:forged" stat 2>/dev/null
h_is "$?" 2 "XOAUTH2 with a bad token is refused"
h_like "$(cat "$DOVECOT_OAUTH_LOG")" '"token": "forged", "valid": false' \
	"the token stub logged the bad token it refused"

PC --port "$DOVECOT_PORT" --user alice --pass alicepw dele 1 drop
h_is "$(maildir_count alice)" "$n" "DELE then TCP drop without QUIT deletes nothing"
PC --port "$DOVECOT_PORT" --user alice --pass alicepw dele 1 quit
h_is "$(maildir_count alice)" "$((n - 1))" "DELE then QUIT deletes (maildir_count drops)"

new=$(h_seed dovecot alice "$DATA/01-plain.eml")
PC --port "$DOVECOT_PORT" --user alice --pass alicepw retr "$n" >"$T/last"
h_check "h_seed delivers a message that is served last ($new)" \
	cmp -s "$T/last" "$DATA/01-plain.eml"
h_check "rawlog_dir holds session transcripts" \
	eval 'ls "$DOVECOT_RAWLOG" | grep -q "\.in$"'
h_check "the doveadm wrapper talks to this instance" \
	eval 'h_doveadm who >/dev/null'

h_dovecot_stop
h_check "after stop the master pid is gone" eval '! h_pid_alive $DOVECOT_PID'
h_check "after stop the port refuses connections" \
	eval '! PC --port $DOVECOT_PORT capa 2>/dev/null'

# A test that dies must not leave a server or its run dir behind.
cat >"$T/dies.sh" <<EOF
. "$H_LIB/harness.sh"
h_init
h_dovecot_start || exit 9
echo "\$H_RUN \$DOVECOT_PID"
exit 3
EOF
read -r drun dpid <<<"$(bash "$T/dies.sh")"
h_check "a failing test's trap stops Dovecot and removes its run dir" \
	eval '[ -n "$dpid" ] && ! h_pid_alive $dpid && [ ! -e "$drun" ]'
