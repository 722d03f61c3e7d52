/* Unit tests for archiver/export: mboxrd quoting and reading whatever the
 * chunking (hostile '>' runs included), DAT and CSV rows and their strict
 * parser, stable Bates numbers, and export_run + ediscovery_verify on a real
 * data directory: a bundle that verifies, a message whose leaf is not its
 * own refused, a failing audit log leaving nothing behind, disposed mail
 * still in the index listed rather than exported, keys that are not the
 * archive's rejected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "archiver/export/bates.h"
#include "archiver/export/ediscovery.h"
#include "archiver/export/export.h"
#include "archiver/export/loadfile.h"
#include "archiver/export/mbox.h"
#include "archiver/archive/indexer.h"
#include "archiver/index/sandbox.h"
#include "archiver/lib/pagecache.h"
#include "archiver/store/pack.h"
#include "audit/bundle.h"
#include "test_dispose_fixture.h"

#include <dirent.h>

#define MSG_PLAIN \
	"From: Ann <ann@sec.gov>\r\nTo: bob@corp.example\r\nSubject: plain\r\n" \
	"Date: Fri, 10 Jan 2020 10:00:00 +0000\r\nMessage-ID: <plain@t>\r\n\r\nbody\r\n"
#define MSG_FROMS \
	"From: Ann <ann@sec.gov>\r\nTo: bob@corp.example\r\nSubject: froms\r\n\r\n" \
	"From here\r\n>From there\r\n"
#define MSG_NO_EOL \
	"From: Ann <ann@sec.gov>\r\nSubject: noeol\r\n\r\nthe last line has no end"

/* In the parser sandbox's child (this program exec'd afresh, index/sandbox.h):
 * a message that names it kills its worker when only its header section
 * came (the export's parse; the indexer's, of the whole message, passes).
 * Set before the sandbox's own constructor runs the child. */
static void sandbox_hook(const unsigned char *raw, size_t len)
{
	if (memmem(raw, len, "X-Test: abort", 13) != NULL && len >= 4 &&
	    memcmp(raw + len - 4, "\r\n\r\n", 4) == 0)
		abort();
}

__attribute__((constructor(101))) static void install_hook(void)
{
	index_sandbox_test_hook = sandbox_hook;
}

/* --- mbox ------------------------------------------------------------------- */

static int out_buf(void *ctx, const void *p, size_t n, struct pv_error *err)
{
	return pv_buf_append(ctx, p, n, err);
}

/* Quotes msgs[] into one mbox, feeding chunk bytes at a time. */
static void quote_all(const char *const *msgs, const size_t *lens, size_t n, size_t chunk,
		      struct pv_buf *out)
{
	struct pv_error err;
	struct mbox_quote q;
	char from[PV_EXPORT_FROM_LINE_MAX + 1];
	for (size_t i = 0; i < n; i++) {
		char sender[32];
		snprintf(sender, sizeof(sender), "M%zu@popvault", i);
		assert_true(mbox_from_line(sender, 1700000000, from, sizeof(from), &err) > 0);
		assert_int_equal(mbox_quote_begin(&q, from, out_buf, out, &err), 0);
		for (size_t off = 0; off < lens[i]; off += chunk) {
			size_t k = lens[i] - off < chunk ? lens[i] - off : chunk;
			assert_int_equal(mbox_quote_feed(&q, msgs[i] + off, k, &err), 0);
		}
		assert_int_equal(mbox_quote_end(&q, &err), 0);
	}
}

struct records {
	struct pv_buf rec[16];
	char from[16][64];
	size_t n;
	bool open;
};

static int rd_begin(void *ctx, const char *line, size_t len, struct pv_error *err)
{
	struct records *r = ctx;
	(void)err;
	assert_false(r->open);
	assert_true(r->n < 16 && len < 64);
	memcpy(r->from[r->n], line, len);
	r->from[r->n][len] = '\0';
	pv_buf_init(&r->rec[r->n], 1 << 24);
	r->open = true;
	return 0;
}

static int rd_data(void *ctx, const void *p, size_t n, struct pv_error *err)
{
	struct records *r = ctx;
	assert_true(r->open);
	return pv_buf_append(&r->rec[r->n], p, n, err);
}

static int rd_end(void *ctx, struct pv_error *err)
{
	struct records *r = ctx;
	(void)err;
	assert_true(r->open);
	r->open = false;
	r->n++;
	return 0;
}

static int read_all(const struct pv_buf *mbox, size_t chunk, struct records *r,
		    struct pv_error *err)
{
	struct mbox_reader rd;
	struct mbox_reader_cb cb = {rd_begin, rd_data, rd_end, r};
	int rc = 0;
	memset(r, 0, sizeof(*r));
	mbox_reader_init(&rd, &cb);
	for (size_t off = 0; off < mbox->len && rc == 0; off += chunk) {
		size_t k = mbox->len - off < chunk ? mbox->len - off : chunk;
		rc = mbox_reader_feed(&rd, mbox->data + off, k, err);
	}
	return rc ? rc : mbox_reader_finish(&rd, err);
}

