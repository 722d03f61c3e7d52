#!/bin/bash
# Disposal by policy on a real archive (mail harvested from Dovecot), time
# moved with faketime: only expired, unheld mail goes; the held mail stays
# readable; afterwards no blob, no wrapped key, no bucket key is left in any
# file; show says when and under which policy version; the logs still
# verify; a blob deleted by hand is reported as unauthorised loss and is
# never covered up by a disposal. A shorter policy, a hold release and each
# disposal run take effect only once approved (the two-person rule; here
# the single operator's break-glass approval).
set -u
. "$(dirname "$0")/lib/harness.sh"
. "$(dirname "$0")/lib/popvault.sh"
h_init
h_plan 44

h_genmail --count 31 --seed 5 --out "$H_RUN/mail" --max-attachment 20000
mkdir "$H_RUN/first"
cp "$H_RUN"/mail/000[0-2]*.eml "$H_RUN"/mail/00030.eml "$H_RUN/first/"
h_dovecot_start --seed alice="$H_RUN/first"
# has FILE HEX: the bytes are somewhere in the file (a missing file has none).
has() { python3 -c 'import sys; d=open(sys.argv[1],"rb").read() if __import__("os").path.exists(sys.argv[1]) else b""; sys.exit(0 if bytes.fromhex(sys.argv[2]) in d else 1)' "$1" "$2"; }

pv_harvested "$H_RUN/data"
h_is "$(pv_count)" 30 "30 messages archived"

printf 'default: retain 30d\n' >"$H_RUN/30d.policy"
pv policy propose "$H_RUN/30d.policy" >/dev/null
out=$(pv_glass pv --json 2>/dev/null)
h_is "$(echo "$out" | h_json 'sum(r["shorter"] for r in d["policy"]["impact"])')" 30 \
	"a shorter policy, approved: the impact report counts 30 shorter expiries"

