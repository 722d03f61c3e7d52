#include "archiver/harvest/probe.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "archiver/archive/audit_hook.h"
#include "archiver/harvest/connect.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/fsutil.h"

static void add_line(char *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_line(char *out, const char *fmt, ...)
{
	size_t l = strlen(out);
	va_list ap;
	if (l + 2 >= PROBE_CAPS_MAX)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(out + l, PROBE_CAPS_MAX - l - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= PROBE_CAPS_MAX - l - 1) {
		out[l] = '\0'; /* a line that does not fit is left out whole */
		return;
	}
	memcpy(out + l + (size_t)n, "\n", 2);
}

void harvest_probe_caps(const struct pop3_caps *c, char out[PROBE_CAPS_MAX])
{
	static const struct {
		unsigned bit;
		const char *name;
	} mechs[] = {{POP3_SASL_PLAIN, "PLAIN"},
		     {POP3_SASL_LOGIN, "LOGIN"},
		     {POP3_SASL_CRAM_MD5, "CRAM-MD5"},
		     {POP3_SASL_SCRAM_SHA_256, "SCRAM-SHA-256"},
		     {POP3_SASL_XOAUTH2, "XOAUTH2"},
		     {POP3_SASL_OAUTHBEARER, "OAUTHBEARER"}};
	char sasl[128] = "SASL";
	out[0] = '\0';
	if (!c->capa_ok)
		return;
	const struct {
		bool on;
		const char *name;
	} flags[] = {{c->top, "TOP"},
		     {c->uidl, "UIDL"},
		     {c->user, "USER"},
		     {c->stls, "STLS"},
		     {c->pipelining, "PIPELINING"},
		     {c->resp_codes, "RESP-CODES"},
		     {c->auth_resp_code, "AUTH-RESP-CODE"},
		     {c->utf8, "UTF8"}};
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (flags[i].on)
			add_line(out, "%s", flags[i].name);
	for (size_t i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++)
		if (c->sasl & mechs[i].bit)
			snprintf(sasl + strlen(sasl), sizeof(sasl) - strlen(sasl), " %s", mechs[i].name);
	if (c->sasl)
		add_line(out, "%s", sasl);
	if (c->expire && c->expire_never)
		add_line(out, "EXPIRE NEVER%s", c->expire_per_user ? " USER" : "");
	else if (c->expire)
		add_line(out, "EXPIRE %u%s", c->expire_days, c->expire_per_user ? " USER" : "");
	if (c->login_delay)
		add_line(out, "LOGIN-DELAY %u%s", c->login_delay_s,
			 c->login_delay_per_user ? " USER" : "");
	if (c->implementation[0])
		add_line(out, "IMPLEMENTATION %s", c->implementation);
}

/* The test itself; res->stage and res->error say where and why it stopped. */
static void run_test(struct archive *ar, const struct account *a, struct probe_result *res)
{
	struct pop3_config cfg;
	struct pop3_auth auth = {harvest_auth_mode(a->auth), a->user, NULL, NULL};
	struct pop3_client *c = NULL;
	struct pv_error e = {0};
	char *secret = NULL;

	harvest_pop3_config(a, &cfg);
	cfg.connect_timeout_ms = PV_ACCOUNT_TEST_TIMEOUT_MS;
	cfg.io_timeout_ms = PV_ACCOUNT_TEST_TIMEOUT_MS;
	res->stage = PROBE_CONNECT;
	if (pop3_connect(&cfg, &c, &e) < 0)
		goto out;
	res->connected = true;
	res->tls = *pop3_tls(c);
	res->stage = PROBE_LOGIN;
	if (harvest_account_secret(ar, a, &secret, &e) < 0)
		goto out;
	auth.secret = secret;
	int r = pop3_login(c, &auth, &e);
	pv_secret_free(&secret);
	if (r < 0)
		goto out;
	res->auth = pop3_auth_mode_name(pop3_auth_used(c));
	res->stage = PROBE_STAT;
	if (pop3_stat(c, &res->messages, &res->octets, &e) < 0)
		goto out;
	res->stat_ok = true;
	res->stage = PROBE_QUIT;
	if (pop3_quit(c, &e) != 0)
		goto out;
	res->stage = PROBE_DONE;
	res->ok = true;
out:
	if (c != NULL) {
		const struct pop3_caps *caps = pop3_caps(c);
		harvest_probe_caps(caps, res->caps);
		snprintf(res->implementation, sizeof(res->implementation), "%s",
			 caps->implementation);
	}
	if (!res->ok)
		snprintf(res->error, sizeof(res->error), "%s", e.msg[0] ? e.msg : "failed");
	pop3_client_free(&c);
}

int harvest_probe_account(struct archive *ar, const char *actor, const char *name,
			  struct probe_result *res, struct pv_error *err)
{
	struct account a;
	int64_t t0 = pv_clock_monotonic_ms();
	int r;

	memset(res, 0, sizeof(*res));
	if ((r = account_load(ar->cat->conn, name, &a, err)) < 0)
		return r;
	run_test(ar, &a, res);
	res->elapsed_ms = pv_clock_monotonic_ms() - t0;
	char outcome[PV_ERROR_MSG_MAX + 16];
	if (res->ok)
		snprintf(outcome, sizeof(outcome), "ok");
	else
		snprintf(outcome, sizeof(outcome), "failed: %s", res->error);
	r = archive_auditf(ar, actor, AUDIT_ACCOUNT_TEST, outcome, NULL, err,
			   "account=%s server=%s:%d tls=%s stage=%s", a.name, a.host, a.port, a.tls,
			   res->stage);
	account_clear(&a);
	return r;
}
