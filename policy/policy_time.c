/* Calendar arithmetic for expiries, in UTC on the proleptic Gregorian
 * calendar. The day-count conversions are the well-known era-based ones
 * (400-year cycles of 146097 days), exact for every int64 day count used
 * here, with no dependence on the process time zone or on time_t. */
#include "policy/policy_int.h"

#include <inttypes.h>
#include <stdio.h>

#define DAY 86400
/* 0001-01-01T00:00:00Z and 10000-01-01T00:00:00Z. */
#define RECEIVED_MIN INT64_C(-62135596800)
#define RECEIVED_END INT64_C(253402300800)

int64_t ptime_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

void ptime_civil_from_days(int64_t z, int64_t *y_r, unsigned *m_r, unsigned *d_r)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	unsigned m = mp < 10 ? mp + 3 : mp - 9;
	*d_r = doy - (153 * mp + 2) / 5 + 1;
	*m_r = m;
	*y_r = (int64_t)yoe + era * 400 + (m <= 2);
}

static unsigned days_in_month(int64_t y, unsigned m)
{
	static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return mdays[m - 1] + (m == 2 && leap);
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

int policy_expiry(int64_t received_at, const struct policy_retention *ret,
		  int64_t *expires_r, struct pv_error *err)
{
	if (received_at < RECEIVED_MIN || received_at >= RECEIVED_END)
		return pv_fail(err, PV_ERR, "receipt time %" PRId64 " is outside years 1 to 9999",
			       received_at);
	if (ret->forever) {
		*expires_r = POLICY_NEVER;
		return PV_OK;
	}
	uint64_t max = ret->unit == 'd' ? PV_POLICY_YEARS_MAX * 366ull
		     : ret->unit == 'm' ? PV_POLICY_YEARS_MAX * 12ull
		     : ret->unit == 'y' ? PV_POLICY_YEARS_MAX : 0;
	if (ret->amount == 0 || ret->amount > max)
		return pv_fail(err, PV_ERR, "bad retention %" PRIu32 "%c", ret->amount,
			       ret->unit ? ret->unit : '?');
	if (ret->unit == 'd') {
		*expires_r = received_at + (int64_t)ret->amount * DAY;
		return PV_OK;
	}
	int64_t days = floor_div(received_at, DAY), y;
	int64_t second_of_day = received_at - days * DAY;
	unsigned m, d;
	ptime_civil_from_days(days, &y, &m, &d);
	int64_t months = y * 12 + (m - 1) + (int64_t)ret->amount * (ret->unit == 'y' ? 12 : 1);
	int64_t ny = months / 12;
	unsigned nm = (unsigned)(months % 12) + 1;
	/* Same day of month, or the last day of a shorter month. */
	unsigned nd = d < days_in_month(ny, nm) ? d : days_in_month(ny, nm);
	*expires_r = ptime_days_from_civil(ny, nm, nd) * DAY + second_of_day;
	return PV_OK;
}

void policy_format_time(int64_t t, char out[POLICY_TIME_LEN])
{
	if (t == POLICY_NEVER) {
		snprintf(out, POLICY_TIME_LEN, "never");
		return;
	}
	int64_t days = floor_div(t, DAY), y;
	int64_t s = t - days * DAY;
	unsigned m, d;
	ptime_civil_from_days(days, &y, &m, &d);
	snprintf(out, POLICY_TIME_LEN, "%04" PRId64 "-%02u-%02uT%02u:%02u:%02uZ", y, m, d,
		 (unsigned)(s / 3600), (unsigned)(s / 60 % 60), (unsigned)(s % 60));
}
