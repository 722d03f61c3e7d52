#!/bin/bash
# anchor (RFC 3161): a real TSA (openssl ts -reply, harness-made CA and
# TSA certificate) stamps both logs' checkpoints; every bad answer is
# refused and named, and stores nothing; a TSA that is down stops nothing
# but shows as stale; verify checks the tokens and catches a log that was
# truncated or rewritten and signed again; bundles carry the tokens and
# verify-bundle --tsa-ca checks them offline, as VERIFY.md's openssl
# command does.
# In the backend matrix (tests/README) the forged and moved copies are
# pv_copy_archive's (a database and pack versions of their own).
set -u
. "$(dirname "$0")/lib/harness.sh"
. "$(dirname "$0")/lib/popvault.sh"
h_init
h_plan 49

h_genmail --count 6 --seed 5 --out "$H_RUN/mail"
h_genmail --count 9 --seed 77 --out "$H_RUN/other"
h_dovecot_start --seed alice="$H_RUN/mail" --seed bob="$H_RUN/other"
h_tsa_start
mode() { echo "$1" >"$TSA_MODE_FILE"; }
tokens() { pv_sql "SELECT count(*) FROM anchor_tokens"; }

pv_init "$H_RUN/a"
pv_dovecot_account alice
pv_copy_archive "$D" "$H_RUN/snapshot"  # before anything was archived
pv_tsa_anchor
pv harvest --once >/dev/null 2>&1

# --- a good token for each log ----------------------------------------------------------
pv anchor >"$H_RUN/out" 2>&1
h_is $? 0 "anchor: the TSA stamps both logs"
h_is "$(grep -c '^  tsa: ok, gen-time=' "$H_RUN/out")" 2 "…one good token per log, with its time"
h_is "$(grep -c '^good 200$' "$TSA_REQUESTS")" 2 "…and the TSA really answered two requests"
h_is "$(pv --json audit list --type anchor | grep -c '"outcome": *"ok"')" 2 \
	"two 'anchor' audit entries, outcome ok"
h_like "$(pv audit list --type anchor)" "log=archive size=6 checkpoint=[0-9]+ party=tsa gen-time=" \
	"…naming the log, its size, the checkpoint and the token's time"
pv_sql "SELECT hex(note) FROM anchor_tokens WHERE log = 'archive'" | xxd -r -p >"$H_RUN/a.note"
pv_sql "SELECT hex(token) FROM anchor_tokens WHERE log = 'archive'" | xxd -r -p >"$H_RUN/a.tsr"
openssl ts -verify -in "$H_RUN/a.tsr" -data "$H_RUN/a.note" -CAfile "$TSA_CA" >"$H_RUN/ossl" 2>&1
h_like "$(cat "$H_RUN/ossl")" "Verification: OK" \
	"the stored token is a real RFC 3161 one: openssl ts -verify accepts it over the stored note"
h_is "$(pv checkpoint --log archive | sha256sum | cut -c1-64)" "$(sha256sum <"$H_RUN/a.note" | cut -c1-64)" \
	"…and that note is the archive log's signed checkpoint, byte for byte"

# --- bad answers: refused, named, audited, nothing stored -------------------------------
bad() {
	local name=$1 m=$2 want=$3
	mode "$m"
	h_fails "$name" 1 "$want" "$PV" --data "$D" anchor --log archive
}
bad "a token over another imprint is refused" wrong-imprint "tsa: FAILED: time-stamp token: wrong imprint"
bad "a token with another nonce is refused" nonce "tsa: FAILED: time-stamp token: nonce mismatch"
bad "a token from a TSA of another CA is refused" untrusted \
	"tsa: FAILED: time-stamp token does not verify: certificate verify error"
bad "a token signed with an expired TSA certificate is refused" expired \
	"tsa: FAILED: .*certificate has expired"
