#include "audit/tsa_crl.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "archiver/lib/clock.h"

static int64_t asn1_time(const ASN1_TIME *t)
{
	struct tm tm;
	return t != NULL && ASN1_TIME_to_tm(t, &tm) == 1 ? (int64_t)timegm(&tm) : -1;
}

/* The PEM certificates of path, appended to certs (none: nothing added). */
static void read_certs(const char *path, STACK_OF(X509) *certs)
{
	BIO *b = BIO_new_file(path, "r");
	X509 *x;
	while (b != NULL && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
		if (!sk_X509_push(certs, x)) {
			X509_free(x);
			break;
		}
	BIO_free(b);
	ERR_clear_error();
}

/* The CRLs of path: PEM, one or more, or else one DER. */
static STACK_OF(X509_CRL) *read_crls(const char *path)
{
	STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
	BIO *b = crls != NULL ? BIO_new_file(path, "rb") : NULL;
	X509_CRL *c;
	while (b != NULL && (c = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL)) != NULL)
		if (!sk_X509_CRL_push(crls, c)) {
			X509_CRL_free(c);
			break;
		}
	if (b != NULL && sk_X509_CRL_num(crls) == 0 && BIO_reset(b) == 0 &&
	    (c = d2i_X509_CRL_bio(b, NULL)) != NULL && !sk_X509_CRL_push(crls, c))
		X509_CRL_free(c);
	BIO_free(b);
	ERR_clear_error();
	return crls;
}

/* The certificate of certs that issued x (its name, and its key verifies
 * x's signature). */
static X509 *issuer_of(X509 *x, STACK_OF(X509) *certs)
{
	for (int i = 0; i < sk_X509_num(certs); i++) {
		X509 *c = sk_X509_value(certs, i);
		if (X509_check_issued(c, x) == X509_V_OK && X509_verify(x, X509_get0_pubkey(c)) == 1)
			return c;
	}
	ERR_clear_error();
	return NULL;
}

/* The newest CRL of crls that issuer signed; *forged_r: one bore its name
 * under another key. */
static X509_CRL *newest_crl_of(X509 *issuer, STACK_OF(X509_CRL) *crls, bool *forged_r)
{
	X509_CRL *best = NULL;
	int64_t best_time = -1;
	*forged_r = false;
	for (int i = 0; i < sk_X509_CRL_num(crls); i++) {
		X509_CRL *c = sk_X509_CRL_value(crls, i);
		if (X509_NAME_cmp(X509_CRL_get_issuer(c), X509_get_subject_name(issuer)) != 0)
			continue;
		if (X509_CRL_verify(c, X509_get0_pubkey(issuer)) != 1) {
			*forged_r = true;
			continue;
		}
		int64_t t = asn1_time(X509_CRL_get0_lastUpdate(c));
		if (best == NULL || t > best_time)
			best = c, best_time = t;
	}
	ERR_clear_error();
	return best;
}

/* RFC 5280 CRLReason names. */
static const char *reason_name(int reason)
{
	static const char *const names[] = {"unspecified", "keyCompromise", "cACompromise",
					    "affiliationChanged", "superseded",
					    "cessationOfOperation", "certificateHold", NULL,
					    "removeFromCRL", "privilegeWithdrawn", "aACompromise"};
	return reason >= 0 && reason <= 10 && names[reason] != NULL ? names[reason] : "unknown";
}

/* What a revocation of the TSA's certificate leaves of a token made at
 * gen_time (RFC 3161 §4). */
