/* What the harvester's policy-facts parse costs in process and what it
 * would cost in the parser sandbox (issue 16; ARCHITECTURE.md §2 "The
 * policy facts stay in the harvest process"), and what the sandbox costs
 * the indexer and export (issue 12: the bench's index lag and export
 * bounds quote it).
 *
 *   bench_facts [--json] [--count N] [--bytes MAX | --head] DIR
 *
 * DIR: messages, one a file (every regular file but *.json: a genmail.py
 * directory or the bench's maildir template), in name order, at most N
 * (default all). For every message, its first MAX bytes (default
 * PV_INGEST_READBACK_MAX, as ingest reads them; the indexer parses
 * PV_INDEX_RAW_MAX), or with --head its header section alone (what export
 * parses for the load files): (1) index_mime_facts in this process, what
 * ingest does today; (2) index_mime_extract in this process, the whole
 * extraction; (3) index_sandbox_extract, that extraction through the
 * parser sandbox (one confined child, a forked worker per message), as
 * popvault runs it: popvault-parser beside this program (make bench links
 * it there), else this program's own image. (3) - (2) is the sandbox's own
 * cost per message. CPU is this process plus its reaped children (the
 * sandbox and its workers); wall is elapsed time. Prints measured figures
 * only; --json: one object, CPU and wall in ms a message. */
#include <dirent.h>
#include <stdbool.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
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

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The end of the header section (its blank line included), else n. */
static size_t head_len(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++) {
		if (p[i] == '\n' && p[i + 1] == '\n')
			return i + 2;
		if (p[i] == '\n' && p[i + 1] == '\r' && i + 2 < n && p[i + 2] == '\n')
			return i + 3;
	}
	return n;
}

/* At most count messages of dir, each its first max bytes or (head) its
 * header section. */
static size_t load(const char *dir, size_t count, size_t max, bool head, struct msg **out)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL, path[4096];
	size_t k = 0, cap = 0, n = 0;
	if (d == NULL) {
		perror(dir);
		exit(2);
	}
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);
		if (e->d_name[0] == '.' || (l > 5 && strcmp(e->d_name + l - 5, ".json") == 0))
			continue;
		if (k == cap && (names = realloc(names, (cap = cap ? cap * 2 : 256) * sizeof(*names))) == NULL)
			exit(2);
		names[k++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, k, sizeof(*names), by_name);
	*out = calloc(k ? k : 1, sizeof(**out));
	for (size_t i = 0; i < k && n < count; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		FILE *f = fopen(path, "rb");
		struct msg *m = &(*out)[n];
		struct stat st;
		/* As much as the file holds, not max each (the indexer's 8 MiB). */
		size_t want = f != NULL && fstat(fileno(f), &st) == 0 && (size_t)st.st_size < max
				      ? (size_t)st.st_size : max;
		if (f != NULL && (m->raw = malloc(want ? want : 1)) != NULL) {
			m->len = fread(m->raw, 1, want, f);
			if (head)
				m->len = head_len(m->raw, m->len);
			n++;
		}
		if (f != NULL)
			fclose(f);
	}
	for (size_t i = 0; i < k; i++)
		free(names[i]);
	free(names);
	return n;
}

struct way {
	const char *what, *key;
	double cpu, wall; /* seconds over all the messages */
	bool failed;
};

static void report(const struct way *w, size_t n)
{
	printf("%-44s %8.1f us CPU/msg %8.1f us wall/msg%s\n", w->what, w->cpu * 1e6 / (double)n,
	       w->wall * 1e6 / (double)n, w->failed ? " (some failed)" : "");
}

