#include "archiver/lib/clock.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

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

void pv_clock_format_rfc3339(int64_t unix_s, char out[PV_RFC3339_LEN])
{
	struct tm tm;
	time_t t = (time_t)unix_s;
	gmtime_r(&t, &tm);
	strftime(out, PV_RFC3339_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int parse_digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int pv_clock_parse_rfc3339(const char *s, int64_t *unix_r)
{
	int y, mo, d, h = 0, mi = 0, sec = 0;
	size_t len = strlen(s);

	if (len != 10 && len != 20)
		return -1;
	if (parse_digits(s, 4, &y) || s[4] != '-' || parse_digits(s + 5, 2, &mo) ||
	    s[7] != '-' || parse_digits(s + 8, 2, &d))
		return -1;
	if (len == 20 &&
	    (s[10] != 'T' || parse_digits(s + 11, 2, &h) || s[13] != ':' ||
	     parse_digits(s + 14, 2, &mi) || s[16] != ':' ||
	     parse_digits(s + 17, 2, &sec) || s[19] != 'Z'))
		return -1;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
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
