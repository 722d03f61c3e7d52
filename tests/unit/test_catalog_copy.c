/* A catalog's rows copied from SQLite into PostgreSQL (store/catalog_copy.h,
 * migrate --to-catalog): ids kept, a child table after its parent, bytes
 * (NUL included), UTF-8 text and NULLs as they were, identity columns moved
 * past the copied ids; a target that holds rows is refused; rolled back,
 * the schema goes with the rows; and back into a new SQLite catalog (a
 * backup of a PostgreSQL archive). The copy needs both engines: the SQLite
 * half of each case checks what needs no server (refusals), the
 * PostgreSQL half (PV_TEST_PG, tests/e2e/catalog_pg.t) copies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "archiver/lib/db.h"
#include "archiver/store/catalog.h"
#include "archiver/store/catalog_copy.h"
#include "archiver/store/migrations_pg.h"
#include "tests/unit/fixtures.h"

static const unsigned char secret[] = {0x00, 0xff, 0x00, 0x41, 0x0a, 0x00};

struct fx {
	struct fx_catalog src; /* always SQLite */
	struct db *pg;         /* a fresh schema, nothing migrated; NULL on the SQLite half */
};

static void run(struct db *db, const char *sql)
{
	struct pv_error err;
	fx_must(db_exec(db, sql, &err), &err, sql);
}

/* A few rows that exercise what the copy must keep: ids with a gap,
 * an account's sealed secret with NUL bytes, text outside ASCII, NULLs,
 * a child row (web_sessions -> users) in a WITHOUT ROWID table. */
static void fill(struct db *db)
{
	struct pv_error err;
	struct db_stmt *st;
	run(db, "INSERT INTO users (id, name, role, password_hash, created_at) VALUES"
		" (1, 'ann', 'admin', 'h1', 10), (7, 'Zoë ☃', 'legal', 'h7', 11)");
	run(db, "INSERT INTO web_sessions VALUES (x'0102', 7, 'legal', 0, 5, 6)");
	fx_must(db_prepare(db, "INSERT INTO accounts (id, name, host, port, tls, username, auth,"
			       " secret, created_at) VALUES (3, 'box', 'h', 995, 'implicit', 'u',"
			       " 'pass', ?, 12)", &st, &err), &err, "prepare");
	db_bind_blob(st, 1, secret, sizeof(secret));
	assert_int_equal(db_step(st, &err), DB_DONE);
	db_finalize(&st);
	run(db, "INSERT INTO meta VALUES ('index.through', '42')");
}

static int setup_on(void **state, bool pg)
{
	struct fx *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -1;
	fx_catalog_open(&f->src, "copy", false);
	fill(f->src.db);
	if (pg)
		f->pg = fx_pg_fresh(0);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_on(state, false);
}

static int setup_pg(void **state)
{
	return setup_on(state, true);
}

static int teardown(void **state)
{
	struct fx *f = *state;
	db_close(&f->pg);
	fx_catalog_close(&f->src);
	free(f);
	return 0;
}

static int64_t q(struct db *db, const char *sql)
{
	struct pv_error err;
	int64_t v = -1;
	fx_must(db_query_int(db, sql, &v, &err), &err, sql);
	return v;
}

/* The schema and the rows in the caller's transaction, as migrate does. */
static int copy_in_tx(struct fx *f, struct catalog_copy_report *rep, struct pv_error *err)
{
	int r;
	fx_must(db_begin(f->pg, err), err, "begin");
	if ((r = migrations_apply_pg_in_tx(f->pg, &migrations_catalog_pg, err)) < 0)
		return r;
	return catalog_copy(f->src.db, f->pg, rep, err);
}

