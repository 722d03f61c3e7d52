/* The catalog's two dialects (archiver/store/migrations.c for SQLite,
 * migrations_pg.c for PostgreSQL) make the same schema: after each step
 * N, on an empty SQLite database and an empty PostgreSQL schema, the same
 * tables, columns (type class, NOT NULL), primary keys, unique and plain
 * indexes (columns, partial or not), foreign keys and triggers. The
 * search index's tables are each dialect's own and left out (SQLite:
 * idx_doc, idx_fts*, idx_meta; PostgreSQL: pg_index.h), and so is
 * PostgreSQL's schema_version (SQLite's user_version). A step added to
 * one dialect only fails test_every_step_makes_the_same_schema; without
 * PV_TEST_PG only the step counts are compared (catalog_pg.t runs the
 * rest against a real PostgreSQL 15). */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "archiver/store/catalog.h"
#include "archiver/lib/db.h"
#include "archiver/store/migrations.h"
#include "archiver/store/migrations_pg.h"
#include "archiver/store/pg_index.h"
#include "tests/unit/fixtures.h"

/* Each query gives rows of text columns; a row is one line of the
 * schema's description. Both dialects give the same shapes. */
#define SQLITE_TABLES                                                              \
	"SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'" \
	" AND name NOT LIKE 'idx_fts%' AND name NOT IN ('idx_doc', 'idx_meta')"

static const char *const sqlite_queries[] = {
	"SELECT 'table', name FROM (" SQLITE_TABLES ")",
	"SELECT 'column', t.name, c.name, CASE WHEN upper(c.type) LIKE '%INT%' THEN 'integer'"
	" WHEN upper(c.type) LIKE '%BLOB%' THEN 'blob' ELSE 'text' END,"
	" CASE WHEN c.\"notnull\" OR c.pk > 0 THEN 'not-null' ELSE 'null' END"
	" FROM (" SQLITE_TABLES ") t, pragma_table_info(t.name) c",
	"SELECT 'pk', t.name, c.name, c.pk FROM (" SQLITE_TABLES ") t, pragma_table_info(t.name) c"
	" WHERE c.pk > 0",
	"SELECT 'index', t.name, (SELECT group_concat(name, ',') FROM"
	"  (SELECT name FROM pragma_index_info(i.name) ORDER BY seqno)),"
	" CASE WHEN i.\"unique\" THEN 'unique' ELSE 'plain' END,"
	" CASE WHEN i.partial THEN 'partial' ELSE 'whole' END"
	" FROM (" SQLITE_TABLES ") t, pragma_index_list(t.name) i WHERE i.origin != 'pk'",
	"SELECT 'fk', t.name, f.\"from\", f.\"table\", f.\"to\""
	" FROM (" SQLITE_TABLES ") t, pragma_foreign_key_list(t.name) f",
	"SELECT 'trigger', tbl_name, name FROM sqlite_master WHERE type = 'trigger'",
};

#define PG_TABLES                                                                       \
	"SELECT c.oid, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid ="  \
	" c.relnamespace WHERE n.nspname = current_schema() AND c.relkind = 'r'"           \
	" AND c.relname NOT IN ('schema_version', 'idx_doc', 'idx_meta')"

static const char *const pg_queries[] = {
	"SELECT 'table', name FROM (" PG_TABLES ") t",
	"SELECT 'column', t.name, a.attname, CASE WHEN a.atttypid IN (20, 21, 23) THEN 'integer'"
	" WHEN a.atttypid = 17 THEN 'blob' ELSE 'text' END,"
	" CASE WHEN a.attnotnull THEN 'not-null' ELSE 'null' END"
	" FROM (" PG_TABLES ") t JOIN pg_attribute a ON a.attrelid = t.oid"
	" WHERE a.attnum > 0 AND NOT a.attisdropped",
	"SELECT 'pk', t.name, a.attname, k.n FROM (" PG_TABLES ") t"
	" JOIN pg_index x ON x.indrelid = t.oid AND x.indisprimary"
	" CROSS JOIN LATERAL unnest(x.indkey::int2[]) WITH ORDINALITY k(attnum, n)"
	" JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum",
	"SELECT 'index', t.name, (SELECT string_agg(a.attname, ',' ORDER BY k.n)"
	"  FROM unnest(x.indkey::int2[]) WITH ORDINALITY k(attnum, n)"
	"  JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum),"
	" CASE WHEN x.indisunique THEN 'unique' ELSE 'plain' END,"
	" CASE WHEN x.indpred IS NOT NULL THEN 'partial' ELSE 'whole' END"
	" FROM (" PG_TABLES ") t JOIN pg_index x ON x.indrelid = t.oid WHERE NOT x.indisprimary",
	"SELECT 'fk', t.name, a.attname, r.relname, ra.attname"
	" FROM (" PG_TABLES ") t JOIN pg_constraint f ON f.conrelid = t.oid AND f.contype = 'f'"
	" JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = f.conkey[1]"
	" JOIN pg_class r ON r.oid = f.confrelid"
	" JOIN pg_attribute ra ON ra.attrelid = f.confrelid AND ra.attnum = f.confkey[1]",
	"SELECT 'trigger', t.name, g.tgname FROM (" PG_TABLES ") t"
	" JOIN pg_trigger g ON g.tgrelid = t.oid WHERE NOT g.tgisinternal",
};

