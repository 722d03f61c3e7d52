#ifndef PV_HTTP_HANDLERS_H
#define PV_HTTP_HANDLERS_H

/* Endpoint handlers, listed in the route table (routes.c). Each is a few
 * lines: see http.h for the contract. */

#include "archiver/http/http.h"

/* h_session.c: POST and DELETE /api/v1/session, GET /api/v1/me, setting up
 * one's own second factor */
int h_session_create(struct http_request *rq, struct http_response *rs);
int h_session_delete(struct http_request *rq, struct http_response *rs);
int h_me(struct http_request *rq, struct http_response *rs);
int h_me_password(struct http_request *rq, struct http_response *rs);
int h_session_totp(struct http_request *rq, struct http_response *rs);
int h_me_totp_begin(struct http_request *rq, struct http_response *rs);
int h_me_totp_confirm(struct http_request *rq, struct http_response *rs);

/* h_system.c: GET /healthz, GET /api/v1/checkpoints */
int h_healthz(struct http_request *rq, struct http_response *rs);
int h_checkpoints(struct http_request *rq, struct http_response *rs);

/* --- area (c): admin and system --- */
#include "archiver/store/stats_system.h"

/* h_accounts.c: /api/v1/accounts[/{name}[/test]], /api/v1/harvest */
int h_accounts_list(struct http_request *rq, struct http_response *rs);
int h_accounts_add(struct http_request *rq, struct http_response *rs);
int h_accounts_edit(struct http_request *rq, struct http_response *rs);
int h_accounts_remove(struct http_request *rq, struct http_response *rs);
int h_accounts_test(struct http_request *rq, struct http_response *rs);
int h_harvest_start(struct http_request *rq, struct http_response *rs);
int h_harvest_status(struct http_request *rq, struct http_response *rs);
/* An account's harvest record as the account list and the status page
 * show it (docs/api.md). */
json_t *h_account_record_json(const struct stats_account *s);

/* h_users.c: /api/v1/users[/{name}[/totp]], /api/v1/settings/totp */
int h_users_list(struct http_request *rq, struct http_response *rs);
int h_users_add(struct http_request *rq, struct http_response *rs);
int h_users_edit(struct http_request *rq, struct http_response *rs);
int h_users_remove(struct http_request *rq, struct http_response *rs);
int h_users_totp_remove(struct http_request *rq, struct http_response *rs);
int h_settings_totp_get(struct http_request *rq, struct http_response *rs);
int h_settings_totp_set(struct http_request *rq, struct http_response *rs);

/* h_status.c: GET /api/v1/status, GET /metrics */
int h_status(struct http_request *rq, struct http_response *rs);
int h_metrics(struct http_request *rq, struct http_response *rs);
/* Unix seconds as an RFC 3339 string, null for 0 or less (not known). */
json_t *h_json_time(int64_t t);
/* --- end of area (c) --- */
/* Legal (docs/api.md "Legal"): h_search.c, h_messages.c, h_matters.c,
 * h_exports.c */
int h_search(struct http_request *rq, struct http_response *rs);
int h_search_check(struct http_request *rq, struct http_response *rs);
int h_message(struct http_request *rq, struct http_response *rs);
int h_message_text(struct http_request *rq, struct http_response *rs);
int h_message_html(struct http_request *rq, struct http_response *rs);
int h_message_parts(struct http_request *rq, struct http_response *rs);
int h_message_part(struct http_request *rq, struct http_response *rs);
int h_message_raw(struct http_request *rq, struct http_response *rs);
int h_message_proof(struct http_request *rq, struct http_response *rs);
int h_holds(struct http_request *rq, struct http_response *rs);
int h_hold_place(struct http_request *rq, struct http_response *rs);
int h_matters(struct http_request *rq, struct http_response *rs);
int h_matter_create(struct http_request *rq, struct http_response *rs);
int h_matter(struct http_request *rq, struct http_response *rs);
int h_matter_search_add(struct http_request *rq, struct http_response *rs);
int h_export_start(struct http_request *rq, struct http_response *rs);
int h_exports(struct http_request *rq, struct http_response *rs);
int h_export(struct http_request *rq, struct http_response *rs);
int h_export_cancel(struct http_request *rq, struct http_response *rs);
int h_export_download(struct http_request *rq, struct http_response *rs);
int h_export_remove(struct http_request *rq, struct http_response *rs);
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
int h_anchor_start(struct http_request *rq, struct http_response *rs);
int h_anchor_status(struct http_request *rq, struct http_response *rs);
int h_checkpoint_history(struct http_request *rq, struct http_response *rs);
int h_heartbeat_gaps(struct http_request *rq, struct http_response *rs);

/* static.c: GET any other path: a file of the web root */
int h_static(struct http_request *rq, struct http_response *rs);

#endif
