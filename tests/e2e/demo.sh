#!/bin/bash
# make demo: the main job on embedded defaults. A private Dovecot on
# loopback plays the upstream provider with generated sample mail; popvault
# harvests it into a fresh archive in build/demo/data, which stays there for
# you to explore after the upstream is stopped.
set -eu
cd "$(dirname "$0")/../.."
. tests/e2e/lib/harness.sh
h_init
PV=$PWD/build/popvault
DATA=$PWD/build/demo/data
COUNT=${DEMO_COUNT:-300}

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

rm -rf "$DATA" "$PWD/build/demo/sec.zip"
mkdir -p "$(dirname "$DATA")"
say "Generating $COUNT sample messages (text, HTML, attachments, several charsets)"
python3 "$H_LIB/genmail.py" --count "$COUNT" --seed 2026 --out "$H_RUN/mail" --max-attachment 500000 >/dev/null
H_NO_BAIL=1
h_dovecot_start --seed alice="$H_RUN/mail" >/dev/null
echo "upstream: Dovecot on 127.0.0.1:$DOVECOT_TLS_PORT (implicit TLS), mailbox 'alice' holds $(maildir_count alice) messages"

say "popvault init  (keys, database, signed genesis checkpoints)"
"$PV" init --data "$DATA" --origin demo.popvault.example
printf 'alicepw\n' >"$H_RUN/alice.pw"

say "popvault account add"
"$PV" --data "$DATA" account add alice --host localhost --port "$DOVECOT_TLS_PORT" \
	--user alice --password-file "$H_RUN/alice.pw" --ca-file "$DOVECOT_CA"

say "popvault harvest --once  (fetch, seal, commit, then delete upstream, then check it is gone)"
"$PV" --data "$DATA" harvest --once
echo "upstream mailbox now holds $(maildir_count alice) messages"

say "popvault stats"
"$PV" --data "$DATA" stats

say "popvault verify --full  (recompute both Merkle logs, check signatures, decrypt every message)"
"$PV" --data "$DATA" verify --full

say "popvault search 'from:sec.gov'"
"$PV" --data "$DATA" search 'from:sec.gov' --limit 5

say "popvault show 1  (headers and text; --raw gives the exact bytes the server sent)"
"$PV" --data "$DATA" show 1 | head -20

say "popvault checkpoint  (the signed C2SP checkpoint of the archive log)"
"$PV" --data "$DATA" checkpoint

say "popvault export 'from:sec.gov' --matter demo  (an eDiscovery bundle)"
"$PV" --data "$DATA" export 'from:sec.gov' --out "$PWD/build/demo/sec.zip" --matter demo

say "popvault verify-bundle  (offline: no data directory, only the two verifier keys)"
"$PV" verify-bundle "$PWD/build/demo/sec.zip" --vkey "$("$PV" --data "$DATA" checkpoint --vkey)" \
	--vkey "$("$PV" --data "$DATA" checkpoint --log audit --vkey)" | tail -3

say "popvault audit list  (every action above, recorded before it took effect)"
"$PV" --data "$DATA" audit list | tail -8

say "Try next"
cat <<TXT
The archive stays in $DATA (the demo upstream is stopped now):
  export POPVAULT_DATA=$DATA
  $PV search 'subject:invoice after:2020-01-01'
  $PV show 42 --raw | sha256sum
  $PV checkpoint --vkey            # the verifier key to keep off this machine
  $PV verify --full
  $PV policy show                  # retention policy version 1: keep 6 years
  $PV hold add matter-1 --query 'participant:sec.gov'
  $PV dispose --dry-run
  $PV audit export --out audit.tar.gz
Not built yet: the web UI (popvault serve).
TXT
