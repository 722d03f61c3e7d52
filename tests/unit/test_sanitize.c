/* archiver/index/sanitize: hostile HTML mail in, an allow-listed document
 * out. Each test names the attack it guards; the output is checked for
 * what must be gone and for what must survive. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "archiver/index/sanitize.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/limits.h"

/* The sanitised body (between <body> and </body>) of html, a static copy. */
static const char *san(const char *html)
{
	static char body[1 << 20];
	struct pv_buf out;
	struct pv_error err;
	pv_buf_init(&out, PV_VIEW_HTML_MAX);
	assert_int_equal(index_html_sanitize(html, strlen(html), &out, &err), PV_OK);
	const char *s = pv_buf_str(&out);
	const char *b = strstr(s, "<body>\n"), *e = strstr(s, "\n</body></html>\n");
	assert_non_null(b);
	assert_non_null(e);
	b += 7;
	assert_true((size_t)(e - b) < sizeof(body));
	memcpy(body, b, (size_t)(e - b));
	body[e - b] = '\0';
	pv_buf_free(&out);
	return body;
}

static void expect(const char *html, const char *want)
{
	const char *got = san(html);
	if (strcmp(got, want) != 0)
		fail_msg("sanitising\n  %s\ngave\n  %s\nnot\n  %s", html, got, want);
}

/* Case-insensitive: none of these may be in the output. */
static void absent(const char *html, const char *const *bad)
{
	const char *got = san(html);
	for (; *bad; bad++)
		if (strcasestr(got, *bad) != NULL)
			fail_msg("sanitising\n  %s\nleft '%s' in\n  %s", html, *bad, got);
}

static void test_document_has_only_a_charset_in_its_head(void **state)
{
	(void)state;
	struct pv_buf out;
	struct pv_error err;
	pv_buf_init(&out, 1 << 20);
	assert_int_equal(index_html_sanitize("<p>hi</p>", 9, &out, &err), PV_OK);
	assert_string_equal(pv_buf_str(&out),
			    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head><body>\n"
			    "<p>hi</p>\n</body></html>\n");
	pv_buf_free(&out);
}

static void test_formatting_survives(void **state)
{
	(void)state;
	expect("<P ALIGN=center>Hello <B>world</B><br/>x</P>",
	       "<p align=\"center\">Hello <b>world</b><br>x</p>");
	expect("<table border=1 cellpadding='2'><tr><td colspan=2 bgcolor=#fff>a</td></tr></table>",
	       "<table border=\"1\" cellpadding=\"2\"><tr><td colspan=\"2\" bgcolor=\"#fff\">a</td>"
	       "</tr></table>");
	expect("<font face=\"Arial\" color=red size=2>t</font>",
	       "<font face=\"Arial\" color=\"red\" size=\"2\">t</font>");
	expect("<ol type=a start=3><li>x</li></ol>", "<ol type=\"a\" start=\"3\"><li>x</li></ol>");
}

static void test_script_goes_with_its_content(void **state)
{
	(void)state;
	expect("a<script>alert(1)</script>b", "ab");
	expect("a<SCRIPT type=text/javascript>if (a<b) alert(1)</SCRIPT >b", "ab");
	expect("a<script>document.write('</scr'+'ipt>')</script>b", "ab");
	static const char *const bad[] = {"script", "alert", NULL};
	absent("<script>alert(1)", bad);
	/* a tag named "scr<script", then text: shown, never run */
	static const char *const tags[] = {"<script", NULL};
	absent("<scr<script>ipt>alert(1)</script>", tags);
	absent("<script/src=//evil.example/x.js></script>", bad);
}

static void test_event_handlers_are_dropped(void **state)
{
	(void)state;
	expect("<img src=x onerror=alert(1)>", "");
	expect("<p onclick=\"alert(1)\" ONMOUSEOVER='x' class=c>t</p>", "<p class=\"c\">t</p>");
	expect("<p/onclick=alert(1)>t</p>", "<p>t</p>");
	static const char *const bad[] = {"onerror", "onload", "alert", NULL};
	absent("<body onload=alert(1)><div onerror =  'alert(1)'>x</div>", bad);
}

