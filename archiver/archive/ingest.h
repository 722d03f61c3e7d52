#ifndef PV_INGEST_H
#define PV_INGEST_H

/* Group commit (ARCHITECTURE.md §3 (group commit)): makes a batch of received messages
 * durable in one step — blob files synced, bucket keys created, then ONE
 * SQLite transaction holding the catalog rows, the safe-delete ledger rows,
 * the archive-log leaves and a checkpoint signed over them. Only after this
 * returns 0 may the batch be deleted upstream. On failure nothing of the
 * batch is committed (its blob files may remain as unreferenced orphans,
 * which verify reports as harmless leftovers of an interrupted harvest). */

#include <stddef.h>
#include <stdint.h>

#include "archiver/store/ledger.h"
#include "archiver/lib/error.h"
#include "archiver/store/accounts.h"
#include "archiver/store/datadir.h"
#include "archiver/store/blob.h"

struct ingest_item {
	uint32_t msgnum;                  /* the caller's, untouched */
	char uidl[LEDGER_UIDL_MAX + 1];   /* ledger key: UIDL or "sha256:<hex>" */
	struct blob_info blob;            /* key and salt are wiped by ingest_commit */
	int64_t received_at;
	/* The plaintext when the caller kept it (small messages), else NULL:
	 * ingest then reads the blob back. Borrowed for the call. */
	const unsigned char *plain;
	size_t plain_len;
	int64_t message_id;               /* out: the archive id */
};

/* Each message's retention is decided under the policy in force (from its
 * headers and MIME structure); messages whose plaintext was kept are also
 * indexed inside the same transaction, the others by the index catch-up
 * right after the harvest. */
int ingest_commit(struct archive *ar, const struct account *a, struct ingest_item *items, size_t n,
		  struct pv_error *err);

#endif
