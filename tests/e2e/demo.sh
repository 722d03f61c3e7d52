#!/bin/bash
# make demo: the whole appliance on loopback. A private Dovecot plays the
# upstream provider with generated sample mail; a fresh archive
# (build/demo/data) gets that mailbox as its account and three web users
# (admin, legal, compliance, with fresh passwords); `popvault serve` brings
# up the appliance (the web UI over HTTPS with its self-signed certificate,
# the harvest scheduler, the indexer) and the mail arrives as serve
# harvests it; a short tour of the command line runs beside it. The running
# UI is then checked from the outside (tests/e2e/lib/democheck.py: the page,
# each user's sign-in, a search), and so is the harvesting of mail
# delivered later.
#
# On a terminal (stdin and stdout) it stays up until Ctrl-C, a few new
# messages arriving upstream every minute. Otherwise (CI, `make demo
# </dev/null | cat`) it stops everything it started, by PID, and exits 0
# when every check passed. The archive stays for you to explore.
#
# Environment: DEMO_DIR (build/demo), DEMO_COUNT (300 messages),
# DEMO_PORT (8443; 0: any free port; a busy 8443 falls back to one),
# DEMO_PLAIN_HTTP=1 (plain HTTP: serve allows it on loopback only).
set -eu
cd "$(dirname "$0")/../.."
. tests/e2e/lib/harness.sh
h_init
PV=${POPVAULT_BIN:-$PWD/build/popvault}
DEMO=${DEMO_DIR:-$PWD/build/demo}
DATA=$DEMO/data
COUNT=${DEMO_COUNT:-300}
PORT=${DEMO_PORT:-8443}
QUERY='from:sec.gov'
interactive=false
[ -t 0 ] && [ -t 1 ] && interactive=true

if $interactive; then
	say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
	say() { printf '\n== %s\n' "$*"; }
fi
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

rm -rf "$DATA" "$DEMO/passwords" "$DEMO/sec.zip" "$DEMO/serve.log"
mkdir -p "$DEMO"
chmod 700 "$DEMO"
say "Generating $COUNT sample messages (text, HTML, attachments, several charsets)"
h_genmail --count "$COUNT" --seed 2026 --out "$H_RUN/mail" --max-attachment 500000
# Mail that arrives later, a few at a time, while serve runs.
h_genmail --count 60 --seed 2027 --out "$H_RUN/later" --max-attachment 50000
H_NO_BAIL=1
h_dovecot_start --seed alice="$H_RUN/mail" >/dev/null || die "the demo upstream (Dovecot) did not start"
echo "upstream: Dovecot on 127.0.0.1:$DOVECOT_TLS_PORT (implicit TLS, pid $DOVECOT_PID), mailbox 'alice' holds $(maildir_count alice) messages"

say "popvault init  (keys, database, signed genesis checkpoints; keep the verifier keys off the box)"
"$PV" init --data "$DATA" --origin demo.popvault.example
export POPVAULT_DATA=$DATA
printf 'alicepw\n' >"$H_RUN/alice.pw"

say "popvault account add alice  (the upstream mailbox, its certificate checked against the demo CA)"
"$PV" account add alice --host localhost --port "$DOVECOT_TLS_PORT" \
	--user alice --password-file "$H_RUN/alice.pw" --ca-file "$DOVECOT_CA"

say "popvault user add  (one web user per role, each with a fresh password)"
USERS="admin:admin legal:legal compliance:compliance"
mkdir -m 700 "$DEMO/passwords"
for u in $USERS; do
	name=${u%%:*}
	python3 -c 'import secrets; print(secrets.token_urlsafe(12))' >"$DEMO/passwords/$name"
	chmod 600 "$DEMO/passwords/$name"
	"$PV" user add "$name" --role "${u#*:}" --password-file "$DEMO/passwords/$name"
done

# serve in its own session: stopped by PID at exit (h_register), not by
# the terminal's Ctrl-C, which this script handles.
start_serve() {
	local args=(--listen "127.0.0.1:$1")
	[ "${DEMO_PLAIN_HTTP:-}" = 1 ] && args+=(--plain-http)
	: >"$DEMO/serve.log"
	setsid "$PV" serve "${args[@]}" >>"$DEMO/serve.log" 2>&1 </dev/null &
	SERVE_PID=$!
	h_register serve "$SERVE_PID"
	URL=
	for _ in $(seq 300); do
		URL=$(sed -n 's|^popvault: serving \(https\{0,1\}://[^ ]*\)/ .*|\1|p' "$DEMO/serve.log")
		[ -n "$URL" ] && return 0
		h_pid_alive "$SERVE_PID" || return 1
		sleep 0.1
	done
	return 1
}
# Harvest every 10 seconds, not every 5 minutes: the demo's mail arrives
# while you watch.
INTERVAL=10
sed -i "/^\[harvest\]/a interval = ${INTERVAL}s" "$DATA/popvault.conf"
say "popvault serve  (the appliance: web UI and JSON API, harvest every ${INTERVAL}s, indexer, heartbeats)"
if ! start_serve "$PORT"; then
	if [ -z "${DEMO_PORT:-}" ] && grep -q 'in use' "$DEMO/serve.log"; then
		echo "port $PORT is taken (another popvault?): using a free port instead"
		h_stop serve
		start_serve 0 || die "serve did not start: $(cat "$DEMO/serve.log")"
	else
		die "serve did not start: $(cat "$DEMO/serve.log")"
	fi
fi
cat "$DEMO/serve.log"
CERT=$DATA/tls/cert.pem