static void records_free(struct records *r)
{
	for (size_t i = 0; i < 16; i++)
		pv_buf_free(&r->rec[i]);
}

static void test_mbox_roundtrip_whatever_the_chunking(void **state)
{
	static const char *const msgs[] = {
		"From: a@x\r\n\r\nFrom the start\r\n>From one\r\n>>From two\r\nFrom\r\nFro\r\n",
		"", /* empty */
		"no final line end", /* comes back with one "\n" (mbox.h) */
		"\n\n\n",
		"Subject: x\r\n\r\n>>>> no From here\r\n>From\r\n>From \r\nFrom \r\n\r\n",
		"From ", /* a message that is only a From_ prefix */
		">F\r\n>Fr\r\n>From\r\n",
	};
	size_t n = sizeof(msgs) / sizeof(*msgs), lens[16];
	static const size_t chunks[] = {1, 2, 3, 5, 7, 64, 100000};
	struct pv_buf ref, b;
	struct pv_error err;
	(void)state;
	for (size_t i = 0; i < n; i++)
		lens[i] = strlen(msgs[i]);
	pv_buf_init(&ref, 1 << 20);
	quote_all(msgs, lens, n, 100000, &ref);
	for (size_t c = 0; c < sizeof(chunks) / sizeof(*chunks); c++) {
		pv_buf_init(&b, 1 << 20);
		quote_all(msgs, lens, n, chunks[c], &b);
		assert_int_equal(b.len, ref.len);
		assert_memory_equal(b.data, ref.data, b.len);
		pv_buf_free(&b);
		struct records r;
		assert_int_equal(read_all(&ref, chunks[c], &r, &err), 0);
		assert_int_equal(r.n, n);
		for (size_t i = 0; i < n; i++) {
			bool nl = lens[i] == 0 || msgs[i][lens[i] - 1] == '\n';
			assert_int_equal(r.rec[i].len, lens[i] + !nl);
			assert_memory_equal(r.rec[i].data ? (const char *)r.rec[i].data : "", msgs[i],
					    lens[i]);
			if (!nl)
				assert_int_equal(r.rec[i].data[lens[i]], '\n');
			assert_true(strncmp(r.from[i], "From M", 6) == 0);
		}
		records_free(&r);
	}
	/* The quoting itself: exactly one more '>' on ^>*From lines. */
	assert_non_null(strstr((const char *)ref.data,
			       "\n>From the start\r\n>>From one\r\n>>>From two\r\nFrom\r\nFro\r\n\n"));
	assert_non_null(strstr((const char *)ref.data, "\n>>>> no From here\r\n>From\r\n>>From \r\n>From \r\n"));
	pv_buf_free(&ref);
}

/* A line of a million '>' is counted, not held: quoting and reading it
 * back cost no memory beyond the output. */
static void test_mbox_long_gt_run_is_streamed(void **state)
{
	size_t k = 1000000;
	char *msg = malloc(k + 16);
	struct pv_buf mb;
	struct pv_error err;
	struct records r;
	(void)state;
	memset(msg, '>', k);
	memcpy(msg + k, "From x\n", 8);
	size_t len = k + 7;
	const char *msgs[] = {msg};
	pv_buf_init(&mb, 1 << 22);
	quote_all(msgs, &len, 1, 4096, &mb);
	const char *q = memchr(mb.data, '\n', mb.len) + 1; /* after the From_ line */
	assert_int_equal(strspn(q, ">"), k + 1);
	assert_int_equal(read_all(&mb, 333, &r, &err), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.rec[0].len, len);
	assert_memory_equal(r.rec[0].data, msg, len);
	records_free(&r);
	pv_buf_free(&mb);
	free(msg);
}

static void test_mbox_reader_refuses_text_before_first_from(void **state)
{
	struct pv_buf mb;
	struct pv_error err;
	struct records r;
	(void)state;
	pv_buf_init(&mb, 4096);
	assert_int_equal(pv_buf_append_str(&mb, "junk\nFrom a@b Mon Jan  1 00:00:00 2024\nx\n", &err), 0);
	assert_int_equal(read_all(&mb, 5, &r, &err), PV_EINTEGRITY);
	records_free(&r);
	pv_buf_reset(&mb);
	assert_int_equal(pv_buf_append_str(&mb, "From ", &err), 0);
	for (int i = 0; i < PV_EXPORT_FROM_LINE_MAX; i++)
		assert_int_equal(pv_buf_append(&mb, "a", 1, &err), 0);
	assert_int_equal(pv_buf_append_str(&mb, "\nbody\n", &err), 0);
	assert_int_equal(read_all(&mb, 64, &r, &err), PV_EINTEGRITY);
	records_free(&r);
	pv_buf_free(&mb);
	char line[PV_EXPORT_FROM_LINE_MAX + 1];
	assert_true(mbox_from_line("two words", 0, line, sizeof(line), &err) < 0);
	assert_int_equal(mbox_from_line("PV1@popvault", 0, line, sizeof(line), &err), 43);
	assert_string_equal(line, "From PV1@popvault Thu Jan  1 00:00:00 1970\n");
}

