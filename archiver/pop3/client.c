/* POP3 session: connection, greeting, CAPA, STLS, simple commands, QUIT. */
#include "archiver/pop3/client_private.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archiver/lib/clock.h"

int pop3_kill(struct pop3_client *c, int status)
{
	if (!c->dead) {
		pop3_net_close(&c->net);
		c->dead = true;
		pop3_note(c, POP3_TRANSCRIPT_NOTE, "connection closed", 17);
	}
	return status;
}

int pop3_check_alive(struct pop3_client *c, struct pv_error *err)
{
	if (c->dead)
		return pv_fail(err, PV_EPROTO, "POP3 connection is closed");
	return PV_OK;
}

void pop3_note(struct pop3_client *c, enum pop3_transcript_dir dir,
	       const char *line, size_t len)
{
	if (c->transcript != NULL)
		c->transcript(c->transcript_ctx, dir, line, len);
}

int pop3_send_line(struct pop3_client *c, const char *line, size_t len,
		   size_t show, bool is_response, struct pv_error *err)
{
	char out[PV_POP3_SASL_LINE_MAX + 2];
	int r = pop3_check_alive(c, err);
	if (r < 0)
		return r;
	if (len + 2 > (is_response ? sizeof(out) : (size_t)PV_POP3_COMMAND_MAX))
		return pv_fail(err, PV_ELIMIT, "POP3 command longer than %d bytes",
			       is_response ? PV_POP3_SASL_LINE_MAX : PV_POP3_COMMAND_MAX);
	for (size_t i = 0; i < len; i++)
		if (line[i] == '\r' || line[i] == '\n' || line[i] == '\0')
			return pv_fail(err, PV_ERR, "POP3 command argument contains CR, LF or NUL");
	if (c->transcript != NULL) {
		if (show >= len) {
			pop3_note(c, POP3_TRANSCRIPT_CLIENT, line, len);
		} else {
			char red[PV_POP3_COMMAND_MAX + 16];
			int n = snprintf(red, sizeof(red), "%.*s<redacted>",
					 (int)(show < PV_POP3_COMMAND_MAX ? show : PV_POP3_COMMAND_MAX),
					 line);
			pop3_note(c, POP3_TRANSCRIPT_CLIENT, red,
				  n < 0 ? 0 : (size_t)n < sizeof(red) ? (size_t)n : sizeof(red) - 1);
		}
	}
	memcpy(out, line, len);
	memcpy(out + len, "\r\n", 2);
	r = pop3_net_write(&c->net, out, len + 2, err);
	sodium_memzero(out, len + 2); /* may hold a password */
	if (r < 0)
		return pop3_kill(c, r);
	return PV_OK;
}

int pop3_sendf(struct pop3_client *c, struct pv_error *err, const char *fmt, ...)
{
	char line[PV_POP3_COMMAND_MAX + 1];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		return pv_fail(err, PV_ELIMIT, "POP3 command longer than %d bytes",
			       PV_POP3_COMMAND_MAX);
	return pop3_send_line(c, line, (size_t)n, (size_t)n, false, err);
}

int pop3_read_reply(struct pop3_client *c, const char *what, bool allow_cont,
		    struct pv_error *err)
{
	char shown[PV_POP3_STATUS_LINE_MAX];
	int r = pop3_check_alive(c, err);
	if (r < 0)
		return r;
	/* RFC 2449 §4: a status line is at most 512 octets, CRLF included.
	 * SASL challenges are status-like lines with no such rule. */
	size_t max = allow_cont ? PV_POP3_SASL_LINE_MAX : PV_POP3_STATUS_LINE_MAX;
	r = pop3_net_read_line(&c->net, c->line, max, &c->line_len, &c->line_bare_lf, err);
	if (r < 0) {
		pv_error_prefix(err, "%s", what);
		return pop3_kill(c, r);
	}
	pop3_note(c, POP3_TRANSCRIPT_SERVER, c->line, c->line_len);
	if (pop3_reply_parse(c->line, c->line_len, allow_cont, &c->reply) < 0) {
		pop3_sanitize(c->line, c->line_len, shown, 80);
		pv_fail(err, PV_EPROTO, "%s: not a POP3 status line: \"%s\"", what, shown);
		return pop3_kill(c, PV_EPROTO);
	}
	if (c->reply.kind != POP3_REPLY_ERR)
		return PV_OK;
	pop3_sanitize(c->reply.text, c->reply.text_len, shown, sizeof(shown));
	int status = pop3_reply_status(&c->reply);
	if (c->reply.code[0] != '\0')
		return pv_fail(err, status, "%s: -ERR [%s] %s", what, c->reply.code, shown);
	return pv_fail(err, status, "%s: -ERR %s", what, shown);
}

