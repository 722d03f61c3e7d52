#!/bin/bash
# The catalog on PostgreSQL (docs/ARCHITECTURE.md §12) against a real
# PostgreSQL 15 (tests/e2e/lib/pg.sh): the database interface
# (test_db), the two dialects' migrations compared step by step
# (test_schema_dialects), and the modules converted to the interface
# (test_users, test_sessions, test_witness_state, test_approval_store,
# test_anchor, test_user_totp, test_accounts_store, test_policy_store,
# test_bates_store, test_matter_rows), store/leases.c (test_leases),
# the store's harvest path (test_store_rows: ledger, message, pack and
# pack store rows, status counts), the Merkle and audit logs (test_tlog,
# test_auditlog, test_auditbundle, test_keys) and the catalog side of
# disposal and backup (test_dispose_catalog), catalog_open by URL
# (test_catalog_url), the archive's search backend on the catalog's
# connection (test_search_open), the bucket keys kept in the catalog for
# several harvesters (test_keyring_catalog), the rows of migrate
# --to-catalog (test_catalog_copy): each suite's PostgreSQL half
# with PV_TEST_PG set (its SQLite half runs in make unit), nothing skipped.
set -u
. "$(dirname "$0")/lib/harness.sh"
. "$(dirname "$0")/lib/pg.sh"
h_init
SUITES="test_db test_schema_dialects test_users test_sessions test_witness_state test_approval_store test_anchor test_user_totp test_accounts_store test_leases test_policy_store test_bates_store test_matter_rows test_store_rows test_tlog test_auditlog test_auditbundle test_keys test_dispose_catalog test_catalog_url test_search_open test_signer test_keyring_catalog test_catalog_copy"
h_plan 26

for s in $SUITES; do
	[ -x "$H_SRC/build/asan/tests/$s" ] || { echo "Bail out! no build/asan/tests/$s (make asan builds it)"; exit 1; }
done
pg_start "$H_RUN/pg" || { echo "Bail out! postgresql did not start"; exit 1; }
h_pass "postgresql 15 started on 127.0.0.1:$PG_PORT as $PG_USER"

for s in $SUITES; do
	# The SQLite halves are make unit's; here only the PostgreSQL ones
	# (suites with a main of their own, test_db and test_schema_dialects,
	# run whole).
	out=$(cd "$H_SRC" && PV_TEST_PG=$PG_CONNINFO PV_TEST_PG_ONLY=1 POPVAULT_SRC=$H_SRC CMOCKA_MESSAGE_OUTPUT=stdout \
		"$H_SRC/build/asan/tests/$s" 2>&1)
	rc=$?
	if [ "$rc" -eq 0 ] && ! printf '%s\n' "$out" | grep -q 'SKIPPED\|PV_TEST_PG not set'; then
		h_pass "$s passes on PostgreSQL (its SQLite half: make unit)"
	else
		h_fail "$s passes on PostgreSQL (its SQLite half: make unit)" "$out"
	fi
done

pid=$PG_PID
pg_stop
if h_pid_alive "$pid"; then h_fail "postgresql stopped by PID"; else h_pass "postgresql stopped by PID"; fi