/* --- load files ----------------------------------------------------------------- */

static void test_dat_and_csv_rows_escape_and_parse_back(void **state)
{
	const char *f[] = {"PV1", "a þ b", "line1\r\nline2\nend", "tab\there\x14sep", "", NULL};
	struct pv_buf b;
	struct pv_error err;
	struct loadfile_fields lf;
	(void)state;
	pv_buf_init(&b, 4096);
	loadfile_fields_init(&lf, 4096);
	assert_int_equal(loadfile_row(LOADFILE_DAT, f, 6, &b, &err), 0);
	assert_string_equal(pv_buf_str(&b), "þPV1þ\x14þa \xEF\xBF\xBD bþ\x14þline1®line2®endþ\x14"
					    "þtab here sepþ\x14þþ\x14þþ\r\n");
	assert_int_equal(loadfile_parse(LOADFILE_DAT, (const char *)b.data, b.len - 2, &lf, &err), 0);
	assert_int_equal(lf.n, 6);
	assert_string_equal(loadfile_field(&lf, 1), "a \xEF\xBF\xBD b");
	assert_string_equal(loadfile_field(&lf, 2), "line1®line2®end");
	assert_string_equal(loadfile_field(&lf, 4), "");
	pv_buf_reset(&b);
	const char *c[] = {"=cmd()", "say \"hi\"", "-1", "x,y"};
	assert_int_equal(loadfile_row(LOADFILE_CSV, c, 4, &b, &err), 0);
	assert_string_equal(pv_buf_str(&b), "\"'=cmd()\",\"say \"\"hi\"\"\",\"'-1\",\"x,y\"\r\n");
	assert_int_equal(loadfile_parse(LOADFILE_CSV, (const char *)b.data, b.len - 2, &lf, &err), 0);
	assert_int_equal(lf.n, 4);
	assert_string_equal(loadfile_field(&lf, 1), "say \"hi\"");
	assert_string_equal(loadfile_field(&lf, 3), "x,y");
	static const char *const bad[] = {"unquoted", "\"open", "\"a\"x", "\"a\",b", "\"a\";\"b\""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_int_equal(loadfile_parse(LOADFILE_CSV, bad[i], strlen(bad[i]), &lf, &err),
				 PV_EINTEGRITY);
	loadfile_fields_free(&lf);
	pv_buf_free(&b);
}

/* Concordance and Relativity read a doubled þ as the end of a field and
 * the start of the next (they have no escape for their quote): a þ in a
 * value must not reach the DAT, or the row's columns shift. And a value
 * is shown to a reviewer: no bidi control may make it display reversed. */
static void test_dat_value_never_holds_the_quote_nor_bidi_controls(void **state)
{
	const char *f[] = {"PV7", "Guðþór þþ", "invoice \xe2\x80\xae" "fdp.exe",
			   "\xe2\x81\xa6" "Bob\xe2\x81\xa9 \xe2\x80\xaa" "x\xe2\x80\xac",
			   "þ"};
	struct pv_buf b;
	struct pv_error err;
	(void)state;
	pv_buf_init(&b, 4096);
	assert_int_equal(loadfile_row(LOADFILE_DAT, f, 5, &b, &err), 0);
	assert_string_equal(pv_buf_str(&b),
			    "þPV7þ\x14þGuð\xEF\xBF\xBDór \xEF\xBF\xBD\xEF\xBF\xBDþ\x14"
			    "þinvoice fdp.exeþ\x14þBob xþ\x14þ\xEF\xBF\xBDþ\r\n");
	/* split on the separator as a review tool does: exactly two þ per field */
	size_t fields = 1, quotes = 0;
	for (const char *p = pv_buf_str(&b); *p; p++) {
		fields += *p == '\x14';
		quotes += strncmp(p, "þ", 2) == 0;
	}
	assert_int_equal(fields, 5);
	assert_int_equal(quotes, 10);
	pv_buf_reset(&b);
	assert_int_equal(loadfile_row(LOADFILE_CSV, f + 2, 2, &b, &err), 0);
	assert_string_equal(pv_buf_str(&b), "\"invoice fdp.exe\",\"Bob x\"\r\n");
	pv_buf_free(&b);
}

/* --- Bates numbers ---------------------------------------------------------------- */

static void test_bates_numbers_are_stable_per_matter(void **state)
{
	struct fx f;
	struct pv_error err;
	struct bates_matter m;
	int64_t nums[3];
	size_t fresh;
	char s[BATES_LEN_MAX + 1];
	(void)state;
	fx_init(&f);
	for (int i = 0; i < 10; i++)
		(void)fx_archive(&f, MSG_PLAIN, 1700000000 + i);
	struct db *db = f.ar->cat->conn;
	fx_must(db_begin(db, &err), &err, "begin");
	fx_must(bates_matter_open(db, "M", NULL, -1, "cli:t", 1, &m, &err), &err, "open");
	assert_true(m.created);
	assert_string_equal(m.prefix, BATES_DEFAULT_PREFIX);
	fx_must(bates_assign(db, &m, (int64_t[]){3, 5, 9}, 3, 1, nums, &fresh, &err), &err, "assign");
	assert_int_equal(nums[0], 1);
	assert_int_equal(nums[2], 3);
	assert_int_equal(fresh, 3);
	/* Again, overlapping: 5 keeps 2, the new ones follow the highest. */
	fx_must(bates_assign(db, &m, (int64_t[]){1, 5, 10}, 3, 2, nums, &fresh, &err), &err, "again");
	assert_int_equal(nums[0], 4);
	assert_int_equal(nums[1], 2);
	assert_int_equal(nums[2], 5);
	assert_int_equal(fresh, 2);
	/* Another matter numbers on its own. */
	struct bates_matter m2;
	fx_must(bates_matter_open(db, "N", "ABC-", 1000, "cli:t", 1, &m2, &err), &err, "open N");
	fx_must(bates_assign(db, &m2, (int64_t[]){5}, 1, 1, nums, NULL, &err), &err, "assign N");
	assert_int_equal(nums[0], 1000);
	bates_format(m2.prefix, nums[0], s);
	assert_string_equal(s, "ABC-00001000");
	/* A matter's numbering cannot change, nor its rows. */
	assert_int_equal(bates_matter_open(db, "M", "XYZ", -1, "cli:t", 1, &m, &err), PV_EUSAGE);
	assert_int_equal(bates_matter_open(db, "N", NULL, 1, "cli:t", 1, &m, &err), PV_EUSAGE);
	fx_must(bates_matter_open(db, "N", NULL, -1, "cli:t", 1, &m, &err), &err, "reopen N");
	assert_false(m.created);
	assert_int_equal(m.start, 1000);
	assert_int_not_equal(db_exec(db, "UPDATE export_bates SET number = 7 WHERE matter = 'M'",
				     &err), 0);
	assert_int_not_equal(db_exec(db, "DELETE FROM export_bates", &err), 0);
	db_rollback(db);
	assert_false(bates_prefix_valid(""));
	assert_false(bates_prefix_valid("-x"));
	assert_false(bates_prefix_valid("a/b"));
	assert_false(bates_prefix_valid("abcdefghijklmnopqrstuvwxyz0123456"));
	assert_true(bates_prefix_valid("Smith_2026.v-1"));
	assert_false(bates_matter_valid("bad\nname"));
	assert_false(bates_matter_valid("\xff"));
	assert_true(bates_matter_valid("Müller v. Smith"));
	fx_free(&f);
}

/* --- export and verify on a real data directory ------------------------------------- */

struct lines {
	struct pv_buf problems, all;
};

static void line_cb(void *ctx, bool problem, const char *msg)
{
	struct lines *l = ctx;
	struct pv_error err;
	assert_int_equal(pv_buf_printf(problem ? &l->problems : &l->all, &err, "%s\n", msg), 0);
}

/* Verifies path with the fixture's two keys (or keys/nkeys); returns the
 * problem count; the problem lines go to l. */
static uint64_t verify(struct fx *f, const char *path, const struct note_verifier *keys,
		       size_t nkeys, struct lines *l)
{
	struct note_verifier own[2];
	struct bundle *b = NULL;
	struct pv_error err;
	struct bundle_report rep = {line_cb, l, 0, 0};
	pv_buf_init(&l->problems, 1 << 20);
	pv_buf_init(&l->all, 1 << 20);
	if (keys == NULL) {
		note_signer_verifier(f->ar->archive_key, &own[0]);
		note_signer_verifier(f->ar->audit_key, &own[1]);
		keys = own;
		nkeys = 2;
	}
	fx_must(bundle_open_file(path, &b, &err), &err, "bundle_open_file");
	assert_string_equal(bundle_kind(b), EDISCOVERY_KIND);
	int r = ediscovery_verify(b, keys, nkeys, NULL, 0, NULL, &rep, &err);
	assert_true(r == 0 || r == PV_EINTEGRITY);
	assert_int_equal(r == 0, rep.problems == 0);
	bundle_free(&b);
	return rep.problems;
}

static void lines_free(struct lines *l)
{
	pv_buf_free(&l->problems);
	pv_buf_free(&l->all);
}

static int export_to(struct fx *f, const char *name, const char *query, const char *matter,
		     struct export_summary *sum, struct pv_error *err, char *path, size_t cap)
{
	struct export_opts o = {.query = query, .out = path, .matter = matter, .bates_start = -1,
				.actor = "cli:test"};
	snprintf(path, cap, "%s/%s", f->dir, name);
	return export_run(f->ar, &o, sum, err);
}

static void test_export_verifies_and_holds_the_exact_bytes(void **state)
{
	struct fx f;
	struct pv_error err;
	struct export_summary sum;
	struct lines l;
	char path[256];
	(void)state;
	fx_init(&f);
	(void)fx_archive(&f, MSG_PLAIN, 1700000000);
	(void)fx_archive(&f, "From: x@corp.example\r\nSubject: other\r\n\r\nx\r\n", 1700000001);
	(void)fx_archive(&f, MSG_FROMS, 1700000002);
	(void)fx_archive(&f, MSG_NO_EOL, 1700000003);
	fx_must(export_to(&f, "b.tar.gz", "from:sec.gov", "M", &sum, &err, path, sizeof(path)), &err,
		"export");
	assert_int_equal(sum.messages, 3);
	assert_string_equal(sum.first_bates, "PV00000001");
	assert_string_equal(sum.last_bates, "PV00000003");
	assert_int_equal(sum.bytes, strlen(MSG_PLAIN) + strlen(MSG_FROMS) + strlen(MSG_NO_EOL));
	assert_int_equal(verify(&f, path, NULL, 0, &l), 0);
	assert_non_null(strstr(pv_buf_str(&l.all), "messages.mbox holds every message, byte for byte"));
	assert_non_null(strstr(pv_buf_str(&l.all), "all 3 messages are exactly what the archive holds"));
	lines_free(&l);
	/* The same through zip; the numbers are the matter's. */
	fx_must(export_to(&f, "b.zip", "from:sec.gov", "M", &sum, &err, path, sizeof(path)), &err,
		"zip");
	assert_int_equal(sum.new_numbers, 0);
	assert_string_equal(sum.last_bates, "PV00000003");
	assert_int_equal(verify(&f, path, NULL, 0, &l), 0);
	lines_free(&l);
	/* Keys that are not this archive's: nothing is trusted. */
	struct fx g;
	struct note_verifier wrong[2];
	fx_init(&g);
	note_signer_verifier(g.ar->archive_key, &wrong[0]);
	note_signer_verifier(g.ar->audit_key, &wrong[1]);
	assert_true(verify(&f, path, wrong, 2, &l) > 0);
	assert_non_null(strstr(pv_buf_str(&l.problems), "archive/checkpoint is not a checkpoint signed "
							"by a trusted key"));
	assert_non_null(strstr(pv_buf_str(&l.problems), "MANIFEST.note is not signed by a trusted key"));
	lines_free(&l);
	/* The audit key alone does not vouch for the archive. */
	note_signer_verifier(f.ar->audit_key, &wrong[0]);
	assert_true(verify(&f, path, wrong, 1, &l) > 0);
	lines_free(&l);
	fx_free(&g);
	fx_free(&f);
}

/* Messages are read ahead on worker threads (archive/read_ahead.h), one
 * too big for that is streamed: a mix of both exports whole and in Bates
 * order, in both formats; damaged content fails the export, whichever
 * thread read it. */
static void test_export_reads_ahead_and_streams_big_mail(void **state)
{
	struct fx f;
	struct pv_error err;
	struct export_summary sum;
	struct lines l;
	char path[256];
	(void)state;
	fx_init(&f);
	const char *head = "From: Big <big@sec.gov>\r\nSubject: big\r\n\r\n";
	size_t big_len = strlen(head) + 5 * 1024 * 1024 + 1000;
	char *big = malloc(big_len + 1);
	assert_non_null(big);
	strcpy(big, head);
	for (size_t o = strlen(head); o < big_len; o += 78)
		memcpy(big + o, "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n",
		       big_len - o < 78 ? big_len - o : 78);
	big[big_len] = '\0';
	size_t total = 0;
	for (int i = 0; i < 40; i++) {
		const char *msg = i == 17 ? big : i % 2 ? MSG_PLAIN : MSG_FROMS;
		(void)fx_archive_bytes(&f, msg, strlen(msg), 1700000000 + i, false);
		total += strlen(msg);
	}
	free(big);
	const char *names[] = {"r.tar.gz", "r.zip"};
	for (int k = 0; k < 2; k++) {
		fx_must(export_to(&f, names[k], "from:sec.gov", "R", &sum, &err, path, sizeof(path)),
			&err, names[k]);
		assert_int_equal(sum.messages, 40);
		assert_int_equal(sum.bytes, total);
		assert_int_equal(verify(&f, path, NULL, 0, &l), 0);
		assert_non_null(strstr(pv_buf_str(&l.all), "all 40 messages are exactly what the archive holds"));
		lines_free(&l);
	}
	/* One byte of a small message's blob changed. */
	struct stored_message m = fx_load(&f, 9);
	char blob[4200];
	blob_path(f.dir, m.blob, blob, sizeof(blob));
	FILE *b = fopen(blob, "r+b");
	assert_non_null(b);
	fseek(b, 40, SEEK_SET);
	int c = fgetc(b);
	fseek(b, 40, SEEK_SET);
	fputc(c ^ 1, b);
	fclose(b);
	assert_int_equal(export_to(&f, "bad.tar.gz", "from:sec.gov", "R", &sum, &err, path,
				   sizeof(path)), PV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "integrity failure (verify the archive)"));
	assert_int_equal(access(path, F_OK), -1);
	fx_free(&f);
}

