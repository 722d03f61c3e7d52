#include "archiver/lib/secretstream.h"

#include <limits.h>
#include <stdbool.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define SS_COUNTER 4 /* the state's nonce: a 32-bit counter, then 8 bytes */
#define SS_INONCE 8  /* libsodium's INONCEBYTES (private) */

struct pv_ss {
	/* ChaCha20 fetched once, and set on the context by its first chunk
	 * only: EVP_chacha20() made every chunk's init fetch it from the
	 * providers again and remake the context (a sixth of pull's time). */
	EVP_CIPHER *chacha;
	bool cipher_set;
	EVP_CIPHER_CTX *cipher;
	EVP_MAC *mac;
	EVP_MAC_CTX *poly;
};

/* A few chunks pushed and pulled both ways from one state must agree: a
 * push that differed would seal records no pull can open (and their mail
 * is then deleted upstream); a pull that differed would refuse good
 * records or accept forged ones. Checked once per context (microseconds). */
static int self_check(struct pv_ss *p, struct pv_error *err)
{
	static const unsigned char tags[] = {0, crypto_secretstream_xchacha20poly1305_TAG_REKEY,
					     crypto_secretstream_xchacha20poly1305_TAG_FINAL};
	crypto_secretstream_xchacha20poly1305_state a, b, pa, pb;
	unsigned char key[crypto_secretstream_xchacha20poly1305_KEYBYTES];
	unsigned char header[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
	unsigned char m[150], ca[sizeof(m) + crypto_secretstream_xchacha20poly1305_ABYTES];
	unsigned char cb[sizeof(ca)], back[sizeof(m)];
	unsigned long long la, lb, lm;
	unsigned char tag;
	int r = PV_OK;
	for (size_t i = 0; i < sizeof(m); i++)
		m[i] = (unsigned char)(i * 7);
	memset(key, 0x5a, sizeof(key));
	crypto_secretstream_xchacha20poly1305_init_push(&a, header, key);
	b = a;
	if (crypto_secretstream_xchacha20poly1305_init_pull(&pa, header, key) != 0)
		return pv_fail(err, PV_ERR, "secretstream: libsodium refused its own header");
	pb = pa;
	for (size_t i = 0; r == PV_OK && i < sizeof(tags); i++) {
		size_t len = sizeof(m) - 61 * i; /* 150, 89, 28: across blocks and padding */
		crypto_secretstream_xchacha20poly1305_push(&a, ca, &la, m, len, NULL, 0, tags[i]);
		if ((r = pv_ss_push(p, &b, cb, &lb, m, len, tags[i], err)) == PV_OK &&
		    (la != lb || memcmp(ca, cb, (size_t)la) != 0))
			r = pv_fail(err, PV_ERR, "secretstream: OpenSSL's ChaCha20-Poly1305 does not "
						 "match libsodium's; refusing to seal with it");
		if (r == PV_OK && crypto_secretstream_xchacha20poly1305_pull(&pa, back, &lm, &tag, ca,
									     la, NULL, 0) != 0)
			r = pv_fail(err, PV_ERR, "secretstream: libsodium refused its own chunk");
		ca[(i * 40) % la] ^= 1; /* forged: must be refused, the state kept */
		if (r == PV_OK && pv_ss_pull(p, &pb, back, &lm, &tag, ca, (size_t)la, err) !=
					  PV_EINTEGRITY)
			r = pv_fail(err, PV_ERR, "secretstream: OpenSSL's pull accepted a forged chunk");
		ca[(i * 40) % la] ^= 1;
		if (r == PV_OK &&
		    ((r = pv_ss_pull(p, &pb, back, &lm, &tag, ca, (size_t)la, err)) != PV_OK ||
		     lm != len || tag != tags[i] || memcmp(back, m, len) != 0 ||
		     memcmp(&pa, &pb, sizeof(pa)) != 0))
			r = pv_fail(err, PV_ERR, "secretstream: OpenSSL's ChaCha20-Poly1305 does not "
						 "open what libsodium sealed; refusing to use it");
	}
	sodium_memzero(&a, sizeof(a));
	sodium_memzero(&b, sizeof(b));
	sodium_memzero(&pa, sizeof(pa));
	sodium_memzero(&pb, sizeof(pb));
	return r;
}

int pv_ss_new(struct pv_ss **p_r, struct pv_error *err)
{
	struct pv_ss *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	p->chacha = EVP_CIPHER_fetch(NULL, "ChaCha20", NULL);
	p->cipher = EVP_CIPHER_CTX_new();
	p->mac = EVP_MAC_fetch(NULL, "POLY1305", NULL);
	p->poly = p->mac ? EVP_MAC_CTX_new(p->mac) : NULL;
	if (p->chacha == NULL || p->cipher == NULL || p->poly == NULL) {
		pv_ss_free(&p);
		return pv_fail(err, PV_ERR, "OpenSSL: no ChaCha20 or Poly1305");
	}
	int r = self_check(p, err);
	if (r < 0) {
		pv_ss_free(&p);
		return r;
	}
	*p_r = p;
	return PV_OK;
}

void pv_ss_free(struct pv_ss **pp)
{
	struct pv_ss *p = *pp;
	if (p == NULL)
		return;
	EVP_CIPHER_CTX_free(p->cipher);
	EVP_CIPHER_free(p->chacha);
	EVP_MAC_CTX_free(p->poly);
	EVP_MAC_free(p->mac);
	free(p);
	*pp = NULL;
}

static void le64(unsigned char out[8], uint64_t v)
{
	for (int i = 0; i < 8; i++)
		out[i] = (unsigned char)(v >> (8 * i));
}

/* The construction of libsodium's secretstream.c: one ChaCha20 (IETF)
 * stream under the state's key and nonce, its block 0 the Poly1305 key,
 * block 1 the tag block (`first` XORed into its byte 0: the tag when
 * pushing, the sealed tag when pulling), the message from block 2, which
 * the cipher is left at; the MAC over the tag block, the message,
 * libsodium's padding and the two lengths. */
static bool chunk_start(struct pv_ss *p, const crypto_secretstream_xchacha20poly1305_state *st,
			unsigned char first, unsigned char block0[64], unsigned char block[64])
{
	static const unsigned char zero[64];
	unsigned char iv[16];
	int n;
	memset(iv, 0, 4); /* block counter 0 (little-endian), then the nonce */
	memcpy(iv + 4, st->nonce, sizeof(st->nonce));
	memset(block, 0, 64);
	block[0] = first;
	/* A new key and IV on the cipher already set: the stream starts over. */
	if (EVP_EncryptInit_ex2(p->cipher, p->cipher_set ? NULL : p->chacha, st->k, iv, NULL) != 1)
		return false;
	p->cipher_set = true;
	return EVP_EncryptUpdate(p->cipher, block0, &n, zero, 64) == 1 &&
	       EVP_EncryptUpdate(p->cipher, block, &n, block, 64) == 1;
}

static bool chunk_mac(struct pv_ss *p, const unsigned char block0[64],
		      const unsigned char block[64], const unsigned char *ct, size_t mlen,
		      unsigned char mac[16])
{
	static const unsigned char zero[16];
	unsigned char lens[16];
	size_t maclen = 0;
	size_t pad = (0x10 - 64 + mlen) & 0xf; /* libsodium's, as it is */
	le64(lens, 0);
	le64(lens + 8, (uint64_t)64 + mlen);
	return EVP_MAC_init(p->poly, block0, 32, NULL) == 1 &&
	       EVP_MAC_update(p->poly, block, 64) == 1 &&
	       (mlen == 0 || EVP_MAC_update(p->poly, ct, mlen) == 1) &&
	       (pad == 0 || EVP_MAC_update(p->poly, zero, pad) == 1) &&
	       EVP_MAC_update(p->poly, lens, sizeof(lens)) == 1 &&
	       EVP_MAC_final(p->poly, mac, &maclen, 16) == 1 && maclen == 16;
}

/* The MAC's first 8 bytes XORed into the nonce; the counter incremented;
 * a rekey on TAG_REKEY or when the counter wraps. */
static void chunk_end(crypto_secretstream_xchacha20poly1305_state *st, const unsigned char mac[16],
		      unsigned char tag)
{
	for (size_t i = 0; i < SS_INONCE; i++)
		st->nonce[SS_COUNTER + i] ^= mac[i];
	sodium_increment(st->nonce, SS_COUNTER);
	if ((tag & crypto_secretstream_xchacha20poly1305_TAG_REKEY) != 0 ||
	    sodium_is_zero(st->nonce, SS_COUNTER))
		crypto_secretstream_xchacha20poly1305_rekey(st);
}

int pv_ss_push(struct pv_ss *p, crypto_secretstream_xchacha20poly1305_state *st,
	       unsigned char *c, unsigned long long *clen_r, const unsigned char *m, size_t mlen,
	       unsigned char tag, struct pv_error *err)
{
	unsigned char block0[64], block[64], mac[16];
	unsigned char *ct = c + 1;
	int n;

	if (mlen > INT_MAX - 64)
		return pv_fail(err, PV_ERR, "secretstream: chunk too long");
	bool ok = chunk_start(p, st, tag, block0, block) &&
		  (mlen == 0 || EVP_EncryptUpdate(p->cipher, ct, &n, m, (int)mlen) == 1) &&
		  chunk_mac(p, block0, block, ct, mlen, mac);
	sodium_memzero(block0, sizeof(block0));
	if (!ok) {
		sodium_memzero(block, sizeof(block));
		return pv_fail(err, PV_ERR, "OpenSSL: ChaCha20-Poly1305 failed");
	}
	c[0] = block[0];
	sodium_memzero(block, sizeof(block));
	memcpy(ct + mlen, mac, sizeof(mac));
	chunk_end(st, mac, tag);
	*clen_r = mlen + crypto_secretstream_xchacha20poly1305_ABYTES;
	return PV_OK;
}

int pv_ss_pull(struct pv_ss *p, crypto_secretstream_xchacha20poly1305_state *st,
	       unsigned char *m, unsigned long long *mlen_r, unsigned char *tag_r,
	       const unsigned char *c, size_t clen, struct pv_error *err)
{
	unsigned char block0[64], block[64], mac[16];
	const unsigned char *ct = c + 1;
	int n;

	if (clen < crypto_secretstream_xchacha20poly1305_ABYTES)
		return pv_fail(err, PV_EINTEGRITY, "secretstream: chunk too short");
	size_t mlen = clen - crypto_secretstream_xchacha20poly1305_ABYTES;
	if (mlen > INT_MAX - 64)
		return pv_fail(err, PV_ERR, "secretstream: chunk too long");
	bool ok = chunk_start(p, st, c[0], block0, block);
	unsigned char tag = block[0];
	block[0] = c[0]; /* the MAC covers the sealed tag block */
	ok = ok && chunk_mac(p, block0, block, ct, mlen, mac);
	sodium_memzero(block0, sizeof(block0));
	sodium_memzero(block, sizeof(block));
	if (!ok)
		return pv_fail(err, PV_ERR, "OpenSSL: ChaCha20-Poly1305 failed");
	if (sodium_memcmp(mac, ct + mlen, sizeof(mac)) != 0) {
		sodium_memzero(mac, sizeof(mac));
		return pv_fail(err, PV_EINTEGRITY, "secretstream: authentication failed");
	}
	/* Authenticated: the cipher is at block 2, where the message starts. */
	if (mlen > 0 && EVP_EncryptUpdate(p->cipher, m, &n, ct, (int)mlen) != 1)
		return pv_fail(err, PV_ERR, "OpenSSL: ChaCha20 failed");
	chunk_end(st, mac, tag);
	*mlen_r = mlen;
	*tag_r = tag;
	return PV_OK;
}
