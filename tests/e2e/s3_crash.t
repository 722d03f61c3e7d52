#!/bin/bash
# Crash safety with the S3 pack store (ARCHITECTURE.md §1.1, §12): a
# harvest into an archive whose packs go to a real Ceph RGW, SIGKILLed at
# random moments (before, during and after its packs' upload), new mail
# arriving between runs. After every kill nothing is lost (each delivered
# message is upstream or archived) and nothing is archived twice; left
# alone, the harvest empties the mailbox, every pack ends up in the store
# and none in the data directory, verify --full passes and a sample reads
# back with the catalog's hashes. HARVEST_CRASH_SEED=N replays the kills.
set -u
. "$(dirname "$0")/lib/harness.sh"
. "$(dirname "$0")/lib/popvault.sh"
. "$(dirname "$0")/lib/rgw.sh"
h_init
h_plan 9

SEED=${HARVEST_CRASH_SEED:-$(date +%s)}
ROUNDS=${HARVEST_CRASH_ROUNDS:-12}
h_diag "seed $SEED ($ROUNDS rounds; replay with HARVEST_CRASH_SEED=$SEED)"

rgw_start
M=$H_RUN/mail
h_genmail --count 400 --seed "$SEED" --out "$M" --max-attachment 4000
mkdir -p "$H_RUN/first" "$H_RUN/later"
ls "$M"/*.eml | head -200 | xargs -I{} ln -s {} "$H_RUN/first/"
ls "$M"/*.eml | tail -n +201 | xargs -I{} ln -s {} "$H_RUN/later/"
h_dovecot_start --seed "alice=$H_RUN/first"
pv_init "$H_RUN/data" --store "s3://pv-crash?endpoint=$RGW_URL&region=$RGW_REGION" \
	--store-key-file "$RGW_KEY_FILE"
pv_dovecot_account alice
printf '[harvest]\nbatch_max = 32\n' >>"$D/popvault.conf"
MD=$(h_maildir dovecot alice)

cat >"$H_RUN/round.py" <<'EOF'
import collections, hashlib, os, signal, sqlite3, subprocess, sys, time
pv, d, md, seeded, delay = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
h = subprocess.Popen([pv, "--data", d, "harvest", "--once"], stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL, start_new_session=True)
time.sleep(delay)
landed = h.poll() is None
if landed:
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
db = sqlite3.connect(os.path.join(d, "catalog.db"))
got = collections.Counter(r[0].hex() for r in db.execute("select sha256 from messages"))
n = db.execute("select count(*) from messages").fetchone()[0]
db.close()
lost = sum(max(0, want[k] - up[k] - got[k]) for k in want)
dups = sum(max(0, got[k] - want[k]) for k in got)
cp = subprocess.run([pv, "--data", d, "checkpoint"], stdout=subprocess.PIPE, text=True).stdout.split("\n")
logok = int(len(cp) > 1 and cp[1] == str(n))
print("landed" if landed else "finished", lost, dups, logok, sum(up.values()), n)
EOF

mkdir -p "$H_RUN/seeded"
cp -L "$H_RUN"/first/* "$H_RUN/seeded/"
later=($(ls "$H_RUN/later"))
per=$(((${#later[@]} + ROUNDS - 1) / ROUNDS))
delays=($(python3 -c 'import random,sys; r=random.Random(int(sys.argv[1])); print(" ".join("%.3f" % r.uniform(0.02, 0.3) for _ in range(int(sys.argv[2]))))' "$SEED" "$ROUNDS"))
landed=0 lost=0 dups=0
for ((k = 0; k < ROUNDS; k++)); do
	slice=("${later[@]:k*per:per}")
	if [ ${#slice[@]} -gt 0 ]; then
		(cd "$H_RUN/later" && h_seed dovecot alice "${slice[@]}" >/dev/null)
		(cd "$H_RUN/later" && cp -L "${slice[@]}" "$H_RUN/seeded/")
	fi
	set -- $(python3 "$H_RUN/round.py" "$PV" "$D" "$MD" "$H_RUN/seeded" "${delays[k]}")
	h_diag "round $k: kill after ${delays[k]} s: $1, lost $2, twice $3, upstream $5, archived $6, stored packs $(pv_sql 'SELECT count(*) FROM packs WHERE stored_at IS NOT NULL')"
	[ "$1" = landed ] && landed=$((landed + 1))
	lost=$((lost + $2)) dups=$((dups + $3))
done
h_like "$landed" '^([3-9]|[1-9][0-9])$' "the harvest was killed mid-run in $landed of $ROUNDS rounds"
h_is "$lost" 0 "no message was ever lost (upstream or archived after every kill)"
h_is "$dups" 0 "no message was ever archived more often than delivered"

for i in 1 2 3; do pv harvest --once >/dev/null 2>&1 && break; done
h_is "$(maildir_count alice)" 0 "left alone, the harvest empties the mailbox"
set -- $(python3 "$H_RUN/round.py" "$PV" "$D" "$MD" "$H_RUN/seeded" 0)
h_is "$2 $3 $6" "0 0 400" "the archive holds the 400 delivered messages, none lost, none twice"
h_is "$(pv_sql 'SELECT count(*) FROM packs WHERE removed_at IS NULL AND stored_at IS NULL AND EXISTS (SELECT 1 FROM messages m WHERE m.pack_id = packs.id)')" 0 \
	"every pack with messages is in the store"
h_is "$(ls "$D/packs" | wc -l)" 0 "no pack file is left in the data directory"
h_check "verify --full passes" eval 'pv verify --full >"$H_RUN/verify.out" 2>&1'
sample=$(python3 -c 'import random,sys; r=random.Random(int(sys.argv[1])); print(" ".join(str(i) for i in sorted(r.sample(range(1, 401), 40))))' "$SEED")
bad=0
for id in $sample; do
	want=$(pv_sql "SELECT lower(hex(sha256)) FROM messages WHERE id = $id")
	[ "$(pv show "$id" --raw | sha256sum | cut -d' ' -f1)" = "$want" ] || bad=$((bad + 1))
done
h_is "$bad" 0 "show --raw of 40 random messages: the bytes hash to the catalog's sha256"
