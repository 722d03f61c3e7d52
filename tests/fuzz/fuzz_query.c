/* libFuzzer target for the search language (archiver/index/query) and the
 * SQL it becomes. Crashes, leaks and UB are findings, plus two oracles:
 * an error names a column inside the query, and whatever the parser
 * accepts SQLite must run (a database error would mean generated SQL or
 * FTS5 syntax broke, i.e. user text escaped its quoting). */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/index/index.h"
#include "archiver/index/query.h"
#include "archiver/lib/limits.h"
#include "archiver/store/catalog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sqlite3 *db;

static void open_db(void)
{
	static const char msg[] =
		"From: Alice <alice@example.com>\r\nTo: bob@example.org\r\n"
		"Subject: report\r\nDate: Mon, 04 Mar 2024 10:00:00 +0000\r\n\r\nbody text\r\n";
	if (sqlite3_open(":memory:", &db) != SQLITE_OK ||
	    catalog_migrate(db, catalog_schema_version(), NULL) != PV_OK ||
	    index_add(db, 1, "sales", 1, (const unsigned char *)msg, sizeof(msg) - 1, NULL) != PV_OK)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (db == NULL)
		open_db();
	if (size > PV_QUERY_MAX + 8)
		size = PV_QUERY_MAX + 8;
	char q[PV_QUERY_MAX + 9];
	memcpy(q, data, size);
	q[size] = '\0';
	size_t chars = 0;
	for (size_t i = 0; q[i]; i++)
		chars += ((unsigned char)q[i] & 0xC0) != 0x80;

	struct index_query *p;
	struct pv_error err;
	int r = index_query_parse(q, &p, &err);
	if (r != PV_OK) {
		unsigned long col;
		if (r == PV_ERR) /* only out of memory */
			abort();
		if (sscanf(err.msg, "column %lu:", &col) == 1 && (col < 1 || col > chars + 1))
			abort();
		return 0;
	}
	struct index_query_sql sql;
	r = index_query_compile(p, &sql, &err);
	index_query_sql_free(&sql);
	index_query_free(&p);
	if (r != PV_OK)
		abort();

	struct index_hits hits;
	int64_t total;
	r = index_search(db, q, 10, 0, &hits, &total, &err);
	if (r != PV_OK) {
		fprintf(stderr, "query [%s]: %s\n", q, err.msg);
		abort();
	}
	if (total < 0 || total > 1 || hits.n != (size_t)total)
		abort();
	index_hits_free(&hits);
	return 0;
}
