/* The harvest path's catalog rows through lib/db.h, each case on SQLite
 * and (PV_TEST_PG, tests/e2e/catalog_pg.t) on PostgreSQL: the safe-delete
 * ledger, message rows read back, pack rows removed, the pack store's
 * rows (uploads, holds, locks) against a fake remote store, and the
 * status counts. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "archiver/lib/db.h"
#include "archiver/store/catalog.h"
#include "archiver/store/ledger.h"
#include "archiver/store/message.h"
#include "archiver/store/pack.h"
#include "archiver/store/packstore.h"
#include "archiver/store/stats.h"
#include "archiver/store/stats_system.h"
#include "tests/unit/fixtures.h"

struct fx {
	struct fx_catalog c;
	char dir[64]; /* a data directory for packs/, on both engines */
	struct db *db;
	int64_t account, bucket, bucket_later;
};

static void run(struct db *db, const char *sql)
{
	struct pv_error err;
	fx_must(db_exec(db, sql, &err), &err, sql);
}

/* A message row as ingest writes it (pack 0: a PVB1 file, no location). */
static int64_t add_message(struct fx *f, const char *uidl, unsigned char fill, int64_t bucket,
			   int64_t leaf, int64_t pack, int64_t offset, int64_t disposed_at)
{
	struct pv_error err;
	struct db_stmt *st;
	unsigned char sha[32], wrapped[48];
	memset(sha, fill, sizeof(sha));
	memset(wrapped, fill ^ 0xff, sizeof(wrapped));
	fx_must(db_prepare(f->db, "INSERT INTO messages (account_id, uidl, sha256, size,"
				  " received_at, blob, bucket_id, wrapped_key, leaf_index,"
				  " retention_class, expires_at, policy_version, pack_id, pack_offset,"
				  " pack_length, disposed_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
				  " RETURNING id", &st, &err), &err, "prepare");
	db_bind_int64(st, 1, f->account);
	if (uidl != NULL)
		db_bind_text(st, 2, uidl, -1);
	else
		db_bind_null(st, 2);
	db_bind_blob(st, 3, sha, sizeof(sha));
	db_bind_int64(st, 4, 1000 + fill);
	db_bind_int64(st, 5, 1700000000);
	db_bind_text(st, 6, "b10c", -1);
	db_bind_int64(st, 7, bucket);
	db_bind_blob(st, 8, wrapped, sizeof(wrapped));
	db_bind_int64(st, 9, leaf);
	db_bind_text(st, 10, "standard", -1);
	db_bind_null(st, 11); /* forever */
	db_bind_int64(st, 12, 0);
	if (pack != 0) {
		db_bind_int64(st, 13, pack);
		db_bind_int64(st, 14, offset);
		db_bind_int64(st, 15, 100);
	} else {
		db_bind_null(st, 13);
		db_bind_null(st, 14);
		db_bind_null(st, 15);
	}
	if (disposed_at != 0)
		db_bind_int64(st, 16, disposed_at);
	else
		db_bind_null(st, 16);
	assert_int_equal(db_step(st, &err), DB_ROW);
	int64_t id = db_column_int64(st, 0);
	db_finalize(&st);
	return id;
}

static int64_t add_pack(struct fx *f, int64_t bucket, int64_t sealed_at)
{
	struct pv_error err;
	struct db_stmt *st;
	fx_must(db_prepare(f->db, "INSERT INTO packs (bucket_id, created_at, sealed_at)"
				  " VALUES (?, 1700000000, ?) RETURNING id", &st, &err), &err, "pack");
	db_bind_int64(st, 1, bucket);
	if (sealed_at != 0)
		db_bind_int64(st, 2, sealed_at);
	else
		db_bind_null(st, 2);
	assert_int_equal(db_step(st, &err), DB_ROW);
	int64_t id = db_column_int64(st, 0);
	db_finalize(&st);
	return id;
}

/* A pack file of size bytes in DIR/packs. */
static void pack_file(struct fx *f, int64_t id, size_t size)
{
	char path[4096];
	pack_path(f->dir, id, path, sizeof(path));
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	for (size_t i = 0; i < size; i++)
		fputc('p', fp);
	fclose(fp);
}

static int64_t query(struct db *db, const char *sql)
{
	struct pv_error err;
	int64_t v = -1;
	fx_must(db_query_int(db, sql, &v, &err), &err, sql);
	return v;
}

