#!/bin/bash
# The harvest and its indexer process (archive/indexer.h) SIGKILLed at
# random moments while both run, over and over, against a real Dovecot
# mailbox (new mail arriving between runs): each round kills the
# harvester, the indexer, or both (the whole process group). After every
# kill:
#   nothing lost      each delivered message is still upstream or archived
#   nothing twice     no message archived more often than delivered
#   log = catalog     the signed archive checkpoint covers exactly the catalog
#   index whole       every index entry names an archived message and has
#                     both its rows (document and text): nothing half-made
# and at the end, after runs left alone: the mailbox is empty, every
# message archived once and byte-exact (show --raw), verify --full passes,
# nothing waits for the index (stats), and every message is searchable:
# one index entry each, every planted keyword finds exactly the messages
# genmail put it in, and a sample is found by its Message-ID; and after a
# reindex the index is one merged FTS5 segment with the same answers.
# The kill times and targets come from a seeded RNG:
# INDEX_CRASH_SEED=N replays them.
set -u
. "$(dirname "$0")/lib/harness.sh"
. "$(dirname "$0")/lib/popvault.sh"
h_init
h_plan 14

SEED=${INDEX_CRASH_SEED:-$(date +%s)}
ROUNDS=${INDEX_CRASH_ROUNDS:-24}
h_diag "seed $SEED ($ROUNDS rounds; replay with INDEX_CRASH_SEED=$SEED)"

