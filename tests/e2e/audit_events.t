#!/bin/bash
# The audit log (issue 5): every event type appears after the action that
# causes it, with actor, UTC time, type, object and outcome; personal data
# (queries, upstream user names) is beside the log, never in a leaf; audit
# list filters; the log verifies throughout.
set -u
. "$(dirname "$0")/lib/harness.sh"
. "$(dirname "$0")/lib/popvault.sh"
h_init
h_plan 41

h_genmail --count 8 --seed 5 --out "$H_RUN/mail" --max-attachment 20000
h_dovecot_start --seed alice="$H_RUN/mail"
size() { pv --json audit list | wc -l; }
# types FROM: the types of the entries from seq FROM on, space separated.
types() { pv --json audit list | python3 -c '
import json,sys
print(" ".join(d["type"] for d in map(json.loads, sys.stdin) if d["seq"] >= int(sys.argv[1])))' "$1"; }
# entry SEQ EXPR: a Python expression over the entry d.
entry() { pv --json audit list | python3 -c '
import json,sys
for l in sys.stdin:
    d = json.loads(l)
    if d["seq"] == int(sys.argv[1]): print(eval(sys.argv[2]))' "$1" "$2"; }
# first SEQ TYPE: seq of the first entry of TYPE at or after SEQ.
first() { pv --json audit list --type "$2" | python3 -c '
import json,sys
print(min(d["seq"] for d in map(json.loads, sys.stdin) if d["seq"] >= int(sys.argv[1])))' "$1"; }
me="cli:$(id -un)"

pv_init "$H_RUN/data"
h_is "$(types 0)" "init policy-set" "init: an init entry, then policy version 1"
h_like "$(pv --json audit list | head -1)" \
	"^\{\"seq\":0,\"time\":\"20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z\",\"actor\":\"$me\",\"type\":\"init\",\"object\":\"origin=[^\"]+\",\"outcome\":\"ok\"" \
	"audit list --json: seq, RFC 3339 UTC time, actor, type, object, outcome"

s=$(size)
pv_dovecot_account alice
h_is "$(types $s)" "account-add" "account add: account-add"
h_like "$(entry $s 'd["object"]')" "^account=alice server=localhost:$DOVECOT_TLS_PORT tls=implicit .*verify-cert=yes keep-upstream=no" \
	"…naming the account and its settings"
h_is "$(entry $s 'd["personal"]')" "alice" "…with the upstream user name as personal data"
h_is "$(pv_sql "SELECT count(*) FROM tlog_leaf l JOIN tlog_log g ON g.id = l.log_id WHERE g.name = 'audit' AND instr(l.data, 'alice@') > 0")" 0 \
	"no leaf of the audit log holds personal data"

s=$(size)
pv harvest --once >/dev/null 2>&1
h_is "$(types $s | tr ' ' '\n' | sort -u | tr '\n' ' ')" \
	"harvest-batch upstream-delete upstream-delete-confirmed " \
	"harvest: harvest-batch, upstream-delete, upstream-delete-confirmed"
hb=$(first $s harvest-batch)
ud=$(first $s upstream-delete)
uc=$(first $s upstream-delete-confirmed)
h_check "…in that order: commit, then delete, then the proof that it is gone" \
	test "$hb" -lt "$ud" -a "$ud" -lt "$uc"
h_is "$(entry $hb 'd["object"]+" "+d["actor"]')" \
	"account=alice messages=1-8 count=8 archive-size=8 system" \
	"harvest-batch names the account, message ids and archive log size"
cited=$(entry $ud 'd["object"]' | sed -n 's/.*archive-checkpoint=\([0-9]*\).*/\1/p')
h_check "upstream-delete cites an archive checkpoint that covers the 8 messages" \
	test "${cited:-0}" -ge 8
h_is "$(pv_sql "SELECT count(*) FROM tlog_checkpoint c JOIN tlog_log g ON g.id = c.log_id WHERE g.name = 'archive' AND c.size = $cited")" 1 \
	"…a checkpoint that was signed"
h_is "$(entry $uc 'd["object"]')" "account=alice gone=8" "upstream-delete-confirmed counts what is gone"

# Residue: Dovecot acknowledges DELE and QUIT but cannot delete.
h_seed dovecot bob "$(ls "$H_RUN"/mail/*.eml | head -1)" >/dev/null
M=$(h_maildir dovecot bob)
pv_dovecot_account bob
s=$(size)
chmod 555 "$M/new" "$M/cur"
pv harvest --once --account bob >/dev/null 2>&1
chmod 755 "$M/new" "$M/cur"
h_like "$(types $s)" "upstream-residue" "a delete that did not happen: upstream-residue"
h_like "$(pv --json audit list --type upstream-residue | tail -1)" '"outcome":"failed: still upstream' \
	"…with a failed outcome"

s=$(size)
pv show 3 >/dev/null
h_is "$(types $s)" "view" "show: view"
h_is "$(entry $s 'd["object"]+" "+d["actor"]')" "message=3 $me" "…naming the message and who looked"
pv show 4 --raw >/dev/null
h_is "$(entry $((s + 1)) 'd["object"]')" "message=4 raw=yes" "show --raw: view raw=yes"

s=$(size)
pv search 'from:example' >/dev/null 2>&1
h_is "$(types $s)" "search" "search: search"
h_like "$(entry $s 'd["object"]')" '^results=[0-9]+ shown=[0-9]+ ids-sha256=[0-9a-f]{64}$' \
	"…with the result count and the hash of the result ids"
h_is "$(entry $s 'd["personal"]')" "from:example" "…and the query kept as personal data"

s=$(size)
pv verify >/dev/null 2>&1
h_is "$(types $s)" "verify" "verify: verify"
h_like "$(entry $s 'd["object"]+" -> "+d["outcome"]')" '^full=no problems=0 .* -> ok$' "…with its outcome"

s=$(size)
pv checkpoint --heartbeat >/dev/null
pv checkpoint --heartbeat --log audit >/dev/null
h_is "$(types $s)" "heartbeat heartbeat" "checkpoint --heartbeat: heartbeat (both logs)"

s=$(size)
printf 'default: retain 7y\n' >"$H_RUN/7y.policy"
pv policy set "$H_RUN/7y.policy" >/dev/null
h_is "$(types $s)" "policy-set" "policy set (a longer retention): policy-set"

s=$(size)
printf 'default: retain 30d\n' >"$H_RUN/30d.policy"
pv policy propose "$H_RUN/30d.policy" --reason 'a month is enough' >/dev/null
h_is "$(types $s)" "approval-propose" "policy propose (a shorter one): approval-propose, nothing set"
h_like "$(entry $s 'd["object"]+" | "+d["personal"]')" \
	"^approval=1 kind=policy sha256=$(sha256sum <"$H_RUN/30d.policy" | cut -d' ' -f1) role=admin \| reason: a month is enough" \
	"…naming the approval, the SHA-256 of the file and the role, the reason as personal data"
s=$(size)
pv_glass pv >/dev/null 2>&1
h_is "$(types $s)" "break-glass approval-approve policy-set" \
	"approved alone: break-glass, approval-approve, then policy-set"

s=$(size)
pv hold add case-1 --query 'from:nobody-matches-this' >/dev/null 2>&1
pv hold release case-1 >/dev/null 2>&1
pv_glass pv >/dev/null 2>&1
h_is "$(types $s)" "hold-place approval-propose break-glass approval-approve hold-release" \
	"hold add, release proposed and approved: hold-place, approval-propose, break-glass, approval-approve, hold-release"

s=$(size)
pv checkpoint --log audit --rotate-key >/dev/null
h_is "$(types $s)" "key-rotation key-rotation-note" \
	"checkpoint --rotate-key: key-rotation, then the rotation note signed by the old key"

s=$(size)
pv account remove bob >/dev/null
h_is "$(types $s)" "account-remove" "account remove: account-remove"

s=$(size)
dseq=$s
pv_at 65 dispose >/dev/null 2>&1
pv_glass pv_at 65 >/dev/null 2>&1
h_like "$(types $s)" "^approval-propose break-glass approval-approve dispose-intent .*dispose-done$" \
	"dispose (65 days later), approved: approval-propose, break-glass, approval-approve, dispose-intent ... dispose-done"

s=$(size)
pv_at 66 audit export --out "$H_RUN/a.tar.gz" >/dev/null
h_is "$(types $s)" "audit-export" "audit export: audit-export"
h_is "$(entry $s 'd["personal"]')" "$H_RUN/a.tar.gz" "…the file name kept as personal data"

# Filters.
h_is "$(pv --json audit list --type view | wc -l)" 2 "audit list --type"
h_is "$(pv --json audit list --actor system | python3 -c 'import json,sys; print(set(json.loads(l)["actor"] for l in sys.stdin))')" \
	"{'system'}" "audit list --actor"
h_is "$(pv --json audit list --since "$(pv_date 60 | tr ' ' T)Z" | python3 -c 'import json,sys; print(" ".join(json.loads(l)["type"] for l in sys.stdin))')" \
	"$(types $dseq)" "audit list --since: only the entries from then on"
h_is "$(pv --json audit list --until "$(date -u +%Y-%m-%d)" | wc -l)" "$(pv --json audit list | python3 -c '
import json,sys,datetime
d=datetime.datetime.utcnow().strftime("%Y-%m-%d")
print(sum(1 for l in sys.stdin if (json.loads(l)["time"] or "") [:10] <= d))')" \
	"audit list --until DATE: up to the end of that day"
h_fails "a malformed --since is a usage error that names it" 2 "^popvault: --since: 'yesterday' is not YYYY-MM-DD" \
	pv audit list --since yesterday
h_like "$(pv audit list | head -3)" "^SEQ +TIME +ACTOR +TYPE" "audit list prints a table"

pv_at 66 verify >"$H_RUN/verify.out" 2>&1
h_is $? 0 "the archive and the audit log verify after all of it"
h_like "$(cat "$H_RUN/verify.out")" "warning: heartbeat gap: no audit entry for 9[0-9]{4} minutes, from .* \(seq [0-9]+\) to .* \(seq $dseq\)" \
	"verify reports the gap in the heartbeat before the disposal, 65 days later"