bad "an answer that is no TimeStampResp is refused" garbage "tsa: FAILED: time-stamp reply: not a DER"
bad "an HTTP error is reported" http500 "tsa: FAILED: the TSA answered HTTP 500"
mode good
printf 'tsa_policy = 1.3.6.1.4.1.99999.7\n' >>"$D/popvault.conf"
h_fails "a policy the TSA does not have: the TSA's own refusal is shown" 1 \
	"tsa: FAILED: the TSA did not grant the time-stamp: status rejection \(Requested policy is not supported" \
	"$PV" --data "$D" anchor --log archive
sed -i '/^tsa_policy/d' "$D/popvault.conf"
h_is "$(tokens)" 2 "none of the bad answers was stored"
h_is "$(pv --json audit list --type anchor | grep -c '"outcome": *"failed: ')" 7 \
	"each refusal is an 'anchor' audit entry, outcome failed"
h_like "$(pv audit list --type anchor)" "failed: time-stamp token: nonce mismatch" "…saying why"
printf 'tsa_policy = 1.3.6.1.4.1.99999.1.2\n' >>"$D/popvault.conf"
pv anchor --log archive >"$H_RUN/out" 2>&1
h_like "$(cat "$H_RUN/out")" "tsa: ok, .*policy=1.3.6.1.4.1.99999.1.2" \
	"a policy the TSA has: asked for, granted and checked"
sed -i '/^tsa_policy/d' "$D/popvault.conf"

# --- the TSA down: nothing else stops, the staleness shows -----------------------------
h_stop tsa
h_seed dovecot alice "$H_RUN/other/$(ls "$H_RUN/other" | grep -v json | head -1)" >/dev/null
pv_harvest
h_is "$RC $(pv_result fetched)" "0 1" "with the TSA down the harvest goes on"
h_fails "anchor says the TSA is unreachable" 1 "tsa: FAILED: $TSA_URL: (Failed to connect|Couldn't connect)" \
	"$PV" --data "$D" anchor --log archive
h_like "$(pv stats)" "Last anchor attempt of the archive log failed: tsa: .*connect" \
	"stats shows the failed attempt"
h_is "$(pv --json stats | h_json 'd["anchors"]["archive"]["stale"]')" False \
	"…not yet stale: the last time-stamp is recent"
h_like "$(pv_at 2 stats)" "STALE: the archive log has no anchor newer than" \
	"two days later without a TSA, stats says the archive log's anchor is stale"
h_is "$(pv_at 2 --json stats | h_json 'd["anchors"]["audit"]["stale"]')" True "…so does stats --json"
h_like "$(pv audit list --type anchor | tail -1)" "party=tsa -> failed: .*connect" \
	"the audit log records the failed attempt"

# --- verify ------------------------------------------------------------------------------
pv verify >"$H_RUN/out" 2>&1
h_is $? 0 "verify: every stored token checks out"
h_like "$(cat "$H_RUN/out")" "anchored:    archive log at 6 entries, time-stamped .* 2 time-stamps checked" \
	"…and names the newest stamped checkpoint and its age"
h_is "$(pv --json verify | h_json 'd["anchors"]["archive"]["anchored_size"], d["anchors"]["archive"]["timestamps"]')" \
	"6 2" "verify --json: the stamped size and how many tokens"
h_fails "verify --tsa-ca with another CA: the tokens' chains fail" 3 \
	"FAIL: time-stamp [0-9]+ \(archive log, 6 entries, .*\): time-stamp token does not verify" \
	"$PV" --data "$D" verify --tsa-ca "$TSA_OTHER_CA"

C="$H_RUN/elsewhere"
pv_copy_archive "$D" "$C"
sed -i "s|^tsa_ca_file = .*|tsa_ca_file = $H_RUN/not-here.pem|" "$C/popvault.conf"
"$PV" --data "$C" verify >"$H_RUN/out" 2>&1
h_is "$? $(grep -c 'the TSA CA file .* cannot be read here' "$H_RUN/out")" "0 1" \
	"a copy verified where the TSA CA file is missing: OK, the chains unchecked, and it says so"
