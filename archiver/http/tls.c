#include "archiver/http/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archiver/lib/fsutil.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/log.h"
#include "archiver/lib/random.h"

#define CERT_DAYS 825

int http_tls_load(const char *cert_file, const char *key_file, char **cert_r, char **key_r,
		  struct pv_error *err)
{
	unsigned char *cert = NULL, *key = NULL;
	size_t n;
	int r;
	if ((r = pv_read_file(cert_file, PV_HTTP_TLS_FILE_MAX, &cert, &n, err)) < 0 ||
	    (r = pv_read_file(key_file, PV_HTTP_TLS_FILE_MAX, &key, &n, err)) < 0) {
		free(cert);
		return pv_error_prefix(err, "TLS");
	}
	if (strstr((char *)cert, "-----BEGIN CERTIFICATE-----") == NULL ||
	    strstr((char *)key, "PRIVATE KEY-----") == NULL) {
		free(cert);
		sodium_memzero(key, n);
		free(key);
		return pv_fail(err, PV_EUSAGE, "--tls-cert and --tls-key must be PEM files");
	}
	*cert_r = (char *)cert;
	*key_r = pv_secret_dup(key, n);
	sodium_memzero(key, n);
	free(key);
	if (*key_r == NULL) {
		free(cert);
		return pv_fail(err, PV_ERR, "out of memory");
	}
	return PV_OK;
}

static int add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ex == NULL)
		return -1;
	int ok = X509_add_ext(x, ex, -1);
	X509_EXTENSION_free(ex);
	return ok ? 0 : -1;
}

/* The BIO's text, NUL-terminated; in a secret buffer (secret.h) when
 * secret. */
static char *bio_string(BIO *b, bool secret)
{
	char *data;
	long n = BIO_get_mem_data(b, &data);
	if (n < 0)
		return NULL;
	if (secret)
		return pv_secret_dup(data, (size_t)n);
	char *s = malloc((size_t)n + 1);
	if (s != NULL) {
		memcpy(s, data, (size_t)n);
		s[n] = '\0';
	}
	return s;
}

/* A new self-signed certificate and key as PEM. */
static int make_cert(const char *host, char **cert_r, char **key_r, struct pv_error *err)
{
	EVP_PKEY *pkey = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	BIO *cb = BIO_new(BIO_s_mem()), *kb = BIO_new(BIO_s_mem());
	unsigned char serial[16];
	char san[600], cn[128];
	unsigned char ip[16];
	int r = PV_ERR;

	pv_random_bytes(serial, sizeof(serial));
	serial[0] &= 0x7f; /* RFC 5280 §4.1.2.2: positive */
	snprintf(cn, sizeof(cn), "popvault %.100s", host);
	bool is_ip = inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;
	/* Names already listed, and the wildcard addresses (no client connects
	 * to those by name), are not added. */
	bool is_local = strcmp(host, "localhost") == 0 || strcmp(host, "127.0.0.1") == 0 ||
			strcmp(host, "::1") == 0 || strcmp(host, "0.0.0.0") == 0 ||
			strcmp(host, "::") == 0 || host[0] == '\0';
	snprintf(san, sizeof(san), "DNS:localhost,IP:127.0.0.1,IP:::1%s%s%.256s",
		 is_local ? "" : ",", is_local ? "" : is_ip ? "IP:" : "DNS:", is_local ? "" : host);
	BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
	X509_NAME *name = X509_get_subject_name(x);
	if (pkey == NULL || x == NULL || cb == NULL || kb == NULL || bn == NULL ||
	    !X509_set_version(x, 2) || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), (long)CERT_DAYS * 86400) == NULL ||
	    !X509_set_pubkey(x, pkey) ||
	    !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)"popvault",
					-1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
					-1, 0) ||
	    !X509_set_issuer_name(x, name) ||
	    add_ext(x, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    add_ext(x, NID_key_usage, "critical,digitalSignature") < 0 ||
	    add_ext(x, NID_ext_key_usage, "serverAuth") < 0 ||
	    add_ext(x, NID_subject_key_identifier, "hash") < 0 ||
	    add_ext(x, NID_subject_alt_name, san) < 0 || !X509_sign(x, pkey, EVP_sha256()) ||
	    !PEM_write_bio_X509(cb, x) ||
	    !PEM_write_bio_PrivateKey(kb, pkey, NULL, NULL, 0, NULL, NULL)) {
		r = pv_fail(err, PV_ERR, "cannot make a TLS certificate (OpenSSL)");
		goto out;
	}
	*cert_r = bio_string(cb, false);
	*key_r = bio_string(kb, true);
	if (*cert_r == NULL || *key_r == NULL) {
		free(*cert_r);
		*cert_r = NULL;
		pv_secret_free(key_r);
		r = pv_fail(err, PV_ERR, "out of memory");
		goto out;
	}
	r = PV_OK;
