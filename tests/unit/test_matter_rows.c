/* The catalog rows of matters, holds and export jobs as the archive layer
 * reads and writes them (archiver/archive/matters, holds, export_jobs),
 * on SQLite and, with PV_TEST_PG, on PostgreSQL. An archive opens only
 * SQLite today, so the cases use a struct archive that holds just a data
 * directory and a catalog connection: only operations that touch no log
 * and no key are run here (matter and export-job reads, job records, the
 * sweep, hold listings); the audited ones are in test_ops_matters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "archiver/archive/export_jobs.h"
#include "archiver/archive/holds.h"
#include "archiver/archive/matters.h"
#include "archiver/lib/db.h"
#include "tests/unit/fixtures.h"

struct fx {
	struct fx_catalog c;
	struct catalog pgcat; /* the catalog of a PostgreSQL case */
	struct archive *ar;   /* dir and cat only */
	struct db *db;
};

static void run(struct db *db, const char *sql)
{
	struct pv_error err;
	fx_must(db_exec(db, sql, &err), &err, sql);
}

static int setup_on(void **state, bool pg)
{
	struct fx *f = calloc(1, sizeof(*f));
	if (f == NULL || (f->ar = calloc(1, sizeof(*f->ar))) == NULL)
		return -1;
	fx_catalog_open(&f->c, "mrows", pg);
	f->db = f->c.db;
	if (pg) {
		f->pgcat.conn = f->db;
		f->ar->cat = &f->pgcat;
		snprintf(f->c.dir, sizeof(f->c.dir), "/tmp/pv-mrows-XXXXXX");
		if (mkdtemp(f->c.dir) == NULL)
			return -1;
	} else {
		f->ar->cat = f->c.cat;
	}
	snprintf(f->ar->dir, sizeof(f->ar->dir), "%s", f->c.dir);
	/* Smith (2 searches, its own hold and a linked one), Acme (none) */
	run(f->db, "INSERT INTO matters (id, name, description, created_at, created_by) VALUES"
		   " (1, 'Smith', 'case 1', 10, 'web:alice'), (2, 'Acme', '', 11, 'web:bob')");
	run(f->db, "INSERT INTO matter_searches (matter_id, name, query, created_at, created_by)"
		   " VALUES (1, 'b-mail', 'from:b', 12, 'web:alice'),"
		   " (1, 'a-mail', 'from:a', 13, 'web:alice')");
	run(f->db, "INSERT INTO holds (id, name, query, created_at, actor) VALUES"
		   " (1, 'Smith', 'smith', 14, 'web:alice'), (2, 'Smith-2', 'two', 15, 'web:alice'),"
		   " (3, 'Other', 'other', 16, 'web:bob')");
	run(f->db, "UPDATE holds SET released_at = 20, released_by = 'web:carol' WHERE id = 2");
	run(f->db, "INSERT INTO matter_holds (matter_id, hold_name) VALUES (1, 'Smith-2')");
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
	bool pg = f->c.cat == NULL;
	char dir[sizeof(f->c.dir)];
	snprintf(dir, sizeof(dir), "%s", f->c.dir);
	fx_catalog_close(&f->c);
	if (pg)
		fx_rmtree(dir);
	free(f->ar);
	free(f);
	return 0;
}

struct names {
	char v[8][300];
	size_t n;
};

static int collect_matter(void *ctx, const struct matter *m)
{
	struct names *s = ctx;
	snprintf(s->v[s->n++], sizeof(s->v[0]), "%s", m->name);
	return 0;
}

static int collect_search(void *ctx, const struct matter_search *m)
{
	struct names *s = ctx;
	snprintf(s->v[s->n++], sizeof(s->v[0]), "%s", m->name);
	return 0;
}

static int collect_hold(void *ctx, const struct hold *h)
{
	struct names *s = ctx;
	snprintf(s->v[s->n++], sizeof(s->v[0]), "%s%s", h->name, h->released_at ? "*" : "");
	return 0;
}

static void test_matters_read_with_their_counts(void **state)
{
	struct fx *f = *state;
	struct pv_error err;
	struct matter m;
	struct names s = {0};
	char owner[PV_MATTER_NAME_MAX + 1];
	fx_must(archive_matter_get(f->ar, "Smith", &m, &err), &err, "get");
	assert_int_equal(m.id, 1);
	assert_string_equal(m.description, "case 1");
	assert_int_equal(m.searches, 2);
	assert_int_equal(m.holds, 2);
	assert_int_equal(m.exports, 0);
	assert_int_equal(archive_matter_get(f->ar, "smith", &m, &err), PV_ENOTFOUND);
	fx_must(archive_matter_each(f->ar, collect_matter, &s, &err), &err, "each");
	assert_int_equal(s.n, 2);
	assert_string_equal(s.v[0], "Acme");
	assert_string_equal(s.v[1], "Smith");
	memset(&s, 0, sizeof(s));
	fx_must(archive_matter_get(f->ar, "Smith", &m, &err), &err, "get");
	fx_must(archive_matter_searches(f->ar, &m, collect_search, &s, &err), &err, "searches");
	assert_int_equal(s.n, 2);
	assert_string_equal(s.v[0], "a-mail");
	/* a hold belongs to the matter of its name, else to the one it was placed for */
	fx_must(archive_matter_of_hold(f->ar, "Smith-2", owner, sizeof(owner), &err), &err, "of");
	assert_string_equal(owner, "Smith");
	fx_must(archive_matter_of_hold(f->ar, "Other", owner, sizeof(owner), &err), &err, "none");
	assert_string_equal(owner, "");
	memset(&s, 0, sizeof(s));
	fx_must(archive_matter_holds(f->ar, &m, collect_hold, &s, &err), &err, "holds");
	assert_int_equal(s.n, 2);
	assert_string_equal(s.v[0], "Smith");
	assert_string_equal(s.v[1], "Smith-2*");
}

