/* Unit tests for archiver/index/mime, text and html: the hand-written
 * corpus in tests/data/mime/ with known answers per file. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "archiver/index/html.h"
#include "archiver/index/mime.h"
#include "archiver/index/text.h"
#include "tests/unit/fixtures.h"

struct fixture {
	unsigned char *raw;
	size_t len;
	struct index_doc doc;
};

static void extract(struct fixture *fx, const char *name)
{
	struct pv_error err;
	fx->raw = fx_mime_sample(name, &fx->len);
	assert_int_equal(index_mime_extract(fx->raw, fx->len, &fx->doc, &err), PV_OK);
}

static void release(struct fixture *fx)
{
	index_doc_free(&fx->doc);
	free(fx->raw);
}

static void assert_has(const struct pv_buf *b, const char *needle)
{
	if (strstr(pv_buf_str(b), needle) == NULL)
		fail_msg("\"%s\" not in \"%s\"", needle, pv_buf_str(b));
}

static void assert_lacks(const struct pv_buf *b, const char *needle)
{
	if (strstr(pv_buf_str(b), needle) != NULL)
		fail_msg("\"%s\" unexpectedly in \"%s\"", needle, pv_buf_str(b));
}

static void test_plain_message_fields(void **state)
{
	(void)state;
	struct fixture fx;
	extract(&fx, "01-plain.eml");
	assert_string_equal(pv_buf_str(&fx.doc.from), "Alice Example <alice@example.com>");
	assert_string_equal(pv_buf_str(&fx.doc.to), "Bob Builder <bob@example.org>");
	assert_string_equal(pv_buf_str(&fx.doc.subject), "Quarterly report");
	assert_string_equal(pv_buf_str(&fx.doc.message_id), "plain-1@example.com");
	assert_true(fx.doc.date_known);
	assert_int_equal(fx.doc.date, 1709546400); /* 2024-03-04T10:00:00Z */
	assert_false(fx.doc.has_attachment);
	assert_int_equal(fx.doc.truncated, 0);
	assert_has(&fx.doc.body, "Revenue grew in March.");
	release(&fx);
}

static void test_rfc2047_latin1_words_and_qp_body(void **state)
{
	(void)state;
	struct fixture fx;
	extract(&fx, "02-latin1-qp.eml");
	assert_string_equal(pv_buf_str(&fx.doc.subject), "Café crème");
	assert_string_equal(pv_buf_str(&fx.doc.from), "Renée Dupré <renee@example.fr>");
	assert_has(&fx.doc.body, "Le café est prêt, Renée.");
	assert_int_equal(fx.doc.date, 1709627400); /* 09:30 +0100 is 08:30Z */
	release(&fx);
}

static void test_koi8r_base64_words_and_body(void **state)
{
	(void)state;
	struct fixture fx;
	extract(&fx, "03-koi8r-base64.eml");
	assert_string_equal(pv_buf_str(&fx.doc.subject), "Отчёт за квартал");
	assert_string_equal(pv_buf_str(&fx.doc.from), "Иван Петров <ivan@example.ru>");
	assert_has(&fx.doc.body, "Привет, мир! Встреча в пятницу.");
	release(&fx);
}

static void test_iso2022jp_stateful_charset(void **state)
{
	(void)state;
	struct fixture fx;
	extract(&fx, "04-iso2022jp.eml");
	assert_string_equal(pv_buf_str(&fx.doc.subject), "会議の議事録");
	assert_string_equal(pv_buf_str(&fx.doc.from), "山田太郎 <yamada@example.jp>");
	assert_has(&fx.doc.body, "明日の会議は十時からです。");
	release(&fx);
}

static void test_raw_utf8_headers_rfc6532(void **state)
{
	(void)state;
	struct fixture fx;
	extract(&fx, "05-utf8-raw-headers.eml");
	assert_string_equal(pv_buf_str(&fx.doc.subject), "Grüße aus Köln");
	assert_string_equal(pv_buf_str(&fx.doc.from), "Jürgen Groß <juergen@example.de>");
	assert_string_equal(pv_buf_str(&fx.doc.to), "Zoë <zoe@example.de>");
	assert_has(&fx.doc.body, "Naïve façade.");
	release(&fx);
}

