#ifndef PV_AUDITLOG_H
#define PV_AUDITLOG_H

/* The audit log (ARCHITECTURE.md §5, ARCHITECTURE.md §5): one leaf of the "audit"
 * tlog per action, appended BEFORE the action takes effect, with a signed
 * checkpoint over it in the same transaction (ARCHITECTURE.md §1 invariant 4:
 * audit first, fail closed).
 *
 * For commands, the one call to make is the wrapper in
 * archiver/archive/audit_hook.h:
 *
 *   int archive_audit(struct archive *ar, const char *actor, const char *type,
 *                     const char *object, const char *outcome,
 *                     const char *personal, struct pv_error *err);
 *
 *   e.g. archive_audit(ar, ctx->actor, AUDIT_HOLD_PLACE, "hold=matter-7",
 *                      "ok", query_text, err)
 *
 * It returns 0 once the entry and its checkpoint are appended (committed,
 * or part of the caller's open transaction). Any other return: the action
 * MUST NOT happen; report err (it starts with "audit log:").
 *
 * A leaf is canonical text (one spelling per entry, parsed strictly):
 *
 *   popvault/audit/v1
 *   seq <leaf index, decimal>
 *   time <RFC 3339 UTC, seconds: 2026-11-22T10:00:00Z>
 *   actor <cli:USER | web:USER | system>
 *   type <event type, [a-z0-9-]{1,32}>
 *   object <the ids acted on, by convention "key=value key=value">
 *   outcome <ok | denied: why | failed: why | ...>
 *   commit <hex BLAKE2b-256 keyed by a random 32-byte salt over the
 *           personal data> | -
 *
 * Values are UTF-8; the bytes 0x00-0x1F, 0x7F and '%' are written %XX
 * (uppercase hex) and only those. Personal data (search query text,
 * addresses) never enters the leaf: it is kept with its salt in the side
 * table audit_personal(seq, salt, data), so the log can be shared without
 * it, and a bundle that carries the side data lets anyone check it
 * against the commitment.
 *
 * Key-rotation notes (audit/keys.h) are also leaves of this log; the
 * parser recognises them (AUDIT_ENTRY_ROTATION).
 *
 * Tables (auditlog_schema_sql), in the database of the audit tlog:
 *   audit_personal(seq, salt, data)   the side table
 *   audit_event(seq, time, type, actor) an index for --since/--until; never
 *                                     trusted: listings re-read the leaves. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/buf.h"
#include "archiver/lib/error.h"
#include "audit/note.h"
#include "audit/tlog.h"

/* Event types (the `type` field). Keep in step with ARCHITECTURE.md §5. */
#define AUDIT_INIT "init"
#define AUDIT_HARVEST_BATCH "harvest-batch"           /* account, message ids, archive size */
#define AUDIT_UPSTREAM_DELETE "upstream-delete"       /* cites an archive checkpoint size */
#define AUDIT_UPSTREAM_DELETE_CONFIRMED "upstream-delete-confirmed" /* QUIT +OK, proven gone */
#define AUDIT_UPSTREAM_RESIDUE "upstream-residue"     /* deleted, still upstream */
#define AUDIT_ACCOUNT_ADD "account-add"
#define AUDIT_ACCOUNT_CHANGE "account-change"
#define AUDIT_ACCOUNT_REMOVE "account-remove"
#define AUDIT_ACCOUNT_TEST "account-test"         /* a connection test; outcome ok / failed: why */
#define AUDIT_HARVEST_REQUEST "harvest-request"   /* "harvest now": account=NAME or account=* */
#define AUDIT_USER_ADD "user-add"
#define AUDIT_USER_CHANGE "user-change"
#define AUDIT_USER_REMOVE "user-remove"
#define AUDIT_LOGIN "login"
#define AUDIT_LOGIN_FAILED "login-failed"
#define AUDIT_LOGOUT "logout"
#define AUDIT_SEARCH "search"     /* object: results=N[+] shown=N ids-sha256=HEX (+: more
                                      than N); personal: the query */