# The hold covers every message with a participant at sec.gov (from index.json).
want_held=$(python3 -c '
import json,sys
d=json.load(open(sys.argv[1]))["messages"][:30]
ids=[str(i+1) for i,m in enumerate(d) if any(a.endswith("@sec.gov") for a in [m["from_addr"]]+m["to_addrs"]+m["cc_addrs"])]
print(" ".join(ids))' "$H_RUN/mail/index.json")
n_held=$(echo $want_held | wc -w)
out=$(pv --json hold add sec-inquiry --query 'participant:sec.gov' --note 'SEC letter of 2026-11-01')
h_is "$(echo "$out" | h_json 'd["messages"]')" "$n_held" "hold placed on the $n_held messages with a sec.gov participant"

pv dispose --dry-run >"$H_RUN/now.out"
h_like "$(cat "$H_RUN/now.out")" '^0 to dispose' "nothing is due today" 

# One more message, harvested 40 days later: it expires in another month.
h_seed dovecot alice "$H_RUN/mail/00031.eml" >/dev/null
pv_at 40 harvest --once >/dev/null 2>&1
h_is "$(pv_at 41 --json stats | h_json 'd["messages"]')" 31 "message 31 harvested 40 days later"
h_is "$(pv_sql 'SELECT count(DISTINCT bucket_id) FROM messages')" 2 "two key buckets (two expiry months)"

# Day 65: the first 30 expired (their month is over); 31 has not.
pv_at 65 --json dispose --dry-run >"$H_RUN/dry1.json"
pv_at 65 --json dispose --dry-run >"$H_RUN/dry2.json"
h_is "$(h_json '[d["dispose"], d["held"], d["review"], d["blocked"]]' <"$H_RUN/dry1.json")" \
	"[$((30 - n_held)), $n_held, 0, 0]" "dry run: $((30 - n_held)) to dispose, $n_held held"
h_is "$(h_json '" ".join(str(i["id"]) for i in d["items"] if i["action"] == "held")' <"$H_RUN/dry1.json")" \
	"$want_held" "dry run: exactly the sec.gov messages are held"
h_is "$(h_json 'sorted(set(i["reason"] for i in d["items"] if i["action"] == "held"))' <"$H_RUN/dry1.json")" \
	"['held by matter sec-inquiry']" "dry run: held ones say which matter"
h_like "$(h_json '[d["items"][0]["rule"], d["items"][0]["policy_version"], d["items"][0]["reason"]]' <"$H_RUN/dry1.json")" \
	"^\['default', 2, 'expired [0-9T:-]+Z'\]$" "dry run: each says rule, policy version, expiry"
h_check "a dry run changes nothing (twice the same plan)" \
	cmp -s <(h_json 'd["items"]' <"$H_RUN/dry1.json") <(h_json 'd["items"]' <"$H_RUN/dry2.json")
h_is "$(pv_sql 'SELECT count(*) FROM disposals; SELECT count(*) FROM messages WHERE disposed_at IS NOT NULL')" \
	"0
0" "…and nothing is marked disposed"

# What a due message has now, to look for it afterwards.
due=$(h_json '" ".join(str(i["id"]) for i in d["items"] if i["action"] == "dispose")' <"$H_RUN/dry1.json")
first_due=${due%% *}
held1=${want_held%% *}
packs=$(for i in $due; do pv_sql "SELECT pack_id FROM messages WHERE id = $i"; done | sort -u)
wrapped=$(for i in $due; do pv_sql "SELECT hex(wrapped_key) FROM messages WHERE id = $i"; done)
bucket=$(pv_sql "SELECT bucket_id FROM messages WHERE id = $first_due")
# The bucket key: in keys/keyring.db, or (PostgreSQL) wrapped in the
# catalog's keyring_buckets, shared by every harvester (§12, pgmulti).
if pv_is_pg; then
	bkey=$(pv_sql "SELECT hex(wrapped_key) FROM keyring_buckets WHERE id = $bucket")
else
	bkey=$(sqlite3 "$D/keys/keyring.db" "SELECT hex(key) FROM bucket_keys WHERE id = $bucket")
fi
if pv_is_pg; then
	# PostgreSQL's files are the server's: the catalog is looked at in SQL
	h_check "before: the bucket key and the wrapped keys are in the catalog" \
		eval "[ -n '$bkey' ] && [ \"\$(pv_sql \"SELECT count(*) FROM messages WHERE hex(wrapped_key) = '${wrapped%%$'\n'*}'\")\" = 1 ]"
else
	h_check "before: the wrapped keys and the bucket key are in the files" \
		eval "has '$D/keys/keyring.db' $bkey && { has '$D/catalog.db' ${wrapped%%$'\n'*} || has '$D/catalog.db-wal' ${wrapped%%$'\n'*}; }"
fi

pv_at 65 dispose >"$H_RUN/p1.out" 2>&1
h_like "$(cat "$H_RUN/p1.out")" "^disposal run proposed as approval 2: $((30 - n_held)) messages; nothing is destroyed" \
	"dispose proposes the run of the $((30 - n_held)) due messages"
h_is "$(pv_sql 'SELECT count(*) FROM disposals; SELECT count(*) FROM messages WHERE disposed_at IS NOT NULL')" \
	"0
0" "…and nothing is disposed of until it is approved"
pv_glass pv_at 65 >"$H_RUN/d1.out" 2>"$H_RUN/d1.err"
h_is $? 0 "the approved run succeeds"
h_like "$(cat "$H_RUN/d1.err")" "WARNING: break-glass: approval 2 \(dispose\)" "…approved alone, with a break-glass warning"
h_like "$(cat "$H_RUN/d1.out")" "disposed of $((30 - n_held)) messages \(disposal 1; 0 bucket keys destroyed\)" \
	"…the due ones, per message (held mail shares their bucket)"
h_is "$(pv_at 65 --json stats | h_json 'd["messages"]')" $((n_held + 1)) "stats counts what is left"
# A pack goes with its last message; one that still holds held mail stays.
gone=0; for p in $packs; do
	[ "$(pv_sql "SELECT count(*) FROM messages WHERE pack_id = $p AND disposed_at IS NULL")" = 0 ] &&
		pv_pack_kept "$p" && gone=1
done
h_is $gone 0 "no pack file holding only disposed messages is left"
if pv_is_pg; then
	# In SQL only: PostgreSQL may keep the old row versions' bytes in its
	# heap and WAL until they are reused (docs/ARCHITECTURE.md §12); the
	# bucket key's destruction below is what makes them useless.
	h_is "$(pv_sql "SELECT count(*) FROM messages WHERE id IN ($(echo $due | tr ' ' ,)) AND wrapped_key IS NOT NULL")" 0 \
		"no disposed message keeps its wrapped key in the catalog"
else
	left=0; for w in $wrapped; do has "$D/catalog.db" "$w" && left=1; has "$D/catalog.db-wal" "$w" && left=1; done
	h_is $left 0 "no wrapped key is left in catalog.db or its WAL"
fi
pv_at 65 show "$first_due" >"$H_RUN/show.out" 2>&1
h_is $? 1 "show of a disposed message fails"
h_like "$(cat "$H_RUN/show.out")" "disposed of on $(pv_date 65 | cut -c1-10)T[0-9:]+Z under policy version 2" \
	"…and says when and under which policy version"
h_is "$(pv_at 65 show "$held1" --raw | sha256sum | cut -d' ' -f1)" \
	"$(sha256sum <"$H_RUN/mail/$(printf %05d "$held1").eml" | cut -d' ' -f1)" "held mail reads back byte for byte"
pv_at 65 verify >"$H_RUN/v1.out" 2>&1
h_is $? 0 "the archive verifies after disposal (tombstones, logs, remaining blobs)"
h_is "$(pv_sql "SELECT count(*) FROM tlog_leaf l JOIN tlog_log g ON g.id = l.log_id WHERE g.name = 'archive' AND CAST(l.data AS TEXT) LIKE 'popvault/archive/v1 tombstone%'")" \
	$((30 - n_held)) "one tombstone leaf per disposed message"
h_is "$(pv_sql "SELECT group_concat(type, ' ') FROM (SELECT type FROM audit_event WHERE type LIKE 'dispose-%' ORDER BY seq) x")" \
	"dispose-intent dispose-done" "audited: intent, then done"

# Release: the held mail goes too, and with it the bucket key.
pv_at 66 hold release sec-inquiry >/dev/null
pv_glass pv_at 66 >/dev/null 2>&1
pv_at 67 dispose >/dev/null 2>&1
pv_glass pv_at 67 >"$H_RUN/d2.out" 2>&1
h_like "$(cat "$H_RUN/d2.out")" "disposed of $n_held messages \(disposal 2; 1 bucket key destroyed\)" \
	"after the release the held mail is disposed of, and its bucket key destroyed"
if pv_is_pg; then
	h_is "$(pv_sql "SELECT count(*) FROM keyring_buckets WHERE hex(wrapped_key) = '$bkey'")" 0 \
		"the bucket key is gone from the catalog's keyring_buckets"
	kr_destroyed="SELECT CAST(wrapped_key IS NULL AND destroyed_at IS NOT NULL AS INTEGER) FROM keyring_buckets WHERE id = $bucket"
	kr_destroyed=$(pv_sql "$kr_destroyed")
else
	h_check "the bucket key is gone from keyring.db (and its journal)" \
		eval "! has '$D/keys/keyring.db' $bkey && ! has '$D/keys/keyring.db-journal' $bkey"
	kr_destroyed=$(sqlite3 "$D/keys/keyring.db" "SELECT key IS NULL AND destroyed_at IS NOT NULL FROM bucket_keys WHERE id = $bucket")
fi
h_is "$kr_destroyed" 1 \
	"…marked destroyed"
# Its packs go whole with their last message. In a store, one the store
# still locks stays (kept, its catalog row unremoved, its content shredded):
# the lock of the 6-year policy it was stored under is never shortened
# (docs/ARCHITECTURE.md §12); a disposal run removes it once it runs out.
now67=$(date -u -d "$(pv_date 67)" +%s)
locked=; left=
for p in $packs; do
	u=$(pv_pack_locked_until "$p")
	[ -n "$u" ] && [ "$u" -gt "$now67" ] && locked="$locked $p"
	pv_pack_kept "$p" && left="$left $p"
done
h_is "$left|$(pv_sql "SELECT count(*) FROM packs WHERE id IN ($(echo $packs | tr ' ' ,)) AND removed_at IS NULL")" \
	"$locked|$(echo $locked | wc -w)" \
	"…and its packs are removed whole with their last message (but those the store still locks)"
pv_at 67 verify >"$H_RUN/v2.out" 2>&1
h_is $? 0 "the archive still verifies" "$(cat "$H_RUN/v2.out")"
h_is "$(pv_at 67 show 31 --raw | sha256sum | cut -d' ' -f1)" "$(sha256sum <"$H_RUN/mail/00031.eml" | cut -d' ' -f1)" \
	"the message of the other month is untouched"

# A blob deleted by hand: unauthorised loss, never laundered by a disposal.
p31=$(pv_sql 'SELECT pack_id FROM messages WHERE id = 31')
h_is "$(pv_sql "SELECT count(*) FROM messages WHERE pack_id = $p31")" 1 "message 31 has a pack of its own (its bucket's)"
pv_pack_lose "$p31"
pv_at 105 dispose --dry-run >"$H_RUN/dry3.out" 2>&1
h_is $? 3 "dry run with lost content exits 3 (integrity)"
h_like "$(grep -E '^ +31 ' "$H_RUN/dry3.out")" 'blocked .*missing without a disposal record \(unauthorised deletion\)' \
	"…and lists message 31 as blocked: unauthorised deletion"
pv_at 105 dispose >"$H_RUN/d3.out" 2>&1
h_is $? 3 "dispose exits 3 and disposes nothing"
h_like "$(cat "$H_RUN/d3.out")" '^popvault: 1 expired message has lost content without a disposal record \(unauthorised deletion' \
	"…saying why: lost content, an unauthorised deletion"
h_is "$(pv_sql 'SELECT CAST(disposed_at IS NULL AS INTEGER) FROM messages WHERE id = 31')" 1 "message 31 is not marked disposed"
pv_at 105 show 31 >"$H_RUN/show31.out" 2>&1
h_is $? 3 "show of the lost message is an integrity failure"
h_like "$(cat "$H_RUN/show31.out")" '^popvault: message 31: blob [0-9a-f]{64} is missing without a disposal record' \
	"…naming the message and its missing blob"
pv_at 105 verify >"$H_RUN/v3.out" 2>&1
h_is $? 3 "verify fails"
# A store's own check reports the pack missing there too (§12).
want_fails=1; [ "$PV_TEST_STORE" = s3 ] && want_fails=2
h_is "$(grep -c '^FAIL' "$H_RUN/v3.out")|$(grep '^FAIL' "$H_RUN/v3.out" |
	grep -cv -e '^FAIL: message 31: ' -e "^FAIL: pack $p31 is missing from the store .*unauthorised deletion")" \
	"$want_fails|0" "…with exactly the problems of that loss: disposed mail is not reported"
h_like "$(grep '^FAIL' "$H_RUN/v3.out")" 'message 31: .*(unauthorised|without a disposal record)' \
	"…message 31, unauthorised deletion"
