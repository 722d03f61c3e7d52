#!/bin/bash
# Search and what rests on it, on an archive whose catalog is in
# PostgreSQL 15 (issue 18, docs/ARCHITECTURE.md §12 "pgsearch"): the
# harvest runs its indexer there, whose index (archive/search_pg.c) sits
# beside the catalog on the catalog's own connection. The same 25
# messages are harvested into a SQLite archive and a PostgreSQL one from
# two Dovecot mailboxes; searches (a word, a phrase, a negation, a
# participant, a date range) give the same results on both, and the
# known ones (genmail's index.json); reindex rebuilds it; hold add with a
# query holds exactly the matching messages; export by query exports
# them and verify-bundle passes; dispose plans and disposes what the
# policy says, keeps the held mail, and the disposed messages vanish from
# search and from the index. Then a harvest with its indexer killed
# (SIGKILL to the process group) mid-run: the next harvest leaves every
# message indexed once and no index row without its message (the index
# rows and the indexer's mark commit in the catalog's transaction).
set -u
. "$(dirname "$0")/lib/harness.sh"
. "$(dirname "$0")/lib/popvault.sh"
. "$(dirname "$0")/lib/pg.sh"
h_init
h_plan 24

pg_start "$H_RUN/pg" || { echo "Bail out! postgresql did not start"; exit 1; }
h_pass "postgresql 15 started on 127.0.0.1:$PG_PORT"
for db in pv_search pv_crash; do
	"$PG_BINDIR/psql" "$PG_URL" -qAtc "CREATE DATABASE $db" >/dev/null ||
		{ echo "Bail out! cannot create database $db"; exit 1; }
done
URL="postgresql://postgres@$PG_HOST:$PG_PORT/pv_search"
psql_pv() { "$PG_BINDIR/psql" "$URL" -qAtc "$1"; }

h_genmail --count 25 --seed 5 --out "$H_RUN/mail" --max-attachment 20000
h_genmail --count 300 --seed 7 --out "$H_RUN/many" --max-attachment 20000
h_dovecot_start --user alice:alicepw --user bob:bobpw --user carol:carolpw \
	--seed alice="$H_RUN/mail" --seed bob="$H_RUN/mail" --seed carol="$H_RUN/many"

# The SQLite twin, harvested from alice's copy.
S=$H_RUN/sqlite
pv_init "$S"
pv_dovecot_account alice
pv harvest --once >/dev/null 2>&1
h_is "$(pv_count)" 25 "the SQLite archive holds the 25 messages"

# The PostgreSQL archive, harvested from bob's copy (its indexer runs).
P=$H_RUN/pg-data
"$PV" init --data "$P" --catalog "$URL" >/dev/null 2>&1
D=$P
pv_dovecot_account bob
pv_harvest
h_is "$RC $(pv_result fetched)" "0 25" "harvest on the PostgreSQL catalog fetches all 25"
h_is "$(psql_pv 'SELECT count(*) FROM idx_doc')" 25 \
	"…and its indexer indexed them, in PostgreSQL beside the catalog"

# search_in DIR QUERY: "total|date subject size;..." sorted, from search --json.
search_in() {
	"$PV" --data "$1" --json search "$2" --limit 100 2>"$H_RUN/search.err" | h_json \
		'"%d|%s" % (d["total"], ";".join(sorted("%s %s %d" % (r["date"], r["subject"], r["size"]) for r in d["results"])))'
}
count_in() { "$PV" --data "$1" --json search "$2" --limit 0 | h_json 'd["total"]'; }

