#ifndef PV_EVIDENCE_H
#define PV_EVIDENCE_H

/* What the signed logs say about retention, read straight from their
 * entries (the catalog's tables are copies that an edit can change):
 *
 * - every policy version set (policy-set: version, SHA-256 of its exact
 *   text, and its place in the audit log);
 * - every hold placed and released (hold-place with the commitment to its
 *   matter, query and note; hold-release);
 * - every disposal: its intent (dispose-intent), the justification of each
 *   message (disposal-item, see justify.h) and its end (dispose-done).
 *
 * evidence_load reads the audit log in one pass: every leaf is parsed
 * strictly, and the root recomputed from the entry bytes must be the one
 * the latest stored checkpoint signs (its signature checked with the key
 * of its epoch). The audit_event index is never used. evidence_log_head
 * does the same root check for any log (dispose checks the archive log
 * with it before it trusts a leaf or appends a tombstone).
 *
 * This is what `dispose` checks the catalog against before it acts, and
 * what `verify` re-derives each disposal from. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/error.h"
#include "audit/auditlog.h"
#include "audit/tlog.h"

struct ev_policy {
	int64_t version;
	char sha256[65];
	uint64_t seq; /* audit leaf of its policy-set entry */
	int64_t time;
};

struct ev_hold {
	int64_t id;
	uint64_t placed_seq;
	int64_t placed_at;
	char ids_sha256[65];      /* members when placed */
	bool has_commit;          /* commitment to "name: ..\nquery: ..\nnote: .." */
	uint8_t commit[AUDIT_COMMIT_LEN];
	bool released;
	uint64_t released_seq;
	int64_t released_at;
};

struct ev_disposal {
	int64_t id;
	uint64_t intent_seq;
	int64_t intent_at;
	int64_t policy;
	char policy_sha256[65];   /* "" for intents written before it was recorded */
	int64_t messages;
	int64_t holds;            /* holds in force (-1: not recorded) */
	char holds_sha256[65];
	int64_t items;            /* disposal-item entries seen */
	int64_t spared;           /* of them, disposal-spared before destruction */
	bool done;
	uint64_t done_seq;
	int64_t done_at;
};

struct ev_item {
	int64_t message_id;
	int64_t disposal_id;
	uint64_t seq;             /* its disposal-item leaf */
};

struct evidence {
	uint64_t audit_size;
	struct ev_policy *policies;   /* in log order */
	size_t n_policies;
	struct ev_hold *holds;        /* by id */
	size_t n_holds;
	struct ev_disposal *disposals; /* by id */
	size_t n_disposals;
	struct ev_item *items;        /* by message id */
	size_t n_items;
};

/* Reads the audit log (see above). Entries that break the rules of these
 * records (a policy version set twice, a release of an unknown hold, an
 * item before its intent, ...) go to problem(ctx, msg); PV_EINTEGRITY when
 * the log does not match its signed checkpoint or a leaf does not parse.
 * Free with evidence_free. */
/* flags: EVIDENCE_RESERVED_OK accepts entries after the latest signed
 * checkpoint when the checkpoint rows after it are reserved ones
 * (audit/checkpoint.h) that cover the log with its recomputed root: the
 * signer process had not signed them yet (verify notes it). Without it,
 * every entry must be under a signed checkpoint (a disposal relies only
 * on signed data; it signs what is reserved first). */
#define EVIDENCE_RESERVED_OK 1u
int evidence_load(struct tlog *audit, unsigned flags, struct evidence *ev_r,
		  void (*problem)(void *ctx, const char *msg), void *ctx,
		  struct pv_error *err) PV_WARN_UNUSED;
void evidence_free(struct evidence *ev);

/* The policy-set record of version, or NULL. */
const struct ev_policy *evidence_policy(const struct evidence *ev, int64_t version);
/* The version in force just before audit leaf seq (the last one set
 * before it), or NULL when none was. */
const struct ev_policy *evidence_policy_before(const struct evidence *ev, uint64_t seq);
const struct ev_hold *evidence_hold(const struct evidence *ev, int64_t id);
/* Whether hold h was in force just before audit leaf seq. */
bool evidence_hold_in_force(const struct ev_hold *h, uint64_t seq);
const struct ev_disposal *evidence_disposal(const struct evidence *ev, int64_t id);
/* The justification of message id, or NULL. */
const struct ev_item *evidence_item(const struct evidence *ev, int64_t message_id);

/* Recomputes log t's root from its entry bytes (every row 0..size-1
 * present) and checks the latest signed checkpoint: signed by the key of
 * its epoch, of the log's full size (or, with EVIDENCE_RESERVED_OK, of a
 * smaller one with reserved rows after it that cover the rest), with
 * that root. fn (may be NULL) is
 * called with every entry on the way; a non-zero return from it stops the
 * scan and is returned. PV_EINTEGRITY says what differs. */
int evidence_log_head(struct tlog *t, unsigned flags, tlog_leaf_fn fn, void *ctx,
		      struct pv_error *err)
	PV_WARN_UNUSED;

/* The value of "key=value" in an audit object ("a=1 b=2"): copied into
 * out; false when absent, empty or too long. */
bool evidence_field(const char *object, const char *key, char *out, size_t n);
/* The same as a non-negative decimal (no sign, no leading zero). */
bool evidence_field_int(const char *object, const char *key, int64_t *v_r);

#endif