static void test_javascript_urls_are_dropped(void **state)
{
	(void)state;
	expect("<a href=\"javascript:alert(1)\">x</a>", "<a>x</a>");
	expect("<a href=\" JaVaScRiPt:alert(1)\">x</a>", "<a>x</a>");
	expect("<a href=\"java&#x09;script:alert(1)\">x</a>", "<a>x</a>");
	expect("<a href=\"java\tscript:alert(1)\">x</a>", "<a>x</a>");
	expect("<a href=\"javascript&#58;alert(1)\">x</a>", "<a>x</a>");
	expect("<a href=\"&#106;avascript:alert(1)\">x</a>", "<a>x</a>");
	expect("<a href=\"vbscript:msgbox\">x</a>", "<a>x</a>");
	expect("<a href=\"data:text/html,<script>alert(1)</script>\">x</a>", "<a>x</a>");
	expect("<a href=\"//evil.example/\">x</a>", "<a>x</a>");
	expect("<a href=\"relative/page\">x</a>", "<a>x</a>");
	expect("<a href=\"https://example.com/?a=1&amp;b=2\" target=_blank>x</a>",
	       "<a href=\"https://example.com/?a=1&amp;b=2\">x</a>");
	expect("<a href=\"mailto:bob@example.com\">bob</a>",
	       "<a href=\"mailto:bob@example.com\">bob</a>");
	expect("<a href=\"#top\" name=n>t</a>", "<a href=\"#top\" name=\"n\">t</a>");
	expect("<a href=\"http://x&quot; onclick=&quot;alert(1)\">x</a>",
	       "<a href=\"http://x&quot; onclick=&quot;alert(1)\">x</a>");
}

static void test_remote_images_and_tracking_pixels_are_dropped(void **state)
{
	(void)state;
	expect("<img src=\"https://track.example/p.gif?u=1\" width=1 height=1>", "");
	expect("<img src=\"cid:logo@x\" alt=logo>", "");
	expect("<img src=\"data:image/svg+xml;base64,PHN2Zz4=\">", "");
	expect("<img src=\"data:image/png;base64,iVBORw0K GgoA\" alt=\"a b\">",
	       "<img src=\"data:image/png;base64,iVBORw0KGgoA\" alt=\"a b\">");
	expect("<img srcset=\"https://x/a.png 1x\" src=\"data:image/gif;base64,R0lG\">",
	       "<img src=\"data:image/gif;base64,R0lG\">");
	expect("<table background=\"https://x/bg.png\"><tr><td>t</td></tr></table>",
	       "<table><tr><td>t</td></tr></table>");
}

static void test_css_that_fetches_is_dropped(void **state)
{
	(void)state;
	expect("<p style=\"color: red; background: url(https://x/a.png); font-weight:bold\">t</p>",
	       "<p style=\"color: red; font-weight:bold\">t</p>");
	expect("<p style=\"background:URL(//x)\">t</p>", "<p>t</p>");
	expect("<p style=\"background:u\\72l(//x)\">t</p>", "<p>t</p>");
	expect("<p style=\"background:ur/**/l(//x)\">t</p>", "<p>t</p>");
	expect("<p style=\"width:expression(alert(1))\">t</p>", "<p>t</p>");
	expect("<p style=\"background:url&#40;//x)\">t</p>", "<p>t</p>");
	expect("<p style=\"-moz-binding:x; behavior:y\">t</p>", "<p>t</p>");
	expect("<style>p { color: red } a > b { x: y }</style>t",
	       "<style>p { color: red } a > b { x: y }</style>t");
	expect("<style>@import 'https://x/a.css'; p{}</style>t", "t");
	expect("<style>body { background: url(https://x/p.gif) }</style>t", "t");
	expect("<style>p{}</style x><b>t</b>", "<style>p{}</style><b>t</b>");
}

