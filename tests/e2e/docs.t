#!/bin/bash
# The man pages (docs/man/*.scd, DESIGN.md §9): each builds with scdoc and
# `man --warnings` finds nothing to say; popvault(8) names every command
# of `popvault --help` and every option of each `popvault CMD --help`;
# the bash completion (packaging/popvault.bash-completion) offers every
# command, and every option of each; the web's audit page suggests every
# audit entry type the log has (audit/auditlog.h), and no other.
set -u
. "$(dirname "$0")/lib/harness.sh"
h_init
cd "$H_SRC" || exit 1
PV=${POPVAULT_BIN:-$H_SRC/build/popvault}
MAN=$H_RUN/man

mapfile -t pages < <(cd docs/man && ls ./*.scd | sed 's|^\./||; s|\.scd$||')
mapfile -t cmds < <("$PV" --help | awk '/^Commands:/ { on = 1; next }
	on && /^$/ { exit } on && /^  [a-z]/ { print $1 }')
h_plan $((2 + ${#pages[@]} + 2 * ${#cmds[@]} + 2))

h_check "docs/man/build.sh builds ${#pages[@]} pages with scdoc" docs/man/build.sh "$MAN" "$PV"
want="popvault-policy.5 popvault-query.7 popvault.8 popvault.conf.5"
h_is "$(printf '%s\n' "${pages[@]}" | sort | xargs)" "$want" "the four pages of issue 15"
for p in "${pages[@]}"; do
	warn=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$MAN/$p" 2>&1 >/dev/null)
	h_is "$warn" "" "man --warnings -l $p: clean"
done

text=$(MANWIDTH=200 man -l "$MAN/popvault.8" 2>/dev/null | col -b)
. packaging/popvault.bash-completion
complete_words() {
	COMP_WORDS=("$PV" "$@")
	COMP_CWORD=$#
	COMPREPLY=()
	_popvault
	printf '%s\n' "${COMPREPLY[@]}"
}
offered=$(complete_words "")
for c in "${cmds[@]}"; do
	missing=""
	grep -q "^   $c\$" <<<"$text" || missing="$missing (its section)"
	for o in $("$PV" "$c" --help | grep -o -- '--[a-z][a-z0-9-]*' | sort -u); do
		grep -q -- "$o\\b" <<<"$(sed -n "/^   $c\$/,/^   [a-z]/p" <<<"$text")" ||
			missing="$missing $o"
	done
	h_is "$missing" "" "popvault(8) documents '$c' and each of its options"
	missing=""
	grep -qx -- "$c" <<<"$offered" || missing=" the command"
	opts=$(complete_words "$c" --)
	usage=$("$PV" "$c" --help | awk '/^  [A-Za-z-]/ { exit } { print }')
	for o in $(grep -o -- '--[a-z][a-z0-9-]*' <<<"$usage" | sort -u); do
		grep -qx -- "$o" <<<"$opts" || missing="$missing $o"
	done
	# and none its usage lacks: the prose names other commands' ("verify --full")
	for o in $opts; do
		case $o in --data | --json | --help) continue ;; esac
		grep -q -- "$o\b" <<<"$usage" || missing="$missing +$o"
	done
	h_is "$missing" "" "bash completion offers '$c' and each of its options, no other"
done
h_is "$(complete_words account "" | xargs)" "add change list remove test" \
	"bash completion offers a command's subcommands"

# The audit page's type suggestions (its datalist) against the log's types.
logged=$(grep -o '#define AUDIT_[A-Z_]* "[^"]*"' audit/auditlog.h | sed 's/.*"\(.*\)"/\1/' | sort -u | xargs)
offered=$(sed -n "/id: 'audit-types'/,/\]\.map/p" web-static/pages/audit.js | grep -o "'[a-z-]*'" |
	tr -d "'" | grep -vx -e audit-types -e datalist -e option | sort -u | xargs)
h_is "$offered" "$logged" "the web's audit page suggests every audit entry type, and only those"
