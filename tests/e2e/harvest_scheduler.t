#!/bin/bash
# The harvest scheduler: accounts harvested in parallel up to [harvest]
# parallel, each in its own process, all committing into one archive; never
# two sessions on one mailbox at once; in the daemon loop, a failing
# account backs off (1, 2, 4... times the base) while the others keep their
# interval, and no account logs in again before the server's LOGIN-DELAY;
# a harvest process that dies is reported and its account harvested
# later; SIGTERM stops the daemon.
# HARVEST_SCHEDULER_RACES=N sets how many fresh archives take six first
# commits at once (8; the matrix takes fewer).
set -u
. "$(dirname "$0")/lib/harness.sh"
. "$(dirname "$0")/lib/popvault.sh"
h_init
h_plan 29

BASIC=$H_SRC/tests/data/mail/basic
printf 'pw\n' >"$H_RUN/pw"
addacct() { # NAME PORT CA [options]
	local name=$1 port=$2 ca=$3
	shift 3
	pv account add "$name" --host localhost --port "$port" --tls starttls --auth user \
		--user alice --password-file "$H_RUN/pw" --ca-file "$ca" "$@" >/dev/null
}
# The first session of each server lingers 1.5 s in UIDL.
SLOW="mailbox $BASIC
session
on UIDL
  sleep 1.5
  builtin
"

# ---- four accounts at once, one archive ----
pv_init "$H_RUN/data-par"
printf '[harvest]\nparallel = 4\nbatch_max = 2\n' >>"$D/popvault.conf"
for n in p1 p2 p3 p4; do h_fake "$n" "$SLOW"; addacct "$n" "$PORT" "$CA"; done
t0=$(date +%s%N)
pv --json harvest --once >"$H_RUN/par.json" 2>"$H_RUN/par.err"
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
h_is "$rc" 0 "parallel: four accounts harvested"
# Under 6 s proves it: one after another, their UIDL waits alone take 6 s
# (with the catalog and packs on servers, a busy machine took 5.06 s).
h_like "$ms" '^([0-9]{1,3}|[1-5][0-9]{3})$' "parallel: the four 1.5 s sessions overlapped (${ms} ms, sequential is over 6 s)"
h_is "$(pv_count)" 20 "parallel: 20 messages in one archive"
h_is "$(pv_archived)" "$(for n in 1 2 3 4; do h_hashes "$BASIC"/*; done | sort)" "parallel: each message archived once, byte for byte"
h_is "$(pv_sql "select count(*), min(id), max(id), count(distinct leaf_index), min(leaf_index), max(leaf_index) from messages")" \
	"20|1|20|20|0|19" "parallel: ids 1..20 and leaves 0..19, no gap, no collision"
h_is "$(pv checkpoint | sed -n 2p)" 20 "parallel: the archive checkpoint covers the 20 leaves"
h_check "parallel: verify passes" eval "pv verify >/dev/null 2>&1"

# ---- first commits of six harvests into a fresh archive, again and again:
# each creates the retention bucket's key unless another did just before
# (a UNIQUE race in the keyring that failed a harvest 1 time in 15) ----
RACES=${HARVEST_SCHEDULER_RACES:-8}
for n in r1 r2 r3 r4 r5 r6; do h_fake "$n" "mailbox $BASIC
"; eval "RPORT_$n=$PORT RCA_$n=$CA"; done
bad=0
for ((i = 1; i <= RACES; i++)); do
	pv_init "$H_RUN/data-race$i"
	printf '[harvest]\nparallel = 6\n' >>"$D/popvault.conf"
	for n in r1 r2 r3 r4 r5 r6; do
		eval "addacct $n \$RPORT_$n \$RCA_$n --keep-upstream"
	done
	pv harvest --once >"$H_RUN/race$i.out" 2>&1 && [ "$(pv_count)" = 30 ] || bad=$((bad + 1))
done
h_is "$bad" 0 "parallel: $RACES fresh archives, 6 first commits at once each, no harvest fails"

# ---- the same mailbox under two accounts: never at once ----
pv_init "$H_RUN/data-same"
printf '[harvest]\nparallel = 4\n' >>"$D/popvault.conf"
h_fake same "mailbox $BASIC
on UIDL
  sleep 1
  builtin
