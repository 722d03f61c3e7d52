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
#include "archiver/lib/db.h"
#include "archiver/store/keyring.h"
#include "tests/unit/fixtures.h"

struct fx {
	struct fx_catalog c;
	struct db *db; /* c.db */
	char keydir[64];
	struct keyring *kr; /* a file of its own in keydir */
};

static int setup_on(void **state, bool pg)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct pv_error err;
	char keys[96];
	if (sodium_init() < 0 || f == NULL)
		return -1;
	snprintf(f->keydir, sizeof(f->keydir), "/tmp/pv-acstorekr-XXXXXX");
	if (mkdtemp(f->keydir) == NULL)
		return -1;
	snprintf(keys, sizeof(keys), "%s/keys", f->keydir);
	fx_must(pv_mkdir(keys, 0700, 0, &err), &err, "mkdir keys");
	fx_must(keyring_create(f->keydir, &err), &err, "keyring");
	fx_must(keyring_open(f->keydir, &f->kr, &err), &err, "keyring open");
	fx_catalog_open(&f->c, "acstore", pg);
	f->db = f->c.db;
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
	keyring_free(&f->kr);
	fx_rmtree(f->keydir);
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

#define BOTH(t) FX_BOTH(t, setup, setup_pg, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_insert_load_secret),
		BOTH(test_update_retire_reuse),
		BOTH(test_each_active_by_name),
	};
	return fx_run_both("accounts_store", tests, sizeof(tests) / sizeof(tests[0]));
}
