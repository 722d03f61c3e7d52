#!/bin/bash
# Harvest faults against a real Dovecot, each guarding the no-loss rule:
#   [IN-USE] (pop3_lock_session, a second session holds the mailbox)
#   the connection killed mid-RETR of a big message (doveadm kick)
#   LIST sizes that lie (maildir W=) both ways around the size cap
#   messages over the size cap ([harvest] message_max)
#   duplicate UIDLs (pop3_reuse_xuidl) with different content
#   --keep-upstream: nothing deleted, nothing archived twice
# Dovecot answers [IN-USE] only after a 10 s lock wait, so that case runs
# in the background while the others run.
set -u
. "$(dirname "$0")/lib/harness.sh"
. "$(dirname "$0")/lib/popvault.sh"
h_init
h_plan 31

M=$H_RUN/mail
h_genmail --count 12 --seed 21 --out "$M" --max-attachment 3000
h_dovecot_start --user alice:alicepw --user bob:bobpw \
	--user 'carol:carolpw:userdb_pop3_reuse_xuidl=yes' --user dave:davepw \
	--user 'erin:erinpw:userdb_pop3_lock_session=yes' \
	--conf 'auth_failure_delay = 0'
# newdata NAME USER [account add options]: a fresh archive with one account.
newdata() {
	pv_init "$H_RUN/data-$1"
	pv_dovecot_account "${@:2}"
}
# Sealed messages stored (blob files, pack records), read without popvault.
blobs() { pv_stored_records; }

# ---- [IN-USE]: a second session holds erin's mailbox (background) ----
h_seed dovecot erin "$M/00001.eml" "$M/00002.eml" >/dev/null
# The holder keeps its session until told (the file "release") or 40 s.
python3 - "$DOVECOT_PORT" "$H_RUN/release" >"$H_RUN/holder.out" 2>&1 <<'EOF' &
import os, poplib, sys, time
p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=60)
p.user("erin"); p.pass_("erinpw")
print("holding", flush=True)
t = time.time() + 40
while not os.path.exists(sys.argv[2]) and time.time() < t:
    time.sleep(0.05)
p.quit()
EOF
holder=$!
h_wait_for 10 grep -q holding "$H_RUN/holder.out"
newdata inuse erin
DIN=$D
pv --json harvest --once >"$H_RUN/inuse.json" 2>"$H_RUN/inuse.err" &
inuse=$!

# ---- the connection killed in the middle of a big message's RETR ----
# Five small messages, a 40 MB one, five more. When the big one's record is
# being written, the harvester is stopped, Dovecot kicks the session, and
# it continues: the message arrives cut short.
python3 - "$H_RUN/big.eml" <<'EOF'
import base64, os, sys
body = base64.encodebytes(os.urandom(30 * 1024 * 1024)).replace(b"\n", b"\r\n")
open(sys.argv[1], "wb").write(b"From: big@example.org\r\nTo: alice@example.org\r\n"
    b"Subject: big\r\nMessage-ID: <big@example.org>\r\n\r\n" + body)
EOF
h_seed dovecot alice "$M/00001.eml" "$M/00002.eml" "$M/00003.eml" "$M/00004.eml" "$M/00005.eml" >/dev/null
h_seed dovecot alice "$H_RUN/big.eml" >/dev/null
h_seed dovecot alice "$M/00006.eml" "$M/00007.eml" "$M/00008.eml" "$M/00009.eml" "$M/00010.eml" >/dev/null
newdata kick alice
python3 - "$D" "$PV" "$(h__sbin doveadm)" "$DOVECOT_CONF" >"$H_RUN/kick.out" 2>&1 <<'EOF'
import os, signal, subprocess, sys, time
d, pv, doveadm, conf = sys.argv[1:5]
h = subprocess.Popen([pv, "--data", d, "--json", "harvest", "--once"],
                     stdout=open(d + "/../kick.json", "w"), stderr=subprocess.STDOUT,
                     start_new_session=True)
tmp = os.path.realpath(d + "/tmp") + "/"