"
addacct same1 "$PORT" "$CA"
addacct same2 "$PORT" "$CA" --keep-upstream
pv --json harvest --once >/dev/null 2>&1
h_is "$?" 0 "same mailbox: both accounts harvested"
h_check "same mailbox: no session started before the previous one ended" python3 - "$TR" <<'EOF'
import sys
open_ = 0
for l in open(sys.argv[1]):
    p = l.split()
    if l.startswith("# session ") and p[3] == "connect":
        open_ += 1
        if open_ > 1:
            sys.exit(1)
    elif l.startswith("# session ") and p[3] == "end:":
        open_ -= 1
EOF

# ---- a harvest process killed mid-session ----
pv_init "$H_RUN/data-kill"
h_fake kill "mailbox $BASIC
session
on UIDL
  sleep 5
  builtin
"
addacct k "$PORT" "$CA"
"$PV" --data "$D" harvest --once >"$H_RUN/kill.out" 2>&1 &
parent=$!
h_wait_for 10 grep -q '^C: UIDL' "$TR"
child=$(pgrep -x -P "$parent" popvault | head -1) # not pv-signer
[ -n "$child" ] && kill -9 "$child"
wait "$parent"
h_is "$?" 1 "killed harvest: the run fails"
h_like "$(cat "$H_RUN/kill.out")" 'died \(signal 9\)' "killed harvest: reported as a harvest process that died"
pv --json harvest --once >"$H_RUN/kill.json" 2>/dev/null
h_is "$? $(pv_count)" "0 5" "killed harvest: the next run archives everything"

# ---- SIGTERM in the middle of a harvest: the chunk in hand is committed
# and deleted with a QUIT, the rest stays upstream for the next run ----
h_genmail --count 40 --seed 51 --out "$H_RUN/term" --max-attachment 3000
rm "$H_RUN/term/index.json"
pv_init "$H_RUN/data-term"
printf '[harvest]\nbatch_max = 4\n' >>"$D/popvault.conf"
h_fake sigterm "mailbox $H_RUN/term
on RETR .*
  rate 50000
  builtin
"
addacct t "$PORT" "$CA"
"$PV" --data "$D" harvest --once >"$H_RUN/term.out" 2>&1 &
parent=$!
h_wait_for 20 eval '[ "$(grep -c "^C: RETR" "$TR")" -ge 8 ]'
kill -TERM "$parent"
wait "$parent"
h_is "$?" 1 "SIGTERM: the run ends early, as a failure"
h_like "$(cat "$H_RUN/term.out")" 'stopped on request' "SIGTERM: ... saying it was stopped"
deleted=$(grep '^# commit' "$TR" | sed 's/.*deleted: \([0-9 ]*\) (.*/\1/' | wc -w)
h_like "$(pv_count) $deleted" '^([4-9]|[1-3][0-9]) \1$' \
	"SIGTERM: the chunks in hand were archived and their deletion committed by QUIT"
pv harvest --once >/dev/null 2>&1
h_is "$? $(pv_archived)" "0 $(h_hashes "$H_RUN"/term/*.eml)" "SIGTERM: the next run archives the rest, each once"

# ---- the daemon: backoff for a failing account, LOGIN-DELAY respected ----
pv_init "$H_RUN/data-daemon"
h_fake good "mailbox $BASIC
"
addacct good "$PORT" "$CA"
h_fake bad "mailbox $BASIC
on PASS .*
  send -ERR [SYS/TEMP] try later
"
addacct bad "$PORT" "$CA"
TRBAD=$TR
h_mailutils_start --login-delay 3 --user carol:carolpw --seed "carol=$BASIC"
printf 'carolpw\n' >"$H_RUN/carol.pw"
pv account add delay --host localhost --port "$MAILUTILS_PORT" --tls starttls \
	--user carol@example.org --password-file "$H_RUN/carol.pw" --ca-file "$MAILUTILS_CA" >/dev/null