h_fails "verify --tsa-ca with a file that is not there is a usage error" 2 "--tsa-ca .*cannot be read" \
	"$PV" --data "$D" verify --tsa-ca "$H_RUN/not-here.pem"

# The owner truncates the log back to the snapshot and signs again with
# the box's own keys; the time-stamps (which the TSA signed) stay.
F="$H_RUN/forged"
pv_copy_archive "$H_RUN/snapshot" "$F"
if pv_is_pg; then
	pv_sql "COPY anchor_tokens TO STDOUT" | D=$F pv_sql "COPY anchor_tokens FROM STDIN"
else
	sqlite3 "$F/catalog.db" "ATTACH '$D/catalog.db' AS d; INSERT INTO anchor_tokens SELECT * FROM d.anchor_tokens"
fi
cp "$D/popvault.conf" "$F/popvault.conf"
h_fails "a truncated log is caught by its time-stamp" 3 \
	"FAIL: time-stamp [0-9]+ \(archive log, 6 entries, .*\) vouches for 6 entries of the archive log, which has only 0: the log was truncated" \
	"$PV" --data "$F" verify
# ... and grows it again with other mail.
printf 'bobpw\n' >"$H_RUN/bob.pw"
"$PV" --data "$F" account add bob --host localhost --port "$DOVECOT_TLS_PORT" --user bob \
	--password-file "$H_RUN/bob.pw" --ca-file "$DOVECOT_CA" >/dev/null
"$PV" --data "$F" harvest --once --account bob >/dev/null 2>&1
h_is "$(D=$F pv_sql "SELECT size FROM tlog_log WHERE name = 'archive'")" 9 \
	"(the forged archive log has grown past the stamped size)"
h_fails "a rewritten log is caught by its time-stamp" 3 \
	"FAIL: time-stamp [0-9]+ \(archive log, 6 entries, .*\): the archive log's first 6 entries are no longer the ones it vouches for: the log was rewritten" \
	"$PV" --data "$F" verify
h_like "$(cat "$H_RUN/fails.out")" "FAIL: time-stamp [0-9]+ \(audit log, [0-9]+ entries" \
	"…and so is the rewritten audit log"
G="$H_RUN/forged2"
pv_copy_archive "$H_RUN/snapshot" "$G"
cp "$D/popvault.conf" "$G/popvault.conf"
"$PV" --data "$G" verify >"$H_RUN/out" 2>&1
h_like "$(cat "$H_RUN/out")" "warning: the archive log has no good RFC 3161 time-stamp" \
	"a log whose tokens were thrown away too verifies, but says it has no time-stamp"

# --- bundles -----------------------------------------------------------------------------
# (The TSA is still down: bundles are checked offline.)
AK=$(pv checkpoint --log archive --vkey)
UK=$(pv checkpoint --log audit --vkey)
pv audit export --out "$H_RUN/audit.tar.gz" >/dev/null
tar tzf "$H_RUN/audit.tar.gz" >"$H_RUN/list"
h_check "the audit bundle carries the audit log's token and its note" \
	grep -Eq '^audit/timestamps/[0-9]+\.tsr$' "$H_RUN/list"
vb() { "$PV" verify-bundle "$@"; }
vb "$H_RUN/audit.tar.gz" --vkey "$UK" --tsa-ca "$TSA_CA" >"$H_RUN/out" 2>&1
h_is $? 0 "verify-bundle --tsa-ca: the audit bundle's time-stamps verify offline"
h_like "$(cat "$H_RUN/out")" "ok: audit/timestamps/[0-9]+.tsr: the audit log had [0-9]+ entries at .* \(TSA /CN=popvault test TSA" \
	"…naming what was stamped, when and by whom"
vb "$H_RUN/audit.tar.gz" --vkey "$UK" >"$H_RUN/out" 2>&1
h_is $? 0 "without --tsa-ca the bundle still verifies…"
h_like "$(cat "$H_RUN/out")" "time-stamp of the audit log not checked against a TSA: give --tsa-ca" \
	"…and says its time-stamp was not checked"
