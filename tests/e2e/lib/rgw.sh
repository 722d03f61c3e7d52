# A single-node Ceph with the RADOS Gateway (S3 with Object Lock) on
# loopback, for bash TAP scripts.  Source it after harness.sh:
#     . "$(dirname "$0")/lib/harness.sh"
#     . "$(dirname "$0")/lib/rgw.sh"
#     h_init
#     rgw_start                 # or: Bail out! with the reason
#     ... $RGW_URL $RGW_ACCESS_KEY $RGW_SECRET_KEY $RGW_REGION ...
#     rgw_at 400                # the gateway's clock 400 days ahead
# One ceph-mon, one ceph-osd (memstore: RAM only, 2 s to start), one
# radosgw; no ceph-mgr (the gateway does not need it).  Everything lives in
# $H_RUN/rgw; each daemon forks itself and writes its pid file there, and
# is stopped by that PID (TERM, then KILL), also at exit (h_register).
# The settings that matter are in ../shared/reference/scale.md and
# tests/README.
#
# The gateway runs under libfaketime with its offset read from a file
# (RGW_FAKETIME): Object Lock's retain-until is judged by the gateway's
# clock, and SigV4 refuses requests more than 15 minutes off it, so a
# test that moves popvault's clock (pv_at DAYS) moves the gateway's to the
# same offset with rgw_at DAYS first.
#
# Sets RGW_URL (http://127.0.0.1:PORT), RGW_REGION, RGW_ACCESS_KEY,
# RGW_SECRET_KEY, RGW_KEY_FILE (ACCESS:SECRET, what --store-key-file
# takes), RGW_DIR, RGW_CONF, RGW_FAKETIME, RGW_LOG.

RGW_REGION=default
RGW_LIBFAKETIME=${RGW_LIBFAKETIME:-/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1}

