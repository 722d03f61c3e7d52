/* Upstream accounts (admin): list, add, edit, retire, test; harvest now.
 * The password is write-only: no answer carries it, sealed or not. */
#include <stdio.h>
#include <string.h>

#include "archiver/archive/accounts.h"
#include "archiver/archive/status.h"
#include "archiver/harvest/probe.h"
#include "archiver/http/app.h"
#include "archiver/http/handlers.h"
#include "archiver/http/harvest_job.h"

/* The harvest record of one account, as on the status page. */
json_t *h_account_record_json(const struct stats_account *s)
{
	json_t *last = json_null();
	if (s->last_started > 0)
		last = json_pack("{s:o, s:o, s:I, s:I, s:I, s:s, s:b}", "time",
				 h_json_time(s->last_started), "finished",
				 h_json_time(s->last_finished), "fetched", (json_int_t)s->last_fetched,
				 "deleted", (json_int_t)s->last_deleted, "residue",
				 (json_int_t)s->last_residue, "outcome", s->last_outcome, "ok",
				 strcmp(s->last_outcome, "ok") == 0);
	return json_pack("{s:s, s:o, s:o, s:{s:I, s:I}, s:I, s:n}", "name", s->name, "last_harvest",
			 last, "last_success", h_json_time(s->last_success), "runs", "ok",
			 (json_int_t)s->runs_ok, "failed", (json_int_t)s->runs_failed,
			 "residue_upstream", (json_int_t)s->residue, "next_run");
}

/* An account's settings and harvest record (rec may be NULL: none yet). */
static json_t *account_json(const struct account *a, const struct stats_account *rec)
{
	struct stats_account none = {.name = (char *)a->name, .last_outcome = (char *)""};
	json_t *o = h_account_record_json(rec ? rec : &none);
	json_t *cfg = json_pack("{s:s, s:i, s:s, s:s, s:s, s:o, s:b, s:b, s:b, s:o}", "host",
				a->host, "port", a->port, "tls", a->tls, "user", a->user, "auth",
				a->auth, "ca_file", a->ca_file[0] ? json_string(a->ca_file) : json_null(),
				"verify_certificate", !a->insecure, "keep_upstream", a->keep_upstream,
				"token_command", a->token_command[0] != '\0', "created",
				h_json_time(a->created_at));
	if (cfg != NULL)
		json_object_set_new(cfg, "harvest_interval_s",
				    a->harvest_interval_s > 0 ? json_integer(a->harvest_interval_s)
							      : json_null());
	if (o == NULL || cfg == NULL || json_object_update(o, cfg) < 0) {
		json_decref(o);
		o = NULL;
	}
	json_decref(cfg);
	return o;
}

struct list_ctx {
	json_t *list;
	const struct stats_account *recs;
	size_t n_recs;
};

static const struct stats_account *record_of(const struct list_ctx *lc, const char *name)
{
	for (size_t i = 0; i < lc->n_recs; i++)
		if (strcmp(lc->recs[i].name, name) == 0)
			return &lc->recs[i];
	return NULL;
}

static int add_one(void *ctx, const struct account *a)
{
	struct list_ctx *lc = ctx;
	json_t *o = account_json(a, record_of(lc, a->name));
	return o == NULL || json_array_append_new(lc->list, o) < 0 ? PV_ERR : PV_OK;
}

/* {"accounts": [...]} of every active account, or of the one named. */
static int reply_accounts(struct http_request *rq, struct http_response *rs, int status,
			  const char *only)
{
	struct list_ctx lc = {json_array(), NULL, 0};
	struct stats_account *recs = NULL;
	struct account a;
	int r;

	if ((r = archive_account_records(rq->ar, &recs, &lc.n_recs, &rq->err)) == PV_OK) {
		lc.recs = recs;
		if (only == NULL) {
			r = archive_account_list(rq->ar, add_one, &lc, &rq->err);
		} else if ((r = archive_account_get(rq->ar, only, &a, &rq->err)) == PV_OK) {
			r = add_one(&lc, &a);
			account_clear(&a);
		}
	}
	stats_accounts_free(&recs, lc.n_recs);
	if (r < 0) {
		json_decref(lc.list);
		return r;
	}
	if (only == NULL)
		return http_reply_json(rs, status, json_pack("{s:o}", "accounts", lc.list));
	json_t *one = json_incref(json_array_get(lc.list, 0));
	json_decref(lc.list);
	return http_reply_json(rs, status, one);
}

int h_accounts_list(struct http_request *rq, struct http_response *rs)
{
	return reply_accounts(rq, rs, 200, NULL);
}

