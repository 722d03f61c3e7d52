#include "archiver/store/ledger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SQL_FIND "SELECT message_id, state FROM upstream WHERE account_id = ? AND uidl = ? AND sha256 = ?"
#define SQL_INSERT "INSERT INTO upstream (account_id, uidl, sha256, message_id, state, updated_at)" \
	" VALUES (?, ?, ?, ?, 'committed', ?)"
#define SQL_SET_STATE "UPDATE upstream SET state = ?, updated_at = ?" \
	" WHERE account_id = ? AND uidl = ? AND sha256 = ?"

/* Each _run steps st once and leaves it to the caller to reset or
 * finalize: the ledger_stmts_* keep theirs for the next message. */
static int find_run(struct db_stmt *st, int64_t account_id, const char *uidl,
		    const unsigned char sha256[32], int64_t *message_id_r, char state_r[16],
		    struct pv_error *err)
{
	db_bind_int64(st, 1, account_id);
	db_bind_text(st, 2, uidl, -1);
	db_bind_blob(st, 3, sha256, 32);
	int r = db_step(st, err);
	if (r == DB_ROW) {
		const char *state = db_column_text(st, 1);
		*message_id_r = db_column_int64(st, 0);
		snprintf(state_r, 16, "%s", state ? state : "");
		return PV_OK;
	}
	return r == DB_DONE ? pv_fail(err, PV_ENOTFOUND, "not archived") : r;
}

int ledger_find(struct db *db, int64_t account_id, const char *uidl,
		const unsigned char sha256[32], int64_t *message_id_r, char state_r[16],
		struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(db, SQL_FIND, &st, err);
	if (r < 0)
		return r;
	r = find_run(st, account_id, uidl, sha256, message_id_r, state_r, err);
	db_finalize(&st);
	return r;
}

int ledger_uidl_known(struct db *db, int64_t account_id, const char *uidl, uint64_t size,
		      bool *known_r, struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(db, "SELECT 1 FROM upstream u JOIN messages m ON m.id = u.message_id"
			       " WHERE u.account_id = ? AND u.uidl = ? AND m.size = ?", &st, err);
	if (r < 0)
		return r;
	db_bind_int64(st, 1, account_id);
	db_bind_text(st, 2, uidl, -1);
	db_bind_int64(st, 3, (int64_t)size);
	if ((r = db_step(st, err)) >= 0) {
		*known_r = r == DB_ROW;
		r = PV_OK;
	}
	db_finalize(&st);
	return r;
}

static int insert_run(struct db_stmt *st, int64_t account_id, const char *uidl,
		      const unsigned char sha256[32], int64_t message_id, int64_t now,
		      struct pv_error *err)
{
	db_bind_int64(st, 1, account_id);
	db_bind_text(st, 2, uidl, -1);
	db_bind_blob(st, 3, sha256, 32);
	db_bind_int64(st, 4, message_id);
	db_bind_int64(st, 5, now);
	int r = db_step(st, err);
	return r < 0 ? pv_error_prefix(err, "ledger") : PV_OK;
}

int ledger_insert(struct db *db, int64_t account_id, const char *uidl,
		  const unsigned char sha256[32], int64_t message_id, int64_t now,
		  struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(db, SQL_INSERT, &st, err);
	if (r < 0)
		return r;
	r = insert_run(st, account_id, uidl, sha256, message_id, now, err);
	db_finalize(&st);
	return r;
}

static int set_state_run(struct db_stmt *st, int64_t account_id, const char *uidl,
			 const unsigned char sha256[32], const char *state, int64_t now,
			 struct pv_error *err)
{
	db_bind_text(st, 1, state, -1);
	db_bind_int64(st, 2, now);
	db_bind_int64(st, 3, account_id);
	db_bind_text(st, 4, uidl, -1);
	db_bind_blob(st, 5, sha256, 32);
	int r = db_step(st, err);
	return r < 0 ? pv_error_prefix(err, "ledger") : PV_OK;
}

