#include "audit/note.h"

#include <sodium.h>
#include <string.h>

#include "archiver/lib/base64.h"
#include "archiver/lib/hex.h"
#include "archiver/lib/utf8.h"
#include "audit/merkle.h"

#define EM_DASH_SP "\xe2\x80\x94 " /* U+2014 then a space */
#define SIG_ED25519_LEN (4 + crypto_sign_BYTES)
#define SKEY_PREFIX "PRIVATE+KEY+"

/* Unicode White_Space (what Go's unicode.IsSpace tests for names). */
static bool is_unicode_space(uint32_t c)
{
	return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680 ||
	       (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
	       c == 0x205f || c == 0x3000;
}

/* Valid UTF-8 with no control characters other than "\n" (signed-note
 * §Format; CR is a control character, which closes CRLF games). */
static int text_chars_check(const char *p, size_t len, struct pv_error *err)
{
	const unsigned char *s = (const unsigned char *)p;
	for (size_t i = 0; i < len;) {
		uint32_t c;
		size_t k = pv_utf8_decode(s + i, len - i, &c);
		if (k == 0)
			return pv_fail(err, PV_EINTEGRITY, "note: invalid UTF-8 at byte %zu", i);
		if (c < 0x20 && c != '\n')
			return pv_fail(err, PV_EINTEGRITY, "note: control character 0x%02x at byte %zu",
				       (unsigned)c, i);
		i += k;
	}
	return 0;
}

bool note_name_valid(const char *name, size_t len)
{
	const unsigned char *s = (const unsigned char *)name;
	if (len == 0 || len > PV_KEY_NAME_MAX)
		return false;
	for (size_t i = 0; i < len;) {
		uint32_t c;
		size_t k = pv_utf8_decode(s + i, len - i, &c);
		if (k == 0 || c < 0x20 || c == 0x7f || c == '+' || is_unicode_space(c))
			return false;
		i += k;
	}
	return true;
}

uint32_t note_key_id(const char *name, const uint8_t pk[32])
{
	return note_key_id_typed(name, NOTE_SIG_ED25519, pk);
}

uint32_t note_key_id_typed(const char *name, uint8_t type, const uint8_t pk[32])
{
	unsigned char buf[PV_KEY_NAME_MAX + 2 + 32];
	merkle_hash h;
	size_t n = strnlen(name, PV_KEY_NAME_MAX);
	memcpy(buf, name, n);
	buf[n] = '\n';
	buf[n + 1] = type;
	memcpy(buf + n + 2, pk, 32);
	merkle_sha256(buf, n + 2 + 32, h);
	return (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
}

/* A key ID: 8 hex digits (either case), big-endian. */
static int parse_hex8(const char *s, size_t len, uint32_t *v)
{
	unsigned char b[4];
	if (pv_unhex(s, len, b, 4) != 0)
		return -1;
	*v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
	return 0;
}

/* Strict standard base64 (RFC 4648 §4, padded, canonical) of exactly
 * `want` bytes, or of 1..max bytes when want is 0. */
static int b64_field(const char *s, size_t len, uint8_t *out, size_t max, size_t want,
		     size_t *len_r)
{
	size_t n = 0;
	if (pv_b64_decode(s, len, out, max, &n) != 0)
		return -1;
	if ((want != 0 && n != want) || n == 0)
		return -1;
	if (len_r != NULL)
		*len_r = n;
	return 0;
}

/* Splits "name+hex+base64" into its three parts. */
static int split_key(const char *s, size_t len, size_t *name_len, const char **hex,
		     const char **b64, size_t *b64_len)
{
	const char *p1 = memchr(s, '+', len);
	if (p1 == NULL)
		return -1;
	const char *p2 = memchr(p1 + 1, '+', len - (size_t)(p1 + 1 - s));
	if (p2 == NULL || p2 - p1 - 1 != 8)
		return -1;
	*name_len = (size_t)(p1 - s);
	*hex = p1 + 1;
	*b64 = p2 + 1;
	*b64_len = len - (size_t)(p2 + 1 - s);
	return 0;
}

int note_verifier_parse(const char *vkey, size_t len, struct note_verifier *v_r,
			struct pv_error *err)
{
	size_t name_len, b64_len;
	const char *hex, *b64;
	uint8_t key[33];
	uint32_t id;

	memset(v_r, 0, sizeof(*v_r));
	if (len > NOTE_VKEY_MAX || split_key(vkey, len, &name_len, &hex, &b64, &b64_len) != 0)
		return pv_fail(err, PV_EINTEGRITY, "verifier key is not name+id+key");
	if (!note_name_valid(vkey, name_len))
		return pv_fail(err, PV_EINTEGRITY, "verifier key has an invalid name");
	if (parse_hex8(hex, 8, &id) != 0)
		return pv_fail(err, PV_EINTEGRITY, "verifier key id is not 8 hex digits");
	if (b64_field(b64, b64_len, key, sizeof(key), sizeof(key), NULL) != 0 ||
	    key[0] != NOTE_SIG_ED25519)
		return pv_fail(err, PV_EINTEGRITY, "verifier key is not an Ed25519 key");
	memcpy(v_r->name, vkey, name_len);
	v_r->name[name_len] = '\0';
	memcpy(v_r->pk, key + 1, 32);
	v_r->id = id;
	if (note_key_id(v_r->name, v_r->pk) != id) {
		memset(v_r, 0, sizeof(*v_r));
		return pv_fail(err, PV_EINTEGRITY, "verifier key id does not match its key");
	}
	return 0;
}

int note_verifier_format(const struct note_verifier *v, struct pv_buf *out, struct pv_error *err)
{
	uint8_t key[33];
	char b64[sodium_base64_ENCODED_LEN(33, sodium_base64_VARIANT_ORIGINAL)];
	key[0] = NOTE_SIG_ED25519;
	memcpy(key + 1, v->pk, 32);
	sodium_bin2base64(b64, sizeof(b64), key, sizeof(key), sodium_base64_VARIANT_ORIGINAL);
	return pv_buf_printf(out, err, "%s+%08x+%s", v->name, v->id, b64);
}

int note_signer_from_seed(const char *name, const uint8_t seed[32], struct note_signer *s_r,
			  struct pv_error *err)
{
	size_t n = strnlen(name, PV_KEY_NAME_MAX + 1);
	memset(s_r, 0, sizeof(*s_r));
	if (!note_name_valid(name, n))
		return pv_fail(err, PV_ERR, "invalid key name");
	memcpy(s_r->name, name, n);
	if (crypto_sign_seed_keypair(s_r->pk, s_r->sk, seed) != 0)
		return pv_fail(err, PV_ERR, "Ed25519 key derivation failed");
	s_r->id = note_key_id(s_r->name, s_r->pk);
	return 0;
}

int note_signer_parse(const char *skey, size_t len, struct note_signer *s_r,
		      struct pv_error *err)
{
	const size_t plen = sizeof(SKEY_PREFIX) - 1;
	size_t name_len, b64_len;
	const char *hex, *b64;
	uint8_t key[33];
	char name[PV_KEY_NAME_MAX + 1];
	uint32_t id;
	int r;

	memset(s_r, 0, sizeof(*s_r));
	if (len < plen || memcmp(skey, SKEY_PREFIX, plen) != 0 ||
	    split_key(skey + plen, len - plen, &name_len, &hex, &b64, &b64_len) != 0 ||
	    !note_name_valid(skey + plen, name_len) || parse_hex8(hex, 8, &id) != 0)
		return pv_fail(err, PV_ERR, "signing key is not PRIVATE+KEY+name+id+key");
	if (b64_field(b64, b64_len, key, sizeof(key), sizeof(key), NULL) != 0 ||
	    key[0] != NOTE_SIG_ED25519) {
		sodium_memzero(key, sizeof(key));
		return pv_fail(err, PV_ERR, "signing key is not an Ed25519 seed");
	}
	memcpy(name, skey + plen, name_len);
	name[name_len] = '\0';
	r = note_signer_from_seed(name, key + 1, s_r, err);
	sodium_memzero(key, sizeof(key));
	if (r < 0)
		return r;
	if (s_r->id != id) {
		note_signer_wipe(s_r);
		return pv_fail(err, PV_ERR, "signing key id does not match its key");
	}
	return 0;
}

int note_signer_format(const struct note_signer *s, struct pv_buf *out, struct pv_error *err)
{
	uint8_t key[33];
	char b64[sodium_base64_ENCODED_LEN(33, sodium_base64_VARIANT_ORIGINAL)];
	if (s->remote != NULL)
		return pv_fail(err, PV_ERR, "key %s is held by the signer process", s->name);
	key[0] = NOTE_SIG_ED25519;
	memcpy(key + 1, s->sk, 32); /* the seed half of libsodium's secret key */
	sodium_bin2base64(b64, sizeof(b64), key, sizeof(key), sodium_base64_VARIANT_ORIGINAL);
	int r = pv_buf_printf(out, err, SKEY_PREFIX "%s+%08x+%s", s->name, s->id, b64);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(b64, sizeof(b64));
	return r;
}

void note_signer_verifier(const struct note_signer *s, struct note_verifier *v_r)
{
	memset(v_r, 0, sizeof(*v_r));
	memcpy(v_r->name, s->name, sizeof(v_r->name));
	v_r->id = s->id;
	memcpy(v_r->pk, s->pk, 32);
}

void note_signer_wipe(struct note_signer *s)
{
	sodium_memzero(s, sizeof(*s));
}

int note_text_check(const char *text, size_t len, struct pv_error *err)
{
	if (len == 0 || text[len - 1] != '\n')
		return pv_fail(err, PV_EINTEGRITY, "note: text must end with a newline");
	if (len > PV_NOTE_MAX)
		return pv_fail(err, PV_ELIMIT, "note: text over %d bytes", PV_NOTE_MAX);
	return text_chars_check(text, len, err);
}

int note_sign(const char *text, size_t len, const struct note_signer *s, struct pv_buf *out,
	      struct pv_error *err)
{
	uint8_t sig[SIG_ED25519_LEN];
	char b64[sodium_base64_ENCODED_LEN(SIG_ED25519_LEN, sodium_base64_VARIANT_ORIGINAL)];
	int r;

	if ((r = note_text_check(text, len, err)) < 0)
		return r;
	if (s->remote != NULL)
		return s->remote->sign_text(s->remote_ctx, s, text, len, out, err);
	sig[0] = (uint8_t)(s->id >> 24);
	sig[1] = (uint8_t)(s->id >> 16);
	sig[2] = (uint8_t)(s->id >> 8);
	sig[3] = (uint8_t)s->id;
	if (crypto_sign_detached(sig + 4, NULL, (const unsigned char *)text, len, s->sk) != 0)
		return pv_fail(err, PV_ERR, "Ed25519 signing failed");
	sodium_bin2base64(b64, sizeof(b64), sig, sizeof(sig), sodium_base64_VARIANT_ORIGINAL);
	if ((r = pv_buf_append(out, text, len, err)) < 0 ||
	    (r = pv_buf_printf(out, err, "\n" EM_DASH_SP "%s %s\n", s->name, b64)) < 0)
		return r;
	return 0;
}

struct sig_line {
	const char *name;
	size_t name_len;
	uint32_t id;
	uint8_t sig[crypto_sign_BYTES];
	size_t sig_len; /* bytes after the key ID */
};

/* Splits and checks a note; fills lines[0..*n) (lines may be NULL to only
 * count). Returns the text length through text_len. */
static int note_parse(const char *note, size_t len, size_t *text_len, struct sig_line *lines,
		      size_t *n, struct pv_error *err)
{
	int r;
	*n = 0;
	if (len > PV_NOTE_MAX)
		return pv_fail(err, PV_ELIMIT, "note: over %d bytes", PV_NOTE_MAX);
	if (len == 0 || note[len - 1] != '\n')
		return pv_fail(err, PV_EINTEGRITY, "note: no final newline");
	if ((r = text_chars_check(note, len, err)) < 0)
		return r;
	/* The text ends at the last blank line (signed-note §Format). */
	size_t split = len;
	for (size_t i = len - 1; i-- > 0;)
		if (note[i] == '\n' && note[i + 1] == '\n') {
			split = i;
			break;
		}
	if (split == len)
		return pv_fail(err, PV_EINTEGRITY, "note: no blank line before the signatures");
	*text_len = split + 1;

	const char *p = note + split + 2, *end = note + len;
	if (p == end)
		return pv_fail(err, PV_EINTEGRITY, "note: no signature lines");
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t ll = (size_t)(eol - p), dl = sizeof(EM_DASH_SP) - 1;
		if (*n >= PV_NOTE_SIGNATURES_MAX)
			return pv_fail(err, PV_EINTEGRITY, "note: more than %d signatures",
				       PV_NOTE_SIGNATURES_MAX);
		if (ll < dl || memcmp(p, EM_DASH_SP, dl) != 0)
			return pv_fail(err, PV_EINTEGRITY, "note: signature line %zu has no em dash",
				       *n + 1);
		const char *name = p + dl;
		const char *sp = memchr(name, ' ', (size_t)(eol - name));
		if (sp == NULL || !note_name_valid(name, (size_t)(sp - name)))
			return pv_fail(err, PV_EINTEGRITY, "note: signature line %zu has a bad name",
				       *n + 1);
		uint8_t raw[4 + 2 * crypto_sign_BYTES];
		size_t raw_len;
		/* Other algorithms' signatures can be longer; they belong to keys
		 * we do not know, but stay bounded. */
		if (b64_field(sp + 1, (size_t)(eol - sp - 1), raw, sizeof(raw), 0, &raw_len) != 0 ||
		    raw_len < 5)
			return pv_fail(err, PV_EINTEGRITY, "note: signature line %zu is not base64",
				       *n + 1);
		struct sig_line sl = {name, (size_t)(sp - name), 0, {0}, 0};
		sl.id = (uint32_t)raw[0] << 24 | (uint32_t)raw[1] << 16 | (uint32_t)raw[2] << 8 | raw[3];
		sl.sig_len = raw_len - 4;
		if (sl.sig_len == crypto_sign_BYTES)
			memcpy(sl.sig, raw + 4, crypto_sign_BYTES);
		if (lines != NULL) {
			for (size_t k = 0; k < *n; k++)
				if (lines[k].id == sl.id && lines[k].name_len == sl.name_len &&
				    memcmp(lines[k].name, sl.name, sl.name_len) == 0)
					return pv_fail(err, PV_EINTEGRITY,
						       "note: two signatures by the same key");
			lines[*n] = sl;
		}
		(*n)++;
		p = eol + 1;
	}
	return 0;
}

int note_split(const char *note, size_t len, size_t *text_len_r, size_t *nsigs_r,
	       struct pv_error *err)
{
	struct sig_line lines[PV_NOTE_SIGNATURES_MAX];
	return note_parse(note, len, text_len_r, lines, nsigs_r, err);
}

int note_open(const char *note, size_t len, const struct note_verifier *vs, size_t nv,
	      size_t *text_len_r, bool *verified_r, struct pv_error *err)
{
	struct sig_line lines[PV_NOTE_SIGNATURES_MAX];
	size_t n, text_len, good = 0;
	int r;

	*text_len_r = 0;
	if (verified_r != NULL)
		memset(verified_r, 0, nv * sizeof(*verified_r));
	if ((r = note_parse(note, len, &text_len, lines, &n, err)) < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < nv; k++) {
			const struct note_verifier *v = &vs[k];
			if (v->id != lines[i].id || strlen(v->name) != lines[i].name_len ||
			    memcmp(v->name, lines[i].name, lines[i].name_len) != 0)
				continue;
			/* Known (name, id): the signature must verify, else the
			 * whole note is rejected (signed-note §Signatures). */
			if (lines[i].sig_len != crypto_sign_BYTES ||
			    crypto_sign_verify_detached(lines[i].sig, (const unsigned char *)note,
							text_len, v->pk) != 0) {
				if (verified_r != NULL)
					memset(verified_r, 0, nv * sizeof(*verified_r));
				return pv_fail(err, PV_EINTEGRITY, "note: bad signature by %s+%08x",
					       v->name, v->id);
			}
			if (verified_r != NULL)
				verified_r[k] = true;
			good++;
		}
	}
	if (good == 0)
		return pv_fail(err, PV_EINTEGRITY, "note: no signature by a trusted key");
	*text_len_r = text_len;
	return 0;
}
