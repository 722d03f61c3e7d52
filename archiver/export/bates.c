#include "archiver/export/bates.h"

#include <stdio.h>
#include <string.h>

#include "archiver/lib/utf8.h"
#include "archiver/store/bates_store.h"

static bool alnum(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool bates_prefix_valid(const char *p)
{
	size_t n = strlen(p);
	if (n == 0 || n > PV_EXPORT_BATES_PREFIX_MAX || !alnum(p[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!alnum(p[i]) && strchr("._-", p[i]) == NULL)
			return false;
	return true;
}

bool bates_matter_valid(const char *name)
{
	size_t n = strlen(name);
	if (n > PV_EXPORT_MATTER_MAX || !pv_utf8_valid((const unsigned char *)name, n))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return false;
	return true;
}

void bates_format(const char *prefix, int64_t number, char out[BATES_LEN_MAX + 1])
{
	snprintf(out, BATES_LEN_MAX + 1, "%s%0*lld", prefix, BATES_DIGITS, (long long)number);
}

int bates_matter_open(struct db *db, const char *matter, const char *prefix, int64_t start,
		      const char *actor, int64_t now, struct bates_matter *m, struct pv_error *err)
{
	int r;
	memset(m, 0, sizeof(*m));
	if (!bates_matter_valid(matter))
		return pv_fail(err, PV_EUSAGE, "a matter name is at most %d bytes of UTF-8 text "
					       "without control characters", PV_EXPORT_MATTER_MAX);
	if (prefix != NULL && !bates_prefix_valid(prefix))
		return pv_fail(err, PV_EUSAGE,
			       "Bates prefix '%s': 1 to %d letters, digits, '.', '_' or '-', "
			       "starting with a letter or digit", prefix, PV_EXPORT_BATES_PREFIX_MAX);
	if (start > PV_EXPORT_BATES_NUMBER_MAX)
		return pv_fail(err, PV_EUSAGE, "--bates-start is at most %lld",
			       (long long)PV_EXPORT_BATES_NUMBER_MAX);
	snprintf(m->name, sizeof(m->name), "%s", matter);
	r = bates_store_matter_get(db, matter, m->prefix, sizeof(m->prefix), &m->start, err);
	if (r == PV_OK) {
		if (prefix != NULL && strcmp(prefix, m->prefix) != 0)
			return pv_fail(err, PV_EUSAGE,
				       "matter '%s' is numbered with Bates prefix '%s' since its first "
				       "export; its numbers cannot change", matter, m->prefix);
		if (start >= 0 && start != m->start)
			return pv_fail(err, PV_EUSAGE,
				       "matter '%s' started its Bates numbers at %lld at its first "
				       "export; its numbers cannot change", matter, (long long)m->start);
		return 0;
	}
	if (r != PV_ENOTFOUND)
		return r;
	snprintf(m->prefix, sizeof(m->prefix), "%s", prefix ? prefix : BATES_DEFAULT_PREFIX);
	m->start = start >= 0 ? start : BATES_DEFAULT_START;
	m->created = true;
	return bates_store_matter_add(db, m->name, m->prefix, m->start, actor, now, err);
}

int bates_assign(struct db *db, const struct bates_matter *m, const int64_t *ids, size_t n,
		 int64_t now, int64_t *numbers, size_t *new_r, struct pv_error *err)
{
	return bates_store_assign(db, m->name, m->start, PV_EXPORT_BATES_NUMBER_MAX, ids, n, now,
				  numbers, new_r, err);
}

int bates_lookup(struct db *db, const struct bates_matter *m, int64_t id, int64_t *number_r,
		 struct pv_error *err)
{
	return bates_store_lookup(db, m->name, id, number_r, err);
}

int bates_disposed(struct db *db, const struct bates_matter *m, bates_disposed_fn fn, void *ctx,
		   struct pv_error *err)
{
	return bates_store_disposed(db, m->name, fn, ctx, err);
}
