#include "archiver/lib/clock.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "archiver/lib/number.h"

static int64_t (*clock_override)(void);

void pv_clock_override(int64_t (*fn)(void))
{
	clock_override = fn;
}

int64_t pv_clock_now_ms(void)
{
	struct timespec ts;
	if (clock_override != NULL)
		return clock_override();
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t pv_clock_now(void)
{
	return pv_clock_now_ms() / 1000;
}

int64_t pv_clock_monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void pv_clock_realtime_in(int64_t ms, struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

void pv_clock_format_rfc3339(int64_t unix_s, char out[PV_RFC3339_LEN])
{
	struct tm tm;
	time_t t = (time_t)unix_s;
	gmtime_r(&t, &tm);
	strftime(out, PV_RFC3339_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int pv_clock_parse_rfc3339(const char *s, int64_t *unix_r)
{
	int y, mo, d, h = 0, mi = 0, sec = 0;
	size_t len = strlen(s);

	if (len != 10 && len != 20)
		return -1;
	/* fixed-width fields, each range checked as it is read */
	if (pv_parse_int(s, 4, 1970, 9999, 0, &y) || s[4] != '-' ||
	    pv_parse_int(s + 5, 2, 1, 12, 0, &mo) || s[7] != '-' ||
	    pv_parse_int(s + 8, 2, 1, 31, 0, &d))
		return -1;
	if (len == 20 &&
	    (s[10] != 'T' || pv_parse_int(s + 11, 2, 0, 23, 0, &h) || s[13] != ':' ||
	     pv_parse_int(s + 14, 2, 0, 59, 0, &mi) || s[16] != ':' ||
	     pv_parse_int(s + 17, 2, 0, 60, 0, &sec) || s[19] != 'Z'))
		return -1;
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (d > mdays[mo - 1] + (mo == 2 && leap))
		return -1;
	struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
			.tm_hour = h, .tm_min = mi, .tm_sec = sec};
	*unix_r = (int64_t)timegm(&tm);
	return 0;
}
