#ifndef PV_AUDIT_TSA_CRL_H
#define PV_AUDIT_TSA_CRL_H

/* Inside audit/: a time-stamp token's TSA certificate against the
 * certificate revocation lists a verifier holds (tsa.h, crl_file). */

#include <openssl/pkcs7.h>
#include <stdint.h>

#include "archiver/lib/error.h"
#include "audit/tsa.h"

/* The signer of token, found among its certificates and those of ca_file,
 * looked up in the newest CRL of crl_file (PEM, one or more, or one DER)
 * that its issuer signed. RFC 3161 §4: a revocation with the reason
 * unspecified, affiliationChanged, superseded or cessationOfOperation
 * leaves the tokens made before it valid; one with no reason code, or any
 * other reason (keyCompromise...), voids every token of that key. A token
 * made at or after its revocation is void whatever the reason. Fills
 * info's crl_time, revoked_at and revoked_reason. PV_EINTEGRITY for a void
 * token, and when crl_file has no CRL of the issuer or one whose signature
 * fails (nothing then says the certificate stands); PV_EUSAGE when no CRL
 * can be read from crl_file. */
int tsa_crl_check(PKCS7 *token, const char *ca_file, const char *crl_file, int64_t gen_time,
		  struct tsa_token_info *info, struct pv_error *err);

#endif
