#!/bin/bash
# The Debian package (issue 15): packaging/mkdeb.sh builds it from the
# release binary with dpkg-buildpackage and debhelper, lintian finds no
# error (its report is printed), the service unit rates at most 2.0 in
# `systemd-analyze security` (the score is printed) and is Type=notify
# with a reload. Then, as root, on this machine: dpkg -i; the
# binary, man pages, completion, config and units are in place and
# `systemd-analyze verify` accepts the units; postinst made the popvault
# system user and /var/lib/popvault (0700) with an archive whose verifier
# keys are in VERIFIER-KEYS.txt; serve starts as the unit starts it;
# dpkg -r and dpkg --purge keep the archive; a reinstallation does not run
# init again; only a purge confirmed through debconf deletes the archive.
# The machine is left as it was found (user, group, data, debconf).
set -u
. "$(dirname "$0")/lib/harness.sh"
h_init
cd "$H_SRC" || exit 1
PV=${POPVAULT_BIN:-$H_SRC/build/popvault}
DATA=/var/lib/popvault
export DEBIAN_FRONTEND=noninteractive

command -v dpkg-buildpackage >/dev/null ||
	h_skip_all "dpkg-buildpackage is missing (packaging/deps.sh installs dpkg-dev)"
h_plan 31

VERSION=$("$PV" --version | sed -n 's/^popvault //p')
ARCH=$(dpkg-architecture -qDEB_HOST_ARCH)
DEB=$H_RUN/deb/popvault_${VERSION}_$ARCH.deb

# --- build -------------------------------------------------------------
if packaging/mkdeb.sh "$PV" "$H_RUN/deb" >"$H_RUN/mkdeb.out" 2>&1; then
	h_pass "make deb: packaging/mkdeb.sh builds popvault_${VERSION}_$ARCH.deb"
else
	h_fail "make deb: packaging/mkdeb.sh builds popvault_${VERSION}_$ARCH.deb" \
		"$(tail -n 40 "$H_RUN/mkdeb.out")"
fi
h_diag "lintian's report (the tags marked O: are overridden in" \
	"packaging/debian/popvault.lintian-overrides, with the reason):"
h_diag "$(cat "$H_RUN/deb/lintian.txt" 2>/dev/null)"
errors=$(grep -c '^E: ' "$H_RUN/deb/lintian.txt" 2>/dev/null)
h_is "${errors:-missing}" 0 "lintian reports no error"
warnings=$(grep -c '^W: ' "$H_RUN/deb/lintian.txt" 2>/dev/null)
h_is "${warnings:-missing}" 0 "lintian reports no warning"
h_is "$(dpkg-deb -f "$DEB" Package Version Architecture 2>/dev/null | xargs)" \
	"Package: popvault Version: $VERSION Architecture: $ARCH" "the package's name, version, architecture"

score=$(systemd-analyze security --offline=yes packaging/popvault.service 2>/dev/null |
	sed -n 's/.*Overall exposure level for popvault.service: \([0-9.]*\).*/\1/p')
h_diag "systemd-analyze security --offline=yes packaging/popvault.service: ${score:-no score}"
h_check "popvault.service: exposure $score, at most 2.0" \
	awk -v s="${score:-99}" 'BEGIN { exit !(s + 0 <= 2.0) }'
h_is "$(grep -E '^(Type|ExecReload|KillMode)=' packaging/popvault.service | xargs)" \
	'Type=notify ExecReload=/bin/kill -HUP $MAINPID KillMode=mixed' \
	"popvault.service: notify, reload by SIGHUP, serve stops its own children"

# --- install on this machine ------------------------------------------
INSTALL_TESTS=24
if [ "$(id -u)" -ne 0 ]; then
	h_skip "dpkg -i needs root (CI runs as root)" $INSTALL_TESTS
	exit 0
fi
if dpkg-query -W popvault >/dev/null 2>&1 || getent passwd popvault >/dev/null ||
	getent group popvault >/dev/null || [ -e "$DATA" ]; then
	h_skip "this machine already has popvault (package, user or $DATA); not touching it" \
		$INSTALL_TESTS
	exit 0
