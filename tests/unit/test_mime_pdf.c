/* PDF attachment text through pdftotext in a child (archiver/index/pdf):
 * extracted and indexed, hidden from `show`, and a misbehaving child
 * (garbage, endless output, hanging, missing) costs bounded time; a PDF
 * that cannot hold text is not given to it. */
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

#include "archiver/index/mime.h"
#include "archiver/index/pdf.h"
#include "archiver/index/sandbox.h"
#include "archiver/lib/clock.h"

#define PDFTOTEXT "/usr/bin/pdftotext"

/* A one-page PDF showing `text`, with a correct cross-reference table. */
static size_t make_pdf(char *out, size_t cap, const char *text)
{
	char content[256], obj4[512];
	snprintf(content, sizeof(content), "BT /F1 24 Tf 72 700 Td (%s) Tj ET", text);
	snprintf(obj4, sizeof(obj4), "<< /Length %zu >>\nstream\n%s\nendstream",
		strlen(content), content);
	const char *objs[5] = {
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
		"/Resources << /Font << /F1 5 0 R >> >> >>",
		obj4,
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	};
	size_t off[5], n = (size_t)snprintf(out, cap, "%%PDF-1.4\n");
	for (int i = 0; i < 5; i++) {
		off[i] = n;
		n += (size_t)snprintf(out + n, cap - n, "%d 0 obj\n%s\nendobj\n", i + 1, objs[i]);
	}
	size_t xref = n;
	n += (size_t)snprintf(out + n, cap - n, "xref\n0 6\n0000000000 65535 f \n");
	for (int i = 0; i < 5; i++)
		n += (size_t)snprintf(out + n, cap - n, "%010zu 00000 n \n", off[i]);
	n += (size_t)snprintf(out + n, cap - n,
		"trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n%zu\n%%%%EOF\n", xref);
	assert_true(n < cap);
	return n;
}

static void base64(const unsigned char *in, size_t n, char *out)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) |
			(i + 2 < n ? in[i + 2] : 0);
		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
		out[o++] = i + 1 < n ? a[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? a[v & 63] : '=';
		if ((i / 3) % 19 == 18)
			out[o++] = '\n';
	}
	out[o] = '\0';
}

