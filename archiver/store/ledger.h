#ifndef PV_LEDGER_H
#define PV_LEDGER_H

/* The safe-delete ledger (ARCHITECTURE.md §3): what we know about each upstream
 * message, keyed by (account, UIDL, SHA-256 of the content) — never by
 * Message-ID. States move forward only:
 *   committed  archived durably, not yet asked to be deleted
 *   dele-sent  DELE answered +OK in a session that has not QUIT yet
 *   quit-ok    QUIT answered +OK after the DELE
 *   gone       a fresh session's UIDL list no longer shows it
 *   residue    QUIT said +OK but the message is still there
 * A server without UIDL gets "sha256:<hex>" as the key's UIDL.
 *
 * On lib/db.h: SQLite or PostgreSQL, the catalog's cat->conn. */

#include <stdbool.h>
#include <stdint.h>

#include "archiver/lib/db.h"
#include "archiver/lib/error.h"

#define LEDGER_UIDL_MAX 80 /* a UIDL (<= 70) or "sha256:" + 64 hex */

/* Looks up (account, uidl, sha256). PV_ENOTFOUND when not archived. */
int ledger_find(struct db *db, int64_t account_id, const char *uidl, const unsigned char sha256[32],
		int64_t *message_id_r, char state_r[16], struct pv_error *err);
/* True when some archived message of the account has this UIDL and size
 * (used only to skip re-reading mail kept upstream on purpose). */
int ledger_uidl_known(struct db *db, int64_t account_id, const char *uidl, uint64_t size,
		      bool *known_r, struct pv_error *err);
/* Records a newly committed message (inside the group-commit transaction). */
int ledger_insert(struct db *db, int64_t account_id, const char *uidl,
		  const unsigned char sha256[32], int64_t message_id, int64_t now,
		  struct pv_error *err);
/* Moves one entry to state. */
int ledger_set_state(struct db *db, int64_t account_id, const char *uidl,
		     const unsigned char sha256[32], const char *state, int64_t now,
		     struct pv_error *err);
/* Moves every entry of the account in state `from` to state `to`. */
int ledger_move_all(struct db *db, int64_t account_id, const char *from, const char *to,
		    int64_t now, int64_t *count_r, struct pv_error *err);
/* The per-message statements of a harvest session, prepared once:
 * ledger_find, ledger_insert and ledger_set_state through them. */
struct ledger_stmts;
int ledger_stmts_new(struct db *db, struct ledger_stmts **ls_r, struct pv_error *err);
void ledger_stmts_free(struct ledger_stmts **ls);
int ledger_stmts_find(struct ledger_stmts *ls, int64_t account_id, const char *uidl,
		      const unsigned char sha256[32], int64_t *message_id_r, char state_r[16],
		      struct pv_error *err);
int ledger_stmts_insert(struct ledger_stmts *ls, int64_t account_id, const char *uidl,
			const unsigned char sha256[32], int64_t message_id, int64_t now,
			struct pv_error *err);
int ledger_stmts_set_state(struct ledger_stmts *ls, int64_t account_id, const char *uidl,
			   const unsigned char sha256[32], const char *state, int64_t now,
			   struct pv_error *err);
/* Calls fn for every entry of the account in state `state`. */
int ledger_each(struct db *db, int64_t account_id, const char *state,
		int (*fn)(void *ctx, const char *uidl, const unsigned char sha256[32],
			  int64_t message_id),
		void *ctx, struct pv_error *err);

#endif