# archived: the messages in the archive (stats --json, beside serve).
archived() { "$PV" --json stats | h_json 'd["messages"]'; }
# wait_archived N SECS: print the count as it grows until it is N and the
# upstream mailbox is empty; false after SECS.
wait_archived() {
	local want=$1 end=$((SECONDS + $2)) n last= up
	while [ "$SECONDS" -lt "$end" ]; do
		# Upstream first: a message leaves it only once archived, so the
		# two numbers never show mail that is nowhere.
		up=$(maildir_count alice)
		n=$(archived)
		if [ "$n/$up" != "$last" ]; then
			printf '  %s  archived %s of %s; upstream holds %s\n' "$(date +%T)" "$n" "$want" "$up"
			last=$n/$up
		fi
		[ "$n" -ge "$want" ] && [ "$up" -eq 0 ] && return 0
		sleep 1
	done
	return 1
}
say "The mail arriving: serve harvests alice (fetch, seal, commit, then delete upstream, then check it is gone)"
wait_archived "$COUNT" $((120 + COUNT / 5)) ||
	die "serve did not harvest the demo mailbox (log: $DEMO/serve.log)"

say "popvault stats"
"$PV" stats

say "popvault verify --full  (both Merkle logs recomputed, signatures checked, every message decrypted)"
"$PV" verify --full

say "popvault search '$QUERY'"
"$PV" search "$QUERY" --limit 5
found=$("$PV" --json search "$QUERY" --limit 0 | h_json 'd["total"]')

say "popvault export '$QUERY', then verify-bundle  (an eDiscovery bundle, checked offline with the public keys)"
"$PV" export "$QUERY" --out "$DEMO/sec.zip" --matter demo
"$PV" verify-bundle "$DEMO/sec.zip" --vkey "$("$PV" checkpoint --vkey)" \
	--vkey "$("$PV" checkpoint --log audit --vkey)"



say "Checking the running UI from the outside, as a browser would"
check_args=(--url "$URL" --web-root web-static --search "$QUERY" --expect "$found")
case $URL in https:*) check_args+=(--ca "$CERT") ;; esac
for u in $USERS; do check_args+=(--user "$u:$DEMO/passwords/${u%%:*}"); done
python3 tests/e2e/lib/democheck.py "${check_args[@]}" || die "the UI did not pass its checks (log: $DEMO/serve.log)"

# deliver_later N: the next N messages of the later mail, upstream.
LATER=0
deliver_later() {
	local files=() i
	for i in $(seq "$((LATER + 1))" "$((LATER + $1))"); do
		files+=("$(printf '%s/%05d.eml' "$H_RUN/later" "$i")")
	done
	[ -e "${files[-1]}" ] || return 1
	h_seed dovecot alice "${files[@]}" >/dev/null
	LATER=$((LATER + $1))
}
start=$SECONDS
deliver_later 5
if wait_archived $((COUNT + LATER)) $((6 * INTERVAL)) >/dev/null; then
	echo "  ok    5 messages delivered upstream later: archived by serve on its own in $((SECONDS - start)) s"
else
	echo "  FAIL  5 messages delivered upstream later: not archived within $((6 * INTERVAL)) s"
	die "serve did not harvest the new mail (log: $DEMO/serve.log)"
fi

say "The appliance is running"
echo "Open $URL/ and sign in as:"
for u in $USERS; do
	printf '  %-11s %-24s (%s)\n' "${u%%:*}" "$(cat "$DEMO/passwords/${u%%:*}")" \
		"$(case ${u#*:} in
			admin) echo "accounts, users, retention policy; reads no mail" ;;
			legal) echo "search, messages, matters, holds, exports" ;;
			compliance) echo "audit trail, integrity, approvals" ;;
		esac)"
done
echo "(the passwords are also in $DEMO/passwords/)"
if [ "${URL%%:*}" = https ]; then
	fp=$(openssl x509 -in "$CERT" -noout -fingerprint -sha256 | sed 's/.*=//')
	cat <<-TXT
	The certificate is the self-signed one serve made, $CERT:
	your browser warns once. Check that it shows this SHA-256 fingerprint, then
	accept it (Firefox: Advanced, Accept the Risk; Chromium: Advanced, Proceed):
	  $fp
	From a script: curl --cacert $CERT $URL/healthz
	TXT
fi
cat <<TXT
The archive stays in $DATA; from another shell:
  export POPVAULT_DATA=$DATA
  $PV search 'subject:invoice after:2020-01-01'
  $PV audit list | tail
TXT

if ! $interactive; then
	say "Not on a terminal: stopping"
	h_stop serve
	h_dovecot_stop
	echo "stopped serve (pid $SERVE_PID) and the demo upstream (pid $DOVECOT_PID)"
	echo "demo: ok"
	exit 0
fi
echo
echo "Every minute 5 new messages arrive upstream; watch them come in (here and in the UI)."
echo "Press Ctrl-C to stop the web UI and the demo upstream."
stopping=false
trap 'stopping=true' INT TERM
next=$((SECONDS + 60)) last=$(archived)
while ! $stopping && h_pid_alive "$SERVE_PID"; do
	if [ "$SECONDS" -ge "$next" ]; then
		next=$((SECONDS + 60))
		deliver_later 5 && printf '  %s  5 new messages upstream\n' "$(date +%T)"
	fi
	n=$(archived 2>/dev/null) || n=$last
	if [ "$n" != "$last" ]; then
		printf '  %s  archived: %s messages (%s new)\n' "$(date +%T)" "$n" "$((n - last))"
		last=$n
	fi
	sleep 1 || true
done
trap 'exit 130' INT
trap 'exit 143' TERM
$stopping || die "serve stopped by itself: $(tail -5 "$DEMO/serve.log")"
echo
h_stop serve
h_dovecot_stop
echo "stopped serve (pid $SERVE_PID) and the demo upstream (pid $DOVECOT_PID); the archive stays in $DATA"
