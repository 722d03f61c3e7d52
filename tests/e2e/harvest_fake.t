#!/bin/bash
# Harvest against the scripted fake POP3 server: the faults no real server
# produces. Each guards one way of losing or corrupting mail:
#   bare LF            stored exactly as received, not "repaired"
#   missing terminator / reply cut mid-line
#                      never archived half, never deleted; the rest of the
#                      mailbox is not held hostage by one broken message,
#                      and the next run completes
#   drop before +OK to QUIT
#                      nothing counted as deleted; the next run settles it
#   garbage CAPA, size lie, duplicate UIDLs, [IN-USE], [SYS/TEMP]
#   a message over the size cap on an EXPIRE 0 server
#                      RETR of it marks it retrieved; QUIT would expire it
#                      unarchived, so that session must end without QUIT
#   a second harvest while one runs: refused
set -u
. "$(dirname "$0")/lib/harness.sh"
. "$(dirname "$0")/lib/popvault.sh"
h_init
h_plan 98

BASIC=$H_SRC/tests/data/mail/basic
FAKE=$H_SRC/tests/data/fake
printf 'pw\n' >"$H_RUN/pw"

# setup NAME SCRIPT [account add options]: a fake server, a fresh archive
# and an account on it (STLS; implicit TLS with TLSMODE=implicit). Sets D,
# TR (the server's transcript).
setup() {
	local name=$1 script=$2 tls=${TLSMODE:-starttls}
	shift 2
	if [ "$tls" = implicit ]; then
		h_fake "$name" "$script" --tls
	else
		h_fake "$name" "$script"
	fi
	pv_init "$H_RUN/data-$name"
	pv account add acct --host localhost --port "$PORT" --tls "$tls" --auth user \
		--user alice --password-file "$H_RUN/pw" --ca-file "$CA" "$@" >/dev/null
}
# Per connection: "N: client lines joined by |" from the transcript.
sessions() {
	python3 - "$TR" <<'EOF'
import sys
cur, out = None, {}
for l in open(sys.argv[1], errors="replace"):
    l = l.rstrip("\n")
    if l.startswith("# session ") and l.split()[3] == "connect":
        cur = int(l.split()[2]); out[cur] = []
    elif l.startswith("C: ") and cur is not None:
        out[cur].append(l[3:].split(" ")[0] + ("" if not l[3:].startswith(("RETR", "DELE")) else " " + l[3:].split(" ")[1]))
for k in sorted(out):
    print("%d: %s" % (k, "|".join(out[k])))
EOF
}
# Every message the server committed as deleted was archived in full
# before (UIDLs are "fake-<file name>").
deleted_were_archived() {
	local u a
	a=$(pv_archived)
	for u in $(grep '^# commit' "$TR" | sed 's/.*(uidls: \(.*\))/\1/'); do
		printf '%s\n' "$a" | grep -qx "$(h_hashes "$BASIC/${u#fake-}")" || return 1
	done
}
# Messages committed as deleted by the server (from "# commit" lines).
committed() { grep '^# commit' "$TR" | sed 's/.*deleted: \([0-9 ]*\) (.*/\1/' | tr ' ' '\n' | grep -c . ; }

# ---- bare LF: stored exactly as received ----
setup barelf "$FAKE/bare_lf.pop"
pv_harvest
h_is "$RC $(pv_result fetched)" "0 5" "bare LF: the harvest archives all 5 messages"
python3 -c 'import sys; sys.stdout.buffer.write(open(sys.argv[1],"rb").read().replace(b"\r\n", b"\n"))' \
	"$BASIC/01-plain.eml" >"$H_RUN/01-lf.eml"
h_is "$(pv show 1 --raw | sha256sum | cut -d' ' -f1)" "$(h_hashes "$H_RUN/01-lf.eml")" \
	"bare LF: message 1 is stored with the bare LFs the server sent"
h_is "$(committed)" 5 "bare LF: all 5 deleted upstream after the commit"

# ---- missing terminator (first session only) ----
setup noterm "mailbox $BASIC
session
on RETR 1
  send +OK
  message 1 noterm
  close
"
pv_harvest
h_like "$ERR$OUT" 'message 1 .*left upstream.*(INCOMPLETE|closed|lost)' "no terminator: reported"
h_check "no terminator: message 1 not archived, nothing half-stored" \
	eval '! pv_archived | grep -qx "$(h_hashes "$BASIC/01-plain.eml")" && [ -z "$(ls "$D/tmp")" ]'
h_like "$(sessions | sed -n 1p)" '^1: ' "no terminator: the broken session is the first"
h_check "no terminator: the broken session sent no QUIT" eval '! sessions | sed -n 1p | grep -q QUIT'
h_check "no terminator: every message deleted upstream was archived in full first" deleted_were_archived
h_is "$(pv_archived | comm -23 - <(h_hashes "$BASIC"/*) | wc -l)" 0 \
	"no terminator: everything archived is a complete message"
h_is "$(pv_count)" 4 "no terminator: the other 4 messages are not held hostage (archived in a fresh session)"
pv_harvest
h_is "$(pv_archived)" "$(h_hashes "$BASIC"/*)" "no terminator: the next run completes, each message archived once"
h_is "$(committed)" 5 "no terminator: after the next run all 5 are deleted upstream"

# ---- the same under LOGIN-DELAY 2: the fresh session waits for it ----
setup notermdelay "mailbox $BASIC
capa UIDL
capa USER
capa RESP-CODES
capa PIPELINING
capa STLS
capa LOGIN-DELAY 2
session
on RETR 1
  send +OK
  message 1 noterm
  close
"
t0=$(date +%s%N)
pv_harvest
ms=$((($(date +%s%N) - t0) / 1000000))
h_is "$RC $(pv_count)" "0 4" "no terminator, LOGIN-DELAY 2: the other 4 archived in a fresh session"
h_like "$ms" '^[2-9][0-9]{3}$' "no terminator, LOGIN-DELAY 2: the fresh session waited for the delay (${ms} ms)"
h_is "$(grep -c '^# session .* connect' "$TR")" 2 "no terminator, LOGIN-DELAY 2: no third login to check the deletions"

# ---- reply cut mid-line (first session only) ----
setup cut "mailbox $BASIC
session
on RETR 2
  send +OK 221 octets
  message 2 cut=100
  close
"
pv_harvest
# (The reset that follows the cut may also lose replies read before it:
# which message the fresh session skips then varies; what may not vary is
# that nothing partial is archived and nothing unarchived deleted.)
h_is "$(pv_archived | comm -23 - <(h_hashes "$BASIC"/*) | wc -l)" 0 \
	"cut mid-line: everything archived is a complete message"
h_is "$(pv_sql 'SELECT count(*) FROM messages WHERE size = 100')" 0 \
	"cut mid-line: no 100-byte fragment in the catalog"
h_check "cut mid-line: every message deleted upstream was archived in full first" deleted_were_archived
pv_harvest
h_is "$(pv_archived)" "$(h_hashes "$BASIC"/*)" "cut mid-line: the next run completes, each message archived once"

# ---- the connection drops after QUIT, before +OK (first session only) ----
setup dropquit "mailbox $BASIC
session
on QUIT
  close
"
pv_harvest
h_is "$RC" 1 "drop before QUIT +OK: the run fails"
h_like "$ERR" 'QUIT was not acknowledged' "drop before QUIT +OK: ... saying the QUIT got no answer"
h_is "$(pv_result deleted)" 0 "drop before QUIT +OK: nothing counted as deleted"
h_is "$(pv_count)" 5 "drop before QUIT +OK: the 5 messages are archived"
h_is "$(grep -c '^# commit' "$TR")" 0 "drop before QUIT +OK: the server committed nothing"
pv_harvest
h_is "$RC $(pv_result fetched reconciled deleted)" "0 0 5 5" \
	"drop before QUIT +OK: the next run deletes them without archiving them again"
h_is "$(pv_archived)" "$(h_hashes "$BASIC"/*)" "drop before QUIT +OK: each archived exactly once"

# ---- a server without UIDL: messages known by their content ----
NOUIDL="mailbox $BASIC
capa USER
capa STLS
on UIDL.*
  send -ERR unknown command
"
setup nouidl "$NOUIDL"
pv_harvest
h_is "$RC $(pv_result fetched deleted) $(committed)" "0 5 5 5" "no UIDL: harvested and deleted"
h_is "$(pv_archived)" "$(h_hashes "$BASIC"/*)" "no UIDL: exact bytes"
setup nouidldrop "$NOUIDL
session
on QUIT
  close
"
pv_harvest
h_is "$RC $(pv_count) $(grep -c '^# commit' "$TR")" "1 5 0" "no UIDL, drop before QUIT +OK: archived, nothing deleted"
h_like "$ERR" 'QUIT was not acknowledged' "no UIDL, drop before QUIT +OK: ... saying the QUIT got no answer"
pv_harvest
h_is "$RC $(pv_result fetched reconciled deleted)" "0 0 5 5" "no UIDL: the next run recognises them by content and deletes them"
h_is "$(pv_archived)" "$(h_hashes "$BASIC"/*)" "no UIDL: each archived exactly once"

# ---- garbage CAPA (no STLS in it: implicit TLS) ----
TLSMODE=implicit setup garbage "$FAKE/garbage_capa.pop"
pv_harvest
h_is "$RC $(pv_result fetched deleted)" "0 5 5" "garbage CAPA: the harvest still works"
h_is "$(pv_archived)" "$(h_hashes "$BASIC"/*)" "garbage CAPA: exact bytes"

# ---- LIST size lie ----
# (issue 16, finding 8: fewer bytes than LIST announced may be a message
# cut short: not archived, not deleted; more is archived as received)
setup sizelie "$FAKE/size_lie.pop"
pv_harvest
h_is "$RC $(pv_result fetched failed)" "0 4 1" "size lie: 4 harvested, the one short of its LIST size not"
h_is "$(pv_archived)" "$(h_hashes "$BASIC"/0[2-5]*)" \
	"size lie: LIST bigger than what arrived: not archived; LIST smaller: the bytes received are archived"
h_like "$OUT" 'message 1 .*318 bytes arrived where the server announced 500' "size lie: the short one is reported"
h_check "size lie: message 1 never deleted, nor QUIT in a session that retrieved it" \
	eval '! grep "^# commit" "$TR" | grep -q "fake-01-plain" && ! sessions | grep "RETR 1" | grep -q QUIT'

# ---- a sender's fake terminator (issue 16, finding 8) ----
# Message 6 holds "\n.\n" and seven "+OK" lines; a lax server sends them
# unstuffed. In a CRLF reply ".LF" is data: the archived copy is whole,
# byte for byte, and only then deleted.
setup fakeend "$FAKE/fake_terminator.pop"
pv_harvest
h_is "$RC $(pv_result fetched deleted)" "0 6 6" "fake terminator, CRLF server: all 6 archived and deleted"
h_is "$(pv_archived)" "$(h_hashes "$BASIC"/* "$FAKE/fake_terminator.eml")" \
	"fake terminator, CRLF server: message 6 archived whole, not cut at its \\n.\\n"
deleted6() { grep '^# commit' "$TR" | grep -q 'fake-fake_terminator.eml'; }
h_check "fake terminator, CRLF server: deleted upstream only once archived whole" \
	eval 'deleted6 && pv_archived | grep -qx "$(h_hashes "$FAKE/fake_terminator.eml")"'
# From a bare-LF server that does not stuff, ".LF" does end it: it arrives
# short of its LIST size, so it is not archived, never deleted, and the
# forged "+OK" lines never answer a DELE or QUIT (no QUIT in that session).
setup fakeendlf "$FAKE/fake_terminator_lf.pop"
pv_harvest
h_like "$OUT" 'message 6 .*arrived where the server announced' "fake terminator, bare-LF server: reported"
h_is "$(pv_count) $(committed)" "5 5" "fake terminator, bare-LF server: the other 5 archived and deleted"
h_check "fake terminator, bare-LF server: message 6 not archived (not even cut), never deleted" \
	eval '! deleted6 && [ "$(pv_archived)" = "$(h_hashes "$BASIC"/*)" ]'
h_check "fake terminator, bare-LF server: no QUIT in the session that retrieved it" \
	eval '! sessions | grep "RETR 6" | grep -q QUIT'

# ---- duplicate UIDLs, different content ----
setup dupuidl "$FAKE/dup_uidl.pop"
pv_harvest
h_is "$RC $(pv_result fetched deleted)" "0 5 5" "duplicate UIDLs: every message fetched and deleted"
h_is "$(pv_archived)" "$(h_hashes "$BASIC"/*)" "duplicate UIDLs: both messages sharing a UIDL are archived"
pv_harvest
h_is "$(pv_result fetched reconciled residue)" "0 0 0" "duplicate UIDLs: nothing twice, no false residue"

# ---- duplicate UIDLs, one of the two over the size cap: the one deleted
# is not "still upstream" because the other keeps the UIDL listed ----
setup dupcap "mailbox $BASIC
uidl 2 same-uidl
uidl 3 same-uidl
"
printf '[harvest]\nmessage_max = 2048\n' >>"$D/popvault.conf"
pv_harvest
h_is "$RC $(pv_result fetched skipped residue)" "0 4 1 0" "duplicate UIDL, one over the cap: no false residue"
pv_harvest
h_is "$RC $(pv_result fetched residue) $(pv_count)" "0 0 0 4" "duplicate UIDL, one over the cap: nothing twice on the next run"

# ---- [IN-USE] on the first login, then fine ----
setup inuse "$FAKE/in_use.pop"
pv_harvest
h_is "$RC" 1 "[IN-USE]: the run fails"
h_like "$ERR$OUT" 'IN-USE' "[IN-USE]: the reason is shown"
h_is "$(pv_count)" 0 "[IN-USE]: nothing archived"
pv_harvest
h_is "$RC $(pv_result fetched deleted)" "0 5 5" "[IN-USE]: the next run harvests"

# ---- [SYS/TEMP] ----
setup systemp "$FAKE/sys_temp.pop"
pv_harvest
h_like "$RC $ERR$OUT" '^1 .*SYS/TEMP' "[SYS/TEMP]: a failed run naming the temporary error"
h_check "[SYS/TEMP]: nothing retrieved or deleted" eval '! grep -Eq "^C: (RETR|DELE)" "$TR"'

# ---- over the size cap, with a LIST that lies small, on an EXPIRE 0 server ----
# Message 3 (3772 bytes) is announced as 100 bytes; the cap is 2048. Its
# RETR hits the cap after the server sent it all: it counts as retrieved,
# and on EXPIRE 0 a QUIT in that session would delete it unarchived.
setup expire0cap "mailbox $BASIC
capa UIDL
capa USER
capa RESP-CODES
capa PIPELINING
capa STLS
capa EXPIRE 0
size 3 100
"
printf '[harvest]\nmessage_max = 2048\n' >>"$D/popvault.conf"
pv_harvest
h_like "$ERR$OUT" 'larger than|cap' "EXPIRE 0 + over the cap: reported"
h_check "EXPIRE 0 + over the cap: message 3 not archived" \
	eval '! pv_archived | grep -qx "$(h_hashes "$BASIC/03-longline.eml")"'
h_check "EXPIRE 0 + over the cap: no QUIT in a session that retrieved message 3" \
	eval '! sessions | grep "RETR 3" | grep -q QUIT'
h_check "EXPIRE 0 + over the cap: message 3 never deleted" \
	eval '! grep "^# commit" "$TR" | grep -q "fake-03-longline"'
h_is "$(pv_count)" 4 "EXPIRE 0 + over the cap: the other 4 archived"
h_is "$(committed)" 4 "EXPIRE 0 + over the cap: ... and deleted"
pv_harvest
h_is "$(pv_count) $(pv_result fetched)" "4 0" "EXPIRE 0 + over the cap: the next run archives nothing twice"

# ---- the same with EXPIRE 5, and with an EXPIRE line that does not parse:
# any EXPIRE but NEVER lets QUIT start the clock on what was retrieved
# (GNU pop3d marks it at QUIT, RSET or not, and deletes it n days later),
# and a garbled value is taken as 0, not as "never" ----
for ex in "EXPIRE 5" "EXPIRE soon"; do
	setup "cap-${ex#EXPIRE }" "mailbox $BASIC
capa UIDL
capa USER
capa RESP-CODES
capa PIPELINING
capa STLS
capa $ex
size 3 100
"
	printf '[harvest]\nmessage_max = 2048\n' >>"$D/popvault.conf"
	pv_harvest
	h_check "$ex + over the cap: no QUIT in a session that retrieved message 3" \
		eval '! sessions | grep "RETR 3" | grep -q QUIT'
	h_is "$(pv_count) $(committed)" "4 4" "$ex + over the cap: the other 4 archived and deleted"
	h_check "$ex + over the cap: message 3 never deleted" \
		eval '! grep "^# commit" "$TR" | grep -q "fake-03-longline"'
done

# ---- keep-upstream with a garbled EXPIRE: as for EXPIRE 0, never QUIT ----
setup keepgarbled "mailbox $BASIC
capa UIDL
capa USER
capa STLS
capa EXPIRE later
" --keep-upstream
pv_harvest
h_is "$RC $(pv_result fetched deleted)" "0 5 0" "keep-upstream, garbled EXPIRE: archived, nothing deleted"
h_check "keep-upstream, garbled EXPIRE: no QUIT, no DELE sent" eval '! grep -Eq "^C: (QUIT|DELE)" "$TR"'

# ---- a hostile server wasting a worker (issue 16, finding 4) ----
# Over the cap (LIST lies small), the message never ending: the client
# hangs up at the cap instead of reading on (it drained up to 1 GiB), and
# the harvest goes on without it in a fresh session.
setup endless "mailbox $BASIC
size 3 100
session
on RETR 3
  send +OK 100 octets
  message 3 noterm
  message 3 noterm
  message 3 noterm
  sleep 20
"
printf '[harvest]\nmessage_max = 2048\n' >>"$D/popvault.conf"
t0=$(date +%s)
pv_harvest timeout 60
h_is "$RC $(pv_count)" "0 4" "over the cap, never ending: the other 4 archived"
h_like "$(($(date +%s) - t0))" '^[0-9]$' "... at once: the over-cap message is not read to its end"
h_like "$OUT" 'message 3 .*larger than 2048 bytes; left upstream, connection dropped' "... reported as left upstream"
h_check "... no QUIT in the session that retrieved it" eval '! sessions | grep "RETR 3" | grep -q QUIT'

# One byte a second: each arrives before the read timeout (2 s here), so
# only the minimum rate ends it; the next harvest, at full speed, completes.
setup trickle "mailbox $BASIC
session
on RETR 2
  send +OK
  rate 1
  message 2
"
printf '[harvest]\nio_timeout = 2\n' >>"$D/popvault.conf"
t0=$(date +%s)
pv_harvest timeout 60
h_is "$RC $(grep -c '^C: QUIT' "$TR")" "1 0" "one byte a second: the harvest fails, no QUIT sent"
h_like "$ERR$OUT" 'too slow' "... saying the server is too slow"
h_like "$(($(date +%s) - t0))" '^[0-9]$' "... within seconds (the rate is checked every io_timeout)"
h_is "$(grep -c '^# session .* connect' "$TR") $(committed)" "1 0" \
	"... no fresh session without message 2 (the server is slow, not the message), nothing deleted"
pv_harvest timeout 60
h_is "$RC $(pv_archived | wc -l) $(committed)" "0 5 5" "... the next harvest completes"

# Fast enough for the rate, but the session outlives session_max (3 s):
# dropped without QUIT at the limit.
setup deadline "mailbox $BASIC
session
on RETR 3
  send +OK
  rate 400
  message 3
"
printf '[harvest]\nsession_max = 3\nmin_rate = 100\n' >>"$D/popvault.conf"
t0=$(date +%s)
pv_harvest timeout 60
h_is "$RC $(grep -c '^C: QUIT' "$TR") $(committed)" "1 0 0" "session_max: the harvest fails, no QUIT, nothing deleted"
h_like "$ERR$OUT" 'session time limit' "... naming the session's time limit"
h_like "$(($(date +%s) - t0))" '^[3-6]$' "... when the limit is reached"
printf '[harvest]\nsession_max = 600\n' >>"$D/popvault.conf"
pv_harvest timeout 60
h_is "$RC $(pv_archived | wc -l) $(committed)" "0 5 5" "session_max: the next harvest completes"

# Three quarters of session_max (8 s) gone while RETR 32's reply is held
# back: RETRs already in flight (the command stream keeps up to a window of
# them) are received, committed and deleted; no new RETR is sent; QUIT.
h_genmail --count 100 --seed 5 --out "$H_RUN/hundred" --max-attachment 500
rm "$H_RUN/hundred/index.json"
setup softstop "mailbox $H_RUN/hundred
on RETR 32
  sleep 6.5
  builtin
"
printf '[harvest]\nsession_max = 8\n' >>"$D/popvault.conf"
pv_harvest timeout 60
read -r f d rest <<<"$(pv_result fetched deleted remaining)"
h_is "$RC $((f == d)) $((f + rest))" "1 1 100" "3/4 of session_max: what was received is archived and deleted, the rest left"
h_check "... some received ($f), some never asked for ($rest)" test "$f" -ge 32 -a "$rest" -gt 0
h_is "$(grep -c '^C: RETR' "$TR")" "$f" "... no RETR sent after the limit beyond those received"
h_like "$ERR" 'session time limit reached; what was archived before is deleted upstream' "... saying why"
h_is "$(grep -c '^C: QUIT' "$TR") $(committed)" "2 $f" "... the session ended with QUIT (and one more checked the deletes)"

# ---- keep-upstream on an EXPIRE 0 server: never QUIT ----
setup keep0 "mailbox $BASIC
capa UIDL
capa USER
capa STLS
capa EXPIRE 0
" --keep-upstream
pv_harvest
h_is "$RC $(pv_result fetched deleted)" "0 5 0" "keep-upstream on EXPIRE 0: archived, nothing deleted"
h_check "keep-upstream on EXPIRE 0: no QUIT, no DELE sent" eval '! grep -Eq "^C: (QUIT|DELE)" "$TR"'
pv_harvest
h_is "$(pv_count) $(pv_result fetched)" "5 0" "keep-upstream on EXPIRE 0: nothing archived twice"

# ---- a second harvest while one runs ----
setup lock "mailbox $BASIC
session
on UIDL
  sleep 2
  builtin
"
pv harvest --once >"$H_RUN/first.out" 2>&1 &
first=$!
h_wait_for 10 grep -q '^C: UIDL' "$TR"
pv harvest --once >"$H_RUN/second.out" 2>&1
h_is "$?" 1 "lock: a second harvest on the same archive is refused"
h_like "$(cat "$H_RUN/second.out")" 'another harvest' "lock: ... saying another harvest runs"
wait "$first"
h_is "$?" 0 "lock: the first harvest completes"

# ---- RETR refused (-ERR, no +OK) right after a kept message: the kept
# plaintext of the message before it is what the commit indexes ----
setup refused "mailbox $BASIC
on RETR 2
  send -ERR [SYS/TEMP] not now
"
pv_harvest
h_is "$(pv_result fetched failed)" "4 1" "RETR refused: that message stays upstream, the others are archived"
h_like "$(pv --json search 'subject:quarterly' | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')" '^1$' \
	"RETR refused: the message before it is indexed from its own bytes"
h_is "$(pv verify --full >/dev/null 2>&1; echo $?)" 0 "RETR refused: the archive verifies"
