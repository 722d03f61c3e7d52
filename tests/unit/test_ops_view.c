/* Unit tests for the read operations both front ends call
 * (archiver/archive/search.c, view.c, proof.c): each appends its audit
 * entry before anything about a message leaves, and when the audit store
 * cannot be written it fails and hands out nothing — no hit, no metadata,
 * no text, no byte, no proof (ARCHITECTURE.md §1.4). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "archiver/archive/checkpoints.h"
#include "archiver/archive/holds.h"
#include "archiver/archive/search.h"
#include "archiver/archive/view.h"
#include "archiver/lib/hex.h"
#include "archiver/lib/limits.h"
#include "archiver/store/leaf.h"
#include "audit/tlog_proof.h"
#include "test_ops_fixture.h"

#define MSG(from, subject)                                                                        \
	"From: " from "\r\nTo: x@o.example\r\nSubject: " subject "\r\n"                           \
	"Date: Fri, 10 Jan 2020 10:00:00 +0000\r\nMessage-ID: <" subject "@t>\r\n\r\nbody of " \
	subject "\r\n"

static const char *const mails[] = {
	MSG("ann@a.example", "merger plans"),
	MSG("bob@b.example", "merger costs"),
	MSG("cy@c.example", "lunch"),
};

static void setup_archive(struct fx *f)
{
	fx_init(f);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(fx_archive(f, mails[i], fx_t("2020-01-10T10:00:00Z")), (int64_t)i + 1);
}

struct sink {
	struct pv_buf b;
	int calls;
};

static int collect(void *ctx, const unsigned char *d, size_t n, struct pv_error *err)
{
	struct sink *s = ctx;
	s->calls++;
	return pv_buf_append(&s->b, d, n, err);
}

static void test_view_text_audited_with_metadata(void **state)
{
	(void)state;
	struct fx f;
	struct archive_message_meta meta;
	struct pv_buf text;
	struct pv_error err;
	bool truncated = true;
	setup_archive(&f);
	fx_must(archive_view_text(f.ar, "web:alice", 2, 0, &meta, &text, &truncated, &err), &err, "view");
	assert_non_null(strstr(pv_buf_str(&text), "Subject: merger costs"));
	assert_non_null(strstr(pv_buf_str(&text), "body of merger costs"));
	assert_false(truncated);
	assert_int_equal(meta.id, 2);
	assert_string_equal(meta.account, "sales");
	assert_int_equal(meta.size, strlen(mails[1]));
	struct stored_message m = fx_load(&f, 2);
	char sha[65];
	pv_hex(m.sha256, 32, sha);
	assert_string_equal(meta.sha256, sha);
	assert_string_equal(meta.retention_class, m.class_name);
	assert_int_equal(meta.disposed_at, 0);
	assert_int_equal(meta.n_holds, 0);
	struct audit_entry e = ops_audit_last(&f);
	assert_string_equal(e.type, "view");
	assert_string_equal(e.actor, "web:alice");
	assert_string_equal(e.object, "message=2");
	archive_message_meta_free(&meta);
	pv_buf_free(&text);
	fx_free(&f);
}

static void test_view_raw_meta_proof_name_what_was_seen(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct sink s = {.calls = 0};
	struct archive_message_meta meta;
	struct pv_buf proof;
	setup_archive(&f);
	pv_buf_init(&s.b, 1 << 20);
	fx_must(archive_view_raw(f.ar, "web:alice", 1, 0, collect, &s, &err), &err, "raw");
	assert_string_equal(pv_buf_str(&s.b), mails[0]);
	assert_string_equal(ops_audit_last(&f).object, "message=1 raw=yes");
	fx_must(archive_view_meta(f.ar, "web:alice", 3, 0, &meta, &err), &err, "meta");
	assert_int_equal(meta.id, 3);
	assert_string_equal(ops_audit_last(&f).object, "message=3 meta=yes");
	pv_buf_init(&proof, PV_TLOG_PROOF_MAX);
	fx_must(archive_view_proof(f.ar, "web:alice", 3, 0, &proof, &err), &err, "proof");
	assert_string_equal(ops_audit_last(&f).object, "message=3 proof=yes");
	archive_message_meta_free(&meta);
	pv_buf_free(&proof);
	pv_buf_free(&s.b);
	fx_free(&f);
}

/* The proof verifies with the archive log's key alone, and its extra
 * (salt and leaf) binds the exact bytes through the leaf's commitment. */
