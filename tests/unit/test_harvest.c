/* Unit tests for archiver/harvest: the scheduler's backoff and the
 * safe-delete ledger. The harvest sessions themselves are tested end to
 * end against real and scripted servers (tests/e2e/harvest_*.t). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "archiver/store/ledger.h"
#include "archiver/harvest/scheduler.h"
/* The shared fixture's helpers this file does not need are fine. */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "test_dispose_fixture.h"

/* Guards: a failing account retried as often as a healthy one (no
 * backoff), and a backoff that grows without bound. */
static void test_backoff_grows_after_failures_and_is_capped(void **state)
{
	(void)state;
	assert_int_equal(harvest_backoff_s(0, 300, 0), 300);
	assert_int_equal(harvest_backoff_s(1, 300, 0), 60);
	assert_int_equal(harvest_backoff_s(2, 300, 0), 120);
	assert_int_equal(harvest_backoff_s(3, 300, 0), 240);
	assert_int_equal(harvest_backoff_s(6, 300, 0), 1920);
	assert_int_equal(harvest_backoff_s(7, 300, 0), 3600);
	assert_int_equal(harvest_backoff_s(1000, 300, 0), 3600);
	/* Short intervals scale the base; long ones raise the cap. */
	assert_int_equal(harvest_backoff_s(1, 1, 0), 1);
	assert_int_equal(harvest_backoff_s(2, 1, 0), 2);
	assert_int_equal(harvest_backoff_s(3, 1, 0), 4);
	assert_int_equal(harvest_backoff_s(1, 86400, 0), 60);
	assert_int_equal(harvest_backoff_s(40, 86400, 0), 86400);
}

/* Guards: a login before the server's LOGIN-DELAY (RFC 2449 §6.8), which
 * fails and may restart the server's clock. */
static void test_backoff_never_under_login_delay(void **state)
{
	(void)state;
	assert_int_equal(harvest_backoff_s(0, 1, 3), 3);
	assert_int_equal(harvest_backoff_s(1, 300, 900), 900);
	assert_int_equal(harvest_backoff_s(0, 300, 30), 300);
}

static void archive_as(struct fx *f, const char *uidl, const char *raw, int64_t *id_r,
		       unsigned char sha_r[32])
{
	struct pv_error err;
	struct blob_writer *w;
	struct ingest_item it;
	memset(&it, 0, sizeof(it));
	fx_must(blob_writer_new(f->dir, &w, &err), &err, "blob_writer_new");
	fx_must(blob_writer_write(w, raw, strlen(raw), &err), &err, "blob write");
	fx_must(blob_writer_finish(&w, &it.blob, &err), &err, "blob finish");
	snprintf(it.uidl, sizeof(it.uidl), "%s", uidl);
	it.received_at = 1700000000;
	memcpy(sha_r, it.blob.sha256, 32);
	fx_must(ingest_commit(f->ar, &f->acct, &it, 1, &err), &err, "ingest_commit");
	*id_r = it.message_id;
}

static int count_rows(void *ctx, const char *uidl, const unsigned char sha256[32], int64_t id)
{
	(void)uidl;
	(void)sha256;
	(void)id;
	(*(int *)ctx)++;
	return PV_OK;
}

/* Guards: messages told apart by UIDL or Message-ID alone (getmail's
 * delete_dup_msgids, piler): the ledger key is (account, UIDL, content). */
static void test_ledger_keys_by_uidl_and_content(void **state)
{
	struct fx f;
	struct pv_error err;
	unsigned char a[32], b[32], other[32];
	int64_t ida, idb, id;
	char st[16];
	bool known;
	int n = 0;
	(void)state;

	fx_init(&f);
	struct db *db = f.ar->cat->conn;
	/* Same UIDL and the same Message-ID, different bytes: two messages. */
	archive_as(&f, "dup", "Message-ID: <same@x>\r\n\r\none\r\n", &ida, a);
	archive_as(&f, "dup", "Message-ID: <same@x>\r\n\r\ntwo\r\n", &idb, b);
	assert_int_not_equal(ida, idb);
	assert_int_equal(ledger_find(db, f.acct.id, "dup", a, &id, st, &err), PV_OK);
	assert_int_equal(id, ida);
	assert_string_equal(st, "committed");
	assert_int_equal(ledger_find(db, f.acct.id, "dup", b, &id, st, &err), PV_OK);
	assert_int_equal(id, idb);
	/* The same bytes under another UIDL, or in another account: unknown. */
	assert_int_equal(ledger_find(db, f.acct.id, "other", a, &id, st, &err), PV_ENOTFOUND);
	assert_int_equal(ledger_find(db, f.acct.id + 1, "dup", a, &id, st, &err), PV_ENOTFOUND);
	memset(other, 0x5a, sizeof(other));
	assert_int_equal(ledger_find(db, f.acct.id, "dup", other, &id, st, &err), PV_ENOTFOUND);
	/* Kept-upstream skipping asks for UIDL and size together. */
	assert_int_equal(ledger_uidl_known(db, f.acct.id, "dup", strlen("Message-ID: <same@x>\r\n\r\none\r\n"),
					   &known, &err), PV_OK);
	assert_true(known);
	assert_int_equal(ledger_uidl_known(db, f.acct.id, "dup", 5, &known, &err), PV_OK);
	assert_false(known);

	/* States move per entry and in bulk; the other entry is untouched. */
	assert_int_equal(ledger_set_state(db, f.acct.id, "dup", a, "dele-sent", 1, &err), PV_OK);
	int64_t moved = -1;
	assert_int_equal(ledger_move_all(db, f.acct.id, "dele-sent", "quit-ok", 2, &moved, &err), PV_OK);
	assert_int_equal(moved, 1);
	assert_int_equal(ledger_find(db, f.acct.id, "dup", a, &id, st, &err), PV_OK);
	assert_string_equal(st, "quit-ok");
	assert_int_equal(ledger_find(db, f.acct.id, "dup", b, &id, st, &err), PV_OK);
	assert_string_equal(st, "committed");
	assert_int_equal(ledger_each(db, f.acct.id, "quit-ok", count_rows, &n, &err), PV_OK);
	assert_int_equal(n, 1);
	/* A state outside the schema's list is refused by the database. */
	assert_int_not_equal(ledger_set_state(db, f.acct.id, "dup", b, "deleted?", 3, &err), PV_OK);
	fx_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_grows_after_failures_and_is_capped),
		cmocka_unit_test(test_backoff_never_under_login_delay),
		cmocka_unit_test(test_ledger_keys_by_uidl_and_content),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("harvest", tests, NULL, NULL);
}