fi
# One package test at a time on this machine (make test in another tree).
exec 9>/run/lock/popvault-deb.t.lock
flock 9

# Put everything back, also when a check above fails half-way.
cleanup() {
	dpkg --purge popvault >/dev/null 2>&1
	rm -rf "$DATA"
	getent passwd popvault >/dev/null && userdel popvault
	getent group popvault >/dev/null && groupdel popvault
	echo PURGE popvault | debconf-communicate popvault >/dev/null 2>&1
	return 0
}
h_at_exit cleanup

# dpkg waits for no one: another apt or dpkg on the machine holds its lock
# for a while, so try again for up to two minutes.
pkg() {
	local i
	for ((i = 0; i < 60; i++)); do
		dpkg "$@" >"$H_RUN/dpkg.out" 2>&1 && return 0
		grep -q 'lock' "$H_RUN/dpkg.out" || return 1
		sleep 2
	done
	return 1
}
as_popvault() { runuser -u popvault -- /usr/bin/popvault --data "$DATA" "$@"; }

if pkg -i "$DEB"; then h_pass "dpkg -i installs the package"
else h_fail "dpkg -i installs the package" "$(cat "$H_RUN/dpkg.out")"; fi
h_diag "what the administrator sees:" "$(cat "$H_RUN/dpkg.out")"
h_is "$(/usr/bin/popvault --version)" "popvault $VERSION" "/usr/bin/popvault --version"
h_like "$(/usr/bin/popvault --help)" "Commands:.*" "/usr/bin/popvault --help lists the commands"
h_is "$(grep -c '^  [a-z]' <(/usr/bin/popvault --help))" "$(grep -c '^  [a-z]' <("$PV" --help))" \
	"... the same commands as the build"

units="popvault.service"
missing=""
for u in $units; do [ -f "/lib/systemd/system/$u" ] || missing="$missing $u"; done
h_is "$missing$(ls /lib/systemd/system/popvault-* 2>/dev/null)" "" \
	"the unit is in /lib/systemd/system, the only one (serve does everything)"
verify=$(cd /lib/systemd/system && systemd-analyze verify $units 2>&1)
h_is "$verify" "" "systemd-analyze verify accepts the unit"
h_like "$(grep '^ExecStart=' /lib/systemd/system/popvault.service)" \
	"^ExecStart=/usr/bin/popvault serve --data $DATA --config /etc/popvault/popvault.conf$" \
	"popvault.service runs serve on $DATA with /etc/popvault/popvault.conf"
missing=""
for p in popvault.8 popvault.conf.5 popvault-policy.5 popvault-query.7; do
	man -w "${p##*.}" "${p%.*}" >/dev/null 2>&1 || missing="$missing $p"
done
h_is "$missing" "" "man finds popvault(8), popvault.conf(5), popvault-policy(5), popvault-query(7)"
h_is "$(bash -c '. /usr/share/bash-completion/completions/popvault
	COMP_WORDS=(popvault ver); COMP_CWORD=1; _popvault; echo "${COMPREPLY[*]}"')" \
	"verify verify-bundle" "the bash completion completes commands"
h_is "$(dpkg-query -W -f='${Conffiles}' popvault | awk '{print $1}' | xargs)" \
	"/etc/popvault/popvault.conf" "/etc/popvault/popvault.conf is a conffile"
h_check "web-static is in /usr/share/popvault/web-static" \
	test -f /usr/share/popvault/web-static/index.html

IFS=: read -r _ _ uid _ _ home shell < <(getent passwd popvault)
h_is "$([ "${uid:-0}" -gt 0 ] && [ "$uid" -lt 1000 ] && echo system) $home $shell" \
	"system $DATA /usr/sbin/nologin" "postinst made popvault a system user without a shell"
