/* popvault user passwd NAME --password-file F
 *              user totp NAME [--remove]
 *              user require-totp [ROLE,ROLE...|none]
 * How web users sign in (archiver/http/auth.h): passwords, the TOTP
 * second factor (RFC 6238) and the roles that must use it. Each change is
 * audited in the transaction that makes it. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "archiver/archive/audit_hook.h"
#include "archiver/cli/cli.h"
#include "archiver/cli/json.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/fsutil.h"
#include "archiver/lib/totp.h"
#include "archiver/store/datadir.h"
#include "archiver/store/user_totp.h"
#include "archiver/store/users.h"

#define ISSUER "popvault"

static int user_passwd(struct cli_ctx *ctx, struct archive *ar, const struct cli_args *args,
		       struct pv_error *err)
{
	const char *pwfile = cli_opt(args, "password-file");
	char *password = NULL;
	int r;
	if (args->n_pos != 2 || pwfile == NULL)
		return pv_fail(err, PV_EUSAGE, "user passwd needs NAME and --password-file");
	if ((r = pv_read_secret_file(pwfile, &password, err)) < 0)
		return r;
	if ((r = catalog_begin(ar->cat, err)) == PV_OK) {
		if ((r = user_set_password(ar->cat->db, args->pos[1], password, pv_clock_now(),
					   err)) < 0 ||
		    (r = archive_auditf(ar, ctx->actor, AUDIT_USER_CHANGE, "ok", NULL, err,
					"user=%s password=changed", args->pos[1])) < 0 ||
		    (r = catalog_commit(ar->cat, err)) < 0)
			catalog_rollback(ar->cat);
	}
	pv_secret_free(&password);
	if (r == PV_OK)
		printf("password of %s changed; their web sessions are ended\n", args->pos[1]);
	return r;
}

/* otpauth://totp/ISSUER:NAME?secret=...: the key URI format every
 * authenticator app reads (as a QR code or pasted). A name is
 * [A-Za-z0-9._@-]: only '@' needs escaping. */
static void print_enrolment(struct cli_ctx *ctx, const char *name, const char *b32)
{
	char label[3 * USER_NAME_MAX + 1];
	size_t o = 0;
	for (const char *p = name; *p && o + 4 < sizeof(label); p++)
		o += (size_t)snprintf(label + o, sizeof(label) - o, *p == '@' ? "%%40" : "%c", *p);
	char uri[512];
	snprintf(uri, sizeof(uri),
		 "otpauth://totp/" ISSUER ":%s?secret=%s&issuer=" ISSUER
		 "&algorithm=SHA1&digits=%d&period=%d",
		 label, b32, TOTP_DIGITS, TOTP_STEP_S);
	if (ctx->json) {
		printf("{\"user\": ");
		json_print_str(stdout, name);
		printf(", \"uri\": \"%s\", \"secret\": \"%s\"}\n", uri, b32);
	} else {
		printf("second factor enrolled for %s; add it to an authenticator app:\n  %s\n"
		       "  secret: %s (SHA-1, %d digits, %d s)\nIt is shown only now.\n",
		       name, uri, b32, TOTP_DIGITS, TOTP_STEP_S);
	}
	sodium_memzero(uri, sizeof(uri));
}

static int user_totp(struct cli_ctx *ctx, struct archive *ar, const struct cli_args *args,
		     struct pv_error *err)
{
	unsigned char secret[TOTP_SECRET_BYTES];
	char b32[TOTP_SECRET_B32_LEN];
	bool remove = cli_opt(args, "remove") != NULL;
	int r;
	if (args->n_pos != 2)
		return pv_fail(err, PV_EUSAGE, "user totp needs exactly one NAME");
	const char *name = args->pos[1];
	if ((r = catalog_begin(ar->cat, err)) < 0)
		return r;
	if ((r = remove ? user_totp_remove(ar->cat->db, name, err)
			: user_totp_enrol(ar->cat->db, ar->kr, name, secret, err)) < 0 ||
	    (r = archive_auditf(ar, ctx->actor, AUDIT_USER_CHANGE, "ok", NULL, err,
				"user=%s totp=%s", name, remove ? "removed" : "enrolled")) < 0 ||
	    (r = catalog_commit(ar->cat, err)) < 0) {
		catalog_rollback(ar->cat);
	} else if (remove) {
		printf("second factor of %s removed\n", name);
	} else {
		totp_base32(secret, sizeof(secret), b32);
		print_enrolment(ctx, name, b32);
		sodium_memzero(b32, sizeof(b32));
	}
	if (!remove)
		sodium_memzero(secret, sizeof(secret));
	return r;
}

static int user_require_totp(struct cli_ctx *ctx, struct archive *ar,
			     const struct cli_args *args, struct pv_error *err)
{
	char roles[USER_TOTP_ROLES_MAX];
	int r;
	if (args->n_pos > 2)
		return pv_fail(err, PV_EUSAGE, "user require-totp takes one list of roles");
	if (args->n_pos == 1) {
		if ((r = user_totp_required_roles(ar->cat->db, roles, err)) == PV_OK)
			printf("a second factor is required for: %s\n", roles[0] ? roles : "none");
		return r;
	}
	if ((r = catalog_begin(ar->cat, err)) < 0)
		return r;
	if ((r = user_totp_require(ar->cat->db, args->pos[1], roles, err)) < 0 ||
	    (r = archive_auditf(ar, ctx->actor, AUDIT_USER_CHANGE, "ok", NULL, err,
				"totp-required=%s", roles[0] ? roles : "none")) < 0 ||
	    (r = catalog_commit(ar->cat, err)) < 0)
		catalog_rollback(ar->cat);
	else
		printf("a second factor is now required for: %s\n", roles[0] ? roles : "none");
	return r;
}

int cli_user_auth(struct cli_ctx *ctx, struct archive *ar, const struct cli_args *args,
		  struct pv_error *err)
{
	const char *sub = args->pos[0];
	if (strcmp(sub, "passwd") == 0)
		return user_passwd(ctx, ar, args, err);
	if (strcmp(sub, "totp") == 0)
		return user_totp(ctx, ar, args, err);
	return user_require_totp(ctx, ar, args, err);
}
