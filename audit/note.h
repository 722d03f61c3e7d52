#ifndef PV_NOTE_H
#define PV_NOTE_H

/* C2SP signed-note (c2sp.org/signed-note) with Ed25519 keys.
 *
 *   note      = text (ends in "\n") "\n" 1*("— " name " " base64(keyid || sig) "\n")
 *   key ID    = SHA-256(name || "\n" || 0x01 || pk)[:4], big-endian
 *   vkey      = name "+" hex8(key ID) "+" base64(0x01 || pk)
 *   skey      = "PRIVATE+KEY+" name "+" hex8(key ID) "+" base64(0x01 || seed)
 *               (the form Go's sumdb/note uses; it is a secret)
 *
 * Opening a note is strict: valid UTF-8, no control characters but "\n"
 * (so no CR), a final newline, well-formed signature lines, no two lines
 * for the same (name, key ID), at most PV_NOTE_SIGNATURES_MAX lines and
 * PV_NOTE_MAX bytes. Lines from unknown keys are ignored; a bad signature
 * from a known key rejects the note; so does having no known signature. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/buf.h"
#include "archiver/lib/error.h"
#include "archiver/lib/limits.h"

#define NOTE_SIG_ED25519 0x01
/* Bytes of a vkey string, NUL excluded, for the longest allowed name. */
#define NOTE_VKEY_MAX (PV_KEY_NAME_MAX + 1 + 8 + 1 + 44)

struct note_verifier {
	char name[PV_KEY_NAME_MAX + 1];
	uint32_t id;
	uint8_t pk[32];
};

struct note_signer;
struct tlog;

/* A key whose private half lives in another process, the signer
 * (archiver/signer/signer.h): it signs only what it has checked itself.
 * Every call fills err with the signer's reason when it refuses. */
struct note_remote_ops {
	/* A bundle manifest text (audit/bundle.h), signed by key s. */
	int (*sign_text)(void *ctx, const struct note_signer *s, const char *text, size_t len,
			 struct pv_buf *out, struct pv_error *err);
	/* A checkpoint body of log t, by the key whose vkey is given (the
	 * key of the checkpoint's epoch): the implementation proves to the
	 * signer that the tree extends the last one it signed. */
	int (*sign_checkpoint)(void *ctx, struct tlog *t, const char *vkey, const char *body,
			       size_t len, struct pv_buf *out, struct pv_error *err);
	/* Key rotation (audit/keys.h): the signer makes and keeps the new key
	 * (its vkey appended to new_vkey_r), then the old key s signs the
	 * rotation note body for log t. */
	int (*rotate_prepare)(void *ctx, const struct note_signer *s, struct pv_buf *new_vkey_r,
			      struct pv_error *err);
	int (*sign_rotation)(void *ctx, struct tlog *t, const char *body, size_t len,
			     struct pv_buf *out, struct pv_error *err);
};

/* Holds a secret key: keep it in locked memory (keys.h hands them out from
 * sodium_malloc) and wipe it with note_signer_wipe. A remote key (remote
 * not NULL) holds only the public half; sk is zero and every signature
 * goes through remote. */
struct note_signer {
	char name[PV_KEY_NAME_MAX + 1];
	uint32_t id;
	uint8_t pk[32];
	uint8_t sk[64]; /* libsodium form: seed || pk */
	const struct note_remote_ops *remote;
	void *remote_ctx;
};

/* A key name: non-empty, at most PV_KEY_NAME_MAX bytes, UTF-8, no Unicode
 * space, no '+', no control character. */
bool note_name_valid(const char *name, size_t len);
uint32_t note_key_id(const char *name, const uint8_t pk[32]);
/* The same for another signature type (C2SP signed-note §Signatures:
 * SHA-256(name || "\n" || type || key)[:4]); note_key_id is type 0x01. */
uint32_t note_key_id_typed(const char *name, uint8_t type, const uint8_t pk[32]);

int note_verifier_parse(const char *vkey, size_t len, struct note_verifier *v_r,
			struct pv_error *err) PV_WARN_UNUSED;
/* Appends the vkey string to out. */
int note_verifier_format(const struct note_verifier *v, struct pv_buf *out, struct pv_error *err);

int note_signer_from_seed(const char *name, const uint8_t seed[32], struct note_signer *s_r,
			  struct pv_error *err);
int note_signer_parse(const char *skey, size_t len, struct note_signer *s_r,
		      struct pv_error *err) PV_WARN_UNUSED;
/* Appends the skey string to out: a secret, free out with pv_buf_free_secret.
 * PV_ERR for a remote key (its seed is not here). */
int note_signer_format(const struct note_signer *s, struct pv_buf *out, struct pv_error *err);
void note_signer_verifier(const struct note_signer *s, struct note_verifier *v_r);
void note_signer_wipe(struct note_signer *s);

/* Checks that text can be signed: valid UTF-8, non-empty, ends in "\n", no
 * control characters but "\n". */
int note_text_check(const char *text, size_t len, struct pv_error *err) PV_WARN_UNUSED;

/* Appends text, the blank line and one signature line by s to out. A
 * remote key signs only bundle manifests (note_remote_ops.sign_text). */
int note_sign(const char *text, size_t len, const struct note_signer *s, struct pv_buf *out,
	      struct pv_error *err);

/* Opens a signed note against the trusted verifiers vs[0..nv). On success
 * the text is note[0 .. *text_len_r) and, when verified_r is not NULL,
 * verified_r[i] tells whether vs[i] signed it. Failures: PV_EINTEGRITY
 * (malformed, bad or no known signature), PV_ELIMIT (too big). */
int note_open(const char *note, size_t len, const struct note_verifier *vs, size_t nv,
	      size_t *text_len_r, bool *verified_r, struct pv_error *err) PV_WARN_UNUSED;

/* The same checks as note_open without verifying any signature: splits the
 * note and reports the text length and signature-line count. For tools
 * that inspect notes; never trust the text it returns. */
int note_split(const char *note, size_t len, size_t *text_len_r, size_t *nsigs_r,
	       struct pv_error *err) PV_WARN_UNUSED;

#endif
