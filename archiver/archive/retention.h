#ifndef PV_RETENTION_H
#define PV_RETENTION_H

/* The retention of an archived message: its class (the policy rule that
 * matched), its expiry, what happens after it (dispose or review) and the
 * policy version that decided. The class and expiry month pick the
 * message's key bucket (the crypto-shredding unit, ARCHITECTURE.md §4).
 *
 * Decided when the message is archived (retention_decide, under the policy
 * version in force), and again for every message when a new version is set
 * (retention_reapply): a message whose class or expiry month changes has
 * its key re-wrapped under the new bucket, so that destroying a bucket key
 * destroys exactly the mail that expired. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/index/mime.h"
#include "archiver/lib/error.h"
#include "archiver/store/accounts.h"
#include "archiver/store/datadir.h"
#include "policy/policy.h"

struct retention {
	char class_name[128];
	bool forever;
	int64_t expires_at;        /* unix seconds; POLICY_NEVER when forever */
	enum policy_action action; /* after expiry: dispose, or a person reviews */
	int64_t policy_version;    /* 0: no policy stored (built-in: default, 6 years) */
};

/* Decides a new message's retention under the policy version in force
 * (parsed once per process and version, shared by threads).
 * doc: what index_mime_extract found in the message (its first
 * PV_INGEST_READBACK_MAX bytes at least), the same parse the index gets:
 * policy and search see the same addresses, subject and header fields.
 * size: bytes as archived. Without a stored policy: class "default", six
 * years, dispose. */
int retention_decide_msg(struct archive *ar, const struct account *a, const struct index_doc *doc,
			 uint64_t size, int64_t received_at, struct retention *ret_r,
			 struct pv_error *err);

/* "YYYY-MM" of the expiry (UTC), or "never". */
void retention_bucket_month(const struct retention *ret, char out[32]);

/* The live key bucket for ret: (class, expiry month), or, when that
 * bucket's key was destroyed by a disposal, its successor "YYYY-MM+1",
 * "+2", ... (created on first use). Also records the bucket in the
 * catalog's buckets table (inside the caller's transaction if any).
 * label_r gets the bucket's month label. Ingest should use this rather
 * than keyring_bucket() directly, so mail never lands in a shredded bucket. */
#define RETENTION_BUCKET_LABEL_MAX 40
int retention_bucket(struct archive *ar, const struct retention *ret, int64_t *bucket_id_r,
		     char label_r[RETENTION_BUCKET_LABEL_MAX], struct pv_error *err);

/* ---- building blocks (also for policy set, dispose and tests) -------- */

/* A message as policy_evaluate sees it, built from what index_mime_extract
 * found in it (archiver/index/mime.h, the fields after `hidden`): the
 * first From address, every To/Cc/Bcc address (bare addr-specs), the
 * subject as the index has it (trimmed), has_attachment, and the header
 * fields of the top-level header (unfolded, RFC 2047-decoded, control
 * characters turned into spaces, at most PV_RETENTION_HEADERS_MAX). doc
 * NULL: nothing but account, size and time. Borrows doc's strings (doc
 * must outlive rm); free with retention_message_free. Fails only when
 * out of memory. */
struct retention_message {
	struct policy_message m;
	/* private */
	char *subject;
	struct policy_header *headers;
};

int retention_message_init(struct retention_message *rm, const char *account,
			   const struct index_doc *doc, uint64_t size, int64_t received_at,
			   struct pv_error *err);
void retention_message_free(struct retention_message *rm);

/* Evaluates m under policy p (stored as `version`). res_r (may be NULL)
 * gets the raw policy result, for impact reports. */
int retention_evaluate(const struct policy *p, int64_t version, const struct policy_message *m,
		       struct retention *ret_r, struct policy_result *res_r,
		       struct pv_error *err) PV_WARN_UNUSED;

/* The retention a policy result (of a policy stored as version) means. */
void retention_from_result(const struct policy_result *res, int64_t version, struct retention *ret_r);

/* The built-in retention used while no policy is stored. */
int retention_builtin(int64_t received_at, struct retention *ret_r, struct pv_error *err);

/* What retention_reapply did. Messages whose content cannot be read
 * (missing or damaged without a disposal record) keep their old retention
 * and are listed here: the policy change still happens, the loss is
 * reported, and verify reports it too. */
#define RETENTION_UNREADABLE_LIST 20
struct retention_reapply_stats {
	uint64_t evaluated;  /* messages evaluated under the new version */
	uint64_t changed;    /* class or expiry changed */
	uint64_t rewrapped;  /* key moved to another bucket */
	uint64_t unreadable; /* content could not be read: left as they were */
	int64_t unreadable_ids[RETENTION_UNREADABLE_LIST];
};

/* Re-evaluates every message not yet disposed (only_stale: only those
 * decided under another version than `version`) under p, updates the
 * catalog (class, expiry, policy version, bucket and wrapped key) and feeds
 * imp (may be NULL) with old and new results. Runs inside the caller's
 * transaction; new bucket keys are created durably in the keyring first. */
int retention_reapply(struct archive *ar, const struct policy *p, int64_t version, bool only_stale,
		      struct policy_impact *imp, struct retention_reapply_stats *stats_r,
		      struct pv_error *err);

/* Evaluates stored message m under p (stored as `version`) from its own
 * bytes, as ingest did: its first PV_INGEST_READBACK_MAX bytes are read
 * into raw (max PV_INGEST_READBACK_MAX; the caller wipes it), parsed and
 * evaluated into nr_r (and res_r, may be NULL). A message whose content
 * cannot be read (missing or damaged without a disposal record) sets
 * *unreadable_r and returns PV_OK with nr_r unset. */
struct stored_message;
int retention_evaluate_stored(struct archive *ar, const struct policy *p, int64_t version,
			      const struct stored_message *m, struct pv_buf *raw, struct retention *nr_r,
			      struct policy_result *res_r, bool *unreadable_r,
			      struct pv_error *err) PV_WARN_UNUSED;
/* The retention the catalog holds for m (class, expiry, version). */
void retention_of_stored(const struct stored_message *m, struct retention *old_r);

/* Reads a message's exact bytes into out: all of them when out->max >= its
 * size, else the first out->max (every byte is still verified); *size_r
 * gets the number of bytes the message really has (never the catalog's). */
int retention_read_message(struct archive *ar, const struct stored_message *m, struct pv_buf *out,
			   uint64_t *size_r,
			   struct pv_error *err) PV_WARN_UNUSED;

#endif
