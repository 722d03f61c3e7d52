/* Mailbox leases (store/leases.h): one holder at a time per account, the
 * holder extends its own, anyone takes one that ran out, a release frees
 * it, and two connections racing for one lease get it once. Each case on
 * SQLite and, with PV_TEST_PG, on PostgreSQL. */
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
#include "archiver/store/leases.h"
#include "tests/unit/fixtures.h"

struct fx {
	struct fx_catalog c;
	int64_t acct[2];
};

/* Two accounts rows, straight in SQL: the lease refers to accounts(id). */
static int64_t add_account(struct db *db, const char *name)
{
	struct db_stmt *st;
	struct pv_error err;
	fx_must(db_prepare(db,
			   "INSERT INTO accounts (name, host, port, tls, username, auth, secret,"
			   " created_at) VALUES (?, 'pop.example.org', 995, 'implicit', 'u',"
			   " 'auto', ?, 1) RETURNING id",
			   &st, &err),
		&err, "prepare");
	db_bind_text(st, 1, name, -1);
	db_bind_blob(st, 2, "s", 1);
	assert_int_equal(db_step(st, &err), DB_ROW);
	int64_t id = db_column_int64(st, 0);
	db_finalize(&st);
	return id;
}

static int setup_on(void **state, bool pg)
{
	struct fx *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -1;
	fx_catalog_open(&f->c, "leases", pg);
	f->acct[0] = add_account(f->c.db, "legal");
	f->acct[1] = add_account(f->c.db, "board");
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
	fx_catalog_close(&f->c);
	free(f);
	return 0;
}

static void test_one_holder_at_a_time(void **state)
{
	struct fx *f = *state;
	struct db *db = f->c.db;
	struct pv_error err;
	char other[LEASE_HOLDER_MAX] = "";
	int64_t until = 0;
	assert_int_equal(lease_take(db, f->acct[0], NULL, "a", 100, 160, other, &until, &err), PV_OK);
	/* b is refused while a's lease runs, and told who holds it */
	assert_int_equal(lease_take(db, f->acct[0], NULL, "b", 120, 180, other, &until, &err), PV_ETEMP);
	assert_string_equal(other, "a");
	assert_int_equal(until, 160);
	assert_non_null(strstr(err.msg, "being harvested by a"));
	/* the other account is free */
	assert_int_equal(lease_take(db, f->acct[1], NULL, "b", 120, 180, NULL, NULL, &err), PV_OK);
	/* a extends its own, even before it runs out */
	assert_int_equal(lease_take(db, f->acct[0], NULL, "a", 150, 300, NULL, NULL, &err), PV_OK);
	assert_int_equal(lease_take(db, f->acct[0], NULL, "b", 299, 400, other, &until, &err), PV_ETEMP);
	assert_int_equal(until, 300);
	/* once run out, anyone may take it; the old holder is then refused */
	assert_int_equal(lease_take(db, f->acct[0], NULL, "b", 300, 400, NULL, NULL, &err), PV_OK);
	assert_int_equal(lease_take(db, f->acct[0], NULL, "a", 310, 500, other, NULL, &err), PV_ETEMP);
	assert_string_equal(other, "b");
}

static void test_release_frees_only_ones_own(void **state)
{
	struct fx *f = *state;
	struct db *db = f->c.db;
	struct pv_error err;
	assert_int_equal(lease_take(db, f->acct[0], NULL, "a", 100, 1000, NULL, NULL, &err), PV_OK);
	assert_int_equal(lease_release(db, f->acct[0], "b", &err), PV_OK); /* not b's: no effect */
	assert_int_equal(lease_take(db, f->acct[0], NULL, "b", 101, 1000, NULL, NULL, &err), PV_ETEMP);
	assert_int_equal(lease_release(db, f->acct[0], "a", &err), PV_OK);
	assert_int_equal(lease_take(db, f->acct[0], NULL, "b", 102, 1000, NULL, NULL, &err), PV_OK);
	assert_int_equal(lease_release(db, f->acct[1], "a", &err), PV_OK); /* none: fine */
}