/* An export reads each message once and writes a bundle nobody reads
 * again here: neither stays in the page cache (archive/read_ahead.h reads
 * with the packs' drop_after_read; the bundle is written behind,
 * lib/pagecache.h), and the bundle is still whole. */
static void test_export_leaves_neither_mail_nor_bundle_in_the_page_cache(void **state)
{
	enum { N = 32, SIZE = 1 << 20 };
	struct fx f;
	struct pv_error err;
	struct export_summary sum;
	struct lines l;
	char path[256], pack[4096];
	unsigned char *msgs[N];
	size_t lens[N];
	int64_t ids[N];
	(void)state;
	fx_init(&f);
	if (fx_on_tmpfs(f.dir)) {
		fx_free(&f);
		skip();
	}
	for (int i = 0; i < N; i++) {
		int h = snprintf((char *)(msgs[i] = malloc(SIZE)), SIZE,
				 "From: Big <big@sec.gov>\r\nSubject: big %d\r\n\r\n", i);
		uint32_t x = (uint32_t)i + 1;
		for (size_t o = (size_t)h; o < SIZE; o++) { /* random base64 lines */
			x = x * 1664525u + 1013904223u;
			msgs[i][o] = o % 66 == 64   ? '\r'
				     : o % 66 == 65 ? '\n'
						    : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[x >> 26];
		}
		lens[i] = SIZE;
	}
	fx_archive_session(&f, msgs, lens, N, ids);
	struct stored_message m[N];
	size_t cached = 0;
	for (int i = 0; i < N; i++) {
		m[i] = fx_load(&f, ids[i]);
		assert_true(m[i].loc.pack_id != 0);
		pack_path(f.dir, m[i].loc.pack_id, pack, sizeof(pack));
		cached += fx_resident_pages(pack, m[i].loc.offset, m[i].loc.length);
	}
	assert_true(cached > N * 100); /* written just now: in the cache */
	fx_must(export_to(&f, "big.tar.gz", "from:sec.gov", "B", &sum, &err, path, sizeof(path)),
		&err, "export");
	assert_int_equal(sum.messages, N);
	assert_false(f.ar->packs->drop_after_read); /* the archive's own setting, back */
	/* Out of the cache; a page that a record's read-ahead brought back
	 * after its neighbour's reader dropped it (two reading threads; the
	 * disk's read-ahead can be megabytes) is the most that may stay. */
	size_t left_mail = 0;
	for (int i = 0; i < N; i++) {
		pack_path(f.dir, m[i].loc.pack_id, pack, sizeof(pack));
		left_mail += fx_resident_pages(pack, m[i].loc.offset, m[i].loc.length);
	}
	assert_true(left_mail <= cached / 10);
	/* Twice the mail; at most the last two steps are left, and the tail. */
	assert_true(sum.file_size > 2u * N * SIZE);
	long pg = sysconf(_SC_PAGESIZE);
	size_t left = fx_resident_pages(path, 0, sum.file_size);
	assert_true(left * (size_t)pg <= 2 * PV_WRITEBEHIND_STEP + (4u << 20));
	assert_int_equal(verify(&f, path, NULL, 0, &l), 0);
	assert_non_null(strstr(pv_buf_str(&l.all), "all 32 messages are exactly what the archive holds"));
	lines_free(&l);
	for (int i = 0; i < N; i++)
		free(msgs[i]);
	fx_free(&f);
}

