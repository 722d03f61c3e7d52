/* store/leases.h: one harvester per mailbox across machines. */
#include "archiver/store/leases.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "archiver/lib/hex.h"
#include "archiver/lib/random.h"

/* Taken when free, ours already, our site's (?5), or run out at ?4;
 * otherwise the upsert's WHERE leaves the row alone and RETURNING gives
 * nothing. */
static const char take_sql[] =
	"INSERT INTO mailbox_leases (account_id, holder, expires_at) VALUES (?1, ?2, ?3)"
	" ON CONFLICT (account_id) DO UPDATE SET holder = excluded.holder,"
	" expires_at = excluded.expires_at"
	" WHERE mailbox_leases.holder = excluded.holder OR mailbox_leases.expires_at <= ?4"
	" OR substr(mailbox_leases.holder, 1, length(CAST(?5 AS text))) = CAST(?5 AS text)"
	" RETURNING account_id";

static int who_holds(struct db *db, int64_t account_id, char other_r[LEASE_HOLDER_MAX],
		     int64_t *other_until_r, struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(db, "SELECT holder, expires_at FROM mailbox_leases WHERE account_id = ?",
			   &st, err);
	if (r < 0)
		return r;
	db_bind_int64(st, 1, account_id);
	if ((r = db_step(st, err)) == DB_ROW) {
		const char *h = db_column_text(st, 0);
		int64_t until = db_column_int64(st, 1);
		if (other_r != NULL)
			snprintf(other_r, LEASE_HOLDER_MAX, "%s", h ? h : "");
		if (other_until_r != NULL)
			*other_until_r = until;
		r = pv_fail(err, PV_ETEMP, "account %lld is being harvested by %s (lease until %lld)",
			    (long long)account_id, h ? h : "?", (long long)until);
	} else if (r == DB_DONE) {
		/* released between the two statements: the caller tries again */
		r = pv_fail(err, PV_ETEMP, "account %lld: lease changed hands, try again",
			    (long long)account_id);
	}
	db_finalize(&st);
	return r;
}

int lease_take(struct db *db, int64_t account_id, const char *site, const char *holder, int64_t now,
	       int64_t until, char other_r[LEASE_HOLDER_MAX], int64_t *other_until_r,
	       struct pv_error *err)
{
	struct db_stmt *st;
	if (holder == NULL || *holder == '\0' || strlen(holder) >= LEASE_HOLDER_MAX)
		return pv_fail(err, PV_ERR, "lease: bad holder name");
	if (site != NULL && (*site == '\0' || strncmp(holder, site, strlen(site)) != 0))
		return pv_fail(err, PV_ERR, "lease: the site must start the holder's name");
	if (until <= now)
		return pv_fail(err, PV_ERR, "lease: it must end after now");
	int r = db_prepare(db, take_sql, &st, err);
	if (r < 0)
		return r;
	db_bind_int64(st, 1, account_id);
	db_bind_text(st, 2, holder, -1);
	db_bind_int64(st, 3, until);
	db_bind_int64(st, 4, now);
	/* no site: a string no holder starts with (holders are printable) */
	db_bind_text(st, 5, site != NULL ? site : "\n", -1);
	r = db_step(st, err);
	db_finalize(&st);
	if (r == DB_ROW)
		return PV_OK;
	if (r < 0)
		return pv_error_prefix(err, "lease on account %lld", (long long)account_id);
	return who_holds(db, account_id, other_r, other_until_r, err);
}

int lease_release(struct db *db, int64_t account_id, const char *holder, struct pv_error *err)
{
	struct db_stmt *st;
	int r = db_prepare(db, "DELETE FROM mailbox_leases WHERE account_id = ? AND holder = ?", &st,
			   err);
	if (r < 0)
		return r;
	db_bind_int64(st, 1, account_id);
	db_bind_text(st, 2, holder, -1);
	r = db_step(st, err);
	db_finalize(&st);
	return r < 0 ? r : PV_OK;
}

int lease_holder_make(const char *data_dir, char out[LEASE_HOLDER_MAX],
		      char site_r[LEASE_HOLDER_MAX], struct pv_error *err)
{
	char host[64];
	unsigned char nonce[8];
	char hex[2 * sizeof(nonce) + 1];
	if (gethostname(host, sizeof(host)) < 0)
		return pv_fail(err, PV_ERR, "gethostname: %s", strerror(errno));
	host[sizeof(host) - 1] = '\0';
	pv_random_bytes(nonce, sizeof(nonce));
	pv_hex(nonce, sizeof(nonce), hex);
	/* room for " pid 4194304 #" and the nonce after the site */
	snprintf(site_r, LEASE_HOLDER_MAX - 40, "%s:%s", host, data_dir);
	size_t n = strlen(site_r);
	site_r[n] = ' ';
	site_r[n + 1] = '\0';
	snprintf(out, LEASE_HOLDER_MAX, "%spid %ld #%s", site_r, (long)getpid(), hex);
	return PV_OK;
}