static void test_bad_arguments(void **state)
{
	struct fx *f = *state;
	struct pv_error err;
	char longname[LEASE_HOLDER_MAX + 1];
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(lease_take(f->c.db, f->acct[0], NULL, "", 1, 2, NULL, NULL, &err), PV_ERR);
	assert_int_equal(lease_take(f->c.db, f->acct[0], NULL, longname, 1, 2, NULL, NULL, &err), PV_ERR);
	assert_int_equal(lease_take(f->c.db, f->acct[0], NULL, "a", 5, 5, NULL, NULL, &err), PV_ERR);
	/* an account that does not exist: the foreign key refuses */
	assert_true(lease_take(f->c.db, 999999, NULL, "a", 1, 2, NULL, NULL, &err) < 0);
}

static void test_holder_names_differ(void **state)
{
	(void)state;
	struct pv_error err;
	char a[LEASE_HOLDER_MAX], b[LEASE_HOLDER_MAX], site[LEASE_HOLDER_MAX];
	char longdir[300];
	fx_must(lease_holder_make("/var/lib/popvault", a, site, &err), &err, "holder a");
	fx_must(lease_holder_make("/var/lib/popvault", b, site, &err), &err, "holder b");
	assert_non_null(strstr(a, ":/var/lib/popvault pid "));
	assert_int_equal(strncmp(a, site, strlen(site)), 0);
	assert_string_not_equal(a, b); /* same host and pid: the random part */
	memset(longdir, 'd', sizeof(longdir) - 1);
	longdir[sizeof(longdir) - 1] = '\0';
	fx_must(lease_holder_make(longdir, a, site, &err), &err, "long dir");
	assert_true(strlen(a) < LEASE_HOLDER_MAX);
	assert_non_null(strstr(a, " pid "));
	assert_int_equal(strncmp(a, site, strlen(site)), 0);
}

/* A process of the same data directory (site) takes over a lease its
 * predecessor left when it was killed; another site may not. */
static void test_same_site_takes_over(void **state)
{
	struct fx *f = *state;
	struct db *db = f->c.db;
	struct pv_error err;
	assert_int_equal(lease_take(db, f->acct[0], "h1:/d ", "h1:/d pid 7 #1", 100, 900, NULL, NULL,
				    &err), PV_OK);
	assert_int_equal(lease_take(db, f->acct[0], "h2:/d ", "h2:/d pid 8 #2", 101, 900, NULL, NULL,
				    &err), PV_ETEMP);
	assert_int_equal(lease_take(db, f->acct[0], "h1:/d ", "h1:/d pid 9 #3", 102, 900, NULL, NULL,
				    &err), PV_OK);
	/* a site that is only a prefix of the holder's data directory is not it */
	assert_int_equal(lease_take(db, f->acct[0], "h1:/ ", "h1:/ pid 9 #4", 103, 900, NULL, NULL,
				    &err), PV_ETEMP);
	/* the site must start the holder's own name */
	assert_int_equal(lease_take(db, f->acct[0], "h1:/d ", "h3:/d pid 1 #5", 104, 900, NULL,
				    NULL, &err), PV_ERR);
}

/* A second connection to the same catalog, as another machine's
 * harvester would have: it sees the first's lease at once (the take is
 * one autocommit statement). */
static void test_two_connections(void **state)
{
	struct fx *f = *state;
	struct pv_error err;
	struct db *other = fx_catalog_second(&f->c);
	assert_int_equal(lease_take(f->c.db, f->acct[0], NULL, "a", 100, 200, NULL, NULL, &err), PV_OK);
	assert_int_equal(lease_take(other, f->acct[0], NULL, "b", 150, 250, NULL, NULL, &err), PV_ETEMP);
	assert_int_equal(lease_take(other, f->acct[0], NULL, "b", 200, 250, NULL, NULL, &err), PV_OK);
	assert_int_equal(lease_take(f->c.db, f->acct[0], NULL, "a", 210, 300, NULL, NULL, &err), PV_ETEMP);
	db_close(&other);
}

#define BOTH(t) FX_BOTH(t, setup, setup_pg, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_one_holder_at_a_time),
		BOTH(test_release_frees_only_ones_own),
		BOTH(test_bad_arguments),
		BOTH(test_holder_names_differ),
		BOTH(test_same_site_takes_over),
		BOTH(test_two_connections),
	};
	return fx_run_both("leases", tests, sizeof(tests) / sizeof(tests[0]));
}