/* The load files' fields are parsed in several sandboxes at once: every
 * row still holds its own message's fields, in Bates order, in both files;
 * a message whose parse dies fails the export, named. */
static void test_export_load_file_rows_keep_their_message_and_order(void **state)
{
	struct fx f;
	struct pv_error err;
	struct export_summary sum;
	struct lines l;
	char path[256], msg[512];
	(void)state;
	fx_init(&f);
	for (int i = 1; i <= 23; i++) {
		snprintf(msg, sizeof(msg), "From: Ann <ann@sec.gov>\r\nTo: r%d@corp.example\r\n"
			 "Subject: order %d\r\nMessage-ID: <m%d@t>\r\n\r\n%.*s\r\n", i, i, i,
			 i * 9, "bodybodybodybodybodybodybodybodybodybodybodybodybodybodybody"
				"bodybodybodybodybodybodybodybodybodybodybodybodybodybodybodybody"
				"bodybodybodybodybodybodybodybodybodybodybodybodybodybodybodybody"
				"bodybodybodybodybodybodybodybodybodybodybodybodybodybody");
		assert_int_equal(fx_archive(&f, msg, 1700000000 + i), i);
	}
	fx_must(export_to(&f, "o.tar.gz", "from:sec.gov", "O", &sum, &err, path, sizeof(path)), &err,
		"export");
	assert_int_equal(sum.messages, 23);
	assert_int_equal(verify(&f, path, NULL, 0, &l), 0);
	lines_free(&l);
	struct bundle *b = NULL;
	fx_must(bundle_open_file(path, &b, &err), &err, "open");
	const char *names[] = {"loadfile.dat", "index.csv"};
	const enum loadfile_kind kinds[] = {LOADFILE_DAT, LOADFILE_CSV};
	const int id_col[] = {12, 1}, subj_col[] = {6, 9}, to_col[] = {3, 6}, bates_col[] = {0, 0};
	for (int k = 0; k < 2; k++) {
		struct bundle_stream *st = NULL;
		struct pv_buf line;
		struct loadfile_fields lf;
		int n = 0;
		pv_buf_init(&line, 1 << 16);
		loadfile_fields_init(&lf, 1 << 16);
		fx_must(bundle_stream_open(b, names[k], &st, &err), &err, names[k]);
		while (bundle_stream_line(st, &line, &err) == 1) {
			size_t len = line.len;
			while (len > 0 && (line.data[len - 1] == '\n' || line.data[len - 1] == '\r'))
				len--;
			if (n++ == 0)
				continue; /* the header row */
			fx_must(loadfile_parse(kinds[k], (const char *)line.data, len, &lf, &err), &err,
				"parse");
			char want[64];
			snprintf(want, sizeof(want), "%d", n - 1);
			assert_string_equal(loadfile_field(&lf, id_col[k]), want);
			snprintf(want, sizeof(want), "order %d", n - 1);
			assert_string_equal(loadfile_field(&lf, subj_col[k]), want);
			snprintf(want, sizeof(want), "r%d@corp.example", n - 1);
			assert_string_equal(loadfile_field(&lf, to_col[k]), want);
			snprintf(want, sizeof(want), "PV%08d", n - 1);
			assert_string_equal(loadfile_field(&lf, bates_col[k]), want);
		}
		assert_int_equal(n, 24);
		loadfile_fields_free(&lf);
		bundle_stream_close(&st);
		pv_buf_free(&line);
	}
	bundle_free(&b);
	/* A message whose parse dies in its worker, among others. */
	(void)fx_archive(&f, "From: Ann <ann@sec.gov>\r\nX-Test: abort\r\nSubject: x\r\n\r\nx\r\n",
			 1700000100);
	assert_int_equal(export_to(&f, "d.tar.gz", "from:sec.gov", "O", &sum, &err, path,
				   sizeof(path)), PV_EPROTO);
	assert_non_null(strstr(err.msg, "message 24 (PV00000024): parser sandbox"));
	assert_non_null(strstr(err.msg, "crashed"));
	assert_int_equal(access(path, F_OK), -1);
	fx_free(&f);
}

