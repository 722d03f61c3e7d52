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
#
# The backend matrix (tests/README): with POPVAULT_TEST_STORE=s3 every
# archive pv_init makes keeps its sealed packs in a real S3 with Object
# Lock, a Ceph RGW (lib/rgw.sh) started at the first pv_init and stopped
# with the run, in a bucket of its own (init creates it: a bucket with
# Object Lock cannot be shared).  pv_at moves the gateway's clock with
# popvault's, and pv_pack_kept / pv_pack_lose look where the packs are.
# With POPVAULT_TEST_CATALOG=pg every archive pv_init makes keeps its
# catalog in a real PostgreSQL 15 (lib/pg.sh, started at the first pv_init
# and stopped with the run), in a database of its own; pv_sql then runs
# psql there, printing rows as sqlite3 does (fields joined by "|").

PV=${POPVAULT_BIN:-$H_SRC/build/popvault}
PV_TEST_STORE=${POPVAULT_TEST_STORE:-local}
case $PV_TEST_STORE in
local | s3) ;;
*) echo "Bail out! POPVAULT_TEST_STORE=$PV_TEST_STORE: local or s3"; exit 1 ;;
esac
PV_TEST_CATALOG=${POPVAULT_TEST_CATALOG:-sqlite}
case $PV_TEST_CATALOG in
sqlite | pg) ;;
*) echo "Bail out! POPVAULT_TEST_CATALOG=$PV_TEST_CATALOG: sqlite or pg"; exit 1 ;;
esac

# pv ARGS...: popvault on the archive $D.
pv() { "$PV" --data "$D" "$@"; }

# pv_store_opts [init options]: sets PV_STORE_OPTS, the init options
# of the store under test: none for local; for s3 a fresh bucket on the
# run's RGW (started here the first time), unless the options name a store.
pv_store_opts() {
	PV_STORE_OPTS=()
	[ "$PV_TEST_STORE" = s3 ] || return 0
	case " $* " in *" --store "*) return 0 ;; esac
	if [ -z "${RGW_URL:-}" ]; then
		. "$H_LIB/rgw.sh"
		rgw_start
	fi
	PV_STORE_OPTS=(--store "s3://pv-$(od -An -N6 -tx1 /dev/urandom | tr -dc 0-9a-f)?endpoint=$RGW_URL&region=$RGW_REGION"
		--store-key-file "$RGW_KEY_FILE")
}

# pv_catalog_opts [init options]: sets PV_CATALOG_OPTS, the init options
# of the catalog under test: none for sqlite; for pg a new database on the
# run's PostgreSQL (started here the first time), unless the options name
# a catalog.
pv_catalog_opts() {
	PV_CATALOG_OPTS=()
	[ "$PV_TEST_CATALOG" = pg ] || return 0
	case " $* " in *" --catalog "*) return 0 ;; esac
	if [ -z "${PG_URL:-}" ]; then
		. "$H_LIB/pg.sh"
		pg_start "$H_RUN/pg-matrix" || { echo "Bail out! postgresql did not start"; exit 1; }
	fi
	local db
	db=pv_$(od -An -N6 -tx1 /dev/urandom | tr -dc 0-9a-f)
	"$PG_BINDIR/psql" "$PG_URL" -qAtc "CREATE DATABASE $db" >/dev/null ||
		{ echo "Bail out! cannot create database $db"; exit 1; }
	"$PG_BINDIR/psql" "postgresql://postgres@$PG_HOST:$PG_PORT/$db" -qAt \
		-f "$H_LIB/pg_sqlite_compat.sql" >/dev/null ||
		{ echo "Bail out! cannot load pg_sqlite_compat.sql into $db"; exit 1; }
	PV_CATALOG_OPTS=(--catalog "postgresql://postgres@$PG_HOST:$PG_PORT/$db")
}