static int setup(void **state)
{
	(void)state;
	index_mime_set_pdftotext(access(PDFTOTEXT, X_OK) == 0 ? PDFTOTEXT : NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	index_mime_set_pdftotext(NULL);
	return 0;
}

static void need_pdftotext(void)
{
	if (access(PDFTOTEXT, X_OK) != 0)
		skip();
}

static void test_pdf_attachment_text_is_indexed_not_shown(void **state)
{
	(void)state;
	need_pdftotext();
	char pdf[2048], b64[4096], msg[8192];
	size_t n = make_pdf(pdf, sizeof(pdf), "pdfsecretword inside");
	base64((unsigned char *)pdf, n, b64);
	int m = snprintf(msg, sizeof(msg),
		"From: a@example.com\r\nSubject: pdf\r\n"
		"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n"
		"Content-Type: text/plain\r\n\r\nsee attached\r\n--x\r\n"
		"Content-Type: application/pdf; name=report.pdf\r\n"
		"Content-Transfer-Encoding: base64\r\n\r\n%s\r\n--x--\r\n", b64);
	struct index_doc doc;
	struct pv_error err;
	assert_int_equal(index_mime_extract((unsigned char *)msg, (size_t)m, &doc, &err), PV_OK);
	assert_non_null(strstr(pv_buf_str(&doc.body), "pdfsecretword inside"));
	assert_string_equal(pv_buf_str(&doc.filenames), "report.pdf");
	struct pv_buf out;
	pv_buf_init(&out, 1 << 20);
	assert_int_equal(index_doc_show(&doc, &out, &err), PV_OK);
	assert_null(strstr(pv_buf_str(&out), "pdfsecretword"));
	assert_non_null(strstr(pv_buf_str(&out), "see attached"));
	pv_buf_free(&out);
	index_doc_free(&doc);
}

/* The indexer runs it all in the parser sandbox: pdftotext, its child,
 * is confined the same way (seccomp filters and Landlock are inherited
 * across exec) and still gives the text. */
static void test_pdf_text_comes_out_of_the_parser_sandbox(void **state)
{
	(void)state;
	need_pdftotext();
	char pdf[2048], b64[4096], msg[8192];
	size_t n = make_pdf(pdf, sizeof(pdf), "sandboxedpdfword");
	base64((unsigned char *)pdf, n, b64);
	int m = snprintf(msg, sizeof(msg),
		"From: a@example.com\r\nSubject: pdf\r\n"
		"Content-Type: application/pdf; name=report.pdf\r\n"
		"Content-Transfer-Encoding: base64\r\n\r\n%s\r\n", b64);
	struct index_sandbox *sb;
	struct index_doc doc;
	struct pv_error err;
	assert_int_equal(index_sandbox_new(NULL, &sb, &err), PV_OK);
	assert_int_equal(index_sandbox_extract(sb, (unsigned char *)msg, (size_t)m, &doc, &err), PV_OK);
	assert_non_null(strstr(pv_buf_str(&doc.body), "sandboxedpdfword"));
	index_doc_free(&doc);
	index_sandbox_free(&sb);
}

static void test_garbage_pdf_yields_no_text_and_no_failure(void **state)
{
	(void)state;
	need_pdftotext();
	static const char msg[] =
		"Subject: bad pdf\r\nContent-Type: application/pdf\r\n"
		"Content-Disposition: attachment; filename=bad.pdf\r\n\r\n%PDF-1.4 garbage \x01\x02\r\n";
	struct index_doc doc;
	struct pv_error err;
	assert_int_equal(index_mime_extract((const unsigned char *)msg, sizeof(msg) - 1, &doc, &err), PV_OK);
	assert_true(doc.has_attachment);
	assert_int_equal(doc.body.len, 0);
	index_doc_free(&doc);
}

/* A PDF without a font has no text: pdftotext is not run for it (a
 * missing program would be an error); one with a font, also spelt with
 * #xx escapes, or with object streams that may hide one, goes to it. */
static void test_pdf_without_a_font_is_not_given_to_pdftotext(void **state)
{
	(void)state;
	static const char *const no_text[] = {
		"%PDF-1.4 \x01\x02 /Fonts /Fon /XObject /Font2 <</FontFile 3 0 R>>",
		"%PDF-1.4\n1 0 obj << /Type /XObject /Subtype /Image >> endobj",
	};
	static const char *const text[] = {
		"%PDF-1.4\n<< /Resources << /Font << /F1 5 0 R >> >> >>",
		"%PDF-1.4\n<</Font<</F1 5 0 R>>>>",
		"%PDF-1.4\n<< /Resources << /F#6fnt << /F1 5 0 R >> >> >>",
		"%PDF-1.5\n7 0 obj << /Type /ObjStm /N 3 /First 20 /Filter /FlateDecode >>",
	};
	struct pv_buf out;
	struct pv_error err;
	pv_buf_init(&out, 1000);
	for (size_t i = 0; i < sizeof(no_text) / sizeof(no_text[0]); i++) {
		const unsigned char *p = (const unsigned char *)no_text[i];
		assert_false(index_pdf_may_have_text(p, strlen(no_text[i])));
		assert_int_equal(index_pdf_to_text("/nonexistent/pdftotext", p, strlen(no_text[i]),
						   &out, &err), PV_OK);
		assert_int_equal(out.len, 0);
	}
	for (size_t i = 0; i < sizeof(text) / sizeof(text[0]); i++) {
		const unsigned char *p = (const unsigned char *)text[i];
		assert_true(index_pdf_may_have_text(p, strlen(text[i])));
		assert_int_equal(index_pdf_to_text("/nonexistent/pdftotext", p, strlen(text[i]),
						   &out, &err), PV_ERR);
	}
	pv_buf_free(&out);
}

static char dir[64];

static const char *script(const char *name, const char *body)
{
	static char path[128];
	if (dir[0] == '\0') {
		strcpy(dir, "/tmp/pv-test-pdf-XXXXXX");
		assert_non_null(mkdtemp(dir));
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	assert_int_equal(chmod(path, 0755), 0);
	return path;
}

static void test_endless_output_is_cut_at_the_buffer_max(void **state)
{
	(void)state;
	struct pv_buf out;
	struct pv_error err;
	pv_buf_init(&out, 1000);
	int64_t t0 = pv_clock_monotonic_ms();
	assert_int_equal(index_pdf_run(script("yes", "exec /usr/bin/yes pdfword"),
		(const unsigned char *)"x", 1, &out, 5000, &err), PV_ELIMIT);
	assert_true(out.len <= 1000 && out.len > 900);
	assert_true(pv_clock_monotonic_ms() - t0 < 4000);
	pv_buf_free(&out);
}

static void test_hanging_child_is_killed_at_the_deadline(void **state)
{
	(void)state;
	struct pv_buf out;
	struct pv_error err;
	pv_buf_init(&out, 1000);
	int64_t t0 = pv_clock_monotonic_ms();
	assert_int_equal(index_pdf_run(script("hang", "exec /bin/sleep 60"),
		(const unsigned char *)"x", 1, &out, 300, &err), PV_ERR);
	int64_t ms = pv_clock_monotonic_ms() - t0;
	assert_true(ms >= 300 && ms < 3000);
	pv_buf_free(&out);
}

static void test_child_that_ignores_its_input_does_not_kill_us(void **state)
{
	(void)state;
	/* stdin is never read: our writes fail with EPIPE, not SIGPIPE */
	static unsigned char big[1 << 20];
	struct pv_buf out;
	struct pv_error err;
	pv_buf_init(&out, 1000);
	assert_int_equal(index_pdf_run(script("deaf", "echo early; exit 0"), big, sizeof(big),
		&out, 5000, &err), PV_OK);
	assert_string_equal(pv_buf_str(&out), "early\n");
	pv_buf_free(&out);
}

static void test_missing_program_is_an_error(void **state)
{
	(void)state;
	struct pv_buf out;
	struct pv_error err;
	pv_buf_init(&out, 1000);
	assert_int_equal(index_pdf_run("/nonexistent/pdftotext", (const unsigned char *)"x", 1,
		&out, 5000, &err), PV_ERR);
	pv_buf_free(&out);
	if (dir[0]) {
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		assert_int_equal(system(cmd), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pdf_attachment_text_is_indexed_not_shown),
		cmocka_unit_test(test_pdf_text_comes_out_of_the_parser_sandbox),
		cmocka_unit_test(test_garbage_pdf_yields_no_text_and_no_failure),
		cmocka_unit_test(test_pdf_without_a_font_is_not_given_to_pdftotext),
		cmocka_unit_test(test_endless_output_is_cut_at_the_buffer_max),
		cmocka_unit_test(test_hanging_child_is_killed_at_the_deadline),
		cmocka_unit_test(test_child_that_ignores_its_input_does_not_kill_us),
		cmocka_unit_test(test_missing_program_is_an_error),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
