/* Index and search benchmark (archiver/index).
 *
 *   bench_index [MESSAGES [QUERY_RUNS]]      defaults: 100000 messages, 50 runs
 *
 * Generates MESSAGES synthetic messages (plain, multipart/alternative with
 * HTML, some with attachments, some in ISO-8859-1 quoted-printable; words
 * drawn from a Zipf-like vocabulary; dates over three years), indexes them
 * into a fresh SQLite file in WAL mode in batches of PV_HARVEST_BATCH_MAX
 * messages per transaction (as a harvest group commit would), then runs
 * each query kind QUERY_RUNS times with varying terms and reports p50/p95
 * latency of a first page (50 results plus the total). Prints measured
 * figures only. */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "archiver/index/index.h"
#include "archiver/lib/buf.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/limits.h"
#include "archiver/store/catalog.h"

#define VOCAB 20000
#define PEOPLE 500

static uint64_t rng = 0x2545F4914F6CDD1Dull;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static double unit(void)
{
	return (double)(next() >> 11) / (double)(1ull << 53);
}

static char words[VOCAB][12];
static char people[PEOPLE][24];

static void make_vocab(void)
{
	static const char *const syl[] = {
		"ka", "lo", "me", "zu", "ri", "ta", "no", "shi", "ve", "pa", "dor", "lin",
		"mar", "qu", "est", "ion", "ber", "sa", "tu", "gra",
	};
	for (int i = 0; i < VOCAB; i++) {
		int n = 2 + i % 3, v = i;
		words[i][0] = '\0';
		for (int k = 0; k < n; k++) {
			strcat(words[i], syl[v % 20]);
			v /= 20;
			v += k * 7 + i / 8000;
		}
	}
	static const char *const first[] = {"alice", "bob", "carol", "dave", "erin", "frank",
		"grace", "heidi", "ivan", "judy"};
	for (int i = 0; i < PEOPLE; i++)
		snprintf(people[i], sizeof(people[i]), "%s%d", first[i % 10], i / 10);
}

/* Zipf-like: low ranks are common. */
static const char *word(void)
{
	double u = unit();
	return words[(int)(VOCAB * u * u * u)];
}

static const char *person(void)
{
	return people[next() % PEOPLE];
}

static void gen(struct pv_buf *b, int64_t i, int64_t *date_r)
{
	int64_t date = 1609459200 + (int64_t)(next() % (3 * 365 * 86400ull)); /* 2021..2023 */
	char when[64];
	time_t t = (time_t)date;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	*date_r = date;
	pv_buf_reset(b);
	const char *from = person();
	pv_buf_printf(b, NULL, "From: %s <%s@example.com>\r\nTo: %s@example.org, %s@example.net\r\n",
		from, from, person(), person());
	if (next() % 3 == 0)
		pv_buf_printf(b, NULL, "Cc: %s <%s@example.com>\r\n", person(), person());
	pv_buf_printf(b, NULL, "Subject: %s %s %s\r\nDate: %s\r\nMessage-ID: <%lld@bench.example>\r\n"
		"MIME-Version: 1.0\r\n", word(), word(), word(), when, (long long)i);
	int kind = (int)(next() % 10);
	int nwords = 80 + (int)(next() % 250);
	if (kind < 6) {
		pv_buf_append_str(b, "Content-Type: text/plain; charset=utf-8\r\n\r\n", NULL);
		for (int w = 0; w < nwords; w++)
			pv_buf_printf(b, NULL, "%s%s", word(), w % 12 == 11 ? ".\r\n" : " ");
	} else if (kind < 8) {
		pv_buf_append_str(b, "Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n"
			"--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n", NULL);
		for (int w = 0; w < nwords; w++)
			pv_buf_printf(b, NULL, "%s ", word());
		pv_buf_append_str(b, "\r\n--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
			"<html><head><style>p{margin:0}</style></head><body><p>", NULL);
		for (int w = 0; w < nwords; w++)
			pv_buf_printf(b, NULL, "%s%s", word(), w % 10 == 9 ? "</p><p>" : " ");
		pv_buf_append_str(b, "</p></body></html>\r\n--alt--\r\n", NULL);
	} else if (kind < 9) {
		pv_buf_append_str(b, "Content-Type: multipart/mixed; boundary=\"mix\"\r\n\r\n"
			"--mix\r\nContent-Type: text/plain\r\n\r\n", NULL);
		for (int w = 0; w < nwords; w++)
			pv_buf_printf(b, NULL, "%s ", word());
		pv_buf_printf(b, NULL, "\r\n--mix\r\nContent-Type: application/pdf\r\n"
			"Content-Disposition: attachment; filename=\"%s-%s.pdf\"\r\n"
			"Content-Transfer-Encoding: base64\r\n\r\n", word(), word());
		for (int l = 0; l < 40; l++)
			pv_buf_append_str(b, "JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFIvRmls\r\n", NULL);
		pv_buf_append_str(b, "--mix--\r\n", NULL);
	} else {
		pv_buf_append_str(b, "Content-Type: text/plain; charset=iso-8859-1\r\n"
			"Content-Transfer-Encoding: quoted-printable\r\n\r\n", NULL);
		for (int w = 0; w < nwords; w++)
			pv_buf_printf(b, NULL, "%s%s", word(), w % 7 == 6 ? " caf=E9 " : " ");
	}
}

