#!/bin/bash
# Legal holds through the binary: placed by search query on mail harvested
# from Dovecot (counted against the generator's index), covering mail
# harvested later, blocking disposal until released (a release takes effect
# only once approved: the two-person rule), listed, audited, and refusing
# bad names and queries without storing anything.
set -u
. "$(dirname "$0")/lib/harness.sh"
. "$(dirname "$0")/lib/popvault.sh"
h_init
h_plan 24

h_genmail --count 30 --seed 5 --out "$H_RUN/mail" --max-attachment 20000
h_dovecot_start --seed alice="$H_RUN/mail"
# ids (1-based, archive order = file order) of generated messages matching a python predicate on m
ids() { python3 -c '
import json,sys
d=json.load(open(sys.argv[1]))["messages"]
p=lambda m: '"$1"'
print(" ".join(str(i+1) for i,m in enumerate(d) if p(m)))' "$H_RUN/mail/index.json"; }

pv_harvested "$H_RUN/data"
h_is "$(pv_count)" 30 "30 messages archived"

pv hold add broken --query 'from:(' >/dev/null 2>"$H_RUN/err"
h_is $? 2 "a bad query is a usage error"
h_like "$(cat "$H_RUN/err")" 'hold query' "…saying it is the query"
h_fails "a name with control characters is refused, saying what a name may be" 2 \
	'^popvault: a hold name is 1-128 bytes of text without control characters' pv hold add $'bad\033[2Jname' --query 'x'
h_is "$(pv_sql 'SELECT count(*) FROM holds')" 0 "…and nothing is stored"

carol=$(ids 'm["from_addr"] == "carol.compliance@sec.gov"')
dan=$(ids '"dan.enforcement@sec.gov" in [m["from_addr"]] + m["to_addrs"] + m["cc_addrs"]')
out=$(pv --json hold add carol --query 'from:carol.compliance@sec.gov' --note 'letter of 2026-11-01')
h_is "$(echo "$out" | h_json 'd["messages"]')" "$(echo $carol | wc -w)" "hold 'carol' covers the $(echo $carol | wc -w) message(s) from Carol"
out=$(pv --json hold add 'Dan v. Example Corp' --query 'participant:dan.enforcement@sec.gov')
h_is "$(echo "$out" | h_json 'd["messages"]')" "$(echo $dan | wc -w)" "hold 'Dan v. Example Corp' covers the $(echo $dan | wc -w) messages Dan took part in"
h_is "$(pv_sql "SELECT group_concat(message_id, ' ') FROM (SELECT message_id FROM hold_members m JOIN holds h ON h.id = m.hold_id WHERE h.name = 'carol' ORDER BY 1) x")" \
	"$carol" "…exactly those messages are recorded"
h_fails "a second active hold with the same name is refused, naming it" 1 \
	"^popvault: a hold named 'carol' is already active" pv hold add carol --query 'subject:x'
pv --json hold list >"$H_RUN/list.json"
h_is "$(h_json '[(h["name"], h["messages"], h["placed_by"], h["released_at"]) for h in d]' <"$H_RUN/list.json")" \
	"[('carol', $(echo $carol | wc -w), 'cli:root', None), ('Dan v. Example Corp', $(echo $dan | wc -w), 'cli:root', None)]" \
	"hold list --json: both holds, who placed them, still active"
h_like "$(pv hold list)" 'note: +letter of 2026-11-01' "hold list shows the note"

# Mail harvested later that matches the query is held too.
h_seed dovecot alice "$H_RUN/mail/$(printf %05d "${carol%% *}").eml" --as 1900000000.M1P1.later >/dev/null
pv harvest --once >/dev/null 2>&1
h_is "$(pv_count)" 31 "a later message from Carol is archived as 31"
printf 'default: retain 30d\n' >"$H_RUN/30d.policy"
pv policy propose "$H_RUN/30d.policy" >/dev/null
pv_glass pv >/dev/null 2>&1
pv_at 65 --json dispose --dry-run >"$H_RUN/dry1.json"
held=$(h_json '" ".join(str(i["id"]) for i in d["items"] if i["action"] == "held")' <"$H_RUN/dry1.json")
want=$(printf '%s\n' $carol $dan 31 | sort -n -u | tr '\n' ' ' | sed 's/ $//')
h_is "$held" "$want" "day 65: every message under either hold is held, 31 included"
h_is "$(h_json '[i["reason"] for i in d["items"] if i["id"] == 31][0]' <"$H_RUN/dry1.json")" \
	"held by matter carol" "…31 by matter carol"

# Released: Carol's mail goes (unless Dan's hold covers it too).
h_fails "releasing an unknown hold is an error that names it" 1 "^popvault: no active hold named 'nobody'" \
	pv hold release nobody
pv hold release carol >/dev/null
h_is "$(pv hold list | grep -c '^carol$')" 1 "a proposed release leaves the hold in force"
pv_glass pv >"$H_RUN/rel.out" 2>/dev/null
h_like "$(cat "$H_RUN/rel.out")" "hold 'carol' released" "hold 'carol' released once approved"
h_is "$(pv hold list | grep -c '^carol$')" 0 "hold list no longer shows it"
h_like "$(pv --json hold list --all | h_json '[(h["name"], h["released_by"]) for h in d if h["released_at"]]')" \
	"^\[\('carol', 'cli:root'\)\]$" "hold list --all shows who released it"
pv_at 65 dispose >/dev/null 2>&1
pv_glass pv_at 65 >"$H_RUN/d.out" 2>&1
h_is $? 0 "dispose on day 65"
left=$(printf '%s\n' $dan | sort -n -u | tr '\n' ' ' | sed 's/ $//')
h_is "$(pv_sql "SELECT group_concat(id, ' ') FROM (SELECT id FROM messages WHERE disposed_at IS NULL ORDER BY id) x")" \
	"$left" "only the messages Dan's hold covers are left"
h_is "$(pv_at 65 show "${dan%% *}" --raw | sha256sum | cut -d' ' -f1)" \
	"$(sha256sum <"$H_RUN/mail/$(printf %05d "${dan%% *}").eml" | cut -d' ' -f1)" "held mail reads back byte for byte"

# Audited: placing and releasing, the query kept as personal data beside the log.
h_is "$(pv_sql "SELECT group_concat(type, ' ') FROM (SELECT type FROM audit_event WHERE type LIKE 'hold-%' ORDER BY seq) x")" \
	"hold-place hold-place hold-release" "audit log: two placed, one released"
h_is "$(pv_sql "SELECT count(*) FROM audit_personal WHERE CAST(data AS TEXT) LIKE '%participant:dan.enforcement@sec.gov%'") $(pv_sql "SELECT count(*) FROM tlog_leaf WHERE CAST(data AS TEXT) LIKE '%dan.enforcement%'")" \
	"1 0" "the query is in the audit side table, not in any log leaf"
