/* lib/db.h on PostgreSQL (libpq). A statement's SQL has its `?`
 * placeholders turned into $n once, at prepare; the server-side prepared
 * statement is made once per connection and text (a small cache), so
 * preparing the same SQL again costs no round trip. Parameters go as text
 * (integers) or binary (blobs as bytea, texts with a length); results come
 * as text, a bytea decoded from its hex form into a buffer of the
 * statement. The whole result of a statement is fetched by its first
 * step. */
#include "archiver/lib/db_backend.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/lib/hex.h"
#include "archiver/lib/number.h"

/* Server-side statements kept per connection: more distinct SQL texts
 * than this evict the oldest unused one (DEALLOCATE). */
#define DB_PG_STMT_CACHE 512
/* The most parameters one statement may have. */
#define DB_PG_PARAMS_MAX 999

#define BOOLOID 16
#define BYTEAOID 17

struct pg_cached {
	char *sql; /* translated */
	char name[24];
	int nparams;
	int users; /* live statements using it: not evicted meanwhile */
};

struct db_pg {
	struct db base;
	PGconn *conn;
	struct pg_cached cache[DB_PG_STMT_CACHE];
	int ncache;
	uint64_t next_name;
};

struct pg_scratch {
	unsigned char *p;
	size_t cap;
};

struct db_pg_stmt {
	struct db_stmt base;
	struct db_pg *db;
	struct pg_cached *prep;
	int nparams;
	const char **values;
	int *lengths, *formats;
	char (*ints)[24];
	PGresult *res;
	int row, nrows;
	bool executed;
	int64_t changes;
	struct pg_scratch *scratch; /* one per result column, for bytea */
	int nscratch;
};

#define DB(d) ((struct db_pg *)(d))
#define ST(s) ((struct db_pg_stmt *)(s))

static int res_fail(PGconn *conn, PGresult *res, struct pv_error *err)
{
	const char *m = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	int r;
	if (m != NULL) {
		r = pv_fail(err, PV_ERR, "database: %s", m);
	} else {
		char msg[256];
		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(conn));
		msg[strcspn(msg, "\n")] = '\0';
		r = pv_fail(err, PV_ERR, "database: %s", msg);
	}
	PQclear(res);
	return r;
}

static void quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

int db_url_check_no_password(const char *url, struct pv_error *err)
{
	char *why = NULL;
	PQconninfoOption *opts = PQconninfoParse(url, &why);
	int r = PV_OK;
	if (opts == NULL) {
		r = pv_fail(err, PV_EUSAGE, "not a PostgreSQL URL or conninfo: %s",
			    why ? why : "out of memory");
		PQfreemem(why);
		return r;
	}
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val != NULL && o->val[0] != '\0')
			r = pv_fail(err, PV_EUSAGE,
				    "the catalog URL holds a password; put it in a libpq passfile "
				    "(PGPASSFILE or ~/.pgpass, mode 0600) and give the URL without it");
	PQconninfoFree(opts);
	return r;
}

