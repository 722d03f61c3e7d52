/* What the harvester's policy-facts parse costs in process and what it
 * would cost in the parser sandbox (issue 16; ARCHITECTURE.md §2 "The
 * policy facts stay in the harvest process").
 *
 *   bench_facts DIR      DIR: .eml files (tests/e2e/lib/genmail.py --out DIR)
 *
 * For every message, its first PV_INGEST_READBACK_MAX bytes as ingest
 * reads them: (1) index_mime_facts in this process, what ingest does
 * today; (2) index_mime_extract in this process, the whole extraction;
 * (3) index_sandbox_extract, that extraction through the parser sandbox
 * (one confined child, a forked worker per message). The sandbox has no
 * facts-only request, so (3) - (2) is the sandbox's own cost per message,
 * which a facts request would add to (1). CPU is this process plus its
 * reaped children (the sandbox and its workers); wall is elapsed time.
 * Prints measured figures only. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "archiver/index/mime.h"
#include "archiver/index/sandbox.h"
#include "archiver/lib/limits.h"

struct msg {
	unsigned char *raw;
	size_t len;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double tv(struct timeval t)
{
	return (double)t.tv_sec + (double)t.tv_usec / 1e6;
}

/* CPU seconds used so far by this process and its reaped children. */
static double cpu_s(void)
{
	struct rusage self, kids;
	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &kids);
	return tv(self.ru_utime) + tv(self.ru_stime) + tv(kids.ru_utime) + tv(kids.ru_stime);
}

static size_t load(const char *dir, struct msg **out)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0, cap = 0;
	char path[4096];
	if (d == NULL) {
		perror(dir);
		exit(2);
	}
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);
		if (l < 5 || strcmp(e->d_name + l - 4, ".eml") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		FILE *f = fopen(path, "rb");
		if (f == NULL)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			*out = realloc(*out, cap * sizeof(**out));
		}
		struct msg *m = &(*out)[n];
		m->raw = malloc(PV_INGEST_READBACK_MAX);
		m->len = fread(m->raw, 1, PV_INGEST_READBACK_MAX, f);
		fclose(f);
		n++;
	}
	closedir(d);
	return n;
}

static void report(const char *what, size_t n, double cpu, double wall, int failed)
{
	printf("%-44s %8.1f us CPU/msg %8.1f us wall/msg%s\n", what, cpu * 1e6 / (double)n,
	       wall * 1e6 / (double)n, failed ? " (some failed)" : "");
}

int main(int argc, char **argv)
{
	struct msg *m = NULL;
	struct pv_error err;
	int failed = 0;
	if (argc != 2) {
		fprintf(stderr, "usage: bench_facts DIR\n");
		return 2;
	}
	size_t n = load(argv[1], &m);
	if (n == 0) {
		fprintf(stderr, "bench_facts: no .eml in %s\n", argv[1]);
		return 2;
	}
	size_t bytes = 0;
	for (size_t i = 0; i < n; i++)
		bytes += m[i].len;
	printf("%zu messages, %.1f KiB on average (first %d KiB of each)\n", n,
	       (double)bytes / (double)n / 1024, PV_INGEST_READBACK_MAX / 1024);

	double c0 = cpu_s(), w0 = now_s();
	for (size_t i = 0; i < n; i++) {
		struct index_doc doc;
		failed |= index_mime_facts(m[i].raw, m[i].len, &doc, &err) != 0;
		index_doc_free(&doc);
	}
	report("facts in process (ingest today)", n, cpu_s() - c0, now_s() - w0, failed);

	c0 = cpu_s(), w0 = now_s();
	for (size_t i = 0; i < n; i++) {
		struct index_doc doc;
		failed |= index_mime_extract(m[i].raw, m[i].len, &doc, &err) != 0;
		index_doc_free(&doc);
	}
	report("whole extraction in process", n, cpu_s() - c0, now_s() - w0, failed);

	struct index_sandbox *sb = NULL;
	c0 = cpu_s(), w0 = now_s();
	if (index_sandbox_new(NULL, &sb, &err) != 0) {
		fprintf(stderr, "bench_facts: %s\n", err.msg);
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		struct index_doc doc;
		failed |= index_sandbox_extract(sb, m[i].raw, m[i].len, &doc, &err) != 0;
		index_doc_free(&doc);
	}
	index_sandbox_free(&sb); /* reaps the child: its CPU and its workers' count */
	report("whole extraction in the parser sandbox", n, cpu_s() - c0, now_s() - w0, failed);
	for (size_t i = 0; i < n; i++)
		free(m[i].raw);
	free(m);
	return failed;
}