#define LINES_MAX 2048

struct schema {
	char *line[LINES_MAX];
	size_t n;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The description of db's schema: sorted lines. */
static void describe(struct db *db, const char *const *queries, size_t nq, struct schema *s)
{
	struct pv_error err;
	s->n = 0;
	for (size_t q = 0; q < nq; q++) {
		struct db_stmt *st;
		int r;
		fx_must(db_prepare(db, queries[q], &st, &err), &err, queries[q]);
		while ((r = db_step(st, &err)) == DB_ROW) {
			char line[512] = "";
			size_t o = 0;
			for (int c = 0; c < db_column_count(st); c++) {
				const char *v = db_column_text(st, c);
				o += (size_t)snprintf(line + o, sizeof(line) - o, "%s%s", c ? " " : "",
						      v ? v : "NULL");
				if (o >= sizeof(line))
					o = sizeof(line) - 1;
			}
			assert_true(s->n < LINES_MAX);
			s->line[s->n++] = strdup(line);
		}
		fx_must(r < 0 ? r : 0, &err, queries[q]);
		db_finalize(&st);
	}
	qsort(s->line, s->n, sizeof(s->line[0]), cmp_str);
}

static void schema_free(struct schema *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->line[i]);
	s->n = 0;
}

/* Whether differences are printed (not where they are expected). */
static bool show_differences = true;

/* Prints what only one side has; returns how many lines differ. */
static size_t differences(const struct schema *a, const struct schema *b, int step)
{
	size_t i = 0, j = 0, diff = 0;
	while (i < a->n || j < b->n) {
		int c = i == a->n ? 1 : j == b->n ? -1 : strcmp(a->line[i], b->line[j]);
		if (c == 0) {
			i++, j++;
			continue;
		}
		if (show_differences)
			print_message("step %d: only on %s: %s\n", step, c < 0 ? "SQLite" : "PostgreSQL",
			      c < 0 ? a->line[i] : b->line[j]);
		c < 0 ? i++ : j++;
		diff++;
	}
	return diff;
}

static void test_both_dialects_have_every_step(void **state)
{
	(void)state;
	assert_int_equal(migrations_catalog_pg.count, migrations_catalog.count);
	assert_int_equal(catalog_schema_version(), migrations_catalog_pg.count);
}

struct pair {
	struct db *lite, *pg;
	sqlite3 *h;
};

static void open_pair(struct pair *p)
{
	struct pv_error err;
	assert_int_equal(sqlite3_open(":memory:", &p->h), SQLITE_OK);
	fx_must(db_sqlite_wrap(p->h, &p->lite, &err), &err, "wrap");
	p->pg = fx_pg_fresh(0);
}

static void close_pair(struct pair *p)
{
	db_close(&p->lite);
	db_close(&p->pg);
	sqlite3_close(p->h);
}

static size_t compare_at(struct pair *p, int lite_step, int pg_step)
{
	struct pv_error err;
	struct schema a, b;
	fx_must(catalog_migrate(p->h, lite_step, &err), &err, "sqlite migrations");
	fx_must(migrations_apply_pg(p->pg, &migrations_catalog_pg, pg_step, &err), &err,
		"postgresql migrations");
	describe(p->lite, sqlite_queries, sizeof(sqlite_queries) / sizeof(sqlite_queries[0]), &a);
	describe(p->pg, pg_queries, sizeof(pg_queries) / sizeof(pg_queries[0]), &b);
	assert_true(a.n > 0 || lite_step == 0);
	size_t d = differences(&a, &b, lite_step);
	schema_free(&a);
	schema_free(&b);
	return d;
}

static void test_every_step_makes_the_same_schema(void **state)
{
	struct pair p;
	int64_t v;
	struct pv_error err;
	(void)state;
	open_pair(&p);
	for (int n = 1; n <= migrations_catalog.count; n++)
		assert_int_equal(compare_at(&p, n, n), 0);
	fx_must(db_query_int(p.pg, "SELECT version FROM schema_version", &v, &err), &err, "version");
	assert_int_equal(v, migrations_catalog_pg.count);
	close_pair(&p);
}

/* The comparison sees a step that one dialect has and the other lacks:
 * each step of the catalog so far changes the description. */
static void test_a_step_missing_in_one_dialect_is_seen(void **state)
{
	(void)state;
	show_differences = false;
	for (int n = 1; n <= migrations_catalog.count; n++) {
		/* 13 makes only the search index again, 18 changes only how
		 * PostgreSQL stores its vectors: nothing compared changes */
		if (n == 13 || n == 18)
			continue;
		struct pair q;
		open_pair(&q);
		assert_true(compare_at(&q, n, n - 1) > 0);
		close_pair(&q);
	}
	show_differences = true;
}

