/* Unit tests for audit/bundle and audit/auditbundle: exported audit bundles
 * verify offline, and every tampering is named — by an outsider (the
 * manifest no longer matches) and by someone holding the signing key who
 * re-signs the manifest (the leaves, seqs, roots and the export event give
 * it away). Also hostile archives: bad names, links, duplicates, cuts. */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "archiver/lib/clock.h"
#include "audit/auditbundle.h"
#include "audit/auditlog.h"
#include "audit/bundle.h"
#include "audit/checkpoint.h"
#include "audit/keys.h"
#include "audit/tlog.h"
#include "tests/unit/fixtures.h"

struct fx {
	char dir[FX_PATH_MAX], keydir[FX_PATH_MAX], dbpath[FX_PATH_MAX];
	sqlite3 *h;    /* SQLite only */
	struct db *db; /* either engine */
	struct tlog *t;
	struct note_signer *s;
	struct note_verifier v;
};

static void fx_init(struct fx *f, bool pg)
{
	struct pv_error err;
	char vkey[NOTE_VKEY_MAX + 1];
	memset(f, 0, sizeof(*f));
	fx_logdir_make("abundle", f->dir, f->keydir, f->dbpath);
	if (pg) {
		f->db = fx_pg_fresh(migrations_catalog_pg.count);
	} else {
		f->h = fx_logdb_open(f->dbpath, "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF");
		f->db = fx_conn(f->h);
	}
	fx_log_create(f->db, f->keydir, "audit", "test.example/pv/audit", vkey);
	fx_must(note_verifier_parse(vkey, strlen(vkey), &f->v, &err), &err, "vkey");
	fx_log_open(f->db, f->keydir, "audit", &f->t, &f->s);
}

static void fx_done(struct fx *f)
{
	keys_free(&f->s);
	tlog_free(&f->t);
	fx_logdb_close(&f->db, &f->h);
	fx_rmtree(f->dir);
}

static void append(struct fx *f, const char *type, const char *object, const char *personal)
{
	struct audit_event ev = {"cli:root", type, object, "ok", personal};
	struct pv_error err;
	fx_must(auditlog_append(f->t, f->s, &ev, NULL, &err), &err, "append");
}

static void fill(struct fx *f, int n)
{
	char obj[64];
	for (int i = 0; i < n; i++) {
		snprintf(obj, sizeof(obj), "message=%d", i + 1);
		append(f, i % 3 ? AUDIT_VIEW : AUDIT_SEARCH, obj, i % 3 ? NULL : "from:boss");
	}
}

static void export_to(struct fx *f, const char *name, int64_t since, int64_t until, char *path,
		      size_t n)
{
	struct auditbundle_opts o = {.out = path, .actor = "cli:test", .since = since, .until = until,
				    .personal = true};
	struct auditbundle_summary sum;
	struct pv_error err;
	snprintf(path, n, "%s/%s", f->dir, name);
	fx_must(auditbundle_export(f->t, f->s, &o, &sum, &err), &err, "export");
}

/* --- verifying, with the report collected --------------------------------------------- */

struct lines {
	char text[64][512];
	bool problem[64];
	int n;
};

static void collect(void *ctx, bool problem, const char *msg)
{
	struct lines *l = ctx;
	if (l->n < 64) {
		snprintf(l->text[l->n], sizeof(l->text[0]), "%s", msg);
		l->problem[l->n++] = problem;
	}
}

static bool has_problem(const struct lines *l, const char *needle)
{
	for (int i = 0; i < l->n; i++)
		if (l->problem[i] && strstr(l->text[i], needle) != NULL)
			return true;
	return false;
}

static void dump(const struct lines *l)
{
	for (int i = 0; i < l->n; i++)
		print_message("%s%s\n", l->problem[i] ? "FAIL: " : "", l->text[i]);
}

/* Verifies path; returns the verifier's status, lines in *l. */
static int verify(const struct fx *f, const char *path, const char *last, struct lines *l)
{
	struct bundle_report rep = {collect, l, 0, 0};
	struct bundle *b = NULL;
	struct pv_error err;
	memset(l, 0, sizeof(*l));
	int r = bundle_open_file(path, &b, &err);
	if (r < 0) {
		collect(l, true, err.msg);
		return r;
	}
	assert_string_equal(bundle_kind(b), AUDITBUNDLE_KIND);
	r = auditbundle_verify(b, &f->v, 1, last, last ? strlen(last) : 0, NULL, &rep, &err);
	bundle_free(&b);
	return r;
}

