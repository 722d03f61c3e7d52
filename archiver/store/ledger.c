#include "archiver/store/ledger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/store/catalog.h"

#define SQL_FIND "SELECT message_id, state FROM upstream WHERE account_id = ? AND uidl = ? AND sha256 = ?"
#define SQL_INSERT "INSERT INTO upstream (account_id, uidl, sha256, message_id, state, updated_at)" \
	" VALUES (?, ?, ?, ?, 'committed', ?)"
#define SQL_SET_STATE "UPDATE upstream SET state = ?, updated_at = ?" \
	" WHERE account_id = ? AND uidl = ? AND sha256 = ?"

static int find_run(sqlite3 *db, sqlite3_stmt *st, int64_t account_id, const char *uidl,
		    const unsigned char sha256[32], int64_t *message_id_r, char state_r[16],
		    struct pv_error *err)
{
	int r = PV_OK;
	sqlite3_bind_int64(st, 1, account_id);
	sqlite3_bind_text(st, 2, uidl, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, sha256, 32, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*message_id_r = sqlite3_column_int64(st, 0);
		snprintf(state_r, 16, "%s", (const char *)sqlite3_column_text(st, 1));
	} else if (rc == SQLITE_DONE) {
		r = pv_fail(err, PV_ENOTFOUND, "not archived");
	} else {
		r = pv_fail(err, PV_ERR, "database: %s", sqlite3_errmsg(db));
	}
	return r;
}

int ledger_find(sqlite3 *db, int64_t account_id, const char *uidl, const unsigned char sha256[32],
		int64_t *message_id_r, char state_r[16], struct pv_error *err)
{
	sqlite3_stmt *st;
	int r = catalog_prepare(db, SQL_FIND, &st, err);
	if (r < 0)
		return r;
	r = find_run(db, st, account_id, uidl, sha256, message_id_r, state_r, err);
	sqlite3_finalize(st);
	return r;
}

int ledger_uidl_known(sqlite3 *db, int64_t account_id, const char *uidl, uint64_t size,
		      bool *known_r, struct pv_error *err)
{
	sqlite3_stmt *st;
	int r = catalog_prepare(db, "SELECT 1 FROM upstream u JOIN messages m ON m.id = u.message_id"
				    " WHERE u.account_id = ? AND u.uidl = ? AND m.size = ?", &st, err);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, account_id);
	sqlite3_bind_text(st, 2, uidl, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)size);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		*known_r = rc == SQLITE_ROW;
	else
		r = pv_fail(err, PV_ERR, "database: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return r;
}

