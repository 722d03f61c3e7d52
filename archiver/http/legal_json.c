/* The legal endpoints' answers (legal_json.h). */
#include "archiver/http/legal_json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archiver/index/text.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/log.h"
#include "archiver/lib/utf8.h"

json_t *legal_json_text(const char *s)
{
	struct pv_buf b;
	size_t n = s ? strlen(s) : 0;
	json_t *j;
	pv_buf_init(&b, 3 * n + 16);
	if (n > 0 && index_text_clean(s, n, true, &b, NULL) != PV_OK) {
		pv_buf_free(&b);
		return NULL;
	}
	if (b.data != NULL)
		b.len = pv_utf8_strip_bidi((char *)b.data);
	j = json_stringn(pv_buf_str(&b), b.len);
	pv_buf_free(&b);
	return j;
}

json_t *legal_json_time(int64_t t, bool zero_is_null)
{
	char s[PV_RFC3339_LEN];
	if (zero_is_null && t == 0)
		return json_null();
	pv_clock_format_rfc3339(t, s);
	return json_string(s);
}

/* "" and NULL as JSON null, other text as legal_json_text. */
static json_t *text_or_null(const char *s)
{
	return s == NULL || *s == '\0' ? json_null() : legal_json_text(s);
}

json_t *legal_json_hit(const struct index_hit *h)
{
	return json_pack("{s:I, s:o, s:b, s:I, s:o, s:o, s:o, s:b}", "id", (json_int_t)h->id,
			 "date", legal_json_time(h->date, false), "date_known", h->date_known,
			 "size", (json_int_t)h->size, "account", legal_json_text(h->account),
			 "from", legal_json_text(h->from), "subject", legal_json_text(h->subject),
			 "has_attachment", h->has_attachment);
}

static json_t *holds_array(char *const *names, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a != NULL && i < n; i++)
		if (json_array_append_new(a, legal_json_text(names[i])) < 0) {
			json_decref(a);
			a = NULL;
		}
	return a;
}

json_t *legal_json_meta(const struct archive_message_meta *m)
{
	const struct archive_message_headers *h = &m->headers;
	json_t *headers = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "from", legal_json_text(h->from),
				    "to", legal_json_text(h->to), "cc", legal_json_text(h->cc),
				    "subject", legal_json_text(h->subject), "date",
				    h->date_known ? legal_json_time(h->date, false) : json_null(),
				    "message_id", text_or_null(h->message_id));
	json_t *retention = json_pack("{s:o, s:o, s:I}", "class", legal_json_text(m->retention_class),
				      "expires", m->expires_at < 0 ? json_null()
								   : legal_json_time(m->expires_at, false),
				      "policy_version", (json_int_t)m->policy_version);
	return json_pack("{s:I, s:o, s:o, s:o, s:I, s:s, s:I, s:o, s:o, s:o, s:b, s:b}", "id",
			 (json_int_t)m->id, "account", legal_json_text(m->account), "uidl",
			 text_or_null(m->uidl), "received", legal_json_time(m->received_at, false),
			 "size", (json_int_t)m->size, "sha256", m->sha256, "leaf_index",
			 (json_int_t)m->leaf_index, "retention", retention, "holds",
			 holds_array(m->holds, m->n_holds), "headers", headers, "has_html",
			 m->has_html, "has_attachment", m->has_attachment);
}

json_t *legal_json_part(const struct archive_message_part *p)
{
	return json_pack("{s:I, s:o, s:o, s:o, s:b, s:b, s:I, s:b}", "n", (json_int_t)p->n,
			 "content_type", legal_json_text(p->type), "charset", text_or_null(p->charset),
			 "filename", text_or_null(p->filename), "attachment", p->attachment,
			 "in_message", p->in_message, "size", (json_int_t)p->size, "cut", p->cut);
}