# pv_init DIR [init options]: a new archive at DIR, which becomes $D (its
# catalog in the catalog under test, pv_catalog_opts; its packs in the
# store under test, pv_store_opts).
pv_init() {
	D=$1
	pv_catalog_opts "${@:2}"
	pv_store_opts "${@:2}"
	"$PV" init --data "$D" "${PV_CATALOG_OPTS[@]}" "${PV_STORE_OPTS[@]}" "${@:2}" >/dev/null || return
	if [ ${#PV_CATALOG_OPTS[@]} -gt 0 ] && [ ! -s "$D/catalog.url" ]; then
		echo "Bail out! pv_init: $D does not record its PostgreSQL catalog"
		exit 1
	fi
	# The matrix must not pass by testing the local store twice.
	if [ ${#PV_STORE_OPTS[@]} -gt 0 ] && [ "$(pv_sql 'SELECT kind FROM pack_store')" != s3 ]; then
		echo "Bail out! pv_init: $D does not record its s3 store"
		exit 1
	fi
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

# The archive's [anchor]: h_tsa_start's TSA (TSA_URL, its CA TSA_CA),
# appended to $D/popvault.conf (its last section then).
pv_tsa_anchor() {
	printf '[anchor]\ntsa_url = %s\ntsa_ca_file = %s\n' "$TSA_URL" "$TSA_CA" >>"$D/popvault.conf"
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

# pv_sql SQL: the statements SQL on the archive's catalog: sqlite3 on
# catalog.db, or psql on the database DIR/catalog.url names (rows printed
# as sqlite3 prints them; pg_sqlite_compat.sql gives that database
# SQLite's hex() and group_concat() for the tests' queries).
pv_sql() {
	if [ -s "$D/catalog.url" ]; then
		"${PG_BINDIR:-/usr/lib/postgresql/15/bin}/psql" "$(cat "$D/catalog.url")" \
			-qAt -F '|' -v ON_ERROR_STOP=1 -c "$1"
	else
		sqlite3 "$D/catalog.db" "$@"
	fi
}

# pv_catalog_dump: the archive $D's whole catalog as SQL text (sqlite3's
# .dump, or pg_dump of its database), for a check of what it stores.
pv_catalog_dump() {
	if [ -s "$D/catalog.url" ]; then
		"${PG_BINDIR:-/usr/lib/postgresql/15/bin}/pg_dump" "$(cat "$D/catalog.url")"
	else
		sqlite3 "$D/catalog.db" .dump
	fi
}

# pv_copy_archive SRC DST: DST a copy of the archive at SRC (cp -a), for a
# test to tamper with the copy alone.  On PostgreSQL the catalog is not in
# the directory: the copy gets a database of its own, made from SRC's as
# its template (CREATE DATABASE ... TEMPLATE on the URL's server; nothing
# may be connected to SRC's then), and DST/catalog.url names it, in the
# URL's form.  With the S3 store the copy's packs are versions of their
# own (pv__copy_store_packs), so what happens to the copy's (a legal hold,
# a loss, a changed byte) leaves SRC's alone.
pv_copy_archive() {
	local src=$1 dst=$2 url db new psql
	rm -rf "$dst" && cp -a "$src" "$dst" || return
	[ -s "$src/catalog.url" ] || { pv__copy_store_packs "$dst"; return; }
	psql=${PG_BINDIR:-/usr/lib/postgresql/15/bin}/psql
	url=$(cat "$src/catalog.url")
	db=$(printf '%s\n' "$url" | sed -n 's|^[a-z]*://[^/]*/\([^?]*\).*|\1|p')
	[ -n "$db" ] || { echo "Bail out! pv_copy_archive: no database in $url"; exit 1; }
	new=pv_$(od -An -N6 -tx1 /dev/urandom | tr -dc 0-9a-f)
	"$psql" "${url%%/"$db"*}/postgres" -qAt -v ON_ERROR_STOP=1 \
		-c "CREATE DATABASE $new TEMPLATE \"$db\"" >/dev/null ||
		{ echo "Bail out! pv_copy_archive: cannot copy database $db"; exit 1; }
	printf '%s\n' "${url/\/$db/\/$new}" >"$dst/catalog.url"
	pv__copy_store_packs "$dst"
}

# pv__copy_store_packs DIR: (s3) each pack the archive DIR (a copy) has in
# the store gets a version of its own: the same bytes PUT again under the
# same key (the bucket keeps every version; Object Lock forbids changing
# one, not adding one) with the original's lock and legal hold, and DIR's
# catalog records the new version (popvault reads only the version its
# catalog names).  The store's key file is the same.
pv__copy_store_packs() {
	local D=$1 rows id ver key f=$H_RUN/copy-pack mode until hold newver
	local -a lock
	[ "$PV_TEST_STORE" = s3 ] || return 0
	rows=$(pv_sql "SELECT id, store_version FROM packs WHERE stored_at IS NOT NULL AND removed_at IS NULL" | tr '|' ' ')
	while read -r id ver; do
		[ -n "$id" ] || continue
		key=$RGW_URL/$(pv__bucket)/packs/$(printf %08d "$id").pack
		pv__s3 -f -o "$f" "$key?versionId=$ver" &&
			pv__s3 -f -I "$key?versionId=$ver" | tr -d '\r' >"$f.head" ||
			{ echo "Bail out! pv_copy_archive: cannot read pack $id from the store"; exit 1; }
		mode=$(sed -n 's/^x-amz-object-lock-mode: *//Ip' "$f.head")
		until=$(sed -n 's/^x-amz-object-lock-retain-until-date: *//Ip' "$f.head")
		hold=$(sed -n 's/^x-amz-object-lock-legal-hold: *//Ip' "$f.head")
		lock=(-H "Content-MD5: $(openssl md5 -binary "$f" | base64)")
		[ -n "$mode" ] && lock+=(-H "x-amz-object-lock-mode: $mode"
			-H "x-amz-object-lock-retain-until-date: $until")
		[ "$hold" = ON ] && lock+=(-H "x-amz-object-lock-legal-hold: ON")
		newver=$(pv__s3 -f -D - -o /dev/null -X PUT --data-binary "@$f" "${lock[@]}" "$key" |
			tr -d '\r' | sed -n 's/^x-amz-version-id: *//Ip')
		[ -n "$newver" ] && [ "$newver" != "$ver" ] ||
			{ echo "Bail out! pv_copy_archive: cannot put a copy of pack $id in the store"; exit 1; }
		pv_sql "UPDATE packs SET store_version = '$newver' WHERE id = $id" >/dev/null ||
			{ echo "Bail out! pv_copy_archive: cannot record pack $id's copy"; exit 1; }
	done <<<"$rows"
	rm -f "$f" "$f.head"
}

# pv_is_pg: true when the archive $D's catalog is on PostgreSQL (checks
# of SQLite's own files are skipped there, saying why).
pv_is_pg() { [ -s "$D/catalog.url" ]; }

# pv_date DAYS: the UTC time DAYS days from now, as faketime takes it.
# Moving time back is a clock step: allowed, but recorded (a clock-step
# audit entry and a verify note; tests/e2e/clock_step.t).
pv_date() { date -u -d "+$1 days" '+%Y-%m-%d %H:%M:%S'; }

# pv_at DAYS ARGS...: pv as if run DAYS days from now (h_faketime). The
# clock is the real one moved by a fixed offset, so consecutive runs at the
# same DAYS never see time go back (an absolute start time would: each run
# would restart the clock at the second it was computed).
# With the s3 store the gateway's clock moves along for the call (Object
# Lock's retain-until is judged by it, and SigV4 refuses a request 15
# minutes off it), and comes back after it.
pv_at() {
	local days=$1 rc
	shift
	pv__rgw_at "$days"
	h_faketime "$days" "$PV" --data "$D" "$@"
	rc=$?
	pv__rgw_at 0
	return "$rc"
}
pv__rgw_at() {
	local sign=+
	[ "${1#-}" != "$1" ] && sign=
	[ "$PV_TEST_STORE" = s3 ] && [ -n "${RGW_FAKETIME:-}" ] && echo "$sign$1d" >"$RGW_FAKETIME"
	return 0
}

# pv_pack_kept ID: true while pack ID's bytes are kept: its file in the
# data directory, or (s3) its object version in the store: HEAD answers
# 200.  Any other answer than 404 counts as kept, with a diagnostic (a
# check that a pack is gone must not pass on an unreachable store).
pv_pack_kept() {
	local name ver code
	name=$(printf %08d "$1").pack
	[ -e "$D/packs/$name" ] && return 0
	[ "$PV_TEST_STORE" = s3 ] || return 1
	ver=$(pv_sql "SELECT store_version FROM packs WHERE id = $1")
	[ -n "$ver" ] || return 1
	code=$(pv__s3 -o /dev/null -w '%{http_code}' -I "$RGW_URL/$(pv__bucket)/packs/$name?versionId=$ver")
	[ "$code" = 404 ] && return 1
	[ "$code" = 200 ] || h_diag "HEAD of pack $1 in the store: HTTP $code"
	return 0
}

# pv_pack_locked_until ID: (s3) the epoch until which the store locks pack
# ID's object version (its x-amz-object-lock-retain-until-date); nothing
# for a pack that is not in a store.
pv_pack_locked_until() {
	local ver until
	[ "$PV_TEST_STORE" = s3 ] || return 0
	ver=$(pv_sql "SELECT store_version FROM packs WHERE id = $1 AND stored_at IS NOT NULL")
	[ -n "$ver" ] || return 0
	until=$(pv__s3 -I "$RGW_URL/$(pv__bucket)/packs/$(printf %08d "$1").pack?versionId=$ver" |
		tr -d '\r' | sed -n 's/^x-amz-object-lock-retain-until-date: *//Ip')
	[ -n "$until" ] && date -u -d "$until" +%s
	return 0
}

# pv_pack_lose ID: pack ID's bytes deleted behind popvault's back: its
# file, or (s3, once stored) its object version, removed by the Ceph
# cluster's admin (the one deletion Object Lock does not stop).
pv_pack_lose() {
	local name ver
	name=$(printf %08d "$1").pack
	ver=$(pv_sql "SELECT store_version FROM packs WHERE id = $1 AND stored_at IS NOT NULL")
	if [ "$PV_TEST_STORE" = s3 ] && [ -n "$ver" ]; then
		rgw_admin object rm --bucket="$(pv__bucket)" --object="packs/$name" \
			--object-version="$ver" --bypass-gc >/dev/null 2>&1
	else
		rm "$D/packs/$name"
	fi
	pv_pack_kept "$1" && { echo "Bail out! pv_pack_lose: pack $1 is still there"; exit 1; }
	return 0
}

# pv_flip_byte OFFSET FILE: the byte at OFFSET of FILE complemented (for
# pv_pack_patch). Writing a fixed value would change nothing one time in
# 256: a sealed record's bytes are random.
pv_flip_byte() {
	local b
	b=$(od -An -tu1 -j "$1" -N1 "$2" | tr -d ' ')
	[ -n "$b" ] || { echo "Bail out! pv_flip_byte: no byte at $1 of $2"; exit 1; }
	printf "$(printf '\\x%02x' $((255 - b)))" | dd of="$2" bs=1 seek="$1" conv=notrunc 2>/dev/null
}

# pv_pack_patch ID COMMAND...: pack ID's bytes changed behind popvault's
# back: COMMAND runs with a file holding them as its last argument and
# changes it in place (same size).  Local: the pack's file itself.  S3
# (once stored): the version the catalog records cannot be changed through
# the S3 API (Object Lock: s3_lock.t), so the cluster's admin does it
# below the gateway, overwriting the version's RADOS object (a pack is
# one object: smaller than the gateway's head size); the original bytes
# are kept for pv_pack_unpatch (call it before the next patch of another
# archive: the kept bytes are named by pack id).
pv_pack_patch() {
	local id=$1 name ver obj f
	shift
	name=$(printf %08d "$id").pack
	ver=$(pv_sql "SELECT store_version FROM packs WHERE id = $id AND stored_at IS NOT NULL")
	if [ "$PV_TEST_STORE" != s3 ] || [ -z "$ver" ]; then
		"$@" "$D/packs/$name"
		return
	fi
	obj=$(rgw__ceph rados -p default.rgw.buckets.data ls 2>/dev/null | grep -F -- "__:${ver}_packs/$name")
	[ "$(printf '%s\n' "$obj" | grep -c .)" = 1 ] ||
		{ echo "Bail out! pv_pack_patch: no single RADOS object for pack $id ($obj)"; exit 1; }
	f=$H_RUN/patch-$id
	if [ ! -e "$f.orig" ]; then
		rm -f "$f"
		rgw__ceph rados -p default.rgw.buckets.data get "$obj" "$f.orig" ||
			{ echo "Bail out! pv_pack_patch: cannot read $obj"; exit 1; }
		[ "$(stat -c %s "$f.orig")" = "$(pv_sql "SELECT size FROM packs WHERE id = $id")" ] ||
			{ echo "Bail out! pv_pack_patch: pack $id is not one RADOS object"; exit 1; }
		printf '%s\n' "$obj" >"$f.obj"
	fi
	{ [ -e "$f" ] || cp "$f.orig" "$f"; } && "$@" "$f" &&
		rgw__ceph rados -p default.rgw.buckets.data put "$obj" "$f" ||
		{ echo "Bail out! pv_pack_patch: cannot write $obj"; exit 1; }
}

# pv_pack_bytes ID OFFSET LENGTH: bytes [OFFSET, OFFSET + LENGTH) of pack
# ID as the archive keeps it (its file, or the stored version), on stdout.
pv_pack_bytes() {
	local name ver
	name=$(printf %08d "$1").pack
	ver=$(pv_sql "SELECT store_version FROM packs WHERE id = $1 AND stored_at IS NOT NULL")
	if [ "$PV_TEST_STORE" = s3 ] && [ -n "$ver" ]; then
		pv__s3 -f -H "Range: bytes=$2-$(($2 + $3 - 1))" \
			"$RGW_URL/$(pv__bucket)/packs/$name?versionId=$ver"
	else
		tail -c +$(($2 + 1)) "$D/packs/$name" | head -c "$3"
	fi
}

# pv_pack_unpatch: (s3) every pack pv_pack_patch changed put back as it was.
pv_pack_unpatch() {
	local f
	for f in "$H_RUN"/patch-*.orig; do
		[ -e "$f" ] || continue
		rgw__ceph rados -p default.rgw.buckets.data put "$(cat "${f%.orig}.obj")" "$f" ||
			{ echo "Bail out! pv_pack_unpatch: cannot restore ${f%.orig}"; exit 1; }
		rm -f "$f" "${f%.orig}" "${f%.orig}.obj"
	done
}

# pv_stored_records: lib/stored.py over every sealed record of the archive
# $D wherever it lies: its data directory and (s3) each pack the store
# holds, fetched (the version the catalog records) into a scratch copy.
pv_stored_records() {
	[ "$PV_TEST_STORE" = s3 ] || { "$H_PY" "$H_LIB/stored.py" "$D"; return; }
	local scratch=$H_RUN/stored-scratch id ver
	rm -rf "$scratch" && mkdir -p "$scratch/packs"
	[ -d "$D/blobs" ] && cp -a "$D/blobs" "$scratch/"
	[ -d "$D/packs" ] && cp -a "$D/packs/." "$scratch/packs/"
	pv_sql "SELECT id, store_version FROM packs WHERE stored_at IS NOT NULL AND removed_at IS NULL" |
		tr '|' ' ' | while read -r id ver; do
			pv__s3 -o "$scratch/packs/$(printf %08d "$id").pack" \
				"$RGW_URL/$(pv__bucket)/packs/$(printf %08d "$id").pack?versionId=$ver"
		done
	"$H_PY" "$H_LIB/stored.py" "$scratch"
}

# pv__bucket: the bucket of the archive $D's store; pv__s3 ARGS...: curl
# signed as the store's user.
pv__bucket() { pv_sql 'SELECT url FROM pack_store' | sed 's|^s3://\([^?/]*\).*|\1|'; }
pv__s3() {
	curl -s --max-time 20 --aws-sigv4 "aws:amz:$RGW_REGION:s3" \
		--user "$RGW_ACCESS_KEY:$RGW_SECRET_KEY" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"
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
