#include "archiver/lib/s3.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "archiver/lib/buf.h"
#include "archiver/lib/hex.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/secret.h"
#include "archiver/lib/sha256.h"

/* SHA-256 of nothing: the payload hash of a GET, HEAD or DELETE. */
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* A read (GET, HEAD) that failed for a passing reason (no answer, or a
 * 5xx such as 503 Slow Down) before any byte of its body arrived is
 * tried again after a short wait: object stores shed load that way, and
 * verify would report a message it could not read once as a problem.
 * After a read failed every try, each read is tried once until one
 * succeeds: a store that is down costs one round of waits, not one per
 * message. Writes are never repeated here (their callers decide). */
#define S3_READ_TRIES 3
#define S3_RETRY_WAIT_MS 250

struct s3_client {
	char endpoint[512], region[64], bucket[S3_NAME_MAX + 1], sigv4[96];
	char *access, *secret; /* secret buffers */
	char *ca_file;
	bool reads_failing; /* the last read failed every try */
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static bool bucket_name_ok(const char *b)
{
	size_t n = strlen(b);
	if (n < 3 || n > S3_NAME_MAX || b[0] == '.' || b[0] == '-' || b[n - 1] == '.' ||
	    b[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)b[i]) || isdigit((unsigned char)b[i]) || b[i] == '.' ||
		      b[i] == '-'))
			return false;
	return true;
}

/* Object keys and version ids this client puts in a URL need no
 * escaping, and SigV4's canonical form is then the text itself. */
static bool url_safe(const char *s, bool slash)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '.' || *s == '-' || *s == '_' ||
		      (slash && *s == '/')))
			return false;
	return true;
}

int s3_client_new(const char *endpoint, const char *region, const char *bucket,
		  const char *access_key, const char *secret_key, const char *ca_file,
		  struct s3_client **c_r, struct pv_error *err)
{
	size_t n = strlen(endpoint);
	size_t scheme = strncasecmp(endpoint, "http://", 7) == 0    ? 7
			: strncasecmp(endpoint, "https://", 8) == 0 ? 8
								    : 0;
	if (scheme == 0 || endpoint[scheme] == '\0' || strpbrk(endpoint + scheme, "/?#@") != NULL ||
	    n >= 512)
		return pv_fail(err, PV_EUSAGE, "S3 endpoint %s: want http(s)://HOST[:PORT], no path",
			       endpoint);
	if (!bucket_name_ok(bucket))
		return pv_fail(err, PV_EUSAGE, "S3 bucket name \"%s\": 3 to 63 characters of a-z "
			       "0-9 . -", bucket);
	if (region[0] == '\0' || strlen(region) >= 64 || !url_safe(region, false))
		return pv_fail(err, PV_EUSAGE, "S3 region \"%s\": a name like us-east-1", region);
	if (access_key[0] == '\0' || secret_key[0] == '\0' || strchr(access_key, ':') != NULL)
		return pv_fail(err, PV_EUSAGE, "S3 credentials: want ACCESS_KEY:SECRET_KEY");
	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return pv_fail(err, PV_ERR, "libcurl: %s", curl_easy_strerror(global_rc));
	struct s3_client *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	snprintf(c->endpoint, sizeof(c->endpoint), "%s", endpoint);
	snprintf(c->region, sizeof(c->region), "%s", region);
	snprintf(c->bucket, sizeof(c->bucket), "%s", bucket);
	snprintf(c->sigv4, sizeof(c->sigv4), "aws:amz:%s:s3", region);
	c->access = pv_secret_dup(access_key, strlen(access_key));
	c->secret = pv_secret_dup(secret_key, strlen(secret_key));
	c->ca_file = ca_file ? strdup(ca_file) : NULL;
	if (c->access == NULL || c->secret == NULL || (ca_file != NULL && c->ca_file == NULL)) {
		s3_client_free(&c);
		return pv_fail(err, PV_ERR, "out of memory");
	}
	*c_r = c;
	return PV_OK;
}

