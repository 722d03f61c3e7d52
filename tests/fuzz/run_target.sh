#!/bin/bash
# One round of one libFuzzer target (tests/fuzz/README.md), from the repo root:
#   tests/fuzz/run_target.sh smoke|fuzz BIN SECS RESULT_DIR
# 1. Every input kept in tests/fuzz/regressions/TARGET/ runs once (a
#    directory: its files in one process, in name order). One that still
#    fails is a finding, unless regressions/open.txt lists it: then it is
#    reported as open (or as fixed, when it passes).
# 2. The fuzzer runs SECS seconds from the kept corpus and the passing
#    regressions. New inputs go to a scratch dir (never to the kept corpus);
#    a crash, leak, timeout or out-of-memory input is kept, never deleted:
#    smoke: under $POPVAULT_FUZZ_DIR/findings/TARGET/; fuzz: straight into
#    tests/fuzz/regressions/TARGET/ (to be fixed, or listed in open.txt).
#    A smoke run's new inputs stay in a directory of their own (smoke/
#    TARGET/TIME), not read again: every smoke run starts from the same
#    kept corpus and takes the same time.
# 3. fuzz only: the kept corpus becomes the minimised (-merge=1) union of
#    itself and the new inputs, plus every hand-written seed (any file not
#    named by its SHA-1), and one line goes to tests/fuzz/log.tsv
#    (table.py makes the table).
# RESULT_DIR/TARGET gets "ok|fail<TAB>summary" and one line per open regression:
# "open<TAB>TARGET/NAME<TAB>crashes|fixed<TAB>reason". Exit 0 unless the
# round itself could not run.
set -u
mode=$1 bin=$2 secs=$3
name=$(basename "$bin")
result=$4/$name
src=tests/fuzz
out=${POPVAULT_FUZZ_DIR:-build/fuzz}
corpus=$src/corpus/$name
regr=$src/regressions/$name
# A timeout is a finding; 20 s leaves room for a loaded machine (the
# slowest target takes well under a second per input).
opts=(-timeout=20 -rss_limit_mb=2048 -print_final_stats=1)
# The target's own flags (options.txt) for fuzzing and merging; never for
# the regressions, which must run whole.
# shellcheck disable=SC2207
own=($(awk -v t="$name" '$1 == t { sub(/#.*/, ""); $1 = ""; print }' "$src/options.txt"))

case $mode in
smoke) scratch=$out/smoke/$name/$(date -u +%Y%m%dT%H%M%S) found=$out/findings/$name ;;
fuzz) scratch=$out/round/$name/new found=$regr ;;
*) echo "usage: $0 smoke|fuzz BIN SECS RESULT_DIR" >&2; exit 2 ;;
esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$scratch" "$found" "$corpus"
[ "$mode" = fuzz ] && rm -rf "$scratch" && mkdir -p "$scratch"
: >"$result"

# Step 1: the regressions, open ones alone.
open_reason() { awk -v k="$name/$1" '$1 == k { $1 = ""; sub(/^ +/, ""); print; exit }' \
	"$src/regressions/open.txt" 2>/dev/null; }
