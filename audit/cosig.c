#include "audit/cosig.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "archiver/lib/base64.h"
#include "archiver/lib/hex.h"
#include "archiver/lib/random.h"

#define EM_DASH_SP "\xe2\x80\x94 "
#define SKEY_PREFIX "PRIVATE+KEY+"
#define HEADER "cosignature/v1\n"

uint32_t cosig_key_id(const char *name, const uint8_t pk[32])
{
	return note_key_id_typed(name, COSIG_TYPE_ED25519, pk);
}

/* "name+hex8+base64(0x04 || 32 bytes)": the name, the id and the key. */
static int split(const char *s, size_t len, char name[PV_KEY_NAME_MAX + 1], uint32_t *id,
		 uint8_t key[32])
{
	const char *p1 = memchr(s, '+', len);
	const char *p2 = p1 ? memchr(p1 + 1, '+', len - (size_t)(p1 + 1 - s)) : NULL;
	unsigned char idb[4], raw[33];
	size_t n;
	if (p1 == NULL || p2 == NULL || p2 - p1 != 9 || !note_name_valid(s, (size_t)(p1 - s)) ||
	    pv_unhex(p1 + 1, 8, idb, 4) != 0 ||
	    pv_b64_decode(p2 + 1, len - (size_t)(p2 + 1 - s), raw, sizeof(raw), &n) != 0 ||
	    n != 33 || raw[0] != COSIG_TYPE_ED25519) {
		sodium_memzero(raw, sizeof(raw));
		return -1;
	}
	memcpy(name, s, (size_t)(p1 - s));
	name[p1 - s] = '\0';
	*id = (uint32_t)idb[0] << 24 | (uint32_t)idb[1] << 16 | (uint32_t)idb[2] << 8 | idb[3];
	memcpy(key, raw + 1, 32);
	sodium_memzero(raw, sizeof(raw));
	return 0;
}

int cosig_verifier_parse(const char *vkey, size_t len, struct cosig_verifier *v, struct pv_error *err)
{
	memset(v, 0, sizeof(*v));
	if (len > PV_KEY_NAME_MAX + 64 || split(vkey, len, v->name, &v->id, v->pk) != 0)
		return pv_fail(err, PV_EINTEGRITY, "'%.*s' is not a witness key (name+id+base64 of "
						   "0x04 and an Ed25519 key)", (int)(len > 80 ? 80 : len), vkey);
	if (cosig_key_id(v->name, v->pk) != v->id) {
		memset(v, 0, sizeof(*v));
		return pv_fail(err, PV_EINTEGRITY, "witness key id does not match its key");
	}
	return 0;
}

static int format_key(const char *prefix, const char *name, uint32_t id, const uint8_t k[32],
		      struct pv_buf *out, struct pv_error *err)
{
	uint8_t raw[33];
	char b64[sodium_base64_ENCODED_LEN(33, sodium_base64_VARIANT_ORIGINAL)];
	raw[0] = COSIG_TYPE_ED25519;
	memcpy(raw + 1, k, 32);
	sodium_bin2base64(b64, sizeof(b64), raw, sizeof(raw), sodium_base64_VARIANT_ORIGINAL);
	int r = pv_buf_printf(out, err, "%s%s+%08x+%s", prefix, name, id, b64);
	sodium_memzero(raw, sizeof(raw));
	sodium_memzero(b64, sizeof(b64));
	return r;
}

int cosig_verifier_format(const struct cosig_verifier *v, struct pv_buf *out, struct pv_error *err)
{
	return format_key("", v->name, v->id, v->pk, out, err);
}

static int from_seed(const char *name, const uint8_t seed[32], struct cosig_signer *s,
		     struct pv_error *err)
{
	size_t n = strnlen(name, PV_KEY_NAME_MAX + 1);
	memset(s, 0, sizeof(*s));
	if (!note_name_valid(name, n))
		return pv_fail(err, PV_EUSAGE, "'%s' is not a valid witness name", name);
	memcpy(s->name, name, n);
	if (crypto_sign_seed_keypair(s->pk, s->sk, seed) != 0)
		return pv_fail(err, PV_ERR, "Ed25519 key derivation failed");
	s->id = cosig_key_id(s->name, s->pk);
	return 0;
}

int cosig_signer_generate(const char *name, struct cosig_signer *s, struct pv_error *err)
{
	uint8_t seed[32];
	pv_random_bytes(seed, sizeof(seed));
	int r = from_seed(name, seed, s, err);
	sodium_memzero(seed, sizeof(seed));
	return r;
}

int cosig_signer_parse(const char *skey, size_t len, struct cosig_signer *s, struct pv_error *err)
{
	const size_t pl = sizeof(SKEY_PREFIX) - 1;
	char name[PV_KEY_NAME_MAX + 1];
	uint8_t seed[32];
	uint32_t id;
	memset(s, 0, sizeof(*s));
	if (len < pl || memcmp(skey, SKEY_PREFIX, pl) != 0 ||
	    split(skey + pl, len - pl, name, &id, seed) != 0)
		return pv_fail(err, PV_ERR, "not a witness signing key (PRIVATE+KEY+name+id+key)");
	int r = from_seed(name, seed, s, err);
	sodium_memzero(seed, sizeof(seed));
	if (r == 0 && s->id != id) {
		cosig_signer_wipe(s);
		r = pv_fail(err, PV_ERR, "witness signing key id does not match its key");
	}
	return r;
}