void s3_client_free(struct s3_client **cp)
{
	struct s3_client *c = *cp;
	if (c == NULL)
		return;
	pv_secret_free(&c->access);
	pv_secret_free(&c->secret);
	free(c->ca_file);
	free(c);
	*cp = NULL;
}

const char *s3_bucket(const struct s3_client *c)
{
	return c->bucket;
}

/* ---- one request ---- */

struct req {
	const char *method, *key, *query; /* key NULL: the bucket; query sorted, escaped */
	const char *payload_sha;          /* hex */
	struct curl_slist *hdrs;          /* more headers (owned by the caller) */
	const unsigned char *body;        /* an upload from memory, or */
	size_t body_len, body_pos;
	int up_fd;                        /* from a file (-1: none) */
	uint64_t up_len, up_pos;
	int down_fd;                      /* a 2xx body to this fd (-1: none), or */
	s3_sink_fn sink;                  /* to this sink */
	void *sink_ctx;
	uint64_t down_len;                /* 2xx body bytes received */
	uint64_t down_max;                /* more is refused (0: no cap) */
	struct pv_error sink_err;
	int sink_failed;
	/* the answer */
	long status;
	struct pv_buf errbody;            /* a non-2xx body (the S3 error XML) */
	struct s3_head head;
};

static size_t on_read(char *p, size_t size, size_t n, void *ctx)
{
	struct req *q = ctx;
	size_t want = size * n;
	if (q->up_fd >= 0) {
		if (q->up_pos >= q->up_len)
			return 0;
		if (want > q->up_len - q->up_pos)
			want = (size_t)(q->up_len - q->up_pos);
		ssize_t k = pread(q->up_fd, p, want, (off_t)q->up_pos);
		if (k <= 0)
			return CURL_READFUNC_ABORT; /* the file changed under us */
		q->up_pos += (uint64_t)k;
		return (size_t)k;
	}
	if (want > q->body_len - q->body_pos)
		want = q->body_len - q->body_pos;
	if (want > 0)
		memcpy(p, q->body + q->body_pos, want);
	q->body_pos += want;
	return want;
}

static size_t on_write(char *p, size_t size, size_t n, void *ctx)
{
	struct req *q = ctx;
	size_t len = size * n;
	if (q->status < 200 || q->status > 299) {
		(void)pv_buf_append(&q->errbody, p, len, NULL); /* what fits is enough */
		return len;
	}
	if (q->down_max > 0 && len > q->down_max - q->down_len) {
		/* A store that ignores the range would send the whole object. */
		q->sink_failed = 1;
		pv_fail(&q->sink_err, PV_EINTEGRITY, "the store sent more than the %llu bytes asked "
			"for", (unsigned long long)q->down_max);
		return 0;
	}
	q->down_len += len;
	if (q->down_fd >= 0) {
		for (size_t done = 0; done < len;) {
			ssize_t k = write(q->down_fd, p + done, len - done);
			if (k < 0) {
				if (errno == EINTR)
					continue;
				q->sink_failed = 1;
				pv_fail(&q->sink_err, PV_ERR, "write: %s", strerror(errno));
				return 0;
			}
			done += (size_t)k;
		}
	} else if (q->sink != NULL && q->sink(q->sink_ctx, (const unsigned char *)p, len,
					    &q->sink_err) < 0) {
		q->sink_failed = 1;
		return 0;
	}
	return len;
}

