/* Reading a request: headers, the path, query arguments, path parameters,
 * the JSON body. Everything here is outside input: explicit lengths, range
 * checks, nothing assumed terminated except what the router made so. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "archiver/http/http.h"
#include "archiver/http/router.h"
#include "archiver/lib/utf8.h"

const char *http_header(const struct http_request *rq, const char *name)
{
	for (size_t i = 0; i < rq->n_headers; i++)
		if (strcasecmp(rq->headers[i].name, name) == 0)
			return rq->headers[i].value;
	return NULL;
}

size_t http_header_count(const struct http_request *rq, const char *name)
{
	size_t n = 0;
	for (size_t i = 0; i < rq->n_headers; i++)
		n += strcasecmp(rq->headers[i].name, name) == 0;
	return n;
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes s[0..n) (%XX, and '+' as a space when form) into out (size
 * outn, NUL-terminated). -1 on a bad escape, a decoded NUL or control
 * character, invalid UTF-8, or no room. */
static int pct_decode(const char *s, size_t n, bool form, char *out, size_t outn)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '%') {
			int hi, lo;
			if (i + 2 >= n)
				return -1;
			if ((hi = hexval((unsigned char)s[i + 1])) < 0 ||
			    (lo = hexval((unsigned char)s[i + 2])) < 0)
				return -1;
			c = (unsigned char)(hi * 16 + lo);
			i += 2;
		} else if (c == '+' && form) {
			c = ' ';
		}
		if (c < 0x20 || c == 0x7f || o + 1 >= outn)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	/* Only whole, valid UTF-8 sequences. */
	for (size_t i = 0; i < o;) {
		uint32_t cp;
		size_t k = pv_utf8_decode((const unsigned char *)out + i, o - i, &cp);
		if (k == 0)
			return -1;
		i += k;
	}
	return 0;
}

int http_decode_target(struct http_request *rq, int *status_r, struct pv_error *err)
{
	const char *t = rq->target;
	size_t n = strcspn(t, "?");

	*status_r = 400;
	rq->query = t[n] == '?' ? t + n + 1 : "";
	if (t[0] != '/')
		return pv_fail(err, PV_EUSAGE, "the request target must be a path");
	if (n > PV_HTTP_PATH_MAX) {
		*status_r = 414;
		return pv_fail(err, PV_ELIMIT, "the path is longer than %d bytes", PV_HTTP_PATH_MAX);
	}
	/* An encoded '/' or '\' would change how the path splits. */
	for (size_t i = 0; i < n; i++)
		if (t[i] == '\\' || (t[i] == '%' && i + 2 < n &&
				      (strncasecmp(t + i, "%2f", 3) == 0 ||
				       strncasecmp(t + i, "%5c", 3) == 0)))
			return pv_fail(err, PV_EUSAGE, "the path holds an escaped or back slash");
	if (pct_decode(t, n, false, rq->path, sizeof(rq->path)) < 0)
		return pv_fail(err, PV_EUSAGE, "the path is not validly %%-encoded UTF-8 text");
	/* Segments: none empty but the last ("/" and "/dir/" are fine), none
	 * "." or "..". */
	for (const char *s = rq->path + 1;;) {
		size_t len = strcspn(s, "/");
		if ((len == 0 && s[len] == '/') || (len == 1 && s[0] == '.') ||
		    (len == 2 && s[0] == '.' && s[1] == '.'))
			return pv_fail(err, PV_EUSAGE, "the path has an empty, '.' or '..' segment");
		if (s[len] == '\0')
			break;
		s += len + 1;
	}
	*status_r = 0;
	return PV_OK;
}

