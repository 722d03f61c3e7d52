#include "audit/tsa.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/ts.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "archiver/lib/random.h"
#include "audit/tsa_crl.h"

/* The reason OpenSSL left in its error queue (the last one, with its
 * data: TS puts "Verify error:certificate has expired" there), which is
 * emptied. */
static void ossl_reason(char *out, size_t n)
{
	unsigned long e, last = 0;
	const char *data = NULL, *ldata = NULL;
	int flags = 0, lflags = 0;
	while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
		last = e;
		ldata = data;
		lflags = flags;
	}
	if (last == 0) {
		snprintf(out, n, "no reason given");
		return;
	}
	char s[256];
	ERR_error_string_n(last, s, sizeof(s));
	const char *reason = ERR_reason_error_string(last);
	if ((lflags & ERR_TXT_STRING) && ldata != NULL && ldata[0] != '\0')
		snprintf(out, n, "%s (%s)", reason ? reason : s, ldata);
	else
		snprintf(out, n, "%s", reason ? reason : s);
}

static int ossl_fail(struct pv_error *err, int code, const char *what)
{
	char why[320];
	ossl_reason(why, sizeof(why));
	return pv_fail(err, code, "%s: %s", what, why);
}

bool tsa_oid_valid(const char *oid)
{
	size_t n = strlen(oid);
	if (n == 0 || n >= TSA_OID_MAX || strspn(oid, "0123456789.") != n || oid[0] == '.' ||
	    oid[n - 1] == '.' || strstr(oid, "..") != NULL)
		return false;
	ASN1_OBJECT *o = OBJ_txt2obj(oid, 1);
	ASN1_OBJECT_free(o);
	ERR_clear_error();
	return o != NULL;
}

/* A TS_REQ with the SHA-256 imprint, and (when asked) nonce and policy. */
static TS_REQ *make_req(const uint8_t imprint[32], const uint64_t *nonce, const char *policy_oid,
			bool cert_req)
{
	TS_REQ *req = TS_REQ_new();
	TS_MSG_IMPRINT *mi = TS_MSG_IMPRINT_new();
	X509_ALGOR *alg = X509_ALGOR_new();
	ASN1_INTEGER *n = NULL;
	ASN1_OBJECT *pol = NULL;
	bool ok = req && mi && alg && TS_REQ_set_version(req, 1) &&
		  X509_ALGOR_set0(alg, OBJ_nid2obj(NID_sha256), V_ASN1_NULL, NULL) &&
		  TS_MSG_IMPRINT_set_algo(mi, alg) &&
		  TS_MSG_IMPRINT_set_msg(mi, (unsigned char *)imprint, 32) &&
		  TS_REQ_set_msg_imprint(req, mi) && TS_REQ_set_cert_req(req, cert_req ? 1 : 0);
	if (ok && nonce != NULL)
		ok = (n = ASN1_INTEGER_new()) != NULL && ASN1_INTEGER_set_uint64(n, *nonce) &&
		     TS_REQ_set_nonce(req, n);
	if (ok && policy_oid != NULL)
		ok = (pol = OBJ_txt2obj(policy_oid, 1)) != NULL && TS_REQ_set_policy_id(req, pol);
	X509_ALGOR_free(alg);
	TS_MSG_IMPRINT_free(mi);
	ASN1_INTEGER_free(n);
	ASN1_OBJECT_free(pol);
	if (!ok) {
		TS_REQ_free(req);
		return NULL;
	}
	return req;
}

int tsa_request_build(const uint8_t imprint[32], const char *policy_oid, struct pv_buf *req_r,
		      uint64_t *nonce_r, struct pv_error *err)
{
	uint64_t nonce;
	unsigned char *der = NULL;
	int r;
	if (policy_oid != NULL && !tsa_oid_valid(policy_oid))
		return pv_fail(err, PV_EUSAGE, "TSA policy '%s' is not a dotted OID", policy_oid);
	/* A positive, non-zero nonce that needs all 8 bytes more often than not. */
	do
		pv_random_bytes(&nonce, sizeof(nonce));
	while (nonce == 0);
	TS_REQ *req = make_req(imprint, &nonce, policy_oid, true);
	int len = req ? i2d_TS_REQ(req, &der) : -1;
	TS_REQ_free(req);
	if (len <= 0)
		return ossl_fail(err, PV_ERR, "cannot build the time-stamp request");
	r = pv_buf_append(req_r, der, (size_t)len, err);
	OPENSSL_free(der);
	if (r == 0)
		*nonce_r = nonce;
	return r;
}

