/* A catalog's rows from SQLite into PostgreSQL (catalog_copy.h). */
#include "archiver/store/catalog_copy.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "archiver/lib/buf.h"

enum col_type { COL_INT, COL_TEXT, COL_BLOB };

#define COPY_COLS_MAX 64
/* Rows per INSERT (one round trip each); a batch whose values reach
 * COPY_BATCH_BYTES goes sooner (tiles and personal data are blobs). */
#define COPY_BATCH_ROWS 256
#define COPY_BATCH_BYTES (4u << 20)
/* ...so a batch holds at most that and one more value (a catalog value is
 * far smaller than this; a bigger one is refused, not copied in part). */
#define COPY_BATCH_BYTES_MAX (256u << 20)
#define COPY_PARAMS_MAX 999
/* Rows per FETCH from a PostgreSQL source: libpq holds a statement's
 * whole result, so a table is read through a cursor, a slice at a time,
 * and memory stays flat whatever the table's size. */
#define COPY_FETCH_ROWS 1000
/* The SQL of one INSERT: its parameters and the column names. */
#define COPY_SQL_MAX (1u << 20)

struct table_cols {
	char name[COPY_COLS_MAX][CATALOG_COPY_NAME_MAX];
	enum col_type type[COPY_COLS_MAX];
	bool identity[COPY_COLS_MAX];
	int n;
};

/* Names come from the target's own catalog, never from outside; still,
 * nothing that would need quoting inside quotes is taken. */