static void test_copy_keeps_ids_bytes_text_and_nulls(void **state)
{
	struct fx *f = *state;
	struct catalog_copy_report rep;
	struct pv_error err;
	struct db_stmt *st;
	if (f->pg == NULL) {
		/* SQLite into SQLite is not what it does: said, not tried. */
		assert_int_equal(catalog_copy(f->src.db, f->src.db, &rep, &err), PV_EUSAGE);
		return;
	}
	fx_must(copy_in_tx(f, &rep, &err), &err, "copy");
	fx_must(catalog_copy_recount(f->src.db, f->pg, &rep, &err), &err, "recount");
	fx_must(db_commit(f->pg, &err), &err, "commit");

	assert_int_equal(q(f->pg, "SELECT count(*) FROM users"), 2);
	assert_int_equal(q(f->pg, "SELECT user_id FROM web_sessions"), 7);
	fx_must(db_prepare(f->pg, "SELECT name, changed_at IS NULL FROM users WHERE id = 7", &st,
			   &err), &err, "prepare");
	assert_int_equal(db_step(st, &err), DB_ROW);
	assert_string_equal(db_column_text(st, 0), "Zoë ☃");
	assert_int_equal(db_column_int64(st, 1), 1);
	db_finalize(&st);
	fx_must(db_prepare(f->pg, "SELECT secret FROM accounts WHERE id = 3", &st, &err), &err,
		"prepare");
	assert_int_equal(db_step(st, &err), DB_ROW);
	size_t len;
	const void *p = db_column_blob(st, 0, &len);
	assert_int_equal(len, sizeof(secret));
	assert_memory_equal(p, secret, sizeof(secret));
	db_finalize(&st);
	/* every table of the schema was visited; the rows add up */
	int64_t rows = 0;
	for (size_t i = 0; i < rep.n_tables; i++)
		rows += rep.tables[i].rows;
	assert_int_equal(rows, rep.rows);
	assert_true(rep.n_tables > 30);
	/* the next user gets an id past the copied ones, not 1 */
	assert_int_equal(q(f->pg, "INSERT INTO users (name, role, password_hash, created_at)"
				  " VALUES ('new', 'admin', 'h', 13) RETURNING id"), 8);
}

static void test_copy_refuses_a_target_with_rows(void **state)
{
	struct fx *f = *state;
	struct catalog_copy_report rep;
	struct pv_error err;
	if (f->pg == NULL)
		return;
	assert_int_equal(catalog_copy(f->src.db, f->pg, &rep, &err), PV_ERR);
	assert_non_null(strstr(err.msg, "transaction"));
	fx_must(db_begin(f->pg, &err), &err, "begin");
	fx_must(migrations_apply_pg_in_tx(f->pg, &migrations_catalog_pg, &err), &err, "schema");
	run(f->pg, "INSERT INTO meta VALUES ('x', 'y')");
	assert_int_equal(catalog_copy(f->src.db, f->pg, &rep, &err), PV_ERR);
	assert_non_null(strstr(err.msg, "meta is not empty"));
	db_rollback(f->pg);
}

static void test_rolled_back_copy_leaves_no_schema(void **state)
{
	struct fx *f = *state;
	struct catalog_copy_report rep;
	struct pv_error err;
	int64_t v = -1;
	if (f->pg == NULL)
		return;
	fx_must(copy_in_tx(f, &rep, &err), &err, "copy");
	db_rollback(f->pg); /* what a kill before the COMMIT comes to */
	fx_must(catalog_server_version(f->pg, &v, &err), &err, "version");
	assert_int_equal(v, 0);
	assert_int_equal(q(f->pg, "SELECT count(*) FROM pg_catalog.pg_tables"
				  " WHERE schemaname = current_schema() AND tablename <> 'schema_version'"),
			 0); /* (fx_pg_fresh made that one, at version 0) */
}

static void test_recount_sees_a_missing_row(void **state)
{
	struct fx *f = *state;
	struct catalog_copy_report rep;
	struct pv_error err;
	if (f->pg == NULL)
		return;
	fx_must(copy_in_tx(f, &rep, &err), &err, "copy");
	run(f->pg, "DELETE FROM web_sessions");
	assert_int_equal(catalog_copy_recount(f->src.db, f->pg, &rep, &err), PV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "web_sessions"));
	db_rollback(f->pg);
}

/* More rows than one INSERT takes: full batches and the rest, each row
 * once, its bytes with it. */
static void test_many_rows_go_in_batches(void **state)
{
	struct fx *f = *state;
	struct catalog_copy_report rep;
	struct pv_error err;
	if (f->pg == NULL)
		return;
	run(f->src.db, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)"
		       " INSERT INTO web_sessions SELECT randomblob(32), 1, 'admin', i, i, i FROM n");
	fx_must(copy_in_tx(f, &rep, &err), &err, "copy");
	fx_must(catalog_copy_recount(f->src.db, f->pg, &rep, &err), &err, "recount");
	assert_int_equal(q(f->pg, "SELECT count(*) FROM web_sessions"), 1001);
	assert_int_equal(q(f->pg, "SELECT count(DISTINCT token_hash) FROM web_sessions"), 1001);
	assert_int_equal(q(f->pg, "SELECT sum(created_ms) FROM web_sessions"), 1000 * 1001 / 2 + 5);
	/* the same bytes: the smallest token on both sides */
	struct db_stmt *a, *b;
	size_t na, nb;
	fx_must(db_prepare(f->src.db, "SELECT token_hash FROM web_sessions ORDER BY token_hash"
				      " LIMIT 1", &a, &err), &err, "prepare");
	fx_must(db_prepare(f->pg, "SELECT token_hash FROM web_sessions ORDER BY token_hash LIMIT 1",
			   &b, &err), &err, "prepare");
	assert_int_equal(db_step(a, &err), DB_ROW);
	assert_int_equal(db_step(b, &err), DB_ROW);
	const void *pa = db_column_blob(a, 0, &na), *pb = db_column_blob(b, 0, &nb);
	assert_int_equal(na, nb);
	assert_memory_equal(pa, pb, na);
	db_finalize(&a);
	db_finalize(&b);
	db_rollback(f->pg);
}