static void test_gb2312_base64(void **state)
{
	(void)state;
	struct fixture fx;
	extract(&fx, "06-gb2312.eml");
	assert_string_equal(pv_buf_str(&fx.doc.subject), "预算");
	assert_has(&fx.doc.body, "中文邮件测试，预算已经批准。");
	release(&fx);
}

static void test_rfc2231_filenames_continuations_and_encoded_name(void **state)
{
	(void)state;
	struct fixture fx;
	extract(&fx, "07-rfc2231-attachments.eml");
	assert_true(fx.doc.has_attachment);
	assert_string_equal(pv_buf_str(&fx.doc.filenames),
		"Résumé final.pdf\nBudéget 2024.xls\nNotizen für Carol.txt");
	assert_string_equal(pv_buf_str(&fx.doc.types),
		"application/pdf\napplication/vnd.ms-excel\ntext/plain");
	assert_string_equal(pv_buf_str(&fx.doc.cc), "Erin <erin@example.net>");
	assert_string_equal(pv_buf_str(&fx.doc.to), "alice@example.com, Dave <dave@example.net>");
	assert_has(&fx.doc.body, "Please review the contract drafts.");
	assert_has(&fx.doc.body, "zeppelin"); /* text attachments are indexed */
	assert_lacks(&fx.doc.body, "preamble");
	assert_lacks(&fx.doc.body, "epilogue");
	assert_int_equal(fx.doc.parts, 5);
	release(&fx);
}

static void test_html_script_style_comment_dropped_entities_decoded(void **state)
{
	(void)state;
	struct fixture fx;
	extract(&fx, "08-html-script.eml");
	assert_has(&fx.doc.body, "Dear customer,");
	assert_has(&fx.doc.body, "Fish & chips for 5€ — café €ABC");
	assert_has(&fx.doc.body, "hiddenword"); /* hidden text is still content */
	assert_has(&fx.doc.body, "x < y &notanentity; AT&T");
	assert_lacks(&fx.doc.body, "scriptsecret");
	assert_lacks(&fx.doc.body, "uppercasescript");
	assert_lacks(&fx.doc.body, "secretstyle");
	assert_lacks(&fx.doc.body, "commentsecret");
	assert_lacks(&fx.doc.body, "evil.example");
	assert_lacks(&fx.doc.body, "<p>");
	release(&fx);
}

static void test_alternative_indexes_both_shows_plain(void **state)
{
	(void)state;
	struct fixture fx;
	struct pv_buf out;
	struct pv_error err;
	extract(&fx, "09-alternative.eml");
	assert_has(&fx.doc.body, "Plain version");
	assert_has(&fx.doc.body, "htmlonlyword");
	pv_buf_init(&out, 1 << 20);
	assert_int_equal(index_doc_show(&fx.doc, &out, &err), PV_OK);
	assert_has(&out, "Plain version: lunch at noon.");
	assert_lacks(&out, "htmlonlyword");
	pv_buf_free(&out);
	release(&fx);
}

static void test_malformed_mime_still_yields_text(void **state)
{
	(void)state;
	struct fixture fx;
	extract(&fx, "10-malformed.eml");
	assert_string_equal(pv_buf_str(&fx.doc.subject), "Malformed MIME");
	assert_false(fx.doc.date_known); /* "not a date at all" */
	assert_has(&fx.doc.body, "Text in an unknown charset: café.");
	assert_has(&fx.doc.body, "Hello broken base64 world");
	assert_has(&fx.doc.body, "innerpart survives though nothing closes");
	release(&fx);
}

static void test_missing_message_id_and_to(void **state)
{
	(void)state;
	struct fixture fx;
	extract(&fx, "11-no-message-id.eml");
	assert_string_equal(pv_buf_str(&fx.doc.message_id), "");
	assert_string_equal(pv_buf_str(&fx.doc.to), "");
	assert_string_equal(pv_buf_str(&fx.doc.subject), "No identifier here");
	release(&fx);
}

