#ifndef PV_DISPOSE_H
#define PV_DISPOSE_H

/* Disposal by policy (ARCHITECTURE.md §1.5, §6; ARCHITECTURE.md §6).
 *
 * Nothing the catalog says is taken on trust (attest.h): before it plans,
 * disposal checks both logs against their latest signed checkpoints, the
 * stored policy versions and holds against what the audit log recorded,
 * and every catalog row against its archive leaf, its policy version and
 * its key bucket; any disagreement refuses the whole run (PV_EINTEGRITY,
 * nothing destroyed). The catalog's expiry only nominates candidates.
 *
 * A message is disposed of only when, re-read from its own bytes
 * (authenticated and checked against the commitment in its leaf) and
 * re-evaluated under the policy version in force with the signed facts
 * (account, the bytes' length, the leaf's received time), its rule says
 * "then dispose" and it has expired — and the catalog's class, expiry and
 * version agree (else the run is refused) — no active hold covers it
 * (holds re-resolved now: recorded members plus what each query matches
 * now, after the candidate's index entry was rebuilt from its bytes), the
 * search index holds it (else a hold query could miss it), and its content
 * is present (content missing without a disposal record is unauthorised
 * loss: reported, never covered up by a disposal).
 *
 * The run: intent (disposals + disposal_items rows, in the same
 * transaction as the plan, so no hold can slip in between) -> signed
 * archive checkpoint -> destroy -> done + one tombstone leaf per message
 * and a signed checkpoint -> index entries removed -> FTS purge and WAL
 * truncated, so no copy of a key or of indexed text stays in a file.
 *
 * Destroying: a bucket key (class, expiry month) is destroyed when no
 * message in the bucket remains undisposed after this run and the month
 * is over (so new mail can never need it again); that also defeats copies
 * of its wrapped keys in old catalog backups. Otherwise each message's
 * wrapped key is erased from the catalog (secure_delete) and its blob
 * file removed; the bucket key goes when its last message does. Held and
 * review messages keep their bucket alive.
 *
 * Before a bucket key is destroyed, every other live message's wrapped key
 * must open under the bucket the catalog names for it (a moved bucket_id
 * cannot make a live message share a shredded key).
 *
 * Audit entries (ARCHITECTURE.md §5): dispose-intent in the intent's
 * transaction, before anything is destroyed ("disposal=ID policy=V
 * policy-sha256=HEX messages=N first= last= ids-sha256= holds=H
 * holds-sha256="), followed by one disposal-item per message, its
 * justification (justify.h: policy version and hash, rule, the signed
 * facts, the content tests, the expiry); dispose-done in the done
 * transaction ("disposal=ID messages=N tombstones=A-B|none
 * buckets-destroyed=K spared=S"), after one disposal-spared per message
 * spared right before its key would have gone ("disposal=ID message=M
 * reason=held hold=H" or "reason=policy policy=V"). A failed append stops
 * the run at that point.
 *
 * A run interrupted after its intent is finished by the next proposal
 * or approval (dispose_resume) before anything else: every step is
 * idempotent, only the first finisher records it done, and only a
 * disposal whose intent and items the audit log holds is finished. */

#include <stdbool.h>
#include <stdint.h>

#include "archiver/archive/justify.h"
#include "archiver/lib/db.h"
#include "archiver/lib/error.h"
#include "archiver/store/datadir.h"
#include "archiver/store/blob.h"
#include "policy/policy.h"

enum dispose_state {
	DISPOSE_DUE,     /* will be (was) disposed */
	DISPOSE_HELD,    /* a legal hold covers it */
	DISPOSE_REVIEW,  /* expired, its rule says "then review" */
	DISPOSE_BLOCKED, /* cannot be decided safely: see why */
};

struct dispose_item {
	int64_t id;
	char rule[128];          /* retention class */
	int64_t policy_version;  /* the version that set the expiry */
	int64_t expires_at;
	enum dispose_state state;
	bool missing;            /* BLOCKED because content is gone (unauthorised loss) */
	char why[320];           /* "expired T", "held by matter X", ... */
	int64_t bucket_id;
	struct justification *just; /* DUE: re-derived from the bytes (owned by the plan) */
};

struct dispose_plan {
	int64_t now;
	int64_t policy_version;  /* in force (0: none stored) */
	char policy_sha256[65];  /* its hash, as its policy-set entry recorded it */
	char holds_digest[65];
	size_t holds_in_force;
	struct dispose_item *v;  /* every expired message not yet disposed, by id */
	size_t n;
	size_t due, held, review, blocked, missing;
	int64_t pending;         /* messages of an approved run cut short, not planned again */
	uint64_t reevaluated;    /* messages first re-evaluated under the version in force */
};

