#ifndef PV_TSA_H
#define PV_TSA_H

/* RFC 3161 time-stamps with OpenSSL's TS API: what a Time-Stamp Authority
 * signs about a checkpoint (ARCHITECTURE.md §4, anchoring). The imprint is
 * always SHA-256; what it hashes is the caller's business (anchor.h: the
 * signed checkpoint note, exactly as stored).
 *
 * A reply is kept as the TSA sent it: a DER TimeStampResp (status and
 * token), which `openssl ts -verify -in FILE.tsr -data NOTE -CAfile CA`
 * checks too. Certificates are checked for time-stamping (RFC 3161 §2.3:
 * extendedKeyUsage id-kp-timeStamping, critical) up to a CA file the
 * caller trusts; revocation is not checked (no CRL or OCSP here). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/buf.h"
#include "archiver/lib/error.h"

/* Bytes of a dotted OID we keep. */
#define TSA_OID_MAX 128

/* What a token says, for listings and reports. */
struct tsa_token_info {
	int64_t gen_time;        /* genTime, unix seconds */
	char serial[80];         /* the TSA's serial number of the token, hex */
	char policy[TSA_OID_MAX];/* the TSA policy it was issued under, dotted */
	char tsa[256];           /* the signing certificate's subject, one line */
	/* With a crl_file (tsa_token_verify, tsa_reply_check): */
	int64_t crl_time;        /* thisUpdate of the CRL checked; -1: none */
	int64_t revoked_at;      /* when that CRL says the TSA's certificate was
				  * revoked; -1: it was not */
	int revoked_reason;      /* the entry's CRLReason; -1: none given */
};

/* Appends the DER of a TimeStampReq to req_r: version 1, the SHA-256
 * imprint, a fresh random 64-bit nonce (*nonce_r), certReq true, and
 * reqPolicy when policy_oid is not NULL (dotted). */
int tsa_request_build(const uint8_t imprint[32], const char *policy_oid, struct pv_buf *req_r,
		      uint64_t *nonce_r, struct pv_error *err);

/* Checks reply (DER TimeStampResp, as received) against the request req
 * it answers: status granted, one token, version 1, the request's SHA-256
 * imprint and nonce, its policy when it asked for one, and the signature
 * by a time-stamping certificate that chains to a certificate in ca_file
 * now, and, when crl_file is not NULL, that the newest CRL its issuer
 * signed in crl_file does not revoke it (tsa_crl.h). Fills *info_r.
 * PV_EINTEGRITY says which check failed; PV_EPERM when the TSA refused
 * (its status and text in err); PV_EUSAGE for an unreadable ca_file or
 * crl_file. */
int tsa_reply_check(const uint8_t *req, size_t req_len, const uint8_t *reply, size_t reply_len,
		    const char *ca_file, const char *crl_file, struct tsa_token_info *info_r,
		    struct pv_error *err) PV_WARN_UNUSED;

/* Checks a stored reply offline: granted, imprint = SHA-256(data), and,
 * when ca_file is not NULL, the signature and certificate chain as of the
 * token's own genTime (a TSA certificate that has expired since still
 * vouches for what it signed while valid), and with crl_file too, the
 * TSA's certificate against the CRLs in it: a revocation voids the token
 * as RFC 3161 §4 says (tsa_crl.h). crl_file needs ca_file (PV_EUSAGE).
 * Fills *info_r (also, parsed, when the check fails after parsing). */
int tsa_token_verify(const uint8_t *reply, size_t len, const void *data, size_t data_len,
		     const char *ca_file, const char *crl_file, struct tsa_token_info *info_r,
		     struct pv_error *err) PV_WARN_UNUSED;

/* Appends the certificates the token carries (PEM) to out: the chain a
 * bundle ships beside its tokens for `openssl ts -verify -untrusted`. */
int tsa_token_certs_pem(const uint8_t *reply, size_t len, struct pv_buf *out,
			struct pv_error *err);

/* True for a dotted OID as a popvault.conf value may give one. */
bool tsa_oid_valid(const char *oid);

#endif
