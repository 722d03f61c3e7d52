/* Unit tests for archiver/store/migrations: every step applies in turn,
 * and databases made before the tables of the logs, the audit log, the
 * search index and the keyring moved into numbered migrations still open
 * with everything in them (the tables were created on the fly then, by
 * the very DDL frozen below). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "archiver/index/index.h"
#include "archiver/lib/buf.h"
#include "archiver/lib/fsutil.h"
#include "archiver/store/catalog.h"
#include "archiver/store/keyring.h"
#include "archiver/store/migrations.h"
#include "audit/auditlog.h"
#include "audit/checkpoint.h"
#include "audit/tlog_verify.h"
#include "tests/unit/fixtures.h"

/* What popvault ran on every open before catalog migration 5 and keyring
 * migration 1 (tlog_ensure_schema, auditlog_ensure_schema,
 * index_ensure_schema, keyring.c's open_db), byte for byte. */
static const char legacy_catalog_ddl[] =
	"CREATE TABLE IF NOT EXISTS tlog_log ("
	" id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, origin TEXT NOT NULL,"
	" size INTEGER NOT NULL DEFAULT 0 CHECK (size >= 0));"
	"CREATE TABLE IF NOT EXISTS tlog_leaf ("
	" log_id INTEGER NOT NULL, idx INTEGER NOT NULL, data BLOB NOT NULL,"
	" PRIMARY KEY (log_id, idx)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS tlog_tile ("
	" log_id INTEGER NOT NULL, level INTEGER NOT NULL, idx INTEGER NOT NULL,"
	" hashes BLOB NOT NULL, PRIMARY KEY (log_id, level, idx));"
	"CREATE TABLE IF NOT EXISTS tlog_checkpoint ("
	" log_id INTEGER NOT NULL, seq INTEGER NOT NULL, size INTEGER NOT NULL,"
	" root BLOB NOT NULL, epoch INTEGER NOT NULL, created_ms INTEGER NOT NULL,"
	" note TEXT NOT NULL, PRIMARY KEY (log_id, seq));"
	"CREATE TABLE IF NOT EXISTS tlog_epoch ("
	" log_id INTEGER NOT NULL, epoch INTEGER NOT NULL, vkey TEXT NOT NULL,"
	" first_seq INTEGER NOT NULL, note TEXT, record_log TEXT, record_idx INTEGER,"
	" PRIMARY KEY (log_id, epoch));"
	"CREATE TABLE IF NOT EXISTS audit_personal ("
	" seq INTEGER PRIMARY KEY, salt BLOB NOT NULL, data BLOB NOT NULL);"
	"CREATE TABLE IF NOT EXISTS audit_event ("
	" seq INTEGER PRIMARY KEY, time INTEGER NOT NULL, type TEXT NOT NULL,"
	" actor TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS audit_event_time ON audit_event (time);"
	"CREATE TABLE IF NOT EXISTS idx_meta ("
	" key TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT;"
	"CREATE TABLE IF NOT EXISTS idx_doc ("
	" id INTEGER PRIMARY KEY,"
	" account TEXT NOT NULL,"
	" date INTEGER NOT NULL,"
	" date_known INTEGER NOT NULL,"
	" received_at INTEGER NOT NULL,"
	" size INTEGER NOT NULL,"
	" has_attachment INTEGER NOT NULL,"
	" message_id TEXT NOT NULL,"
	" from_disp TEXT NOT NULL,"
	" subject_disp TEXT NOT NULL,"
	" truncated INTEGER NOT NULL) STRICT;"
	"CREATE INDEX IF NOT EXISTS idx_doc_date ON idx_doc(date, id);"
	"CREATE INDEX IF NOT EXISTS idx_doc_msgid ON idx_doc(message_id);"
	"CREATE INDEX IF NOT EXISTS idx_doc_account ON idx_doc(account, date);"
	"CREATE INDEX IF NOT EXISTS idx_doc_size ON idx_doc(size);"
	"CREATE VIRTUAL TABLE IF NOT EXISTS idx_fts USING fts5("
	" hfrom, hto, hcc, hbcc, subject, body, filename, ctype,"
	" tokenize = 'unicode61 remove_diacritics 2', columnsize = 0);"
	"INSERT OR IGNORE INTO idx_meta VALUES ('schema', 1);";
static const char legacy_keyring_ddl[] =
	"PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL;"
	"PRAGMA secure_delete=ON;"
	"CREATE TABLE IF NOT EXISTS bucket_keys ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" class TEXT NOT NULL, expiry_month TEXT NOT NULL,"
	" key BLOB, destroyed_at INTEGER,"
	" UNIQUE (class, expiry_month));";