"$PV" --data "$D" --json harvest --interval 1 >"$H_RUN/daemon.json" 2>"$H_RUN/daemon.err" &
daemon=$!
h_at_exit "kill -TERM $daemon 2>/dev/null"
sleep 8
kill -TERM "$daemon"
t0=$(date +%s)
wait "$daemon"
rc=$?
unset 'H_AT_EXIT[-1]' # it is gone: its pid must not be signalled at exit
h_is "$rc" 0 "daemon: SIGTERM stops it cleanly"
h_like "$(($(date +%s) - t0))" '^[0-3]$' "daemon: ... within seconds"
nexts() { python3 -c 'import json,sys
print(" ".join(str(d["next_in_s"]) for d in map(json.loads, open(sys.argv[1])) if d["account"] == sys.argv[2]))' "$H_RUN/daemon.json" "$1"; }
h_like "$(nexts bad)" '^1 2 4( 8)?$' "daemon: the failing account backs off 1, 2, 4 s"
h_is "$(grep -c '^# session .* connect' "$TRBAD")" "$(nexts bad | wc -w)" "daemon: ... and logs in only that often"
h_like "$(nexts good)" '^1 1 1 1( 1)*$' "daemon: the healthy account keeps its 1 s interval"
h_like "$(nexts delay)" '^3 3( 3)*$' "daemon: an account with LOGIN-DELAY 3 waits 3 s, never less"
h_check "daemon: ... and never meets [LOGIN-DELAY]" eval '! grep -q "LOGIN-DELAY\]" "$H_RUN/daemon.json"'
h_like "$(pv audit list --type heartbeat | grep -c 'system .*heartbeat')" '^2$' \
	"daemon: signs a heartbeat of both logs when it starts (then every 15 minutes)"

# ---- serve's scheduler and a harvest that waits for its lock ----
# Two accounts one at a time (parallel = 1), every second, each session
# 1.5 s in UIDL: the next is due before the last ends, so serve's
# scheduler never goes a moment without a harvest and never lets the lock
# go of its own. A `harvest --wait` (what the web's "harvest now" runs)
# says it waits (DIR/harvest.want); the scheduler lets the running
# session end and starts no other until the waiting harvest has run.
pv_init "$H_RUN/data-wait"
printf '[harvest]\nparallel = 1\ninterval = 1s\n' >>"$D/popvault.conf"
EVERYSLOW="mailbox $BASIC
on UIDL
  sleep 1.5
  builtin
"
h_fake w1 "$EVERYSLOW"
addacct w1 "$PORT" "$CA"
TRW1=$TR
h_fake w2 "$EVERYSLOW"
addacct w2 "$PORT" "$CA"
TRW2=$TR
"$PV" --data "$D" serve --plain-http --listen 127.0.0.1:0 >"$H_RUN/wait-serve.log" 2>&1 &
serve=$!
h_at_exit "kill -TERM $serve 2>/dev/null"
sessions() { grep -c '^# session .* connect' "$TRW1" "$TRW2" | awk -F: '{n += $2} END {print n}'; }
h_wait_for 60 eval '[ "$(sessions)" -ge 3 ]'
t0=$(date +%s%N)
timeout 90 "$PV" --data "$D" --json harvest --once --wait >"$H_RUN/wait.json" 2>"$H_RUN/wait.err"
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
# Its own two sessions take 3 s and the one it waits for up to 1.5 s more;
# without a way to be let in it waited until --wait gave up (600 s).
h_is "$rc" 0 "serve beside a harvest --wait: the waiting harvest ran" "$(cat "$H_RUN/wait.err")"
h_like "$ms" '^([0-9]{1,4}|[12][0-9]{4})$' "...within seconds, though serve's sessions follow each other without a gap (${ms} ms)"
h_check "...serve's log says it let the waiting harvest go first" \
	grep -q 'a harvest waits for .*harvest.lock; the due harvests let it go first' "$H_RUN/wait-serve.log"
after=$(sessions)
h_check "...and serve's scheduler harvests again after it" \
	h_wait_for 30 eval '[ "$(sessions)" -gt "$after" ]'
kill -TERM "$serve"
h_wait_for 60 eval '! h_pid_alive $serve'
unset 'H_AT_EXIT[-1]'