static void test_view_proof_verifies_offline(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct pv_buf proof, vkey;
	struct tlog_proof p;
	struct archive_leaf l;
	setup_archive(&f);
	pv_buf_init(&proof, PV_TLOG_PROOF_MAX);
	pv_buf_init(&vkey, 4096);
	fx_must(archive_view_proof(f.ar, "web:alice", 2, 0, &proof, &err), &err, "proof");
	fx_must(archive_checkpoint_vkey(f.ar, ARCHIVE_LOG, &vkey, &err), &err, "vkey");
	fx_must(tlog_proof_parse((const char *)proof.data, proof.len, &p, &err), &err, "parse");
	assert_true(p.has_extra);
	assert_true(p.extra_len > 5 + 2 * BLOB_SALT_BYTES + 1);
	assert_memory_equal(p.extra, "salt ", 5);
	const char *leaf = (const char *)p.extra + 5 + 2 * BLOB_SALT_BYTES + 1;
	size_t leaf_len = p.extra_len - (5 + 2 * BLOB_SALT_BYTES + 1);
	fx_must(tlog_proof_verify((const char *)proof.data, proof.len, leaf, leaf_len,
				  pv_buf_str(&vkey), NULL, NULL, &err), &err, "verify");
	fx_must(archive_leaf_parse(leaf, leaf_len, &l, &err), &err, "leaf");
	assert_int_equal(l.seq, 2);
	unsigned char salt[BLOB_SALT_BYTES], commit[BLOB_HASH_BYTES];
	char hex[2 * BLOB_HASH_BYTES + 1], salt_hex[2 * BLOB_SALT_BYTES + 1];
	memcpy(salt_hex, p.extra + 5, 2 * BLOB_SALT_BYTES);
	salt_hex[2 * BLOB_SALT_BYTES] = '\0';
	assert_int_equal(p.extra[5 + 2 * BLOB_SALT_BYTES], '\n');
	assert_int_equal(pv_unhex(salt_hex, strlen(salt_hex), salt, sizeof(salt)), 0);
	blob_commitment(salt, (const unsigned char *)mails[1], strlen(mails[1]), commit);
	pv_hex(commit, sizeof(commit), hex);
	assert_string_equal(l.commit, hex);
	/* and not for another message's bytes */
	blob_commitment(salt, (const unsigned char *)mails[0], strlen(mails[0]), commit);
	pv_hex(commit, sizeof(commit), hex);
	assert_string_not_equal(l.commit, hex);
	tlog_proof_free(&p);
	pv_buf_free(&proof);
	pv_buf_free(&vkey);
	fx_free(&f);
}

static void test_view_lists_holds_recorded_on_the_message(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct archive_message_meta meta;
	setup_archive(&f);
	fx_must(hold_add(f.ar, "Smith v. Jones", "subject:merger", NULL, "web:legal", 5, NULL,
		&err),
		&err, "hold");
	fx_must(archive_view_meta(f.ar, "web:alice", 1, 0, &meta, &err), &err, "meta 1");
	assert_int_equal(meta.n_holds, 1);
	assert_string_equal(meta.holds[0], "Smith v. Jones");
	archive_message_meta_free(&meta);
	assert_null(meta.holds);
	fx_must(archive_view_meta(f.ar, "web:alice", 3, 0, &meta, &err), &err, "meta 3");
	assert_int_equal(meta.n_holds, 0);
	archive_message_meta_free(&meta);
	fx_must(hold_release(f.ar, "Smith v. Jones", "web:legal", 6, &err), &err, "release");
	fx_must(archive_view_meta(f.ar, "web:alice", 1, 0, &meta, &err), &err, "meta 1 again");
	assert_int_equal(meta.n_holds, 0);
	archive_message_meta_free(&meta);
	fx_free(&f);
}

