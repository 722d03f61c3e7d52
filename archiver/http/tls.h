#ifndef PV_HTTP_TLS_H
#define PV_HTTP_TLS_H

/* The HTTPS certificate of `popvault serve` (ARCHITECTURE.md §8): the PEM files
 * an admin gives (--tls-cert, --tls-key), or a self-signed one made on
 * first start in DIR/tls/ (cert.pem 0644, key.pem 0600) and reused after:
 * EC P-256, SHA-256, valid 825 days, names localhost, 127.0.0.1, ::1 and
 * the listen host. Browsers warn about it until it is trusted (or
 * replaced by one from your CA); scripts pin it (curl --cacert
 * DIR/tls/cert.pem). Delete both files to get a new one. */

#include <stdbool.h>

#include "archiver/lib/error.h"

/* Reads the certificate (chain) and key PEM files, each at most
 * PV_HTTP_TLS_FILE_MAX bytes, into malloc'ed strings; free the key with
 * pv_secret_free. */
int http_tls_load(const char *cert_file, const char *key_file, char **cert_r, char **key_r,
		  struct pv_error *err);

/* Days until the first certificate of cert_pem ends (negative once it
 * has; INT_MIN when it does not parse); *self_made_r: it is one
 * http_tls_self_signed made. */
int http_tls_days_left(const char *cert_pem, bool *self_made_r);

/* DIR/tls/cert.pem and key.pem, made first if neither exists, or made
 * again when the one there is its own and ends within
 * PV_HTTP_TLS_RENEW_DAYS (then *created_r). host: the listen address or
 * name, added to the names. */
int http_tls_self_signed(const char *data_dir, const char *host, char **cert_r, char **key_r,
			 bool *created_r, struct pv_error *err);

#endif
