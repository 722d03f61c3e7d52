#!/bin/bash
# Key rotation on an archive shared by several harvesters (issue 18,
# docs/ARCHITECTURE.md §12 "Branch keyrotate"): one PostgreSQL 15
# catalog, data directories A and B (B joined with A's identity), real
# Dovecot. A rotates the archive log's key, then the audit log's, each
# time writing the new identity (checkpoint --rotate-key --identity-out);
# without --identity-out the rotation is refused, naming it. B, not yet
# updated, signs nothing: its harvest stops saying to run `popvault
# identity update`, and its mail stays upstream, nothing deleted. B's
# update refuses a wrong passphrase, another archive's identity and the
# older file (written before the audit key's rotation), then installs the
# newest. A rotates the archive key again while B harvests in small
# batches: no message is lost or archived twice, and B, updated,
# finishes. Both harvest again; verify --full passes from both, and audit
# bundles from both verify offline under the keys pinned before the
# rotations (the rotation notes carry the trust on).
set -u
. "$(dirname "$0")/lib/harness.sh"
. "$(dirname "$0")/lib/popvault.sh"
. "$(dirname "$0")/lib/pg.sh"
h_init
h_plan 33

pg_start "$H_RUN/pg" || { echo "Bail out! postgresql did not start"; exit 1; }
for db in pv_shared pv_other; do
	"$PG_BINDIR/psql" "$PG_URL" -qAtc "CREATE DATABASE $db" >/dev/null ||
		{ echo "Bail out! cannot create database $db"; exit 1; }
done
URL="postgresql://postgres@$PG_HOST:$PG_PORT/pv_shared"
sql() { "$PG_BINDIR/psql" "$URL" -qAt -F '|' -c "$1"; }

