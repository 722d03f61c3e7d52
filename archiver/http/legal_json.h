#ifndef PV_HTTP_LEGAL_JSON_H
#define PV_HTTP_LEGAL_JSON_H

/* The JSON (and file answers) of the legal endpoints (docs/api.md,
 * "Legal"): one place that turns archive results into the documented
 * shapes, so the handlers stay a few lines. Text shown to people (header
 * values, file names, hold and matter names) goes through legal_json_text:
 * clean UTF-8 without the bidi controls (U+202A-202E, U+2066-2069). Every
 * builder returns a new reference, or NULL when out of memory (which
 * http_reply_json answers as a 500). */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "archiver/archive/export_jobs.h"
#include "archiver/archive/holds.h"
#include "archiver/archive/matters.h"
#include "archiver/archive/view.h"
#include "archiver/http/http.h"
#include "archiver/index/index.h"
#include "archiver/lib/buf.h"

json_t *legal_json_text(const char *s);
/* RFC 3339 UTC; null for 0 when zero_is_null. */
json_t *legal_json_time(int64_t t, bool zero_is_null);

json_t *legal_json_hit(const struct index_hit *h);
json_t *legal_json_meta(const struct archive_message_meta *m);
json_t *legal_json_part(const struct archive_message_part *p);
/* matter: the matter the hold belongs to ("" for none); release_pending:
 * the approval that would release it, 0 for none. */
json_t *legal_json_hold(const struct hold *h, const char *matter, int64_t release_pending);
json_t *legal_json_matter(const struct matter *m);
json_t *legal_json_search(const struct matter_search *s);
/* running: the runner's progress (done, total) when it runs the job. */
json_t *legal_json_job(const struct export_job *j, bool running, uint64_t done, uint64_t total);

/* 400 {"error": {"code": "bad_query", "message"}} for a query the parser
 * refused (its message: "column N: ..." when it names a place). */
int legal_json_bad_query(struct http_response *rs, const struct pv_error *err);

/* The answer for a failed archive call: PV_EINTEGRITY is a 500
 * "integrity_failed" whose message says what did not verify (no content);
 * anything else is returned for the router to answer. */
int legal_json_fail(struct http_request *rq, struct http_response *rs, int r);

/* Answers status with the bytes of b (taken: b is emptied), streamed, as
 * content_type. */
int legal_reply_buffer(struct http_response *rs, int status, const char *content_type,
		       struct pv_buf *b);
/* Answers 200 with the open file fd (taken; closed when sent) of size bytes. */
int legal_reply_file(struct http_response *rs, const char *content_type, int fd, int64_t size);

/* Content-Disposition: attachment; filename="ascii"; filename*=UTF-8''...
 * for name (bidi and control characters, '/', '\' and '"' replaced; name
 * NULL or empty: fallback). */
int legal_attachment(struct http_response *rs, const char *name, const char *fallback);

#endif