static void expect_ok(const struct fx *f, const char *path, const char *last)
{
	struct lines l;
	if (verify(f, path, last, &l) != 0) {
		dump(&l);
		fail_msg("%s does not verify", path);
	}
}

static void expect_problem(const struct fx *f, const char *path, const char *last,
			   const char *needle)
{
	struct lines l;
	int r = verify(f, path, last, &l);
	if (r != PV_EINTEGRITY || !has_problem(&l, needle)) {
		dump(&l);
		fail_msg("expected a problem naming '%s' (status %d)", needle, r);
	}
}

/* --- rewriting bundles --------------------------------------------------------------- */

struct member {
	char name[256];
	uint8_t *data;
	size_t len;
};

struct members {
	struct member m[64];
	int n;
};

struct read_ctx {
	struct members *ms;
	bool with_manifest;
};

static int read_member(void *ctx, const struct bundle_file *bf, struct bundle_stream *st)
{
	struct read_ctx *c = ctx;
	struct pv_error err;
	size_t got;
	if (!c->with_manifest &&
	    (strcmp(bf->name, "BUNDLE") == 0 || strncmp(bf->name, "MANIFEST.", 9) == 0))
		return 0;
	assert_true(c->ms->n < 64);
	struct member *m = &c->ms->m[c->ms->n++];
	snprintf(m->name, sizeof(m->name), "%s", bf->name);
	m->data = malloc(bf->size + 1);
	m->len = (size_t)bf->size;
	fx_must(bundle_stream_read(st, m->data, m->len, &got, &err), &err, "read");
	assert_int_equal(got, m->len);
	return 0;
}

static void read_members(const char *path, struct members *ms, bool with_manifest)
{
	struct bundle *b;
	struct pv_error err;
	struct read_ctx c = {ms, with_manifest};
	memset(ms, 0, sizeof(*ms));
	fx_must(bundle_open_file(path, &b, &err), &err, "open");
	/* In archive order. */
	fx_must(bundle_each(b, read_member, &c, &err), &err, "each");
	bundle_free(&b);
}

static void free_members(struct members *ms)
{
	for (int i = 0; i < ms->n; i++)
		free(ms->m[i].data);
	ms->n = 0;
}

static struct member *find(struct members *ms, const char *name)
{
	for (int i = 0; i < ms->n; i++)
		if (strcmp(ms->m[i].name, name) == 0)
			return &ms->m[i];
	fail_msg("no member %s", name);
	return NULL;
}

static void set_member(struct members *ms, const char *name, const void *data, size_t len)
{
	struct member *m = NULL;
	for (int i = 0; i < ms->n; i++)
		if (strcmp(ms->m[i].name, name) == 0)
			m = &ms->m[i];
	if (m == NULL) {
		m = &ms->m[ms->n++];
		snprintf(m->name, sizeof(m->name), "%s", name);
	} else {
		free(m->data);
	}
	m->data = malloc(len + 1);
	memcpy(m->data, data, len);
	m->len = len;
}

/* As the key holder would: a new bundle with a freshly signed manifest. */
static void write_signed(const char *path, struct members *ms, const struct note_signer *s)
{
	struct bundle_writer *w;
	struct pv_error err;
	unlink(path);
	fx_must(bundle_writer_open(path, AUDITBUNDLE_KIND, &w, &err), &err, "writer");
	for (int i = 0; i < ms->n; i++)
		fx_must(bundle_add(w, ms->m[i].name, ms->m[i].data, ms->m[i].len, &err), &err, "add");
	fx_must(bundle_writer_finish(&w, s, &err), &err, "finish");
}

/* As an outsider would: the members as given, manifest and all, in a
 * plain tar.gz (or with raw libarchive entries of any type). */
static void write_raw(const char *path, struct members *ms, const char *link_name)
{
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	archive_write_add_filter_gzip(a);
	unlink(path);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (int i = 0; i < ms->n; i++) {
		struct archive_entry *e = archive_entry_new();
		archive_entry_set_pathname(e, ms->m[i].name);
		if (link_name != NULL && strcmp(ms->m[i].name, link_name) == 0) {
			archive_entry_set_filetype(e, AE_IFLNK);
			archive_entry_set_symlink(e, "/etc/passwd");
			archive_entry_set_perm(e, 0777);
			archive_write_header(a, e);
		} else {
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, 0644);
			archive_entry_set_size(e, (la_int64_t)ms->m[i].len);
			archive_write_header(a, e);
			archive_write_data(a, ms->m[i].data, ms->m[i].len);
		}
		archive_entry_free(e);
	}
	archive_write_close(a);
	archive_write_free(a);
}

