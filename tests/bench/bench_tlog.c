/* Benchmark of audit/tlog as the harvester uses it: batches of 256 leaves
 * (about 150-byte metadata entries) each committed with one signed
 * checkpoint in one SQLite transaction (WAL), then proof generation and
 * whole-log verification at the final size.
 *
 *   bench_tlog [leaves] [full|normal]    (default 1000000 full)
 *
 * Prints measured figures only. */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sodium.h>
#include <sqlite3.h>

#include "archiver/store/catalog.h"
#include "audit/checkpoint.h"
#include "audit/keys.h"
#include "audit/tlog.h"
#include "audit/tlog_verify.h"

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

static void die(const char *what, const struct pv_error *err)
{
	fprintf(stderr, "bench_tlog: %s: %s\n", what, err != NULL ? err->msg : "");
	exit(1);
}

int main(int argc, char **argv)
{
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
	const char *sync = argc > 2 ? argv[2] : "full";
	char dir[] = "/tmp/pv-bench-tlog-XXXXXX", keys[64], dbpath[64], pragma[128];
	struct pv_error err;
	sqlite3 *db;
	struct db *conn = NULL; /* db through lib/db.h, for the logs */
	struct tlog *t;
	struct note_signer *s;
	enum { BATCH = 256 };
	static unsigned char bufs[BATCH][200];
	struct tlog_entry e[BATCH];

	if (sodium_init() < 0 || n == 0 || mkdtemp(dir) == NULL)
		die("setup", NULL);
	snprintf(keys, sizeof(keys), "%s/keys", dir);
	snprintf(dbpath, sizeof(dbpath), "%s/catalog.db", dir);
	mkdir(keys, 0700);
	if (sqlite3_open(dbpath, &db) != SQLITE_OK)
		die("open", NULL);
	snprintf(pragma, sizeof(pragma), "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s",
		 strcmp(sync, "normal") == 0 ? "NORMAL" : "FULL");
	if (sqlite3_exec(db, pragma, NULL, NULL, NULL) != SQLITE_OK)
		die("pragma", NULL);
	if (db_sqlite_wrap(db, &conn, &err) < 0 ||
	    catalog_migrate(db, catalog_schema_version(), &err) < 0 ||
	    keys_init_log(conn, keys, "archive", "bench.example/popvault/archive", NULL, &err) < 0 ||
	    tlog_open(conn, "archive", &t, &err) < 0 || keys_load(keys, t, &s, &err) < 0)
		die("init", &err);

	printf("bench_tlog: %llu leaves, batches of %d, one signed checkpoint per batch, "
	       "WAL synchronous=%s\n",
	       (unsigned long long)n, BATCH, strcmp(sync, "normal") == 0 ? "NORMAL" : "FULL");
	double t0 = now_s(), worst = 0;
	uint64_t batches = 0;
	for (uint64_t i = 0; i < n;) {
		size_t k = 0;
		double b0 = now_s();
		for (; k < BATCH && i < n; k++, i++) {
			/* An archive leaf: seq, time, mailbox, class, ct hash, commit. */
			int len = snprintf((char *)bufs[k], sizeof(bufs[k]),
					   "seq=%llu t=1763769600 mbox=%016llx class=default ct=%064llx "
					   "commit=%064llx",
					   (unsigned long long)i, (unsigned long long)(i * 2654435761u),
					   (unsigned long long)i, (unsigned long long)(i ^ 0x5a5a));
			e[k].data = bufs[k];
			e[k].len = (size_t)len;
		}
		if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
			die("begin", NULL);
		if (tlog_append(t, e, k, NULL, &err) < 0 || checkpoint_sign(t, s, 0, NULL, NULL, &err) < 0)
			die("batch", &err);
		if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
			die("commit", NULL);
		double dt = now_s() - b0;
		if (dt > worst)
			worst = dt;
		batches++;
	}
	double dt = now_s() - t0;
	printf("append: %.0f leaves/s (%llu batches in %.2f s, %.2f ms per batch, worst %.2f ms)\n",
	       (double)n / dt, (unsigned long long)batches, dt, dt * 1000 / (double)batches,
	       worst * 1000);

	merkle_hash proof[PV_PROOF_HASHES_MAX], root, r1;
	size_t len;
	enum { PROOFS = 20000 };
	if (tlog_root(t, n, root, &err) < 0)
		die("root", &err);
	t0 = now_s();
	for (int k = 0; k < PROOFS; k++) {
		uint64_t i = randombytes_uniform((uint32_t)(n > UINT32_MAX ? UINT32_MAX : n));
		if (tlog_inclusion_proof(t, i, n, proof, &len, &err) < 0)
			die("inclusion", &err);
	}
	dt = now_s() - t0;
	printf("inclusion proof at %llu leaves: %.0f/s (%.1f us each, %zu hashes)\n",
	       (unsigned long long)n, PROOFS / dt, dt / PROOFS * 1e6, len);
	t0 = now_s();
	for (int k = 0; k < PROOFS; k++) {
		uint64_t m = 1 + randombytes_uniform((uint32_t)(n > UINT32_MAX ? UINT32_MAX : n));
		if (tlog_consistency_proof(t, m, n, proof, &len, &err) < 0)
			die("consistency", &err);
	}
	dt = now_s() - t0;
	printf("consistency proof to %llu leaves: %.0f/s (%.1f us each)\n", (unsigned long long)n,
	       PROOFS / dt, dt / PROOFS * 1e6);
	/* One check that the figures measured real proofs. */
	uint64_t m = n / 3 + 1;
	if (tlog_root(t, m, r1, &err) < 0 || tlog_consistency_proof(t, m, n, proof, &len, &err) < 0 ||
	    merkle_verify_consistency(m, n, proof, len, r1, root, &err) < 0)
		die("self-check", &err);

	struct tlog_verify_report rep;
	t0 = now_s();
	if (tlog_verify(t, NULL, NULL, NULL, 0, &rep, &err) < 0)
		die("verify", &err);
	dt = now_s() - t0;
	printf("tlog_verify: %llu leaves and %llu checkpoints in %.2f s (%.0f leaves/s)\n",
	       (unsigned long long)rep.size, (unsigned long long)rep.checkpoints, dt,
	       (double)rep.size / dt);

	struct stat st;
	if (stat(dbpath, &st) == 0)
		printf("database: %.1f MB (%.0f bytes per leaf)\n", (double)st.st_size / 1e6,
		       (double)st.st_size / (double)n);
	keys_free(&s);
	tlog_free(&t);
	db_close(&conn);
	sqlite3_close(db);
	nftw(dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
	return 0;
}
