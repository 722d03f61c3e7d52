#include "archiver/archive/policies.h"

#include <stdlib.h>

int policy_version_load(sqlite3 *db, int64_t version, struct policy **p_r,
			struct policy_version_info *info_r, struct pv_error *err)
{
	unsigned char *text;
	size_t len;
	int r = policy_store_get(db, version, &text, &len, info_r, err);
	if (r < 0)
		return r;
	r = policy_parse(text, len, p_r, NULL, err);
	free(text);
	if (r < 0)
		return pv_fail(err, PV_EINTEGRITY, "stored policy version %lld does not parse: %s",
			       (long long)version, err ? err->msg : "");
	return PV_OK;
}

int policy_version_add(sqlite3 *db, const struct policy *p, const char *actor, int64_t now,
		       int64_t *version_r, struct pv_error *err)
{
	size_t len;
	const unsigned char *text = policy_source(p, &len);
	return policy_store_add(db, text, len, actor, now, version_r, err);
}