static void test_forms_meta_base_and_frames_are_dropped(void **state)
{
	(void)state;
	expect("<form action=\"https://evil.example/post\" method=post>Name <input name=n>"
	       "<button>Send</button><select><option>a</select><textarea>t</textarea></form>",
	       "Name ");
	expect("<meta http-equiv=\"refresh\" content=\"0;url=https://evil.example/\">t", "t");
	expect("<base href=\"https://evil.example/\"><a href=\"x\">t</a>", "<a>t</a>");
	expect("<link rel=stylesheet href=\"https://x/a.css\">t", "t");
	expect("<iframe src=\"https://evil.example/\"><p>inside</p></iframe>t", "t");
	expect("<object data=x><embed src=y><p>fallback</p></object>t", "t");
	expect("<frameset><frame src=x></frameset>t", "t");
}

static void test_svg_and_math_go_with_their_content(void **state)
{
	(void)state;
	expect("a<svg><script>alert(1)</script><a href=x>b</a></svg>c", "ac");
	expect("a<svg onload=alert(1) />c", "ac");
	/* the '/' belongs to the unquoted value: the svg stays open to the end */
	expect("a<svg onload=alert(1)/>c", "a");
	expect("a<svg><svg></svg><p>x</p></svg>c", "ac");
	expect("a<math><mi xlink:href=javascript:alert(1)>x</mi></math>c", "ac");
	static const char *const bad[] = {"svg", "alert", "onload", NULL};
	absent("<svg><animate onbegin=alert(1) attributeName=x/></svg>", bad);
}

static void test_comments_doctype_and_unknown_tags(void **state)
{
	(void)state;
	expect("<!DOCTYPE html><html><head><title>T</title></head><body>b</body></html>", "b");
	expect("a<!-- <script>alert(1)</script> -->b", "ab");
	expect("a<!-->b", "ab");
	expect("a<!--->b", "ab");
	expect("a<!-- x --!>b", "ab");
	expect("a<!-- never closed <b>x", "a");
	expect("<o:p>x</o:p><custom-tag a=b>y</custom-tag>", "xy");
	expect("a <![CDATA[x]]> b", "a  b");
	expect("a<?php echo 1 ?>b", "ab");
	expect("1 < 2 > 0 & \"q\"", "1 &lt; 2 &gt; 0 &amp; &quot;q&quot;");
	expect("a</>b</ x>c", "abc");
	expect("<noscript><img src=x onerror=alert(1)></noscript>t", "t");
	expect("a<plaintext><script>alert(1)</script>", "a");
}

static void test_character_references_are_reencoded(void **state)
{
	(void)state;
	expect("&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;script&gt;alert(1)&lt;/script&gt;");
	expect("&amp;&#60;&#x3C;&nbsp;&eacute;&hearts;", "&amp;&lt;&lt;\xc2\xa0\xc3\xa9&amp;hearts;");
	expect("&#0;&#1;", "\xef\xbf\xbd ");
	expect("<p title=\"&lt;script&gt;\">t</p>", "<p title=\"&lt;script&gt;\">t</p>");
}

static void test_attribute_tricks(void **state)
{
	(void)state;
	/* a quote never closed: the tag runs to the end and is no tag */
	expect("<p title=\"x>t</p>", "");
	/* repeated attributes: the first one counts, as in a browser */
	expect("<a href=\"https://a/\" href=\"javascript:alert(1)\">x</a>",
	       "<a href=\"https://a/\">x</a>");
	expect("<p =x title=y>t</p>", "<p title=\"y\">t</p>");
	expect("<p title=a\"b>t</p>", "<p title=\"a&quot;b\">t</p>");
	expect("<a\thref='https://a/'\n>x</a>", "<a href=\"https://a/\">x</a>");
	/* attributes only where they belong */
	expect("<p href=\"https://a/\" src=\"data:image/png;base64,AA\">t</p>", "<p>t</p>");
}

static void test_bidi_in_the_body_is_kept_as_text(void **state)
{
	(void)state;
	expect("<p dir=rtl>\xe2\x80\xae" "abc</p>", "<p dir=\"rtl\">\xe2\x80\xae" "abc</p>");
}

