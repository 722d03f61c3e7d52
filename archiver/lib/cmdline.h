#ifndef PV_CMDLINE_H
#define PV_CMDLINE_H

/* Command lines that popvault runs itself, without a shell (the OAuth
 * token command, harvest/token.h). The rule, as popvault(8) states it:
 *
 *   - one line (a final line end is dropped);
 *   - words separated by spaces or tabs; the first word is the program's
 *     absolute path, the others its arguments, each exactly as written;
 *   - no quoting, escaping, variables, globbing, pipes or redirections:
 *     a line holding ' " \ $ ` | ; & < > or a control character is
 *     refused, because a shell would have read it otherwise (put such a
 *     command in a script and give the script's path);
 *   - at most PV_CMDLINE_ARGS_MAX words. */

#include <stddef.h>

#include "archiver/lib/error.h"
#include "archiver/lib/limits.h"

struct pv_cmdline {
	char *buf;                          /* the words, NUL-separated (a secret buffer) */
	char *argv[PV_CMDLINE_ARGS_MAX + 1]; /* into buf, NULL-terminated */
	size_t argc;
};

/* Splits line by the rule above. PV_EUSAGE naming what is wrong; c is
 * empty then. Free c with pv_cmdline_free (arguments may hold secrets:
 * they are wiped). */
int pv_cmdline_split(const char *line, struct pv_cmdline *c, struct pv_error *err);
void pv_cmdline_free(struct pv_cmdline *c);

#endif