/* "Name: value\r\n": the few headers an answer carries that we want. */
static bool header_is(const char *line, size_t n, const char *name, const char **val_r,
		      size_t *vlen_r)
{
	size_t k = strlen(name);
	if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':')
		return false;
	const char *v = line + k + 1, *end = line + n;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
		end--;
	*val_r = v;
	*vlen_r = (size_t)(end - v);
	return true;
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
	struct req *q = ctx;
	size_t len = size * n, vl;
	const char *v;
	char tmp[64];
	if (len >= 9 && strncmp(p, "HTTP/", 5) == 0) {
		/* a new status line (after a 100 Continue): start over */
		memset(&q->head, 0, sizeof(q->head));
		const char *sp = memchr(p, ' ', len);
		q->status = sp ? strtol(sp + 1, NULL, 10) : 0;
	} else if (header_is(p, len, "x-amz-version-id", &v, &vl)) {
		if (vl < S3_VERSION_MAX) {
			memcpy(q->head.version, v, vl);
			q->head.version[vl] = '\0';
		}
	} else if (header_is(p, len, "x-amz-object-lock-mode", &v, &vl)) {
		if (vl < sizeof(q->head.lock_mode)) {
			memcpy(q->head.lock_mode, v, vl);
			q->head.lock_mode[vl] = '\0';
		}
	} else if (header_is(p, len, "x-amz-object-lock-retain-until-date", &v, &vl)) {
		if (vl < sizeof(tmp)) {
			memcpy(tmp, v, vl);
			tmp[vl] = '\0';
			(void)s3_time_parse(tmp, &q->head.retain_until);
		}
	} else if (header_is(p, len, "x-amz-object-lock-legal-hold", &v, &vl)) {
		q->head.legal_hold = vl == 2 && strncasecmp(v, "ON", 2) == 0;
	} else if (header_is(p, len, "content-length", &v, &vl)) {
		if (vl > 0 && vl < 21) {
			memcpy(tmp, v, vl);
			tmp[vl] = '\0';
			q->head.size = strtoull(tmp, NULL, 10);
		}
	}
	return len;
}

/* The text of <tag>...</tag> in an S3 error body, printable ASCII only. */
static void xml_field(const struct pv_buf *b, const char *tag, char *out, size_t out_len)
{
	char open[32], close[32];
	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	out[0] = '\0';
	if (b->data == NULL)
		return;
	const char *s = (const char *)b->data, *end = s + b->len;
	const char *a = memmem(s, b->len, open, strlen(open));
	if (a == NULL)
		return;
	a += strlen(open);
	const char *z = memmem(a, (size_t)(end - a), close, strlen(close));
	if (z == NULL)
		return;
	size_t k = 0;
	for (; a < z && k + 1 < out_len; a++)
		out[k++] = (*a >= 0x20 && *a < 0x7f) ? *a : '?';
	out[k] = '\0';
}

