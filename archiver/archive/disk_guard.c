#include "archiver/archive/disk_guard.h"

#include <string.h>

#include "archiver/archive/audit_hook.h"

int disk_guard_state(struct archive *ar, struct disk_guard_state *st, struct pv_error *err)
{
	static const char *const types[] = {AUDIT_HARVEST_PAUSE, AUDIT_HARVEST_RESUME};
	struct audit_entry e;
	struct pv_buf leaf;
	uint64_t size, seq;
	size_t n = 0;
	int r;

	st->paused = false;
	st->since = 0;
	if ((r = tlog_size(ar->audit_log, &size, err)) < 0 ||
	    (r = auditlog_seqs_of_types(ar->audit_log, types, 2, size, 1, &seq, &n, err)) < 0 ||
	    n == 0)
		return r;
	pv_buf_init(&leaf, PV_TLOG_ENTRY_MAX);
	if ((r = tlog_leaf(ar->audit_log, seq, &leaf, err)) == PV_OK &&
	    (r = auditlog_leaf_parse(leaf.data, leaf.len, seq, &e, err)) == PV_OK) {
		st->paused = strcmp(e.type, AUDIT_HARVEST_PAUSE) == 0;
		st->since = e.time;
	}
	pv_buf_free(&leaf);
	return r;
}

int disk_guard_record(struct archive *ar, bool paused, long long free_bytes, long long reserve,
		      struct pv_error *err)
{
	return archive_auditf(ar, "system", paused ? AUDIT_HARVEST_PAUSE : AUDIT_HARVEST_RESUME,
			      "ok", NULL, err, "reason=disk-low free=%lld reserve=%lld", free_bytes,
			      reserve);
}

bool disk_guard_low(long long free_bytes, long long reserve, bool was_paused)
{
	if (free_bytes < 0)
		return was_paused;
	return free_bytes < (was_paused ? reserve + reserve / 8 : reserve);
}
