#!/bin/bash
# A clock that steps back (issue 16, finding 9): NTP, a VM restored from a
# snapshot, a dead RTC battery. With faketime the clock goes 3 days ahead
# for a disposal run, then back: the archive keeps working, no checkpoint
# time goes backwards (a checkpoint signed after the step carries the
# later of now and the last checkpoint's time), the step is an audit
# entry (clock-step), and `verify --full` passes with a note. Before, it
# said "audit log: checkpoint N: time goes backwards" and exited 3 for
# ever.
set -u
. "$(dirname "$0")/lib/harness.sh"
. "$(dirname "$0")/lib/popvault.sh"
h_init
h_plan 16

h_genmail --count 8 --seed 9 --out "$H_RUN/mail" --max-attachment 2000
mkdir "$H_RUN/first" "$H_RUN/later"
cp "$H_RUN"/mail/0000[1-6].eml "$H_RUN/first/"
cp "$H_RUN"/mail/0000[7-8].eml "$H_RUN/later/"
h_dovecot_start --seed alice="$H_RUN/first"
pv_harvested "$H_RUN/data"
h_is "$(pv_count)" 6 "6 messages archived"

printf 'default: retain 1d\n' >"$H_RUN/1d.policy"
pv policy propose "$H_RUN/1d.policy" >/dev/null
pv_glass pv >/dev/null 2>&1
h_is $? 0 "a one-day policy, approved"

# Forward: the disposal run with the clock 3 days ahead.
pv_at 3 dispose >/dev/null 2>&1
pv_glass pv_at 3 >"$H_RUN/d.out" 2>&1
h_like "$(cat "$H_RUN/d.out")" "disposed of 6 messages" "3 days ahead: the 6 expired messages are disposed of"
pv_at 3 checkpoint --heartbeat >/dev/null
ahead=$(pv_at 3 checkpoint --log audit | sed -n 's/^time //p')

# Back: the clock is right again; the appliance goes on.
pv search x >/dev/null
h_is $? 0 "back to now: search works"
h_seed dovecot alice "$H_RUN"/later/*.eml >/dev/null
pv harvest --once >/dev/null 2>&1
h_is "$(pv --json stats | h_json 'd["messages"]')" 2 "back to now: 2 new messages harvested"
pv checkpoint --heartbeat >/dev/null
h_is $? 0 "back to now: a heartbeat is signed"

# Checkpoint times never go backwards, in either log.
times() {
	pv_sql "SELECT note FROM tlog_checkpoint c JOIN tlog_log l ON l.id = c.log_id
		WHERE l.name = '$1' ORDER BY seq" | sed -n 's/^time //p'
}
for log in archive audit; do
	times $log >"$H_RUN/$log.times"
	sorted_ok=$(sort -n -c "$H_RUN/$log.times" 2>&1 && echo sorted)
	h_is "$sorted_ok" sorted "$log log: checkpoint times never go backwards ($(wc -l <"$H_RUN/$log.times") timed checkpoints)"
done
h_is "$(tail -n1 "$H_RUN/audit.times")" "$ahead" \
	"the checkpoints after the step carry the last checkpoint's time, not the earlier now"

# The step is in the audit log.
pv --json audit list --type clock-step >"$H_RUN/steps.json"
h_is "$(wc -l <"$H_RUN/steps.json")" 1 "one clock-step audit entry"
h_like "$(cat "$H_RUN/steps.json")" '"object": ?"from=[0-9T:-]+Z to=[0-9T:-]+Z back=2[0-9]{5}s"' \
	"…naming the clock before and after, and how far back (about 3 days)"

# verify --full: a note about the step, not tampering.
pv verify --full >"$H_RUN/v.out" 2>&1
h_is $? 0 "verify --full passes (exit 0)"
h_like "$(cat "$H_RUN/v.out")" "^note: .*clock stepped back" "…with a note about the clock step"
h_like "$(cat "$H_RUN/v.out")" "^audit log: +[1-9][0-9]* entries" "…and counts the audit log's entries"

# A clock years behind for one harvest (a dead RTC battery, before NTP):
# the mail is not dated years early, so not disposed of years early. Its
# retention counts from the latest time the archive has seen.
sed 's/^Message-ID: <\(.*\)>/Message-ID: <again-\1>/I' "$H_RUN/mail/00001.eml" >"$H_RUN/again.eml"
h_seed dovecot alice "$H_RUN/again.eml" >/dev/null
latest=$(pv_sql "SELECT max(time) FROM audit_event")
pv_at -3650 harvest --once >/dev/null 2>&1
h_is "$(pv --json stats | h_json 'd["messages"]')" 3 "10 years behind: the new message harvested"
h_is "$(pv_sql "SELECT CASE WHEN received_at >= $latest THEN 1 ELSE 0 END FROM messages ORDER BY id DESC LIMIT 1")" 1 \
	"…received no earlier than the latest time the archive had seen (not 10 years early)"
