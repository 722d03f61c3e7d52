/* The parser sandbox (archiver/index/sandbox.h): the same document as an
 * extraction in the process itself, and a child that crashes, loops,
 * opens a socket or the keys fails its one message, is killed, and is
 * replaced; the indexer records such a message as failed and goes on;
 * a pool of sandboxes gives every result back in order, a crash failing
 * its own message only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "archiver/archive/indexer.h"
#include "archiver/index/index.h"
#include "archiver/index/sandbox.h"
#include "archiver/index/sandbox_pool.h"
#include "archiver/lib/sandbox.h"
#include "tests/unit/test_dispose_fixture.h"

/* What the hook reads from the message: a marker header says what the
 * confined child does before extracting ("X-Test: keys PATH" opens PATH). */

static bool has(const unsigned char *raw, size_t len, const char *what)
{
	return memmem(raw, len, what, strlen(what)) != NULL;
}

static void hook(const unsigned char *raw, size_t len)
{
	if (has(raw, len, "X-Test: abort"))
		abort();
	if (has(raw, len, "X-Test: loop"))
		for (volatile unsigned long i = 0;; i++)
			;
	if (has(raw, len, "X-Test: tail")) {
		/* a worker reading past its message (the buffer it inherits is
		 * far longer): no byte of an earlier message may be there */
		for (size_t i = 0; i < 512 * 1024; i++)
			if (raw[len + i] != 0)
				_exit(46);
	}
	if (has(raw, len, "X-Test: socket")) {
		int fd = socket(AF_INET, SOCK_STREAM, 0); /* seccomp: killed here */
		if (fd >= 0)
			_exit(42);
	}
	const unsigned char *k = memmem(raw, len, "X-Test: keys ", 13);
	if (k != NULL) {
		char path[256];
		const unsigned char *end = memchr(k, '\r', len - (size_t)(k - raw));
		size_t n = end ? (size_t)(end - k) - 13 : 0;
		if (n == 0 || n >= sizeof(path))
			_exit(45);
		memcpy(path, k + 13, n);
		path[n] = '\0';
		/* Landlock refuses it (EACCES). */
		int fd = open(path, O_RDONLY);
		_exit(fd >= 0 ? 43 : 44);
	}
}

/* The child is this test program exec'd afresh: the hook is in place
 * before the sandbox's constructor runs it as the child. */
__attribute__((constructor(101))) static void install_hook(void)
{
	index_sandbox_test_hook = hook;
}

static const char plain[] = "From: Alice <alice@example.com>\r\nTo: bob@example.com\r\n"
			    "Subject: quarterly figures\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\n"
			    "Message-ID: <q1@example.com>\r\n\r\nThe numbers are in.\r\n";

static void test_the_sandbox_gives_the_document_an_extraction_in_process_gives(void **state)
{
	(void)state;
	struct index_sandbox *sb;
	struct index_doc a, b;
	struct pv_error err;
	size_t len;
	unsigned char *raw = fx_mime_sample("07-rfc2231-attachments.eml", &len);
	fx_must(index_sandbox_new(NULL, &sb, &err), &err, "new");
	fx_must(index_sandbox_extract(sb, raw, len, &a, &err), &err, "sandboxed");
	fx_must(index_mime_extract(raw, len, &b, &err), &err, "in process");
	struct pv_buf ea, eb;
	pv_buf_init(&ea, PV_SANDBOX_OUTPUT_MAX);
	pv_buf_init(&eb, PV_SANDBOX_OUTPUT_MAX);
	fx_must(index_doc_encode(&a, &ea, &err), &err, "encode");
	fx_must(index_doc_encode(&b, &eb, &err), &err, "encode");
	assert_int_equal(ea.len, eb.len);
	assert_memory_equal(ea.data, eb.data, ea.len);
	assert_true(a.filenames.len > 0);
	/* One child serves one message after another. */
	int pid = index_sandbox_pid(sb);
	index_doc_free(&a);
	fx_must(index_sandbox_extract(sb, (const unsigned char *)plain, sizeof(plain) - 1, &a, &err),
		&err, "again");
	assert_int_equal(index_sandbox_pid(sb), pid);
	assert_string_equal(pv_buf_str(&a.subject), "quarterly figures");
	index_doc_free(&a);
	index_doc_free(&b);
	pv_buf_free(&ea);
	pv_buf_free(&eb);
	index_sandbox_free(&sb);
	free(raw);
}

