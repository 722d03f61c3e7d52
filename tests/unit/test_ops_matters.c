/* Unit tests for matters and export job rows (archiver/archive/matters.c,
 * export_jobs.c): names checked, taken names a conflict, the audit entry
 * written with the row (and nothing without it), a matter's holds, and a
 * bundle handed out only when done, unchanged, and after its download is
 * recorded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "archiver/archive/export_jobs.h"
#include "archiver/archive/matters.h"
#include "archiver/lib/fsutil.h"
#include "archiver/lib/hex.h"
#include "test_ops_fixture.h"

#define MSG(subject)                                                                              \
	"From: ann@a.example\r\nTo: x@o.example\r\nSubject: " subject "\r\n"                      \
	"Date: Fri, 10 Jan 2020 10:00:00 +0000\r\n\r\nbody\r\n"

static void setup(struct fx *f)
{
	fx_init(f);
	assert_int_equal(fx_archive(f, MSG("merger"), fx_t("2020-01-10T10:00:00Z")), 1);
	assert_int_equal(fx_archive(f, MSG("lunch"), fx_t("2020-01-10T10:00:00Z")), 2);
}

static int count_hold(void *ctx, const struct hold *h)
{
	(void)h;
	(*(int *)ctx)++;
	return 0;
}

static void test_matter_names_are_checked(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	setup(&f);
	static const char *const bad[] = {
		"", " lead", "trail ", "a/b", "a\\b", "tab\there", "bidi \xe2\x80\xae" "x", ".", "..",
		"\xff\xfe",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(archive_matter_create(f.ar, "web:alice", bad[i], NULL, 5, NULL, &err),
				 PV_EUSAGE);
	char longname[PV_MATTER_NAME_MAX + 2];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(archive_matter_create(f.ar, "web:alice", longname, NULL, 5, NULL, &err),
			 PV_EUSAGE);
	assert_int_equal(archive_matter_create(f.ar, "web:alice", "ok", "line\nbreak", 5, NULL, &err),
			 PV_EUSAGE);
	fx_free(&f);
}

static void test_matter_create_is_audited_and_a_taken_name_conflicts(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct matter m;
	setup(&f);
	uint64_t before = ops_audit_size(&f);
	fx_must(archive_matter_create(f.ar, "web:alice", "Smith v. Jones", "Case 1", 100, &m, &err),
		&err, "create");
	assert_string_equal(m.name, "Smith v. Jones");
	assert_string_equal(m.description, "Case 1");
	assert_string_equal(m.created_by, "web:alice");
	assert_int_equal(m.created_at, 100);
	assert_int_equal(m.searches + m.holds + m.exports, 0);
	struct audit_entry e = ops_audit_last(&f);
	assert_string_equal(e.type, "matter");
	assert_string_equal(e.object, "matter=1");
	assert_int_equal(ops_audit_size(&f), before + 1);
	assert_int_equal(archive_matter_create(f.ar, "web:bob", "Smith v. Jones", NULL, 101, NULL,
					       &err), PV_EEXISTS);
	assert_int_equal(ops_audit_size(&f), before + 1);
	assert_int_equal(archive_matter_get(f.ar, "nope", &m, &err), PV_ENOTFOUND);
	/* no audit entry, no matter */
	ops_audit_read_only(&f, true);
	ops_assert_audit_refused(archive_matter_create(f.ar, "web:alice", "Other", NULL, 102, NULL,
						       &err), &err);
	ops_audit_read_only(&f, false);
	assert_int_equal(archive_matter_get(f.ar, "Other", &m, &err), PV_ENOTFOUND);
	fx_free(&f);
}