def spilling():
    """The big record's spill file (unnamed, in DIR/tmp) past 2 MB, seen
    through the descriptors of the harvest's processes."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.getsid(int(pid)) != h.pid:
                continue
            for fd in os.listdir("/proc/%s/fd" % pid):
                f = "/proc/%s/fd/%s" % (pid, fd)
                if os.readlink(f).startswith(tmp) and os.stat(f).st_size > 2000000:
                    return True
        except OSError:
            pass
    return False

stopped = False
deadline = time.time() + 30
while h.poll() is None and time.time() < deadline and not stopped:
    if spilling():
        os.killpg(h.pid, signal.SIGSTOP)
        stopped = True
        break
    time.sleep(0.001)
if stopped:
    subprocess.run([doveadm, "-c", conf, "kick", "alice"], stdout=subprocess.DEVNULL)
    time.sleep(0.5)
    os.killpg(h.pid, signal.SIGCONT)
print("stopped-and-kicked" if stopped else "never-caught", "exit", h.wait())
EOF
h_like "$(cat "$H_RUN/kick.out")" '^stopped-and-kicked' "kick: the session was kicked while the big message was arriving"
OUT=$(cat "$H_RUN/data-kick/../kick.json")
h_like "$OUT" 'INCOMPLETE|closed' "kick: the cut message is reported"
h_is "$(maildir_count alice)" 1 "kick: the cut message is still upstream, the 10 others harvested in a fresh session"
h_is "$(pv_count)" 10 "kick: 10 archived, nothing of the cut message"
h_is "$(ls "$D/tmp" | wc -l) $(blobs)" "0 10" "kick: nothing half-stored (no temp file, one blob per archived message)"
pv_harvest
h_is "$RC $(pv_result fetched)" "0 1" "kick: the next run completes"
h_is "$(pv_archived)" "$(h_hashes "$M"/0000[1-9].eml "$M/00010.eml" "$H_RUN/big.eml")" \
	"kick: every message archived exactly once, byte for byte"
h_is "$(maildir_count alice)" 0 "kick: the mailbox is empty"

# ---- LIST sizes that lie, and the size cap ----
# Cap 64 KiB. lie-big: 300 bytes announced as 5 MB (left upstream unread).
# lie-small: 200 KB announced as 100 bytes (read, found over the cap, left).
# over: 100 KB, announced truly (left unread). lie-500: real size, W=500.
python3 - "$H_RUN" <<'EOF'
import sys
d = sys.argv[1]
def msg(name, n):
    body = b"".join(b"line %06d of %s\r\n" % (i, name.encode()) for i in range(n))
    open("%s/%s.eml" % (d, name), "wb").write(
        b"From: x@example.org\r\nSubject: " + name.encode() + b"\r\n\r\n" + body)
msg("lie500", 3); msg("liebig", 10); msg("liesmall", 8000); msg("over", 4000)
EOF
vsize() { python3 -c 'import sys; print(len(open(sys.argv[1],"rb").read()))' "$1"; }
h_seed dovecot bob "$H_RUN/lie500.eml" --as "1500000001.M1P1.lie500,S=$(vsize "$H_RUN/lie500.eml"),W=500" >/dev/null
h_seed dovecot bob "$H_RUN/liebig.eml" --as "1500000002.M1P1.liebig,S=$(vsize "$H_RUN/liebig.eml"),W=5000000" >/dev/null
h_seed dovecot bob "$H_RUN/liesmall.eml" --as "1500000003.M1P1.liesmall,S=$(vsize "$H_RUN/liesmall.eml"),W=100" >/dev/null
h_seed dovecot bob "$H_RUN/over.eml" >/dev/null
h_seed dovecot bob "$M/00011.eml" >/dev/null
h_is "$(h_popcheck --port "$DOVECOT_PORT" --user bob --pass bobpw list | cut -d' ' -f2 | grep -Ex '500|5000000|100' | sort -n | tr '\n' ' ')" \
	"100 500 5000000 " "size lie: Dovecot announces the W= sizes"
newdata lie bob
printf '[harvest]\nmessage_max = 64K\n' >>"$D/popvault.conf"
logins() { grep -c 'Login: user=<bob>' "$DOVECOT_LOG"; }
l0=$(logins)
pv_harvest
# Issue 16, finding 8: lie-500 sends fewer bytes than LIST (and "+OK 500
# octets") announced: it may be cut short, so it is not archived nor
# deleted, and the session is dropped without QUIT.
h_is "$RC $(pv_result fetched skipped failed)" "0 1 3 1" \
	"size lie: 1 archived, 3 over the cap and 1 short of its LIST size left upstream"
h_like "$OUT" 'arrived where the server announced 500' "size lie: the short one is reported"
# Issue 16, finding 4: lie-small is not read to its end once over the
# cap (it was drained, up to 1 GiB): the connection is dropped there and
# a fresh session goes on without it (then one more checks the deletes).
h_like "$OUT" 'larger than 65536 bytes; left upstream, connection dropped' \
	"over the cap despite a small LIST size: the connection is dropped, not drained"
h_is "$(($(logins) - l0))" 4 "... the harvest went on in fresh sessions (4 logins: two dropped, fresh, check)"
h_is "$(pv_archived)" "$(h_hashes "$M/00011.eml")" \
	"size lie: a LIST size smaller than what arrives does not matter; a bigger one does"
h_is "$(maildir_count bob)" 4 "size lie: the 3 over the cap and the short one are still upstream"
h_like "$OUT" 'over the 65536-byte cap' "over the cap by LIST: reported"
h_like "$OUT" 'larger than 65536' "over the cap despite a small LIST size: reported"
pv_harvest
h_is "$RC $(pv_result fetched skipped failed) $(pv_count) $(maildir_count bob)" "0 0 3 1 1 4" \
	"size lie: the next run archives nothing twice, the 4 stay upstream, reported again"

# ---- duplicate UIDLs (X-UIDL reused) with different content ----
for n in 1 2 3; do
	printf 'X-UIDL: shared-uidl\r\nFrom: dup@example.org\r\nSubject: dup %s\r\n\r\nbody %s\r\n' "$n" "$n" >"$H_RUN/dup$n.eml"
done
h_seed dovecot carol "$H_RUN/dup1.eml" "$H_RUN/dup2.eml" "$M/00012.eml" >/dev/null
h_is "$(h_popcheck --port "$DOVECOT_PORT" --user carol --pass carolpw uidl | cut -d' ' -f2 | head -2 | uniq | wc -l)" 1 \
	"duplicate UIDLs: Dovecot lists the shared UIDL twice"
newdata dup carol
pv_harvest
h_is "$RC $(pv_result fetched deleted)" "0 3 3" "duplicate UIDLs: all 3 fetched and deleted"
h_is "$(pv_archived)" "$(h_hashes "$H_RUN/dup1.eml" "$H_RUN/dup2.eml" "$M/00012.eml")" \
	"duplicate UIDLs: both messages sharing the UIDL are archived"
h_is "$(maildir_count carol)" 0 "duplicate UIDLs: the mailbox is empty"
# Later: new content under the old UIDL is a new message; the same bytes
# under the same UIDL are the message already archived.
h_seed dovecot carol "$H_RUN/dup3.eml" "$H_RUN/dup1.eml" >/dev/null
pv_harvest
h_is "$(pv_result fetched reconciled residue) $(pv_count) $(maildir_count carol)" "1 1 0 4 0" \
	"duplicate UIDLs: new content under an old UIDL archived, an old copy not twice, no false residue"

# ---- --keep-upstream ----
h_seed dovecot dave "$M/00001.eml" "$M/00002.eml" "$M/00003.eml" >/dev/null
newdata keep dave --keep-upstream
pv_harvest
h_is "$RC $(pv_result fetched deleted) $(maildir_count dave)" "0 3 0 3" "keep-upstream: archived, nothing deleted"
pv_harvest
h_is "$RC $(pv_result fetched deleted) $(pv_count) $(maildir_count dave)" "0 0 0 3 3" "keep-upstream: a second run archives nothing twice"
h_seed dovecot dave "$M/00004.eml" >/dev/null
pv_harvest
h_is "$(pv_result fetched) $(pv_count) $(maildir_count dave)" "1 4 4" "keep-upstream: new mail is archived, still nothing deleted"

# ---- [IN-USE] results ----
wait "$inuse"
h_is "$?" 1 "[IN-USE]: the harvest fails while another session holds the mailbox"
h_like "$(cat "$H_RUN/inuse.json" "$H_RUN/inuse.err")" 'IN-USE' "[IN-USE]: ... saying so"
D=$DIN
h_is "$(pv_count) $(maildir_count erin)" "0 2" "[IN-USE]: nothing archived or deleted"
touch "$H_RUN/release"
wait "$holder"
pv_harvest
h_is "$RC $(pv_result fetched) $(maildir_count erin)" "0 2 0" "[IN-USE]: once the other session ends, the next run harvests"
h_is "$(pv_archived)" "$(h_hashes "$M/00001.eml" "$M/00002.eml")" "[IN-USE]: exact bytes"