static const char mail[] = "From: Alice <alice@example.com>\r\nSubject: quarterly\r\n"
			   "Date: Mon, 04 Mar 2024 10:00:00 +0000\r\n\r\nfigures attached\r\n";

static int64_t query_int(sqlite3 *db, const char *sql)
{
	struct pv_error err;
	int64_t v = -1;
	fx_must(catalog_query_int(db, sql, &v, &err), &err, sql);
	return v;
}

static void exec(sqlite3 *db, const char *sql)
{
	struct pv_error err;
	fx_must(catalog_exec(db, sql, &err), &err, sql);
}

static const char *const tables[] = {
	"accounts", "messages", "upstream", "harvest_runs", "policy_versions", "holds",
	"disposals", "export_bates", "users", "tlog_log", "tlog_leaf", "tlog_tile",
	"tlog_checkpoint", "tlog_epoch", "audit_personal", "audit_event", "idx_meta", "idx_doc",
	"idx_fts", "web_sessions", "matters", "matter_searches", "matter_holds", "export_jobs",
	"approvals", "packs", "anchor_tokens", "cosignatures", "anchor_attempts", "idx_failed",
	"pack_store", "mailbox_leases", "keyring_buckets", "export_members", "user_vouches",
};

static void test_every_step_applies_in_turn(void **state)
{
	(void)state;
	sqlite3 *db;
	struct pv_error err;
	char sql[128];
	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	for (int v = 1; v <= catalog_schema_version(); v++) {
		fx_must(catalog_migrate(db, v, &err), &err, "migrate");
		assert_int_equal(query_int(db, "PRAGMA user_version"), v);
	}
	assert_int_equal(catalog_schema_version(), 22);
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		snprintf(sql, sizeof(sql),
			 "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '%s'",
			 tables[i]);
		if (query_int(db, sql) != 1)
			fail_msg("no table %s after every migration", tables[i]);
	}
	assert_int_equal(query_int(db, "SELECT value FROM idx_meta WHERE key = 'schema'"), 2);
	assert_int_equal(index_ensure_schema(db, &err), PV_OK);
	/* Up to date: nothing to do. */
	fx_must(catalog_migrate(db, catalog_schema_version(), &err), &err, "again");
	assert_int_equal(query_int(db, "PRAGMA user_version"), catalog_schema_version());
	sqlite3_close(db);
}

/* Migration 22 makes the approvals table again (SQLite cannot change its
 * CHECK for the kind user-access): rows, ids and the next id stay, its
 * triggers still refuse edits and deletions; who set each user's password
 * (users.vouched_by) becomes the first, untimed row of their history. */
static void test_migration_22_keeps_approvals_and_setters(void **state)
{
	(void)state;
	sqlite3 *db;
	struct pv_error err;
	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	fx_must(catalog_migrate(db, 21, &err), &err, "to 21");
	exec(db, "INSERT INTO approvals (kind, state, payload, payload_sha256, summary, proposer,"
		 " proposer_role, reason, created_at) VALUES"
		 " ('policy', 'pending', x'01', 'a', 'one', 'cli:root', 'admin', 'r', 1),"
		 " ('hold-release', 'pending', 'h', 'b', 'two', 'web:lee', 'legal', 'r', 2),"
		 " ('dispose', 'pending', x'02', 'c', 'three', 'web:adam', 'admin', 'r', 3);");
	exec(db, "UPDATE approvals SET state = 'rejected', decided_by = 'web:carl' WHERE id = 2");
	exec(db, "DELETE FROM sqlite_sequence WHERE name = 'approvals';"
		 "INSERT INTO sqlite_sequence (name, seq) VALUES ('approvals', 9)");
	exec(db, "INSERT INTO users (name, role, password_hash, created_at, vouched_by) VALUES"
		 " ('adam', 'admin', 'h', 1, 'cli:root'), ('sock', 'compliance', 'h', 2, 'web:adam'),"
		 " ('own', 'legal', 'h', 3, NULL)");
	fx_must(catalog_migrate(db, 22, &err), &err, "to 22");
	assert_int_equal(query_int(db, "SELECT count(*) FROM approvals"), 3);
	assert_int_equal(query_int(db, "SELECT count(*) FROM approvals WHERE id = 2 AND"
				       " kind = 'hold-release' AND state = 'rejected' AND"
				       " decided_by = 'web:carl' AND payload = 'h'"), 1);
	exec(db, "INSERT INTO approvals (kind, payload, payload_sha256, summary, proposer,"
		 " proposer_role, reason, created_at) VALUES"
		 " ('user-access', 'lena', 'd', 'four', 'web:adam', 'admin', '', 4)");
	assert_int_equal(query_int(db, "SELECT max(id) FROM approvals"), 10);
	assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_sequence WHERE name LIKE 'approvals%'"),
			 1);
	assert_true(catalog_exec(db, "INSERT INTO approvals (kind, payload, payload_sha256, summary,"
				     " proposer, proposer_role, reason, created_at) VALUES"
				     " ('other', 'x', 'e', 's', 'a', 'r', '', 5)", &err) < 0);
	assert_true(catalog_exec(db, "UPDATE approvals SET summary = 'x' WHERE id = 1", &err) < 0);
	assert_true(catalog_exec(db, "DELETE FROM approvals WHERE id = 1", &err) < 0);
	assert_int_equal(query_int(db, "SELECT count(*) FROM user_vouches"), 2);
	assert_int_equal(query_int(db, "SELECT count(*) FROM user_vouches WHERE name = 'sock' AND"
				       " actor = 'web:adam' AND at = 0"), 1);
	assert_int_equal(query_int(db, "SELECT count(*) FROM users WHERE access_approval = 0"), 3);
	assert_true(catalog_exec(db, "DELETE FROM user_vouches", &err) < 0);
	sqlite3_close(db);
}

