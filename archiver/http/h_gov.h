#ifndef PV_HTTP_H_GOV_H
#define PV_HTTP_H_GOV_H

/* Shared by the governance handlers (h_gov_*.c): the JSON forms of what
 * they answer (docs/api.md, "Governance"). Each returns a new reference,
 * or NULL when out of memory (http_reply_json answers that with a 500). */

#include <jansson.h>

#include "archiver/archive/approvals.h"
#include "archiver/archive/audit_trail.h"
#include "archiver/http/http.h"

/* (times: h_json_time of handlers.h) */
/* text shown to people (legal_json_text: clean UTF-8, no bidi controls),
 * or null when empty */
json_t *gov_json_opt(const char *s);
/* an approval row (docs/api.md "approval") */
json_t *gov_json_approval(const struct approval_row *row);
/* an audit entry: seq, time, actor, type, object, outcome, commit, personal */
json_t *gov_json_entry(const struct audit_entry *e, const char *personal, size_t plen);
/* what a policy text would change (POST /api/v1/policy/dry-run) */
json_t *gov_json_preview(const struct policy_preview *pv);
/* policy diagnostics: {"ok": false, "errors": [{"line", "column", "message"}], "truncated"} */
json_t *gov_json_diags(const struct policy_diags *d);
/* a line diff of two texts: {"lines": [{"op": "same|del|add", "text",
 * "from_line", "to_line"}], "added": N, "removed": N}; NULL with err
 * filled when they cannot be compared (lib/linediff.h) */
json_t *gov_json_diff(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen,
		      struct pv_error *err);
/* a disposal plan's counts */
json_t *gov_json_plan(const struct dispose_plan *p);

/* Query argument `name` as a time (archive_audit_time: YYYY-MM-DD or
 * YYYY-MM-DDTHH:MM:SSZ; until: a bare date is the end of that day); def
 * when absent; PV_EUSAGE naming the argument otherwise. */
int gov_query_time(struct http_request *rq, const char *name, bool until, int64_t def,
		   int64_t *t_r);

/* The session's role ("admin", "legal", "compliance"). */
const char *gov_role(const struct http_request *rq);

#endif
