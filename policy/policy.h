#ifndef PV_POLICY_H
#define PV_POLICY_H

/* Retention policies (ARCHITECTURE.md §6): a small text language, its canonical
 * form and hash, evaluation over a plain description of a message, and the
 * pure decisions built on it (disposal, impact of a new version).
 *
 * Nothing here reads the clock, the catalog or the network: times come in
 * as unix seconds (UTC) from the caller (pv_clock_now() in the binary).
 * The grammar, with examples, is in policy/README.md. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/buf.h"
#include "archiver/lib/error.h"
#include "archiver/lib/limits.h"

struct policy;

/* ---- parsing ---------------------------------------------------------- */

/* One diagnostic: 1-based line and column (columns count characters,
 * a tab is one; line 0 when the whole file is refused, e.g. over the size
 * cap). msg is "expected ..., found ..." or similar, without the position;
 * err->msg carries the first one as "line L, column C: msg" and, when
 * there are more, " (and N more errors)". */
#define POLICY_DIAG_MSG_MAX 240
struct policy_diag {
	uint32_t line;
	uint32_t column;
	char msg[POLICY_DIAG_MSG_MAX];
};

struct policy_diags {
	size_t count;   /* diagnostics in item[] */
	bool truncated; /* more errors existed than PV_POLICY_ERRORS_MAX */
	struct policy_diag item[PV_POLICY_ERRORS_MAX];
};

/* Parses and validates len bytes of policy text (not NUL-terminated; a NUL
 * byte is an error). On success *policy_r is a new policy the caller frees
 * with policy_free(); it keeps its own copy of the bytes. On failure
 * *policy_r is NULL, err says why (first error with its position), and
 * diags_r (may be NULL) lists up to PV_POLICY_ERRORS_MAX errors.
 * Returns 0, PV_ERR (syntax or validation error) or PV_ELIMIT (input over
 * PV_POLICY_FILE_MAX or another cap in limits.h). */
int policy_parse(const void *text, size_t len, struct policy **policy_r,
		 struct policy_diags *diags_r, struct pv_error *err) PV_WARN_UNUSED;

void policy_free(struct policy **p);

/* A safe first policy for `popvault init`: keeps everything forever until
 * an admin decides otherwise (no disposal without a human decision). */
extern const char policy_initial_text[];

/* ---- canonical form and hash ----------------------------------------- */

/* Appends the canonical text of p to out: comments dropped, one rule per
 * line, single spaces, minimal parentheses, sizes in the largest exact unit,
 * "then dispose" omitted (it is the default). policy_parse() of the result
 * gives a policy with the same canonical text. PV_ELIMIT if out's max is
 * too small (4 * PV_POLICY_FILE_MAX is always enough). */
int policy_format(const struct policy *p, struct pv_buf *out, struct pv_error *err)
	PV_WARN_UNUSED;

#define POLICY_HASH_LEN 32
#define POLICY_HASH_HEX_LEN 65 /* 64 hex digits and NUL */

/* SHA-256 of the exact bytes that were parsed (comments and all): this is
 * the hash the audit log records for a stored version. */
void policy_hash(const struct policy *p, unsigned char out[POLICY_HASH_LEN]);
void policy_hash_hex(const struct policy *p, char out[POLICY_HASH_HEX_LEN]);
/* The same over any bytes, for versions stored before this process. */
void policy_hash_bytes(const void *text, size_t len, unsigned char out[POLICY_HASH_LEN]);
/* The exact bytes p was parsed from (borrowed; valid until policy_free). */
const unsigned char *policy_source(const struct policy *p, size_t *len_r);

/* ---- rules ------------------------------------------------------------ */

enum policy_action {
	POLICY_ACTION_DISPOSE = 0, /* destroy after expiry ("then dispose") */
	POLICY_ACTION_REVIEW = 1,  /* a person decides after expiry ("then review") */
};

