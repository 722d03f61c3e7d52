/* Search and catalog lookups on PostgreSQL at scale (tests/bench/pg_scale.sh
 * makes the data; docs/SCALE.md uses the figures).
 *
 *   bench_pg --schema-only CONNINFO     makes the search index's tables
 *   bench_pg [--runs N] [--cat ROWS] [--docs DOCS] CONNINFO
 *
 * Per query class: N queries with varying terms through the PostgreSQL
 * search backend (archiver/archive/search_backend.h: parse, compile,
 * count every match, fetch the first page of 50 newest first), p50 and p95
 * of the wall time and the mean total. Then catalog lookups on the
 * messages table, and the indexing rate of real messages (the MIME corpus
 * of tests/data/mime, extracted, tokenized and written through the
 * backend in batches of 100). Prints measured figures only. */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "archiver/archive/search_backend.h"
#include "archiver/index/mime.h"
#include "archiver/store/pg_index.h"

#define PAGE 50
#define DOC_DATE0 1500000000 /* pg_scale.sql: document i is dated DOC_DATE0 + 60 i */

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* lo..hi inclusive */
static long pick(long lo, long hi)
{
	return lo + (long)(next() % (uint64_t)(hi - lo + 1));
}

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void day(char *out, size_t n, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, n, "%Y-%m-%d", &tm);
}

static long docs = 1000000, cat = 10000000;

/* Writes the i-th query of class c into q. */
static void make_query(int c, char *q, size_t n, long *offset_r)
{
	char d1[16], d2[16];
	int64_t room = (int64_t)docs * 60 - 40 * 86400; /* a window inside the documents' dates */
	int64_t t = DOC_DATE0 + (room > 0 ? (int64_t)pick(0, (long)room) : 0);
	*offset_r = 0;
	switch (c) {
	case 0: snprintf(q, n, "w%ld", pick(20000, 50000)); break;
	case 1: snprintf(q, n, "w%ld", pick(500, 2000)); break;
	case 2: snprintf(q, n, "w%ld", pick(2, 9)); break;
	case 3: snprintf(q, n, "from:s%ld", pick(0, 4999)); break;
	case 4: snprintf(q, n, "subject:w%ld", pick(10, 100)); break;
	case 5: snprintf(q, n, "\"w%ld w%ld\"", pick(1, 20), pick(1, 20)); break;
	case 6: snprintf(q, n, "w%ld w%ld", pick(100, 1000), pick(100, 1000)); break;
	case 7: snprintf(q, n, "w%ld OR w%ld OR w%ld", pick(200, 2000), pick(200, 2000), pick(200, 2000)); break;
	case 8:
		day(d1, sizeof(d1), t);
		day(d2, sizeof(d2), t + 30 * 86400);
		snprintf(q, n, "w%ld after:%s before:%s", pick(100, 1000), d1, d2);
		break;
	case 9:
		day(d1, sizeof(d1), t);
		day(d2, sizeof(d2), t + 7 * 86400);
		snprintf(q, n, "after:%s before:%s", d1, d2);
		break;
	case 10: snprintf(q, n, "account:acct%ld -w1", pick(0, 99)); break;
	case 11: snprintf(q, n, "message-id:m%ld@example.com", pick(1, docs)); break;
	case 12:
		snprintf(q, n, "w%ld", pick(500, 2000));
		*offset_r = 450; /* page 10 */
		break;
	}
}

static const char *const class_names[] = {
	"rare word (w20000..)", "medium word (w500..2000)", "common word (w2..9)",
	"from:sender", "subject:word", "phrase of 2 common", "AND of 2 words",
	"OR of 3 words", "word + 30-day range", "7-day range only", "account:A -common",
	"message-id:ID", "medium word, page 10",
};
#define NCLASSES (sizeof(class_names) / sizeof(class_names[0]))

static int search_classes(struct search_backend *b, int runs)
{
	printf("-- search through the PostgreSQL backend, %ld documents: first page of %d"
		" (newest first) + exact total; ms\n", docs, PAGE);
	printf("%-28s %8s %8s %8s %12s\n", "class", "p50", "p95", "max", "mean total");
	double *ms = calloc((size_t)runs, sizeof(*ms));
	for (size_t c = 0; c < NCLASSES; c++) {
		double totals = 0;
		for (int i = 0; i < runs; i++) {
			char q[256];
			long off;
			make_query((int)c, q, sizeof(q), &off);
			struct index_hits hits;
			struct pv_error err;
			int64_t total;
			double t0 = now_ms();
			int r = search_backend_search(b, q, NULL, INDEX_COUNT_ALL, PAGE, off,
				&hits, &total, NULL, &err);
			ms[i] = now_ms() - t0;
			if (r != PV_OK) {
				fprintf(stderr, "bench_pg: %s: %s\n", q, err.msg);
				free(ms);
				return 1;
			}
			totals += (double)total;
			index_hits_free(&hits);
		}
		qsort(ms, (size_t)runs, sizeof(*ms), cmp_double);
		printf("%-28s %8.1f %8.1f %8.1f %12.0f\n", class_names[c], ms[runs / 2],
			ms[(runs * 95 + 99) / 100 - 1], ms[runs - 1], totals / runs);
	}
	free(ms);
	return 0;
}