/* The leaves member as (offset, length) records. */
static int leaf_spans(const struct member *m, size_t off[], size_t len[], int max)
{
	int n = 0;
	for (size_t p = 0; p + 2 <= m->len && n < max; n++) {
		len[n] = (size_t)m->data[p] << 8 | m->data[p + 1];
		off[n] = p;
		p += 2 + len[n];
	}
	return n;
}

/* --- tests ------------------------------------------------------------------------- */

static void test_exported_bundle_verifies_tar_gz_and_zip(void **state)
{
	(void)state;
	struct fx f;
	char p1[256], p2[256];
	fx_init(&f, fx_on_pg(state));
	fill(&f, 20);
	export_to(&f, "a.tar.gz", INT64_MIN, INT64_MAX, p1, sizeof(p1));
	expect_ok(&f, p1, NULL);
	export_to(&f, "a.zip", INT64_MIN, INT64_MAX, p2, sizeof(p2));
	expect_ok(&f, p2, NULL);
	/* A bundle is never overwritten. */
	struct auditbundle_opts o = {.out = p1, .actor = "cli:test", .since = INT64_MIN,
				    .until = INT64_MAX, .personal = true};
	struct auditbundle_summary sum;
	struct pv_error err;
	assert_true(auditbundle_export(f.t, f.s, &o, &sum, &err) < 0);
	fx_done(&f);
}

/* Personal data over several lines (a hold's matter, query and note; an
 * approval's reason and summary) is one CSV record of several lines
 * (RFC 4180 quoting): the bundle verifies, and an edit inside it is found. */
static void test_personal_data_on_several_lines_verifies(void **state)
{
	(void)state;
	struct fx f;
	struct members ms;
	char p[256], q[256];
	fx_init(&f, fx_on_pg(state));
	fill(&f, 4);
	append(&f, AUDIT_HOLD_PLACE, "hold=1 messages=0", "name: m1\nquery: x\nnote: a note");
	append(&f, AUDIT_VIEW, "message=9", NULL);
	export_to(&f, "a.tar.gz", INT64_MIN, INT64_MAX, p, sizeof(p));
	expect_ok(&f, p, NULL);
	snprintf(q, sizeof(q), "%s/t.tar.gz", f.dir);
	read_members(p, &ms, false);
	struct member *csv = find(&ms, "audit/entries.csv");
	char *c = memmem(csv->data, csv->len, "query: x", 8);
	assert_non_null(c);
	c[7] = 'y';
	write_signed(q, &ms, f.s);
	expect_problem(&f, q, NULL, "audit/entries.csv line 6 does not match entry 4");
	free_members(&ms);
	fx_done(&f);
}

static void test_a_time_range_bundle_rebuilds_the_root_from_both_edges(void **state)
{
	(void)state;
	struct fx f;
	char p[256];
	struct lines l;
	fx_init(&f, fx_on_pg(state));
	for (int i = 0; i < 40; i++)
		append(&f, AUDIT_HEARTBEAT, "log=audit", NULL);
	/* Give the index times a minute apart, then export 7..28. */
	int64_t t0 = 1795300000;
	uint64_t lo, hi;
	struct pv_error err;
	fx_must(auditlog_range(f.t, INT64_MIN, INT64_MAX, &lo, &hi, &err), &err, "range");
	assert_int_equal(hi, 40);
	fx_must(db_exec(f.db, "UPDATE audit_event SET time = 1795300000 + 60 * seq", &err), &err,
		"times");
	export_to(&f, "r.tar.gz", t0 + 60 * 7, t0 + 60 * 28, p, sizeof(p));
	assert_int_equal(verify(&f, p, NULL, &l), 0);
	bool found = false;
	for (int i = 0; i < l.n; i++)
		found |= strstr(l.text[i], "leaves 7..28 and 40") != NULL;
	if (!found) {
		dump(&l);
		fail_msg("range not reported");
	}
	fx_done(&f);
}