static int setup_on(void **state, bool pg)
{
	struct fx *f = calloc(1, sizeof(*f));
	char path[96];
	if (f == NULL)
		return -1;
	fx_catalog_open(&f->c, "rows", pg);
	f->db = f->c.db;
	snprintf(f->dir, sizeof(f->dir), "/tmp/pv-rows-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/packs", f->dir);
	if (mkdir(path, 0700) < 0)
		return -1;
	run(f->db, "INSERT INTO accounts (name, host, port, tls, username, auth, secret, created_at)"
		   " VALUES ('sales', 'pop.example', 995, 'implicit', 'sales', 'password', '', 1)");
	run(f->db, "INSERT INTO buckets (class, expiry_month) VALUES ('standard', '2030-01')");
	run(f->db, "INSERT INTO buckets (class, expiry_month) VALUES ('legal', '2031-05')");
	f->account = query(f->db, "SELECT id FROM accounts WHERE name = 'sales'");
	f->bucket = query(f->db, "SELECT id FROM buckets WHERE class = 'standard'");
	f->bucket_later = query(f->db, "SELECT id FROM buckets WHERE class = 'legal'");
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
	fx_rmtree(f->dir);
	free(f);
	return 0;
}

static int count_rows(void *ctx, const char *uidl, const unsigned char sha256[32], int64_t id)
{
	(void)sha256;
	(void)id;
	assert_string_equal(uidl, "u1");
	(*(int *)ctx)++;
	return PV_OK;
}

/* Guards the ledger's key (account, UIDL, content) and its forward-only
 * states on both engines, through the one-shot calls and the prepared
 * per-session statements reused across messages. */
static void test_ledger_rows_on_both_engines(void **state)
{
	struct fx *f = *state;
	struct pv_error err;
	struct ledger_stmts *ls = NULL;
	unsigned char a[32], b[32];
	int64_t id, moved = -1;
	char st[16];
	bool known;
	int n = 0;

	memset(a, 1, sizeof(a));
	memset(b, 2, sizeof(b));
	int64_t ma = add_message(f, "u1", 1, f->bucket, 0, 0, 0, 0);
	int64_t mb = add_message(f, "u1", 2, f->bucket, 1, 0, 0, 0);
	fx_must(ledger_insert(f->db, f->account, "u1", a, ma, 10, &err), &err, "insert");
	fx_must(ledger_stmts_new(f->db, &ls, &err), &err, "stmts");
	fx_must(ledger_stmts_insert(ls, f->account, "u1", b, mb, 10, &err), &err, "insert b");
	/* the same key again is refused */
	assert_int_not_equal(ledger_stmts_insert(ls, f->account, "u1", b, mb, 11, &err), PV_OK);
	assert_int_equal(ledger_find(f->db, f->account, "u1", a, &id, st, &err), PV_OK);
	assert_int_equal(id, ma);
	assert_string_equal(st, "committed");
	for (int round = 0; round < 2; round++) { /* reused statements */
		assert_int_equal(ledger_stmts_find(ls, f->account, "u1", b, &id, st, &err), PV_OK);
		assert_int_equal(id, mb);
		assert_int_equal(ledger_stmts_find(ls, f->account, "u2", b, &id, st, &err),
				 PV_ENOTFOUND);
	}
	assert_int_equal(ledger_find(f->db, f->account + 1, "u1", a, &id, st, &err), PV_ENOTFOUND);
	fx_must(ledger_uidl_known(f->db, f->account, "u1", 1001, &known, &err), &err, "known");
	assert_true(known);
	fx_must(ledger_uidl_known(f->db, f->account, "u1", 5, &known, &err), &err, "known");
	assert_false(known);

	fx_must(ledger_stmts_set_state(ls, f->account, "u1", a, "dele-sent", 12, &err), &err, "set");
	fx_must(ledger_move_all(f->db, f->account, "dele-sent", "quit-ok", 13, &moved, &err), &err,
		"move");
	assert_int_equal(moved, 1);
	fx_must(ledger_each(f->db, f->account, "quit-ok", count_rows, &n, &err), &err, "each");
	assert_int_equal(n, 1);
	fx_must(ledger_set_state(f->db, f->account, "u1", b, "gone", 14, &err), &err, "set b");
	assert_int_equal(ledger_stmts_find(ls, f->account, "u1", b, &id, st, &err), PV_OK);
	assert_string_equal(st, "gone");
	/* A state outside the schema's list is refused by the database. */
	assert_int_not_equal(ledger_stmts_set_state(ls, f->account, "u1", a, "deleted?", 15, &err),
			     PV_OK);
	assert_int_equal(ledger_find(f->db, f->account, "u1", a, &id, st, &err), PV_OK);
	assert_string_equal(st, "quit-ok");
	ledger_stmts_free(&ls);
}