static int catalog_lookups(struct pg_index *px, int runs)
{
	static const char *const sql[] = {
		"SELECT * FROM messages WHERE id = $1",
		("SELECT id FROM messages WHERE account_id = 1 + $1::bigint % 1000"
		 " AND uidl = 'UID' || $1 || '.' || ($1::bigint % 7919)"),
		"SELECT id FROM messages WHERE sha256 = sha256(int8send($1::bigint))",
		"SELECT id, pack_offset, pack_length FROM messages WHERE pack_id = 1 + $1::bigint / 20000",
	};
	static const char *const names[] = {
		"message by id", "seen? (account, UIDL)", "by content SHA-256", "one pack's messages",
	};
	printf("-- catalog lookups on messages, %ld rows; ms\n", cat);
	printf("%-28s %8s %8s %8s %12s\n", "lookup", "p50", "p95", "max", "rows");
	double *ms = calloc((size_t)runs, sizeof(*ms));
	for (size_t c = 0; c < sizeof(sql) / sizeof(sql[0]); c++) {
		int64_t rows = 0;
		for (int i = 0; i < runs; i++) {
			char id[24];
			snprintf(id, sizeof(id), "%ld", pick(1, cat));
			const char *p[1] = {id};
			struct pv_error err;
			double t0 = now_ms();
			int r = pg_index_rows(px, sql[c], 1, p, &rows, &err);
			ms[i] = now_ms() - t0;
			if (r != PV_OK) {
				fprintf(stderr, "bench_pg: %s: %s\n", names[c], err.msg);
				free(ms);
				return 1;
			}
		}
		qsort(ms, (size_t)runs, sizeof(*ms), cmp_double);
		printf("%-28s %8.2f %8.2f %8.2f %12" PRId64 "\n", names[c], ms[runs / 2],
			ms[(runs * 95 + 99) / 100 - 1], ms[runs - 1], rows);
	}
	free(ms);
	return 0;
}

/* Real messages through the backend: the corpus, 100 times over, ids far
 * above the synthetic ones (removed afterwards). */
static int index_rate(struct search_backend *b)
{
	const char *src = getenv("POPVAULT_SRC");
	char path[4096];
	snprintf(path, sizeof(path), "%s/tests/data/mime", src ? src : ".");
	DIR *dir = opendir(path);
	if (dir == NULL) {
		printf("-- index rate: no %s\n", path);
		return 0;
	}
	struct index_doc d[64];
	size_t nd = 0, bytes[64];
	for (struct dirent *e; (e = readdir(dir)) != NULL && nd < 64;) {
		if (!strstr(e->d_name, ".eml"))
			continue;
		char f[4352];
		snprintf(f, sizeof(f), "%s/%s", path, e->d_name);
		FILE *fp = fopen(f, "rb");
		static unsigned char raw[1 << 20];
		size_t n = fp ? fread(raw, 1, sizeof(raw), fp) : 0;
		if (fp)
			fclose(fp);
		struct pv_error err;
		if (index_mime_extract(raw, n, &d[nd], &err) == PV_OK)
			bytes[nd++] = n;
		else
			index_doc_free(&d[nd]);
	}
	closedir(dir);
	enum { BATCH = 100, ROUNDS = 20 };
	struct index_batch_doc v[BATCH];
	int64_t base = 4000000000LL;
	double t0 = now_ms();
	int r = PV_OK;
	struct pv_error err;
	for (int k = 0; k < ROUNDS && r == PV_OK; k++) {
		for (int i = 0; i < BATCH; i++) {
			size_t j = (size_t)(k * BATCH + i) % nd;
			v[i] = (struct index_batch_doc){base + k * BATCH + i, "bench", DOC_DATE0, bytes[j], &d[j]};
		}
		r = search_backend_add_docs(b, v, BATCH, &err);
	}
	double ms = now_ms() - t0;
	if (r == PV_OK)
		printf("-- index rate: %d real messages (the MIME corpus) extracted beforehand, then"
			" tokenized and written through the backend in batches of %d: %.0f messages/s\n",
			ROUNDS * BATCH, BATCH, ROUNDS * BATCH / (ms / 1e3));
	else
		fprintf(stderr, "bench_pg: index: %s\n", err.msg);
	for (int i = 0; i < ROUNDS * BATCH && r == PV_OK; i++)
		r = search_backend_remove(b, base + i, &err);
	for (size_t j = 0; j < nd; j++)
		index_doc_free(&d[j]);
	return r == PV_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
	int runs = 40, i = 1;
	bool schema_only = false;
	for (; i < argc - 1; i++) {
		if (strcmp(argv[i], "--schema-only") == 0)
			schema_only = true;
		else if (strcmp(argv[i], "--runs") == 0 && i + 2 < argc)
			runs = atoi(argv[++i]);
		else if (strcmp(argv[i], "--cat") == 0 && i + 2 < argc)
			cat = atol(argv[++i]);
		else if (strcmp(argv[i], "--docs") == 0 && i + 2 < argc)
			docs = atol(argv[++i]);
		else
			break;
	}
	if (i != argc - 1 || runs < 2 || cat < 1 || docs < 1) {
		fprintf(stderr, "usage: bench_pg [--schema-only] [--runs N] [--cat ROWS] [--docs DOCS]"
			" CONNINFO\n");
		return 2;
	}
	struct search_backend *b;
	struct pg_index *px;
	struct pv_error err;
	if (search_backend_pg_open(argv[i], &b, &err) != PV_OK ||
	    pg_index_open(argv[i], &px, &err) != PV_OK) {
		fprintf(stderr, "bench_pg: %s\n", err.msg);
		return 1;
	}
	int rc = 0;
	if (!schema_only)
		rc = search_classes(b, runs) || catalog_lookups(px, runs) || index_rate(b);
	pg_index_close(&px);
	search_backend_close(&b);
	return rc;
}
