/* Authentication: USER/PASS and APOP (RFC 1939 §7), AUTH (RFC 5034) with
 * PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-256, XOAUTH2, OAUTHBEARER. */
#include "archiver/pop3/client_private.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "archiver/pop3/sasl.h"

static bool has_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s == '\r' || *s == '\n')
			return true;
	return false;
}

static bool non_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return true;
	return false;
}

/* AUTO's candidates, strongest first. Mechanisms that reveal the password
 * go only over TLS with a verified certificate, and then one of them is
 * enough (if the server refuses the password itself, another way of
 * sending it changes nothing). Over clear text, or TLS whose certificate
 * is not checked (anyone in the path may be the server), PLAIN, LOGIN and
 * USER must be asked for by name (issue 16, finding 7). */
static size_t candidates(const struct pop3_client *c, enum pop3_auth_mode out[4])
{
	unsigned s = c->caps.sasl;
	bool safe = c->tls.active && c->tls.verified;
	size_t n = 0;
	if (s & POP3_SASL_SCRAM_SHA_256)
		out[n++] = POP3_AUTH_SCRAM_SHA_256;
	if (s & POP3_SASL_CRAM_MD5)
		out[n++] = POP3_AUTH_CRAM_MD5;
	if (safe && (s & POP3_SASL_PLAIN))
		out[n++] = POP3_AUTH_PLAIN;
	else if (safe && (s & POP3_SASL_LOGIN))
		out[n++] = POP3_AUTH_LOGIN;
	else if (safe && (c->caps.user || !c->caps.capa_ok))
		out[n++] = POP3_AUTH_USER;
	else if (c->has_apop_ts)
		/* Last: servers (GNU pop3d) send a timestamp yet refuse APOP
		 * to users without an APOP secret. */
		out[n++] = POP3_AUTH_APOP;
	return n;
}

static int login_user(struct pop3_client *c, const struct pop3_auth *a,
		      struct pv_error *err)
{
	char line[PV_POP3_COMMAND_MAX + 1];
	int r = pop3_sendf(c, err, "USER %s", a->user);
	if (r == 0)
		r = pop3_read_reply(c, "USER", false, err);
	if (r < 0)
		return r;
	int n = snprintf(line, sizeof(line), "PASS %s", a->secret);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		sodium_memzero(line, sizeof(line));
		return pv_fail(err, PV_ELIMIT, "PASS: password too long for a POP3 command");
	}
	r = pop3_send_line(c, line, (size_t)n, 5, false, err);
	sodium_memzero(line, sizeof(line));
	return r < 0 ? r : pop3_read_reply(c, "PASS", false, err);
}

static int login_apop(struct pop3_client *c, const struct pop3_auth *a,
		      struct pv_error *err)
{
	char digest[33], line[PV_POP3_COMMAND_MAX + 1];
	if (!c->has_apop_ts)
		return pv_fail(err, PV_ERR, "APOP: the greeting has no timestamp");
	int r = pop3_apop_digest(c->apop_ts, a->secret, digest, err);
	if (r < 0)
		return r;
	int n = snprintf(line, sizeof(line), "APOP %s %s", a->user, digest);
	sodium_memzero(digest, sizeof(digest));
	if (n < 0 || (size_t)n >= sizeof(line))
		return pv_fail(err, PV_ELIMIT, "APOP: user name too long");
	/* The digest allows an offline guess at the password: redact it. */
	r = pop3_send_line(c, line, (size_t)n, (size_t)n - 32, false, err);
	sodium_memzero(line, sizeof(line));
	return r < 0 ? r : pop3_read_reply(c, "APOP", false, err);
}

/* ---- SASL ---- */

struct sasl {
	enum pop3_auth_mode mode;
	const char *name;
	const struct pop3_auth *a;
	struct pop3_scram scram;
	int round;
	bool verified;    /* SCRAM: the server proved it knows the password */
	bool oauth_error; /* an OAuth error challenge arrived */
	bool untrusted;   /* SCRAM: the server's signature was wrong */
	char oauth_msg[160];
};

/* The response to one challenge, raw (base64 is applied by the caller).
 * *cancel_r asks to send "*" (RFC 5034 §4) with err saying why. */