static int parse_resp(const uint8_t *der, size_t len, TS_RESP **resp_r, struct pv_error *err)
{
	const unsigned char *p = der;
	if (len == 0 || len > LONG_MAX)
		return pv_fail(err, PV_EINTEGRITY, "time-stamp reply: empty");
	TS_RESP *resp = d2i_TS_RESP(NULL, &p, (long)len);
	if (resp == NULL) {
		ERR_clear_error();
		return pv_fail(err, PV_EINTEGRITY, "time-stamp reply: not a DER TimeStampResp");
	}
	if (p != der + len) {
		TS_RESP_free(resp);
		return pv_fail(err, PV_EINTEGRITY, "time-stamp reply: %zu bytes after the DER",
			       (size_t)(der + len - p));
	}
	*resp_r = resp;
	return 0;
}

/* RFC 3161 §2.4.2 PKIStatus: granted (0) or grantedWithMods (1) carry a
 * token; anything else is a refusal, with the TSA's text. */
static int check_status(TS_RESP *resp, struct pv_error *err)
{
	TS_STATUS_INFO *si = TS_RESP_get_status_info(resp);
	const ASN1_INTEGER *st = si ? TS_STATUS_INFO_get0_status(si) : NULL;
	long status = st ? ASN1_INTEGER_get(st) : -1;
	if ((status == 0 || status == 1) && TS_RESP_get_token(resp) != NULL &&
	    TS_RESP_get_tst_info(resp) != NULL)
		return 0;
	if (status == 0 || status == 1)
		return pv_fail(err, PV_EINTEGRITY, "time-stamp reply: granted but holds no token");
	char text[256] = "";
	const STACK_OF(ASN1_UTF8STRING) *txt = si ? TS_STATUS_INFO_get0_text(si) : NULL;
	for (int i = 0; txt != NULL && i < sk_ASN1_UTF8STRING_num(txt); i++) {
		const ASN1_UTF8STRING *s = sk_ASN1_UTF8STRING_value(txt, i);
		size_t used = strlen(text);
		int n = ASN1_STRING_length(s);
		const unsigned char *d = ASN1_STRING_get0_data(s);
		for (int k = 0; k < n && used + 2 < sizeof(text); k++)
			text[used++] = (d[k] >= 0x20 && d[k] < 0x7f) ? (char)d[k] : '?';
		text[used] = '\0';
	}
	static const char *const names[] = {"granted", "grantedWithMods", "rejection", "waiting",
					    "revocationWarning", "revocationNotification"};
	return pv_fail(err, PV_EPERM, "the TSA did not grant the time-stamp: status %s%s%s%s",
		       status >= 0 && status <= 5 ? names[status] : "unknown", text[0] ? " (" : "",
		       text, text[0] ? ")" : "");
}

/* Nothing known yet: the times and the reason -1. */
static void info_clear(struct tsa_token_info *info)
{
	memset(info, 0, sizeof(*info));
	info->gen_time = info->crl_time = info->revoked_at = -1;
	info->revoked_reason = -1;
}

static void fill_info(TS_RESP *resp, struct tsa_token_info *info)
{
	TS_TST_INFO *ti = TS_RESP_get_tst_info(resp);
	info_clear(info);
	snprintf(info->tsa, sizeof(info->tsa), "-");
	if (ti == NULL)
		return;
	const ASN1_GENERALIZEDTIME *gt = TS_TST_INFO_get_time(ti);
	struct tm tm;
	if (gt != NULL && ASN1_TIME_to_tm(gt, &tm) == 1)
		info->gen_time = (int64_t)timegm(&tm);
	const ASN1_INTEGER *serial = TS_TST_INFO_get_serial(ti);
	BIGNUM *bn = serial ? ASN1_INTEGER_to_BN(serial, NULL) : NULL;
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	if (hex != NULL)
		snprintf(info->serial, sizeof(info->serial), "%s", hex);
	OPENSSL_free(hex);
	BN_free(bn);
	ASN1_OBJECT *pol = TS_TST_INFO_get_policy_id(ti);
	if (pol != NULL && OBJ_obj2txt(info->policy, sizeof(info->policy), pol, 1) <= 0)
		info->policy[0] = '\0';
	PKCS7 *token = TS_RESP_get_token(resp);
	STACK_OF(X509) *signers = token ? PKCS7_get0_signers(token, NULL, 0) : NULL;
	if (signers != NULL && sk_X509_num(signers) == 1)
		X509_NAME_oneline(X509_get_subject_name(sk_X509_value(signers, 0)), info->tsa,
				  sizeof(info->tsa));
	sk_X509_free(signers);
	ERR_clear_error();
}