static void test_duplicate_headers_lists_join_singletons_first_wins(void **state)
{
	(void)state;
	struct fixture fx;
	extract(&fx, "12-duplicate-headers.eml");
	assert_string_equal(pv_buf_str(&fx.doc.to), "one@example.com, two@example.com");
	assert_string_equal(pv_buf_str(&fx.doc.subject), "First subject");
	assert_string_equal(pv_buf_str(&fx.doc.subject_more), "Second subject");
	assert_string_equal(pv_buf_str(&fx.doc.message_id), "dup-12a@example.com");
	assert_int_equal(fx.doc.date, 1710410400); /* the first Date */
	release(&fx);
}

static void test_attached_message_headers_become_body_text(void **state)
{
	(void)state;
	struct fixture fx;
	extract(&fx, "13-forwarded.eml");
	assert_string_equal(pv_buf_str(&fx.doc.from), "Bob Builder <bob@example.org>");
	assert_has(&fx.doc.body, "From: Zed Original <zed@example.com>");
	assert_has(&fx.doc.body, "Subject: Original findings");
	assert_has(&fx.doc.body, "xylophone");
	assert_false(fx.doc.has_attachment); /* inline, no file name */
	release(&fx);
}

static void test_latin1_label_read_as_windows_1252(void **state)
{
	(void)state;
	struct fixture fx;
	extract(&fx, "14-windows1252.eml");
	assert_has(&fx.doc.body, "He said “hello” – it costs €100.");
	release(&fx);
}

static void test_no_headers_bare_lf(void **state)
{
	(void)state;
	struct fixture fx;
	extract(&fx, "15-no-headers-lf.eml");
	assert_string_equal(pv_buf_str(&fx.doc.from), "");
	assert_false(fx.doc.date_known);
	assert_string_equal(pv_buf_str(&fx.doc.body), "Only a body, no headers at all, bare LF line ends.\n");
	release(&fx);
}

static void test_digest_parts_default_to_messages(void **state)
{
	(void)state;
	struct fixture fx;
	extract(&fx, "16-digest.eml");
	assert_has(&fx.doc.body, "Subject: Digest item one");
	assert_has(&fx.doc.body, "From: Two <two@example.com>");
	assert_has(&fx.doc.body, "narwhal");
	release(&fx);
}

static void test_control_characters_never_reach_output(void **state)
{
	(void)state;
	struct fixture fx;
	struct pv_buf out;
	struct pv_error err;
	extract(&fx, "17-controls.eml");
	assert_lacks(&fx.doc.subject, "\x1b");
	assert_lacks(&fx.doc.subject, "\x07");
	assert_lacks(&fx.doc.from, "\x1b");
	assert_lacks(&fx.doc.body, "\x1b");
	assert_has(&fx.doc.body, "inside."); /* a NUL does not end the text */
	pv_buf_init(&out, 1 << 20);
	assert_int_equal(index_doc_show(&fx.doc, &out, &err), PV_OK);
	for (size_t i = 0; i < out.len; i++)
		assert_true(out.data[i] >= 0x20 || out.data[i] == '\n' || out.data[i] == '\t');
	pv_buf_free(&out);
	release(&fx);
}

/* Valid UTF-8, no control characters except line breaks and tabs. */
static void assert_clean(const struct pv_buf *b, bool lines)
{
	struct pv_buf c;
	struct pv_error err;
	pv_buf_init(&c, b->len * 3 + 16);
	assert_int_equal(index_text_clean((const char *)b->data, b->len, lines, &c, &err), PV_OK);
	assert_int_equal(c.len, b->len);
	if (b->len > 0)
		assert_memory_equal(c.data, b->data, b->len);
	pv_buf_free(&c);
}

