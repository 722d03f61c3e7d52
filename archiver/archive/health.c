#include "archiver/archive/health.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "archiver/lib/clock.h"
#include "archiver/lib/fsutil.h"
#include "archiver/store/stats_system.h"

static void unwell(struct archive_health *h, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void unwell(struct archive_health *h, const char *fmt, ...)
{
	va_list ap;
	h->ok = false;
	if (h->n == ARCHIVE_HEALTH_REASONS_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(h->reason[h->n++], ARCHIVE_HEALTH_REASON_LEN, fmt, ap);
	va_end(ap);
}

/* The audit log can take an entry: the catalog (and its write-ahead log)
 * is open for writing and writable. Checked without writing, so a busy
 * harvest does not make the appliance look down. On PostgreSQL the
 * files are the server's: only the log's readability is checked here. */
static bool audit_writable(struct archive *ar)
{
	char path[sizeof(ar->dir) + 32];
	uint64_t size;
	if (tlog_size(ar->audit_log, &size, NULL) < 0)
		return false;
	if (db_kind(ar->cat->conn) != DB_SQLITE)
		return true;
	/* A read-only open is SQLite's own notion: its handle says it. */
	if (sqlite3_db_readonly(db_sqlite(ar->cat->conn), "main") != 0)
		return false;
	snprintf(path, sizeof(path), "%s/catalog.db", ar->dir);
	if (access(path, W_OK) != 0)
		return false;
	snprintf(path, sizeof(path), "%s/catalog.db-wal", ar->dir);
	return access(path, F_OK) != 0 || access(path, W_OK) == 0;
}

static void harvests(struct archive *ar, const struct archive_health_opts *o,
		     struct archive_health *h)
{
	struct stats_account *a = NULL;
	struct pv_error e;
	size_t n = 0;
	int64_t now = pv_clock_now();

	if (stats_accounts(ar->cat->conn, &a, &n, &e) < 0) {
		unwell(h, "cannot read the harvest records: %s", e.msg);
	} else {
		for (size_t i = 0; i < n; i++) {
			int64_t every = a[i].harvest_interval_s > 0 ? a[i].harvest_interval_s
								    : o->harvest_interval_s;
			int64_t from = a[i].last_success_finished;
			if (a[i].created_at > from)
				from = a[i].created_at;
			if (o->harvest_since > from)
				from = o->harvest_since;
			if (now - from <= 3 * every)
				continue;
			if (a[i].last_success_finished > 0)
				unwell(h, "the harvest of %s has not succeeded for %lld s (3 intervals of "
				       "%lld s): %.100s", a[i].name,
				       (long long)(now - a[i].last_success_finished), (long long)every,
				       a[i].last_outcome);
			else
				unwell(h, "the harvest of %s has not succeeded yet (3 intervals of %lld s): "
				       "%.100s", a[i].name, (long long)every,
				       a[i].last_outcome[0] ? a[i].last_outcome : "not started");
		}
	}
	stats_accounts_free(&a, n);
}

int archive_health(struct archive *ar, const struct archive_health_opts *o,
		   struct archive_health *h, struct pv_error *err)
{
	(void)err;
	memset(h, 0, sizeof(*h));
	h->ok = true;
	if (!audit_writable(ar))
		unwell(h, "the audit log cannot be written (the catalog is read-only)");
	else if (o->audit_failing)
		unwell(h, "the last audit append failed; audited actions are refused");
	if (o->disk_reserve > 0) {
		long long free_bytes = pv_fs_free_bytes(ar->dir);
		if ((free_bytes >= 0 && free_bytes < o->disk_reserve) || o->harvest_paused)
			unwell(h, "the data directory's disk is nearly full: %lld MiB free, %lld MiB "
			       "reserve; harvests %s", free_bytes >> 20,
			       (long long)(o->disk_reserve >> 20),
			       o->harvest_paused ? "are stopped until there is room" : "stop");
	}
	if (o->harvest_interval_s > 0)
		harvests(ar, o, h);
	return PV_OK;
}