/* The token's imprint must be SHA-256 of what we hold. */
static int check_imprint(TS_RESP *resp, const uint8_t want[32], struct pv_error *err)
{
	TS_MSG_IMPRINT *mi = TS_TST_INFO_get_msg_imprint(TS_RESP_get_tst_info(resp));
	X509_ALGOR *alg = mi ? TS_MSG_IMPRINT_get_algo(mi) : NULL;
	ASN1_OCTET_STRING *msg = mi ? TS_MSG_IMPRINT_get_msg(mi) : NULL;
	const ASN1_OBJECT *oid = NULL;
	if (alg != NULL)
		X509_ALGOR_get0(&oid, NULL, NULL, alg);
	if (oid == NULL || OBJ_obj2nid(oid) != NID_sha256)
		return pv_fail(err, PV_EINTEGRITY, "time-stamp token: the imprint is not SHA-256");
	if (msg == NULL || ASN1_STRING_length(msg) != 32 ||
	    sodium_memcmp(ASN1_STRING_get0_data(msg), want, 32) != 0)
		return pv_fail(err, PV_EINTEGRITY,
			       "time-stamp token: wrong imprint (it stamps something else)");
	return 0;
}

/* Signature, version, imprint (and nonce and policy when req has them)
 * by OpenSSL, the chain up to ca_file at `at` (-1: now). */
static int verify_with(TS_REQ *req, TS_RESP *resp, const char *ca_file, int64_t at,
		       struct pv_error *err)
{
	X509_STORE *store = X509_STORE_new();
	if (store == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	if (X509_STORE_load_file(store, ca_file) != 1) {
		X509_STORE_free(store);
		ERR_clear_error();
		return pv_fail(err, PV_EUSAGE, "TSA CA file %s: no certificate could be read",
			       ca_file);
	}
	if (at >= 0)
		X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(store), (time_t)at);
	TS_VERIFY_CTX *ctx = TS_REQ_to_TS_VERIFY_CTX(req, NULL);
	if (ctx == NULL) {
		X509_STORE_free(store);
		return ossl_fail(err, PV_ERR, "time-stamp check");
	}
	TS_VERIFY_CTX_add_flags(ctx, TS_VFY_SIGNATURE);
	TS_VERIFY_CTX_set_store(ctx, store); /* ctx owns it now */
	int ok = TS_RESP_verify_response(ctx, resp);
	TS_VERIFY_CTX_free(ctx);
	if (ok != 1)
		return ossl_fail(err, PV_EINTEGRITY, "time-stamp token does not verify");
	ERR_clear_error();
	return 0;
}

static int req_nonce(TS_REQ *req, uint64_t *nonce_r)
{
	const ASN1_INTEGER *n = TS_REQ_get_nonce(req);
	return n != NULL && ASN1_INTEGER_get_uint64(nonce_r, n) == 1 ? 0 : -1;
}

int tsa_reply_check(const uint8_t *req_der, size_t req_len, const uint8_t *reply,
		    size_t reply_len, const char *ca_file, const char *crl_file,
		    struct tsa_token_info *info_r, struct pv_error *err)
{
	const unsigned char *p = req_der;
	TS_REQ *req = req_len > 0 && req_len < LONG_MAX ? d2i_TS_REQ(NULL, &p, (long)req_len) : NULL;
	TS_RESP *resp = NULL;
	uint64_t want_nonce, got_nonce;
	int r;