static void test_newer_database_is_refused(void **state)
{
	(void)state;
	sqlite3 *db;
	struct pv_error err;
	char sql[64];
	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", catalog_schema_version() + 1);
	exec(db, sql);
	assert_int_equal(catalog_migrate(db, catalog_schema_version(), &err), PV_ERR);
	assert_non_null(strstr(err.msg, "newer than this popvault"));
	sqlite3_close(db);
}

/* A catalog as popvault made it before migration 5: migrations 1 to 4,
 * then the logs, audit entries and index entries in tables each module
 * created for itself. */
static void make_legacy_catalog(sqlite3 *db, const char *keydir)
{
	struct pv_error err;
	struct tlog *t;
	struct note_signer *s;
	fx_must(catalog_migrate(db, 4, &err), &err, "migrations 1-4");
	exec(db, legacy_catalog_ddl);
	fx_log_create(fx_conn(db), keydir, "archive", "test.example/popvault/archive", NULL);
	fx_log_create(fx_conn(db), keydir, "audit", "test.example/popvault/audit", NULL);
	fx_log_open(fx_conn(db), keydir, "audit", &t, &s);
	struct audit_event ev = {"cli:root", AUDIT_SEARCH, "results=1", "ok", "from:alice"};
	fx_must(auditlog_append(t, s, &ev, NULL, &err), &err, "audit append");
	keys_free(&s);
	tlog_free(&t);
	/* an index entry as that popvault wrote it (rowid = message id) */
	exec(db, "INSERT INTO idx_doc VALUES (1, 'sales', 1709546400, 1, 1700000000, 120, 0, '',"
		 " 'Alice', 'quarterly', 0);"
		 "INSERT INTO idx_fts (rowid, hfrom, subject, body) VALUES (1, 'Alice alice example com',"
		 " 'quarterly', 'figures attached');"
		 "INSERT INTO meta VALUES ('index.through', '1')");
	assert_int_equal(query_int(db, "PRAGMA user_version"), 4);
}

static int count_entry(void *ctx, const struct audit_entry *e, const char *personal, size_t plen)
{
	int *n = ctx;
	assert_string_equal(e->type, AUDIT_SEARCH);
	assert_int_equal(plen, strlen("from:alice"));
	assert_memory_equal(personal, "from:alice", plen);
	++*n;
	return 0;
}

