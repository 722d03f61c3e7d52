#!/bin/bash
# Every libFuzzer target, two at a time (tests/fuzz/run_target.sh smoke):
# its regression inputs once, then POPVAULT_FUZZ_SECS (8) seconds from its
# kept corpus plus new inputs. A crash, leak, timeout or sanitizer report
# fails the target; the input is kept under $POPVAULT_FUZZ_DIR/findings/,
# new corpus entries under $POPVAULT_FUZZ_DIR/smoke/ (nothing is deleted;
# `make fuzz` is what grows the kept corpus). A regression listed in
# tests/fuzz/regressions/open.txt is a TODO test until it passes.
set -u
DIR=${POPVAULT_FUZZ_DIR:-build/fuzz}
SECS=${POPVAULT_FUZZ_SECS:-8}
cd "${POPVAULT_SRC:-.}" || exit 1
bins=$(printf '%s\n' ${POPVAULT_FUZZ_ONLY:-} | grep . ||
	find "$DIR" -maxdepth 1 -name 'fuzz_*' -type f -perm -u+x | sort)
n=$(echo "$bins" | grep -c . || true)
if [ "$n" -eq 0 ]; then echo "1..1"; echo "not ok 1 - no fuzz targets built in $DIR"; exit 1; fi
res=$(mktemp -d)
trap 'rm -rf "$res"' EXIT
echo "$bins" | xargs -P 2 -I{} tests/fuzz/run_target.sh smoke {} "$SECS" "$res"

nopen=$(cat "$res"/* 2>/dev/null | grep -c '^open' || true)
echo "1..$((n + nopen))"
i=0
for b in $bins; do
	name=$(basename "$b")
	i=$((i + 1))
	if ! IFS=$'\t' read -r status summary <"$res/$name" 2>/dev/null; then
		echo "not ok $i - $name: no result"
		continue
	fi
	if [ "$status" = ok ]; then
		echo "ok $i - $name: $summary"
	else
		echo "not ok $i - $name"
		echo "# $summary"
		tail -n 30 "$DIR/$name.smoke.log" | sed 's/^/# /'
	fi
	while IFS=$'\t' read -r _ what state why; do
		i=$((i + 1))
		if [ "$state" = fixed ]; then
			echo "ok $i - $what passes now: remove it from regressions/open.txt # TODO $why"
		else
			echo "not ok $i - $what still fails # TODO $why"
		fi
	done < <(tail -n +2 "$res/$name")
done