/* The raw value of argument name in the query, by (start, length). */
static int query_find(const char *q, const char *name, const char **v_r, size_t *n_r,
		      struct pv_error *err)
{
	size_t name_len = strlen(name);
	int found = 0;
	while (*q) {
		size_t len = strcspn(q, "&");
		const char *eq = memchr(q, '=', len);
		size_t klen = eq ? (size_t)(eq - q) : len;
		char key[64];
		if (klen < sizeof(key) && pct_decode(q, klen, true, key, sizeof(key)) == 0 &&
		    strlen(key) == name_len && memcmp(key, name, name_len) == 0) {
			if (found++)
				return pv_fail(err, PV_EUSAGE, "query argument '%s' is repeated", name);
			*v_r = eq ? eq + 1 : q + len;
			*n_r = eq ? len - klen - 1 : 0;
		}
		q += len + (q[len] == '&');
	}
	return found ? PV_OK : pv_fail(err, PV_ENOTFOUND, "no query argument '%s'", name);
}

int http_query_get(const struct http_request *rq, const char *name, char *out, size_t n,
		   struct pv_error *err)
{
	const char *v = NULL;
	size_t len = 0;
	int r = query_find(rq->query ? rq->query : "", name, &v, &len, err);
	if (r < 0)
		return r;
	if (pct_decode(v, len, true, out, n) < 0)
		return pv_fail(err, PV_EUSAGE, "query argument '%s' is malformed or too long", name);
	return PV_OK;
}

static int parse_int(const char *s, int64_t min, int64_t max, int64_t *out_r)
{
	char *end;
	if (s[0] == '\0' || strspn(s, "0123456789-") != strlen(s) || strlen(s) > 20)
		return -1;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out_r = v;
	return 0;
}

int http_query_int(const struct http_request *rq, const char *name, int64_t def, int64_t min,
		   int64_t max, int64_t *out_r, struct pv_error *err)
{
	char buf[32];
	int r = http_query_get(rq, name, buf, sizeof(buf), err);
	if (r == PV_ENOTFOUND) {
		*out_r = def;
		return PV_OK;
	}
	if (r < 0 || parse_int(buf, min, max, out_r) < 0)
		return pv_fail(err, PV_EUSAGE, "query argument '%s' must be an integer from %lld to %lld",
			       name, (long long)min, (long long)max);
	return PV_OK;
}

int http_param_int(const struct http_request *rq, size_t i, int64_t min, int64_t max,
		   int64_t *out_r, struct pv_error *err)
{
	if (i >= rq->n_params || parse_int(rq->params[i], min, max, out_r) < 0)
		return pv_fail(err, PV_ENOTFOUND, "no such object");
	return PV_OK;
}

int http_json_unpack(struct http_request *rq, const char *fmt, ...)
{
	json_error_t jerr;
	va_list ap;
	if (rq->json == NULL)
		return pv_fail(&rq->err, PV_EUSAGE, "this request needs a JSON body");
	va_start(ap, fmt);
	int rc = json_vunpack_ex(rq->json, &jerr, JSON_STRICT, fmt, ap);
	va_end(ap);
	if (rc != 0)
		return pv_fail(&rq->err, PV_EUSAGE, "JSON body: %s", jerr.text);
	return PV_OK;
}

/* The route's body: application/json (any parameters), parsed strictly. */
int http_parse_json_body(struct http_request *rq, int *status_r, struct pv_error *err)
{
	const char *ct = http_header(rq, "Content-Type");
	json_error_t jerr;
	size_t n = ct ? strcspn(ct, ";") : 0;

	while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
		n--;
	*status_r = 415;
	if (ct == NULL || n != strlen("application/json") ||
	    strncasecmp(ct, "application/json", n) != 0)
		return pv_fail(err, PV_EUSAGE, "the body must be application/json");
	*status_r = 400;
	if (rq->body_len == 0)
		return pv_fail(err, PV_EUSAGE, "the JSON body is empty");
	rq->json = json_loadb((const char *)rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (rq->json == NULL)
		return pv_fail(err, PV_EUSAGE, "malformed JSON body (line %d, column %d): %s",
			       jerr.line, jerr.column, jerr.text);
	if (!json_is_object(rq->json))
		return pv_fail(err, PV_EUSAGE, "the JSON body must be an object");
	*status_r = 0;
	return PV_OK;
}

bool http_peer_is_loopback(const char *peer)
{
	return peer != NULL && (strncmp(peer, "127.", 4) == 0 || strcmp(peer, "::1") == 0 ||
				strncmp(peer, "::ffff:127.", 11) == 0);
}