/* harvest_interval_s: seconds (1 to a day), or null for serve's config. */
static int interval_field(struct http_request *rq, json_t *v, int64_t *out)
{
	if (json_is_null(v)) {
		*out = 0;
		return PV_OK;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 1 ||
	    json_integer_value(v) > ACCOUNT_INTERVAL_MAX_S)
		return pv_fail(&rq->err, PV_EUSAGE, "harvest_interval_s must be 1 to %d seconds, or "
				       "null for the configured interval", ACCOUNT_INTERVAL_MAX_S);
	*out = json_integer_value(v);
	return PV_OK;
}

/* A string field into a fixed buffer; PV_EUSAGE when it does not fit. */
static int copy_field(struct http_request *rq, char *dst, size_t n, const char *key,
		      const char *v)
{
	if (strlen(v) >= n)
		return pv_fail(&rq->err, PV_EUSAGE, "%s is too long", key);
	memcpy(dst, v, strlen(v) + 1);
	return PV_OK;
}

int h_accounts_add(struct http_request *rq, struct http_response *rs)
{
	const char *name, *host, *user, *password, *tls = "implicit", *auth = "auto", *ca = NULL;
	json_t *port = NULL, *interval = NULL;
	int keep = 0, r;
	struct account a;

	if (http_json_unpack(rq, "{s:s, s:s, s:s, s:s, s?o, s?s, s?s, s?s, s?b, s?o}", "name", &name,
			     "host", &host, "user", &user, "password", &password, "port", &port,
			     "tls", &tls, "auth", &auth, "ca_file", &ca, "keep_upstream", &keep,
			     "harvest_interval_s", &interval) < 0)
		return PV_EUSAGE;
	memset(&a, 0, sizeof(a));
	if (interval != NULL && interval_field(rq, interval, &a.harvest_interval_s) < 0)
		return PV_EUSAGE;
	if (port != NULL && (!json_is_integer(port) || json_integer_value(port) < 1 ||
			     json_integer_value(port) > 65535))
		return pv_fail(&rq->err, PV_EUSAGE, "port must be from 1 to 65535");
	a.port = port ? (int)json_integer_value(port) : strcmp(tls, "implicit") == 0 ? 995 : 110;
	a.keep_upstream = keep != 0;
	if (copy_field(rq, a.name, sizeof(a.name), "name", name) < 0 ||
	    copy_field(rq, a.host, sizeof(a.host), "host", host) < 0 ||
	    copy_field(rq, a.user, sizeof(a.user), "user", user) < 0 ||
	    copy_field(rq, a.tls, sizeof(a.tls), "tls", tls) < 0 ||
	    copy_field(rq, a.auth, sizeof(a.auth), "auth", auth) < 0 ||
	    (ca != NULL && copy_field(rq, a.ca_file, sizeof(a.ca_file), "ca_file", ca) < 0))
		return PV_EUSAGE;
	if ((r = archive_account_check(&a, &rq->err)) < 0)
		return r;
	struct account old;
	if (archive_account_get(rq->ar, a.name, &old, &rq->err) == PV_OK) {
		account_clear(&old);
		return http_reply_error(rs, 409, "conflict", "an account named '%s' exists", name);
	}
	pv_error_clear(&rq->err);
	if ((r = archive_account_add(rq->ar, rq->actor, &a, password, NULL, &rq->err)) < 0)
		return r;
	return reply_accounts(rq, rs, 201, a.name);
}