static void test_every_corpus_file_is_clean_utf8(void **state)
{
	(void)state;
	const char *src = getenv("POPVAULT_SRC");
	char path[4096];
	snprintf(path, sizeof(path), "%s/tests/data/mime", src ? src : ".");
	DIR *dir = opendir(path);
	assert_non_null(dir);
	int files = 0;
	for (struct dirent *e; (e = readdir(dir)) != NULL;) {
		if (strstr(e->d_name, ".eml") == NULL)
			continue;
		struct fixture fx;
		extract(&fx, e->d_name);
		assert_clean(&fx.doc.from, false);
		assert_clean(&fx.doc.to, false);
		assert_clean(&fx.doc.cc, false);
		assert_clean(&fx.doc.subject, false);
		assert_clean(&fx.doc.message_id, false);
		assert_clean(&fx.doc.body, true);
		assert_clean(&fx.doc.filenames, true);
		release(&fx);
		files++;
	}
	closedir(dir);
	assert_true(files >= 17);
}

/* tests/data/hostile/02-hostile-bidi.eml's tricks, and one in the body:
 * the header lines of the rendering (values and file names) lose every
 * bidi control, the body keeps its text as written. */
static void test_show_header_lines_carry_no_bidi_controls(void **state)
{
	(void)state;
	static const char msg[] =
		"From: =?utf-8?b?Qm9iIOKBpkJ1aWxkZXLigak=?= <bob@example.org>\r\n"
		"To: alice@example.com\r\n"
		"Subject: =?utf-8?b?aW52b2ljZSDigK5mZHAuZXhlIGZvciBwYXltZW50?=\r\n"
		"Date: Mon, 02 Nov 2026 10:00:00 +0000\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
		"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
		"\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d \xe2\x80\xab" "abc\xe2\x80\xac\r\n"
		"--b\r\nContent-Type: application/octet-stream\r\n"
		"Content-Disposition: attachment; filename*=utf-8''invoice%E2%80%AEfdp.exe\r\n\r\n"
		"MZ\r\n--b--\r\n";
	struct pv_buf out;
	struct pv_error err;
	pv_buf_init(&out, 1 << 20);
	assert_int_equal(index_mime_show((const unsigned char *)msg, sizeof(msg) - 1, &out, &err),
			 PV_OK);
	assert_string_equal(pv_buf_str(&out),
		"From: Bob Builder <bob@example.org>\n"
		"To: alice@example.com\n"
		"Date: 2026-11-02T10:00:00Z\n"
		"Subject: invoice fdp.exe for payment\n"
		"Attachments: invoicefdp.exe (application/octet-stream)\n"
		"\n"
		"\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d \xe2\x80\xab" "abc\xe2\x80\xac\n");
	pv_buf_free(&out);
}

static void test_show_renders_headers_and_attachments(void **state)
{
	(void)state;
	struct fixture fx;
	struct pv_buf out;
	struct pv_error err;
	fx.raw = fx_mime_sample("07-rfc2231-attachments.eml", &fx.len);
	pv_buf_init(&out, 1 << 20);
	assert_int_equal(index_mime_show(fx.raw, fx.len, &out, &err), PV_OK);
	assert_string_equal(pv_buf_str(&out),
		"From: Carol <carol@example.net>\n"
		"To: alice@example.com, Dave <dave@example.net>\n"
		"Cc: Erin <erin@example.net>\n"
		"Date: 2024-03-10T20:00:00Z\n"
		"Subject: Contract drafts\n"
		"Message-ID: <attach-7@example.net>\n"
		"Attachments: Résumé final.pdf (application/pdf), Budéget 2024.xls "
		"(application/vnd.ms-excel), Notizen für Carol.txt (text/plain)\n"
		"\n"
		"Please review the contract drafts.\n");
	pv_buf_free(&out);
	free(fx.raw);
}

