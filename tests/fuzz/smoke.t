#!/bin/bash
# Every libFuzzer target runs for a few seconds on its seeds plus fresh
# inputs: a crash, leak or sanitizer report fails the suite. Long runs are
# `make fuzz-smoke FUZZ_TIME=600`.
set -u
DIR=${POPVAULT_FUZZ_DIR:-build/fuzz}
SECS=${FUZZ_TIME:-3}
bins=$(find "$DIR" -maxdepth 1 -name 'fuzz_*' -type f -perm -u+x | sort)
n=$(echo "$bins" | grep -c . || true)
if [ "$n" -eq 0 ]; then echo "1..1"; echo "not ok 1 - no fuzz targets built in $DIR"; exit 1; fi
echo "1..$n"
i=0
for b in $bins; do
	i=$((i + 1))
	name=$(basename "$b")
	work=$(mktemp -d)
	seeds=
	[ -d "tests/fuzz/corpus/$name" ] && seeds="tests/fuzz/corpus/$name"
	if "$b" -max_total_time="$SECS" -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/" "$work" $seeds \
		>"$work/log" 2>&1; then
		echo "ok $i - $name: $(grep -o 'number_of_executed_units: *[0-9]*' "$work/log" | grep -o '[0-9]*$') inputs in ${SECS}s, no finding"
	else
		echo "not ok $i - $name"
		tail -n 30 "$work/log" | sed 's/^/# /'
	fi
	rm -rf "$work"
done
