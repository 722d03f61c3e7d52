#include "archiver/archive/accounts.h"

#include <string.h>

#include "archiver/archive/audit_hook.h"
#include "archiver/lib/clock.h"

int archive_account_check(const struct account *a, struct pv_error *err)
{
	int r = account_validate(a, err);
	if (r == PV_OK && strcmp(a->tls, "none") == 0 && a->insecure)
		r = pv_fail(err, PV_EUSAGE, "--insecure-skip-verify makes no sense with --tls none");
	return r;
}

int archive_account_add(struct archive *ar, const char *actor, struct account *a,
			const char *secret, struct pv_error *err)
{
	int r;
	a->secret = NULL;
	a->secret_len = 0;
	if ((r = archive_account_check(a, err)) < 0 ||
	    (r = keyring_seal_secret(ar->kr, secret, &a->secret, &a->secret_len, err)) < 0)
		return r;
	a->created_at = pv_clock_now();
	/* The upstream user name is personal data. */
	if ((r = catalog_begin(ar->cat, err)) == PV_OK) {
		if ((r = archive_auditf(ar, actor, AUDIT_ACCOUNT_ADD, "ok", a->user, err,
					"account=%s server=%s:%d tls=%s auth=%s verify-cert=%s "
					"keep-upstream=%s",
					a->name, a->host, a->port, a->tls, a->auth,
					a->insecure ? "no" : "yes", a->keep_upstream ? "yes" : "no")) < 0 ||
		    (r = account_insert(ar->cat->db, a, err)) < 0 ||
		    (r = catalog_commit(ar->cat, err)) < 0)
			catalog_rollback(ar->cat);
	}
	account_clear(a);
	return r;
}

int archive_account_remove(struct archive *ar, const char *actor, const char *name,
			   struct pv_error *err)
{
	int r;
	if ((r = catalog_begin(ar->cat, err)) < 0)
		return r;
	if ((r = archive_auditf(ar, actor, AUDIT_ACCOUNT_REMOVE, "ok", NULL, err, "account=%s",
				name)) < 0 ||
	    (r = account_retire(ar->cat->db, name, pv_clock_now(), err)) < 0 ||
	    (r = catalog_commit(ar->cat, err)) < 0)
		catalog_rollback(ar->cat);
	return r;
}

int archive_account_list(struct archive *ar, int (*fn)(void *ctx, const struct account *a),
			 void *ctx, struct pv_error *err)
{
	return account_each(ar->cat->db, fn, ctx, err);
}