/* Builds the plan for `now` (the system clock: pv_clock_now()). Must run
 * inside the caller's open transaction (catalog_begin): it records new
 * hold matches, rebuilds the index entries of due messages from their
 * bytes and re-evaluates messages decided under an older policy version.
 * A dry run then rolls back; a real run passes the plan to
 * dispose_execute, which commits. Call indexer_catch_up() before the
 * transaction so the index holds every message. PV_EINTEGRITY ("refusing
 * to dispose: ...", naming the first problem) when the catalog disagrees
 * with the signed data; the caller rolls back. */
int dispose_plan(struct archive *ar, int64_t now, struct dispose_plan *plan_r,
		 struct pv_error *err) PV_WARN_UNUSED;
void dispose_plan_free(struct dispose_plan *plan);

struct dispose_result {
	int64_t disposal_id;      /* 0 when nothing was due */
	int64_t disposed;
	int64_t buckets_destroyed;
	int64_t resumed;          /* interrupted disposals finished first */
};

/* Carries out plan (from dispose_plan, its transaction still open):
 * writes the intent and commits it with a signed checkpoint, then
 * destroys, then records done with tombstones. On error before the intent
 * commits, the transaction is rolled back and nothing happened. */
int dispose_execute(struct archive *ar, const struct dispose_plan *plan, const char *actor,
		    struct dispose_result *res_r, struct pv_error *err);
/* The first half of dispose_execute: the intent (catalog rows, audit
 * entries, signed checkpoint) committed, nothing destroyed yet; *id_r
 * gets the disposal id (0 when nothing was due). dispose_resume finishes
 * it (tests use this to stand for a crash after the intent). */
int dispose_commit_intent(struct archive *ar, const struct dispose_plan *plan, const char *actor,
			  int64_t *id_r, struct pv_error *err);

/* Finishes disposals whose intent committed but which did not finish
 * (crash). Outside any transaction. */
int dispose_resume(struct archive *ar, int64_t now, const char *actor, int64_t *resumed_r,
		   struct pv_error *err);

/* For verify: the messages (ascending, malloc'd, NULL when none) of the
 * disposals whose intent is recorded but which did not finish (a crash
 * mid-run). Their keys or blobs may already be gone, and that is not
 * unauthorised loss: the next proposal or approval finishes the run. */
int dispose_pending_ids(struct db *db, int64_t **ids_r, size_t *n_r, struct pv_error *err);

const char *dispose_state_name(enum dispose_state s); /* dispose held review blocked */

/* ---- the operation front ends call (`popvault dispose`, `policy dry-run`,
 * the web API) ---------------------------------------------------------- */

struct dispose_run {
	bool completed;           /* plan made (and, unless a dry run, carried out) */
	struct dispose_plan plan; /* valid when completed */
	struct dispose_result res; /* all 0 for a dry run; res.resumed as below */
};

/* One disposal run: finishes interrupted runs first (dispose_resume; not in
 * a dry run), catches the index up, plans at pv_clock_now(), and unless
 * dry_run carries the plan out (dispose_execute: audited inside, intent
 * before anything is destroyed). Under the two-person rule only a dry run
 * is allowed here (PV_EPERM otherwise): a real run is a frozen plan that a
 * second person approves (dispose_frozen.h, approvals.h). A dry run changes nothing and is not
 * audited (it shows retention metadata, no content). When expired messages
 * lost their content without a disposal record, they are not disposed of
 * and the run returns PV_EINTEGRITY with run_r->completed set (the plan
 * lists them as blocked). run_r is owned by the caller
 * (dispose_run_free), also after an error. */
int archive_dispose(struct archive *ar, const char *actor, bool dry_run, struct dispose_run *run_r,
		    struct pv_error *err);
void dispose_run_free(struct dispose_run *run);

/* PV_EINTEGRITY ("N expired messages have lost content ...") when plan
 * holds expired messages whose content is gone without a disposal record. */
int dispose_check_missing(const struct dispose_plan *plan, struct pv_error *err);

/* Removes the packs whose every message is disposed of (pack.h's
 * pack_remove_unused, after the store's legal holds follow the holds):
 * what a run does after its done record, and what `popvault dispose`
 * does when nothing is due, for packs an object store's lock kept
 * earlier. A pack the store refuses to remove is logged and kept. */
int dispose_remove_packs(struct archive *ar, struct pv_error *err);

#endif
