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
 * export's own entry is part of the bundle. */
int archive_audit_export(struct archive *ar, const char *actor, const char *out, int64_t since,
			 int64_t until, bool personal, struct auditbundle_summary *sum_r,
			 struct pv_error *err);

#endif