static int sasl_step(struct sasl *s, const unsigned char *ch, size_t ch_len,
		     struct pv_buf *out, bool *cancel_r, struct pv_error *err)
{
	int round = s->round++;
	*cancel_r = false;
	switch (s->mode) {
	case POP3_AUTH_LOGIN:
		/* The prompts ("Username:", "Password:") are not standard; go
		 * by order (draft-murchison-sasl-login). */
		if (round == 0)
			return pv_buf_append_str(out, s->a->user, err);
		if (round == 1)
			return pv_buf_append_str(out, s->a->secret, err);
		break;
	case POP3_AUTH_CRAM_MD5:
		if (round == 0)
			return pop3_sasl_cram_md5(s->a->user, s->a->secret, ch, ch_len, out, err);
		break;
	case POP3_AUTH_SCRAM_SHA_256:
		if (round == 0) {
			int r = pop3_scram_client_final(&s->scram, s->a->secret,
							(const char *)ch, ch_len, out, err);
			*cancel_r = r < 0;
			return PV_OK;
		}
		if (round == 1) {
			/* RFC 5034 §4: server-final arrives as a challenge;
			 * the client answers it with an empty response. */
			if (pop3_scram_verify_server(&s->scram, (const char *)ch, ch_len, err) < 0) {
				s->untrusted = true;
				*cancel_r = true;
				return PV_OK;
			}
			s->verified = true;
			return PV_OK;
		}
		break;
	case POP3_AUTH_XOAUTH2:
	case POP3_AUTH_OAUTHBEARER:
		if (round == 0) {
			/* RFC 7628 §3.2.2: an error challenge (JSON); reply
			 * %x01 (XOAUTH2: an empty line), then the server
			 * sends -ERR. */
			s->oauth_error = true;
			pop3_sanitize((const char *)ch, ch_len, s->oauth_msg, sizeof(s->oauth_msg));
			if (s->mode == POP3_AUTH_OAUTHBEARER)
				return pv_buf_append(out, "\001", 1, err);
			return PV_OK;
		}
		break;
	default:
		break;
	}
	*cancel_r = true;
	return pv_fail(err, PV_EPROTO, "AUTH %s: unexpected challenge", s->name);
}

static int sasl_initial(struct sasl *s, struct pv_buf *ir, bool *has_ir,
			struct pv_error *err)
{
	*has_ir = true;
	switch (s->mode) {
	case POP3_AUTH_PLAIN:
		return pop3_sasl_plain(s->a->authzid, s->a->user, s->a->secret, ir, err);
	case POP3_AUTH_SCRAM_SHA_256:
		return pop3_scram_client_first(&s->scram, s->a->user, NULL, ir, err);
	case POP3_AUTH_XOAUTH2:
		return pop3_sasl_xoauth2(s->a->user, s->a->secret, ir, err);
	case POP3_AUTH_OAUTHBEARER:
		return pop3_sasl_oauthbearer(s->a->user, s->a->secret, ir, err);
	default:
		*has_ir = false;
		return PV_OK;
	}
}

/* Sends a base64 response line (or "*" when cancelling). */
static int send_response(struct pop3_client *c, const struct pv_buf *raw,
			 bool cancel, struct pv_error *err)
{
	struct pv_buf b64;
	if (cancel)
		return pop3_send_line(c, "*", 1, 1, true, err);
	pv_buf_init(&b64, PV_POP3_SASL_LINE_MAX);
	int r = pop3_b64_encode(raw->data, raw->len, &b64, err);
	if (r == 0)
		r = pop3_send_line(c, (const char *)b64.data, b64.len, 0, true, err);
	pv_buf_free_secret(&b64);
	return r;
}

