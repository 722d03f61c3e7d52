#include "archiver/pop3/reply.h"

#include <string.h>

#include "archiver/lib/number.h"

static char up(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/* Case-insensitive: does s[0..len) start with the upper-case word w? */
static bool has_prefix(const char *s, size_t len, const char *w)
{
	size_t n = strlen(w);
	if (len < n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (up(s[i]) != w[i])
			return false;
	return true;
}

static bool word_eq(const char *s, size_t len, const char *w)
{
	return len == strlen(w) && has_prefix(s, len, w);
}

/* RFC 2449 §8: resp-code = "[" resp-level *("/" resp-level) "]",
 * resp-level = 1*(ALPHA / "-"). Returns the length consumed, 0 if none. */
static size_t parse_code(const char *s, size_t len, char code[PV_POP3_RESP_CODE_MAX])
{
	if (len < 3 || s[0] != '[')
		return 0;
	size_t i = 1;
	bool level_start = true;
	while (i < len && s[i] != ']') {
		char c = s[i];
		bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
		if (c == '/' && !level_start)
			level_start = true;
		else if (alpha || c == '-')
			level_start = false;
		else
			return 0;
		if (i >= PV_POP3_RESP_CODE_MAX)
			return 0;
		i++;
	}
	if (i >= len || level_start)
		return 0;
	for (size_t k = 1; k < i; k++)
		code[k - 1] = up(s[k]);
	code[i - 1] = '\0';
	return i + 1;
}

int pop3_reply_parse(const char *line, size_t len, bool allow_cont,
		     struct pop3_reply *r)
{
	size_t skip;

	r->code[0] = '\0';
	r->text = line + len;
	r->text_len = 0;
	if (has_prefix(line, len, "+OK") && (len == 3 || line[3] == ' ')) {
		r->kind = POP3_REPLY_OK;
		skip = 3;
	} else if (has_prefix(line, len, "-ERR") && (len == 4 || line[4] == ' ')) {
		r->kind = POP3_REPLY_ERR;
		skip = 4;
	} else if (allow_cont && len >= 1 && line[0] == '+' &&
		   (len == 1 || line[1] == ' ')) {
		r->kind = POP3_REPLY_CONT;
		skip = len == 1 ? 1 : 2;
		r->text = line + skip;
		r->text_len = len - skip;
		return PV_OK;
	} else {
		return PV_EPROTO;
	}
	if (skip < len)
		skip++; /* the space */
	size_t c = parse_code(line + skip, len - skip, r->code);
	skip += c;
	if (c > 0 && skip < len && line[skip] == ' ')
		skip++;
	r->text = line + skip;
	r->text_len = len - skip;
	return PV_OK;
}

int pop3_reply_status(const struct pop3_reply *r)
{
	const char *c = r->code;
	if (r->kind != POP3_REPLY_ERR)
		return PV_OK;
	if (strcmp(c, "IN-USE") == 0 || strcmp(c, "LOGIN-DELAY") == 0 ||
	    strcmp(c, "SYS/TEMP") == 0)
		return PV_ETEMP;
	if (strcmp(c, "AUTH") == 0)
		return PV_EAUTH;
	if (strcmp(c, "SYS/PERM") == 0)
		return PV_EPERM;
	return PV_ERR;
}

/* Splits the next SP-separated token off s[*pos..len). */
static bool next_token(const char *s, size_t len, size_t *pos,
		       const char **tok_r, size_t *tok_len_r)
{
	size_t i = *pos;
	while (i < len && s[i] == ' ')
		i++;
	if (i >= len)
		return false;
	size_t start = i;
	while (i < len && s[i] != ' ')
		i++;
	*tok_r = s + start;
	*tok_len_r = i - start;
	*pos = i;
	return true;
}

/* "n [USER]" or "NEVER [USER]" argument list of EXPIRE / LOGIN-DELAY. */
static bool parse_days(const char *s, size_t len, size_t pos, bool allow_never,
		       bool *never_r, uint32_t *v_r, bool *per_user_r)
{
	const char *t;
	size_t tl;
	uint64_t v = 0;
	*never_r = false;
	*per_user_r = false;
	if (!next_token(s, len, &pos, &t, &tl))
		return false;
	if (allow_never && word_eq(t, tl, "NEVER"))
		*never_r = true;
	else if (pv_parse_u64(t, tl, 0, UINT32_MAX, 0, &v) < 0)
		return false;
	*v_r = (uint32_t)v;
	if (next_token(s, len, &pos, &t, &tl) && word_eq(t, tl, "USER"))
		*per_user_r = true;
	return true;
}

static void parse_sasl(struct pop3_caps *caps, const char *s, size_t len, size_t pos)
{
	static const struct {
		const char *name;
		unsigned bit;
	} mechs[] = {
		{"PLAIN", POP3_SASL_PLAIN},
		{"LOGIN", POP3_SASL_LOGIN},
		{"CRAM-MD5", POP3_SASL_CRAM_MD5},
		{"SCRAM-SHA-256", POP3_SASL_SCRAM_SHA_256},
		{"XOAUTH2", POP3_SASL_XOAUTH2},
		{"OAUTHBEARER", POP3_SASL_OAUTHBEARER},
	};
	const char *t;
	size_t tl;
	while (next_token(s, len, &pos, &t, &tl))
		for (size_t i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++)
			if (word_eq(t, tl, mechs[i].name))
				caps->sasl |= mechs[i].bit;
}

void pop3_caps_parse_line(struct pop3_caps *caps, const char *line, size_t len)
{
	size_t pos = 0;
	const char *kw;
	size_t kl;
	if (!next_token(line, len, &pos, &kw, &kl))
		return;
	if (word_eq(kw, kl, "TOP"))
		caps->top = true;
	else if (word_eq(kw, kl, "UIDL"))
		caps->uidl = true;
	else if (word_eq(kw, kl, "USER"))
		caps->user = true;
	else if (word_eq(kw, kl, "STLS"))
		caps->stls = true;
	else if (word_eq(kw, kl, "PIPELINING"))
		caps->pipelining = true;
	else if (word_eq(kw, kl, "RESP-CODES"))
		caps->resp_codes = true;
	else if (word_eq(kw, kl, "AUTH-RESP-CODE"))
		caps->auth_resp_code = true;
	else if (word_eq(kw, kl, "UTF8"))
		caps->utf8 = true;
	else if (word_eq(kw, kl, "SASL"))
		parse_sasl(caps, line, len, pos);
	else if (word_eq(kw, kl, "IMPLEMENTATION")) {
		while (pos < len && line[pos] == ' ')
			pos++;
		pop3_sanitize(line + pos, len - pos, caps->implementation,
			      sizeof(caps->implementation));
	} else if (word_eq(kw, kl, "EXPIRE")) {
		bool never, per_user;
		uint32_t v;
		caps->expire = true;
		if (parse_days(line, len, pos, true, &never, &v, &per_user)) {
			caps->expire_never = never;
			caps->expire_days = never ? 0 : v;
			caps->expire_per_user = per_user;
		} else {
			/* Err on the side of expiry (issue 16, finding 3): a value
			 * we cannot read may be 0; it is not "never". */
			caps->expire_never = false;
			caps->expire_days = 0;
			caps->expire_malformed = true;
		}
	} else if (kl > 6 && has_prefix(kw, kl, "EXPIRE")) {
		/* GNU pop3d sends "EXPIRE0" and "EXPIRENEVER". Err on the side of
		 * expiry: a server that may delete retrieved mail at QUIT
		 * must be treated as one that does, so anything else glued to
		 * "EXPIRE" counts as 0. */
		uint64_t v;
		caps->expire = true;
		caps->expire_malformed = true;
		caps->expire_never = word_eq(kw + 6, kl - 6, "NEVER");
		caps->expire_days = 0;
		if (!caps->expire_never && pv_parse_u64(kw + 6, kl - 6, 0, UINT32_MAX, 0, &v) == 0)
			caps->expire_days = (uint32_t)v;
	} else if (word_eq(kw, kl, "LOGIN-DELAY")) {
		bool never, per_user;
		uint32_t v;
		if (parse_days(line, len, pos, false, &never, &v, &per_user)) {
			caps->login_delay = true;
			caps->login_delay_s = v;
			caps->login_delay_per_user = per_user;
			caps->login_delay_malformed = false;
		}
	} else {
		/* GNU pop3d 3.15 prints "LOGIN-DELAY n" as a bare "n". Only a
		 * scheduling hint, so taking it costs nothing if wrong. */
		uint64_t v;
		if (!caps->login_delay && pos == len &&
		    pv_parse_u64(kw, kl, 0, UINT32_MAX, 0, &v) == 0) {
			caps->login_delay = true;
			caps->login_delay_s = (uint32_t)v;
			caps->login_delay_malformed = true;
		}
	}
	/* Anything else is ignored. */
}

int pop3_parse_scan(const char *s, size_t len, bool allow_zero,
		    uint32_t *num_r, uint64_t *size_r)
{
	size_t sp = 0;
	while (sp < len && s[sp] != ' ')
		sp++;
	if (sp == len)
		return PV_EPROTO;
	uint64_t num, size;
	if (pv_parse_u64(s, sp, 0, PV_POP3_MAILBOX_MAX_MESSAGES, 0, &num) < 0 ||
	    (num == 0 && !allow_zero))
		return PV_EPROTO;
	size_t end = sp + 1;
	while (end < len && s[end] != ' ')
		end++;
	/* RFC 1939 §5 sets no rule for what follows the size. */
	if (pv_parse_u64(s + sp + 1, end - sp - 1, 0, UINT64_MAX / 2, 0, &size) < 0)
		return PV_EPROTO;
	*num_r = (uint32_t)num;
	*size_r = size;
	return PV_OK;
}

bool pop3_uidl_valid(const char *s, size_t len)
{
	if (len < 1 || len > PV_POP3_UIDL_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

int pop3_parse_uidl(const char *s, size_t len, uint32_t *num_r,
		    char uidl_r[PV_POP3_UIDL_MAX + 1])
{
	size_t sp = 0;
	while (sp < len && s[sp] != ' ')
		sp++;
	if (sp == len)
		return PV_EPROTO;
	uint64_t num;
	if (pv_parse_u64(s, sp, 0, PV_POP3_MAILBOX_MAX_MESSAGES, 0, &num) < 0 || num == 0)
		return PV_EPROTO;
	const char *u = s + sp + 1;
	size_t ul = len - sp - 1;
	if (!pop3_uidl_valid(u, ul))
		return PV_EPROTO;
	memcpy(uidl_r, u, ul);
	uidl_r[ul] = '\0';
	*num_r = (uint32_t)num;
	return PV_OK;
}

bool pop3_greeting_timestamp(const char *text, size_t len, char *ts_r,
			     size_t ts_size)
{
	const char *lt = memchr(text, '<', len);
	if (lt == NULL)
		return false;
	size_t rest = len - (size_t)(lt - text);
	const char *gt = memchr(lt, '>', rest);
	if (gt == NULL)
		return false;
	size_t n = (size_t)(gt - lt) + 1;
	if (n + 1 > ts_size || memchr(lt, '@', n) == NULL)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)lt[i] < 0x21 || (unsigned char)lt[i] > 0x7e)
			return false;
	memcpy(ts_r, lt, n);
	ts_r[n] = '\0';
	return true;
}

void pop3_sanitize(const char *s, size_t len, char *out, size_t out_size)
{
	size_t n = 0;
	if (out_size == 0)
		return;
	for (size_t i = 0; i < len && n + 1 < out_size; i++) {
		unsigned char c = (unsigned char)s[i];
		out[n++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	out[n] = '\0';
}

bool pop3_caps_expire_at_quit(const struct pop3_caps *caps)
{
	return caps->expire && !caps->expire_never;
}
