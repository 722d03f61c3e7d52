#include "archiver/export/bates.h"

#include <stdio.h>
#include <string.h>

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

/* Valid UTF-8 (no overlong forms, surrogates or values past U+10FFFF). */
static bool utf8_valid(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned c = s[i], k;
		uint32_t cp;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			k = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			k = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			k = 3, cp = c & 0x07;
		else
			return false;
		if (n - i <= k)
			return false;
		for (unsigned j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + j] & 0x3f);
		}
		if ((k == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (k == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return false;
		i += k + 1;
	}
	return true;
}

bool bates_matter_valid(const char *name)
{
	size_t n = strlen(name);
	if (n > PV_EXPORT_MATTER_MAX || !utf8_valid((const unsigned char *)name, n))
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

int bates_matter_open(sqlite3 *db, const char *matter, const char *prefix, int64_t start,
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

int bates_assign(sqlite3 *db, const struct bates_matter *m, const int64_t *ids, size_t n,
		 int64_t now, int64_t *numbers, size_t *new_r, struct pv_error *err)
{
	return bates_store_assign(db, m->name, m->start, PV_EXPORT_BATES_NUMBER_MAX, ids, n, now,
				  numbers, new_r, err);
}

int bates_lookup(sqlite3 *db, const struct bates_matter *m, int64_t id, int64_t *number_r,
		 struct pv_error *err)
{
	return bates_store_lookup(db, m->name, id, number_r, err);
}

int bates_disposed(sqlite3 *db, const struct bates_matter *m, bates_disposed_fn fn, void *ctx,
		   struct pv_error *err)
{
	return bates_store_disposed(db, m->name, fn, ctx, err);
}
