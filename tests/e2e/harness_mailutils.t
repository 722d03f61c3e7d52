#!/bin/bash
# Harness self-test: GNU Mailutils pop3d as the second real upstream.
# Guards: it starts (as nobody:mail under root, through a setgid shim as a
# normal user), serves the seeded mail (plus its X-UIDL header), verifies
# by name against the run CA on both listeners, and its EXPIRE 0 and
# LOGIN-DELAY modes behave as the harvest tests will assume.
set -u
. "$(dirname "$0")/lib/harness.sh"
h_init
h_plan 17

DATA=$H_SRC/tests/data/mail/basic
T=$H_RUN/t
mkdir -p "$T"
n=$(find "$DATA" -type f | wc -l)
bytes=$(cat "$DATA"/* | wc -c)

h_mailutils_start --seed "alice=$DATA"
A=(--user "alice@$MAILUTILS_DOMAIN" --pass alicepw)
h_check "pop3d started (pid $MAILUTILS_PID, ports $MAILUTILS_PORT/$MAILUTILS_TLS_PORT)" \
	h_pid_alive "$MAILUTILS_PID"
capa=$(h_popcheck --port "$MAILUTILS_PORT" capa)
h_like "$capa" '^UIDL' "CAPA lists UIDL"
h_like "$capa" '^STLS' "CAPA lists STLS"
h_like "$capa" '^EXPIRENEVER' "CAPA has pop3d's malformed EXPIRENEVER line"
h_is "$(h_popcheck --port "$MAILUTILS_PORT" "${A[@]}" stat)" "$n $bytes" \
	"STAT matches the seeded count and CRLF octets"
h_popcheck --port "$MAILUTILS_PORT" "${A[@]}" retr 2 | grep -av '^X-UIDL: ' >"$T/m2"
h_check "RETR 2 is the seeded file plus an X-UIDL header" \
	cmp -s "$T/m2" "$DATA/02-dots.eml"

h_check "implicit TLS verifies against the run CA, name localhost" \
	h_tls_greets -connect "127.0.0.1:$MAILUTILS_TLS_PORT" -CAfile "$MAILUTILS_CA" \
	-verify_hostname localhost
h_check "STLS verifies against the run CA, name localhost" \
	h_tls_greets -starttls pop3 -connect "127.0.0.1:$MAILUTILS_PORT" \
	-CAfile "$MAILUTILS_CA" -verify_hostname localhost
h_is "$(h_popcheck --port "$MAILUTILS_TLS_PORT" --tls --ca "$MAILUTILS_CA" "${A[@]}" stat)" \
	"$n $bytes" "python client: implicit TLS with CA and hostname check"
h_fails "a wrong password is refused by the server (-ERR)" 2 '^popcheck: -ERR' \
	h_popcheck --port "$MAILUTILS_PORT" --user "alice@$MAILUTILS_DOMAIN" --pass nope stat
h_popcheck --port "$MAILUTILS_PORT" "${A[@]}" dele 1 quit
h_is "$(maildir_count alice mailutils)" "$((n - 1))" "DELE then QUIT deletes"

h_mailutils_start --name mu_expire --expire0 --seed "alice=$DATA"
h_like "$(h_popcheck --port "$MU_EXPIRE_PORT" capa)" '^EXPIRE0' \
	"--expire0 advertises (malformed) EXPIRE0"
h_popcheck --port "$MU_EXPIRE_PORT" "${A[@]}" retr 1 >/dev/null
h_is "$(maildir_count alice mu_expire)" "$((n - 1))" \
	"--expire0: RETR then QUIT deletes without DELE"

h_mailutils_start --name mu_delay --login-delay 30
h_popcheck --port "$MU_DELAY_PORT" "${A[@]}" stat >/dev/null
h_popcheck --port "$MU_DELAY_PORT" "${A[@]}" stat 2>"$T/err"
h_like "$(cat "$T/err")" '\[LOGIN-DELAY\]' \
	"--login-delay: a second login at once gets -ERR [LOGIN-DELAY]"

h_mailutils_stop
h_check "after stop the pid is gone" eval '! h_pid_alive $MAILUTILS_PID'
h_check "after stop the port refuses connections" \
	eval '! h_popcheck --port $MAILUTILS_PORT capa 2>/dev/null'
h_check "the other instances still run" \
	eval 'h_pid_alive $MU_EXPIRE_PID && h_pid_alive $MU_DELAY_PID'