static void test_outsider_edits_fail_the_manifest_naming_the_file(void **state)
{
	(void)state;
	struct fx f;
	struct members ms;
	char p[256], q[256];
	fx_init(&f, fx_on_pg(state));
	fill(&f, 10);
	export_to(&f, "a.tar.gz", INT64_MIN, INT64_MAX, p, sizeof(p));
	snprintf(q, sizeof(q), "%s/t.tar.gz", f.dir);

	read_members(p, &ms, true);
	struct member *j = find(&ms, "audit/entries.jsonl");
	char *c = strstr((char *)j->data, "message=4");
	assert_non_null(c);
	c[8] = '5';
	write_raw(q, &ms, NULL);
	expect_problem(&f, q, NULL, "audit/entries.jsonl: its SHA-256 differs from MANIFEST.sha256");
	expect_problem(&f, q, NULL, "audit/entries.jsonl line 4 does not match entry 3");
	free_members(&ms);

	read_members(p, &ms, true);
	set_member(&ms, "audit/notes.txt", "hello\n", 6);
	write_raw(q, &ms, NULL);
	expect_problem(&f, q, NULL, "audit/notes.txt is in the bundle but not in MANIFEST.sha256");
	expect_problem(&f, q, NULL, "unexpected member audit/notes.txt");
	free_members(&ms);

	read_members(p, &ms, true);
	free(ms.m[--ms.n].data); /* drops MANIFEST.note, the last member */
	write_raw(q, &ms, NULL);
	expect_problem(&f, q, NULL, "MANIFEST.note is missing");
	free_members(&ms);
	fx_done(&f);
}

static void test_key_holder_edits_are_caught_by_the_leaves(void **state)
{
	(void)state;
	struct fx f;
	struct members ms;
	size_t off[64], len[64];
	char p[256], q[256];
	fx_init(&f, fx_on_pg(state));
	fill(&f, 10);
	export_to(&f, "a.tar.gz", INT64_MIN, INT64_MAX, p, sizeof(p));
	snprintf(q, sizeof(q), "%s/t.tar.gz", f.dir);

	/* Edit one entry in the leaves. */
	read_members(p, &ms, false);
	struct member *lv = find(&ms, "audit/leaves");
	assert_int_equal(leaf_spans(lv, off, len, 64), 11);
	char *c = memmem(lv->data + off[4], len[4] + 2, "message=5", 9);
	assert_non_null(c);
	c[8] = '6';
	write_signed(q, &ms, f.s);
	expect_problem(&f, q, NULL, "the entries do not rebuild the root of audit/checkpoint");
	expect_problem(&f, q, NULL, "audit/entries.jsonl line 5 does not match entry 4");
	free_members(&ms);

	/* Drop one entry (leaves, JSON Lines and CSV consistently). */
	read_members(p, &ms, false);
	lv = find(&ms, "audit/leaves");
	leaf_spans(lv, off, len, 64);
	memmove(lv->data + off[3], lv->data + off[4], lv->len - off[4]);
	lv->len -= off[4] - off[3];
	write_signed(q, &ms, f.s);
	expect_problem(&f, q, NULL, "leaf 3: says seq 4");
	expect_problem(&f, q, NULL, "audit/leaves ends after 10 of 11 entries");
	free_members(&ms);

	/* Reorder two entries. */
	read_members(p, &ms, false);
	lv = find(&ms, "audit/leaves");
	leaf_spans(lv, off, len, 64);
	uint8_t *tmp = malloc(lv->len);
	size_t a = 2 + len[5], b = 2 + len[6];
	memcpy(tmp, lv->data + off[6], b);
	memcpy(tmp + b, lv->data + off[5], a);
	memcpy(lv->data + off[5], tmp, a + b);
	free(tmp);
	write_signed(q, &ms, f.s);
	expect_problem(&f, q, NULL, "leaf 5: says seq 6");
	expect_problem(&f, q, NULL, "do not rebuild the root");
	free_members(&ms);

	/* Personal data changed. */
	read_members(p, &ms, false);
	struct member *pj = find(&ms, "audit/personal.jsonl");
	c = memmem(pj->data, pj->len, "from:boss", 9);
	assert_non_null(c);
	memcpy(c, "from:bass", 9);
	write_signed(q, &ms, f.s);
	expect_problem(&f, q, NULL, "does not match its commitment");
	free_members(&ms);

	/* A personal data line repeated at the end: named as such. */
	read_members(p, &ms, false);
	pj = find(&ms, "audit/personal.jsonl");
	size_t first = (size_t)((uint8_t *)memchr(pj->data, '\n', pj->len) - pj->data) + 1;
	uint8_t *twice = malloc(pj->len + first);
	memcpy(twice, pj->data, pj->len);
	memcpy(twice + pj->len, pj->data, first);
	set_member(&ms, "audit/personal.jsonl", twice, pj->len + first);
	free(twice);
	write_signed(q, &ms, f.s);
	expect_problem(&f, q, NULL, "(a line repeated or moved)");
	free_members(&ms);

	/* An extra member, signed into the manifest. */
	read_members(p, &ms, false);
	set_member(&ms, "audit/extra", "x", 1);
	write_signed(q, &ms, f.s);
	expect_problem(&f, q, NULL, "unexpected member audit/extra");
	free_members(&ms);
	fx_done(&f);
}