static void test_text_document_is_escaped_in_pre(void **state)
{
	(void)state;
	struct pv_buf out;
	struct pv_error err;
	const char *t = "Hi <script>alert(1)</script> & bye\n";
	pv_buf_init(&out, 1 << 20);
	assert_int_equal(index_text_to_html(t, strlen(t), &out, &err), PV_OK);
	assert_non_null(strstr(pv_buf_str(&out),
			       "<pre style=\"white-space: pre-wrap; overflow-wrap: anywhere\">Hi "
			       "&lt;script&gt;alert(1)&lt;/script&gt; &amp; bye\n</pre>"));
	pv_buf_free(&out);
}

/* Output at its maximum: whole tags only, then the note and a closed document. */
static void test_long_output_is_cut_with_a_note(void **state)
{
	(void)state;
	struct pv_buf in, out;
	struct pv_error err;
	pv_buf_init(&in, 1 << 20);
	for (int i = 0; i < 10000; i++)
		assert_int_equal(pv_buf_append_str(&in, "<a href=\"https://example.com/\">x</a>", &err),
				 PV_OK);
	pv_buf_init(&out, 4096);
	assert_int_equal(index_html_sanitize((const char *)in.data, in.len, &out, &err), PV_OK);
	const char *s = pv_buf_str(&out);
	assert_true(out.len <= 4096);
	assert_non_null(strstr(s, "too long to show here"));
	assert_non_null(strstr(s, "</body></html>\n"));
	const char *note = strstr(s, "\n<p>[popvault");
	assert_non_null(note);
	/* before the note: the last thing written is a whole tag or text */
	assert_true(note[-1] == '>' || note[-1] == 'x');
	pv_buf_free(&out);
	pv_buf_free(&in);
}

/* Nesting and unclosed elements cost nothing: one linear pass. */
static void test_pathological_input_is_linear(void **state)
{
	(void)state;
	static const char *const pieces[] = {
		"<div>", "<svg>", "<a href=\"", "<!--", "<script>", "&#x", "<p style=\"url(", "<",
	};
	for (size_t k = 0; k < sizeof(pieces) / sizeof(pieces[0]); k++) {
		struct pv_buf in, out;
		struct pv_error err;
		pv_buf_init(&in, 8 << 20);
		while (in.len + strlen(pieces[k]) <= 4 << 20)
			assert_int_equal(pv_buf_append_str(&in, pieces[k], &err), PV_OK);
		pv_buf_init(&out, PV_VIEW_HTML_MAX);
		int64_t t0 = pv_clock_monotonic_ms();
		assert_int_equal(index_html_sanitize((const char *)in.data, in.len, &out, &err), PV_OK);
		int64_t ms = pv_clock_monotonic_ms() - t0;
		if (ms > 4000)
			fail_msg("'%s' x %zu took %lld ms", pieces[k], in.len / strlen(pieces[k]),
				 (long long)ms);
		pv_buf_free(&out);
		pv_buf_free(&in);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_document_has_only_a_charset_in_its_head),
		cmocka_unit_test(test_formatting_survives),
		cmocka_unit_test(test_script_goes_with_its_content),
		cmocka_unit_test(test_event_handlers_are_dropped),
		cmocka_unit_test(test_javascript_urls_are_dropped),
		cmocka_unit_test(test_remote_images_and_tracking_pixels_are_dropped),
		cmocka_unit_test(test_css_that_fetches_is_dropped),
		cmocka_unit_test(test_forms_meta_base_and_frames_are_dropped),
		cmocka_unit_test(test_svg_and_math_go_with_their_content),
		cmocka_unit_test(test_comments_doctype_and_unknown_tags),
		cmocka_unit_test(test_character_references_are_reencoded),
		cmocka_unit_test(test_attribute_tricks),
		cmocka_unit_test(test_bidi_in_the_body_is_kept_as_text),
		cmocka_unit_test(test_text_document_is_escaped_in_pre),
		cmocka_unit_test(test_long_output_is_cut_with_a_note),
		cmocka_unit_test(test_pathological_input_is_linear),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