/* The child's anonymous memory in KiB (/proc/PID/smaps_rollup). */
static long child_anon_kib(int pid)
{
	char path[64], line[256];
	long kib = -1;
	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", pid);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "Anonymous: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* A big message leaves nothing behind in the child: every page it holds
 * would be copied into each later worker's page tables at the fork. */
static void test_a_big_message_leaves_the_child_small(void **state)
{
	(void)state;
	struct index_sandbox *sb;
	struct index_doc doc;
	struct pv_error err;
	struct pv_buf big;
	pv_buf_init(&big, PV_INDEX_RAW_MAX);
	fx_must(pv_buf_append_str(&big, "From: a@example.org\r\nSubject: big\r\n\r\n", &err), &err,
		"big");
	while (big.len < 6 * 1024 * 1024)
		fx_must(pv_buf_append_str(&big, "a line of the big message body\r\n", &err), &err, "big");
	fx_must(index_sandbox_new(NULL, &sb, &err), &err, "new");
	fx_must(index_sandbox_extract(sb, (const unsigned char *)plain, sizeof(plain) - 1, &doc, &err),
		&err, "small");
	index_doc_free(&doc);
	long before = child_anon_kib(index_sandbox_pid(sb));
	fx_must(index_sandbox_extract(sb, big.data, big.len, &doc, &err), &err, "big");
	index_doc_free(&doc);
	fx_must(index_sandbox_extract(sb, (const unsigned char *)plain, sizeof(plain) - 1, &doc, &err),
		&err, "small again");
	index_doc_free(&doc);
	long after = child_anon_kib(index_sandbox_pid(sb));
	assert_true(before > 0);
	assert_true(after - before < 1024); /* the message was 6 MiB */
	index_sandbox_free(&sb);
	pv_buf_free(&big);
}

/* A worker finds nothing of the message before its own past its message
 * (it could have put another message's text into its own document), and
 * nothing of that message's answer (test below). */
static void test_a_worker_finds_nothing_of_an_earlier_message(void **state)
{
	(void)state;
	static const char small[] = "From: a@example.org\r\nSubject: small\r\nX-Test: tail\r\n\r\n"
				    "short\r\n";
	struct index_sandbox *sb;
	struct index_doc doc;
	struct pv_error err;
	struct pv_buf big;
	pv_buf_init(&big, PV_INDEX_RAW_MAX);
	fx_must(pv_buf_append_str(&big, "From: b@example.org\r\nSubject: big\r\n\r\n", &err), &err,
		"big");
	while (big.len < 200 * 1024)
		fx_must(pv_buf_append_str(&big, "the private text of another message\r\n", &err), &err,
			"big");
	fx_must(index_sandbox_new(NULL, &sb, &err), &err, "new");
	fx_must(index_sandbox_extract(sb, big.data, big.len, &doc, &err), &err, "big");
	index_doc_free(&doc);
	fx_must(index_sandbox_extract(sb, (const unsigned char *)small, sizeof(small) - 1, &doc, &err),
		&err, "small after big");
	assert_string_equal(pv_buf_str(&doc.subject), "small");
	index_doc_free(&doc);
	index_sandbox_free(&sb);
	pv_buf_free(&big);
}

/* The mappings of the child's that its workers do not get
 * (/proc/PID/smaps: "dc" in VmFlags, MADV_DONTFORK), in KiB. */
static long child_dontfork_kib(int pid)
{
	char path[64], line[512];
	long size = 0, kib = 0;
	snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		long v;
		if (sscanf(line, "Size: %ld kB", &v) == 1)
			size = v;
		else if (strncmp(line, "VmFlags:", 8) == 0 && strstr(line, " dc") != NULL)
			kib += size;
	}
	fclose(f);
	return kib;
}