h_genmail --count 30 --seed 81 --out "$H_RUN/mail-alice" --max-attachment 2000
h_genmail --count 30 --seed 82 --out "$H_RUN/mail-bob" --max-attachment 2000
mkdir -p "$H_RUN/a1" "$H_RUN/a2" "$H_RUN/b1" "$H_RUN/b2" "$H_RUN/b3"
ls "$H_RUN/mail-alice"/*.eml | head -10 | xargs -I{} ln -s {} "$H_RUN/a1/"
ls "$H_RUN/mail-alice"/*.eml | tail -n +11 | xargs -I{} ln -s {} "$H_RUN/a2/"
ls "$H_RUN/mail-bob"/*.eml | head -10 | xargs -I{} ln -s {} "$H_RUN/b1/"
ls "$H_RUN/mail-bob"/*.eml | sed -n 11,20p | xargs -I{} ln -s {} "$H_RUN/b2/"
ls "$H_RUN/mail-bob"/*.eml | tail -n +21 | xargs -I{} ln -s {} "$H_RUN/b3/"
h_genmail --count 80 --seed 83 --out "$H_RUN/mail-carol" --max-attachment 2000
mkdir -p "$H_RUN/none"
h_dovecot_start --seed "alice=$H_RUN/a1" --user alice:alicepw --seed "bob=$H_RUN/b1" --user bob:bobpw \
	--seed "carol=$H_RUN/none" --user carol:carolpw
seed() { (cd "$2" && h_seed dovecot "$1" $(ls | grep "\.eml$") >/dev/null); }

A=$H_RUN/a B=$H_RUN/b
D=$A
"$PV" init --data "$A" --catalog "$URL" --origin rot.example/popvault >"$H_RUN/init.out" 2>&1 ||
	{ echo "Bail out! init --catalog failed: $(cat "$H_RUN/init.out")"; exit 1; }
pv_dovecot_account alice
pv_dovecot_account bob
printf 'correct horse battery staple\n' >"$H_RUN/pass"
printf 'not the passphrase at all\n' >"$H_RUN/wrong"
"$PV" --data "$A" identity export --out "$H_RUN/id0.pvk" --passphrase-file "$H_RUN/pass" >/dev/null 2>&1 &&
	"$PV" init --data "$B" --catalog "$URL" --join "$H_RUN/id0.pvk" --passphrase-file "$H_RUN/pass" \
		>"$H_RUN/join.out" 2>&1 ||
	{ echo "Bail out! export or join failed: $(cat "$H_RUN/join.out")"; exit 1; }
# One packs/ for both, as a shared file system would be (harvest_two.t).
mkdir -m 700 -p "$A/packs"
rm -rf "$B/packs"
ln -s "$A/packs" "$B/packs"
# The keys to pin, off the machines, before any rotation; and a checkpoint.
for l in archive audit; do "$PV" --data "$A" checkpoint --log "$l" --vkey; done >"$H_RUN/pinned.vkeys"
"$PV" --data "$A" harvest --once --account alice >/dev/null 2>&1
"$PV" --data "$B" harvest --once --account bob >/dev/null 2>&1
h_is "$(maildir_count alice) $(maildir_count bob) $(sql 'SELECT count(*) FROM messages')" "0 0 20" \
	"A and B, joined, each harvest a mailbox before any rotation"
"$PV" --data "$A" checkpoint >"$H_RUN/before.cp"

# A: the rotation wants the new identity written for B.
h_fails "a rotation on the shared archive without --identity-out is refused, naming it" 2 \
	'--identity-out FILE --passphrase-file' "$PV" --data "$A" checkpoint --rotate-key
h_is "$(sql "SELECT count(*) FROM tlog_epoch e JOIN tlog_log g ON g.id = e.log_id WHERE e.epoch > 0")" 0 \
	"…and nothing rotated"
h_fails "--identity-out without --rotate-key is a usage error" 2 'go together' \
	"$PV" --data "$A" checkpoint --identity-out "$H_RUN/x.pvk" --passphrase-file "$H_RUN/pass"
"$PV" --data "$A" checkpoint --rotate-key --identity-out "$H_RUN/id1.pvk" \
	--passphrase-file "$H_RUN/pass" >"$H_RUN/rot1.out" 2>&1
h_is "$? $(stat -c %a "$H_RUN/id1.pvk" 2>/dev/null)" "0 600" \
	"A rotates the archive log's key and writes the new identity (mode 0600)"
h_like "$(cat "$H_RUN/rot1.out")" 'identity update' "…and says what to run on the others"
h_is "$(sql "SELECT count(*) FROM audit_event WHERE type = 'key-rotation'")|$("$PV" --data "$A" audit list --type identity-export | grep -c 'after=key-rotation log=archive')" \
	"1|1" "…audited: the rotation, then the identity's export naming it"
"$PV" --data "$A" checkpoint --rotate-key --log audit --identity-out "$H_RUN/id2.pvk" \
	--passphrase-file "$H_RUN/pass" >"$H_RUN/rot2.out" 2>&1
h_is "$?" 0 "A rotates the audit log's key too, writing a newer identity"
h_check "A's seeds are the rotated ones (B still holds the old)" \
	test "$(cat "$A/keys/sign/archive.key")" != "$(cat "$B/keys/sign/archive.key")"
"$PV" --data "$A" harvest --once --account alice >/dev/null 2>&1
h_is "$?" 0 "A harvests with its new keys"

# B, not updated: it signs nothing, so it archives and deletes nothing.
seed bob "$H_RUN/b2"
before=$(sql 'SELECT count(*) FROM messages')
"$PV" --data "$B" --json harvest --once --account bob >"$H_RUN/stale.json" 2>"$H_RUN/stale.err"
h_is "$? $(maildir_count bob) $(sql 'SELECT count(*) FROM messages')" "1 10 $before" \
	"B's harvest with the old keys fails: its mail stays upstream, nothing archived"
h_diag "B says: $(head -c 700 "$H_RUN/stale.err")"
h_like "$(cat "$H_RUN/stale.err")" "popvault identity update FILE --passphrase-file" \
	"…and names popvault identity update"
h_fails "B's other signing commands say the same" 1 'identity update' \
	"$PV" --data "$B" checkpoint --heartbeat

# B's update: the refusals change nothing.
cp "$B/keys/sign/archive.key" "$H_RUN/b-old-archive.key"
h_fails "identity update with the wrong passphrase is refused" 1 'passphrase' \
	"$PV" --data "$B" identity update "$H_RUN/id2.pvk" --passphrase-file "$H_RUN/wrong"
"$PV" init --data "$H_RUN/c" --catalog "postgresql://postgres@$PG_HOST:$PG_PORT/pv_other" \
	--origin rot.example/popvault >/dev/null 2>&1 &&
	"$PV" --data "$H_RUN/c" identity export --out "$H_RUN/other.pvk" --passphrase-file "$H_RUN/pass" >/dev/null 2>&1
h_fails "another archive's identity (even of the same origin) is refused" 3 "another archive" \
	"$PV" --data "$B" identity update "$H_RUN/other.pvk" --passphrase-file "$H_RUN/pass"
h_fails "the older file (before the audit key's rotation) is refused" 3 'audit key is an older one' \
	"$PV" --data "$B" identity update "$H_RUN/id1.pvk" --passphrase-file "$H_RUN/pass"
h_check "…and B's keys are as they were" cmp -s "$B/keys/sign/archive.key" "$H_RUN/b-old-archive.key"
h_is "$(sql "SELECT count(*) FROM audit_event WHERE type = 'identity-update'")" 0 "…no update audited"

"$PV" --data "$B" identity update "$H_RUN/id2.pvk" --passphrase-file "$H_RUN/pass" >"$H_RUN/upd.out" 2>&1
h_is "$?" 0 "B installs the newest identity"
h_is "$(cmp "$A/keys/sign/archive.key" "$B/keys/sign/archive.key" && cmp "$A/keys/sign/audit.key" "$B/keys/sign/audit.key" && stat -c %a "$B/keys/sign/archive.key" "$B/keys/sign/audit.key" | xargs)" \
	"600 600" "…its seeds are A's current ones, mode 0600"
h_like "$("$PV" --data "$A" audit list --type identity-update)" \
	"site=[^ ]*:$B keys=archive:[0-9a-f]{8},audit:[0-9a-f]{8} installed=archive,audit" \
	"…audited as identity-update with its site and the keys' ids"
h_check "…and no leftover key file" test ! -e "$B/keys/sign/archive.key.new" -a ! -e "$B/keys/sign/audit.key.new"
h_fails "replaying the older file after the update is refused" 3 'older one' \
	"$PV" --data "$B" identity update "$H_RUN/id1.pvk" --passphrase-file "$H_RUN/pass"
"$PV" --data "$B" identity update "$H_RUN/id2.pvk" --passphrase-file "$H_RUN/pass" >"$H_RUN/again.out" 2>&1
h_is "$? $(sql "SELECT count(*) FROM audit_event WHERE type = 'identity-update'")" "0 1" \
	"the same file again: nothing to do, nothing audited"

# A rotation while B harvests (small batches): whatever the moment, no
# message is lost — each is upstream or archived — none is archived
# twice, and B, stopped, takes the newer file and finishes.
D=$A pv_dovecot_account carol
printf '[harvest]\nbatch_max = 4\n' >>"$B/popvault.conf"
seed carol "$H_RUN/mail-carol"
"$PV" --data "$B" harvest --once --account carol >"$H_RUN/race.out" 2>&1 &
pb=$!
sleep 0.5
"$PV" --data "$A" checkpoint --rotate-key --identity-out "$H_RUN/id3.pvk" \
	--passphrase-file "$H_RUN/pass" >"$H_RUN/rot3.out" 2>&1
ra=$?
wait "$pb"
rb=$?
md=$(h_maildir dovecot carol)
h_hashes "$H_RUN"/mail-carol/*.eml >"$H_RUN/carol.sent"
{ for f in "$md"/new/* "$md"/cur/*; do [ -f "$f" ] && sha256sum <"$f" | cut -d' ' -f1; done
  sql "SELECT encode(sha256, 'hex') FROM messages"; } | sort -u >"$H_RUN/carol.kept"
got=$(sql "SELECT count(*) FROM messages m JOIN accounts a ON a.id = m.account_id WHERE a.name = 'carol'")
h_diag "rotation during B's harvest: rotate exit $ra, B's harvest exit $rb, $got of 80 archived, $(maildir_count carol) upstream" \
	"$(grep -m1 -i 'key' "$H_RUN/race.out" | head -c 400)"
h_is "$ra $(comm -23 "$H_RUN/carol.sent" "$H_RUN/carol.kept" | wc -l) $(sql 'SELECT count(*) - count(DISTINCT sha256) FROM messages')" \
	"0 0 0" "A rotates while B harvests: no message lost, none archived twice"
"$PV" --data "$B" identity update "$H_RUN/id3.pvk" --passphrase-file "$H_RUN/pass" >/dev/null 2>&1 &&
	"$PV" --data "$B" harvest --once --account carol >>"$H_RUN/race.out" 2>&1
h_is "$? $(maildir_count carol) $(sql "SELECT count(*) FROM messages m JOIN accounts a ON a.id = m.account_id WHERE a.name = 'carol'")" \
	"0 0 80" "…B updated finishes: every message archived once, the mailbox empty"

# Both harvest again, at once.
"$PV" --data "$B" --json harvest --once --account bob >"$H_RUN/b.json" 2>"$H_RUN/b.err"
h_is "$? $(maildir_count bob)" "0 0" "B harvests again: its mail archived and deleted upstream"
seed alice "$H_RUN/a2"
seed bob "$H_RUN/b3"
# (At once, the one whose lease the other holds ends with a temporary
# failure, as in harvest_two.t; then each once more, alone.)
"$PV" --data "$A" harvest --once >"$H_RUN/a3.out" 2>&1 &
pa=$!
"$PV" --data "$B" harvest --once >"$H_RUN/b3.out" 2>&1
wait "$pa"
"$PV" --data "$A" harvest --once >>"$H_RUN/a3.out" 2>&1
ra=$?
"$PV" --data "$B" harvest --once >>"$H_RUN/b3.out" 2>&1
rb=$?
h_is "$ra $rb $(maildir_count alice) $(maildir_count bob) $(grep -c 'identity update' "$H_RUN/a3.out" "$H_RUN/b3.out" | cut -d: -f2 | xargs)" \
	"0 0 0 0 0 0" "both harvest at once, every mailbox emptied, no key refused"
all=$(h_hashes "$H_RUN"/mail-{alice,bob,carol}/*.eml)
h_is "$(sql "SELECT encode(sha256, 'hex') FROM messages ORDER BY 1")" "$all" \
	"every message archived exactly once"

for d in A B; do
	dir=$A
	[ "$d" = B ] && dir=$B
	"$PV" --data "$dir" --json verify --full --checkpoint "$H_RUN/before.cp" >"$H_RUN/full-$d.json" 2>"$H_RUN/full-$d.err"
	rc=$?
	h_is "$rc $(h_json 'd["ok"], d["blobs_decrypted"]' <"$H_RUN/full-$d.json" 2>/dev/null)" \
		"0 True 140" "verify --full from $d across the three rotations, consistent with the checkpoint before them"
	[ "$rc" -eq 0 ] || sed 's/^/# /' "$H_RUN/full-$d.err" | head -20
done
for d in A B; do
	dir=$A
	[ "$d" = B ] && dir=$B
	rm -f "$H_RUN/audit-$d.tar.gz"
	"$PV" --data "$dir" audit export --out "$H_RUN/audit-$d.tar.gz" >/dev/null 2>"$H_RUN/ax-$d.err" &&
		"$PV" verify-bundle "$H_RUN/audit-$d.tar.gz" --vkey "$H_RUN/pinned.vkeys" >"$H_RUN/vb-$d.out" 2>&1
	rc=$?
	h_is "$rc" 0 "an audit bundle from $d verifies offline under the keys pinned before the rotations"
	[ "$rc" -eq 0 ] || sed 's/^/# /' "$H_RUN/vb-$d.out" "$H_RUN/ax-$d.err" | head -20
done

pg_stop
