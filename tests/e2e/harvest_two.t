#!/bin/bash
# Several harvesters, one archive (issue 18, docs/ARCHITECTURE.md §12,
# "several harvesters"): one PostgreSQL 15 catalog, two data directories
# A and B (B joined with A's exported identity; both share one packs/
# directory, as a file system with working flock would be shared),
# Dovecot with several mailboxes. Joining is refused for a wrong
# passphrase, a database without a catalog and another archive's
# identity, leaving nothing behind. Then both harvest at once and are
# SIGKILLed at random moments, several rounds, new mail delivered to
# every mailbox before each; after every round no message is lost. In the end: every mailbox empty, every message
# archived exactly once and byte for byte (show --raw from A and from B
# against the mail sent), one consistent log (verify --full passes from
# both directories), both machines' bucket keys the same rows, and an
# account whose password was added on A is harvested by B.
# Under POPVAULT_TEST_STORE=s3 (the matrix: build/e2e-pg-s3/) the two
# directories share no packs/: the packs go to one bucket of a real RGW,
# and each machine reads the other's messages from there.
# The kill times come from a seeded RNG: HARVEST_TWO_SEED=N replays them;
# HARVEST_TWO_ROUNDS=N sets the rounds (4).
set -u
. "$(dirname "$0")/lib/harness.sh"
. "$(dirname "$0")/lib/popvault.sh"
. "$(dirname "$0")/lib/pg.sh"
h_init
h_plan 30
SEED=${HARVEST_TWO_SEED:-$(date +%s)}
ROUNDS=${HARVEST_TWO_ROUNDS:-4}
h_diag "seed $SEED ($ROUNDS rounds; replay with HARVEST_TWO_SEED=$SEED)"

pg_start "$H_RUN/pg" || { echo "Bail out! postgresql did not start"; exit 1; }
for db in pv_shared pv_other pv_empty; do
	"$PG_BINDIR/psql" "$PG_URL" -qAtc "CREATE DATABASE $db" >/dev/null ||
		{ echo "Bail out! cannot create database $db"; exit 1; }
done
URL="postgresql://postgres@$PG_HOST:$PG_PORT/pv_shared"
sql() { "$PG_BINDIR/psql" "$URL" -qAt -F '|' -c "$1"; }