/* The buffer the child reads each worker's answer into is not forked
 * into the next worker: that worker cannot read the document of the
 * message before its own, and the fork neither copies nor write-protects
 * those pages (the child's read of every answer took a fault a page). */
static void test_a_worker_does_not_get_the_answer_buffer(void **state)
{
	(void)state;
	struct index_sandbox *sb;
	struct index_doc doc;
	struct pv_error err;
	fx_must(index_sandbox_new(NULL, &sb, &err), &err, "new");
	fx_must(index_sandbox_extract(sb, (const unsigned char *)plain, sizeof(plain) - 1, &doc, &err),
		&err, "extract");
	index_doc_free(&doc);
	/* the answer buffer: at least the largest answer a worker may give */
	assert_true(child_dontfork_kib(index_sandbox_pid(sb)) >= PV_SANDBOX_OUTPUT_MAX / 1024);
	index_sandbox_free(&sb);
}

/* A pinned sandbox's child runs on its CPU only (its workers inherit it);
 * an unpinned one may run anywhere this process may. */
static void test_a_pinned_sandbox_runs_on_its_cpu(void **state)
{
	(void)state;
	struct index_sandbox *sb;
	struct index_doc doc;
	struct pv_error err;
	cpu_set_t mine, got;
	assert_int_equal(sched_getaffinity(0, sizeof(mine), &mine), 0);
	int last = -1;
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &mine))
			last = c;
	struct index_sandbox_opts o = {.pinned = true, .cpu = last};
	for (int round = 0; round < 2; round++) {
		fx_must(index_sandbox_new(round == 0 ? &o : NULL, &sb, &err), &err, "new");
		fx_must(index_sandbox_extract(sb, (const unsigned char *)plain, sizeof(plain) - 1,
					      &doc, &err), &err, "extract");
		index_doc_free(&doc);
		assert_int_equal(sched_getaffinity(index_sandbox_pid(sb), sizeof(got), &got), 0);
		if (round == 0) {
			assert_int_equal(CPU_COUNT(&got), 1);
			assert_true(CPU_ISSET(last, &got));
		} else {
			assert_true(CPU_EQUAL(&got, &mine));
		}
		index_sandbox_free(&sb);
	}
}

/* A reader's views come out of the sandbox as they would in process: the
 * sanitised HTML (scripts gone), the text, the headers. */
static void test_the_views_of_a_message_are_made_in_the_sandbox(void **state)
{
	(void)state;
	struct index_sandbox *sb;
	struct pv_error err;
	struct pv_buf a, b;
	struct index_doc d;
	bool html_a = false, html_b = false;
	size_t len;
	unsigned char *raw = fx_mime_sample("08-html-script.eml", &len);
	fx_must(index_sandbox_new(NULL, &sb, &err), &err, "new");
	pv_buf_init(&a, PV_VIEW_HTML_MAX);
	pv_buf_init(&b, PV_VIEW_HTML_MAX);
	fx_must(index_sandbox_html(sb, raw, len, &a, &html_a, &err), &err, "html");
	fx_must(index_mime_view_html(raw, len, &b, &html_b, &err), &err, "html in process");
	assert_true(html_a && html_b);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, a.len);
	assert_null(strstr(pv_buf_str(&a), "<script"));
	pv_buf_reset(&a);
	pv_buf_reset(&b);
	fx_must(index_sandbox_show(sb, raw, len, &a, &err), &err, "show");
	fx_must(index_mime_show(raw, len, &b, &err), &err, "show in process");
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, a.len);
	fx_must(index_sandbox_meta(sb, raw, len, &d, &html_a, &err), &err, "meta");
	assert_true(html_a);
	assert_true(d.subject.len > 0);
	index_doc_free(&d);
	/* A view that crashes the child fails; the next one is made again. */
	static const char bad[] = "X-Test: abort\r\nSubject: x\r\n\r\nbody\r\n";
	pv_buf_reset(&a);
	assert_int_equal(index_sandbox_html(sb, (const unsigned char *)bad, sizeof(bad) - 1, &a,
					    NULL, &err),
			 PV_EPROTO);
	assert_non_null(strstr(err.msg, "crashed"));
	fx_must(index_sandbox_show(sb, raw, len, &a, &err), &err, "show again");
	pv_buf_free(&a);
	pv_buf_free(&b);
	index_sandbox_free(&sb);
	free(raw);
}

