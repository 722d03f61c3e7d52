/* Benchmark of the audit log (issue 5): appending events one at a time as
 * commands do (each its own transaction with a signed checkpoint, WAL,
 * synchronous=FULL like the catalog), then exporting them all as a bundle
 * (.tar.gz and .zip) and verifying it offline, and a 10% time range.
 *
 *   bench_audit [events] [full|normal]     (default 100000 full)
 *
 * Prints measured figures only. */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include <sodium.h>
#include <sqlite3.h>

#include "archiver/lib/clock.h"
#include "archiver/store/catalog.h"
#include "audit/auditbundle.h"
#include "audit/auditlog.h"
#include "audit/bundle.h"
#include "audit/keys.h"
#include "audit/tlog.h"

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static _Noreturn void die(const char *what, const struct pv_error *err)
{
	fprintf(stderr, "bench_audit: %s: %s\n", what, err != NULL ? err->msg : "");
	exit(1);
}

static long file_kb(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (long)(st.st_size / 1024) : -1;
}

static void verify(const char *path, const struct note_verifier *v, double *secs, uint64_t *problems)
{
	struct bundle_report rep = {NULL, NULL, 0, 0};
	struct bundle *b;
	struct pv_error err;
	double t0 = now_s();
	if (bundle_open_file(path, &b, &err) != 0)
		die("open bundle", &err);
	int r = auditbundle_verify(b, v, 1, NULL, 0, NULL, &rep, &err);
	bundle_free(&b);
	*secs = now_s() - t0;
	*problems = rep.problems;
	if (r != 0)
		die("bundle does not verify", NULL);
}

int main(int argc, char **argv)
{
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 100000;
	const char *sync = argc > 2 ? argv[2] : "full";
	char dir[] = "/tmp/pv-bench-audit-XXXXXX", keys[64], dbpath[64], pragma[128];
	char tgz[96], zip[96], part[96], object[128], personal[128];
	struct pv_error err;
	struct pv_buf vk;
	struct note_verifier v;
	sqlite3 *db;
	struct db *conn = NULL; /* db through lib/db.h, for the logs */
	struct tlog *t;
	struct note_signer *s;
	struct auditbundle_summary sum;
	uint64_t problems;
	double secs;

	if (sodium_init() < 0 || n == 0 || mkdtemp(dir) == NULL)
		die("setup", NULL);
	snprintf(keys, sizeof(keys), "%s/keys", dir);
	snprintf(dbpath, sizeof(dbpath), "%s/catalog.db", dir);
	snprintf(tgz, sizeof(tgz), "%s/all.tar.gz", dir);
	snprintf(zip, sizeof(zip), "%s/all.zip", dir);
	snprintf(part, sizeof(part), "%s/last10.tar.gz", dir);
	snprintf(pragma, sizeof(pragma), "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s", sync);
	pv_buf_init(&vk, NOTE_VKEY_MAX);
	if (mkdir(keys, 0700) != 0 || sqlite3_open(dbpath, &db) != SQLITE_OK ||
	    sqlite3_exec(db, pragma, NULL, NULL, NULL) != SQLITE_OK)
		die("database", NULL);
	if (db_sqlite_wrap(db, &conn, &err) < 0 ||
	    catalog_migrate(db, catalog_schema_version(), &err) != 0 ||
	    keys_init_log(conn, keys, "audit", "bench.example/pv/audit", &vk, &err) != 0 ||
	    note_verifier_parse((const char *)vk.data, vk.len, &v, &err) != 0 ||
	    tlog_open(conn, "audit", &t, &err) != 0 || keys_load(keys, t, &s, &err) != 0)
		die("log", &err);

	/* 1. Appends: a realistic mix, one in three with personal data. */
	double t0 = now_s();
	int64_t mid_time = 0;
	for (uint64_t i = 0; i < n; i++) {
		snprintf(object, sizeof(object), "message=%llu", (unsigned long long)(i + 1));
		snprintf(personal, sizeof(personal), "from:user%llu@example.com subject:\"q%llu\"",
			 (unsigned long long)(i % 977), (unsigned long long)i);
		struct audit_event ev = {i % 2 ? "web:alice" : "cli:root",
					 i % 3 ? AUDIT_VIEW : AUDIT_SEARCH, object, "ok",
					 i % 3 ? NULL : personal};
		if (auditlog_append(t, s, &ev, NULL, &err) != 0)
			die("append", &err);
		if (i == n - n / 10)
			mid_time = pv_clock_now();
	}
	double append_s = now_s() - t0;
	printf("append:  %llu events, one transaction + signed checkpoint each (synchronous=%s): "
	       "%.1f s, %.0f events/s, catalog %ld KiB\n",
	       (unsigned long long)n, sync, append_s, (double)n / append_s, file_kb(dbpath));

	/* 2. Export everything, as .tar.gz and .zip, and verify each offline. */
	struct auditbundle_opts o = {.out = tgz, .actor = "cli:bench", .since = INT64_MIN,
				    .until = INT64_MAX, .personal = true};
	t0 = now_s();
	if (auditbundle_export(t, s, &o, &sum, &err) != 0)
		die("export", &err);
	double export_s = now_s() - t0;
	verify(tgz, &v, &secs, &problems);
	printf("export:  %llu entries to .tar.gz in %.2f s (%.0f entries/s), %ld KiB; "
	       "verify-bundle %.2f s (%.0f entries/s)\n",
	       (unsigned long long)sum.entries, export_s, (double)sum.entries / export_s,
	       file_kb(tgz), secs, (double)sum.entries / secs);
	o.out = zip;
	t0 = now_s();
	if (auditbundle_export(t, s, &o, &sum, &err) != 0)
		die("export zip", &err);
	export_s = now_s() - t0;
	verify(zip, &v, &secs, &problems);
	printf("export:  %llu entries to .zip in %.2f s, %ld KiB; verify-bundle %.2f s\n",
	       (unsigned long long)sum.entries, export_s, file_kb(zip), secs);

	/* 3. A range: the last tenth, with the compact-range proof for the rest. */
	o.out = part;
	o.since = mid_time;
	t0 = now_s();
	if (auditbundle_export(t, s, &o, &sum, &err) != 0)
		die("export range", &err);
	export_s = now_s() - t0;
	verify(part, &v, &secs, &problems);
	printf("range:   --since (last ~10%%): %llu entries in %.2f s, %ld KiB; verify-bundle %.2f s\n",
	       (unsigned long long)sum.entries, export_s, file_kb(part), secs);

	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("peak RSS %ld MiB\n", ru.ru_maxrss / 1024);
	keys_free(&s);
	tlog_free(&t);
	db_close(&conn);
	sqlite3_close(db);
	pv_buf_free(&vk);
	nftw(dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
	return 0;
}