static int cmp_ms(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void run_queries(sqlite3 *db, const char *label, int runs, int kind)
{
	double *ms = calloc((size_t)runs, sizeof(double));
	int64_t total_sum = 0;
	for (int r = 0; r < runs; r++) {
		char q[512];
		int year = 2021 + r % 3, month = 1 + r % 12;
		switch (kind) {
		case 0:
			snprintf(q, sizeof(q), "%s", word());
			break;
		case 1:
			snprintf(q, sizeof(q), "from:%s", person());
			break;
		case 2:
			snprintf(q, sizeof(q), "after:%d-%02d-01 before:%d-%02d-15", year, month, year, month);
			break;
		case 3:
			snprintf(q, sizeof(q), "\"%s %s\"", words[r % 50], words[(r * 7) % 50]);
			break;
		case 4:
			snprintf(q, sizeof(q), "(%s OR %s) participant:%s -has:attachment after:%d-01-01",
				word(), word(), people[r % 10], year);
			break;
		case 5: /* the commonest words: matches most messages */
			snprintf(q, sizeof(q), "%s", words[r % 3]);
			break;
		default: /* negation: FTS5 cannot drive it, every row is checked */
			snprintf(q, sizeof(q), "-%s after:%d-01-01", words[r % 3], year);
			break;
		}
		struct index_hits hits;
		struct pv_error err;
		int64_t total;
		double t0 = now_ms();
		if (index_search(db, q, 50, 0, &hits, &total, &err) != PV_OK) {
			fprintf(stderr, "bench_index: %s: %s\n", q, err.msg);
			exit(1);
		}
		ms[r] = now_ms() - t0;
		total_sum += total;
		index_hits_free(&hits);
	}
	qsort(ms, (size_t)runs, sizeof(double), cmp_ms);
	printf("query %-12s p50 %7.2f ms  p95 %7.2f ms  max %7.2f ms  (mean matches %lld)\n", label,
		ms[runs / 2], ms[(runs * 95 + 99) / 100 - 1], ms[runs - 1],
		(long long)(total_sum / runs));
	free(ms);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
	int runs = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 50;
	if (n < 1 || runs < 1) {
		fprintf(stderr, "usage: bench_index [MESSAGES [QUERY_RUNS]]\n");
		return 2;
	}
	char path[] = "/tmp/pv-bench-index-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return 1;
	close(fd);
	sqlite3 *db;
	struct pv_error err;
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL, NULL) ||
	    catalog_migrate(db, catalog_schema_version(), &err) != PV_OK) {
		fprintf(stderr, "bench_index: cannot open %s\n", path);
		return 1;
	}
	make_vocab();
	struct pv_buf b;
	pv_buf_init(&b, 1 << 20);
	double index_ms = 0;
	size_t bytes = 0;
	for (long i = 1; i <= n; i += PV_HARVEST_BATCH_MAX) {
		double t0 = now_ms();
		sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
		index_ms += now_ms() - t0;
		for (long k = i; k < i + PV_HARVEST_BATCH_MAX && k <= n; k++) {
			int64_t date;
			gen(&b, k, &date);
			bytes += b.len;
			t0 = now_ms();
			if (index_add(db, k, k % 4 ? "sales" : "legal", date + 60, b.data, b.len, &err) != PV_OK) {
				fprintf(stderr, "bench_index: %s\n", err.msg);
				return 1;
			}
			index_ms += now_ms() - t0;
		}
		t0 = now_ms();
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
		index_ms += now_ms() - t0;
	}
	pv_buf_free(&b);
	printf("indexed %ld messages (%.1f MB) in %.2f s: %.0f messages/s\n", n, bytes / 1e6,
		index_ms / 1e3, n / (index_ms / 1e3));
	sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
	run_queries(db, "word", runs, 0);
	run_queries(db, "from:", runs, 1);
	run_queries(db, "date-range", runs, 2);
	run_queries(db, "phrase", runs, 3);
	run_queries(db, "combination", runs, 4);
	run_queries(db, "common-word", runs, 5);
	run_queries(db, "negation", runs, 6);
	sqlite3_close(db);
	char aux[64];
	unlink(path);
	snprintf(aux, sizeof(aux), "%s-wal", path);
	unlink(aux);
	snprintf(aux, sizeof(aux), "%s-shm", path);
	unlink(aux);
	return 0;
}
