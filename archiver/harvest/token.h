#ifndef PV_TOKEN_H
#define PV_TOKEN_H

/* OAuth access tokens for XOAUTH2/OAUTHBEARER accounts come from an
 * admin-configured command (which refreshes them as needed): it is run
 * through /bin/sh, and its first output line is the token. Output is
 * bounded; a failing command is an error naming its exit status. */

#include "archiver/lib/error.h"

/* token_r is malloc'ed; wipe and free it with pv_secret_free. */
int harvest_token_run(const char *command, char **token_r, struct pv_error *err);

#endif