rgw__fail() {
	echo "# rgw: $*" >&2
	local f gw=${RGW_LOG:-}
	# the gateway's own log last: a caller that keeps only the tail of
	# this output (pvharness.py) keeps the daemon started and waited for last
	for f in "$RGW_DIR"/log/*.log; do
		[ "$f" != "$gw" ] && [ -s "$f" ] &&
			{ echo "# --- $f (last lines)"; tail -n 15 "$f" | sed 's/^/#   /'; } >&2
	done
	[ -n "$gw" ] && [ -s "$gw" ] &&
		{ echo "# --- $gw (last lines)"; tail -n 25 "$gw" | sed 's/^/#   /'; } >&2
	rgw_stop
	[ -n "${H_NO_BAIL:-}" ] && return 1
	echo "Bail out! Ceph RGW did not start: $*"
	exit 1
}

# rgw__pid NAME: the pid in NAME's pid file, empty when none.
rgw__pid() { [ -s "$RGW_DIR/run/$1.pid" ] && tr -dc 0-9 <"$RGW_DIR/run/$1.pid"; }

# rgw__wait_pid NAME: its pid file written, the daemon running, registered
# with the harness (stopped at exit even if this script dies).
rgw__wait_pid() {
	local pid
	h_wait_for 20 rgw__pid "$1" >/dev/null || return 1
	pid=$(rgw__pid "$1")
	h_pid_alive "$pid" || return 1
	h_register "rgw/$1" "$pid" >/dev/null
}

rgw__conf() {
	local fsid=$1
	cat <<EOF
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:$RGW_MON_PORT]
public addr = 127.0.0.1
ms bind msgr1 = false
auth cluster required = none
auth service required = none
auth client required = none
run dir = $RGW_DIR/run
admin socket = $RGW_DIR/run/\$name.asok
log file = $RGW_DIR/log/\$name.log
pid file = $RGW_DIR/run/\$name.pid
keyring = $RGW_DIR/keyring
crash dir = $RGW_DIR/crash
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
mon data avail warn = 1
mon data avail crit = 0
[mon]
mon data = $RGW_DIR/mon
paxos propose interval = 0.05
paxos min wait = 0.01
[osd]
osd data = $RGW_DIR/osd0
osd objectstore = memstore
memstore device bytes = 2G
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT
ms mon client mode = crc
rgw data = $RGW_DIR/rgw
EOF
}

# rgw__ceph ARGS...: a ceph tool against this cluster, bounded in time.
rgw__ceph() { timeout 30 "$@" --conf "$RGW_CONF"; }

rgw__osd_up() { rgw__ceph ceph osd dump 2>/dev/null | grep -q '^osd\.0 up'; }
rgw__http_up() { curl -s -o /dev/null --max-time 2 "$RGW_URL/"; }

# rgw_start: the cluster, its gateway and an S3 user; ready when it returns.
rgw_start() {
	local fsid uuid
	for t in ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph-authtool ceph; do
		command -v "$t" >/dev/null ||
			{ RGW_DIR=$H_RUN/rgw rgw__fail "$t is not installed (packaging/deps.sh)"; return 1; }
	done
	[ -r "$RGW_LIBFAKETIME" ] ||
		{ RGW_DIR=$H_RUN/rgw rgw__fail "$RGW_LIBFAKETIME missing (Debian faketime)"; return 1; }
	RGW_DIR=$H_RUN/rgw
	RGW_CONF=$RGW_DIR/ceph.conf
	RGW_FAKETIME=$RGW_DIR/faketime
	RGW_LOG=$RGW_DIR/log/client.rgw.log
	RGW_MON_PORT=$(h_port)
	RGW_PORT=$(h_port)
	RGW_URL=http://127.0.0.1:$RGW_PORT
	RGW_ACCESS_KEY=PVTEST$(od -An -N6 -tx1 /dev/urandom | tr -dc 0-9a-f | tr a-f A-F)
	RGW_SECRET_KEY=$(od -An -N20 -tx1 /dev/urandom | tr -dc 0-9a-f)
	RGW_KEY_FILE=$RGW_DIR/s3.key
	export RGW_DIR RGW_CONF RGW_FAKETIME RGW_LOG RGW_URL RGW_REGION RGW_ACCESS_KEY \
		RGW_SECRET_KEY RGW_KEY_FILE
	mkdir -p "$RGW_DIR"/run "$RGW_DIR"/log "$RGW_DIR"/mon "$RGW_DIR"/osd0 \
		"$RGW_DIR"/rgw "$RGW_DIR"/crash || { rgw__fail "cannot make $RGW_DIR"; return 1; }
	(umask 077 && printf '%s:%s\n' "$RGW_ACCESS_KEY" "$RGW_SECRET_KEY" >"$RGW_KEY_FILE")
	echo "+0d" >"$RGW_FAKETIME"
	fsid=$(uuidgen)
	uuid=$(uuidgen)
	rgw__conf "$fsid" >"$RGW_CONF"

	timeout 20 ceph-authtool --create-keyring "$RGW_DIR/keyring" --gen-key -n mon. \
		--cap mon 'allow *' >/dev/null 2>"$RGW_DIR/log/setup.log" &&
		timeout 20 monmaptool --create --fsid "$fsid" \
			--addv a "[v2:127.0.0.1:$RGW_MON_PORT]" "$RGW_DIR/monmap" \
			>>"$RGW_DIR/log/setup.log" 2>&1 &&
		timeout 30 ceph-mon --conf "$RGW_CONF" --id a --mkfs --monmap "$RGW_DIR/monmap" \
			--keyring "$RGW_DIR/keyring" >>"$RGW_DIR/log/setup.log" 2>&1 ||
		{ rgw__fail "ceph-mon --mkfs failed (log/setup.log)"; return 1; }
	timeout 30 ceph-mon --conf "$RGW_CONF" --id a >>"$RGW_DIR/log/setup.log" 2>&1 &&
		rgw__wait_pid mon.a || { rgw__fail "ceph-mon did not start"; return 1; }
	rgw__ceph ceph osd new "$uuid" 0 >>"$RGW_DIR/log/setup.log" 2>&1 &&
		timeout 30 ceph-osd --conf "$RGW_CONF" --id 0 --mkfs --osd-uuid "$uuid" \
			>>"$RGW_DIR/log/setup.log" 2>&1 ||
		{ rgw__fail "ceph-osd --mkfs failed (log/setup.log)"; return 1; }
	timeout 30 ceph-osd --conf "$RGW_CONF" --id 0 >>"$RGW_DIR/log/setup.log" 2>&1 &&
		rgw__wait_pid osd.0 || { rgw__fail "ceph-osd did not start"; return 1; }
	h_wait_for 30 rgw__osd_up || { rgw__fail "osd.0 never came up"; return 1; }
	# Its clock is the one Object Lock judges by: under libfaketime,
	# offset from RGW_FAKETIME, read again on every call (FAKETIME_NO_CACHE);
	# monotonic time left alone (timers, timeouts).
	env LD_PRELOAD="$RGW_LIBFAKETIME" FAKETIME_TIMESTAMP_FILE="$RGW_FAKETIME" \
		FAKETIME_NO_CACHE=1 FAKETIME_DONT_FAKE_MONOTONIC=1 \
		timeout 30 radosgw --conf "$RGW_CONF" -n client.rgw >>"$RGW_DIR/log/setup.log" 2>&1 &&
		rgw__wait_pid client.rgw || { rgw__fail "radosgw did not start"; return 1; }
	# (it creates its pools first; at the start of a busy make test,
	# three suites at a time, it once did not answer within 60 s)
	h_wait_for 120 rgw__http_up || { rgw__fail "radosgw does not answer on $RGW_URL"; return 1; }
	rgw__ceph radosgw-admin user create --uid=popvault --display-name=popvault \
		--access-key="$RGW_ACCESS_KEY" --secret-key="$RGW_SECRET_KEY" \
		>>"$RGW_DIR/log/setup.log" 2>&1 ||
		{ rgw__fail "radosgw-admin user create failed (log/setup.log)"; return 1; }
	return 0
}

# rgw_admin ARGS...: radosgw-admin on this cluster, as its admin (outside
# the WORM promise: `bucket rm --purge-objects` ignores Object Lock).
rgw_admin() { rgw__ceph radosgw-admin "$@"; }

# rgw_at DAYS: the gateway's clock DAYS days from now (what pv_at DAYS
# gives popvault); 0 puts it back.
rgw_at() { echo "+$1d" >"$RGW_FAKETIME"; }

# rgw_stop: every daemon, by the PID its pid file gave at start (TERM,
# wait, KILL; the harness checks the start time, so a reused PID is never
# hit): the gateway first, the monitor last.
rgw_stop() { h_stop rgw >/dev/null 2>&1; return 0; }

# Run as a program (what pvharness.Run.rgw does for the python tests):
#     rgw.sh start RUN_DIR      the cluster in RUN_DIR/rgw, registered in
#                               RUN_DIR's pid list (stopped with the run);
#                               prints the RGW_* assignments
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -u
	[ "${1:-}" = start ] && [ $# -eq 2 ] || { echo "usage: $0 start RUN_DIR" >&2; exit 2; }
	. "$(dirname "$0")/harness.sh"
	H_RUN=$2
	rgw_start >&2 || exit 1
	for v in RGW_URL RGW_REGION RGW_ACCESS_KEY RGW_SECRET_KEY RGW_KEY_FILE RGW_DIR RGW_CONF \
		RGW_FAKETIME RGW_LOG; do
		printf "%s='%s'\n" "$v" "${!v}"
	done
fi