#define AUDIT_VIEW "view"         /* object: message=ID */
#define AUDIT_DOWNLOAD "download" /* a file handed out: message=ID part=N, export=ID */
#define AUDIT_MATTER "matter"     /* a matter made, a search saved; personal: names, query */
#define AUDIT_EXPORT "export"     /* eDiscovery export; personal: query, matter */
#define AUDIT_EXPORT_DONE "export-done" /* the bundle written: its SHA-256 and size */
#define AUDIT_EXPORT_REMOVE "export-remove" /* a kept bundle removed: export=ID sha256=HEX reason=R */
#define AUDIT_AUDIT_EXPORT "audit-export" /* this log's own export */
#define AUDIT_POLICY_SET "policy-set"     /* object: version=N sha256=HEX */
/* A web dry run of a policy text: its counts per rule follow from what the
 * mail holds (a rule on a subject), so each is audited first. object:
 * sha256=HEX bytes=N (of the text); personal: the text. */
#define AUDIT_POLICY_DRY_RUN "policy-dry-run"
#define AUDIT_HOLD_PLACE "hold-place"
#define AUDIT_HOLD_RELEASE "hold-release"
#define AUDIT_DISPOSE_INTENT "dispose-intent"
#define AUDIT_DISPOSE_ITEM "disposal-item" /* one per message of an intent: its justification */
/* A message of an intent not destroyed after all: reason=held hold=N (a
 * hold placed since) or reason=policy policy=N (another version in force). */
#define AUDIT_DISPOSE_SPARED "disposal-spared"
#define AUDIT_DISPOSE_DONE "dispose-done"
#define AUDIT_KEY_ROTATION "key-rotation"
/* Several harvesters, one identity (archiver/archive/identity.h): the
 * keys written out (out=FILE keys=...), a harvester enrolled
 * (site=HOST:DIR), a rotated key installed on one (site=HOST:DIR keys=...). */
#define AUDIT_IDENTITY_EXPORT "identity-export"
#define AUDIT_IDENTITY_JOIN "identity-join"
#define AUDIT_IDENTITY_UPDATE "identity-update"
#define AUDIT_VERIFY "verify"     /* after the run; outcome ok / failed: N problems */
#define AUDIT_HEARTBEAT "heartbeat"
/* A checkpoint shown to a party outside the box (archiver/archive/anchor.h):
 * log=L size=N checkpoint=S party=tsa|WITNESS ...; outcome ok / failed: why. */
#define AUDIT_ANCHOR "anchor"
/* migrate --to-store (archiver/archive/migrate.h): before, store=URL packs=N
 * legacy-blobs=N and both logs' size and root; done: what went. */
#define AUDIT_STORE_MIGRATE "store-migrate"
#define AUDIT_STORE_MIGRATE_DONE "store-migrate-done"
/* migrate --to-catalog (archiver/archive/migrate_catalog.h): before, in
 * the SQLite catalog (so the copy carries it), catalog=URL and both logs'
 * size and root; done, in the PostgreSQL catalog: tables=N rows=N. */
#define AUDIT_CATALOG_MIGRATE "catalog-migrate"
#define AUDIT_CATALOG_MIGRATE_DONE "catalog-migrate-done"
#define AUDIT_HARVEST_PAUSE "harvest-pause"   /* reason=disk-low free=N reserve=N */
#define AUDIT_HARVEST_RESUME "harvest-resume" /* reason=disk-low free=N reserve=N */
#define AUDIT_CLOCK_STEP "clock-step" /* the clock went back: from=T to=T back=Ns (system) */
/* The two-person rule (archiver/archive/approvals.h); personal: the reason. */
#define AUDIT_APPROVAL_PROPOSE "approval-propose" /* approval=N kind=K sha256=HEX role=R */
#define AUDIT_APPROVAL_APPROVE "approval-approve" /* approval=N kind=K proposer=A role=R */
#define AUDIT_APPROVAL_REJECT "approval-reject"
#define AUDIT_BREAK_GLASS "break-glass" /* an approval without a second person (CLI only) */
#define AUDIT_DOWNLOAD "download" /* a file handed out: what, its SHA-256 and size */

/* Field limits (bytes, before %XX escaping). */
#define AUDIT_ACTOR_MAX 256
#define AUDIT_TYPE_MAX 32
#define AUDIT_OBJECT_MAX 4096
#define AUDIT_OUTCOME_MAX 1024
#define AUDIT_SALT_LEN 32
#define AUDIT_COMMIT_LEN 32

struct audit_event {
	const char *actor;    /* required */
	const char *type;     /* required, [a-z0-9-]{1,32} */
	const char *object;   /* required; "-" when there is none */
	const char *outcome;  /* required */
	const char *personal; /* may be NULL: UTF-8, at most PV_AUDIT_PERSONAL_MAX bytes */
};

