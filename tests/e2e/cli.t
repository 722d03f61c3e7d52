#!/bin/bash
# The command-line contract (ARCHITECTURE.md §10): help, version, exit codes,
# the data-directory rule, init and accounts.
set -u
. "$(dirname "$0")/lib/harness.sh"
. "$(dirname "$0")/lib/popvault.sh"
h_init
T=$H_RUN
h_plan 30

h_like "$("$PV" --version)" '^popvault [0-9]+\.[0-9]+\.[0-9]+$' "--version prints the version"
h_like "$("$PV" --help)" 'harvest' "--help lists the commands"
h_like "$("$PV" harvest --help)" 'usage|popvault harvest' "COMMAND --help prints its usage"
h_fails "unknown command exits 2, naming it" 2 "^popvault: unknown command 'no-such-command'" \
	"$PV" no-such-command
h_fails "unknown option exits 2, naming it" 2 "^popvault: init: unknown option '--no-such-option'" \
	"$PV" init --no-such-option

h_check "init creates an archive" pv_init "$T/a"
h_is "$(stat -c %a "$T/a")" 700 "the data directory is mode 0700"
"$PV" init --data "$T/a" 2>"$T/err"
h_is $? 1 "init refuses an existing archive"
h_like "$(cat "$T/err")" '^popvault: .*refusing' "…with one 'popvault: ' error line"

h_check "\$POPVAULT_DATA selects the archive" eval 'POPVAULT_DATA="$T/a" "$PV" account list >/dev/null'
h_fails "a missing archive is an error (exit 1) that names it" 1 "^popvault: no archive at $T/none " \
	"$PV" account list --data "$T/none"

printf 'correct horse battery staple\n' >"$T/pw"
h_check "account add" eval 'pv account add box1 --host 127.0.0.1 --port 1110 --tls starttls \
	--user alice --password-file "$T/pw" >"$T/out"'
h_fails "a duplicate account name is refused, naming it" 1 "^popvault: an account named 'box1' exists" \
	pv account add box1 --host h --user u --password-file "$T/pw"
h_fails "a bad account name is a usage error, saying what a name may be" 2 \
	'^popvault: account name must be 1-64 letters, digits' pv account add 'bad/name' --host h --user u --password-file "$T/pw"
pv --json account list >>"$T/out"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/ca.key" -out "$T/ca.pem" -days 2 \
	-subj /CN=cli-ca >/dev/null 2>&1
h_check "a CA file named relative to here is kept by its absolute path (serve harvests from /)" \
	eval '(cd "$T" && pv account add box2 --host h --user u --password-file "$T/pw" --ca-file ca.pem >/dev/null) &&
	pv --json account list | python3 -c "import json,sys; a=json.load(sys.stdin); assert a[1][\"ca_file\"]==\"$T/ca.pem\", a" &&
	pv account list | grep -q "CA file $T/ca.pem" && pv account remove box2 >/dev/null'
h_fails "a CA file that cannot be read is named, with why" 2 \
	"^popvault: CA file: open $T/none.pem: No such file or directory\$" \
	pv account add box3 --host h --user u --password-file "$T/pw" --ca-file "$T/none.pem"
h_check "account list --json" eval 'pv --json account list |
	python3 -c "import json,sys; a=json.load(sys.stdin); assert a[0][\"name\"]==\"box1\" and a[0][\"port\"]==1110, a"'
h_check "the password is neither printed nor stored in clear" \
	eval '! grep -rq "horse battery" "$T/out" "$T/a" && pv_catalog_dump >"$T/dump" && ! grep -q "horse battery" "$T/dump"'
h_check "account remove retires the account" \
	eval 'pv account remove box1 >/dev/null && [ "$(pv --json account list)" = "[]" ]'

printf 'a long web password\n' >"$T/webpw"
h_check "user add" eval 'pv user add carol --role compliance --password-file "$T/webpw" >/dev/null'
h_is "$(pv --json user list)" \
	'[{"name": "carol", "role": "compliance", "since": "'"$(pv --json user list | sed 's/.*since": "\([^"]*\)".*/\1/')"'", "totp": false, "totp_pending": false, "password_once": false, "access": null}]' \
	"user list --json"
h_check "user passwd --one-time: listed as such, audited" \
	eval 'pv user passwd carol --one-time --password-file "$T/webpw" >/dev/null &&
	      pv user list | grep -Eq "^carol +compliance .* no +one-time +yes$" &&
	      pv --json audit list | grep -q "user=carol password=one-time"'
printf 'carol is my name\n' >"$T/weakpw"
h_like "$(pv user passwd carol --password-file "$T/weakpw" 2>&1)" "must not hold the user's name" \
	"a password holding the user's name is refused, saying why"
h_check "the web password is stored only as a hash" \
	eval '! grep -rq "a long web password" "$T/a" && pv_catalog_dump >"$T/dump" && ! grep -q "a long web password" "$T/dump"'
h_check "user remove, audited" \
	eval 'pv user remove carol >/dev/null && pv audit list --type user-remove | grep -q "user=carol"'
printf '# serve settings\n[serve]\nlisten = 127.0.0.1:99999\n' >"$T/bad.conf"
h_fails "a bad listen in serve's config names the file, not a --listen never given" 1 \
	"^popvault: $T/bad.conf: \\[serve\\] listen = 127.0.0.1:99999: bad port '99999'\$" \
	pv serve --config "$T/bad.conf"
printf '[harvest]\n\ninterval = 20 s\n' >"$T/bad2.conf"
h_fails "a bad value in it names the file, the line and what would do" 1 \
	"^popvault: $T/bad2.conf line 3: bad value for interval in \\[harvest\\]: '20 s' \\(want a duration from 1s to 1d" \
	pv serve --config "$T/bad2.conf"

# One scheduler a data directory; a port taken is named.
setsid "$PV" --data "$D" serve --listen 127.0.0.1:0 --plain-http >"$T/serve1.out" 2>&1 &
serve1=$!
h_register serve "$serve1" >/dev/null
for _ in $(seq 100); do grep -q "serving http" "$T/serve1.out" && break; sleep 0.1; done
port=$(sed -n 's|.*serving http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$T/serve1.out")
h_fails "a second serve on one data directory is refused (one scheduler), saying what to do" 1 \
	"^popvault: another popvault serve runs on .*: stop it, or run this one with --web-only\$" \
	pv serve --listen 127.0.0.1:0 --plain-http
h_fails "a --web-only serve on a port taken names the address, the port and the setting" 1 \
	"^popvault: cannot listen on 127.0.0.1:$port: Address already in use \\(another popvault serve, or another server there\\? \\[serve\\] listen in .*, or --listen\\)\$" \
	pv serve --listen "127.0.0.1:$port" --plain-http --web-only
kill -TERM "$serve1"
wait "$serve1"
printf '[serve]\nlisten = 127.0.0.1:0\n[harvest]\nmessage_max = 1K\n' >"$T/archive-only.conf"
h_fails "a setting of the data directory's file in serve's config is refused, saying where it belongs" 1 \
	"^popvault: $T/archive-only.conf line 4: message_max in \\[harvest\\] belongs in the data directory's popvault.conf" \
	pv serve --config "$T/archive-only.conf"
