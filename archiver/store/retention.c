#include "archiver/store/retention.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "archiver/store/ingest.h"

/* Until a policy is set (`popvault policy set`), mail is kept six years:
 * the longest of the common US/EU business-record periods, and the
 * default rule popvault init installs. */
#define RETENTION_DEFAULT_YEARS 6

int retention_decide(struct archive *ar, const struct account *a, const struct ingest_item *it,
		     struct retention *ret, struct pv_error *err)
{
	(void)ar;
	(void)a;
	(void)err;
	struct tm tm;
	time_t t = (time_t)it->received_at;
	memset(ret, 0, sizeof(*ret));
	snprintf(ret->class_name, sizeof(ret->class_name), "default");
	gmtime_r(&t, &tm);
	tm.tm_year += RETENTION_DEFAULT_YEARS;
	if (tm.tm_mon == 1 && tm.tm_mday == 29)
		tm.tm_mday = 28; /* Feb 29 + N years: the last day of February */
	ret->expires_at = (int64_t)timegm(&tm);
	ret->policy_version = 0;
	return PV_OK;
}

void retention_bucket_month(const struct retention *ret, char out[32])
{
	if (ret->forever) {
		snprintf(out, 32, "never");
		return;
	}
	struct tm tm;
	time_t t = (time_t)ret->expires_at;
	gmtime_r(&t, &tm);
	snprintf(out, 32, "%04d-%02d", tm.tm_year + 1900, tm.tm_mon + 1);
}
