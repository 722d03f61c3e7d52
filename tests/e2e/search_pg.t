#!/bin/bash
# The search backends' suite (tests/unit/test_search_backends.c) with a
# real PostgreSQL 15 (tests/e2e/lib/pg.sh): every known answer of
# tests/data/search/known_answers.txt on FTS5 and on PostgreSQL, random
# queries giving both the same ids, PostgreSQL's limits as documented.
set -u
. "$(dirname "$0")/lib/harness.sh"
. "$(dirname "$0")/lib/pg.sh"
h_init
h_plan 3

BIN=$H_SRC/build/asan/tests/test_search_backends
[ -x "$BIN" ] || { echo "Bail out! no $BIN (make asan builds it)"; exit 1; }
pg_start "$H_RUN/pg" || { echo "Bail out! postgresql did not start"; exit 1; }
h_pass "postgresql 15 started on 127.0.0.1:$PG_PORT as $PG_USER"

out=$(cd "$H_SRC" && PV_TEST_PG=$PG_CONNINFO POPVAULT_SRC=$H_SRC CMOCKA_MESSAGE_OUTPUT=stdout \
	"$BIN" 2>&1)
rc=$?
if [ "$rc" -eq 0 ] && ! printf '%s\n' "$out" | grep -q 'SKIPPED'; then
	h_pass "the search backends' suite passes on FTS5 and PostgreSQL, nothing skipped"
else
	h_fail "the search backends' suite passes on FTS5 and PostgreSQL, nothing skipped" "$out"
fi

pid=$PG_PID
pg_stop
if h_pid_alive "$pid"; then h_fail "postgresql stopped by PID"; else h_pass "postgresql stopped by PID"; fi
