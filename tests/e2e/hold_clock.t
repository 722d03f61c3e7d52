#!/bin/bash
# Legal holds and disposal across a clock that steps back (a governance
# review's finding): a disposal run days ahead records the holds in force
# and their members (holds-sha256 in its intent); the clock comes back,
# new mail joins a hold while a second disposal is planned. The member
# joined after the first intent, though its clock time is earlier: verify
# must not call the first intent's hold records tampered with. Members are
# ordered by the audit log (hold_members.added_seq), not by the clock.
set -u
. "$(dirname "$0")/lib/harness.sh"
. "$(dirname "$0")/lib/popvault.sh"
h_init
h_plan 6

h_genmail --count 8 --seed 9 --out "$H_RUN/mail" --max-attachment 2000
mkdir "$H_RUN/first"
cp "$H_RUN"/mail/0000[1-6].eml "$H_RUN/first/"
h_dovecot_start --seed alice="$H_RUN/first"
pv_harvested "$H_RUN/data"
printf 'default: retain 1d\n' >"$H_RUN/1d.policy"
pv policy propose "$H_RUN/1d.policy" >/dev/null
pv_glass pv >/dev/null 2>&1
# "Board minutes" is held; the lawfirm hold has no member yet (its mail
# comes later).
pv hold add board --query 'subject:"Board minutes"' >/dev/null
pv hold add lawfirm --query 'from:karen.taylor@lawfirm.example' >/dev/null

# Three days ahead: a disposal run (everything but the held message).
pv_at 3 dispose >/dev/null 2>&1
pv_glass pv_at 3 >"$H_RUN/d1.out" 2>&1
h_like "$(cat "$H_RUN/d1.out")" "disposed of 5 messages" "3 days ahead: 5 disposed of, 1 held"

# Back to now: the lawfirm's mail arrives; the board hold is released and
# a second run disposes of its message, its plan recording the new member
# of the lawfirm hold at a clock time before the first run's intent.
h_seed dovecot alice "$H_RUN/mail/00007.eml" >/dev/null
pv harvest --once >/dev/null 2>&1
pv hold release board >/dev/null 2>&1
pv_glass pv >/dev/null 2>&1
h_is "$(pv --json hold list | h_json '[h["name"] for h in d]')" "['lawfirm']" \
	"back to now: the board hold released"
pv_at 2 dispose >/dev/null 2>&1
pv_glass pv_at 2 >"$H_RUN/d2.out" 2>&1
h_like "$(cat "$H_RUN/d2.out")" "disposed of 1 message" "2 days ahead (behind the first run): the released message disposed of"
h_is "$(pv_sql "SELECT count(*) FROM hold_members m JOIN holds h ON h.id = m.hold_id WHERE h.name = 'lawfirm'")" 1 \
	"the lawfirm hold has its member, recorded by the second plan"
h_is "$(pv_sql "SELECT CASE WHEN m.added_at < d.intent_at THEN 1 ELSE 0 END FROM hold_members m, disposals d
	WHERE d.id = 1 AND m.hold_id = (SELECT id FROM holds WHERE name = 'lawfirm')")" 1 \
	"…at a clock time before the first run's intent"

pv verify >"$H_RUN/v.out" 2>&1
rc=$?
h_diag "$(grep -E '^FAIL' "$H_RUN/v.out" | head -5)"
h_is "$rc" 0 "verify passes: the member joined after the first intent, by the audit log's order"
