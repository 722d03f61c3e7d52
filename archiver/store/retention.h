#ifndef PV_RETENTION_H
#define PV_RETENTION_H

/* The retention decided for a message when it is archived: its class (the
 * policy rule that matched), its expiry and the policy version. The class
 * and expiry month pick the message's key bucket (crypto-shredding unit). */

#include <stdbool.h>
#include <stdint.h>

#include "archiver/lib/error.h"
#include "archiver/store/accounts.h"
#include "archiver/store/archive.h"

struct ingest_item;

struct retention {
	char class_name[128];
	bool forever;
	int64_t expires_at;    /* unix seconds, when !forever */
	int64_t policy_version;
};

int retention_decide(struct archive *ar, const struct account *a, const struct ingest_item *it,
		     struct retention *ret_r, struct pv_error *err);
/* "YYYY-MM" of the expiry, or "never". */
void retention_bucket_month(const struct retention *ret, char out[32]);

#endif