static int name_take(char *dst, const char *src, struct pv_error *err)
{
	if (src == NULL || src[0] == '\0' || strlen(src) >= CATALOG_COPY_NAME_MAX ||
	    strspn(src, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(src))
		return pv_fail(err, PV_ERR, "catalog copy: unexpected name '%s' in the target's schema",
			       src ? src : "");
	memcpy(dst, src, strlen(src) + 1);
	return PV_OK;
}

/* The target's tables, parents before the tables whose foreign keys
 * point at them. */
static int target_tables(struct db *to, struct catalog_copy_report *rep, struct pv_error *err)
{
	/* The schema's own tables: PostgreSQL's current schema less its
	 * version row; SQLite's less its own and FTS5's (idx_doc, idx_meta,
	 * idx_fts and its shadow tables: the search index, rebuilt there). */
	static const char pg_tables_sql[] =
		"SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = current_schema()"
		" AND tablename <> 'schema_version' ORDER BY tablename";
	static const char pg_fk_sql[] =
		"SELECT a.relname, b.relname FROM pg_catalog.pg_constraint c"
		" JOIN pg_catalog.pg_class a ON a.oid = c.conrelid"
		" JOIN pg_catalog.pg_class b ON b.oid = c.confrelid"
		" JOIN pg_catalog.pg_namespace n ON n.oid = c.connamespace"
		" WHERE c.contype = 'f' AND n.nspname = current_schema()";
	static const char sq_tables_sql[] =
		"SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite!_%'"
		" ESCAPE '!' AND name NOT LIKE 'idx!_fts%' ESCAPE '!' AND name NOT IN ('idx_doc',"
		" 'idx_meta') ORDER BY name";
	static const char sq_fk_sql[] =
		"SELECT m.name, f.\"table\" FROM sqlite_master m, pragma_foreign_key_list(m.name) f"
		" WHERE m.type = 'table'";
	bool pg = db_kind(to) == DB_POSTGRES;
	const char *tables_sql = pg ? pg_tables_sql : sq_tables_sql;
	const char *fk_sql = pg ? pg_fk_sql : sq_fk_sql;
	char names[CATALOG_COPY_TABLES_MAX][CATALOG_COPY_NAME_MAX];
	char child[256][CATALOG_COPY_NAME_MAX], parent[256][CATALOG_COPY_NAME_MAX];
	bool done[CATALOG_COPY_TABLES_MAX] = {false};
	size_t n = 0, n_fk = 0;
	struct db_stmt *st = NULL;
	int r;

	if ((r = db_prepare(to, tables_sql, &st, err)) < 0)
		return r;
	while ((r = db_step(st, err)) == DB_ROW) {
		if (n == CATALOG_COPY_TABLES_MAX) {
			r = pv_fail(err, PV_ERR, "catalog copy: more than %d tables",
				    CATALOG_COPY_TABLES_MAX);
			break;
		}
		if ((r = name_take(names[n++], db_column_text(st, 0), err)) < 0)
			break;
	}
	db_finalize(&st);
	if (r < 0 || (r = db_prepare(to, fk_sql, &st, err)) < 0)
		return r;
	while ((r = db_step(st, err)) == DB_ROW) {
		if (n_fk == sizeof(child) / sizeof(child[0])) {
			r = pv_fail(err, PV_ERR, "catalog copy: too many foreign keys");
			break;
		}
		if ((r = name_take(child[n_fk], db_column_text(st, 0), err)) < 0 ||
		    (r = name_take(parent[n_fk], db_column_text(st, 1), err)) < 0)
			break;
		n_fk++;
	}
	db_finalize(&st);
	if (r < 0)
		return r;
	/* Kahn's order: take a table once every parent (itself aside) is taken. */
	rep->n_tables = 0;
	while (rep->n_tables < n) {
		bool progress = false;
		for (size_t i = 0; i < n; i++) {
			bool ready = !done[i];
			for (size_t k = 0; ready && k < n_fk; k++) {
				if (strcmp(child[k], names[i]) != 0 || strcmp(parent[k], names[i]) == 0)
					continue;
				for (size_t j = 0; j < n; j++)
					if (strcmp(names[j], parent[k]) == 0 && !done[j])
						ready = false;
			}
			if (!ready)
				continue;
			done[i] = progress = true;
			memset(&rep->tables[rep->n_tables], 0, sizeof(rep->tables[0]));
			memcpy(rep->tables[rep->n_tables++].name, names[i], CATALOG_COPY_NAME_MAX);
		}
		if (!progress)
			return pv_fail(err, PV_ERR, "catalog copy: the target's foreign keys form a cycle");
	}
	return PV_OK;
}

/* A column's type as the target declares it. SQLite's declared types are
 * INTEGER, TEXT and BLOB in every catalog migration; an AUTOINCREMENT key
 * follows the largest id inserted by itself (no identity to move). */
static bool type_is(const char *type, const char *pg, const char *sqlite)
{
	return strcmp(type, pg) == 0 || strcasecmp(type, sqlite) == 0;
}

static int target_columns(struct db *to, const char *table, struct table_cols *c,
			  struct pv_error *err)
{
	struct db_stmt *st = NULL;
	int r = db_prepare(to, db_kind(to) == DB_POSTGRES
		? "SELECT column_name, data_type, is_identity FROM information_schema.columns"
		  " WHERE table_schema = current_schema() AND table_name = ? ORDER BY"
		  " ordinal_position"
		: "SELECT name, type, 'NO' FROM pragma_table_info(?) ORDER BY cid", &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, table, -1);
	c->n = 0;
	while ((r = db_step(st, err)) == DB_ROW) {
		const char *type = db_column_text(st, 1);
		if (c->n == COPY_COLS_MAX) {
			r = pv_fail(err, PV_ERR, "catalog copy: %s has too many columns", table);
			break;
		}
		if ((r = name_take(c->name[c->n], db_column_text(st, 0), err)) < 0)
			break;
		if (type_is(type, "bigint", "INTEGER") || strcmp(type, "integer") == 0)
			c->type[c->n] = COL_INT;
		else if (type_is(type, "text", "TEXT"))
			c->type[c->n] = COL_TEXT;
		else if (type_is(type, "bytea", "BLOB"))
			c->type[c->n] = COL_BLOB;
		else {
			r = pv_fail(err, PV_ERR, "catalog copy: %s.%s has type %s, which a catalog "
				    "does not use", table, c->name[c->n], type);
			break;
		}
		c->identity[c->n] = strcmp(db_column_text(st, 2), "YES") == 0;
		c->n++;
	}
	db_finalize(&st);
	return r < 0 ? r : PV_OK;
}

/* "SELECT "a", "b" FROM "t"". */
static int select_sql(const char *table, const struct table_cols *c, struct pv_buf *sql,
		      struct pv_error *err)
{
	int r = pv_buf_append_str(sql, "SELECT ", err);
	for (int k = 0; r == PV_OK && k < c->n; k++)
		r = pv_buf_printf(sql, err, "%s\"%s\"", k ? ", " : "", c->name[k]);
	return r < 0 ? r : pv_buf_printf(sql, err, " FROM \"%s\"", table);
}

/* "INSERT INTO "t" ("a", "b") VALUES (?, ?), (?, ?), ..." for `rows` rows. */
static int insert_sql(const char *table, const struct table_cols *c, size_t rows,
		      struct pv_buf *sql, struct pv_error *err)
{
	int r = pv_buf_printf(sql, err, "INSERT INTO \"%s\" (", table);
	for (int k = 0; r == PV_OK && k < c->n; k++)
		r = pv_buf_printf(sql, err, "%s\"%s\"", k ? ", " : "", c->name[k]);
	if (r == PV_OK)
		r = pv_buf_append_str(sql, ") VALUES ", err);
	for (size_t i = 0; r == PV_OK && i < rows; i++) {
		r = pv_buf_append_str(sql, i ? ", (" : "(", err);
		for (int k = 0; r == PV_OK && k < c->n; k++)
			r = pv_buf_append_str(sql, k ? ", ?" : "?", err);
		if (r == PV_OK)
			r = pv_buf_append_str(sql, ")", err);
	}
	return r;
}

static int count_rows(struct db *db, const char *table, int64_t *n_r, struct pv_error *err)
{
	char sql[128];
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\"", table);
	return db_query_int(db, sql, n_r, err);
}