/* Guards message_load against a column read wrong on one engine: NULLs
 * (no UIDL, kept forever, not disposed of, no archived class), blobs,
 * the pack location; and a reader reused for many ids. */
static void test_message_rows_read_back_on_both_engines(void **state)
{
	struct fx *f = *state;
	struct pv_error err;
	struct stored_message m;
	struct message_reader *mr = NULL;
	unsigned char sha[32];
	uint64_t size;

	int64_t pack = add_pack(f, f->bucket, 0);
	int64_t m1 = add_message(f, NULL, 7, f->bucket, 0, pack, 16, 0);
	int64_t m2 = add_message(f, "u2", 8, f->bucket, 1, 0, 0, 1700000500);
	fx_must(message_load(f->db, m1, &m, &err), &err, "load");
	memset(sha, 7, sizeof(sha));
	assert_int_equal(m.id, m1);
	assert_int_equal(m.account_id, f->account);
	assert_string_equal(m.account, "sales");
	assert_string_equal(m.uidl, "");
	assert_memory_equal(m.sha256, sha, 32);
	assert_int_equal(m.size, 1007);
	assert_string_equal(m.blob, "b10c");
	assert_int_equal(m.wrapped_len, 48);
	assert_int_equal(m.wrapped[0], 7 ^ 0xff);
	assert_string_equal(m.class_name, "standard");
	assert_string_equal(m.archived_class, "standard");
	assert_int_equal(m.expires_at, -1);
	assert_int_equal(m.disposed_at, 0);
	assert_int_equal(m.loc.pack_id, pack);
	assert_int_equal(m.loc.offset, 16);
	assert_int_equal(m.loc.length, 100);

	fx_must(message_reader_open(f->db, &mr, &err), &err, "reader");
	for (int round = 0; round < 2; round++) {
		fx_must(message_reader_load(mr, m2, &m, &err), &err, "load m2");
		assert_string_equal(m.uidl, "u2");
		assert_int_equal(m.disposed_at, 1700000500);
		assert_int_equal(m.loc.pack_id, 0);
		assert_int_equal(message_reader_load(mr, m2 + 100, &m, &err), PV_ENOTFOUND);
	}
	message_reader_close(&mr);
	fx_must(message_size(f->db, m2, &size, &err), &err, "size");
	assert_int_equal(size, 1008);
	assert_int_equal(message_size(f->db, m2 + 100, &size, &err), PV_ENOTFOUND);
}

/* Guards the pack rows disposal changes: a pack with no message (a
 * killed harvest's) and one whose messages are all disposed of go, with
 * their files; one with a live message stays. */
static void test_pack_rows_removed_on_both_engines(void **state)
{
	struct fx *f = *state;
	struct pv_error err;
	struct packstore *ps = NULL;
	int64_t removed, refused;
	char path[4096];
	struct stat sb;

	int64_t empty = add_pack(f, f->bucket, 0);
	int64_t live = add_pack(f, f->bucket, 0);
	int64_t dead = add_pack(f, f->bucket, 0);
	add_message(f, "u1", 1, f->bucket, 0, live, 16, 0);
	add_message(f, "u2", 2, f->bucket, 1, dead, 16, 1700000500);
	pack_file(f, empty, PACK_HEADER_BYTES);
	pack_file(f, live, 116);
	pack_file(f, dead, 116);
	fx_must(packstore_open(f->dir, f->db, NULL, &ps, &err), &err, "packstore");
	fx_must(pack_remove_empty(ps, f->db, &removed, &err), &err, "empty");
	assert_int_equal(removed, 1);
	fx_must(pack_remove_unused(ps, f->db, &removed, &refused, &err), &err, "unused");
	assert_int_equal(removed, 1);
	assert_int_equal(refused, 0);
	assert_int_equal(query(f->db, "SELECT count(*) FROM packs WHERE removed_at IS NULL"), 1);
	pack_path(f->dir, live, path, sizeof(path));
	assert_int_equal(stat(path, &sb), 0);
	pack_path(f->dir, dead, path, sizeof(path));
	assert_int_not_equal(stat(path, &sb), 0);
	/* nothing more to do the second time */
	fx_must(pack_remove_unused(ps, f->db, &removed, &refused, &err), &err, "unused again");
	assert_int_equal(removed, 0);
	packstore_close(&ps);
}