static void test_view_of_unknown_id_is_not_found_and_not_audited(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct archive_message_meta meta;
	struct pv_buf text;
	bool truncated;
	setup_archive(&f);
	uint64_t before = ops_audit_size(&f);
	assert_int_equal(archive_view_text(f.ar, "web:alice", 4, 0, &meta, &text, &truncated, &err),
			 PV_ENOTFOUND);
	assert_int_equal(meta.id, 0);
	assert_int_equal(text.len, 0);
	assert_int_equal(ops_audit_size(&f), before);
	archive_message_meta_free(&meta);
	pv_buf_free(&text);
	fx_free(&f);
}

/* The audit store cannot be written: every read fails, nothing leaves. */
static void test_reads_fail_closed_when_audit_store_is_read_only(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct archive_message_meta meta;
	struct archive_search_result res;
	struct pv_buf text, proof;
	struct sink s = {.calls = 0};
	bool truncated;
	int r;
	setup_archive(&f);
	/* index first: the search's catch-up is not what must fail here */
	fx_must(archive_search(f.ar, "web:alice", "merger", NULL, 0, 10,
		PV_SEARCH_TOTAL_CAP, &res, &err), &err, "search");
	assert_int_equal(res.total, 2);
	archive_search_result_free(&res);
	uint64_t before = ops_audit_size(&f);
	pv_buf_init(&s.b, 1 << 20);
	pv_buf_init(&proof, PV_TLOG_PROOF_MAX);
	ops_audit_read_only(&f, true);

	r = archive_search(f.ar, "web:alice", "merger", NULL, 0, 10,
		PV_SEARCH_TOTAL_CAP, &res, &err);
	ops_assert_audit_refused(r, &err);
	assert_int_equal(res.hits.n, 0);
	assert_null(res.hits.v);
	assert_int_equal(res.total, 0);
	archive_search_result_free(&res);

	r = archive_view_text(f.ar, "web:alice", 1, 0, &meta, &text, &truncated, &err);
	ops_assert_audit_refused(r, &err);
	assert_int_equal(meta.id, 0);
	assert_int_equal(meta.account[0], '\0');
	assert_int_equal(text.len, 0);
	archive_message_meta_free(&meta);
	pv_buf_free(&text);

	r = archive_view_raw(f.ar, "web:alice", 1, 0, collect, &s, &err);
	ops_assert_audit_refused(r, &err);
	assert_int_equal(s.calls, 0);
	assert_int_equal(s.b.len, 0);

	r = archive_view_meta(f.ar, "web:alice", 1, 0, &meta, &err);
	ops_assert_audit_refused(r, &err);
	assert_int_equal(meta.id, 0);
	archive_message_meta_free(&meta);

	r = archive_view_proof(f.ar, "web:alice", 1, 0, &proof, &err);
	ops_assert_audit_refused(r, &err);
	assert_int_equal(proof.len, 0);

	ops_audit_read_only(&f, false);
	assert_int_equal(ops_audit_size(&f), before);
	/* writable again: the same reads work and are recorded */
	fx_must(archive_view_raw(f.ar, "web:alice", 1, 0, collect, &s, &err), &err, "raw");
	assert_string_equal(pv_buf_str(&s.b), mails[0]);
	assert_int_equal(ops_audit_size(&f), before + 1);
	pv_buf_free(&proof);
	pv_buf_free(&s.b);
	fx_free(&f);
}

/* A total counted up to its cap says so, in the result and in the audit
 * entry ("results=N+"), and the pages go on past the cap. */
