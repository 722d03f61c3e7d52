#ifndef PV_VERIFY_POOL_H
#define PV_VERIFY_POOL_H

/* verify's content checks on worker threads, one per core (ARCHITECTURE.md
 * §4). The main thread walks the catalog and the logs (the only thread
 * that touches SQLite, and the only one that reads the pack store: it
 * opens each record's bytes, attest_open, so an object store's GETs stay
 * on it) and hands each message's content check to a worker, which only
 * preads what was opened: without --full, the record's bytes against its id; with it, the
 * record opened (attest_content: hashed against its id, authenticated,
 * decrypted, hashed against the catalog and the leaf's commitment) and
 * classified under its policy version. Jobs come back in the order they
 * were handed in, each with the report lines of its message (the main
 * thread's checks first, then the worker's), so the report reads as one
 * thread would write it. */

#include <stdbool.h>
#include <stdint.h>

#include "archiver/archive/attest.h"
#include "archiver/lib/buf.h"
#include "archiver/lib/error.h"
#include "archiver/store/message.h"

struct verify_job {
	struct stored_message m;
	struct archive_leaf leaf;
	bool content;       /* a check for a worker (else only the lines) */
	bool full;          /* open the record (else its hash only) */
	unsigned char key[BLOB_KEY_BYTES], salt[BLOB_SALT_BYTES]; /* full: wiped by the worker */
	struct blob_opened src; /* the record, opened (attest_open); closed by the worker */
	const struct policy *policy; /* full: classify under it (NULL: do not) */
	int64_t policy_version;
	/* Report lines, each 'F' (a problem) or 'n' (a note), the text and a
	 * NUL; lost counts problems that did not fit (never dropped from the
	 * count). */
	struct pv_buf lines;
	int64_t lost;
	bool decrypted;     /* out: the record opened and matched its leaf */
};

/* Adds one line to j ('F' or 'n'). */
void verify_job_line(struct verify_job *j, char kind, const char *text);

typedef void verify_job_done_fn(void *ctx, struct verify_job *j);

struct verify_pool;

/* Starts one worker per online CPU (at most 16). */
int verify_pool_new(const char *data_dir, struct verify_pool **p_r, struct pv_error *err);
/* The next job, emptied, for the caller to fill; finished jobs ahead of
 * it go to done() first, in order (waiting when every slot is taken).
 * done NULL: none is reported yet, and a slot must be free
 * (!verify_pool_full). */
struct verify_job *verify_pool_next(struct verify_pool *p, verify_job_done_fn *done, void *ctx);
/* Whether every slot is taken (the next verify_pool_next would wait). */
bool verify_pool_full(struct verify_pool *p);
/* Hands j (from verify_pool_next) over: to a worker when j->content. */
void verify_pool_submit(struct verify_pool *p, struct verify_job *j);
/* Waits for every job handed in; done() for each, in order. */
void verify_pool_drain(struct verify_pool *p, verify_job_done_fn *done, void *ctx);
/* Stops the workers (after verify_pool_drain, or abandoning the jobs),
 * wipes the jobs, frees. */
void verify_pool_free(struct verify_pool **p);

#endif