/* The other way (backup of a PostgreSQL catalog): the copy on PostgreSQL
 * copied into a new SQLite catalog gives the source's rows back, its
 * FTS5 tables left alone. */
static void test_round_trip_into_sqlite(void **state)
{
	struct fx *f = *state;
	struct catalog_copy_report rep, back;
	struct fx_catalog dst;
	struct pv_error err;
	struct db_stmt *st;
	if (f->pg == NULL)
		return;
	/* more rows than one FETCH of the cursor reads (COPY_FETCH_ROWS) */
	run(f->src.db, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2500)"
		       " INSERT INTO web_sessions SELECT randomblob(32), 1, 'admin', i, i, i FROM n");
	fx_must(copy_in_tx(f, &rep, &err), &err, "copy");
	fx_must(db_commit(f->pg, &err), &err, "commit");
	fx_catalog_open(&dst, "copyback", false);
	/* outside a snapshot the PostgreSQL source is refused, not half read */
	fx_must(db_begin(dst.db, &err), &err, "begin");
	assert_int_equal(catalog_copy(f->pg, dst.db, &back, &err), PV_ERR);
	assert_non_null(strstr(err.msg, "snapshot"));
	db_rollback(dst.db);
	fx_must(db_begin_read(f->pg, &err), &err, "snapshot");
	fx_must(db_begin(dst.db, &err), &err, "begin");
	fx_must(catalog_copy(f->pg, dst.db, &back, &err), &err, "copy back");
	fx_must(catalog_copy_recount(f->pg, dst.db, &back, &err), &err, "recount");
	fx_must(db_commit(dst.db, &err), &err, "commit");
	db_rollback(f->pg);
	assert_int_equal(back.rows, rep.rows);
	assert_int_equal(q(dst.db, "SELECT count(*) FROM web_sessions"), 2501);
	assert_int_equal(q(dst.db, "SELECT count(DISTINCT token_hash) FROM web_sessions"), 2501);
	fx_must(db_prepare(dst.db, "SELECT name FROM users WHERE id = 7", &st, &err), &err, "name");
	assert_int_equal(db_step(st, &err), DB_ROW);
	assert_string_equal(db_column_text(st, 0), "Zoë ☃");
	db_finalize(&st);
	fx_must(db_prepare(dst.db, "SELECT secret FROM accounts WHERE id = 3", &st, &err), &err,
		"secret");
	assert_int_equal(db_step(st, &err), DB_ROW);
	size_t len;
	const void *p = db_column_blob(st, 0, &len);
	assert_int_equal(len, sizeof(secret));
	assert_memory_equal(p, secret, sizeof(secret));
	db_finalize(&st);
	/* a new row after the copied ids, as on the source */
	assert_int_equal(q(dst.db, "INSERT INTO users (name, role, password_hash, created_at)"
				   " VALUES ('new', 'admin', 'h', 13) RETURNING id"), 8);
	fx_catalog_close(&dst);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX_BOTH(test_copy_keeps_ids_bytes_text_and_nulls, setup, setup_pg, teardown),
		FX_BOTH(test_copy_refuses_a_target_with_rows, setup, setup_pg, teardown),
		FX_BOTH(test_rolled_back_copy_leaves_no_schema, setup, setup_pg, teardown),
		FX_BOTH(test_recount_sees_a_missing_row, setup, setup_pg, teardown),
		FX_BOTH(test_many_rows_go_in_batches, setup, setup_pg, teardown),
		FX_BOTH(test_round_trip_into_sqlite, setup, setup_pg, teardown),
	};
	return fx_run_both("catalog_copy", tests, sizeof(tests) / sizeof(tests[0]));
}