static int sasl_run(struct pop3_client *c, struct sasl *s, struct pv_error *err)
{
	struct pv_buf ir, resp, cmd;
	unsigned char ch[PV_POP3_SASL_LINE_MAX];
	size_t ch_len;
	bool has_ir, cancel;
	char what[48];
	struct pv_error why;

	snprintf(what, sizeof(what), "AUTH %s", s->name);
	pv_buf_init(&ir, PV_POP3_SASL_LINE_MAX);
	pv_buf_init(&resp, PV_POP3_SASL_LINE_MAX);
	pv_buf_init(&cmd, PV_POP3_SASL_LINE_MAX);
	pv_error_clear(&why);
	int r = sasl_initial(s, &ir, &has_ir, err);
	if (r < 0)
		goto out;
	/* RFC 5034 §4: the initial response rides on the command only if
	 * the line stays within 255 octets; "=" stands for an empty one. */
	if ((r = pv_buf_append_str(&cmd, what, err)) < 0)
		goto out;
	if (has_ir) {
		size_t prefix = cmd.len + 1;
		if ((r = pv_buf_append(&cmd, " ", 1, err)) < 0 ||
		    (r = ir.len == 0 ? pv_buf_append(&cmd, "=", 1, err)
				     : pop3_b64_encode(ir.data, ir.len, &cmd, err)) < 0)
			goto out;
		if (cmd.len + 2 <= PV_POP3_COMMAND_MAX) {
			has_ir = false; /* sent */
			r = pop3_send_line(c, (const char *)cmd.data, cmd.len, prefix, false, err);
		} else {
			r = pop3_send_line(c, what, strlen(what), strlen(what), false, err);
		}
	} else {
		r = pop3_send_line(c, what, strlen(what), strlen(what), false, err);
	}
	if (r < 0)
		goto out;
	for (int rounds = 0;; rounds++) {
		if ((r = pop3_read_reply(c, what, true, err)) < 0) {
			if (!c->dead && why.msg[0] != '\0') {
				/* Our cancel was answered: report why we cancelled. */
				if (err != NULL)
					*err = why;
				r = why.code;
			} else if (!c->dead && s->oauth_error && r == PV_ERR) {
				r = pv_fail(err, PV_EAUTH, "%s: token rejected: %s", what,
					    s->oauth_msg);
			}
			goto out;
		}
		if (why.msg[0] != '\0') {
			/* The server accepted after we cancelled: do not trust
			 * this session. */
			if (err != NULL)
				*err = why;
			r = pop3_kill(c, why.code);
			goto out;
		}
		if (c->reply.kind == POP3_REPLY_OK) {
			if (s->mode == POP3_AUTH_SCRAM_SHA_256 && !s->verified) {
				pv_fail(err, PV_EAUTH, "%s: server accepted without proving it "
					"knows the password", what);
				r = pop3_kill(c, PV_EAUTH);
			}
			goto out;
		}
		if (rounds >= PV_POP3_SASL_ROUNDS_MAX) {
			pv_fail(err, PV_EPROTO, "%s: too many challenges", what);
			r = pop3_kill(c, PV_EPROTO);
			goto out;
		}
		pv_buf_reset(&resp);
		if (has_ir) {
			/* "+ " with nothing: the server asks for the initial
			 * response we could not put on the command line. */
			has_ir = false;
			r = send_response(c, &ir, false, err);
		} else if (pop3_b64_decode(c->reply.text, c->reply.text_len, ch, sizeof(ch),
					   &ch_len) < 0) {
			pv_fail(&why, PV_EPROTO, "%s: challenge is not base64", what);
			r = send_response(c, &resp, true, err);
		} else {
			r = sasl_step(s, ch, ch_len, &resp, &cancel, &why);
			if (r == 0 && !cancel)
				pv_error_clear(&why);
			else if (why.msg[0] == '\0')
				pv_fail(&why, r < 0 ? r : PV_EPROTO, "%s: cannot answer", what);
			r = send_response(c, &resp, cancel || r < 0, err);
		}
		if (r < 0)
			goto out;
	}
out:
	pv_buf_free_secret(&ir);
	pv_buf_free_secret(&resp);
	pv_buf_free_secret(&cmd);
	sodium_memzero(ch, sizeof(ch));
	return r;
}

static const char *mech_name(enum pop3_auth_mode m, unsigned *bit_r)
{
	switch (m) {
	case POP3_AUTH_PLAIN: *bit_r = POP3_SASL_PLAIN; return "PLAIN";
	case POP3_AUTH_LOGIN: *bit_r = POP3_SASL_LOGIN; return "LOGIN";
	case POP3_AUTH_CRAM_MD5: *bit_r = POP3_SASL_CRAM_MD5; return "CRAM-MD5";
	case POP3_AUTH_SCRAM_SHA_256: *bit_r = POP3_SASL_SCRAM_SHA_256; return "SCRAM-SHA-256";
	case POP3_AUTH_XOAUTH2: *bit_r = POP3_SASL_XOAUTH2; return "XOAUTH2";
	case POP3_AUTH_OAUTHBEARER: *bit_r = POP3_SASL_OAUTHBEARER; return "OAUTHBEARER";
	default: *bit_r = 0; return NULL;
	}
}

