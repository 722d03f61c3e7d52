#!/bin/bash
# The parser sandbox's child is popvault-parser (archiver/index/sandbox.h),
# the small program beside the binary: seen from outside while `reindex`
# runs, its pv-parser children run that program, under a seccomp filter
# with no_new_privs, as children of popvault itself; run by hand it
# refuses. The index it makes is the one every search reads (search.t
# checks what it holds).
set -u
. "$(dirname "$0")/lib/harness.sh"
. "$(dirname "$0")/lib/popvault.sh"
h_init
PARSER=$(dirname "$PV")/popvault-parser
[ -x "$PARSER" ] || h_skip_all "no $PARSER beside $PV (make all builds it)"
h_plan 6

h_fails "popvault-parser run by hand refuses" 2 "run by popvault only" "$PARSER"

h_genmail --count 300 --seed 16 --out "$H_RUN/mail" --max-attachment 20000
h_dovecot_start --seed "alice=$H_RUN/mail"
pv_harvested "$H_RUN/data"

# A reindex long enough to be looked at: its children named pv-parser.
"$PV" --data "$D" reindex >"$H_RUN/reindex.out" 2>&1 &
RPID=$!
seen=
for _ in $(seq 1 400); do
	for c in $(cat "/proc/$RPID/task/"*/children 2>/dev/null); do
		if [ "$(cat "/proc/$c/comm" 2>/dev/null)" = pv-parser ]; then
			seen=$c
			exe=$(readlink "/proc/$c/exe")
			seccomp=$(sed -n 's/^Seccomp:[[:space:]]*//p' "/proc/$c/status")
			nnp=$(sed -n 's/^NoNewPrivs:[[:space:]]*//p' "/proc/$c/status")
			break 2
		fi
	done
	sleep 0.01
done
wait "$RPID"
rc=$?
if [ -n "$seen" ]; then
	h_is "$exe" "$(readlink -f "$PARSER")" "the sandbox's child runs popvault-parser"
	h_is "$seccomp" 2 "it runs under a seccomp filter"
	h_is "$nnp" 1 "with no_new_privs"
else
	h_fail "a pv-parser child of reindex was seen" "none in 4 s"
	h_skip "no child seen" 2
fi
h_is "$rc $(cat "$H_RUN/reindex.out")" "0 reindexed 300 messages" "reindex indexes every message"
h_is "$(pv_sql 'select count(*) from idx_doc') $(pv_sql 'select count(*) from idx_failed')" \
	"300 0" "every message has its index entry, none failed"
