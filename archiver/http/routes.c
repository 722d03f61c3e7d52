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
	{"GET", "/healthz", 0, HTTP_PUBLIC, h_healthz},
	/* Last: every other path outside /api/ is a file of the web UI. */
	{"GET", "/*", 0, HTTP_PUBLIC | HTTP_STATIC, h_static},
};

const size_t http_routes_count = sizeof(http_routes) / sizeof(http_routes[0]);
