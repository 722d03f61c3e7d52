#!/bin/bash
# The command-line contract (DESIGN.md §10): help, version, exit codes,
# the data-directory rule, init and accounts.
set -u
. "$(dirname "$0")/lib/tap.sh"
PV=${POPVAULT_BIN:-build/popvault}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

plan 21

$PV --version | grep -Eq '^popvault [0-9]+\.[0-9]+\.[0-9]+$'; ok $? "--version prints the version"
$PV --help | grep -q 'harvest'; ok $? "--help lists the commands"
$PV harvest --help | grep -q 'usage\|popvault harvest'; ok $? "COMMAND --help prints its usage"
$PV no-such-command 2>/dev/null; is $? 2 "unknown command exits 2"
$PV init --no-such-option 2>/dev/null; is $? 2 "unknown option exits 2"

$PV init --data "$T/a" >/dev/null; ok $? "init creates an archive"
is "$(stat -c %a "$T/a")" 700 "the data directory is mode 0700"
$PV init --data "$T/a" 2>"$T/err"; is $? 1 "init refuses an existing archive"
grep -q '^popvault: .*refusing' "$T/err"; ok $? "…with one 'popvault: ' error line"

POPVAULT_DATA="$T/a" $PV account list >/dev/null; ok $? "\$POPVAULT_DATA selects the archive"
$PV account list --data "$T/none" 2>/dev/null; is $? 1 "a missing archive is an error (exit 1)"

printf 'correct horse battery staple\n' >"$T/pw"
$PV --data "$T/a" account add box1 --host 127.0.0.1 --port 1110 --tls starttls \
	--user alice --password-file "$T/pw" >"$T/out"; ok $? "account add"
$PV --data "$T/a" account add box1 --host h --user u --password-file "$T/pw" 2>/dev/null; is $? 1 "a duplicate account name is refused"
$PV --data "$T/a" account add 'bad/name' --host h --user u --password-file "$T/pw" 2>/dev/null; is $? 2 "a bad account name is a usage error"
$PV --data "$T/a" --json account list >>"$T/out"
$PV --data "$T/a" --json account list | python3 -c 'import json,sys; a=json.load(sys.stdin); assert a[0]["name"]=="box1" and a[0]["port"]==1110, a'
ok $? "account list --json"
! grep -rq 'horse battery' "$T/out" "$T/a"; ok $? "the password is neither printed nor stored in clear"
$PV --data "$T/a" account remove box1 >/dev/null && [ "$($PV --data "$T/a" --json account list)" = "[]" ]
ok $? "account remove retires the account"

printf 'a long web password\n' >"$T/webpw"
$PV --data "$T/a" user add carol --role compliance --password-file "$T/webpw" >/dev/null
ok $? "user add"
[ "$($PV --data "$T/a" --json user list)" = '[{"name": "carol", "role": "compliance", "since": "'"$($PV --data "$T/a" --json user list | sed 's/.*since": "\([^"]*\)".*/\1/')"'"}]' ]
ok $? "user list --json"
! grep -rq 'a long web password' "$T/a"; ok $? "the web password is stored only as a hash"
$PV --data "$T/a" user remove carol >/dev/null && $PV --data "$T/a" audit list --type user-remove | grep -q 'user=carol'
ok $? "user remove, audited"