# What genmail sent: who is at sec.gov, one subject's first two words.
want_held=$("$H_PY" -c '
import json,sys
d=json.load(open(sys.argv[1]))["messages"]
print(" ".join(str(i+1) for i,m in enumerate(d) if any(a.endswith("@sec.gov") for a in [m["from_addr"]]+m["to_addrs"]+m["cc_addrs"])))' "$H_RUN/mail/index.json")
n_held=$(echo $want_held | wc -w)
phrase=$("$H_PY" -c '
import json,sys
d=json.load(open(sys.argv[1]))["messages"]
w=[s.split() for s in (m["subject"] for m in d) if len(s.split())>=2][0]
print("\"%s %s\"" % (w[0], w[1]))' "$H_RUN/mail/index.json")
word=${phrase#\"}
word=${word%% *}
[ "$n_held" -gt 0 ] && [ "$n_held" -lt 25 ] || { echo "Bail out! seed 5 gave $n_held sec.gov messages"; exit 1; }

h_is "$(count_in "$P" participant:sec.gov)" "$n_held" \
	"search on PostgreSQL finds the $n_held messages with a sec.gov participant"
same=0; diff=""
for q in "participant:sec.gov" "-participant:sec.gov" "$word" "$phrase" "$word -participant:sec.gov" \
	"has:attachment" "after:1990-01-01 -has:attachment" "subject:$word OR participant:sec.gov"; do
	a=$(search_in "$S" "$q"); b=$(search_in "$P" "$q")
	if [ -n "$a" ] && [ "$a" = "$b" ]; then same=$((same + 1)); else diff="$diff [$q] sqlite=${a:0:80} pg=${b:0:80}"; fi
done
h_is "$same$diff" 8 "8 queries (phrase, negation, OR, fields) give the same results on SQLite and PostgreSQL"
h_is "$(count_in "$P" "participant:sec.gov") $(count_in "$P" "-participant:sec.gov")" "$n_held $((25 - n_held))" \
	"…a negation finds the complement"

pv reindex >"$H_RUN/reindex.out" 2>&1
h_is "$? $(cat "$H_RUN/reindex.out")" "0 reindexed 25 messages" "reindex on PostgreSQL rebuilds all 25"
h_is "$(search_in "$P" "$phrase")" "$(search_in "$S" "$phrase")" "…and search answers as before"

# hold add with a query
out=$(pv --json hold add sec-inquiry --query 'participant:sec.gov' --note 'SEC letter')
h_is "$(echo "$out" | h_json 'd["messages"]')" "$n_held" "hold add with a query holds the $n_held matching messages"
h_is "$(psql_pv 'SELECT message_id FROM hold_members ORDER BY message_id' | tr '\n' ' ' | sed 's/ $//')" \
	"$want_held" "…exactly those (hold_members in PostgreSQL)"

# export by query
akey=$(pv checkpoint --log archive --vkey)
ukey=$(pv checkpoint --log audit --vkey)
pv --json export 'participant:sec.gov' --out "$H_RUN/sec.zip" --matter 'SEC' >"$H_RUN/export.json" 2>&1
h_is "$? $(h_json 'd["messages"]' <"$H_RUN/export.json")" "0 $n_held" "export by query exports the $n_held messages"
"$PV" verify-bundle "$H_RUN/sec.zip" --vkey "$akey" --vkey "$ukey" >"$H_RUN/vb.out" 2>&1
h_is "$? $(tail -1 "$H_RUN/vb.out")" "0 verify-bundle: OK" "…and verify-bundle passes"
h_is "$(unzip -Z1 "$H_RUN/sec.zip" | grep -c '\.eml$')" "$n_held" "…one .eml per message"

# dispose by policy: 30 days; on day 65 everything is expired, the held mail stays
printf 'default: retain 30d\n' >"$H_RUN/30d.policy"
pv policy propose "$H_RUN/30d.policy" >/dev/null
pv_glass pv >/dev/null 2>&1
pv_at 65 --json dispose --dry-run >"$H_RUN/dry.json" 2>"$H_RUN/dry.err"
h_is "$? $(h_json '[d["dispose"], d["held"]]' <"$H_RUN/dry.json")" "0 [$((25 - n_held)), $n_held]" \
	"dispose --dry-run on day 65: $((25 - n_held)) to dispose, the $n_held held ones kept"
h_is "$(h_json '" ".join(str(i["id"]) for i in d["items"] if i["action"] == "held")' <"$H_RUN/dry.json")" \
	"$want_held" "…exactly the held messages are held"
pv_at 65 dispose >/dev/null 2>&1
pv_glass pv_at 65 >"$H_RUN/d1.out" 2>"$H_RUN/d1.err"
h_is "$?" 0 "the approved disposal run succeeds on PostgreSQL"
h_like "$(cat "$H_RUN/d1.out")" "disposed of $((25 - n_held)) messages" "…disposing of the $((25 - n_held)) due messages"
h_is "$(psql_pv 'SELECT count(*) FROM messages WHERE disposed_at IS NOT NULL') $(psql_pv 'SELECT count(*) FROM idx_doc')" \
	"$((25 - n_held)) $n_held" "…their rows marked and their index entries gone"
h_is "$(pv_at 65 --json search 'after:1970-01-01' --limit 0 | h_json 'd["total"]') $(pv_at 65 --json search '-participant:sec.gov' --limit 0 | h_json 'd["total"]')" \
	"$n_held 0" "the disposed messages vanish from search"
h_is "$(pv_at 65 --json search 'participant:sec.gov' --limit 100 | h_json '" ".join(str(r["id"]) for r in sorted(d["results"], key=lambda r: r["id"]))')" \
	"$want_held" "…and the held ones are still found"
pv_at 65 verify >"$H_RUN/verify.out" 2>&1
h_is "$?" 0 "verify passes after the disposal"
[ -s "$H_RUN/dry.err" ] && sed 's/^/# /' "$H_RUN/dry.err"

# Killed mid-harvest, indexer and all, then harvested again.
C=$H_RUN/crash
CURL="postgresql://postgres@$PG_HOST:$PG_PORT/pv_crash"
"$PV" init --data "$C" --catalog "$CURL" >/dev/null 2>&1
D=$C
pv_dovecot_account carol
setsid "$PV" --data "$C" harvest --once >/dev/null 2>&1 &
hpid=$!
for _ in $(seq 1 200); do
	n=$("$PG_BINDIR/psql" "$CURL" -qAtc 'SELECT count(*) FROM idx_doc' 2>/dev/null || echo 0)
	[ "${n:-0}" -gt 20 ] && break
	sleep 0.05
done
kill -KILL -- "-$hpid" 2>/dev/null
wait "$hpid" 2>/dev/null
h_diag "killed with ${n:-0} indexed of $("$PG_BINDIR/psql" "$CURL" -qAtc 'SELECT count(*) FROM messages') archived"
sleep 0.3
pv harvest --once >/dev/null 2>&1
pv --json search 'after:1970-01-01' --limit 0 >/dev/null 2>&1 # catches the index up
h_is "$("$PG_BINDIR/psql" "$CURL" -qAtc 'SELECT count(*) FROM messages') $("$PG_BINDIR/psql" "$CURL" -qAtc 'SELECT count(*) FROM idx_doc')" \
	"300 300" "after a kill mid-harvest and a second harvest: 300 archived, 300 indexed"
h_is "$("$PG_BINDIR/psql" "$CURL" -qAtc 'SELECT count(*) FROM idx_doc d WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.id = d.id)') $(pv --json search 'after:1970-01-01' --limit 0 | h_json 'd["total"]')" \
	"0 300" "…no index row without its message, and search finds all 300"

pg_stop
