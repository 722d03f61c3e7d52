/* popvault user passwd NAME --password-file F [--one-time]
 *              user totp NAME [--remove]
 *              user require-totp [ROLE,ROLE...|none]
 * How web users sign in (archiver/http/auth.h): passwords, the TOTP
 * second factor (RFC 6238) and the roles that must use it. The work and
 * its audit entry are archiver/archive/users.h's, shared with the web API. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "archiver/archive/users.h"
#include "archiver/cli/cli.h"
#include "archiver/cli/json.h"
#include "archiver/lib/fsutil.h"

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
	bool once = cli_opt(args, "one-time") != NULL;
	r = archive_user_passwd(ar, ctx->actor, args->pos[1], password, once, err);
	pv_secret_free(&password);
	if (r == PV_OK)
		printf("password of %s changed%s; their web sessions are ended\n", args->pos[1],
		       once ? " (one-time: they choose their own at their next sign-in)" : "");
	return r;
}

static void print_enrolment(struct cli_ctx *ctx, const char *name,
			    const struct archive_totp_enrolment *e)
{
	if (ctx->json) {
		printf("{\"user\": ");
		json_print_str(stdout, name);
		printf(", \"uri\": \"%s\", \"secret\": \"%s\"}\n", e->uri, e->secret);
	} else {
		printf("second factor enrolled for %s; add it to an authenticator app:\n  %s\n"
		       "  secret: %s (SHA-1, %d digits, %d s)\nIt is shown only now.\n",
		       name, e->uri, e->secret, TOTP_DIGITS, TOTP_STEP_S);
	}
}

static int user_totp(struct cli_ctx *ctx, struct archive *ar, const struct cli_args *args,
		     struct pv_error *err)
{
	struct archive_totp_enrolment e;
	int r;
	if (args->n_pos != 2)
		return pv_fail(err, PV_EUSAGE, "user totp needs exactly one NAME");
	const char *name = args->pos[1];
	if (cli_opt(args, "remove") != NULL) {
		if ((r = archive_user_totp_remove(ar, ctx->actor, name, err)) == PV_OK)
			printf("second factor of %s removed\n", name);
		return r;
	}
	if ((r = archive_user_totp_enrol(ar, ctx->actor, name, &e, err)) == PV_OK)
		print_enrolment(ctx, name, &e);
	archive_totp_enrolment_wipe(&e);
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
		if ((r = archive_totp_required_roles(ar, roles, err)) == PV_OK)
			printf("a second factor is required for: %s\n", roles[0] ? roles : "none");
		return r;
	}
	if ((r = archive_totp_require(ar, ctx->actor, args->pos[1], roles, err)) == PV_OK)
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
