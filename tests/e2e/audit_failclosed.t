#!/bin/bash
# Audit first, fail closed (ARCHITECTURE.md §1 invariant 4, issue 5): when the
# audit store cannot be written, an action that would be audited does not
# happen and says why. The store is made unwritable for real: an immutable
# catalog (chattr +i; chmod does not stop root), a read-only bind mount of the
# data directory in a private mount namespace, and chmod for an unprivileged user.
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

if [ "$(id -u)" -eq 0 ]; then
	# chmod does not stop root: the audit append succeeds.
	chmod a-w "$D/catalog.db"
	pv show 1 >/dev/null 2>&1
	h_is $? 0 "as root, chmod a-w does not make the store unwritable (so it is no test)"
	chmod u+w "$D/catalog.db"
	n_before=$(pv --json audit list | wc -l)

	if chattr +i "$D/catalog.db" 2>/dev/null; then
		h_at_exit chattr -i "$D/catalog.db"  # or the run directory could not be removed
		h_seed dovecot alice "$(ls "$H_RUN"/mail/*.eml | head -1)" >/dev/null
		attempt "immutable catalog: show prints nothing, names the audit failure" "$RO" pv show 1
		attempt "…show --raw too" "$RO" pv show 2 --raw
		attempt "…search shows no result" "(readonly|read-only)" pv search 'from:example'
		attempt "…audit export writes no bundle" "audit log: .*(readonly|read-only)" \
			pv audit export --out "$H_RUN/x.tar.gz"
		h_is "$(ls "$H_RUN" | grep -c 'x.tar.gz')" 0 "…not even a temporary file"
		attempt "…account add fails, naming the audit failure" "$RO" \
			pv account add bob --host localhost --user bob --password-file "$H_RUN/alice.pw"
		h_fails "…harvest fails: the catalog is read-only, nothing was deleted upstream" 1 \
			'^popvault: harvest of alice: (catalog|database): .*readonly database; nothing of the failed batch was deleted upstream' \
			pv harvest --once
		h_is "$(maildir_count alice)" 1 "…and deletes nothing upstream"
		attempt "…heartbeat fails" "$RO" pv checkpoint --heartbeat
		chattr -i "$D/catalog.db"
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

# An unprivileged owner: chmod is enough. As root, run it as nobody.
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
cp -a "$D" "$U/data"
[ "$(id -u)" -eq 0 ] && chown -R nobody "$U"
if run_as "$PV" --data "$U/data" audit list >/dev/null 2>&1; then
	chmod a-w "$U/data/catalog.db"
	attempt "unwritable for its owner: show prints nothing" "$RO" run_as "$PV" --data "$U/data" show 1
	attempt "…search shows nothing" "(readonly|read-only)" run_as "$PV" --data "$U/data" search 'from:example'
	run_as "$PV" --data "$U/data" verify >"$H_RUN/a.out" 2>"$H_RUN/a.err"
	h_is "$? $(grep -c 'this verify run could not be recorded' "$H_RUN/a.err")" "1 1" \
		"…verify checks, but fails because its run cannot be recorded"
	# SQLite gave the -wal and -shm files the catalog's mode: restore all.
	chmod u+w "$U/data"/catalog.db*
	run_as "$PV" --data "$U/data" show 1 >/dev/null
	h_is $? 0 "…writable again: show works"
	h_is "$(run_as "$PV" --data "$U/data" --json audit list | wc -l)" $(($(pv --json audit list | wc -l) + 1)) \
		"…and only that last show was recorded"
else
	h_skip "cannot run as an unprivileged user here" 5
fi