/* msg with the marker header `what` at the top. */
static int extract_with(struct index_sandbox *sb, const char *what, struct pv_error *err)
{
	char msg[512];
	struct index_doc d;
	int n = snprintf(msg, sizeof(msg), "X-Test: %s\r\n%s", what, plain);
	int r = index_sandbox_extract(sb, (const unsigned char *)msg, (size_t)n, &d, err);
	index_doc_free(&d);
	return r;
}

static void test_a_crash_a_loop_and_a_socket_each_fail_one_message(void **state)
{
	(void)state;
	struct index_sandbox *sb;
	struct index_sandbox_opts o = {.time_ms = 60000, .cpu_s = 1};
	struct pv_error err;
	fx_must(index_sandbox_new(&o, &sb, &err), &err, "new");

	assert_int_equal(extract_with(sb, "none", &err), PV_OK);
	int child = index_sandbox_pid(sb);
	assert_int_equal(extract_with(sb, "abort", &err), PV_EPROTO);
	assert_non_null(strstr(err.msg, "crashed"));
	/* That message's worker died; the child that forks them did not. */
	assert_int_equal(index_sandbox_pid(sb), child);
	assert_int_equal(extract_with(sb, "none", &err), PV_OK);

	/* Looping: the worker's CPU limit (SIGXCPU) ends it first (the wall
	 * limit is far longer: one CPU second can take many on a loaded machine). */
	assert_int_equal(extract_with(sb, "loop", &err), PV_EPROTO);
	if (strstr(err.msg, "CPU") == NULL)
		fail_msg("%s", err.msg);
	assert_int_equal(extract_with(sb, "none", &err), PV_OK);

	/* No network: the first socket() kills it. */
	assert_int_equal(extract_with(sb, "socket", &err), PV_EPROTO);
	assert_non_null(strstr(err.msg, "signal 31"));
	assert_non_null(strstr(err.msg, "forbids"));
	assert_int_equal(extract_with(sb, "none", &err), PV_OK);
	index_sandbox_free(&sb);

	/* A deadline shorter than the CPU limit: the whole child is killed,
	 * and a new one serves the next message. */
	o.time_ms = 300;
	o.cpu_s = 30;
	fx_must(index_sandbox_new(&o, &sb, &err), &err, "new");
	assert_int_equal(extract_with(sb, "none", &err), PV_OK);
	child = index_sandbox_pid(sb);
	assert_int_equal(extract_with(sb, "loop", &err), PV_EPROTO);
	assert_non_null(strstr(err.msg, "out of time"));
	assert_int_equal(index_sandbox_pid(sb), 0);
	o.time_ms = 20000; /* a fresh exec under this machine's load */
	assert_int_equal(extract_with(sb, "none", &err), PV_OK);
	assert_true(index_sandbox_pid(sb) != child);
	index_sandbox_free(&sb);
}

