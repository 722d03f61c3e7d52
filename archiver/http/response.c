/* Building an answer: headers, JSON, errors, streams. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "archiver/http/http.h"

unsigned http_role_bit(const char *role)
{
	if (strcmp(role, "admin") == 0)
		return HTTP_ROLE_ADMIN;
	if (strcmp(role, "legal") == 0)
		return HTTP_ROLE_LEGAL;
	if (strcmp(role, "compliance") == 0)
		return HTTP_ROLE_COMPLIANCE;
	return 0;
}

void http_response_init(struct http_response *rs)
{
	memset(rs, 0, sizeof(*rs));
	pv_buf_init(&rs->body, PV_HTTP_RESPONSE_MAX);
}

void http_response_free(struct http_response *rs)
{
	pv_buf_free(&rs->body);
	if (rs->stream.done != NULL)
		rs->stream.done(rs->stream.ctx);
	memset(&rs->stream, 0, sizeof(rs->stream));
	for (size_t i = 0; i < rs->n_headers; i++) {
		free(rs->headers[i].name);
		free(rs->headers[i].value);
	}
	rs->n_headers = 0;
}

/* RFC 9110 §5.1 token characters. */
static bool is_token(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("!#$%&'*+-.^_`|~", *s) != NULL))
			return false;
	return true;
}

int http_response_header(struct http_response *rs, const char *name, const char *value)
{
	size_t i;
	if (!is_token(name))
		return PV_EUSAGE;
	for (const unsigned char *v = (const unsigned char *)value; *v; v++)
		if ((*v < 0x20 && *v != '\t') || *v == 0x7f)
			return PV_EUSAGE;
	for (i = 0; i < rs->n_headers; i++)
		if (strcasecmp(rs->headers[i].name, name) == 0)
			break;
	if (i == HTTP_RESPONSE_HEADERS_MAX)
		return PV_ELIMIT;
	char *n = strdup(name), *v = strdup(value);
	if (n == NULL || v == NULL) {
		free(n);
		free(v);
		return PV_ERR;
	}
	if (i < rs->n_headers) {
		free(rs->headers[i].name);
		free(rs->headers[i].value);
	} else {
		rs->n_headers++;
	}
	rs->headers[i].name = n;
	rs->headers[i].value = v;
	return PV_OK;
}

const char *http_response_get_header(const struct http_response *rs, const char *name)
{
	for (size_t i = 0; i < rs->n_headers; i++)
		if (strcasecmp(rs->headers[i].name, name) == 0)
			return rs->headers[i].value;
	return NULL;
}

/* The one answer that cannot fail: a fixed 500. */
static int reply_internal(struct http_response *rs)
{
	static const char body[] =
		"{\"error\": {\"code\": \"internal\", \"message\": \"internal error\"}}";
	if (rs->stream.done != NULL)
		rs->stream.done(rs->stream.ctx);
	memset(&rs->stream, 0, sizeof(rs->stream));
	pv_buf_reset(&rs->body);
	rs->status = 500;
	(void)pv_buf_append(&rs->body, body, sizeof(body) - 1, NULL);
	(void)http_response_header(rs, "Content-Type", "application/json");
	return PV_OK;
}

int http_reply_json(struct http_response *rs, int status, json_t *body)
{
	char *text = body ? json_dumps(body, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
	int r;
	json_decref(body);
	pv_buf_reset(&rs->body);
	if (text == NULL || pv_buf_append_str(&rs->body, text, NULL) < 0 ||
	    (r = http_response_header(rs, "Content-Type", "application/json")) < 0)
		r = reply_internal(rs);
	else
		rs->status = status;
	free(text);
	return r;
}

int http_reply_error(struct http_response *rs, int status, const char *code, const char *fmt, ...)
{
	char msg[PV_ERROR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_t *body = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg);
	if (body == NULL) /* the message was not UTF-8 (it may quote input) */
		body = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message",
				 "(the reason cannot be shown)");
	return http_reply_json(rs, status, body);
}

int http_reply_stream(struct http_response *rs, int status, const char *content_type,
		      const struct http_stream *st)
{
	if (rs->stream.done != NULL)
		rs->stream.done(rs->stream.ctx);
	rs->stream = *st;
	pv_buf_reset(&rs->body);
	rs->status = status;
	if (http_response_header(rs, "Content-Type", content_type) < 0)
		return reply_internal(rs);
	return PV_OK;
}