static void test_text_clean_rejects_invalid_utf8(void **state)
{
	(void)state;
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"a\xC0\xAFz", "a\xEF\xBF\xBD\xEF\xBF\xBDz"},      /* overlong '/' */
		{"\xED\xA0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"}, /* surrogate */
		{"\xF4\x90\x80\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},
		{"cut \xE2\x82", "cut \xEF\xBF\xBD\xEF\xBF\xBD"},
		{"c1 \xC2\x9B x", "c1   x"},                        /* C1 CSI */
		{"line\r\nnext\tt", "line\nnext\tt"},
		{"ok €", "ok €"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pv_buf b;
		struct pv_error err;
		pv_buf_init(&b, 256);
		assert_int_equal(index_text_clean(cases[i].in, strlen(cases[i].in), true, &b, &err), PV_OK);
		assert_string_equal(pv_buf_str(&b), cases[i].out);
		pv_buf_free(&b);
	}
}

static void test_text_cut_lands_on_character_boundary(void **state)
{
	(void)state;
	struct pv_buf b;
	struct pv_error err;
	pv_buf_init(&b, 5);
	/* "ééé" is 6 bytes: only two characters fit in 5 */
	assert_int_equal(index_text_clean("ééé", 6, true, &b, &err), PV_ELIMIT);
	assert_string_equal(pv_buf_str(&b), "éé");
	pv_buf_free(&b);
}

static void test_html_unterminated_constructs_end_cleanly(void **state)
{
	(void)state;
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"a<!-- never closed", "a"},
		{"a<script>never closed", "a"},
		{"a<b title=\"x>y\">b</b>", "ab"},
		/* NUL, a surrogate, past U+10FFFF: U+FFFD (HTML 5 §13.2.5.80) */
		{"1 < 2 &amp;&#0;&#xD800;&#99999999;",
			"1 < 2 &\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},
		{"&#123456789;", "&#123456789;"}, /* too long: literal */
		{"x<br>y<p>z", "x\ny\nz"},
		{"  lots   of\n\n space  ", "lots of space"},
		{"<", "<"},
		{"&", "&"},
		{"a</scr", "a"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pv_buf b;
		struct pv_error err;
		pv_buf_init(&b, 256);
		assert_int_equal(index_html_to_text(cases[i].in, strlen(cases[i].in), &b, &err), PV_OK);
		assert_string_equal(pv_buf_str(&b), cases[i].out);
		pv_buf_free(&b);
	}
}

static void test_base64_padding_mid_stream_does_not_hide_text(void **state)
{
	(void)state;
	/* "Hello" "World" padded per line; then "==" before the text */
	static const char *const msgs[] = {
		"Content-Transfer-Encoding: base64\r\n\r\nSGVsbG8=\r\nV29ybGQ=\r\n",
		"Content-Transfer-Encoding: base64\r\n\r\n==\r\nSGVsbG8gV29ybGQ=\r\n",
		"Content-Transfer-Encoding: BASE64\r\n\r\nSGVs bG8g\r\n  V29y\x01" "bGQ\r\n", /* junk, no padding */
		/* a corrupt line's two stray characters must not misalign the next */
		"Content-Transfer-Encoding: base64\r\n\r\nSGVsbG8g\r\n!x@y!\r\nV29ybGQ=\r\n",
	};
	static const char *const want[] = {"HelloWorld", "Hello World", "Hello World", "Hello World"};
	for (size_t i = 0; i < 4; i++) {
		struct index_doc d;
		struct pv_error err;
		assert_int_equal(index_mime_extract((const unsigned char *)msgs[i], strlen(msgs[i]), &d,
			&err), PV_OK);
		assert_string_equal(pv_buf_str(&d.body), want[i]);
		index_doc_free(&d);
	}
}

/* Found by fuzz_mime: an empty pv_buf has data == NULL, and NULL + 0 is
 * undefined behaviour (clang's UBSan reports it; gcc's does not). */