static void test_the_keys_are_out_of_its_reach(void **state)
{
	(void)state;
	struct index_sandbox *sb;
	struct pv_error err;
	char dir[] = "/tmp/pv-sbkeys-XXXXXX", keys[64], what[80];
	assert_non_null(mkdtemp(dir));
	snprintf(keys, sizeof(keys), "%s/audit.key", dir);
	snprintf(what, sizeof(what), "keys %s", keys);
	int fd = open(keys, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "seed\n", 5), 5);
	close(fd);
	if (pv_landlock_abi() == 0) {
		fx_rmtree(dir);
		skip(); /* no Landlock in this kernel: nothing keeps a path out */
	}
	fx_must(index_sandbox_new(NULL, &sb, &err), &err, "new");
	assert_int_equal(extract_with(sb, what, &err), PV_EPROTO);
	if (strstr(err.msg, "status 44") == NULL)
		fail_msg("%s", err.msg); /* open() refused (44), not opened (43) */
	index_sandbox_free(&sb);
	fx_rmtree(dir);
}

static void test_a_lying_child_is_a_failure_not_a_document(void **state)
{
	(void)state;
	struct index_doc d;
	struct pv_error err;
	struct pv_buf enc;
	index_doc_init(&d);
	pv_buf_append_str(&d.body, "text", NULL);
	pv_buf_init(&enc, 4096);
	fx_must(index_doc_encode(&d, &enc, &err), &err, "encode");
	index_doc_free(&d);
	/* Cut short, extended, a hidden range past the body, invalid UTF-8. */
	index_doc_init(&d);
	assert_int_equal(index_doc_decode(enc.data, enc.len - 1, &d, &err), PV_EPROTO);
	index_doc_free(&d);
	unsigned char more[4096];
	memcpy(more, enc.data, enc.len);
	more[enc.len] = 0;
	index_doc_init(&d);
	assert_int_equal(index_doc_decode(more, enc.len + 1, &d, &err), PV_EPROTO);
	index_doc_free(&d);
	/* The body field: magic, 7 empty fields (4 bytes each), then body. */
	size_t body = 4 + 7 * 4 + 4;
	memcpy(more, enc.data, enc.len);
	more[body] = 0xff;
	index_doc_init(&d);
	assert_int_equal(index_doc_decode(more, enc.len, &d, &err), PV_EPROTO);
	index_doc_free(&d);
	index_doc_init(&d);
	assert_int_equal(index_doc_decode(enc.data, enc.len, &d, &err), PV_OK);
	assert_string_equal(pv_buf_str(&d.body), "text");
	index_doc_free(&d);
	pv_buf_free(&enc);
}

/* The indexer: the crashing message is recorded as failed with its
 * reason, the others are searchable, the archive is as it was. */
static void test_the_indexer_records_the_failure_and_indexes_the_rest(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	int64_t indexed = 0, failed = 0, n = 0;
	char reason[PV_ERROR_MSG_MAX];
	fx_init(&f);
	int64_t a = fx_archive(&f, "Subject: first\r\n\r\nalpha\r\n", 1700000000);
	int64_t b = fx_archive(&f, "X-Test: abort\r\nSubject: second\r\n\r\nbeta\r\n", 1700000001);
	int64_t c = fx_archive(&f, "Subject: third\r\n\r\ngamma\r\n", 1700000002);
	fx_must(indexer_rebuild(f.ar, &indexed, &failed, &err), &err, "rebuild");
	assert_int_equal(indexed, 2);
	assert_int_equal(failed, 1);
	fx_must(index_failed_count(f.ar->cat->db, &n, &err), &err, "count");
	assert_int_equal(n, 1);
	fx_must(index_failed_reason(f.ar->cat->db, b, reason, sizeof(reason), &err), &err, "reason");
	assert_non_null(strstr(reason, "crashed"));
	assert_int_equal(index_failed_reason(f.ar->cat->db, a, reason, sizeof(reason), &err),
			 PV_ENOTFOUND);
	struct index_hits hits;
	int64_t total;
	fx_must(index_search(f.ar->cat->db, "gamma OR alpha OR beta", 10, 0, &hits, &total, &err),
		&err, "search");
	assert_int_equal(total, 2);
	index_hits_free(&hits);
	(void)c;
	/* A reindex tries it again: one record, not two. */
	fx_must(indexer_rebuild(f.ar, &indexed, &failed, &err), &err, "rebuild");
	assert_int_equal(indexed, 2);
	assert_int_equal(failed, 1);
	fx_must(index_failed_count(f.ar->cat->db, &n, &err), &err, "count");
	assert_int_equal(n, 1);
	/* Disposal of the message takes its record too. */
	fx_must(index_remove(f.ar->cat->db, b, &err), &err, "remove");
	fx_must(index_failed_count(f.ar->cat->db, &n, &err), &err, "count");
	assert_int_equal(n, 0);
	fx_free(&f);
}

