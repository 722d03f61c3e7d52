#ifndef PV_HOLDS_H
#define PV_HOLDS_H

/* Legal holds (ARCHITECTURE.md §6): a matter name and a search query. A hold
 * covers every message matching the query when it is placed (recorded in
 * hold_members) and every later one that matches: disposal re-runs each
 * active hold's query and records what it finds before it decides, so a
 * held message is never disposed. Holds are released, never deleted.
 *
 * Holds see mail through the search index. A message missing from the
 * index would escape a hold's query, so indexer_catch_up() (archiver/archive/indexer.h) indexes
 * every message not yet disposed that the index lacks, and disposal
 * refuses to dispose a message the index does not hold (fail closed). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/error.h"
#include "archiver/lib/limits.h"
#include "archiver/store/datadir.h"

struct hold {
	int64_t id;
	char name[PV_HOLD_NAME_MAX + 1];
	char query[PV_QUERY_MAX + 1];
	char note[PV_HOLD_NOTE_MAX + 1];
	int64_t created_at;
	char actor[128];
	int64_t released_at; /* 0 while active */
	char released_by[128];
	int64_t members;     /* messages recorded as covered */
};

/* Checks what a user typed: name 1..PV_HOLD_NAME_MAX bytes, note up to
 * PV_HOLD_NOTE_MAX, both UTF-8 without control characters; query non-empty
 * and at most PV_QUERY_MAX (its syntax is checked by the index). PV_EUSAGE. */
int hold_validate(const char *name, const char *query, const char *note, struct pv_error *err);

/* Places a hold: indexes what the index lacks, resolves the query and
 * records the matches, all in one transaction. PV_EEXISTS when an active hold
 * has the name; PV_EUSAGE for a bad query (nothing is stored then).
 * *members_r (may be NULL) gets the number of messages covered now. */
int hold_add(struct archive *ar, const char *name, const char *query, const char *note,
	     const char *actor, int64_t now, int64_t *members_r, struct pv_error *err);

/* Both are audited (hold-place, hold-release) before they take effect, in
 * the same transaction; if the audit append fails, nothing happens. The
 * hold-place object is "hold=ID messages=N ids-sha256=HEX"; the matter
 * name, query and note go to the audit side table (personal data). */

/* Releases the active hold with this name; PV_ENOTFOUND if there is none.
 * Front ends do not call this: a release takes effect only once a second
 * person with another role approves it (approval_propose with
 * APPROVAL_HOLD_RELEASE, archiver/archive/approvals.h), which calls
 * hold_release_in_tx inside its own transaction. */
int hold_release(struct archive *ar, const char *name, const char *actor, int64_t now,
		 struct pv_error *err);
int hold_release_in_tx(struct archive *ar, const char *name, const char *actor, int64_t now,
		       struct pv_error *err);

/* The id and recorded member count of the active hold with this name;
 * PV_ENOTFOUND when there is none. */
int hold_active(struct db *db, const char *name, int64_t *id_r, int64_t *members_r,
		struct pv_error *err);

/* Calls fn for each hold (active ones, or all with include_released), in
 * the order they were placed. Not audited: holds name matters and
 * queries, not archived content. */
int hold_each(struct archive *ar, bool include_released,
	      int (*fn)(void *ctx, const struct hold *h), void *ctx, struct pv_error *err);

/* Names of the active holds that recorded message_id as covered
 * (hold_members), in the order they were placed: cheap (an index lookup),
 * for a message view. A message that matches an active hold's query only
 * since the hold was placed is recorded by the next disposal run
 * (holds_resolve); it is held all the same, but not listed here before.
 * *names_r: NULL when none, else owned by the caller (hold_names_free). */
int hold_names_of(struct db *db, int64_t message_id, char ***names_r, size_t *n_r,
		  struct pv_error *err);
void hold_names_free(char ***names, size_t n);


/* Hex SHA-256 of ids (ascending) written as decimal lines "ID\n": the
 * ids-sha256 of audit entries. */
void holds_ids_digest(const int64_t *ids, size_t n, char out[65]);

/* The hold state disposal decides on: for every active hold, its recorded
 * members plus what its query matches now (new matches are recorded, in
 * the caller's transaction). digest: hex SHA-256 of the state (hold ids,
 * names, sorted member ids), written into the disposal intent. */
struct hold_set {
	size_t n_holds;
	int64_t *hold_ids;
	char **names;
	struct hold_pair {
		int64_t message_id;
		size_t hold; /* index into names */
	} *pairs;    /* sorted by message id, then hold */
	size_t n_pairs;
	char digest[65];
};

int holds_resolve(struct archive *ar, int64_t now, struct hold_set *set_r, struct pv_error *err);
/* The digest of the hold state made of holds hold_ids (ascending) and
 * their members recorded before the audit log reached size as_of_seq
 * (members recorded before catalog migration 20: at or before time
 * as_of): what holds_resolve wrote into a disposal's intent, recomputed
 * (verify, with the intent entry's seq and time). */
int holds_digest_at(struct db *db, const int64_t *hold_ids, size_t n, int64_t as_of,
		    int64_t as_of_seq, char out[65], struct pv_error *err);
/* Names of the holds covering message id: up to max of them into names
 * (borrowed from set); returns how many cover it. */
size_t hold_set_lookup(const struct hold_set *set, int64_t id, const char **names, size_t max);
void hold_set_free(struct hold_set *set);

/* Makes the pack store's legal holds (store/packstore.h) follow the
 * active holds: on for every stored pack with a held message, off for the
 * rest. A failure is logged (the catalog's hold is in force either way;
 * verify reports a pack whose store hold disagrees). */
void holds_sync_store(struct archive *ar);

#endif