json_t *legal_json_hold(const struct hold *h, const char *matter, int64_t release_pending)
{
	return json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:o, s:o}", "id",
			 (json_int_t)h->id, "name", legal_json_text(h->name), "query",
			 legal_json_text(h->query), "note", legal_json_text(h->note), "created",
			 legal_json_time(h->created_at, false), "created_by",
			 legal_json_text(h->actor), "released", legal_json_time(h->released_at, true),
			 "released_by", text_or_null(h->released_at ? h->released_by : NULL),
			 "members", (json_int_t)h->members, "matter", text_or_null(matter),
			 "release_pending",
			 release_pending > 0 ? json_integer(release_pending) : json_null());
}

json_t *legal_json_matter(const struct matter *m)
{
	return json_pack("{s:o, s:o, s:o, s:o, s:I, s:I, s:I}", "name", legal_json_text(m->name),
			 "description", legal_json_text(m->description), "created",
			 legal_json_time(m->created_at, false), "created_by",
			 legal_json_text(m->created_by), "searches", (json_int_t)m->searches, "holds",
			 (json_int_t)m->holds, "exports", (json_int_t)m->exports);
}

json_t *legal_json_search(const struct matter_search *s)
{
	return json_pack("{s:o, s:o, s:o, s:o}", "name", legal_json_text(s->name), "query",
			 legal_json_text(s->query), "created", legal_json_time(s->created_at, false),
			 "created_by", legal_json_text(s->created_by));
}

static json_t *count_or_null(int64_t v)
{
	return v < 0 ? json_null() : json_integer((json_int_t)v);
}

/* What the recipient of the bundle runs, with the keys of the time. */
static json_t *verify_json(const struct export_job *j)
{
	char file[64], *cmd = NULL;
	if (j->vkeys[0][0] == '\0' || j->vkeys[1][0] == '\0')
		return json_null();
	snprintf(file, sizeof(file), "popvault-export-%lld.%s", (long long)j->id, j->format);
	if (asprintf(&cmd, "popvault verify-bundle %s --vkey '%s' --vkey '%s'", file, j->vkeys[0],
		     j->vkeys[1]) < 0)
		return NULL;
	json_t *v = json_pack("{s:s, s:[s, s]}", "command", cmd, "vkeys", j->vkeys[0], j->vkeys[1]);
	free(cmd);
	return v;
}

json_t *legal_json_job(const struct export_job *j, bool running, uint64_t done, uint64_t total)
{
	bool is_done = strcmp(j->status, EXPORT_JOB_DONE) == 0;
	bool kept = is_done && j->removed_at == 0;
	char download[64];
	snprintf(download, sizeof(download), "/api/v1/exports/%lld/download", (long long)j->id);
	if (!running && is_done && j->progress_total >= 0)
		done = total = (uint64_t)j->progress_total;
	return json_pack("{s:I, s:s, s:o, s:o, s:s, s:o, s:o, s:o, s:o, s:{s:I, s:I}, s:o, s:o, "
			 "s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
			 "id", (json_int_t)j->id, "status", j->status, "matter",
			 legal_json_text(j->matter), "query", legal_json_text(j->query), "format",
			 j->format, "bates_prefix", text_or_null(j->bates_prefix), "created",
			 legal_json_time(j->created_at, false), "created_by",
			 legal_json_text(j->created_by), "finished",
			 legal_json_time(j->finished_at, true), "progress", "done", (json_int_t)done,
			 "total", (json_int_t)total, "messages", count_or_null(j->messages),
			 "disposed", count_or_null(j->disposed), "file_size",
			 count_or_null(j->file_size), "sha256", text_or_null(j->sha256), "error",
			 text_or_null(j->error), "download",
			 kept ? json_string(download) : json_null(), "verify",
			 is_done ? verify_json(j) : json_null(), "removed",
			 legal_json_time(j->removed_at, true), "removed_by",
			 j->removed_at != 0 ? legal_json_text(j->removed_by) : json_null());
}

int legal_json_bad_query(struct http_response *rs, const struct pv_error *err)
{
	/* The error shape stays {"code", "message"} (docs/api.md); the message
	 * starts "column N: " when the parser names a place, and
	 * /api/v1/search/check gives it as a number. */
	return http_reply_error(rs, 400, "bad_query", "%s", err->msg);
}

