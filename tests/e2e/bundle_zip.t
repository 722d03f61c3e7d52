#!/bin/bash
# Zip bundles (issue 12): verify-bundle streams a zip's entries and proves
# its central directory, what unzip extracts, describes the same entries in
# the same order. A zip whose central directory was forged (entries
# reordered, left out, added, another CRC-32, size or name, or an entry
# hidden in the directory that unzip extracts in a member's place) is
# refused with exit 3 and a message saying what differs; the same bytes
# with Zip64 end records verify; a zip written by the version before this
# change (tests/data/zipbundle) still verifies.
set -u
. "$(dirname "$0")/lib/harness.sh"
. "$(dirname "$0")/lib/popvault.sh"
h_init
h_plan 13

pv_init "$H_RUN/data" --origin test.example/pv
VK=$(pv checkpoint --log audit --vkey)
printf 'pw\n' >"$H_RUN/pw"
for i in 1 2 3 4; do
	pv account add "acct$i" --host 127.0.0.1 --user "user$i@example.com" --password-file "$H_RUN/pw" \
		--tls none >/dev/null
done
pv audit export --out "$H_RUN/b.zip" >/dev/null

vb() { (cd / && env -u POPVAULT_DATA HOME=/nonexistent "$PV" verify-bundle "$@"); }
forge() { "$H_PY" "$H_SRC/tests/e2e/lib/zipforge.py" "$H_RUN/b.zip" "$H_RUN/$1.zip" "$1"; }

vb "$H_RUN/b.zip" --vkey "$VK" >"$H_RUN/v.out" 2>&1
h_is $? 0 "a zip bundle as exported verifies"
forge same >/dev/null
vb "$H_RUN/same.zip" --vkey "$VK" >/dev/null 2>&1
h_is $? 0 "…and so does its central directory written again unchanged (the forger's tool is sound)"
forge zip64 >/dev/null
vb "$H_RUN/zip64.zip" --vkey "$VK" >"$H_RUN/v.out" 2>&1
h_is $? 0 "the same entries with Zip64 end records (past 65,535 entries) verify"

# refused HOW REGEX DESCRIPTION: the forged zip fails with exit 3 and says so.
refused() {
	forge "$1" >/dev/null
	h_fails "$3" 3 "$2" vb "$H_RUN/$1.zip" --vkey "$VK"
}
refused swap "central directory places '.*' at offset [0-9]+, but the entry stored there begins at [0-9]+ \(entries out of order.*popvault writes them in order\)" \
	"central entries reordered: refused, saying the order differs"
refused drop "out of order, missing" "a central entry left out: refused"
refused extra "out of order, missing" "a central entry listed twice: refused"
refused crc "data descriptor of '.*' is missing or disagrees with its central entry" \
	"a central entry's CRC-32 changed: refused"
refused size "data descriptor of '.*' is missing or disagrees" "a central entry's size changed: refused"
refused name "central directory names '.*' but its local header another name" \
	"a central entry's name changed: refused"

# The forgery this is for: unzip extracts other content than verify-bundle hashed.
name=$(forge hidden)
h_is "$("$H_PY" -c 'import sys,zipfile; print(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]).decode().strip())' \
	"$H_RUN/hidden.zip" "$name")" "forged content that unzip shows instead" \
	"a zip reader extracts the hidden entry in place of $name"
vb "$H_RUN/hidden.zip" --vkey "$VK" >"$H_RUN/v.out" 2>&1
h_is $? 3 "…and verify-bundle refuses that zip"
h_like "$(cat "$H_RUN/v.out")" "central directory places '$name' at offset" "…naming the member"

# A bundle written by the version before the central directory check
# (source e6f14d16, libarchive 3.6.2) still verifies.
OLD="$H_SRC/tests/data/zipbundle/audit-e6f14d16"
vb "$OLD.zip" --vkey "$(cat "$OLD.vkey")" >"$H_RUN/v.out" 2>&1
h_is $? 0 "a zip bundle from the previous version still verifies"
