#!/bin/bash
# Audit first, fail closed (ARCHITECTURE.md §1 invariant 4, issue 5): when the
# audit store cannot be written, an action that would be audited does not
# happen and says why. The store is made unwritable for real: an immutable
# catalog (chattr +i; chmod does not stop root), a read-only bind mount of the
# data directory in a private mount namespace, and chmod for an unprivileged user.
# In the backend matrix (tests/README) the catalog is a PostgreSQL
# database, which no chattr or chmod reaches: there every table refuses
# every write (a trigger raising PostgreSQL's read-only error), which is
# what the immutable file and the owner's chmod are to SQLite. (A database
# set to default_transaction_read_only is no test: popvault cannot even
# open it, its schema check being a CREATE TABLE IF NOT EXISTS.)
set -u
. "$(dirname "$0")/lib/harness.sh"
. "$(dirname "$0")/lib/popvault.sh"
h_init
h_plan 23

h_genmail --count 4 --seed 9 --out "$H_RUN/mail" --max-attachment 10000
h_dovecot_start --seed alice="$H_RUN/mail"
pv_harvested "$H_RUN/data"
h_is "$(pv_count)" 4 "setup: 4 messages archived"
n_before=$(pv --json audit list | wc -l)

# attempt NAME EXPECT-STDERR-REGEX CMD...: the action fails (exit 1), prints
# nothing on stdout, and stderr says why.
attempt() {
	local name=$1 want=$2
	shift 2
	"$@" >"$H_RUN/a.out" 2>"$H_RUN/a.err"
	local rc=$?
	if [ $rc -eq 1 ] && [ ! -s "$H_RUN/a.out" ] && grep -Eq -- "$want" "$H_RUN/a.err"; then
		h_pass "$name"
	else
		h_fail "$name" "exit $rc" "stdout: $(head -c 300 "$H_RUN/a.out")" "stderr: $(cat "$H_RUN/a.err")"
	fi
}
RO='audit log: .*(readonly|read-only)'
# What a refused write of the whole catalog says: SQLite's "attempt to
# write a readonly database", the trigger's "cannot execute INSERT on
# TABLE: the catalog is read-only".
RO_DB='readonly database'
pv_is_pg && RO_DB='the catalog is read-only'

# pg_readonly on|off: (PostgreSQL) every table of the archive $D's
# catalog refuses every row written (a row trigger raising PostgreSQL's
# read-only error), or no longer.  Reads, and so opening the catalog (its
# schema check writes no row), still work, as with SQLite's immutable file.
pg_readonly() {
	if [ "$1" = on ]; then
		pv_sql 'CREATE FUNCTION pv_test_readonly() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN
			RAISE EXCEPTION USING ERRCODE = '"'read_only_sql_transaction'"', MESSAGE = format(
				'"'cannot execute %s on %s: the catalog is read-only (the test''s trigger)'"', TG_OP, TG_TABLE_NAME);
		END$$;
		DO $$DECLARE t text; BEGIN
			FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = current_schema() LOOP
				EXECUTE format('"'CREATE TRIGGER pv_test_readonly BEFORE INSERT OR UPDATE OR DELETE ON %I FOR EACH ROW EXECUTE FUNCTION pv_test_readonly()'"', t);
			END LOOP; END$$' >/dev/null
	else
		pv_sql 'DO $$DECLARE t text; BEGIN
			FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = current_schema() LOOP
				EXECUTE format('"'DROP TRIGGER IF EXISTS pv_test_readonly ON %I'"', t);
			END LOOP; END$$;
		DROP FUNCTION IF EXISTS pv_test_readonly()' >/dev/null
	fi
}

# unwritable / writable: the catalog of $D made unwritable for real, or
# writable again (chattr +i on SQLite's file; the refusing triggers).
unwritable() {
	if pv_is_pg; then pg_readonly on; else chattr +i "$D/catalog.db" 2>/dev/null; fi
}
writable() {
	if pv_is_pg; then pg_readonly off; else chattr -i "$D/catalog.db"; fi
}

