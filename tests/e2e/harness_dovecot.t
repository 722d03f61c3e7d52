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

DATA=$H_SRC/tests/data/mail/basic
T=$H_RUN/t
mkdir -p "$T"

h_dovecot_start --seed "alice=$DATA" --user alice:alicepw --user bob:bobpw \
	--user 'carol:carolpw:nologin=y reason=disabled' \
	--oauth2 --rawlog --conf 'auth_failure_delay = 0'
h_check "dovecot started (pid $DOVECOT_PID, ports $DOVECOT_PORT/$DOVECOT_TLS_PORT)" \
	h_pid_alive "$DOVECOT_PID"

capa=$(h_popcheck --port "$DOVECOT_PORT" capa)
for c in UIDL PIPELINING STLS 'SASL .*PLAIN'; do
	h_like "$capa" "^$c" "CAPA lists $c"
done

n=$(find "$DATA" -type f | wc -l)
bytes=$(cat "$DATA"/* | wc -c)
h_is "$(h_popcheck --port "$DOVECOT_PORT" --user alice --pass alicepw stat)" "$n $bytes" \
	"STAT matches the seeded count and octets"
h_is "$(maildir_count alice)" "$n" "maildir_count sees the seeded messages"
h_popcheck --port "$DOVECOT_PORT" --user alice --pass alicepw retr 2 >"$T/m2"
h_popcheck --port "$DOVECOT_PORT" --user alice --pass alicepw retr 3 >"$T/m3"
h_check "RETR 2 (dot lines) is byte-identical to the seeded file" \
	cmp -s "$T/m2" "$DATA/02-dots.eml"
h_check "RETR 3 (3000+ char line) is byte-identical, in seed order" \
	cmp -s "$T/m3" "$DATA/03-longline.eml"

h_check "implicit TLS verifies against the run CA, name localhost" \
	h_tls_greets -connect "127.0.0.1:$DOVECOT_TLS_PORT" -CAfile "$DOVECOT_CA" \
	-verify_hostname localhost
h_check "STLS verifies against the run CA, name localhost" \
	h_tls_greets -starttls pop3 -connect "127.0.0.1:$DOVECOT_PORT" \
	-CAfile "$DOVECOT_CA" -verify_hostname localhost
h_ca
h_check "an unrelated CA is refused (the TLS checks can fail)" \
	eval '! h_tls_greets -connect 127.0.0.1:$DOVECOT_TLS_PORT -CAfile $H_OTHER_CA -verify_hostname localhost'
h_check "a wrong host name is refused" \
	eval '! h_tls_greets -connect 127.0.0.1:$DOVECOT_TLS_PORT -CAfile $DOVECOT_CA -verify_hostname wrong.invalid'
h_is "$(h_popcheck --port "$DOVECOT_TLS_PORT" --tls --ca "$DOVECOT_CA" --user alice --pass alicepw stat)" \
	"$n $bytes" "python client: implicit TLS with CA and hostname check"
h_is "$(h_popcheck --port "$DOVECOT_PORT" --stls --ca "$DOVECOT_CA" --user bob --pass bobpw stat)" \
	"0 0" "python client: STLS, second user's empty mailbox"

h_popcheck --port "$DOVECOT_PORT" --user alice --pass wrong stat 2>"$T/err"
h_is "$?:$(cat "$T/err")" "2:popcheck: -ERR [AUTH] Authentication failed." \
	"a wrong password gets -ERR [AUTH]"
h_popcheck --port "$DOVECOT_PORT" --user carol --pass carolpw stat 2>"$T/err"
h_like "$(cat "$T/err")" '^popcheck: -ERR \[AUTH\] disabled' \
	"per-user extra fields apply (nologin=y reason=disabled)"

h_is "$(h_popcheck --port "$DOVECOT_PORT" --xoauth2 "alice:$DOVECOT_OAUTH_TOKEN" stat)" \
	"$n $bytes" "XOAUTH2 with the stub's valid token logs in"
# The refusal is the XOAUTH2 error challenge: base64 of {"status":"401",...
h_fails "XOAUTH2 with a bad token is refused with status 401" 2 '^popcheck: \+ eyJzdGF0dXMiOiI0MDEi' \
	h_popcheck --port "$DOVECOT_PORT" --xoauth2 "alice:forged" stat
h_like "$(cat "$DOVECOT_OAUTH_LOG")" '"token": "forged", "valid": false' \
	"the token stub logged the bad token it refused"

h_popcheck --port "$DOVECOT_PORT" --user alice --pass alicepw dele 1 drop
h_is "$(maildir_count alice)" "$n" "DELE then TCP drop without QUIT deletes nothing"
h_popcheck --port "$DOVECOT_PORT" --user alice --pass alicepw dele 1 quit
h_is "$(maildir_count alice)" "$((n - 1))" "DELE then QUIT deletes (maildir_count drops)"

new=$(h_seed dovecot alice "$DATA/01-plain.eml")
h_popcheck --port "$DOVECOT_PORT" --user alice --pass alicepw retr "$n" >"$T/last"
h_check "h_seed delivers a message that is served last ($new)" \
	cmp -s "$T/last" "$DATA/01-plain.eml"
h_check "rawlog_dir holds session transcripts" \
	eval 'ls "$DOVECOT_RAWLOG" | grep -q "\.in$"'
h_check "the doveadm wrapper talks to this instance" \
	eval 'h_doveadm who >/dev/null'

h_dovecot_stop
h_check "after stop the master pid is gone" eval '! h_pid_alive $DOVECOT_PID'
h_check "after stop the port refuses connections" \
	eval '! h_popcheck --port $DOVECOT_PORT capa 2>/dev/null'

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