mkdir -p "$tmp/seeds"
fails=() nregr=0
for f in "$regr"/*; do
	[ -e "$f" ] || continue
	# A directory is one regression made of several inputs that only fail
	# together (state an input leaves for the next): one process runs
	# them in name order.
	if [ -d "$f" ]; then inputs=("$f"/*); else inputs=("$f"); fi
	nregr=$((nregr + 1))
	base=$(basename "$f")
	reason=$(open_reason "$base")
	if "$bin" "${opts[@]}" "${inputs[@]}" >"$tmp/regr.log" 2>&1; then
		for i in "${inputs[@]}"; do cp "$i" "$tmp/seeds/$base-$(basename "$i")"; done
		[ -n "$reason" ] && printf 'open\t%s/%s\tfixed\t%s\n' "$name" "$base" "$reason" >>"$result"
	elif [ -n "$reason" ]; then
		printf 'open\t%s/%s\tcrashes\t%s\n' "$name" "$base" "$reason" >>"$result"
	else
		fails+=("$f: $(grep -m1 -E 'ERROR|SUMMARY|runtime error' "$tmp/regr.log")")
	fi
done

# Step 2: fuzz. Findings keep libFuzzer's names (kind-sha1).
before=$(ls "$found" | sort)
start=$(date +%s)
/usr/bin/time -f '%U %S' -o "$tmp/cpu" "$bin" "${opts[@]}" "${own[@]}" -max_total_time="$secs" \
	-artifact_prefix="$found/" "$scratch" "$corpus" "$tmp/seeds" >"$tmp/log" 2>&1
rc=$?
wall=$(($(date +%s) - start))
cpu=$(awk '/^[0-9.]+ [0-9.]+$/ { printf "%d", $1 + $2 }' "$tmp/cpu")
new_findings=$(comm -13 <(echo "$before") <(ls "$found" | sort) | grep -E '^(crash|leak|timeout|oom)-' || true)
execs=$(grep -o 'number_of_executed_units: *[0-9]*' "$tmp/log" | grep -o '[0-9]*$' | tail -n1)
[ -n "$execs" ] || execs=$(grep -o '^#[0-9]*' "$tmp/log" | tail -n1 | tr -d '#')
stat=$(grep -E '^#[0-9]+.* cov: ' "$tmp/log" | tail -n1)
cov=$(echo "$stat" | grep -o 'cov: [0-9]*' | grep -o '[0-9]*')
ft=$(echo "$stat" | grep -o 'ft: [0-9]*' | grep -o '[0-9]*')
cp "$tmp/log" "$out/$name.$mode.log"

status=ok
summary="${execs:-0} inputs in ${wall}s, cov ${cov:-?}, $nregr regression inputs"
if [ ${#fails[@]} -gt 0 ]; then
	status=fail
	summary="$summary; regression inputs fail again: ${fails[*]}"
fi
if [ -n "$new_findings" ] || [ "$rc" -ne 0 ]; then
	status=fail
	summary="$summary; finding (exit $rc), input kept: $(echo "$new_findings" | sed "s|^|$found/|" | tr '\n' ' ')"
	summary="$summary; $(grep -m1 -E 'ERROR|SUMMARY|runtime error' "$tmp/log")"
	[ "$mode" = smoke ] && summary="$summary; keep it: copy it into $regr/"
fi

# Step 3: keep what the round found.
if [ "$mode" = fuzz ]; then
	mkdir -p "$tmp/merged"
	if "$bin" -merge=1 "${opts[@]}" "${own[@]}" "$tmp/merged" "$corpus" "$scratch" >"$tmp/merge.log" 2>&1 &&
		[ -n "$(ls "$tmp/merged")" ]; then
		# libFuzzer names merged files by their SHA-1: give back the old
		# names. A file named otherwise was written by hand (a real bundle,
		# a request that tries a traversal): it stays even when it adds no
		# new coverage, so it is always tried.
		for f in "$corpus"/*; do
			[ -f "$f" ] || continue
			h=$(sha1sum <"$f" | cut -c1-40)
			base=$(basename "$f")
			if [ "$h" = "$base" ]; then
				:
			elif [ -f "$tmp/merged/$h" ]; then
				mv "$tmp/merged/$h" "$tmp/merged/$base"
			elif ! [[ $base =~ ^[0-9a-f]{40}$ ]]; then
				cp "$f" "$tmp/merged/$base"
			fi
		done
		rm -rf "$corpus" && mv "$tmp/merged" "$corpus"
	else
		status=fail
		summary="$summary; merge failed, corpus unchanged: $(tail -n1 "$tmp/merge.log")"
	fi
	files=$(ls "$corpus" | wc -l)
	bytes=$(cat "$corpus"/* 2>/dev/null | wc -c)
	nfound=$(echo -n "$new_findings" | grep -c . || true)
	printf '%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%d\t%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
		"$name" "$wall" "${cpu:-0}" "${execs:-0}" "$files" "$bytes" "${cov:-0}" "${ft:-0}" \
		"$nfound" "$(git rev-parse --short HEAD 2>/dev/null)" >>"$src/log.tsv"
	summary="$summary; corpus $files files"
fi
printf '%s\t%s\n' "$status" "$summary" | cat - "$result" >"$tmp/r" && mv "$tmp/r" "$result"