struct policy_retention {
	bool forever;     /* "retain forever": never expires */
	char unit;        /* 'd', 'm' or 'y'; 0 when forever */
	uint32_t amount;  /* 1 ..; 0 when forever */
	enum policy_action action;
};

/* The name of the default rule's retention class. */
#define POLICY_DEFAULT_CLASS "default"

/* Rules in order, the default rule last (count >= 1 for a parsed policy). */
size_t policy_rule_count(const struct policy *p);
/* Rule i's name, i.e. its retention class; "default" for the last one.
 * Borrowed from p. i must be < policy_rule_count(p). */
const char *policy_rule_name(const struct policy *p, size_t i);
void policy_rule_retention(const struct policy *p, size_t i, struct policy_retention *r);
/* Index of the rule named name, or -1. */
long policy_rule_find(const struct policy *p, const char *name);

const char *policy_action_name(enum policy_action a); /* "dispose" / "review" */

/* ---- evaluation ------------------------------------------------------- */

/* A header as the message carries it, unfolded and RFC 2047-decoded by the
 * caller. Names compare case-insensitively (RFC 5322 §1.2.2). */
struct policy_header {
	const char *name;
	const char *value;
};

/* A message as the policy sees it. Strings are NUL-terminated UTF-8 and
 * borrowed. Addresses are bare addr-specs ("alice@example.com", no display
 * name, no angle brackets); the domain is the part after the last '@'.
 * NULL account/subject count as ""; a NULL from matches no address test. */
struct policy_message {
	const char *account;              /* upstream account name */
	const char *from;
	const char *const *to;
	size_t n_to;
	const char *const *cc;
	size_t n_cc;
	const char *const *bcc;
	size_t n_bcc;
	const char *subject;
	const struct policy_header *headers;
	size_t n_headers;
	uint64_t size;                    /* bytes as archived */
	bool has_attachment;
	int64_t received_at;              /* unix seconds, UTC */
};

#define POLICY_NEVER INT64_MAX

struct policy_result {
	const char *rule;          /* retention class (borrowed from the policy) */
	size_t rule_index;         /* position of the matching rule */
	bool forever;
	int64_t expires_at;        /* unix seconds; POLICY_NEVER when forever */
	enum policy_action action; /* what happens after expiry */
};

/* First rule (top to bottom) whose condition holds for m; the default rule
 * if none. Fails (PV_ERR) only when m->received_at is outside years
 * 1..9999. */
int policy_evaluate(const struct policy *p, const struct policy_message *m,
		    struct policy_result *r, struct pv_error *err) PV_WARN_UNUSED;

/* ---- evaluation that can be re-derived after the content is gone ------ */

/* Content tests are the conditions only a message's bytes answer: the
 * address fields, subject, header and has:attachment. account, size and
 * received_at are facts the archive log signs for every message (its leaf
 * names the mailbox, size and time). A trace holds the outcome of each
 * content test in the order evaluation asked it (left to right, stopping
 * as soon as an `and`/`or` is decided), so the matching rule can be
 * re-derived from the signed facts and the trace once the content is
 * shredded. It holds no content: only true/false per test. */
#define POLICY_TRACE_MAX PV_POLICY_TERMS_MAX
struct policy_trace {
	uint32_t n; /* tests recorded */
	uint8_t bits[(POLICY_TRACE_MAX + 7) / 8];
};

/* policy_evaluate, recording the content tests in *trace_r. PV_ELIMIT if
 * more than POLICY_TRACE_MAX were asked (a parsed policy cannot). */
int policy_evaluate_traced(const struct policy *p, const struct policy_message *m,
			   struct policy_result *r, struct policy_trace *trace_r,
			   struct pv_error *err) PV_WARN_UNUSED;
/* Re-derives the result from the facts (only account, size and
 * received_at of `facts` are read) with every content test answered by
 * the trace. PV_EINTEGRITY when the trace does not fit the policy and the
 * facts: it runs out, or tests are left over. */