int pop3_read_ml_line(struct pop3_client *c, const char **line_r,
		      size_t *len_r, bool *end_r, struct pv_error *err)
{
	int r = pop3_check_alive(c, err);
	if (r < 0)
		return r;
	r = pop3_net_read_line(&c->net, c->line, PV_POP3_LIST_LINE_MAX, &c->line_len, NULL, err);
	if (r < 0)
		return pop3_kill(c, r);
	pop3_note(c, POP3_TRANSCRIPT_SERVER, c->line, c->line_len);
	*end_r = c->line_len == 1 && c->line[0] == '.';
	/* RFC 1939 §3: a line starting with "." has it doubled. */
	size_t skip = c->line_len > 0 && c->line[0] == '.' ? 1 : 0;
	*line_r = c->line + skip;
	*len_r = c->line_len - skip;
	return PV_OK;
}

int pop3_skip_ml(struct pop3_client *c, struct pv_error *err)
{
	const char *l;
	size_t len;
	bool end = false;
	while (!end) {
		int r = pop3_read_ml_line(c, &l, &len, &end, err);
		if (r < 0)
			return r;
	}
	return PV_OK;
}

int pop3_capa(struct pop3_client *c, struct pv_error *err)
{
	struct pv_error e2;
	const char *l;
	size_t len;
	bool end = false;
	int r = pop3_sendf(c, err, "CAPA");
	if (r < 0)
		return r;
	memset(&c->caps, 0, sizeof(c->caps));
	r = pop3_read_reply(c, "CAPA", false, &e2);
	if (r < 0) {
		if (c->dead) {
			if (err != NULL)
				*err = e2;
			return r;
		}
		return PV_OK; /* RFC 2449 §5: assume RFC 1939 only */
	}
	while (!end) {
		if ((r = pop3_read_ml_line(c, &l, &len, &end, err)) < 0)
			return r;
		if (!end)
			pop3_caps_parse_line(&c->caps, l, len);
	}
	c->caps.capa_ok = true;
	return PV_OK;
}

static int start_tls(struct pop3_client *c, struct pv_error *err)
{
	struct pop3_tls_opts o = {.host = c->host, .ca_file = c->ca_file,
				  .insecure = c->insecure};
	int r = pop3_net_start_tls(&c->net, &o, &c->tls, err);
	if (r < 0)
		return pop3_kill(c, r);
	char note[128];
	int n = snprintf(note, sizeof(note), "TLS %s %s%s", c->tls.version, c->tls.cipher,
			 c->tls.verified ? " verified" : " NOT VERIFIED (insecure)");
	pop3_note(c, POP3_TRANSCRIPT_NOTE, note, n < 0 ? 0 : strnlen(note, sizeof(note)));
	return PV_OK;
}

static int stls(struct pop3_client *c, struct pv_error *err)
{
	/* A server that answered CAPA without STLS does not offer it; one
	 * that has no CAPA may still know STLS, and asking costs nothing. */
	if (c->caps.capa_ok && !c->caps.stls) {
		pv_fail(err, PV_ERR, "server does not offer STLS; refusing to continue in clear");
		return pop3_kill(c, PV_ERR);
	}
	int r = pop3_sendf(c, err, "STLS");
	if (r == 0)
		r = pop3_read_reply(c, "STLS", false, err);
	if (r < 0) {
		pv_error_prefix(err, "STLS failed; refusing to continue in clear");
		return pop3_kill(c, r);
	}
	if ((r = start_tls(c, err)) < 0)
		return r;
	/* RFC 2595 §4: forget what was learnt in clear. */
	return pop3_capa(c, err);
}

