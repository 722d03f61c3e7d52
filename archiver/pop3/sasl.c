#include "archiver/pop3/sasl.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/lib/base64.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/number.h"
#include "archiver/lib/random.h"
#include "archiver/pop3/reply.h"

int pop3_b64_encode(const void *in, size_t n, struct pv_buf *out,
		    struct pv_error *err)
{
	size_t need = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
	char *tmp = malloc(need);
	if (tmp == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	sodium_bin2base64(tmp, need, in, n, sodium_base64_VARIANT_ORIGINAL);
	int r = pv_buf_append(out, tmp, need - 1, err);
	sodium_memzero(tmp, need); /* it may encode a password */
	free(tmp);
	return r;
}

int pop3_b64_decode(const char *in, size_t n, unsigned char *out,
		    size_t out_max, size_t *out_len_r)
{
	return pv_b64_decode(in, n, out, out_max, out_len_r) == 0 ? PV_OK : PV_EPROTO;
}

int pop3_sasl_plain(const char *authzid, const char *user, const char *pass,
		    struct pv_buf *out, struct pv_error *err)
{
	int r;
	if (authzid != NULL && (r = pv_buf_append_str(out, authzid, err)) < 0)
		return r;
	if ((r = pv_buf_append(out, "", 1, err)) < 0 ||
	    (r = pv_buf_append_str(out, user, err)) < 0 ||
	    (r = pv_buf_append(out, "", 1, err)) < 0)
		return r;
	return pv_buf_append_str(out, pass, err);
}

static void hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int pop3_sasl_cram_md5(const char *user, const char *pass,
		       const unsigned char *challenge, size_t challenge_len,
		       struct pv_buf *out, struct pv_error *err)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	char mac_hex[2 * 16 + 1];
	if (HMAC(EVP_md5(), pass, (int)strlen(pass), challenge, challenge_len,
		 mac, &mac_len) == NULL || mac_len != 16)
		return pv_fail(err, PV_ERR, "CRAM-MD5: HMAC-MD5 unavailable");
	hex(mac, 16, mac_hex);
	sodium_memzero(mac, sizeof(mac));
	return pv_buf_printf(out, err, "%s %s", user, mac_hex);
}

int pop3_sasl_xoauth2(const char *user, const char *token, struct pv_buf *out,
		      struct pv_error *err)
{
	return pv_buf_printf(out, err, "user=%s\001auth=Bearer %s\001\001", user, token);
}

/* RFC 5802 §5.1 saslname: "=" -> "=3D", "," -> "=2C". */
static int append_saslname(struct pv_buf *out, const char *s, struct pv_error *err)
{
	int r = PV_OK;
	for (; *s != '\0' && r == 0; s++) {
		if (*s == '=')
			r = pv_buf_append_str(out, "=3D", err);
		else if (*s == ',')
			r = pv_buf_append_str(out, "=2C", err);
		else
			r = pv_buf_append(out, s, 1, err);
	}
	return r;
}

int pop3_sasl_oauthbearer(const char *user, const char *token,
			  struct pv_buf *out, struct pv_error *err)
{
	int r;
	if ((r = pv_buf_append_str(out, "n,a=", err)) < 0 ||
	    (r = append_saslname(out, user, err)) < 0)
		return r;
	return pv_buf_printf(out, err, ",\001auth=Bearer %s\001\001", token);
}

int pop3_apop_digest(const char *timestamp, const char *pass, char hex_r[33],
		     struct pv_error *err)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1 &&
		  EVP_DigestUpdate(ctx, timestamp, strlen(timestamp)) == 1 &&
		  EVP_DigestUpdate(ctx, pass, strlen(pass)) == 1 &&
		  EVP_DigestFinal_ex(ctx, md, &md_len) == 1 && md_len == 16;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return pv_fail(err, PV_ERR, "APOP: MD5 unavailable");
	hex(md, 16, hex_r);
	return PV_OK;
}

/* ---- SCRAM-SHA-256 (RFC 5802 §3, RFC 7677) ---- */

void pop3_scram_init(struct pop3_scram *s)
{
	pv_buf_init(&s->client_first_bare, PV_POP3_SCRAM_MSG_MAX);
	pv_buf_init(&s->auth_message, 3 * PV_POP3_SCRAM_MSG_MAX);
	s->nonce_len = 0;
	s->have_signature = false;
	sodium_memzero(s->server_signature, sizeof(s->server_signature));
}