int ledger_set_state(struct db *db, int64_t account_id, const char *uidl,
		     const unsigned char sha256[32], const char *state, int64_t now,
		     struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(db, SQL_SET_STATE, &st, err);
	if (r < 0)
		return r;
	r = set_state_run(st, account_id, uidl, sha256, state, now, err);
	db_finalize(&st);
	return r;
}

struct ledger_stmts {
	struct db_stmt *find, *insert, *set_state;
};

int ledger_stmts_new(struct db *db, struct ledger_stmts **ls_r, struct pv_error *err)
{
	struct ledger_stmts *ls = calloc(1, sizeof(*ls));
	int r;
	if (ls == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	if ((r = db_prepare(db, SQL_FIND, &ls->find, err)) < 0 ||
	    (r = db_prepare(db, SQL_INSERT, &ls->insert, err)) < 0 ||
	    (r = db_prepare(db, SQL_SET_STATE, &ls->set_state, err)) < 0) {
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
	db_finalize(&ls->find);
	db_finalize(&ls->insert);
	db_finalize(&ls->set_state);
	free(ls);
	*lsp = NULL;
}

/* A statement kept for the next call: reset (every call binds all its
 * parameters again, so none is left over). */
static int done_with(struct db_stmt *st, int r)
{
	db_reset(st);
	return r;
}

int ledger_stmts_find(struct ledger_stmts *ls, int64_t account_id, const char *uidl,
		      const unsigned char sha256[32], int64_t *message_id_r, char state_r[16],
		      struct pv_error *err)
{
	return done_with(ls->find, find_run(ls->find, account_id, uidl, sha256, message_id_r,
					    state_r, err));
}

int ledger_stmts_insert(struct ledger_stmts *ls, int64_t account_id, const char *uidl,
			const unsigned char sha256[32], int64_t message_id, int64_t now,
			struct pv_error *err)
{
	return done_with(ls->insert, insert_run(ls->insert, account_id, uidl, sha256, message_id,
						now, err));
}

int ledger_stmts_set_state(struct ledger_stmts *ls, int64_t account_id, const char *uidl,
			   const unsigned char sha256[32], const char *state, int64_t now,
			   struct pv_error *err)
{
	return done_with(ls->set_state, set_state_run(ls->set_state, account_id, uidl, sha256,
						      state, now, err));
}

int ledger_move_all(struct db *db, int64_t account_id, const char *from, const char *to,
		    int64_t now, int64_t *count_r, struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(db, "UPDATE upstream SET state = ?, updated_at = ?"
			       " WHERE account_id = ? AND state = ?", &st, err);
	if (r < 0)
		return r;
	db_bind_text(st, 1, to, -1);
	db_bind_int64(st, 2, now);
	db_bind_int64(st, 3, account_id);
	db_bind_text(st, 4, from, -1);
	if ((r = db_step(st, err)) < 0) {
		r = pv_error_prefix(err, "ledger");
	} else {
		if (count_r != NULL)
			*count_r = db_changes(st);
		r = PV_OK;
	}
	db_finalize(&st);
	return r;
}

int ledger_each(struct db *db, int64_t account_id, const char *state,
		int (*fn)(void *ctx, const char *uidl, const unsigned char sha256[32],
			  int64_t message_id),
		void *ctx, struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(db, "SELECT uidl, sha256, message_id FROM upstream"
			       " WHERE account_id = ? AND state = ? ORDER BY message_id", &st, err);
	if (r < 0)
		return r;
	db_bind_int64(st, 1, account_id);
	db_bind_text(st, 2, state, -1);
	while ((r = db_step(st, err)) == DB_ROW) {
		size_t len;
		const void *sha256 = db_column_blob(st, 1, &len);
		if (len != 32) {
			r = pv_fail(err, PV_EINTEGRITY, "ledger row with a malformed hash");
			break;
		}
		if ((r = fn(ctx, db_column_text(st, 0), sha256, db_column_int64(st, 2))) < 0)
			break;
	}
	db_finalize(&st);
	return r < 0 ? r : PV_OK;
}