int policy_evaluate_replay(const struct policy *p, const struct policy_message *facts,
			   const struct policy_trace *trace, struct policy_result *r,
			   struct pv_error *err) PV_WARN_UNUSED;
/* The result when the facts alone (account, size, received_at of
 * `facts`) decide it, whatever the message's content: PV_OK and *r as
 * policy_evaluate would give for any content. PV_ENOTFOUND when a content
 * test could change which rule matches: then the content must be parsed
 * and policy_evaluate run on it (ingest skips the parse otherwise). */
int policy_evaluate_facts(const struct policy *p, const struct policy_message *facts,
			  struct policy_result *r, struct pv_error *err) PV_WARN_UNUSED;
/* Whether any rule tests the content (addresses, subject, headers,
 * attachments): when none does, policy_evaluate_facts decides every
 * message, and ingest keeps no copy of a message's head to parse. */
bool policy_reads_content(const struct policy *p);
/* Whether rule i can be the first match of some message with these facts
 * (account, size, received_at), whatever its content: no earlier rule's
 * condition holds on the facts alone, and rule i's does not fail on them. */
bool policy_rule_possible(const struct policy *p, const struct policy_message *facts, size_t i);

/* A trace as text: "0" when no test was asked, else "N:HEX" (N tests, then
 * their outcomes as bits, the first in the top bit of the first hex digit,
 * lower-case, unused bits zero). Parsing is strict (PV_EINTEGRITY). */
#define POLICY_TRACE_TEXT_MAX (8 + (POLICY_TRACE_MAX + 3) / 4)
int policy_trace_format(const struct policy_trace *t, char *out, size_t n);
int policy_trace_parse(const char *s, size_t len, struct policy_trace *t_r) PV_WARN_UNUSED;

/* received_at + retention, calendar-correct in UTC: days are 86400 s;
 * months and years keep the time of day and clamp the day to the end of a
 * shorter month (Jan 31 + 1m = Feb 28/29; Feb 29 + 1y = Feb 28).
 * POLICY_NEVER when forever. PV_ERR when received_at is outside years
 * 1..9999 or the retention is not one a parsed policy can hold. */
int policy_expiry(int64_t received_at, const struct policy_retention *ret,
		  int64_t *expires_r, struct pv_error *err) PV_WARN_UNUSED;

/* Formats unix seconds as RFC 3339 UTC ("2031-02-28T10:00:00Z"), years up
 * to 5 digits; "never" for POLICY_NEVER. */
#define POLICY_TIME_LEN 32
void policy_format_time(int64_t t, char out[POLICY_TIME_LEN]);

/* The matcher behind '~': '*' any run of characters (also empty), '?' one
 * character (one UTF-8 sequence), '\' makes the next character literal;
 * ASCII letters compare case-insensitively. Whole-string match. */
bool policy_glob_match(const char *pattern, const char *text);

/* ---- disposal decision ------------------------------------------------ */

enum policy_verdict {
	POLICY_VERDICT_KEEP = 0,
	POLICY_VERDICT_DISPOSE = 1,
};

enum policy_reason {
	POLICY_REASON_HELD,        /* a legal hold covers it: holds beat every rule */
	POLICY_REASON_FOREVER,     /* retained forever */
	POLICY_REASON_NOT_EXPIRED, /* now < expires_at */
	POLICY_REASON_REVIEW,      /* expired, rule says "then review": a person decides */
	POLICY_REASON_EXPIRED,     /* expired, rule says "then dispose" */
};

/* What the catalog knows about one message. holds: names of the matters
 * whose holds cover it (borrowed), n_holds 0 when none. */
struct policy_disposal_input {
	bool forever;
	int64_t expires_at;
	enum policy_action action;
	const char *const *holds;
	size_t n_holds;
};

#define POLICY_REASON_TEXT_MAX 192
struct policy_decision {
	enum policy_verdict verdict;
	enum policy_reason reason;
	/* "held by matter X", "retained forever", "not expired until T",
	 * "review required (expired T)", "expired T" */
	char text[POLICY_REASON_TEXT_MAX];
};

