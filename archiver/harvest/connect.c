#include "archiver/harvest/connect.h"

#include <string.h>

#include "archiver/harvest/token.h"

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
	if (a->token_command[0])
		return harvest_token_run(a->token_command, secret_r, err);
	return keyring_open_secret(ar->kr, a->secret, a->secret_len, secret_r, err);
}