/* The leaf named by the catalog must be the message's own: an export never
 * ships a proof for another message's leaf. */
static void test_export_refuses_a_message_whose_leaf_is_not_its_own(void **state)
{
	struct fx f;
	struct pv_error err;
	struct export_summary sum;
	char path[256];
	(void)state;
	fx_init(&f);
	(void)fx_archive(&f, MSG_PLAIN, 1700000000);
	(void)fx_archive(&f, MSG_FROMS, 1700000001);
	fx_must(indexer_catch_up(f.ar, NULL, NULL, &err), &err, "catch up");
	fx_must(catalog_exec(f.ar->cat->db, "UPDATE messages SET leaf_index = 99 WHERE id = 2;"
					    "UPDATE messages SET leaf_index = 1 WHERE id = 1;"
					    "UPDATE messages SET leaf_index = 0 WHERE id = 2", &err),
		&err, "swap leaves");
	assert_int_equal(export_to(&f, "b.tar.gz", "from:sec.gov", NULL, &sum, &err, path,
				   sizeof(path)), PV_EINTEGRITY);
	assert_non_null(strstr(err.msg, "is not its leaf"));
	assert_int_equal(access(path, F_OK), -1);
	/* The event was recorded first, then the failure. */
	assert_int_equal(fx_int(&f, "SELECT count(*) FROM audit_event WHERE type = 'export'"), 2);
	fx_free(&f);
}