/* The identity column's sequence past the largest id copied. */
static int move_identity(struct db *to, const char *table, const char *col, struct pv_error *err)
{
	char sql[384];
	int64_t max = 0, v;
	int r;
	snprintf(sql, sizeof(sql), "SELECT coalesce(max(\"%s\"), 0) FROM \"%s\"", col, table);
	if ((r = db_query_int(to, sql, &max, err)) < 0 || max <= 0)
		return r;
	snprintf(sql, sizeof(sql), "SELECT setval(pg_get_serial_sequence('\"%s\"', '%s'), %lld, true)",
		 table, col, (long long)max);
	return db_query_int(to, sql, &v, err);
}

/* A batch of source rows, their values kept (the source's pointers die
 * at its next step) until one INSERT sends them all: one round trip for
 * many rows. */
struct batch_val {
	bool null;
	int64_t i;
	size_t off, len; /* text and blob: in bytes */
};

struct batch {
	const struct table_cols *c;
	struct batch_val *v; /* max_rows * c->n */
	size_t rows, max_rows;
	struct pv_buf bytes;
	struct db_stmt *full; /* the INSERT of max_rows rows, prepared once */
};

static int batch_add(struct batch *b, struct db_stmt *src, struct pv_error *err)
{
	for (int k = 0; k < b->c->n; k++) {
		struct batch_val *v = &b->v[b->rows * (size_t)b->c->n + (size_t)k];
		memset(v, 0, sizeof(*v));
		if ((v->null = db_column_is_null(src, k)))
			continue;
		if (b->c->type[k] == COL_INT) {
			v->i = db_column_int64(src, k);
			continue;
		}
		/* text as its bytes with their length, as the source holds it */
		size_t len;
		const void *p = db_column_blob(src, k, &len);
		int r;
		v->off = b->bytes.len;
		v->len = len;
		if (len > 0 && (r = pv_buf_append(&b->bytes, p, len, err)) < 0)
			return r;
	}
	b->rows++;
	return PV_OK;
}