void pop3_scram_clear(struct pop3_scram *s)
{
	pv_buf_free_secret(&s->client_first_bare);
	pv_buf_free_secret(&s->auth_message);
	sodium_memzero(s->server_signature, sizeof(s->server_signature));
	s->have_signature = false;
}

int pop3_scram_client_first(struct pop3_scram *s, const char *user,
			    const char *nonce, struct pv_buf *out,
			    struct pv_error *err)
{
	char fresh[sodium_base64_ENCODED_LEN(18, sodium_base64_VARIANT_ORIGINAL)];
	int r;
	if (nonce == NULL) {
		unsigned char raw[18];
		pv_random_bytes(raw, sizeof(raw));
		sodium_bin2base64(fresh, sizeof(fresh), raw, sizeof(raw),
				  sodium_base64_VARIANT_ORIGINAL);
		nonce = fresh;
	}
	for (const char *p = nonce; *p != '\0'; p++)
		if (*p < 0x21 || *p > 0x7e || *p == ',')
			return pv_fail(err, PV_ERR, "SCRAM: bad nonce");
	s->nonce_len = strlen(nonce);
	pv_buf_reset(&s->client_first_bare);
	if ((r = pv_buf_append_str(&s->client_first_bare, "n=", err)) < 0 ||
	    (r = append_saslname(&s->client_first_bare, user, err)) < 0 ||
	    (r = pv_buf_printf(&s->client_first_bare, err, ",r=%s", nonce)) < 0)
		return r;
	/* gs2-header "n,,": no channel binding, no authzid. */
	if ((r = pv_buf_append_str(out, "n,,", err)) < 0)
		return r;
	return pv_buf_append(out, s->client_first_bare.data,
			     s->client_first_bare.len, err);
}

static bool hmac256(const void *key, size_t key_len, const void *d, size_t n,
		    unsigned char out[32])
{
	unsigned int len = 0;
	return HMAC(EVP_sha256(), key, (int)key_len, d, n, out, &len) != NULL &&
	       len == 32;
}

/* Next "a=value" attribute of a SCRAM message starting at *pos. */
static bool scram_attr(const char *m, size_t len, size_t *pos, char name,
		       const char **v_r, size_t *vl_r)
{
	size_t i = *pos;
	if (i + 2 > len || m[i] != name || m[i + 1] != '=')
		return false;
	i += 2;
	size_t start = i;
	while (i < len && m[i] != ',')
		i++;
	*v_r = m + start;
	*vl_r = i - start;
	*pos = i < len ? i + 1 : i;
	return true;
}

int pop3_scram_client_final(struct pop3_scram *s, const char *pass,
			    const char *sf, size_t len, struct pv_buf *out,
			    struct pv_error *err)
{
	const char *nonce, *salt64, *iter;
	size_t nonce_len, salt64_len, iter_len, pos = 0, salt_len;
	unsigned char salt[PV_POP3_SCRAM_SALT_MAX];
	uint64_t iterations;
	int r;

	if (len > PV_POP3_SCRAM_MSG_MAX || memchr(sf, '\0', len) != NULL)
		return pv_fail(err, PV_EPROTO, "SCRAM: bad server-first-message");
	if (len >= 2 && sf[0] == 'm' && sf[1] == '=')
		return pv_fail(err, PV_EPROTO, "SCRAM: server requires an unknown extension");
	if (!scram_attr(sf, len, &pos, 'r', &nonce, &nonce_len) ||
	    !scram_attr(sf, len, &pos, 's', &salt64, &salt64_len) ||
	    !scram_attr(sf, len, &pos, 'i', &iter, &iter_len))
		return pv_fail(err, PV_EPROTO, "SCRAM: bad server-first-message");
	/* The server's nonce must extend ours (RFC 5802 §5.1 r=). */
	const char *ours = (const char *)s->client_first_bare.data +
			   s->client_first_bare.len - s->nonce_len;
	if (s->nonce_len == 0 || nonce_len <= s->nonce_len ||
	    memcmp(nonce, ours, s->nonce_len) != 0)
		return pv_fail(err, PV_EPROTO, "SCRAM: server nonce does not extend ours");
	for (size_t i = 0; i < nonce_len; i++)
		if (nonce[i] < 0x21 || nonce[i] > 0x7e)
			return pv_fail(err, PV_EPROTO, "SCRAM: bad server nonce");
	if (pop3_b64_decode(salt64, salt64_len, salt, sizeof(salt), &salt_len) < 0 ||
	    salt_len == 0)
		return pv_fail(err, PV_EPROTO, "SCRAM: bad salt");
	if (pv_parse_u64(iter, iter_len, PV_POP3_SCRAM_ITER_MIN, PV_POP3_SCRAM_ITER_MAX, 0,
			 &iterations) < 0)
		return pv_fail(err, PV_EPROTO, "SCRAM: iteration count %.*s refused",
			       (int)(iter_len < 20 ? iter_len : 20), iter);

