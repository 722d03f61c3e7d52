#include "archiver/harvest/connect.h"

#include <string.h>

#include "archiver/harvest/token.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/secret.h"

void harvest_pop3_config(const struct account *a, struct pop3_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->host = a->host;
	cfg->port = (uint16_t)a->port;
	cfg->tls = strcmp(a->tls, "implicit") == 0   ? POP3_TLS_IMPLICIT
		   : strcmp(a->tls, "starttls") == 0 ? POP3_TLS_STARTTLS
						     : POP3_TLS_NONE;
	cfg->ca_file = a->ca_file[0] ? a->ca_file : NULL;
	cfg->insecure = a->insecure;
}

enum pop3_auth_mode harvest_auth_mode(const char *name)
{
	static const struct {
		const char *name;
		enum pop3_auth_mode mode;
	} modes[] = {{"user", POP3_AUTH_USER},         {"apop", POP3_AUTH_APOP},
		     {"plain", POP3_AUTH_PLAIN},       {"login", POP3_AUTH_LOGIN},
		     {"cram-md5", POP3_AUTH_CRAM_MD5}, {"scram-sha-256", POP3_AUTH_SCRAM_SHA_256},
		     {"xoauth2", POP3_AUTH_XOAUTH2},   {"oauthbearer", POP3_AUTH_OAUTHBEARER}};
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcmp(name, modes[i].name) == 0)
			return modes[i].mode;
	return POP3_AUTH_AUTO;
}

int harvest_account_secret(struct archive *ar, const struct account *a, char **secret_r,
			   struct pv_error *err)
{
	char *line = NULL;
	int r = account_open(ar->kr, a, a->token_command[0] ? &line : secret_r, err);
	if (r < 0 || !a->token_command[0])
		return r;
	r = harvest_token_run(line, PV_TOKEN_COMMAND_TIME_MAX_MS, secret_r, err);
	if (r == PV_EUSAGE) { /* stored before the rule (archive_token_command_check) */
		pv_error_prefix(err, "account %s: give its token command again (popvault account "
				     "change %s --token-command-file F)", a->name, a->name);
		r = PV_EAUTH; /* a harvest's login failed; its command line was fine */
		if (err != NULL)
			err->code = r;
	}
	pv_secret_free(&line);
	return r;
}
