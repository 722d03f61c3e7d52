#!/bin/bash
# Crash safety (ARCHITECTURE.md §1 invariant 1): a harvest SIGKILLed at random
# moments, over and over, against a real Dovecot mailbox of 2,000
# messages (new mail arriving between runs, a few messages delivered
# twice). After every kill:
#   nothing lost      each seeded message is still upstream or archived
#   nothing twice     no message archived more often than it was seeded
#   log = catalog     the signed archive checkpoint covers exactly the
#                     messages in the catalog
# and at the end, after runs left alone: the mailbox is empty, the archive
# is exactly the seeded messages, verify --full passes, and show --raw of
# a random sample gives bytes with the catalog's hashes.
# The kill times come from a seeded RNG: HARVEST_CRASH_SEED=N replays them.
set -u
. "$(dirname "$0")/lib/harness.sh"
. "$(dirname "$0")/lib/popvault.sh"
h_init
h_plan 10

SEED=${HARVEST_CRASH_SEED:-$(date +%s)}
ROUNDS=${HARVEST_CRASH_ROUNDS:-24}
h_diag "seed $SEED ($ROUNDS rounds; replay with HARVEST_CRASH_SEED=$SEED)"

M=$H_RUN/mail
h_genmail --count 1990 --seed "$SEED" --out "$M" --max-attachment 4000
# 1,500 now, the rest in slices between the kills; 10 delivered twice.
mkdir -p "$H_RUN/first" "$H_RUN/later"
ls "$M"/*.eml | head -1500 | xargs -I{} ln -s {} "$H_RUN/first/"
ls "$M"/*.eml | tail -n +1501 | xargs -I{} ln -s {} "$H_RUN/later/"
for f in $(ls "$M"/*.eml | head -10); do ln -s "$f" "$H_RUN/later/z-again-$(basename "$f")"; done
h_dovecot_start --seed "alice=$H_RUN/first"
printf 'alicepw\n' >"$H_RUN/pw"
pv_init "$H_RUN/data"
pv account add alice --host localhost --port "$DOVECOT_PORT" --tls starttls \
	--user alice --password-file "$H_RUN/pw" --ca-file "$DOVECOT_CA" >/dev/null
printf '[harvest]\nbatch_max = 64\n' >>"$D/popvault.conf"
MD=$(h_maildir dovecot alice)

# One round: start a harvest in its own process group, SIGKILL the group
# after the given delay, then check the invariants. Prints one line:
# "landed|finished LOST DUPS LOGOK upstream archived".
cat >"$H_RUN/round.py" <<'EOF'
import collections, hashlib, os, signal, subprocess, sys, time
sys.path.insert(0, os.environ["H_LIB"])
import pvcatalog
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
db = pvcatalog.connect(d)
got = collections.Counter(r[0] for r in db.rows("select lower(hex(sha256)) from messages"))
n = int(db.value("select count(*) from messages"))
db.close()
lost = sum(max(0, want[k] - up[k] - got[k]) for k in want)
dups = sum(max(0, got[k] - want[k]) for k in got)
cp = subprocess.run([pv, "--data", d, "checkpoint"], stdout=subprocess.PIPE, text=True).stdout.split("\n")
logok = int(len(cp) > 1 and cp[1] == str(n))
print("landed" if landed else "finished", lost, dups, logok, sum(up.values()), n)
EOF

# What was delivered so far (the round checks against it).
mkdir -p "$H_RUN/seeded"
cp -L "$H_RUN"/first/* "$H_RUN/seeded/"
later=($(ls "$H_RUN/later"))
per=$(((${#later[@]} + ROUNDS - 1) / ROUNDS))
delays=($(python3 -c 'import random,sys; r=random.Random(int(sys.argv[1])); print(" ".join("%.3f" % r.uniform(0.02, 0.35) for _ in range(int(sys.argv[2]))))' "$SEED" "$ROUNDS"))
landed=0 lost=0 dups=0 logbad=0
for ((k = 0; k < ROUNDS; k++)); do
	slice=("${later[@]:k*per:per}")
	if [ ${#slice[@]} -gt 0 ]; then
		(cd "$H_RUN/later" && h_seed dovecot alice "${slice[@]}" >/dev/null)
		(cd "$H_RUN/later" && cp -L "${slice[@]}" "$H_RUN/seeded/")
	fi
	set -- $(python3 "$H_RUN/round.py" "$PV" "$D" "$MD" "$H_RUN/seeded" "${delays[k]}")
	h_diag "round $k: kill after ${delays[k]} s: $1, lost $2, twice $3, log ok $4, upstream $5, archived $6"
	[ "$1" = landed ] && landed=$((landed + 1))
	lost=$((lost + $2)) dups=$((dups + $3))
	[ "$4" = 1 ] || logbad=$((logbad + 1))
done
h_like "$landed" '^([5-9]|[1-9][0-9])$' "the harvest was killed mid-run in $landed of $ROUNDS rounds"
h_is "$lost" 0 "no message was ever lost (upstream or archived after every kill)"
h_is "$dups" 0 "no message was ever archived more often than delivered"
h_is "$logbad" 0 "after every kill the signed archive checkpoint covered exactly the catalog"

# Left alone, the harvest settles everything.
for i in 1 2 3; do pv harvest --once >/dev/null 2>&1 && break; done
h_is "$(maildir_count alice)" 0 "left alone, the harvest empties the mailbox"
set -- $(python3 "$H_RUN/round.py" "$PV" "$D" "$MD" "$H_RUN/seeded" 0)
h_is "$2 $3 $6" "0 0 2000" "the archive holds the 2,000 delivered messages, none lost, none twice"
h_is "$(ls "$D/tmp" | wc -l)" 0 "no temporary blob is left behind"
h_check "verify --full passes (every blob decrypts to its commitment)" \
	eval 'pv verify --full >"$H_RUN/verify.out" 2>&1'
h_like "$(cat "$H_RUN/verify.out")" '2000 in the catalog' "verify saw the 2,000 messages"
sample=$(python3 -c 'import random,sys; r=random.Random(int(sys.argv[1])); print(" ".join(str(i) for i in sorted(r.sample(range(1, 2001), 60))))' "$SEED")
bad=0
for id in $sample; do
	want=$(pv_sql "select lower(hex(sha256)) from messages where id = $id")
	[ "$(pv show "$id" --raw | sha256sum | cut -d' ' -f1)" = "$want" ] || bad=$((bad + 1))
done
h_is "$bad" 0 "show --raw of 60 random messages: the bytes hash to the catalog's sha256"