static void test_saved_searches_parse_and_are_unique(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct matter m;
	struct matter_search s;
	setup(&f);
	fx_must(archive_matter_create(f.ar, "web:alice", "M", NULL, 100, NULL, &err), &err, "create");
	assert_int_equal(archive_matter_search_add(f.ar, "web:alice", "M", "bad", "from:(", 101, &s,
						   &err), PV_EUSAGE);
	assert_int_equal(strncmp(err.msg, "column ", 7), 0);
	assert_int_equal(archive_matter_search_add(f.ar, "web:alice", "nope", "s", "x", 101, &s,
						   &err), PV_ENOTFOUND);
	fx_must(archive_matter_search_add(f.ar, "web:alice", "M", "mergers", "subject:merger", 101,
					  &s, &err), &err, "save");
	assert_string_equal(s.query, "subject:merger");
	assert_string_equal(ops_audit_last(&f).object, "matter=1 search=1");
	assert_int_equal(archive_matter_search_add(f.ar, "web:bob", "M", "mergers", "x", 102, &s,
						   &err), PV_EEXISTS);
	fx_must(archive_matter_get(f.ar, "M", &m, &err), &err, "get");
	assert_int_equal(m.searches, 1);
	fx_free(&f);
}

/* A matter's holds: its own name, or placed for it; not others. */
static void test_holds_of_a_matter(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct matter m;
	char owner[PV_MATTER_NAME_MAX + 1];
	int64_t members = -1;
	int n = 0;
	setup(&f);
	fx_must(archive_matter_create(f.ar, "web:alice", "M", NULL, 100, NULL, &err), &err, "create");
	fx_must(archive_matter_hold_add(f.ar, "web:alice", "M", "M", "subject:merger", NULL, 101,
					&members, &err), &err, "own name");
	assert_int_equal(members, 1);
	fx_must(archive_matter_hold_add(f.ar, "web:alice", "M", "M lunch", "lunch", "why", 102,
					&members, &err), &err, "placed for it");
	fx_must(archive_matter_hold_add(f.ar, "web:alice", NULL, "unrelated", "lunch", NULL, 103,
					&members, &err), &err, "none");
	assert_int_equal(archive_matter_hold_add(f.ar, "web:alice", "nope", "x", "lunch", NULL, 104,
						 &members, &err), PV_ENOTFOUND);
	/* a taken hold name is a conflict, and leaves no link behind */
	assert_int_equal(archive_matter_hold_add(f.ar, "web:alice", "M", "unrelated", "lunch", NULL,
						 105, &members, &err), PV_EEXISTS);
	fx_must(archive_matter_of_hold(f.ar, "unrelated", owner, sizeof(owner), &err), &err, "of");
	assert_string_equal(owner, "");
	fx_must(archive_matter_of_hold(f.ar, "M lunch", owner, sizeof(owner), &err), &err, "of");
	assert_string_equal(owner, "M");
	fx_must(archive_matter_get(f.ar, "M", &m, &err), &err, "get");
	assert_int_equal(m.holds, 2);
	fx_must(archive_matter_holds(f.ar, &m, count_hold, &n, &err), &err, "holds");
	assert_int_equal(n, 2);
	fx_free(&f);
}

struct jobs {
	int n;
	int64_t ids[8];
};

static int collect_job(void *ctx, const struct export_job *j)
{
	struct jobs *js = ctx;
	js->ids[js->n++] = j->id;
	return 0;
}