static void test_hold_each_active_or_all(void **state)
{
	struct fx *f = *state;
	struct pv_error err;
	struct names s = {0};
	fx_must(hold_each(f->ar, false, collect_hold, &s, &err), &err, "active");
	assert_int_equal(s.n, 2);
	assert_string_equal(s.v[1], "Other");
	memset(&s, 0, sizeof(s));
	fx_must(hold_each(f->ar, true, collect_hold, &s, &err), &err, "all");
	assert_int_equal(s.n, 3);
	assert_string_equal(s.v[1], "Smith-2*");
}

static int collect_job(void *ctx, const struct export_job *j)
{
	struct names *s = ctx;
	snprintf(s->v[s->n++], sizeof(s->v[0]), "%lld %s", (long long)j->id, j->status);
	return 0;
}

static void test_export_jobs_recorded_and_swept(void **state)
{
	struct fx *f = *state;
	struct pv_error err;
	struct export_job j;
	struct names s = {0};
	struct matter m;
	int64_t a = 0, b = 0, c = 0;
	fx_must(archive_export_job_begin(f->ar, "web:alice", "Smith", "from:a", "zip", NULL, 30, &a,
					 &err), &err, "begin a");
	fx_must(archive_export_job_begin(f->ar, "web:alice", "Smith", "from:b", "tar.gz", "SM-",
					 31, &b, &err), &err, "begin b");
	fx_must(archive_export_job_begin(f->ar, "web:bob", "Acme", "x", "zip", NULL, 32, &c, &err),
		&err, "begin c");
	assert_true(a > 0 && b > a && c > b);
	assert_int_equal(archive_export_job_begin(f->ar, "web:bob", "Acme", "x", "rar", NULL, 32,
						  &c, &err), PV_EUSAGE);
	fx_must(archive_export_job_end(f->ar, a, EXPORT_JOB_CANCELLED, NULL, "stopped by alice",
				       40, &err), &err, "end a");
	assert_int_equal(archive_export_job_end(f->ar, a, EXPORT_JOB_FAILED, NULL, "again", 41,
						&err), PV_ENOTFOUND);
	fx_must(archive_export_job_get(f->ar, a, &j, &err), &err, "get a");
	assert_string_equal(j.status, "cancelled");
	assert_string_equal(j.error, "stopped by alice");
	assert_int_equal(j.finished_at, 40);
	assert_int_equal(j.messages, -1);
	assert_string_equal(j.bates_prefix, "");
	fx_must(archive_export_job_get(f->ar, b, &j, &err), &err, "get b");
	assert_string_equal(j.bates_prefix, "SM-");
	assert_string_equal(j.format, "tar.gz");
	assert_int_equal(j.finished_at, 0);
	assert_int_equal(archive_export_job_get(f->ar, c + 1, &j, &err), PV_ENOTFOUND);
	fx_must(archive_export_jobs_each(f->ar, "Smith", collect_job, &s, &err), &err, "each");
	assert_int_equal(s.n, 2); /* of Smith, newest first */
	assert_int_equal(atoll(s.v[0]), b);
	memset(&s, 0, sizeof(s));
	fx_must(archive_export_jobs_each(f->ar, NULL, collect_job, &s, &err), &err, "all");
	assert_int_equal(s.n, 3);
	fx_must(archive_matter_get(f->ar, "Smith", &m, &err), &err, "matter");
	assert_int_equal(m.exports, 2);
	/* a server stopped while b and c ran */
	fx_must(archive_export_jobs_sweep(f->ar, 50, &err), &err, "sweep");
	fx_must(archive_export_job_get(f->ar, c, &j, &err), &err, "get c");
	assert_string_equal(j.status, "failed");
	assert_int_equal(j.finished_at, 50);
	assert_non_null(strstr(j.error, "interrupted"));
}

#define BOTH(t) FX_BOTH(t, setup, setup_pg, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_matters_read_with_their_counts),
		BOTH(test_hold_each_active_or_all),
		BOTH(test_export_jobs_recorded_and_swept),
	};
	return fx_run_both("matter_rows", tests, sizeof(tests) / sizeof(tests[0]));
}