if pv_is_pg || [ "$(id -u)" -eq 0 ]; then
	if pv_is_pg; then
		h_skip "the catalog is in PostgreSQL: no catalog file for chmod"
	else
		# chmod does not stop root: the audit append succeeds.
		chmod a-w "$D/catalog.db"
		pv show 1 >/dev/null 2>&1
		h_is $? 0 "as root, chmod a-w does not make the store unwritable (so it is no test)"
		chmod u+w "$D/catalog.db"
	fi
	n_before=$(pv --json audit list | wc -l)

	if unwritable; then
		pv_is_pg || h_at_exit chattr -i "$D/catalog.db"  # or the run directory could not be removed
		h_seed dovecot alice "$(ls "$H_RUN"/mail/*.eml | head -1)" >/dev/null
		attempt "unwritable catalog: show prints nothing, names the audit failure" "$RO" pv show 1
		attempt "…show --raw too" "$RO" pv show 2 --raw
		attempt "…search shows no result" "(readonly|read-only)" pv search 'from:example'
		attempt "…audit export writes no bundle" "audit log: .*(readonly|read-only)" \
			pv audit export --out "$H_RUN/x.tar.gz"
		h_is "$(ls "$H_RUN" | grep -c 'x.tar.gz')" 0 "…not even a temporary file"
		attempt "…account add fails, naming the audit failure" "$RO" \
			pv account add bob --host localhost --user bob --password-file "$H_RUN/alice.pw"
		# On PostgreSQL the mailbox's lease (catalog rows shared by the
		# harvesters) is the first write, before any session begins.
		harvest_ro="^popvault: harvest of alice: (catalog|database): .*$RO_DB; nothing of the failed batch was deleted upstream"
		pv_is_pg && harvest_ro="^popvault: harvest of alice: lease on account [0-9]+: database: .*$RO_DB"
		h_fails "…harvest fails: the catalog is read-only, nothing was deleted upstream" 1 "$harvest_ro" \
			pv harvest --once
		h_is "$(maildir_count alice)" 1 "…and deletes nothing upstream"
		attempt "…heartbeat fails" "$RO" pv checkpoint --heartbeat
		writable
		h_is "$(pv --json audit list | wc -l)" "$n_before" "nothing was recorded meanwhile"
		h_is "$(pv account list | grep -c '^bob ')" 0 "…and no account was added"
		pv show 1 >/dev/null
		h_is $? 0 "writable again: show works"
		h_is "$(pv --json audit list | tail -1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["type"])')" view \
			"…and is audited"
	else
		h_skip "chattr +i is not supported here" 13
	fi

else
	h_skip "needs root (chattr +i)" 14
fi

# A read-only bind mount of the data directory, private to a new mount
# namespace (unshare -m as root; a user namespace, unshare -rm, otherwise).
ns=(unshare -m)
[ "$(id -u)" -ne 0 ] && ns=(unshare -rm)
ro() { "${ns[@]}" sh -c 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"' \
	sh "$D" "$@"; }
if ro true 2>/dev/null; then
	# SQLite cannot even open a WAL database there, nor the signer its
	# record of what it signed (keys/sign/LOG.lock; short commands sign
	# through a signer of their own): the action fails before its audit
	# entry could, which is just as closed.
	ro_why="database|signer: .*keys/sign/.*Read-only file system"
	attempt "read-only bind mount: show prints nothing" "$ro_why" ro "$PV" --data "$D" show 1
	attempt "…audit export writes nothing" "$ro_why" ro "$PV" --data "$D" audit export \
		--out "$H_RUN/y.tar.gz"
	h_is "$(ls "$H_RUN" | grep -c 'y.tar.gz')" 0 "…not even a temporary file"
else
	h_skip "no mount namespace here" 3
fi

# An unprivileged owner: chmod is enough. As root, run it as nobody. On
# PostgreSQL the copy has a database of its own (pv_copy_archive), made
# read-only as the owner's chmod would make the file.
U="$H_RUN/user"
run_as() { "$@"; }
if [ "$(id -u)" -eq 0 ]; then
	if id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null; then
		run_as() { setpriv --reuid=nobody --regid="$(id -gn nobody)" --clear-groups "$@"; }
	else
		run_as() { return 77; }
	fi
fi
mkdir -p "$U"
pv_copy_archive "$D" "$U/data"
[ "$(id -u)" -eq 0 ] && chown -R nobody "$U"
if run_as "$PV" --data "$U/data" audit list >/dev/null 2>&1; then
	if D=$U/data pv_is_pg; then D=$U/data pg_readonly on; else chmod a-w "$U/data/catalog.db"; fi
	attempt "unwritable for its owner: show prints nothing" "$RO" run_as "$PV" --data "$U/data" show 1
	attempt "…search shows nothing" "(readonly|read-only)" run_as "$PV" --data "$U/data" search 'from:example'
	run_as "$PV" --data "$U/data" verify >"$H_RUN/a.out" 2>"$H_RUN/a.err"
	h_is "$? $(grep -c 'this verify run could not be recorded' "$H_RUN/a.err")" "1 1" \
		"…verify checks, but fails because its run cannot be recorded"
	# SQLite gave the -wal and -shm files the catalog's mode: restore all.
	if D=$U/data pv_is_pg; then D=$U/data pg_readonly off; else chmod u+w "$U/data"/catalog.db*; fi
	run_as "$PV" --data "$U/data" show 1 >/dev/null
	h_is $? 0 "…writable again: show works"
	h_is "$(run_as "$PV" --data "$U/data" --json audit list | wc -l)" $(($(pv --json audit list | wc -l) + 1)) \
		"…and only that last show was recorded"
else
	h_skip "cannot run as an unprivileged user here" 5
fi
