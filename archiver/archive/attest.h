#ifndef PV_ATTEST_H
#define PV_ATTEST_H

/* The catalog checked against what is signed (ARCHITECTURE.md §1.5, §4): the
 * catalog is a working copy that someone who can write the data
 * directory can edit; the archive leaves, the audit log and the content
 * itself cannot be changed without the signatures or hashes showing it.
 * `dispose` runs these checks before it acts and refuses on any problem;
 * `verify` reports every problem. Each problem names the object and the
 * field: "message 18: size: ...", "policy version 2: text: ...",
 * "hold 1: query: ...".
 *
 * What each check trusts:
 * - policy versions: the text stored in the catalog must hash to the
 *   SHA-256 its policy-set entry in the audit log recorded;
 * - holds: name, query and note must be what the hold-place entry
 *   committed to (salted commitment, side data), released only when a
 *   hold-release entry says so;
 * - a message row: its account, received time, class as archived, size
 *   (v2 leaves) and blob against its archive leaf; its class and expiry
 *   against the policy version it names (the class must be one the
 *   leaf's facts allow, the expiry that rule's retention from the leaf's
 *   time); its bucket against what the keyring made that bucket for;
 * - with the content (attest_read): the catalog's SHA-256 and size and
 *   the leaf's commitment and size against the decrypted bytes, and the
 *   class and expiry that the policy gives those bytes (attest_classify). */

#include <stdbool.h>
#include <stdint.h>

#include "archiver/archive/evidence.h"
#include "archiver/archive/retention.h"
#include "archiver/lib/buf.h"
#include "archiver/lib/error.h"
#include "archiver/store/datadir.h"
#include "archiver/store/leaf.h"
#include "archiver/store/message.h"
#include "policy/policy.h"

/* Gets each problem, formatted. */
typedef void (*attest_problem_fn)(void *ctx, const char *msg);

/* Every stored policy version, checked against the audit log and parsed.
 * A version whose text does not match (or that is missing from one side)
 * is reported and left without a policy. */
struct attest_policies {
	size_t n;
	struct attest_policy {
		int64_t version;
		struct policy *p;  /* NULL: unusable (reported) */
		char sha256[65];   /* as the audit log recorded it */
	} *v;
	int64_t current;       /* highest version recorded in the audit log (0: none) */
};

int attest_policies_load(struct db *db, const struct evidence *ev, struct attest_policies *ap_r,
			 attest_problem_fn problem, void *ctx, struct pv_error *err);
/* Version's parsed policy, or NULL (unknown or unusable). */
const struct attest_policy *attest_policy(const struct attest_policies *ap, int64_t version);
void attest_policies_free(struct attest_policies *ap);

/* Every hold in the catalog against its hold-place and hold-release
 * entries, and every hold the audit log records against the catalog. */
int attest_holds(struct archive *ar, const struct evidence *ev, attest_problem_fn problem,
		 void *ctx, struct pv_error *err);

/* One catalog row against its archive leaf (leaf->seq == m->id), the
 * policy version it names (skipped when ap is NULL) and its key bucket,
 * without the content. Returns the number of problems reported. */
int attest_row(struct archive *ar, const struct attest_policies *ap, const struct stored_message *m,
	       const struct archive_leaf *leaf, attest_problem_fn problem, void *ctx);

/* Reads live message m's exact bytes into raw (reset first; max >= size):
 * unwrapped, authenticated, and checked against the commitment in its
 * leaf; then the catalog's sha256 and size, and the leaf's size, against
 * them. Missing content is PV_ENOTFOUND, content that does not open or
 * match its leaf PV_EINTEGRITY (err says why); a catalog column or leaf
 * size that differs from the real bytes is reported (problem) and counted
 * in *mismatches_r, with PV_OK: the bytes themselves are good.
 * attest_unwrap, attest_open, then attest_content. */
int attest_read(struct archive *ar, const struct stored_message *m, const struct archive_leaf *leaf,
		struct pv_buf *raw, attest_problem_fn problem, void *ctx, int *mismatches_r,
		struct pv_error *err) PV_WARN_UNUSED;

/* The first half of attest_read, the part that reads the catalog: m's
 * message key and commitment salt (the caller wipes them). Errors as
 * attest_read's for a gone reference, wrapped key or bucket key. */
int attest_unwrap(struct archive *ar, const struct stored_message *m,
		  unsigned char key_r[BLOB_KEY_BYTES], unsigned char salt_r[BLOB_SALT_BYTES],
		  struct pv_error *err) PV_WARN_UNUSED;

/* Then, on the same thread: m's record opened in the pack store
 * (store/blob.h blob_open_at; with an object store a GET); errors as
 * attest_read's for missing content. The caller closes *o_r
 * (blob_opened_close). */
int attest_open(struct archive *ar, const struct stored_message *m, struct blob_opened *o_r,
		struct pv_error *err) PV_WARN_UNUSED;

/* The second half: the content checks on what attest_open opened,
 * touching no database and no network (verify runs it on worker
 * threads). Only the first `keep` bytes of the message go to raw
 * (SIZE_MAX: all of it), the whole message is hashed; *len_r gets its
 * length. */
int attest_content(const char *data_dir, const struct blob_opened *o, const struct stored_message *m,
		   const struct archive_leaf *leaf, const unsigned char key[BLOB_KEY_BYTES],
		   const unsigned char salt[BLOB_SALT_BYTES], struct pv_buf *raw, size_t keep,
		   uint64_t *len_r, attest_problem_fn problem, void *ctx, int *mismatches_r,
		   struct pv_error *err) PV_WARN_UNUSED;

/* The buffer maximum for reading m: its catalog size cannot be trusted
 * to bound it, so the larger of that and the message size cap. */
size_t attest_read_max(const struct archive *ar, const struct stored_message *m);

/* The retention policy p (stored as version) gives the exact bytes raw
 * with the signed facts: account (its mailbox checked against the leaf),
 * the bytes' own length, the leaf's received time. trace_r (may be NULL)
 * gets the content tests asked; doc_r (may be NULL) the extracted document
 * (for the index; the caller frees it with index_doc_free, also on error).
 * len is the message's length: raw must hold its first
 * min(len, PV_INGEST_READBACK_MAX) bytes (what the policy reads), all of
 * them when doc_r is wanted. With neither trace_r nor doc_r, a policy
 * that reads no content (policy_reads_content) never looks at raw: the
 * facts decide, as at ingest, and nothing is parsed. */
int attest_classify(const struct policy *p, int64_t version, const char *account,
		    const unsigned char *raw, size_t len, int64_t received_at, struct retention *ret_r,
		    struct policy_trace *trace_r, struct index_doc *doc_r,
		    struct pv_error *err) PV_WARN_UNUSED;

/* Compares the catalog's class, expiry and policy version of m with ret
 * (what attest_classify gave); returns the number of problems reported. */
int attest_decision(const struct stored_message *m, const struct retention *ret,
		    attest_problem_fn problem, void *ctx);

/* The archive leaf of m (its index from the catalog), parsed; PV_EINTEGRITY
 * when missing or not m's message leaf. */
int attest_leaf(struct archive *ar, const struct stored_message *m, struct archive_leaf *leaf_r,
		struct pv_error *err) PV_WARN_UNUSED;

#endif