static void test_export_job_rows_and_download(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct export_job j;
	struct jobs js = {0};
	char path[256];
	int64_t id = 0, id2 = 0;
	int fd;
	setup(&f);
	assert_int_equal(archive_export_job_begin(f.ar, "web:alice", "M", "x", "rar", NULL, 5, &id,
						  &err), PV_EUSAGE);
	fx_must(archive_export_job_begin(f.ar, "web:alice", "M", "subject:merger", "zip", "SM", 5,
					 &id, &err), &err, "begin");
	fx_must(archive_export_job_get(f.ar, id, &j, &err), &err, "get");
	assert_string_equal(j.status, "running");
	assert_string_equal(j.bates_prefix, "SM");
	assert_int_equal(j.messages, -1);
	assert_int_equal(j.finished_at, 0);
	/* not done: a conflict, nothing recorded */
	uint64_t before = ops_audit_size(&f);
	assert_int_equal(archive_export_job_download(f.ar, "web:alice", id, &fd, &j, &err),
			 PV_EEXISTS);
	assert_int_equal(fd, -1);
	assert_int_equal(archive_export_job_download(f.ar, "web:alice", 99, &fd, &j, &err),
			 PV_ENOTFOUND);
	/* done: the file is what the row says */
	fx_must(archive_export_job_path(f.dir, id, "zip", path, sizeof(path), &err), &err, "path");
	fx_must(pv_write_file(path, "bundle", 6, 0600, 1, &err), &err, "write");
	unsigned char d[32];
	char hex[65];
	crypto_hash_sha256(d, (const unsigned char *)"bundle", 6);
	pv_hex(d, 32, hex);
	struct export_job_result res = {2, 0, 4, 6, 17, hex, NULL, 0};
	fx_must(archive_export_job_end(f.ar, id, EXPORT_JOB_DONE, &res, NULL, 9, &err), &err, "end");
	assert_int_equal(archive_export_job_end(f.ar, id, EXPORT_JOB_FAILED, NULL, "x", 9, &err),
			 PV_ENOTFOUND);
	fx_must(archive_export_job_get(f.ar, id, &j, &err), &err, "get");
	assert_string_equal(j.status, "done");
	assert_int_equal(j.messages, 2);
	assert_int_equal(j.file_size, 6);
	assert_int_equal(j.finished_at, 9);
	assert_int_equal(strncmp(j.vkeys[0], "test.example/popvault/archive+", 30), 0);
	assert_int_equal(strncmp(j.vkeys[1], "test.example/popvault/audit+", 28), 0);
	assert_int_equal(ops_audit_size(&f), before);
	fx_must(archive_export_job_download(f.ar, "web:alice", id, &fd, &j, &err), &err, "download");
	char buf[16];
	assert_int_equal(read(fd, buf, sizeof(buf)), 6);
	close(fd);
	struct audit_entry e = ops_audit_last(&f);
	assert_string_equal(e.type, "download");
	assert_int_equal(strncmp(e.object, "export=1 sha256=", 16), 0);
	/* a changed file is an integrity failure, not sent, not recorded */
	fx_must(unlink(path) == 0 ? PV_OK : PV_ERR, &err, "unlink");
	fx_must(pv_write_file(path, "bundlE", 6, 0600, 1, &err), &err, "write");
	before = ops_audit_size(&f);
	assert_int_equal(archive_export_job_download(f.ar, "web:alice", id, &fd, &j, &err),
			 PV_EINTEGRITY);
	assert_int_equal(ops_audit_size(&f), before);
	/* a job left running is swept to failed, its partial file removed */
	fx_must(archive_export_job_begin(f.ar, "web:alice", "N", "x", "tar.gz", NULL, 10, &id2,
					 &err), &err, "begin 2");
	fx_must(archive_export_job_path(f.dir, id2, "tar.gz", path, sizeof(path), &err), &err, "p");
	fx_must(pv_write_file(path, "part", 4, 0600, 1, &err), &err, "write");
	fx_must(archive_export_jobs_sweep(f.ar, 11, &err), &err, "sweep");
	fx_must(archive_export_job_get(f.ar, id2, &j, &err), &err, "get 2");
	assert_string_equal(j.status, "failed");
	assert_non_null(strstr(j.error, "interrupted"));
	assert_int_equal(access(path, F_OK), -1);
	fx_must(archive_export_jobs_each(f.ar, NULL, collect_job, &js, &err), &err, "each");
	assert_int_equal(js.n, 2);
	assert_int_equal(js.ids[0], id2);
	js.n = 0;
	fx_must(archive_export_jobs_each(f.ar, "M", collect_job, &js, &err), &err, "each M");
	assert_int_equal(js.n, 1);
	fx_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matter_names_are_checked),
		cmocka_unit_test(test_matter_create_is_audited_and_a_taken_name_conflicts),
		cmocka_unit_test(test_saved_searches_parse_and_are_unique),
		cmocka_unit_test(test_holds_of_a_matter),
		cmocka_unit_test(test_export_job_rows_and_download),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("ops_matters", tests, NULL, NULL);
}