static void test_search_total_past_cap_is_marked_and_audited(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct archive_search_result res;
	setup_archive(&f);
	/* two matches, counted up to one: the page past the cap is there */
	fx_must(archive_search(f.ar, "web:alice", "subject:merger", NULL, 1, 1, 1, &res, &err),
		&err, "capped");
	assert_int_equal(res.total, 1);
	assert_false(res.total_exact);
	assert_int_equal(res.hits.n, 1);
	assert_int_equal(res.hits.v[0].id, 1);
	struct audit_entry e = ops_audit_last(&f);
	assert_int_equal(strncmp(e.object, "results=1+ shown=1 ids-sha256=", 30), 0);
	archive_search_result_free(&res);
	/* exact on request */
	fx_must(archive_search(f.ar, "web:alice", "subject:merger", NULL, 0, 10, INDEX_COUNT_ALL,
		&res, &err), &err, "exact");
	assert_int_equal(res.total, 2);
	assert_true(res.total_exact);
	assert_int_equal(res.hits.n, 2);
	e = ops_audit_last(&f);
	assert_int_equal(strncmp(e.object, "results=2 shown=2 ids-sha256=", 29), 0);
	archive_search_result_free(&res);
	/* as many as the cap: exact */
	fx_must(archive_search(f.ar, "web:alice", "subject:merger", NULL, 0, 10, 2, &res, &err),
		&err, "at the cap");
	assert_int_equal(res.total, 2);
	assert_true(res.total_exact);
	archive_search_result_free(&res);
	fx_free(&f);
}

static void test_search_pages_exact_total_and_audits_the_page(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct archive_search_result res;
	setup_archive(&f);
	fx_must(archive_search(f.ar, "web:alice", "subject:merger", NULL, 1, 1,
		PV_SEARCH_TOTAL_CAP, &res, &err), &err, "search");
	assert_int_equal(res.total, 2);
	assert_int_equal(res.offset, 1);
	assert_int_equal(res.limit, 1);
	assert_int_equal(res.hits.n, 1);
	/* same date: newest first means the higher id first */
	assert_int_equal(res.hits.v[0].id, 1);
	struct audit_entry e = ops_audit_last(&f);
	assert_string_equal(e.type, "search");
	assert_string_equal(e.actor, "web:alice");
	assert_int_equal(strncmp(e.object, "results=2 shown=1 ids-sha256=", 29), 0);
	archive_search_result_free(&res);
	/* a bad query is refused, and not audited */
	uint64_t before = ops_audit_size(&f);
	assert_int_equal(archive_search(f.ar, "web:alice", "from:(", NULL, 0, 10,
		PV_SEARCH_TOTAL_CAP, &res, &err), PV_EUSAGE);
	assert_int_equal(res.hits.n, 0);
	assert_int_equal(ops_audit_size(&f), before);
	archive_search_result_free(&res);
	fx_free(&f);
}


static const char hostile[] =
	"From: Mallory <m@evil.example>\r\nTo: x@o.example\r\n"
	"Subject: =?utf-8?q?invoice_=E2=80=AEfdp.exe?=\r\n"
	"Date: Fri, 10 Jan 2020 11:00:00 +0000\r\nMIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=m\r\n\r\n"
	"--m\r\nContent-Type: multipart/alternative; boundary=a\r\n\r\n"
	"--a\r\nContent-Type: text/plain\r\n\r\nplain words\r\n"
	"--a\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
	"<p onclick=alert(1)>html words</p><script>alert(2)</script>"
	"<img src=\"https://track.example/p.gif\">\r\n--a--\r\n"
	"--m\r\nContent-Type: application/pdf\r\n"
	"Content-Disposition: attachment; filename=\"report.pdf\"\r\n"
	"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--m--\r\n";

/* The HTML view is the sanitised HTML body, audited as html=yes; a
 * message without one is its text in <pre>. */
