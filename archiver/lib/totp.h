#ifndef PV_TOTP_H
#define PV_TOTP_H

/* Time-based one-time passwords, the second factor of the web sign-in:
 * RFC 6238 TOTP over RFC 4226 HOTP with HMAC-SHA-1, 30-second steps and
 * 6 digits (what every authenticator app does by default), and RFC 4648
 * base32 for showing the secret. */

#include <stddef.h>
#include <stdint.h>

/* RFC 4226 §4 R6: a shared secret of at least 128 bits, 160 recommended. */
#define TOTP_SECRET_BYTES 20
#define TOTP_STEP_S 30
#define TOTP_DIGITS 6
/* base32 of a TOTP_SECRET_BYTES secret, without padding, NUL included. */
#define TOTP_SECRET_B32_LEN 33

/* The RFC 4226 HOTP value for counter c (6 digits, 0..999999). */
uint32_t totp_hotp(const unsigned char *secret, size_t len, uint64_t c);

/* The time step of unix time t (RFC 6238 §4.2: T = floor(t / 30)). */
uint64_t totp_step(int64_t t);

/* Checks code (exactly TOTP_DIGITS ASCII digits, else no match) against
 * the steps of now-30 s, now and now+30 s (RFC 6238 §5.2: one step of
 * clock drift each way). A step at or below last_step was used already
 * and never matches (§5.2: a code is accepted once). Returns the matching
 * step, or 0 when none matches. Every candidate is computed and compared
 * in constant time. */
uint64_t totp_verify(const unsigned char *secret, size_t len, const char *code, int64_t now,
		     uint64_t last_step);

/* RFC 4648 §6 base32 of len bytes, without '=' padding (as otpauth URIs
 * carry it) into out: (len * 8 + 4) / 5 + 1 bytes, NUL-terminated. */
void totp_base32(const unsigned char *in, size_t len, char *out);

#endif