static void test_empty_input_with_null_data(void **state)
{
	(void)state;
	struct pv_buf b;
	struct index_doc d;
	struct pv_error err;
	pv_buf_init(&b, 16);
	assert_int_equal(index_text_clean(NULL, 0, true, &b, &err), PV_OK);
	assert_int_equal(index_text_cjk_split(NULL, 0, &b, &err), PV_OK);
	assert_int_equal(index_html_to_text(NULL, 0, &b, &err), PV_OK);
	assert_int_equal(index_text_append(&b, NULL, 0, &err), PV_OK);
	assert_int_equal(b.len, 0);
	assert_int_equal(index_mime_extract(NULL, 0, &d, &err), PV_OK);
	assert_int_equal(index_doc_show(&d, &b, &err), PV_OK);
	assert_string_equal(pv_buf_str(&b), "Date: unknown\n\n");
	index_doc_free(&d);
	pv_buf_free(&b);
}

/* The common charsets a message names, for the parser sandbox to pin:
 * charset= parameters (quoted or not, any case) and RFC 2047 words; a
 * name outside the list, or "charset" without "=", is no charset. */
static void test_charsets_seen_are_the_named_common_ones(void **state)
{
	(void)state;
	static const char msg[] =
		"Subject: =?koi8-r?B?8NLJ18XU?= and =?UTF-8?Q?caf=C3=A9?=\r\n"
		"Content-Type: text/plain; charset=\"ISO-8859-1\"\r\n\r\n"
		"charset is a word; a=b =3D =?x-unknown?Q?a?=\r\n"
		"--b\r\nContent-Type: text/html; CHARSET=windows-1252\r\n\r\n";
	uint32_t a = index_charsets_seen((const unsigned char *)msg, sizeof(msg) - 1);
	uint32_t koi = index_charsets_seen((const unsigned char *)"=?KOI8-R?Q?a?=", 14);
	uint32_t latin = index_charsets_seen((const unsigned char *)"charset=iso-8859-1", 18);
	uint32_t cp = index_charsets_seen((const unsigned char *)"charset=Windows-1252;", 21);
	assert_int_not_equal(koi, 0);
	assert_int_not_equal(latin, 0);
	assert_int_not_equal(cp, 0);
	assert_int_equal(a, koi | latin | cp);
	assert_int_equal(index_charsets_seen((const unsigned char *)"charset iso-8859-1 =?", 21), 0);
	assert_int_equal(index_charsets_seen((const unsigned char *)"charset=", 8), 0);
	assert_int_equal(index_charsets_seen(NULL, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_message_fields),
		cmocka_unit_test(test_rfc2047_latin1_words_and_qp_body),
		cmocka_unit_test(test_koi8r_base64_words_and_body),
		cmocka_unit_test(test_iso2022jp_stateful_charset),
		cmocka_unit_test(test_raw_utf8_headers_rfc6532),
		cmocka_unit_test(test_gb2312_base64),
		cmocka_unit_test(test_rfc2231_filenames_continuations_and_encoded_name),
		cmocka_unit_test(test_html_script_style_comment_dropped_entities_decoded),
		cmocka_unit_test(test_alternative_indexes_both_shows_plain),
		cmocka_unit_test(test_malformed_mime_still_yields_text),
		cmocka_unit_test(test_missing_message_id_and_to),
		cmocka_unit_test(test_duplicate_headers_lists_join_singletons_first_wins),
		cmocka_unit_test(test_attached_message_headers_become_body_text),
		cmocka_unit_test(test_latin1_label_read_as_windows_1252),
		cmocka_unit_test(test_no_headers_bare_lf),
		cmocka_unit_test(test_digest_parts_default_to_messages),
		cmocka_unit_test(test_control_characters_never_reach_output),
		cmocka_unit_test(test_every_corpus_file_is_clean_utf8),
		cmocka_unit_test(test_show_renders_headers_and_attachments),
		cmocka_unit_test(test_text_clean_rejects_invalid_utf8),
		cmocka_unit_test(test_text_cut_lands_on_character_boundary),
		cmocka_unit_test(test_html_unterminated_constructs_end_cleanly),
		cmocka_unit_test(test_base64_padding_mid_stream_does_not_hide_text),
		cmocka_unit_test(test_empty_input_with_null_data),
		cmocka_unit_test(test_show_header_lines_carry_no_bidi_controls),
		cmocka_unit_test(test_charsets_seen_are_the_named_common_ones),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