static int batch_flush(struct batch *b, struct db *to, const char *table, struct pv_error *err)
{
	struct db_stmt *st = b->full, *once = NULL;
	int r;
	if (b->rows == 0)
		return PV_OK;
	if (b->rows < b->max_rows || st == NULL) {
		struct pv_buf sql;
		pv_buf_init(&sql, COPY_SQL_MAX);
		r = insert_sql(table, b->c, b->rows, &sql, err);
		if (r == PV_OK)
			r = db_prepare(to, pv_buf_str(&sql), &once, err);
		pv_buf_free(&sql);
		if (r < 0)
			return r;
		if (b->rows == b->max_rows)
			b->full = once, once = NULL, st = b->full;
		else
			st = once;
	}
	for (size_t i = 0; i < b->rows; i++)
		for (int k = 0; k < b->c->n; k++) {
			const struct batch_val *v = &b->v[i * (size_t)b->c->n + (size_t)k];
			int n = (int)(i * (size_t)b->c->n) + k + 1;
			const char *p = (const char *)b->bytes.data + v->off;
			if (v->null)
				db_bind_null(st, n);
			else if (b->c->type[k] == COL_INT)
				db_bind_int64(st, n, v->i);
			else if (b->c->type[k] == COL_TEXT)
				db_bind_text(st, n, v->len ? p : "", (int)v->len);
			else
				db_bind_blob(st, n, v->len ? p : "", v->len);
		}
	r = db_step(st, err);
	db_reset(st);
	db_finalize(&once);
	b->rows = 0;
	pv_buf_reset(&b->bytes);
	return r < 0 ? r : PV_OK;
}

/* The source's rows: the SELECT itself on SQLite (it steps row by row);
 * on PostgreSQL a cursor in the caller's snapshot, fetched in slices. */
struct source {
	struct db *db;
	struct db_stmt *st;
	bool cursor;
	int64_t in_slice; /* rows of the current FETCH so far */
};

static int source_open(struct source *s, struct db *from, const char *select,
		       struct pv_error *err)
{
	char fetch[64];
	memset(s, 0, sizeof(*s));
	s->db = from;
	if (db_kind(from) != DB_POSTGRES)
		return db_prepare(from, select, &s->st, err);
	struct pv_buf sql;
	pv_buf_init(&sql, COPY_SQL_MAX);
	int r = pv_buf_printf(&sql, err, "DECLARE pv_catalog_copy NO SCROLL CURSOR FOR %s", select);
	if (r == PV_OK)
		r = db_exec(from, pv_buf_str(&sql), err);
	pv_buf_free(&sql);
	if (r < 0)
		return r;
	s->cursor = true;
	snprintf(fetch, sizeof(fetch), "FETCH FORWARD %d FROM pv_catalog_copy", COPY_FETCH_ROWS);
	return db_prepare(from, fetch, &s->st, err);
}

/* DB_ROW, DB_DONE or an error, as db_step. */
static int source_next(struct source *s, struct pv_error *err)
{
	int r = db_step(s->st, err);
	if (r == DB_ROW)
		s->in_slice++;
	else if (r == DB_DONE && s->cursor && s->in_slice == COPY_FETCH_ROWS) {
		/* a full slice: there may be more */
		db_reset(s->st);
		s->in_slice = 0;
		return source_next(s, err);
	}
	return r;
}

static void source_close(struct source *s)
{
	struct pv_error e;
	db_finalize(&s->st);
	if (s->cursor) {
		/* Fails in a transaction an error aborted: its end closes it. */
		int r = db_exec(s->db, "CLOSE pv_catalog_copy", &e);
		(void)r;
	}
	s->cursor = false;
}