static void test_other_key_older_checkpoint_and_missing_export_event(void **state)
{
	(void)state;
	struct fx f;
	struct members ms;
	struct note_signer other;
	struct tlog_checkpoint_row row;
	struct pv_error err;
	uint8_t seed[32];
	char p[256], q[256];
	fx_init(&f, fx_on_pg(state));
	fill(&f, 10);
	export_to(&f, "a.tar.gz", INT64_MIN, INT64_MAX, p, sizeof(p));
	snprintf(q, sizeof(q), "%s/t.tar.gz", f.dir);

	/* Signed with another key (of the same name even). */
	memset(seed, 7, sizeof(seed));
	fx_must(note_signer_from_seed("test.example/pv/audit", seed, &other, &err), &err, "key");
	read_members(p, &ms, false);
	write_signed(q, &ms, &other);
	expect_problem(&f, q, NULL, "MANIFEST.note is not signed by a trusted key");
	note_signer_wipe(&other);
	free_members(&ms);

	/* An older checkpoint in place of the final one. */
	tlog_checkpoint_row_init(&row);
	fx_must(tlog_checkpoint_get(f.t, 5, &row, &err), &err, "old checkpoint");
	read_members(p, &ms, false);
	set_member(&ms, "audit/checkpoint", row.note.data, row.note.len);
	write_signed(q, &ms, f.s);
	expect_problem(&f, q, NULL, "audit/tree-proof is for a tree of 11 leaves but "
				    "audit/checkpoint has 5");
	free_members(&ms);
	tlog_checkpoint_row_free(&row);

	/* A bundle that does not end with its own export: the last leaf
	 * replaced by another entry's bytes (jsonl and csv left as they are). */
	read_members(p, &ms, false);
	struct member *lv = find(&ms, "audit/leaves");
	size_t off[64], len[64];
	assert_int_equal(leaf_spans(lv, off, len, 64), 11);
	lv->len = off[10];
	assert_int_equal(len[9] + 2 <= 4096, 1);
	uint8_t copy[4096];
	memcpy(copy, lv->data + off[9], len[9] + 2);
	memcpy(lv->data + lv->len, copy, len[9] + 2);
	lv->len += len[9] + 2;
	write_signed(q, &ms, f.s);
	expect_problem(&f, q, NULL, "leaf 10: says seq 9");
	free_members(&ms);
	fx_done(&f);
}

static void test_last_checkpoint_rollback_and_continuity(void **state)
{
	(void)state;
	struct fx f;
	struct pv_error err;
	char p1[256], p2[256];
	struct members m1, m2;
	fx_init(&f, fx_on_pg(state));
	fill(&f, 6);
	export_to(&f, "1.tar.gz", INT64_MIN, INT64_MAX, p1, sizeof(p1));
	fill(&f, 300);
	/* The second bundle starts late: only the consistency proof from
	 * the first bundle's checkpoint ties them. */
	fx_must(db_exec(f.db, "UPDATE audit_event SET time = 1795300000 + seq", &err), &err,
		"times");
	export_to(&f, "2.tar.gz", 1795300000 + 200, INT64_MAX, p2, sizeof(p2));
	read_members(p1, &m1, false);
	read_members(p2, &m2, false);
	char *c1 = strndup((char *)find(&m1, "audit/checkpoint")->data, find(&m1, "audit/checkpoint")->len);
	char *c2 = strndup((char *)find(&m2, "audit/checkpoint")->data, find(&m2, "audit/checkpoint")->len);
	expect_ok(&f, p2, c1);
	/* The older bundle, presented to someone who holds the newer checkpoint. */
	expect_problem(&f, p1, c2, "the bundle is older");
	/* A checkpoint from another log of the same origin (a fork). */
	struct fx g;
	fx_init(&g, fx_on_pg(state));
	fill(&g, 9);
	char pg[256];
	export_to(&g, "g.tar.gz", INT64_MIN, INT64_MAX, pg, sizeof(pg));
	struct members mg;
	read_members(pg, &mg, false);
	char *cg = strndup((char *)find(&mg, "audit/checkpoint")->data, find(&mg, "audit/checkpoint")->len);
	struct lines l;
	assert_int_equal(verify(&f, p2, cg, &l), PV_EINTEGRITY); /* g's key is not trusted */
	assert_true(has_problem(&l, "--last-checkpoint"));
	free(c1);
	free(c2);
	free(cg);
	free_members(&m1);
	free_members(&m2);
	free_members(&mg);
	fx_done(&g);
	fx_done(&f);
}

