#!/bin/bash
# Every #include points down (docs/ARCHITECTURE.md, "Layers"): the ranks
# are written once, in tests/layers.txt; a file may include its own
# directory and lower ranks only. One test per layer, naming each bad line.
set -u
. "$(dirname "$0")/lib/harness.sh"
h_init
cd "$H_SRC" || exit 1
RULES=tests/layers.txt

mapfile -t dirs < <(awk '!/^#/ && NF == 2 {print $2}' "$RULES")
h_plan $((${#dirs[@]} + 1))

rank_of() { awk -v d="$1" '!/^#/ && NF == 2 && $2 == d {print $1}' "$RULES"; }

# Every directory holding C sources has a rank.
unranked=""
for d in $(find archiver policy audit -name '*.[ch]' -printf '%h\n' | sort -u); do
	[ -n "$(rank_of "$d")" ] || unranked="$unranked $d"
done
h_is "$unranked" "" "every source directory has a rank in $RULES"

for d in "${dirs[@]}"; do
	mine=$(rank_of "$d")
	bad=""
	while IFS=: read -r file line inc; do
		[ -n "$file" ] || continue
		target=$(dirname "$inc")
		[ "$target" = "$d" ] && continue
		theirs=$(rank_of "$target")
		if [ -z "$theirs" ] || [ "$theirs" -ge "$mine" ]; then
			bad="$bad
$file:$line includes $inc (rank ${theirs:-none}, $d is $mine)"
		fi
	done < <(grep -Hn '^#include "' "$d"/*.[ch] 2>/dev/null |
		sed -E 's/^([^:]*):([0-9]*):#include "([^"]*)".*/\1:\2:\3/')
	if [ -z "$bad" ]; then
		h_pass "$d (rank $mine) includes only its own and lower layers"
	else
		h_fail "$d (rank $mine) includes only its own and lower layers" "${bad#$'\n'}"
	fi
done
