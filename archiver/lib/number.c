#include "archiver/lib/number.h"

int pv_parse_u64(const char *s, size_t len, uint64_t min, uint64_t max, unsigned flags,
		 uint64_t *v_r)
{
	uint64_t v = 0;
	if (len == 0 || len > 20 || ((flags & PV_NUM_CANONICAL) && len > 1 && s[0] == '0'))
		return PV_ERR;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return PV_ERR;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return PV_ERR;
		v = v * 10 + d;
	}
	if (v < min || v > max)
		return PV_ERR;
	*v_r = v;
	return PV_OK;
}

int pv_parse_int(const char *s, size_t len, int min, int max, unsigned flags, int *v_r)
{
	uint64_t v;
	if (min < 0 || max < min ||
	    pv_parse_u64(s, len, (uint64_t)min, (uint64_t)max, flags, &v) < 0)
		return PV_ERR;
	*v_r = (int)v;
	return PV_OK;
}
