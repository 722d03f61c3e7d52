/* Shared by the tests of the archive operations (test_ops_*.c): the
 * archive of test_dispose_fixture.h, a way to make its audit store
 * read-only, and readers of the audit log. cmocka must be included first. */
#ifndef PV_TEST_OPS_FIXTURE_H
#define PV_TEST_OPS_FIXTURE_H

#include "archiver/archive/audit_trail.h"
/* Each test file uses some of the shared helpers, not all of them. */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "test_dispose_fixture.h"

/* The audit store, read-only: every write to the audit entries and to the
 * Merkle log tables is refused by SQLite's authorizer (prepared statements
 * are recompiled when it changes), everything else works. That is the
 * failure ARCHITECTURE.md §1.4 is about: an action whose entry cannot be
 * appended must not happen. */
static int ops_deny_audit_writes(void *ctx, int action, const char *table, const char *b,
				 const char *db, const char *trigger)
{
	(void)ctx;
	(void)b;
	(void)db;
	(void)trigger;
	if ((action == SQLITE_INSERT || action == SQLITE_UPDATE || action == SQLITE_DELETE) &&
	    table != NULL && (strncmp(table, "audit_", 6) == 0 || strncmp(table, "tlog_", 5) == 0))
		return SQLITE_DENY;
	return SQLITE_OK;
}

static void ops_audit_read_only(struct fx *f, bool on)
{
	assert_int_equal(sqlite3_set_authorizer(f->ar->cat->db, on ? ops_deny_audit_writes : NULL,
						NULL),
			 SQLITE_OK);
}

static uint64_t ops_audit_size(struct fx *f)
{
	struct pv_error err;
	uint64_t n = 0;
	fx_must(tlog_size(f->ar->audit_log, &n, &err), &err, "tlog_size");
	return n;
}

static int ops_keep_last(void *ctx, const struct audit_entry *e, const char *personal, size_t plen)
{
	(void)personal;
	(void)plen;
	*(struct audit_entry *)ctx = *e;
	return 0;
}

/* The newest audit entry of a type (NULL: of any). */
static struct audit_entry ops_audit_last_of(struct fx *f, const char *type)
{
	struct archive_audit_query q = {{INT64_MIN, INT64_MAX, NULL, type}, 0, 0, NULL};
	struct audit_entry e;
	struct pv_error err;
	memset(&e, 0, sizeof(e));
	fx_must(archive_audit_list(f->ar, &q, ops_keep_last, &e, NULL, &err), &err, "audit list");
	return e;
}

/* The newest audit entry. */
static struct audit_entry ops_audit_last(struct fx *f)
{
	return ops_audit_last_of(f, NULL);
}

/* secret sealed as popvault sealed secrets before issue 16 (format 1,
 * keyring.h: a secretbox under the secrets key, bound to nothing);
 * malloc'ed into *sealed_r. */
static void ops_seal_v1(struct fx *f, const char *secret, unsigned char **sealed_r, size_t *len_r)
{
	char path[300];
	unsigned char *key = NULL;
	size_t key_len = 0, n = strlen(secret);
	struct pv_error err;
	snprintf(path, sizeof(path), "%s/keys/secrets.key", f->dir);
	fx_must(pv_read_file(path, 64, &key, &key_len, &err), &err, "secrets.key");
	assert_int_equal(key_len, crypto_secretbox_KEYBYTES);
	*len_r = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + n;
	*sealed_r = malloc(*len_r);
	randombytes_buf(*sealed_r, crypto_secretbox_NONCEBYTES);
	crypto_secretbox_easy(*sealed_r + crypto_secretbox_NONCEBYTES, (const unsigned char *)secret,
			      n, *sealed_r, key);
	sodium_memzero(key, key_len);
	free(key);
}

/* Closes f's archive and makes its keyring one from before issue 16: no
 * mark that the catalog's secrets are bound (keyring_secrets_bound). */
static void ops_keyring_before_issue16(struct fx *f)
{
	char path[300];
	sqlite3 *db;
	archive_close(&f->ar);
	snprintf(path, sizeof(path), "%s/keys/keyring.db", f->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DELETE FROM keyring_meta", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

/* Sets column col of the row of table whose name is name to blob. */
static void ops_set_blob(struct fx *f, const char *table, const char *col, const char *name,
			 const unsigned char *blob, size_t len)
{
	char sql[256];
	sqlite3_stmt *st;
	struct pv_error err;
	snprintf(sql, sizeof(sql), "UPDATE %s SET %s = ? WHERE name = ?", table, col);
	fx_must(catalog_prepare(f->ar->cat->db, sql, &st, &err), &err, "prepare");
	sqlite3_bind_blob(st, 1, blob, (int)len, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
}

/* err says the audit append failed, and nothing else did. */
static void ops_assert_audit_refused(int r, const struct pv_error *err)
{
	assert_true(r < 0);
	if (strncmp(err->msg, "audit log: ", 11) != 0)
		fail_msg("expected an audit log failure, got %d '%s'", r, err->msg);
}

#endif