static bool pack_file_there(struct fx *f, int64_t id)
{
	char path[4096];
	struct stat sb;
	pack_path(f->dir, id, path, sizeof(path));
	return stat(path, &sb) == 0;
}

/* Guards the files a writer killed between creating a new pack's file and
 * committing its row leaves (on PostgreSQL nothing hands the id out
 * again): a file of a header at most that no row names is removed by the
 * next session's end; one a writer holds, one with records and one a row
 * names stay. */
static void test_stray_pack_files_removed_on_both_engines(void **state)
{
	struct fx *f = *state;
	struct pv_error err;
	struct packstore *ps = NULL;
	int64_t removed;
	char path[4096];

	int64_t live = add_pack(f, f->bucket, 0);
	add_message(f, "u1", 1, f->bucket, 0, live, 16, 0);
	pack_file(f, live, 116);
	int64_t stray = live + 1000, empty = live + 1001, held = live + 1002, big = live + 1003;
	pack_file(f, stray, PACK_HEADER_BYTES);
	pack_file(f, empty, 0);
	pack_file(f, held, PACK_HEADER_BYTES);
	pack_file(f, big, 116); /* records no row names: verify's to report */
	pack_path(f->dir, held, path, sizeof(path));
	int hfd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(hfd >= 0);
	assert_int_equal(flock(hfd, LOCK_EX | LOCK_NB), 0); /* its writer, rolled back */

	fx_must(packstore_open(f->dir, f->db, NULL, &ps, &err), &err, "packstore");
	fx_must(pack_remove_empty(ps, f->db, &removed, &err), &err, "empty");
	assert_int_equal(removed, 2);
	assert_false(pack_file_there(f, stray));
	assert_false(pack_file_there(f, empty));
	assert_true(pack_file_there(f, held));
	assert_true(pack_file_there(f, big));
	assert_true(pack_file_there(f, live));
	close(hfd); /* that writer gone: its file goes the next time */
	fx_must(pack_remove_empty(ps, f->db, &removed, &err), &err, "empty again");
	assert_int_equal(removed, 1);
	assert_false(pack_file_there(f, held));
	assert_true(pack_file_there(f, big));
	assert_int_equal(query(f->db, "SELECT count(*) FROM packs WHERE removed_at IS NULL"), 1);
	packstore_close(&ps);
}

/* A remote store that keeps what it is told in memory. */
struct fake_store {
	int puts, holds, extends;
	int64_t until[8];
	bool hold[8];
	uint64_t size[8];
};

static int fake_put(void *impl, int64_t id, int fd, uint64_t size, int64_t retain_until,
		    bool hold, char version_r[PACKSTORE_VERSION_MAX], struct pv_error *err)
{
	struct fake_store *s = impl;
	(void)fd;
	(void)err;
	s->puts++;
	s->size[id % 8] = size;
	s->until[id % 8] = retain_until;
	s->hold[id % 8] = hold;
	snprintf(version_r, PACKSTORE_VERSION_MAX, "v%lld", (long long)id);
	return PV_OK;
}

static int fake_stat(void *impl, int64_t id, const char *version, struct packstore_stat *st_r,
		     struct pv_error *err)
{
	struct fake_store *s = impl;
	(void)version;
	(void)err;
	st_r->size = s->size[id % 8];
	snprintf(st_r->lock_mode, sizeof(st_r->lock_mode), "COMPLIANCE");
	st_r->retain_until = s->until[id % 8];
	st_r->legal_hold = s->hold[id % 8];
	return PV_OK;
}

static int fake_hold(void *impl, int64_t id, const char *version, bool on, struct pv_error *err)
{
	struct fake_store *s = impl;
	(void)version;
	(void)err;
	s->holds++;
	s->hold[id % 8] = on;
	return PV_OK;
}