static void test_catalog_made_before_migration_5_keeps_logs_audit_and_index(void **state)
{
	(void)state;
	char dir[FX_PATH_MAX], keydir[FX_PATH_MAX], dbpath[FX_PATH_MAX];
	struct pv_error err;
	struct tlog *t;
	struct note_signer *s;
	struct tlog_verify_report rep;
	uint64_t size;
	fx_logdir_make("migrate", dir, keydir, dbpath);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
	make_legacy_catalog(db, keydir);
	sqlite3_close(db);

	/* Opened by this popvault: migration 5 finds every table in place. */
	struct catalog *cat;
	fx_must(catalog_open(dir, 0, &cat, &err), &err, "catalog_open");
	assert_int_equal(query_int(cat->db, "PRAGMA user_version"), catalog_schema_version());
	assert_int_equal(query_int(cat->db, "SELECT count(*) FROM idx_meta"), 1);
	fx_must(index_ensure_schema(cat->db, &err), &err, "index schema");

	fx_log_open(cat->conn, keydir, "audit", &t, &s);
	fx_must(tlog_size(t, &size, &err), &err, "size");
	assert_int_equal(size, 1);
	fx_must(tlog_verify(t, NULL, NULL, NULL, 0, &rep, &err), &err, "verify");
	struct auditlog_filter all = {INT64_MIN, INT64_MAX, NULL, NULL};
	int n = 0;
	fx_must(auditlog_list(t, &all, count_entry, &n, &err), &err, "list");
	assert_int_equal(n, 1);
	/* It keeps working: the next entry lands in the same tables. */
	struct audit_event ev = {"cli:root", AUDIT_VIEW, "message=1", "ok", NULL};
	uint64_t seq;
	fx_must(auditlog_append(t, s, &ev, &seq, &err), &err, "append after migration");
	assert_int_equal(seq, 1);
	assert_int_equal(query_int(cat->db, "SELECT count(*) FROM audit_event"), 2);
	keys_free(&s);
	tlog_free(&t);

	/* The index (derived) was made anew in its new order: the indexer
	 * starts again from the first message, which is found again. */
	assert_int_equal(query_int(cat->db, "SELECT count(*) FROM idx_doc"), 0);
	assert_int_equal(query_int(cat->db, "SELECT count(*) FROM meta WHERE key = 'index.through'"),
			 0);
	fx_must(index_add(cat->db, 1, "sales", 1700000000, (const unsigned char *)mail, strlen(mail),
			  &err), &err, "index_add");
	struct index_hits hits;
	int64_t total;
	fx_must(index_search(cat->db, "subject:quarterly", 10, 0, &hits, &total, &err), &err,
		"search");
	assert_int_equal(total, 1);
	assert_int_equal(hits.v[0].id, 1);
	index_hits_free(&hits);
	catalog_close(&cat);
	fx_rmtree(dir);
}

static void test_keyring_made_before_its_migrations_opens(void **state)
{
	(void)state;
	char dir[FX_PATH_MAX], keydir[FX_PATH_MAX], dbpath[FX_PATH_MAX], path[FX_PATH_MAX + 32];
	unsigned char secrets[KEYRING_KEY_BYTES], key[BLOB_KEY_BYTES], salt[BLOB_SALT_BYTES];
	unsigned char wrapped[KEYRING_WRAPPED_BYTES], key2[BLOB_KEY_BYTES], salt2[BLOB_SALT_BYTES];
	struct pv_error err;
	struct keyring *kr;
	int64_t bucket, again;
	sqlite3 *db;
	fx_logdir_make("keyring", dir, keydir, dbpath);
	randombytes_buf(secrets, sizeof(secrets));
	snprintf(path, sizeof(path), "%s/secrets.key", keydir);
	fx_must(pv_write_file(path, secrets, sizeof(secrets), 0600, 1, &err), &err, "secrets.key");
	snprintf(path, sizeof(path), "%s/keyring.db", keydir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	exec(db, legacy_keyring_ddl);
	exec(db, "INSERT INTO bucket_keys (class, expiry_month, key) VALUES ('mail', '2031-01',"
		 " randomblob(32))");
	assert_int_equal(query_int(db, "PRAGMA user_version"), 0);
	sqlite3_close(db);

	fx_must(keyring_open(dir, &kr, &err), &err, "keyring_open");
	fx_must(keyring_bucket(kr, "mail", "2031-01", &bucket, &err), &err, "old bucket");
	assert_int_equal(bucket, 1);
	fx_must(keyring_bucket(kr, "mail", "2031-02", &again, &err), &err, "new bucket");
	assert_int_equal(again, 2);
	randombytes_buf(key, sizeof(key));
	randombytes_buf(salt, sizeof(salt));
	fx_must(keyring_wrap(kr, bucket, "blobid", key, salt, wrapped, &err), &err, "wrap");
	fx_must(keyring_unwrap(kr, bucket, "blobid", wrapped, sizeof(wrapped), key2, salt2, &err),
		&err, "unwrap");
	assert_memory_equal(key, key2, sizeof(key));
	keyring_free(&kr);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(query_int(db, "PRAGMA user_version"), migrations_keyring.count);
	sqlite3_close(db);
	fx_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_step_applies_in_turn),
		cmocka_unit_test(test_migration_22_keeps_approvals_and_setters),
		cmocka_unit_test(test_newer_database_is_refused),
		cmocka_unit_test(test_catalog_made_before_migration_5_keeps_logs_audit_and_index),
		cmocka_unit_test(test_keyring_made_before_its_migrations_opens),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