static int judge(const struct tsa_token_info *info, int64_t gen_time, struct pv_error *err)
{
	int why = info->revoked_reason;
	char when[PV_RFC3339_LEN];
	pv_clock_format_rfc3339(info->revoked_at, when);
	if (gen_time < 0 || gen_time >= info->revoked_at)
		return pv_fail(err, PV_EINTEGRITY, "time-stamp token: made after its TSA's "
			       "certificate was revoked (on %s)", when);
	if (why == 0 || why == 3 || why == 4 || why == 5)
		return 0; /* the key was not compromised: earlier tokens stand */
	if (why < 0)
		return pv_fail(err, PV_EINTEGRITY, "time-stamp token: its TSA's certificate was "
			       "revoked on %s with no reason code, which voids every time-stamp of "
			       "its key (RFC 3161 §4)", when);
	return pv_fail(err, PV_EINTEGRITY, "time-stamp token: its TSA's certificate was revoked "
		       "on %s for %s, which voids every time-stamp of its key (RFC 3161 §4)", when,
		       reason_name(why));
}

int tsa_crl_check(PKCS7 *token, const char *ca_file, const char *crl_file, int64_t gen_time,
		  struct tsa_token_info *info, struct pv_error *err)
{
	STACK_OF(X509) *certs = sk_X509_new_null(), *signers = NULL;
	STACK_OF(X509_CRL) *crls = NULL;
	STACK_OF(X509) *carried = PKCS7_type_is_signed(token) ? token->d.sign->cert : NULL;
	char name[256];
	bool forged;
	int r = 0;

	info->crl_time = info->revoked_at = -1;
	info->revoked_reason = -1;
	if (certs == NULL || (crls = read_crls(crl_file)) == NULL) {
		r = pv_fail(err, PV_ERR, "out of memory");
		goto out;
	}
	if (sk_X509_CRL_num(crls) == 0) {
		r = pv_fail(err, PV_EUSAGE, "TSA CRL file %s: no CRL could be read", crl_file);
		goto out;
	}
	read_certs(ca_file, certs);
	for (int i = 0; carried != NULL && i < sk_X509_num(carried); i++) {
		X509 *x = sk_X509_value(carried, i);
		bool taken = X509_up_ref(x) == 1;
		if (!taken || !sk_X509_push(certs, x)) {
			if (taken)
				X509_free(x);
			r = pv_fail(err, PV_ERR, "out of memory");
			goto out;
		}
	}
	signers = PKCS7_get0_signers(token, certs, 0);
	X509 *signer = signers != NULL && sk_X509_num(signers) == 1 ? sk_X509_value(signers, 0)
								    : NULL;
	X509 *issuer = signer != NULL ? issuer_of(signer, certs) : NULL;
	if (issuer == NULL) {
		r = pv_fail(err, PV_EINTEGRITY, "time-stamp token: its TSA's certificate or that "
			    "certificate's issuer is neither in it nor in %s: revocation not checked",
			    ca_file);
		goto out;
	}
	X509_NAME_oneline(X509_get_subject_name(issuer), name, sizeof(name));
	X509_CRL *crl = newest_crl_of(issuer, crls, &forged);
	if (crl == NULL) {
		r = pv_fail(err, PV_EINTEGRITY,
			    forged ? "%s holds a CRL in the name of %s that its key did not sign: "
				     "revocation not checked"
				   : "%s holds no CRL of %s, the TSA certificate's issuer: revocation "
				     "not checked",
			    crl_file, name);
		goto out;
	}
	info->crl_time = asn1_time(X509_CRL_get0_lastUpdate(crl));
	X509_REVOKED *rev = NULL;
	if (X509_CRL_get0_by_cert(crl, &rev, signer) != 1)
		goto out; /* not on it (2: removed from it, a hold lifted) */
	info->revoked_at = asn1_time(X509_REVOKED_get0_revocationDate(rev));
	ASN1_ENUMERATED *why = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, NULL, NULL);
	info->revoked_reason = why != NULL ? (int)ASN1_ENUMERATED_get(why) : -1;
	ASN1_ENUMERATED_free(why);
	r = judge(info, gen_time, err);
out:
	ERR_clear_error();
	sk_X509_free(signers);
	sk_X509_pop_free(certs, X509_free);
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
	return r;
}
