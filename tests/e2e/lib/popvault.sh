# popvault e2e helpers for bash TAP scripts: the binary under test and what
# the tests ask of an archive.  Source it after harness.sh:
#     . "$(dirname "$0")/lib/harness.sh"
#     . "$(dirname "$0")/lib/popvault.sh"
#     h_init
#     pv_init "$H_RUN/data"           # the archive in $D
#     pv_dovecot_account alice        # after h_dovecot_start
#     pv_harvest                      # RC, OUT (JSON), ERR
#     h_is "$RC $(pv_result fetched)" "0 12" "..."
# Everything but pv_init works on the archive in $D.

PV=${POPVAULT_BIN:-$H_SRC/build/popvault}

# pv ARGS...: popvault on the archive $D.
pv() { "$PV" --data "$D" "$@"; }

# pv_init DIR [init options]: a new archive at DIR, which becomes $D.
pv_init() {
	D=$1
	"$PV" init --data "$D" "${@:2}" >/dev/null
}

# pv_dovecot_account USER [account add options]: account USER for the
# Dovecot user USER (password USERpw, the harness's default), implicit TLS
# to DOVECOT_TLS_PORT, trusting DOVECOT_CA.  The password is in
# $H_RUN/USER.pw.
pv_dovecot_account() {
	local user=$1
	shift
	printf '%spw\n' "$user" >"$H_RUN/$user.pw"
	pv account add "$user" --host localhost --port "$DOVECOT_TLS_PORT" --user "$user" \
		--password-file "$H_RUN/$user.pw" --ca-file "$DOVECOT_CA" "$@" >/dev/null
}

# pv_harvested DIR: a new archive at DIR ($D) holding what Dovecot's
# mailbox alice held (h_dovecot_start), harvested once.
pv_harvested() {
	pv_init "$1"
	pv_dovecot_account alice
	pv harvest --once >/dev/null 2>&1
}

# pv_harvest [PREFIX...]: one `harvest --once --json`, run through PREFIX
# when given (e.g. env LD_PRELOAD=...).  Sets RC (exit status), OUT (the
# JSON on stdout) and ERR (stderr); both are also in $H_RUN/out.json and
# $H_RUN/out.err.
pv_harvest() {
	"$@" "$PV" --data "$D" --json harvest --once >"$H_RUN/out.json" 2>"$H_RUN/out.err"
	RC=$?
	OUT=$(cat "$H_RUN/out.json")
	ERR=$(cat "$H_RUN/out.err")
}

# pv_result KEY...: the values of KEY... in $OUT (the last pv_harvest),
# space separated.
pv_result() {
	"$H_PY" -c 'import json,sys; d=json.loads(sys.argv[1]); print(" ".join(str(d[k]) for k in sys.argv[2:]))' \
		"$OUT" "$@"
}

# pv_count: how many messages the archive holds (stats).
pv_count() { pv --json stats | h_json 'd["messages"]'; }

# pv_archived: the sorted SHA-256 of every archived message, read back
# with show --raw (compare with h_hashes of the files sent).
pv_archived() {
	local n i
	n=$(pv_count)
	for ((i = 1; i <= n; i++)); do pv show "$i" --raw | sha256sum | cut -d' ' -f1; done | sort
}

# pv_sql SQL...: sqlite3 on the archive's catalog.
pv_sql() { sqlite3 "$D/catalog.db" "$@"; }

# pv_date DAYS: the UTC time DAYS days from now, as faketime takes it.
# Moving time back is a clock step: allowed, but recorded (a clock-step
# audit entry and a verify note; tests/e2e/clock_step.t).
pv_date() { date -u -d "+$1 days" '+%Y-%m-%d %H:%M:%S'; }

# pv_at DAYS ARGS...: pv as if run DAYS days from now (faketime, UTC). The
# clock is the real one moved by a fixed offset, so consecutive runs at the
# same DAYS never see time go back (an absolute start time would: each run
# would restart the clock at the second it was computed).
pv_at() {
	local days=$1
	shift
	TZ=UTC faketime -f "+${days}d" "$PV" --data "$D" "$@"
}

# pv_glass RUNNER...: approves the newest pending approval (policy
# propose, hold release, dispose) alone, with --break-glass (a test
# archive has one operator), through RUNNER (pv, pv --json, pv_at DAYS);
# prints what the approval did (the break-glass warning goes to stderr).
pv_glass() {
	local id
	id=$(pv --json approvals list | h_json 'd[0]["id"]')
	"$@" approvals approve "$id" --break-glass --reason "e2e: a single operator"
}

# pv_enospc_shim: builds $H_RUN/enospc.so, the LD_PRELOAD shim that fills
# the disk during a harvest (tests/data/fake/enospc.c says how), or bails out.
pv_enospc_shim() {
	cc -shared -fPIC -o "$H_RUN/enospc.so" "$H_SRC/tests/data/fake/enospc.c" -ldl || {
		echo "Bail out! cannot build the ENOSPC shim"
		exit 1
	}
}