int legal_json_fail(struct http_request *rq, struct http_response *rs, int r)
{
	if (r != PV_EINTEGRITY)
		return r;
	pv_log(PV_LOG_ERROR, "http.integrity", "%s: %s", rq->path, rq->err.msg);
	return http_reply_error(rs, 500, "integrity_failed", "%s (a compliance officer runs a "
				"verify: Integrity page)", rq->err.msg);
}

/* --- file answers ----------------------------------------------------------- */

struct buf_stream {
	struct pv_buf b;
};

static ssize_t buf_read(void *ctx, uint64_t pos, char *out, size_t max)
{
	struct buf_stream *s = ctx;
	if (pos >= s->b.len)
		return 0;
	size_t n = s->b.len - pos < max ? s->b.len - pos : max;
	memcpy(out, s->b.data + pos, n);
	return (ssize_t)n;
}

static void buf_done(void *ctx)
{
	struct buf_stream *s = ctx;
	pv_buf_free(&s->b);
	free(s);
}

int legal_reply_buffer(struct http_response *rs, int status, const char *content_type,
		       struct pv_buf *b)
{
	struct buf_stream *s = malloc(sizeof(*s));
	if (s == NULL) {
		pv_buf_free(b);
		return PV_ERR;
	}
	s->b = *b;
	pv_buf_init(b, 0);
	struct http_stream st = {buf_read, buf_done, s, (int64_t)s->b.len};
	return http_reply_stream(rs, status, content_type, &st);
}

struct fd_stream {
	int fd;
};

static ssize_t fd_read(void *ctx, uint64_t pos, char *out, size_t max)
{
	struct fd_stream *f = ctx;
	ssize_t n;
	do
		n = pread(f->fd, out, max, (off_t)pos);
	while (n < 0 && errno == EINTR);
	return n;
}

static void fd_done(void *ctx)
{
	struct fd_stream *f = ctx;
	close(f->fd);
	free(f);
}

int legal_reply_file(struct http_response *rs, const char *content_type, int fd, int64_t size)
{
	struct fd_stream *f = malloc(sizeof(*f));
	if (f == NULL) {
		close(fd);
		return PV_ERR;
	}
	f->fd = fd;
	struct http_stream st = {fd_read, fd_done, f, size};
	return http_reply_stream(rs, 200, content_type, &st);
}

int legal_attachment(struct http_response *rs, const char *name, const char *fallback)
{
	char ascii[128], value[1024];
	struct pv_buf clean;
	size_t n = name ? strlen(name) : 0, a = 0, v;
	pv_buf_init(&clean, 3 * n + 16);
	if (n > 0 && index_text_clean(name, n, false, &clean, NULL) != PV_OK)
		pv_buf_reset(&clean);
	if (clean.data != NULL)
		clean.len = pv_utf8_strip_bidi((char *)clean.data);
	const char *u = clean.len > 0 ? pv_buf_str(&clean) : fallback;
	/* the fallback name: ASCII letters, digits and . _ - and space only */
	for (const char *p = u; *p && a < sizeof(ascii) - 1; p++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  c == '.' || c == '_' || c == '-' || c == ' ';
		ascii[a++] = ok ? c : '_';
	}
	ascii[a] = '\0';
	if (ascii[0] == '.' || ascii[0] == ' ' || a == 0)
		snprintf(ascii, sizeof(ascii), "%s", fallback);
	v = (size_t)snprintf(value, sizeof(value), "attachment; filename=\"%s\"; filename*=UTF-8''",
			     ascii);
	/* RFC 8187 attr-char, every other byte %-encoded; '/' and '\' never */
	for (const unsigned char *p = (const unsigned char *)u; *p && v + 4 < sizeof(value); p++) {
		unsigned char c = *p;
		if (c == '/' || c == '\\')
			c = '_';
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("!#$&+-.^_`|~", c) != NULL)
			value[v++] = (char)c;
		else
			v += (size_t)snprintf(value + v, sizeof(value) - v, "%%%02X", c);
	}
	value[v] = '\0';
	pv_buf_free(&clean);
	return http_response_header(rs, "Content-Disposition", value);
}