static void test_hostile_archives_are_refused_by_the_reader(void **state)
{
	(void)state;
	struct fx f;
	struct members ms;
	struct bundle *b;
	struct pv_error err;
	char p[256], q[256];
	fx_init(&f, fx_on_pg(state));
	fill(&f, 3);
	export_to(&f, "a.tar.gz", INT64_MIN, INT64_MAX, p, sizeof(p));
	snprintf(q, sizeof(q), "%s/t.tar.gz", f.dir);
	const char *bad_names[] = {"../evil", "/etc/evil", "audit/../x", "audit//x", "a b", "x\\y"};
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(*bad_names); i++) {
		read_members(p, &ms, true);
		set_member(&ms, bad_names[i], "x", 1);
		write_raw(q, &ms, NULL);
		assert_int_equal(bundle_open_file(q, &b, &err), PV_EINTEGRITY);
		assert_non_null(strstr(err.msg, "not allowed"));
		free_members(&ms);
	}
	read_members(p, &ms, true);
	write_raw(q, &ms, "VERIFY.md");
	assert_int_equal(bundle_open_file(q, &b, &err), PV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "not a regular file"));
	free_members(&ms);
	read_members(p, &ms, true);
	ms.m[ms.n] = ms.m[1];
	ms.m[ms.n].data = malloc(ms.m[1].len + 1);
	memcpy(ms.m[ms.n].data, ms.m[1].data, ms.m[1].len);
	ms.n++;
	write_raw(q, &ms, NULL);
	assert_int_equal(bundle_open_file(q, &b, &err), PV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "appears twice"));
	free_members(&ms);
	/* Cut at every 97th byte: never accepted, never a crash. */
	int fd = open(p, O_RDONLY);
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	uint8_t *all = malloc((size_t)st.st_size);
	assert_int_equal(read(fd, all, (size_t)st.st_size), st.st_size);
	close(fd);
	for (off_t cut = 0; cut < st.st_size; cut += 97) {
		struct lines l;
		fd = open(q, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		assert_int_equal(write(fd, all, (size_t)cut), cut);
		close(fd);
		assert_int_equal(verify(&f, q, NULL, &l) < 0, 1);
	}
	free(all);
	/* Not an archive at all. */
	assert_int_equal(bundle_open_memory("hello", 5, &b, &err), PV_EINTEGRITY);
	fx_done(&f);
}

/* A rotated key: the genesis key alone verifies, by following the rotation
 * note the old key signed; without the note nothing ties the new key. */
static void test_a_rotated_key_is_followed_from_the_key_held(void **state)
{
	(void)state;
	struct fx f;
	struct members ms;
	struct pv_error err;
	char p[256], q[256];
	fx_init(&f, fx_on_pg(state));
	fill(&f, 5);
	fx_must(keys_rotate(f.t, f.t, f.keydir, &f.s, NULL, &err), &err, "rotate");
	fill(&f, 5);
	export_to(&f, "a.tar.gz", INT64_MIN, INT64_MAX, p, sizeof(p));
	expect_ok(&f, p, NULL);
	snprintf(q, sizeof(q), "%s/t.tar.gz", f.dir);
	read_members(p, &ms, false);
	struct members keep = {.n = 0};
	for (int i = 0; i < ms.n; i++)
		if (strncmp(ms.m[i].name, "audit/rotations/", 16) != 0)
			keep.m[keep.n++] = ms.m[i];
		else
			free(ms.m[i].data);
	write_signed(q, &keep, f.s);
	expect_problem(&f, q, NULL, "audit/checkpoint is not a checkpoint signed by a key trusted");
	free_members(&keep);
	fx_done(&f);
}