static int fake_extend(void *impl, int64_t id, const char *version, int64_t retain_until,
		       struct pv_error *err)
{
	struct fake_store *s = impl;
	(void)version;
	(void)err;
	s->extends++;
	s->until[id % 8] = retain_until;
	return PV_OK;
}

static void fake_free(void *impl)
{
	(void)impl;
}

static const struct packstore_ops fake_ops = {
	.kind = "fake", .put = fake_put, .stat = fake_stat, .hold = fake_hold,
	.extend = fake_extend, .free = fake_free,
};

/* Guards the pack store's catalog rows on both engines: the store
 * recorded and its migration state, what is pending, a sealed pack
 * uploaded locked to the end of the latest month any of its messages'
 * buckets needs, its legal hold following an active hold, and its lock
 * following a message moved to a later bucket. */
static void test_packstore_rows_on_both_engines(void **state)
{
	struct fx *f = *state;
	struct pv_error err;
	struct packstore *ps = NULL;
	struct fake_store fake = {0};
	struct db_stmt *st;
	char url[PACKSTORE_URL_MAX], migration[16];
	bool found;
	int64_t packs, legacy, stored, failed, changed;

	/* opened before the store's row exists (its secret is no real one) */
	fx_must(packstore_open(f->dir, f->db, NULL, &ps, &err), &err, "packstore");
	fx_must(packstore_recorded(f->db, &found, url, migration, &err), &err, "recorded");
	assert_false(found);
	assert_int_not_equal(packstore_set_migration(f->db, "running", &err), PV_OK);
	fx_must(db_prepare(f->db, "INSERT INTO pack_store (id, kind, url, secret, created_at)"
				  " VALUES (1, 's3', ?, ?, 1)", &st, &err), &err, "store row");
	db_bind_text(st, 1, "s3://bucket.example/archive", -1);
	db_bind_blob(st, 2, "sealed", 6);
	assert_int_equal(db_step(st, &err), DB_DONE);
	db_finalize(&st);
	fx_must(packstore_set_migration(f->db, "running", &err), &err, "running");
	fx_must(packstore_recorded(f->db, &found, url, migration, &err), &err, "recorded");
	assert_true(found);
	assert_string_equal(url, "s3://bucket.example/archive");
	assert_string_equal(migration, "running");

	/* pack p: bucket 2030-01, one message moved to the 2031-05 bucket */
	int64_t p = add_pack(f, f->bucket, 1700000100);
	int64_t m1 = add_message(f, "u1", 1, f->bucket_later, 0, p, 16, 0);
	add_message(f, "u2", 2, f->bucket, 1, p, 116, 0);
	add_message(f, "u3", 3, f->bucket, 2, 0, 0, 0); /* a PVB1 file */
	pack_file(f, p, 216);
	fx_must(packstore_pending(f->db, &packs, &legacy, &err), &err, "pending");
	assert_int_equal(packs, 1);
	assert_int_equal(legacy, 1);

	ps->ops = &fake_ops;
	ps->impl = &fake;
	fx_must(packstore_flush(ps, &stored, &failed, &err), &err, "flush");
	assert_int_equal(stored, 1);
	assert_int_equal(failed, 0);
	assert_int_equal(fake.size[p % 8], 216);
	assert_int_equal(fake.until[p % 8], packstore_retain_until("2031-05", 0));
	assert_false(fake.hold[p % 8]);
	assert_int_equal(query(f->db, "SELECT count(*) FROM packs WHERE stored_at IS NOT NULL"
				      " AND store_version IS NOT NULL AND size = 216"), 1);
	fx_must(packstore_pending(f->db, &packs, &legacy, &err), &err, "pending");
	assert_int_equal(packs, 0);

	/* an active hold on m1: the pack's legal hold goes on, once */
	run(f->db, "INSERT INTO holds (name, query, created_at, actor) VALUES ('h', 'all', 1, 'x')");
	fx_must(db_prepare(f->db, "INSERT INTO hold_members (hold_id, message_id, added_at)"
				  " SELECT id, ?, 1 FROM holds", &st, &err), &err, "member");
	db_bind_int64(st, 1, m1);
	assert_int_equal(db_step(st, &err), DB_DONE);
	db_finalize(&st);
	fx_must(packstore_sync_holds(ps, &changed, &err), &err, "holds");
	assert_int_equal(changed, 1);
	assert_true(fake.hold[p % 8]);
	fx_must(packstore_sync_holds(ps, &changed, &err), &err, "holds again");
	assert_int_equal(changed, 0);

	/* the lock already reaches 2031-05: nothing to extend; a message of
	 * a bucket kept longer extends it */
	fx_must(packstore_sync_locks(ps, &changed, &err), &err, "locks");
	assert_int_equal(changed, 0);
	run(f->db, "INSERT INTO buckets (class, expiry_month) VALUES ('legal', '2040-02')");
	add_message(f, "u4", 4, query(f->db, "SELECT id FROM buckets WHERE expiry_month = '2040-02'"),
		    3, p, 216, 0);
	fx_must(packstore_sync_locks(ps, &changed, &err), &err, "locks");
	assert_int_equal(changed, 1);
	assert_int_equal(fake.until[p % 8], packstore_retain_until("2040-02", 0));
	ps->impl = ps->local; /* the fake is not the store's to free */
	ps->ops = ps->local_ops;
	packstore_close(&ps);
}