static void test_view_html_is_sanitised_and_audited(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct pv_buf html;
	bool had = false;
	setup_archive(&f);
	assert_int_equal(fx_archive(&f, hostile, fx_t("2020-01-10T11:00:00Z")), 4);
	fx_must(archive_view_html(f.ar, "web:alice", 4, ARCHIVE_VIEW_LIVE, &html, &had, &err), &err,
		"html");
	assert_true(had);
	const char *h = pv_buf_str(&html);
	assert_non_null(strstr(h, "<p>html words</p>"));
	assert_null(strstr(h, "script"));
	assert_null(strstr(h, "onclick"));
	assert_null(strstr(h, "track.example"));
	assert_null(strstr(h, "plain words"));
	assert_string_equal(ops_audit_last(&f).object, "message=4 html=yes");
	pv_buf_free(&html);
	fx_must(archive_view_html(f.ar, "web:alice", 3, ARCHIVE_VIEW_LIVE, &html, &had, &err), &err,
		"html of text");
	assert_false(had);
	assert_non_null(strstr(pv_buf_str(&html), "\">From: cy@c.example\nTo: x@o.example\n"));
	assert_non_null(strstr(pv_buf_str(&html), "body of lunch"));
	pv_buf_free(&html);
	fx_free(&f);
}

/* Parts are listed with their decoded sizes (audited parts=yes); one
 * part is a download, audited as such before its bytes; a part the
 * message does not have is not found and not audited. */
static void test_view_parts_and_part_download_audited(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct archive_message_parts ps;
	struct archive_message_part part;
	struct archive_message_meta meta;
	struct pv_buf out;
	setup_archive(&f);
	assert_int_equal(fx_archive(&f, hostile, fx_t("2020-01-10T11:00:00Z")), 4);
	fx_must(archive_view_parts(f.ar, "web:alice", 4, ARCHIVE_VIEW_LIVE, &ps, &err), &err, "parts");
	assert_int_equal(ps.n, 3);
	assert_true(ps.complete);
	assert_string_equal(ps.v[0].type, "text/plain");
	assert_int_equal(ps.v[0].size, strlen("plain words"));
	assert_string_equal(ps.v[1].type, "text/html");
	assert_string_equal(ps.v[2].type, "application/pdf");
	assert_string_equal(ps.v[2].filename, "report.pdf");
	assert_true(ps.v[2].attachment);
	assert_int_equal(ps.v[2].size, 9);
	assert_string_equal(ops_audit_last(&f).object, "message=4 parts=yes");
	archive_message_parts_free(&ps);

	fx_must(archive_view_part(f.ar, "web:alice", 4, 3, ARCHIVE_VIEW_LIVE, &out, &part, &err),
		&err, "part");
	assert_int_equal(out.len, 9);
	assert_memory_equal(out.data, "%PDF-1.4\n", 9);
	assert_string_equal(part.filename, "report.pdf");
	assert_string_equal(part.type, "application/pdf");
	struct audit_entry e = ops_audit_last(&f);
	assert_string_equal(e.type, "download");
	assert_string_equal(e.object, "message=4 part=3");
	free(part.filename);
	pv_buf_free(&out);

	uint64_t before = ops_audit_size(&f);
	assert_int_equal(archive_view_part(f.ar, "web:alice", 4, 4, ARCHIVE_VIEW_LIVE, &out, &part,
					   &err), PV_ENOTFOUND);
	assert_int_equal(out.len, 0);
	assert_int_equal(archive_view_part(f.ar, "web:alice", 4, 0, ARCHIVE_VIEW_LIVE, &out, &part,
					   &err), PV_ENOTFOUND);
	assert_int_equal(ops_audit_size(&f), before);
	pv_buf_free(&out);

	/* the meta view reads the header summary and what the message holds */
	fx_must(archive_view_meta(f.ar, "web:alice", 4, ARCHIVE_VIEW_LIVE, &meta, &err), &err, "meta");
	assert_string_equal(meta.headers.from, "Mallory <m@evil.example>");
	assert_string_equal(meta.headers.subject, "invoice \xe2\x80\xae" "fdp.exe");
	assert_true(meta.headers.date_known);
	assert_int_equal(meta.headers.date, fx_t("2020-01-10T11:00:00Z"));
	assert_true(meta.has_html);
	assert_true(meta.has_attachment);
	assert_int_equal(meta.leaf_index, 3);
	archive_message_meta_free(&meta);
	fx_free(&f);
}