out:
	BN_free(bn);
	BIO_free(cb);
	/* The key's memory BIO is wiped before it is freed. */
	if (kb != NULL) {
		char *data;
		long n = BIO_get_mem_data(kb, &data);
		if (n > 0)
			OPENSSL_cleanse(data, (size_t)n);
		BIO_free(kb);
	}
	X509_free(x);
	EVP_PKEY_free(pkey);
	return r;
}

int http_tls_days_left(const char *cert_pem, bool *self_made_r)
{
	BIO *b = BIO_new_mem_buf(cert_pem, -1);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	int days = INT_MIN, secs;
	*self_made_r = false;
	if (x != NULL && ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)) == 1) {
		if (days == 0 && secs < 0)
			days = -1;
		/* make_cert's: its own issuer, O=popvault */
		char o[32] = "";
		X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_organizationName, o, sizeof(o));
		*self_made_r = X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0 &&
			       strcmp(o, "popvault") == 0;
	}
	X509_free(x);
	BIO_free(b);
	return days;
}

int http_tls_self_signed(const char *data_dir, const char *host, char **cert_r, char **key_r,
			 bool *created_r, struct pv_error *err)
{
	char dir[4096], cert[4200], key[4200];
	int r;
	snprintf(dir, sizeof(dir), "%s/tls", data_dir);
	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	*created_r = false;
	bool have_cert = access(cert, F_OK) == 0, have_key = access(key, F_OK) == 0;
	if (have_cert != have_key)
		return pv_fail(err, PV_ERR, "%s has only one of cert.pem and key.pem; remove it to "
				    "make a new certificate", dir);
	if (have_cert) {
		if ((r = http_tls_load(cert, key, cert_r, key_r, err)) < 0)
			return r;
		/* One it made, ending soon: a new one (an appliance runs for years,
		 * and a browser refuses an expired certificate outright). */
		bool ours;
		int left = http_tls_days_left(*cert_r, &ours);
		if (!ours || left > PV_HTTP_TLS_RENEW_DAYS)
			return PV_OK;
		/* The new pair is written beside the old and renamed over it, the
		 * key first: a crash between leaves the new key with the old
		 * certificate, which ends soon, so the next start makes a pair
		 * again. */
		char *new_cert = NULL, *new_key = NULL, tmp_c[4210], tmp_k[4210];
		snprintf(tmp_c, sizeof(tmp_c), "%s.new", cert);
		snprintf(tmp_k, sizeof(tmp_k), "%s.new", key);
		(void)unlink(tmp_c);
		(void)unlink(tmp_k);
		/* Failing, the old pair serves on (said): not a reason not to start. */
		if ((r = make_cert(host, &new_cert, &new_key, err)) < 0 ||
		    (r = pv_write_file(tmp_k, new_key, strlen(new_key), 0600, 1, err)) < 0 ||
		    (r = pv_write_file(tmp_c, new_cert, strlen(new_cert), 0644, 1, err)) < 0 ||
		    (rename(tmp_k, key) != 0 || rename(tmp_c, cert) != 0
			     ? (r = pv_fail(err, PV_ERR, "TLS: renaming the new certificate into %s: %s",
					    dir, strerror(errno)))
			     : 0) < 0 ||
		    (r = pv_fsync_dir(dir, err)) < 0) {
			pv_log(PV_LOG_ERROR, "tls.renew", "the self-signed certificate %s ends soon and "
			       "no new one could be made (%s): serving the old one", cert, err->msg);
			free(new_cert);
			pv_secret_free(&new_key);
			(void)unlink(tmp_c);
			(void)unlink(tmp_k);
			return PV_OK;
		}
		pv_log(PV_LOG_WARN, "tls.renew", "the self-signed certificate %s %s: made a new one "
		       "(trust it in place of the old)", cert,
		       left < 0 ? "has expired" : "expires within days");
		free(*cert_r);
		pv_secret_free(key_r);
		*cert_r = new_cert;
		*key_r = new_key;
		*created_r = true;
		return PV_OK;
	}
	if ((r = pv_mkdir(dir, 0700, 1, err)) < 0 || (r = make_cert(host, cert_r, key_r, err)) < 0)
		return r;
	if ((r = pv_write_file(key, *key_r, strlen(*key_r), 0600, 1, err)) < 0 ||
	    (r = pv_write_file(cert, *cert_r, strlen(*cert_r), 0644, 1, err)) < 0) {
		free(*cert_r);
		*cert_r = NULL;
		pv_secret_free(key_r);
		unlink(key);
		unlink(cert);
		return r;
	}
	*created_r = true;
	return PV_OK;
}