enum audit_entry_kind {
	AUDIT_ENTRY_EVENT,    /* a popvault/audit/v1 leaf */
	AUDIT_ENTRY_ROTATION, /* a signed key-rotation note (audit/keys.h) */
};

/* A parsed leaf. For a rotation, seq is the leaf index given to the
 * parser, time is -1, actor "system", type "key-rotation-note", object
 * "origin=O new=VKEY", outcome "ok" and no commitment. */
struct audit_entry {
	enum audit_entry_kind kind;
	uint64_t seq;
	int64_t time;
	char actor[AUDIT_ACTOR_MAX + 1];
	char type[AUDIT_TYPE_MAX + 1];
	char object[AUDIT_OBJECT_MAX + 1];
	char outcome[AUDIT_OUTCOME_MAX + 1];
	bool has_commit;
	uint8_t commit[AUDIT_COMMIT_LEN];
};

/* The DDL of audit_personal and audit_event (CREATE ... IF NOT EXISTS).
 * A data directory gets them from catalog migration 5 (archiver/store/
 * migrations.h), which runs this text: it is frozen, a change is a new
 * migration. Appending needs the tables; readers treat missing tables as
 * an empty index. */
extern const char auditlog_schema_sql[];

/* A clock that steps back by more than this between two entries is
 * recorded: two processes appending at once may disagree by a second. */
#define AUDITLOG_CLOCK_STEP_S 60

/* Appends ev as the next leaf of `audit` (whose database holds the side
 * tables) and signs a checkpoint (with a time line) with `key`, inside
 * the caller's transaction when one is open, else in its own. When the
 * clock reads more than AUDITLOG_CLOCK_STEP_S before the newest entry's
 * time, a "clock-step" entry (actor "system", object "from=T to=T
 * back=Ns") goes first, in the same transaction: a step is recorded,
 * never mistaken for tampering (checkpoint.h keeps checkpoint times from
 * going back). *seq_r
 * (may be NULL) gets the leaf index. Fails (and changes nothing) on a bad
 * field, a full disk, a locked or read-only database, a key that is not
 * the log's current key: the caller must then not perform the action. */
int auditlog_append(struct tlog *audit, const struct note_signer *key,
		    const struct audit_event *ev, uint64_t *seq_r, struct pv_error *err);

/* The same for n events (n >= 1) as consecutive leaves under ONE signed
 * checkpoint, all or nothing: a disposal's intent with one record per
 * message does not sign a checkpoint per message. *first_r (may be NULL)
 * gets the first leaf index. */
int auditlog_append_batch(struct tlog *audit, const struct note_signer *key,
			  const struct audit_event *evs, size_t n, uint64_t *first_r,
			  struct pv_error *err);

/* --- leaves ------------------------------------------------------------- */

/* BLAKE2b-256 keyed by salt over the personal bytes. */
void auditlog_commitment(const uint8_t salt[AUDIT_SALT_LEN], const void *data, size_t len,
			 uint8_t out[AUDIT_COMMIT_LEN]);
/* The canonical leaf text for ev at (seq, time); commit NULL for none. */
int auditlog_leaf_format(const struct audit_event *ev, uint64_t seq, int64_t time_s,
			 const uint8_t *commit, struct pv_buf *out, struct pv_error *err);
/* Parses leaf `index` (an event leaf must say seq == index). Strict: the
 * exact canonical form or PV_EINTEGRITY. */
int auditlog_leaf_parse(const void *data, size_t len, uint64_t index, struct audit_entry *e_r,
			struct pv_error *err) PV_WARN_UNUSED;

/* One entry as a JSON Lines object ("\n" terminated) / an RFC 4180 CSV row
 * ("\r\n" terminated), appended to out. personal (NULL when absent or
 * withheld) is shown in its own field. Deterministic: verifiers regenerate
 * these bytes from the leaves and compare. Keys: seq, time, actor, type,
 * object, outcome, commit, personal. CSV cells that a spreadsheet would
 * run as a formula (starting with = + - @ TAB CR) get a leading "'". */
int auditlog_entry_json(const struct audit_entry *e, const char *personal, size_t plen,
			struct pv_buf *out, struct pv_error *err);
int auditlog_entry_csv(const struct audit_entry *e, const char *personal, size_t plen,
		       struct pv_buf *out, struct pv_error *err);
/* A personal-data record for bundles, one JSON Lines object:
 * {"seq":N,"salt":"<hex>","data":"<text>"}\n */
