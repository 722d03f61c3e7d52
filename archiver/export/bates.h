#ifndef PV_EXPORT_BATES_H
#define PV_EXPORT_BATES_H

/* Bates numbers for eDiscovery exports, stable per matter: the first
 * export of a matter fixes its prefix and first number (export_matters);
 * each message gets the next free number the first time the matter
 * exports it, and keeps it in every later export of that matter
 * (export_bates, catalog migration 3; rows are never changed or deleted;
 * archiver/store/bates_store.h reads and writes them).
 * New messages are numbered in archive (id) order after the matter's
 * highest number. A Bates number is the prefix and the number written
 * with at least BATES_DIGITS digits: "PV00000001". */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/db.h"
#include "archiver/lib/error.h"
#include "archiver/lib/limits.h"

#define BATES_DIGITS 8
#define BATES_DEFAULT_PREFIX "PV"
#define BATES_DEFAULT_START 1
/* A formatted Bates number: the prefix and up to 15 digits. */
#define BATES_LEN_MAX (PV_EXPORT_BATES_PREFIX_MAX + 15)

struct bates_matter {
	char name[PV_EXPORT_MATTER_MAX + 1]; /* "" for exports without a matter */
	char prefix[PV_EXPORT_BATES_PREFIX_MAX + 1];
	int64_t start;
	bool created; /* made by this call */
};

/* A prefix: 1..PV_EXPORT_BATES_PREFIX_MAX bytes of [A-Za-z0-9._-], the
 * first a letter or digit (it starts every file name in a bundle). */
bool bates_prefix_valid(const char *prefix);
/* A matter name: 0..PV_EXPORT_MATTER_MAX bytes of valid UTF-8 without
 * control characters. */
bool bates_matter_valid(const char *name);

/* The numbering of `matter`, created with prefix (NULL: BATES_DEFAULT_PREFIX)
 * and start (< 0: BATES_DEFAULT_START) when the matter is new. For an
 * existing matter, a prefix or start that differs from the stored one is
 * PV_EUSAGE: its numbers must not change. Needs the caller's open
 * transaction (it writes). */
int bates_matter_open(struct db *db, const char *matter, const char *prefix, int64_t start,
		      const char *actor, int64_t now, struct bates_matter *m_r,
		      struct pv_error *err);

/* Numbers for messages ids[0..n) (ascending, no repeats): the stored one
 * when the matter exported the message before, else the next free
 * number. numbers_r[i] is for ids[i]; *new_r (may be NULL) counts the
 * numbers given now. Inside the caller's transaction. PV_ELIMIT past
 * PV_EXPORT_BATES_NUMBER_MAX. */
int bates_assign(struct db *db, const struct bates_matter *m, const int64_t *ids, size_t n,
		 int64_t now, int64_t *numbers_r, size_t *new_r, struct pv_error *err);

/* The number the matter gave message id in an earlier export, or -1
 * (*number_r). Does not assign. */
int bates_lookup(struct db *db, const struct bates_matter *m, int64_t id, int64_t *number_r,
		 struct pv_error *err);

/* Calls fn for every message the matter numbered that has been disposed
 * of since (in id order): a gap in the matter's numbering is explained in
 * every later export. A non-zero return from fn stops and is returned. */
typedef int (*bates_disposed_fn)(void *ctx, int64_t id, int64_t number);
int bates_disposed(struct db *db, const struct bates_matter *m, bates_disposed_fn fn, void *ctx,
		   struct pv_error *err);

/* "<prefix><number, BATES_DIGITS digits at least>" into out. */
void bates_format(const char *prefix, int64_t number, char out[BATES_LEN_MAX + 1]);

#endif