static int run_once(struct s3_client *c, struct req *q, struct pv_error *err)
{
	char url[2048], errbuf[CURL_ERROR_SIZE] = "", hsha[128];
	struct curl_slist *hdrs = NULL;
	int r = PV_OK;

	q->status = 0;
	pv_buf_init(&q->errbody, 16 * 1024);
	snprintf(url, sizeof(url), "%s/%s%s%s%s%s", c->endpoint, c->bucket, q->key ? "/" : "",
		 q->key ? q->key : "", q->query ? "?" : "", q->query ? q->query : "");
	snprintf(hsha, sizeof(hsha), "x-amz-content-sha256: %s", q->payload_sha);
	CURL *h = curl_easy_init();
	/* No "Expect:" line to suppress 100-continue: libcurl would sign
	 * the empty header it then does not send. */
	if (h == NULL || (hdrs = curl_slist_append(hdrs, hsha)) == NULL) {
		curl_slist_free_all(hdrs);
		curl_easy_cleanup(h);
		return pv_fail(err, PV_ERR, "out of memory");
	}
	for (struct curl_slist *s = q->hdrs; s != NULL; s = s->next)
		if ((hdrs = curl_slist_append(hdrs, s->data)) == NULL) {
			curl_easy_cleanup(h);
			return pv_fail(err, PV_ERR, "out of memory");
		}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)PV_HTTPC_CONNECT_TIMEOUT_MS);
	/* A transfer that stalls (under 1 KB/s for the timeout) is cut; a
	 * large pack that keeps moving is not. */
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)(PV_HTTPC_TIMEOUT_MS / 1000));
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "popvault/" PV_VERSION);
	curl_easy_setopt(h, CURLOPT_AWS_SIGV4, c->sigv4);
	curl_easy_setopt(h, CURLOPT_USERNAME, c->access);
	curl_easy_setopt(h, CURLOPT_PASSWORD, c->secret);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (c->ca_file != NULL)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, q);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, q);
	if (strcmp(q->method, "PUT") == 0) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(h, CURLOPT_READDATA, q);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE,
				 (curl_off_t)(q->up_fd >= 0 ? q->up_len : q->body_len));
	} else if (strcmp(q->method, "HEAD") == 0) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (strcmp(q->method, "GET") != 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method);
	}

	CURLcode rc = curl_easy_perform(h);
	const char *what = q->key ? q->key : "";
	if (q->sink_failed) {
		r = pv_fail(err, q->sink_err.code ? q->sink_err.code : PV_ERR, "%s %s/%s: %s",
			    q->method, c->bucket, what, q->sink_err.msg);
	} else if (rc != CURLE_OK) {
		r = pv_fail(err, PV_ETEMP, "%s %s/%s: %s", q->method, c->bucket, what,
			    errbuf[0] ? errbuf : curl_easy_strerror(rc));
	} else {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &q->status);
		if (q->status < 200 || q->status > 299) {
			char code[80], msg[200];
			xml_field(&q->errbody, "Code", code, sizeof(code));
			xml_field(&q->errbody, "Message", msg, sizeof(msg));
			int kind = q->status == 404   ? PV_ENOTFOUND
				   : q->status == 403 ? PV_EPERM
				   : q->status == 409 ? PV_EEXISTS
				   : q->status >= 500 ? PV_ETEMP
						      : PV_ERR;
			r = pv_fail(err, kind, "%s %s/%s: HTTP %ld%s%s%s%s", q->method, c->bucket, what,
				    q->status, code[0] ? " " : "", code, msg[0] ? ": " : "", msg);
		}
	}
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	pv_buf_free(&q->errbody);
	return r;
}

static int run(struct s3_client *c, struct req *q, struct pv_error *err)
{
	bool is_read = strcmp(q->method, "GET") == 0 || strcmp(q->method, "HEAD") == 0;
	int tries = is_read && !c->reads_failing ? S3_READ_TRIES : 1, r;
	for (int i = 1;; i++) {
		r = run_once(c, q, err);
		if (r != PV_ETEMP || i >= tries || q->sink_failed || q->down_len > 0)
			break;
		struct timespec wait = {0, (long)S3_RETRY_WAIT_MS * i * 1000000L};
		while (nanosleep(&wait, &wait) < 0 && errno == EINTR)
			;
	}
	if (is_read)
		c->reads_failing = r == PV_ETEMP;
	return r;
}

static void req_init(struct req *q, const char *method, const char *key, const char *query)
{
	memset(q, 0, sizeof(*q));
	q->method = method;
	q->key = key;
	q->query = query;
	q->payload_sha = EMPTY_SHA256;
	q->up_fd = -1;
	q->down_fd = -1;
}

static int check_key(const char *key, const char *version, struct pv_error *err)
{
	if (strlen(key) >= S3_KEY_MAX || !url_safe(key, true))
		return pv_fail(err, PV_EUSAGE, "S3 key \"%s\": only A-Z a-z 0-9 . - _ /", key);
	if (version != NULL && version[0] != '\0' &&
	    (strlen(version) >= S3_VERSION_MAX || !url_safe(version, false)))
		return pv_fail(err, PV_EINTEGRITY, "S3 version id of %s is not a plain token", key);
	return PV_OK;
}

/* "versionId=V" (or "" for the newest), appended after prefix. */
static void version_query(char *out, size_t n, const char *prefix, const char *version)
{
	bool v = version != NULL && version[0] != '\0';
	snprintf(out, n, "%s%s%s%s", prefix, v && prefix[0] ? "&" : "", v ? "versionId=" : "",
		 v ? version : "");
}

/* ---- the operations ---- */

