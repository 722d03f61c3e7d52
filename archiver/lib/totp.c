#include "archiver/lib/totp.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>
#include <string.h>

uint32_t totp_hotp(const unsigned char *secret, size_t len, uint64_t c)
{
	unsigned char msg[8], mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	for (int i = 7; i >= 0; i--, c >>= 8)
		msg[i] = (unsigned char)(c & 0xff);
	if (HMAC(EVP_sha1(), secret, (int)len, msg, sizeof(msg), mac, &mac_len) == NULL ||
	    mac_len != 20)
		return UINT32_MAX; /* matches no code: fail closed */
	/* RFC 4226 §5.3: dynamic truncation. */
	unsigned off = mac[19] & 0x0f;
	uint32_t bin = ((uint32_t)(mac[off] & 0x7f) << 24) | ((uint32_t)mac[off + 1] << 16) |
		       ((uint32_t)mac[off + 2] << 8) | mac[off + 3];
	sodium_memzero(mac, sizeof(mac));
	return bin % 1000000u;
}

uint64_t totp_step(int64_t t)
{
	return t < 0 ? 0 : (uint64_t)t / TOTP_STEP_S;
}

uint64_t totp_verify(const unsigned char *secret, size_t len, const char *code, int64_t now,
		     uint64_t last_step)
{
	char want[TOTP_DIGITS + 1], got[TOTP_DIGITS + 1];
	uint64_t match = 0, t = totp_step(now);

	if (strlen(code) != TOTP_DIGITS || strspn(code, "0123456789") != TOTP_DIGITS)
		return 0;
	memcpy(got, code, sizeof(got));
	for (uint64_t s = t == 0 ? 0 : t - 1; s <= t + 1; s++) {
		uint32_t v = totp_hotp(secret, len, s);
		for (int i = TOTP_DIGITS - 1; i >= 0; i--, v /= 10)
			want[i] = (char)('0' + v % 10);
		want[TOTP_DIGITS] = '\0';
		int same = sodium_memcmp(want, got, TOTP_DIGITS) == 0;
		if (same && s > last_step && match == 0)
			match = s;
	}
	sodium_memzero(want, sizeof(want));
	return match;
}

void totp_base32(const unsigned char *in, size_t len, char *out)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 5) {
			out[o++] = alphabet[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits > 0)
		out[o++] = alphabet[(acc << (5 - bits)) & 31];
	out[o] = '\0';
}