	info_clear(info_r);
	if (req == NULL || req_nonce(req, &want_nonce) != 0) {
		TS_REQ_free(req);
		ERR_clear_error();
		return pv_fail(err, PV_ERR, "time-stamp check: the request is not ours");
	}
	if ((r = parse_resp(reply, reply_len, &resp, err)) < 0 ||
	    (r = check_status(resp, err)) < 0)
		goto out;
	fill_info(resp, info_r);
	TS_MSG_IMPRINT *mi = TS_REQ_get_msg_imprint(req);
	if ((r = check_imprint(resp, ASN1_STRING_get0_data(TS_MSG_IMPRINT_get_msg(mi)), err)) < 0)
		goto out;
	const ASN1_INTEGER *n = TS_TST_INFO_get_nonce(TS_RESP_get_tst_info(resp));
	if (n == NULL || ASN1_INTEGER_get_uint64(&got_nonce, n) != 1 || got_nonce != want_nonce) {
		ERR_clear_error();
		r = pv_fail(err, PV_EINTEGRITY,
			    "time-stamp token: nonce mismatch (not the answer to this request: a "
			    "replayed or misdirected token)");
		goto out;
	}
	ASN1_OBJECT *want_pol = TS_REQ_get_policy_id(req);
	ASN1_OBJECT *got_pol = TS_TST_INFO_get_policy_id(TS_RESP_get_tst_info(resp));
	if (want_pol != NULL && (got_pol == NULL || OBJ_cmp(want_pol, got_pol) != 0)) {
		r = pv_fail(err, PV_EINTEGRITY, "time-stamp token: issued under policy %s, not the "
						"one asked for", info_r->policy);
		goto out;
	}
	if ((r = verify_with(req, resp, ca_file, -1, err)) == 0 && crl_file != NULL)
		r = tsa_crl_check(TS_RESP_get_token(resp), ca_file, crl_file, info_r->gen_time,
				  info_r, err);
out:
	TS_REQ_free(req);
	TS_RESP_free(resp);
	return r;
}

int tsa_token_verify(const uint8_t *reply, size_t len, const void *data, size_t data_len,
		     const char *ca_file, const char *crl_file, struct tsa_token_info *info_r,
		     struct pv_error *err)
{
	TS_RESP *resp = NULL;
	uint8_t imprint[32];
	int r;

	info_clear(info_r);
	if (crl_file != NULL && ca_file == NULL)
		return pv_fail(err, PV_EUSAGE, "a TSA CRL is checked with the TSA's CA certificate: "
			       "give the CA file too");
	crypto_hash_sha256(imprint, data, data_len);
	if ((r = parse_resp(reply, len, &resp, err)) < 0)
		return r;
	if ((r = check_status(resp, err)) == 0) {
		fill_info(resp, info_r);
		r = check_imprint(resp, imprint, err);
	}
	if (r == 0 && ca_file != NULL) {
		TS_REQ *req = make_req(imprint, NULL, NULL, false);
		r = req == NULL ? pv_fail(err, PV_ERR, "out of memory")
				: verify_with(req, resp, ca_file, info_r->gen_time, err);
		TS_REQ_free(req);
	}
	if (r == 0 && crl_file != NULL)
		r = tsa_crl_check(TS_RESP_get_token(resp), ca_file, crl_file, info_r->gen_time,
				  info_r, err);
	if (r == PV_EPERM) /* a stored refusal is not a token */
		r = PV_EINTEGRITY;
	TS_RESP_free(resp);
	return r;
}

int tsa_token_certs_pem(const uint8_t *reply, size_t len, struct pv_buf *out,
			struct pv_error *err)
{
	TS_RESP *resp = NULL;
	int r = parse_resp(reply, len, &resp, err);
	if (r < 0)
		return r;
	PKCS7 *token = TS_RESP_get_token(resp);
	STACK_OF(X509) *certs = token && PKCS7_type_is_signed(token) ? token->d.sign->cert : NULL;
	BIO *bio = BIO_new(BIO_s_mem());
	for (int i = 0; bio != NULL && certs != NULL && i < sk_X509_num(certs) && r == 0; i++)
		if (PEM_write_bio_X509(bio, sk_X509_value(certs, i)) != 1)
			r = ossl_fail(err, PV_ERR, "cannot write the TSA's certificates");
	if (bio == NULL)
		r = pv_fail(err, PV_ERR, "out of memory");
	char *p = NULL;
	long n = bio ? BIO_get_mem_data(bio, &p) : 0;
	if (r == 0 && n > 0)
		r = pv_buf_append(out, p, (size_t)n, err);
	BIO_free(bio);
	TS_RESP_free(resp);
	return r;
}