static int login_sasl(struct pop3_client *c, const struct pop3_auth *a,
		      enum pop3_auth_mode mode, struct pv_error *err)
{
	struct sasl s = {.mode = mode, .a = a};
	unsigned bit;
	s.name = mech_name(mode, &bit);
	if (c->caps.capa_ok && !(c->caps.sasl & bit))
		return pv_fail(err, PV_ERR, "server does not offer SASL %s", s.name);
	pop3_scram_init(&s.scram);
	int r = sasl_run(c, &s, err);
	pop3_scram_clear(&s.scram);
	if (s.untrusted || (mode == POP3_AUTH_SCRAM_SHA_256 && r < 0 && c->dead))
		c->auth_no_fallback = true;
	return r;
}

int pop3_login(struct pop3_client *c, const struct pop3_auth *a,
	       struct pv_error *err)
{
	int r = pop3_check_alive(c, err);
	if (r < 0)
		return r;
	if (a->user == NULL || a->secret == NULL || a->user[0] == '\0')
		return pv_fail(err, PV_EUSAGE, "POP3 login: no user or secret");
	if (has_ctl(a->user) || has_ctl(a->secret) ||
	    (a->authzid != NULL && has_ctl(a->authzid)))
		return pv_fail(err, PV_EUSAGE, "POP3 login: CR or LF in the credentials");
	enum pop3_auth_mode modes[4] = {a->mode};
	size_t n_modes = a->mode == POP3_AUTH_AUTO ? candidates(c, modes) : 1;
	if (n_modes == 0 && c->tls.active)
		return pv_fail(err, PV_ERR, "no safe authentication method offered: the TLS "
			       "certificate is not verified (--insecure-skip-verify), so a password "
			       "is sent only with an explicit --auth (user, plain or login)");
	if (n_modes == 0)
		return pv_fail(err, PV_ERR, "no safe authentication method offered "
			       "(a password in clear needs --auth user or TLS)");
	/* RFC 6856 §3: UTF-8 credentials after the UTF8 command. */
	if (c->caps.utf8 && (non_ascii(a->user) || non_ascii(a->secret))) {
		struct pv_error e2;
		if ((r = pop3_sendf(c, err, "UTF8")) < 0)
			return r;
		if (pop3_read_reply(c, "UTF8", false, &e2) < 0 && c->dead) {
			if (err != NULL)
				*err = e2;
			return PV_EPROTO;
		}
	}
	enum pop3_auth_mode mode = POP3_AUTH_AUTO;
	c->auth_no_fallback = false;
	for (size_t i = 0; i < n_modes; i++) {
		mode = modes[i];
		if (i > 0) {
			char note[96];
			int k = snprintf(note, sizeof(note), "auto: trying %s", pop3_auth_mode_name(mode));
			pop3_note(c, POP3_TRANSCRIPT_NOTE, note, k < 0 ? 0 : strnlen(note, sizeof(note)));
		}
		if (mode == POP3_AUTH_USER)
			r = login_user(c, a, err);
		else if (mode == POP3_AUTH_APOP)
			r = login_apop(c, a, err);
		else
			r = login_sasl(c, a, mode, err);
		/* Only a refusal of this mechanism is worth another one: not a
		 * busy or locked mailbox, a lost connection, or a server that
		 * failed to prove itself. */
		if (r == 0 || c->dead || c->auth_no_fallback || r == PV_ETEMP || r == PV_EPERM ||
		    r == PV_EUSAGE || r == PV_ELIMIT)
			break;
	}
	if (r < 0)
		return r;
	c->authed = true;
	c->auth_used = mode;
	/* RFC 2449 §6.7, §6.8: EXPIRE and LOGIN-DELAY may be per user. */
	struct pop3_caps before = c->caps;
	if ((r = pop3_capa(c, err)) < 0)
		return r;
	if (!c->caps.capa_ok)
		c->caps = before;
	return PV_OK;
}
