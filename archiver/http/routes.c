/* The route table: every endpoint, who may call it, and its handler, in
 * one place (ARCHITECTURE.md §8, STYLE.md habit 13). The router (router.h)
 * sends every request through it and denies by default: a route lists the
 * roles allowed, and a role not listed gets 403.
 *
 * Roles: admin (accounts, users, policy drafts, system; never mail),
 * legal (search, view, matters, holds, exports), compliance (audit trail,
 * integrity, approvals; policy and holds read-only). */
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
	{"GET", "/api/v1/checkpoints", LEGAL | COMPLIANCE | ADMIN, 0, h_checkpoints},
	/* --- area (c): admin and system (never mail content) --- */
	{"GET", "/api/v1/accounts", ADMIN, 0, h_accounts_list},
	{"POST", "/api/v1/accounts", ADMIN, HTTP_JSON_BODY, h_accounts_add},
	{"PATCH", "/api/v1/accounts/{name}", ADMIN, HTTP_JSON_BODY, h_accounts_edit},
	{"DELETE", "/api/v1/accounts/{name}", ADMIN, 0, h_accounts_remove},
	{"POST", "/api/v1/accounts/{name}/test", ADMIN, 0, h_accounts_test},
	{"GET", "/api/v1/harvest", ADMIN, 0, h_harvest_status},
	{"POST", "/api/v1/harvest", ADMIN, HTTP_JSON_BODY, h_harvest_start},
	{"GET", "/api/v1/users", ADMIN, 0, h_users_list},
	{"POST", "/api/v1/users", ADMIN, HTTP_JSON_BODY, h_users_add},
	{"PATCH", "/api/v1/users/{name}", ADMIN, HTTP_JSON_BODY, h_users_edit},
	{"DELETE", "/api/v1/users/{name}", ADMIN, 0, h_users_remove},
	{"POST", "/api/v1/users/{name}/totp", ADMIN, 0, h_users_totp_enrol},
	{"DELETE", "/api/v1/users/{name}/totp", ADMIN, 0, h_users_totp_remove},
	{"GET", "/api/v1/settings/totp", ADMIN, 0, h_settings_totp_get},
	{"PUT", "/api/v1/settings/totp", ADMIN, HTTP_JSON_BODY, h_settings_totp_set},
	{"GET", "/api/v1/status", ANYONE_SIGNED_IN, 0, h_status},
	{"GET", "/metrics", ADMIN, HTTP_BEARER, h_metrics},
	/* --- end of area (c) --- */
	{"GET", "/healthz", 0, HTTP_PUBLIC, h_healthz},
	/* Last: every other path outside /api/ is a file of the web UI. */
	{"GET", "/*", 0, HTTP_PUBLIC | HTTP_STATIC, h_static},
};

const size_t http_routes_count = sizeof(http_routes) / sizeof(http_routes[0]);
