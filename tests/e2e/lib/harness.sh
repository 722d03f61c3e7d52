# popvault e2e harness for bash TAP scripts.  Source it:
#     . "$(dirname "$0")/lib/harness.sh"
#     h_init                      # run dir + cleanup trap (call once)
#     h_plan 3
#     h_dovecot_start --seed alice=/path/to/emls
#     h_is "$(maildir_count alice)" 12 "seeded"
#     ...
# The work is done by pvharness.py (python tests import it directly);
# each start prints NAME_* assignments that are exported here.
# Servers are stopped by PID at exit, also when the test dies; the run
# dir is removed unless H_KEEP=1.  See tests/e2e/lib/README.md.

H_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export H_LIB # python parts of the suites import lib/pvcatalog.py from it
H_PY=${PYTHON:-python3}
H_SRC=${POPVAULT_SRC:-$(cd "$H_LIB/../../.." && pwd)}
H_TESTS=0
H_FAILS=0
H_PLANNED=

h__sbin() { PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin" command -v "$1"; }
h__py() { "$H_PY" "$H_LIB/pvharness.py" --run "$H_RUN" "$@"; }

# Run pvharness and export what it prints (VAR='value' lines).
h__export() {
	local out
	out=$(h__py "$@") || { h_diag "pvharness $1 failed"; return 1; }
	eval "$(printf '%s\n' "$out" | sed -e '/^$/d' -e 's/^/export /')"
}

# A server that does not start ends the test ("Bail out!"): every later
# check would fail for the same reason.  H_NO_BAIL=1 returns 1 instead.
h__start() {
	h__export "$@" && return 0
	[ -n "${H_NO_BAIL:-}" ] && return 1
	echo "Bail out! $1 server did not start (see the messages above)"
	exit 1
}

# h_init: make the run dir ($H_RUN), install the EXIT trap.
h_init() {
	local out
	out=$("$H_PY" "$H_LIB/pvharness.py" init) || {
		echo "Bail out! cannot make run dir"; exit 1; }
	eval "export ${out}"
	trap h__exit EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# Extra cleanup commands, run before the servers are stopped.
H_AT_EXIT=()
h_at_exit() { H_AT_EXIT+=("$*"); }

h__exit() {
	local rc=$?
	local c
	for c in "${H_AT_EXIT[@]}"; do eval "$c" || true; done
	h_cleanup
	if [ "$H_FAILS" -gt 0 ] && [ "$rc" -eq 0 ]; then rc=1; fi
	if [ -n "$H_PLANNED" ] && [ "$H_TESTS" -ne "$H_PLANNED" ] &&
		[ "$rc" -eq 0 ]; then
		echo "# planned $H_PLANNED tests, ran $H_TESTS"
		rc=1
	fi
	exit "$rc"
}

h_cleanup() {
	[ -n "${H_RUN:-}" ] && [ -d "$H_RUN" ] && h__py cleanup
	return 0
}

# h_ca: per-run CA.  Sets H_CA (CA cert for clients), H_CERT, H_KEY
# (localhost + 127.0.0.1), H_WRONGHOST_CERT/KEY, H_EXPIRED_CERT/KEY,
# H_SELFSIGNED_CERT/KEY, H_OTHER_CA.  Servers call it themselves.
h_ca() { h__export ca; }

# h_dovecot_start [--name N] [--user NAME:PASS[:EXTRA]]... [--seed USER=PATH]...
#                 [--rawlog] [--oauth2] [--penalty] [--conf TEXT] [--cert F --key F]
# Default users alice:alicepw and bob:bobpw.  Sets (prefix = upper(N),
# default DOVECOT_): PORT (plain, STLS offered), TLS_PORT (implicit),
# HOST, CA, PID, DIR, CONF, USERS, LOG, USER_NAMES; RAWLOG with --rawlog;
# OAUTH_TOKEN OAUTH_USER OAUTH_PORT OAUTH_TOKENS OAUTH_LOG with --oauth2.
h_dovecot_start() { h__start dovecot "$@"; }

# h_mailutils_start [--name N] [--user ...] [--seed USER=PATH]...
#                   [--expire0] [--login-delay SECS] [--conf TEXT]
# GNU pop3d.  Logins are USER@example.org.  Sets MAILUTILS_PORT (STLS),
# MAILUTILS_TLS_PORT (implicit), HOST, CA, PID, DIR, CONF, LOG (with the
# session transcript), DOMAIN, USER_NAMES.
h_mailutils_start() { h__start mailutils "$@"; }

# h_fake_start --script FILE-or-TEXT [--name N] [--tls] [--mailbox DIR]
#              [--cert F --key F]
# Sets FAKE_PORT, HOST, CA, PID, DIR, TRANSCRIPT, LOG, TLS.
h_fake_start() { h__start fake "$@"; }

# h_tsa_start [--name N]: a real RFC 3161 TSA (openssl ts -reply behind a
# loopback HTTP responder, lib/tsa_responder.py).  Sets TSA_URL, TSA_CA
# (its CA: what popvault trusts), TSA_OTHER_CA, TSA_MODE_FILE (write a
# mode there: good, wrong-imprint, nonce, untrusted, expired, garbage,
# http500), TSA_REQUESTS (one line per request), TSA_PID, TSA_DIR, TSA_LOG.
h_tsa_start() { h__start tsa "$@"; }

# h_witness_start --name N --log VKEY [--log VKEY]...: `popvault witness
# serve` ($POPVAULT_BIN) on loopback, its key and state made by `witness
# init` in its dir, trusting those log keys.  Sets (prefix upper(N)) URL,
# VKEY, NAME (its key name), STATE (its SQLite file), PORT, PID, DIR, LOG.
h_witness_start() { h__start witness "$@"; }

# Stop by the PIDs recorded at start (also when a test fails: h_init's
# trap stops everything).
h_stop() { h__py stop "$1"; }
# h_register NAME PID: a process the script started itself, stopped like the
# servers (h_stop NAME, and at exit); best started in its own session.
h_register() { h__py register "$1" "$2"; }
h_dovecot_stop() { h_stop "${1:-dovecot}"; }
h_mailutils_stop() { h_stop "${1:-mailutils}"; }
h_fake_stop() { h_stop "${1:-fake}"; }

# h_seed SERVER USER SRC... [--as FILENAME]: deliver more messages (files
# or dirs of files, sorted) via tmp/ -> new/; prints the new file names.
h_seed() { h__py seed "$@"; }

# maildir_count USER [SERVER]: messages still upstream (new/ + cur/).
maildir_count() { h__py count "${2:-dovecot}" "$1"; }

# h_maildir SERVER USER: the maildir path (Dovecot: HOME/Maildir,
# pop3d: HOME/INBOX).  Writing there by hand as root: chown to the
# server's user (stat -c %u "$DOVECOT_DIR").
h_maildir() { h__py maildir "$1" "$2"; }

# h_doveadm ARGS...: doveadm against the instance (DOVECOT_CONF, or
# H_DOVEADM_CONF for a named instance), e.g. `h_doveadm kick alice`.
h_doveadm() { "$(h__sbin doveadm)" -c "${H_DOVEADM_CONF:-$DOVECOT_CONF}" "$@"; }

# h_port: a free loopback port (nothing listens there: "connection refused").
h_port() { "$H_PY" "$H_LIB/pvharness.py" port; }

# h_wait_for SECS CMD...: poll CMD every 0.1 s until it succeeds.
h_wait_for() {
	local n=$(( $1 * 10 ))
	shift
	while [ "$n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

# h_fake NAME SCRIPT [h_fake_start options]: a named fake server; sets
# PORT, TR (its transcript) and CA for it (the NAME_* variables stay too).
h_fake() {
	local p
	h_fake_start --name "$1" --script "$2" "${@:3}"
	p=$(printf '%s' "$1" | tr 'a-z-' 'A-Z_')
	eval "PORT=\$${p}_PORT TR=\$${p}_TRANSCRIPT CA=\$${p}_CA"
}

# h_popcheck POPCHECK-ARGS...: the independent poplib client (popcheck.py).
h_popcheck() { "$H_PY" "$H_LIB/popcheck.py" "$@"; }

# h_tls_greets S_CLIENT-ARGS...: true when openssl s_client, verifying
# (-verify_return_error), connects with ARGS and gets the +OK greeting.
# Its output stays in $H_RUN/sc.out and sc.err.
h_tls_greets() {
	echo QUIT | timeout 20 openssl s_client -quiet -verify_return_error "$@" \
		>"$H_RUN/sc.out" 2>"$H_RUN/sc.err" && grep -q '^+OK' "$H_RUN/sc.out"
}

# h_genmail GENMAIL-OPTIONS...: generated mail (genmail.py), quietly.
h_genmail() { "$H_PY" "$H_LIB/genmail.py" "$@" >/dev/null; }

# h_hashes FILE...: the sorted SHA-256 of each file, one a line.
h_hashes() { local f; for f in "$@"; do sha256sum <"$f" | cut -d' ' -f1; done | sort; }

# h_json EXPR: a python expression over d, the JSON read from stdin.
h_json() { "$H_PY" -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# h_pid_alive PID: true while PID runs (zombies count as gone).
h_pid_alive() {
	local st
	[ -r "/proc/$1/stat" ] || return 1
	st=$(sed 's/.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
	[ "$st" != Z ] && [ "$st" != X ]
}

# h_faketime DAYS CMD...: CMD as if run DAYS days from now (UTC): the
# real clock moved by that offset, libfaketime preloaded by itself
# (FAKETIME, LD_PRELOAD; what CMD starts inherits both).  Not through the
# faketime program: it makes a POSIX semaphore and shared memory named
# after its own PID (/dev/shm/sem.faketime_sem_PID) with O_EXCL, so one
# left behind by a faketime that was killed makes every later faketime
# given that PID exit 1 ("sem_open: File exists") without running CMD; on
# a busy machine PIDs come round within minutes (harness_faketime.t).
# libfaketime makes such a pair itself when it is not given one (the first
# process it is loaded in, removing it at exit), but goes on without it
# when the name is taken. h_faketime_env DAYS prints the VAR=VALUE words
# CMD runs under (env takes them).
H_LIBFAKETIME=${H_LIBFAKETIME:-'/usr/$LIB/faketime/libfaketime.so.1'}
h_faketime_env() {
	local sign=+
	[ "${1#-}" != "$1" ] && sign= # -N: N days back
	printf '%s\n' TZ=UTC "FAKETIME=$sign${1}d" "LD_PRELOAD=$H_LIBFAKETIME${LD_PRELOAD:+:$LD_PRELOAD}"
}
h_faketime() {
	local days=$1
	shift
	# shellcheck disable=SC2046 # one word a line, none with blanks
	env $(h_faketime_env "$days") "$@"
}

# ---- TAP ------------------------------------------------------------
h_plan() { H_PLANNED=$1; echo "1..$1"; }
h_diag() { printf '%s\n' "$@" | sed 's/^/# /'; }
h_pass() { H_TESTS=$((H_TESTS + 1)); echo "ok $H_TESTS - $1"; }
h_fail() {
	H_TESTS=$((H_TESTS + 1)); H_FAILS=$((H_FAILS + 1))
	echo "not ok $H_TESTS - $1"
	shift
	[ $# -gt 0 ] && h_diag "$@"
	return 0
}
# h_check NAME CMD...: ok when CMD exits 0.
h_check() {
	local name=$1
	shift
	if "$@"; then h_pass "$name"; else h_fail "$name" "failed: $*"; fi
}
# h_is GOT WANT NAME
h_is() {
	if [ "$1" = "$2" ]; then h_pass "$3"
	else h_fail "$3" "got:  '$1'" "want: '$2'"; fi
}
# h_like GOT ERE NAME
h_like() {
	if printf '%s' "$1" | grep -Eq -- "$2"; then h_pass "$3"
	else h_fail "$3" "got:  '$1'" "want match: $2"; fi
}
# h_fails NAME RC ERE CMD...: ok when CMD exits RC and what it prints
# (stdout and stderr) matches ERE: which check fired, not only that one did.
# The output stays in $H_RUN/fails.out.
h_fails() {
	local name=$1 want=$2 ere=$3 rc
	shift 3
	"$@" >"$H_RUN/fails.out" 2>&1
	rc=$?
	if [ "$rc" -eq "$want" ] && grep -Eq -- "$ere" "$H_RUN/fails.out"; then
		h_pass "$name"
	else
		h_fail "$name" "exit $rc (want $want), want match: $ere" "$(head -c 2000 "$H_RUN/fails.out")"
	fi
}
# h_skip REASON [N]: N (default 1) skipped tests.
h_skip() {
	local i
	for ((i = 0; i < ${2:-1}; i++)); do
		H_TESTS=$((H_TESTS + 1))
		echo "ok $H_TESTS # SKIP $1"
	done
}
# h_skip_all REASON: skip the whole script (TAP "1..0 # SKIP").
h_skip_all() { echo "1..0 # SKIP $*"; H_PLANNED=; exit 0; }
