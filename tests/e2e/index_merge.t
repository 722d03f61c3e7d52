#!/bin/bash
# The indexer keeps the FTS5 index merged (archive/indexer.c), as
# maintenance that waits for quiet: it merges only once no new mail came
# for a second, so a harvest's CPU and write lock stay the harvest's.
# Against a real Dovecot mailbox:
#   - a `harvest --once` (its indexer never quiet that long) leaves the
#     index in the few segments FTS5's automerge keeps, every message
#     searchable;
#   - a harvest daemon, once its rounds bring nothing new, merges the
#     index into one segment within seconds, with the same answers.
set -u
. "$(dirname "$0")/lib/harness.sh"
. "$(dirname "$0")/lib/popvault.sh"
h_init
h_plan 6

M=$H_RUN/mail
h_genmail --count 500 --seed 7 --out "$M" --max-attachment 20000
h_dovecot_start --seed "alice=$M"
printf 'alicepw\n' >"$H_RUN/pw"
pv_init "$H_RUN/data"
pv account add alice --host localhost --port "$DOVECOT_PORT" --tls starttls \
	--user alice --password-file "$H_RUN/pw" --ca-file "$DOVECOT_CA" >/dev/null
# Small commits: many index transactions, so many segments to merge.
printf '[harvest]\nbatch_max = 16\n' >>"$D/popvault.conf"

# Every message of a keyword found, by content hash; prints "bad N".
cat >"$H_RUN/search.py" <<'EOF'
import json, os, subprocess, sys
sys.path.insert(0, os.environ["H_LIB"])
import pvcatalog
pv, d, index = sys.argv[1:4]
msgs = json.load(open(index))["messages"]
id_of = {r[0]: int(r[1]) for r in pvcatalog.connect(d).rows(
    "select lower(hex(sha256)), id from messages")}
bad = 0
for kw in json.load(open(index))["keywords"]:
    out = subprocess.run([pv, "--data", d, "--json", "search", kw, "--limit", "10000"],
                         stdout=subprocess.PIPE, text=True, check=True).stdout
    got = sorted(x["id"] for x in json.loads(out)["results"])
    bad += got != sorted(id_of[m["sha256"]] for m in msgs if kw in m["keywords"])
print("bad", bad)
EOF
segments() { pv --json stats | h_json 'd["index_segments"]'; }
pending() { pv --json stats | h_json 'd["index_pending"]'; }

pv harvest --once >"$H_RUN/once.out" 2>&1
h_is "$? $(pv_count) $(pending)" "0 500 0" "harvest --once: all 500 archived, nothing waits for the index"
h_is "$(python3 "$H_RUN/search.py" "$PV" "$D" "$M/index.json")" "bad 0" \
	"... and every keyword finds exactly its messages"
if pv_is_pg; then
	h_skip "the index is PostgreSQL's: no FTS5 segments"
else
	h_like "$(segments)" '^([2-9]|1[0-6])$' \
		"... in the few segments FTS5's automerge keeps (no merge during the harvest)"
fi

# The daemon: its first round finds nothing new; its indexer, quiet for a
# second, merges.
"$PV" --data "$D" harvest --interval 1 >"$H_RUN/daemon.out" 2>&1 &
daemon=$!
h_at_exit "kill -TERM $daemon 2>/dev/null"
if pv_is_pg; then
	h_skip "the index is PostgreSQL's: no FTS5 segments to merge"
else
	h_check "daemon: once no new mail comes, the index is merged into one segment" \
		h_wait_for 30 eval '[ "$(segments)" = 1 ]'
fi
kill -TERM "$daemon"
wait "$daemon"
h_is "$?" 0 "daemon: SIGTERM stops it cleanly"
unset 'H_AT_EXIT[-1]'
h_is "$(python3 "$H_RUN/search.py" "$PV" "$D" "$M/index.json")" "bad 0" \
	"merged, every keyword still finds exactly its messages"