int pop3_connect_fd(int fd, const struct pop3_config *cfg,
		    struct pop3_client **c_r, struct pv_error *err)
{
	struct pop3_client *c = calloc(1, sizeof(*c));
	int r;
	if (c == NULL) {
		close(fd);
		return pv_fail(err, PV_ERR, "out of memory");
	}
	pop3_net_init(&c->net, fd, cfg->io_timeout_ms > 0 ? cfg->io_timeout_ms
							   : PV_POP3_IO_TIMEOUT_MS);
	pop3_net_limits(&c->net,
			pv_clock_monotonic_ms() + (cfg->session_timeout_ms > 0
							   ? cfg->session_timeout_ms
							   : PV_POP3_SESSION_TIMEOUT_MS),
			cfg->min_rate_bps > 0 ? cfg->min_rate_bps : PV_POP3_MIN_RATE_BPS);
	c->tls_mode = cfg->tls;
	c->insecure = cfg->insecure;
	c->transcript = cfg->transcript;
	c->transcript_ctx = cfg->transcript_ctx;
	c->host = strdup(cfg->host != NULL ? cfg->host : "");
	c->ca_file = cfg->ca_file != NULL ? strdup(cfg->ca_file) : NULL;
	if (c->host == NULL || (cfg->ca_file != NULL && c->ca_file == NULL)) {
		r = pv_fail(err, PV_ERR, "out of memory");
		goto fail;
	}
	if (cfg->tls == POP3_TLS_IMPLICIT && (r = start_tls(c, err)) < 0)
		goto fail;
	if ((r = pop3_read_reply(c, "greeting", false, err)) < 0)
		goto fail;
	c->has_apop_ts = pop3_greeting_timestamp(c->reply.text, c->reply.text_len,
						 c->apop_ts, sizeof(c->apop_ts));
	if ((r = pop3_capa(c, err)) < 0)
		goto fail;
	if (cfg->tls == POP3_TLS_STARTTLS && (r = stls(c, err)) < 0)
		goto fail;
	*c_r = c;
	return PV_OK;
fail:
	pop3_client_free(&c);
	return r;
}

int pop3_connect(const struct pop3_config *cfg, struct pop3_client **c_r,
		 struct pv_error *err)
{
	int fd;
	uint16_t port = cfg->port != 0 ? cfg->port
			: cfg->tls == POP3_TLS_IMPLICIT ? 995 : 110;
	if (cfg->host == NULL || cfg->host[0] == '\0')
		return pv_fail(err, PV_EUSAGE, "POP3: no host");
	int r = pop3_net_connect(cfg->host, port,
				 cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms
							     : PV_POP3_CONNECT_TIMEOUT_MS,
				 &fd, err);
	if (r < 0)
		return r;
	return pop3_connect_fd(fd, cfg, c_r, err);
}

int pop3_open(const struct pop3_config *cfg, const struct pop3_auth *auth,
	      struct pop3_client **c_r, struct pv_error *err)
{
	struct pop3_client *c = NULL;
	int r = pop3_connect(cfg, &c, err);
	if (r < 0)
		return r;
	if ((r = pop3_login(c, auth, err)) < 0) {
		pop3_client_free(&c);
		return r;
	}
	*c_r = c;
	return PV_OK;
}

int pop3_quit(struct pop3_client *c, struct pv_error *err)
{
	int r = pop3_sendf(c, err, "QUIT");
	if (r == 0) {
		r = pop3_read_reply(c, "QUIT", false, err);
		if (r < 0 && c->dead) {
			/* Lost after QUIT went out: the commit may or may not
			 * have happened; only a fresh UIDL can tell. */
			pv_error_prefix(err, "QUIT unanswered, deletions unknown");
			r = PV_EPROTO;
		}
	}
	pop3_kill(c, r);
	return r;
}

void pop3_drop(struct pop3_client *c)
{
	pop3_kill(c, PV_OK);
}