/* Dispose only when expired (now >= expires_at), not forever, not held and
 * the rule says dispose. Returns d_r->verdict. */
enum policy_verdict policy_decide(const struct policy_disposal_input *in, int64_t now,
				  struct policy_decision *d_r) PV_WARN_UNUSED;

/* ---- impact of a new policy version ----------------------------------- */

/* Per rule of the new policy: how the messages it now governs moved. */
struct policy_impact_row {
	const char *rule;        /* borrowed from the new policy; "total" for the sum */
	uint64_t messages;       /* messages the rule now governs */
	uint64_t shorter;        /* new expiry earlier than old */
	uint64_t longer;         /* new expiry later than old (forever is latest) */
	uint64_t unchanged;
	uint64_t unevaluated;    /* no old result (never evaluated before) */
	uint64_t reclassified;   /* old retention class differs from this rule */
	uint64_t newly_due;      /* expired at `now` under the new rule, not under the old */
};

struct policy_impact;

/* An accumulator for the impact of new_policy (borrowed; must outlive it). */
int policy_impact_new(const struct policy *new_policy, int64_t now,
		      struct policy_impact **imp_r, struct pv_error *err) PV_WARN_UNUSED;
/* Adds one message: old is what the catalog stored (only rule, forever and
 * expires_at are read; NULL when never evaluated), new_r what
 * policy_evaluate() gave under new_policy. PV_ERR if new_r is not a result
 * of new_policy. */
int policy_impact_add(struct policy_impact *imp, const struct policy_result *old,
		      const struct policy_result *new_r, struct pv_error *err) PV_WARN_UNUSED;
/* Rows in rule order, one per rule of the new policy (also empty ones). */
size_t policy_impact_rows(const struct policy_impact *imp);
const struct policy_impact_row *policy_impact_row(const struct policy_impact *imp, size_t i);
void policy_impact_total(const struct policy_impact *imp, struct policy_impact_row *total_r);
/* Appends a plain-text table (header, one line per rule, a total line). */
int policy_impact_format(const struct policy_impact *imp, struct pv_buf *out,
			 struct pv_error *err) PV_WARN_UNUSED;
void policy_impact_free(struct policy_impact **imp);

/* ---- does a new version shorten retention? ---------------------------- */

/* Whether some message — archived already or still to come — could be
 * kept for a shorter time, or lose a "then review", under new_p than under
 * old_p (the two-person rule, archiver/archive/approvals.h). Decided from
 * the rules alone, conservatively: for every pair (old rule i, new rule j)
 * that one message could have as its first matches, new j must keep at
 * least as long as old i, for every receipt date. A pair is ruled out only
 * when a condition is textually the same (canonical form) as an earlier
 * rule's of the other version: a message matching new j's condition
 * matches that old rule, so it cannot reach an old rule after it (and the
 * other way round). So re-ordering or rewording rules counts as shortening
 * unless every rule that could take the mail keeps it as long.
 * Durations: days against days and months against months (a year is 12
 * months) compare by amount; days against months by the longest and
 * shortest span the months can have (28..31 days a month); "forever" is
 * the longest; "then review" is longer than "then dispose" after the same
 * time. why_r gets the first shortening pair in words. */
#define POLICY_SHORTEN_WHY_MAX 384
struct policy_shortening {
	bool shortens;
	size_t pairs;                       /* (old rule, new rule) pairs that shorten */
	char why[POLICY_SHORTEN_WHY_MAX];   /* the first of them, "" when none */
};
int policy_compare(const struct policy *old_p, const struct policy *new_p,
		   struct policy_shortening *res_r, struct pv_error *err) PV_WARN_UNUSED;

/* "retain 7y then review", "retain forever", as written in a policy. */
#define POLICY_RETENTION_TEXT_MAX 48
void policy_retention_text(const struct policy_retention *ret, char out[POLICY_RETENTION_TEXT_MAX]);

#endif
