#ifndef PV_HTTP_HANDLERS_H
#define PV_HTTP_HANDLERS_H

/* Endpoint handlers, listed in the route table (routes.c). Each is a few
 * lines: see http.h for the contract. */

#include "archiver/http/http.h"

/* h_session.c: POST and DELETE /api/v1/session, GET /api/v1/me */
int h_session_create(struct http_request *rq, struct http_response *rs);
int h_session_delete(struct http_request *rq, struct http_response *rs);
int h_me(struct http_request *rq, struct http_response *rs);

/* h_system.c: GET /healthz, GET /api/v1/checkpoints */
int h_healthz(struct http_request *rq, struct http_response *rs);
int h_checkpoints(struct http_request *rq, struct http_response *rs);

/* ---- governance and the two-person rule (area b) -------------------- */
/* h_gov_policy.c: /api/v1/policy... */
int h_policy_current(struct http_request *rq, struct http_response *rs);
int h_policy_versions(struct http_request *rq, struct http_response *rs);
int h_policy_version(struct http_request *rq, struct http_response *rs);
int h_policy_diff(struct http_request *rq, struct http_response *rs);
int h_policy_check(struct http_request *rq, struct http_response *rs);
int h_policy_dry_run(struct http_request *rq, struct http_response *rs);
int h_policy_propose(struct http_request *rq, struct http_response *rs);
/* h_gov_approvals.c: /api/v1/approvals..., hold release, dispositions */
int h_approvals_list(struct http_request *rq, struct http_response *rs);
int h_approval_get(struct http_request *rq, struct http_response *rs);
int h_approval_approve(struct http_request *rq, struct http_response *rs);
int h_approval_reject(struct http_request *rq, struct http_response *rs);
int h_hold_release(struct http_request *rq, struct http_response *rs);
int h_disposition_propose(struct http_request *rq, struct http_response *rs);
/* h_gov_audit.c: /api/v1/audit... */
int h_audit_list(struct http_request *rq, struct http_response *rs);
int h_audit_entry(struct http_request *rq, struct http_response *rs);
int h_audit_who_viewed(struct http_request *rq, struct http_response *rs);
int h_audit_export_start(struct http_request *rq, struct http_response *rs);
int h_audit_export_get(struct http_request *rq, struct http_response *rs);
int h_audit_export_download(struct http_request *rq, struct http_response *rs);
/* h_gov_integrity.c: /api/v1/verify, checkpoint history, heartbeat gaps */
int h_verify_start(struct http_request *rq, struct http_response *rs);
int h_verify_status(struct http_request *rq, struct http_response *rs);
int h_checkpoint_history(struct http_request *rq, struct http_response *rs);
int h_heartbeat_gaps(struct http_request *rq, struct http_response *rs);

/* static.c: GET any other path: a file of the web root */
int h_static(struct http_request *rq, struct http_response *rs);

#endif