/* Two slots, nine messages, every third one crashes its worker: each
 * result comes back in the order the messages went in, the crashes fail
 * their own message only, whichever slot ran them. */
static void test_a_pool_gives_results_in_order_and_a_crash_fails_only_its_message(void **state)
{
	(void)state;
	struct index_pool *pool;
	struct pv_error err;
	int64_t next_back = 1;
	fx_must(index_pool_new(2, &pool, &err), &err, "pool");
	assert_int_equal(index_pool_size(pool), 2);
	for (int64_t id = 1; id <= 9 + 2; id++) {
		struct index_pool_job *job = index_pool_next(pool);
		if (job->id != 0) {
			char want[32];
			assert_int_equal(job->id, next_back);
			snprintf(want, sizeof(want), "message %lld", (long long)job->id);
			if (job->id % 3 == 0) {
				assert_int_equal(job->r, PV_EPROTO);
				assert_non_null(strstr(job->err.msg, "crashed"));
			} else {
				assert_int_equal(job->r, PV_OK);
				assert_string_equal(pv_buf_str(&job->doc.subject), want);
			}
			job->id = 0;
			next_back++;
		}
		if (id > 9)
			continue; /* only taking back what is in hand */
		char msg[160];
		int n = snprintf(msg, sizeof(msg), "%sSubject: message %lld\r\n\r\nbody\r\n",
				 id % 3 == 0 ? "X-Test: abort\r\n" : "", (long long)id);
		pv_buf_reset(&job->raw);
		assert_int_equal(pv_buf_append(&job->raw, msg, (size_t)n, NULL), 0);
		job->id = id;
		job->extract = true;
		index_pool_start(pool, job);
	}
	assert_int_equal(next_back, 10);
	index_pool_free(&pool);
	assert_null(pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_the_sandbox_gives_the_document_an_extraction_in_process_gives),
		cmocka_unit_test(test_a_big_message_leaves_the_child_small),
		cmocka_unit_test(test_a_pinned_sandbox_runs_on_its_cpu),
		cmocka_unit_test(test_a_worker_finds_nothing_of_an_earlier_message),
		cmocka_unit_test(test_a_worker_does_not_get_the_answer_buffer),
		cmocka_unit_test(test_the_views_of_a_message_are_made_in_the_sandbox),
		cmocka_unit_test(test_a_crash_a_loop_and_a_socket_each_fail_one_message),
		cmocka_unit_test(test_the_keys_are_out_of_its_reach),
		cmocka_unit_test(test_a_lying_child_is_a_failure_not_a_document),
		cmocka_unit_test(test_the_indexer_records_the_failure_and_indexes_the_rest),
		cmocka_unit_test(test_a_pool_gives_results_in_order_and_a_crash_fails_only_its_message),
	};
	/* The shared fixture's helpers this file does not need. */
	(void)fx_t;
	(void)fx_read;
	(void)fx_int;
	(void)fx_policy_store;
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