int auditlog_personal_json(uint64_t seq, const uint8_t salt[AUDIT_SALT_LEN], const char *data,
			   size_t len, struct pv_buf *out, struct pv_error *err);
#define AUDITLOG_CSV_HEADER "seq,time,actor,type,object,outcome,commit,personal\r\n"

/* --- reading ------------------------------------------------------------ */

struct auditlog_filter {
	int64_t since, until; /* unix seconds, inclusive; INT64_MIN / INT64_MAX for open */
	const char *actor;    /* exact match, or NULL */
	const char *type;     /* exact match, or NULL */
};

/* Leaf index range [*lo_r, *hi_r) holding the entries from `since` to
 * `until` (by the audit_event index: the first entry at or after since,
 * up to the last at or before until; a contiguous range of the log). */
int auditlog_range(struct tlog *audit, int64_t since, int64_t until, uint64_t *lo_r,
		   uint64_t *hi_r, struct pv_error *err);

/* Calls fn for every entry of the range that passes the filter, in log
 * order, after parsing its leaf (a leaf that does not parse is an
 * integrity failure). personal is the side data (NULL when none). */
typedef int (*auditlog_entry_fn)(void *ctx, const struct audit_entry *e, const char *personal,
				 size_t plen);
int auditlog_list(struct tlog *audit, const struct auditlog_filter *f, auditlog_entry_fn fn,
		  void *ctx, struct pv_error *err);

/* The leaf indexes of the entries below `before` whose type is one of
 * types[0..ntypes) (1 <= ntypes <= AUDITLOG_TYPES_MAX), newest first, at
 * most max of them, into seqs_r (room for max) and their number into
 * *n_r. By the audit_event index: callers read and parse the leaves
 * before trusting them. */
#define AUDITLOG_TYPES_MAX 8
int auditlog_seqs_of_types(struct tlog *audit, const char *const *types, size_t ntypes,
			   uint64_t before, size_t max, uint64_t *seqs_r, size_t *n_r,
			   struct pv_error *err);

/* Whether db holds the audit log's index and side table (a SQLite file
 * from before catalog migration 5 may not); readers take "no" as an
 * empty index. */
bool auditlog_has_index(struct db *db);

/* The side data of leaf seq: salt and data (appended to data_r).
 * PV_ENOTFOUND when the entry has none. */
int auditlog_personal(struct tlog *audit, uint64_t seq, uint8_t salt_r[AUDIT_SALT_LEN],
		      struct pv_buf *data_r, struct pv_error *err);

/* --- checking the whole log (for `popvault verify`) ------------------------ */

/* A gap longer than this between consecutive entries means heartbeats
 * (every 15 minutes, ARCHITECTURE.md §4) were not running. */
#define AUDITLOG_HEARTBEAT_GAP_S (30 * 60)
#define AUDITLOG_GAPS_KEPT 10

struct auditlog_gap {
	uint64_t from_seq, to_seq;
	int64_t from, to; /* unix seconds */
};

struct auditlog_check_report {
	uint64_t entries, rotations, personal;
	uint64_t gaps; /* all of them; the first AUDITLOG_GAPS_KEPT are listed */
	struct auditlog_gap gap[AUDITLOG_GAPS_KEPT];
	int64_t last_time; /* of the newest entry, -1 when none */
	uint64_t clock_steps;       /* clock-step entries */
	uint64_t clock_step_seq;    /* the first one's seq ... */
	char clock_step[128];       /* ... and object */
};

/* The gaps longer than gap_s between consecutive entries (in log order)
 * and the newest entry's time (-1 when none), from the audit_event time
 * index: quick, for status pages and metrics. It is not the evidence:
 * auditlog_check counts the gaps over the leaves themselves. */
int auditlog_index_gaps(struct tlog *audit, int64_t gap_s, uint64_t *gaps_r, int64_t *last_r,
			struct pv_error *err);

/* Reads every leaf (the Merkle checks are tlog_verify's): each must parse
 * strictly (an event's seq equal to its index, or a key-rotation note);
 * every side-table row must belong to an entry with a commitment and
 * match it; every commitment must have its row. problem() gets each
 * problem found. Heartbeat gaps and clock-step entries are reported in
 * rep, not as problems. */
int auditlog_check(struct tlog *audit, void (*problem)(void *ctx, const char *msg), void *ctx,
		   struct auditlog_check_report *rep, struct pv_error *err);

#endif
