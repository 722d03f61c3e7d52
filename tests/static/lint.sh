#!/bin/bash
# make lint: cppcheck and clang's scan-build over the program's sources.
#   BUILD=build tests/static/lint.sh [--only cppcheck|scan-build] SOURCE.c...
# Every finding is "TOOL | FILE | ID: MESSAGE" (no line number, so edits
# elsewhere in a file do not disturb it). One listed in
# tests/static/suppressions.txt, with its reason, is accepted; any other
# fails, and so does a suppression that no longer matches a finding.
# scan-build analyses a file as it compiles it into $BUILD/lint/obj; the
# report stays beside the object (.scan), so a file is analysed again
# only when it or a header it includes changes. cppcheck keeps its own
# cache in $BUILD/lint/cppcheck. LINT_SUPPRESSIONS names another list
# (tests/e2e/static.t checks with /dev/null that planted bugs are found).
set -u
only=
[ "${1:-}" = --only ] && only=$2 && shift 2
B=${BUILD:-build}/lint
SUP=${LINT_SUPPRESSIONS:-tests/static/suppressions.txt}
mkdir -p "$B/cppcheck"
: >"$B/findings"
tools=

if [ "$only" != scan-build ]; then
	tools="$tools cppcheck"
	# warning, performance, portability: the classes that find bugs; style
	# (variable scope and the like) is taste, and noisy here.
	if ! cppcheck -q -j2 --std=c11 -D_GNU_SOURCE -I. \
		--enable=warning,performance,portability --cppcheck-build-dir="$B/cppcheck" \
		--template='cppcheck|{file}|{id}: {message}|{line}' "$@" 2>"$B/cppcheck.txt"; then
		echo "lint: cppcheck did not run:"; tail -n 5 "$B/cppcheck.txt"; exit 2
	fi
	grep '^cppcheck|' "$B/cppcheck.txt" >>"$B/findings"
fi

# scan-build's reports kept by what was analysed (ccache's idea): the key
# is the hash of clang's version, the flags and the preprocessed source,
# so a clean checkout (CI) analyses again only what differs from any
# earlier run on this machine. LINT_CACHE names the directory; empty: no
# cache (static.t's planted bugs are always analysed afresh).
base=${XDG_CACHE_HOME:-${HOME:+$HOME/.cache}}
cache=${LINT_CACHE-${base:+$base/popvault/lint}}
lint_key() {
	{
		echo "popvault lint 1"
		clang --version
		echo "$flags"
		# shellcheck disable=SC2086 # the flags are words
		clang $flags -E "$1" 2>&1 || echo "not preprocessed: $RANDOM$RANDOM$RANDOM"
	} | sha256sum | cut -c1-64
}
if [ "$only" != cppcheck ] && [ -n "$cache" ] && mkdir -p "$cache" 2>/dev/null; then
	flags=$(make -s --no-print-directory lint-cflags)
	export -f lint_key
	export flags
	printf '%s\n' "$@" | xargs -P 2 -I{} bash -c 'echo "{} $(lint_key {})"' >"$B/keys"
	# a hit: its report, and an object newer than its sources, so make
	# leaves it (lint objects are never linked: they only mark the analysis)
	while read -r src key; do
		[ -e "$cache/$key" ] || continue
		mkdir -p "$B/obj/$(dirname "$src")"
		cp "$cache/$key" "$B/obj/${src%.c}.o.scan" && touch "$B/obj/${src%.c}.o"
	done <"$B/keys"
else
	cache=
fi

if [ "$only" != cppcheck ]; then
	tools="$tools scan-build"
	if ! scan-build --use-cc=clang -o "$B/report" make -s -j2 PV_DEPS_DONE=1 \
		BUILD="${BUILD:-build}" LINT_SRC="$*" lint-scan >"$B/scan-build.log" 2>&1; then
		echo "lint: the scan-build run failed:"; tail -n 20 "$B/scan-build.log"; exit 2
	fi
	if [ -n "$cache" ]; then
		while read -r src key; do
			[ -e "$cache/$key" ] && continue
			cp "$B/obj/${src%.c}.o.scan" "$cache/.$key.$$" && mv "$cache/.$key.$$" "$cache/$key"
		done <"$B/keys"
	fi
	for src in "$@"; do
		cat "$B/obj/${src%.c}.o.scan"
	done | sed -nE 's/^([^ :]+):([0-9]+):[0-9]+: warning: (.*) \[([a-zA-Z0-9_.]+)\]$/scan-build|\1|\4: \3|\2/p' |
		sort -u >>"$B/findings"
fi

# Findings not suppressed; suppressions (of the tools that ran) unused.
awk -F'|' -v tools="$tools" '
function trim(s) { gsub(/^[ \t]+|[ \t]+$/, "", s); return s }
FILENAME == ARGV[1] {
	if ($0 ~ /^#/ || NF < 4) next
	k = trim($1) "|" trim($2) "|" trim($3)
	if (index(tools, trim($1))) { sup[k] = 1; used[k] = 0 }
	next
}
{
	k = $1 "|" $2 "|" $3; w = $1 "|*|" $3
	if (k in sup) { used[k]++; next }
	if (w in sup) { used[w]++; next }
	printf "%s:%s: %s: %s\n", $2, $4, $1, $3; bad++
}
END {
	for (k in used) if (!used[k]) { print "stale suppression (matches nothing now): " k; bad++ }
	exit bad > 0
}' "$SUP" "$B/findings"
rc=$?
n=$(wc -l <"$B/findings")
if [ $rc -eq 0 ]; then
	echo "lint:$tools: clean ($n findings, each suppressed with its reason in $SUP)"
else
	echo "lint:$tools: failed: fix each finding above or suppress it in $SUP with its reason; delete stale suppressions"
fi
exit $rc