h_fails "verify-bundle --tsa-ca with another CA fails" 3 \
	"FAIL: audit/timestamps/[0-9]+.tsr: time-stamp token does not verify" \
	vb "$H_RUN/audit.tar.gz" --vkey "$UK" --tsa-ca "$TSA_OTHER_CA"
X="$H_RUN/x"
mkdir "$X" && tar xzf "$H_RUN/audit.tar.gz" -C "$X"
cp "$TSA_CA" "$X/TSA-CA.pem"
sed -n '/^7\. /,/^   Check each/p' "$X/VERIFY.md" | grep '^       ' | sed 's/^       //' >"$H_RUN/step7.sh"
h_like "$(cd "$X" && bash "$H_RUN/step7.sh" 2>&1)" "^Verification: OK" \
	"VERIFY.md step 7: plain openssl ts -verify accepts the bundle's token"

pv export 'after:1990-01-01' --out "$H_RUN/ed.tar.gz" >/dev/null
tar tzf "$H_RUN/ed.tar.gz" >"$H_RUN/list"
h_check "the eDiscovery bundle carries the archive log's tokens" \
	grep -q '^archive/timestamps/6\.tsr$' "$H_RUN/list"
vb "$H_RUN/ed.tar.gz" --vkey "$AK" --vkey "$UK" --tsa-ca "$TSA_CA" >"$H_RUN/out" 2>&1
h_is $? 0 "verify-bundle --tsa-ca: the eDiscovery bundle's time-stamps verify"
h_like "$(cat "$H_RUN/out")" "ok: the archive log is time-stamped up to 6 of its [0-9]+ entries" \
	"…and it says how far the archive log is stamped"
X="$H_RUN/y"
mkdir "$X" && tar xzf "$H_RUN/ed.tar.gz" -C "$X"
cp "$TSA_CA" "$X/TSA-CA.pem"
sed -n '/^5\. Time-stamps/,/^   Check each/p' "$X/VERIFY.md" | grep '^       ' | sed 's/^       //' >"$H_RUN/step5.sh"
h_is "$(cd "$X" && bash "$H_RUN/step5.sh" 2>&1 | grep -c '^Verification: OK')" \
	"$(grep -c '/timestamps/.*\.tsr$' "$H_RUN/list")" \
	"VERIFY.md step 5: openssl ts -verify accepts every token of the eDiscovery bundle"

# The owner swaps the archive log's token for the audit log's and signs
# the manifest again with the box's key: the token's imprint gives it away.
tar xzf "$H_RUN/ed.tar.gz" -C "$H_RUN" --wildcards 'audit/timestamps/*.tsr'
other=$(ls "$H_RUN"/audit/timestamps/*.tsr | head -1)
"$H_PY" "$H_LIB/rebundle.py" "$H_RUN/ed.tar.gz" "$H_RUN/swapped.tar.gz" --key "$D/keys/sign/archive.key" \
	--put "archive/timestamps/6.tsr=$other"
h_fails "a token moved to another checkpoint (manifest signed again by the owner) is caught" 3 \
	"FAIL: archive/timestamps/6.tsr: time-stamp token: wrong imprint" \
	vb "$H_RUN/swapped.tar.gz" --vkey "$AK" --vkey "$UK" --tsa-ca "$TSA_CA"
"$H_PY" "$H_LIB/rebundle.py" "$H_RUN/ed.tar.gz" "$H_RUN/dropped.tar.gz" --key "$D/keys/sign/archive.key" \
	--drop archive/timestamps/6.tsr --drop archive/timestamps/6.note
h_fails "a bundle whose tokens were dropped fails --tsa-ca" 3 \
	"FAIL: the archive log carries no RFC 3161 time-stamp that verifies" \
	vb "$H_RUN/dropped.tar.gz" --vkey "$AK" --vkey "$UK" --tsa-ca "$TSA_CA"