USERS="alice bob carol dave"
seeds=() n=0
for u in $USERS; do
	n=$((n + 1))
	h_genmail --count 200 --seed "$((SEED % 100000 + n))" --out "$H_RUN/mail-$u" --max-attachment 4000
	# 80 now, the rest in slices between the rounds
	mkdir -p "$H_RUN/first-$u" "$H_RUN/later-$u"
	ls "$H_RUN/mail-$u"/*.eml | head -80 | xargs -I{} ln -s {} "$H_RUN/first-$u/"
	ls "$H_RUN/mail-$u"/*.eml | tail -n +81 | xargs -I{} ln -s {} "$H_RUN/later-$u/"
	seeds+=(--seed "$u=$H_RUN/first-$u" --user "$u:${u}pw")
done
h_genmail --count 15 --seed "$((SEED % 100000 + 9))" --out "$H_RUN/mail-erin"
h_dovecot_start "${seeds[@]}" --seed "erin=$H_RUN/mail-erin" --user erin:erinpw

A=$H_RUN/a B=$H_RUN/b
D=$A
# Under POPVAULT_TEST_STORE=s3 the archive's packs go to one bucket of
# the run's RGW, which B finds in the catalog (no shared packs/ then).
pv_store_opts
"$PV" init --data "$A" --catalog "$URL" "${PV_STORE_OPTS[@]}" --origin two.example/popvault \
	>"$H_RUN/init.out" 2>&1 ||
	{ echo "Bail out! init --catalog failed: $(cat "$H_RUN/init.out")"; exit 1; }
for u in $USERS; do pv_dovecot_account "$u"; done
printf '[harvest]\nbatch_max = 16\nparallel = 2\n' >>"$A/popvault.conf"
printf 'correct horse battery staple\n' >"$H_RUN/pass"
printf 'not the passphrase at all\n' >"$H_RUN/wrong"

"$PV" --data "$A" identity export --out "$H_RUN/id.pvk" --passphrase-file "$H_RUN/pass" \
	>"$H_RUN/export.out" 2>&1
h_is "$? $(stat -c %a "$H_RUN/id.pvk" 2>/dev/null)" "0 600" "identity export writes the identity, mode 0600"
h_is "$(sql "SELECT count(*) FROM audit_event WHERE type = 'identity-export'")" 1 \
	"…audited as identity-export"

"$PV" init --data "$H_RUN/lite" >/dev/null 2>&1
h_fails "an archive with a SQLite catalog has no identity to share" 2 'PostgreSQL' \
	"$PV" --data "$H_RUN/lite" identity export --out "$H_RUN/lite.pvk" --passphrase-file "$H_RUN/pass"
h_check "…and writes no file" test ! -e "$H_RUN/lite.pvk"

# Refusals: nothing is made.
h_fails "a join with the wrong passphrase is refused" 1 'passphrase' \
	"$PV" init --data "$B" --catalog "$URL" --join "$H_RUN/id.pvk" --passphrase-file "$H_RUN/wrong"
h_check "…and no data directory was made" test ! -e "$B"
h_fails "a join to a database without a catalog is refused" 1 'holds no popvault catalog' \
	"$PV" init --data "$B" --catalog "postgresql://postgres@$PG_HOST:$PG_PORT/pv_empty" \
	--join "$H_RUN/id.pvk" --passphrase-file "$H_RUN/pass"
h_is "$(test -e "$B" && echo made) $("$PG_BINDIR/psql" "postgresql://postgres@$PG_HOST:$PG_PORT/pv_empty" -qAtc "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" \
	" 0" "…nothing made, neither the directory nor a catalog"
"$PV" init --data "$H_RUN/c" --catalog "postgresql://postgres@$PG_HOST:$PG_PORT/pv_other" >/dev/null 2>&1 &&
	"$PV" --data "$H_RUN/c" identity export --out "$H_RUN/other.pvk" --passphrase-file "$H_RUN/pass" >/dev/null 2>&1
h_fails "another archive's identity is refused" 3 'not this catalog' \
	"$PV" init --data "$B" --catalog "$URL" --join "$H_RUN/other.pvk" --passphrase-file "$H_RUN/pass"
h_check "…and what it wrote was taken back" test ! -e "$B"

"$PV" init --data "$B" --catalog "$URL" --join "$H_RUN/id.pvk" --passphrase-file "$H_RUN/pass" \
	>"$H_RUN/join.out" 2>&1
h_is "$?" 0 "init --join with the archive's identity succeeds"
h_is "$(sql "SELECT count(*) FROM audit_event WHERE type = 'identity-join'")" 1 "…audited as identity-join"
h_is "$(cmp "$A/keys/secrets.key" "$B/keys/secrets.key" && cmp "$A/keys/sign/archive.key" "$B/keys/sign/archive.key" && cmp "$A/keys/sign/audit.key" "$B/keys/sign/audit.key" && echo same)" \
	same "…with the same secrets key and log keys"
h_check "…and no signer record of A's (each signer keeps its own)" test ! -e "$B/keys/sign/archive.signed"
printf '[harvest]\nbatch_max = 16\nparallel = 2\n' >>"$B/popvault.conf"
if [ "$PV_TEST_STORE" != s3 ]; then
	# One packs/ for both, as a shared file system would be.
	mkdir -m 700 -p "$A/packs"
	ln -s "$A/packs" "$B/packs"
fi

# One round: both harvest at once, each SIGKILLed (its process group)
# after its delay unless done; then nothing may be lost. Prints
# "KILLED LOST UPSTREAM ARCHIVED".
cat >"$H_RUN/round.py" <<'PYEOF'
import collections, hashlib, os, signal, subprocess, sys, time
pv, a, b, psql, url, seeded, da, db_ = sys.argv[1:9]
mds = sys.argv[9:]
delays = {a: float(da), b: float(db_)}
hs = {d: subprocess.Popen([pv, "--data", d, "harvest", "--once"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, start_new_session=True) for d in (a, b)}
t0 = time.time()
killed = 0
for d in sorted(hs, key=lambda d: delays[d]):
    time.sleep(max(0, t0 + delays[d] - time.time()))
    if hs[d].poll() is None:
        os.killpg(hs[d].pid, signal.SIGKILL)
        killed += 1
    hs[d].wait()
time.sleep(0.2)
def sha(p):
    with open(p, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()
want = collections.Counter()
for sub in os.listdir(seeded):
    for n in os.listdir(os.path.join(seeded, sub)):
        if not n.endswith(".eml"):
            continue
        want[sha(os.path.join(seeded, sub, n))] += 1
up = collections.Counter()
for md in mds:
    for sub in ("new", "cur"):
        for n in os.listdir(os.path.join(md, sub)):
            try:
                up[sha(os.path.join(md, sub, n))] += 1
            except FileNotFoundError:
                pass
out = subprocess.run([psql, url, "-qAt", "-c", "SELECT encode(sha256, 'hex') FROM messages"],
                     stdout=subprocess.PIPE, text=True, check=True).stdout.split()
got = collections.Counter(out)
lost = sum(max(0, want[k] - up[k] - got[k]) for k in want)
print(killed, lost, sum(up.values()), len(out))
PYEOF
mkdir -p "$H_RUN/seeded"
mds=()
for u in $USERS erin; do
	mkdir -p "$H_RUN/seeded/$u"
	if [ "$u" = erin ]; then cp "$H_RUN/mail-erin"/*.eml "$H_RUN/seeded/erin/"; else cp -L "$H_RUN/first-$u"/* "$H_RUN/seeded/$u/"; fi
	mds+=("$(h_maildir dovecot "$u")")
done
delays=($("$H_PY" -c 'import random,sys; r=random.Random(int(sys.argv[1])); print(" ".join("%.3f" % r.uniform(0.1, 1.5) for _ in range(2 * int(sys.argv[2]))))' "$SEED" "$ROUNDS"))
killed=0 lost=0
per=$(((120 + ROUNDS - 1) / ROUNDS))
for ((k = 0; k < ROUNDS; k++)); do
	for u in $USERS; do
		slice=($(ls "$H_RUN/later-$u" | sed -n "$((k * per + 1)),$(((k + 1) * per))p"))
		[ ${#slice[@]} -gt 0 ] || continue
		(cd "$H_RUN/later-$u" && h_seed dovecot "$u" "${slice[@]}" >/dev/null &&
			cp -L "${slice[@]}" "$H_RUN/seeded/$u/")
	done
	set -- $("$H_PY" "$H_RUN/round.py" "$PV" "$A" "$B" "$PG_BINDIR/psql" "$URL" "$H_RUN/seeded" \
		"${delays[2 * k]}" "${delays[2 * k + 1]}" "${mds[@]}")
	h_diag "round $k: kills after ${delays[2 * k]} s (A), ${delays[2 * k + 1]} s (B): $1 killed, lost $2, upstream $3, archived $4"
	killed=$((killed + $1)) lost=$((lost + $2))
done
h_like "$killed" '^[1-9][0-9]*$' "harvests were killed mid-run ($killed kills in $ROUNDS rounds)"
h_is "$lost" 0 "no message was ever lost (upstream or archived after every round)"

# What no round delivered yet, then each machine finishes what it left (a killed harvest's lease is its own
# site's to take over at once); twice, in parallel.
for u in $USERS; do
	rest=($(ls "$H_RUN/later-$u" | tail -n +$((ROUNDS * per + 1))))
	[ ${#rest[@]} -gt 0 ] && (cd "$H_RUN/later-$u" && h_seed dovecot "$u" "${rest[@]}" >/dev/null)
done
for _ in 1 2 3; do
	"$PV" --data "$A" harvest --once >>"$H_RUN/final-a.out" 2>&1 &
	pa=$!
	"$PV" --data "$B" harvest --once >>"$H_RUN/final-b.out" 2>&1
	wait "$pa"
done
left=0
for u in $USERS; do left=$((left + $(maildir_count "$u"))); done
h_is "$left" 0 "every mailbox was emptied"
h_is "$(sql "SELECT count(*) FROM mailbox_leases")" 0 "every lease was given back"

all=$(h_hashes "$H_RUN"/mail-{alice,bob,carol,dave}/*.eml)
h_is "$(sql "SELECT encode(sha256, 'hex') FROM messages ORDER BY 1")" "$all" \
	"every message archived exactly once"
# Every message's bytes are checked by verify --full from both below (each
# decrypted and hashed against its signed leaf, whose hash is the mail's
# above); show --raw, a process and an audited view each, reads a seeded
# sample of 60 from each machine, against the catalog (the mail sent, above).
ids=$(sql "SELECT id FROM messages ORDER BY id")
sample() { printf '%s\n' $ids | "$H_PY" -c 'import random,sys; ids=sys.stdin.read().split(); print(" ".join(random.Random(int(sys.argv[1])).sample(ids, min(60, len(ids)))))' "$1"; }
shows() {
	local i
	for i in $2; do
		[ "$("$PV" --data "$1" show "$i" --raw | sha256sum | cut -d' ' -f1)" = \
			"$(sql "SELECT encode(sha256, 'hex') FROM messages WHERE id = $i")" ] || echo "$i"
	done
}
h_is "$(shows "$A" "$(sample "$SEED")")" "" "show --raw from A gives 60 sampled messages byte for byte"
h_is "$(shows "$B" "$(sample "$((SEED + 1))")")" "" "…and 60 more from B"
h_is "$(sql "SELECT count(*) FROM tlog_leaf l JOIN tlog_log g ON g.id = l.log_id WHERE g.name = 'archive'") $(sql "SELECT count(*) FROM messages")" \
	"$(sql "SELECT count(*) FROM messages") $(sql "SELECT count(*) FROM messages")" "one archive log, one leaf per message"
h_is "$(sql "SELECT count(*) FROM keyring_buckets") $(sql "SELECT count(DISTINCT bucket_id) FROM messages")" \
	"$(sql "SELECT count(*) FROM buckets") $(sql "SELECT count(*) FROM buckets")" \
	"the bucket keys are the catalog's rows, one per bucket, shared by both"
for d in A B; do
	dir=$A
	[ "$d" = B ] && dir=$B
	"$PV" --data "$dir" --json verify --full >"$H_RUN/full-$d.json" 2>"$H_RUN/full-$d.err"
	rc=$?
	h_is "$rc $(h_json 'd["ok"], d["blobs_decrypted"]' <"$H_RUN/full-$d.json" 2>/dev/null)" \
		"0 True $(sql "SELECT count(*) FROM messages")" "verify --full passes from $d, every message decrypted"
	[ "$rc" -eq 0 ] || sed 's/^/# /' "$H_RUN/full-$d.err" | head -20
done

# A password added on A opens on B (one secrets key).
D=$A pv_dovecot_account erin
"$PV" --data "$B" --json harvest --once --account erin >"$H_RUN/erin.json" 2>"$H_RUN/erin.err"
h_is "$? $(maildir_count erin)" "0 0" "an account added on A (its password sealed there) is harvested by B"
h_is "$(sql "SELECT count(*) FROM messages m JOIN accounts a ON a.id = m.account_id WHERE a.name = 'erin'")" 15 \
	"…all of its messages archived"
# A machine whose leases the other always won may not have signed yet:
# one more message, harvested by A alone, makes both signers' records
# certain (B signed for erin above).
(cd "$H_RUN/mail-erin" && cp -L "$(ls ./*.eml | head -1)" "$H_RUN/one-more.eml")
printf 'X-Once-More: yes\r\n' | cat - "$H_RUN/one-more.eml" >"$H_RUN/once-more.eml"
h_seed dovecot alice "$H_RUN/once-more.eml" >/dev/null
"$PV" --data "$A" harvest --once --account alice >/dev/null 2>&1
h_check "both machines' signers signed, each keeping its own record" \
	test -s "$A/keys/sign/archive.signed" -a -s "$B/keys/sign/archive.signed"
h_fails "a key rotation on the shared archive without --identity-out is refused, naming it" 2 'identity-out' \
	"$PV" --data "$A" checkpoint --rotate-key
"$PV" --data "$A" --json verify >"$H_RUN/last.json" 2>&1
h_is "$?" 0 "verify passes from A at the end"

pg_stop
