/* Web users (admin; the list for compliance too, who oversee who may read
 * mail): list, add, change role or password (one-time: the
 * user chooses their own at sign-in), remove, take a second factor away
 * (never see one: users set up their own), and the roles that must use
 * TOTP. Each change is one audited operation of archiver/archive/users.h,
 * the same the CLI calls. */
#include <string.h>

#include "archiver/archive/users.h"
#include "archiver/http/handlers.h"

/* null, or the approval the account waits for before it may sign in
 * (user_access.h) and its state: "pending", or "rejected". */
static json_t *access_json(const struct user *u)
{
	if (u->access_approval == 0)
		return json_null();
	return json_pack("{s:I, s:s}", "approval", (json_int_t)u->access_approval, "state",
			 u->access_state);
}

static json_t *user_json(const struct user *u)
{
	return json_pack("{s:s, s:s, s:b, s:b, s:b, s:o, s:o, s:o, s:o}", "name", u->name, "role",
			 u->role, "totp", u->totp, "totp_pending", u->totp_pending, "password_once",
			 u->password_once, "password_set_by",
			 u->set_by[0] ? json_string(u->set_by) : json_null(), "access",
			 access_json(u), "created", h_json_time(u->created_at), "changed",
			 h_json_time(u->changed_at));
}

static int add_one(void *ctx, const struct user *u)
{
	json_t *o = user_json(u);
	return o == NULL || json_array_append_new(ctx, o) < 0 ? PV_ERR : PV_OK;
}

int h_users_list(struct http_request *rq, struct http_response *rs)
{
	json_t *list = json_array();
	int r = archive_user_list(rq->ar, add_one, list, &rq->err);
	if (r < 0) {
		json_decref(list);
		return r;
	}
	return http_reply_json(rs, 200, json_pack("{s:o}", "users", list));
}

static int reply_user(struct http_request *rq, struct http_response *rs, int status,
		      const char *name)
{
	struct user u;
	int r = archive_user_get(rq->ar, name, &u, &rq->err);
	return r < 0 ? r : http_reply_json(rs, status, user_json(&u));
}

int h_users_add(struct http_request *rq, struct http_response *rs)
{
	const char *name, *role, *password;
	struct user u;
	int r;
	if (http_json_unpack(rq, "{s:s, s:s, s:s}", "name", &name, "role", &role, "password",
			     &password) < 0)
		return PV_EUSAGE;
	if ((r = user_validate(name, role, &rq->err)) < 0)
		return r;
	if (archive_user_get(rq->ar, name, &u, &rq->err) == PV_OK)
		return http_reply_error(rs, 409, "conflict", "a user named '%s' exists", name);
	pv_error_clear(&rq->err);
	if ((r = archive_user_add(rq->ar, rq->actor, name, role, password, false, true, NULL,
				  &rq->err)) < 0)
		return r;
	return reply_user(rq, rs, 201, name);
}

/* An admin changing their own role or removing themselves could leave
 * nobody to undo it. */
static bool is_self(const struct http_request *rq)
{
	return strcmp(rq->params[0], rq->session->user) == 0;
}

int h_users_edit(struct http_request *rq, struct http_response *rs)
{
	const char *role = NULL, *password = NULL, *name = rq->params[0];
	struct user u;
	int r;
	if (http_json_unpack(rq, "{s?s, s?s}", "role", &role, "password", &password) < 0)
		return PV_EUSAGE;
	if ((r = archive_user_get(rq->ar, name, &u, &rq->err)) < 0)
		return r;
	if (role != NULL && (r = user_validate(name, role, &rq->err)) < 0)
		return r;
	if (role != NULL && strcmp(role, u.role) != 0 && is_self(rq))
		return http_reply_error(rs, 409, "conflict", "you cannot change your own role");
	/* One's own password only with the current one (PUT /api/v1/me/password):
	 * a session left open must not be enough to take the account. */
	if (password != NULL && is_self(rq))
		return http_reply_error(rs, 409, "conflict", "change your own password with your "
					"current one (Change password)");
	bool new_role = role != NULL && strcmp(role, u.role) != 0;
	/* Both in one change: one audit entry, one request for approval when
	 * it makes a legal user (user_access.h). */
	if (password != NULL && new_role)
		r = archive_user_reset(rq->ar, rq->actor, name, role, password, &rq->err);
	else if (password != NULL)
		r = archive_user_passwd(rq->ar, rq->actor, name, password, true, &rq->err);
	else if (new_role)
		r = archive_user_set_role(rq->ar, rq->actor, name, role, &rq->err);
	if (r < 0)
		return r;
	return reply_user(rq, rs, 200, name);
}

int h_users_remove(struct http_request *rq, struct http_response *rs)
{
	int r;
	if (is_self(rq))
		return http_reply_error(rs, 409, "conflict", "you cannot remove yourself");
	if ((r = archive_user_remove(rq->ar, rq->actor, rq->params[0], &rq->err)) < 0)
		return r;
	return http_reply_json(rs, 200, json_pack("{s:s}", "removed", rq->params[0]));
}

int h_users_totp_remove(struct http_request *rq, struct http_response *rs)
{
	int r = archive_user_totp_remove(rq->ar, rq->actor, rq->params[0], &rq->err);
	if (r < 0)
		return r;
	return http_reply_json(rs, 200, json_pack("{s:s, s:b}", "user", rq->params[0], "totp", 0));
}

/* "admin,compliance" as ["admin", "compliance"]. */
static int reply_roles(struct http_response *rs, const char *roles)
{
	json_t *a = json_array();
	for (const char *p = roles; *p;) {
		size_t n = strcspn(p, ",");
		json_array_append_new(a, json_stringn(p, n));
		p += n + (p[n] == ',');
	}
	return http_reply_json(rs, 200, json_pack("{s:o}", "required_roles", a));
}

int h_settings_totp_get(struct http_request *rq, struct http_response *rs)
{
	char roles[USER_TOTP_ROLES_MAX];
	int r = archive_totp_required_roles(rq->ar, roles, &rq->err);
	return r < 0 ? r : reply_roles(rs, roles);
}

int h_settings_totp_set(struct http_request *rq, struct http_response *rs)
{
	char list[USER_TOTP_ROLES_MAX] = "", roles[USER_TOTP_ROLES_MAX];
	json_t *a, *v;
	size_t i;
	int r;
	if (http_json_unpack(rq, "{s:o}", "required_roles", &a) < 0)
		return PV_EUSAGE;
	if (!json_is_array(a))
		return pv_fail(&rq->err, PV_EUSAGE, "required_roles must be a list of roles");
	json_array_foreach(a, i, v) {
		const char *role = json_string_value(v);
		size_t l = strlen(list);
		if (role == NULL || role[0] == '\0' || strchr(role, ',') != NULL || strcmp(role, "none") == 0 ||
		    l + strlen(role) + 2 > sizeof(list))
			return pv_fail(&rq->err, PV_EUSAGE, "required_roles: '%s' is not a role",
				       role ? role : "(not a string)");
		snprintf(list + l, sizeof(list) - l, "%s%s", l ? "," : "", role);
	}
	if ((r = archive_totp_require(rq->ar, rq->actor, list[0] ? list : "none", roles,
				      &rq->err)) < 0)
		return r;
	return reply_roles(rs, roles);
}
