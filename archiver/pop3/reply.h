#ifndef PV_POP3_REPLY_H
#define PV_POP3_REPLY_H

/* Pure parsers for POP3 server lines: status lines and response codes
 * (RFC 1939 §3, RFC 2449 §8, RFC 3206), CAPA lines (RFC 2449 §6), LIST and
 * UIDL listings (RFC 1939 §5, §7). No I/O; every function takes an explicit
 * (pointer, length) for a line WITHOUT its CRLF or LF, and never reads past
 * it. Lines may contain any byte, NUL included. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/error.h"
#include "archiver/lib/limits.h"

enum pop3_reply_kind {
	POP3_REPLY_OK,   /* "+OK" */
	POP3_REPLY_ERR,  /* "-ERR" */
	POP3_REPLY_CONT, /* "+ " SASL continuation (RFC 5034 §4) */
};

struct pop3_reply {
	enum pop3_reply_kind kind;
	/* Response code without brackets, upper-cased ("IN-USE", "SYS/TEMP");
	 * "" when there is none or it was malformed (then it stays in text). */
	char code[PV_POP3_RESP_CODE_MAX];
	/* Text after the status (and code), pointing into the parsed line. For
	 * a continuation, the base64 challenge ("" when empty). */
	const char *text;
	size_t text_len;
};

/* Parses a status line. allow_cont: accept "+ ..." / "+" (only while a SASL
 * exchange is running). Returns 0, or PV_EPROTO when the line is neither
 * +OK nor -ERR (nor a continuation when allowed). */
int pop3_reply_parse(const char *line, size_t len, bool allow_cont,
		     struct pop3_reply *r) PV_WARN_UNUSED;

/* pv_status for an -ERR reply, from its response code:
 * IN-USE, LOGIN-DELAY, SYS/TEMP -> PV_ETEMP; AUTH -> PV_EAUTH;
 * SYS/PERM -> PV_EPERM; anything else (or none) -> PV_ERR. */
int pop3_reply_status(const struct pop3_reply *r);

/* Server capabilities (RFC 2449 §6, RFC 5034 §3, RFC 6856). */
enum pop3_sasl_mech {
	POP3_SASL_PLAIN = 1u << 0,
	POP3_SASL_LOGIN = 1u << 1,
	POP3_SASL_CRAM_MD5 = 1u << 2,
	POP3_SASL_SCRAM_SHA_256 = 1u << 3,
	POP3_SASL_XOAUTH2 = 1u << 4,
	POP3_SASL_OAUTHBEARER = 1u << 5,
};

struct pop3_caps {
	bool capa_ok;          /* CAPA answered +OK (else: assume RFC 1939 only) */
	bool top, uidl, user, stls, pipelining, resp_codes, auth_resp_code, utf8;
	unsigned sasl;         /* enum pop3_sasl_mech bits */
	/* EXPIRE (RFC 2449 §6.7): days, or never. expire_days == 0 means the
	 * server deletes every RETRieved message at QUIT even without DELE;
	 * n > 0 that it does so n days after a QUIT. */
	bool expire;           /* an EXPIRE line was seen */
	bool expire_never;
	bool expire_per_user;  /* "USER" suffix: the value may change after login */
	/* GNU pop3d's "EXPIRE0"/"EXPIRENEVER" (taken anyway), or a value that
	 * does not parse: that counts as 0 (expire true, never false). */
	bool expire_malformed;
	uint32_t expire_days;
	/* LOGIN-DELAY (RFC 2449 §6.8): minimum seconds between logins. */
	bool login_delay;
	bool login_delay_per_user;
	bool login_delay_malformed; /* GNU pop3d's bare "n" line */
	uint32_t login_delay_s;
	char implementation[64]; /* printable ASCII only, "" when not sent */
};

/* Applies one CAPA line (after the +OK, before the "."). Unknown or garbled
 * lines are ignored: a bad CAPA line must not break the session. */
void pop3_caps_parse_line(struct pop3_caps *caps, const char *line, size_t len);

/* True when a QUIT may start the expiry of every message the session
 * retrieved (RFC 2449 §6.7): an EXPIRE line with any number of days, or
 * one whose value does not parse. Only EXPIRE NEVER, or no EXPIRE at
 * all (RFC 1939 servers keep mail until DELE), is safe. */
bool pop3_caps_expire_at_quit(const struct pop3_caps *caps);

/* "msg SP size [anything]" (LIST line or single-LIST/STAT reply text).
 * msg in 1..PV_POP3_MAILBOX_MAX_MESSAGES (0 allowed only when allow_zero,
 * for STAT's count). Returns 0 or PV_EPROTO. */
int pop3_parse_scan(const char *s, size_t len, bool allow_zero,
		    uint32_t *num_r, uint64_t *size_r) PV_WARN_UNUSED;

/* "msg SP uidl" with nothing after; uidl 1..70 octets of 0x21..0x7E.
 * uidl_r receives the NUL-terminated UIDL. Returns 0 or PV_EPROTO. */
int pop3_parse_uidl(const char *s, size_t len, uint32_t *num_r,
		    char uidl_r[PV_POP3_UIDL_MAX + 1]) PV_WARN_UNUSED;

/* True when s[0..len) is a valid UIDL (RFC 1939 §7). */
bool pop3_uidl_valid(const char *s, size_t len);

/* The APOP timestamp "<...@...>" from a greeting's text (RFC 1939 §7).
 * Returns true and copies it (NUL-terminated) when present and printable. */
bool pop3_greeting_timestamp(const char *text, size_t len, char *ts_r,
			     size_t ts_size);

/* Copies s into out as printable ASCII (others become '?'), for error
 * messages and transcripts; always NUL-terminates. */
void pop3_sanitize(const char *s, size_t len, char *out, size_t out_size);

#endif