int db_pg_open(const char *conninfo, struct db **db_r, struct pv_error *err)
{
	struct db_pg *d = calloc(1, sizeof(*d));
	if (d == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	d->base.ops = &db_pg_ops;
	d->conn = PQconnectdb(conninfo);
	if (d->conn == NULL || PQstatus(d->conn) != CONNECTION_OK) {
		char msg[256];
		snprintf(msg, sizeof(msg), "%s", d->conn ? PQerrorMessage(d->conn) : "out of memory");
		msg[strcspn(msg, "\n")] = '\0';
		PQfinish(d->conn);
		free(d);
		return pv_fail(err, PV_ERR, "postgresql: cannot connect: %s", msg);
	}
	/* NOTICEs (CREATE ... IF NOT EXISTS) are not errors: not on stderr */
	PQsetNoticeProcessor(d->conn, quiet, NULL);
	*db_r = &d->base;
	return PV_OK;
}


static void p_close(struct db *db)
{
	for (int i = 0; i < DB(db)->ncache; i++)
		free(DB(db)->cache[i].sql);
	PQfinish(DB(db)->conn);
	free(db);
}

/* `?` -> $k (the largest number so far + 1), `?N` -> $N, as SQLite
 * numbers them; nothing inside quotes or comments. *out_r malloc'd. */
static int translate(const char *sql, char **out_r, int *nparams_r, struct pv_error *err)
{
	size_t n = strlen(sql);
	char *out = malloc(4 * n + 1); /* "?" -> "$999" at most */
	size_t o = 0;
	int largest = 0;
	char quote = 0;
	if (out == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	for (size_t i = 0; i < n; i++) {
		char c = sql[i];
		if (quote == '-') {
			if (c == '\n')
				quote = 0;
		} else if (quote == '*') {
			if (c == '*' && sql[i + 1] == '/') {
				out[o++] = c;
				c = sql[++i];
				quote = 0;
			}
		} else if (quote) {
			if (c == quote)
				quote = 0;
		} else if (c == '\'' || c == '"') {
			quote = c;
		} else if (c == '-' && sql[i + 1] == '-') {
			quote = '-';
		} else if (c == '/' && sql[i + 1] == '*') {
			quote = '*';
		} else if (c == '?') {
			int k = 0;
			while (sql[i + 1] >= '0' && sql[i + 1] <= '9' && k <= DB_PG_PARAMS_MAX)
				k = 10 * k + (sql[++i] - '0');
			if (k == 0)
				k = largest + 1;
			if (k > DB_PG_PARAMS_MAX) {
				free(out);
				return pv_fail(err, PV_ERR, "database: more than %d parameters",
					       DB_PG_PARAMS_MAX);
			}
			if (k > largest)
				largest = k;
			o += (size_t)sprintf(out + o, "$%d", k);
			continue;
		}
		out[o++] = c;
	}
	out[o] = '\0';
	*out_r = out;
	*nparams_r = largest;
	return PV_OK;
}

static uint64_t unused_slot(struct db_pg *d)
{
	for (int i = 0; i < d->ncache; i++)
		if (d->cache[i].users == 0)
			return (uint64_t)i;
	return UINT64_MAX;
}

/* The cached server-side statement for sql (translated), made when new. */
static int cached(struct db_pg *d, char *sql, int nparams, struct pg_cached **c_r,
		  struct pv_error *err)
{
	for (int i = 0; i < d->ncache; i++)
		if (d->cache[i].sql != NULL && strcmp(d->cache[i].sql, sql) == 0) {
			free(sql);
			*c_r = &d->cache[i];
			return PV_OK;
		}
	struct pg_cached *c;
	if (d->ncache < DB_PG_STMT_CACHE) {
		c = &d->cache[d->ncache];
	} else {
		uint64_t i = unused_slot(d);
		if (i == UINT64_MAX) {
			free(sql);
			return pv_fail(err, PV_ELIMIT, "database: %d statements open at once",
				       DB_PG_STMT_CACHE);
		}
		c = &d->cache[i];
		if (c->sql != NULL) {
			char dealloc[48];
			snprintf(dealloc, sizeof(dealloc), "DEALLOCATE %s", c->name);
			PQclear(PQexec(d->conn, dealloc));
			free(c->sql);
			c->sql = NULL;
		}
	}
	char name[24];
	snprintf(name, sizeof(name), "pv%llu", (unsigned long long)d->next_name++);
	PGresult *res = PQprepare(d->conn, name, sql, nparams, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		free(sql);
		/* an evicted slot stays empty (sql NULL) for the next one */
		return res_fail(d->conn, res, err);
	}
	PQclear(res);
	c->sql = sql;
	memcpy(c->name, name, sizeof(name));
	c->nparams = nparams;
	c->users = 0;
	if (c == &d->cache[d->ncache])
		d->ncache++;
	*c_r = c;
	return PV_OK;
}

static int p_prepare(struct db *db, const char *sql, struct db_stmt **st_r, struct pv_error *err)
{
	struct db_pg *d = DB(db);
	char *psql = NULL;
	int nparams = 0, r;
	if ((r = translate(sql, &psql, &nparams, err)) < 0)
		return r;
	struct pg_cached *c = NULL;
	if ((r = cached(d, psql, nparams, &c, err)) < 0)
		return r;
	size_t np = (size_t)c->nparams;
	struct db_pg_stmt *s = calloc(1, sizeof(*s));
	if (s != NULL && np > 0) {
		s->values = calloc(np, sizeof(*s->values));
		s->lengths = calloc(np, sizeof(*s->lengths));
		s->formats = calloc(np, sizeof(*s->formats));
		s->ints = calloc(np, sizeof(*s->ints));
	}
	if (s == NULL || (np > 0 && (!s->values || !s->lengths || !s->formats || !s->ints))) {
		if (s != NULL) {
			free(s->values);
			free(s->lengths);
			free(s->formats);
			free(s->ints);
		}
		free(s);
		return pv_fail(err, PV_ERR, "out of memory");
	}
	s->base.ops = &db_pg_ops;
	s->db = d;
	s->prep = c;
	s->nparams = c->nparams;
	c->users++;
	*st_r = &s->base;
	return PV_OK;
}

static void p_reset(struct db_stmt *st)
{
	struct db_pg_stmt *s = ST(st);
	PQclear(s->res);
	s->res = NULL;
	s->executed = false;
	s->row = s->nrows = 0;
}

static void p_finalize(struct db_stmt *st)
{
	struct db_pg_stmt *s = ST(st);
	p_reset(st);
	s->prep->users--;
	for (int i = 0; i < s->nscratch; i++)
		free(s->scratch[i].p);
	free(s->scratch);
	free(s->values);
	free(s->lengths);
	free(s->formats);
	free(s->ints);
	free(s);
}

static bool param_ok(struct db_pg_stmt *s, int i)
{
	return i >= 1 && i <= s->nparams;
}

static void p_bind_int64(struct db_stmt *st, int i, int64_t v)
{
	struct db_pg_stmt *s = ST(st);
	if (!param_ok(s, i))
		return;
	snprintf(s->ints[i - 1], sizeof(s->ints[0]), "%lld", (long long)v);
	s->values[i - 1] = s->ints[i - 1];
	s->formats[i - 1] = 0;
}

static void p_bind_text(struct db_stmt *st, int i, const char *t, int len)
{
	struct db_pg_stmt *s = ST(st);
	if (!param_ok(s, i))
		return;
	s->values[i - 1] = t;
	/* with a length: binary, which for text is its bytes as they are */
	s->formats[i - 1] = len >= 0 && t != NULL;
	s->lengths[i - 1] = len >= 0 ? len : 0;
}

static void p_bind_blob(struct db_stmt *st, int i, const void *p, size_t len)
{
	struct db_pg_stmt *s = ST(st);
	if (!param_ok(s, i))
		return;
	s->values[i - 1] = len ? p : "";
	s->formats[i - 1] = 1;
	s->lengths[i - 1] = (int)len;
}

static void p_bind_null(struct db_stmt *st, int i)
{
	struct db_pg_stmt *s = ST(st);
	if (param_ok(s, i))
		s->values[i - 1] = NULL;
}

static int p_step(struct db_stmt *st, struct pv_error *err)
{
	struct db_pg_stmt *s = ST(st);
	if (!s->executed) {
		PGresult *res = PQexecPrepared(s->db->conn, s->prep->name, s->nparams, s->values,
					       s->lengths, s->formats, 0);
		ExecStatusType t = PQresultStatus(res);
		if (t != PGRES_TUPLES_OK && t != PGRES_COMMAND_OK)
			return res_fail(s->db->conn, res, err);
		s->res = res;
		s->executed = true;
		s->row = -1;
		s->nrows = PQntuples(res);
		s->changes = strtoll(PQcmdTuples(res), NULL, 10);
	}
	if (s->row < s->nrows)
		s->row++;
	return s->row < s->nrows ? DB_ROW : DB_DONE;
}

static bool has_value(struct db_pg_stmt *s, int i)
{
	return s->res != NULL && s->row >= 0 && s->row < s->nrows && i >= 0 &&
	       i < PQnfields(s->res) && !PQgetisnull(s->res, s->row, i);
}

static int p_column_count(struct db_stmt *st)
{
	return ST(st)->res ? PQnfields(ST(st)->res) : 0;
}

static bool p_column_is_null(struct db_stmt *st, int i)
{
	return !has_value(ST(st), i);
}

static int64_t p_column_int64(struct db_stmt *st, int i)
{
	struct db_pg_stmt *s = ST(st);
	if (!has_value(s, i))
		return 0;
	const char *v = PQgetvalue(s->res, s->row, i);
	if (PQftype(s->res, i) == BOOLOID)
		return v[0] == 't';
	return strtoll(v, NULL, 10);
}

static const char *p_column_text(struct db_stmt *st, int i)
{
	struct db_pg_stmt *s = ST(st);
	return has_value(s, i) ? PQgetvalue(s->res, s->row, i) : NULL;
}

/* A bytea in text form is "\x" and two hex digits a byte (bytea_output
 * hex, the default since 9.0). */
static const void *p_column_blob(struct db_stmt *st, int i, size_t *len_r)
{
	struct db_pg_stmt *s = ST(st);
	*len_r = 0;
	if (!has_value(s, i))
		return NULL;
	const char *v = PQgetvalue(s->res, s->row, i);
	size_t n = (size_t)PQgetlength(s->res, s->row, i);
	if (PQftype(s->res, i) != BYTEAOID || n < 2 || v[0] != '\\' || v[1] != 'x') {
		*len_r = n;
		return v;
	}
	int nf = PQnfields(s->res);
	if (s->nscratch < nf) {
		struct pg_scratch *sc = realloc(s->scratch, (size_t)nf * sizeof(*sc));
		if (sc == NULL)
			return NULL;
		memset(sc + s->nscratch, 0, (size_t)(nf - s->nscratch) * sizeof(*sc));
		s->scratch = sc;
		s->nscratch = nf;
	}
	struct pg_scratch *sc = &s->scratch[i];
	size_t len = (n - 2) / 2;
	if (sc->cap < len + 1) {
		unsigned char *p = realloc(sc->p, len + 1);
		if (p == NULL)
			return NULL;
		sc->p = p;
		sc->cap = len + 1;
	}
	if (pv_unhex(v + 2, n - 2, sc->p, len) < 0)
		return NULL;
	*len_r = len;
	return sc->p;
}

static int64_t p_changes(struct db_stmt *st)
{
	return ST(st)->changes;
}

static int p_exec(struct db *db, const char *sql, struct pv_error *err)
{
	PGresult *res = PQexec(DB(db)->conn, sql);
	ExecStatusType t = PQresultStatus(res);
	if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK)
		return res_fail(DB(db)->conn, res, err);
	/* A COMMIT of a transaction a failed statement aborted succeeds as a
	 * command but rolls back: its tag says ROLLBACK. Nothing was written,
	 * and the caller must not act as if it had (a DELE after it would
	 * lose mail). */
	bool rolled_back = strcmp(sql, "COMMIT") == 0 && strcmp(PQcmdStatus(res), "ROLLBACK") == 0;
	PQclear(res);
	if (rolled_back)
		return pv_fail(err, PV_ERR, "database: the transaction was rolled back (a statement "
					    "in it had failed): nothing was committed");
	return PV_OK;
}

static int p_begin(struct db *db, struct pv_error *err)
{
	char sql[80];
	snprintf(sql, sizeof(sql), "BEGIN; SELECT pg_advisory_xact_lock(%d)", DB_PG_WRITER_LOCK);
	int r = p_exec(db, sql, err);
	if (r < 0 && PQtransactionStatus(DB(db)->conn) != PQTRANS_IDLE)
		(void)p_exec(db, "ROLLBACK", NULL);
	return r;
}

static int p_begin_read(struct db *db, struct pv_error *err)
{
	/* REPEATABLE READ: one snapshot, taken by the first query */
	int r = p_exec(db, "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1", err);
	if (r < 0 && PQtransactionStatus(DB(db)->conn) != PQTRANS_IDLE)
		(void)p_exec(db, "ROLLBACK", NULL);
	return r;
}

static bool p_in_transaction(struct db *db)
{
	PGTransactionStatusType t = PQtransactionStatus(DB(db)->conn);
	return t == PQTRANS_INTRANS || t == PQTRANS_INERROR || t == PQTRANS_ACTIVE;
}

static bool p_broken(struct db *db)
{
	return PQstatus(DB(db)->conn) == CONNECTION_BAD;
}

/* libpq says where it connected: a unix socket's directory (or an
 * abstract "@name") or a host, and the port. */
static int p_server(struct db *db, char *host_r, size_t host_n, bool *unix_r, unsigned *port_r,
		    struct pv_error *err)
{
	PGconn *c = DB(db)->conn;
	const char *host = PQhost(c), *port = PQport(c);
	uint64_t p = 0;
	if (host == NULL || host[0] == '\0')
		return pv_fail(err, PV_ERR, "postgresql: the connection names no server");
	*unix_r = host[0] == '/' || host[0] == '@';
	if (!*unix_r && (port == NULL || pv_parse_u64(port, strlen(port), 1, 65535, 0, &p) < 0))
		return pv_fail(err, PV_ERR, "postgresql: the connection names no port");
	snprintf(host_r, host_n, "%s", host);
	*port_r = (unsigned)p;
	return PV_OK;
}

const struct db_ops db_pg_ops = {
	.kind = DB_POSTGRES,
	.close = p_close,
	.prepare = p_prepare,
	.finalize = p_finalize,
	.reset = p_reset,
	.bind_int64 = p_bind_int64,
	.bind_text = p_bind_text,
	.bind_blob = p_bind_blob,
	.bind_null = p_bind_null,
	.step = p_step,
	.column_count = p_column_count,
	.column_is_null = p_column_is_null,
	.column_int64 = p_column_int64,
	.column_text = p_column_text,
	.column_blob = p_column_blob,
	.changes = p_changes,
	.exec = p_exec,
	.begin = p_begin,
	.begin_read = p_begin_read,
	.in_transaction = p_in_transaction,
	.server = p_server,
	.broken = p_broken,
};
