#include "archiver/lib/httpc.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "archiver/lib/limits.h"

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

/* curl_global_init is not thread-safe on every libcurl: once, first. */
static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct sink {
	struct pv_buf *body;
	int over;
};

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
	struct sink *s = ctx;
	if (pv_buf_append(s->body, p, size * n, NULL) < 0) {
		s->over = 1;
		return 0; /* aborts the transfer */
	}
	return size * n;
}

int pv_httpc_post(const char *url, const char *content_type, const void *body, size_t len,
		  const char *ca_file, struct pv_httpc_reply *rep, struct pv_error *err)
{
	char errbuf[CURL_ERROR_SIZE] = "", ctype[160];
	struct curl_slist *hdrs = NULL;
	struct sink sink = {&rep->body, 0};
	int r = PV_OK;

	memset(rep, 0, sizeof(*rep));
	pv_buf_init(&rep->body, PV_HTTPC_REPLY_MAX);
	if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0)
		return pv_fail(err, PV_EUSAGE, "%s: not an http:// or https:// URL", url);
	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return pv_fail(err, PV_ERR, "libcurl: %s", curl_easy_strerror(global_rc));
	CURL *c = curl_easy_init();
	snprintf(ctype, sizeof(ctype), "Content-Type: %s", content_type);
	if (c == NULL || (hdrs = curl_slist_append(hdrs, ctype)) == NULL ||
	    (hdrs = curl_slist_append(hdrs, "Expect:")) == NULL) {
		curl_slist_free_all(hdrs);
		curl_easy_cleanup(c);
		return pv_fail(err, PV_ERR, "out of memory");
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)PV_HTTPC_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)PV_HTTPC_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE, (long)PV_HTTPC_REPLY_MAX);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "popvault/" PV_VERSION);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (ca_file != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, ca_file);

	CURLcode rc = curl_easy_perform(c);
	if (sink.over || rc == CURLE_FILESIZE_EXCEEDED) {
		r = pv_fail(err, PV_ELIMIT, "%s: the answer is over %d bytes", url,
			    PV_HTTPC_REPLY_MAX);
	} else if (rc != CURLE_OK) {
		r = pv_fail(err, PV_ETEMP, "%s: %s", url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
	} else {
		char *ct = NULL;
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &rep->status);
		if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct != NULL &&
		    strlen(ct) < sizeof(rep->content_type))
			snprintf(rep->content_type, sizeof(rep->content_type), "%s", ct);
	}
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	return r;
}

void pv_httpc_reply_free(struct pv_httpc_reply *rep)
{
	pv_buf_free(&rep->body);
	memset(rep, 0, sizeof(*rep));
}

int pv_httpc_reply_is(const struct pv_httpc_reply *rep, const char *media_type)
{
	size_t n = strlen(media_type), m = strcspn(rep->content_type, ";");
	while (m > 0 && (rep->content_type[m - 1] == ' ' || rep->content_type[m - 1] == '\t'))
		m--;
	return m == n && strncasecmp(rep->content_type, media_type, n) == 0;
}
