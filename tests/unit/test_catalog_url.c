/* Where the catalog lives (store/catalog_url.h, catalog_open): the URL
 * `init --catalog` records in DIR/catalog.url, the password it must never
 * hold, and (with PV_TEST_PG) catalog_open on PostgreSQL: made once,
 * refused a second time, refused on a database holding no catalog. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "archiver/archive/search_backend.h"
#include "archiver/lib/fsutil.h"
#include "archiver/store/catalog_url.h"
#include "tests/unit/fixtures.h"

static void tmpdir(char *dir, size_t n)
{
	snprintf(dir, n, "/tmp/pv-caturl-XXXXXX");
	if (mkdtemp(dir) == NULL)
		fail_msg("mkdtemp %s", dir);
}

static void test_url_kinds_and_passwords(void **state)
{
	struct pv_error err;
	(void)state;
	assert_int_equal(catalog_url_check("postgresql://pv@db.example:5432/popvault", &err), PV_OK);
	assert_int_equal(catalog_url_check("postgres://pv@db.example/popvault", &err), PV_OK);
	assert_int_equal(catalog_url_check("host=db.example port=5432 user=pv dbname=pv", &err),
			 PV_OK);
	static const char *const with_password[] = {
		"postgresql://pv:secret@db.example/popvault",
		"postgresql://pv@db.example/popvault?password=secret",
		"host=db.example user=pv password=secret dbname=pv",
	};
	for (size_t i = 0; i < sizeof(with_password) / sizeof(with_password[0]); i++) {
		assert_int_equal(catalog_url_check(with_password[i], &err), PV_EUSAGE);
		assert_non_null(strstr(err.msg, "passfile"));
	}
	/* a file path is SQLite's, which `init` makes by itself */
	assert_int_equal(catalog_url_check("/var/lib/popvault/catalog.db", &err), PV_EUSAGE);
	assert_int_equal(catalog_url_check("", &err), PV_EUSAGE);
	assert_int_equal(catalog_url_check("postgresql://pv@a/b\nhost=evil", &err), PV_EUSAGE);
}

static void test_url_file_written_once_0600_read_back(void **state)
{
	struct pv_error err;
	char dir[64], path[128], *url = NULL;
	struct stat st;
	(void)state;
	tmpdir(dir, sizeof(dir));
	assert_int_equal(catalog_url_read(dir, &url, &err), PV_OK);
	assert_null(url); /* no file: DIR/catalog.db */
	assert_false(catalog_url_present(dir));
	assert_int_equal(catalog_url_write(dir, "postgresql://pv@h/db", &err), PV_OK);
	assert_true(catalog_url_present(dir));
	snprintf(path, sizeof(path), "%s/" CATALOG_URL_FILE, dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(catalog_url_read(dir, &url, &err), PV_OK);
	assert_string_equal(url, "postgresql://pv@h/db");
	free(url);
	assert_true(catalog_url_write(dir, "postgresql://pv@h/other", &err) < 0);
	assert_int_equal(catalog_url_write(dir, "postgresql://pv:pw@h/db", &err), PV_EUSAGE);
	fx_rmtree(dir);
}

static void test_hand_edited_password_is_refused_at_open(void **state)
{
	struct pv_error err;
	struct catalog *cat = NULL;
	char dir[64], path[128], *url = NULL;
	static const char line[] = "postgresql://pv:secret@127.0.0.1:1/db\n";
	(void)state;
	tmpdir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/" CATALOG_URL_FILE, dir);
	fx_must(pv_write_file(path, line, strlen(line), 0600, 1, &err), &err, "write");
	assert_int_equal(catalog_url_read(dir, &url, &err), PV_EUSAGE);
	assert_null(url);
	assert_int_equal(catalog_open(dir, 0, &cat, &err), PV_EUSAGE);
	assert_null(cat);
	assert_non_null(strstr(err.msg, "passfile"));
	fx_rmtree(dir);
}

/* PostgreSQL: a schema of its own, named in the URL's options. */
static void test_catalog_open_on_postgres(void **state)
{
	struct pv_error err;
	struct catalog *cat = NULL;
	char dir[64], url[1024];
	int64_t v = 0;
	(void)state;
	if (fx_pg_conninfo() == NULL)
		return; /* SQLite-only run: catalog_pg.t sets PV_TEST_PG */
	struct db *db = fx_pg_fresh(0);
	struct db_stmt *st;
	fx_must(db_prepare(db, "SELECT current_schema()", &st, &err), &err, "schema");
	assert_int_equal(db_step(st, &err), DB_ROW);
	snprintf(url, sizeof(url), "%s options=-csearch_path=%s", fx_pg_conninfo(),
		 db_column_text(st, 0));
	db_finalize(&st);
	tmpdir(dir, sizeof(dir));
	fx_must(catalog_url_write(dir, url, &err), &err, "catalog.url");

	assert_int_equal(catalog_open(dir, 0, &cat, &err), PV_ERR);
	assert_non_null(strstr(err.msg, "no popvault catalog"));
	fx_must(catalog_server_free(url, &err), &err, "an empty database is free");
	fx_must(catalog_open(dir, 1, &cat, &err), &err, "create");
	assert_null(cat->db);
	assert_int_equal(db_kind(cat->conn), DB_POSTGRES);
	fx_must(db_query_int(cat->conn, "SELECT version FROM schema_version", &v, &err), &err,
		"version");
	assert_int_equal(v, catalog_schema_version());
	/* the search index on the catalog's own connection, beside it */
	struct search_backend *sb = NULL;
	int64_t n = -1;
	fx_must(search_backend_pg_attach(cat->conn, &sb, &err), &err, "search backend");
	fx_must(search_backend_count(sb, &n, &err), &err, "count");
	assert_int_equal(n, 0);
	search_backend_close(&sb);
	catalog_close(&cat);

	assert_int_equal(catalog_server_free(url, &err), PV_ERR);
	assert_non_null(strstr(err.msg, "already holds a popvault catalog"));
	assert_int_equal(catalog_open(dir, 1, &cat, &err), PV_ERR);
	fx_must(catalog_open(dir, 0, &cat, &err), &err, "reopen");
	catalog_close(&cat);
	db_close(&db);
	fx_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_kinds_and_passwords),
		cmocka_unit_test(test_url_file_written_once_0600_read_back),
		cmocka_unit_test(test_hand_edited_password_is_refused_at_open),
		cmocka_unit_test(test_catalog_open_on_postgres),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