static int insert_run(sqlite3 *db, sqlite3_stmt *st, int64_t account_id, const char *uidl,
		      const unsigned char sha256[32], int64_t message_id, int64_t now,
		      struct pv_error *err)
{
	int r = PV_OK;
	sqlite3_bind_int64(st, 1, account_id);
	sqlite3_bind_text(st, 2, uidl, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, sha256, 32, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, message_id);
	sqlite3_bind_int64(st, 5, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = pv_fail(err, PV_ERR, "ledger: %s", sqlite3_errmsg(db));
	return r;
}

int ledger_insert(sqlite3 *db, int64_t account_id, const char *uidl,
		  const unsigned char sha256[32], int64_t message_id, int64_t now,
		  struct pv_error *err)
{
	sqlite3_stmt *st;
	int r = catalog_prepare(db, SQL_INSERT, &st, err);
	if (r < 0)
		return r;
	r = insert_run(db, st, account_id, uidl, sha256, message_id, now, err);
	sqlite3_finalize(st);
	return r;
}

static int set_state_run(sqlite3 *db, sqlite3_stmt *st, int64_t account_id, const char *uidl,
			 const unsigned char sha256[32], const char *state, int64_t now,
			 struct pv_error *err)
{
	int r = PV_OK;
	sqlite3_bind_text(st, 1, state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, account_id);
	sqlite3_bind_text(st, 4, uidl, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 5, sha256, 32, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = pv_fail(err, PV_ERR, "ledger: %s", sqlite3_errmsg(db));
	return r;
}

int ledger_set_state(sqlite3 *db, int64_t account_id, const char *uidl,
		     const unsigned char sha256[32], const char *state, int64_t now,
		     struct pv_error *err)
{
	sqlite3_stmt *st;
	int r = catalog_prepare(db, SQL_SET_STATE, &st, err);
	if (r < 0)
		return r;
	r = set_state_run(db, st, account_id, uidl, sha256, state, now, err);
	sqlite3_finalize(st);
	return r;
}

struct ledger_stmts {
	sqlite3 *db;
	sqlite3_stmt *find, *insert, *set_state;
};

int ledger_stmts_new(sqlite3 *db, struct ledger_stmts **ls_r, struct pv_error *err)
{
	struct ledger_stmts *ls = calloc(1, sizeof(*ls));
	int r;
	if (ls == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	ls->db = db;
	if ((r = catalog_prepare(db, SQL_FIND, &ls->find, err)) < 0 ||
	    (r = catalog_prepare(db, SQL_INSERT, &ls->insert, err)) < 0 ||
	    (r = catalog_prepare(db, SQL_SET_STATE, &ls->set_state, err)) < 0) {
		ledger_stmts_free(&ls);
		return r;
	}
	*ls_r = ls;
	return PV_OK;
}

void ledger_stmts_free(struct ledger_stmts **lsp)
{
	struct ledger_stmts *ls = *lsp;
	if (ls == NULL)
		return;
	sqlite3_finalize(ls->find);
	sqlite3_finalize(ls->insert);
	sqlite3_finalize(ls->set_state);
	free(ls);
	*lsp = NULL;
}

/* A statement kept for the next call: reset, bindings cleared. */
static int done_with(sqlite3_stmt *st, int r)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return r;
}

int ledger_stmts_find(struct ledger_stmts *ls, int64_t account_id, const char *uidl,
		      const unsigned char sha256[32], int64_t *message_id_r, char state_r[16],
		      struct pv_error *err)
{
	return done_with(ls->find, find_run(ls->db, ls->find, account_id, uidl, sha256,
					    message_id_r, state_r, err));
}

int ledger_stmts_insert(struct ledger_stmts *ls, int64_t account_id, const char *uidl,
			const unsigned char sha256[32], int64_t message_id, int64_t now,
			struct pv_error *err)
{
	return done_with(ls->insert, insert_run(ls->db, ls->insert, account_id, uidl, sha256,
						message_id, now, err));
}

int ledger_stmts_set_state(struct ledger_stmts *ls, int64_t account_id, const char *uidl,
			   const unsigned char sha256[32], const char *state, int64_t now,
			   struct pv_error *err)
{
	return done_with(ls->set_state, set_state_run(ls->db, ls->set_state, account_id, uidl,
						      sha256, state, now, err));
}

int ledger_move_all(sqlite3 *db, int64_t account_id, const char *from, const char *to,
		    int64_t now, int64_t *count_r, struct pv_error *err)
{
	sqlite3_stmt *st;
	int r = catalog_prepare(db, "UPDATE upstream SET state = ?, updated_at = ?"
				    " WHERE account_id = ? AND state = ?", &st, err);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, to, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, account_id);
	sqlite3_bind_text(st, 4, from, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = pv_fail(err, PV_ERR, "ledger: %s", sqlite3_errmsg(db));
	else if (count_r != NULL)
		*count_r = sqlite3_changes(db);
	sqlite3_finalize(st);
	return r;
}

int ledger_each(sqlite3 *db, int64_t account_id, const char *state,
		int (*fn)(void *ctx, const char *uidl, const unsigned char sha256[32],
			  int64_t message_id),
		void *ctx, struct pv_error *err)
{
	sqlite3_stmt *st;
	int r = catalog_prepare(db, "SELECT uidl, sha256, message_id FROM upstream"
				    " WHERE account_id = ? AND state = ? ORDER BY message_id", &st, err);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, account_id);
	sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
	while (r == PV_OK && sqlite3_step(st) == SQLITE_ROW) {
		if (sqlite3_column_bytes(st, 1) != 32) {
			r = pv_fail(err, PV_EINTEGRITY, "ledger row with a malformed hash");
			break;
		}
		r = fn(ctx, (const char *)sqlite3_column_text(st, 0), sqlite3_column_blob(st, 1),
		       sqlite3_column_int64(st, 2));
	}
	sqlite3_finalize(st);
	return r;
}