/* The web's views (ARCHIVE_VIEW_LIVE): a message disposed of is not
 * there, exactly like one never archived, and nothing is audited. */
static void test_live_views_of_a_disposed_message_are_not_found_unaudited(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct archive_message_meta meta;
	struct archive_message_parts ps;
	struct archive_message_part part;
	struct pv_buf text, html, proof, out;
	struct sink s = {.calls = 0};
	bool truncated, had;
	setup_archive(&f);
	fx_must(catalog_exec(f.ar->cat->db, "UPDATE messages SET disposed_at = 1600000000,"
				" blob = NULL, wrapped_key = NULL WHERE id = 3", &err), &err, "dispose");
	uint64_t before = ops_audit_size(&f);
	pv_buf_init(&s.b, 1 << 20);
	pv_buf_init(&proof, PV_TLOG_PROOF_MAX);
	for (int64_t id = 3; id <= 4; id++) { /* disposed, and never archived */
		assert_int_equal(archive_view_meta(f.ar, "web:alice", id, ARCHIVE_VIEW_LIVE, &meta,
						   &err), PV_ENOTFOUND);
		assert_int_equal(meta.id, 0);
		archive_message_meta_free(&meta);
		assert_int_equal(archive_view_text(f.ar, "web:alice", id, ARCHIVE_VIEW_LIVE, &meta,
						   &text, &truncated, &err), PV_ENOTFOUND);
		assert_int_equal(text.len, 0);
		archive_message_meta_free(&meta);
		pv_buf_free(&text);
		assert_int_equal(archive_view_raw(f.ar, "web:alice", id, ARCHIVE_VIEW_LIVE, collect, &s,
						  &err), PV_ENOTFOUND);
		assert_int_equal(s.calls, 0);
		assert_int_equal(archive_view_proof(f.ar, "web:alice", id, ARCHIVE_VIEW_LIVE, &proof,
						    &err), PV_ENOTFOUND);
		assert_int_equal(proof.len, 0);
		assert_int_equal(archive_view_html(f.ar, "web:alice", id, ARCHIVE_VIEW_LIVE, &html, &had,
						   &err), PV_ENOTFOUND);
		assert_int_equal(html.len, 0);
		pv_buf_free(&html);
		assert_int_equal(archive_view_parts(f.ar, "web:alice", id, ARCHIVE_VIEW_LIVE, &ps, &err),
				 PV_ENOTFOUND);
		assert_int_equal(ps.n, 0);
		archive_message_parts_free(&ps);
		assert_int_equal(archive_view_part(f.ar, "web:alice", id, 1, ARCHIVE_VIEW_LIVE, &out,
						   &part, &err), PV_ENOTFOUND);
		pv_buf_free(&out);
	}
	assert_int_equal(ops_audit_size(&f), before);
	/* the CLI's view still shows what the catalog knows, audited */
	fx_must(archive_view_meta(f.ar, "web:alice", 3, 0, &meta, &err), &err, "meta");
	assert_int_equal(meta.disposed_at, 1600000000);
	assert_null(meta.headers.subject);
	assert_int_equal(ops_audit_size(&f), before + 1);
	archive_message_meta_free(&meta);
	pv_buf_free(&proof);
	pv_buf_free(&s.b);
	fx_free(&f);
}

