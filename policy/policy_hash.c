/* The hash recorded in the audit log for a policy version: SHA-256 over
 * the exact stored bytes, so any edit, even to a comment, is a new hash. */
#include "policy/policy_int.h"

#include <sodium.h>

void policy_hash_bytes(const void *text, size_t len, unsigned char out[POLICY_HASH_LEN])
{
	crypto_hash_sha256(out, text, len);
}

void policy_hash(const struct policy *p, unsigned char out[POLICY_HASH_LEN])
{
	policy_hash_bytes(p->source, p->source_len, out);
}

void policy_hash_hex(const struct policy *p, char out[POLICY_HASH_HEX_LEN])
{
	unsigned char h[POLICY_HASH_LEN];
	policy_hash(p, h);
	sodium_bin2hex(out, POLICY_HASH_HEX_LEN, h, sizeof(h));
}
