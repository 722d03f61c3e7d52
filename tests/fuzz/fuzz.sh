#!/bin/bash
# make fuzz: one round of every target, SECS seconds each, FUZZ_JOBS (2) at
# a time, from the kept corpus (run_target.sh fuzz); then the table in
# tests/fuzz/README.md and README.md is made again from log.tsv.
#   tests/fuzz/fuzz.sh SECS BIN...
set -u
secs=$1
shift
res=$(mktemp -d)
trap 'rm -rf "$res"' EXIT
printf '%s\n' "$@" | xargs -P "${FUZZ_JOBS:-2}" -I{} tests/fuzz/run_target.sh fuzz {} "$secs" "$res"
rc=0
for b in "$@"; do
	n=$(basename "$b")
	IFS=$'\t' read -r status summary <"$res/$n" || status=fail summary="no result"
	echo "fuzz: $n $status: $summary"
	tail -n +2 "$res/$n" | while IFS=$'\t' read -r _ what state why; do
		echo "fuzz: $what $state (open: $why)"
	done
	[ "$status" = ok ] || rc=1
done
python3 tests/fuzz/table.py || rc=1
exit $rc
