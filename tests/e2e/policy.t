#!/bin/bash
# Retention policies through the binary: check with line and column, bad
# files (unknown field, bad duration, no default rule, garbage, 1 MB) refused
# with nothing changed, versions stored exactly and never edited, every
# message re-evaluated with an impact report per rule (counted against the
# generator's own index of the mail), a shorter policy (refused by policy
# set, proposed and approved: the two-person rule), audit entries.
set -u
. "$(dirname "$0")/lib/harness.sh"
. "$(dirname "$0")/lib/popvault.sh"
h_init
POL="$H_SRC/tests/data/policy"
h_plan 38

pv_init "$H_RUN/data"

# --- check -----------------------------------------------------------------
pv policy check "$POL/full.policy" >"$H_RUN/ok.out"
h_is $? 0 "a good policy checks"
h_like "$(cat "$H_RUN/ok.out")" 'ok, 7 rules' "…and says how many rules"
$PV policy check "$POL/core.policy" >/dev/null
h_is $? 0 "check needs no data directory"
for f in bad-unknown-field:"line 3, column 29: unknown field 'form'" \
	bad-duration:"line 2, column 23: bad duration '7x'" \
	bad-no-default:"line 4, column 1: expected the default rule"; do
	name=${f%%:*} want=${f#*:}
	pv policy check "$POL/$name.policy" 2>"$H_RUN/err"
	rc=$?
	h_is "$rc:$(grep -c "^$POL/$name.policy: $want" "$H_RUN/err")" "1:1" "$name: exit 1, '$want'"
done
n_bad=0; n_pos=0
for f in "$POL"/bad-*.policy; do
	pv policy check "$f" 2>"$H_RUN/err" && n_bad=$((n_bad + 1))
	grep -Eq '^.*: line [0-9]+, column [0-9]+: ' "$H_RUN/err" || n_pos=$((n_pos + 1))
done
h_is "$n_bad:$n_pos" "0:0" "every bad sample fails with a line and column"
head -c 1048576 /dev/urandom >"$H_RUN/1mb.policy"
pv policy check "$H_RUN/1mb.policy" 2>"$H_RUN/err"
h_is $? 1 "1 MB of garbage is refused"
h_like "$(cat "$H_RUN/err")" 'at most 262144 bytes \(256 KiB\)' "…with the size limit named"
head -c 100000 /dev/urandom >"$H_RUN/garbage.policy"
pv policy check "$H_RUN/garbage.policy" 2>"$H_RUN/err"
h_is $? 1 "100 kB of random bytes are refused"
h_like "$(head -1 "$H_RUN/err")" '(UTF-8|NUL|line [0-9]+, column [0-9]+)' "…with a clear reason"

# --- harvest some mail --------------------------------------------------------
h_genmail --count 30 --seed 5 --out "$H_RUN/mail" --max-attachment 20000
h_dovecot_start --seed alice="$H_RUN/mail"
pv_dovecot_account alice
pv harvest --once >/dev/null 2>&1
h_is "$(pv_sql "SELECT count(*) FROM messages WHERE policy_version = 1 AND retention_class = 'default'")" 30 \
	"archived under policy version 1 from init (default, 6 years)"
h_like "$(pv policy show)" 'default: retain 6y' "policy show prints version 1"

# --- bad files change nothing --------------------------------------------------
before=$(pv_sql "SELECT group_concat(id || ':' || retention_class || ':' || expires_at || ':' || policy_version || ':' || hex(wrapped_key)) FROM (SELECT * FROM messages ORDER BY id) m")
changed=0
for f in "$POL"/bad-*.policy "$H_RUN/1mb.policy" "$H_RUN/garbage.policy"; do
	pv policy set "$f" 2>/dev/null && changed=1
done
h_is "$changed" 0 "policy set refuses every bad file"
h_is "$(pv_sql 'SELECT count(*) FROM policy_versions')" 1 "…stores no version"
h_is "$(pv_sql "SELECT group_concat(id || ':' || retention_class || ':' || expires_at || ':' || policy_version || ':' || hex(wrapped_key)) FROM (SELECT * FROM messages ORDER BY id) m")" \
	"$before" "…and changes no message"

# --- a new version: impact per rule against the generator's index ---------------
cat >"$H_RUN/v2.policy" <<'EOF'
# regulators first, then mail with attachments
rule "sec": retain 7y then review when participant.domain = "sec.gov"
rule "attach": retain 10y when has:attachment
default: retain 6y
EOF
read -r n_sec n_att n_def < <(python3 -c '
import json,sys
d=json.load(open(sys.argv[1]))["messages"]
sec=[m for m in d if any(a.endswith("@sec.gov") for a in [m["from_addr"]]+m["to_addrs"]+m["cc_addrs"])]
att=[m for m in d if m not in sec and m["has_attachment"]]
print(len(sec), len(att), len(d)-len(sec)-len(att))' "$H_RUN/mail/index.json")
pv --json policy set "$H_RUN/v2.policy" >"$H_RUN/set2.json"
h_is $? 0 "policy set stores version 2"
h_is "$(h_json '[(r["rule"], r["messages"], r["longer"], r["reclassified"], r["shorter"]) for r in d["impact"]]' <"$H_RUN/set2.json")" \
	"[('sec', $n_sec, $n_sec, $n_sec, 0), ('attach', $n_att, $n_att, $n_att, 0), ('default', $n_def, 0, 0, 0)]" \
	"impact per rule: $n_sec sec (longer), $n_att attach (longer), $n_def default (unchanged)"
h_is "$(pv_sql "SELECT retention_class, count(*) FROM messages GROUP BY retention_class ORDER BY 1" | tr '\n' ' ')" \
	"attach|$n_att default|$n_def sec|$n_sec " "every message carries its new class"
# Reclassified mail must still verify: the leaf keeps the class it was archived with.
pv verify >"$H_RUN/verify.out" 2>&1
h_is $? 0 "the archive verifies after classes changed"
h_check "policy show prints the exact file" cmp -s <(pv policy show) "$H_RUN/v2.policy"
h_check "policy show --version 1 still prints version 1" eval "pv policy show --version 1 | grep -q '^default: retain 6y'"
h_fails "an unknown version is an error that names it" 1 '^popvault: there is no policy version 9$' \
	pv policy show --version 9
pv policy set "$H_RUN/v2.policy" >"$H_RUN/same.out"
h_like "$(cat "$H_RUN/same.out")" 'unchanged: .* identical to version 2' "setting the same file again stores nothing"

# --- a shorter policy ------------------------------------------------------------
printf 'default: retain 30d\n' >"$H_RUN/v3.policy"
h_fails "policy set refuses a shorter policy, naming policy propose" 1 \
	"^popvault: this policy shortens retention \(mail that rule 'sec' \(retain 7y then review\) kept may now fall to rule 'default' \(retain 30d\)\).*'popvault policy propose FILE'" \
	pv policy set "$H_RUN/v3.policy"
h_is "$(pv_sql 'SELECT count(*) FROM policy_versions')" 2 "…and stores nothing"
pv policy propose "$H_RUN/v3.policy" --reason "a month is enough" >"$H_RUN/prop3.out"
h_like "$(cat "$H_RUN/prop3.out")" "against policy version 2: 30 of 30 messages would change class or expiry, 30 expire earlier" \
	"policy propose shows the dry-run impact"
h_like "$(cat "$H_RUN/prop3.out")" "proposed as approval 1; it takes effect once another user" \
	"…and proposes it as approval 1, set by nobody yet"
pv_glass pv >"$H_RUN/set3.out" 2>/dev/null
h_like "$(cat "$H_RUN/set3.out")" '^policy version 3 set' "version 3 set once approved"
h_like "$(grep '^total' "$H_RUN/set3.out")" '^total +30 +30 +0 +0 +'$((n_sec + n_att))' +0$' \
	"impact: all 30 shorter, $((n_sec + n_att)) reclassified, none due yet"
recv=$(pv_sql 'SELECT received_at FROM messages WHERE id = 5')
h_like "$(pv show 5 | grep '^Retention')" \
	"^Retention: default until $(date -u -d "@$((recv + 30 * 86400))" '+%Y-%m-%dT%H:%M:%SZ') \(policy version 3\)$" \
	"show: the new class, expiry (receipt + 30 days) and policy version"
h_is "$(pv_sql 'SELECT count(DISTINCT bucket_id) FROM messages')" 1 "…all keys re-wrapped into the one new bucket"
h_is "$(pv show 5 --raw | sha256sum | cut -d' ' -f1)" "$(sha256sum <"$H_RUN/mail/00005.eml" | cut -d' ' -f1)" \
	"re-wrapped mail still reads back byte for byte"
h_is "$(pv --json policy list | h_json '[v["version"] for v in d]')" "[1, 2, 3]" "policy list: three versions"

# --- versions are never edited; every change is audited --------------------------
pv_sql "UPDATE policy_versions SET text = 'default: retain 1d' WHERE version = 2" 2>"$H_RUN/err"
h_like "$(cat "$H_RUN/err")" 'never edited' "the catalog refuses to edit a stored version"
h_is "$(pv_sql "SELECT count(*) FROM audit_event WHERE type = 'policy-set'")" 3 \
	"three policy-set audit entries (init, version 2, version 3)"
h_like "$(pv_sql "SELECT CAST(data AS TEXT) FROM tlog_leaf l JOIN tlog_log g ON g.id = l.log_id WHERE g.name = 'audit' AND CAST(data AS TEXT) LIKE '%policy-set%' ORDER BY idx DESC LIMIT 1" | grep '^object')" \
	"^object version=3 sha256=$(sha256sum <"$H_RUN/v3.policy" | cut -d' ' -f1) previous=2$" \
	"the audit entry names the version and the SHA-256 of the exact file"
pv policy dry-run >"$H_RUN/dry.out"
h_like "$(tail -1 "$H_RUN/dry.out")" '^0 to dispose' "policy dry-run: nothing due today"

