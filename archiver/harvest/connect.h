#ifndef PV_HARVEST_CONNECT_H
#define PV_HARVEST_CONNECT_H

/* What every POP3 session of an account needs, a harvest's (harvest.h)
 * or a connection test's (probe.h): the client settings from the
 * account row and the secret to log in with. */

#include "archiver/lib/error.h"
#include "archiver/pop3/pop3.h"
#include "archiver/store/accounts.h"
#include "archiver/store/datadir.h"

/* The pop3_config of account a (strings point into a). */
void harvest_pop3_config(const struct account *a, struct pop3_config *cfg_r);

/* The pop3_auth_mode of an account's --auth word (auto for any other). */
enum pop3_auth_mode harvest_auth_mode(const char *name);

/* The secret a logs in with: the output of its token command (unsealed,
 * then run: harvest/token.h), else its password unsealed with the
 * keyring. *secret_r: wipe and free with pv_secret_free. */
int harvest_account_secret(struct archive *ar, const struct account *a, char **secret_r,
			   struct pv_error *err);

#endif