/* The triggers keep their promise on PostgreSQL too. */
static void test_postgresql_triggers_refuse(void **state)
{
	struct db *db = fx_pg_fresh(migrations_catalog_pg.count);
	struct pv_error err;
	(void)state;
	fx_must(db_exec(db, "INSERT INTO policy_versions VALUES (1, 'x', 'h', 1, 'cli:root')", &err),
		&err, "insert");
	assert_int_equal(db_exec(db, "UPDATE policy_versions SET actor = 'x'", &err), PV_ERR);
	assert_non_null(strstr(err.msg, "policy versions are never edited"));
	assert_int_equal(db_exec(db, "DELETE FROM policy_versions", &err), PV_ERR);
	assert_non_null(strstr(err.msg, "policy versions are never deleted"));
	fx_must(db_exec(db, "INSERT INTO approvals (kind, payload, payload_sha256, summary, proposer,"
			    " proposer_role, reason, created_at) VALUES ('policy', 'p', 'h', 's',"
			    " 'web:a', 'admin', 'r', 1)", &err), &err, "approval");
	fx_must(db_exec(db, "UPDATE approvals SET state = 'approved', decided_by = 'web:b'", &err),
		&err, "decision");
	fx_must(db_exec(db, "UPDATE approvals SET result = 'version=2'", &err), &err, "result");
	assert_int_equal(db_exec(db, "UPDATE approvals SET state = 'rejected'", &err), PV_ERR);
	assert_non_null(strstr(err.msg, "decided once"));
	db_close(&db);
}

/* A vector of 600 lexemes (about 9 KB): TOASTed, and compressible. */
#define BIG_TV "(SELECT CAST(string_agg('word' || g || ':' || g, ' ') AS tsvector)" \
	" FROM generate_series(1, 600) g)"

static void tv_compression(struct db *db, int64_t id, char *out, size_t n)
{
	struct db_stmt *st = NULL;
	struct pv_error err;
	fx_must(db_prepare(db, "SELECT coalesce(pg_column_compression(tv), 'none') FROM idx_doc"
			       " WHERE id = ?", &st, &err), &err, "prepare");
	db_bind_int64(st, 1, id);
	assert_int_equal(db_step(st, &err), DB_ROW);
	snprintf(out, n, "%s", db_column_text(st, 0));
	db_finalize(&st);
}

/* Migration 18 (PostgreSQL only): an archive's index made before it
 * writes its new vectors in lz4, its old ones are left as they were; an
 * index made after it (pg_index_attach) is lz4 from its first row, and
 * a catalog migrated before its index exists is not refused. */
static void test_migration_18_writes_new_vectors_in_lz4(void **state)
{
	struct db *db = fx_pg_fresh(17);
	struct pv_error err;
	char c[32];
	(void)state;
	fx_must(db_exec(db, "CREATE TABLE idx_doc (id bigint PRIMARY KEY, tv tsvector NOT NULL);"
			    "INSERT INTO idx_doc VALUES (1, " BIG_TV ")", &err), &err, "old index");
	fx_must(migrations_apply_pg(db, &migrations_catalog_pg, 18, &err), &err, "step 18");
	fx_must(db_exec(db, "INSERT INTO idx_doc VALUES (2, " BIG_TV ")", &err), &err, "new row");
	tv_compression(db, 1, c, sizeof(c));
	assert_string_not_equal(c, "lz4"); /* not rewritten */
	tv_compression(db, 2, c, sizeof(c));
	assert_string_equal(c, "lz4");
	db_close(&db);

	db = fx_pg_fresh(migrations_catalog_pg.count); /* no idx_doc yet: nothing to do */
	struct pg_index *px = NULL;
	fx_must(pg_index_attach(db, &px, &err), &err, "attach");
	fx_must(db_exec(db, "INSERT INTO idx_doc VALUES (3, 'a', 0, true, 0, 0, false, 'm', 'f',"
			    " 's', 0, " BIG_TV ", 0)", &err), &err, "insert");
	tv_compression(db, 3, c, sizeof(c));
	assert_string_equal(c, "lz4");
	pg_index_close(&px);
	db_close(&db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_both_dialects_have_every_step),
		cmocka_unit_test(test_every_step_makes_the_same_schema),
		cmocka_unit_test(test_a_step_missing_in_one_dialect_is_seen),
		cmocka_unit_test(test_postgresql_triggers_refuse),
		cmocka_unit_test(test_migration_18_writes_new_vectors_in_lz4),
	};
	/* cmocka's skip fails prove: without a server only the first runs. */
	size_t n = sizeof(tests) / sizeof(tests[0]);
	if (fx_pg_conninfo() == NULL) {
		print_message("PV_TEST_PG not set: the PostgreSQL tests are left to "
			      "tests/e2e/catalog_pg.t\n");
		n = 1;
	}
	return _cmocka_run_group_tests("schema_dialects", tests, n, NULL, NULL);
}
