/* A search's exact total on two cores: index_par.h says how and why. */
#include "archiver/index/index_par.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "archiver/index/index_sql.h"

/* The caller first counts the newest 1/PROBE_PARTS of the range alone:
 * its time projects the whole count's, and it is part of the total. */
#define PROBE_PARTS 64
/* A helper that waits longer than this for a lock counts nothing: the
 * caller does (a read in WAL mode waits only while a WAL is recovered). */
#define PAR_BUSY_MS 100

struct index_par {
	sqlite3 *db;           /* the helper's own read-only connection */
	sqlite3_stmt *version; /* PRAGMA data_version, on it */
	sqlite3_stmt *bounds;  /* the oldest and newest key, on the caller's db */
	struct index_par_opts opts;
	struct index_par_stats stats;
};

int index_par_open(sqlite3 *db, struct index_par **par_r, struct pv_error *err)
{
	*par_r = NULL;
	const char *path = db ? sqlite3_db_filename(db, "main") : NULL;
	if (path == NULL || *path == '\0')
		return pv_fail(err, PV_ERR, "index: no database file to open a second connection to");
	struct index_par *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	p->opts.min_ms = INDEX_PAR_MIN_MS;
	if (sqlite3_open_v2(path, &p->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
		    SQLITE_OK ||
	    sqlite3_busy_timeout(p->db, PAR_BUSY_MS) != SQLITE_OK ||
	    sqlite3_prepare_v2(p->db, "PRAGMA data_version", -1, &p->version, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT (SELECT min(key) FROM idx_doc), (SELECT max(key) FROM"
				   " idx_doc)", -1, &p->bounds, NULL) != SQLITE_OK) {
		int r = pv_fail(err, PV_ERR, "index: second connection to %s: %s", path,
			p->db ? sqlite3_errmsg(p->db) : "out of memory");
		index_par_free(&p);
		return r;
	}
	*par_r = p;
	return PV_OK;
}

void index_par_free(struct index_par **par)
{
	struct index_par *p = *par;
	if (p == NULL)
		return;
	sqlite3_finalize(p->version);
	sqlite3_finalize(p->bounds);
	sqlite3_close(p->db);
	free(p);
	*par = NULL;
}

void index_par_set(struct index_par *par, const struct index_par_opts *opts)
{
	par->opts = *opts;
}

struct index_par_stats index_par_stats(const struct index_par *par)
{
	return par->stats;
}

/* The calling thread's CPU time: a probe's cost that a loaded machine's
 * waits do not inflate (on wall time every query looked large there). */
static double thread_cpu_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* The helper's data_version: false when it cannot be read. */
static bool data_version(struct index_par *p, int64_t *v_r)
{
	bool ok = sqlite3_step(p->version) == SQLITE_ROW;
	if (ok)
		*v_r = sqlite3_column_int64(p->version, 0);
	sqlite3_reset(p->version);
	return ok;
}

/* [*lo_r, *hi_r): the keys of the index in db's read transaction (whose
 * snapshot this read begins); 1 when the index is empty. */
static int key_bounds(struct index_par *p, sqlite3 *db, int64_t *lo_r, int64_t *hi_r,
	struct pv_error *err)
{
	int r = 1;
	if (sqlite3_step(p->bounds) != SQLITE_ROW)
		r = pv_fail(err, PV_ERR, "index: count: %s", sqlite3_errmsg(db));
	else if (sqlite3_column_type(p->bounds, 0) != SQLITE_NULL) {
		*lo_r = sqlite3_column_int64(p->bounds, 0);
		*hi_r = sqlite3_column_int64(p->bounds, 1);
		*hi_r += *hi_r < INT64_MAX;
		r = PV_OK;
	}
	sqlite3_reset(p->bounds);
	return r;
}

/* One thread's half: the helper's range on the helper's connection. */
struct half {
	sqlite3 *db;
	const struct index_query_sql *q;
	int64_t max; /* stop at this many (INDEX_COUNT_ALL: count all) */
	int64_t n;
	int r;
	struct pv_error err;
};

static void *count_half(void *arg)
{
	struct half *h = arg;
	h->r = index_sql_count(h->db, h->q, h->max, &h->n, &h->err);
	return NULL;
}

/* Counts q's keys in [*q's lo, cut) split at mid: the older part on the
 * helper's thread and connection, the newer on the caller's; false when
 * the helper's snapshot is not the caller's (then nothing was counted). */
static bool count_split(struct index_par *p, sqlite3 *db, const struct index_query_sql *q,
	int64_t max, int64_t before, int64_t mid, int64_t cut, int64_t *n_r, int *r_r,
	struct pv_error *err)
{
	int64_t after = before + 1;
	if (p->opts.between != NULL)
		p->opts.between(p->opts.ctx);
	if (sqlite3_exec(p->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		p->stats.failed++;
		return false;
	}
	if (!data_version(p, &after) || after != before) {
		sqlite3_exec(p->db, "COMMIT", NULL, NULL, NULL);
		p->stats.changed++;
		return false;
	}
	struct index_query_sql older = *q, newer = *q;
	older.hi = mid;
	newer.lo = mid;
	newer.hi = cut;
	struct half h = {p->db, &older, max, 0, PV_OK, {0}};
	pthread_t t;
	bool threaded = pthread_create(&t, NULL, count_half, &h) == 0;
	int64_t n_new = 0;
	*r_r = index_sql_count(db, &newer, max, &n_new, err);
	if (threaded)
		pthread_join(t, NULL);
	else if (*r_r == PV_OK) /* no thread: the same snapshot, on this one */
		count_half(&h);
	sqlite3_exec(p->db, "COMMIT", NULL, NULL, NULL);
	if (*r_r == PV_OK && h.r < 0) { /* the helper's half again, on the caller's */
		p->stats.failed++;
		*r_r = index_sql_count(db, &older, max, &h.n, err);
	} else if (threaded) {
		p->stats.split++;
	} else {
		p->stats.failed++;
	}
	*n_r = n_new + h.n;
	return true;
}

/* A statement of db still stepping holds a read transaction whose
 * snapshot began earlier than this call's BEGIN. */
static bool reading(sqlite3 *db)
{
	for (sqlite3_stmt *st = sqlite3_next_stmt(db, NULL); st != NULL; st = sqlite3_next_stmt(db, st))
		if (sqlite3_stmt_busy(st))
			return true;
	return false;
}

int index_par_count(struct index_par *p, sqlite3 *db, const struct index_query_sql *q,
	int64_t max, int64_t *total_r, struct pv_error *err)
{
	int64_t before = 0, lo = 0, hi = 0, probe = 0, rest = 0;
	if (reading(db)) {
		p->stats.alone++;
		return index_sql_count(db, q, max, total_r, err);
	}
	/* read before the caller's snapshot begins: unchanged when the
	 * helper's begins, no connection committed in between */
	bool versioned = data_version(p, &before);
	int r = key_bounds(p, db, &lo, &hi, err);
	if (r < 0)
		return r;
	lo = q->lo > lo ? q->lo : lo;
	hi = q->hi < hi ? q->hi : hi;
	if (r == 1 || hi <= lo || hi - lo < 2 * PROBE_PARTS) {
		p->stats.alone++;
		return index_sql_count(db, q, max, total_r, err);
	}
	/* keys are date-ordered: equal spans of dates are a fair guess at
	 * equal work (a median of the matches would cost a count) */
	int64_t cut = hi - (hi - lo) / PROBE_PARTS;
	struct index_query_sql part = *q;
	part.lo = cut;
	double t0 = thread_cpu_ms();
	if ((r = index_sql_count(db, &part, max, &probe, err)) < 0)
		return r;
	if (max != INDEX_COUNT_ALL && probe >= max) {
		*total_r = probe; /* the bound is reached in the newest part */
		return PV_OK;
	}
	/* each part stops at what is left of the bound: past it, so is the sum */
	int64_t left = max == INDEX_COUNT_ALL ? max : max - probe;
	bool big = (thread_cpu_ms() - t0) * (PROBE_PARTS - 1) >= p->opts.min_ms;
	if (!(big && versioned &&
		    count_split(p, db, q, left, before, lo + (cut - lo) / 2, cut, &rest, &r, err))) {
		if (big && !versioned)
			p->stats.failed++;
		else if (!big)
			p->stats.alone++;
		part.lo = q->lo;
		part.hi = cut;
		r = index_sql_count(db, &part, left, &rest, err);
	}
	*total_r = probe + rest;
	return r;
}
