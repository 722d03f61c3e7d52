#!/bin/bash
# popvault serve anchors on its own (issue 17 with issue 15): with a TSA
# configured, the supervisor's anchor task has both logs' checkpoints
# time-stamped by a real TSA (openssl ts -reply behind the harness's
# responder) as the "system" actor, audited; without one it never tries.
# POPVAULT_ANCHOR_S shortens [anchor] interval (at least 60 s) for the test.
set -u
. "$(dirname "$0")/lib/harness.sh"
. "$(dirname "$0")/lib/popvault.sh"
h_init
h_plan 6

h_genmail --count 4 --seed 3 --out "$H_RUN/mail"
h_dovecot_start --seed alice="$H_RUN/mail"
h_tsa_start
pv_init "$H_RUN/a"
pv_dovecot_account alice
stamped() { pv_sql "SELECT count(DISTINCT log) FROM anchor_tokens"; }
system_anchors() { pv --json audit list --type anchor | grep -c '"actor": *"system"'; }

# serve DIR-OF-LOG: serve in the background on a free loopback port;
# SERVE_PID is its pid.
serve() {
	POPVAULT_ANCHOR_S=1 "$PV" --data "$D" serve --plain-http --listen 127.0.0.1:0 \
		>"$H_RUN/$1.log" 2>&1 &
	SERVE_PID=$!
	h_at_exit "kill $SERVE_PID 2>/dev/null"
}
stop_serve() {
	kill -TERM "$SERVE_PID"
	h_wait_for 60 eval '! h_pid_alive $SERVE_PID'
}

# Without a TSA or a witness: no anchor task at all.
serve plain
h_wait_for 60 eval '[ "$(pv_sql "SELECT count(*) FROM messages")" = 4 ]'
sleep 3
stop_serve
h_is "$(pv --json audit list --type anchor | grep -c '"type"')" 0 \
	"without [anchor] or [witnesses], serve never tries to anchor"

cat >>"$D/popvault.conf" <<EOF
[anchor]
tsa_url = $TSA_URL
tsa_ca_file = $TSA_CA
EOF
serve anchored
h_check "with a TSA configured, serve has both logs time-stamped on its own" \
	h_wait_for 60 eval '[ "$(stamped)" = 2 ]'
h_check "…as the system actor, each attempt audited" \
	h_wait_for 30 eval '[ "$(system_anchors)" -ge 2 ]'
h_like "$(pv audit list --type anchor | sed -n 2p)" "system .*party=tsa gen-time=" "…with the token's time"
stop_serve
h_is $? 0 "serve stops on SIGTERM"
pv verify >"$H_RUN/v.out" 2>&1
h_is $? 0 "the archive verifies with serve's tokens" "$(cat "$H_RUN/v.out")"