/* Audit first, fail closed: when the audit log cannot record the export,
 * no file is written and no Bates number is given. */
static void test_export_fails_closed_when_the_audit_log_fails(void **state)
{
	struct fx f;
	struct pv_error err;
	struct export_summary sum;
	char path[256];
	(void)state;
	fx_init(&f);
	(void)fx_archive(&f, MSG_PLAIN, 1700000000);
	struct note_signer *audit = f.ar->audit_key;
	f.ar->audit_key = f.ar->archive_key; /* not the audit log's key: append refuses */
	int r = export_to(&f, "b.tar.gz", "from:sec.gov", "M", &sum, &err, path, sizeof(path));
	f.ar->audit_key = audit;
	assert_true(r < 0);
	assert_non_null(strstr(err.msg, "audit log"));
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(fx_int(&f, "SELECT count(*) FROM export_bates"), 0);
	assert_int_equal(fx_int(&f, "SELECT count(*) FROM export_matters"), 0);
	/* Nothing left beside it either (no staging or temporary file). */
	DIR *dir = opendir(f.dir);
	struct dirent *de;
	while ((de = readdir(dir)) != NULL)
		assert_null(strstr(de->d_name, "b.tar.gz"));
	closedir(dir);
	fx_free(&f);
}

/* A disposed message the index still lists (a disposal racing the export)
 * is listed, not exported, and the bundle still verifies. */