int s3_create_bucket(struct s3_client *c, bool object_lock, bool *created_r,
		     struct pv_error *err)
{
	struct req q;
	struct curl_slist *hdrs = NULL;
	*created_r = false;
	req_init(&q, "PUT", NULL, NULL);
	if (object_lock &&
	    (hdrs = curl_slist_append(NULL, "x-amz-bucket-object-lock-enabled: true")) == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	q.hdrs = hdrs;
	int r = run(c, &q, err);
	curl_slist_free_all(hdrs);
	if (r == PV_EEXISTS) {
		/* BucketAlreadyOwnedByYou (ours) or BucketAlreadyExists (not). */
		if (strstr(err->msg, "BucketAlreadyOwnedByYou") != NULL)
			return PV_OK;
		return r;
	}
	if (r == PV_OK)
		*created_r = true;
	return r;
}

static int buf_sink(void *ctx, const unsigned char *data, size_t len, struct pv_error *err)
{
	return pv_buf_append(ctx, data, len, err);
}

int s3_object_lock_enabled(struct s3_client *c, bool *enabled_r, struct pv_error *err)
{
	struct pv_buf body;
	char status[32];
	struct req q;
	*enabled_r = false;
	pv_buf_init(&body, 16 * 1024);
	req_init(&q, "GET", NULL, "object-lock=");
	q.sink = buf_sink;
	q.sink_ctx = &body;
	int r = run(c, &q, err);
	if (r == PV_OK) {
		xml_field(&body, "ObjectLockEnabled", status, sizeof(status));
		*enabled_r = strcmp(status, "Enabled") == 0;
	} else if (r == PV_ENOTFOUND && strstr(err->msg, "ObjectLockConfigurationNotFound") != NULL) {
		r = PV_OK; /* a bucket made without it: S3 cannot turn it on later for us */
	}
	pv_buf_free(&body);
	return r;
}

static int hash_file(int fd, uint64_t len, char sha_hex[65], char md5_b64[32],
		     struct pv_error *err)
{
	unsigned char buf[64 * 1024], sha[32], md5[16];
	struct pv_sha256 h;
	int r;
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	if (m == NULL || EVP_DigestInit_ex(m, EVP_md5(), NULL) != 1) {
		EVP_MD_CTX_free(m);
		return pv_fail(err, PV_ERR, "MD5 unavailable");
	}
	if ((r = pv_sha256_init(&h, err)) < 0) {
		EVP_MD_CTX_free(m);
		return r;
	}
	for (uint64_t pos = 0; pos < len;) {
		size_t want = len - pos < sizeof(buf) ? (size_t)(len - pos) : sizeof(buf);
		ssize_t k = pread(fd, buf, want, (off_t)pos);
		if (k <= 0) {
			pv_sha256_abort(&h);
			EVP_MD_CTX_free(m);
			return pv_fail(err, PV_ERR, "read: %s", k < 0 ? strerror(errno) : "short file");
		}
		pv_sha256_update(&h, buf, (size_t)k);
		EVP_DigestUpdate(m, buf, (size_t)k);
		pos += (uint64_t)k;
	}
	pv_sha256_final(&h, sha);
	EVP_DigestFinal_ex(m, md5, NULL);
	EVP_MD_CTX_free(m);
	pv_hex(sha, sizeof(sha), sha_hex);
	sodium_bin2base64(md5_b64, 32, md5, sizeof(md5), sodium_base64_VARIANT_ORIGINAL);
	return PV_OK;
}

static int hash_mem(const void *p, size_t len, char sha_hex[65], char md5_b64[32])
{
	unsigned char sha[32], md5[16];
	crypto_hash_sha256(sha, p, len);
	if (EVP_Digest(p, len, md5, NULL, EVP_md5(), NULL) != 1)
		return PV_ERR;
	pv_hex(sha, sizeof(sha), sha_hex);
	sodium_bin2base64(md5_b64, 32, md5, sizeof(md5), sodium_base64_VARIANT_ORIGINAL);
	return PV_OK;
}

int s3_put_file(struct s3_client *c, const char *key, int fd, uint64_t len,
		const struct s3_lock *lock, char version_r[S3_VERSION_MAX], struct pv_error *err)
{
	char sha[65], md5[32], line[128], when[32];
	struct curl_slist *hdrs = NULL;
	struct req q;
	int r;

	version_r[0] = '\0';
	if ((r = check_key(key, NULL, err)) < 0 || (r = hash_file(fd, len, sha, md5, err)) < 0)
		return r;
	req_init(&q, "PUT", key, NULL);
	q.payload_sha = sha;
	q.up_fd = fd;
	q.up_len = len;
	snprintf(line, sizeof(line), "Content-MD5: %s", md5);
	bool ok = (hdrs = curl_slist_append(hdrs, line)) != NULL &&
		  (hdrs = curl_slist_append(hdrs, "Content-Type: application/octet-stream")) != NULL;
	if (ok && lock != NULL && lock->mode != NULL) {
		snprintf(line, sizeof(line), "x-amz-object-lock-mode: %s", lock->mode);
		ok = (hdrs = curl_slist_append(hdrs, line)) != NULL;
		s3_time_format(lock->retain_until, when);
		snprintf(line, sizeof(line), "x-amz-object-lock-retain-until-date: %s", when);
		ok = ok && (hdrs = curl_slist_append(hdrs, line)) != NULL;
	}
	if (ok && lock != NULL && lock->legal_hold)
		ok = (hdrs = curl_slist_append(hdrs, "x-amz-object-lock-legal-hold: ON")) != NULL;
	if (!ok) {
		curl_slist_free_all(hdrs);
		return pv_fail(err, PV_ERR, "out of memory");
	}
	q.hdrs = hdrs;
	r = run(c, &q, err);
	curl_slist_free_all(hdrs);
	if (r == PV_OK && q.up_pos != len)
		r = pv_fail(err, PV_ERR, "PUT %s/%s: sent %llu of %llu bytes", c->bucket, key,
			    (unsigned long long)q.up_pos, (unsigned long long)len);
	if (r == PV_OK && q.head.version[0] != '\0') {
		if (!url_safe(q.head.version, false))
			return pv_fail(err, PV_EPROTO, "PUT %s/%s: the version id it gave is not a "
				       "plain token", c->bucket, key);
		snprintf(version_r, S3_VERSION_MAX, "%s", q.head.version);
	}
	return r;
}

int s3_get_range(struct s3_client *c, const char *key, const char *version, uint64_t off,
		 uint64_t len, int fd, struct pv_error *err)
{
	char query[S3_VERSION_MAX + 16], range[80];
	struct curl_slist *hdrs;
	struct req q;
	int r;

	if ((r = check_key(key, version, err)) < 0)
		return r;
	if (len == 0)
		return PV_OK;
	version_query(query, sizeof(query), "", version);
	req_init(&q, "GET", key, query[0] ? query : NULL);
	q.down_fd = fd;
	q.down_max = len;
	snprintf(range, sizeof(range), "Range: bytes=%llu-%llu", (unsigned long long)off,
		 (unsigned long long)(off + len - 1));
	if ((hdrs = curl_slist_append(NULL, range)) == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	q.hdrs = hdrs;
	r = run(c, &q, err);
	curl_slist_free_all(hdrs);
	if (r == PV_OK && (q.down_len != len || (q.status != 206 && off != 0)))
		r = pv_fail(err, PV_EINTEGRITY, "GET %s/%s bytes %llu+%llu: got %llu bytes (HTTP %ld)",
			    c->bucket, key, (unsigned long long)off, (unsigned long long)len,
			    (unsigned long long)q.down_len, q.status);
	else if (r == PV_ERR && q.status == 416)
		r = pv_fail(err, PV_EINTEGRITY, "GET %s/%s bytes %llu+%llu: past the object's end",
			    c->bucket, key, (unsigned long long)off, (unsigned long long)len);
	return r;
}

int s3_get(struct s3_client *c, const char *key, const char *version, s3_sink_fn sink,
	   void *ctx, uint64_t *len_r, struct pv_error *err)
{
	char query[S3_VERSION_MAX + 16];
	struct req q;
	int r;
	if ((r = check_key(key, version, err)) < 0)
		return r;
	version_query(query, sizeof(query), "", version);
	req_init(&q, "GET", key, query[0] ? query : NULL);
	q.sink = sink;
	q.sink_ctx = ctx;
	r = run(c, &q, err);
	*len_r = q.down_len;
	return r;
}

int s3_head(struct s3_client *c, const char *key, const char *version, struct s3_head *h_r,
	    struct pv_error *err)
{
	char query[S3_VERSION_MAX + 16];
	struct req q;
	int r;
	if ((r = check_key(key, version, err)) < 0)
		return r;
	version_query(query, sizeof(query), "", version);
	req_init(&q, "HEAD", key, query[0] ? query : NULL);
	r = run(c, &q, err);
	*h_r = q.head;
	return r;
}

int s3_delete_version(struct s3_client *c, const char *key, const char *version,
		      struct pv_error *err)
{
	char query[S3_VERSION_MAX + 16];
	struct req q;
	int r;
	if (version == NULL || version[0] == '\0')
		return pv_fail(err, PV_EUSAGE, "DELETE %s/%s: which version?", c->bucket, key);
	if ((r = check_key(key, version, err)) < 0)
		return r;
	version_query(query, sizeof(query), "", version);
	req_init(&q, "DELETE", key, query);
	r = run(c, &q, err);
	return r == PV_ENOTFOUND ? PV_OK : r;
}

static int put_subresource(struct s3_client *c, const char *key, const char *version,
			   const char *sub, const char *body, struct pv_error *err);

int s3_legal_hold(struct s3_client *c, const char *key, const char *version, bool on,
		  struct pv_error *err)
{
	char body[160];
	snprintf(body, sizeof(body), "<LegalHold xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
		 "<Status>%s</Status></LegalHold>", on ? "ON" : "OFF");
	return put_subresource(c, key, version, "legal-hold=", body, err);
}

/* PUTs a small XML body to a subresource of one version (legal-hold,
 * retention): S3 wants its Content-MD5. */
static int put_subresource(struct s3_client *c, const char *key, const char *version,
			   const char *sub, const char *body, struct pv_error *err)
{
	char query[S3_VERSION_MAX + 32], sha[65], md5[32], line[64];
	struct curl_slist *hdrs = NULL;
	struct req q;
	int r;
	if ((r = check_key(key, version, err)) < 0)
		return r;
	/* Subresources sorted and with their "=": SigV4's canonical query. */
	version_query(query, sizeof(query), sub, version);
	if (hash_mem(body, strlen(body), sha, md5) < 0)
		return pv_fail(err, PV_ERR, "MD5 unavailable");
	req_init(&q, "PUT", key, query);
	q.payload_sha = sha;
	q.body = (const unsigned char *)body;
	q.body_len = strlen(body);
	snprintf(line, sizeof(line), "Content-MD5: %s", md5);
	if ((hdrs = curl_slist_append(hdrs, line)) == NULL ||
	    (hdrs = curl_slist_append(hdrs, "Content-Type: application/xml")) == NULL) {
		curl_slist_free_all(hdrs);
		return pv_fail(err, PV_ERR, "out of memory");
	}
	q.hdrs = hdrs;
	r = run(c, &q, err);
	curl_slist_free_all(hdrs);
	return r;
}

int s3_put_retention(struct s3_client *c, const char *key, const char *version, const char *mode,
		     int64_t retain_until, struct pv_error *err)
{
	char body[256], when[32];
	if (strcmp(mode, "COMPLIANCE") != 0 && strcmp(mode, "GOVERNANCE") != 0)
		return pv_fail(err, PV_EUSAGE, "Object Lock mode %s: COMPLIANCE or GOVERNANCE", mode);
	s3_time_format(retain_until, when);
	snprintf(body, sizeof(body),
		 "<Retention xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Mode>%s</Mode>"
		 "<RetainUntilDate>%s</RetainUntilDate></Retention>", mode, when);
	return put_subresource(c, key, version, "retention=", body, err);
}

void s3_time_format(int64_t t, char out[32])
{
	struct tm tm;
	time_t tt = (time_t)t;
	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int s3_time_parse(const char *s, int64_t *t_r)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (p == NULL)
		return PV_ERR;
	if (*p == '.')
		for (p++; isdigit((unsigned char)*p); p++)
			;
	if (strcmp(p, "Z") != 0)
		return PV_ERR;
	*t_r = (int64_t)timegm(&tm);
	return PV_OK;
}

/* Percent-decodes s[0..n) into out (at most max - 1 bytes and a NUL). */
static int url_decode(const char *s, size_t n, char *out, size_t max)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];
		if (c == '%') {
			unsigned char b;
			if (i + 2 >= n)
				return PV_ERR;
			if (pv_unhex(s + i + 1, 2, &b, 1) < 0 || b == 0)
				return PV_ERR;
			c = b;
			i += 2;
		}
		if (k + 1 >= max)
			return PV_ERR;
		out[k++] = (char)c;
	}
	out[k] = '\0';
	return PV_OK;
}

