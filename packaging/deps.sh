#!/bin/sh
# Installs every Debian package popvault's build, tests, benchmarks and demo
# need (ARCHITECTURE.md §9). Idempotent: does nothing when all are present.
set -eu

PKGS="build-essential pkg-config
libssl-dev openssl ca-certificates
libsqlite3-dev sqlite3
libsodium-dev libarchive-dev libzstd-dev zlib1g-dev
libgmime-3.0-dev libmicrohttpd-dev libjansson-dev libinih-dev libcurl4-openssl-dev libseccomp-dev
libcmocka-dev clang libclang-rt-14-dev valgrind cppcheck clang-tools
dovecot-core dovecot-pop3d mailutils-pop3d
python3 faketime poppler-utils util-linux procps
mpop fetchmail getmail6 procmail time linux-perf wrk
debhelper lintian fakeroot scdoc man-db systemd
chromium
postgresql-15 libpq-dev
ceph-mon ceph-osd radosgw ceph-common"

# The PostgreSQL search backend links libpq; its tests and the scale
# benchmark run a private postgresql-15 (tests/e2e/lib/pg.sh) on loopback.
# The S3 pack store's tests run a single-node Ceph with the RADOS Gateway
# (tests/e2e/lib/rgw.sh; no ceph-mgr: the gateway does not need it).

# The browser tests (tests/web, DESIGN.md §9) drive Debian's chromium with
# npm's playwright-core under node's test runner. A node of its own (e.g.
# node 20 from elsewhere) is used when there is one; else Debian's.
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 ||
	PKGS="$PKGS nodejs npm"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done

if [ -n "$missing" ]; then
	echo "deps: installing:$missing"
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO="sudo"
	# Debian's postinst would start dovecot as a system service; tests run
	# their own private instances, so keep the packaged one from starting.
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
		$SUDO chmod 755 /usr/sbin/policy-rc.d
		trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
	fi
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -qq
	# shellcheck disable=SC2086
	$SUDO apt-get install -y -qq --no-install-recommends $missing
fi