int h_accounts_edit(struct http_request *rq, struct http_response *rs)
{
	const char *host = NULL, *user = NULL, *tls = NULL, *auth = NULL, *password = NULL;
	json_t *port = NULL, *ca = NULL, *keep = NULL, *interval = NULL;
	unsigned fields = 0;
	struct account next;
	int r;

	if (http_json_unpack(rq, "{s?s, s?o, s?s, s?s, s?s, s?o, s?o, s?s, s?o}", "host", &host,
			     "port", &port, "tls", &tls, "user", &user, "auth", &auth, "ca_file",
			     &ca, "keep_upstream", &keep, "password", &password,
			     "harvest_interval_s", &interval) < 0)
		return PV_EUSAGE;
	memset(&next, 0, sizeof(next));
	if (interval != NULL) {
		if (interval_field(rq, interval, &next.harvest_interval_s) < 0)
			return PV_EUSAGE;
		fields |= ACCOUNT_SET_INTERVAL;
	}
	if (port != NULL) {
		if (!json_is_integer(port) || json_integer_value(port) < 1 ||
		    json_integer_value(port) > 65535)
			return pv_fail(&rq->err, PV_EUSAGE, "port must be from 1 to 65535");
		next.port = (int)json_integer_value(port);
		fields |= ACCOUNT_SET_PORT;
	}
	if (keep != NULL) {
		if (!json_is_boolean(keep))
			return pv_fail(&rq->err, PV_EUSAGE, "keep_upstream must be true or false");
		next.keep_upstream = json_is_true(keep);
		fields |= ACCOUNT_SET_KEEP_UPSTREAM;
	}
	if (ca != NULL) {
		if (!json_is_string(ca) && !json_is_null(ca))
			return pv_fail(&rq->err, PV_EUSAGE, "ca_file must be a path or null");
		if (json_is_string(ca) &&
		    copy_field(rq, next.ca_file, sizeof(next.ca_file), "ca_file", json_string_value(ca)) < 0)
			return PV_EUSAGE;
		fields |= ACCOUNT_SET_CA_FILE;
	}
	if ((host && (copy_field(rq, next.host, sizeof(next.host), "host", host) < 0)) ||
	    (tls && (copy_field(rq, next.tls, sizeof(next.tls), "tls", tls) < 0)) ||
	    (user && (copy_field(rq, next.user, sizeof(next.user), "user", user) < 0)) ||
	    (auth && (copy_field(rq, next.auth, sizeof(next.auth), "auth", auth) < 0)))
		return PV_EUSAGE;
	fields |= (host ? ACCOUNT_SET_HOST : 0) | (tls ? ACCOUNT_SET_TLS : 0) |
		  (user ? ACCOUNT_SET_USER : 0) | (auth ? ACCOUNT_SET_AUTH : 0);
	/* A token command is set and changed on the appliance's command line
	 * only: the web neither shows it nor takes one, nor replaces it with
	 * a password, nor sends its token to another server. */
	struct account cur;
	if ((r = archive_account_get(rq->ar, rq->params[0], &cur, &rq->err)) < 0)
		return r;
	bool token = cur.token_command[0] != '\0';
	account_clear(&cur);
	if (token && (password != NULL || (fields & (ACCOUNT_SET_HOST | ACCOUNT_SET_PORT |
						     ACCOUNT_SET_TLS | ACCOUNT_SET_CA_FILE))))
		return http_reply_error(rs, 409, "conflict",
					"account %s logs in with a token command: its server and "
					"login are changed on the appliance only (popvault account "
					"change %s)", rq->params[0], rq->params[0]);
	if ((r = archive_account_change(rq->ar, rq->actor, rq->params[0], &next, fields, password,
					NULL, &rq->err)) < 0)
		return r;
	return reply_accounts(rq, rs, 200, rq->params[0]);
}

int h_accounts_remove(struct http_request *rq, struct http_response *rs)
{
	int r = archive_account_remove(rq->ar, rq->actor, rq->params[0], &rq->err);
	if (r < 0)
		return r;
	return http_reply_json(rs, 200, json_pack("{s:s}", "removed", rq->params[0]));
}

/* The capability lines of a test as a JSON array. */
static json_t *caps_json(const char *caps)
{
	json_t *a = json_array();
	for (const char *p = caps; *p;) {
		size_t n = strcspn(p, "\n");
		json_array_append_new(a, json_stringn(p, n));
		p += n + (p[n] == '\n');
	}
	return a;
}

int h_accounts_test(struct http_request *rq, struct http_response *rs)
{
	struct probe_result t;
	int r = harvest_probe_account(rq->ar, rq->actor, rq->params[0], &t, &rq->err);
	if (r < 0)
		return r;
	json_t *tls = json_null();
	if (t.connected && t.tls.active)
		tls = json_pack("{s:s, s:s, s:b}", "version", t.tls.version, "cipher", t.tls.cipher,
				"verified", t.tls.verified);
	return http_reply_json(
		rs, 200,
		json_pack("{s:s, s:b, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:I}", "account",
			  rq->params[0], "ok", t.ok, "stage", t.stage, "error",
			  t.ok ? json_null() : json_string(t.error), "tls", tls, "auth",
			  t.auth ? json_string(t.auth) : json_null(), "capabilities", caps_json(t.caps),
			  "implementation",
			  t.implementation[0] ? json_string(t.implementation) : json_null(), "messages",
			  t.stat_ok ? json_integer(t.messages) : json_null(), "octets",
			  t.stat_ok ? json_integer((json_int_t)t.octets) : json_null(), "elapsed_ms",
			  (json_int_t)t.elapsed_ms));
}

int h_harvest_start(struct http_request *rq, struct http_response *rs)
{
	const char *account = NULL;
	int r;
	if (http_json_unpack(rq, "{s?s}", "account", &account) < 0)
		return PV_EUSAGE;
	if (harvest_job_running(rq->app->harvest))
		return http_reply_error(rs, 409, "conflict", "a harvest started here still runs");
	if ((r = archive_harvest_request(rq->ar, rq->actor, account, &rq->err)) < 0)
		return r;
	if ((r = harvest_job_start(rq->app->harvest, account, rq->session->user, &rq->err)) ==
	    PV_ETEMP)
		return http_reply_error(rs, 409, "conflict", "a harvest started here still runs");
	if (r < 0)
		return r;
	return http_reply_json(rs, 202, harvest_job_json(rq->app->harvest));
}

int h_harvest_status(struct http_request *rq, struct http_response *rs)
{
	return http_reply_json(rs, 200, harvest_job_json(rq->app->harvest));
}