int s3_url_parse(const char *url, struct s3_target *t, struct pv_error *err)
{
	memset(t, 0, sizeof(*t));
	if (strncmp(url, "s3://", 5) != 0)
		return pv_fail(err, PV_EUSAGE, "store %s: want s3://BUCKET?endpoint=URL&region=R", url);
	const char *b = url + 5, *q = strchr(b, '?');
	size_t bn = q ? (size_t)(q - b) : strlen(b);
	if (bn == 0 || bn > S3_NAME_MAX) {
		return pv_fail(err, PV_EUSAGE, "store %s: no bucket name (s3://BUCKET?...)", url);
	}
	memcpy(t->bucket, b, bn);
	if (!bucket_name_ok(t->bucket))
		return pv_fail(err, PV_EUSAGE, "store %s: bucket name \"%s\": 3 to 63 characters "
			       "of a-z 0-9 . -", url, t->bucket);
	snprintf(t->region, sizeof(t->region), "us-east-1");
	for (const char *p = q ? q + 1 : NULL; p != NULL && *p != '\0';) {
		const char *amp = strchr(p, '&'), *end = amp ? amp : p + strlen(p);
		const char *eq = memchr(p, '=', (size_t)(end - p));
		if (eq == NULL)
			return pv_fail(err, PV_EUSAGE, "store %s: \"%.*s\" is not NAME=VALUE", url,
				       (int)(end - p), p);
		size_t kn = (size_t)(eq - p);
		char *dst = NULL;
		size_t dmax = 0;
		if (kn == 8 && strncmp(p, "endpoint", 8) == 0) {
			dst = t->endpoint;
			dmax = sizeof(t->endpoint);
		} else if (kn == 6 && strncmp(p, "region", 6) == 0) {
			dst = t->region;
			dmax = sizeof(t->region);
		} else {
			return pv_fail(err, PV_EUSAGE, "store %s: unknown parameter \"%.*s\" "
				       "(endpoint, region)", url, (int)kn, p);
		}
		if (url_decode(eq + 1, (size_t)(end - eq - 1), dst, dmax) < 0 || dst[0] == '\0')
			return pv_fail(err, PV_EUSAGE, "store %s: bad value for %.*s", url, (int)kn, p);
		p = amp ? amp + 1 : NULL;
	}
	if (t->endpoint[0] == '\0')
		return pv_fail(err, PV_EUSAGE, "store %s: no endpoint=URL (where the S3 service "
			       "answers)", url);
	size_t n = strlen(t->endpoint);
	while (n > 0 && t->endpoint[n - 1] == '/')
		t->endpoint[--n] = '\0';
	return PV_OK;
}
