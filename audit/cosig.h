#ifndef PV_COSIG_H
#define PV_COSIG_H

/* Witness cosignatures: C2SP tlog-cosignature, Ed25519 cosignature/v1.
 *
 *   key ID     = SHA-256(name || "\n" || 0x04 || pk)[:4]
 *   vkey       = name "+" hex8(key ID) "+" base64(0x04 || pk)
 *   skey       = "PRIVATE+KEY+" name "+" hex8(key ID) "+" base64(0x04 || seed)
 *   line       = "— " name " " base64(key ID || u64be(time) || signature) "\n"
 *   signed     = "cosignature/v1\n" "time " decimal(time) "\n" || checkpoint body
 *
 * A cosignature says: as of `time`, this is the largest tree of the
 * log the witness has seen that is consistent with everything before it
 * (c2sp.org/tlog-witness). It is a signature line of the checkpoint's
 * signed note, appended after the log's own. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/buf.h"
#include "archiver/lib/error.h"
#include "archiver/lib/limits.h"
#include "audit/note.h"

#define COSIG_TYPE_ED25519 0x04
/* key ID, timestamp, signature */
#define COSIG_SIG_LEN (4 + 8 + 64)
/* Bytes of a cosignature line, the final "\n" included. */
#define COSIG_LINE_MAX (4 + PV_KEY_NAME_MAX + 1 + 104 + 1)

struct cosig_verifier {
	char name[PV_KEY_NAME_MAX + 1];
	uint32_t id;
	uint8_t pk[32];
};

/* A witness's key: secret (keep it in memory as briefly as possible,
 * wipe with cosig_signer_wipe). */
struct cosig_signer {
	char name[PV_KEY_NAME_MAX + 1];
	uint32_t id;
	uint8_t pk[32];
	uint8_t sk[64];
};

uint32_t cosig_key_id(const char *name, const uint8_t pk[32]);
int cosig_verifier_parse(const char *vkey, size_t len, struct cosig_verifier *v_r,
			 struct pv_error *err) PV_WARN_UNUSED;
int cosig_verifier_format(const struct cosig_verifier *v, struct pv_buf *out,
			  struct pv_error *err);

/* A fresh key named name (random seed). */
int cosig_signer_generate(const char *name, struct cosig_signer *s_r, struct pv_error *err);
int cosig_signer_parse(const char *skey, size_t len, struct cosig_signer *s_r,
		       struct pv_error *err) PV_WARN_UNUSED;
/* Appends the skey (a secret: free out with pv_buf_free_secret). */
int cosig_signer_format(const struct cosig_signer *s, struct pv_buf *out, struct pv_error *err);
void cosig_signer_verifier(const struct cosig_signer *s, struct cosig_verifier *v_r);
void cosig_signer_wipe(struct cosig_signer *s);

/* Appends the cosignature line of s over the checkpoint body text[0..len)
 * (the note text, no signature lines) at time t. */
int cosig_sign(const struct cosig_signer *s, const char *text, size_t len, uint64_t t,
	       struct pv_buf *line_r, struct pv_error *err);

/* The cosignatures in note[0..len) (a signed note: its text, then
 * signature lines) by the witnesses ws[0..nw): ok_r[i] and time_r[i]
 * (either may be NULL) for each witness that cosigned. Lines of other
 * keys are ignored; a line of a known witness that does not verify is
 * PV_EINTEGRITY naming it (as signed-note wants for a known key). */
int cosig_check_note(const char *note, size_t len, const struct cosig_verifier *ws, size_t nw,
		     bool *ok_r, uint64_t *time_r, struct pv_error *err) PV_WARN_UNUSED;

#endif