/* The new reads fail closed too. */
static void test_html_and_parts_fail_closed(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct archive_message_parts ps;
	struct archive_message_part part;
	struct pv_buf html, out;
	bool had;
	setup_archive(&f);
	assert_int_equal(fx_archive(&f, hostile, fx_t("2020-01-10T11:00:00Z")), 4);
	uint64_t before = ops_audit_size(&f);
	ops_audit_read_only(&f, true);
	ops_assert_audit_refused(archive_view_html(f.ar, "web:alice", 4, ARCHIVE_VIEW_LIVE, &html,
						   &had, &err), &err);
	assert_int_equal(html.len, 0);
	pv_buf_free(&html);
	ops_assert_audit_refused(archive_view_parts(f.ar, "web:alice", 4, ARCHIVE_VIEW_LIVE, &ps,
						    &err), &err);
	assert_int_equal(ps.n, 0);
	archive_message_parts_free(&ps);
	ops_assert_audit_refused(archive_view_part(f.ar, "web:alice", 4, 3, ARCHIVE_VIEW_LIVE, &out,
						   &part, &err), &err);
	assert_int_equal(out.len, 0);
	assert_null(part.filename);
	pv_buf_free(&out);
	ops_audit_read_only(&f, false);
	assert_int_equal(ops_audit_size(&f), before);
	fx_free(&f);
}

/* Relevance order ranks the better match first; date order either way;
 * the syntax check names the column. */
static void test_search_orders_and_syntax_check(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	struct archive_search_result res;
	setup_archive(&f);
	assert_int_equal(fx_archive(&f, MSG("dee@d.example", "merger merger merger"),
				    fx_t("2020-01-09T10:00:00Z")), 4);
	struct index_order rel = {INDEX_SORT_RELEVANCE, false}, old = {INDEX_SORT_DATE, true};
	fx_must(archive_search(f.ar, "web:alice", "merger", &rel, 0, 10,
		PV_SEARCH_TOTAL_CAP, &res, &err), &err, "rel");
	assert_int_equal(res.total, 3);
	assert_int_equal(res.hits.v[0].id, 4);
	archive_search_result_free(&res);
	fx_must(archive_search(f.ar, "web:alice", "merger", &old, 0, 10,
		PV_SEARCH_TOTAL_CAP, &res, &err), &err, "asc");
	/* one Date for all: ascending ids */
	assert_int_equal(res.hits.v[0].id, 1);
	assert_int_equal(res.hits.v[1].id, 2);
	assert_int_equal(res.hits.v[2].id, 4);
	assert_false(res.hits.v[0].has_attachment);
	archive_search_result_free(&res);
	size_t col = 99;
	uint64_t before = ops_audit_size(&f);
	assert_int_equal(archive_search_check("from:alice (bob", &col, &err), PV_EUSAGE);
	assert_int_equal(col, 16);
	assert_int_equal(strncmp(err.msg, "column 16: ", 11), 0);
	assert_int_equal(archive_search_check("from:alice bob", &col, &err), PV_OK);
	assert_int_equal(col, 0);
	assert_int_equal(ops_audit_size(&f), before);
	fx_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_view_text_audited_with_metadata),
		cmocka_unit_test(test_view_raw_meta_proof_name_what_was_seen),
		cmocka_unit_test(test_view_proof_verifies_offline),
		cmocka_unit_test(test_view_lists_holds_recorded_on_the_message),
		cmocka_unit_test(test_view_of_unknown_id_is_not_found_and_not_audited),
		cmocka_unit_test(test_reads_fail_closed_when_audit_store_is_read_only),
		cmocka_unit_test(test_search_pages_exact_total_and_audits_the_page),
		cmocka_unit_test(test_search_total_past_cap_is_marked_and_audited),
		cmocka_unit_test(test_view_html_is_sanitised_and_audited),
		cmocka_unit_test(test_view_parts_and_part_download_audited),
		cmocka_unit_test(test_live_views_of_a_disposed_message_are_not_found_unaudited),
		cmocka_unit_test(test_html_and_parts_fail_closed),
		cmocka_unit_test(test_search_orders_and_syntax_check),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("ops_view", tests, NULL, NULL);
}
