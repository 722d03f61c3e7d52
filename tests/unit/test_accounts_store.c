/* Upstream accounts in the catalog (archiver/store/accounts): the id from
 * the insert, an active name taken once (free again once retired), the
 * row back as stored, the secret opened under its binding, updates. Each
 * case on SQLite and, with PV_TEST_PG, on PostgreSQL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "archiver/lib/fsutil.h"
#include "archiver/lib/secret.h"
#include "archiver/store/accounts.h"
#include "archiver/store/catalog.h"
#include "archiver/store/db.h"
#include "archiver/store/keyring.h"
#include "tests/unit/fixtures.h"

struct fx {
	char dir[64];
	struct catalog *cat; /* SQLite; NULL on PostgreSQL */
	struct db *db;       /* cat->conn, or a PostgreSQL schema of its own */
	struct keyring *kr;
};

static int setup_on(void **state, bool pg)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct pv_error err;
	char keys[96];
	if (sodium_init() < 0 || f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/pv-acstore-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(keys, sizeof(keys), "%s/keys", f->dir);
	fx_must(pv_mkdir(keys, 0700, 0, &err), &err, "mkdir keys");
	fx_must(keyring_create(f->dir, &err), &err, "keyring");
	fx_must(keyring_open(f->dir, &f->kr, &err), &err, "keyring open");
	if (pg) {
		f->db = fx_pg_fresh(migrations_catalog_pg.count);
	} else {
		fx_must(catalog_open(f->dir, 1, &f->cat, &err), &err, "catalog");
		f->db = f->cat->conn;
	}
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
	if (f->cat != NULL)
		catalog_close(&f->cat);
	else
		db_close(&f->db);
	keyring_free(&f->kr);
	fx_rmtree(f->dir);
	free(f);
	return 0;
}

static void make(struct fx *f, struct account *a, const char *name, const char *password)
{
	struct pv_error err;
	memset(a, 0, sizeof(*a));
	snprintf(a->name, sizeof(a->name), "%s", name);
	snprintf(a->host, sizeof(a->host), "pop.example.org");
	a->port = 995;
	snprintf(a->tls, sizeof(a->tls), "implicit");
	snprintf(a->user, sizeof(a->user), "%s@example.org", name);
	snprintf(a->auth, sizeof(a->auth), "auto");
	a->keep_upstream = true;
	a->created_at = 1000;
	fx_must(account_validate(a, &err), &err, "validate");
	fx_must(account_seal(f->kr, a, password, &err), &err, "seal");
}

static void test_insert_load_secret(void **state)
{
	struct fx *f = *state;
	struct account a, b, back;
	struct pv_error err;
	char *secret = NULL;
	make(f, &a, "sales", "sales password");
	assert_int_equal(account_insert(f->db, &a, &err), PV_OK);
	assert_true(a.id > 0);
	make(f, &b, "sales", "another");
	assert_int_equal(account_insert(f->db, &b, &err), PV_ERR);
	assert_non_null(strstr(err.msg, "an account named 'sales' exists"));
	account_clear(&b);
	assert_int_equal(account_load(f->db, "sales", &back, &err), PV_OK);
	assert_int_equal(back.id, a.id);
	assert_string_equal(back.host, "pop.example.org");
	assert_int_equal(back.port, 995);
	assert_string_equal(back.user, "sales@example.org");
	assert_string_equal(back.ca_file, "");
	assert_string_equal(back.token_command, "");
	assert_false(back.insecure);
	assert_true(back.keep_upstream);
	assert_int_equal(back.harvest_interval_s, 0);
	assert_int_equal(back.created_at, 1000);
	assert_int_equal(back.secret_len, a.secret_len);
	assert_int_equal(account_open(f->kr, &back, &secret, &err), PV_OK);
	assert_string_equal(secret, "sales password");
	pv_secret_free(&secret);
	account_clear(&back);
	account_clear(&a);
	assert_int_equal(account_load(f->db, "nobody", &back, &err), PV_ENOTFOUND);
}

static void test_update_retire_reuse(void **state)
{
	struct fx *f = *state;
	struct account a, back;
	struct pv_error err;
	make(f, &a, "legal", "pw");
	assert_int_equal(account_insert(f->db, &a, &err), PV_OK);
	int64_t first = a.id;
	snprintf(a.ca_file, sizeof(a.ca_file), "/etc/ca.pem");
	a.harvest_interval_s = 60;
	a.keep_upstream = false;
	a.port = 1995;
	fx_must(account_seal(f->kr, &a, "pw2", &err), &err, "seal");
	assert_int_equal(account_update(f->db, &a, &err), PV_OK);
	assert_int_equal(account_load(f->db, "legal", &back, &err), PV_OK);
	assert_string_equal(back.ca_file, "/etc/ca.pem");
	assert_int_equal(back.harvest_interval_s, 60);
	assert_false(back.keep_upstream);
	assert_int_equal(back.port, 1995);
	account_clear(&back);
	assert_int_equal(account_retire(f->db, "legal", 2000, &err), PV_OK);
	assert_int_equal(account_retire(f->db, "legal", 2001, &err), PV_ENOTFOUND);
	assert_int_equal(account_update(f->db, &a, &err), PV_ENOTFOUND); /* retired */
	assert_int_equal(account_load(f->db, "legal", &back, &err), PV_ENOTFOUND);
	account_clear(&a);
	make(f, &a, "legal", "pw3"); /* the name is free again */
	assert_int_equal(account_insert(f->db, &a, &err), PV_OK);
	assert_true(a.id > first);
	account_clear(&a);
}

struct names {
	char list[128];
};

static int collect(void *ctx, const struct account *a)
{
	struct names *n = ctx;
	snprintf(n->list + strlen(n->list), sizeof(n->list) - strlen(n->list), "%s ", a->name);
	return PV_OK;
}

static void test_each_active_by_name(void **state)
{
	struct fx *f = *state;
	struct names n = {""};
	struct account a;
	struct pv_error err;
	const char *names[] = {"zeta", "alpha", "mid"};
	for (size_t i = 0; i < 3; i++) {
		make(f, &a, names[i], "pw");
		assert_int_equal(account_insert(f->db, &a, &err), PV_OK);
		account_clear(&a);
	}
	assert_int_equal(account_retire(f->db, "mid", 5, &err), PV_OK);
	assert_int_equal(account_each(f->db, collect, &n, &err), PV_OK);
	assert_string_equal(n.list, "alpha zeta ");
	int changed = -1;
	assert_int_equal(accounts_upgrade_secrets(f->db, f->kr, &changed, &err), PV_OK);
	assert_int_equal(changed, 0); /* all sealed in the bound format already */
}

#define BOTH(t)                                                \
	cmocka_unit_test_setup_teardown(t, setup, teardown), \
		cmocka_unit_test_setup_teardown(t, setup_pg, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_insert_load_secret),
		BOTH(test_update_retire_reuse),
		BOTH(test_each_active_by_name),
	};
	/* Even entries run on SQLite, odd ones on PostgreSQL (PV_TEST_PG;
	 * tests/e2e/catalog_pg.t): without it only the SQLite half runs. */
	struct CMUnitTest run[sizeof(tests) / sizeof(tests[0])];
	size_t n = 0;
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		if (i % 2 == 0 || fx_pg_conninfo() != NULL)
			run[n++] = tests[i];
	return _cmocka_run_group_tests("accounts_store", run, n, NULL, NULL);
}
