#!/bin/bash
# Harvest from a real Dovecot: every message archived byte for byte, the
# mailbox emptied only after the archive is durable, nothing archived
# twice, every authentication mechanism Dovecot offers, and residue (a
# delete the server acknowledged but did not do) reported, not hidden.
set -u
. "$(dirname "$0")/lib/harness.sh"
. "$(dirname "$0")/lib/popvault.sh"
h_init
h_plan 37

h_genmail --count 40 --seed 11 --out "$H_RUN/mail" --max-attachment 300000
h_dovecot_start --seed alice="$H_RUN/mail" --oauth2
printf 'bobpw\n' >"$H_RUN/bob.pw"
pv_init "$H_RUN/data"

pv_dovecot_account alice --tls implicit
pv --json harvest --once >"$H_RUN/h1.json" 2>"$H_RUN/h1.err"
h_is $? 0 "harvest over implicit TLS succeeds"
h_is "$(h_json 'd["fetched"]' <"$H_RUN/h1.json")" 40 "all 40 messages fetched"
h_is "$(pv_count)" 40 "stats counts 40 archived"
h_is "$(maildir_count alice)" 0 "the upstream mailbox is empty"

# Exact bytes: the set of archived hashes equals the set of seeded files'.
for i in $(seq 1 40); do pv show "$i" --raw | sha256sum | cut -d' ' -f1; done | sort >"$H_RUN/got"
for f in "$H_RUN"/mail/*.eml; do sha256sum <"$f" | cut -d' ' -f1; done | sort >"$H_RUN/want"
h_check "show --raw is byte-identical to what the server holds" cmp -s "$H_RUN/got" "$H_RUN/want"
h_fails "an unknown message id is an error that names it" 1 '^popvault: no message 41$' pv show 41 --raw

pv --json harvest --once >"$H_RUN/h2.json"
h_is "$(h_json 'd["fetched"], d["deleted"]' <"$H_RUN/h2.json")" "0 0" "a second harvest fetches nothing"
h_is "$(pv checkpoint | sed -n 2p)" 40 "the archive checkpoint covers 40 leaves"

# New mail arrives; it is harvested too, ids continue.
h_seed dovecot alice "$H_RUN/mail/0001.eml" >/dev/null 2>&1 || h_seed dovecot alice "$(ls "$H_RUN"/mail/*.eml | head -1)" >/dev/null
pv harvest --once >/dev/null 2>&1
h_is "$(pv_count)" 41 "a re-delivered copy is a new message (never deduplicated by content or Message-ID)"

# Every mechanism Dovecot offers, over STLS.
for mech in user apop plain login cram-md5 scram-sha-256; do
	h_seed dovecot bob "$H_RUN/mail/$(ls "$H_RUN/mail" | grep eml | sed -n 2p)" >/dev/null
	pv account add "bob-$mech" --host localhost --port "$DOVECOT_PORT" --tls starttls --auth "$mech" \
		--user bob --password-file "$H_RUN/bob.pw" --ca-file "$DOVECOT_CA" >/dev/null
	out=$(pv --json harvest --once --account "bob-$mech" 2>&1)
	h_like "$out" '"fetched": 1,' "auth $mech over STLS"
	pv account remove "bob-$mech" >/dev/null
done

# OAuth 2 (XOAUTH2, OAUTHBEARER) with a token command, against Dovecot's
# oauth2 passdb. The command comes from a file (a command line would show
# in the process list), runs without a shell, and is stored sealed.
printf '/bin/echo %s\n' "$DOVECOT_OAUTH_TOKEN" >"$H_RUN/token-command"
for mech in xoauth2 oauthbearer; do
	h_seed dovecot alice "$H_RUN/mail/$(ls "$H_RUN/mail" | grep eml | sed -n 3p)" >/dev/null
	pv account add "oauth-$mech" --host localhost --port "$DOVECOT_TLS_PORT" --auth "$mech" \
		--user alice --token-command-file "$H_RUN/token-command" --ca-file "$DOVECOT_CA" >/dev/null
	out=$(pv --json harvest --once --account "oauth-$mech" 2>&1)
	h_like "$out" '"fetched": 1,' "auth $mech with a token command"
	# the token's bytes looked for in both columns' bytes (hex: one query
	# for SQLite and PostgreSQL, the backend matrix)
	h_is "$(pv_sql "SELECT count(*) FROM accounts WHERE name = 'oauth-$mech'
		AND (hex(coalesce(token_command, '')) LIKE '%' || hex('$DOVECOT_OAUTH_TOKEN') || '%'
		OR hex(secret) LIKE '%' || hex('$DOVECOT_OAUTH_TOKEN') || '%')")" 0 \
		"…the token command is sealed: not in the catalog in clear"
	h_is "$(pv_sql "SELECT count(*) FROM accounts WHERE name = 'oauth-$mech'")" 1 \
		"…(the account's row is there to look in)"
	pv account remove "oauth-$mech" >/dev/null
done
pv account add oauth-shell --host localhost --port "$DOVECOT_TLS_PORT" --auth xoauth2 --user alice \
	--token-command "echo x" --ca-file "$DOVECOT_CA" >"$H_RUN/tc.out" 2>&1
h_is $? 2 "--token-command on the command line is refused (exit 2)"
h_like "$(cat "$H_RUN/tc.out")" "token-command-file" "…naming --token-command-file instead"

# Wrong password: an authentication error, nothing touched.
h_seed dovecot bob "$H_RUN/mail/$(ls "$H_RUN/mail" | grep eml | sed -n 4p)" >/dev/null
printf 'wrong\n' >"$H_RUN/wrong.pw"
pv account add bob-wrong --host localhost --port "$DOVECOT_TLS_PORT" --user bob \
	--password-file "$H_RUN/wrong.pw" --ca-file "$DOVECOT_CA" >/dev/null
pv harvest --once --account bob-wrong >"$H_RUN/wrong.out" 2>&1
h_is $? 1 "a wrong password fails the harvest"
h_like "$(cat "$H_RUN/wrong.out")" '[Aa]uth' "…and says it is an authentication problem"
h_is "$(maildir_count bob)" 1 "…and nothing is deleted upstream"

# Certificate not trusted (no --ca-file: the system store does not know our CA).
pv account add bob-untrusted --host localhost --port "$DOVECOT_TLS_PORT" --user bob \
	--password-file "$H_RUN/bob.pw" >/dev/null
pv harvest --once --account bob-untrusted >"$H_RUN/cert.out" 2>&1
h_is $? 1 "an untrusted certificate fails the harvest (no silent fallback)"
h_like "$(cat "$H_RUN/cert.out")" 'TLS: certificate of localhost not accepted' "…saying the certificate was not accepted"
h_is "$(maildir_count bob)" 1 "…and nothing is fetched or deleted"

# Residue: the server acknowledges DELE and QUIT but cannot delete.
M=$(h_maildir dovecot bob)
pv account add bob-ro --host localhost --port "$DOVECOT_TLS_PORT" --user bob \
	--password-file "$H_RUN/bob.pw" --ca-file "$DOVECOT_CA" >/dev/null
chmod 555 "$M/new" "$M/cur"
pv --json harvest --once --account bob-ro >"$H_RUN/ro.json" 2>/dev/null
h_like "$(cat "$H_RUN/ro.json")" '"residue": 1,' "a delete acknowledged but not done is reported as residue"
chmod 755 "$M/new" "$M/cur"
pv --json harvest --once --account bob-ro >"$H_RUN/ro2.json" 2>/dev/null
h_like "$(cat "$H_RUN/ro2.json")" '"fetched": 0, "deleted": 1, "reconciled": 1' "the next harvest deletes the residue without archiving it twice"

# Certificate not verified on purpose (--insecure-skip-verify), on a
# Dovecot offering only mechanisms that send the password itself (PLAIN,
# LOGIN, USER/PASS): auto would hand it to whoever answers. An explicit
# --auth is required when the account is added, and an account stored
# with auto (added before that rule) logs in with nothing that reveals it.
h_dovecot_start --name plainonly --user bob:bobpw --conf 'auth_mechanisms = plain login'
h_seed plainonly bob "$H_RUN/mail/$(ls "$H_RUN/mail" | grep eml | sed -n 5p)" >/dev/null
h_fails "--insecure-skip-verify without --auth is a usage error naming --auth" 2 \
	'insecure-skip-verify.*--auth' \
	pv account add bob-insecure --host localhost --port "$PLAINONLY_TLS_PORT" --user bob \
	--password-file "$H_RUN/bob.pw" --insecure-skip-verify
pv account add bob-insecure --host localhost --port "$PLAINONLY_TLS_PORT" --user bob \
	--password-file "$H_RUN/bob.pw" --insecure-skip-verify --auth plain >/dev/null
h_is "$(pv_sql "SELECT auth, insecure FROM accounts WHERE name = 'bob-insecure'")" "plain|1" \
	"... with an explicit --auth plain it is added"
pv_sql "UPDATE accounts SET auth = 'auto' WHERE name = 'bob-insecure'"
pv harvest --once --account bob-insecure >"$H_RUN/insecure.out" 2>&1
h_is $? 1 "an older account with auto over unverified TLS: the harvest fails"
h_like "$(cat "$H_RUN/insecure.out")" 'not verified.*--auth' "... saying an explicit --auth is needed"
h_is "$(maildir_count bob plainonly)" 1 "... and nothing was fetched or deleted (the password was not sent)"
pv_sql "UPDATE accounts SET auth = 'plain' WHERE name = 'bob-insecure'"
out=$(pv --json harvest --once --account bob-insecure 2>&1)
h_like "$out" '"fetched": 1,' "with --auth plain the same account harvests (the admin's explicit choice)"