int cosig_signer_format(const struct cosig_signer *s, struct pv_buf *out, struct pv_error *err)
{
	return format_key(SKEY_PREFIX, s->name, s->id, s->sk, out, err); /* sk = seed || pk */
}

void cosig_signer_verifier(const struct cosig_signer *s, struct cosig_verifier *v)
{
	memset(v, 0, sizeof(*v));
	memcpy(v->name, s->name, sizeof(v->name));
	v->id = s->id;
	memcpy(v->pk, s->pk, 32);
}

void cosig_signer_wipe(struct cosig_signer *s)
{
	sodium_memzero(s, sizeof(*s));
}

/* The signed message: header, time line, body. */
static int message(const char *text, size_t len, uint64_t t, struct pv_buf *m,
		   struct pv_error *err)
{
	int r = pv_buf_printf(m, err, HEADER "time %llu\n", (unsigned long long)t);
	return r < 0 ? r : pv_buf_append(m, text, len, err);
}

int cosig_sign(const struct cosig_signer *s, const char *text, size_t len, uint64_t t,
	       struct pv_buf *line_r, struct pv_error *err)
{
	uint8_t raw[COSIG_SIG_LEN];
	char b64[sodium_base64_ENCODED_LEN(COSIG_SIG_LEN, sodium_base64_VARIANT_ORIGINAL)];
	struct pv_buf m;
	int r;
	if (t > (uint64_t)INT64_MAX)
		return pv_fail(err, PV_ERR, "cosignature time out of range");
	if ((r = note_text_check(text, len, err)) < 0)
		return r;
	pv_buf_init(&m, PV_NOTE_MAX + 64);
	if ((r = message(text, len, t, &m, err)) == 0) {
		for (int i = 0; i < 4; i++)
			raw[i] = (uint8_t)(s->id >> (24 - 8 * i));
		for (int i = 0; i < 8; i++)
			raw[4 + i] = (uint8_t)(t >> (56 - 8 * i));
		if (crypto_sign_detached(raw + 12, NULL, m.data, m.len, s->sk) != 0)
			r = pv_fail(err, PV_ERR, "Ed25519 signing failed");
	}
	pv_buf_free(&m);
	if (r < 0)
		return r;
	sodium_bin2base64(b64, sizeof(b64), raw, sizeof(raw), sodium_base64_VARIANT_ORIGINAL);
	return pv_buf_printf(line_r, err, EM_DASH_SP "%s %s\n", s->name, b64);
}

int cosig_check_note(const char *note, size_t len, const struct cosig_verifier *ws, size_t nw,
		     bool *ok_r, uint64_t *time_r, struct pv_error *err)
{
	size_t text_len, nsigs;
	struct pv_buf m;
	int r;
	if (ok_r != NULL)
		memset(ok_r, 0, nw * sizeof(*ok_r));
	if ((r = note_split(note, len, &text_len, &nsigs, err)) < 0)
		return r;
	pv_buf_init(&m, PV_NOTE_MAX + 64);
	/* note_split checked every line's form: "— NAME BASE64\n". */
	const char *p = note + text_len + 1, *end = note + len;
	while (r == 0 && p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *name = p + sizeof(EM_DASH_SP) - 1;
		const char *sp = memchr(name, ' ', (size_t)(eol - name));
		size_t nl = (size_t)(sp - name), n = 0;
		uint8_t raw[2 * 64 + 4];
		for (size_t k = 0; k < nw && r == 0; k++) {
			if (strlen(ws[k].name) != nl || memcmp(ws[k].name, name, nl) != 0)
				continue;
			if (pv_b64_decode(sp + 1, (size_t)(eol - sp - 1), raw, sizeof(raw), &n) != 0 ||
			    n < 4)
				continue;
			uint32_t id = (uint32_t)raw[0] << 24 | (uint32_t)raw[1] << 16 |
				      (uint32_t)raw[2] << 8 | raw[3];
			if (id != ws[k].id)
				continue; /* another key of that name: not ours to judge */
			uint64_t t = 0;
			for (int i = 0; i < 8 && n == COSIG_SIG_LEN; i++)
				t = t << 8 | raw[4 + i];
			pv_buf_reset(&m);
			if (n != COSIG_SIG_LEN || t > (uint64_t)INT64_MAX ||
			    (r = message(note, text_len, t, &m, err)) < 0 ||
			    crypto_sign_verify_detached(raw + 12, m.data, m.len, ws[k].pk) != 0) {
				if (ok_r != NULL)
					memset(ok_r, 0, nw * sizeof(*ok_r));
				r = r < 0 ? r
					  : pv_fail(err, PV_EINTEGRITY, "bad cosignature by witness %s",
						    ws[k].name);
				break;
			}
			if (ok_r != NULL)
				ok_r[k] = true;
			if (time_r != NULL)
				time_r[k] = t;
		}
		p = eol + 1;
	}
	pv_buf_free(&m);
	return r;
}