h_is "$(stat -c '%a %U:%G' "$DATA")" "700 popvault:popvault" "$DATA is 0700, owned by popvault"
h_is "$(find "$DATA" ! -user popvault | head -3)" "" "... and everything in it"
keys=$(cat "$DATA/VERIFIER-KEYS.txt" 2>/dev/null)
want="$(as_popvault checkpoint --log archive --vkey) $(as_popvault checkpoint --log audit --vkey)"
h_is "$(grep -E '^[^ ]+/(archive|audit)\+[0-9a-f]{8}\+' <<<"$keys" | xargs)" "$want" \
	"VERIFIER-KEYS.txt holds the verifier keys of both logs"
h_is "$(grep -c '^Genesis checkpoint of the' <<<"$keys")" 2 "... and both genesis checkpoints"
verifies() { as_popvault verify >"$H_RUN/verify.out" 2>&1; }
h_check "the new archive verifies (as the popvault user)" verifies

# serve as popvault.service starts it (a free port instead of 8443).
runuser -u popvault -- /usr/bin/popvault serve --data "$DATA" --config /etc/popvault/popvault.conf \
	--listen 127.0.0.1:0 >"$H_RUN/serve.out" 2>&1 &
serve_pid=$!
h_at_exit "kill $serve_pid 2>/dev/null"
for ((i = 0; i < 100; i++)); do
	grep -q 'serving' "$H_RUN/serve.out" && break
	sleep 0.1
done
url=$(sed -n 's|^popvault: serving \(https://[^ ]*\) .*|\1|p' "$H_RUN/serve.out")
h_like "$(cat "$H_RUN/serve.out")" "web root /usr/share/popvault/web-static" \
	"serve reads /etc/popvault/popvault.conf and serves /usr/share/popvault/web-static"
page=$(python3 - "$url" <<-'EOF' 2>&1
	import ssl, sys, urllib.request
	ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
	print(urllib.request.urlopen(sys.argv[1], context=ctx, timeout=10).read().decode())
	EOF
)
h_like "$page" "<html" "... over HTTPS with its self-signed certificate"
kill "$serve_pid" 2>/dev/null
wait "$serve_pid" 2>/dev/null

# --- remove, purge, reinstall, confirmed purge ------------------------
before=$(sha256sum "$DATA/catalog.db" "$DATA/VERIFIER-KEYS.txt")
pkg -r popvault
h_is "$([ -e /usr/bin/popvault ] && echo binary; sha256sum "$DATA/catalog.db" "$DATA/VERIFIER-KEYS.txt" | cmp -s - <(echo "$before") && echo archive)" \
	"archive" "dpkg -r removes the program and keeps the archive"
pkg --purge popvault
h_diag "$(cat "$H_RUN/dpkg.out")"
h_is "$([ -e /etc/popvault ] && echo config; sha256sum "$DATA/catalog.db" "$DATA/VERIFIER-KEYS.txt" | cmp -s - <(echo "$before") && echo archive)" \
	"archive" "dpkg --purge without a confirmation removes the config and keeps the archive"
pkg -i "$DEB"
h_is "$(sha256sum "$DATA/catalog.db" "$DATA/VERIFIER-KEYS.txt")" "$before" \
	"a reinstallation uses the archive as it is (init does not run again)"
echo "popvault popvault/purge-archive boolean true" | debconf-set-selections
pkg --purge popvault
h_diag "$(cat "$H_RUN/dpkg.out")"
h_is "$([ -e "$DATA" ] && echo kept)" "" "a purge confirmed through debconf deletes the archive"
# A data volume mounted there beforehand: an empty directory of root's.
install -d -m 0755 "$DATA"
pkg -i "$DEB"
h_is "$(stat -c '%U %a' "$DATA"; [ -s "$DATA/VERIFIER-KEYS.txt" ] && echo keys;
	grep -c 'user add NAME --role admin' "$H_RUN/dpkg.out")" "popvault 700
keys
1" "an empty data directory made beforehand is taken over (owner, mode), the archive made in it, the first admin's command printed"
echo "popvault popvault/purge-archive boolean true" | debconf-set-selections
pkg --purge popvault
cleanup
h_is "$(getent passwd popvault; getent group popvault; ls -d "$DATA" 2>/dev/null)" "" \
	"the machine is as it was: no popvault user, group or data"