void pop3_client_free(struct pop3_client **cp)
{
	struct pop3_client *c = *cp;
	if (c == NULL)
		return;
	pop3_kill(c, PV_OK);
	free(c->host);
	free(c->ca_file);
	sodium_memzero(c->line, sizeof(c->line));
	free(c);
	*cp = NULL;
}

bool pop3_alive(const struct pop3_client *c)
{
	return !c->dead;
}

bool pop3_out_of_time(const struct pop3_client *c)
{
	return c->net.out_of_time;
}

const struct pop3_caps *pop3_caps(const struct pop3_client *c)
{
	return &c->caps;
}

const struct pop3_tls_info *pop3_tls(const struct pop3_client *c)
{
	return &c->tls;
}

enum pop3_auth_mode pop3_auth_used(const struct pop3_client *c)
{
	return c->auth_used;
}

const char *pop3_auth_mode_name(enum pop3_auth_mode m)
{
	switch (m) {
	case POP3_AUTH_AUTO: return "auto";
	case POP3_AUTH_USER: return "user";
	case POP3_AUTH_APOP: return "apop";
	case POP3_AUTH_PLAIN: return "plain";
	case POP3_AUTH_LOGIN: return "login";
	case POP3_AUTH_CRAM_MD5: return "cram-md5";
	case POP3_AUTH_SCRAM_SHA_256: return "scram-sha-256";
	case POP3_AUTH_XOAUTH2: return "xoauth2";
	case POP3_AUTH_OAUTHBEARER: return "oauthbearer";
	}
	return "?";
}

/* ---- simple commands ---- */

static int simple(struct pop3_client *c, const char *what, struct pv_error *err,
		  const char *cmd)
{
	int r = pop3_sendf(c, err, "%s", cmd);
	return r < 0 ? r : pop3_read_reply(c, what, false, err);
}

int pop3_noop(struct pop3_client *c, struct pv_error *err)
{
	return simple(c, "NOOP", err, "NOOP");
}

int pop3_rset(struct pop3_client *c, struct pv_error *err)
{
	return simple(c, "RSET", err, "RSET");
}

int pop3_stat(struct pop3_client *c, uint32_t *count_r, uint64_t *octets_r,
	      struct pv_error *err)
{
	int r = simple(c, "STAT", err, "STAT");
	if (r < 0)
		return r;
	if (pop3_parse_scan(c->reply.text, c->reply.text_len, true, count_r, octets_r) < 0)
		return pv_fail(err, PV_EPROTO, "STAT: malformed reply");
	return PV_OK;
}

int pop3_list_one(struct pop3_client *c, uint32_t msgnum, uint64_t *size_r,
		  struct pv_error *err)
{
	uint32_t num;
	int r = pop3_sendf(c, err, "LIST %u", (unsigned)msgnum);
	if (r == 0)
		r = pop3_read_reply(c, "LIST", false, err);
	if (r < 0)
		return r;
	if (pop3_parse_scan(c->reply.text, c->reply.text_len, false, &num, size_r) < 0 ||
	    num != msgnum)
		return pv_fail(err, PV_EPROTO, "LIST %u: malformed reply", (unsigned)msgnum);
	return PV_OK;
}

int pop3_uidl_one(struct pop3_client *c, uint32_t msgnum,
		  char uidl_r[PV_POP3_UIDL_MAX + 1], struct pv_error *err)
{
	uint32_t num;
	int r = pop3_sendf(c, err, "UIDL %u", (unsigned)msgnum);
	if (r == 0)
		r = pop3_read_reply(c, "UIDL", false, err);
	if (r < 0)
		return r;
	if (pop3_parse_uidl(c->reply.text, c->reply.text_len, &num, uidl_r) < 0 ||
	    num != msgnum)
		return pv_fail(err, PV_EPROTO, "UIDL %u: malformed reply", (unsigned)msgnum);
	return PV_OK;
}

int pop3_dele(struct pop3_client *c, uint32_t msgnum, struct pv_error *err)
{
	int st;
	return pop3_dele_many(c, &msgnum, 1, &st, err);
}
