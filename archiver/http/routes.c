/* The route table: every endpoint, who may call it, and its handler, in
 * one place (ARCHITECTURE.md §8, STYLE.md habit 13). The router (router.h)
 * sends every request through it and denies by default: a route lists the
 * roles allowed, and a role not listed gets 403.
 *
 * Roles: admin (accounts, users, policy drafts, system; never mail),
 * legal (search, view, matters, holds, exports), compliance (audit trail,
 * integrity, approvals; policy, holds and users read-only). */
#include "archiver/http/handlers.h"
#include "archiver/http/router.h"

#define ADMIN HTTP_ROLE_ADMIN
#define LEGAL HTTP_ROLE_LEGAL
#define COMPLIANCE HTTP_ROLE_COMPLIANCE
#define ANYONE_SIGNED_IN HTTP_ROLES_ALL

const struct http_route http_routes[] = {
	/* method   pattern                 roles                      flags */
	{"POST", "/api/v1/session", 0, HTTP_PUBLIC | HTTP_JSON_BODY | HTTP_NO_CSRF,
	 h_session_create},
	{"DELETE", "/api/v1/session", ANYONE_SIGNED_IN, 0, h_session_delete},
	{"GET", "/api/v1/me", ANYONE_SIGNED_IN, 0, h_me},
	{"POST", "/api/v1/session/totp", 0, HTTP_PUBLIC | HTTP_JSON_BODY | HTTP_NO_CSRF,
	 h_session_totp},
	{"PUT", "/api/v1/me/password", ANYONE_SIGNED_IN, HTTP_JSON_BODY, h_me_password},
	{"POST", "/api/v1/me/totp", ANYONE_SIGNED_IN, HTTP_JSON_BODY, h_me_totp_begin},
	{"PUT", "/api/v1/me/totp", ANYONE_SIGNED_IN, HTTP_JSON_BODY, h_me_totp_confirm},
	{"GET", "/api/v1/checkpoints", LEGAL | COMPLIANCE | ADMIN, 0, h_checkpoints},
	/* --- area (c): admin and system (never mail content) --- */
	{"GET", "/api/v1/accounts", ADMIN, 0, h_accounts_list},
	{"POST", "/api/v1/accounts", ADMIN, HTTP_JSON_BODY, h_accounts_add},
	{"PATCH", "/api/v1/accounts/{name}", ADMIN, HTTP_JSON_BODY, h_accounts_edit},
	{"DELETE", "/api/v1/accounts/{name}", ADMIN, 0, h_accounts_remove},
	{"POST", "/api/v1/accounts/{name}/test", ADMIN, 0, h_accounts_test},
	{"GET", "/api/v1/harvest", ADMIN, 0, h_harvest_status},
	{"POST", "/api/v1/harvest", ADMIN, HTTP_JSON_BODY, h_harvest_start},
	/* compliance oversees who holds which role (and who set them up) */
	{"GET", "/api/v1/users", ADMIN | COMPLIANCE, 0, h_users_list},
	{"POST", "/api/v1/users", ADMIN, HTTP_JSON_BODY, h_users_add},
	{"PATCH", "/api/v1/users/{name}", ADMIN, HTTP_JSON_BODY, h_users_edit},
	{"DELETE", "/api/v1/users/{name}", ADMIN, 0, h_users_remove},
	{"DELETE", "/api/v1/users/{name}/totp", ADMIN, 0, h_users_totp_remove},
	{"GET", "/api/v1/settings/totp", ADMIN, 0, h_settings_totp_get},
	{"PUT", "/api/v1/settings/totp", ADMIN, HTTP_JSON_BODY, h_settings_totp_set},
	{"GET", "/api/v1/status", ANYONE_SIGNED_IN, 0, h_status},
	{"GET", "/metrics", ADMIN, HTTP_BEARER, h_metrics},
	/* --- end of area (c) --- */
	{"GET", "/healthz", 0, HTTP_PUBLIC, h_healthz},
	/* Legal: search, messages, holds, matters, exports (docs/api.md "Legal"). */
	{"GET", "/api/v1/search", LEGAL, 0, h_search},
	{"GET", "/api/v1/search/check", LEGAL, 0, h_search_check},
	{"GET", "/api/v1/messages/{id}", LEGAL, 0, h_message},
	{"GET", "/api/v1/messages/{id}/text", LEGAL, 0, h_message_text},
	{"GET", "/api/v1/messages/{id}/html", LEGAL, 0, h_message_html},
	{"GET", "/api/v1/messages/{id}/parts", LEGAL, 0, h_message_parts},
	{"GET", "/api/v1/messages/{id}/parts/{n}", LEGAL, 0, h_message_part},
	{"GET", "/api/v1/messages/{id}/raw", LEGAL, 0, h_message_raw},
	{"GET", "/api/v1/messages/{id}/proof", LEGAL, 0, h_message_proof},
	{"GET", "/api/v1/holds", LEGAL | COMPLIANCE, 0, h_holds},
	{"POST", "/api/v1/holds", LEGAL, HTTP_JSON_BODY, h_hold_place},
	{"GET", "/api/v1/matters", LEGAL, 0, h_matters},
	{"POST", "/api/v1/matters", LEGAL, HTTP_JSON_BODY, h_matter_create},
	{"GET", "/api/v1/matters/{name}", LEGAL, 0, h_matter},
	{"POST", "/api/v1/matters/{name}/searches", LEGAL, HTTP_JSON_BODY, h_matter_search_add},
	{"POST", "/api/v1/exports", LEGAL, HTTP_JSON_BODY, h_export_start},
	{"GET", "/api/v1/exports", LEGAL, 0, h_exports},
	{"GET", "/api/v1/exports/{id}", LEGAL, 0, h_export},
	{"DELETE", "/api/v1/exports/{id}", LEGAL, 0, h_export_cancel},
	{"GET", "/api/v1/exports/{id}/download", LEGAL, 0, h_export_download},
	{"DELETE", "/api/v1/exports/{id}/bundle", LEGAL, 0, h_export_remove},

	/* ---- governance and the two-person rule (area b) ---------------
	 * Who may propose and approve each kind is the one table of
	 * archiver/archive/approvals.c; these rows only let those roles in. */
	{"GET", "/api/v1/policy", ADMIN | COMPLIANCE, 0, h_policy_current},
	{"GET", "/api/v1/policy/versions", ADMIN | COMPLIANCE, 0, h_policy_versions},
	{"GET", "/api/v1/policy/versions/{v}", ADMIN | COMPLIANCE, 0, h_policy_version},
	{"GET", "/api/v1/policy/diff", ADMIN | COMPLIANCE, 0, h_policy_diff},
	{"POST", "/api/v1/policy/check", ADMIN | COMPLIANCE, HTTP_JSON_BODY, h_policy_check},
	{"POST", "/api/v1/policy/dry-run", ADMIN | COMPLIANCE, HTTP_JSON_BODY, h_policy_dry_run},
	{"POST", "/api/v1/policy/proposals", ADMIN, HTTP_JSON_BODY, h_policy_propose},
	{"GET", "/api/v1/approvals", ANYONE_SIGNED_IN, 0, h_approvals_list},
	{"GET", "/api/v1/approvals/{id}", ANYONE_SIGNED_IN, 0, h_approval_get},
	{"POST", "/api/v1/approvals/{id}/approve", LEGAL | COMPLIANCE, HTTP_JSON_BODY,
	 h_approval_approve},
	/* everyone: a proposer may withdraw their own proposal */
	{"POST", "/api/v1/approvals/{id}/reject", ANYONE_SIGNED_IN, HTTP_JSON_BODY,
	 h_approval_reject},
	{"POST", "/api/v1/holds/{name}/release", LEGAL, HTTP_JSON_BODY, h_hold_release},
	{"POST", "/api/v1/dispositions", ADMIN | COMPLIANCE, HTTP_JSON_BODY, h_disposition_propose},
	{"GET", "/api/v1/audit", COMPLIANCE, 0, h_audit_list},
	{"GET", "/api/v1/audit/who-viewed", COMPLIANCE, 0, h_audit_who_viewed},
	{"POST", "/api/v1/audit/exports", COMPLIANCE, HTTP_JSON_BODY, h_audit_export_start},
	{"GET", "/api/v1/audit/exports/{id}", COMPLIANCE, 0, h_audit_export_get},
	{"GET", "/api/v1/audit/exports/{id}/download", COMPLIANCE, 0, h_audit_export_download},
	{"GET", "/api/v1/audit/{seq}", COMPLIANCE, 0, h_audit_entry},
	{"POST", "/api/v1/verify", COMPLIANCE, HTTP_JSON_BODY, h_verify_start},
	{"GET", "/api/v1/verify", COMPLIANCE, 0, h_verify_status},
	{"POST", "/api/v1/anchor", COMPLIANCE, HTTP_JSON_BODY, h_anchor_start},
	{"GET", "/api/v1/anchor", COMPLIANCE, 0, h_anchor_status},
	{"GET", "/api/v1/checkpoints/history", COMPLIANCE | ADMIN, 0, h_checkpoint_history},
	{"GET", "/api/v1/checkpoints/gaps", COMPLIANCE | ADMIN, 0, h_heartbeat_gaps},
	/* ---- end of area b --------------------------------------------- */

	/* Last: every other path outside /api/ is a file of the web UI. */
	{"GET", "/*", 0, HTTP_PUBLIC | HTTP_STATIC, h_static},
};

const size_t http_routes_count = sizeof(http_routes) / sizeof(http_routes[0]);