struct each_ctx {
	size_t n;
	uint64_t bytes, want; /* read fully, and their first-pass sizes */
};

static int each_cb(void *ctx, const struct bundle_file *f, struct bundle_stream *s)
{
	struct each_ctx *c = ctx;
	uint8_t buf[7];
	size_t got;
	struct pv_error err;
	c->n++;
	/* Read a little of some members, all of others, none of the rest. */
	if (c->n % 3 == 1) {
		fx_must(bundle_stream_read(s, buf, sizeof(buf), &got, &err), &err, "read");
	} else if (c->n % 3 == 2) {
		c->want += f->size;
		do {
			fx_must(bundle_stream_read(s, buf, sizeof(buf), &got, &err), &err, "read");
			c->bytes += got;
		} while (got > 0);
	}
	return 0;
}

static void test_one_pass_over_every_member(void **state)
{
	(void)state;
	struct fx f;
	struct bundle *b;
	struct pv_error err;
	struct each_ctx c = {0, 0, 0};
	char p[256];
	fx_init(&f, fx_on_pg(state));
	fill(&f, 30);
	export_to(&f, "a.zip", INT64_MIN, INT64_MAX, p, sizeof(p));
	fx_must(bundle_open_file(p, &b, &err), &err, "open");
	fx_must(bundle_each(b, each_cb, &c, &err), &err, "each");
	assert_int_equal(c.n, bundle_count(b));
	assert_true(c.want > 0);
	assert_int_equal(c.bytes, c.want);
	bundle_free(&b);
	fx_done(&f);
}

/* More small members than the reader keeps in memory: the signed manifest
 * note comes last and must still be found (it was reported missing). */
static void test_manifest_note_found_after_the_keep_budget(void **state)
{
	(void)state;
	struct fx f;
	struct bundle_writer *w;
	struct bundle *b;
	struct pv_error err;
	struct bundle_report rep = {NULL, NULL, 0, 0};
	char p[256], name[32];
	size_t member = PV_BUNDLE_SMALL_MAX - 1;
	unsigned char *data = calloc(1, member);
	assert_non_null(data);
	fx_init(&f, fx_on_pg(state));
	snprintf(p, sizeof(p), "%s/many.tar.gz", f.dir);
	fx_must(bundle_writer_open(p, AUDITBUNDLE_KIND, &w, &err), &err, "writer");
	for (size_t i = 0; i < PV_BUNDLE_KEPT_MAX / member + 2; i++) {
		data[0] = (unsigned char)i; /* members differ */
		snprintf(name, sizeof(name), "m/%zu", i);
		fx_must(bundle_add(w, name, data, member, &err), &err, "add");
	}
	fx_must(bundle_writer_finish(&w, f.s, &err), &err, "finish");
	fx_must(bundle_open_file(p, &b, &err), &err, "open");
	assert_int_equal(bundle_check_manifest(b, &f.v, 1, NULL, &rep), 0);
	assert_int_equal(rep.problems, 0);
	bundle_free(&b);
	free(data);
	fx_done(&f);
}

#define BOTH(t) FX_BOTH(t, fx_setup_sqlite, fx_setup_pg, fx_teardown_none)

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_exported_bundle_verifies_tar_gz_and_zip),
		BOTH(test_personal_data_on_several_lines_verifies),
		BOTH(test_a_time_range_bundle_rebuilds_the_root_from_both_edges),
		BOTH(test_outsider_edits_fail_the_manifest_naming_the_file),
		BOTH(test_key_holder_edits_are_caught_by_the_leaves),
		BOTH(test_other_key_older_checkpoint_and_missing_export_event),
		BOTH(test_last_checkpoint_rollback_and_continuity),
		BOTH(test_hostile_archives_are_refused_by_the_reader),
		BOTH(test_a_rotated_key_is_followed_from_the_key_held),
		BOTH(test_one_pass_over_every_member),
		BOTH(test_manifest_note_found_after_the_keep_budget),
	};
	if (sodium_init() < 0)
		return 1;
	/* Each case on SQLite, then on PostgreSQL with PV_TEST_PG. */
	return fx_run_both("auditbundle", tests, sizeof(tests) / sizeof(tests[0]));
}