static void test_export_lists_disposed_mail_instead_of_failing(void **state)
{
	struct fx f;
	struct pv_error err;
	struct export_summary sum;
	struct lines l;
	char path[256];
	(void)state;
	fx_init(&f);
	(void)fx_archive(&f, MSG_PLAIN, fx_t("2023-11-14"));
	(void)fx_archive(&f, MSG_FROMS, fx_t("2023-11-15"));
	assert_true(fx_policy_store(&f, "default: retain 1d\n") > 0);
	fx_must(indexer_catch_up(f.ar, NULL, NULL, &err), &err, "catch up");
	assert_int_equal(fx_read(&f, 2, MSG_FROMS), 0);
	fx_must(catalog_exec(f.ar->cat->db, "UPDATE messages SET disposed_at = 1800000000,"
					    " blob = NULL, wrapped_key = NULL WHERE id = 1", &err),
		&err, "dispose");
	fx_must(export_to(&f, "b.tar.gz", "from:sec.gov", NULL, &sum, &err, path, sizeof(path)),
		&err, "export");
	assert_int_equal(sum.messages, 1);
	assert_int_equal(sum.disposed, 1);
	assert_int_equal(verify(&f, path, NULL, 0, &l), 0);
	assert_non_null(strstr(pv_buf_str(&l.all), "1 messages, 1 disposed"));
	lines_free(&l);
	fx_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mbox_roundtrip_whatever_the_chunking),
		cmocka_unit_test(test_mbox_long_gt_run_is_streamed),
		cmocka_unit_test(test_mbox_reader_refuses_text_before_first_from),
		cmocka_unit_test(test_dat_and_csv_rows_escape_and_parse_back),
		cmocka_unit_test(test_dat_value_never_holds_the_quote_nor_bidi_controls),
		cmocka_unit_test(test_bates_numbers_are_stable_per_matter),
		cmocka_unit_test(test_export_verifies_and_holds_the_exact_bytes),
		cmocka_unit_test(test_export_reads_ahead_and_streams_big_mail),
		cmocka_unit_test(test_export_leaves_neither_mail_nor_bundle_in_the_page_cache),
		cmocka_unit_test(test_export_load_file_rows_keep_their_message_and_order),
		cmocka_unit_test(test_export_refuses_a_message_whose_leaf_is_not_its_own),
		cmocka_unit_test(test_export_fails_closed_when_the_audit_log_fails),
		cmocka_unit_test(test_export_lists_disposed_mail_instead_of_failing),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("export", tests, NULL, NULL);
}
