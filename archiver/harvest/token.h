#ifndef PV_TOKEN_H
#define PV_TOKEN_H

/* OAuth access tokens for XOAUTH2/OAUTHBEARER accounts come from an
 * admin-configured helper (which refreshes them as needed). Its command
 * line is split by lib/cmdline.h's rule and the program is started with
 * posix_spawn (execve of that path: no shell, no PATH search), stdin
 * /dev/null, stdout a pipe, stderr popvault's, no other descriptor open.
 * Its first output line is the token. Output is bounded
 * (PV_SECRET_FILE_MAX); a helper still running after timeout_ms is
 * killed with every process it started (it runs in a process group of
 * its own). A failing helper is an error naming its exit status. */

#include <stdint.h>

#include "archiver/lib/error.h"

/* *token_r: a secret buffer (lib/secret.h); wipe and free it with
 * pv_secret_free. PV_EUSAGE for a command line the rule refuses, PV_EAUTH
 * when the helper fails or prints no token, PV_ELIMIT when it prints too
 * much, PV_ETEMP when it takes too long. */
int harvest_token_run(const char *command_line, int64_t timeout_ms, char **token_r,
		      struct pv_error *err);

#endif