static int usage(void)
{
	fprintf(stderr, "usage: bench_facts [--json] [--count N] [--bytes MAX | --head] DIR\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct msg *m = NULL;
	struct pv_error err;
	bool json = false, head = false;
	size_t count = SIZE_MAX, max = PV_INGEST_READBACK_MAX;
	int a = 1;
	for (; a < argc - 1; a++) {
		if (strcmp(argv[a], "--json") == 0)
			json = true;
		else if (strcmp(argv[a], "--head") == 0)
			head = true;
		else if (strcmp(argv[a], "--count") == 0 && a + 2 < argc)
			count = strtoull(argv[++a], NULL, 10);
		else if (strcmp(argv[a], "--bytes") == 0 && a + 2 < argc)
			max = strtoull(argv[++a], NULL, 10);
		else
			return usage();
	}
	if (a != argc - 1 || max == 0 || count == 0)
		return usage();
	size_t n = load(argv[a], count, max, head, &m);
	if (n == 0) {
		fprintf(stderr, "bench_facts: no message in %s\n", argv[a]);
		return 2;
	}
	char program[4096];
	if (index_sandbox_program(program, sizeof(program), &err) != 0)
		snprintf(program, sizeof(program), "(none: %s)", err.msg);
	size_t bytes = 0;
	for (size_t i = 0; i < n; i++)
		bytes += m[i].len;
	if (!json) {
		printf("%zu messages, %.1f KiB on average (", n, (double)bytes / (double)n / 1024);
		if (head)
			printf("the header section of each)\n");
		else
			printf("first %zu KiB of each)\n", max / 1024);
		printf("the sandbox runs %s\n", program);
	}

	struct way w[3] = {{"facts in process (ingest today)", "facts", 0, 0, false},
			   {"whole extraction in process", "extract", 0, 0, false},
			   {"whole extraction in the parser sandbox", "sandboxed", 0, 0, false}};
	double c0 = cpu_s(), w0 = now_s();
	for (size_t i = 0; i < n; i++) {
		struct index_doc doc;
		w[0].failed |= index_mime_facts(m[i].raw, m[i].len, &doc, &err) != 0;
		index_doc_free(&doc);
	}
	w[0].cpu = cpu_s() - c0, w[0].wall = now_s() - w0;

	c0 = cpu_s(), w0 = now_s();
	for (size_t i = 0; i < n; i++) {
		struct index_doc doc;
		w[1].failed |= index_mime_extract(m[i].raw, m[i].len, &doc, &err) != 0;
		index_doc_free(&doc);
	}
	w[1].cpu = cpu_s() - c0, w[1].wall = now_s() - w0;

	/* Pinned like the indexer's pool (index/sandbox_pool.c): to the CPU
	 * this process runs on now. */
	struct index_sandbox *sb = NULL;
	struct index_sandbox_opts o = {.pinned = sched_getcpu() >= 0, .cpu = sched_getcpu()};
	c0 = cpu_s(), w0 = now_s();
	if (index_sandbox_new(&o, &sb, &err) != 0) {
		fprintf(stderr, "bench_facts: %s\n", err.msg);
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		struct index_doc doc;
		w[2].failed |= index_sandbox_extract(sb, m[i].raw, m[i].len, &doc, &err) != 0;
		index_doc_free(&doc);
	}
	index_sandbox_free(&sb); /* reaps the child: its CPU and its workers' count */
	w[2].cpu = cpu_s() - c0, w[2].wall = now_s() - w0;

	if (json) {
		printf("{\"messages\": %zu, \"mean_bytes\": %.0f, \"head\": %s, \"max_bytes\": %zu, "
		       "\"program\": \"%s\"", n, (double)bytes / (double)n, head ? "true" : "false",
		       max, program);
		for (int k = 0; k < 3; k++)
			printf(", \"%s\": {\"cpu_ms\": %.4f, \"wall_ms\": %.4f, \"failed\": %s}",
			       w[k].key, w[k].cpu * 1e3 / (double)n, w[k].wall * 1e3 / (double)n,
			       w[k].failed ? "true" : "false");
		printf("}\n");
	} else {
		for (int k = 0; k < 3; k++)
			report(&w[k], n);
	}
	for (size_t i = 0; i < n; i++)
		free(m[i].raw);
	free(m);
	return w[0].failed || w[1].failed || w[2].failed;
}
