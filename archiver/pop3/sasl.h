#ifndef PV_POP3_SASL_H
#define PV_POP3_SASL_H

/* SASL mechanism computations without I/O (RFC 4422 profiles used by POP3
 * AUTH, RFC 5034), so each can be checked against its RFC's example:
 * PLAIN (RFC 4616), CRAM-MD5 (RFC 2195), SCRAM-SHA-256 (RFC 5802, 7677),
 * OAUTHBEARER (RFC 7628), XOAUTH2, and the APOP digest (RFC 1939 §7).
 * Outputs holding secrets go into pv_bufs the caller frees with
 * pv_buf_free_secret. Strings are NUL-terminated C strings: credentials come
 * from our own configuration, never from the network. */

#include <stdbool.h>
#include <stddef.h>

#include "archiver/lib/buf.h"
#include "archiver/lib/error.h"

/* Standard base64 (RFC 4648 §4) with padding. */
int pop3_b64_encode(const void *in, size_t n, struct pv_buf *out,
		    struct pv_error *err);
/* Strict decode (no whitespace, canonical padding); out has room for
 * out_max bytes. Returns 0 or PV_EPROTO. */
int pop3_b64_decode(const char *in, size_t n, unsigned char *out,
		    size_t out_max, size_t *out_len_r) PV_WARN_UNUSED;

/* "authzid NUL user NUL pass" (raw, not base64). authzid may be NULL. */
int pop3_sasl_plain(const char *authzid, const char *user, const char *pass,
		    struct pv_buf *out, struct pv_error *err);

/* "user SP hex(HMAC-MD5(pass, challenge))" (raw). */
int pop3_sasl_cram_md5(const char *user, const char *pass,
		       const unsigned char *challenge, size_t challenge_len,
		       struct pv_buf *out, struct pv_error *err);

/* "user=U ^A auth=Bearer T ^A ^A" (raw). */
int pop3_sasl_xoauth2(const char *user, const char *token, struct pv_buf *out,
		      struct pv_error *err);
/* RFC 7628 §3.1: "n,a=U, ^A auth=Bearer T ^A ^A" (raw). */
int pop3_sasl_oauthbearer(const char *user, const char *token,
			  struct pv_buf *out, struct pv_error *err);

/* APOP digest: lower-case hex MD5(timestamp ‖ pass), 32 chars + NUL. */
int pop3_apop_digest(const char *timestamp, const char *pass, char hex_r[33],
		     struct pv_error *err);

/* SCRAM-SHA-256 client. Use: first -> final -> verify_server, then clear. */
struct pop3_scram {
	struct pv_buf client_first_bare;
	struct pv_buf auth_message;
	unsigned char server_signature[32];
	size_t nonce_len; /* length of our nonce, at the start of r= */
	bool have_signature;
};

void pop3_scram_init(struct pop3_scram *s);
/* Wipes and frees everything. */
void pop3_scram_clear(struct pop3_scram *s);
/* client-first-message "n,,n=U,r=NONCE" into out (raw). nonce: NULL for 24
 * fresh printable chars from pv_random_bytes (tests pass RFC 7677's). */
int pop3_scram_client_first(struct pop3_scram *s, const char *user,
			    const char *nonce, struct pv_buf *out,
			    struct pv_error *err);
/* Parses server-first-message, derives the keys from pass, and writes
 * client-final-message into out. Refuses mandatory extensions, a server
 * nonce that does not extend ours, and iteration counts outside
 * PV_POP3_SCRAM_ITER_MIN..MAX. */
int pop3_scram_client_final(struct pop3_scram *s, const char *pass,
			    const char *server_first, size_t len,
			    struct pv_buf *out, struct pv_error *err) PV_WARN_UNUSED;
/* Checks server-final-message "v=..." against the expected signature
 * (constant time). "e=..." and anything else fail with PV_EAUTH. */
int pop3_scram_verify_server(struct pop3_scram *s, const char *server_final,
			     size_t len, struct pv_error *err) PV_WARN_UNUSED;

#endif
