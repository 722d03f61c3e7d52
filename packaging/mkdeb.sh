#!/bin/sh
# Builds the Debian package from a release build: stages the binary, the
# web UI, the man pages, the systemd unit, the default config and the bash
# completion beside packaging/debian/, then runs dpkg-buildpackage (binary
# only, unsigned) and lintian on the result.
#   packaging/mkdeb.sh POPVAULT_BIN OUTDIR
# Writes OUTDIR/popvault_VERSION_ARCH.deb and OUTDIR/lintian.txt; fails
# when lintian reports an error. `make deb` runs it with build/popvault.
set -eu

bin=$(realpath "$1")
out=$(realpath -m "$2")
src=$(cd "$(dirname "$0")/.." && pwd)
for t in dpkg-buildpackage dh lintian scdoc; do
	command -v "$t" >/dev/null ||
		{ echo "mkdeb: $t is missing (packaging/deps.sh installs it)" >&2; exit 1; }
done

version=$("$bin" --version | sed -n 's/^popvault //p')
debversion=$(dpkg-parsechangelog -l "$src/packaging/debian/changelog" -S Version)
if [ "$version" != "$debversion" ]; then
	echo "mkdeb: $bin is version '$version' but packaging/debian/changelog" \
		"says '$debversion': add a changelog entry (dch -v $version)" >&2
	exit 1
fi

stage=$out/stage
tree=$stage/popvault-$version
rm -rf "$stage"
mkdir -p "$tree/bin" "$tree/units" "$tree/completion"
cp -r "$src/packaging/debian" "$tree/debian"
cp "$bin" "$tree/bin/popvault"
# The parser sandbox's child, built beside the binary (make all).
cp "$(dirname "$bin")/popvault-parser" "$tree/bin/popvault-parser"
cp -r "$src/web-static" "$tree/web-static"
cp "$src/packaging/"*.service "$tree/units/"
cp "$src/packaging/popvault.conf" "$tree/popvault.conf"
cp "$src/packaging/popvault.bash-completion" "$tree/completion/popvault"
cp "$src/README.md" "$tree/README.md"
# The pages carry the changelog's date, so two builds of one version match.
SOURCE_DATE_EPOCH=$(dpkg-parsechangelog -l "$tree/debian/changelog" -S Timestamp)
export SOURCE_DATE_EPOCH
"$src/docs/man/build.sh" "$tree/man" "$bin"

(cd "$tree" && dpkg-buildpackage -b -us -uc) >"$stage/build.log" 2>&1 || {
	tail -n 40 "$stage/build.log" >&2
	echo "mkdeb: dpkg-buildpackage failed; the log: $stage/build.log" >&2
	exit 1
}
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
deb=popvault_${version}_$arch.deb
mv "$stage/$deb" "$out/$deb"

# Every tag lintian finds, informational ones too; errors fail the build.
lintian --pedantic --display-info --show-overrides "$out/$deb" >"$out/lintian.txt" 2>&1 || true
echo "lintian $out/$deb:"
if [ -s "$out/lintian.txt" ]; then sed 's/^/  /' "$out/lintian.txt"; else echo "  (nothing)"; fi
if grep -q '^E: ' "$out/lintian.txt"; then
	echo "mkdeb: lintian reports errors" >&2
	exit 1
fi
echo "mkdeb: built $out/$deb"