/* Guards the status page's counts on both engines (sum of a comparison,
 * sum() of bigint read as an integer, a day's number grouped by alias). */
static void test_stats_on_both_engines(void **state)
{
	struct fx *f = *state;
	struct pv_error err;
	struct stats_counts c;
	struct stats_account *acc = NULL;
	struct stats_run *runs = NULL;
	size_t n_acc = 0, n_runs = 0;
	int64_t msgs[3], bytes[3];
	unsigned char a[32];

	memset(a, 1, sizeof(a));
	int64_t m1 = add_message(f, "u1", 1, f->bucket, 0, 0, 0, 0);
	add_message(f, "u2", 2, f->bucket, 1, 0, 0, 1700000500);
	fx_must(ledger_insert(f->db, f->account, "u1", a, m1, 10, &err), &err, "ledger");
	run(f->db, "INSERT INTO harvest_runs (account_id, started_at, finished_at, fetched, deleted,"
		   " residue, outcome) SELECT id, 100, 110, 3, 2, 0, 'ok' FROM accounts");
	run(f->db, "INSERT INTO harvest_runs (account_id, started_at, finished_at, fetched, deleted,"
		   " residue, outcome) SELECT id, 200, 210, 1, 0, 1, 'auth failed' FROM accounts");
	fx_must(stats_counts(f->db, &c, &err), &err, "counts");
	assert_int_equal(c.messages, 1);
	assert_int_equal(c.disposed, 1);
	assert_int_equal(c.bytes, 1001);
	assert_int_equal(c.accounts, 1);
	assert_int_equal(c.upstream_pending, 1);
	assert_int_equal(c.upstream_residue, 0);
	fx_must(stats_accounts(f->db, &acc, &n_acc, &err), &err, "accounts");
	assert_int_equal(n_acc, 1);
	assert_string_equal(acc[0].name, "sales");
	assert_int_equal(acc[0].runs_ok, 1);
	assert_int_equal(acc[0].runs_failed, 1);
	assert_int_equal(acc[0].last_success, 100);
	assert_int_equal(acc[0].last_success_finished, 110);
	assert_int_equal(acc[0].last_started, 200);
	assert_string_equal(acc[0].last_outcome, "auth failed");
	stats_accounts_free(&acc, n_acc);
	fx_must(stats_last_runs(f->db, &runs, &n_runs, &err), &err, "runs");
	assert_int_equal(n_runs, 1);
	assert_int_equal(runs[0].fetched, 1);
	stats_runs_free(&runs, n_runs);
	/* both messages were received on day 1700000000 / 86400 */
	fx_must(stats_growth(f->db, 1700000000 + 86400, 3, msgs, bytes, &err), &err, "growth");
	assert_int_equal(msgs[1], 2);
	assert_int_equal(bytes[1], 1001 + 1002);
	assert_int_equal(msgs[0] + msgs[2], 0);
}

#define BOTH(t) FX_BOTH(t, setup, setup_pg, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_ledger_rows_on_both_engines),
		BOTH(test_message_rows_read_back_on_both_engines),
		BOTH(test_pack_rows_removed_on_both_engines),
		BOTH(test_stray_pack_files_removed_on_both_engines),
		BOTH(test_packstore_rows_on_both_engines),
		BOTH(test_stats_on_both_engines),
	};
	return fx_run_both("store_rows", tests, sizeof(tests) / sizeof(tests[0]));
}
