#ifndef PV_INDEX_SANDBOX_POOL_H
#define PV_INDEX_SANDBOX_POOL_H

/* Extraction on several parser sandboxes at once (sandbox.h): K slots,
 * each a thread of its own driving a sandbox of its own (started with its
 * first message, kept until the pool is freed), so that K messages are
 * extracted while the caller reads the next one and writes the index: the
 * indexer uses a second core when there is one. Each message still gets
 * a worker process of its own inside its slot's sandbox, so what one
 * message does to its worker touches no other message's result, in
 * whichever slot it ran. Jobs go round the slots in turn, and the caller
 * takes them back in the same turn: in the order they went in. A pool is
 * used by one thread. */

#include <stdbool.h>
#include <stdint.h>

#include "archiver/index/mime.h"
#include "archiver/lib/buf.h"
#include "archiver/lib/error.h"

struct index_pool;

struct index_pool_job {
	int slot;           /* 0..K-1, for the caller's own records of the job */
	int64_t id;         /* the caller's; 0: the slot holds nothing to take */
	bool extract;       /* false: nothing to extract, comes back as it went */
	struct pv_buf raw;  /* the message, filled by the caller (at most PV_INDEX_RAW_MAX) */
	/* The result, once index_pool_next hands the job back: */
	int r;              /* index_sandbox_extract's status; PV_ERR also when no sandbox ran */
	struct index_doc doc; /* r == PV_OK: the caller may take it (index_doc_init after) */
	struct pv_error err;  /* r < 0: why */
};

/* A pool of k slots (1 <= k <= 8). */
int index_pool_new(int k, struct index_pool **pool_r, struct pv_error *err);
/* Waits for the jobs in hand, ends the threads and their sandboxes, wipes
 * the message buffers, frees. */
void index_pool_free(struct index_pool **pool);
int index_pool_size(const struct index_pool *pool);

/* The next slot in turn, once its last job is done: the caller takes
 * that job's result (when id != 0) and sets id to 0, or fills the job
 * (id, extract, raw) and hands it to index_pool_start. K calls without a
 * start in between take back every job in hand, in order. */
struct index_pool_job *index_pool_next(struct index_pool *pool);
void index_pool_start(struct index_pool *pool, struct index_pool_job *job);

#endif
