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

/* The newest audit entry. */
static struct audit_entry ops_audit_last(struct fx *f)
{
	struct archive_audit_query q = {{INT64_MIN, INT64_MAX, NULL, NULL}, 0, 0, NULL};
	struct audit_entry e;
	struct pv_error err;
	memset(&e, 0, sizeof(e));
	fx_must(archive_audit_list(f->ar, &q, ops_keep_last, &e, NULL, &err), &err, "audit list");
	return e;
}

/* err says the audit append failed, and nothing else did. */
static void ops_assert_audit_refused(int r, const struct pv_error *err)
{
	assert_true(r < 0);
	if (strncmp(err->msg, "audit log: ", 11) != 0)
		fail_msg("expected an audit log failure, got %d '%s'", r, err->msg);
}

#endif