	unsigned char salted[32], client_key[32], stored_key[32], server_key[32];
	unsigned char client_sig[32], proof[32];
	struct pv_buf final;
	pv_buf_init(&final, PV_POP3_SCRAM_MSG_MAX);
	/* client-final-message-without-proof; "biws" = base64("n,,"). */
	r = pv_buf_printf(&final, err, "c=biws,r=%.*s", (int)nonce_len, nonce);
	if (r == 0) {
		pv_buf_reset(&s->auth_message);
		if ((r = pv_buf_append(&s->auth_message, s->client_first_bare.data,
				       s->client_first_bare.len, err)) == 0 &&
		    (r = pv_buf_append(&s->auth_message, ",", 1, err)) == 0 &&
		    (r = pv_buf_append(&s->auth_message, sf, len, err)) == 0 &&
		    (r = pv_buf_append(&s->auth_message, ",", 1, err)) == 0)
			r = pv_buf_append(&s->auth_message, final.data, final.len, err);
	}
	if (r == 0) {
		const unsigned char *am = s->auth_message.data;
		size_t am_len = s->auth_message.len;
		unsigned int sl = 0;
		bool ok = PKCS5_PBKDF2_HMAC(pass, (int)strlen(pass), salt, (int)salt_len,
					    (int)iterations, EVP_sha256(), 32, salted) == 1 &&
			  hmac256(salted, 32, "Client Key", 10, client_key) &&
			  EVP_Digest(client_key, 32, stored_key, &sl, EVP_sha256(), NULL) == 1 &&
			  sl == 32 &&
			  hmac256(stored_key, 32, am, am_len, client_sig) &&
			  hmac256(salted, 32, "Server Key", 10, server_key) &&
			  hmac256(server_key, 32, am, am_len, s->server_signature);
		if (!ok)
			r = pv_fail(err, PV_ERR, "SCRAM: key derivation failed");
	}
	if (r == 0) {
		for (size_t i = 0; i < 32; i++)
			proof[i] = client_key[i] ^ client_sig[i];
		s->have_signature = true;
		if ((r = pv_buf_append(out, final.data, final.len, err)) == 0 &&
		    (r = pv_buf_append_str(out, ",p=", err)) == 0)
			r = pop3_b64_encode(proof, 32, out, err);
	}
	sodium_memzero(salted, sizeof(salted));
	sodium_memzero(client_key, sizeof(client_key));
	sodium_memzero(stored_key, sizeof(stored_key));
	sodium_memzero(server_key, sizeof(server_key));
	sodium_memzero(client_sig, sizeof(client_sig));
	sodium_memzero(proof, sizeof(proof));
	pv_buf_free(&final);
	return r;
}

int pop3_scram_verify_server(struct pop3_scram *s, const char *sf, size_t len,
			     struct pv_error *err)
{
	unsigned char v[64];
	size_t v_len, pos = 0;
	const char *val;
	size_t val_len;
	char shown[64];

	if (!s->have_signature)
		return pv_fail(err, PV_EPROTO, "SCRAM: no exchange to verify");
	if (len >= 2 && sf[0] == 'e' && sf[1] == '=') {
		pop3_sanitize(sf + 2, len - 2, shown, sizeof(shown));
		return pv_fail(err, PV_EAUTH, "SCRAM: server error %s", shown);
	}
	if (!scram_attr(sf, len, &pos, 'v', &val, &val_len) ||
	    pop3_b64_decode(val, val_len, v, sizeof(v), &v_len) < 0 || v_len != 32 ||
	    CRYPTO_memcmp(v, s->server_signature, 32) != 0)
		return pv_fail(err, PV_EAUTH,
			       "SCRAM: server signature is wrong: the server does not know the password");
	return PV_OK;
}
