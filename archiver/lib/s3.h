#ifndef PV_S3_H
#define PV_S3_H

/* A small S3 client on libcurl (DESIGN.md §12): what the S3 pack store
 * (store/packstore_s3.c) asks of an object store with Object Lock, and
 * nothing more. Path-style URLs (ENDPOINT/BUCKET/KEY), AWS Signature V4
 * by libcurl (CURLOPT_AWS_SIGV4 "aws:amz:REGION:s3") with the
 * x-amz-content-sha256 header on every request (Ceph RGW refuses a
 * signed request without it, even a GET).
 *
 * Errors: err says the method, the object, the HTTP status and the S3
 * error code and message from the reply ("PUT b/packs/1.pack: HTTP 403
 * AccessDenied"); never a key. Return codes: PV_ENOTFOUND for 404,
 * PV_EPERM for 403 (Object Lock refusing a delete, or bad credentials),
 * PV_ETEMP when no answer came or the server failed (5xx), PV_EINTEGRITY
 * when a reply's body is not what was asked for (a ranged GET of the
 * wrong length), PV_ERR otherwise. Each call has its own curl handle;
 * a client may be used from one thread at a time. */

#include <stdbool.h>
#include <stdint.h>

#include "archiver/lib/error.h"

#define S3_VERSION_MAX 128  /* an object version id (RGW: 32 characters) */
#define S3_NAME_MAX 63      /* a bucket name (S3's own limit) */
#define S3_KEY_MAX 512      /* an object key as this client makes them */

struct s3_client;

/* endpoint: http(s)://HOST[:PORT] without a path; region: the SigV4
 * region; access:secret the credentials (copied, wiped on free); ca_file
 * may be NULL (the system CAs). */
int s3_client_new(const char *endpoint, const char *region, const char *bucket,
		  const char *access_key, const char *secret_key, const char *ca_file,
		  struct s3_client **c_r, struct pv_error *err);
void s3_client_free(struct s3_client **c);
const char *s3_bucket(const struct s3_client *c);

/* Creates the bucket, with Object Lock enabled when asked (versioning is
 * then on by itself). A bucket this user already owns is fine
 * (*created_r false); one owned by another is PV_EEXISTS. */
int s3_create_bucket(struct s3_client *c, bool object_lock, bool *created_r,
		     struct pv_error *err) PV_WARN_UNUSED;

/* Whether the bucket has Object Lock enabled (GET ?object-lock): a
 * bucket made without it cannot keep a pack locked. */
int s3_object_lock_enabled(struct s3_client *c, bool *enabled_r,
			   struct pv_error *err) PV_WARN_UNUSED;

/* What an upload asks of Object Lock: mode "COMPLIANCE" or "GOVERNANCE"
 * (NULL: none) until retain_until (unix seconds), and a legal hold. */
struct s3_lock {
	const char *mode;
	int64_t retain_until;
	bool legal_hold;
};

/* PUTs len bytes of fd from offset 0 as key (read twice: once for the
 * SHA-256 and MD5 the request carries, once to send), with lock (may be
 * NULL). version_r gets the new version's id ("" when the bucket keeps
 * no versions). */
int s3_put_file(struct s3_client *c, const char *key, int fd, uint64_t len,
		const struct s3_lock *lock, char version_r[S3_VERSION_MAX],
		struct pv_error *err) PV_WARN_UNUSED;

/* Bytes [off, off + len) of key (version: NULL or "" for the newest),
 * written to fd at its position; exactly len bytes or an error. */
int s3_get_range(struct s3_client *c, const char *key, const char *version, uint64_t off,
		 uint64_t len, int fd, struct pv_error *err) PV_WARN_UNUSED;

/* The whole object, streamed to sink piece by piece; *len_r its size. */
typedef int (*s3_sink_fn)(void *ctx, const unsigned char *data, size_t len, struct pv_error *err);
int s3_get(struct s3_client *c, const char *key, const char *version, s3_sink_fn sink,
	   void *ctx, uint64_t *len_r, struct pv_error *err) PV_WARN_UNUSED;

struct s3_head {
	uint64_t size;
	char version[S3_VERSION_MAX];
	char lock_mode[16];      /* "" when none */
	int64_t retain_until;    /* 0 when none */
	bool legal_hold;
};
int s3_head(struct s3_client *c, const char *key, const char *version, struct s3_head *h_r,
	    struct pv_error *err) PV_WARN_UNUSED;

/* Deletes one version of key (a DELETE without a version in a versioned
 * bucket would only add a delete marker, so version is required).
 * Object Lock's refusal is PV_EPERM. A version already gone is PV_OK. */
int s3_delete_version(struct s3_client *c, const char *key, const char *version,
		      struct pv_error *err) PV_WARN_UNUSED;

/* Puts (on) or removes (off) the legal hold of one version. */
int s3_legal_hold(struct s3_client *c, const char *key, const char *version, bool on,
		  struct pv_error *err) PV_WARN_UNUSED;

/* Sets one version's Object Lock retention: mode until retain_until. S3
 * allows a COMPLIANCE retention only to grow (a shorter one is 403). */
int s3_put_retention(struct s3_client *c, const char *key, const char *version, const char *mode,
		     int64_t retain_until, struct pv_error *err) PV_WARN_UNUSED;

/* Where a store is: "s3://BUCKET?endpoint=URL&region=R" (values may be
 * %-encoded; region defaults to us-east-1). PV_EUSAGE with the reason. */
struct s3_target {
	char bucket[S3_NAME_MAX + 1];
	char endpoint[512];
	char region[64];
};
int s3_url_parse(const char *url, struct s3_target *t_r, struct pv_error *err);

/* ISO 8601 UTC ("2027-02-01T00:00:00Z") of unix seconds t, and back. */
void s3_time_format(int64_t t, char out[32]);
int s3_time_parse(const char *s, int64_t *t_r);

#endif