static int copy_rows(struct db *from, struct db *to, struct catalog_copy_table *t,
		     const struct table_cols *c, struct pv_error *err)
{
	struct batch b = {.c = c};
	struct source src = {NULL, NULL, false, 0};
	struct pv_buf sql;
	int r;
	/* lib/db.h takes at most 999 parameters in one statement (db_pg.c) */
	b.max_rows = COPY_BATCH_ROWS;
	if (b.max_rows * (size_t)c->n > COPY_PARAMS_MAX)
		b.max_rows = COPY_PARAMS_MAX / (size_t)c->n;
	pv_buf_init(&b.bytes, COPY_BATCH_BYTES_MAX);
	pv_buf_init(&sql, COPY_SQL_MAX);
	if ((b.v = calloc(b.max_rows * (size_t)c->n, sizeof(*b.v))) == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	if ((r = select_sql(t->name, c, &sql, err)) == PV_OK &&
	    (r = source_open(&src, from, pv_buf_str(&sql), err)) < 0)
		pv_error_prefix(err, "in the source");
	while (r == PV_OK && (r = source_next(&src, err)) == DB_ROW) {
		if ((r = batch_add(&b, src.st, err)) < 0)
			break;
		if (b.rows == b.max_rows || b.bytes.len >= COPY_BATCH_BYTES) {
			size_t n = b.rows;
			if ((r = batch_flush(&b, to, t->name, err)) < 0)
				break;
			t->rows += (int64_t)n;
		}
	}
	if (r == DB_DONE) {
		size_t n = b.rows;
		if ((r = batch_flush(&b, to, t->name, err)) == PV_OK)
			t->rows += (int64_t)n;
	}
	source_close(&src);
	db_finalize(&b.full);
	free(b.v);
	pv_buf_free(&b.bytes);
	pv_buf_free(&sql);
	return r < 0 ? r : PV_OK;
}

static int copy_table(struct db *from, struct db *to, struct catalog_copy_table *t,
		      struct pv_error *err)
{
	struct table_cols c;
	int64_t already;
	int r;

	if ((r = target_columns(to, t->name, &c, err)) < 0 ||
	    (r = count_rows(to, t->name, &already, err)) < 0)
		return r;
	if (already != 0)
		return pv_fail(err, PV_ERR, "catalog copy: the target's table %s is not empty (%lld rows)",
			       t->name, (long long)already);
	if (copy_rows(from, to, t, &c, err) < 0)
		return pv_error_prefix(err, "catalog copy: %s, after %lld rows", t->name,
				       (long long)t->rows);
	for (int k = 0; k < c.n; k++)
		if (c.identity[k] && move_identity(to, t->name, c.name[k], err) < 0)
			return pv_error_prefix(err, "catalog copy: %s.%s's identity", t->name, c.name[k]);
	return PV_OK;
}

int catalog_copy(struct db *from, struct db *to, struct catalog_copy_report *rep,
		 struct pv_error *err)
{
	int r;
	memset(rep, 0, sizeof(*rep));
	if (db_kind(from) == db_kind(to))
		return pv_fail(err, PV_EUSAGE, "catalog copy: from one engine to the other only");
	if (!db_in_transaction(to))
		return pv_fail(err, PV_ERR, "catalog copy: the target needs the caller's transaction");
	if (db_kind(from) == DB_POSTGRES && !db_in_transaction(from))
		return pv_fail(err, PV_ERR, "catalog copy: a PostgreSQL source needs the caller's "
					    "snapshot (its cursors live in a transaction)");
	if ((r = target_tables(to, rep, err)) < 0)
		return r;
	for (size_t i = 0; i < rep->n_tables; i++) {
		if ((r = copy_table(from, to, &rep->tables[i], err)) < 0)
			return r;
		rep->rows += rep->tables[i].rows;
	}
	return PV_OK;
}

int catalog_copy_recount(struct db *from, struct db *to, const struct catalog_copy_report *rep,
			 struct pv_error *err)
{
	for (size_t i = 0; i < rep->n_tables; i++) {
		const struct catalog_copy_table *t = &rep->tables[i];
		int64_t a, b;
		int r;
		if ((r = count_rows(from, t->name, &a, err)) < 0 ||
		    (r = count_rows(to, t->name, &b, err)) < 0)
			return r;
		if (a != b || b != t->rows)
			return pv_fail(err, PV_EINTEGRITY, "catalog copy: table %s has %lld rows in the "
				       "source and %lld in the copy (%lld copied)", t->name,
				       (long long)a, (long long)b, (long long)t->rows);
	}
	return PV_OK;
}
