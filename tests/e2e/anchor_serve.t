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
h_plan 13

h_genmail --count 4 --seed 3 --out "$H_RUN/mail"
h_dovecot_start --seed alice="$H_RUN/mail"
h_tsa_start
pv_init "$H_RUN/a"
pv_dovecot_account alice
stamped() { pv_sql "SELECT count(DISTINCT log) FROM anchor_tokens"; }
system_anchors() { pv --json audit list --type anchor | grep -c '"actor": *"system"'; }

# serve DIR-OF-LOG: serve in the background on a free loopback port, as
# the Debian unit runs it (--config with [serve] and [harvest] only: the
# archive's [anchor] stays in DIR/popvault.conf); SERVE_PID is its pid.
printf '[harvest]\ninterval = 5m\n' >"$H_RUN/etc.conf"
serve() {
	POPVAULT_ANCHOR_S=1 "$PV" --data "$D" serve --config "$H_RUN/etc.conf" --plain-http \
		--listen 127.0.0.1:0 >"$H_RUN/$1.log" 2>&1 &
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

pv_tsa_anchor
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

# After a disposal run its record is anchored at once, not an interval
# later: the interval is the default hour and the part looks every second
# (POPVAULT_ANCHOR_CHECK_S). serve and the commands run three days on,
# when a retention of one day is due.
printf 'default: retain 1d\n' >"$H_RUN/1d.policy"
pv policy propose "$H_RUN/1d.policy" >/dev/null 2>&1
pv_glass pv >/dev/null 2>&1
anchors() { pv --json audit list --type anchor | grep -c '"type"'; }
newest_seq() { pv --json audit list --type "$1" | h_json_lines 'max(int(x["seq"]) for x in d)'; }
h_json_lines() { "$H_PY" -c "import json,sys; d=[json.loads(l) for l in sys.stdin if l.strip()]; print($1)"; }
n0=$(anchors)
# The run is proposed here, not by serve's own dispose part.
printf '[serve]\ndispose_interval = 0\n' >>"$D/popvault.conf"
pv__rgw_at 3
# shellcheck disable=SC2046 # h_faketime_env: one word a line
env $(h_faketime_env 3) POPVAULT_ANCHOR_CHECK_S=1 "$PV" --data "$D" serve --plain-http \
	--listen 127.0.0.1:0 >"$H_RUN/later.log" 2>&1 &
SERVE_PID=$!
h_at_exit "kill $SERVE_PID 2>/dev/null"
h_check "three days on, the last attempt is older than the interval: serve anchors both logs" \
	h_wait_for 60 eval '[ "$(anchors)" -ge $((n0 + 2)) ]'
sleep 1
n1=$(anchors)
sleep 4
h_is "$(anchors)" "$n1" "…and then not again within the interval, though it looks every second"
pv_at 3 dispose --reason 'e2e: what is due' >/dev/null 2>&1
pv_glass pv_at 3 >"$H_RUN/dispose.out" 2>&1
h_like "$(pv --json audit list --type dispose-done)" '"outcome":"ok"' "a disposal run ended" ||
	h_diag "$(cat "$H_RUN/dispose.out")" >&2
h_check "…and serve anchors both logs within seconds" \
	h_wait_for 30 eval '[ "$(anchors)" -ge $((n1 + 2)) ]'
h_check "…after the disposal's record (the newest anchor entry follows it)" \
	test "$(newest_seq anchor)" -gt "$(newest_seq dispose-done)"
h_like "$(cat "$H_RUN/later.log")" 'anchored \(after a disposal run\)' "…saying why"
stop_serve
pv__rgw_at 0
pv_at 3 verify >"$H_RUN/v2.out" 2>&1
h_is $? 0 "the archive verifies, the disposal and its anchors with it" "$(cat "$H_RUN/v2.out")"
