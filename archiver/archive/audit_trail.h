#ifndef PV_ARCHIVE_AUDIT_TRAIL_H
#define PV_ARCHIVE_AUDIT_TRAIL_H

/* Reading and exporting the audit trail (ARCHITECTURE.md §5): `popvault audit
 * list|export` and the web API's /api/v1/audit call these. Listing is not
 * audited itself (it reads the log, not archived content). An export is,
 * fail closed: its "audit-export" entry is appended and signed before a
 * byte of the bundle is written (audit/auditbundle.h). */

#include <stdbool.h>
#include <stdint.h>

#include "archiver/lib/error.h"
#include "archiver/store/datadir.h"
#include "audit/auditbundle.h"
#include "audit/auditlog.h"

/* A bound of a time range as people type it: "YYYY-MM-DD" or
 * "YYYY-MM-DDTHH:MM:SSZ" (UTC). A bare date as the end of a range (until)
 * means the end of that day. PV_EUSAGE ("'S' is not ...") otherwise. */
int archive_audit_time(const char *s, bool until, int64_t *t_r, struct pv_error *err);

struct archive_audit_query {
	struct auditlog_filter filter; /* since/until (inclusive), actor, type */
	uint64_t offset;               /* matching entries skipped first */
	uint64_t limit;                /* at most this many go to fn; 0: all */
	const char *object;            /* NULL, or "key=value" words the object must
					* hold, each as a whole word ("message=7") */
};

/* Calls fn for the matching entries of the page, in log order (fn returns
 * 0 to go on; a positive value stops the listing and is returned). Leaves
 * are parsed strictly: one that does not parse is PV_EINTEGRITY.
 * matched_r (may be NULL) gets the number of matching entries in all, for
 * paging; without it the listing stops at the end of the page. */
int archive_audit_list(struct archive *ar, const struct archive_audit_query *q,
		       auditlog_entry_fn fn, void *ctx, uint64_t *matched_r, struct pv_error *err);

/* Writes the signed audit bundle of the entries from since to until (unix
 * seconds, INT64_MIN / INT64_MAX when open) to out (.tar.gz, .tgz or .zip;
 * must not exist), with the personal side data when personal is set. The
 * export's own entry is part of the bundle. Reports the entries written to
 * ar->progress. */
int archive_audit_export(struct archive *ar, const char *actor, const char *out, int64_t since,
			 int64_t until, bool personal, struct auditbundle_summary *sum_r,
			 struct pv_error *err);

/* ---- for the web API's audit trail and integrity pages -------------- */

/* One entry by its seq, with what proves it: its exact leaf, its personal
 * data (checked against the leaf's commitment; has_personal false when it
 * has none), and its C2SP tlog-proof (audit/tlog_proof.h) against the
 * latest signed audit checkpoint (note in checkpoint). PV_ENOTFOUND past
 * the end of the log. Not audited (reading the log, as archive_audit_list). */
struct archive_audit_item {
	struct audit_entry e;
	bool has_personal;
	struct pv_buf leaf, personal, proof, checkpoint;
};
int archive_audit_entry(struct archive *ar, uint64_t seq, struct archive_audit_item *it_r,
			struct pv_error *err) PV_WARN_UNUSED;
void archive_audit_item_free(struct archive_audit_item *it);

/* Who viewed message id: the entries of type view or download whose
 * object holds the word "message=ID", in log order, to fn. */
int archive_audit_who_viewed(struct archive *ar, int64_t message_id, auditlog_entry_fn fn,
			     void *ctx, struct pv_error *err);

/* Heartbeat gaps (DESIGN.md §4): spans longer than AUDITLOG_HEARTBEAT_GAP_S
 * without an audit entry, between since and until (unix seconds), the span
 * from the last entry to until included. The first max go to gaps;
 * *n_r gets how many were found in all. */
int archive_audit_gaps(struct archive *ar, int64_t since, int64_t until,
		       struct auditlog_gap *gaps, size_t max, size_t *n_r, struct pv_error *err);

/* The time of the audit log's first entry (its start: nothing can be said
 * of heartbeats before it); *time_r -1 for an empty log. */
int archive_audit_first_time(struct archive *ar, int64_t *time_r, struct pv_error *err);

/* A bundle file written by archive_audit_export handed out, open as fd:
 * its SHA-256 (into sha256_r) must be expect_sha256 when given (a changed
 * file is PV_EINTEGRITY, nothing handed out), and the hand-out is audited
 * first (type "download", object "audit-export=LABEL sha256=HEX size=N"). */
int archive_audit_bundle_download(struct archive *ar, const char *actor, const char *label,
				  int fd, const char *expect_sha256, char sha256_r[65],
				  uint64_t *size_r, struct pv_error *err);
/* The hex SHA-256 and size of a file: by name, or an open fd (read from
 * its start with pread; the offset is left alone). */
int archive_file_sha256(const char *path, char out[65], uint64_t *size_r, struct pv_error *err);
int archive_fd_sha256(int fd, char out[65], uint64_t *size_r, struct pv_error *err);

#endif
