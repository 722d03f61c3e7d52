#!/bin/sh
# Builds the man pages: docs/man/NAME.SECTION.scd -> OUTDIR/NAME.SECTION
# with scdoc(1). popvault(8)'s COMMANDS section is made from the program's
# own help (`popvault --help`, then `popvault CMD --help` for each command
# listed), so the page names every command and option the binary has.
#   docs/man/build.sh OUTDIR POPVAULT_BIN
# SOURCE_DATE_EPOCH, when set, dates the pages (reproducible builds).
set -eu

out=$1
bin=$2
here=$(cd "$(dirname "$0")" && pwd)
command -v scdoc >/dev/null || { echo "man: scdoc is missing (packaging/deps.sh installs it)" >&2; exit 1; }
version=$("$bin" --version | sed -n 's/^popvault //p')
[ -n "$version" ] || { echo "man: $bin --version says no version" >&2; exit 1; }
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# One subsection per command: its summary, then its usage as a literal
# block (backslashes doubled: scdoc reads escapes even there).
"$bin" --help | awk '/^Commands:/ { on = 1; next } on && /^$/ { exit }
	on && /^  [a-z]/ { name = $1; sub(/^  [^ ]+ +/, ""); print name "\t" $0 }' \
	>"$tmp/commands"
[ -s "$tmp/commands" ] || { echo "man: no commands in $bin --help" >&2; exit 1; }
while IFS='	' read -r cmd summary; do
	printf '## %s\n\n%s.\n\n```\n' "$cmd" "$(printf '%s' "$summary" | sed 's/./\U&/')"
	"$bin" "$cmd" --help >"$tmp/usage" ||
		{ echo "man: $bin $cmd --help failed" >&2; exit 1; }
	sed 's/\\/\\\\/g' "$tmp/usage"
	printf '```\n\n'
done <"$tmp/commands" >"$tmp/commands.scd"

for src in "$here"/*.scd; do
	page=$(basename "$src" .scd)
	awk -v v="$version" -v cmds="$tmp/commands.scd" '
		/^%COMMANDS%$/ { while ((getline l < cmds) > 0) print l; next }
		{ gsub(/%VERSION%/, v); print }' "$src" >"$tmp/$page.scd"
	scdoc <"$tmp/$page.scd" >"$out/$page"
done