M=$H_RUN/mail
h_genmail --count 1200 --seed "$SEED" --out "$M" --max-attachment 20000
# 400 now, the rest in slices between the kills.
mkdir -p "$H_RUN/first" "$H_RUN/later"
ls "$M"/*.eml | head -400 | xargs -I{} ln -s {} "$H_RUN/first/"
ls "$M"/*.eml | tail -n +401 | xargs -I{} ln -s {} "$H_RUN/later/"
h_dovecot_start --seed "alice=$H_RUN/first"
printf 'alicepw\n' >"$H_RUN/pw"
pv_init "$H_RUN/data"
pv account add alice --host localhost --port "$DOVECOT_PORT" --tls starttls \
	--user alice --password-file "$H_RUN/pw" --ca-file "$DOVECOT_CA" >/dev/null
printf '[harvest]\nbatch_max = 32\n' >>"$D/popvault.conf"
MD=$(h_maildir dovecot alice)

# One round: start a harvest in its own process group; once both run (the
# indexer is up and the harvest has committed in this round), after the
# round's jitter, SIGKILL the target (harvester: the harvest process; indexer: the
# indexer process, pv-indexer; both: the group), let whatever survives finish, then check. Prints one line:
# "killed|missed LOST DUPS LOGOK INDEXOK upstream archived indexed".
cat >"$H_RUN/round.py" <<'EOF'
import collections, hashlib, os, signal, subprocess, sys, time
sys.path.insert(0, os.environ["H_LIB"])
import pvcatalog
pv, d, md, seeded, delay, target = sys.argv[1:7]
h = subprocess.Popen([pv, "--data", d, "harvest", "--once"], stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL, start_new_session=True)
def comm(pid):
    with open("/proc/%d/comm" % pid) as f:
        return f.read().strip()
def children(pid):
    # The harvest's own workers: not the signer process beside them.
    out = []
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            for c in f.read().split():
                if comm(int(c)) != "pv-signer":
                    out.append(int(c))
    except OSError:
        pass
    return out
# Both at work: the indexer process is there and the harvest has
# committed something in this round; then the seeded jitter.
db = pvcatalog.connect(d, readonly=True)
count = lambda: int(db.value("select count(*) from messages"))
start = count()
deadline = time.time() + 60
while h.poll() is None and time.time() < deadline and target != "none":
    if len(children(h.pid)) >= 2 and count() > start:
        break
    time.sleep(0.003)
db.close()
time.sleep(float(delay))
killed = False
if h.poll() is None and target != "none":
    if target == "both":
        os.killpg(h.pid, signal.SIGKILL)
        killed = True
    else:
        try:
            # by name, not by priority: under nice 19 both run at 19
            for c in children(h.pid):
                if (comm(c) == "pv-indexer") == (target == "indexer"):
                    os.kill(c, signal.SIGKILL)
                    killed = True
                    break
        except OSError:
            pass
try:
    h.wait(timeout=120)
except subprocess.TimeoutExpired:
    os.killpg(h.pid, signal.SIGKILL)
    h.wait()
time.sleep(0.2)  # Dovecot notices the disconnect
def sha(p):
    with open(p, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()
want = collections.Counter(sha(os.path.join(seeded, n)) for n in os.listdir(seeded))
up = collections.Counter()
for sub in ("new", "cur"):
    for n in os.listdir(os.path.join(md, sub)):
        try:
            up[sha(os.path.join(md, sub, n))] += 1
        except FileNotFoundError:
            pass
db = pvcatalog.connect(d)
got = collections.Counter(r[0] for r in db.rows("select lower(hex(sha256)) from messages"))
n = int(db.value("select count(*) from messages"))
docs = int(db.value("select count(*) from idx_doc"))
orphans = int(db.value("select count(*) from idx_doc where id not in (select id from messages)"))
if os.path.exists(os.path.join(d, "catalog.url")):
    # PostgreSQL's index (store/pg_index.c): a document's text is its row's tsvector
    texts = int(db.value("select count(*) from idx_doc where tv is not null"))
    no_text = docs - texts
else:
    texts = int(db.value("select count(*) from idx_fts"))
    # (an idx_fts rowid is the document's sort key, idx_doc.key)
    no_text = int(db.value("select count(*) from idx_doc where key not in (select rowid from idx_fts)"))
db.close()
lost = sum(max(0, want[k] - up[k] - got[k]) for k in want)
dups = sum(max(0, got[k] - want[k]) for k in got)
cp = subprocess.run([pv, "--data", d, "checkpoint"], stdout=subprocess.PIPE, text=True).stdout.split("\n")
logok = int(len(cp) > 1 and cp[1] == str(n))
indexok = int(docs == texts and orphans == 0 and no_text == 0)
print("killed" if killed else "missed", lost, dups, logok, indexok, sum(up.values()), n, docs)
EOF

mkdir -p "$H_RUN/seeded"
cp -L "$H_RUN"/first/* "$H_RUN/seeded/"
# The later mail in MAXR slices: at least ROUNDS rounds run, more (up to
# MAXR) while a target has not been hit twice. A round whose kill came too
# late (the harvest had finished) retries the same target next round at
# once, without jitter: whether a kill lands depends on the machine's load.
MAXR=$((ROUNDS + ROUNDS / 2))
later=($(ls "$H_RUN/later"))
per=$(((${#later[@]} + MAXR - 1) / MAXR))
jitter=($(python3 -c 'import random,sys; r=random.Random(int(sys.argv[1])); print(" ".join("%.3f" % r.uniform(0.0, 0.08) for i in range(int(sys.argv[2]))))' "$SEED" "$MAXR"))
targets=(harvester indexer both)
declare -A hit=([harvester]=0 [indexer]=0 [both]=0)
lost=0 dups=0 logbad=0 indexbad=0 next=0 retry=0
enough() { [ "${hit[harvester]}" -ge 2 ] && [ "${hit[indexer]}" -ge 2 ] && [ "${hit[both]}" -ge 2 ]; }
seed_slice() {
	local slice=("${later[@]:$1*per:per}")
	[ ${#slice[@]} -gt 0 ] || return 0
	(cd "$H_RUN/later" && h_seed dovecot alice "${slice[@]}" >/dev/null)
	(cd "$H_RUN/later" && cp -L "${slice[@]}" "$H_RUN/seeded/")
}
for ((k = 0; k < MAXR; k++)); do
	{ [ "$k" -lt "$ROUNDS" ] || ! enough; } || break
	seed_slice "$k"
	target=${targets[next % 3]} delay=${jitter[k]}
	[ "$retry" = 1 ] && delay=0.000
	set -- $(python3 "$H_RUN/round.py" "$PV" "$D" "$MD" "$H_RUN/seeded" "$delay" "$target")
	h_diag "round $k: kill the $target $delay s into a commit: $1; lost $2, twice $3, log ok $4," \
		"index ok $5, upstream $6, archived $7, indexed $8"
	if [ "$1" = killed ]; then
		hit[$target]=$((hit[$target] + 1)) next=$((next + 1)) retry=0
	else
		retry=1
	fi
	lost=$((lost + $2)) dups=$((dups + $3))
	[ "$4" = 1 ] || logbad=$((logbad + 1))
	[ "$5" = 1 ] || indexbad=$((indexbad + 1))
done
# What rounds were not needed delivers its mail for the runs left alone.
for ((; k < MAXR; k++)); do seed_slice "$k"; done
h_diag "killed: harvester ${hit[harvester]}, indexer ${hit[indexer]}, both ${hit[both]} times"
h_check "each target was killed mid-run at least twice" enough
h_is "$lost" 0 "no message was ever lost (upstream or archived after every kill)"
h_is "$dups" 0 "no message was ever archived more often than delivered"
h_is "$logbad" 0 "after every kill the signed archive checkpoint covered exactly the catalog"
h_is "$indexbad" 0 "after every kill every index entry was whole and named an archived message"

# Left alone, the harvest settles everything, and returns once the index
# has caught up.
for i in 1 2 3; do pv harvest --once >/dev/null 2>&1 && break; done
h_is "$(maildir_count alice)" 0 "left alone, the harvest empties the mailbox"
set -- $(python3 "$H_RUN/round.py" "$PV" "$D" "$MD" "$H_RUN/seeded" 0 none)
h_is "$2 $3 $7" "0 0 1200" "the archive holds the 1,200 delivered messages, none lost, none twice"
h_is "$(pv --json stats | h_json '(d["index_pending"], d["messages"])')" "(0, 1200)" \
	"stats: nothing waits for the index"
h_is "$8 $5" "1200 1" "one whole index entry per message"
h_check "verify --full passes" eval 'pv verify --full >"$H_RUN/verify.out" 2>&1'

# Searchable: every keyword finds exactly the messages genmail put it in
# (by content hash), and a sample of messages by their own Message-ID.
cat >"$H_RUN/search.py" <<'EOF'
import json, os, random, subprocess, sys
sys.path.insert(0, os.environ["H_LIB"])
import pvcatalog
pv, d, index, seed = sys.argv[1:5]
msgs = json.load(open(index))["messages"]
db = pvcatalog.connect(d)
id_of = {r[0]: int(r[1]) for r in db.rows("select lower(hex(sha256)), id from messages")}
def search(q):
    out = subprocess.run([pv, "--data", d, "--json", "search", q, "--limit", "10000"],
                         stdout=subprocess.PIPE, text=True, check=True).stdout
    return sorted(x["id"] for x in json.loads(out)["results"])
bad = []
for kw in json.load(open(index))["keywords"]:
    want = sorted(id_of[m["sha256"]] for m in msgs if kw in m["keywords"])
    if search(kw) != want:
        bad.append("keyword " + kw)
mids = {}
for m in msgs:
    if m["message_id"]:
        mids.setdefault(m["message_id"], []).append(id_of[m["sha256"]])
sample = random.Random(int(seed)).sample(sorted(k for k, v in mids.items() if len(v) == 1), 25)
for mid in sample:
    if search("message-id:" + mid.strip("<>")) != mids[mid]:
        bad.append("message-id " + mid)
print("bad", len(bad), *bad[:5])
EOF
python3 "$H_RUN/search.py" "$PV" "$D" "$M/index.json" "$SEED" >"$H_RUN/search.out"
h_is "$(cat "$H_RUN/search.out")" "bad 0" "every keyword and every sampled Message-ID finds exactly its messages"
sample=$(python3 -c 'import random,sys; r=random.Random(int(sys.argv[1])); print(" ".join(str(i) for i in sorted(r.sample(range(1, 1201), 40))))' "$SEED")
bad=0
for id in $sample; do
	want=$(pv_sql "select lower(hex(sha256)) from messages where id=$id")
	[ "$(pv show "$id" --raw | sha256sum | cut -d' ' -f1)" = "$want" ] || bad=$((bad + 1))
done
h_is "$bad" 0 "show --raw of 40 random messages: the bytes hash to the catalog's sha256"

# reindex ends with the index merged into one FTS5 segment (what the
# indexer does when idle), with the same answers.
pv reindex >"$H_RUN/reindex.out" 2>&1
if pv_is_pg; then
	h_skip "the index is PostgreSQL's: no FTS5 segments to merge"
else
	h_is "$(pv --json stats | h_json 'd["index_segments"]')" 1 "reindex leaves the index merged (one segment)"
fi
python3 "$H_RUN/search.py" "$PV" "$D" "$M/index.json" "$SEED" >"$H_RUN/search2.out"
h_is "$(cat "$H_RUN/search2.out")" "bad 0" "merged, every keyword and sampled Message-ID finds exactly its messages"
