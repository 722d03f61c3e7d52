/* The approvals table (archiver/store/approvals): ids from the insert,
 * the payload back byte for byte, a pending proposal found by kind and
 * payload, one decision only, pages of rows newest first. Each case on
 * SQLite and, with PV_TEST_PG, on PostgreSQL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "archiver/store/approvals.h"
#include "archiver/store/catalog.h"
#include "archiver/lib/db.h"
#include "tests/unit/fixtures.h"

struct fx {
	struct fx_catalog c;
	struct db *db; /* c.db */
};

static int setup_on(void **state, bool pg)
{
	struct fx *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -1;
	fx_catalog_open(&f->c, "apstore", pg);
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
	free(f);
	return 0;
}

static int64_t propose(struct fx *f, const char *kind, const char *payload, int64_t at)
{
	struct approval_row row;
	struct pv_error err;
	int64_t id = 0;
	memset(&row, 0, sizeof(row));
	snprintf(row.kind, sizeof(row.kind), "%s", kind);
	row.payload = (unsigned char *)payload;
	row.payload_len = strlen(payload);
	snprintf(row.payload_sha256, sizeof(row.payload_sha256), "%064d", 0);
	snprintf(row.summary, sizeof(row.summary), "summary of %s", payload);
	snprintf(row.proposer, sizeof(row.proposer), "alice");
	snprintf(row.proposer_role, sizeof(row.proposer_role), "admin");
	snprintf(row.reason, sizeof(row.reason), "because");
	row.created_at = at;
	fx_must(approval_store_add(f->db, &row, &id, &err), &err, "add");
	return id;
}

static void test_added_read_back(void **state)
{
	struct fx *f = *state;
	struct approval_row row;
	struct pv_error err;
	int64_t a = propose(f, "policy", "default: retain 1y\n", 10);
	int64_t b = propose(f, "hold-release", "matter-1", 11);
	assert_true(a > 0);
	assert_int_equal(b, a + 1);
	assert_int_equal(approval_store_get(f->db, a, true, &row, &err), PV_OK);
	assert_string_equal(row.kind, "policy");
	assert_string_equal(row.state, "pending");
	assert_string_equal(row.proposer, "alice");
	assert_int_equal(row.created_at, 10);
	assert_false(row.break_glass);
	assert_int_equal(row.payload_len, strlen("default: retain 1y\n"));
	assert_string_equal((char *)row.payload, "default: retain 1y\n");
	approval_row_free(&row);
	assert_int_equal(approval_store_get(f->db, b, false, &row, &err), PV_OK);
	assert_null(row.payload);
	assert_int_equal(approval_store_get(f->db, b + 1, false, &row, &err), PV_ENOTFOUND);
}

static void test_pending_by_kind_and_payload(void **state)
{
	struct fx *f = *state;
	struct pv_error err;
	int64_t id, h1, h2;
	assert_int_equal(approval_store_pending(f->db, "dispose", NULL, 0, &id, &err), PV_OK);
	assert_int_equal(id, 0);
	h1 = propose(f, "hold-release", "matter-1", 1);
	h2 = propose(f, "hold-release", "matter-2", 2);
	assert_int_equal(approval_store_pending(f->db, "hold-release", "matter-2", 8, &id, &err),
			 PV_OK);
	assert_int_equal(id, h2);
	assert_int_equal(approval_store_pending(f->db, "hold-release", NULL, 0, &id, &err), PV_OK);
	assert_int_equal(id, h1); /* any payload: the oldest */
	assert_int_equal(approval_store_pending(f->db, "hold-release", "matter-3", 8, &id, &err),
			 PV_OK);
	assert_int_equal(id, 0);
	assert_int_equal(approval_store_decide(f->db, h1, "rejected", "bob", "compliance", "no",
					       5, false, NULL, &err), PV_OK);
	assert_int_equal(approval_store_pending(f->db, "hold-release", NULL, 0, &id, &err), PV_OK);
	assert_int_equal(id, h2);
}

static void test_decided_once(void **state)
{
	struct fx *f = *state;
	struct approval_row row;
	struct pv_error err;
	int64_t id = propose(f, "policy", "p", 1);
	assert_int_equal(approval_store_decide(f->db, id, "approved", "bob", "compliance", "ok", 7,
					       true, "applied as version 2", &err), PV_OK);
	assert_int_equal(approval_store_decide(f->db, id, "rejected", "carol", "compliance", "no",
					       8, false, NULL, &err), PV_ERR);
	assert_non_null(strstr(err.msg, "is not pending"));
	assert_int_equal(approval_store_decide(f->db, id + 1, "approved", "bob", "compliance",
					       "ok", 8, false, NULL, &err), PV_ERR);
	assert_int_equal(approval_store_get(f->db, id, false, &row, &err), PV_OK);
	assert_string_equal(row.state, "approved");
	assert_string_equal(row.decided_by, "bob");
	assert_int_equal(row.decided_at, 7);
	assert_true(row.break_glass);
	assert_string_equal(row.result, "applied as version 2");
	assert_int_equal(approval_store_set_result(f->db, id, "done", &err), PV_OK);
	assert_int_equal(approval_store_get(f->db, id, false, &row, &err), PV_OK);
	assert_string_equal(row.result, "done");
}

struct seen {
	int64_t ids[8];
	int n;
};

static int collect(void *ctx, const struct approval_row *row)
{
	struct seen *s = ctx;
	if (s->n < 8)
		s->ids[s->n++] = row->id;
	return PV_OK;
}

static void test_each_pages_newest_first(void **state)
{
	struct fx *f = *state;
	struct pv_error err;
	struct seen s = {0};
	uint64_t total;
	int64_t id[5];
	for (int i = 0; i < 5; i++)
		id[i] = propose(f, "policy", "p", i);
	assert_int_equal(approval_store_decide(f->db, id[1], "approved", "bob", "compliance", "ok",
					       9, false, NULL, &err), PV_OK);
	assert_int_equal(approval_store_each(f->db, NULL, 0, 0, collect, &s, &total, &err), PV_OK);
	assert_int_equal(total, 5);
	assert_int_equal(s.n, 5); /* limit 0: all */
	assert_int_equal(s.ids[0], id[4]);
	memset(&s, 0, sizeof(s));
	assert_int_equal(approval_store_each(f->db, "pending", 1, 2, collect, &s, &total, &err),
			 PV_OK);
	assert_int_equal(total, 4);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.ids[0], id[3]);
	assert_int_equal(s.ids[1], id[2]);
	memset(&s, 0, sizeof(s));
	assert_int_equal(approval_store_each(f->db, "approved", 0, 0, collect, &s, NULL, &err),
			 PV_OK);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.ids[0], id[1]);
	/* decided: approved or rejected, counted as such (the web's history) */
	assert_int_equal(approval_store_decide(f->db, id[3], "rejected", "bob", "compliance", "no",
					       10, false, NULL, &err), PV_OK);
	memset(&s, 0, sizeof(s));
	assert_int_equal(approval_store_each(f->db, "decided", 0, 0, collect, &s, &total, &err),
			 PV_OK);
	assert_int_equal(total, 2);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.ids[0], id[3]);
	assert_int_equal(s.ids[1], id[1]);
}

#define BOTH(t) FX_BOTH(t, setup, setup_pg, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_added_read_back),
		BOTH(test_pending_by_kind_and_payload),
		BOTH(test_decided_once),
		BOTH(test_each_pages_newest_first),
	};
	return fx_run_both("approval_store", tests, sizeof(tests) / sizeof(tests[0]));
}
